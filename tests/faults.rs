//! The fault-injection matrix (issue 8): for each fault, bounded load through the proxy on
//! 127.0.0.1 keeps getting answers from a healthy release (0 failed requests), and the next plain
//! run of the same command converges (live colour in Consul, instances running and passing, the
//! proxy routing to the right colour, nothing half-done left).
//!
//! One #[test] runs every cell (a few at a time, each on its own project, proxy and port), then
//! prints the matrix (visible with --nocapture) and fails if any cell did not converge.
//! Cells that stop or freeze Consul run their own Consul agent (never the shared one).
//! `FAULTS_ONLY=a,b` runs the cells whose fault contains one of those words.

mod common;

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, ChildStdout, Command, Output, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use common::tour::{both, free_port, Load, Tour, PLUGIN};
use common::{bed, curl, docker_ok, wait_until};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/faults");
const CONSUL_BIN: &str = "/var/lib/dockerflow-testbed/bin/consul";
/// Cells run at once: they mostly wait (health checks, a dead run's lock), but each runs load.
const PARALLEL: usize = 4;
/// A killed run's lock expires with its session (Consul: up to twice the 15 s TTL).
const LOCK_WAIT: &str = "--lock-timeout=60s";

// ---------------------------------------------------------------------------------------------
// The matrix

struct Row {
    fault: &'static str,
    flow: &'static str,
    converged: bool,
    ok: u64,
    failed: u64,
    note: String,
}

type CellFn = fn(&mut Vec<Row>);

struct Cell {
    fault: &'static str,
    flow: &'static str,
    run: CellFn,
}

/// The Consul agent every cell uses unless it brings its own (to stop or crash it): this
/// suite's own, so that no other test's state in the shared one (a key written by hand to test
/// bad input) reaches these cells' proxy models.
static CONSUL: OnceLock<String> = OnceLock::new();

#[test]
fn fault_matrix() {
    bed();
    let shared = OwnConsul::start();
    CONSUL.set(shared.addr.clone()).unwrap();
    let cells = cells();
    let only = std::env::var("FAULTS_ONLY").ok();
    let cells: Vec<&Cell> = cells
        .iter()
        .filter(|c| {
            only.as_ref()
                .is_none_or(|o| o.split(',').any(|o| c.fault.contains(o)))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<Row>)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(cell) = cells.get(i) else { break };
                let t = Instant::now();
                let mut rows = Vec::new();
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    (cell.run)(&mut rows)
                }));
                if let Err(p) = outcome {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into());
                    rows.push(Row {
                        fault: cell.fault,
                        flow: cell.flow,
                        converged: false,
                        ok: 0,
                        failed: 0,
                        note: format!("FAILED: {}", msg.lines().next().unwrap_or("")),
                    });
                    eprintln!("cell {} x {} failed:\n{msg}", cell.fault, cell.flow);
                }
                eprintln!(
                    "cell {} x {} done in {:.0?}",
                    cell.fault,
                    cell.flow,
                    t.elapsed()
                );
                results.lock().unwrap().push((i, rows));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = results.into_iter().flat_map(|(_, r)| r).collect();
    eprintln!(
        "\nfault matrix ({} cells, {:.0?}):\n{}",
        rows.len(),
        started.elapsed(),
        table(&rows)
    );
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| !r.converged || r.failed > 0)
        .map(|r| format!("{} x {}: {}", r.fault, r.flow, r.note))
        .collect();
    assert!(bad.is_empty(), "cells that failed:\n{}", bad.join("\n"));
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "| {:<44} | {:<9} | {:<10} | {:>7} | {:>6} | note\n|{}|{}|{}|{}|{}|------\n",
        "fault",
        "flow",
        "converged",
        "req ok",
        "failed",
        "-".repeat(46),
        "-".repeat(11),
        "-".repeat(12),
        "-".repeat(9),
        "-".repeat(8),
    );
    for r in rows {
        out.push_str(&format!(
            "| {:<44} | {:<9} | {:<10} | {:>7} | {:>6} | {}\n",
            r.fault,
            r.flow,
            if r.converged { "yes" } else { "NO" },
            r.ok,
            r.failed,
            r.note
        ));
    }
    out
}

