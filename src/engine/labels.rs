//! The labels Compose puts on what it creates, so that `docker compose ps/ls/down` see docker
//! flow's containers, networks and volumes as their own, plus docker flow's own version label.
//!
//! `com.docker.compose.version` carries [`COMPOSE_VERSION`], the Compose release whose create
//! behaviour docker flow mirrors (pkg/compose/create.go of docker/compose v2.26.1, the version the
//! conformance suite runs against); Compose only compares it for display, never for logic.
//! docker flow's own version is in `com.docker.flow.version`.

use indexmap::IndexMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::compose::{Project, Service};

/// The Compose release docker flow mirrors; written to `com.docker.compose.version`.
pub const COMPOSE_VERSION: &str = "2.26.1";
/// docker flow's version; written to [`FLOW_VERSION`].
pub const DOCKER_FLOW_VERSION: &str = env!("CARGO_PKG_VERSION");

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const ENVIRONMENT_FILE: &str = "com.docker.compose.project.environment_file";
pub const VERSION: &str = "com.docker.compose.version";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const IMAGE: &str = "com.docker.compose.image";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";
pub const FLOW_VERSION: &str = "com.docker.flow.version";

fn join_paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(",")
}

/// Every label of a service container: the service's own `labels:`, then Compose's set
/// (project, service, version, working_dir, config_files, oneoff, environment_file, image,
/// config-hash, container-number, depends_on), then `extra` (e.g. `com.docker.flow.*`), then
/// `com.docker.flow.version`. Later entries win.
pub fn container_labels(
    project: &Project,
    service: &Service,
    number: u32,
    config_hash: &str,
    image_id: Option<&str>,
    extra: &IndexMap<String, String>,
) -> IndexMap<String, String> {
    let mut labels = IndexMap::new();
    if let docker_compose_types::Labels::Map(own) = &service.spec.labels {
        labels.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    } else if let docker_compose_types::Labels::List(own) = &service.spec.labels {
        for l in own {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            labels.insert(k.to_string(), v.to_string());
        }
    }
    let mut set = |k: &str, v: String| {
        labels.insert(k.to_string(), v);
    };
    set(PROJECT, project.name.clone());
    set(SERVICE, service.name.clone());
    set(VERSION, COMPOSE_VERSION.into());
    set(WORKING_DIR, project.working_dir.to_string_lossy().into());
    set(CONFIG_FILES, join_paths(&project.config_files));
    set(ONEOFF, "False".into());
    if !project.env_files.is_empty() {
        set(ENVIRONMENT_FILE, join_paths(&project.env_files));
    }
    if let Some(id) = image_id {
        set(IMAGE, id.to_string());
    }
    set(CONFIG_HASH, config_hash.to_string());
    set(CONTAINER_NUMBER, number.to_string());
    set(DEPENDS_ON, depends_on_label(service));
    for (k, v) in extra {
        set(k, v.clone());
    }
    set(FLOW_VERSION, DOCKER_FLOW_VERSION.into());
    labels
}

