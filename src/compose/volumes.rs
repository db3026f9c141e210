//! Service `volumes:` entries to the long form: the short syntax `[source:]target[:options]`
//! (a source starting with `.`, `/` or `~` is a bind mount, anything else a named volume, as
//! compose-go decides) and long mappings; relative bind sources become absolute against the
//! file's base directory and `~` expands to `HOME`.

use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::value::{clean_path, s, scalar};

/// Resolves a bind source: `~` / `~/x` against `home`, relative against `base`.
pub fn resolve_bind_source(source: &str, base: &Path, home: Option<&str>) -> String {
    let expanded = if source == "~" {
        home.unwrap_or("~").to_string()
    } else if let (Some(rest), Some(h)) = (source.strip_prefix("~/"), home) {
        format!("{}/{}", h.trim_end_matches('/'), rest)
    } else {
        source.to_string()
    };
    let windows_absolute = {
        let b = expanded.as_bytes();
        b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/')
    };
    if expanded.starts_with('/') || windows_absolute {
        // Compose keeps an absolute source as written (only a joined relative one is cleaned).
        expanded
    } else {
        clean_path(&format!("{}/{}", base.display(), expanded))
    }
}

fn is_file_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
}

/// Parses the short syntax.
pub fn parse_short(spec: &str, base: &Path, home: Option<&str>) -> Result<Mapping, String> {
    if spec.is_empty() {
        return Err("invalid empty volume spec".into());
    }
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "invalid volume spec {spec:?}: empty section between colons"
        ));
    }
    if parts.len() > 3 {
        return Err(format!("invalid volume spec {spec:?}: too many colons"));
    }
    let mut m = Mapping::new();
    if parts.len() == 1 {
        m.insert(s("type"), s("volume"));
        m.insert(s("target"), s(clean_path(parts[0])));
        return Ok(m);
    }
    let (source, target) = (parts[0], parts[1]);
    let mut read_only = false;
    let mut nocopy = false;
    let mut propagation = None;
    let mut selinux = None;
    if let Some(opts) = parts.get(2) {
        for o in opts.split(',') {
            match o {
                "ro" => read_only = true,
                "rw" => read_only = false,
                "nocopy" => nocopy = true,
                "z" | "Z" => selinux = Some(o.to_string()),
                "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                    propagation = Some(o.to_string())
                }
                other => return Err(format!("invalid volume option {other:?} in {spec:?}")),
            }
        }
    }
    if is_file_path(source) {
        m.insert(s("type"), s("bind"));
        m.insert(s("source"), s(resolve_bind_source(source, base, home)));
        m.insert(s("target"), s(clean_path(target)));
        if read_only {
            m.insert(s("read_only"), Value::Bool(true));
        }
        let mut bind = Mapping::new();
        if let Some(p) = propagation {
            bind.insert(s("propagation"), s(p));
        }
        // Short syntax creates a missing host path (docker-compose v1 behaviour Compose keeps).
        bind.insert(s("create_host_path"), Value::Bool(true));
        if let Some(z) = selinux {
            bind.insert(s("selinux"), s(z));
        }
        m.insert(s("bind"), Value::Mapping(bind));
    } else {
        m.insert(s("type"), s("volume"));
        m.insert(s("source"), s(source));
        m.insert(s("target"), s(clean_path(target)));
        if read_only {
            m.insert(s("read_only"), Value::Bool(true));
        }
        if nocopy {
            let mut vol = Mapping::new();
            vol.insert(s("nocopy"), Value::Bool(true));
            m.insert(s("volume"), Value::Mapping(vol));
        }
    }
    Ok(m)
}

/// Byte sizes as Compose writes them (`64m`, `1g`, `1024`, `1.5gb`).
pub fn parse_bytes(v: &Value) -> Result<u64, String> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    let text = scalar(v).ok_or_else(|| "expected a size".to_string())?;
    let t = text.trim().to_lowercase();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let num: f64 = num.parse().map_err(|_| format!("invalid size {text:?}"))?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("invalid size {text:?}")),
    };
    Ok((num * mult as f64) as u64)
}