fn cells() -> Vec<Cell> {
    let c = |fault, flow, run| Cell { fault, flow, run };
    vec![
        // Slow cells first (they wait for a dead run's lock to expire).
        c("SIGKILL after pull", "deploy", kill_deploy_after_pull),
        c("SIGKILL after create", "deploy", kill_deploy_after_create),
        c("SIGKILL mid health wait", "deploy", kill_deploy_mid_health),
        c(
            "SIGKILL mid switch (proxy on, Consul not)",
            "proxy",
            kill_proxy_mid_switch,
        ),
        c("SIGKILL mid stop", "stop-old", kill_stop_old_mid_stop),
        c(
            "SIGKILL +2 mid health wait",
            "scale",
            kill_scale_up_mid_health,
        ),
        c("SIGKILL -1 mid drain", "scale", kill_scale_down_mid_drain),
        c(
            "SIGKILL mid health wait",
            "rollback",
            kill_rollback_mid_health,
        ),
        c(
            "SIGKILL after switch, mid stop",
            "rollback",
            kill_rollback_after_switch,
        ),
        c(
            "Consul stopped before, restarted",
            "deploy",
            consul_stopped_before,
        ),
        c(
            "Consul stopped during, restarted",
            "deploy",
            consul_stopped_during,
        ),
        c("engine unreachable", "deploy", engine_unreachable),
        c("proxy container killed", "deploy", proxy_killed),
        c("proxy container stopped", "scale", proxy_stopped),
        c("proxy container removed", "deploy", proxy_removed),
        c("release never healthy", "deploy", never_healthy),
        c(
            "release crashes after healthy",
            "proxy",
            crashes_after_healthy,
        ),
        c(
            "old release slow to stop (ignores SIGTERM)",
            "stop-old",
            slow_to_stop,
        ),
        c("two deploys at once", "deploy", two_deploys),
        c("deploy + scale at once", "deploy", deploy_and_scale),
        c("proxy config write fails", "proxy", config_write_fails),
    ]
}

// ---------------------------------------------------------------------------------------------
// A site: a tour project against one Consul (the bed's, or a private agent)

struct Site {
    tour: Tour,
    consul: String,
}

impl Site {
    fn new(consul: Option<&str>) -> Site {
        let tour = Tour::new(true);
        std::fs::copy(
            Path::new(FIXTURE).join("compose.yaml"),
            tour.dir.path().join("compose.yaml"),
        )
        .unwrap();
        Site {
            tour,
            consul: consul.map_or_else(|| CONSUL.get().unwrap().clone(), str::to_string),
        }
    }

    fn service(&self) -> String {
        self.tour.service()
    }

    fn env<'a>(&'a self, env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut v = vec![("FLOW_CONSUL_ADDRESS", self.consul.as_str())];
        v.extend_from_slice(env);
        v
    }

    fn flow(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.tour.flow(&self.env(env), args)
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

    /// The plugin binary itself (so that its PID is the one to kill), as the docker CLI runs
    /// it, with JSON events on stdout.
    fn spawn(&self, env: &[(&str, &str)], args: &[&str]) -> Running {
        let t = &self.tour;
        let mut cmd = Command::new(PLUGIN);
        cmd.args(args)
            .current_dir(t.dir.path())
            .envs(t.env())
            .env("FLOW_CONSUL_ADDRESS", &self.consul)
            .env("FLOW_FORMAT", "json")
            .env_remove("FLOW_SCALE")
            .env_remove("COMPOSE_FILE")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run the plugin");
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut err = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            s
        });
        Running {
            child,
            out,
            seen: String::new(),
            err: Some(err),
        }
    }

    fn kv(&self, key: &str) -> Option<String> {
        curl(&[
            "-fsS",
            &format!(
                "{}/v1/kv/docker-flow/{}/{key}?raw",
                self.consul,
                self.service()
            ),
        ])
        .ok()
    }

    /// Instances of `<service>-<colour>` in Consul's catalog: (registered, passing).
    fn catalog(&self, color: &str) -> (usize, usize) {
        let url = format!(
            "{}/v1/health/service/{}-{color}",
            self.consul,
            self.service()
        );
        let v: serde_json::Value = curl(&["-fsS", &url])
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let list = v.as_array().cloned().unwrap_or_default();
        let passing = list
            .iter()
            .filter(|e| {
                e["Checks"]
                    .as_array()
                    .is_some_and(|c| c.iter().all(|c| c["Status"] == "passing"))
            })
            .count();
        (list.len(), passing)
    }

    fn running(&self, color: &str) -> usize {
        self.tour.running(&format!("app-{color}-"))
    }

    fn stopped(&self, color: &str) -> usize {
        self.tour.stopped(&format!("app-{color}-"))
    }

    /// Containers of a colour whose Docker healthcheck passes.
    fn healthy(&self, color: &str) -> usize {
        let prefix = format!("{}-app-{color}-", self.tour.project);
        docker_ok(&[
            "ps",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.tour.project),
            "--filter",
            "health=healthy",
            "--format",
            "{{.Names}}",
        ])
        .lines()
        .filter(|n| n.starts_with(&prefix))
        .count()
    }

    fn release(&self) -> Option<String> {
        self.tour.release()
    }

    fn preview(&self, color: &str) -> Option<String> {
        self.tour
            .get("/demo/hello", &[&format!("X-Flow-Color: {color}")])
            .filter(|(s, _, _)| *s == 200)
            .map(|(_, _, r)| r)
    }

    /// Distinct instances answering through the proxy (over `n` requests).
    fn hosts(&self, n: usize) -> usize {
        self.tour.hostnames(n).len()
    }

    /// The first release, v1 on blue, with `n` instances, behind the proxy.
    fn live_v1(&self, n: u32, env: &[(&str, &str)]) {
        let scale = format!("--scale={n}");
        let mut e = vec![("RELEASE", "v1")];
        e.extend_from_slice(env);
        self.ok(&e, &["deploy", &scale, "--flow=proxy"]);
        assert_eq!(self.release().as_deref(), Some("v1"));
    }

    /// The converged end state: `live` in Consul with `n` running, passing instances that the
    /// proxy routes to (answering `release`), `candidate` likewise, the other colour out of the
    /// catalog and not running, no lock left.
    fn assert_converged(
        &self,
        live: &str,
        n: usize,
        release: &str,
        candidate: Option<(&str, &str)>,
    ) {
        let other = if live == "blue" { "green" } else { "blue" };
        assert_eq!(self.kv("color").as_deref(), Some(live), "live colour");
        assert_eq!(
            self.kv("candidate").as_deref(),
            candidate.map(|c| c.0),
            "candidate"
        );
        assert_eq!(self.kv("scale"), Some(n.to_string()), "scale in Consul");
        assert_eq!(self.running(live), n, "{:?}", self.tour.containers());
        wait_until(
            &format!("{n} passing instance(s) of {live}"),
            Duration::from_secs(15),
            || (self.catalog(live) == (n, n)).then_some(()),
        );
        wait_until(
            &format!("{n} instance(s) of {live} healthy in Docker"),
            Duration::from_secs(15),
            || (self.healthy(live) == n).then_some(()),
        );
        assert_eq!(self.release().as_deref(), Some(release), "users' release");
        match candidate {
            Some((color, rel)) => {
                let running = self.running(color);
                assert!(running > 0, "{:?}", self.tour.containers());
                assert_eq!(self.catalog(color), (running, running), "candidate catalog");
                assert_eq!(self.preview(color).as_deref(), Some(rel), "preview");
            }
            None => {
                assert_eq!(self.running(other), 0, "{:?}", self.tour.containers());
                assert_eq!(self.catalog(other).0, 0, "{other} left in the catalog");
            }
        }
        assert_eq!(self.kv(".lock"), None, "a lock was left");
    }
}

