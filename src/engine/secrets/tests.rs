use indexmap::IndexMap;

use super::*;
use crate::compose::{self, LoadOptions};
use crate::engine::create::{container_config, ContainerContext};

/// `yaml` in a temp dir holding `files`, loaded as project "shop" with `API_KEY` set.
fn load(yaml: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let p = compose::load(&LoadOptions {
        project_name: Some("shop".into()),
        cwd: dir.path().to_path_buf(),
        env: [("API_KEY".to_string(), "k-1".to_string())].into(),
        ..Default::default()
    })
    .unwrap();
    (dir, p)
}

/// A key as Consul would hold (any 32 bytes).
const KEY: &[u8] = &[7u8; 32];

const FILES: &str = r#"
services:
  web:
    image: dockerflow/demo:0.1.0
    secrets: [db, { source: tls, target: /etc/tls.pem }]
    configs: [app, { source: other, target: conf/other.ini }]
secrets:
  db: { file: ./db.txt }
  tls: { file: ./tls.pem }
configs:
  app: { file: ./app.conf }
  other: { file: ./app.conf }
"#;

fn files() -> Vec<(&'static str, &'static str)> {
    vec![("db.txt", "pw"), ("tls.pem", "cert"), ("app.conf", "a=1")]
}

#[test]
fn plain_engine_bind_mounts_files_read_only_where_compose_does() {
    let (dir, p) = load(FILES, &files());
    let body = container_config(
        &p,
        &p.services["web"],
        &ContainerContext::new("shop-web-1", 1, ""),
    )
    .unwrap();
    let mounts = body.host_config.unwrap().mounts.unwrap();
    let got: Vec<(String, String, bool)> = mounts
        .iter()
        .map(|m| {
            assert_eq!(m.typ, Some(MountType::BIND));
            (
                m.source.clone().unwrap(),
                m.target.clone().unwrap(),
                m.read_only == Some(true),
            )
        })
        .collect();
    let at = |f: &str| dir.path().join(f).display().to_string();
    assert_eq!(
        got,
        vec![
            (at("db.txt"), "/run/secrets/db".into(), true),
            (at("tls.pem"), "/etc/tls.pem".into(), true),
            (at("app.conf"), "/app".into(), true),
            (at("app.conf"), "/conf/other.ini".into(), true),
        ]
    );
}

