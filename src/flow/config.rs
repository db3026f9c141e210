//! `docker flow config`: the compose project as docker flow loaded it, like `docker compose config`
//! (merged, interpolated, profiles applied, normalised), so users see what a deploy would use.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::cli::{ComposeArgs, ConfigArgs, ConfigFormat, UsageError};
use crate::compose::{self, LoadOptions, Project};
use crate::error::Error;

pub fn run(args: &ConfigArgs) -> Result<(), Error> {
    let project = compose::load(&load_options(&args.compose)?)?;
    if args.services {
        for name in project.services.keys() {
            println!("{name}");
        }
        return Ok(());
    }
    let doc = to_document(&project);
    match args.format {
        ConfigFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON of a project")
        ),
        ConfigFormat::Yaml => print!(
            "{}",
            serde_yaml::to_string(&doc).expect("YAML of a project")
        ),
    }
    Ok(())
}

/// The loader's options from the command line and this process's environment and directory.
pub fn load_options(args: &ComposeArgs) -> Result<LoadOptions, Error> {
    let cwd = std::env::current_dir()
        .map_err(|e| UsageError(format!("cannot read the current directory: {e}")))?;
    Ok(LoadOptions {
        files: args.files.clone(),
        project_name: args.project.clone(),
        project_dir: args.project_directory.clone(),
        profiles: args.profiles.clone(),
        env_files: args.env_files.clone(),
        env: std::env::vars().collect::<HashMap<_, _>>(),
        cwd,
    })
}

/// `docker compose config`'s shape: name, services (with the extra keys beside the typed ones),
/// networks, volumes, secrets and configs under their keys (an environment source's value is
/// never printed). It is valid Compose that `docker compose` loads back to the same project:
/// no `null` where Compose wants a string, `$` written `$$`, secrets in Compose's own form.
pub fn to_document(project: &Project) -> Value {
    let services: Map<String, Value> = project
        .services
        .iter()
        .map(|(name, svc)| {
            let mut v = service_document(svc);
            // The image name docker flow gives a built service is its own default, not the
            // file's: left out, as Compose leaves it out.
            let default_image = format!("{}-{name}", project.name);
            if svc.spec.build_.is_some() && svc.spec.image.as_deref() == Some(&default_image) {
                if let Value::Object(m) = &mut v {
                    m.remove("image");
                }
            }
            (name.clone(), v)
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("name".into(), project.name.clone().into());
    doc.insert("services".into(), services.into());
    let mut networks = serde_json::to_value(&project.networks).expect("serialize networks");
    for (key, net) in &project.networks {
        for (i, range) in net.ip_ranges.iter().enumerate() {
            if let (Some(range), Some(cfg)) = (
                range,
                networks.pointer_mut(&format!("/{}/ipam/config/{i}", escape_pointer(key))),
            ) {
                cfg["ip_range"] = range.clone().into();
            }
        }
    }
    for (key, value) in [
        ("networks", networks),
        (
            "volumes",
            serde_json::to_value(&project.volumes).expect("serialize volumes"),
        ),
        ("secrets", objects(&project.secrets)),
        ("configs", objects(&project.configs)),
    ] {
        let value = prune(value);
        if value.as_object().is_some_and(|m| !m.is_empty()) {
            doc.insert(key.into(), value);
        }
    }
    escape_dollars(Value::Object(doc))
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// One service: the typed keys, the extras beside them, the keys passed on as written merged
/// back where the file had them; a service's secret drops the resolved `file` (not a Compose key).
fn service_document(svc: &crate::compose::Service) -> Value {
    let mut v = serde_json::to_value(&svc.spec).expect("serialize a service");
    let mut extras = svc.extras.clone();
    let passed = std::mem::take(&mut extras.passed);
    for r in extras.secrets.iter_mut().chain(extras.configs.iter_mut()) {
        r.file = None;
    }
    if let (Value::Object(fields), Value::Object(extras)) = (
        &mut v,
        prune(serde_json::to_value(&extras).expect("serialize extras")),
    ) {
        fields.extend(extras);
    }
    if let Some(Value::Array(volumes)) = v.get_mut("volumes") {
        // `bind: {propagation: null}` is not Compose: unset options are left out.
        for vol in volumes.iter_mut() {
            for key in ["bind", "volume", "tmpfs"] {
                if let Some(opts) = vol.get_mut(key) {
                    *opts = prune(opts.take());
                }
            }
        }
    }
    if let Some(Value::Object(networks)) = v.get_mut("networks") {
        // An attachment with no settings is `null` in Compose (`{}` means the same).
        for cfg in networks.values_mut() {
            if cfg.as_object().is_some_and(|m| m.is_empty()) {
                *cfg = Value::Null;
            }
        }
    }
    deep_merge(&mut v, Value::Object(passed));
    v
}

/// Merges `over` into `base`: objects by key, arrays element by element.
fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => deep_merge(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => {
            for (bv, v) in b.iter_mut().zip(o) {
                deep_merge(bv, v);
            }
        }
        (b, o) => *b = o,
    }
}

/// Top-level secrets or configs in Compose's form: `name` and one of `file`, `environment`,
/// `content`, `external: true`.
fn objects(objects: &indexmap::IndexMap<String, crate::compose::FileObject>) -> Value {
    use crate::compose::FileSource;
    objects
        .iter()
        .map(|(key, o)| {
            let mut m = Map::new();
            m.insert("name".into(), o.name.clone().into());
            match &o.source {
                FileSource::File(p) => m.insert("file".into(), p.display().to_string().into()),
                FileSource::Environment { variable, .. } => {
                    m.insert("environment".into(), variable.clone().into())
                }
                FileSource::Content(c) => m.insert("content".into(), c.clone().into()),
                FileSource::External => m.insert("external".into(), true.into()),
            };
            if !o.labels.is_empty() {
                m.insert(
                    "labels".into(),
                    serde_json::to_value(&o.labels).expect("labels"),
                );
            }
            (key.clone(), Value::Object(m))
        })
        .collect::<Map<_, _>>()
        .into()
}

/// Every `$` in a string written `$$`, so that loading the output again does not interpolate
/// what was already interpolated (as `docker compose config` writes it).
fn escape_dollars(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains('$') => Value::String(s.replace('$', "$$")),
        Value::Array(a) => Value::Array(a.into_iter().map(escape_dollars).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, v)| (k, escape_dollars(v))).collect())
        }
        other => other,
    }
}

