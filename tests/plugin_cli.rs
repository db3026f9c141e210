//! docker flow through the real `docker` CLI: discovery, the handshake, help, completion, global
//! flags and Docker contexts reaching the right engine, and stop requests.
//! Each test has its own DOCKER_CONFIG holding the freshly built plugin, so nothing leaks.

mod common;

use std::{
    io::Read,
    net::TcpListener,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::{bed, stderr, wait_until};
use sha2::Digest;

const PLUGIN: &str = env!("CARGO_BIN_EXE_docker-flow");
const ENGINE_A_ROOT: &str = "/var/lib/docker";

/// A private Docker config dir with the plugin installed in it.
struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("cli-plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::os::unix::fs::symlink(PLUGIN, plugins.join("docker-flow")).unwrap();
        Cli { dir }
    }

    fn config(&self) -> &Path {
        self.dir.path()
    }

    /// `docker <args>` with only the Docker env vars given here (none inherited).
    fn docker(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = Command::new("docker");
        // Run outside any compose project or docker-flow.yml (the repo root has both).
        cmd.args(args)
            .env("DOCKER_CONFIG", self.config())
            .current_dir(self.config());
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_TLS",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        cmd.output().expect("run docker")
    }

    fn ok(&self, env: &[(&str, &str)], args: &[&str]) -> String {
        let out = self.docker(env, args);
        assert!(
            out.status.success(),
            "docker {args:?} with {env:?} failed ({}): {}",
            out.status,
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `docker … flow status --format json`, parsed.
    fn status(&self, env: &[(&str, &str)], globals: &[&str]) -> serde_json::Value {
        let args: Vec<&str> = globals
            .iter()
            .copied()
            .chain(["flow", "status", "--format", "json"])
            .collect();
        serde_json::from_str(&self.ok(env, &args)).expect("status JSON")
    }

    /// Contexts `engine-a`, `engine-b` (engine B's socket) and `tls` (engine B over TCP+TLS).
    fn with_contexts(self) -> Cli {
        let bed = bed();
        let tls = |f: &str| bed.tls_dir.join(f).display().to_string();
        self.ok(
            &[],
            &[
                "context",
                "create",
                "engine-a",
                "--docker",
                &format!("host={}", bed.docker_host),
            ],
        );
        self.ok(
            &[],
            &[
                "context",
                "create",
                "engine-b",
                "--docker",
                &format!("host={}", bed.engine_b_host),
            ],
        );
        let spec = format!(
            "host={},ca={},cert={},key={}",
            bed.engine_b_tls_host,
            tls("ca.pem"),
            tls("cert.pem"),
            tls("key.pem")
        );
        self.ok(&[], &["context", "create", "tls", "--docker", &spec]);
        self
    }
}

fn engine_b_root() -> String {
    let out = common::docker_ok(&[
        "-H",
        &bed().engine_b_host,
        "info",
        "-f",
        "{{.DockerRootDir}}",
    ]);
    assert_ne!(out, ENGINE_A_ROOT, "the two test engines must differ");
    out
}

fn lines(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn handshake_prints_metadata_and_touches_nothing() {
    // An empty environment: no Docker config, no HOME, no engine needed.
    let out = Command::new(PLUGIN)
        .arg("docker-cli-plugin-metadata")
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["SchemaVersion"], "0.1.0");
    assert!(!v["Vendor"].as_str().unwrap().is_empty());
    assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    assert!(!v["ShortDescription"].as_str().unwrap().is_empty());
    assert!(!v["URL"].as_str().unwrap().is_empty());
}

#[test]
fn docker_lists_and_validates_the_plugin() {
    let cli = Cli::new();
    let help = cli.ok(&[], &["--help"]);
    let line = help
        .lines()
        .find(|l| l.trim_start().starts_with("flow*"))
        .unwrap_or_else(|| panic!("no flow* in:\n{help}"));
    assert!(line.contains("blue-green"), "{line}");
    assert!(!help.contains("Invalid Plugins"), "{help}");

    let host = &bed().docker_host;
    let plugins = cli.ok(
        &[("DOCKER_HOST", host)],
        &["info", "--format", "{{json .ClientInfo.Plugins}}"],
    );
    let plugins: serde_json::Value = serde_json::from_str(&plugins).unwrap();
    let flow = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Name"] == "flow")
        .expect("flow in docker info");
    assert!(
        flow.get("Err").is_none_or(|e| e.is_null()),
        "plugin invalid: {flow}"
    );
    assert_eq!(flow["Version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn help_version_and_completion_through_the_cli() {
    let cli = Cli::new();
    for args in [
        &["flow", "--help"][..],
        &["help", "flow"],
        &["flow", "deploy", "--help"],
        &["flow", "scale", "--help"],
    ] {
        let out = cli.ok(&[], args);
        assert!(out.contains("Usage: docker flow"), "{args:?}: {out}");
    }
    let top = cli.ok(&[], &["flow", "--help"]);
    for cmd in [
        "deploy", "scale", "proxy", "stop-old", "rollback", "status", "version",
    ] {
        assert!(top.contains(cmd), "{cmd} missing from:\n{top}");
    }
    // The version and the commit the plugin was built from (build.rs), as `docker --version`.
    let version = cli.ok(&[], &["flow", "version"]);
    let build = version
        .trim()
        .strip_prefix(&format!(
            "docker flow version {}, build ",
            env!("CARGO_PKG_VERSION")
        ))
        .unwrap_or_else(|| panic!("{version}"));
    let hex = build.strip_suffix("-dirty").unwrap_or(build);
    assert!(
        hex.len() >= 7 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "a git checkout builds with its commit: {version}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&[], &["flow", "version", "--format", "json"])).unwrap();
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["commit"], build);

    let out = cli.ok(&[], &["__complete", "flow", "st"]);
    assert!(out.contains("status") && out.contains("stop-old"), "{out}");
    assert!(out.trim_end().ends_with(":4"), "{out}");

    let bad = cli.docker(&[], &["flow", "bogus"]);
    assert_eq!(bad.status.code(), Some(2), "{}", lines(&bad));
}

#[test]
fn status_reaches_the_engine_of_the_chosen_context() {
    let cli = Cli::new().with_contexts();
    let b_root = engine_b_root();
    let root = |v: serde_json::Value| {
        (
            v["context"].as_str().unwrap().to_string(),
            v["engine"]["root_dir"].as_str().unwrap().to_string(),
        )
    };

    assert_eq!(
        root(cli.status(&[], &["--context", "engine-b"])),
        ("engine-b".into(), b_root.clone())
    );
    assert_eq!(
        root(cli.status(&[], &["-cengine-b"])),
        ("engine-b".into(), b_root.clone())
    );
    assert_eq!(
        root(cli.status(&[("DOCKER_CONTEXT", "tls")], &[])),
        ("tls".into(), b_root.clone())
    );
    cli.ok(&[], &["context", "use", "engine-a"]);
    assert_eq!(
        root(cli.status(&[], &[])),
        ("engine-a".into(), ENGINE_A_ROOT.into())
    );

    // Text form names the context, the endpoint and the engine.
    let text = cli.ok(&[("DOCKER_CONTEXT", "tls")], &["flow", "status"]);
    assert!(
        text.contains("Context:   tls (from DOCKER_CONTEXT)"),
        "{text}"
    );
    assert!(text.contains(&bed().engine_b_tls_host), "{text}");
    assert!(text.contains("Swarm:     inactive"), "{text}");
}

#[test]
fn precedence_of_flags_env_and_the_current_context() {
    let cli = Cli::new().with_contexts();
    let b_root = engine_b_root();
    let b = bed().engine_b_host.as_str();
    cli.ok(&[], &["context", "use", "engine-a"]);
    let root = |v: serde_json::Value| v["engine"]["root_dir"].as_str().unwrap().to_string();

    // -H beats DOCKER_CONTEXT.
    assert_eq!(
        root(cli.status(&[("DOCKER_CONTEXT", "engine-a")], &["-H", b])),
        b_root
    );
    // DOCKER_HOST beats DOCKER_CONTEXT.
    assert_eq!(
        root(cli.status(&[("DOCKER_CONTEXT", "engine-a"), ("DOCKER_HOST", b)], &[])),
        b_root
    );
    // --context beats DOCKER_HOST.
    assert_eq!(
        root(cli.status(&[("DOCKER_HOST", b)], &["--context", "engine-a"])),
        ENGINE_A_ROOT
    );
    // DOCKER_CONTEXT beats currentContext.
    assert_eq!(
        root(cli.status(&[("DOCKER_CONTEXT", "engine-b")], &[])),
        b_root
    );
    // currentContext beats the default.
    assert_eq!(root(cli.status(&[], &[])), ENGINE_A_ROOT);
    // --config points at another config dir, whose current context is engine B.
    let other = Cli::new().with_contexts();
    other.ok(&[], &["context", "use", "engine-b"]);
    let cfg = other.config().display().to_string();
    assert_eq!(root(cli.status(&[], &["--config", &cfg])), b_root);
}

#[test]
fn bad_endpoints_give_one_clear_line() {
    let cli = Cli::new().with_contexts();
    let check = |env: &[(&str, &str)], args: &[&str], code: i32, needles: &[&str]| {
        let out = cli.docker(env, args);
        let text = lines(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        for n in needles {
            assert!(text.contains(n), "{args:?}: expected {n:?} in: {text}");
        }
        assert!(
            !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
            "{text}"
        );
    };
    check(
        &[],
        &["--context", "nope", "flow", "status"],
        2,
        &["\"nope\"", "docker context create"],
    );
    check(
        &[("DOCKER_CONTEXT", "nope")],
        &["flow", "status"],
        2,
        &["\"nope\"", "DOCKER_CONTEXT"],
    );
    check(
        &[],
        &["-H", "unix:///nonexistent/docker.sock", "flow", "status"],
        1,
        &["/nonexistent/docker.sock"],
    );

    // A context whose TLS key file has gone.
    let tls = tempfile::tempdir().unwrap();
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::copy(bed().tls_dir.join(f), tls.path().join(f)).unwrap();
    }
    let p = |f: &str| tls.path().join(f).display().to_string();
    let spec = format!(
        "host={},ca={},cert={},key={}",
        bed().engine_b_tls_host,
        p("ca.pem"),
        p("cert.pem"),
        p("key.pem")
    );
    cli.ok(&[], &["context", "create", "broken", "--docker", &spec]);
    // The store keeps a context's TLS files under contexts/tls/<sha256(name)>/docker/.
    let id = hex(&sha2::Sha256::digest(b"broken"));
    let stored = cli
        .config()
        .join("contexts/tls")
        .join(id)
        .join("docker/key.pem");
    std::fs::remove_file(&stored).unwrap_or_else(|e| panic!("remove {}: {e}", stored.display()));
    let out = cli.docker(&[], &["--context", "broken", "flow", "status"]);
    let text = lines(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("broken"), "{text}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An "engine" on loopback that accepts connections and never answers: a flow waiting on it
/// stays busy until asked to stop.
fn silent_engine() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("tcp://{}", listener.local_addr().unwrap());
    (listener, host)
}

#[test]
fn closing_the_cli_socket_stops_the_plugin() {
    let cli = Cli::new();
    let (listener, host) = silent_engine();
    // With stdout not a terminal, the CLI forwards SIGTERM by closing the plugin socket.
    let mut child = Command::new("docker")
        .args(["-H", &host, "flow", "status"])
        .env("DOCKER_CONFIG", cli.config())
        .current_dir(cli.config())
        .env_remove("DOCKER_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut held = Vec::new();
    wait_until(
        "the plugin to start and block on the silent engine",
        Duration::from_secs(10),
        || listener.accept().ok().map(|(s, _)| held.push(s)),
    );
    let sent = Instant::now();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = wait_until("docker flow to stop", Duration::from_secs(8), || {
        child.try_wait().unwrap()
    });
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("stopped by the docker CLI") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?}",
        sent.elapsed()
    );
}

#[test]
fn ctrl_c_stops_the_plugin_at_a_safe_point() {
    let (listener, host) = silent_engine();
    let mut child = Command::new(PLUGIN)
        .args(["-H", &host, "status"])
        .current_dir(std::env::temp_dir())
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut held = Vec::new();
    wait_until("the plugin to connect", Duration::from_secs(10), || {
        listener.accept().ok().map(|(s, _)| held.push(s))
    });
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = wait_until("docker-flow to stop", Duration::from_secs(5), || {
        child.try_wait().unwrap()
    });
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted (SIGINT)") && err.contains("nothing was changed"),
        "{err}"
    );
}
