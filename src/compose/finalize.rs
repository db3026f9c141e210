//! From the merged canonical model to the [`Project`]: profiles, `env_file` contents and bare
//! environment variables resolved, the implicit `default` network, default image names,
//! `ServiceExtras` taken out, typing with docker-compose-types, engine names of networks and
//! volumes, and Compose's consistency checks (undefined services, networks, volumes,
//! `depends_on` cycles).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use docker_compose_types as dct;
use indexmap::IndexMap;
use serde_yaml::{Mapping, Value};

use super::env::read_env_file;
use super::error::ComposeError;
use super::model::{Network, Project, Service, ServiceExtras, Volume};
use super::normalize::string_map;
use super::profiles::is_active;
use super::value::{kind, s, scalar};

pub(crate) struct Input<'a> {
    pub model: Mapping,
    pub origins: IndexMap<String, PathBuf>,
    pub name: String,
    pub project_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    pub env_files: Vec<PathBuf>,
    pub env: &'a HashMap<String, String>,
    pub profiles: &'a [String],
}

pub(crate) fn build_project(input: Input) -> Result<Project, ComposeError> {
    let Input {
        mut model,
        origins,
        name,
        project_dir,
        config_files,
        env_files,
        env,
        profiles,
    } = input;
    let main_file = config_files[0].clone();
    let file_of = |svc: &str| {
        origins
            .get(svc)
            .cloned()
            .unwrap_or_else(|| main_file.clone())
    };

    let services = match model.shift_remove("services") {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    };
    if services.is_empty() && !model.contains_key("networks") && !model.contains_key("volumes") {
        return Err(ComposeError::in_file(&main_file, "empty compose file"));
    }

    // Profiles.
    let mut active: IndexMap<String, Mapping> = IndexMap::with_capacity(services.len());
    let mut all_names: HashSet<String> = HashSet::with_capacity(services.len());
    for (k, v) in services {
        let svc_name = scalar(&k).unwrap_or_default();
        all_names.insert(svc_name.clone());
        let Value::Mapping(m) = v else { continue };
        let svc_profiles: Vec<String> = m
            .get("profiles")
            .and_then(Value::as_sequence)
            .map(|seq| seq.iter().filter_map(scalar).collect())
            .unwrap_or_default();
        if is_active(&svc_profiles, profiles) {
            active.insert(svc_name, m);
        }
    }

    let networks_decl = section(&mut model, "networks", &main_file)?;
    let volumes_decl = section(&mut model, "volumes", &main_file)?;
    let objects_decl: [IndexMap<String, Value>; 2] = [
        section(&mut model, "secrets", &main_file)?,
        section(&mut model, "configs", &main_file)?,
    ];
    // The declared objects active services use, resolved as the first one refers to them (a
    // missing file of an unused one is no error: Compose ignores what nothing uses).
    let mut objects: [IndexMap<String, crate::compose::FileObject>; 2] = Default::default();

    let mut out_services: IndexMap<String, Service> = IndexMap::with_capacity(active.len());
    let mut uses_default = false;
    let active_names: HashSet<String> = active.keys().cloned().collect();
    for (svc_name, mut m) in active {
        let file = file_of(&svc_name);
        resolve_environment(&file, &svc_name, &mut m, env)?;
        // depends_on: only active services; a required dependency that is not active is
        // Compose's "undefined service".
        if let Some(Value::Mapping(deps)) = m.get_mut("depends_on") {
            let mut kept = Mapping::new();
            for (d, cfg) in std::mem::take(deps) {
                let dn = scalar(&d).unwrap_or_default();
                if active_names.contains(&dn) {
                    kept.insert(d, cfg);
                    continue;
                }
                let required = cfg.get("required").and_then(Value::as_bool).unwrap_or(true);
                if required || !all_names.contains(&dn) {
                    return Err(ComposeError::Invalid {
                        file: file.clone(),
                        message: format!(
                            "service {svc_name:?} depends on undefined service {dn:?}: invalid compose project"
                        ),
                    });
                }
            }
            *deps = kept;
        }
        if let Some(mode) = m.get("network_mode").and_then(scalar) {
            if let Some(other) = mode.strip_prefix("service:") {
                if !active_names.contains(other) {
                    return Err(ComposeError::Invalid {
                        file: file.clone(),
                        message: format!(
                            "service {svc_name:?} uses network_mode of undefined service {other:?}: invalid compose project"
                        ),
                    });
                }
            }
        } else {
            let empty = match m.get("networks") {
                None | Some(Value::Null) => true,
                Some(Value::Mapping(n)) => n.is_empty(),
                _ => false,
            };
            if empty {
                let mut n = Mapping::new();
                n.insert(s("default"), Value::Null);
                m.insert(s("networks"), Value::Mapping(n));
            }
        }
        if let Some(Value::Mapping(nets)) = m.get("networks") {
            for (n, _) in nets {
                let n = scalar(n).unwrap_or_default();
                if n == "default" {
                    uses_default = true;
                }
                if n != "default" && !networks_decl.contains_key(n.as_str()) {
                    return Err(ComposeError::Invalid {
                        file: file.clone(),
                        message: format!(
                            "service {svc_name:?} refers to undefined network {n}: invalid compose project"
                        ),
                    });
                }
            }
        }
        if let Some(Value::Sequence(vols)) = m.get("volumes") {
            for v in vols {
                if v.get("type").and_then(Value::as_str) == Some("volume") {
                    if let Some(src) = v.get("source").and_then(scalar) {
                        if !volumes_decl.contains_key(src.as_str()) {
                            return Err(ComposeError::Invalid {
                                file: file.clone(),
                                message: format!(
                                    "service {svc_name:?} refers to undefined volume {src}: invalid compose project"
                                ),
                            });
                        }
                    }
                }
            }
        }
        if m.contains_key("build") && m.get("image").is_none_or(Value::is_null) {
            m.insert(s("image"), s(format!("{name}-{svc_name}")));
        }
        let mut service = type_service(&file, &svc_name, m, env)?;
        for (i, section_name) in super::secrets::SECTIONS.into_iter().enumerate() {
            let refs = if i == 0 {
                &mut service.extras.secrets
            } else {
                &mut service.extras.configs
            };
            for r in refs.iter() {
                if objects[i].contains_key(&r.source) {
                    continue;
                }
                if let Some(v) = objects_decl[i].get(&r.source) {
                    let o =
                        super::secrets::object(&main_file, &name, section_name, &r.source, v, env)?;
                    objects[i].insert(r.source.clone(), o);
                }
            }
            super::secrets::link(&file, &svc_name, section_name, refs, &objects[i])?;
        }
        out_services.insert(svc_name, service);
    }

    check_cycles(&out_services)?;

    // Like Compose, only resources some active service uses are part of the project.
    let mut used_networks: HashSet<String> = HashSet::new();
    let mut used_volumes: HashSet<String> = HashSet::new();
    for svc in out_services.values() {
        if let dct::Networks::Advanced(n) = &svc.spec.networks {
            used_networks.extend(n.0.keys().cloned());
        }
        for v in &svc.spec.volumes {
            if let dct::Volumes::Advanced(a) = v {
                if a._type == "volume" {
                    used_volumes.extend(a.source.clone());
                }
            }
        }
    }
    let mut networks = IndexMap::new();
    for (k, v) in networks_decl {
        if used_networks.contains(&k) {
            networks.insert(k.clone(), network(&main_file, &name, &k, &v)?);
        }
    }
    if uses_default && !networks.contains_key("default") {
        networks.insert(
            "default".to_string(),
            network(&main_file, &name, "default", &Value::Null)?,
        );
    }
    let mut volumes = IndexMap::new();
    for (k, v) in volumes_decl {
        if used_volumes.contains(&k) {
            volumes.insert(k.clone(), volume(&main_file, &name, &k, &v)?);
        }
    }

    // In declaration order, as Compose keeps them.
    let [secrets_decl, configs_decl] = objects_decl;
    let [mut secret_objects, mut config_objects] = objects;
    let order = |decl: IndexMap<String, Value>, found: &mut IndexMap<String, _>| {
        decl.keys()
            .filter_map(|k| found.shift_remove(k).map(|o| (k.clone(), o)))
            .collect::<IndexMap<_, _>>()
    };
    let secrets = order(secrets_decl, &mut secret_objects);
    let configs = order(configs_decl, &mut config_objects);

    Ok(Project {
        name,
        working_dir: project_dir,
        config_files,
        env_files,
        services: out_services,
        networks,
        volumes,
        secrets,
        configs,
    })
}