/// Drops nulls, `false`, empty lists and empty maps, so output shows only what was set.
fn prune(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, prune(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{load, LoadOptions};

    fn doc(yaml: &str, files: &[(&str, &str)]) -> Value {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("compose.yaml"), yaml).unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        let project = load(&LoadOptions {
            project_name: Some("rt".into()),
            cwd: d.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        to_document(&project)
    }

    #[test]
    fn output_is_compose_that_loads_back() {
        let v = doc(
            "services:\n  a:\n    image: alpine\n    command: echo $$HOME\n    \
             volumes: ['./d:/d:z']\n    secrets: [s]\n    gpus: all\n    \
             ports: [{target: 80, name: web, app_protocol: http}]\n    \
             deploy: {update_config: {order: start-first}}\n\
             secrets:\n  s: {file: ./s.txt}\n",
            &[("s.txt", "x")],
        );
        let a = &v["services"]["a"];
        assert_eq!(a["command"][1], "$$HOME");
        let bind = a["volumes"][0]["bind"].as_object().unwrap();
        assert!(bind.values().all(|v| !v.is_null()), "{bind:?}");
        assert_eq!(bind["selinux"], "z");
        assert_eq!(a["secrets"][0], serde_json::json!({"source": "s"}));
        assert_eq!(a["gpus"], "all");
        assert_eq!(a["ports"][0]["name"], "web");
        assert_eq!(a["ports"][0]["app_protocol"], "http");
        assert_eq!(a["deploy"]["update_config"]["order"], "start-first");
        let s = &v["secrets"]["s"];
        assert!(s["file"].as_str().unwrap().ends_with("/s.txt"), "{s}");
        assert!(s.get("source").is_none(), "{s}");
    }
}