/// `svc:condition:restart,...` as Compose writes it (restart is `false` unless set), including
/// the dependencies compose-go implies (see [`dependencies`]).
pub fn depends_on_label(service: &Service) -> String {
    dependencies(service)
        .iter()
        .map(|(n, c)| format!("{n}:{}:{}", c.condition, c.restart.unwrap_or(false)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The service's `depends_on`, plus what compose-go's normaliser implies when the model does
/// not already say it: services named in `links` and in `service:` references of
/// `network_mode`/`ipc`/`pid` (`service_started`, restart true), and in `volumes_from`
/// (`service_started`, restart false).
pub fn dependencies(service: &Service) -> Vec<(String, docker_compose_types::DependsCondition)> {
    use docker_compose_types::{DependsCondition, DependsOnOptions};
    let mut deps: Vec<(String, DependsCondition)> = match &service.spec.depends_on {
        DependsOnOptions::Simple(names) => names
            .iter()
            .map(|n| (n.clone(), DependsCondition::service_started()))
            .collect(),
        DependsOnOptions::Conditional(map) => {
            map.iter().map(|(n, c)| (n.clone(), c.clone())).collect()
        }
    };
    let spec = &service.spec;
    let mut implied: Vec<(String, bool)> = spec
        .links
        .iter()
        .map(|l| (l.split(':').next().unwrap_or(l).to_string(), true))
        .collect();
    implied.extend(
        [&spec.network_mode, &spec.ipc, &spec.pid]
            .into_iter()
            .filter_map(|v| Some((v.as_deref()?.strip_prefix("service:")?.to_string(), true))),
    );
    implied.extend(
        spec.volumes_from
            .iter()
            .filter(|v| !v.starts_with("container:"))
            .map(|v| (v.split(':').next().unwrap_or(v).to_string(), false)),
    );
    for (name, restart) in implied {
        if !deps.iter().any(|(d, _)| *d == name) {
            let cond = DependsCondition::service_started()
                .with_restart(restart)
                .with_required(true);
            deps.push((name, cond));
        }
    }
    deps
}

/// Labels of a project network: the user's, then `com.docker.compose.network=<key>`, project,
/// version.
pub fn network_labels(
    project: &str,
    key: &str,
    own: &IndexMap<String, String>,
) -> IndexMap<String, String> {
    let mut labels = own.clone();
    labels.insert(NETWORK.into(), key.into());
    labels.insert(PROJECT.into(), project.into());
    labels.insert(VERSION.into(), COMPOSE_VERSION.into());
    labels
}

/// Labels of a project volume: the user's, then `com.docker.compose.volume=<key>`, project,
/// version.
pub fn volume_labels(
    project: &str,
    key: &str,
    own: &IndexMap<String, String>,
) -> IndexMap<String, String> {
    let mut labels = own.clone();
    labels.insert(VOLUME.into(), key.into());
    labels.insert(PROJECT.into(), project.into());
    labels.insert(VERSION.into(), COMPOSE_VERSION.into());
    labels
}

/// The config hash: sha256 hex of a stable JSON (object keys sorted) of the canonical service
/// spec and its extras, without the keys Compose leaves out (`build`, `pull_policy`, `scale`,
/// `deploy.replicas`, `depends_on`, `profiles`). Changing any other key changes the hash, which
/// makes `up_service` recreate the containers.
pub fn config_hash(service: &Service) -> String {
    let mut spec = serde_json::to_value(&service.spec).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut spec {
        for key in ["build", "pull_policy", "scale", "depends_on", "profiles"] {
            map.remove(key);
        }
        if let Some(Value::Object(deploy)) = map.get_mut("deploy") {
            deploy.remove("replicas");
        }
    }
    let doc = serde_json::json!({
        "name": service.name,
        "spec": spec,
        // Serialised whole, so a key added to ServiceExtras is hashed without anyone remembering.
        "extras": serde_json::to_value(&service.extras).unwrap_or(Value::Null),
    });
    let mut text = String::new();
    write_sorted(&doc, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with object keys sorted at every level (independent of serde_json's map ordering).
fn write_sorted(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_sorted(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use docker_compose_types::{DependsCondition, DependsOnOptions, Labels};
    use std::path::PathBuf;

    fn project() -> Project {
        Project {
            name: "shop".into(),
            working_dir: PathBuf::from("/srv/shop"),
            config_files: vec![
                "/srv/shop/compose.yaml".into(),
                "/srv/shop/prod.yaml".into(),
            ],
            env_files: vec![],
            services: IndexMap::new(),
            networks: IndexMap::new(),
            volumes: IndexMap::new(),
            secrets: IndexMap::new(),
            configs: IndexMap::new(),
        }
    }

    fn service() -> Service {
        Service {
            name: "web".into(),
            spec: docker_compose_types::Service {
                image: Some("dockerflow/demo:latest".into()),
                ..Default::default()
            },
            extras: crate::compose::ServiceExtras::default(),
            file: "/srv/shop/compose.yaml".into(),
        }
    }

    #[test]
    fn container_labels_have_the_compose_set() {
        let mut s = service();
        s.spec.labels = Labels::Map(IndexMap::from([("team".into(), "a".into())]));
        let mut deps = IndexMap::new();
        deps.insert("db".into(), DependsCondition::service_healthy());
        deps.insert(
            "cache".into(),
            DependsCondition::service_started().with_restart(true),
        );
        s.spec.depends_on = DependsOnOptions::Conditional(deps);
        let extra = IndexMap::from([("com.docker.flow.color".to_string(), "blue".to_string())]);
        let l = container_labels(&project(), &s, 2, "abc", Some("sha256:1"), &extra);
        assert_eq!(l["team"], "a");
        assert_eq!(l[PROJECT], "shop");
        assert_eq!(l[SERVICE], "web");
        assert_eq!(l[CONTAINER_NUMBER], "2");
        assert_eq!(l[ONEOFF], "False");
        assert_eq!(l[CONFIG_HASH], "abc");
        assert_eq!(l[WORKING_DIR], "/srv/shop");
        assert_eq!(
            l[CONFIG_FILES],
            "/srv/shop/compose.yaml,/srv/shop/prod.yaml"
        );
        assert!(!l.contains_key(ENVIRONMENT_FILE));
        assert_eq!(l[VERSION], COMPOSE_VERSION);
        assert_eq!(
            l[DEPENDS_ON],
            "db:service_healthy:false,cache:service_started:true"
        );
        assert_eq!(l[IMAGE], "sha256:1");
        assert_eq!(l["com.docker.flow.color"], "blue");
        assert_eq!(l[FLOW_VERSION], DOCKER_FLOW_VERSION);
    }

    #[test]
    fn env_file_label_only_with_env_files() {
        let mut p = project();
        p.env_files = vec!["/a/.env".into(), "/a/prod.env".into()];
        let l = container_labels(&p, &service(), 1, "h", None, &IndexMap::new());
        assert_eq!(l[ENVIRONMENT_FILE], "/a/.env,/a/prod.env");
        assert_eq!(l[DEPENDS_ON], "");
    }

    #[test]
    fn config_hash_ignores_compose_exclusions_only() {
        let base = config_hash(&service());
        assert_eq!(base.len(), 64);
        assert_eq!(base, config_hash(&service()));

        let mut s = service();
        s.spec.scale = 3;
        s.spec.profiles = vec!["debug".into()];
        s.spec.depends_on = DependsOnOptions::Simple(vec!["db".into()]);
        s.spec.pull_policy = Some(docker_compose_types::PullPolicy::Always);
        s.spec.deploy = Some(docker_compose_types::Deploy {
            replicas: Some(4),
            ..Default::default()
        });
        let with_empty_deploy = {
            let mut s = service();
            s.spec.deploy = Some(Default::default());
            config_hash(&s)
        };
        assert_eq!(config_hash(&s), with_empty_deploy);

        let mut s = service();
        s.spec.user = Some("1000".into());
        assert_ne!(config_hash(&s), base);
        let mut s = service();
        s.extras.cpus = Some(0.5);
        assert_ne!(config_hash(&s), base);
    }

    #[test]
    fn config_hash_is_independent_of_map_order() {
        let mut a = service();
        let mut b = service();
        a.spec.labels = Labels::Map(IndexMap::from([
            ("x".into(), "1".into()),
            ("y".into(), "2".into()),
        ]));
        b.spec.labels = Labels::Map(IndexMap::from([
            ("y".into(), "2".into()),
            ("x".into(), "1".into()),
        ]));
        assert_eq!(config_hash(&a), config_hash(&b));
    }

    #[test]
    fn resource_labels() {
        let own = IndexMap::from([("tier".to_string(), "back".to_string())]);
        let n = network_labels("shop", "backend", &own);
        assert_eq!(n[NETWORK], "backend");
        assert_eq!(n[PROJECT], "shop");
        assert_eq!(n[VERSION], COMPOSE_VERSION);
        assert_eq!(n["tier"], "back");
        let v = volume_labels("shop", "data", &IndexMap::new());
        assert_eq!(v[VOLUME], "data");
        assert_eq!(v[PROJECT], "shop");
    }
}
