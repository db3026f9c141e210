//! The loader's entry point: options as the CLI gives them, file discovery, the interpolation
//! environment, the project name, and the per-file pipeline (parse, interpolate, canonicalise,
//! include, extends, merge) before `finalize` builds the [`Project`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_yaml::{Mapping, Value};

use super::env::{interpolate, read_env_files};
use super::error::ComposeError;
use super::extends::Extender;
use super::files::{absolute, find_default, read_yaml};
use super::include::{import, parse_includes};
use super::model::Project;
use super::name::{check_imperative_name, normalize_project_name};
use super::normalize::{canonical_service, FileCtx};
use super::value::{scalar, strip_tags};

/// What the CLI knows when it asks for a project.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f`, repeatable, relative to `cwd`. Empty: `COMPOSE_FILE`, then the default names in
    /// `cwd` (or `project_dir`) and its parents.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_dir: Option<PathBuf>,
    /// `--profile`; empty: `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// `--env-file`; empty: `<project dir>/.env` when present.
    pub env_files: Vec<PathBuf>,
    /// The process environment (never read from the process by the loader).
    pub env: HashMap<String, String>,
    /// The working directory relative paths of the options resolve against.
    pub cwd: PathBuf,
}

/// A loaded project and Compose's warnings about how it was found.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<String>,
}

/// Loads the project the options describe, printing Compose's warnings (several default files
/// in one directory) to stderr.
pub fn load(opts: &LoadOptions) -> Result<Project, ComposeError> {
    let loaded = load_with_warnings(opts)?;
    for w in &loaded.warnings {
        eprintln!("WARN {w}");
    }
    Ok(loaded.project)
}

/// Loads the project the options describe, returning warnings instead of printing them.
pub fn load_with_warnings(opts: &LoadOptions) -> Result<Loaded, ComposeError> {
    let cwd = absolute(Path::new("/"), &opts.cwd);
    let mut warnings = Vec::new();
    if opts.files.iter().any(|f| f.as_os_str() == "-") {
        return Err(ComposeError::Stdin);
    }
    let explicit_files: Vec<PathBuf> = opts.files.iter().map(|f| absolute(&cwd, f)).collect();
    let opt_project_dir = opts.project_dir.as_ref().map(|d| absolute(&cwd, d));

    // The environment: env files (explicit, or .env where Compose looks first) under the
    // process environment.
    let env_dir = opt_project_dir
        .clone()
        .or_else(|| {
            explicit_files
                .first()
                .and_then(|f| f.parent().map(Path::to_path_buf))
        })
        .unwrap_or_else(|| cwd.clone());
    let env_file_paths: Vec<PathBuf> = if opts.env_files.is_empty() {
        let dot = env_dir.join(".env");
        if dot.is_file() {
            vec![dot]
        } else {
            vec![]
        }
    } else {
        opts.env_files.iter().map(|f| absolute(&cwd, f)).collect()
    };
    let mut env: HashMap<String, String> = read_env_files(&opts.env, &env_file_paths)?
        .into_iter()
        .collect();
    env.extend(opts.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    // The files.
    let files: Vec<PathBuf> = if !explicit_files.is_empty() {
        explicit_files
    } else if let Some(list) = env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
        let sep = env
            .get("COMPOSE_PATH_SEPARATOR")
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| ":".to_string());
        list.split(sep.as_str())
            .filter(|p| !p.is_empty())
            .map(|p| absolute(&cwd, Path::new(p)))
            .collect()
    } else {
        let start = opt_project_dir.clone().unwrap_or_else(|| cwd.clone());
        let (found, w) = find_default(&start).ok_or(ComposeError::NoConfigFile { dir: start })?;
        warnings.extend(w);
        found
    };
    let project_dir = opt_project_dir.unwrap_or_else(|| {
        files[0]
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.clone())
    });

    let parsed: Vec<(PathBuf, Value)> = files
        .iter()
        .map(|f| read_yaml(f).map(|v| (f.clone(), v)))
        .collect::<Result<_, _>>()?;

    // The project name.
    let name = if let Some(n) = opts.project_name.as_ref().filter(|n| !n.is_empty()) {
        check_imperative_name(n)?;
        n.clone()
    } else if let Some(n) = env.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
        check_imperative_name(n)?;
        n.clone()
    } else {
        let mut from_yaml = String::new();
        for (f, v) in &parsed {
            if let Some(n) = v.get("name").filter(|n| !n.is_null()) {
                let mut n = n.clone();
                let lookup = |k: &str| env.get(k).cloned();
                interpolate(f, &mut n, &lookup)?;
                let n = scalar(&n).unwrap_or_default();
                if !n.is_empty() {
                    from_yaml = n;
                }
            }
        }
        let n = if from_yaml.is_empty() {
            project_dir
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            from_yaml
        };
        normalize_project_name(&n)
    };
    if name.is_empty() {
        return Err(ComposeError::EmptyProjectName);
    }
    env.entry("COMPOSE_PROJECT_NAME".to_string())
        .or_insert_with(|| name.clone());

    let home = env.get("HOME").cloned();
    let mut origins = IndexMap::new();
    let mut included = Vec::new();
    let model = load_model(
        parsed,
        &project_dir,
        &env,
        home.as_deref(),
        &mut included,
        &mut origins,
    )?;

    let profiles = super::profiles::enabled_profiles(
        &opts.profiles,
        env.get("COMPOSE_PROFILES").map(String::as_str),
    );
    let project = super::finalize::build_project(super::finalize::Input {
        model,
        origins,
        name,
        project_dir,
        config_files: files,
        env_files: if opts.env_files.is_empty() {
            vec![]
        } else {
            env_file_paths
        },
        env: &env,
        profiles: &profiles,
    })?;
    Ok(Loaded { project, warnings })
}