/// A plugin run in the background, read event by event.
struct Running {
    child: Child,
    out: BufReader<ChildStdout>,
    seen: String,
    err: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    /// Reads events until one whose message starts with `prefix`; panics if the run ends first.
    fn until(&mut self, prefix: &str) {
        loop {
            let mut line = String::new();
            if self.out.read_line(&mut line).unwrap_or(0) == 0 {
                let err = self
                    .err
                    .take()
                    .map(|h| h.join().unwrap())
                    .unwrap_or_default();
                panic!(
                    "the run ended before the step {prefix:?}:\n{}{err}",
                    self.seen
                );
            }
            self.seen.push_str(&line);
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["message"].as_str().is_some_and(|m| m.starts_with(prefix)) {
                return;
            }
        }
    }

    /// SIGKILL, as a dying CI runner would.
    fn kill(mut self) -> String {
        self.child.kill().expect("SIGKILL the plugin");
        let _ = self.child.wait();
        self.seen.clone()
    }

    /// Waits for the run to end: (exit code, everything it printed).
    fn finish(mut self) -> (Option<i32>, String) {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.out, &mut rest);
        let status = self.child.wait().unwrap();
        let err = self
            .err
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        (status.code(), format!("{}{rest}{err}", self.seen))
    }
}

/// A Consul agent of this test's own (a one-server datacenter with its data on disk, so that a
/// restart keeps the state), on free loopback ports; ended by its PID.
struct OwnConsul {
    dir: tempfile::TempDir,
    ports: [u16; 4],
    child: Option<Child>,
    addr: String,
}

impl OwnConsul {
    fn start() -> OwnConsul {
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let mut c = OwnConsul {
            dir: tempfile::tempdir().unwrap(),
            ports,
            child: None,
            addr: format!("http://127.0.0.1:{}", ports[0]),
        };
        c.launch();
        c
    }

