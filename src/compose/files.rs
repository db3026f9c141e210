//! Finding the compose files (`-f`, `COMPOSE_FILE`, default names searched upwards from the
//! working directory, as compose-go's `cli/options.go` does) and reading one into a YAML value
//! with `<<` merge keys applied.

use std::path::{Component, Path, PathBuf};

use serde_yaml::Value;

use super::error::ComposeError;

/// Default file names, in Compose's order of preference.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// Default override file names, in Compose's order of preference.
pub const DEFAULT_OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// `base.join(p)`, lexically cleaned (`.` and `..` resolved without touching the disk).
pub fn absolute(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("/");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Searches `start` then its parents for a default compose file; returns the file and its
/// override (if any), plus warnings when several candidates exist in one directory.
pub fn find_default(start: &Path) -> Option<(Vec<PathBuf>, Vec<String>)> {
    let mut dir = start.to_path_buf();
    loop {
        let found: Vec<PathBuf> = existing(&dir, &DEFAULT_FILES);
        if let Some(first) = found.first() {
            let mut warnings = Vec::new();
            if found.len() > 1 {
                warnings.push(format!(
                    "Found multiple config files with supported names: {}; using {}",
                    join(&found),
                    first.display()
                ));
            }
            let mut files = vec![first.clone()];
            let overrides = existing(&dir, &DEFAULT_OVERRIDE_FILES);
            if let Some(o) = overrides.first() {
                if overrides.len() > 1 {
                    warnings.push(format!(
                        "Found multiple override files with supported names: {}; using {}",
                        join(&overrides),
                        o.display()
                    ));
                }
                files.push(o.clone());
            }
            return Some((files, warnings));
        }
        if !dir.pop() {
            return None;
        }
    }
}

fn existing(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect()
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads and parses one compose file. An empty file is an empty mapping.
pub fn read_yaml(path: &Path) -> Result<Value, ComposeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ComposeError::FileNotFound {
                path: path.to_path_buf(),
            })
        }
        Err(e) => {
            return Err(ComposeError::Io {
                file: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    parse_yaml(path, &text)
}

/// Parses compose YAML text (`path` is for messages only).
pub fn parse_yaml(path: &Path, text: &str) -> Result<Value, ComposeError> {
    let yaml_err = |e: serde_yaml::Error| {
        let loc = e.location();
        let mut message = e.to_string();
        if message.starts_with("repetition limit exceeded") {
            // serde_yaml stops expanding aliases past 100 times the document's size.
            message =
                "YAML aliases expand beyond docker flow's limit (100 times the file's size): \
                       an alias bomb, or anchors nested too deep"
                    .to_string();
        }
        // serde_yaml appends " at line L column C"; the position is printed separately.
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        ComposeError::Yaml {
            file: path.to_path_buf(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message,
        }
    };
    let mut value: Value = if text.trim().is_empty() {
        Value::Mapping(Default::default())
    } else {
        serde_yaml::from_str(text).map_err(yaml_err)?
    };
    apply_merge(&mut value).map_err(|message| ComposeError::Yaml {
        file: path.to_path_buf(),
        line: None,
        column: None,
        message,
    })?;
    match value {
        Value::Null => Ok(Value::Mapping(Default::default())),
        Value::Mapping(_) => Ok(value),
        other => Err(ComposeError::Yaml {
            file: path.to_path_buf(),
            line: None,
            column: None,
            message: format!(
                "top-level object must be a mapping, not {}",
                super::value::kind(&other)
            ),
        }),
    }
}

/// Applies `<<` merge keys as go-yaml does, innermost first: a mapping merged in may itself use
/// `<<` (an anchor built from other anchors), and in `<<: [*a, *b]` the earlier one wins; keys
/// written in the mapping win over merged ones. (serde_yaml's own `apply_merge` goes top-down
/// and leaves the `<<` of a merged-in anchor behind.)
fn apply_merge(v: &mut Value) -> Result<(), String> {
    match v {
        Value::Mapping(m) => {
            for (_, child) in m.iter_mut() {
                apply_merge(child)?;
            }
            let Some(merge) = m.shift_remove("<<") else {
                return Ok(());
            };
            let sources = match merge {
                Value::Mapping(one) => vec![one],
                Value::Sequence(seq) => seq
                    .into_iter()
                    .map(|item| match item {
                        Value::Mapping(one) => Ok(one),
                        other => Err(format!(
                            "merge key `<<`: list items must be mappings, found {}",
                            super::value::kind(&other)
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Value::Null => vec![],
                other => {
                    return Err(format!(
                        "merge key `<<` must be a mapping or a list of mappings, found {}",
                        super::value::kind(&other)
                    ))
                }
            };
            for source in sources {
                for (k, val) in source {
                    if !m.contains_key(&k) {
                        m.insert(k, val);
                    }
                }
            }
            Ok(())
        }
        Value::Sequence(seq) => seq.iter_mut().try_for_each(apply_merge),
        Value::Tagged(t) => apply_merge(&mut t.value),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_cleans() {
        assert_eq!(
            absolute(Path::new("/a/b"), Path::new("../c/./d.yaml")),
            PathBuf::from("/a/c/d.yaml")
        );
        assert_eq!(
            absolute(Path::new("/a"), Path::new("/x/y")),
            PathBuf::from("/x/y")
        );
    }

    #[test]
    fn yaml_errors_carry_position() {
        let e = parse_yaml(Path::new("/p/compose.yaml"), "services:\n  web: [\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("/p/compose.yaml:"), "{msg}");
        assert!(
            matches!(e, ComposeError::Yaml { line: Some(_), .. }),
            "{msg}"
        );
    }

    #[test]
    fn merge_keys_applied() {
        let v = parse_yaml(
            Path::new("c.yaml"),
            "x-base: &b\n  image: a\n  user: u\nservices:\n  web:\n    <<: *b\n    image: b\n",
        )
        .unwrap();
        assert_eq!(v["services"]["web"]["image"], Value::String("b".into()));
        assert_eq!(v["services"]["web"]["user"], Value::String("u".into()));
    }

    #[test]
    fn merge_keys_inside_anchors_and_lists() {
        let v = parse_yaml(
            Path::new("c.yaml"),
            "x-a: &a\n  image: a\n  user: ua\nx-b: &b\n  user: ub\n  tty: true\n\
             x-c: &c\n  <<: *a\n  restart: always\n\
             services:\n  one:\n    <<: *c\n  two:\n    <<: [*a, *b]\n    image: own\n",
        )
        .unwrap();
        let one = &v["services"]["one"];
        assert_eq!(one["image"], Value::String("a".into()));
        assert_eq!(one["restart"], Value::String("always".into()));
        assert!(one.get("<<").is_none(), "{one:?}");
        let two = &v["services"]["two"];
        assert_eq!(two["image"], Value::String("own".into()));
        assert_eq!(
            two["user"],
            Value::String("ua".into()),
            "the first source wins"
        );
        assert_eq!(two["tty"], Value::Bool(true));
        let e = parse_yaml(Path::new("/p/c.yaml"), "services:\n  a:\n    <<: [x]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/p/c.yaml: merge key `<<`"), "{e}");
    }

    #[test]
    fn alias_bomb_is_refused_naming_the_file() {
        // compose-go's TestAliasBombPrevented "B9_N9_original_poc": 9 levels of 9 aliases.
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        let mut text = String::from("x-a: &a {k: v}\n");
        for pair in names.windows(2) {
            let refs = vec![format!("*{}", pair[0]); 9].join(", ");
            text.push_str(&format!("x-{0}: &{0} [{refs}]\n", pair[1]));
        }
        text.push_str("services:\n  svc:\n    image: alpine\n");
        let started = std::time::Instant::now();
        let e = parse_yaml(Path::new("/p/bomb.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(e.starts_with("/p/bomb.yaml"), "{e}");
        assert!(e.contains("alias bomb"), "{e}");
    }

    #[test]
    fn default_search_walks_up_and_prefers_compose_yaml() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("docker-compose.yml"), "services: {}").unwrap();
        std::fs::write(d.path().join("compose.yaml"), "services: {}").unwrap();
        std::fs::write(d.path().join("docker-compose.override.yml"), "").unwrap();
        let sub = d.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let (files, warnings) = find_default(&sub).unwrap();
        assert_eq!(
            files,
            vec![
                d.path().join("compose.yaml"),
                d.path().join("docker-compose.override.yml")
            ]
        );
        assert_eq!(warnings.len(), 1);
    }
}
