//! The proxy against real Docker, the HAProxy image and demo containers: routing by path, domain
//! and preview header, colour switches through the Runtime API under load with zero failures,
//! scaling within and beyond the slots, templates, recreation, drain and reconcile.
//!
//! Every proxy has its own container name, network and 127.0.0.1 port; traffic goes to loopback
//! only; load loops are bounded.

mod common;

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use bollard::Docker;
use common::{bed, docker, docker_ok, unique, wait_until, Cleanup};
use docker_flow::{
    proxy::{Proxy, ProxyError, ProxyModel, ProxyOptions, Server, ServiceModel, TemplateSpec},
    release::{Color, PathType, Routes},
};

fn engine() -> Docker {
    Docker::connect_with_unix(&bed().docker_host, 60, bollard::API_DEFAULT_VERSION)
        .expect("connect to the engine")
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

/// A proxy on its own network and port, and the demo containers behind it.
struct Bed {
    cleanup: Cleanup,
    net: String,
    port: u16,
    proxy: Proxy,
    name: String,
}

impl Bed {
    fn new() -> Bed {
        let host = &bed().docker_host;
        let mut cleanup = Cleanup::new();
        let net = unique("proxynet");
        docker_ok(&["-H", host, "network", "create", &net]);
        cleanup.network(host, &net);
        let name = unique("proxy");
        cleanup.container(host, &name);
        let port = free_port();
        let opts = ProxyOptions {
            container: name.clone(),
            image: bed().haproxy_image.clone(),
            http_port: port,
            https_port: None,
            bind_address: "127.0.0.1".into(),
            cert_pem: None,
            networks: vec![net.clone()],
            host_network: false,
            stand_in: None,
        };
        Bed {
            cleanup,
            net,
            port,
            proxy: Proxy::new(engine(), opts),
            name,
        }
    }

    /// Starts a demo container of `color` answering with `X-Release: <release>`.
    fn demo(&mut self, color: Color, release: &str) -> Server {
        let host = &bed().docker_host;
        let name = unique(&format!("demo-{color}"));
        self.cleanup.container(host, &name);
        docker_ok(&[
            "-H",
            host,
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &self.net,
            "-e",
            &format!("COLOR={color}"),
            "-e",
            &format!("RELEASE={release}"),
            &bed().demo_image,
        ]);
        let ip = docker_ok(&[
            "-H",
            host,
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &name,
        ]);
        Server {
            name,
            address: ip,
            port: 8080,
        }
    }
}

fn service(name: &str, live: Color, paths: &[&str], domains: &[&str]) -> ServiceModel {
    ServiceModel {
        name: name.into(),
        live,
        routes: Routes {
            paths: paths.iter().map(|s| s.to_string()).collect(),
            domains: domains.iter().map(|s| s.to_string()).collect(),
            port: 8080,
            path_type: PathType::Prefix,
            proxy: None,
            networks: Vec::new(),
        },
        servers: BTreeMap::new(),
        template: None,
    }
}

#[derive(Debug, Clone, Default)]
struct Answer {
    status: u16,
    color: String,
    release: String,
    /// The server said `Connection: close`.
    close: bool,
}

/// One HTTP/1.1 GET on `stream` (keep-alive), read to the end of the body.
fn request(stream: &mut TcpStream, path: &str, host: &str, extra: &str) -> std::io::Result<Answer> {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n")?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed before the answer",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut a = Answer::default();
    let mut len = 0usize;
    for (i, line) in head.lines().enumerate() {
        if i == 0 {
            a.status = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        } else if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "x-color" => a.color = v.trim().to_string(),
                "x-release" => a.release = v.trim().to_string(),
                "connection" => a.close = v.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "short body",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(a)
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn get(port: u16, path: &str, host: &str, extra: &str) -> Option<Answer> {
    let mut s = connect(port).ok()?;
    request(&mut s, path, host, extra).ok()
}

fn wait_for(
    port: u16,
    path: &str,
    host: &str,
    extra: &str,
    want: impl Fn(&Answer) -> bool,
) -> Answer {
    wait_until(
        &format!("{path} (Host {host}) to answer as wanted"),
        Duration::from_secs(20),
        || get(port, path, host, extra).filter(|a| want(a)),
    )
}

/// Bounded load: `threads` keep-alive and `threads` new-connection clients.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<Mutex<Vec<String>>>,
    /// Keep-alive connections HAProxy closed while idle, before a request was answered; the
    /// client resent on a new connection, as HTTP clients do for idempotent requests.
    resent: Arc<AtomicU64>,
    /// (time, colour) of every answer.
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
    handles: Vec<thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, threads: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let resent = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut handles = Vec::new();
        for i in 0..threads * 2 {
            let keep_alive = i % 2 == 0;
            let (stop, ok, failed, resent, seen) = (
                stop.clone(),
                ok.clone(),
                failed.clone(),
                resent.clone(),
                seen.clone(),
            );
            handles.push(thread::spawn(move || {
                let mut conn: Option<(TcpStream, u32)> = None;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    // When the request was sent: one sent before a switch may still be answered
                    // by the old colour after it.
                    let sent = Instant::now();
                    let record = |r: std::io::Result<Answer>| match r {
                        Ok(a) if a.status == 200 => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            seen.lock().unwrap().push((sent, a.color));
                            true
                        }
                        Ok(a) => {
                            failed.lock().unwrap().push(format!("status {}", a.status));
                            false
                        }
                        Err(e) => {
                            failed.lock().unwrap().push(e.to_string());
                            false
                        }
                    };
                    if !keep_alive {
                        let r = connect(port).and_then(|mut s| {
                            request(&mut s, "/demo/hello", "localhost", "Connection: close\r\n")
                        });
                        record(r);
                        continue;
                    }
                    let (mut s, used) = match conn.take() {
                        Some(c) => c,
                        None => match connect(port) {
                            Ok(s) => (s, 0),
                            Err(e) => {
                                record(Err(e));
                                continue;
                            }
                        },
                    };
                    match request(&mut s, "/demo/hello", "localhost", "") {
                        Err(e)
                            if used > 0
                                && matches!(
                                    e.kind(),
                                    std::io::ErrorKind::UnexpectedEof
                                        | std::io::ErrorKind::ConnectionReset
                                ) =>
                        {
                            resent.fetch_add(1, Ordering::Relaxed);
                            let r = connect(port).and_then(|mut s2| {
                                let a = request(&mut s2, "/demo/hello", "localhost", "");
                                if a.as_ref().is_ok_and(|a| !a.close) {
                                    conn = Some((s2, 1));
                                }
                                a
                            });
                            record(r);
                        }
                        r => {
                            let close = r.as_ref().is_ok_and(|a| a.close);
                            if record(r) && !close {
                                conn = Some((s, used + 1));
                            }
                        }
                    }
                }
            }));
        }
        Load {
            stop,
            ok,
            failed,
            resent,
            seen,
            handles,
        }
    }

    fn stop(self) -> (u64, Vec<String>, u64, Vec<(Instant, String)>) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles {
            h.join().unwrap();
        }
        let failed = self.failed.lock().unwrap().clone();
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        (
            self.ok.load(Ordering::Relaxed),
            failed,
            self.resent.load(Ordering::Relaxed),
            seen,
        )
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test]
async fn routes_by_path_domain_and_preview_header() {
    let mut b = Bed::new();
    let a_blue = b.demo(Color::Blue, "svc-a");
    let a_green = b.demo(Color::Green, "svc-a");
    let d_blue = b.demo(Color::Blue, "svc-d");
    let mut a = service("app-a", Color::Blue, &["/demo"], &[]);
    a.servers.insert(Color::Blue, vec![a_blue]);
    a.servers.insert(Color::Green, vec![a_green]);
    let mut d = service(
        "app-d",
        Color::Blue,
        &[],
        &["d.example.com", "*.example.org"],
    );
    d.servers.insert(Color::Blue, vec![d_blue]);
    // The main frontend keeps model order and the first match wins: the domain service first.
    let model = ProxyModel {
        services: vec![d, a],
    };
    b.proxy.ensure(&model).await.expect("ensure");
    let port = b.port;

    let r = wait_for(port, "/demo/hello", "localhost", "", |a| a.status == 200);
    assert_eq!((r.color.as_str(), r.release.as_str()), ("blue", "svc-a"));
    let r = wait_for(port, "/demo/hello", "d.example.com:8080", "", |a| {
        a.status == 200
    });
    assert_eq!(r.release, "svc-d", "Host header routes, port stripped");
    let r = wait_for(port, "/demo/hello", "x.example.org", "", |a| {
        a.status == 200
    });
    assert_eq!(r.release, "svc-d", "wildcard domain");
    let r = get(port, "/other", "localhost", "").expect("an answer");
    assert_eq!(r.status, 503, "no route");
    let r = wait_for(
        port,
        "/demo/hello",
        "localhost",
        "X-Flow-Color: green\r\n",
        |a| a.status == 200,
    );
    assert_eq!(
        (r.color.as_str(), r.release.as_str()),
        ("green", "svc-a"),
        "preview reaches the candidate"
    );

    // An injected path is rejected, the running config is untouched.
    let mut bad = model.clone();
    bad.services[1].routes.paths = vec!["/a\n  server evil 1.2.3.4:80".into()];
    let err = b.proxy.apply(&bad).await.unwrap_err();
    assert!(matches!(err, ProxyError::Invalid { .. }), "{err}");
    assert_eq!(
        get(port, "/demo/hello", "localhost", "").unwrap().color,
        "blue"
    );
    let report = b.proxy.apply(&model).await.unwrap();
    assert_eq!(
        (report.reloaded, report.runtime_commands),
        (false, 0),
        "nothing changed"
    );
}

