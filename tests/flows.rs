//! The flows end to end, through the real docker CLI, engine, Consul and HAProxy: the original
//! tool's tour (../shared/reference/walkthrough.md), rollback, and the failure paths.
//! Each test has its own project, proxy container and proxy port, so they do not share state.

mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use common::tour::{both, Load, Tour};
use common::{bed, curl, docker, docker_ok, wait_until};

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
        for (k, v) in tour.env() {
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
        for (k, v) in tour.env() {
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

/// A container removed by hand while registered: status lists it as stale, `proxy reconcile`
/// drops the registration and the proxy routes to what runs.
#[test]
fn proxy_reconcile_forgets_a_container_removed_by_hand() {
    let tour = Tour::new(true);
    tour.ok(&[], &["deploy", "--scale=2", "--flow=proxy"]);
    let gone = format!("{}-app-blue-2", tour.project);
    docker_ok(&["rm", "-f", &gone]);
    let consul_of = |name: &str| {
        let status = tour.ok(&[], &["status", "--format", "json"]);
        let v: serde_json::Value =
            serde_json::from_str(status.trim()).unwrap_or_else(|e| panic!("{e}: {status}"));
        v["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["consul"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(consul_of(&gone).as_deref(), Some("stale"));
    let text = tour.ok(&[], &["proxy", "reconcile"]);
    assert!(text.contains(&format!("deregistered {gone}")), "{text}");
    assert_eq!(consul_of(&gone), None, "no longer registered");
    let registered = common::curl(&[
        "-fsS",
        &format!(
            "{}/v1/catalog/service/{}-blue",
            common::bed().consul,
            tour.service()
        ),
    ])
    .unwrap();
    assert!(!registered.contains(&gone), "{registered}");
    for _ in 0..10 {
        let (status, _, release) = tour.get("/demo/hello", &[]).expect("the proxy answers");
        assert_eq!((status, release.as_str()), (200, "v1"));
    }
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
    for (k, v) in tour.env() {
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
