//! The tour harness: a compose project (tests/fixtures/tour) in a temp dir, the plugin in a temp
//! DOCKER_CONFIG, a private proxy container and port, and bounded background load through it.

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

use super::{bed, curl, docker, docker_ok, unique};

pub const PLUGIN: &str = env!("CARGO_BIN_EXE_docker-flow");
pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tour");

/// A compose project in a temp dir, the plugin in a temp DOCKER_CONFIG, a private proxy.
pub struct Tour {
    pub dir: tempfile::TempDir,
    pub config: tempfile::TempDir,
    pub project: String,
    pub proxy: String,
    pub port: u16,
}

impl Tour {
    pub fn new(with_yml: bool) -> Tour {
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

    pub fn service(&self) -> String {
        format!("{}-app", self.project)
    }

    pub fn with_yml(&self) {
        std::fs::copy(
            Path::new(FIXTURE).join("docker-flow.yml"),
            self.dir.path().join("docker-flow.yml"),
        )
        .unwrap();
    }

    /// `docker flow <args>` in the project dir, with the tour's environment plus `env`.
    pub fn flow(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.flow_with(&[], env, args)
    }

    /// The tour's environment: its config dir, the bed's engine, Consul and images, its own
    /// project, proxy and port.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let bed = bed();
        vec![
            ("DOCKER_CONFIG", self.config.path().display().to_string()),
            ("DOCKER_HOST", bed.docker_host.clone()),
            ("DEMO_IMAGE", bed.demo_image.clone()),
            ("FLOW_PROJECT", self.project.clone()),
            ("FLOW_CONSUL_ADDRESS", bed.consul.clone()),
            ("FLOW_PROXY_IMAGE", bed.haproxy_image.clone()),
            ("FLOW_PROXY_NAME", self.proxy.clone()),
            ("FLOW_PROXY_HTTP_PORT", self.port.to_string()),
            ("FLOW_PROXY_BIND_ADDRESS", "127.0.0.1".into()),
            ("FLOW_SKIP_PULL_TARGET", "true".into()),
            ("FLOW_PROXY_HOST", format!("127.0.0.1:{}", self.port)),
        ]
    }

    /// `docker <globals> flow <args>`: with docker's own global flags (`-D`, `--context`…).
    pub fn flow_with(&self, globals: &[&str], env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = Command::new("docker");
        cmd.args(globals)
            .arg("flow")
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.env())
            .env_remove("FLOW_SCALE")
            .env_remove("COMPOSE_FILE");
        cmd.envs(env.iter().copied());
        cmd.output().expect("run docker flow")
    }

    pub fn ok(&self, env: &[(&str, &str)], args: &[&str]) -> String {
        let out = self.flow(env, args);
        let text = both(&out);
        assert!(
            out.status.success(),
            "docker flow {args:?} failed ({}):\n{text}",
            out.status
        );
        text
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// (status, body, X-Release header) of a GET through the proxy, with extra headers.
    pub fn get(&self, path: &str, headers: &[&str]) -> Option<(u16, String, String)> {
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

    pub fn release(&self) -> Option<String> {
        self.get("/demo/hello", &[])
            .filter(|(s, _, _)| *s == 200)
            .map(|(_, _, r)| r)
    }

    /// Distinct demo hostnames (one per instance) users reach through the proxy in `n` requests.
    pub fn hostnames(&self, n: usize) -> std::collections::HashSet<String> {
        (0..n)
            .filter_map(|_| self.get("/demo/release", &[]).map(|(_, b, _)| b))
            .filter_map(|b| {
                serde_json::from_str::<serde_json::Value>(&b).ok()?["hostname"]
                    .as_str()
                    .map(String::from)
            })
            .collect()
    }

    pub fn kv(&self, key: &str) -> Option<String> {
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
    pub fn containers(&self) -> Vec<(String, bool)> {
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

    pub fn running(&self, prefix: &str) -> usize {
        let full = format!("{}-{prefix}", self.project);
        self.containers()
            .iter()
            .filter(|(n, r)| *r && n.starts_with(&full))
            .count()
    }

    pub fn stopped(&self, prefix: &str) -> usize {
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

pub fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Requests through the proxy in the background while a flow runs: bounded in count and time.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(url: String) -> Load {
        Load::start_in(None, url)
    }

    /// Load from network namespace `netns` when given (a test-bed Swarm node's loopback).
    pub fn start_in(netns: Option<&str>, url: String) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let threads = (0..2)
            .map(|_| {
                let (stop, ok, failed, errors, url, netns) = (
                    stop.clone(),
                    ok.clone(),
                    failed.clone(),
                    errors.clone(),
                    url.clone(),
                    netns.map(String::from),
                );
                thread::spawn(move || {
                    let start = Instant::now();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed)
                        && n < 20_000
                        && start.elapsed() < Duration::from_secs(120)
                    {
                        n += 1;
                        match super::http_get_in(netns.as_deref(), &url) {
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

    pub fn finish(self) -> (u64, u64, Vec<String>) {
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
