use std::collections::HashMap;

use crate::compose::{self, ComposeError, FileSource, LoadOptions, Project};

type Files<'a> = &'a [(&'a str, &'a str)];

/// Loads `yaml` as project "shop" from a temp dir holding `files` (name, content).
fn load_in(
    yaml: &str,
    files: &[(&str, &str)],
    env: &[(&str, &str)],
) -> (tempfile::TempDir, Result<Project, ComposeError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
    for (name, content) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let r = compose::load(&LoadOptions {
        project_name: Some("shop".into()),
        cwd: dir.path().to_path_buf(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    });
    (dir, r)
}

const FULL: &str = r#"
services:
  web:
    image: dockerflow/demo:0.1.0
    secrets:
      - db_password
      - source: api_key
        target: api.key
        uid: "1000"
        gid: "1000"
        mode: 0400
    configs:
      - app_conf
      - source: inline
        target: /etc/inline.conf
        mode: 0o440
secrets:
  db_password: { file: ./secrets/db.txt }
  api_key: { environment: API_KEY, labels: { tier: web } }
  unused: { file: ./nowhere.txt }
configs:
  app_conf: { file: app.conf, name: my-app-conf }
  inline: { content: "port=${PORT:-80}" }
"#;

#[test]
fn keeps_used_objects_resolved_and_refs_in_long_form() {
    let (dir, p) = load_in(
        FULL,
        &[("secrets/db.txt", "s3cret"), ("app.conf", "a=1")],
        &[("API_KEY", "k-123")],
    );
    let p = p.unwrap();
    let root = dir.path();
    // Only what a service uses; engine names `<project>_<key>` unless `name:`.
    assert_eq!(
        p.secrets.keys().collect::<Vec<_>>(),
        ["db_password", "api_key"]
    );
    let db = &p.secrets["db_password"];
    assert_eq!(db.name, "shop_db_password");
    assert_eq!(db.source, FileSource::File(root.join("secrets/db.txt")));
    let key = &p.secrets["api_key"];
    assert_eq!(
        key.source,
        FileSource::Environment {
            variable: "API_KEY".into(),
            value: "k-123".into()
        }
    );
    assert_eq!(key.labels["tier"], "web");
    assert_eq!(p.configs["app_conf"].name, "my-app-conf");
    assert_eq!(
        p.configs["inline"].source,
        FileSource::Content("port=80".into())
    );
    let web = &p.services["web"].extras;
    assert_eq!(web.secrets.len(), 2);
    assert_eq!(web.secrets[0].source, "db_password");
    assert_eq!(web.secrets[0].target, None);
    assert_eq!(web.secrets[0].file, Some(root.join("secrets/db.txt")));
    let api = &web.secrets[1];
    assert_eq!(api.target.as_deref(), Some("api.key"));
    assert_eq!(api.uid.as_deref(), Some("1000"));
    // An unquoted 0400 is octal in Compose (and a string to YAML 1.2): 0o400.
    assert_eq!(api.mode, Some(0o400));
    assert_eq!(api.file, None);
    assert_eq!(web.configs[1].mode, Some(0o440));
    assert_eq!(web.configs[0].file, Some(root.join("app.conf")));
    // The environment value is never printed by `docker flow config`.
    let doc = serde_json::to_string(&crate::flow::config::to_document(&p)).unwrap();
    assert!(!doc.contains("k-123"), "{doc}");
    assert!(doc.contains("API_KEY"), "{doc}");
    // Nor by a debug print of the project (a failed assertion shows one).
    let debug = format!("{p:?}");
    assert!(
        !debug.contains("k-123") && debug.contains("API_KEY"),
        "{debug}"
    );
}

#[test]
fn external_objects_keep_their_name() {
    let (_dir, p) = load_in(
        "services:\n  web:\n    image: x\n    secrets: [tls]\nsecrets:\n  tls: { external: true }\nconfigs:\n  c: { external: true, name: other }\n",
        &[],
        &[],
    );
    let p = p.unwrap();
    assert_eq!(p.secrets["tls"].name, "tls");
    assert!(p.secrets["tls"].is_external());
    assert!(p.configs.is_empty());
}

#[test]
fn bad_input_names_the_file_and_the_key() {
    // (compose file, files beside it, what the error says)
    let cases: &[(&str, Files, &str)] = &[
        (
            "services:\n  web:\n    image: x\n    secrets: [nope]\n",
            &[],
            "service \"web\" refers to undefined secret \"nope\"",
        ),
        (
            "services:\n  web:\n    image: x\n    configs: [nope]\nconfigs: {}\n",
            &[],
            "service \"web\" refers to undefined config \"nope\"",
        ),
        (
            "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: { file: ./missing.txt }\n",
            &[],
            "secrets.s: file ",
        ),
        (
            "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: { environment: UNSET_VAR }\n",
            &[],
            "secrets.s: environment variable UNSET_VAR is not set",
        ),
        (
            "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: { content: x }\n",
            &[],
            "key \"secrets.s.content\" is not supported",
        ),
        (
            "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: { file: ./f, external: true }\n",
            &[("f", "x")],
            "secrets.s: external and file cannot go together",
        ),
        (
            "services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {}\n",
            &[],
            "secrets.s: needs one of file, environment or external",
        ),
        (
            "services:\n  web:\n    image: x\n    secrets: [{ source: s, mode: rw }]\nsecrets:\n  s: { file: ./f }\n",
            &[("f", "x")],
            "service \"web\": secrets: mode",
        ),
    ];
    for (yaml, files, want) in cases {
        let (dir, r) = load_in(yaml, files, &[]);
        let e = r.unwrap_err();
        let text = e.to_string();
        assert!(text.contains(want), "{yaml}\n{text}");
        let file = dir.path().join("compose.yaml");
        assert!(text.contains(&file.display().to_string()), "{text}");
    }
}

#[test]
fn later_files_override_refs_by_source() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "x").unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: x\n    secrets: [s, { source: t, target: a }]\nsecrets:\n  s: { file: ./f }\n  t: { file: ./f }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("compose.override.yaml"),
        "services:\n  web:\n    secrets: [{ source: t, target: b }]\n",
    )
    .unwrap();
    let p = compose::load(&LoadOptions {
        project_name: Some("shop".into()),
        cwd: dir.path().to_path_buf(),
        ..Default::default()
    })
    .unwrap();
    let refs = &p.services["web"].extras.secrets;
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[1].target.as_deref(), Some("b"));
}

#[test]
fn an_included_file_resolves_its_own_paths() {
    let (dir, p) = load_in(
        "include: [sub/compose.yaml]\nservices:\n  web:\n    image: x\n    secrets: [inc]\n",
        &[
            (
                "sub/compose.yaml",
                "services:\n  other:\n    image: x\nsecrets:\n  inc: { file: ./inc.txt }\n",
            ),
            ("sub/inc.txt", "x"),
        ],
        &[],
    );
    let p = p.unwrap();
    assert_eq!(
        p.secrets["inc"].source,
        FileSource::File(dir.path().join("sub/inc.txt"))
    );
}
