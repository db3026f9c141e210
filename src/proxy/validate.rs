//! Every value that reaches the HAProxy config or a Runtime API command is checked here: the
//! config is line- and word-oriented, so a CR/LF, a space, a `#` or a quote in a name, path or
//! domain could add directives (`/a\n  server evil 1.2.3.4:80`).

use std::net::IpAddr;

use super::{
    error::ProxyError,
    model::{ProxyModel, ServiceModel},
};
use crate::release::PathType;

/// Service, container and backend names: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 128 characters.
pub fn name(what: &'static str, value: &str) -> Result<(), ProxyError> {
    if value.is_empty() {
        return Err(ProxyError::invalid(what, value, "it is empty"));
    }
    if value.len() > 128 {
        return Err(ProxyError::invalid(
            what,
            value,
            "longer than 128 characters",
        ));
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(ProxyError::invalid(
            what,
            value,
            "it must start with a letter or digit",
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(ProxyError::invalid(
            what,
            value,
            format!(
                "{} is not allowed (letters, digits, '_', '.', '-' only)",
                describe(c)
            ),
        ));
    }
    Ok(())
}

/// A route path: starts with `/` (prefix and exact), printable ASCII, no space, `#`, quote or
/// backslash (regexes may use backslashes, and no `'`: they are rendered single-quoted).
pub fn path(value: &str, kind: PathType) -> Result<(), ProxyError> {
    const WHAT: &str = "route path";
    if value.is_empty() {
        return Err(ProxyError::invalid(WHAT, value, "it is empty"));
    }
    if kind != PathType::Regex && !value.starts_with('/') {
        return Err(ProxyError::invalid(WHAT, value, "it must start with '/'"));
    }
    if value.len() > 1024 {
        return Err(ProxyError::invalid(
            WHAT,
            value,
            "longer than 1024 characters",
        ));
    }
    for c in value.chars() {
        let bad = !c.is_ascii_graphic()
            || matches!(c, '#' | '"' | '\'')
            || (c == '\\' && kind != PathType::Regex);
        if bad {
            return Err(ProxyError::invalid(
                WHAT,
                value,
                format!("{} is not allowed", describe(c)),
            ));
        }
    }
    Ok(())
}

/// A route domain: a host name, optionally `*.` in front, optionally `:port` behind (stripped).
/// Returns the normalized form: lowercase, without the port.
pub fn domain(value: &str) -> Result<String, ProxyError> {
    const WHAT: &str = "route domain";
    let bad = |why: String| Err(ProxyError::invalid(WHAT, value, why));
    if let Some(c) = value.chars().find(|c| !c.is_ascii_graphic()) {
        return bad(format!("{} is not allowed", describe(c)));
    }
    let host = match value.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return bad("':' may only introduce a port number".into()),
        None => value,
    };
    let host = host.to_ascii_lowercase();
    let labels = host.strip_prefix("*.").unwrap_or(&host);
    if labels.is_empty() || labels.len() > 253 {
        return bad("it is not a host name".into());
    }
    for label in labels.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return bad(format!(
                "label {label:?} is not valid (letters, digits, '-'; a leading '*.' for a wildcard)"
            ));
        }
    }
    Ok(host)
}

/// An instance address: an IP address, nothing else (no names: the proxy must not resolve).
pub fn address(value: &str) -> Result<IpAddr, ProxyError> {
    value.parse::<IpAddr>().map_err(|_| {
        ProxyError::invalid(
            "server address",
            value,
            "it must be an IPv4 or IPv6 address",
        )
    })
}

pub fn port(what: &'static str, value: u16) -> Result<(), ProxyError> {
    if value == 0 {
        return Err(ProxyError::invalid(what, "0", "port 0 is not a port"));
    }
    Ok(())
}

/// Everything in a service that reaches the config.
pub fn service(svc: &ServiceModel) -> Result<(), ProxyError> {
    name("service name", &svc.name)?;
    if svc.template.is_none() {
        port("route port", svc.routes.port)?;
    }
    for p in &svc.routes.paths {
        path(p, svc.routes.path_type)?;
    }
    for d in &svc.routes.domains {
        domain(d)?;
    }
    for servers in svc.servers.values() {
        for s in servers {
            name("server (container) name", &s.name)?;
            address(&s.address)?;
            port("server port", s.port)?;
        }
    }
    Ok(())
}

pub fn model(model: &ProxyModel) -> Result<(), ProxyError> {
    let mut seen = std::collections::BTreeSet::new();
    for svc in &model.services {
        service(svc)?;
        if !seen.insert(svc.name.as_str()) {
            return Err(ProxyError::invalid(
                "service name",
                &svc.name,
                "it appears twice in the proxy model",
            ));
        }
    }
    Ok(())
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a line feed".into(),
        '\r' => "a carriage return".into(),
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        c if c.is_control() => format!("control character {:?}", c),
        c => format!("{c:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("n", "demo-web_1.x").is_ok());
        for bad in ["", "-a", "a b", "a\nb", "a#b", "a/b", "a;b", "a'b", "é"] {
            assert!(name("n", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths() {
        assert!(path("/demo", PathType::Prefix).is_ok());
        assert!(path("/a/b-c_d.e?x=1&y=%20", PathType::Exact).is_ok());
        assert!(path("^/api/v[0-9]+\\.json$", PathType::Regex).is_ok());
        let err = path("/a\n  server evil 1.2.3.4:80", PathType::Prefix).unwrap_err();
        assert!(err.to_string().contains("line feed"), "{err}");
        for bad in [
            "demo", "/a b", "/a#b", "/a\"", "/a'", "/a\\b", "/a\rb", "/a\tb", "",
        ] {
            assert!(path(bad, PathType::Prefix).is_err(), "{bad:?}");
        }
        assert!(path("^/a'", PathType::Regex).is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(domain("Example.COM").unwrap(), "example.com");
        assert_eq!(domain("example.com:8080").unwrap(), "example.com");
        assert_eq!(domain("*.example.com").unwrap(), "*.example.com");
        for bad in [
            "exa mple.com",
            "example.com\n",
            "a..b",
            "-a.com",
            "a.com:x",
            "*",
            "a.*.com",
            "a#b",
            "",
            "a\"b",
        ] {
            assert!(domain(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses() {
        assert!(address("192.0.2.1").is_ok());
        assert!(address("fd00::1").is_ok());
        for bad in ["evil.example.com", "1.2.3.4:80", "1.2.3.4 backup", ""] {
            assert!(address(bad).is_err(), "{bad:?}");
        }
    }
}
