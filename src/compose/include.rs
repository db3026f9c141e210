//! `include`: other compose projects imported into this one. Each entry is a path (or a list:
//! a file and its overrides), optionally with `project_directory` and `env_file`; relative
//! paths resolve against the including project's directory. Each included project is loaded
//! with its own directory (for its relative paths) and its own `.env` (the including
//! environment wins). A service, network or volume defined twice is an error, as in Compose.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::error::ComposeError;
use super::files::absolute;
use super::value::scalar;

/// One parsed `include` entry, paths absolute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Include {
    pub files: Vec<PathBuf>,
    pub project_dir: PathBuf,
    /// Explicit env files; `None` means the default `<project_dir>/.env` when present.
    pub env_files: Option<Vec<PathBuf>>,
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Sequence(seq) => seq.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Parses the `include` section of `file`, whose project directory is `base_dir`.
pub(crate) fn parse_includes(
    file: &Path,
    base_dir: &Path,
    v: &Value,
) -> Result<Vec<Include>, ComposeError> {
    let bad = |m: &str| ComposeError::in_file(file, format!("include: {m}"));
    let Value::Sequence(entries) = v else {
        return Err(bad("must be a list"));
    };
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let (paths, project_directory, env_file) = match e {
            Value::Mapping(m) => {
                for (k, _) in m {
                    let k = scalar(k).unwrap_or_default();
                    if !matches!(k.as_str(), "path" | "project_directory" | "env_file") {
                        return Err(bad(&format!("unknown attribute {k:?}")));
                    }
                }
                (
                    m.get("path")
                        .and_then(strings)
                        .ok_or_else(|| bad("an entry needs `path`"))?,
                    m.get("project_directory").and_then(scalar),
                    m.get("env_file").map(|v| strings(v).unwrap_or_default()),
                )
            }
            other => (
                vec![scalar(other).ok_or_else(|| bad("entries must be paths or mappings"))?],
                None,
                None,
            ),
        };
        if paths.is_empty() {
            return Err(bad("an entry needs at least one path"));
        }
        let files: Vec<PathBuf> = paths
            .iter()
            .map(|p| absolute(base_dir, Path::new(p)))
            .collect();
        let project_dir = match project_directory {
            Some(d) => absolute(base_dir, Path::new(&d)),
            None => files[0].parent().unwrap_or(Path::new("/")).to_path_buf(),
        };
        let env_files = env_file.map(|fs| {
            fs.iter()
                .filter(|f| f.as_str() != "/dev/null")
                .map(|f| absolute(base_dir, Path::new(f)))
                .collect()
        });
        out.push(Include {
            files,
            project_dir,
            env_files,
        });
    }
    Ok(out)
}

/// Imports an included model's services, networks and volumes into `target`.
pub(crate) fn import(
    file: &Path,
    target: &mut Mapping,
    imported: Mapping,
) -> Result<(), ComposeError> {
    for (section, content) in imported {
        let Some(name) = section.as_str() else {
            continue;
        };
        if !matches!(
            name,
            "services" | "networks" | "volumes" | "secrets" | "configs"
        ) {
            continue;
        }
        let Value::Mapping(content) = content else {
            continue;
        };
        let to = super::value::mapping_mut(target, name)
            .ok_or_else(|| ComposeError::in_file(file, format!("{name} must be a mapping")))?;
        for (k, v) in content {
            if to.contains_key(&k) {
                return Err(ComposeError::in_file(
                    file,
                    format!(
                        "{name}.{} conflicts with imported resource",
                        scalar(&k).unwrap_or_default()
                    ),
                ));
            }
            to.insert(k, v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_short_and_long() {
        let v: Value = serde_yaml::from_str(
            "- a/compose.yaml\n- {path: [b/c.yaml, b/o.yaml], project_directory: pd, env_file: [x.env, /dev/null]}",
        )
        .unwrap();
        let inc = parse_includes(Path::new("/p/compose.yaml"), Path::new("/p"), &v).unwrap();
        assert_eq!(inc[0].files, vec![PathBuf::from("/p/a/compose.yaml")]);
        assert_eq!(inc[0].project_dir, PathBuf::from("/p/a"));
        assert_eq!(inc[0].env_files, None);
        assert_eq!(inc[1].files.len(), 2);
        assert_eq!(inc[1].project_dir, PathBuf::from("/p/pd"));
        assert_eq!(inc[1].env_files, Some(vec![PathBuf::from("/p/x.env")]));
    }

    #[test]
    fn conflicts_are_errors() {
        let mut target: Mapping = serde_yaml::from_str("services: {a: {image: x}}").unwrap();
        let imported: Mapping =
            serde_yaml::from_str("services: {b: {image: y}}\nnetworks: {n: null}").unwrap();
        import(Path::new("/p/c.yaml"), &mut target, imported).unwrap();
        assert!(target["services"].get("b").is_some());
        let again: Mapping = serde_yaml::from_str("services: {a: {image: z}}").unwrap();
        let e = import(Path::new("/p/c.yaml"), &mut target, again).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/p/c.yaml: services.a conflicts with imported resource"
        );
    }
}
