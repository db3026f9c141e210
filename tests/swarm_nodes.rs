//! The flows on a three-node Swarm: the test bed's nodes 0 (manager), 1 and 2 (workers), each a
//! dockerd in its own network namespace on a private bridge, overlay traffic as VXLAN between
//! them. The proxy runs on the manager, the releases' tasks on the workers (placement
//! `node.role == worker`), users reach the proxy on the manager's loopback (the requests are
//! sent from inside its namespace). Then a worker is lost mid-life: the flows still converge.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tour::{both, Load, Tour};
use common::{bed, docker_ok, http_get_in, wait_until};

const COMPOSE: &str = r#"services:
  app:
    image: ${DEMO_IMAGE:-dockerflow/demo:latest}
    environment:
      RELEASE: ${RELEASE:-v1}
    expose: ["8080"]
    healthcheck:
      test: ["CMD", "/demo", "health"]
      interval: 1s
      timeout: 2s
      retries: 2
    deploy:
      placement:
        constraints: ["node.role == worker"]
"#;

const FLOW_YML: &str = "target: app\nservice_path: [/demo]\nhealth_timeout: 90s\n";

fn manager() -> &'static str {
    &bed().nodes_host
}

fn netns() -> &'static str {
    &bed().nodes_netns
}

fn d(args: &[&str]) -> String {
    let mut all = vec!["-H", manager()];
    all.extend_from_slice(args);
    docker_ok(&all)
}

/// `scripts/testbed.sh node stop|start N`: the test bed's own way to lose and bring back a node.
fn testbed_node(action: &str, node: u32) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/testbed.sh");
    let out = Command::new(&script)
        .args(["node", action, &node.to_string()])
        .output()
        .expect("run scripts/testbed.sh");
    assert!(
        out.status.success(),
        "testbed.sh node {action} {node}: {}",
        both(&out)
    );
}

/// The address of the bed's node `i` (the test only compares it, never sends to it).
fn node_addr(i: u32) -> String {
    format!("{}.{}", bed().nodes_net, 10 + i)
}

/// Node ID → its index in the test bed (its address is `node_addr(index)`).
fn node_index() -> BTreeMap<String, u32> {
    d(&["node", "ls", "-q"])
        .split_whitespace()
        .filter_map(|id| {
            let addr = d(&["node", "inspect", "--format", "{{.Status.Addr}}", id]);
            let prefix = format!("{}.", bed().nodes_net);
            let index = match addr.strip_prefix(&prefix)?.parse::<u32>().ok()? {
                n @ 10..=12 => n - 10,
                _ => return None,
            };
            Some((id.to_string(), index))
        })
        .collect()
}

