//! `ports:` entries to the long form: the short syntax `[[ip:]host:]container[/proto]` with
//! ranges (`8000-8001:80-81`, `9000-9010:80`, `[::1]:80:80`), bare integers, and long mappings.

use serde_yaml::{Mapping, Value};

use super::value::{s, scalar};

/// One published (or exposed) container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<String>,
    pub published: Option<Published>,
    pub target: u16,
    pub protocol: String,
    pub mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    Single(u16),
    /// A host range mapped to one container port (the engine picks a free one).
    Range(u16, u16),
}

impl PortSpec {
    pub fn to_value(&self) -> Value {
        let mut m = Mapping::new();
        m.insert(s("target"), Value::from(self.target));
        match &self.published {
            Some(Published::Single(p)) => {
                m.insert(s("published"), Value::from(*p));
            }
            Some(Published::Range(a, b)) => {
                m.insert(s("published"), s(format!("{a}-{b}")));
            }
            None => {}
        }
        if let Some(ip) = &self.host_ip {
            m.insert(s("host_ip"), s(ip.clone()));
        }
        m.insert(s("protocol"), s(self.protocol.clone()));
        if let Some(mode) = &self.mode {
            m.insert(s("mode"), s(mode.clone()));
        }
        Value::Mapping(m)
    }

    /// The identity Compose uses to de-duplicate ports when merging files.
    pub fn merge_key(v: &Value) -> String {
        let f = |k: &str| v.get(k).and_then(scalar).unwrap_or_default();
        format!(
            "{}:{}:{}/{}",
            f("host_ip"),
            f("published"),
            f("target"),
            f("protocol")
        )
    }
}

fn parse_range(text: &str, what: &str, spec: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid {what}: {text:?} in port spec {spec:?}");
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (a, b),
        None => (text, text),
    };
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses a short-syntax port into one spec per container port.
pub fn parse_short(spec: &str) -> Result<Vec<PortSpec>, String> {
    let (raw, protocol) = match spec.split_once('/') {
        Some((r, p)) if !p.is_empty() => (r, p.to_lowercase()),
        Some((r, _)) => (r, "tcp".to_string()),
        None => (spec, "tcp".to_string()),
    };
    if raw.is_empty() {
        return Err(format!("no port specified: {spec:?}"));
    }
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid protocol {protocol:?} in port spec {spec:?}"
        ));
    }
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (ip, host, container) = match n {
        1 => ("".to_string(), "", parts[0]),
        2 => ("".to_string(), parts[0], parts[1]),
        3 => (parts[0].to_string(), parts[1], parts[2]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .map(str::to_string)
        .unwrap_or(ip);
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address {ip:?} in port spec {spec:?}"));
    }
    if container.is_empty() {
        return Err(format!("no container port specified in port spec {spec:?}"));
    }
    let (c0, c1) = parse_range(container, "container port", spec)?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(parse_range(host, "host port", spec)?)
    };
    let host_ip = (!ip.is_empty()).then_some(ip);
    let mut out = Vec::new();
    match host_range {
        None => {
            for t in c0..=c1 {
                out.push(PortSpec {
                    host_ip: host_ip.clone(),
                    published: None,
                    target: t,
                    protocol: protocol.clone(),
                    mode: None,
                });
            }
        }
        Some((h0, h1)) if c0 == c1 && h0 != h1 => out.push(PortSpec {
            host_ip,
            published: Some(Published::Range(h0, h1)),
            target: c0,
            protocol,
            mode: None,
        }),
        Some((h0, h1)) => {
            if h1 - h0 != c1 - c0 {
                return Err(format!(
                    "invalid ranges specified for container and host ports in port spec {spec:?}"
                ));
            }
            for (i, t) in (c0..=c1).enumerate() {
                out.push(PortSpec {
                    host_ip: host_ip.clone(),
                    published: Some(Published::Single(h0 + i as u16)),
                    target: t,
                    protocol: protocol.clone(),
                    mode: None,
                });
            }
        }
    }
    Ok(out)
}

