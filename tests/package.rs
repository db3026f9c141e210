//! The release artifacts, installed the way a machine without Rust installs them.
//!
//! `scripts/package.sh all` builds the .deb and the archive (release profile); lintian finds no
//! error in the .deb; `dpkg -i` puts the plugin in Docker's system directory, where the real
//! `docker` CLI runs it (`version`, `docker info`, completion) with a DOCKER_CONFIG that has no
//! plugin of its own, and the quick start deploys through it; a newer package replaces it; `apt-get
//! remove` leaves nothing. The archive goes in with `install.sh --from` (file and URL, checksum
//! checked, a wrong one refused), user-level and `--system`, and `--uninstall` leaves nothing.
//!
//! It changes the machine, so: one run at a time (a lock file), it fails when docker-flow is
//! already installed there (it would remove it), and it removes what it installed even when it
//! fails.

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::bed;
use common::tour::Tour;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const SYSTEM_PLUGIN: &str = "/usr/libexec/docker/cli-plugins/docker-flow";
/// Where `install.sh --system` puts it (a system directory docker searches before /usr/libexec).
const LOCAL_PLUGIN: &str = "/usr/local/lib/docker/cli-plugins/docker-flow";
/// Directories the package creates when they are missing; removing it removes them again.
const PACKAGE_DIRS: [&str; 3] = [
    "/usr/libexec/docker/cli-plugins",
    "/usr/libexec/docker",
    "/usr/share/doc/docker-flow",
];
const LOCK: &str = "/run/lock/docker-flow-package-test.lock";

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A tool the test bed installs (scripts/testbed.sh up): its absence is a failure, not a skip.
fn need(tool: &str) {
    let found = run(Command::new("sh").args(["-c", &format!("command -v {tool}")]));
    assert!(
        found.status.success(),
        "{tool} not found: `scripts/testbed.sh up` installs it"
    );
}

/// Held while the test runs: `flock` keeps the lock as long as its `cat` reads our stdin, which
/// closes when this is dropped or the test process dies.
struct MachineLock(Child);

