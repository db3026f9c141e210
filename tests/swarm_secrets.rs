//! Compose `secrets:` and `configs:` on a single-node Swarm (the test bed's engine c), end to end
//! through the real docker CLI: each becomes a Swarm secret/config named by its content, a
//! changed file gives the next release a new object while the old release keeps its own, `scale`
//! keeps the references, rollback works, and bad input (undefined key, missing file, missing
//! external) exits 2 with nothing created.
//!
//! The demo image is FROM scratch with no route that reads files, so what a task sees is checked
//! on the engine: the service spec's references (name, file name, uid/gid/mode), the objects'
//! names (content-hashed) and labels, a config's stored data, and the tasks running.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::tour::{both, Tour};
use common::{bed, docker, docker_ok, wait_until};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn c() -> &'static str {
    &bed().engine_c_host
}

/// A tour on engine c; its services, proxy, network, secrets and configs go in Drop.
struct SwarmTour {
    tour: Tour,
}

impl SwarmTour {
    fn new() -> SwarmTour {
        common::swarm::assert_manager(c());
        SwarmTour {
            tour: Tour::new(true),
        }
    }

    fn env<'a>(&self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![("DOCKER_HOST", c()), ("API_KEY", "k-123")];
        env.extend_from_slice(extra);
        env
    }

    fn ok(&self, extra: &[(&str, &str)], args: &[&str]) -> String {
        self.tour.ok(&self.env(extra), args)
    }

    fn write(&self, name: &str, content: &str) {
        std::fs::write(self.tour.dir.path().join(name), content).unwrap();
    }

    fn service(&self, colour: &str) -> String {
        format!("{}_app-{colour}", self.tour.project)
    }

    /// `.Spec.TaskTemplate.ContainerSpec.<field>` of a service, as JSON.
    fn refs(&self, service: &str, field: &str) -> Value {
        let text = docker_ok(&[
            "-H",
            c(),
            "service",
            "inspect",
            "--format",
            &format!("{{{{json .Spec.TaskTemplate.ContainerSpec.{field}}}}}"),
            service,
        ]);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Names of the project's secrets or configs (`kind`: secret/config).
    fn objects(&self, kind: &str) -> Vec<String> {
        let label = format!("label=com.docker.stack.namespace={}", self.tour.project);
        let mut names: Vec<String> = docker_ok(&[
            "-H",
            c(),
            kind,
            "ls",
            "--filter",
            &label,
            "--format",
            "{{.Name}}",
        ])
        .lines()
        .map(String::from)
        .collect();
        names.sort();
        names
    }

    /// Tasks of a service that run.
    fn running(&self, name: &str) -> usize {
        common::swarm::running_tasks(c(), name)
    }

    fn nothing_created(&self) {
        let label = format!("label=com.docker.stack.namespace={}", self.tour.project);
        assert_eq!(
            docker_ok(&["-H", c(), "service", "ls", "-q", "--filter", &label]),
            ""
        );
        assert!(self.objects("secret").is_empty());
        assert!(self.objects("config").is_empty());
        assert_eq!(self.tour.kv("color"), None);
    }
}

impl Drop for SwarmTour {
    fn drop(&mut self) {
        // Secrets and configs go once the tasks using them are gone.
        common::swarm::remove_project(
            c(),
            &self.tour.project,
            &self.tour.proxy,
            Duration::from_secs(30),
            || {
                for kind in ["secret", "config"] {
                    for name in self.objects(kind) {
                        let _ = docker(&["-H", c(), kind, "rm", &name]);
                    }
                }
                self.objects("secret").is_empty() && self.objects("config").is_empty()
            },
        );
    }
}

/// The tour's app with a file secret, an environment secret (own target and mode), a file
/// config and a `content:` config that follows the release.
fn with_secrets(t: &SwarmTour) {
    let compose = t.tour.dir.path().join("compose.yaml");
    let text = std::fs::read_to_string(&compose).unwrap();
    let text = text.replacen(
        "    expose: [\"8080\"]\n",
        "    expose: [\"8080\"]\n    secrets:\n      - db_password\n      - { source: api_key, target: api.key, uid: \"1000\", mode: 0400 }\n    configs:\n      - app_conf\n      - { source: banner, target: /etc/banner.txt }\n",
        1,
    );
    let text = format!(
        "{text}secrets:\n  db_password: {{ file: ./db.txt }}\n  api_key: {{ environment: API_KEY }}\nconfigs:\n  app_conf: {{ file: ./app.conf }}\n  banner: {{ content: \"release ${{RELEASE:-v1}}\" }}\n"
    );
    std::fs::write(&compose, text).unwrap();
    t.write("db.txt", "pw-one");
    t.write("app.conf", "a=1\n");
}

