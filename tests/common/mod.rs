//! Shared harness for the end-to-end tests: the test bed's coordinates, unique names, cleanup that
//! runs even when a test fails, and waiting on conditions with deadlines (never fixed sleeps).
//!
//! End-to-end tests need the bed (`scripts/testbed.sh up`); without it they fail with a message
//! that says so. Unit tests alone run with `cargo test --lib --bins` (see `scripts/test.sh --unit`).
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod own_consul;
pub mod swarm;
pub mod tour;

use std::{
    path::PathBuf,
    process::{Command, Output},
    sync::{
        atomic::{AtomicU32, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

/// Where the bed's parts are, from the environment `testbed.sh env` prints, falling back to the
/// file `testbed.sh up` writes.
#[derive(Debug, Clone)]
pub struct Bed {
    pub docker_host: String,
    pub consul: String,
    pub demo_image: String,
    pub haproxy_image: String,
    pub consul_image: String,
    pub engine_b_host: String,
    pub engine_b_tls_host: String,
    /// A single-node Swarm manager (the Swarm-mode flows).
    pub engine_c_host: String,
    /// The manager of the three-node Swarm (nodes in network namespaces), and its namespace.
    pub nodes_host: String,
    pub nodes_netns: String,
    /// The nodes' /24 (`a.b.c`): node i is at `a.b.c.(10 + i)`. Only named, never sent to.
    pub nodes_net: String,
    pub tls_dir: PathBuf,
}

const ENV_FILE: &str = "/var/lib/dockerflow-testbed/env";

/// The test bed, checked once per test binary: panics (never skips) when it is not up.
pub fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        let file = std::fs::read_to_string(ENV_FILE).unwrap_or_default();
        let var = |name: &str| -> String {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| {
                    file.lines().find_map(|l| {
                        l.strip_prefix("export ")?
                            .strip_prefix(name)?
                            .strip_prefix('=')
                            .map(str::to_string)
                    })
                })
                .unwrap_or_else(|| {
                    missing(&format!(
                        "{name} is not set and {ENV_FILE} does not name it"
                    ))
                })
        };
        let bed = Bed {
            docker_host: var("DOCKER_HOST"),
            consul: var("CONSUL_HTTP_ADDR"),
            demo_image: var("DOCKERFLOW_DEMO_IMAGE"),
            haproxy_image: var("DOCKERFLOW_HAPROXY_IMAGE"),
            consul_image: var("DOCKERFLOW_CONSUL_IMAGE"),
            engine_b_host: var("DOCKERFLOW_ENGINE_B_HOST"),
            engine_b_tls_host: var("DOCKERFLOW_ENGINE_B_TLS_HOST"),
            engine_c_host: var("DOCKERFLOW_ENGINE_C_HOST"),
            nodes_host: var("DOCKERFLOW_NODES_HOST"),
            nodes_netns: var("DOCKERFLOW_NODES_NETNS"),
            nodes_net: var("DOCKERFLOW_NODES_NET"),
            tls_dir: var("DOCKERFLOW_TLS_DIR").into(),
        };
        let out = docker(&[
            "-H",
            &bed.docker_host,
            "version",
            "--format",
            "{{.Server.Version}}",
        ]);
        if !out.status.success() {
            missing(&format!(
                "no engine answers at {}: {}",
                bed.docker_host,
                stderr(&out)
            ));
        }
        if curl(&["-fsS", &format!("{}/v1/status/leader", bed.consul)]).is_err() {
            missing(&format!("no Consul answers at {}", bed.consul));
        }
        bed
    })
}

fn missing(why: &str) -> ! {
    panic!("the test bed is not up ({why}): run `sudo scripts/testbed.sh up` first, or run unit tests only with `scripts/test.sh --unit`")
}

/// A name no other test (or earlier run) uses: `dftest-<what>-<pid>-<n>`.
pub fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "dftest-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs the `docker` CLI (the one on PATH) and returns its output.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI")
}

/// Runs `docker` and panics with its stderr unless it succeeds; returns trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// curl with a short timeout, for Consul calls in cleanup (which must not need a runtime).
pub fn curl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["--max-time", "5"])
        .args(args)
        .output()
        .map_err(|e| format!("run curl: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(stderr(&out))
    }
}

