//! Compose conformance: every fixture under tests/fixtures/conformance is brought up once with
//! the real `docker compose up -d` (project A) and once with docker flow's loader + `up_service`
//! (project B); the normalised `docker inspect` of each pair of containers must be equal.
//! Also: keys that cannot be honoured fail before anything is created, `up_service` is
//! idempotent and recreates on change, and `build:` goes through the engine.
//!
//! Needs the test bed (`scripts/testbed.sh up`).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use bollard::Docker;
use common::{bed, docker, docker_ok, stderr, unique, Cleanup};
use docker_flow::compose::{self, LoadOptions, Project};
use docker_flow::engine::{self, UpOptions};
use serde_json::{json, Map, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance")
}

/// One conformance case: a fixture directory, how to load it and what to bring up.
struct Case {
    dir: &'static str,
    files: &'static [&'static str],
    env_files: &'static [&'static str],
    profiles: &'static [&'static str],
    services: &'static [&'static str],
}

const fn case(dir: &'static str, services: &'static [&'static str]) -> Case {
    Case {
        dir,
        files: &["compose.yaml"],
        env_files: &[],
        profiles: &[],
        services,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("web-db-cache", &["web"]),
        Case {
            files: &["compose.yaml", "compose.prod.yaml"],
            ..case("multi-file", &["api"])
        },
        case("env-files", &["app"]),
        Case {
            dir: "env-files",
            env_files: &["custom.env"],
            ..case("env-files", &["app"])
        },
        Case {
            profiles: &["debug"],
            ..case("profiles", &["debug"])
        },
        case("extends", &["worker", "front"]),
        case("long-syntax", &["app"]),
        case(
            "healthchecks",
            &["custom", "exec-form", "disabled", "inherited"],
        ),
        case("volumes-networks", &["app", "peer"]),
        case("kernel-knobs", &["tuned"]),
        case("resources", &["limited", "deployed"]),
        case("logging", &["logged", "quiet"]),
        case("process-settings", &["proc"]),
        case("network-aliases", &["gateway", "backend"]),
        case("depends-conditions", &["app"]),
        case("host-settings", &["net"]),
        case("shared-namespaces", &["sidecar"]),
        case("scale", &["worker"]),
    ]
}

/// Removes everything labelled with a project, also when the test panics.
struct ProjectGuard(Vec<String>);

impl ProjectGuard {
    fn sweep(project: &str) {
        let host = &bed().docker_host;
        let label = format!("label=com.docker.compose.project={project}");
        let ids = docker_ok(&["-H", host, "ps", "-aq", "--filter", &label]);
        for id in ids.split_whitespace() {
            let _ = docker(&["-H", host, "rm", "-f", "-v", id]);
        }
        let nets = docker_ok(&["-H", host, "network", "ls", "-q", "--filter", &label]);
        for n in nets.split_whitespace() {
            let _ = docker(&["-H", host, "network", "rm", n]);
        }
        let vols = docker_ok(&["-H", host, "volume", "ls", "-q", "--filter", &label]);
        for v in vols.split_whitespace() {
            let _ = docker(&["-H", host, "volume", "rm", "-f", v]);
        }
    }
}

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        for p in &self.0 {
            ProjectGuard::sweep(p);
        }
    }
}

/// The environment both tools see: the process's, plus the fixtures' variables.
fn fixture_env(extra: &HashMap<String, String>) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| !k.starts_with("COMPOSE_"))
        .collect();
    env.insert("DOCKER_HOST".into(), bed().docker_host.clone());
    env.extend(extra.clone());
    env
}

async fn connect() -> Docker {
    Docker::connect_with_host(&bed().docker_host)
        .expect("bollard client")
        .negotiate_version()
        .await
        .expect("negotiate the API version")
}

fn load(case: &Case, project: &str, env: &HashMap<String, String>) -> Project {
    let dir = fixtures().join(case.dir);
    compose::load(&LoadOptions {
        files: case.files.iter().map(PathBuf::from).collect(),
        project_name: Some(project.into()),
        project_dir: None,
        profiles: case.profiles.iter().map(|s| s.to_string()).collect(),
        env_files: case.env_files.iter().map(|f| dir.join(f)).collect(),
        env: env.clone(),
        cwd: dir,
    })
    .unwrap_or_else(|e| panic!("load {}: {e}", case.dir))
}