    fn launch(&mut self) {
        let [http, lan, wan, server] = self.ports;
        let log = std::fs::File::create(self.dir.path().join("consul.log")).unwrap();
        let child = Command::new(CONSUL_BIN)
            .args(["agent", "-server", "-bootstrap-expect=1"])
            .arg(format!(
                "-data-dir={}",
                self.dir.path().join("data").display()
            ))
            .args([
                "-bind=127.0.0.1",
                "-advertise=127.0.0.1",
                "-client=127.0.0.1",
            ])
            .arg(format!("-http-port={http}"))
            .arg(format!("-serf-lan-port={lan}"))
            .arg(format!("-serf-wan-port={wan}"))
            .arg(format!("-server-port={server}"))
            .args(["-dns-port=-1", "-grpc-port=-1"])
            .arg(format!("-node=dftest-faults-{http}"))
            // Elections in a second instead of five: a restart is ready sooner.
            .args(["-hcl", "performance { raft_multiplier = 1 }"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start consul");
        self.child = Some(child);
        // Ready: a leader, the node's own health passing (a lock session is created against
        // it), and caught up: a restarted leader answers reads before it has applied its log,
        // a write returns once all before it is.
        let leader = format!("{}/v1/status/leader", self.addr);
        let node = format!("{}/v1/health/node/dftest-faults-{http}", self.addr);
        let ready = format!("{}/v1/kv/dftest-faults-ready", self.addr);
        wait_until("our Consul to be ready", Duration::from_secs(30), || {
            curl(&["-fsS", &leader]).ok().filter(|l| l.contains(':'))?;
            let checks: serde_json::Value =
                serde_json::from_str(&curl(&["-fsS", &node]).ok()?).ok()?;
            let checks = checks.as_array()?;
            if checks.is_empty() || checks.iter().any(|c| c["Status"] != "passing") {
                return None;
            }
            curl(&["-fsS", "-X", "PUT", "--data", "1", &ready])
                .ok()
                .filter(|r| r.trim() == "true")
                .map(|_| ())
        });
    }

    /// Stops the agent (SIGTERM, by PID) and waits for it to exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            let start = Instant::now();
            while child.try_wait().unwrap().is_none() {
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// SIGKILL (also while frozen): what it had not committed is lost, as in a crash.
    fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("consul runs").id()
    }
}

impl Drop for OwnConsul {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends a signal to a process this test started, by PID.
fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {pid}");
}

fn row(rows: &mut Vec<Row>, fault: &'static str, flow: &'static str, load: Load, note: &str) {
    let (ok, failed, errors) = load.finish();
    assert!(ok > 0, "the load never got an answer");
    let note = if failed > 0 {
        format!("{note}; errors: {:?}", &errors[..errors.len().min(3)])
    } else {
        note.to_string()
    };
    rows.push(Row {
        fault,
        flow,
        converged: true,
        ok,
        failed,
        note,
    });
}

fn load(site: &Site) -> Load {
    Load::start(site.tour.url("/demo/hello"))
}

// ---------------------------------------------------------------------------------------------
// SIGKILL at each step, then the same command again

/// v1 live; `deploy` of v2 killed at the step `prefix`; the rerun records green as candidate.
fn kill_deploy_at(rows: &mut Vec<Row>, fault: &'static str, prefix: &str, env: &[(&str, &str)]) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    let load = load(&site);
    let mut e = vec![("RELEASE", "v2")];
    e.extend_from_slice(env);
    let mut run = site.spawn(&e, &["deploy"]);
    run.until(prefix);
    run.kill();
    assert_eq!(site.release().as_deref(), Some("v1"));
    assert_eq!(
        site.kv("candidate"),
        None,
        "a killed deploy recorded nothing"
    );
    let left = site.running("green") + site.stopped("green");
    site.ok(&e, &["deploy", LOCK_WAIT]);
    site.assert_converged("blue", 1, "v1", Some(("green", "v2")));
    assert_eq!(site.running("green") + site.stopped("green"), 1);
    row(
        rows,
        fault,
        "deploy",
        load,
        &format!("killed at {prefix:?}; {left} green container(s) left, replaced by the rerun"),
    );
}

fn kill_deploy_after_pull(rows: &mut Vec<Row>) {
    // No registry is reachable here, so the pull itself is skipped (--skip-pull-target): the
    // kill lands at the first step after the pull point (the side target).
    kill_deploy_at(rows, "SIGKILL after pull", "side target", &[]);
}

fn kill_deploy_after_create(rows: &mut Vec<Row>) {
    kill_deploy_at(rows, "SIGKILL after create", "created ", &[]);
}

fn kill_deploy_mid_health(rows: &mut Vec<Row>) {
    kill_deploy_at(
        rows,
        "SIGKILL mid health wait",
        "waiting until",
        &[("START_DELAY_MS", "3000")],
    );
}

/// The switch killed after HAProxy routes to green but before Consul records it: our own
/// Consul is frozen (SIGSTOP) when the proxy step starts, so the run blocks on its Consul write;
/// then the frozen Consul is SIGKILLed too (else it would commit the write it had received) and
/// started again.
fn kill_proxy_mid_switch(rows: &mut Vec<Row>) {
    let mut consul = OwnConsul::start();
    let site = Site::new(Some(&consul.addr));
    site.live_v1(1, &[]);
    site.ok(&[("RELEASE", "v2")], &["deploy"]);
    let load = load(&site);
    let mut run = site.spawn(&[], &["proxy"]);
    run.until("ensuring the proxy");
    signal(consul.pid(), "STOP");
    wait_until(
        "the proxy to route users to v2",
        Duration::from_secs(20),
        || (site.release().as_deref() == Some("v2")).then_some(()),
    );
    run.kill();
    consul.crash();
    consul.launch();
    assert_eq!(
        site.kv("color").as_deref(),
        Some("blue"),
        "Consul not yet switched"
    );
    site.ok(&[], &["proxy", LOCK_WAIT]);
    site.ok(&[], &["stop-old"]);
    site.assert_converged("green", 1, "v2", None);
    consul.stop();
    row(
        rows,
        "SIGKILL mid switch (proxy on, Consul not)",
        "proxy",
        load,
        "killed with HAProxy on green and Consul still blue; the rerun wrote Consul",
    );
}

fn kill_stop_old_mid_stop(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    // Blue keeps serving 2 s after SIGTERM, so the kill lands while it stops.
    site.live_v1(2, &[("STOP_DELAY_MS", "2000")]);
    site.ok(&[("RELEASE", "v2")], &["deploy", "--flow=proxy"]);
    let load = load(&site);
    let mut run = site.spawn(&[("RELEASE", "v2")], &["stop-old"]);
    run.until("stopping ");
    run.kill();
    site.ok(&[("RELEASE", "v2")], &["stop-old", LOCK_WAIT]);
    site.assert_converged("green", 2, "v2", None);
    assert_eq!(site.stopped("blue"), 2, "blue is kept for rollback");
    row(
        rows,
        "SIGKILL mid stop",
        "stop-old",
        load,
        "killed while the first blue instance stopped",
    );
}

fn kill_scale_up_mid_health(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    let load = load(&site);
    let mut run = site.spawn(&[("RELEASE", "v1")], &["scale", "+2"]);
    run.until("waiting until");
    run.kill();
    let half = site.running("blue");
    site.ok(&[("RELEASE", "v1")], &["scale", "+2", LOCK_WAIT]);
    site.assert_converged("blue", 3, "v1", None);
    assert_eq!(site.hosts(30), 3, "the proxy balances over all three");
    row(
        rows,
        "SIGKILL +2 mid health wait",
        "scale",
        load,
        &format!("{half} running when killed; the rerun of +2 ends at 3"),
    );
}

fn kill_scale_down_mid_drain(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    site.live_v1(3, &[]);
    let load = load(&site);
    let mut run = site.spawn(&[("RELEASE", "v1")], &["scale", "-1"]);
    run.until("draining");
    run.kill();
    site.ok(&[("RELEASE", "v1")], &["scale", "-1", LOCK_WAIT]);
    site.assert_converged("blue", 2, "v1", None);
    assert_eq!(site.hosts(30), 2);
    row(
        rows,
        "SIGKILL -1 mid drain",
        "scale",
        load,
        "the rerun of -1 ends at 2",
    );
}

/// v1 (blue, stopped) and v2 (green, live); a rollback killed at `prefix`, then rerun.
fn kill_rollback_at(rows: &mut Vec<Row>, fault: &'static str, prefix: &str) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    site.ok(
        &[("RELEASE", "v2")],
        &["deploy", "--flow=proxy", "--flow=stop-old"],
    );
    let load = load(&site);
    let mut run = site.spawn(&[], &["rollback"]);
    run.until(prefix);
    run.kill();
    let between = site.kv("color").unwrap_or_default();
    site.ok(&[], &["rollback", LOCK_WAIT]);
    site.assert_converged("blue", 1, "v1", None);
    assert_eq!(site.stopped("green"), 1, "green is kept");
    row(
        rows,
        fault,
        "rollback",
        load,
        &format!("killed at {prefix:?} (Consul said {between}); the rerun ends on blue"),
    );
}

fn kill_rollback_mid_health(rows: &mut Vec<Row>) {
    kill_rollback_at(rows, "SIGKILL mid health wait", "waiting until");
}

fn kill_rollback_after_switch(rows: &mut Vec<Row>) {
    kill_rollback_at(rows, "SIGKILL after switch, mid stop", "draining green");
}

// ---------------------------------------------------------------------------------------------
// Consul and the engine unreachable

fn consul_stopped_before(rows: &mut Vec<Row>) {
    let mut consul = OwnConsul::start();
    let site = Site::new(Some(&consul.addr));
    site.live_v1(1, &[]);
    let load = load(&site);
    let before = site.tour.containers();
    consul.stop();
    let out = site.flow(&[("RELEASE", "v2")], &["deploy"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&consul.addr.replace("http://", "")) && text.contains("unreachable"),
        "a clear error naming Consul: {text}"
    );
    assert_eq!(site.tour.containers(), before, "nothing changed");
    consul.restart();
    assert_eq!(site.kv("color").as_deref(), Some("blue"));
    site.ok(&[("RELEASE", "v2")], &["deploy"]);
    site.assert_converged("blue", 1, "v1", Some(("green", "v2")));
    site.ok(&[("RELEASE", "v2")], &["proxy", "--flow=stop-old"]);
    site.assert_converged("green", 1, "v2", None);
    consul.stop();
    row(
        rows,
        "Consul stopped before, restarted",
        "deploy",
        load,
        &format!("error: {}", first_error(&text)),
    );
}

fn consul_stopped_during(rows: &mut Vec<Row>) {
    let mut consul = OwnConsul::start();
    let site = Site::new(Some(&consul.addr));
    site.live_v1(1, &[]);
    let load = load(&site);
    let e = [("RELEASE", "v2"), ("START_DELAY_MS", "3000")];
    let mut run = site.spawn(&e, &["deploy"]);
    run.until("waiting until");
    consul.stop();
    let (code, text) = run.finish();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("unreachable"), "{text}");
    assert_eq!(site.release().as_deref(), Some("v1"));
    let left = site.running("green");
    consul.restart();
    assert_eq!(site.kv("color").as_deref(), Some("blue"));
    assert_eq!(
        site.kv("candidate"),
        None,
        "nothing recorded while Consul was down"
    );
    site.ok(&e, &["deploy", LOCK_WAIT]);
    site.assert_converged("blue", 1, "v1", Some(("green", "v2")));
    consul.stop();
    row(
        rows,
        "Consul stopped during, restarted",
        "deploy",
        load,
        &format!(
            "error: {}; {left} green left running while down",
            first_error(&text)
        ),
    );
}