fn section(
    model: &mut Mapping,
    key: &str,
    file: &Path,
) -> Result<IndexMap<String, Value>, ComposeError> {
    match model.shift_remove(key) {
        None | Some(Value::Null) => Ok(IndexMap::new()),
        Some(Value::Mapping(m)) => Ok(m
            .into_iter()
            .map(|(k, v)| (scalar(&k).unwrap_or_default(), v))
            .collect()),
        Some(other) => Err(ComposeError::in_file(
            file,
            format!("{key} must be a mapping, not {}", kind(&other)),
        )),
    }
}

/// `env_file` contents under `environment`, bare variables from the environment (kept
/// without a value when unset), build args likewise (dropped when unset).
fn resolve_environment(
    file: &Path,
    svc: &str,
    m: &mut Mapping,
    env: &HashMap<String, String>,
) -> Result<(), ComposeError> {
    let mut merged = Mapping::new();
    if let Some(Value::Sequence(files)) = m.shift_remove("env_file") {
        let lookup = |k: &str| env.get(k).cloned();
        for f in files {
            let path = PathBuf::from(f.get("path").and_then(scalar).unwrap_or_default());
            let required = f.get("required").and_then(Value::as_bool).unwrap_or(true);
            match read_env_file(&path, &lookup) {
                Ok(vars) => {
                    for (k, v) in vars {
                        merged.insert(s(k), s(v));
                    }
                }
                Err(ComposeError::EnvFileNotFound { .. }) if !required => {}
                Err(ComposeError::EnvFileNotFound { path }) => {
                    return Err(ComposeError::ServiceEnvFileNotFound {
                        file: file.to_path_buf(),
                        service: svc.to_string(),
                        path,
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }
    if let Some(Value::Mapping(own)) = m.shift_remove("environment") {
        for (k, v) in own {
            merged.insert(k, v);
        }
    }
    let mut resolved = Mapping::new();
    for (k, v) in merged {
        match v {
            // Unset: kept without a value, as Compose keeps it (the engine gets the bare name).
            Value::Null => {
                let val = scalar(&k).and_then(|k| env.get(&k).cloned());
                resolved.insert(k, val.map(s).unwrap_or(Value::Null));
            }
            other => {
                resolved.insert(k, other);
            }
        }
    }
    m.insert(s("environment"), Value::Mapping(resolved));
    if let Some(Value::Mapping(build)) = m.get_mut("build") {
        if let Some(Value::Mapping(args)) = build.get_mut("args") {
            let taken = std::mem::take(args);
            for (k, v) in taken {
                match v {
                    Value::Null => {
                        if let Some(val) = scalar(&k).and_then(|k| env.get(&k).cloned()) {
                            args.insert(k, s(val));
                        }
                    }
                    other => {
                        args.insert(k, other);
                    }
                }
            }
        }
    }
    Ok(())
}

fn type_service(
    file: &Path,
    name: &str,
    mut m: Mapping,
    _env: &HashMap<String, String>,
) -> Result<Service, ComposeError> {
    let err = |key: &str, message: String| ComposeError::value(file, name, key, message);
    m.shift_remove("extends");
    let mut extras = ServiceExtras {
        passed: take_passed(&mut m).map_err(|e| err("(passed on)", e))?,
        ..ServiceExtras::default()
    };
    let int = |key: &str, v: &Value| -> Result<i64, ComposeError> {
        match v {
            Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
            other => scalar(other)
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| err(key, format!("expected an integer, found {}", kind(other)))),
        }
    };
    let text = |v: &Value| scalar(v).unwrap_or_default();
    for key in super::normalize::EXTRAS {
        let Some(v) = m.shift_remove(*key) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        match *key {
            "platform" => extras.platform = Some(text(&v)),
            "cpus" => {
                extras.cpus = Some(
                    v.as_f64()
                        .or_else(|| scalar(&v).and_then(|t| t.parse().ok()))
                        .ok_or_else(|| {
                            err("cpus", format!("expected a number, found {}", kind(&v)))
                        })?,
                )
            }
            "cpu_shares" => extras.cpu_shares = Some(int(key, &v)?),
            "cpu_quota" => extras.cpu_quota = Some(int(key, &v)?),
            "cpu_period" => extras.cpu_period = Some(int(key, &v)?),
            "cpuset" => extras.cpuset = Some(text(&v)),
            "pids_limit" => extras.pids_limit = Some(int(key, &v)?),
            "oom_score_adj" => extras.oom_score_adj = Some(int(key, &v)?),
            "oom_kill_disable" => {
                extras.oom_kill_disable = Some(v.as_bool().unwrap_or(text(&v) == "true"))
            }
            "memswap_limit" => {
                extras.memswap_limit = Some(if text(&v) == "-1" {
                    -1
                } else {
                    super::volumes::parse_bytes(&v).map_err(|e| err(key, e))? as i64
                })
            }
            "mac_address" => extras.mac_address = Some(text(&v)),
            "dns_search" => {
                extras.dns_search = v
                    .as_sequence()
                    .map(|seq| seq.iter().filter_map(scalar).collect())
                    .unwrap_or_default()
            }
            "storage_opt" | "annotations" => {
                let map: IndexMap<String, String> = string_map(&v, false)
                    .map_err(|e| err(key, e))?
                    .iter()
                    .map(|(k, v)| (text(k), text(v)))
                    .collect();
                if *key == "storage_opt" {
                    extras.storage_opt = map;
                } else {
                    extras.annotations = map;
                }
            }
            "device_cgroup_rules" => {
                extras.device_cgroup_rules = v
                    .as_sequence()
                    .map(|seq| seq.iter().filter_map(scalar).collect())
                    .unwrap_or_default()
            }
            "uts" => extras.uts = Some(text(&v)),
            "secrets" => extras.secrets = super::secrets::refs(&v),
            "configs" => extras.configs = super::secrets::refs(&v),
            "cgroup" => extras.cgroup = Some(text(&v)),
            _ => {}
        }
    }
    if let Some(Value::Mapping(deploy)) = m.get_mut("deploy") {
        if let Some(Value::Mapping(labels)) = deploy.get("labels") {
            let list: Vec<Value> = labels
                .iter()
                .map(|(k, v)| s(format!("{}={}", text(k), text(v))))
                .collect();
            deploy.insert(s("labels"), Value::Sequence(list));
        }
        if let Some(Value::Mapping(res)) = deploy.get_mut("resources") {
            if let Some(Value::Mapping(limits)) = res.get_mut("limits") {
                if let Some(p) = limits.shift_remove("pids") {
                    let p = int("deploy.resources.limits.pids", &p)?;
                    extras.pids_limit.get_or_insert(p);
                }
            }
        }
    }
    let value = Value::Mapping(m);
    let mut spec = <dct::Service as serde::Deserialize>::deserialize(&value)
        .map_err(|e| typing_error(file, name, &value, &e.to_string()))?;
    // One form per key, whatever the untagged enums picked for empty values.
    if spec.ports.is_empty() {
        spec.ports = dct::Ports::Long(vec![]);
    }
    if spec.environment.is_empty() {
        spec.environment = dct::Environment::KvPair(IndexMap::new());
    }
    if spec.labels.is_empty() {
        spec.labels = dct::Labels::Map(IndexMap::new());
    }
    if spec.sysctls.is_empty() {
        spec.sysctls = dct::SysCtls::Map(IndexMap::new());
    }
    if spec.networks.is_empty() {
        spec.networks = dct::Networks::Advanced(dct::AdvancedNetworks(IndexMap::new()));
    }
    if spec.depends_on.is_empty() {
        spec.depends_on = dct::DependsOnOptions::Conditional(IndexMap::new());
    }
    spec.env_file = None;
    Ok(Service {
        name: name.to_string(),
        spec,
        extras,
        file: file.to_path_buf(),
    })
}

/// A service docker-compose-types cannot type, told without serde's words: the key at fault
/// (found by typing one key at a time) and, for an unknown field, its path under that key.
fn typing_error(file: &Path, name: &str, svc: &Value, serde_message: &str) -> ComposeError {
    let culprit = svc.as_mapping().into_iter().flatten().find(|(k, v)| {
        let mut one = Mapping::new();
        one.insert((*k).clone(), (*v).clone());
        <dct::Service as serde::Deserialize>::deserialize(&Value::Mapping(one)).is_err()
    });
    let Some((key, v)) = culprit else {
        return ComposeError::value(file, name, "(service)", "not a valid service definition");
    };
    let key = scalar(key).unwrap_or_default();
    let unknown = serde_message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(field, _)| field.to_string());
    match unknown {
        Some(field) => {
            let path = find_key(v, &field).unwrap_or(field);
            ComposeError::unsupported(file, Some(name), format!("{key}.{path}"))
        }
        None => ComposeError::value(
            file,
            name,
            key,
            format!("{} is not a form Compose accepts here", kind(v)),
        ),
    }
}

/// The dotted path of the first mapping key `wanted` under `v`.
fn find_key(v: &Value, wanted: &str) -> Option<String> {
    match v {
        Value::Mapping(m) => m.iter().find_map(|(k, child)| {
            let k = scalar(k)?;
            if k == wanted {
                Some(k)
            } else {
                find_key(child, wanted).map(|p| format!("{k}.{p}"))
            }
        }),
        Value::Sequence(seq) => seq
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_key(item, wanted).map(|p| format!("{i}.{p}"))),
        _ => None,
    }
}

/// Takes out of a service the keys docker flow passes on as written (docker-compose-types has
/// no field for them), nested as in the file.
fn take_passed(m: &mut Mapping) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    use super::normalize::{PASSED, PASSED_BUILD, PASSED_NETWORK};
    let json = |v: &Value| serde_json::to_value(v).map_err(|e| e.to_string());
    let take = |from: &mut Mapping, keys: &[&str]| -> Result<serde_json::Map<_, _>, String> {
        let mut out = serde_json::Map::new();
        for k in keys {
            if let Some(v) = from.shift_remove(*k) {
                out.insert(k.to_string(), json(&v)?);
            }
        }
        Ok(out)
    };
    let mut out = take(m, PASSED)?;
    if let Some(Value::Mapping(build)) = m.get_mut("build") {
        let b = take(build, PASSED_BUILD)?;
        if !b.is_empty() {
            out.insert("build".into(), b.into());
        }
    }
    if let Some(Value::Mapping(update)) =
        m.get_mut("deploy").and_then(|d| d.get_mut("update_config"))
    {
        let u = take(update, &["order"])?;
        if !u.is_empty() {
            out.insert("deploy".into(), serde_json::json!({ "update_config": u }));
        }
    }
    if let Some(Value::Mapping(nets)) = m.get_mut("networks") {
        let mut n = serde_json::Map::new();
        for (name, cfg) in nets.iter_mut() {
            if let Value::Mapping(cfg) = cfg {
                let c = take(cfg, PASSED_NETWORK)?;
                if !c.is_empty() {
                    n.insert(scalar(name).unwrap_or_default(), c.into());
                }
            }
        }
        if !n.is_empty() {
            out.insert("networks".into(), n.into());
        }
    }
    if let Some(Value::Sequence(ports)) = m.get_mut("ports") {
        let mut any = false;
        let mut list = Vec::with_capacity(ports.len());
        for p in ports.iter_mut() {
            let meta = match p {
                Value::Mapping(p) => take(p, &["name", "app_protocol"])?,
                _ => serde_json::Map::new(),
            };
            any |= !meta.is_empty();
            list.push(serde_json::Value::Object(meta));
        }
        if any {
            out.insert("ports".into(), list.into());
        }
    }
    Ok(out)
}

fn check_cycles(services: &IndexMap<String, Service>) -> Result<(), ComposeError> {
    // 0 = unvisited, 1 = on the stack, 2 = done.
    fn visit<'a>(
        n: &'a str,
        services: &'a IndexMap<String, Service>,
        state: &mut HashMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Result<(), ComposeError> {
        match state.get(n) {
            Some(2) => return Ok(()),
            Some(1) => {
                let pos = stack.iter().position(|s| *s == n).unwrap_or(0);
                let mut cycle: Vec<String> = stack[pos..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                let file = services.get(n).map(|s| s.file.clone()).unwrap_or_default();
                return Err(ComposeError::DependencyCycle { file, cycle });
            }
            _ => {}
        }
        state.insert(n, 1);
        stack.push(n);
        if let Some(svc) = services.get(n) {
            if let dct::DependsOnOptions::Conditional(deps) = &svc.spec.depends_on {
                for d in deps.keys() {
                    if let Some((k, _)) = services.get_key_value(d.as_str()) {
                        visit(k, services, state, stack)?;
                    }
                }
            }
        }
        stack.pop();
        state.insert(n, 2);
        Ok(())
    }
    let mut state = HashMap::with_capacity(services.len());
    let mut stack = Vec::new();
    for n in services.keys() {
        visit(n, services, &mut state, &mut stack)?;
    }
    Ok(())
}

fn bool_of(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(other) => scalar(other).as_deref() == Some("true"),
        None => false,
    }
}

fn string_map_of(
    file: &Path,
    what: &str,
    v: Option<&Value>,
) -> Result<IndexMap<String, String>, ComposeError> {
    match v {
        None | Some(Value::Null) => Ok(IndexMap::new()),
        Some(v) => Ok(string_map(v, false)
            .map_err(|e| ComposeError::in_file(file, format!("{what}: {e}")))?
            .iter()
            .map(|(k, v)| (scalar(k).unwrap_or_default(), scalar(v).unwrap_or_default()))
            .collect()),
    }
}

/// `external: true` / `external: {name: x}` (legacy) -> (external, legacy name).
fn external(v: Option<&Value>) -> (bool, Option<String>) {
    match v {
        Some(Value::Mapping(m)) => (true, m.get("name").and_then(scalar)),
        other => (bool_of(other), None),
    }
}

/// A top-level network or volume entry: a mapping (or null) holding only `allowed` keys.
fn resource_mapping<'a>(
    file: &Path,
    section: &str,
    key: &str,
    v: &'a Value,
    allowed: &[&str],
) -> Result<std::borrow::Cow<'a, Mapping>, ComposeError> {
    let m = match v {
        Value::Mapping(m) => std::borrow::Cow::Borrowed(m),
        Value::Null => std::borrow::Cow::Owned(Mapping::new()),
        other => {
            return Err(ComposeError::in_file(
                file,
                format!("{section}.{key} must be a mapping, not {}", kind(other)),
            ))
        }
    };
    for (k, _) in m.iter() {
        let k = scalar(k).unwrap_or_default();
        if !k.starts_with("x-") && !allowed.contains(&k.as_str()) {
            return Err(ComposeError::unsupported(
                file,
                None,
                format!("{section}.{key}.{k}"),
            ));
        }
    }
    Ok(m)
}

