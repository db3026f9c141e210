//! `bench-load`: the load generator of `scripts/bench.sh`. HTTP/1.1 GETs to 127.0.0.1 only (it
//! takes a port, never a host), every loop bounded in request count and in time.
//!
//! ```text
//! bench-load load  --port P [--path /demo/hello] [--threads N] [--rate R] [--max-requests M]
//!                  [--max-seconds S] [--stop-file F]
//! bench-load watch --port P --release REL [--path /demo/hello] [--max-seconds S] [--pause-ms MS]
//! ```
//!
//! `load` runs two client kinds at once, N threads each: `close` opens a new connection per
//! request (`Connection: close`), `keepalive` keeps one connection per thread and reuses it until
//! the server closes it. Each thread sends at most R requests/s (0: as fast as it can), at most M
//! requests, for at most S seconds, and stops early when the stop file exists. Any answer but a
//! complete 200 is a failure. On exit it prints one line per kind on stdout:
//!
//! ```text
//! close ok=12000 failed=0 conns=12000 stale=0 connect=0 io=0 timeout=0 status=0
//! ```
//!
//! (`conns`: connections opened) and one line per failure (the first 20,000) on stderr, with
//! the time and the reason. `stale` is a keep-alive request that got no byte back on a reused
//! connection (the server closed it while the request was on its way: clients such as browsers
//! retry those, we count them as failed).
//!
//! `watch` polls (new connection per request, MS milliseconds apart, default 0) until a 200
//! carries `X-Release: REL`, then prints the unix time of that answer in microseconds and the
//! number of polls; exit 1 if it did not come within S seconds.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_LOGGED: usize = 20_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("load") => Opts::parse(&args[1..]).and_then(load),
        Some("watch") => Opts::parse(&args[1..]).and_then(watch),
        _ => Err("usage: bench-load load|watch --port PORT [options] (see the source)".into()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("bench-load: {e}");
            ExitCode::from(2)
        }
    }
}

struct Opts {
    port: u16,
    path: String,
    threads: usize,
    rate: f64,
    max_requests: u64,
    max_seconds: f64,
    stop_file: Option<String>,
    release: Option<String>,
    pause: Duration,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            port: 0,
            path: "/demo/hello".into(),
            threads: 2,
            rate: 0.0,
            max_requests: 1_000_000,
            max_seconds: 600.0,
            stop_file: None,
            release: None,
            pause: Duration::ZERO,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            let num = |v: String| {
                v.parse::<f64>()
                    .map_err(|_| format!("{flag}: not a number: {v}"))
            };
            match flag.as_str() {
                "--port" => o.port = value()?.parse().map_err(|_| "--port: not a port")?,
                "--path" => o.path = value()?,
                "--threads" => o.threads = num(value()?)? as usize,
                "--rate" => o.rate = num(value()?)?,
                "--max-requests" => o.max_requests = num(value()?)? as u64,
                "--max-seconds" => o.max_seconds = num(value()?)?,
                "--stop-file" => o.stop_file = Some(value()?),
                "--release" => o.release = Some(value()?),
                "--pause-ms" => o.pause = Duration::from_secs_f64(num(value()?)?.max(0.0) / 1e3),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if o.port == 0 {
            return Err("--port is required".into());
        }
        if !o.path.starts_with('/') || o.path.bytes().any(|b| b <= b' ') {
            return Err(format!("--path: not an absolute path: {:?}", o.path));
        }
        if o.threads == 0 || o.max_seconds <= 0.0 || o.max_requests == 0 {
            return Err("--threads, --max-seconds and --max-requests must be positive".into());
        }
        Ok(o)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }
}

/// Why a request failed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No byte of an answer on a reused keep-alive connection.
    Stale,
    Connect,
    /// Reset, EOF or a malformed answer after the request was sent on a fresh connection, or in
    /// the middle of an answer.
    Io,
    Timeout,
    /// A complete answer that is not 200.
    Status(u16),
}

impl Failure {
    fn of(e: &io::Error, got_bytes: bool, reused: bool) -> Failure {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::Timeout,
            _ if reused && !got_bytes => Failure::Stale,
            _ => Failure::Io,
        }
    }

    fn label(self) -> String {
        match self {
            Failure::Stale => "stale".into(),
            Failure::Connect => "connect".into(),
            Failure::Io => "io".into(),
            Failure::Timeout => "timeout".into(),
            Failure::Status(code) => format!("status {code}"),
        }
    }
}

#[derive(Default, Clone)]
struct Counts {
    ok: u64,
    conns: u64,
    stale: u64,
    connect: u64,
    io: u64,
    timeout: u64,
    status: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.ok += other.ok;
        self.conns += other.conns;
        self.stale += other.stale;
        self.connect += other.connect;
        self.io += other.io;
        self.timeout += other.timeout;
        self.status += other.status;
    }

    fn failed(&self) -> u64 {
        self.stale + self.connect + self.io + self.timeout + self.status
    }

    fn record(&mut self, f: Failure) {
        match f {
            Failure::Stale => self.stale += 1,
            Failure::Connect => self.connect += 1,
            Failure::Io => self.io += 1,
            Failure::Timeout => self.timeout += 1,
            Failure::Status(_) => self.status += 1,
        }
    }
}

/// A parsed answer: status, X-Release, and whether the server keeps the connection open.
struct Answer {
    status: u16,
    release: String,
    keep: bool,
}