fn engine_unreachable(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    let load = load(&site);
    let before = (
        site.kv("color"),
        site.kv("releases"),
        site.tour.containers(),
    );
    let dead = format!("unix://{}/no-engine.sock", site.tour.dir.path().display());
    let out = site.flow(&[("RELEASE", "v2"), ("DOCKER_HOST", &dead)], &["deploy"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no-engine.sock"),
        "the error names the engine: {text}"
    );
    let after = (
        site.kv("color"),
        site.kv("releases"),
        site.tour.containers(),
    );
    assert_eq!(before, after, "nothing changed");
    site.ok(&[("RELEASE", "v2")], &["deploy"]);
    site.assert_converged("blue", 1, "v1", Some(("green", "v2")));
    row(
        rows,
        "engine unreachable",
        "deploy",
        load,
        &format!("error: {}", first_error(&text)),
    );
}

fn first_error(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains("docker flow:"))
        .unwrap_or_else(|| text.lines().last().unwrap_or(""));
    line.chars().take(110).collect()
}

// ---------------------------------------------------------------------------------------------
// The proxy container killed, stopped or removed during a flow

/// `act` breaks the proxy while `flow` waits for new instances; the load is counted until then
/// and again after the next flow restored the proxy (the outage in between is the fault's own:
/// its failures are reported, not asserted). A second project shares the proxy (route
/// `/health`): the restored proxy must serve it too, though the flow that restores it is not
/// that project's.
fn proxy_broken(rows: &mut Vec<Row>, fault: &'static str, flow: &'static str, act: &[&str]) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    let mut other = Site::new(None);
    other.tour.proxy = site.tour.proxy.clone();
    other.tour.port = site.tour.port;
    other.ok(
        &[("RELEASE", "n1"), ("FLOW_SERVICE_PATH", "/health")],
        &["deploy", "--flow=proxy"],
    );
    let neighbour = || {
        site.tour
            .get("/health", &[])
            .filter(|(s, _, r)| *s == 200 && r == "n1")
            .map(|_| ())
    };
    neighbour().expect("the neighbour's route answers");
    let before = load(&site);
    let (env, args): (Vec<(&str, &str)>, Vec<&str>) = if flow == "scale" {
        (vec![("RELEASE", "v1")], vec!["scale", "+1"])
    } else {
        (
            vec![("RELEASE", "v2"), ("START_DELAY_MS", "2000")],
            vec!["deploy"],
        )
    };
    let mut run = site.spawn(&env, &args);
    run.until("waiting until");
    let (ok_a, failed_a, errors_a) = before.finish();
    let outage = load(&site);
    let mut cmd = act.to_vec();
    cmd.push(&site.tour.proxy);
    docker_ok(&cmd);
    let (code, text) = run.finish();
    assert_eq!(code, Some(0), "the flow finishes without the proxy: {text}");
    // The next flow brings the proxy back with every route from Consul.
    site.ok(&env, &["proxy"]);
    let (outage_ok, outage_failed, _) = outage.finish();
    let after = load(&site);
    wait_until(
        "the restored proxy to serve the neighbour's route",
        Duration::from_secs(10),
        neighbour,
    );
    if flow == "scale" {
        site.ok(&env, &["proxy"]);
        site.assert_converged("blue", 2, "v1", None);
        assert_eq!(site.hosts(30), 2);
    } else {
        site.ok(&env, &["stop-old"]);
        site.assert_converged("green", 1, "v2", None);
    }
    let (ok_b, failed_b, errors_b) = after.finish();
    let failed = failed_a + failed_b;
    rows.push(Row {
        fault,
        flow,
        converged: true,
        ok: ok_a + ok_b,
        failed,
        note: if failed > 0 {
            format!("errors: {errors_a:?} {errors_b:?}")
        } else {
            format!(
                "restored with the neighbour's route by the next `proxy`; during the outage {outage_failed} of {} failed (not counted)",
                outage_ok + outage_failed
            )
        },
    });
}