/// The engine's name for a network or volume: `name:` (or the legacy `external.name`), else the
/// key for an external one, else `<project>_<key>`; and whether it is external.
fn engine_name(project: &str, key: &str, m: &Mapping) -> (String, bool) {
    let (is_external, legacy) = external(m.get("external"));
    let name = m
        .get("name")
        .and_then(scalar)
        .or(legacy)
        .unwrap_or_else(|| {
            if is_external {
                key.to_string()
            } else {
                format!("{project}_{key}")
            }
        });
    (name, is_external)
}

fn network(file: &Path, project: &str, key: &str, v: &Value) -> Result<Network, ComposeError> {
    let m = resource_mapping(
        file,
        "networks",
        key,
        v,
        &[
            "name",
            "external",
            "driver",
            "driver_opts",
            "attachable",
            "internal",
            "enable_ipv6",
            "labels",
            "ipam",
        ],
    )?;
    let (name, is_external) = engine_name(project, key, &m);
    // `ip_range` is kept beside the typed IPAM (docker-compose-types has no field for it).
    let mut ip_ranges = Vec::new();
    let mut ipam_value = m.get("ipam").cloned();
    if let Some(Value::Sequence(configs)) = ipam_value
        .as_mut()
        .and_then(|i| i.as_mapping_mut())
        .and_then(|i| i.get_mut("config"))
    {
        for c in configs.iter_mut() {
            ip_ranges.push(
                c.as_mapping_mut()
                    .and_then(|c| c.shift_remove("ip_range"))
                    .and_then(|r| scalar(&r)),
            );
        }
    }
    let ipam = match &ipam_value {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_yaml::from_value::<dct::Ipam>(v.clone()).map_err(|e| {
            let e = e.to_string();
            let field = e
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split_once('`'))
                .and_then(|(f, _)| find_key(v, f));
            match field {
                Some(path) => {
                    ComposeError::unsupported(file, None, format!("networks.{key}.ipam.{path}"))
                }
                None => ComposeError::in_file(
                    file,
                    format!("networks.{key}.ipam: not a form Compose accepts"),
                ),
            }
        })?),
    };
    Ok(Network {
        name,
        external: is_external,
        driver: m.get("driver").and_then(scalar),
        driver_opts: string_map_of(
            file,
            &format!("networks.{key}.driver_opts"),
            m.get("driver_opts"),
        )?,
        attachable: bool_of(m.get("attachable")),
        internal: bool_of(m.get("internal")),
        enable_ipv6: bool_of(m.get("enable_ipv6")),
        labels: string_map_of(file, &format!("networks.{key}.labels"), m.get("labels"))?,
        ipam,
        ip_ranges,
    })
}