fn compose_up(case: &Case, project: &str, env: &HashMap<String, String>) -> Result<(), String> {
    let dir = fixtures().join(case.dir);
    let mut cmd = Command::new("docker");
    cmd.current_dir(&dir).env_clear().envs(env);
    cmd.args(["compose", "-p", project]);
    for f in case.files {
        cmd.args(["-f", f]);
    }
    for e in case.env_files {
        cmd.arg("--env-file").arg(dir.join(e));
    }
    for p in case.profiles {
        cmd.args(["--profile", p]);
    }
    cmd.args(["up", "-d", "--quiet-pull"]).args(case.services);
    let out = cmd
        .output()
        .map_err(|e| format!("run docker compose: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr(&out))
    }
}

/// `docker inspect` of every container of a project.
fn inspect_project(project: &str) -> Vec<Value> {
    let host = &bed().docker_host;
    let label = format!("label=com.docker.compose.project={project}");
    let ids = docker_ok(&["-H", host, "ps", "-aq", "--filter", &label]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["-H", host.as_str(), "inspect"];
    args.extend(ids);
    serde_json::from_str(&docker_ok(&args)).expect("inspect JSON")
}

fn is_short_id(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Drops what carries no meaning (null, "", 0, false, [], {}) so that "unset" and "zero" agree.
fn prune(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let m: Map<String, Value> = m
                .into_iter()
                .map(|(k, v)| (k, prune(v)))
                .filter(|(_, v)| !v.is_null())
                .collect();
            if m.is_empty() {
                Value::Null
            } else {
                Value::Object(m)
            }
        }
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Array(a) => Value::Array(a.into_iter().map(prune).collect()),
        Value::String(s) if s.is_empty() => Value::Null,
        Value::Bool(false) => Value::Null,
        Value::Number(n) if n.as_f64() == Some(0.0) => Value::Null,
        other => other,
    }
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Array(a) => {
            let mut a = a.clone();
            a.sort_by_key(|x| x.to_string());
            Value::Array(a)
        }
        other => other.clone(),
    }
}

