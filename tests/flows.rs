//! The flows end to end, through the real docker CLI, engine, Consul and HAProxy: the original
//! tool's tour (../shared/reference/walkthrough.md), rollback, and the failure paths.
//! Each test has its own project, proxy container and proxy port, so they do not share state.

mod common;

use std::{
    path::Path,
    process::{Command, Output},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use common::{bed, curl, docker, docker_ok, unique, wait_until};

const PLUGIN: &str = env!("CARGO_BIN_EXE_docker-flow");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tour");

/// A compose project in a temp dir, the plugin in a temp DOCKER_CONFIG, a private proxy.
struct Tour {
    dir: tempfile::TempDir,
    config: tempfile::TempDir,
    project: String,
    proxy: String,
    port: u16,
}

impl Tour {
    fn new(with_yml: bool) -> Tour {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            Path::new(FIXTURE).join("compose.yaml"),
            dir.path().join("compose.yaml"),
        )
        .unwrap();
        std::fs::copy(
            Path::new(FIXTURE).join("go-demo-app.tmpl"),
            dir.path().join("go-demo-app.tmpl"),
        )
        .unwrap();
        if with_yml {
            std::fs::copy(
                Path::new(FIXTURE).join("docker-flow.yml"),
                dir.path().join("docker-flow.yml"),
            )
            .unwrap();
        }
        let config = tempfile::tempdir().unwrap();
        std::fs::create_dir(config.path().join("cli-plugins")).unwrap();
        std::os::unix::fs::symlink(PLUGIN, config.path().join("cli-plugins/docker-flow")).unwrap();
        let project = unique("tour");
        let proxy = format!("{project}-proxy");
        let port = free_port();
        Tour {
            dir,
            config,
            project,
            proxy,
            port,
        }
    }

    fn service(&self) -> String {
        format!("{}-app", self.project)
    }

    fn with_yml(&self) {
        std::fs::copy(
            Path::new(FIXTURE).join("docker-flow.yml"),
            self.dir.path().join("docker-flow.yml"),
        )
        .unwrap();
    }

    /// `docker flow <args>` in the project dir, with the tour's environment plus `env`.
    fn flow(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let bed = bed();
        let mut cmd = Command::new("docker");
        cmd.arg("flow")
            .args(args)
            .current_dir(self.dir.path())
            .env("DOCKER_CONFIG", self.config.path())
            .env("DOCKER_HOST", &bed.docker_host)
            .env("DEMO_IMAGE", &bed.demo_image)
            .env("FLOW_PROJECT", &self.project)
            .env("FLOW_CONSUL_ADDRESS", &bed.consul)
            .env("FLOW_PROXY_IMAGE", &bed.haproxy_image)
            .env("FLOW_PROXY_NAME", &self.proxy)
            .env("FLOW_PROXY_HTTP_PORT", self.port.to_string())
            .env("FLOW_PROXY_BIND_ADDRESS", "127.0.0.1")
            .env("FLOW_SKIP_PULL_TARGET", "true")
            .env("FLOW_PROXY_HOST", format!("127.0.0.1:{}", self.port))
            .env_remove("FLOW_SCALE")
            .env_remove("COMPOSE_FILE");
        cmd.envs(env.iter().copied());
        cmd.output().expect("run docker flow")
    }

    fn ok(&self, env: &[(&str, &str)], args: &[&str]) -> String {
        let out = self.flow(env, args);
        let text = both(&out);
        assert!(
            out.status.success(),
            "docker flow {args:?} failed ({}):\n{text}",
            out.status
        );
        text
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// (status, body, X-Release header) of a GET through the proxy, with extra headers.
    fn get(&self, path: &str, headers: &[&str]) -> Option<(u16, String, String)> {
        let mut args = vec!["-sS", "-D", "-", "--max-time", "3"];
        for h in headers {
            args.push("-H");
            args.push(h);
        }
        let url = self.url(path);
        args.push(&url);
        let text = match curl(&args) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("GET {url}: {e}");
                return None;
            }
        };
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let release = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-release:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        Some((status, body.to_string(), release))
    }

    fn release(&self) -> Option<String> {
        self.get("/demo/hello", &[])
            .filter(|(s, _, _)| *s == 200)
            .map(|(_, _, r)| r)
    }

    fn kv(&self, key: &str) -> Option<String> {
        curl(&[
            "-fsS",
            &format!(
                "{}/v1/kv/docker-flow/{}/{key}?raw",
                bed().consul,
                self.service()
            ),
        ])
        .ok()
    }

    /// Containers of this project: name -> running.
    fn containers(&self) -> Vec<(String, bool)> {
        let out = docker_ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--format",
            "{{.Names}} {{.State}}",
        ]);
        let mut v: Vec<(String, bool)> = out
            .lines()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(n, s)| (n.to_string(), s == "running"))
            })
            .collect();
        v.sort();
        v
    }

    fn running(&self, prefix: &str) -> usize {
        let full = format!("{}-{prefix}", self.project);
        self.containers()
            .iter()
            .filter(|(n, r)| *r && n.starts_with(&full))
            .count()
    }

    fn stopped(&self, prefix: &str) -> usize {
        let full = format!("{}-{prefix}", self.project);
        self.containers()
            .iter()
            .filter(|(n, r)| !*r && n.starts_with(&full))
            .count()
    }
}