impl MachineLock {
    fn take() -> MachineLock {
        let mut child = Command::new("flock")
            .args(["--exclusive", "--timeout", "1800", LOCK, "sh", "-c"])
            .arg("echo locked; exec cat >/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run flock (util-linux)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "locked",
            "no lock on {LOCK} in 30 minutes: another run holds it"
        );
        MachineLock(child)
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

fn installed_version() -> Option<String> {
    let out =
        run(Command::new("dpkg-query").args(["-W", "-f=${Status} ${Version}", "docker-flow"]));
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    s.strip_prefix("install ok installed ")
        .map(|v| v.to_string())
}

/// dpkg/apt with a bounded wait for the dpkg lock (other jobs may be installing packages).
fn dpkg(args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let out = run(Command::new("dpkg").args(args));
        let locked = text(&out).contains("lock");
        if out.status.success() || !locked || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Removes what the test installed, whatever happened.
struct Cleanup {
    local_plugin: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if installed_version().is_some() {
            let out = dpkg(&["--purge", "docker-flow"]);
            if !out.status.success() {
                eprintln!("cleanup: dpkg --purge docker-flow failed:\n{}", text(&out));
            }
        }
        if self.local_plugin {
            let _ = std::fs::remove_file(LOCAL_PLUGIN);
        }
    }
}

/// `docker <args>` with a Docker config dir that has no plugin: the system one runs.
fn docker_in(config: &Path, args: &[&str]) -> Output {
    run(Command::new("docker")
        .args(args)
        .env("DOCKER_CONFIG", config)
        .env("DOCKER_HOST", &bed().docker_host)
        .env_remove("DOCKER_CONTEXT")
        .current_dir(config))
}

fn docker_in_ok(config: &Path, args: &[&str]) -> String {
    let out = docker_in(config, args);
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The flow plugin as `docker info` sees it: (path, version, error).
fn flow_plugin(config: &Path) -> Option<serde_json::Value> {
    let json = docker_in_ok(
        config,
        &["info", "--format", "{{json .ClientInfo.Plugins}}"],
    );
    let plugins: serde_json::Value = serde_json::from_str(&json).expect("plugins JSON");
    plugins
        .as_array()?
        .iter()
        .find(|p| p["Name"] == "flow")
        .cloned()
}

/// `docker flow version`, checked: this version and a commit.
fn assert_version(config: &Path) {
    let out = docker_in_ok(config, &["flow", "version"]);
    assert!(
        out.starts_with(&format!("docker flow version {VERSION}, build ")),
        "{out}"
    );
}

/// Every path the package owns, from `dpkg -L`.
fn package_files() -> Vec<PathBuf> {
    let out = dpkg(&["-L", "docker-flow"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('/') && *l != "/.")
        .map(PathBuf::from)
        .collect()
}

#[test]
fn the_package_and_the_archive_install_run_upgrade_and_leave_nothing() {
    for tool in [
        "dpkg-deb",
        "dpkg-shlibdeps",
        "lintian",
        "sha256sum",
        "curl",
        "flock",
    ] {
        need(tool);
    }
    let _lock = MachineLock::take();
    assert_eq!(
        installed_version(),
        None,
        "the docker-flow package is installed on this machine; this test would remove it \
         (`dpkg --purge docker-flow` first)"
    );
    assert!(
        !Path::new(LOCAL_PLUGIN).exists(),
        "{LOCAL_PLUGIN} exists (`./install.sh --uninstall --system`); this test would remove it"
    );
    let mut cleanup = Cleanup {
        local_plugin: false,
    };

    // Build both, as the release does.
    let out = tempfile::tempdir().unwrap();
    let dist = out.path();
    let t0 = Instant::now();
    let mut package = Command::new("bash");
    package
        .args([&format!("{ROOT}/scripts/package.sh"), "all", "--out"])
        .arg(dist);
    // A release binary built before (CI may build once): package it instead of building.
    if let Some(bin) = std::env::var_os("DOCKER_FLOW_PACKAGE_BINARY") {
        package.arg("--binary").arg(bin);
    }
    ok(&mut package);
    eprintln!("package.sh all: {:.1} s", t0.elapsed().as_secs_f64());
    let deb = dist.join(format!("docker-flow_{VERSION}-1_amd64.deb"));
    let name = format!("docker-flow-{VERSION}-x86_64-unknown-linux-gnu.tar.gz");
    let archive = dist.join(&name);
    for f in [&deb, &archive] {
        let size = std::fs::metadata(f)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
            .len();
        eprintln!("{}: {size} bytes", f.display());
    }
    ok(Command::new("sha256sum")
        .args(["--check", &format!("{name}.sha256")])
        .current_dir(dist));

    // The package itself: contents, Depends, lintian.
    let contents = ok(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for path in [
        "./usr/libexec/docker/cli-plugins/docker-flow",
        "./usr/share/doc/docker-flow/copyright",
        "./usr/share/doc/docker-flow/changelog.Debian.gz",
        "./usr/share/doc/docker-flow/docker-flow.txt.gz",
    ] {
        assert!(
            contents.contains(path),
            "{path} not in the .deb:\n{contents}"
        );
    }
    let depends = ok(Command::new("dpkg-deb")
        .args(["--field"])
        .arg(&deb)
        .arg("Depends"));
    assert!(depends.contains("libc6 (>="), "Depends: {depends}");
    let description = ok(Command::new("dpkg-deb")
        .args(["--field"])
        .arg(&deb)
        .arg("Description"));
    assert!(
        description.contains("\"docker flow deploy\" runs the new"),
        "Description: {description}"
    );
    let lintian = run(Command::new("lintian")
        .args(["--fail-on", "error", "--tag-display-limit", "0"])
        .arg(&deb));
    eprintln!("lintian:\n{}", text(&lintian));
    assert!(lintian.status.success(), "lintian found errors");

    // Directories other packages may have made (docker-ce's plugins live there too).
    let dirs_before: Vec<bool> = PACKAGE_DIRS.iter().map(|d| Path::new(d).exists()).collect();

    // Installed with dpkg: docker runs the system plugin when the user has none.
    let out = dpkg(&["-i", deb.to_str().unwrap()]);
    assert!(out.status.success(), "dpkg -i: {}", text(&out));
    assert_eq!(installed_version(), Some(format!("{VERSION}-1")));
    let files = package_files();
    let config = tempfile::tempdir().unwrap();
    let flow = flow_plugin(config.path()).expect("docker info lists the flow plugin");
    assert_eq!(flow["Path"], SYSTEM_PLUGIN, "{flow}");
    assert_eq!(flow["Version"], VERSION, "{flow}");
    assert!(flow.get("Err").is_none_or(|e| e.is_null()), "{flow}");
    assert_version(config.path());
    let completion = docker_in_ok(config.path(), &["__complete", "flow", "st"]);
    assert!(completion.contains("status\t"), "{completion}");
    // What docker's bash completion runs (no descriptions).
    assert_eq!(
        ok(Command::new(SYSTEM_PLUGIN).args(["__completeNoDesc", "flow", "st"])),
        "stop-old\nstatus\n:4\n"
    );

    // The quick start's deploy through the installed plugin: the tour's config without its
    // own plugin, so `docker flow` is the system one.
    let tour = Tour::new(false);
    std::fs::remove_file(tour.config.path().join("cli-plugins/docker-flow")).unwrap();
    assert_eq!(
        flow_plugin(tour.config.path()).unwrap()["Path"],
        SYSTEM_PLUGIN
    );
    let state = tour.dir.path().join("quickstart-state");
    let (up_ok, up) = quickstart(&tour, &state, "up");
    assert!(up_ok, "quickstart.sh up failed:\n{up}");
    assert!(up.contains("-> hello, world!"), "{up}");
    let (status, body, release) = tour.get("/demo/hello", &[]).expect("the proxy answers");
    assert_eq!(
        (status, body.as_str(), release.as_str()),
        (200, "hello, world!", "v1")
    );
    let (down_ok, down) = quickstart(&tour, &state, "down");
    assert!(down_ok, "quickstart.sh down failed:\n{down}");
    assert!(tour.containers().is_empty(), "{:?}", tour.containers());

    // Upgrade: the same package with a newer version and changelog replaces it in place.
    let newer = upgrade_of(&deb, dist);
    let out = dpkg(&["-i", newer.to_str().unwrap()]);
    assert!(out.status.success(), "dpkg -i (upgrade): {}", text(&out));
    assert_eq!(installed_version(), Some(format!("{VERSION}-2")));
    assert_eq!(package_files(), files, "the upgrade changed the file list");
    let changelog = ok(Command::new("zcat").arg("/usr/share/doc/docker-flow/changelog.Debian.gz"));
    assert!(
        changelog.starts_with(&format!("docker-flow ({VERSION}-2)")),
        "{changelog}"
    );
    let leftovers = ok(Command::new("find").args([
        "/usr/libexec/docker",
        "/usr/share/doc/docker-flow",
        "-name",
        "*.dpkg-*",
    ]));
    assert_eq!(leftovers, "", "dpkg left temporary files");
    assert_version(config.path());

    // apt-get remove: no file of the package left, nor the directories only it needed.
    ok(Command::new("apt-get").args([
        "remove",
        "-y",
        "-q",
        "-o",
        "DPkg::Lock::Timeout=300",
        "docker-flow",
    ]));
    assert_eq!(installed_version(), None);
    let left: Vec<_> = files.iter().filter(|p| !p.is_dir() && p.exists()).collect();
    assert!(left.is_empty(), "apt-get remove left {left:?}");
    for (dir, existed) in PACKAGE_DIRS.iter().zip(dirs_before) {
        assert!(
            existed || !Path::new(dir).exists(),
            "apt-get remove left {dir}"
        );
    }
    assert_eq!(flow_plugin(config.path()), None, "docker still lists flow");
    let status = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", "docker-flow"]));
    assert!(
        !String::from_utf8_lossy(&status.stdout).contains("config-files"),
        "dpkg keeps config files of docker-flow: {}",
        text(&status)
    );

    // The archive, with install.sh: user-level from the file, then from a URL.
    let user = tempfile::tempdir().unwrap();
    let install = |args: &[&str]| {
        run(Command::new("bash")
            .arg(format!("{ROOT}/install.sh"))
            .args(args)
            .env("DOCKER_CONFIG", user.path())
            .env("HOME", user.path())
            .env("DOCKER_HOST", &bed().docker_host)
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .current_dir(dist))
    };
    let bad = install(&["--from", &name, "--sha256", &"0".repeat(64)]);
    assert!(
        !bad.status.success(),
        "a wrong checksum installed: {}",
        text(&bad)
    );
    assert!(text(&bad).contains("checksum mismatch"), "{}", text(&bad));
    assert!(
        !user.path().join("cli-plugins").exists(),
        "a refused install left files"
    );
    // From the file, without cargo on PATH (the release archive needs no Rust).
    let out = install(&["--from", &name]);
    assert!(out.status.success(), "install.sh --from: {}", text(&out));
    let flow = flow_plugin(user.path()).expect("flow installed from the archive");
    assert_eq!(
        flow["Path"].as_str().map(PathBuf::from),
        Some(user.path().join("cli-plugins/docker-flow"))
    );
    assert_version(user.path());
    // From a URL over it (an upgrade is the same rename), checksum from NAME.sha256 there.
    let server = serve(dist);
    let out = install(&["--from", &format!("{}/{name}", server.url)]);
    assert!(
        out.status.success(),
        "install.sh --from URL: {}",
        text(&out)
    );
    assert!(
        server.served() >= 2,
        "the archive and its .sha256 were not both fetched"
    );
    assert_version(user.path());
    let out = install(&["--uninstall"]);
    assert!(out.status.success(), "{}", text(&out));
    let left = ok(Command::new("find")
        .arg(user.path())
        .args(["-mindepth", "1"]));
    assert_eq!(left, "", "--uninstall left files in DOCKER_CONFIG");

    // --system: /usr/local/lib/docker/cli-plugins, and --uninstall --system removes it.
    cleanup.local_plugin = true;
    let out = install(&["--system", "--from", &name]);
    assert!(
        out.status.success(),
        "install.sh --system --from: {}",
        text(&out)
    );
    let flow = flow_plugin(config.path()).expect("flow installed system-wide");
    assert_eq!(flow["Path"], LOCAL_PLUGIN, "{flow}");
    let out = install(&["--uninstall", "--system"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!Path::new(LOCAL_PLUGIN).exists());
    assert_eq!(flow_plugin(config.path()), None, "docker still lists flow");
    drop(tour);
}

/// The .deb unpacked, its version and changelog bumped, packed again: a newer release of the
/// same files.
fn upgrade_of(deb: &Path, dist: &Path) -> PathBuf {
    let tree = dist.join("upgrade");
    ok(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&tree));
    let control = tree.join("DEBIAN/control");
    let old = std::fs::read_to_string(&control).unwrap();
    let new = old.replace(
        &format!("Version: {VERSION}-1\n"),
        &format!("Version: {VERSION}-2\n"),
    );
    assert_ne!(old, new, "no Version line in {old}");
    std::fs::write(&control, new).unwrap();
    let changelog = tree.join("usr/share/doc/docker-flow/changelog.Debian.gz");
    let previous = ok(Command::new("zcat").arg(&changelog));
    let entry = format!(
        "docker-flow ({VERSION}-2) unstable; urgency=medium\n\n  * Upgrade test.\n\n \
         -- docker flow maintainers <docker-flow@users.noreply.github.com>  \
         Thu, 03 Dec 2026 00:00:00 +0000\n\n{previous}"
    );
    let mut gz = Command::new("gzip")
        .args(["-9n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    gz.stdin
        .take()
        .unwrap()
        .write_all(entry.as_bytes())
        .unwrap();
    let out = gz.wait_with_output().unwrap();
    std::fs::write(&changelog, out.stdout).unwrap();
    // md5sums must stay true to the files.
    let sums = ok(Command::new("sh")
        .arg("-c")
        .arg("find usr -type f -print0 | sort -z | xargs -0 md5sum")
        .current_dir(&tree));
    std::fs::write(tree.join("DEBIAN/md5sums"), sums).unwrap();
    let newer = dist.join(format!("docker-flow_{VERSION}-2_amd64.deb"));
    ok(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&newer));
    newer
}

fn quickstart(tour: &Tour, state: &Path, cmd: &str) -> (bool, String) {
    let bed = bed();
    let out = run(Command::new("bash")
        .args([&format!("{ROOT}/scripts/quickstart.sh"), cmd])
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
        .env_remove("FLOW_SCALE"));
    (out.status.success(), text(&out))
}

/// A static file server on loopback for `install.sh --from URL`: serves `dir`, counts requests.
struct Server {
    url: String,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Server {
    fn served(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn serve(dir: &Path) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (dir, counter) = (dir.to_path_buf(), count.clone());
    // Bounded: a handful of requests, then the thread ends with the test process anyway.
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let file = dir.join(path.trim_start_matches('/'));
            let response = match std::fs::read(&file) {
                Ok(body) if !path.contains("..") => {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    Server { url, count }
}