#[tokio::test]
async fn switch_without_reload_under_load_loses_nothing() {
    let mut b = Bed::new();
    let blues = vec![b.demo(Color::Blue, "r1"), b.demo(Color::Blue, "r1")];
    let greens = vec![b.demo(Color::Green, "r2"), b.demo(Color::Green, "r2")];
    let mut s = service("app-web", Color::Blue, &["/demo"], &[]);
    s.servers.insert(Color::Blue, blues);
    s.servers.insert(Color::Green, greens);
    let mut model = ProxyModel { services: vec![s] };
    b.proxy.ensure(&model).await.expect("ensure");
    let port = b.port;
    wait_for(port, "/demo/hello", "localhost", "", |a| a.color == "blue");
    // Both colours healthy before the switch (the flows switch only to a passing candidate).
    wait_for(
        port,
        "/demo/hello",
        "localhost",
        "X-Flow-Color: green\r\n",
        |a| a.color == "green",
    );

    let load = Load::start(port, 4);
    thread::sleep(Duration::from_millis(500)); // traffic before the switch
    model.services[0].live = Color::Green;
    let t0 = Instant::now();
    let report = b.proxy.apply(&model).await.expect("switch");
    let switch_took = t0.elapsed();
    let switched_at = Instant::now();
    thread::sleep(Duration::from_secs(1));
    let (ok, failed, resent, seen) = load.stop();
    assert!(!report.reloaded, "a switch is Runtime API only");
    assert!(report.runtime_commands > 0);
    // Requests sent after the switch returned.
    let after: Vec<&String> = seen
        .iter()
        .filter(|(t, _)| *t > switched_at)
        .map(|(_, c)| c)
        .collect();
    println!(
        "switch under load: {ok} ok, {} failed, {resent} keep-alive resends, apply took {switch_took:?}, {} answers after",
        failed.len(),
        after.len()
    );
    assert!(failed.is_empty(), "lost requests: {failed:?}");
    assert!(
        !after.is_empty() && after.iter().all(|c| *c == "green"),
        "only green after the switch"
    );

    // Switch latency: 20 switches, "candidate healthy" -> "proxy routes to it" = apply().
    let mut took = Vec::new();
    for _ in 0..20 {
        let next = model.services[0].live.other();
        model.services[0].live = next;
        let t = Instant::now();
        let r = b.proxy.apply(&model).await.expect("switch");
        took.push(t.elapsed());
        assert!(!r.reloaded);
        let a = get(port, "/demo/hello", "localhost", "").expect("answer");
        assert_eq!(
            a.color,
            next.as_str(),
            "routes to the new colour right after apply"
        );
    }
    took.sort();
    println!(
        "switch latency over 20 switches: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&took, 0.5),
        percentile(&took, 0.99),
        took.last().unwrap()
    );
    // The same with a fresh handle per switch, as one `docker flow` invocation has (it reads the
    // config back first).
    let mut fresh = Vec::new();
    for _ in 0..20 {
        let next = model.services[0].live.other();
        model.services[0].live = next;
        let p = Proxy::new(engine(), b.proxy.options().clone());
        let t = Instant::now();
        assert!(!p.apply(&model).await.expect("switch").reloaded);
        fresh.push(t.elapsed());
        assert_eq!(
            get(port, "/demo/hello", "localhost", "").unwrap().color,
            next.as_str()
        );
    }
    fresh.sort();
    println!(
        "switch latency, fresh handle each time: p50 {:?}, p99 {:?}",
        percentile(&fresh, 0.5),
        percentile(&fresh, 0.99)
    );
    // The file equals the runtime state: reconcile finds nothing to fix.
    let fixed = b.proxy.reconcile(&model).await.expect("reconcile");
    assert!(fixed.is_empty(), "{fixed:?}");
}

