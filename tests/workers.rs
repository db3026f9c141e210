//! Services the proxy does not route (workers), end to end through the real docker CLI, engine
//! and Consul: no port is needed, health is "running and not restarting for the monitor
//! window", the switch is Consul's live colour alone (no proxy is started), and a release that
//! crash-loops is refused with the old one left running. A routed service with two ports and no
//! `--port` is bad input, refused before anything starts.

mod common;

use std::time::{Duration, Instant};

use common::tour::{both, Tour};
use common::{bed, curl, docker, Cleanup};
use serde_json::Value;

/// A tour whose compose file is `compose` instead of the fixture's, deploying `target`; its
/// Consul keys go with it (the tour removes those of `app` only).
struct Site {
    tour: Tour,
    service: String,
    _cleanup: Cleanup,
}

fn project(compose: &str, target: &str) -> Site {
    let tour = Tour::new(false);
    std::fs::write(tour.dir.path().join("compose.yaml"), compose).unwrap();
    let service = format!("{}-{target}", tour.project);
    let mut cleanup = Cleanup::new();
    cleanup.consul_prefix(&format!("docker-flow/{service}/"));
    Site {
        tour,
        service,
        _cleanup: cleanup,
    }
}

impl std::ops::Deref for Site {
    type Target = Tour;
    fn deref(&self) -> &Tour {
        &self.tour
    }
}

impl Site {
    /// One key of the service's state in Consul.
    fn key(&self, key: &str) -> Option<String> {
        curl(&[
            "-fsS",
            &format!(
                "{}/v1/kv/docker-flow/{}/{key}?raw",
                bed().consul,
                self.service
            ),
        ])
        .ok()
    }
}

/// The worker: the demo image with no port in the compose file. Its image has a healthcheck
/// (kept unless `healthcheck` says otherwise).
fn worker(extra: &str) -> String {
    format!(
        "services:\n  worker:\n    image: ${{DEMO_IMAGE}}\n    environment:\n      RELEASE: ${{RELEASE:-v1}}\n      EXIT_AFTER_MS: ${{EXIT_AFTER_MS:-}}\n{extra}"
    )
}

/// Consul's keys of the service (key, value, modify index), the lock's own key left out.
fn kv(site: &Site) -> Vec<(String, String, u64)> {
    let text = curl(&[
        "-sS",
        &format!(
            "{}/v1/kv/docker-flow/{}/?recurse",
            bed().consul,
            site.service
        ),
    ])
    .unwrap_or_default();
    let list: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    list.iter()
        .map(|e| {
            (
                e["Key"].as_str().unwrap_or_default().to_string(),
                e["Value"].as_str().unwrap_or_default().to_string(),
                e["ModifyIndex"].as_u64().unwrap_or_default(),
            )
        })
        .filter(|(k, _, _)| !k.ends_with(".lock"))
        .collect()
}

/// The project's instances in Consul's catalog: id -> (address, port, number of checks).
fn registered(tour: &Tour) -> Vec<(String, String, u64, usize)> {
    let consul = &bed().consul;
    let services: Value =
        serde_json::from_str(&curl(&["-fsS", &format!("{consul}/v1/agent/services")]).unwrap())
            .unwrap();
    let checks: Value =
        serde_json::from_str(&curl(&["-fsS", &format!("{consul}/v1/agent/checks")]).unwrap())
            .unwrap();
    let mut out: Vec<_> = services
        .as_object()
        .unwrap()
        .iter()
        .filter(|(id, _)| id.starts_with(&tour.project))
        .map(|(id, s)| {
            let n = checks
                .as_object()
                .unwrap()
                .values()
                .filter(|c| c["ServiceID"] == id.as_str())
                .count();
            (
                id.clone(),
                s["Address"].as_str().unwrap_or_default().to_string(),
                s["Port"].as_u64().unwrap_or(99),
                n,
            )
        })
        .collect();
    out.sort();
    out
}

fn proxy_exists(tour: &Tour) -> bool {
    docker(&["inspect", &tour.proxy]).status.success()
}

fn timed(tour: &Tour, env: &[(&str, &str)], args: &[&str]) -> Duration {
    let start = Instant::now();
    tour.ok(env, args);
    start.elapsed()
}

