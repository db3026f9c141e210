//! The README's first command, `./scripts/quickstart.sh`, deploys examples/demo and the demo
//! answers through the proxy; `quickstart.sh down` removes what it started.
//!
//! Run with the plugin this build made (QUICKSTART_SKIP_INSTALL: a release build inside a test
//! would contend for the build directory), a private project, proxy and port, and the test bed's
//! Consul: the embedded one has a fixed name, `docker-flow-consul`, that other tests rely on not
//! existing.

mod common;

use std::process::Command;

use common::tour::Tour;
use common::{bed, docker};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/quickstart.sh");

fn quickstart(tour: &Tour, state: &std::path::Path, cmd: &str) -> (bool, String) {
    let bed = bed();
    let out = Command::new("bash")
        .args([SCRIPT, cmd])
        .env("DOCKER_CONFIG", tour.config.path())
        .env("DOCKER_HOST", &bed.docker_host)
        .env("QUICKSTART_SKIP_INSTALL", "1")
        .env("QUICKSTART_OFFLINE", "1")
        .env("QUICKSTART_STATE", state)
        .env("FLOW_PROJECT", &tour.project)
        .env("FLOW_PROXY_NAME", &tour.proxy)
        .env("FLOW_PROXY_HTTP_PORT", tour.port.to_string())
        .env("FLOW_CONSUL_ADDRESS", &bed.consul)
        .env("FLOW_PROXY_IMAGE", &bed.haproxy_image)
        .env("DEMO_IMAGE", &bed.demo_image)
        .env_remove("CONSUL_HTTP_ADDR")
        .env_remove("FLOW_SCALE")
        .output()
        .expect("run quickstart.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_quick_start_deploys_the_example_and_down_removes_it() {
    // Tour gives the private names and port, the plugin in a temp DOCKER_CONFIG and, on drop,
    // removes containers, the proxy, networks and Consul keys of its project.
    let tour = Tour::new(false);
    let state = tour.dir.path().join("quickstart-state");

    let (ok, text) = quickstart(&tour, &state, "up");
    assert!(ok, "quickstart.sh failed:\n{text}");
    assert!(text.contains("-> hello, world!"), "{text}");
    let (status, body, release) = tour.get("/demo/hello", &[]).expect("the proxy answers");
    assert_eq!(
        (status, body.as_str(), release.as_str()),
        (200, "hello, world!", "v1")
    );
    assert_eq!(tour.kv("color").as_deref(), Some("blue"));
    assert_eq!(tour.running("app-blue-"), 1, "{:?}", tour.containers());
    assert_eq!(tour.running("db-"), 1, "{:?}", tour.containers());

    let (ok, text) = quickstart(&tour, &state, "down");
    assert!(ok, "quickstart.sh down failed:\n{text}");
    assert!(tour.containers().is_empty(), "{:?}", tour.containers());
    assert!(
        !docker(&["inspect", &tour.proxy]).status.success(),
        "down left the proxy {} it started",
        tour.proxy
    );
    assert!(!state.exists(), "down leaves its state file");
}
