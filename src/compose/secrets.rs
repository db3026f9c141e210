//! `secrets:` and `configs:`, on services and at the top level, as Compose reads them: a
//! service's short (`- key`) and long (`source`, `target`, `uid`, `gid`, `mode`) forms; top-level
//! `file:` (relative to the defining file's directory), `environment:`, `content:` (configs),
//! `external:`, `name:`, `labels:`. Problems Compose would only meet when it creates the
//! container (an undefined key, a missing file, an unset variable) are load errors here: bad
//! input found before anything is created.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_yaml::{Mapping, Value};

use super::error::ComposeError;
use super::model::{FileObject, FileRef, FileSource};
use super::normalize::string_map;
use super::value::{kind, s, scalar};
use super::volumes::resolve_bind_source;

/// The two top-level sections, with the service key of the same name.
pub(crate) const SECTIONS: [&str; 2] = ["secrets", "configs"];

/// A service's `secrets:`/`configs:` in the canonical long form (a list of mappings).
pub(crate) fn canonical_refs(v: &Value) -> Result<Value, String> {
    let Value::Sequence(seq) = v else {
        return Err(format!("expected a list, found {}", kind(v)));
    };
    let mut out = Vec::with_capacity(seq.len());
    for item in seq {
        let mut m = Mapping::new();
        match item {
            Value::Mapping(long) => {
                for (k, v) in long {
                    let k = scalar(k).unwrap_or_default();
                    match k.as_str() {
                        "source" | "target" | "uid" | "gid" => {
                            let t = scalar(v).ok_or_else(|| {
                                format!("{k}: expected a string, found {}", kind(v))
                            })?;
                            m.insert(s(k), s(t));
                        }
                        "mode" => {
                            m.insert(s("mode"), Value::from(mode(v)?));
                        }
                        x if x.starts_with("x-") => {}
                        other => return Err(format!("unknown key {other:?}")),
                    }
                }
                if !m.contains_key("source") {
                    return Err("an entry has no source".into());
                }
            }
            other => {
                let name = scalar(other).filter(|n| !n.is_empty()).ok_or_else(|| {
                    format!("expected a name or a mapping, found {}", kind(other))
                })?;
                m.insert(s("source"), s(name));
            }
        }
        out.push(Value::Mapping(m));
    }
    Ok(Value::Sequence(out))
}

/// compose-go's file mode: a number as written (`0o440`, `288`), a string in octal (`"0440"`;
/// YAML 1.2 reads an unquoted `0440` as a string too, and Compose's YAML as octal).
fn mode(v: &Value) -> Result<u32, String> {
    let bad = || format!("mode: expected a file mode (like 0440), found {v:?}");
    let m = match v {
        Value::Number(n) => n.as_u64().ok_or_else(bad)?,
        other => {
            let t = scalar(other).ok_or_else(bad)?;
            let t = t.strip_prefix("0o").unwrap_or(&t).to_string();
            u64::from_str_radix(&t, 8).map_err(|_| bad())?
        }
    };
    if m > 0o7777 {
        return Err(bad());
    }
    Ok(m as u32)
}

/// The typed refs of a canonical list.
pub(crate) fn refs(v: &Value) -> Vec<FileRef> {
    let text = |e: &Value, k: &str| e.get(k).and_then(scalar);
    v.as_sequence()
        .into_iter()
        .flatten()
        .map(|e| FileRef {
            source: text(e, "source").unwrap_or_default(),
            target: text(e, "target"),
            uid: text(e, "uid"),
            gid: text(e, "gid"),
            mode: e.get("mode").and_then(Value::as_u64).map(|m| m as u32),
            file: None,
        })
        .collect()
}

/// Makes the top-level `file:` paths of one file absolute against its base directory (before
/// files merge, where the directory is still known).
pub(crate) fn resolve_paths(base_dir: &Path, home: Option<&str>, model: &mut Mapping) {
    for section in SECTIONS {
        let Some(Value::Mapping(entries)) = model.get_mut(section) else {
            continue;
        };
        for (_, entry) in entries.iter_mut() {
            let Value::Mapping(m) = entry else { continue };
            if let Some(f) = m.get("file").and_then(scalar) {
                m.insert(s("file"), s(resolve_bind_source(&f, base_dir, home)));
            }
        }
    }
}

