//! The native loader against the real `docker compose config --format json` on fixture
//! projects (tests/fixtures/load/<name>/), comparing a normalised subset per service both sides
//! express, plus error fixtures asserting on the message. Needs the `docker` CLI with the
//! compose plugin (no engine: `compose config` does not talk to the daemon).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use docker_compose_types as dct;
use docker_flow::compose::{load, ComposeError, LoadOptions, Project};
use serde_json::Value as Json;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/load")
        .join(name)
}

#[derive(Default, Clone)]
struct Case {
    dir: &'static str,
    files: Vec<&'static str>,
    project_name: Option<&'static str>,
    profiles: Vec<&'static str>,
    env_files: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
}

impl Case {
    fn new(dir: &'static str) -> Self {
        Case {
            dir,
            project_name: Some("fx"),
            ..Default::default()
        }
    }

    fn env_map(&self) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("HOME".into(), "/home/tester".into());
        for (k, v) in &self.env {
            env.insert(k.to_string(), v.to_string());
        }
        env
    }

    fn options(&self) -> LoadOptions {
        LoadOptions {
            files: self.files.iter().map(PathBuf::from).collect(),
            project_name: self.project_name.map(str::to_string),
            project_dir: None,
            profiles: self.profiles.iter().map(|s| s.to_string()).collect(),
            env_files: self.env_files.iter().map(PathBuf::from).collect(),
            env: self.env_map(),
            cwd: fixture(self.dir),
        }
    }

    fn compose_config(&self) -> Json {
        let mut cmd = Command::new("docker");
        cmd.arg("compose");
        for f in &self.files {
            cmd.args(["-f", f]);
        }
        if let Some(p) = self.project_name {
            cmd.args(["-p", p]);
        }
        for p in &self.profiles {
            cmd.args(["--profile", p]);
        }
        for e in &self.env_files {
            cmd.args(["--env-file", e]);
        }
        cmd.args(["config", "--format", "json"]);
        cmd.current_dir(fixture(self.dir));
        cmd.env_clear();
        for k in ["PATH", "DOCKER_CONFIG"] {
            if let Ok(v) = std::env::var(k) {
                cmd.env(k, v);
            }
        }
        if std::env::var("DOCKER_CONFIG").is_err() {
            if let Ok(h) = std::env::var("HOME") {
                cmd.env("DOCKER_CONFIG", format!("{h}/.docker"));
            }
        }
        cmd.envs(self.env_map());
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("these tests need the `docker` CLI with the compose plugin: {e}")
        });
        assert!(
            out.status.success(),
            "docker compose config failed for {}: {}\n(these tests need the `docker` CLI with the compose plugin)",
            self.dir,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("compose config JSON")
    }
}