/// One test at a time on the three nodes: the first loses a worker.
static NODES: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct NodesTour {
    tour: Tour,
    /// Extra environment of every flow (the proxy on another engine).
    env: Vec<(&'static str, String)>,
    /// Where users send requests from: the manager's namespace (the proxy on the manager), or
    /// this host (the proxy on the bed's main engine).
    users_in: Option<&'static str>,
    /// A worker this test stopped, brought back in Drop whatever happened.
    stopped: std::cell::Cell<Option<u32>>,
    /// Declared last, so dropped last: every cleanup runs while it is held.
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl NodesTour {
    fn new() -> NodesTour {
        let turn = NODES.lock().unwrap_or_else(|e| e.into_inner());
        common::swarm::assert_manager(manager());
        let ready = d(&["node", "ls", "--format", "{{.Status}}"]);
        assert_eq!(
            ready.lines().filter(|l| *l == "Ready").count(),
            3,
            "the bed's three-node Swarm, every node ready (`scripts/testbed.sh up`): {ready}"
        );
        let tour = Tour::new(false);
        std::fs::write(tour.dir.path().join("compose.yaml"), COMPOSE).unwrap();
        std::fs::write(tour.dir.path().join("docker-flow.yml"), FLOW_YML).unwrap();
        NodesTour {
            _turn: turn,
            tour,
            env: Vec::new(),
            users_in: Some(netns()),
            stopped: std::cell::Cell::new(None),
        }
    }

    fn ok(&self, release: &str, args: &[&str]) -> String {
        let mut env = vec![("DOCKER_HOST", manager()), ("RELEASE", release)];
        env.extend(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        self.tour.ok(&env, args)
    }

    fn service(&self, colour: &str) -> String {
        format!("{}_app-{colour}", self.tour.project)
    }

    fn get(&self) -> Option<serde_json::Value> {
        let (code, body) = http_get_in(self.users_in, &self.tour.url("/demo/release"))?;
        (code == 200).then(|| serde_json::from_str(&body).ok())?
    }

    fn release(&self) -> Option<String> {
        self.get()?["release"].as_str().map(String::from)
    }

    /// Distinct task hostnames users reach in `n` requests.
    fn hostnames(&self, n: usize) -> BTreeSet<String> {
        (0..n)
            .filter_map(|_| self.get()?["hostname"].as_str().map(String::from))
            .collect()
    }

    fn load(&self) -> Load {
        Load::start_in(self.users_in, self.tour.url("/demo/hello"))
    }

    /// The running tasks of a service: (task id, node index).
    fn tasks(&self, service: &str) -> Vec<(String, u32)> {
        let nodes = node_index();
        let ids = d(&[
            "service",
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            "desired-state=running",
            service,
        ]);
        ids.split_whitespace()
            .filter_map(|id| {
                let f = d(&["inspect", "--format", "{{.NodeID}} {{.Status.State}}", id]);
                let (node, state) = f.split_once(' ')?;
                (state == "running").then(|| (id.to_string(), nodes[node]))
            })
            .collect()
    }

    /// The addresses Consul holds for a colour, and the overlay addresses of its running tasks.
    fn consul_addresses(&self, colour: &str) -> BTreeSet<String> {
        let out = common::curl(&[
            "-fsS",
            &format!(
                "{}/v1/catalog/service/{}-{colour}",
                bed().consul,
                self.tour.service()
            ),
        ])
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["ServiceAddress"].as_str().unwrap().to_string())
            .collect()
    }

    fn task_addresses(&self, service: &str) -> BTreeSet<String> {
        self.tasks(service)
            .iter()
            .map(|(id, _)| {
                let a = d(&[
                    "inspect",
                    "--format",
                    "{{range .NetworksAttachments}}{{range .Addresses}}{{.}}{{end}}{{end}}",
                    id,
                ]);
                a.split('/').next().unwrap().to_string()
            })
            .collect()
    }
}

impl Drop for NodesTour {
    fn drop(&mut self) {
        if let Some(node) = self.stopped.take() {
            testbed_node("start", node);
        }
        common::swarm::remove_project(
            manager(),
            &self.tour.project,
            &self.tour.proxy,
            Duration::from_secs(60),
            || true,
        );
    }
}

#[test]
fn flows_converge_on_three_nodes_when_a_worker_is_lost() {
    let t = NodesTour::new();
    let blue = t.service("blue");
    let green = t.service("green");

    // 1. v1 as two tasks, one on each worker; the proxy on the manager joined to the overlay.
    t.ok("v1", &["--scale=2", "--flow=deploy", "--flow=proxy"]);
    let tasks = t.tasks(&blue);
    let on: BTreeSet<u32> = tasks.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        on,
        BTreeSet::from([1, 2]),
        "spread over both workers: {tasks:?}"
    );
    assert_eq!(t.release().as_deref(), Some("v1"));
    assert_eq!(
        t.hostnames(20).len(),
        2,
        "the proxy balances over both workers"
    );
    // status says where each task runs.
    let status = t.ok("v1", &["status", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(status.trim()).unwrap_or_else(|e| panic!("{e}: {status}"));
    let mut on: Vec<String> = v["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter_map(|i| i["node"].as_str().map(String::from))
        .collect();
    on.sort();
    assert!(
        on.len() == 2
            && on[0].ends_with(&format!("({})", node_addr(1)))
            && on[1].ends_with(&format!("({})", node_addr(2))),
        "{status}"
    );
    assert_eq!(
        d(&["inspect", "--format", "{{.Name}}", &t.tour.proxy]),
        format!("/{}", t.tour.proxy),
        "the proxy runs on the manager"
    );

    // 2. v2 beside v1, switched and v1 stopped under load: no request fails across nodes.
    let load = t.load();
    t.ok("v2", &["deploy", "--flow=proxy", "--flow=stop-old"]);
    let (ok, failed, errors) = load.finish();
    eprintln!("three nodes, switch + stop-old under load: {ok} ok, {failed} failed");
    assert_eq!(failed, 0, "{failed} of {} failed: {errors:?}", ok + failed);
    assert!(ok > 0);
    assert_eq!(t.release().as_deref(), Some("v2"));
    assert_eq!(t.tasks(&green).len(), 2);

    // 3. Worker 2 is lost mid-life under load (dockerd killed, link cut). HAProxy's checks take
    //    its task out; Swarm marks the node down and starts a replacement on worker 1.
    let load = t.load();
    std::thread::sleep(Duration::from_millis(500));
    let lost_at = Instant::now();
    t.stopped.set(Some(2));
    testbed_node("stop", 2);
    let replaced = wait_until(
        "Swarm replaces the lost task on worker 1",
        Duration::from_secs(90),
        || {
            let tasks = t.tasks(&green);
            (tasks.len() == 2 && tasks.iter().all(|(_, n)| *n == 1)).then_some(tasks)
        },
    );
    let replaced_after = lost_at.elapsed();
    let (ok, failed, errors) = load.finish();
    eprintln!(
        "worker 2 lost: Swarm replaced its task after {:.1}s; meanwhile {ok} ok, {failed} failed {errors:?}",
        replaced_after.as_secs_f64()
    );
    // Until a flow runs, Consul still points at the lost task and lacks its replacement.
    let running = t.task_addresses(&green);
    assert_ne!(t.consul_addresses("green"), running);
    // A request sent to the lost task is retried on another within about a second (`timeout
    // connect 1s`, `option redispatch 1`); only one already in flight there when the node died
    // can fail, at most one per load thread. With a 3 s connect timeout, 4 failed here.
    assert!(
        failed <= 2,
        "{failed} of {} requests failed while worker 2 was lost: {errors:?}",
        ok + failed
    );

    // status shows the drift: the lost task is stale in Consul, its replacement not registered.
    let status = t.ok("v2", &["status", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(status.trim()).unwrap_or_else(|e| panic!("{e}: {status}"));
    let consul: Vec<&str> = v["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter(|i| i["color"] == "green")
        .filter_map(|i| i["consul"].as_str())
        .collect();
    assert!(
        consul.contains(&"stale") && consul.contains(&"not registered"),
        "{status}"
    );

    // 4. Any flow follows Swarm first: `proxy reconcile` registers the replacement, drops the
    //    lost task, and the proxy balances over both tasks on worker 1 again.
    let text = t.ok("v2", &["proxy", "reconcile"]);
    eprintln!("docker flow proxy reconcile:\n{text}");
    assert!(
        text.contains("which Swarm started in place of a lost task"),
        "{text}"
    );
    assert_eq!(t.consul_addresses("green"), running, "{replaced:?}");
    let serving = Instant::now();
    wait_until(
        "both tasks on worker 1 serve",
        Duration::from_secs(10),
        || (t.hostnames(10).len() == 2).then_some(()),
    );
    eprintln!(
        "after reconcile, both tasks served within {:.1}s",
        serving.elapsed().as_secs_f64()
    );

    // 5. With worker 2 still down, scale and a whole release cycle converge under load.
    let load = t.load();
    t.ok("v2", &["scale", "+1"]);
    assert_eq!(t.tasks(&green).len(), 3);
    assert_eq!(t.tour.kv("scale").as_deref(), Some("3"));
    t.ok("v3", &["deploy", "--flow=proxy", "--flow=stop-old"]);
    let (ok, failed, errors) = load.finish();
    eprintln!("worker 2 down, scale +1 and a v3 cycle under load: {ok} ok, {failed} failed");
    assert_eq!(failed, 0, "{failed} of {} failed: {errors:?}", ok + failed);
    assert_eq!(t.release().as_deref(), Some("v3"));
    let tasks = t.tasks(&blue);
    assert_eq!(tasks.len(), 3, "v3 runs at the recorded scale: {tasks:?}");
    assert!(tasks.iter().all(|(_, n)| *n == 1), "{tasks:?}");
    assert_eq!(t.consul_addresses("blue"), t.task_addresses(&blue));
    assert_eq!(t.tour.kv("color").as_deref(), Some("blue"));

    // 5b. Scaling down under load: Swarm, not docker flow, picks the tasks that go (drained or
    //     not); a task it stops drains on SIGTERM and HAProxy retries a refused connection.
    let load = t.load();
    t.ok("v3", &["scale", "-2"]);
    let (ok, failed, errors) = load.finish();
    eprintln!("scale 3 -> 1 under load: {ok} ok, {failed} failed");
    assert_eq!(failed, 0, "{failed} of {} failed: {errors:?}", ok + failed);
    assert_eq!(t.tasks(&blue).len(), 1);
    assert_eq!(t.consul_addresses("blue"), t.task_addresses(&blue));

    // 6. Worker 2 back: Swarm does not move running tasks, and nothing breaks.
    testbed_node("start", 2);
    t.stopped.set(None);
    assert_eq!(t.release().as_deref(), Some("v3"));
    let status = t.ok("v3", &["status"]);
    assert!(status.contains(&blue), "{status}");
}

/// The proxy on another engine (the bed's main engine, by --proxy-docker-host): each task
/// publishes the routed port in host mode on its own node, Consul registers
/// `<node address>:<published port>`, and users reach the proxy on this host's loopback.
#[test]
fn the_proxy_on_another_engine_reaches_tasks_by_their_nodes_published_ports() {
    let mut t = NodesTour::new();
    t.env = vec![("FLOW_PROXY_DOCKER_HOST", bed().docker_host.clone())];
    t.users_in = None;
    let blue = t.service("blue");
    let green = t.service("green");

    t.ok("v1", &["--scale=2", "--flow=deploy", "--flow=proxy"]);
    assert_eq!(t.release().as_deref(), Some("v1"));
    assert_eq!(
        t.hostnames(20).len(),
        2,
        "the proxy balances over both workers"
    );
    // Registered at the workers' own addresses, on the ports Swarm published there.
    let registered = t.consul_addresses("blue");
    assert_eq!(
        registered,
        BTreeSet::from([node_addr(1), node_addr(2)]),
        "{:?}",
        t.tasks(&blue)
    );
    // The proxy runs on the main engine, not on the manager.
    assert!(docker_ok(&["inspect", "--format", "{{.State.Running}}", &t.tour.proxy]) == "true");
    assert!(
        !common::docker(&["-H", manager(), "inspect", &t.tour.proxy])
            .status
            .success()
    );

    let load = t.load();
    t.ok("v2", &["deploy", "--flow=proxy", "--flow=stop-old"]);
    let (ok, failed, errors) = load.finish();
    eprintln!("proxy on another engine, switch + stop-old under load: {ok} ok, {failed} failed");
    assert_eq!(failed, 0, "{failed} of {} failed: {errors:?}", ok + failed);
    assert!(ok > 0);
    assert_eq!(t.release().as_deref(), Some("v2"));
    assert_eq!(t.tasks(&green).len(), 2);
    t.ok("v2", &["scale", "+1"]);
    assert_eq!(
        t.hostnames(30).len(),
        3,
        "the third task is reached on its node's port"
    );
}