/// Parses a long-syntax port mapping (`target`, `published`, `host_ip`, `protocol`, `mode`;
/// `name` and `app_protocol` are metadata the engine has no use for).
pub fn parse_long(m: &Mapping) -> Result<PortSpec, String> {
    for (k, _) in m {
        let k = scalar(k).unwrap_or_default();
        if !matches!(
            k.as_str(),
            "target" | "published" | "host_ip" | "protocol" | "mode" | "name" | "app_protocol"
        ) {
            return Err(format!("unknown port attribute {k:?}"));
        }
    }
    let target = m
        .get("target")
        .and_then(scalar)
        .ok_or_else(|| "port is missing its target".to_string())?;
    let target: u16 = target
        .parse()
        .map_err(|_| format!("invalid target port {target:?}"))?;
    let published = match m.get("published").and_then(scalar) {
        None => None,
        Some(p) if p.is_empty() => None,
        Some(p) => {
            let (a, b) = parse_range(&p, "published port", &p)?;
            Some(if a == b {
                Published::Single(a)
            } else {
                Published::Range(a, b)
            })
        }
    };
    let protocol = m
        .get("protocol")
        .and_then(scalar)
        .map(|p| p.to_lowercase())
        .unwrap_or_else(|| "tcp".to_string());
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {protocol:?}"));
    }
    Ok(PortSpec {
        host_ip: m.get("host_ip").and_then(scalar).filter(|s| !s.is_empty()),
        published,
        target,
        protocol,
        mode: m.get("mode").and_then(scalar),
    })
}

/// Any `ports:` entry to its long-form values.
pub fn canonical(entry: &Value) -> Result<Vec<Value>, String> {
    match entry {
        Value::Number(n) => Ok(parse_short(&n.to_string())?
            .iter()
            .map(PortSpec::to_value)
            .collect()),
        Value::String(t) => Ok(parse_short(t)?.iter().map(PortSpec::to_value).collect()),
        Value::Mapping(m) => {
            let mut v = parse_long(m)?.to_value();
            // Metadata the engine has no use for, kept for `config` as Compose keeps it.
            for key in ["name", "app_protocol"] {
                if let (Some(text), Value::Mapping(out)) = (m.get(key).and_then(scalar), &mut v) {
                    out.insert(s(key), s(text));
                }
            }
            Ok(vec![v])
        }
        other => Err(format!(
            "a port must be a string, number or mapping, not {}",
            super::value::kind(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortSpec {
        let mut v = parse_short(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v.remove(0)
    }

    #[test]
    fn short_forms() {
        let p = one("80");
        assert_eq!(
            (p.target, p.published.clone(), p.host_ip.clone()),
            (80, None, None)
        );
        let p = one("8080:80/udp");
        assert_eq!(p.published, Some(Published::Single(8080)));
        assert_eq!(p.protocol, "udp");
        let p = one("127.0.0.1:8080:80");
        assert_eq!(p.host_ip.as_deref(), Some("127.0.0.1"));
        let p = one("[::1]:8080:80");
        assert_eq!(p.host_ip.as_deref(), Some("::1"));
        let p = one("127.0.0.1::80");
        assert_eq!(
            (p.published, p.host_ip.as_deref()),
            (None, Some("127.0.0.1"))
        );
        let p = one("9000-9010:80");
        assert_eq!(p.published, Some(Published::Range(9000, 9010)));
    }

    #[test]
    fn ranges_expand() {
        let v = parse_short("8000-8001:80-81").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].target, 81);
        assert_eq!(v[1].published, Some(Published::Single(8001)));
        assert_eq!(parse_short("80-82").unwrap().len(), 3);
    }

    #[test]
    fn bad_specs() {
        for bad in [
            "abc",
            "8000-8002:80-81",
            "1.2.3:80:80",
            "80/icmp",
            "70000",
            "81-80",
            ":80:",
        ] {
            assert!(parse_short(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_form() {
        let m: Mapping =
            serde_yaml::from_str("target: '80'\npublished: '8080'\nname: web\n").unwrap();
        let p = parse_long(&m).unwrap();
        assert_eq!(p.target, 80);
        assert_eq!(p.published, Some(Published::Single(8080)));
        assert_eq!(p.protocol, "tcp");
        let v = p.to_value();
        assert_eq!(PortSpec::merge_key(&v), ":8080:80/tcp");
    }
}