fn proxy_killed(rows: &mut Vec<Row>) {
    proxy_broken(rows, "proxy container killed", "deploy", &["kill"]);
}

fn proxy_stopped(rows: &mut Vec<Row>) {
    proxy_broken(rows, "proxy container stopped", "scale", &["stop"]);
}

fn proxy_removed(rows: &mut Vec<Row>) {
    proxy_broken(rows, "proxy container removed", "deploy", &["rm", "-f"]);
}

// ---------------------------------------------------------------------------------------------
// Bad releases

fn never_healthy(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    let load = load(&site);
    let before = (site.kv("color"), site.kv("releases"));
    let bad = [("RELEASE", "bad"), ("UNHEALTHY", "1")];
    for _ in 0..2 {
        let out = site.flow(&bad, &["deploy", "--health-timeout=20s"]);
        let text = both(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("was removed"), "{text}");
        assert_eq!((site.kv("color"), site.kv("releases")), before);
        site.assert_converged("blue", 1, "v1", None);
    }
    site.ok(&[("RELEASE", "v2")], &["deploy"]);
    site.assert_converged("blue", 1, "v1", Some(("green", "v2")));
    row(
        rows,
        "release never healthy",
        "deploy",
        load,
        "refused twice, nothing changed; a good release deploys",
    );
}