/// The key docker flow keeps in Consul (made by the first deploy that has secrets or configs).
fn object_key() -> Vec<u8> {
    use base64::Engine;
    let out = common::curl(&[
        "-fsS",
        &format!("{}/v1/kv/docker-flow/.swarm/object-key", bed().consul),
    ])
    .expect("the Swarm object key is in Consul");
    let v: Value = serde_json::from_str(&out).unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(v[0]["Value"].as_str().unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);
    key
}

/// The name docker flow gives an object: a hash of the content keyed with `object_key()`.
fn hashed(name: &str, content: &str) -> String {
    let d = Sha256::new()
        .chain_update(object_key())
        .chain_update(content.as_bytes())
        .finalize();
    let hex: String = d.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hex}")
}

/// (SecretName or ConfigName, File.Name, UID, GID, Mode) of each reference.
fn summary(refs: &Value, name_key: &str) -> Vec<(String, String, String, String, u64)> {
    refs.as_array()
        .unwrap_or_else(|| panic!("no references: {refs}"))
        .iter()
        .map(|r| {
            let f = &r["File"];
            assert!(
                r[name_key.replace("Name", "ID")]
                    .as_str()
                    .is_some_and(|id| !id.is_empty()),
                "{r}"
            );
            (
                r[name_key].as_str().unwrap().to_string(),
                f["Name"].as_str().unwrap().to_string(),
                f["UID"].as_str().unwrap().to_string(),
                f["GID"].as_str().unwrap().to_string(),
                f["Mode"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn secrets_and_configs_follow_releases_on_swarm() {
    let t = SwarmTour::new();
    with_secrets(&t);
    let p = t.tour.project.clone();
    let (blue, green) = (t.service("blue"), t.service("green"));

    // 1. v1 with its secrets and configs.
    t.ok(&[], &["deploy", "--flow=proxy"]);
    let db1 = hashed(&format!("{p}_db_password"), "pw-one");
    let key = hashed(&format!("{p}_api_key"), "k-123");
    let conf = hashed(&format!("{p}_app_conf"), "a=1\n");
    let banner1 = hashed(&format!("{p}_banner"), "release v1");
    // No secret value reaches the service spec (its labels included) or Consul.
    let inspected = docker_ok(&["-H", c(), "service", "inspect", &blue]);
    let kv: Value = serde_json::from_str(
        &common::curl(&[
            "-fsS",
            &format!(
                "{}/v1/kv/docker-flow/{}?recurse",
                bed().consul,
                t.tour.service()
            ),
        ])
        .unwrap(),
    )
    .unwrap();
    // Values come base64-encoded: decoded, as they are read.
    let kv: String = kv
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Value"].as_str())
        .map(|v| {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
            String::from_utf8_lossy(&raw).to_string()
        })
        .collect();
    assert!(kv.contains("blue"), "the state is read: {kv}");
    for text in [&inspected, &kv] {
        assert!(
            !text.contains("pw-one") && !text.contains("k-123"),
            "{text}"
        );
    }
    let blue_secrets = summary(&t.refs(&blue, "Secrets"), "SecretName");
    assert_eq!(
        blue_secrets,
        vec![
            (
                db1.clone(),
                "db_password".into(),
                "0".into(),
                "0".into(),
                0o444
            ),
            (
                key.clone(),
                "api.key".into(),
                "1000".into(),
                "0".into(),
                0o400
            ),
        ]
    );
    let blue_configs = summary(&t.refs(&blue, "Configs"), "ConfigName");
    assert_eq!(
        blue_configs,
        vec![
            (
                conf.clone(),
                "/app_conf".into(),
                "0".into(),
                "0".into(),
                0o444
            ),
            (
                banner1.clone(),
                "/etc/banner.txt".into(),
                "0".into(),
                "0".into(),
                0o444
            ),
        ]
    );
    let mut want = vec![db1.clone(), key.clone()];
    want.sort();
    assert_eq!(t.objects("secret"), want);
    // A config's data is readable back: the stored content is the file's.
    let data = docker_ok(&[
        "-H",
        c(),
        "config",
        "inspect",
        "--format",
        "{{json .Spec.Data}}",
        &conf,
    ]);
    let data = base64::engine::general_purpose::STANDARD
        .decode(serde_json::from_str::<String>(&data).unwrap())
        .unwrap();
    assert_eq!(data, b"a=1\n");
    assert_eq!(
        t.running(&blue),
        1,
        "the task runs with its secrets mounted"
    );
    assert_eq!(t.tour.release().as_deref(), Some("v1"));

    // 2. The secret file changes: v2 gets a new object, v1 keeps its own.
    t.write("db.txt", "pw-two");
    t.ok(&[("RELEASE", "v2")], &["deploy"]);
    let db2 = hashed(&format!("{p}_db_password"), "pw-two");
    let banner2 = hashed(&format!("{p}_banner"), "release v2");
    let green_secrets = summary(&t.refs(&green, "Secrets"), "SecretName");
    assert_eq!(green_secrets[0].0, db2);
    assert_eq!(
        green_secrets[1].0, key,
        "unchanged content: the same object"
    );
    assert_eq!(
        summary(&t.refs(&green, "Configs"), "ConfigName")[1].0,
        banner2
    );
    assert_eq!(
        summary(&t.refs(&blue, "Secrets"), "SecretName"),
        blue_secrets
    );
    let mut want = vec![db1.clone(), db2.clone(), key.clone()];
    want.sort();
    assert_eq!(t.objects("secret"), want);
    assert_eq!(t.running(&green), 1);

    // 3. Switch, stop the old one, scale: the spec read back and re-sent keeps every reference.
    t.ok(&[("RELEASE", "v2")], &["proxy", "--flow=stop-old"]);
    assert_eq!(t.tour.release().as_deref(), Some("v2"));
    let before = (t.refs(&green, "Secrets"), t.refs(&green, "Configs"));
    t.ok(&[("RELEASE", "v2")], &["scale", "+1"]);
    assert_eq!(
        (t.refs(&green, "Secrets"), t.refs(&green, "Configs")),
        before
    );
    wait_until("two green tasks run", Duration::from_secs(30), || {
        (t.running(&green) == 2).then_some(())
    });

    // 4. Rollback: blue comes back on its own (old) secret and config.
    t.ok(&[], &["rollback"]);
    assert_eq!(t.tour.release().as_deref(), Some("v1"));
    assert_eq!(t.running(&blue), 1);
    assert_eq!(
        summary(&t.refs(&blue, "Secrets"), "SecretName"),
        blue_secrets
    );
    assert_eq!(
        summary(&t.refs(&blue, "Configs"), "ConfigName"),
        blue_configs
    );

    // 5. v3 takes green's place: v2's service goes, and with it the objects only v2 used (its
    //    secret and banner); those blue uses stay, so nothing piles up release after release.
    t.write("db.txt", "pw-three");
    let out = t.ok(&[("RELEASE", "v3")], &["deploy"]);
    let db3 = hashed(&format!("{p}_db_password"), "pw-three");
    assert!(out.contains(&format!("removed secret {db2}")), "{out}");
    let mut want = vec![db1.clone(), db3, key.clone()];
    want.sort();
    assert_eq!(t.objects("secret"), want);
    let configs = t.objects("config");
    assert!(!configs.contains(&banner2), "{configs:?}");
    assert!(
        configs.contains(&banner1) && configs.contains(&conf),
        "{configs:?}"
    );
}

#[test]
fn bad_secrets_exit_2_and_create_nothing() {
    let t = SwarmTour::new();
    with_secrets(&t);
    let compose = t.tour.dir.path().join("compose.yaml");
    let original = std::fs::read_to_string(&compose).unwrap();
    let expect_2 = |env: &[(&str, &str)], wants: &[&str]| {
        let out = t.tour.flow(&t.env(env), &["deploy", "--flow=proxy"]);
        let text = both(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        for w in wants {
            assert!(text.contains(w), "{w:?} not in: {text}");
        }
        t.nothing_created();
    };
    let file = compose.display().to_string();

    // A missing file.
    std::fs::remove_file(t.tour.dir.path().join("db.txt")).unwrap();
    expect_2(&[], &[&file, "secrets.db_password", "db.txt not found"]);
    t.write("db.txt", "pw");

    // An undefined secret.
    std::fs::write(&compose, original.replace("- db_password", "- nope")).unwrap();
    expect_2(&[], &[&file, "undefined secret \"nope\""]);

    // An unset environment variable (the runner's environment has no API_KEY).
    std::fs::write(&compose, &original).unwrap();
    assert!(std::env::var_os("API_KEY").is_none());
    let out = t
        .tour
        .flow(&[("DOCKER_HOST", c())], &["deploy", "--flow=proxy"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&file)
            && text.contains("secrets.api_key: environment variable API_KEY is not set"),
        "{text}"
    );
    t.nothing_created();

    // An external secret that does not exist: found before the other objects are created.
    let missing = common::unique("no-such-secret");
    std::fs::write(
        &compose,
        original.replace(
            "api_key: { environment: API_KEY }",
            &format!("api_key: {{ external: true, name: {missing} }}"),
        ),
    )
    .unwrap();
    expect_2(
        &[],
        &[
            &format!("external secret \"{missing}\""),
            "secrets.api_key",
            "does not exist",
        ],
    );
}