fn volume(file: &Path, project: &str, key: &str, v: &Value) -> Result<Volume, ComposeError> {
    let m = resource_mapping(
        file,
        "volumes",
        key,
        v,
        &["name", "external", "driver", "driver_opts", "labels"],
    )?;
    let (name, is_external) = engine_name(project, key, &m);
    Ok(Volume {
        name,
        external: is_external,
        driver: m.get("driver").and_then(scalar),
        driver_opts: string_map_of(
            file,
            &format!("volumes.{key}.driver_opts"),
            m.get("driver_opts"),
        )?,
        labels: string_map_of(file, &format!("volumes.{key}.labels"), m.get("labels"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_errors_name_the_key_path_without_serde_words() {
        let svc: Value =
            serde_yaml::from_str("image: a\ndeploy: {update_config: {orderr: x}}").unwrap();
        let e = <dct::Service as serde::Deserialize>::deserialize(&svc).unwrap_err();
        let msg = typing_error(Path::new("/p/c.yaml"), "web", &svc, &e.to_string()).to_string();
        assert_eq!(
            msg,
            "/p/c.yaml: service \"web\": key \"deploy.update_config.orderr\" is not supported by docker flow"
        );
        let svc: Value = serde_yaml::from_str("image: a\nlogging: 5").unwrap();
        let e = <dct::Service as serde::Deserialize>::deserialize(&svc).unwrap_err();
        let msg = typing_error(Path::new("/p/c.yaml"), "web", &svc, &e.to_string()).to_string();
        assert!(msg.contains("service \"web\": logging: a number"), "{msg}");
        assert!(
            !msg.contains("variant") && !msg.contains("untagged"),
            "{msg}"
        );
    }
}
