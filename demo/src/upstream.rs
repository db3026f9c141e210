//! Calls to another service of the project, by its compose name: what an app behind docker
//! flow does, so tests can check those calls follow the live release.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::client;
use crate::config::Config;

const TIMEOUT: Duration = Duration::from_secs(5);

/// `/demo/upstream`: GET `UPSTREAM`; `/demo/db`: one line to `UPSTREAM_TCP`. The answer as
/// JSON with this release, or why it failed.
pub fn call(path: &str, cfg: &Config) -> Result<String, String> {
    let answer = if path == "/demo/db" {
        let addr = cfg
            .upstream_tcp
            .as_deref()
            .ok_or("UPSTREAM_TCP is not set")?;
        line(addr)?
    } else {
        let url = cfg.upstream.as_deref().ok_or("UPSTREAM is not set")?;
        let reply = client::get(&client::Url::parse(url)?, TIMEOUT)?;
        if !reply.success() {
            return Err(format!("{url}: {}", reply.status_line));
        }
        String::from_utf8_lossy(&reply.body).trim().to_string()
    };
    Ok(format!(
        r#"{{"release":"{}","upstream":{}}}"#,
        crate::routes::json_escape(&cfg.release),
        json_string(&answer)
    ))
}

/// Sends `ping` on a new connection to `addr` and reads the line that comes back.
fn line(addr: &str) -> Result<String, String> {
    let addrs = addr
        .to_socket_addrs()
        .map_err(|e| format!("resolve {addr}: {e}"))?;
    let mut last = format!("resolve {addr}: no addresses");
    for a in addrs {
        match TcpStream::connect_timeout(&a, TIMEOUT) {
            Ok(mut s) => {
                let io = |e: std::io::Error| format!("{addr}: {e}");
                s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
                s.write_all(b"ping\n").map_err(io)?;
                let mut text = String::new();
                BufReader::new(s).read_line(&mut text).map_err(io)?;
                if text.is_empty() {
                    return Err(format!("{addr}: closed without an answer"));
                }
                return Ok(text.trim().to_string());
            }
            Err(e) => last = format!("connect {a}: {e}"),
        }
    }
    Err(last)
}

fn json_string(s: &str) -> String {
    format!("\"{}\"", crate::routes::json_escape(s))
}
