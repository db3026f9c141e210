//! The proxy on a second engine: the services run on engine b, the proxy on engine a (chosen by
//! `--proxy-context`). The instances publish the routed port on engine b's host and the proxy,
//! on its host's network, routes to those published ports: deploy, preview, switch under load,
//! stop-old, and a removed proxy recreated with its routes.

mod common;

use std::time::Duration;

use common::tour::{Load, Tour};
use common::{bed, curl, docker, docker_ok, wait_until};

/// Removes what the test made on engine b (Tour's own cleanup looks at engine a).
struct OnEngineB {
    project: String,
}

impl Drop for OnEngineB {
    fn drop(&mut self) {
        let b = &bed().engine_b_host;
        let label = format!("label=com.docker.compose.project={}", self.project);
        let ids = docker(&["-H", b, "ps", "-aq", "--filter", &label]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = docker(&["-H", b, "rm", "-f", "-v", id]);
        }
        let nets = docker(&["-H", b, "network", "ls", "-q", "--filter", &label]);
        for id in String::from_utf8_lossy(&nets.stdout).split_whitespace() {
            let _ = docker(&["-H", b, "network", "rm", id]);
        }
    }
}

#[test]
fn the_proxy_on_another_engine_routes_to_published_ports() {
    let bed = bed();
    let tour = Tour::new(true);
    let _b = OnEngineB {
        project: tour.project.clone(),
    };
    let config = tour.config.path().to_str().unwrap();
    docker_ok(&[
        "--config",
        config,
        "context",
        "create",
        "edge",
        "--docker",
        &format!("host={}", bed.docker_host),
    ]);
    let env = [
        ("DOCKER_HOST", bed.engine_b_host.as_str()),
        ("FLOW_PROXY_CONTEXT", "edge"),
    ];

    let with = |extra: (&'static str, &'static str)| {
        let mut v = env.to_vec();
        v.push(extra);
        v
    };
    tour.ok(&with(("RELEASE", "v1")), &["deploy", "--flow=proxy"]);
    assert_eq!(tour.release().as_deref(), Some("v1"));

    // The proxy runs on engine a, on the host's network; no instance runs there.
    let mode = docker_ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", &tour.proxy]);
    assert_eq!(mode.trim(), "host");
    assert!(tour.containers().is_empty(), "{:?}", tour.containers());
    // The instance runs on engine b and publishes 8080 on loopback; Consul has that address.
    let b = &bed.engine_b_host;
    let ports = docker_ok(&[
        "-H",
        b,
        "port",
        &format!("{}-app-blue-1", tour.project),
        "8080",
    ]);
    let published = ports.trim().to_string();
    assert!(published.starts_with("127.0.0.1:"), "{published}");
    let catalog = curl(&[
        "-fsS",
        &format!("{}/v1/catalog/service/{}-blue", bed.consul, tour.service()),
    ])
    .unwrap();
    let entries: serde_json::Value = serde_json::from_str(&catalog).unwrap();
    let registered = format!(
        "{}:{}",
        entries[0]["ServiceAddress"].as_str().unwrap(),
        entries[0]["ServicePort"]
    );
    assert_eq!(registered, published);

    // Next release: previewed through the same proxy, then switched under load, then blue stops.
    tour.ok(&with(("RELEASE", "v2")), &["deploy"]);
    let preview = tour.get("/demo/hello", &["X-Flow-Color: green"]).unwrap();
    assert_eq!((preview.0, preview.2.as_str()), (200, "v2"));
    assert_eq!(tour.release().as_deref(), Some("v1"));
    let load = Load::start(tour.url("/demo/hello"));
    tour.ok(&env, &["proxy"]);
    tour.ok(&env, &["stop-old"]);
    std::thread::sleep(Duration::from_millis(300));
    let (ok, failed, errors) = load.finish();
    eprintln!("proxy on engine a, services on engine b: {ok} ok, {failed} failed");
    assert_eq!(failed, 0, "requests failed during the switch: {errors:?}");
    assert!(ok > 0);
    assert_eq!(tour.release().as_deref(), Some("v2"));

    // The proxy removed by hand: the next flow recreates it with the route.
    docker_ok(&["rm", "-f", &tour.proxy]);
    tour.ok(&env, &["proxy"]);
    wait_until(
        "the recreated proxy to route",
        Duration::from_secs(20),
        || (tour.release().as_deref() == Some("v2")).then_some(()),
    );
}

/// The other way round, with the original's flags: services on engine a, the proxy on engine b
/// reached over TCP with TLS (`--proxy-docker-host` + `--proxy-docker-cert-path`).
#[test]
fn the_proxy_on_a_tls_engine_given_by_host_and_cert_path() {
    let bed = bed();
    let tour = Tour::new(true);
    let b = bed.engine_b_host.clone();
    // Tour's own cleanup removes the proxy from engine a; this one is on engine b.
    struct ProxyOnB(String);
    impl Drop for ProxyOnB {
        fn drop(&mut self) {
            let _ = docker(&["-H", &common::bed().engine_b_host, "rm", "-f", &self.0]);
        }
    }
    let _proxy = ProxyOnB(tour.proxy.clone());
    let certs = bed.tls_dir.to_str().unwrap();
    let env = [
        ("FLOW_PROXY_DOCKER_HOST", bed.engine_b_tls_host.as_str()),
        ("FLOW_PROXY_DOCKER_CERT_PATH", certs),
    ];
    let with = |extra: (&'static str, &'static str)| {
        let mut v = env.to_vec();
        v.push(extra);
        v
    };
    tour.ok(&with(("RELEASE", "v1")), &["deploy", "--flow=proxy"]);
    assert_eq!(tour.release().as_deref(), Some("v1"));
    let on_b = docker_ok(&[
        "-H",
        &b,
        "inspect",
        "-f",
        "{{.HostConfig.NetworkMode}}",
        &tour.proxy,
    ]);
    assert_eq!(on_b.trim(), "host");
    assert!(
        !docker(&["inspect", &tour.proxy]).status.success(),
        "no proxy on the services' engine"
    );
    assert_eq!(tour.running("app-blue-"), 1);

    tour.ok(
        &with(("RELEASE", "v2")),
        &["deploy", "--flow=proxy", "--flow=stop-old"],
    );
    assert_eq!(tour.release().as_deref(), Some("v2"));

    // A wrong certificate directory is refused before anything changes.
    let before = tour.containers();
    let empty = tempfile::tempdir().unwrap();
    let out = tour.flow(
        &[
            ("FLOW_PROXY_DOCKER_HOST", bed.engine_b_tls_host.as_str()),
            (
                "FLOW_PROXY_DOCKER_CERT_PATH",
                empty.path().to_str().unwrap(),
            ),
            ("RELEASE", "v3"),
        ],
        &["deploy"],
    );
    let text = common::tour::both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("proxy engine") && text.contains("--proxy-docker-cert-path"),
        "{text}"
    );
    assert_eq!(tour.containers(), before, "nothing changed: {text}");
}
