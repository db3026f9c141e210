//! Runs the real `demo` binary on 127.0.0.1 and talks HTTP to it.
//! Every wait is on a condition with a deadline; no fixed sleeps.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_demo");
const DEADLINE: Duration = Duration::from_secs(10);
/// Environment knobs cleared in children, so the caller's env can't leak in.
const KNOBS: [&str; 11] = [
    "PORT",
    "BIND",
    "RELEASE",
    "COLOR",
    "HOSTNAME",
    "START_DELAY_MS",
    "UNHEALTHY",
    "UNHEALTHY_AFTER_MS",
    "EXIT_AFTER_MS",
    "STOP_DELAY_MS",
    "RUST_BACKTRACE",
];

/// A running `demo serve`; killed (by its Child handle) when dropped.
struct Demo {
    child: Child,
    log: Receiver<String>,
    addr: SocketAddr,
    spawned: Instant,
}

impl Demo {
    /// Starts on a free port (PORT=0) and waits until it listens.
    fn start(env: &[(&str, &str)]) -> Demo {
        let mut env = env.to_vec();
        env.push(("PORT", "0"));
        let mut demo = Demo::spawn(&env);
        let line = demo.wait_for_log("listening on ");
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        demo.addr = addr;
        demo
    }

    /// Spawns without waiting for anything; `addr` is a placeholder.
    fn spawn(env: &[(&str, &str)]) -> Demo {
        let mut cmd = Command::new(BIN);
        for knob in KNOBS {
            cmd.env_remove(knob);
        }
        cmd.env("BIND", "127.0.0.1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = cmd.spawn().expect("spawn demo");
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo {
            child,
            log,
            addr: ([127, 0, 0, 1], 0).into(),
            spawned,
        }
    }

    fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no log line with {needle:?}: {e}"),
            }
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "demo still running after {timeout:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    #[cfg(unix)]
    fn signal(&self, sig: i32) {
        unsafe extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        // SAFETY: plain syscall wrapper. The child is not reaped until
        // wait_exit/drop, so its pid cannot have been reused.
        let rc = unsafe { kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill failed");
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One client connection; responses are framed by Content-Length.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, raw: &str) {
        self.reader.get_mut().write_all(raw.as_bytes()).unwrap();
    }

    fn read_response(&mut self) -> Resp {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let mut resp = Resp {
            status,
            headers,
            body: String::new(),
        };
        let length: usize = resp.header("Content-Length").unwrap().parse().unwrap();
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        resp.body = String::from_utf8(body).unwrap();
        resp
    }

    /// For HEAD: the head, whose Content-Length describes a body not sent.
    fn read_head_only(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if line.trim_end().is_empty() {
                return lines;
            }
            lines.push(line.trim_end().to_string());
        }
    }

    fn get(&mut self, path: &str) -> Resp {
        self.send(&format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"));
        self.read_response()
    }

    /// True once the server has closed its side (EOF).
    fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }
}

fn get(addr: SocketAddr, path: &str) -> Resp {
    let mut conn = Conn::open(addr);
    conn.send(&format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    ));
    let resp = conn.read_response();
    assert!(conn.is_closed(), "Connection: close not honoured");
    resp
}

/// Like `get`, but failing softly (for requests racing a shutdown).
fn try_get_status(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(DEADLINE))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response {text:?}")))
}

/// A port that was free a moment ago, for tests that must know it up front.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run demo");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn hello() {
    let demo = Demo::start(&[("RELEASE", "v1"), ("COLOR", "blue")]);
    let resp = get(demo.addr, "/demo/hello");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, "hello, world!");
    assert_eq!(resp.header("Content-Length"), Some("13"));
    assert_eq!(resp.header("X-Release"), Some("v1"));
    assert_eq!(resp.header("X-Color"), Some("blue"));
    assert_eq!(get(demo.addr, "/demo/hello?from=test").status, 200);
}

