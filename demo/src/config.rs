//! Settings for `demo serve`, all from the environment so that Compose files
//! and tests can shape the service's behaviour.

use std::env;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub release: String,
    pub color: String,
    pub hostname: String,
    /// Sleep before binding the port (a slow starter).
    pub start_delay: Option<Duration>,
    /// /health always fails (a release that never becomes healthy).
    pub unhealthy: bool,
    /// /health fails from this long after start on.
    pub unhealthy_after: Option<Duration>,
    /// Exit with code 1 this long after start (a crash).
    pub exit_after: Option<Duration>,
    /// After SIGTERM, keep serving this long before draining (slow to stop).
    pub stop_delay: Option<Duration>,
    /// `GET /demo/upstream` calls this http:// URL (another service of the project, by name).
    pub upstream: Option<String>,
    /// `GET /demo/db` sends a line to this `host:port` (a TCP service of the project).
    pub upstream_tcp: Option<String>,
    /// Also answer a line protocol on this TCP port: each line back with the release.
    pub tcp_port: Option<u16>,
}

pub const DEFAULT_PORT: u16 = 8080;

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let etc_hostname = fs::read_to_string("/etc/hostname").ok();
        Config::from_lookup(|name| env::var(name).ok(), etc_hostname)
    }

    /// `get` looks up a variable; empty values count as unset, since Compose
    /// files often pass `VAR=` to mean "off".
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        etc_hostname: Option<String>,
    ) -> Result<Config, String> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let ms = |name: &str| -> Result<Option<Duration>, String> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map(Duration::from_millis)
                        .map_err(|_| format!("{name}: expected milliseconds, got {v:?}"))
                })
                .transpose()
        };

        let port = match get("PORT") {
            None => DEFAULT_PORT,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("PORT: expected a port number, got {v:?}"))?,
        };
        let bind = match get("BIND") {
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("BIND: expected an IP address, got {v:?}"))?,
        };
        let unhealthy = match get("UNHEALTHY").map(|v| v.trim().to_ascii_lowercase()) {
            None => false,
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes") => true,
            Some(v) if matches!(v.as_str(), "0" | "false" | "no") => false,
            Some(v) => return Err(format!("UNHEALTHY: expected 1/true or 0/false, got {v:?}")),
        };
        let hostname = etc_hostname
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| get("HOSTNAME"))
            .unwrap_or_default();

        Ok(Config {
            listen: SocketAddr::new(bind, port),
            release: header_safe("RELEASE", get("RELEASE").unwrap_or_else(|| "dev".into()))?,
            color: header_safe("COLOR", get("COLOR").unwrap_or_default())?,
            hostname,
            start_delay: ms("START_DELAY_MS")?,
            unhealthy,
            unhealthy_after: ms("UNHEALTHY_AFTER_MS")?,
            exit_after: ms("EXIT_AFTER_MS")?,
            stop_delay: ms("STOP_DELAY_MS")?,
            upstream: get("UPSTREAM"),
            upstream_tcp: get("UPSTREAM_TCP"),
            tcp_port: get("TCP_PORT")
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| format!("TCP_PORT: expected a port number, got {v:?}"))
                })
                .transpose()?,
        })
    }

    /// Health at `uptime` after process start.
    pub fn healthy(&self, uptime: Duration) -> bool {
        !self.unhealthy && self.unhealthy_after.is_none_or(|after| uptime < after)
    }
}

/// RELEASE and COLOR are echoed in response headers, so no control characters.
fn header_safe(name: &str, value: String) -> Result<String, String> {
    if value.chars().any(char::is_control) {
        return Err(format!("{name}: must not contain control characters"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(
            |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            None,
        )
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!((c.release.as_str(), c.color.as_str()), ("dev", ""));
        assert!(c.healthy(Duration::from_secs(3600)));
        assert!(c.start_delay.is_none() && c.exit_after.is_none() && c.stop_delay.is_none());
    }

    #[test]
    fn reads_knobs() {
        let c = config(&[
            ("PORT", "9000"),
            ("BIND", "::1"),
            ("RELEASE", "v2"),
            ("COLOR", "green"),
            ("START_DELAY_MS", "1500"),
            ("UNHEALTHY_AFTER_MS", "100"),
            ("EXIT_AFTER_MS", ""),
            ("HOSTNAME", "box"),
        ])
        .unwrap();
        assert_eq!(c.listen, "[::1]:9000".parse().unwrap());
        assert_eq!((c.release.as_str(), c.color.as_str()), ("v2", "green"));
        assert_eq!(c.hostname, "box");
        assert_eq!(c.start_delay, Some(Duration::from_millis(1500)));
        assert_eq!(c.exit_after, None);
        assert!(c.healthy(Duration::from_millis(99)));
        assert!(!c.healthy(Duration::from_millis(100)));
    }

    #[test]
    fn unhealthy_flag() {
        for (v, want) in [("1", true), ("TRUE", true), ("0", false), ("false", false)] {
            let c = config(&[("UNHEALTHY", v)]).unwrap();
            assert_eq!(c.healthy(Duration::ZERO), !want, "{v}");
        }
        assert!(config(&[("UNHEALTHY", "maybe")]).is_err());
    }

    #[test]
    fn rejects_bad_values() {
        assert!(config(&[("PORT", "http")]).is_err());
        assert!(config(&[("BIND", "localhost")]).is_err());
        assert!(config(&[("STOP_DELAY_MS", "1s")]).is_err());
        assert!(config(&[("RELEASE", "v1\r\nX-Evil: 1")]).is_err());
    }

    #[test]
    fn etc_hostname_wins_over_env() {
        let c = Config::from_lookup(
            |k| (k == "HOSTNAME").then(|| "env".into()),
            Some("etc\n".into()),
        )
        .unwrap();
        assert_eq!(c.hostname, "etc");
    }
}