/// The subset of a service both sides can express, as JSON for readable diffs.
fn ours(p: &Project) -> Json {
    let mut services = BTreeMap::new();
    for (name, svc) in &p.services {
        let s = &svc.spec;
        let mut m = serde_json::Map::new();
        m.insert("image".into(), s.image.clone().into());
        let cmd = match &s.command {
            Some(dct::Command::Args(a)) => Json::from(a.clone()),
            None => Json::Null,
            Some(other) => panic!("non-canonical command {other:?}"),
        };
        m.insert("command".into(), cmd);
        let ep = match &s.entrypoint {
            Some(dct::Entrypoint::List(a)) => Json::from(a.clone()),
            None => Json::Null,
            Some(other) => panic!("non-canonical entrypoint {other:?}"),
        };
        m.insert("entrypoint".into(), ep);
        let dct::Environment::KvPair(env) = &s.environment else {
            panic!("non-canonical environment")
        };
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    // Unset (a bare name): Compose prints null and passes the bare name on.
                    v.as_ref()
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "<unset>".into()),
                )
            })
            .collect();
        m.insert("environment".into(), serde_json::to_value(env).unwrap());
        let dct::Labels::Map(labels) = &s.labels else {
            panic!("non-canonical labels")
        };
        let labels: BTreeMap<_, _> = labels.iter().collect();
        m.insert("labels".into(), serde_json::to_value(labels).unwrap());
        let dct::Ports::Long(ports) = &s.ports else {
            panic!("non-canonical ports")
        };
        let mut ports: Vec<String> = ports
            .iter()
            .map(|p| {
                let published = match &p.published {
                    Some(dct::PublishedPort::Single(n)) => n.to_string(),
                    Some(dct::PublishedPort::Range(r)) => r.clone(),
                    None => String::new(),
                };
                format!(
                    "{}|{}|{}|{}",
                    p.host_ip.clone().unwrap_or_default(),
                    published,
                    p.target,
                    p.protocol.clone().unwrap_or_default()
                )
            })
            .collect();
        ports.sort();
        m.insert("ports".into(), ports.into());
        let mut vols: Vec<String> = s
            .volumes
            .iter()
            .map(|v| match v {
                dct::Volumes::Advanced(a) => format!(
                    "{}|{}|{}|{}",
                    a._type,
                    a.source.clone().unwrap_or_default(),
                    a.target,
                    a.read_only
                ),
                other => panic!("non-canonical volume {other:?}"),
            })
            .collect();
        vols.sort();
        m.insert("volumes".into(), vols.into());
        let dct::Networks::Advanced(nets) = &s.networks else {
            panic!("non-canonical networks")
        };
        let nets: BTreeMap<String, Vec<String>> = nets
            .0
            .iter()
            .map(|(k, v)| {
                let mut aliases = match v {
                    dct::MapOrEmpty::Map(a) => a.aliases.clone(),
                    dct::MapOrEmpty::Empty => vec![],
                };
                aliases.sort();
                (k.clone(), aliases)
            })
            .collect();
        m.insert("networks".into(), serde_json::to_value(nets).unwrap());
        let hc = s.healthcheck.as_ref().map(|h| {
            let test = match &h.test {
                Some(dct::HealthcheckTest::Multiple(t)) => Json::from(t.clone()),
                None => Json::Null,
                Some(other) => panic!("non-canonical healthcheck test {other:?}"),
            };
            serde_json::json!({"test": test, "retries": h.retries, "disable": h.disable})
        });
        m.insert("healthcheck".into(), hc.unwrap_or(Json::Null));
        m.insert("restart".into(), s.restart.clone().into());
        m.insert("user".into(), s.user.clone().into());
        m.insert("working_dir".into(), s.working_dir.clone().into());
        let dct::DependsOnOptions::Conditional(deps) = &s.depends_on else {
            panic!("non-canonical depends_on")
        };
        let deps: BTreeMap<_, _> = deps
            .iter()
            .map(|(k, v)| (k.clone(), v.condition.clone()))
            .collect();
        m.insert("depends_on".into(), serde_json::to_value(deps).unwrap());
        m.insert(
            "replicas".into(),
            s.deploy.as_ref().and_then(|d| d.replicas).into(),
        );
        services.insert(name.clone(), Json::Object(m));
    }
    let networks: BTreeMap<_, _> = p
        .networks
        .iter()
        .map(|(k, n)| (k.clone(), n.name.clone()))
        .collect();
    let volumes: BTreeMap<_, _> = p
        .volumes
        .iter()
        .map(|(k, v)| (k.clone(), v.name.clone()))
        .collect();
    serde_json::json!({"name": p.name, "services": services, "networks": networks, "volumes": volumes})
}

fn str_list(v: &Json) -> Json {
    match v {
        Json::Array(a) => Json::Array(a.clone()),
        _ => Json::Null,
    }
}