/// Checks the service's refs against the declared objects (an undefined key is bad input, as
/// in Compose) and records the file of file-based ones in each ref.
pub(crate) fn link(
    file: &Path,
    service: &str,
    section: &str,
    refs: &mut [FileRef],
    declared: &IndexMap<String, FileObject>,
) -> Result<(), ComposeError> {
    for r in refs {
        let Some(object) = declared.get(&r.source) else {
            return Err(ComposeError::Invalid {
                file: file.to_path_buf(),
                message: format!(
                    "service {service:?} refers to undefined {} {:?}: invalid compose project",
                    &section[..section.len() - 1],
                    r.source
                ),
            });
        };
        if let FileSource::File(p) = &object.source {
            r.file = Some(p.clone());
        }
    }
    Ok(())
}

/// One top-level entry `<section>.<key>`, resolved. `file` names the compose file in errors.
pub(crate) fn object(
    file: &Path,
    project: &str,
    section: &str,
    key: &str,
    v: &Value,
    env: &HashMap<String, String>,
) -> Result<FileObject, ComposeError> {
    let at = format!("{section}.{key}");
    let err = |m: String| ComposeError::in_file(file, format!("{at}: {m}"));
    let empty = Mapping::new();
    let m = match v {
        Value::Mapping(m) => m,
        Value::Null => &empty,
        other => return Err(err(format!("must be a mapping, not {}", kind(other)))),
    };
    let allowed: &[&str] = if section == "configs" {
        &[
            "name",
            "external",
            "file",
            "environment",
            "content",
            "labels",
        ]
    } else {
        &["name", "external", "file", "environment", "labels"]
    };
    for (k, _) in m {
        let k = scalar(k).unwrap_or_default();
        if !k.starts_with("x-") && !allowed.contains(&k.as_str()) {
            return Err(ComposeError::unsupported(file, None, format!("{at}.{k}")));
        }
    }
    let (external, legacy_name) = match m.get("external") {
        Some(Value::Mapping(e)) => (true, e.get("name").and_then(scalar)),
        Some(Value::Bool(b)) => (*b, None),
        Some(other) => (scalar(other).as_deref() == Some("true"), None),
        None => (false, None),
    };
    let sources: Vec<&str> = ["file", "environment", "content"]
        .into_iter()
        .filter(|k| m.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    let source = match (external, sources.as_slice()) {
        (true, []) => FileSource::External,
        (true, [k]) => return Err(err(format!("external and {k} cannot go together"))),
        (false, []) => {
            return Err(err(format!(
                "needs one of file, environment{} or external",
                if section == "configs" {
                    ", content"
                } else {
                    ""
                }
            )))
        }
        (false, [k]) => {
            let text = scalar(&m[*k]).unwrap_or_default();
            match *k {
                "file" => {
                    let path = PathBuf::from(&text);
                    if !path.is_file() {
                        return Err(err(format!("file {text} not found")));
                    }
                    FileSource::File(path)
                }
                "environment" => {
                    let value = env
                        .get(&text)
                        .cloned()
                        .ok_or_else(|| err(format!("environment variable {text} is not set")))?;
                    FileSource::Environment {
                        variable: text,
                        value,
                    }
                }
                _ => FileSource::Content(text),
            }
        }
        (_, many) => return Err(err(format!("{} cannot go together", many.join(" and ")))),
    };
    let name = m
        .get("name")
        .and_then(scalar)
        .or(legacy_name)
        .unwrap_or_else(|| {
            if external {
                key.to_string()
            } else {
                format!("{project}_{key}")
            }
        });
    let labels = match m.get("labels") {
        None | Some(Value::Null) => IndexMap::new(),
        Some(l) => string_map(l, false)
            .map_err(|e| err(format!("labels: {e}")))?
            .iter()
            .map(|(k, v)| (scalar(k).unwrap_or_default(), scalar(v).unwrap_or_default()))
            .collect(),
    };
    Ok(FileObject {
        name,
        source,
        labels,
    })
}

#[cfg(test)]
mod tests;