#[test]
fn a_worker_with_no_port_deploys_switches_stops_and_rolls_back() {
    let tour = project(&worker(""), "worker");
    let t = "--target=worker";
    let took = timed(&tour, &[("RELEASE", "v1")], &["deploy", t]);
    println!("worker v1 deploy (image healthcheck + 5s monitor window): {took:?}");
    assert_eq!(tour.running("worker-blue-"), 1, "{:?}", tour.containers());
    assert_eq!(tour.key("candidate").as_deref(), Some("blue"));
    let routes: Value = serde_json::from_str(&tour.key("routes").unwrap()).unwrap();
    assert_eq!(routes["port"], 0, "{routes}");
    // Registered with its address, port 0 and no check.
    let reg = registered(&tour);
    assert_eq!(reg.len(), 1, "{reg:?}");
    let (_, address, port, checks) = &reg[0];
    assert!(!address.is_empty() && *port == 0 && *checks == 0, "{reg:?}");

    let out = tour.ok(&[], &["proxy", t]);
    assert!(out.contains("does not route"), "{out}");
    assert_eq!(tour.key("color").as_deref(), Some("blue"));
    assert_eq!(tour.key("candidate"), None);
    assert!(!proxy_exists(&tour), "a proxy was started for a worker");

    tour.ok(&[("RELEASE", "v2")], &["deploy", t]);
    assert_eq!(tour.running("worker-green-"), 1);
    assert_eq!(
        tour.running("worker-blue-"),
        1,
        "the live one keeps running"
    );
    tour.ok(&[], &["proxy", t]);
    assert_eq!(tour.key("color").as_deref(), Some("green"));

    tour.ok(&[], &["stop-old", t]);
    assert_eq!(tour.running("worker-green-"), 1);
    assert_eq!(tour.stopped("worker-blue-"), 1, "{:?}", tour.containers());

    let status = tour.ok(&[], &["status", t]);
    assert!(status.contains("Routes:    none"), "{status}");

    tour.ok(&[], &["rollback", t]);
    assert_eq!(tour.key("color").as_deref(), Some("blue"));
    assert_eq!(tour.running("worker-blue-"), 1, "{:?}", tour.containers());
    assert_eq!(tour.stopped("worker-green-"), 1, "{:?}", tour.containers());
    assert!(!proxy_exists(&tour), "a proxy was started for a worker");
    let reg = registered(&tour);
    assert!(
        reg.len() == 1 && reg[0].0.contains("worker-blue-"),
        "{reg:?}"
    );

    // Scaling works the same way (the monitor window gates new instances).
    tour.ok(&[], &["scale", t, "+1"]);
    assert_eq!(tour.running("worker-blue-"), 2);
    assert_eq!(tour.key("scale").as_deref(), Some("2"));
}