/// The same subset from `docker compose config --format json`.
fn theirs(c: &Json) -> Json {
    let mut services = BTreeMap::new();
    for (name, s) in c["services"].as_object().cloned().unwrap_or_default() {
        let mut m = serde_json::Map::new();
        m.insert("image".into(), s["image"].clone());
        m.insert("command".into(), str_list(&s["command"]));
        m.insert("entrypoint".into(), str_list(&s["entrypoint"]));
        let env: BTreeMap<String, String> = s["environment"]
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or("<unset>").to_string()))
            .collect();
        m.insert("environment".into(), serde_json::to_value(env).unwrap());
        let labels: BTreeMap<String, String> = s["labels"]
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
            .collect();
        m.insert("labels".into(), serde_json::to_value(labels).unwrap());
        let mut ports: Vec<String> = s["ports"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|p| {
                format!(
                    "{}|{}|{}|{}",
                    p["host_ip"].as_str().unwrap_or_default(),
                    p["published"].as_str().unwrap_or_default(),
                    p["target"],
                    p["protocol"].as_str().unwrap_or_default()
                )
            })
            .collect();
        ports.sort();
        m.insert("ports".into(), ports.into());
        let mut vols: Vec<String> = s["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| {
                format!(
                    "{}|{}|{}|{}",
                    v["type"].as_str().unwrap_or_default(),
                    v["source"].as_str().unwrap_or_default(),
                    v["target"].as_str().unwrap_or_default(),
                    v["read_only"].as_bool().unwrap_or(false)
                )
            })
            .collect();
        vols.sort();
        m.insert("volumes".into(), vols.into());
        let nets: BTreeMap<String, Vec<String>> = s["networks"]
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let mut aliases: Vec<String> = v["aliases"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .collect();
                aliases.sort();
                (k, aliases)
            })
            .collect();
        m.insert("networks".into(), serde_json::to_value(nets).unwrap());
        let hc = &s["healthcheck"];
        m.insert(
            "healthcheck".into(),
            if hc.is_null() {
                Json::Null
            } else {
                serde_json::json!({
                    "test": str_list(&hc["test"]),
                    "retries": hc["retries"].as_i64().unwrap_or(0),
                    "disable": hc["disable"].as_bool().unwrap_or(false),
                })
            },
        );
        for k in ["restart", "user", "working_dir"] {
            m.insert(k.into(), s[k].clone());
        }
        let deps: BTreeMap<String, String> = s["depends_on"]
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v["condition"].as_str().unwrap_or_default().to_string()))
            .collect();
        m.insert("depends_on".into(), serde_json::to_value(deps).unwrap());
        m.insert("replicas".into(), s["deploy"]["replicas"].clone());
        services.insert(name, Json::Object(m));
    }
    let names = |k: &str| -> BTreeMap<String, String> {
        c[k].as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v["name"].as_str().unwrap_or_default().to_string()))
            .collect()
    };
    serde_json::json!({"name": c["name"], "services": services, "networks": names("networks"), "volumes": names("volumes")})
}

fn check(case: Case) -> Project {
    let project = load(&case.options()).unwrap_or_else(|e| panic!("{}: {e}", case.dir));
    let want = theirs(&case.compose_config());
    let got = ours(&project);
    assert_eq!(
        serde_json::to_string_pretty(&got).unwrap(),
        serde_json::to_string_pretty(&want).unwrap(),
        "fixture {} differs from docker compose config",
        case.dir
    );
    project
}

#[test]
fn basic_short_syntaxes() {
    let mut c = Case::new("basic");
    c.env = vec![("FROM_ENV", "hello")];
    let p = check(c);
    assert_eq!(
        p.services["web"]
            .spec
            .command
            .as_ref()
            .map(|c| matches!(c, dct::Command::Args(a) if a.len() == 3)),
        Some(true)
    );
}

#[test]
fn multi_file_default_discovery_and_overrides() {
    let p = check(Case::new("multi_file"));
    assert_eq!(p.config_files.len(), 2);
}

#[test]
fn env_files_and_dot_env() {
    check(Case::new("env_files"));
    let mut c = Case::new("env_files");
    c.env_files = vec!["custom.env"];
    c.env = vec![("PORT", "6000")];
    let p = check(c);
    assert_eq!(p.env_files, vec![fixture("env_files/custom.env")]);
}

#[test]
fn profiles() {
    let mut c = Case::new("profiles");
    c.profiles = vec!["full"];
    let p = check(c);
    assert!(p.services.contains_key("cache") && !p.services.contains_key("debug"));
    let mut c = Case::new("profiles");
    c.env = vec![("COMPOSE_PROFILES", "full,debug")];
    let p = check(c);
    assert!(p.services.contains_key("debug"));
    let e = load(&Case::new("profiles").options()).unwrap_err();
    assert!(
        e.to_string()
            .contains("depends on undefined service \"cache\""),
        "{e}"
    );
}

#[test]
fn extends_same_file() {
    check(Case::new("extends_same"));
}

#[test]
fn extends_other_file() {
    check(Case::new("extends_other"));
}

#[test]
fn include() {
    check(Case::new("include"));
}

#[test]
fn anchors_and_merge_keys() {
    check(Case::new("anchors"));
}

#[test]
fn long_syntaxes() {
    let p = check(Case::new("long_syntax"));
    assert!(p.networks["ext"].external);
    assert_eq!(p.volumes["outside"].name, "outside");
}

#[test]
fn healthchecks() {
    check(Case::new("healthchecks"));
}