/// Canonicalises a long-syntax mapping; `Err((key, message))` names the offending attribute.
pub fn canonical_long(
    m: &Mapping,
    base: &Path,
    home: Option<&str>,
) -> Result<Mapping, (String, String)> {
    let unsupported = |k: &str| {
        (
            format!("volumes.{k}"),
            "not supported by docker flow".into(),
        )
    };
    let mut out = Mapping::new();
    let ty = m.get("type").and_then(scalar).ok_or_else(|| {
        (
            "volumes".to_string(),
            "a long-syntax volume needs `type`".into(),
        )
    })?;
    if !matches!(ty.as_str(), "bind" | "volume" | "tmpfs") {
        return Err((
            format!("volumes.type: {ty}"),
            "not supported by docker flow".into(),
        ));
    }
    let target = m
        .get("target")
        .and_then(scalar)
        .ok_or_else(|| ("volumes".to_string(), "a volume needs `target`".into()))?;
    out.insert(s("type"), s(ty.clone()));
    if let Some(src) = m.get("source").and_then(scalar).filter(|s| !s.is_empty()) {
        let src = if ty == "bind" {
            resolve_bind_source(&src, base, home)
        } else {
            src
        };
        out.insert(s("source"), s(src));
    } else if ty == "bind" {
        return Err(("volumes".into(), "a bind mount needs `source`".into()));
    }
    out.insert(s("target"), s(clean_path(&target)));
    for (k, v) in m {
        let k = scalar(k).unwrap_or_default();
        match k.as_str() {
            "type" | "source" | "target" => {}
            // Docker Desktop for Mac only; no effect on a Linux engine.
            "consistency" => {}
            "read_only" => {
                let ro = match v {
                    Value::Bool(b) => *b,
                    other => scalar(other).as_deref() == Some("true"),
                };
                if ro {
                    out.insert(s("read_only"), Value::Bool(true));
                }
            }
            "bind" => {
                let mut b = Mapping::new();
                for (bk, bv) in v.as_mapping().into_iter().flatten() {
                    let bk = scalar(bk).unwrap_or_default();
                    match bk.as_str() {
                        "propagation" | "selinux" => {
                            b.insert(s(bk), s(scalar(bv).unwrap_or_default()));
                        }
                        "create_host_path" => {
                            b.insert(
                                s(bk),
                                Value::Bool(
                                    bv.as_bool()
                                        .unwrap_or(scalar(bv).as_deref() == Some("true")),
                                ),
                            );
                        }
                        other => return Err(unsupported(&format!("bind.{other}"))),
                    }
                }
                out.insert(s("bind"), Value::Mapping(b));
            }
            "volume" => {
                let mut b = Mapping::new();
                for (vk, vv) in v.as_mapping().into_iter().flatten() {
                    let vk = scalar(vk).unwrap_or_default();
                    match vk.as_str() {
                        "nocopy" => {
                            b.insert(
                                s(vk),
                                Value::Bool(
                                    vv.as_bool()
                                        .unwrap_or(scalar(vv).as_deref() == Some("true")),
                                ),
                            );
                        }
                        "subpath" => {
                            b.insert(s(vk), s(scalar(vv).unwrap_or_default()));
                        }
                        other => return Err(unsupported(&format!("volume.{other}"))),
                    }
                }
                out.insert(s("volume"), Value::Mapping(b));
            }
            "tmpfs" => {
                let mut b = Mapping::new();
                for (tk, tv) in v.as_mapping().into_iter().flatten() {
                    let tk = scalar(tk).unwrap_or_default();
                    match tk.as_str() {
                        "size" => {
                            let n =
                                parse_bytes(tv).map_err(|e| ("volumes.tmpfs.size".into(), e))?;
                            b.insert(s("size"), Value::from(n));
                        }
                        other => return Err(unsupported(&format!("tmpfs.{other}"))),
                    }
                }
                out.insert(s("tmpfs"), Value::Mapping(b));
            }
            other => return Err(unsupported(other)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Option<&str> = Some("/home/u");

    fn short(spec: &str) -> Mapping {
        parse_short(spec, Path::new("/proj"), HOME).unwrap()
    }

    #[test]
    fn short_bind_named_anonymous() {
        let m = short("./data:/data:ro");
        assert_eq!(m["type"], s("bind"));
        assert_eq!(m["source"], s("/proj/data"));
        assert_eq!(m["read_only"], Value::Bool(true));
        let m = short("~/x:/x");
        assert_eq!(m["source"], s("/home/u/x"));
        let m = short("../up:/up/");
        assert_eq!(m["source"], s("/up"));
        assert_eq!(m["target"], s("/up"));
        let m = short("data:/var/lib/data");
        assert_eq!(m["type"], s("volume"));
        assert_eq!(m["source"], s("data"));
        let m = short("/anon");
        assert_eq!(m["type"], s("volume"));
        assert!(m.get("source").is_none());
    }

    #[test]
    fn short_errors() {
        assert!(parse_short("a::b", Path::new("/"), None).is_err());
        assert!(parse_short("a:b:ro:x", Path::new("/"), None).is_err());
        assert!(parse_short("a:/b:bogus", Path::new("/"), None).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes(&s("64m")).unwrap(), 64 << 20);
        assert_eq!(parse_bytes(&Value::from(1024)).unwrap(), 1024);
        assert_eq!(parse_bytes(&s("1.5g")).unwrap(), 3 << 29);
        assert!(parse_bytes(&s("lots")).is_err());
    }

    #[test]
    fn long_resolves_and_rejects() {
        let m: Mapping =
            serde_yaml::from_str("type: bind\nsource: ./src\ntarget: /app\nread_only: true")
                .unwrap();
        let c = canonical_long(&m, Path::new("/p"), None).unwrap();
        assert_eq!(c["source"], s("/p/src"));
        let m: Mapping = serde_yaml::from_str("type: npipe\nsource: x\ntarget: /y").unwrap();
        assert!(canonical_long(&m, Path::new("/p"), None).is_err());
        let m: Mapping =
            serde_yaml::from_str("type: tmpfs\ntarget: /t\ntmpfs: {size: 1k}").unwrap();
        let c = canonical_long(&m, Path::new("/p"), None).unwrap();
        assert_eq!(c["tmpfs"]["size"], Value::from(1024u64));
    }

    #[test]
    fn absolute_bind_source_kept_as_written() {
        assert_eq!(
            resolve_bind_source("/etc/pihole/", Path::new("/p"), None),
            "/etc/pihole/"
        );
        assert_eq!(resolve_bind_source("./d/", Path::new("/p"), None), "/p/d");
        // A Windows-absolute source (a Docker Desktop file) is not joined to the directory.
        assert_eq!(
            resolve_bind_source("Z:\\some-dir", Path::new("/p"), None),
            "Z:\\some-dir"
        );
    }
}