#[test]
fn a_crash_looping_worker_release_is_refused_and_the_old_one_keeps_running() {
    let tour = project(
        &worker("    restart: always\n    healthcheck:\n      disable: true\n"),
        "worker",
    );
    let t = "--target=worker";
    tour.ok(&[("RELEASE", "v1")], &["deploy", t, "--flow=proxy"]);
    assert_eq!(tour.key("color").as_deref(), Some("blue"));
    let before = kv(&tour);
    let registered_before = registered(&tour);

    // Exits after 1.5 s, and `restart: always` starts it again: never steady for 5 s.
    let out = tour.flow(
        &[("RELEASE", "v2"), ("EXIT_AFTER_MS", "1500")],
        &["deploy", t],
    );
    let text = both(&out);
    println!("{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("monitor window"), "{text}");
    assert_eq!(tour.running("worker-green-"), 0, "{:?}", tour.containers());
    assert_eq!(tour.stopped("worker-green-"), 0, "the new colour was left");
    assert_eq!(tour.running("worker-blue-"), 1, "{:?}", tour.containers());
    assert_eq!(kv(&tour), before, "Consul changed");
    assert_eq!(registered(&tour), registered_before);

    // One that exits for good (no restart policy) is refused too.
    std::fs::write(
        tour.dir.path().join("compose.yaml"),
        worker("    healthcheck:\n      disable: true\n"),
    )
    .unwrap();
    let out = tour.flow(
        &[("RELEASE", "v2"), ("EXIT_AFTER_MS", "1500")],
        &["deploy", t],
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert_eq!(tour.running("worker-blue-"), 1, "{:?}", tour.containers());
    assert_eq!(tour.stopped("worker-green-"), 0);
    assert_eq!(kv(&tour), before, "Consul changed");
}

#[test]
fn two_exposed_ports_deploy_unrouted_in_the_monitor_window_and_a_route_needs_port() {
    let tour = project(
        "services:\n  multi:\n    image: ${DEMO_IMAGE}\n    environment:\n      RELEASE: ${RELEASE:-v1}\n    expose: ['8080', '9090']\n    healthcheck:\n      disable: true\n",
        "multi",
    );
    let t = "--target=multi";

    // A route with two candidate ports and no --port: exit 2 before anything starts.
    let out = tour.flow(&[], &["deploy", t, "--service-path=/m", "--flow=proxy"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let line = err
        .lines()
        .find(|l| l.starts_with("docker flow:"))
        .unwrap_or_default();
    for want in [
        "multi",
        "8080, 9090",
        "--port",
        "FLOW_PORT",
        "docker-flow.yml",
    ] {
        assert!(line.contains(want), "{want:?} not in {line:?}");
    }
    println!("two ports, a route, no --port: {line}");
    assert!(tour.containers().is_empty(), "{:?}", tour.containers());
    assert!(kv(&tour).is_empty(), "Consul changed: {:?}", kv(&tour));
    assert!(registered(&tour).is_empty());
    assert!(!proxy_exists(&tour));

    // Not routed: no port needed, healthy after the monitor window (no 90 s TCP wait).
    let mut times = Vec::new();
    for release in ["v1", "v2", "v3"] {
        let took = timed(
            &tour,
            &[("RELEASE", release)],
            &["deploy", t, "--flow=proxy"],
        );
        assert!(
            took < Duration::from_secs(30),
            "deploy {release} took {took:?}"
        );
        times.push(took);
    }
    println!("unrouted deploy+switch with the default 5s monitor window: {times:?}");
    assert_eq!(tour.key("color").as_deref(), Some("blue"));
    let took = timed(&tour, &[("RELEASE", "v4")], &["deploy", t, "--monitor=1s"]);
    println!("unrouted deploy with --monitor=1s: {took:?}");

    // Deployed with no route, it cannot be routed by the switch alone: exit 2, nothing changed.
    let before = kv(&tour);
    let out = tour.flow(&[], &["proxy", t, "--service-path=/m", "--port=8080"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr_line(&out).contains("deployed with no route"),
        "{}",
        both(&out)
    );
    assert_eq!(kv(&tour), before, "Consul changed");
    assert!(!proxy_exists(&tour));

    // With --port the route works: the deploy waits for the TCP check of that port.
    tour.ok(
        &[("RELEASE", "v5")],
        &[
            "deploy",
            t,
            "--service-path=/demo",
            "--port=8080",
            "--flow=proxy",
        ],
    );
    assert_eq!(tour.release().as_deref(), Some("v5"));
}

fn stderr_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find(|l| l.starts_with("docker flow:"))
        .unwrap_or_default()
        .to_string()
}

/// The project's Swarm services, proxy, networks go when the test ends, also when it fails.
struct OnSwarm<'a>(&'a Site);

impl Drop for OnSwarm<'_> {
    fn drop(&mut self) {
        common::swarm::remove_project(
            &bed().engine_c_host,
            &self.0.project,
            &self.0.proxy,
            Duration::from_secs(30),
            || true,
        );
    }
}

#[test]
fn a_worker_with_no_port_deploys_and_switches_on_swarm() {
    let c = bed().engine_c_host.as_str();
    common::swarm::assert_manager(c);
    let site = project(&worker("    healthcheck:\n      disable: true\n"), "worker");
    let _swarm = OnSwarm(&site);
    let t = "--target=worker";
    let tasks = |colour: &str| {
        common::swarm::running_tasks(c, &format!("{}_worker-{colour}", site.project))
    };
    site.ok(
        &[("DOCKER_HOST", c), ("RELEASE", "v1")],
        &["deploy", t, "--flow=proxy"],
    );
    assert_eq!(site.key("color").as_deref(), Some("blue"));
    assert_eq!(tasks("blue"), 1);
    site.ok(
        &[("DOCKER_HOST", c), ("RELEASE", "v2")],
        &["deploy", t, "--flow=proxy", "--flow=stop-old"],
    );
    assert_eq!(site.key("color").as_deref(), Some("green"));
    assert_eq!(tasks("green"), 1);
    assert_eq!(tasks("blue"), 0);
    assert!(
        !docker(&["-H", c, "inspect", &site.proxy]).status.success(),
        "a proxy was started for a worker"
    );
}