/// One request on `stream`; `got_bytes` tells the caller whether any byte of an answer came.
fn exchange(
    stream: &mut BufReader<TcpStream>,
    request: &[u8],
    got_bytes: &mut bool,
) -> io::Result<Answer> {
    *got_bytes = false;
    stream.get_mut().write_all(request)?;
    let mut line = String::new();
    if stream.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    *got_bytes = true;
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let mut keep = version == "HTTP/1.1";
    let (mut length, mut chunked, mut release) = (None, false, String::new());
    loop {
        line.clear();
        if stream.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<u64>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    keep = false;
                } else if v.contains("keep-alive") {
                    keep = true;
                }
            }
            "x-release" => release = value.to_string(),
            _ => {}
        }
    }
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    line.clear();
                    if stream.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            io::copy(&mut stream.by_ref().take(size + 2), &mut io::sink())?;
        }
    } else if let Some(n) = length {
        let copied = io::copy(&mut stream.by_ref().take(n), &mut io::sink())?;
        if copied < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    } else {
        io::copy(stream, &mut io::sink())?;
        keep = false;
    }
    Ok(Answer {
        status,
        release,
        keep,
    })
}

fn connect(addr: &SocketAddr) -> io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Failures as they happen, for the investigation (the first MAX_LOGGED).
struct Log(Mutex<usize>);

impl Log {
    fn failure(&self, kind: &str, f: Failure, detail: &str) {
        let mut n = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if *n < MAX_LOGGED {
            eprintln!(
                "fail t={:.6} kind={kind} reason={} {detail}",
                unix_micros() as f64 / 1e6,
                f.label()
            );
        }
        *n += 1;
    }
}

fn client(kind: &'static str, opts: &Opts, stop: &AtomicBool, log: &Log) -> Counts {
    let addr = opts.addr();
    let keepalive = kind == "keepalive";
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: bench-load\r\n{}\r\n",
        opts.path,
        opts.port,
        if keepalive {
            ""
        } else {
            "Connection: close\r\n"
        }
    )
    .into_bytes();
    let start = Instant::now();
    let deadline = Duration::from_secs_f64(opts.max_seconds);
    let interval = (opts.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / opts.rate));
    let mut next = start;
    let mut counts = Counts::default();
    let mut conn: Option<(BufReader<TcpStream>, u64)> = None;
    let mut sent = 0u64;
    while sent < opts.max_requests && start.elapsed() < deadline && !stop.load(Ordering::Relaxed) {
        if let Some(interval) = interval {
            let now = Instant::now();
            if next > now {
                thread::sleep(next - now);
            }
            next = next.max(now) + interval;
        }
        sent += 1;
        let (mut stream, uses) = match conn.take() {
            Some(c) => c,
            None => match connect(&addr) {
                Ok(s) => {
                    counts.conns += 1;
                    (s, 0)
                }
                Err(e) => {
                    counts.record(Failure::Connect);
                    log.failure(kind, Failure::Connect, &e.to_string());
                    continue;
                }
            },
        };
        let mut got_bytes = false;
        match exchange(&mut stream, &request, &mut got_bytes) {
            Ok(a) if a.status == 200 => {
                counts.ok += 1;
                if keepalive && a.keep {
                    conn = Some((stream, uses + 1));
                }
            }
            Ok(a) => {
                let f = Failure::Status(a.status);
                counts.record(f);
                log.failure(kind, f, &format!("release={:?} uses={uses}", a.release));
                if keepalive && a.keep {
                    conn = Some((stream, uses + 1));
                }
            }
            Err(e) => {
                let f = Failure::of(&e, got_bytes, uses > 0);
                counts.record(f);
                log.failure(kind, f, &format!("uses={uses} {e}"));
            }
        }
    }
    counts
}

fn load(opts: Opts) -> Result<u8, String> {
    let opts = Arc::new(opts);
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Log(Mutex::new(0)));
    let done = Arc::new(AtomicBool::new(false));
    if let Some(file) = opts.stop_file.clone() {
        let (stop, done) = (stop.clone(), done.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if std::path::Path::new(&file).exists() {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
    }
    let mut handles = Vec::new();
    for kind in ["close", "keepalive"] {
        for _ in 0..opts.threads {
            let (opts, stop, log) = (opts.clone(), stop.clone(), log.clone());
            handles.push((
                kind,
                thread::spawn(move || client(kind, &opts, &stop, &log)),
            ));
        }
    }
    let mut totals = [
        ("close", Counts::default()),
        ("keepalive", Counts::default()),
    ];
    for (kind, handle) in handles {
        let counts = handle.join().map_err(|_| "a client thread panicked")?;
        for (k, total) in totals.iter_mut() {
            if *k == kind {
                total.add(&counts);
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    for (kind, c) in &totals {
        println!(
            "{kind} ok={} failed={} conns={} stale={} connect={} io={} timeout={} status={}",
            c.ok,
            c.failed(),
            c.conns,
            c.stale,
            c.connect,
            c.io,
            c.timeout,
            c.status
        );
    }
    Ok(0)
}

fn watch(opts: Opts) -> Result<u8, String> {
    let want = opts.release.clone().ok_or("watch needs --release")?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: bench-load\r\nConnection: close\r\n\r\n",
        opts.path, opts.port
    )
    .into_bytes();
    let start = Instant::now();
    let deadline = Duration::from_secs_f64(opts.max_seconds);
    let addr = opts.addr();
    let mut polls = 0u64;
    while start.elapsed() < deadline && polls < opts.max_requests {
        polls += 1;
        if polls > 1 {
            thread::sleep(opts.pause);
        }
        let Ok(mut stream) = connect(&addr) else {
            thread::sleep(Duration::from_millis(1));
            continue;
        };
        let mut got_bytes = false;
        if let Ok(a) = exchange(&mut stream, &request, &mut got_bytes) {
            if a.status == 200 && a.release == want {
                println!("{} {polls}", unix_micros());
                return Ok(0);
            }
        }
    }
    eprintln!(
        "bench-load: no 200 with X-Release: {want} within {:.1} s ({polls} polls)",
        opts.max_seconds
    );
    Ok(1)
}