#[tokio::test]
async fn scale_within_slots_without_reload_and_beyond_with_reload() {
    let mut b = Bed::new();
    let mut s = service("app-scale", Color::Blue, &["/demo"], &[]);
    s.servers
        .insert(Color::Blue, vec![b.demo(Color::Blue, "r1")]);
    let mut model = ProxyModel { services: vec![s] };
    b.proxy.ensure(&model).await.expect("ensure");
    let port = b.port;
    wait_for(port, "/demo/hello", "localhost", "", |a| a.status == 200);
    let more: Vec<Server> = (0..5).map(|_| b.demo(Color::Blue, "r1")).collect();

    let load = Load::start(port, 4);
    thread::sleep(Duration::from_millis(300));
    model.services[0]
        .servers
        .get_mut(&Color::Blue)
        .unwrap()
        .extend(more[..3].iter().cloned());
    let within = b.proxy.apply(&model).await.expect("scale to 4");
    thread::sleep(Duration::from_millis(500));
    model.services[0]
        .servers
        .get_mut(&Color::Blue)
        .unwrap()
        .extend(more[3..].iter().cloned());
    let beyond = b.proxy.apply(&model).await.expect("scale to 6");
    thread::sleep(Duration::from_secs(1));
    // And back down within the new slot count: runtime only.
    model.services[0]
        .servers
        .get_mut(&Color::Blue)
        .unwrap()
        .truncate(5);
    let down = b.proxy.apply(&model).await.expect("scale to 5");
    thread::sleep(Duration::from_millis(500));
    let (ok, failed, resent, _) = load.stop();
    println!(
        "scale under load: {ok} ok, {} failed, {resent} keep-alive resends",
        failed.len()
    );
    assert!(
        !within.reloaded && within.runtime_commands > 0,
        "{within:?}"
    );
    assert!(beyond.reloaded, "{beyond:?}");
    assert!(!down.reloaded, "{down:?}");
    assert!(failed.is_empty(), "lost requests: {failed:?}");
}