#[test]
fn extras_numeric_labels_and_replicas() {
    let p = check(Case::new("extras"));
    let app = &p.services["app"];
    assert_eq!(app.extras.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(app.extras.cpus, Some(1.5));
    assert_eq!(app.extras.pids_limit, Some(100));
    assert_eq!(app.extras.dns_search, vec!["example.com".to_string()]);
    assert_eq!(
        app.spec.extra_hosts,
        vec![
            "somehost:162.242.195.82".to_string(),
            "otherhost:50.31.209.229".to_string()
        ]
    );
    let mut c = Case::new("extras");
    c.env = vec![("N", "5")];
    let p = check(c);
    assert_eq!(
        p.services["app"]
            .spec
            .deploy
            .as_ref()
            .and_then(|d| d.replicas),
        Some(5)
    );
}

#[test]
fn project_name_precedence() {
    let mut c = Case::new("project_name");
    c.project_name = None;
    let p = check(c.clone());
    assert_eq!(p.name, "my_appx");
    assert_eq!(p.networks["net"].name, "my_appx_net");
    c.env = vec![("SUFFIX", "Two")];
    assert_eq!(check(c.clone()).name, "my_apptwo");
    c.env = vec![("COMPOSE_PROJECT_NAME", "fromenv")];
    assert_eq!(check(c.clone()).name, "fromenv");
    c.project_name = Some("flag");
    assert_eq!(check(c).name, "flag");
    let mut c = Case::new("basic");
    c.project_name = None;
    assert_eq!(load(&c.options()).unwrap().name, "basic");
}

#[test]
fn compose_file_variable() {
    let mut c = Case::new("compose_file_env");
    c.env = vec![("COMPOSE_FILE", "one.yaml:two.yaml")];
    let p = check(c);
    assert_eq!(p.config_files.len(), 2);
}

fn error_of(dir: &'static str, tweak: impl FnOnce(&mut LoadOptions)) -> ComposeError {
    let mut o = Case::new(dir).options();
    tweak(&mut o);
    load(&o).expect_err("an error")
}

#[test]
fn errors_name_file_line_and_key() {
    let e = error_of("errors/malformed", |_| {});
    let msg = e.to_string();
    assert!(
        matches!(e, ComposeError::Yaml { line: Some(_), .. }),
        "{msg}"
    );
    assert!(msg.contains("errors/malformed/compose.yaml:"), "{msg}");

    let msg = error_of("errors/unknown_key", |_| {}).to_string();
    assert!(
        msg.contains("compose.yaml: service \"web\": key \"imagee\""),
        "{msg}"
    );

    let msg = error_of("errors/unsupported_key", |_| {}).to_string();
    assert!(
        msg.ends_with(
            "compose.yaml: service \"web\": key \"develop\" is not supported by docker flow"
        ),
        "{msg}"
    );

    let msg = error_of("errors/unset_required", |_| {}).to_string();
    assert!(
        msg.contains("compose.yaml") && msg.contains("must be set"),
        "{msg}"
    );

    let msg = error_of("errors/bad_port", |_| {}).to_string();
    assert!(
        msg.contains("service \"web\": ports:") && msg.contains("80:http"),
        "{msg}"
    );

    let msg = error_of("errors/cycle", |_| {}).to_string();
    assert!(
        msg.ends_with(
            "cycle/compose.yaml: depends_on: dependency cycle detected: a -> b -> c -> a"
        ),
        "{msg}"
    );

    let msg = error_of("errors/missing_env_file", |_| {}).to_string();
    assert!(
        msg.contains("service \"web\": env file") && msg.contains("missing.env"),
        "{msg}"
    );

    let msg = error_of("errors/undefined_network", |_| {}).to_string();
    assert!(msg.contains("refers to undefined network front"), "{msg}");

    let msg = error_of("basic", |o| o.env_files = vec!["nope.env".into()]).to_string();
    assert!(
        msg.starts_with("couldn't find env file:") && msg.contains("nope.env"),
        "{msg}"
    );

    let msg = error_of("basic", |o| o.files = vec!["absent.yaml".into()]).to_string();
    assert!(msg.contains("absent.yaml"), "{msg}");

    let msg = error_of("basic", |o| o.files = vec!["-".into()]).to_string();
    assert!(msg.contains("stdin"), "{msg}");

    let msg = error_of("basic", |o| o.project_name = Some("Bad Name".into())).to_string();
    assert!(
        msg.starts_with("invalid project name \"Bad Name\""),
        "{msg}"
    );

    let msg = error_of("basic", |o| {
        o.project_name = None;
        o.env.insert("COMPOSE_PROJECT_NAME".into(), "UPPER".into());
    })
    .to_string();
    assert!(msg.starts_with("invalid project name \"UPPER\""), "{msg}");
}
