//! What the demo service answers, independent of sockets.

use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::http::{http_date, Request, Response};

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// Answers one request; `uptime` is the time since the process started.
pub fn route(req: &Request, cfg: &Config, uptime: Duration) -> Response {
    let resp = match req.path() {
        "/demo/hello" => Response::new(200, TEXT, "hello, world!"),
        "/demo/release" => Response::new(200, JSON, release_json(cfg)),
        "/demo/upstream" | "/demo/db" => match crate::upstream::call(req.path(), cfg) {
            Ok(body) => Response::new(200, JSON, body),
            Err(e) => return error(502, &e, cfg),
        },
        "/health" | "/demo/health" if cfg.healthy(uptime) => Response::new(200, TEXT, "ok"),
        "/health" | "/demo/health" => Response::new(503, TEXT, "unhealthy"),
        _ => return error(404, "", cfg),
    };
    if !matches!(req.method.as_str(), "GET" | "HEAD") {
        return error(405, "", cfg).header("Allow", "GET, HEAD");
    }
    with_common_headers(resp, cfg)
}

/// A plain-text error response; `detail`, if any, says what was wrong.
pub fn error(status: u16, detail: &str, cfg: &Config) -> Response {
    let reason = crate::http::reason(status).to_ascii_lowercase();
    let body = match detail {
        "" => format!("{reason}\n"),
        _ => format!("{reason}: {detail}\n"),
    };
    with_common_headers(Response::new(status, TEXT, body), cfg)
}

/// Every response says which release answered, so load generators can
/// follow a blue-green switch.
fn with_common_headers(resp: Response, cfg: &Config) -> Response {
    resp.header("X-Release", &cfg.release)
        .header("X-Color", &cfg.color)
        .header("Cache-Control", "no-store")
        .header("Date", http_date(SystemTime::now()))
}

fn release_json(cfg: &Config) -> String {
    format!(
        r#"{{"release":"{}","color":"{}","hostname":"{}","version":"{}"}}"#,
        json_escape(&cfg.release),
        json_escape(&cfg.color),
        json_escape(&cfg.hostname),
        env!("CARGO_PKG_VERSION"),
    )
}

pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Body;

    fn cfg() -> Config {
        let mut cfg = Config::from_lookup(|_| None, None).unwrap();
        cfg.release = "v\"2".into();
        cfg.color = "blue".into();
        cfg.hostname = "box".into();
        cfg
    }

    fn get(method: &str, target: &str, cfg: &Config) -> Response {
        let req = Request {
            method: method.into(),
            target: target.into(),
            minor: 1,
            keep_alive: true,
            expect_continue: false,
            body: Body::Empty,
        };
        route(&req, cfg, Duration::from_secs(1))
    }

    fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
        resp.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn routes() {
        let cfg = cfg();
        let hello = get("GET", "/demo/hello", &cfg);
        assert_eq!(
            (hello.status, hello.body.as_slice()),
            (200, &b"hello, world!"[..])
        );
        assert_eq!(header(&hello, "X-Release"), Some("v\"2"));
        assert_eq!(header(&hello, "X-Color"), Some("blue"));

        let release = get("GET", "/demo/release", &cfg);
        let want = format!(
            r#"{{"release":"v\"2","color":"blue","hostname":"box","version":"{}"}}"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(release.body).unwrap(), want);

        assert_eq!(get("GET", "/health", &cfg).status, 200);
        assert_eq!(get("HEAD", "/demo/health", &cfg).status, 200);
        assert_eq!(get("GET", "/nope", &cfg).status, 404);
        assert_eq!(get("GET", "/demo/hello/", &cfg).status, 404);
        let post = get("POST", "/demo/hello", &cfg);
        assert_eq!(post.status, 405);
        assert_eq!(header(&post, "X-Color"), Some("blue"));
    }

    #[test]
    fn health_follows_config() {
        let mut cfg = cfg();
        cfg.unhealthy = true;
        let resp = get("GET", "/health", &cfg);
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (503, &b"unhealthy"[..])
        );
    }

    #[test]
    fn escapes_json() {
        assert_eq!(json_escape("a\"b\\c\u{1}"), "a\\\"b\\\\c\\u0001");
    }
}