const FE: &str = "frontend go-demo-app-fe
    bind *:80
    bind *:443
    option http-server-close
    acl url_demo path_beg /demo
    use_backend go-demo-app-be if url_demo
";
const BE: &str = "backend go-demo-app-be
    {{range service \"SERVICE_NAME\" \"any\"}}
    server {{.Node}}_{{.Port}} {{.Address}}:{{.Port}} check
    {{end}}
";

#[tokio::test]
async fn templates_fold_into_main_frontend_and_invalid_ones_are_rejected() {
    let mut b = Bed::new();
    let mut s = service("go-demo-app", Color::Blue, &[], &[]);
    s.servers
        .insert(Color::Blue, vec![b.demo(Color::Blue, "tmpl")]);
    s.template = Some(TemplateSpec::Pair {
        fe: FE.into(),
        be: BE.into(),
    });
    let model = ProxyModel { services: vec![s] };
    b.proxy
        .ensure(&model)
        .await
        .expect("ensure with the original's template");
    let port = b.port;
    let r = wait_for(port, "/demo/hello", "localhost", "", |a| a.status == 200);
    assert_eq!(r.release, "tmpl");

    // haproxy -c rejects it: the error is haproxy's, the old config keeps serving.
    let mut bad = model.clone();
    bad.services[0].template = Some(TemplateSpec::Single(
        "backend broken\n    server s1 10.1.2.3:80 no-such-keyword\n".into(),
    ));
    let err = b.proxy.apply(&bad).await.unwrap_err();
    println!("invalid template: {err}");
    assert!(matches!(err, ProxyError::InvalidConfig(_)), "{err}");
    assert!(err.to_string().contains("no-such-keyword"), "{err}");
    // gotmpl rejects it.
    bad.services[0].template = Some(TemplateSpec::Single(
        "backend x\n{{range service \"a\"\n".into(),
    ));
    let err = b.proxy.apply(&bad).await.unwrap_err();
    assert!(matches!(err, ProxyError::Template { .. }), "{err}");
    let r = get(port, "/demo/hello", "localhost", "").expect("still serving");
    assert_eq!((r.status, r.release.as_str()), (200, "tmpl"));
    let report = b
        .proxy
        .apply(&model)
        .await
        .expect("apply the good one again");
    assert!(!report.reloaded);
}

#[tokio::test]
async fn recreated_proxy_gets_every_route_and_drain_reconcile_work() {
    let mut b = Bed::new();
    let mut s = service("app-re", Color::Blue, &["/demo"], &["re.example.com"]);
    let blue = b.demo(Color::Blue, "re");
    let green = b.demo(Color::Green, "re");
    s.servers.insert(Color::Blue, vec![blue.clone()]);
    s.servers.insert(Color::Green, vec![green.clone()]);
    let mut model = ProxyModel { services: vec![s] };
    b.proxy.ensure(&model).await.expect("ensure");
    let port = b.port;
    wait_for(port, "/demo/hello", "re.example.com", "", |a| {
        a.color == "blue"
    });

    docker_ok(&["-H", &bed().docker_host, "rm", "-f", &b.name]);
    assert!(get(port, "/demo/hello", "re.example.com", "").is_none());
    let t = Instant::now();
    b.proxy.ensure(&model).await.expect("recreate");
    println!("proxy recreated and ready in {:?}", t.elapsed());
    wait_for(port, "/demo/hello", "re.example.com", "", |a| {
        a.color == "blue"
    });
    wait_for(
        port,
        "/demo/hello",
        "re.example.com",
        "X-Flow-Color: green\r\n",
        |a| a.color == "green",
    );
    let labels = docker_ok(&[
        "-H",
        &bed().docker_host,
        "inspect",
        "-f",
        "{{json .Config.Labels}} {{.HostConfig.RestartPolicy.Name}}",
        &b.name,
    ]);
    assert!(
        labels.contains("\"com.docker.flow.proxy\":\"true\"") && labels.ends_with("unless-stopped"),
        "{labels}"
    );
    let ls = docker_ok(&[
        "-H",
        &bed().docker_host,
        "exec",
        &b.name,
        "ls",
        "-ln",
        "/usr/local/etc/haproxy/haproxy.cfg",
    ]);
    assert!(ls.starts_with("-rw-r--r--"), "{ls}");

    // Switch, then drain the old colour.
    model.services[0].live = Color::Green;
    assert!(!b.proxy.apply(&model).await.unwrap().reloaded);
    b.proxy
        .drain(
            "app-re",
            Color::Blue,
            std::slice::from_ref(&blue.name),
            Duration::from_secs(5),
        )
        .await
        .expect("drain");
    let r = get(
        port,
        "/demo/hello",
        "re.example.com",
        "X-Flow-Color: blue\r\n",
    )
    .unwrap();
    assert_eq!(
        r.status, 503,
        "the drained instance gets nothing, preview included"
    );
    // A server the proxy does not route (a template's backend, or gone already) has nothing
    // to drain.
    b.proxy
        .drain(
            "app-re",
            Color::Blue,
            &["nope".into()],
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    // The stopped colour leaves the model.
    model.services[0].servers.remove(&Color::Blue);
    let r = b.proxy.apply(&model).await.unwrap();
    assert!(!r.reloaded, "{r:?}");

    // Drift: someone puts the live server in maintenance by hand.
    let out = docker(&[
        "-H",
        &bed().docker_host,
        "exec",
        &b.name,
        "sh",
        "-c",
        "echo 'set server be_app-re/green-1 state maint' | nc 127.0.0.1 9999",
    ]);
    assert!(out.status.success());
    assert_eq!(
        get(port, "/demo/hello", "re.example.com", "")
            .unwrap()
            .status,
        503
    );
    let fixed = b.proxy.reconcile(&model).await.expect("reconcile");
    println!("reconcile fixed: {fixed:?}");
    assert!(
        fixed.iter().any(|f| f.contains("be_app-re/green-1")),
        "{fixed:?}"
    );
    assert_eq!(
        get(port, "/demo/hello", "re.example.com", "")
            .unwrap()
            .color,
        "green"
    );
}
