//! The flows on a single-node Swarm (the test bed's engine c), end to end through the real docker
//! CLI, Swarm services, Consul and HAProxy: the original tour as services, zero failed requests
//! through a switch, and an unhealthy release that changes nothing users see.

mod common;

use std::time::Duration;

use common::tour::{Load, Tour};
use common::{bed, docker, docker_ok, wait_until};

/// A tour whose flows run against engine c; its services, proxy and networks there go in Drop
/// (before the Tour's own cleanup of Consul).
struct SwarmTour {
    tour: Tour,
}

fn c() -> &'static str {
    &bed().engine_c_host
}

impl SwarmTour {
    fn new() -> SwarmTour {
        common::swarm::assert_manager(c());
        SwarmTour {
            tour: Tour::new(false),
        }
    }

    fn env<'a>(&self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![("DOCKER_HOST", c())];
        env.extend_from_slice(extra);
        env
    }

    fn ok(&self, extra: &[(&str, &str)], args: &[&str]) -> String {
        self.tour.ok(&self.env(extra), args)
    }

    fn service(&self, colour: &str) -> String {
        format!("{}_app-{colour}", self.tour.project)
    }

    /// The replicas a service's spec asks for; None when the service does not exist.
    fn replicas(&self, name: &str) -> Option<u32> {
        let out = docker(&[
            "-H",
            c(),
            "service",
            "inspect",
            "--format",
            "{{.Spec.Mode.Replicated.Replicas}}",
            name,
        ]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .flatten()
    }

    /// Tasks of a service that run.
    fn running(&self, name: &str) -> usize {
        common::swarm::running_tasks(c(), name)
    }

    fn release(&self) -> Option<String> {
        self.tour.release()
    }
}

impl Drop for SwarmTour {
    fn drop(&mut self) {
        common::swarm::remove_project(
            c(),
            &self.tour.project,
            &self.tour.proxy,
            Duration::from_secs(30),
            || true,
        );
    }
}