#[test]
fn release_and_headers() {
    let demo = Demo::start(&[("RELEASE", "v2"), ("COLOR", "green")]);
    let resp = get(demo.addr, "/demo/release");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_eq!(resp.header("X-Release"), Some("v2"));
    assert_eq!(resp.header("X-Color"), Some("green"));
    assert!(resp
        .body
        .starts_with(r#"{"release":"v2","color":"green","hostname":""#));
    let version = format!(r#""version":"{}"}}"#, env!("CARGO_PKG_VERSION"));
    assert!(resp.body.ends_with(&version), "{}", resp.body);

    let defaults = Demo::start(&[]);
    let resp = get(defaults.addr, "/demo/release");
    assert_eq!(resp.header("X-Release"), Some("dev"));
    assert_eq!(resp.header("X-Color"), Some(""));
}

#[test]
fn other_routes() {
    let demo = Demo::start(&[("RELEASE", "v3")]);
    let missing = get(demo.addr, "/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("X-Release"), Some("v3"));
    assert_eq!(get(demo.addr, "/health").body, "ok");
    assert_eq!(get(demo.addr, "/demo/health").status, 200);

    let mut conn = Conn::open(demo.addr);
    conn.send("HEAD /demo/hello HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = conn.read_head_only();
    assert!(head.contains(&"Content-Length: 13".to_string()), "{head:?}");
    // No body follows, so the next response comes straight after.
    assert_eq!(conn.get("/demo/hello").body, "hello, world!");
}

#[test]
fn keep_alive() {
    let demo = Demo::start(&[]);
    let mut conn = Conn::open(demo.addr);
    for _ in 0..5 {
        let resp = conn.get("/demo/hello");
        assert_eq!((resp.status, resp.body.as_str()), (200, "hello, world!"));
        assert_eq!(resp.header("Connection"), Some("keep-alive"));
    }

    // Pipelined: two requests in one write.
    conn.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /demo/hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(conn.read_response().body, "ok");
    assert_eq!(conn.read_response().body, "hello, world!");

    // Dribbled a byte at a time.
    for byte in "GET /demo/hello HTTP/1.1\r\nHost: t\r\n\r\n".bytes() {
        conn.reader.get_mut().write_all(&[byte]).unwrap();
    }
    assert_eq!(conn.read_response().status, 200);

    // A body is read and discarded; the connection stays usable.
    conn.send("POST /demo/hello HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab");
    conn.send("cde");
    assert_eq!(conn.read_response().status, 405);
    assert_eq!(conn.get("/demo/hello").status, 200);

    // Connection: close ends it after the response.
    conn.send("GET /demo/hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let resp = conn.read_response();
    assert_eq!(resp.header("Connection"), Some("close"));
    assert!(conn.is_closed());
}

#[test]
fn http_1_0_closes_unless_asked() {
    let demo = Demo::start(&[]);
    let mut conn = Conn::open(demo.addr);
    conn.send("GET /demo/hello HTTP/1.0\r\n\r\n");
    assert_eq!(conn.read_response().header("Connection"), Some("close"));
    assert!(conn.is_closed());

    let mut conn = Conn::open(demo.addr);
    for _ in 0..3 {
        conn.send("GET /demo/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let resp = conn.read_response();
        assert_eq!(resp.header("Connection"), Some("keep-alive"));
        assert_eq!(resp.body, "hello, world!");
    }
}

#[test]
fn malformed_request_gets_400_and_close() {
    let demo = Demo::start(&[]);
    let mut conn = Conn::open(demo.addr);
    conn.send("NOT HTTP\r\n\r\n");
    let resp = conn.read_response();
    assert_eq!(resp.status, 400);
    assert!(resp.header("X-Release").is_some());
    assert!(conn.is_closed());
}

#[test]
fn many_concurrent_clients() {
    let demo = Demo::start(&[("RELEASE", "load")]);
    let addr = demo.addr;
    let workers: Vec<_> = (0..32)
        .map(|i| {
            thread::spawn(move || {
                let mut conn = Conn::open(addr);
                for _ in 0..25 {
                    let resp = if i % 2 == 0 {
                        conn.get("/demo/hello")
                    } else {
                        get(addr, "/demo/hello")
                    };
                    assert_eq!(resp.status, 200);
                    assert_eq!(resp.header("X-Release"), Some("load"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

#[test]
fn unhealthy_and_health_command() {
    let sick = Demo::start(&[("UNHEALTHY", "1")]);
    let resp = get(sick.addr, "/health");
    assert_eq!((resp.status, resp.body.as_str()), (503, "unhealthy"));
    assert_eq!(get(sick.addr, "/demo/hello").status, 200);
    let (code, _, err) = run(&["health", "--url", &sick.url("/health")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("503"), "{err}");

    let well = Demo::start(&[]);
    let (code, out, err) = run(&["health", &format!("--url={}", well.url("/health"))]);
    assert_eq!(code, 0, "{out}{err}");

    // Nothing listening: fails fast with a reason.
    let nobody = format!("http://127.0.0.1:{}/health", free_port());
    let (code, _, err) = run(&["health", "--url", &nobody]);
    assert_eq!(code, 1);
    assert!(err.starts_with("unhealthy: connect"), "{err}");
}

#[test]
fn default_health_url_follows_port() {
    let port = free_port().to_string();
    let mut demo = Demo::spawn(&[("PORT", &port)]);
    demo.wait_for_log("listening on ");
    // With no --url, `demo health` finds the server through PORT and BIND,
    // just as `serve` uses them.
    let out = Command::new(BIN)
        .arg("health")
        .env("PORT", &port)
        .env("BIND", "127.0.0.1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn get_command() {
    let demo = Demo::start(&[]);
    let (code, out, _) = run(&["get", &demo.url("/demo/hello")]);
    assert_eq!(code, 0);
    assert_eq!(out, "HTTP/1.1 200 OK\nhello, world!\n");
    let (code, out, _) = run(&["get", &demo.url("/missing")]);
    assert_eq!(code, 1);
    assert!(out.starts_with("HTTP/1.1 404 Not Found\n"), "{out}");
}

#[test]
fn version_flag() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("demo {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(run(&["bogus"]).0, 2);
}

#[test]
fn start_delay() {
    let delay = Duration::from_millis(1500);
    let port = free_port();
    let mut demo = Demo::spawn(&[
        ("PORT", &port.to_string()),
        ("START_DELAY_MS", &delay.as_millis().to_string()),
    ]);
    demo.wait_for_log("waiting 1500 ms");
    let early = TcpStream::connect(("127.0.0.1", port));
    // The server cannot bind before `delay` after spawn, so a connection
    // that completed before then must have failed.
    if demo.spawned.elapsed() < delay {
        assert!(early.is_err(), "port open during START_DELAY_MS");
    }
    drop(early);

    demo.wait_for_log("listening on ");
    assert!(demo.spawned.elapsed() >= delay);
    demo.addr = ([127, 0, 0, 1], port).into();
    assert_eq!(get(demo.addr, "/health").status, 200);
}

#[test]
fn unhealthy_after() {
    let after = Duration::from_millis(1000);
    let demo = Demo::start(&[("UNHEALTHY_AFTER_MS", "1000")]);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = get(demo.addr, "/health").status;
        // The server started after `spawned`, so its uptime is at most ours.
        let elapsed = demo.spawned.elapsed();
        if elapsed < after {
            assert_eq!(status, 200, "unhealthy too early, at {elapsed:?}");
        }
        if status == 503 {
            assert!(elapsed >= after);
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "never became unhealthy");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn exit_after() {
    let mut demo = Demo::spawn(&[("PORT", "0"), ("EXIT_AFTER_MS", "300")]);
    let status = demo.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(1));
    assert!(demo.spawned.elapsed() >= Duration::from_millis(300));
}

#[cfg(unix)]
const SIGTERM: i32 = 15;

#[cfg(unix)]
#[test]
fn sigterm_drains_and_exits_zero() {
    let mut demo = Demo::start(&[]);
    let mut idle = Conn::open(demo.addr);
    assert_eq!(idle.get("/demo/hello").status, 200);
    let mut busy = Conn::open(demo.addr);
    assert_eq!(busy.get("/demo/hello").status, 200);
    // Half a request is in flight when the signal arrives.
    busy.send("GET /demo/hello HTTP/1.1\r\nHost: t\r\n");

    demo.signal(SIGTERM);
    let signalled = Instant::now();
    demo.wait_for_log("SIGTERM, draining");

    // Idle keep-alive connections are closed...
    assert!(idle.is_closed());
    // ...new connections are refused...
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(demo.addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting while draining");
        thread::sleep(Duration::from_millis(10));
    }
    // ...but the request in flight is answered, with Connection: close.
    busy.send("\r\n");
    let resp = busy.read_response();
    assert_eq!((resp.status, resp.body.as_str()), (200, "hello, world!"));
    assert_eq!(resp.header("Connection"), Some("close"));
    assert!(busy.is_closed());

    let status = demo.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(5));
}

#[cfg(unix)]
#[test]
fn sigterm_with_stop_delay_keeps_serving() {
    let delay = Duration::from_millis(1000);
    let mut demo = Demo::start(&[("STOP_DELAY_MS", "1000")]);
    demo.signal(SIGTERM);
    let signalled = Instant::now();
    demo.wait_for_log("still serving for 1000 ms");
    let status = try_get_status(demo.addr, "/demo/hello");
    // The server saw the signal after we sent it, so it serves until at
    // least `delay` after `signalled`: a request done by then must succeed.
    if signalled.elapsed() < delay {
        assert_eq!(status.unwrap(), 200);
    }
    let status = demo.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(0));
    assert!(signalled.elapsed() >= delay);
}