impl Drop for Tour {
    fn drop(&mut self) {
        let ids = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
        ]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = docker(&["rm", "-f", "-v", id]);
        }
        let _ = docker(&["rm", "-f", &self.proxy]);
        let nets = docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
        ]);
        for id in String::from_utf8_lossy(&nets.stdout).split_whitespace() {
            let _ = docker(&["network", "rm", id]);
        }
        let consul = &bed().consul;
        let _ = curl(&[
            "-fsS",
            "-X",
            "DELETE",
            &format!("{consul}/v1/kv/docker-flow/{}?recurse", self.service()),
        ]);
        if let Ok(services) = curl(&["-fsS", &format!("{consul}/v1/agent/services")]) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&services) {
                for id in v.as_object().into_iter().flat_map(|m| m.keys()) {
                    if id.starts_with(&self.project) {
                        let _ = curl(&[
                            "-fsS",
                            "-X",
                            "PUT",
                            &format!("{consul}/v1/agent/service/deregister/{id}"),
                        ]);
                    }
                }
            }
        }
    }
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Requests through the proxy in the background while a flow runs: bounded in count and time.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    fn start(url: String) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let threads = (0..2)
            .map(|_| {
                let (stop, ok, failed, errors, url) = (
                    stop.clone(),
                    ok.clone(),
                    failed.clone(),
                    errors.clone(),
                    url.clone(),
                );
                thread::spawn(move || {
                    let start = Instant::now();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed)
                        && n < 20_000
                        && start.elapsed() < Duration::from_secs(120)
                    {
                        n += 1;
                        match common::http_get(&url) {
                            Some((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                            other => {
                                errors.lock().unwrap().push(format!("{other:?}"));
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            errors,
            threads,
        }
    }

    fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let errors = self.errors.lock().unwrap().clone();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            errors,
        )
    }
}

#[test]
fn the_original_tour() {
    let tour = Tour::new(false);

    // 1. First release, all by flags: blue, db once and uncoloured, the proxy started for us.
    tour.ok(
        &[],
        &[
            "--blue-green",
            "--target=app",
            "--service-path=/demo",
            "--side-target=db",
            "--flow=deploy",
            "--flow=proxy",
        ],
    );
    assert_eq!(tour.running("app-blue-"), 1, "{:?}", tour.containers());
    assert_eq!(tour.running("db-"), 1, "{:?}", tour.containers());
    assert!(docker_ok(&["inspect", "-f", "{{.State.Running}}", &tour.proxy]) == "true");
    let (status, body, release) = tour.get("/demo/hello", &[]).expect("the proxy answers");
    assert_eq!(
        (status, body.as_str(), release.as_str()),
        (200, "hello, world!", "v1")
    );
    assert_eq!(tour.kv("color").as_deref(), Some("blue"));

    // 2. Second release from docker-flow.yml, under load: green beside blue, switch, blue stopped.
    tour.with_yml();
    let load = Load::start(tour.url("/demo/hello"));
    tour.ok(
        &[("RELEASE", "v2")],
        &["--flow=deploy", "--flow=proxy", "--flow=stop-old"],
    );
    let (ok, failed, errors) = load.finish();
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed during the switch: {errors:?}",
        ok + failed
    );
    assert!(ok > 0);
    assert_eq!(tour.release().as_deref(), Some("v2"));
    assert_eq!(tour.running("app-green-"), 1);
    assert_eq!(
        tour.stopped("app-blue-"),
        1,
        "blue is stopped, not removed: {:?}",
        tour.containers()
    );
    assert_eq!(tour.kv("color").as_deref(), Some("green"));

    // 3. Relative scaling.
    tour.ok(
        &[("RELEASE", "v2")],
        &["--scale=+2", "--flow=scale", "--flow=proxy"],
    );
    assert_eq!(tour.running("app-green-"), 3);
    assert_eq!(tour.kv("scale").as_deref(), Some("3"));
    let hosts: std::collections::HashSet<String> = (0..30)
        .filter_map(|_| tour.get("/demo/release", &[]).map(|(_, b, _)| b))
        .filter_map(|b| {
            serde_json::from_str::<serde_json::Value>(&b).ok()?["hostname"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(
        hosts.len(),
        3,
        "the proxy balances over all three: {hosts:?}"
    );
    tour.ok(
        &[("RELEASE", "v2")],
        &["--scale=-1", "--flow=scale", "--flow=proxy"],
    );
    assert_eq!(tour.running("app-green-"), 2);

    // 4. Test in production: blue gets as many instances as green, users stay on green, the
    //    tester reaches blue through the proxy with the preview header; then switch.
    tour.ok(&[("RELEASE", "v3")], &["--flow=deploy"]);
    assert_eq!(tour.running("app-blue-"), 2);
    assert_eq!(tour.release().as_deref(), Some("v2"));
    let preview = tour
        .get("/demo/hello", &["X-Flow-Color: blue"])
        .map(|(_, _, r)| r);
    assert_eq!(preview.as_deref(), Some("v3"));
    tour.ok(&[("RELEASE", "v3")], &["--flow=proxy", "--flow=stop-old"]);
    assert_eq!(tour.release().as_deref(), Some("v3"));
    assert_eq!(tour.running("app-green-"), 0);
    assert_eq!(tour.stopped("app-green-"), 2);

    // 5. Custom proxy template.
    tour.ok(
        &[("RELEASE", "v4")],
        &[
            "--consul-template-path",
            "go-demo-app.tmpl",
            "--flow=deploy",
            "--flow=proxy",
            "--flow=stop-old",
        ],
    );
    let (status, body, release) = tour
        .get("/demo/hello", &[])
        .expect("the templated route answers");
    assert_eq!(
        (status, body.as_str(), release.as_str()),
        (200, "hello, world!", "v4")
    );

    // status shows what runs.
    let status = tour.ok(&[], &["status", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(status.trim()).unwrap_or_else(|e| panic!("{e}: {status}"));
    assert_eq!(v["live"], "green");
}

#[test]
fn rollback_returns_users_to_the_previous_release() {
    let tour = Tour::new(true);
    tour.ok(&[("RELEASE", "v1")], &["deploy", "--flow=proxy"]);
    tour.ok(
        &[("RELEASE", "v2")],
        &["deploy", "--flow=proxy", "--flow=stop-old"],
    );
    assert_eq!(tour.release().as_deref(), Some("v2"));
    let load = Load::start(tour.url("/demo/hello"));
    tour.ok(&[], &["rollback"]);
    let (ok, failed, errors) = load.finish();
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed during the rollback: {errors:?}",
        ok + failed
    );
    assert_eq!(tour.release().as_deref(), Some("v1"));
    assert_eq!(tour.kv("color").as_deref(), Some("blue"));
    assert_eq!(tour.running("app-green-"), 0);
    // And again after a later deploy.
    tour.ok(&[("RELEASE", "v3")], &["deploy", "--flow=proxy"]);
    assert_eq!(tour.release().as_deref(), Some("v3"));
    tour.ok(&[], &["rollback"]);
    assert_eq!(tour.release().as_deref(), Some("v1"));
}

#[test]
fn an_unhealthy_release_changes_nothing_users_see() {
    let tour = Tour::new(true);
    tour.ok(&[("RELEASE", "v1")], &["deploy", "--flow=proxy"]);
    let before_color = tour.kv("color");
    let before_releases = tour.kv("releases");
    let out = tour.flow(
        &[("RELEASE", "bad"), ("UNHEALTHY", "1")],
        &["deploy", "--health-timeout=20s"],
    );
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("unhealthy") || text.contains("did not become healthy"),
        "{text}"
    );
    assert!(text.contains("was removed"), "{text}");
    assert_eq!(tour.release().as_deref(), Some("v1"));
    assert_eq!(
        tour.running("app-green-") + tour.stopped("app-green-"),
        0,
        "{:?}",
        tour.containers()
    );
    assert_eq!(tour.kv("color"), before_color);
    assert_eq!(tour.kv("releases"), before_releases);
    assert_eq!(tour.kv("candidate"), None);
}

#[test]
fn consul_unreachable_is_a_clear_error_before_any_change() {
    let tour = Tour::new(true);
    let out = tour.flow(
        &[("FLOW_CONSUL_ADDRESS", "http://127.0.0.1:1")],
        &["deploy"],
    );
    let text = both(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("127.0.0.1:1") && text.contains("unreachable"),
        "{text}"
    );
    assert!(tour.containers().is_empty(), "{:?}", tour.containers());
}

#[test]
fn two_deploys_at_once_one_waits_for_the_lock() {
    let tour = Tour::new(true);
    tour.ok(&[], &["deploy", "--flow=proxy"]);
    // The first holds the lock through its health wait; the second gives up after 1 s.
    let first = {
        let mut cmd = Command::new("docker");
        cmd.arg("flow").arg("deploy").current_dir(tour.dir.path());
        for (k, v) in tour_env(&tour) {
            cmd.env(k, v);
        }
        cmd.env("RELEASE", "v2").spawn().unwrap()
    };
    let holder = format!(
        "{}/v1/kv/docker-flow/{}/.lock?raw",
        bed().consul,
        tour.service()
    );
    wait_until(
        "the first deploy to hold the lock",
        Duration::from_secs(30),
        || curl(&["-fsS", &holder]).ok().filter(|v| !v.is_empty()),
    );
    let second = tour.flow(&[("RELEASE", "v3")], &["deploy", "--lock-timeout=1s"]);
    let text = both(&second);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", both(&first));
    assert_ne!(second.status.code(), Some(0), "{text}");
    assert!(
        text.contains("deploy by"),
        "the error names the holder: {text}"
    );
}

fn tour_env(tour: &Tour) -> Vec<(String, String)> {
    let bed = bed();
    vec![
        (
            "DOCKER_CONFIG".into(),
            tour.config.path().display().to_string(),
        ),
        ("DOCKER_HOST".into(), bed.docker_host.clone()),
        ("DEMO_IMAGE".into(), bed.demo_image.clone()),
        ("FLOW_PROJECT".into(), tour.project.clone()),
        ("FLOW_CONSUL_ADDRESS".into(), bed.consul.clone()),
        ("FLOW_PROXY_IMAGE".into(), bed.haproxy_image.clone()),
        ("FLOW_PROXY_NAME".into(), tour.proxy.clone()),
        ("FLOW_PROXY_HTTP_PORT".into(), tour.port.to_string()),
        ("FLOW_PROXY_BIND_ADDRESS".into(), "127.0.0.1".into()),
        ("FLOW_SKIP_PULL_TARGET".into(), "true".into()),
    ]
}

#[test]
fn dry_run_changes_nothing() {
    let tour = Tour::new(true);
    let text = tour.ok(&[], &["deploy", "--dry-run"]);
    assert!(text.contains("dry run"), "{text}");
    assert!(tour.containers().is_empty(), "{:?}", tour.containers());
    assert_eq!(tour.kv("color"), None);
}

#[test]
fn a_deploy_killed_mid_health_wait_is_completed_by_the_next_run() {
    let tour = Tour::new(true);
    tour.ok(&[("RELEASE", "v1")], &["deploy", "--flow=proxy"]);
    // The new release starts slowly, so the deploy is surely waiting when it is killed.
    let mut child = {
        let mut cmd = Command::new("docker");
        cmd.args(["flow", "deploy"]).current_dir(tour.dir.path());
        for (k, v) in tour_env(&tour) {
            cmd.env(k, v);
        }
        cmd.env("RELEASE", "v2")
            .env("START_DELAY_MS", "5000")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let start = Instant::now();
    while !seen.contains("waiting until") && start.elapsed() < Duration::from_secs(60) {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut err, &mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    assert!(
        seen.contains("waiting until"),
        "the deploy never reached its health wait: {seen}"
    );
    // SIGKILL the plugin itself (the docker CLI's child), as a dying CI runner would.
    let plugin = Command::new("pgrep")
        .args(["-P", &child.id().to_string()])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&plugin.stdout).trim().to_string();
    assert!(
        !pid.is_empty(),
        "no plugin process under docker (pid {})",
        child.id()
    );
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    let _ = child.wait();
    // Users never noticed; the half-done green is there, not recorded as a candidate.
    assert_eq!(tour.release().as_deref(), Some("v1"));
    assert_eq!(tour.kv("candidate"), None);
    // The next plain run converges (it waits for the dead run's lock to expire).
    tour.ok(&[("RELEASE", "v2")], &["deploy", "--lock-timeout=60s"]);
    assert_eq!(tour.kv("candidate").as_deref(), Some("green"));
    assert_eq!(tour.running("app-green-"), 1, "{:?}", tour.containers());
    tour.ok(&[], &["proxy", "--flow=stop-old"]);
    assert_eq!(tour.release().as_deref(), Some("v2"));
}

#[test]
fn proxy_reconcile_repairs_drift_made_by_hand() {
    let tour = Tour::new(true);
    tour.ok(&[], &["deploy", "--flow=proxy"]);
    assert_eq!(tour.release().as_deref(), Some("v1"));
    // Someone puts the live server in maintenance through the Runtime API.
    let cmd = format!(
        "echo 'set server be_{}/blue-1 state maint' | nc 127.0.0.1 9999",
        tour.service()
    );
    docker_ok(&["exec", &tour.proxy, "sh", "-c", &cmd]);
    wait_until("users to see the drift", Duration::from_secs(10), || {
        tour.get("/demo/hello", &[])
            .filter(|(s, _, _)| *s == 503)
            .map(|_| ())
    });
    let text = tour.ok(&[], &["proxy", "reconcile"]);
    assert!(text.contains("repaired"), "{text}");
    assert_eq!(tour.release().as_deref(), Some("v1"));
    let again = tour.ok(&[], &["proxy", "reconcile"]);
    assert!(again.contains("nothing to repair"), "{again}");
}

#[test]
fn without_blue_green_a_deploy_replaces_the_live_release_in_place() {
    let tour = Tour::new(true);
    tour.ok(
        &[("RELEASE", "v1")],
        &["deploy", "--blue-green=false", "--flow=proxy"],
    );
    tour.ok(&[("RELEASE", "v2")], &["deploy", "--blue-green=false"]);
    assert_eq!(tour.release().as_deref(), Some("v2"));
    assert_eq!(tour.kv("color").as_deref(), Some("blue"));
    assert_eq!(tour.kv("candidate"), None);
    assert_eq!(tour.running("app-blue-"), 1);
    assert_eq!(tour.running("app-green-") + tour.stopped("app-green-"), 0);
}

#[test]
fn an_image_that_cannot_be_pulled_changes_nothing() {
    let tour = Tour::new(true);
    // dockerflow/demo exists only on this engine: no registry has it.
    let out = tour.flow(&[("FLOW_SKIP_PULL_TARGET", "false")], &["deploy"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("could not pull image") && text.contains("nothing was changed"),
        "{text}"
    );
    assert!(
        text.contains("--skip-pull-target"),
        "the error says what to do: {text}"
    );
    assert!(tour.containers().is_empty(), "{:?}", tour.containers());
    assert_eq!(tour.kv("candidate"), None);
}

#[test]
fn status_never_starts_consul() {
    let tour = Tour::new(true);
    let mut cmd = Command::new("docker");
    cmd.args(["flow", "status"]).current_dir(tour.dir.path());
    for (k, v) in tour_env(&tour) {
        if k != "FLOW_CONSUL_ADDRESS" {
            cmd.env(k, v);
        }
    }
    let out = cmd
        .env_remove("FLOW_CONSUL_ADDRESS")
        .env_remove("CONSUL_HTTP_ADDR")
        .output()
        .unwrap();
    let text = both(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("nothing is deployed here"), "{text}");
    let consul = docker(&["inspect", "docker-flow-consul"]);
    assert!(
        !consul.status.success(),
        "status started docker-flow-consul"
    );
}
