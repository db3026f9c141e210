//! A tiny HTTP GET client, so the `FROM scratch` image (no shell, no curl)
//! can health-check itself and be probed from inside containers.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::http::find_head_end;

/// Responses larger than this are cut off; ours are tiny.
const MAX_RESPONSE: usize = 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    /// Parses `http://host[:port][/path]`; IPv6 hosts go in brackets.
    pub fn parse(url: &str) -> Result<Url, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            // A colon inside brackets belongs to an IPv6 address.
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err(format!("{url}: bad host"));
        }
        let port = match port {
            None => 80,
            Some(p) => p.parse().map_err(|_| format!("{url}: bad port"))?,
        };
        Ok(Url {
            host: host.to_string(),
            port,
            path,
        })
    }

    fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// e.g. `HTTP/1.1 200 OK`
    pub status_line: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// GETs `url`, giving up after `timeout` in total (name resolution aside).
pub fn get(url: &Url, timeout: Duration) -> Result<Reply, String> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("timed out after {timeout:?}"))
    };
    let target = url.host_header();
    let addrs = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("resolve {}: {e}", url.host))?;

    let mut last_error = format!("resolve {}: no addresses", url.host);
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, left()?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = format!("connect {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last_error)?;

    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: dockerflow-demo/{}\r\nConnection: close\r\n\r\n",
        url.path,
        env!("CARGO_PKG_VERSION"),
    );
    let io_error = |e: std::io::Error| format!("{target}: {e}");
    stream.set_write_timeout(Some(left()?)).map_err(io_error)?;
    stream.write_all(request.as_bytes()).map_err(io_error)?;

    // We asked for Connection: close, so the server ends the body with EOF;
    // Content-Length only lets us stop early.
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(reply) = parse_reply(&data, false) {
            return Ok(reply);
        }
        stream.set_read_timeout(Some(left()?)).map_err(io_error)?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) if data.len() + n <= MAX_RESPONSE => data.extend_from_slice(&chunk[..n]),
            Ok(_) => return Err(format!("{target}: response too large")),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("{target}: timed out after {timeout:?}"))
            }
            Err(e) => return Err(io_error(e)),
        }
    }
    parse_reply(&data, true).ok_or_else(|| format!("{target}: incomplete or invalid response"))
}

/// A complete reply from `data`, or None if more is needed. At `eof`, a
/// reply without Content-Length takes everything after the head as body.
fn parse_reply(data: &[u8], eof: bool) -> Option<Reply> {
    let end = find_head_end(data, 0)?;
    let head = String::from_utf8_lossy(&data[..end]);
    let mut lines = head.lines();
    let status_line = lines.next()?.trim_end().to_string();
    let status = match status_line.split(' ').collect::<Vec<_>>()[..] {
        [version, code, ..] if version.starts_with("HTTP/") => code.parse().ok()?,
        _ => return None,
    };
    let length = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let body = &data[end..];
    let body = match length {
        Some(n) if body.len() >= n => &body[..n],
        Some(_) => return None,
        None if eof => body,
        None => return None,
    };
    Some(Reply {
        status,
        status_line,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, path: &str) -> Url {
        Url {
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn parses_urls() {
        let ok = |s| Url::parse(s).unwrap();
        assert_eq!(
            ok("http://127.0.0.1:8080/health"),
            url("127.0.0.1", 8080, "/health")
        );
        assert_eq!(ok("http://web"), url("web", 80, "/"));
        assert_eq!(ok("http://web:81?x=1"), url("web", 81, "/?x=1"));
        assert_eq!(ok("http://[::1]:9/a/b"), url("::1", 9, "/a/b"));
        assert_eq!(ok("http://[::1]/"), url("::1", 80, "/"));
        for bad in [
            "https://x/",
            "x:80",
            "http://:80/",
            "http://h:99999/",
            "http://u@h/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_header_brackets_ipv6() {
        assert_eq!(url("::1", 9, "/").host_header(), "[::1]:9");
        assert_eq!(url("web", 80, "/").host_header(), "web:80");
    }

    #[test]
    fn parses_replies() {
        let full = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nunhealthy";
        let reply = parse_reply(full, false).unwrap();
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (503, &b"unhealthy"[..])
        );
        assert_eq!(reply.status_line, "HTTP/1.1 503 Service Unavailable");
        assert!(!reply.success());
        assert!(parse_reply(&full[..full.len() - 1], true).is_none());

        let no_length = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        assert!(parse_reply(no_length, false).is_none());
        assert_eq!(parse_reply(no_length, true).unwrap().body, b"all of it");
        assert!(parse_reply(b"garbage\r\n\r\n", true).is_none());
    }
}