#[test]
fn plain_engine_refuses_what_only_swarm_can_hold() {
    // (the service's key, the top-level section, what the error says)
    let cases = [
        (
            "secrets: [k]",
            "secrets:\n  k: { environment: API_KEY }",
            "secret \"k\" comes from environment variable API_KEY",
        ),
        (
            "configs: [c]",
            "configs:\n  c: { content: hi }",
            "config \"c\" comes from `content:`",
        ),
        (
            "secrets: [k]",
            "secrets:\n  k: { external: true }",
            "secret \"k\" is external",
        ),
        (
            "secrets: [{ source: k, mode: 0400 }]",
            "secrets:\n  k: { file: ./db.txt }",
            "`mode` applies on a Swarm manager only",
        ),
        // A volume at the secret's place: refused, not silently dropped.
        (
            "secrets: [k]\n    volumes: [\"./data:/run/secrets/k\"]",
            "secrets:\n  k: { file: ./db.txt }",
            "is mounted at /run/secrets/k, where a volume",
        ),
        (
            "configs: [{ source: c, target: /etc/x }]\n    volumes: [{ type: tmpfs, target: /etc/x }]",
            "configs:\n  c: { file: ./db.txt }",
            "is mounted at /etc/x, where a volume",
        ),
    ];
    for (key, top, want) in cases {
        let yaml = format!("services:\n  web:\n    image: x\n    {key}\n{top}\n");
        let (_dir, p) = load(&yaml, &files());
        let e = container_config(&p, &p.services["web"], &ContainerContext::new("n", 1, ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("service \"web\": key \""), "{e}");
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn swarm_objects_are_named_by_content_and_referenced_with_swarm_defaults() {
    let (dir, p) = load(FILES, &files());
    let web = &p.services["web"];
    let objects = swarm_objects(&p, web, Some(KEY)).unwrap();
    // One object per key; `other` and `app` share a file but are two keys.
    assert_eq!(objects.len(), 4);
    let db = &objects[0];
    assert_eq!(db.kind, Kind::Secret);
    assert_eq!(db.name, hashed_name("shop_db", KEY, b"pw"));
    assert_eq!(db.labels[STACK_NAMESPACE], "shop");
    assert_eq!(db.content.as_deref(), Some(&b"pw"[..]));
    // sha256("pw") starts 30c952fab122; keyed, the name says nothing of the content.
    assert_eq!(hashed_name("shop_db", b"", b"pw"), "shop_db-30c952fab122");
    assert_ne!(hashed_name("shop_db", KEY, b"pw"), "shop_db-30c952fab122");

    let mut spec =
        crate::engine::swarm::service_spec(&p, web, "shop_web-blue", &IndexMap::new(), 1).unwrap();
    // Built for checking, the spec names the objects bare (no hash of anything).
    let bare = spec.clone().task_template.unwrap().container_spec.unwrap();
    assert_eq!(
        bare.secrets.unwrap()[0].secret_name.as_deref(),
        Some("shop_db")
    );
    set_refs(&mut spec, web, &objects, &HashMap::new());
    let c = spec.task_template.unwrap().container_spec.unwrap();
    let secrets = c.secrets.unwrap();
    let f = secrets[0].file.clone().unwrap();
    assert_eq!(secrets[0].secret_name.as_deref(), Some(db.name.as_str()));
    assert_eq!(secrets[0].secret_id, None);
    assert_eq!(f.name.as_deref(), Some("db"));
    assert_eq!(
        (f.uid.as_deref(), f.gid.as_deref(), f.mode),
        (Some("0"), Some("0"), Some(0o444))
    );
    assert_eq!(
        secrets[1].file.as_ref().unwrap().name.as_deref(),
        Some("/etc/tls.pem")
    );
    let configs = c.configs.unwrap();
    assert_eq!(
        configs[0].file.as_ref().unwrap().name.as_deref(),
        Some("/app")
    );
    assert_eq!(
        configs[1].file.as_ref().unwrap().name.as_deref(),
        Some("/conf/other.ini")
    );
    // No bind mounts on Swarm: the objects carry the content.
    assert!(c.mounts.is_none_or(|m| m.is_empty()));

    // A changed file is a new object; the same content the same one.
    std::fs::write(dir.path().join("db.txt"), "pw2").unwrap();
    let again = swarm_objects(&p, web, Some(KEY)).unwrap();
    assert_ne!(again[0].name, db.name);
    assert_eq!(again[2].name, objects[2].name);
}

#[test]
fn swarm_takes_environment_content_and_external_sources() {
    let (_dir, p) = load(
        "services:\n  web:\n    image: x\n    secrets: [k, { source: ext, uid: '10', mode: 0400 }]\n    configs: [c]\nsecrets:\n  k: { environment: API_KEY }\n  ext: { external: true, name: shared-tls }\nconfigs:\n  c: { content: hi }\n",
        &[],
    );
    let web = &p.services["web"];
    let objects = swarm_objects(&p, web, Some(KEY)).unwrap();
    assert_eq!(objects[0].name, hashed_name("shop_k", KEY, b"k-1"));
    assert_eq!(objects[1].name, "shared-tls");
    assert_eq!(objects[1].content, None);
    assert_eq!(objects[2].name, hashed_name("shop_c", KEY, b"hi"));
    let mut spec = crate::engine::swarm::service_spec(&p, web, "s", &IndexMap::new(), 1).unwrap();
    let ids = HashMap::from([((Kind::Secret, "shared-tls".to_string()), "id1".to_string())]);
    set_refs(&mut spec, web, &objects, &ids);
    let c = spec.task_template.unwrap().container_spec.unwrap();
    let ext = &c.secrets.unwrap()[1];
    assert_eq!(ext.secret_id.as_deref(), Some("id1"));
    let f = ext.file.as_ref().unwrap();
    assert_eq!((f.uid.as_deref(), f.mode), (Some("10"), Some(0o400)));
}