#[test]
fn the_tour_on_swarm() {
    let t = SwarmTour::new();
    let blue = t.service("blue");
    let green = t.service("green");

    // 1. First release as services: blue (one task) and db, the proxy on the manager joined to
    //    the project's overlay network.
    t.ok(
        &[],
        &[
            "--target=app",
            "--service-path=/demo",
            "--side-target=db",
            "--flow=deploy",
            "--flow=proxy",
        ],
    );
    assert_eq!(t.replicas(&blue), Some(1));
    assert_eq!(t.running(&blue), 1);
    assert_eq!(
        t.replicas(&format!("{}_db", t.tour.project)),
        Some(1),
        "the side target is a service too"
    );
    assert_eq!(
        docker_ok(&[
            "-H",
            c(),
            "network",
            "inspect",
            "-f",
            "{{.Driver}} {{.Attachable}}",
            &format!("{}_default", t.tour.project)
        ]),
        "overlay true"
    );
    let (status, body, release) = t.tour.get("/demo/hello", &[]).expect("the proxy answers");
    assert_eq!(
        (status, body.as_str(), release.as_str()),
        (200, "hello, world!", "v1")
    );
    assert_eq!(t.tour.kv("color").as_deref(), Some("blue"));

    // 2. Second release beside the first: previewed with the header, users still on v1.
    t.tour.with_yml();
    t.ok(&[("RELEASE", "v2")], &["deploy"]);
    assert_eq!(t.running(&green), 1);
    let preview = t
        .tour
        .get("/demo/hello", &["X-Flow-Color: green"])
        .map(|(_, _, r)| r);
    assert_eq!(preview.as_deref(), Some("v2"));
    assert_eq!(t.release().as_deref(), Some("v1"));
    assert_eq!(t.tour.kv("candidate").as_deref(), Some("green"));

    // 3. Switch and stop the old release under load: no request fails.
    let load = Load::start(t.tour.url("/demo/hello"));
    t.ok(&[("RELEASE", "v2")], &["proxy", "--flow=stop-old"]);
    let (ok, failed, errors) = load.finish();
    eprintln!("switch + stop-old under load: {ok} requests ok, {failed} failed");
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed during the switch: {errors:?}",
        ok + failed
    );
    assert!(ok > 0);
    assert_eq!(t.release().as_deref(), Some("v2"));
    assert_eq!(t.tour.kv("color").as_deref(), Some("green"));
    // stop-old keeps the old service at 0 replicas, for rollback.
    assert_eq!(t.replicas(&blue), Some(0));
    wait_until("blue's task stops", Duration::from_secs(30), || {
        (t.running(&blue) == 0).then_some(())
    });

    // 4. Relative scaling by a service update; the proxy balances over both tasks.
    t.ok(&[("RELEASE", "v2")], &["scale", "+1"]);
    assert_eq!(t.replicas(&green), Some(2));
    assert_eq!(t.running(&green), 2);
    assert_eq!(t.tour.kv("scale").as_deref(), Some("2"));
    let hosts = t.tour.hostnames(30);
    assert_eq!(hosts.len(), 2, "the proxy balances over both: {hosts:?}");

    // 5. Rollback: blue back at the scale it was stopped at, users on v1, green at 0.
    t.ok(&[], &["rollback"]);
    assert_eq!(t.release().as_deref(), Some("v1"));
    assert_eq!(t.replicas(&blue), Some(1));
    assert_eq!(t.running(&blue), 1);
    assert_eq!(t.replicas(&green), Some(0));
    assert_eq!(t.tour.kv("color").as_deref(), Some("blue"));

    // 6. An unhealthy release fails the deploy (exit 1) and changes nothing users see: its
    //    service is removed, Consul keeps blue live and no candidate.
    let out = t.tour.flow(
        &t.env(&[("RELEASE", "v3"), ("UNHEALTHY", "1")]),
        &["deploy"],
    );
    let text = common::tour::both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ended before it ran healthy"), "{text}");
    assert_eq!(
        t.replicas(&green),
        None,
        "the failed release is removed: {text}"
    );
    assert_eq!(t.release().as_deref(), Some("v1"));
    assert_eq!(t.tour.kv("color").as_deref(), Some("blue"));
    assert_eq!(t.tour.kv("candidate"), None);

    // status lists the services and their tasks.
    let status = t.ok(&[], &["status", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(status.trim()).unwrap_or_else(|e| panic!("{e}: {status}"));
    assert_eq!(v["live"], "blue");
    let services: Vec<&str> = v["swarm_services"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(services, vec![blue.as_str()], "{status}");
    let instances = v["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 1, "{status}");
    assert_eq!(instances[0]["consul"], "passing");
    assert!(
        instances[0]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{blue}.1.")),
        "{status}"
    );
}

#[test]
fn a_key_a_service_cannot_carry_changes_nothing() {
    let t = SwarmTour::new();
    let compose = t.tour.dir.path().join("compose.yaml");
    let text = std::fs::read_to_string(&compose).unwrap();
    std::fs::write(
        &compose,
        text.replace(
            "    expose: [\"8080\"]\n",
            "    expose: [\"8080\"]\n    shm_size: 64m\n",
        ),
    )
    .unwrap();
    let out = t.tour.flow(
        &t.env(&[]),
        &[
            "--target=app",
            "--side-target=db",
            "--service-path=/demo",
            "--flow=deploy",
        ],
    );
    let text = common::tour::both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("shm_size") && text.contains("app-blue"),
        "{text}"
    );
    let label = format!("label=com.docker.stack.namespace={}", t.tour.project);
    assert_eq!(
        docker_ok(&["-H", c(), "service", "ls", "-q", "--filter", &label]),
        "",
        "nothing is created, the side target neither"
    );
    assert_eq!(t.tour.kv("color"), None);
}

/// The proxy issue's zero-loss check on services: releases switched back and forth under
/// continuous load (new connections and keep-alive alike go through `http_get`), no request lost.
#[test]
fn switch_cycles_under_load_lose_nothing() {
    let t = SwarmTour::new();
    t.tour.with_yml();
    t.ok(&[("RELEASE", "v0")], &["deploy", "--flow=proxy"]);
    let load = Load::start(t.tour.url("/demo/hello"));
    let start = std::time::Instant::now();
    for n in 1..=3 {
        let release = format!("v{n}");
        t.ok(
            &[("RELEASE", release.as_str())],
            &["deploy", "--flow=proxy", "--flow=stop-old"],
        );
        assert_eq!(t.release().as_deref(), Some(release.as_str()));
    }
    let elapsed = start.elapsed();
    let (ok, failed, errors) = load.finish();
    eprintln!(
        "3 switch cycles in {:.1}s under load: {ok} requests ok, {failed} failed",
        elapsed.as_secs_f64()
    );
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed: {errors:?}",
        ok + failed
    );
    assert!(ok > 0);
}