/// Polls `check` until it gives a value or the deadline passes; panics naming what it waited for.
pub fn wait_until<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The async form of `wait_until`, for tests running on tokio.
pub async fn wait_until_async<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Everything a test created, removed when it goes out of scope, also when the test panics.
#[derive(Default)]
pub struct Cleanup {
    /// (docker host, container name or id)
    containers: Vec<(String, String)>,
    networks: Vec<(String, String)>,
    volumes: Vec<(String, String)>,
    consul_key_prefixes: Vec<String>,
    consul_services: Vec<String>,
    paths: Vec<PathBuf>,
}

impl Cleanup {
    pub fn new() -> Cleanup {
        Cleanup::default()
    }
    pub fn container(&mut self, host: &str, name: &str) {
        self.containers.push((host.into(), name.into()));
    }
    pub fn network(&mut self, host: &str, name: &str) {
        self.networks.push((host.into(), name.into()));
    }
    pub fn volume(&mut self, host: &str, name: &str) {
        self.volumes.push((host.into(), name.into()));
    }
    pub fn consul_prefix(&mut self, prefix: &str) {
        self.consul_key_prefixes.push(prefix.into());
    }
    pub fn consul_service(&mut self, id: &str) {
        self.consul_services.push(id.into());
    }
    pub fn path(&mut self, p: impl Into<PathBuf>) {
        self.paths.push(p.into());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Best effort: report what could not be removed, never panic while unwinding.
        for (host, c) in self.containers.drain(..).rev() {
            let out = docker(&["-H", &host, "rm", "-f", "-v", &c]);
            if !out.status.success() && !stderr(&out).contains("No such container") {
                eprintln!("cleanup: docker rm {c}: {}", stderr(&out));
            }
        }
        for (host, n) in self.networks.drain(..) {
            let _ = docker(&["-H", &host, "network", "rm", &n]);
        }
        for (host, v) in self.volumes.drain(..) {
            let _ = docker(&["-H", &host, "volume", "rm", "-f", &v]);
        }
        let consul =
            std::env::var("CONSUL_HTTP_ADDR").unwrap_or_else(|_| "http://127.0.0.1:8500".into());
        for p in self.consul_key_prefixes.drain(..) {
            if let Err(e) = curl(&[
                "-fsS",
                "-X",
                "DELETE",
                &format!("{consul}/v1/kv/{p}?recurse"),
            ]) {
                eprintln!("cleanup: consul kv delete {p}: {e}");
            }
        }
        for s in self.consul_services.drain(..) {
            if let Err(e) = curl(&[
                "-fsS",
                "-X",
                "PUT",
                &format!("{consul}/v1/agent/service/deregister/{s}"),
            ]) {
                eprintln!("cleanup: consul deregister {s}: {e}");
            }
        }
        for p in self.paths.drain(..) {
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
        }
    }
}

/// The host port Docker published for `container_port/tcp` of a container.
pub fn published_port(host: &str, container: &str, container_port: u16) -> u16 {
    let out = docker_ok(&[
        "-H",
        host,
        "port",
        container,
        &format!("{container_port}/tcp"),
    ]);
    // e.g. "127.0.0.1:49153"
    out.lines()
        .find_map(|l| l.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .unwrap_or_else(|| panic!("no published port for {container}:{container_port}: {out:?}"))
}

/// GET over plain HTTP to a loopback address with a short timeout: (status, body).
pub fn http_get(url: &str) -> Option<(u16, String)> {
    http_get_in(None, url)
}

/// `http_get` from network namespace `netns` when given: a test-bed Swarm node's own loopback
/// (`nsenter --net` enters the namespace only, nothing else).
pub fn http_get_in(netns: Option<&str>, url: &str) -> Option<(u16, String)> {
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:"),
        "tests send traffic to loopback only, not {url}"
    );
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net=/run/netns/{ns}")).arg("curl");
            c
        }
        None => Command::new("curl"),
    };
    let out = cmd
        .args([
            "-sS",
            "--max-time",
            "3",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            url,
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n')?;
    Some((code.trim().parse().ok()?, body.to_string()))
}
