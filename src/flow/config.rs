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
/// never printed).
pub fn to_document(project: &Project) -> Value {
    let services: Map<String, Value> = project
        .services
        .iter()
        .map(|(name, svc)| {
            let mut v = serde_json::to_value(&svc.spec).expect("serialize a service");
            if let (Value::Object(fields), Value::Object(extras)) = (
                &mut v,
                prune(serde_json::to_value(&svc.extras).expect("serialize extras")),
            ) {
                fields.extend(extras);
            }
            (name.clone(), v)
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("name".into(), project.name.clone().into());
    doc.insert("services".into(), services.into());
    for (key, value) in [
        ("networks", serde_json::to_value(&project.networks)),
        ("volumes", serde_json::to_value(&project.volumes)),
        ("secrets", serde_json::to_value(&project.secrets)),
        ("configs", serde_json::to_value(&project.configs)),
    ] {
        let value = prune(value.expect("serialize top-level resources"));
        if value.as_object().is_some_and(|m| !m.is_empty()) {
            doc.insert(key.into(), value);
        }
    }
    Value::Object(doc)
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