const TOP_LEVEL: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "include", "secrets", "configs",
];

/// Loads several files of one project (base directory `base_dir`) into one canonical model,
/// recording in `origins` the last file that defined or changed each service.
pub(crate) fn load_model(
    parsed: Vec<(PathBuf, Value)>,
    base_dir: &Path,
    env: &HashMap<String, String>,
    home: Option<&str>,
    included: &mut Vec<PathBuf>,
    origins: &mut IndexMap<String, PathBuf>,
) -> Result<Mapping, ComposeError> {
    let lookup = |k: &str| env.get(k).cloned();
    let mut load_other = |path: &Path| -> Result<Mapping, ComposeError> {
        let mut v = read_yaml(path)?;
        interpolate(path, &mut v, &lookup)?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        let mut services = match v.as_mapping_mut().and_then(|m| m.shift_remove("services")) {
            Some(Value::Mapping(m)) => m,
            _ => return Err(ComposeError::in_file(path, "no services section to extend")),
        };
        canonical_services(path, dir, home, &mut services)?;
        Ok(services)
    };
    let mut extender = Extender::new(&mut load_other);
    let mut acc = Mapping::new();
    for (file, mut value) in parsed {
        let Value::Mapping(top) = &value else {
            return Err(ComposeError::in_file(
                &file,
                "top-level object must be a mapping",
            ));
        };
        for (k, _) in top {
            let k = scalar(k).unwrap_or_default();
            if !k.starts_with("x-") && !TOP_LEVEL.contains(&k.as_str()) {
                return Err(if k == "models" {
                    ComposeError::unsupported(&file, None, k)
                } else {
                    ComposeError::UnknownKey {
                        file: file.clone(),
                        service: None,
                        key: k,
                    }
                });
            }
        }
        interpolate(&file, &mut value, &lookup)?;
        let Value::Mapping(mut model) = value else {
            unreachable!("checked above")
        };
        model.shift_remove("version");
        super::secrets::resolve_paths(base_dir, home, &mut model);
        let own: Vec<String> = match model.get("services") {
            Some(Value::Mapping(s)) => s.keys().filter_map(scalar).collect(),
            None | Some(Value::Null) => vec![],
            Some(_) => return Err(ComposeError::in_file(&file, "services must be a mapping")),
        };
        if let Some(Value::Mapping(services)) = model.get_mut("services") {
            canonical_services(&file, base_dir, home, services)?;
        }
        for s in own {
            origins.insert(s, file.clone());
        }
        if let Some(inc) = model.shift_remove("include") {
            if included.contains(&file) {
                let mut chain = included.clone();
                chain.push(file.clone());
                return Err(ComposeError::IncludeCycle { chain });
            }
            included.push(file.clone());
            for entry in parse_includes(&file, base_dir, &inc)? {
                if let Some(pos) = included.iter().position(|f| *f == entry.files[0]) {
                    let mut chain = included[pos..].to_vec();
                    chain.push(entry.files[0].clone());
                    return Err(ComposeError::IncludeCycle { chain });
                }
                let env_paths = match &entry.env_files {
                    Some(list) => list.clone(),
                    None => {
                        let dot = entry.project_dir.join(".env");
                        if dot.is_file() {
                            vec![dot]
                        } else {
                            vec![]
                        }
                    }
                };
                let mut inc_env: HashMap<String, String> =
                    read_env_files(env, &env_paths)?.into_iter().collect();
                inc_env.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
                let inc_parsed: Vec<(PathBuf, Value)> = entry
                    .files
                    .iter()
                    .map(|f| read_yaml(f).map(|v| (f.clone(), v)))
                    .collect::<Result<_, _>>()?;
                let mut inc_origins = IndexMap::new();
                let imported = load_model(
                    inc_parsed,
                    &entry.project_dir,
                    &inc_env,
                    home,
                    included,
                    &mut inc_origins,
                )?;
                import(&file, &mut model, imported)?;
                for (s, f) in inc_origins {
                    origins.entry(s).or_insert(f);
                }
            }
            included.pop();
        }
        if let Some(Value::Mapping(services)) = model.get_mut("services") {
            extender.apply(&file, services)?;
        }
        super::merge::merge_model(&mut acc, model);
    }
    let mut v = Value::Mapping(acc);
    strip_tags(&mut v);
    let Value::Mapping(acc) = v else {
        unreachable!()
    };
    Ok(acc)
}

fn canonical_services(
    file: &Path,
    base_dir: &Path,
    home: Option<&str>,
    services: &mut Mapping,
) -> Result<(), ComposeError> {
    let ctx = FileCtx {
        file,
        base_dir,
        home,
    };
    for (name, svc) in services.iter_mut() {
        let name = scalar(name).unwrap_or_default();
        match svc {
            Value::Mapping(m) => canonical_service(&ctx, &name, m)?,
            Value::Null => *svc = Value::Mapping(Mapping::new()),
            Value::Tagged(_) => {}
            other => {
                return Err(ComposeError::in_file(
                    file,
                    format!(
                        "service {name:?} must be a mapping, not {}",
                        super::value::kind(other)
                    ),
                ))
            }
        }
    }
    Ok(())
}
