//! `demo`: the service docker flow's tests and examples deploy, a stand-in
//! for the original docker-flow's go-demo. It runs in a `FROM scratch`
//! image, so it is also its own health-check client.

mod client;
mod config;
mod http;
mod routes;
mod server;
mod signals;
mod tcp;
mod upstream;

use std::env;
use std::io::Write;
use std::net::IpAddr;
use std::process::{self, ExitCode};
use std::thread;
use std::time::{Duration, Instant};

use config::Config;
use server::Server;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Docker's default stop timeout is 10 s; finish in-flight requests within it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const GET_TIMEOUT: Duration = Duration::from_secs(10);

const USAGE: &str = "\
Usage:
  demo [serve]                 serve HTTP on $BIND:$PORT (default 0.0.0.0:8080)
  demo health [--url URL]      exit 0 if URL (default http://127.0.0.1:$PORT/health) answers 2xx
  demo get URL                 print the status line and body of an http:// URL
  demo --version

Routes: GET /demo/hello, /demo/release, /health (also /demo/health).
Environment for `serve`: PORT, BIND, RELEASE, COLOR, START_DELAY_MS, UNHEALTHY,
UNHEALTHY_AFTER_MS, EXIT_AFTER_MS, STOP_DELAY_MS,
UPSTREAM (URL GET /demo/upstream calls), UPSTREAM_TCP (host:port GET /demo/db
sends a line to), TCP_PORT (a line protocol: each line back with the release).
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match args.as_slice() {
        [] | ["serve"] => serve(),
        ["health", rest @ ..] => health(rest),
        ["get", url] => get(url),
        ["--version" | "-V" | "version"] => {
            println!("demo {VERSION}");
            0
        }
        ["--help" | "-h" | "help"] => {
            print!("{USAGE}");
            0
        }
        _ => {
            eprint!("{USAGE}");
            2
        }
    };
    ExitCode::from(code)
}

fn serve() -> u8 {
    let started = Instant::now();
    signals::install();
    let cfg = match Config::from_env() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("demo: {e}");
            return 2;
        }
    };

    if let Some(after) = cfg.exit_after {
        thread::spawn(move || {
            thread::sleep(after.saturating_sub(started.elapsed()));
            eprintln!(
                "demo: exiting with code 1 (EXIT_AFTER_MS={})",
                after.as_millis()
            );
            process::exit(1);
        });
    }
    if let Some(delay) = cfg.start_delay {
        eprintln!(
            "demo: waiting {} ms before listening (START_DELAY_MS)",
            delay.as_millis()
        );
        if signals::wait(Some(delay)) {
            eprintln!("demo: {} before listening, exiting", signals::name());
            return 0;
        }
    }

    if let Some(port) = cfg.tcp_port {
        if let Err(e) = tcp::start(cfg.listen.ip(), port, &cfg.release, &cfg.color) {
            eprintln!("demo: cannot listen on TCP port {port}: {e}");
            return 1;
        }
    }
    let (listen, stop_delay) = (cfg.listen, cfg.stop_delay);
    let description = format!("release={:?} color={:?}", cfg.release, cfg.color);
    let server = match Server::start(cfg, started) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("demo: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    // Tests read the address from this line (PORT=0 picks a free port).
    eprintln!(
        "demo {VERSION} listening on {} {description} pid={}",
        server.addr(),
        process::id()
    );

    signals::wait(None);
    if let Some(delay) = stop_delay {
        eprintln!(
            "demo: {}, still serving for {} ms (STOP_DELAY_MS)",
            signals::name(),
            delay.as_millis()
        );
        thread::sleep(delay);
    }
    eprintln!("demo: {}, draining connections", signals::name());
    match server.drain(DRAIN_TIMEOUT) {
        0 => eprintln!("demo: stopped"),
        n => eprintln!("demo: stopped with {n} connection(s) still busy after {DRAIN_TIMEOUT:?}"),
    }
    0
}

fn health(args: &[&str]) -> u8 {
    let url = match args {
        [] => default_health_url(),
        ["--url", url] => url.to_string(),
        [arg] if arg.starts_with("--url=") => arg["--url=".len()..].to_string(),
        _ => {
            eprint!("{USAGE}");
            return 2;
        }
    };
    let reply = client::Url::parse(&url).and_then(|u| client::get(&u, HEALTH_TIMEOUT));
    match reply {
        Ok(r) if r.success() => {
            println!("healthy: {}", r.status_line);
            0
        }
        Ok(r) => {
            eprintln!("unhealthy: {url}: {}", r.status_line);
            1
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            1
        }
    }
}

/// The server's own /health, wherever `serve` would listen given the same
/// environment.
fn default_health_url() -> String {
    let var = |name| env::var(name).ok().filter(|v| !v.trim().is_empty());
    let port = var("PORT").unwrap_or_else(|| config::DEFAULT_PORT.to_string());
    let host = match var("BIND").and_then(|b| b.trim().parse::<IpAddr>().ok()) {
        Some(ip) if !ip.is_unspecified() && ip.is_ipv6() => format!("[{ip}]"),
        Some(ip) if !ip.is_unspecified() => ip.to_string(),
        Some(IpAddr::V6(_)) => "[::1]".to_string(),
        _ => "127.0.0.1".to_string(),
    };
    format!("http://{host}:{}/health", port.trim())
}

fn get(url: &str) -> u8 {
    let reply = match client::Url::parse(url).and_then(|u| client::get(&u, GET_TIMEOUT)) {
        Ok(reply) => reply,
        Err(e) => {
            eprintln!("demo: {e}");
            return 1;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", reply.status_line);
    let _ = out.write_all(&reply.body);
    if !reply.body.ends_with(b"\n") {
        let _ = writeln!(out);
    }
    let _ = out.flush();
    if reply.success() {
        0
    } else {
        1
    }
}