fn crashes_after_healthy(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    let load = load(&site);
    let crash = [("RELEASE", "v2"), ("EXIT_AFTER_MS", "6000")];
    site.ok(&crash, &["deploy"]);
    assert_eq!(site.kv("candidate").as_deref(), Some("green"));
    wait_until("green to crash", Duration::from_secs(20), || {
        (site.running("green") == 0).then_some(())
    });
    let out = site.flow(&crash, &["proxy"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not healthy"), "{text}");
    assert_eq!(site.kv("color").as_deref(), Some("blue"));
    assert_eq!(site.release().as_deref(), Some("v1"));
    site.ok(&[("RELEASE", "v3")], &["deploy"]);
    site.ok(&[("RELEASE", "v3")], &["proxy", "--flow=stop-old"]);
    site.assert_converged("green", 1, "v3", None);
    row(
        rows,
        "release crashes after healthy",
        "proxy",
        load,
        "switch refused, users on v1; the next release switches",
    );
}

fn slow_to_stop(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    // v1 ignores SIGTERM: the engine kills it after the 4 s grace period.
    site.live_v1(1, &[("STOP_SIGNAL", "SIGUSR1"), ("STOP_GRACE", "4s")]);
    site.ok(&[("RELEASE", "v2")], &["deploy", "--flow=proxy"]);
    let load = load(&site);
    let t = Instant::now();
    site.ok(&[("RELEASE", "v2")], &["stop-old"]);
    let took = t.elapsed();
    assert!(took >= Duration::from_secs(3), "stop-old took {took:?}");
    site.assert_converged("green", 1, "v2", None);
    assert_eq!(site.stopped("blue"), 1);
    row(
        rows,
        "old release slow to stop (ignores SIGTERM)",
        "stop-old",
        load,
        &format!("stop-old took {took:.1?} (4 s grace)"),
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency

fn two_deploys(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    let load = load(&site);
    let a = site.spawn(&[("RELEASE", "v2")], &["deploy", LOCK_WAIT]);
    let b = site.spawn(&[("RELEASE", "v3")], &["deploy", LOCK_WAIT]);
    let (ca, ta) = a.finish();
    let (cb, tb) = b.finish();
    assert_eq!((ca, cb), (Some(0), Some(0)), "{ta}\n{tb}");
    let preview = site.preview("green").unwrap_or_default();
    assert!(preview == "v2" || preview == "v3", "{preview}");
    site.assert_converged("blue", 1, "v1", Some(("green", &preview)));
    assert_eq!(site.running("green") + site.stopped("green"), 1);
    row(
        rows,
        "two deploys at once",
        "deploy",
        load,
        &format!("one waited for the other's lock; green ends as {preview}"),
    );
}

fn deploy_and_scale(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    let load = load(&site);
    let d = site.spawn(
        &[("RELEASE", "v2"), ("START_DELAY_MS", "2000")],
        &["deploy", LOCK_WAIT],
    );
    let s = site.spawn(&[("RELEASE", "v1")], &["scale", "+1", LOCK_WAIT]);
    let (cd, td) = d.finish();
    let (cs, ts) = s.finish();
    assert_eq!((cd, cs), (Some(0), Some(0)), "{td}\n{ts}");
    site.assert_converged("blue", 2, "v1", Some(("green", "v2")));
    assert_eq!(site.hosts(30), 2);
    row(
        rows,
        "deploy + scale at once",
        "deploy",
        load,
        &format!("green got {} instance(s)", site.running("green")),
    );
}

// ---------------------------------------------------------------------------------------------
// The proxy's config cannot be written

/// The proxy's config directory on a tiny host tmpfs: filled (disk full), then remounted
/// read-only. The switch fails with an error and the old config keeps serving; once the
/// directory is writable again the same command converges.
fn config_write_fails(rows: &mut Vec<Row>) {
    let site = Site::new(None);
    site.live_v1(1, &[]);
    site.ok(&[("RELEASE", "v2")], &["deploy"]);
    let mnt = tempfile::tempdir().unwrap();
    let dir = mnt.path().display().to_string();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", &dir])
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted, "mount a tmpfs at {dir} (needs root)");
    let _umount = Unmount(dir.clone());
    // The proxy again, as docker flow creates it, but with its config directory on the tmpfs.
    let proxy = &site.tour.proxy;
    docker_ok(&["cp", &format!("{proxy}:/usr/local/etc/haproxy/."), &dir]);
    let network = docker_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        proxy,
    ]);
    let image = docker_ok(&["inspect", "-f", "{{.Config.Image}}", proxy]);
    docker_ok(&["rm", "-f", proxy]);
    let mut args = vec![
        "create".to_string(),
        "--name".into(),
        proxy.clone(),
        "--label".into(),
        "com.docker.flow.proxy=true".into(),
        "--restart".into(),
        "unless-stopped".into(),
        "-p".into(),
        format!("127.0.0.1:{}:80", site.tour.port),
        "-v".into(),
        format!("{dir}:/usr/local/etc/haproxy"),
    ];
    let nets: Vec<&str> = network.split_whitespace().collect();
    args.push(format!("--network={}", nets[0]));
    args.push(image);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker_ok(&args);
    for n in &nets[1..] {
        docker_ok(&["network", "connect", n, proxy]);
    }
    docker_ok(&["start", proxy]);
    wait_until(
        "the recreated proxy to serve v1",
        Duration::from_secs(20),
        || (site.release().as_deref() == Some("v1")).then_some(()),
    );
    let mut notes = Vec::new();
    let mut phases = Vec::new();
    // Full: one file takes all the space left.
    let l = load(&site);
    let _ = Command::new("dd")
        .args(["if=/dev/zero", &format!("of={dir}/filler"), "bs=4k"])
        .stderr(Stdio::null())
        .status();
    let full = site.flow(&[("RELEASE", "v2")], &["proxy"]);
    notes.push(check_refused(&site, &full, "full"));
    std::fs::remove_file(format!("{dir}/filler")).unwrap();
    phases.push(("full", l.finish()));
    // Read-only.
    let l = load(&site);
    assert!(Command::new("mount")
        .args(["-o", "remount,ro", &dir])
        .status()
        .unwrap()
        .success());
    let ro = site.flow(&[("RELEASE", "v2")], &["proxy"]);
    notes.push(check_refused(&site, &ro, "read-only"));
    assert!(Command::new("mount")
        .args(["-o", "remount,rw", &dir])
        .status()
        .unwrap()
        .success());
    phases.push(("read-only", l.finish()));
    // Writable again: the same command converges.
    let l = load(&site);
    site.ok(&[("RELEASE", "v2")], &["proxy"]);
    site.ok(&[("RELEASE", "v2")], &["stop-old"]);
    site.assert_converged("green", 1, "v2", None);
    phases.push(("rerun", l.finish()));
    docker_ok(&["rm", "-f", proxy]);
    let ok = phases.iter().map(|(_, p)| p.0).sum();
    let failed = phases.iter().map(|(_, p)| p.1).sum();
    for (what, (_, f, errors)) in &phases {
        if *f > 0 {
            notes.push(format!(
                "{f} failed while {what}: {:?}",
                &errors[..errors.len().min(3)]
            ));
        }
    }
    rows.push(Row {
        fault: "proxy config write fails",
        flow: "proxy",
        converged: true,
        ok,
        failed,
        note: notes.join("; "),
    });
}

fn check_refused(site: &Site, out: &Output, what: &str) -> String {
    let text = both(out);
    assert_eq!(out.status.code(), Some(1), "config dir {what}: {text}");
    assert_eq!(site.kv("color").as_deref(), Some("blue"), "{what}: {text}");
    assert_eq!(site.kv("candidate").as_deref(), Some("green"), "{what}");
    assert_eq!(
        site.release().as_deref(),
        Some("v1"),
        "config dir {what}: the old config serves"
    );
    format!("{what}: {}", first_error(&text))
}

struct Unmount(String);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", &self.0]).status();
    }
}