/// The compared fields of one container, with project names and container IDs replaced.
fn normalise(c: &Value, project: &str, names: &HashMap<String, String>) -> BTreeMap<String, Value> {
    let text = c.to_string().replace(project, "<P>");
    let mut c: Value = serde_json::from_str(&text).unwrap();
    // container:<id> and volumes_from IDs → names
    let by_name = |s: &str| -> String {
        let (pre, id) = s.split_once(':').map_or(("", s), |(p, i)| (p, i));
        let (id, mode) = id.split_once(':').map_or((id, ""), |(i, m)| (i, m));
        match names.get(id) {
            Some(n) => format!(
                "{pre}{}{n}{}{mode}",
                if pre.is_empty() { "" } else { ":" },
                if mode.is_empty() { "" } else { ":" }
            ),
            None => s.to_string(),
        }
    };
    for key in ["NetworkMode", "IpcMode", "PidMode"] {
        if let Some(Value::String(s)) = c["HostConfig"].get(key).cloned() {
            c["HostConfig"][key] = Value::String(by_name(&s));
        }
    }
    if let Some(Value::Array(a)) = c["HostConfig"].get("VolumesFrom").cloned() {
        c["HostConfig"]["VolumesFrom"] = Value::Array(
            a.iter()
                .map(|v| Value::String(by_name(v.as_str().unwrap_or(""))))
                .collect(),
        );
    }
    let mut f = BTreeMap::new();
    let cfg = &c["Config"];
    let hc = &c["HostConfig"];
    f.insert("Name".into(), c["Name"].clone());
    for k in [
        "Image",
        "Cmd",
        "Entrypoint",
        "User",
        "WorkingDir",
        "Healthcheck",
        "Tty",
        "OpenStdin",
        "StopSignal",
        "StopTimeout",
        "Domainname",
        "AttachStdout",
        "AttachStderr",
    ] {
        f.insert(format!("Config.{k}"), cfg[k].clone());
    }
    let hostname = cfg["Hostname"].as_str().unwrap_or("");
    if !is_short_id(hostname) {
        f.insert("Config.Hostname".into(), json!(hostname));
    }
    f.insert("Config.Env".into(), sorted(&cfg["Env"]));
    let ports: Vec<&String> = cfg["ExposedPorts"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    f.insert("Config.ExposedPorts".into(), json!(ports));
    let mut labels = cfg["Labels"].as_object().cloned().unwrap_or_default();
    for drop in ["com.docker.compose.config-hash", "com.docker.flow.version"] {
        labels.remove(drop);
    }
    if let Some(Value::String(d)) = labels.get("com.docker.compose.depends_on").cloned() {
        let mut items: Vec<&str> = d.split(',').collect();
        items.sort();
        labels.insert(
            "com.docker.compose.depends_on".into(),
            json!(items.join(",")),
        );
    }
    f.insert("Config.Labels".into(), Value::Object(labels));
    for k in [
        "Binds",
        "PortBindings",
        "RestartPolicy",
        "Sysctls",
        "Tmpfs",
        "Memory",
        "MemoryReservation",
        "MemorySwap",
        "MemorySwappiness",
        "NanoCpus",
        "CpuShares",
        "CpuQuota",
        "CpuPeriod",
        "CpusetCpus",
        "PidsLimit",
        "Init",
        "LogConfig",
        "Privileged",
        "ReadonlyRootfs",
        "ShmSize",
        "NetworkMode",
        "IpcMode",
        "PidMode",
        "OomScoreAdj",
        "UsernsMode",
        "CgroupParent",
        "Runtime",
        "Devices",
        "VolumesFrom",
        "DeviceRequests",
        "MaskedPaths",
        "ReadonlyPaths",
    ] {
        f.insert(format!("HostConfig.{k}"), hc[k].clone());
    }
    for k in [
        "CapAdd",
        "CapDrop",
        "ExtraHosts",
        "Dns",
        "DnsOptions",
        "DnsSearch",
        "SecurityOpt",
        "GroupAdd",
        "Ulimits",
    ] {
        f.insert(format!("HostConfig.{k}"), sorted(&hc[k]));
    }
    let mut mounts = hc["Mounts"].as_array().cloned().unwrap_or_default();
    mounts.sort_by_key(|m| m["Target"].to_string());
    f.insert("HostConfig.Mounts".into(), json!(mounts));
    let mut nets = BTreeMap::new();
    if let Some(m) = c["NetworkSettings"]["Networks"].as_object() {
        for (name, ep) in m {
            let mut aliases: Vec<String> = ep["Aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .filter(|a| !is_short_id(a))
                .map(str::to_string)
                .collect();
            aliases.sort();
            nets.insert(
                name.clone(),
                json!({"Aliases": aliases, "IPAMConfig": ep["IPAMConfig"]}),
            );
        }
    }
    f.insert("NetworkSettings.Networks".into(), json!(nets));
    f.insert("State.Running".into(), c["State"]["Running"].clone());
    f.into_iter().map(|(k, v)| (k, prune(v))).collect()
}

type Captured = BTreeMap<(String, String), BTreeMap<String, Value>>;

/// Normalised containers of a project by (service, number).
fn capture(project: &str) -> Captured {
    let all = inspect_project(project);
    let names: HashMap<String, String> = all
        .iter()
        .map(|c| {
            let name = c["Name"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches('/')
                .replace(project, "<P>");
            (c["Id"].as_str().unwrap_or("").to_string(), name)
        })
        .collect();
    all.iter()
        .map(|c| {
            let l = &c["Config"]["Labels"];
            let key = (
                l["com.docker.compose.service"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
                l["com.docker.compose.container-number"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            );
            (key, normalise(c, project, &names))
        })
        .collect()
}

/// Field names that differ between the two runs ("containers" when the sets differ).
fn differences(a: &Captured, b: &Captured) -> Vec<String> {
    let mut out = Vec::new();
    if a.keys().collect::<Vec<_>>() != b.keys().collect::<Vec<_>>() {
        out.push(format!(
            "containers (compose {:?} vs flow {:?})",
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>()
        ));
    }
    for (key, fa) in a {
        let Some(fb) = b.get(key) else { continue };
        for (field, va) in fa {
            let vb = fb.get(field).unwrap_or(&Value::Null);
            if va != vb {
                out.push(format!(
                    "{}#{} {field}: compose {va} vs flow {vb}",
                    key.0, key.1
                ));
            }
        }
    }
    out
}

/// Prepares what a fixture expects to exist outside it (external network, fixed names).
fn fixture_setup(case: &Case, cleanup: &mut Cleanup) -> HashMap<String, String> {
    let host = &bed().docker_host;
    let mut env = HashMap::new();
    match case.dir {
        "volumes-networks" => {
            let outside = unique("cf-outside");
            docker_ok(&["-H", host, "network", "create", &outside]);
            cleanup.network(host, &outside);
            let shared = unique("cf-shared");
            cleanup.volume(host, &shared);
            env.insert("OUTSIDE_NETWORK".to_string(), outside);
            env.insert("SHARED_VOLUME".to_string(), shared);
        }
        "network-aliases" => {
            let name = unique("cf-backend");
            cleanup.container(host, &name);
            env.insert("BACKEND_NAME".to_string(), name);
        }
        _ => {}
    }
    env
}

#[tokio::test]
async fn compose_conformance_matrix() {
    let _ = bed();
    let engine_client = connect().await;
    let mut matrix: Vec<(String, Result<Vec<String>, String>)> = Vec::new();
    for case in cases() {
        let label = format!(
            "{}{}{}",
            case.dir,
            if case.env_files.is_empty() {
                String::new()
            } else {
                format!(" --env-file {}", case.env_files.join(","))
            },
            if case.profiles.is_empty() {
                String::new()
            } else {
                format!(" --profile {}", case.profiles.join(","))
            },
        );
        let mut cleanup = Cleanup::new();
        let extra = fixture_setup(&case, &mut cleanup);
        let env = fixture_env(&extra);
        let a = unique("cfa");
        let b = unique("cfb");
        let _guard = ProjectGuard(vec![a.clone(), b.clone()]);

        // Compose first, captured, then removed (fixed ports and names are reused by B).
        if let Err(e) = compose_up(&case, &a, &env) {
            matrix.push((label, Err(format!("docker compose up failed: {e}"))));
            continue;
        }
        let ca = capture(&a);
        ProjectGuard::sweep(&a);

        let project = load(&case, &b, &env);
        let mut failed = None;
        for s in case.services {
            if let Err(e) =
                engine::up_service(&engine_client, &project, s, &UpOptions::default()).await
            {
                failed = Some(format!("up_service {s}: {e}"));
                break;
            }
        }
        if let Some(e) = failed {
            matrix.push((label, Err(e)));
            continue;
        }
        let cb = capture(&b);
        ProjectGuard::sweep(&b);
        matrix.push((label, Ok(differences(&ca, &cb))));
    }

    println!(
        "\nCompose conformance (docker compose {} vs docker flow up_service):",
        compose_version()
    );
    let width = matrix.iter().map(|(l, _)| l.len()).max().unwrap_or(10);
    let mut bad = 0;
    for (label, result) in &matrix {
        match result {
            Ok(d) if d.is_empty() => println!("  {label:width$}  equal"),
            Ok(d) => {
                bad += 1;
                println!("  {label:width$}  DIFFERENT:");
                for line in d {
                    println!("  {:width$}    {line}", "");
                }
            }
            Err(e) => {
                bad += 1;
                println!("  {label:width$}  ERROR: {e}");
            }
        }
    }
    assert_eq!(
        bad,
        0,
        "{bad} of {} fixtures differ from Compose (matrix above)",
        matrix.len()
    );
}

fn compose_version() -> String {
    let out = docker(&["compose", "version", "--short"]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn engine_names(kind: &str, project: &str) -> Vec<String> {
    let host = &bed().docker_host;
    let label = format!("label=com.docker.compose.project={project}");
    let out = match kind {
        "container" => docker_ok(&["-H", host, "ps", "-aq", "--filter", &label]),
        "network" => docker_ok(&["-H", host, "network", "ls", "-q", "--filter", &label]),
        _ => docker_ok(&["-H", host, "volume", "ls", "-q", "--filter", &label]),
    };
    out.split_whitespace().map(str::to_string).collect()
}

fn assert_nothing_created(project: &str) {
    for kind in ["container", "network", "volume"] {
        assert!(
            engine_names(kind, project).is_empty(),
            "a {kind} of project {project} was created"
        );
    }
}

#[tokio::test]
async fn keys_that_cannot_be_honoured_fail_before_anything_is_created() {
    let _ = bed();
    let engine_client = connect().await;
    let env = fixture_env(&HashMap::new());
    let p = unique("cferr");
    let _guard = ProjectGuard(vec![p.clone()]);
    let base = load(&case("web-db-cache", &["web"]), &p, &env);

    // A Swarm-only key on a dependency: refused before networks, volumes or containers exist.
    let mut project = base.clone();
    project.services.get_mut("db").unwrap().spec.deploy = Some(docker_compose_types::Deploy {
        placement: Some(Default::default()),
        ..Default::default()
    });
    let e = engine::up_service(&engine_client, &project, "web", &UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("service \"db\": key \"deploy.placement\" is only meaningful on Swarm"),
        "{e}"
    );
    assert_nothing_created(&p);

    // A key this engine's API cannot take.
    let mut project = base.clone();
    project.services.get_mut("web").unwrap().spec.healthcheck =
        Some(docker_compose_types::Healthcheck {
            start_interval: Some("1s".into()),
            ..Default::default()
        });
    let e = engine::up_service(&engine_client, &project, "web", &UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("service \"web\": key \"healthcheck.start_interval\""),
        "{e}"
    );
    assert_nothing_created(&p);

    // `secrets` left in the typed spec (the loader moves them into the service's extras,
    // where engine::secrets mounts them) is refused, not dropped.
    let mut project = base.clone();
    project.services.get_mut("cache").unwrap().spec.secrets =
        Some(docker_compose_types::Secrets::Simple(vec!["token".into()]));
    let e = engine::up_service(&engine_client, &project, "web", &UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("service \"cache\": key \"secrets\""), "{e}");
    assert_nothing_created(&p);

    // An external network that does not exist is named.
    let mut project = base.clone();
    let missing = unique("cf-missing-net");
    project.networks.get_mut("default").unwrap().external = true;
    project.networks.get_mut("default").unwrap().name = missing.clone();
    let e = engine::up_service(&engine_client, &project, "cache", &UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&missing) && e.contains("external"), "{e}");
    assert!(engine_names("container", &p).is_empty());
}

#[tokio::test]
async fn up_service_is_idempotent_recreates_on_change_and_compose_sees_it() {
    let _ = bed();
    let engine_client = connect().await;
    let env = fixture_env(&HashMap::new());
    let p = unique("cfidem");
    let _guard = ProjectGuard(vec![p.clone()]);
    let project = load(&case("web-db-cache", &["web"]), &p, &env);
    let opts = UpOptions {
        extra_labels: [("com.docker.flow.color".to_string(), "blue".to_string())].into(),
        ..Default::default()
    };
    let first = engine::up_service(&engine_client, &project, "web", &opts)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let db_before = engine_names("container", &p);
    assert_eq!(db_before.len(), 3, "web, db and cache");

    // Same config: nothing changes.
    let again = engine::up_service(&engine_client, &project, "web", &opts)
        .await
        .unwrap();
    assert_eq!(first, again);
    // A stopped container is started again, not recreated.
    docker_ok(&["-H", &bed().docker_host, "stop", "-t", "1", &first[0]]);
    let again = engine::up_service(&engine_client, &project, "web", &opts)
        .await
        .unwrap();
    assert_eq!(first, again);
    let running = docker_ok(&[
        "-H",
        &bed().docker_host,
        "inspect",
        "-f",
        "{{.State.Running}}",
        &first[0],
    ]);
    assert_eq!(running, "true");

    // docker compose sees the containers as its own.
    let ps = Command::new("docker")
        .env("DOCKER_HOST", &bed().docker_host)
        .args(["compose", "-p", &p, "ps", "-a", "--format", "{{.Service}}"])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let mut services: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    services.sort();
    assert_eq!(services, ["cache", "db", "web"], "{}", stderr(&ps));

    // Changed environment: recreated under the same name; the dependency is left alone.
    let mut changed = project.clone();
    if let docker_compose_types::Environment::KvPair(m) =
        &mut changed.services.get_mut("web").unwrap().spec.environment
    {
        m.insert(
            "COLOR".into(),
            Some(docker_compose_types::SingleValue::String("green".into())),
        );
    }
    let recreated = engine::up_service(&engine_client, &changed, "web", &opts)
        .await
        .unwrap();
    assert_ne!(recreated, first);
    let name = docker_ok(&[
        "-H",
        &bed().docker_host,
        "inspect",
        "-f",
        "{{.Name}}",
        &recreated[0],
    ]);
    assert_eq!(name, format!("/{p}-web-1"));
    assert!(
        docker(&["-H", &bed().docker_host, "inspect", &first[0]])
            .status
            .code()
            != Some(0)
    );
    let db_now = engine::up_service(&engine_client, &changed, "db", &UpOptions::default())
        .await
        .unwrap();
    assert!(
        db_before
            .iter()
            .any(|id| db_now[0].starts_with(id.as_str())),
        "db was recreated"
    );

    // Another extra label value recreates too; scale up and down.
    let green = UpOptions {
        extra_labels: [("com.docker.flow.color".to_string(), "green".to_string())].into(),
        scale: Some(2),
        ..Default::default()
    };
    let two = engine::up_service(&engine_client, &changed, "web", &green)
        .await
        .unwrap();
    assert_eq!(two.len(), 2);
    assert!(!two.contains(&recreated[0]));
    let one = engine::up_service(
        &engine_client,
        &changed,
        "web",
        &UpOptions {
            scale: Some(1),
            ..green.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(one, vec![two[0].clone()]);

    // Recreating keeps an anonymous volume (here the db's named one stays named).
    engine::down_project(&engine_client, &p, true)
        .await
        .unwrap();
    assert_nothing_created(&p);
}

#[tokio::test]
async fn recreate_keeps_anonymous_volumes() {
    let _ = bed();
    let engine_client = connect().await;
    let env = fixture_env(&HashMap::new());
    let p = unique("cfanon");
    let _guard = ProjectGuard(vec![p.clone()]);
    let project = load(&case("shared-namespaces", &["main"]), &p, &env);
    let first = engine::up_service(&engine_client, &project, "main", &UpOptions::default())
        .await
        .unwrap();
    let vol = |id: &str| {
        docker_ok(&[
            "-H",
            &bed().docker_host,
            "inspect",
            "-f",
            "{{range .Mounts}}{{if eq .Destination \"/shared-anon\"}}{{.Name}}{{end}}{{end}}",
            id,
        ])
    };
    let before = vol(&first[0]);
    assert!(!before.is_empty());
    let mut changed = project.clone();
    changed.services.get_mut("main").unwrap().spec.user = Some("1000".into());
    let second = engine::up_service(&engine_client, &changed, "main", &UpOptions::default())
        .await
        .unwrap();
    assert_ne!(first, second);
    assert_eq!(vol(&second[0]), before);
    engine::down_project(&engine_client, &p, true)
        .await
        .unwrap();
}

#[tokio::test]
async fn build_goes_through_the_engine() {
    let _ = bed();
    let engine_client = connect().await;
    let env = fixture_env(&HashMap::new());
    let p = unique("cfbuild");
    let _guard = ProjectGuard(vec![p.clone()]);
    let mut project = load(&case("build", &["built"]), &p, &env);
    let image = format!("{p}-built:latest");
    project.services.get_mut("built").unwrap().spec.image = Some(image.clone());
    let ids = engine::up_service(&engine_client, &project, "built", &UpOptions::default())
        .await
        .unwrap();
    let host = &bed().docker_host;
    let built = docker_ok(&[
        "-H",
        host,
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"com.example.built\"}}",
        &image,
    ]);
    assert_eq!(built, "yes");
    let label = docker_ok(&[
        "-H",
        host,
        "inspect",
        "-f",
        "{{index .Config.Labels \"com.docker.compose.image\"}}",
        &ids[0],
    ]);
    assert!(label.starts_with("sha256:"), "{label}");
    // The context went as a tar, with .dockerignore applied.
    let copy = |path: &str| {
        docker(&["-H", host, "cp", &format!("{}:{path}", ids[0]), "-"])
            .status
            .success()
    };
    assert!(copy("/ctx/Dockerfile"));
    assert!(!copy("/ctx/ignored.txt"), ".dockerignore was not applied");
    engine::down_project(&engine_client, &p, true)
        .await
        .unwrap();
    let _ = docker(&["-H", host, "rmi", "-f", &image]);
}
