//! Compose `secrets:` and `configs:` on a plain engine (the test bed's default engine), as
//! Compose runs them without Swarm: file-based ones bind-mounted read-only into every instance
//! (secrets under /run/secrets, configs under /), kept when the release is scaled; sources only a
//! Swarm can hold are refused naming the key, with nothing created.

mod common;

use std::io::Read;

use common::docker_ok;
use common::tour::{both, Tour};
use serde_json::Value;

fn with_secrets(t: &Tour, extra_secret: &str) {
    let compose = t.dir.path().join("compose.yaml");
    let text = std::fs::read_to_string(&compose).unwrap();
    let text = text.replacen(
        "    expose: [\"8080\"]\n",
        "    expose: [\"8080\"]\n    secrets: [db_password]\n    configs: [{ source: app_conf, target: /etc/app.conf }]\n",
        1,
    );
    let text = format!(
        "{text}secrets:\n  db_password: {{ {extra_secret} }}\nconfigs:\n  app_conf: {{ file: ./conf/app.conf }}\n"
    );
    std::fs::write(&compose, text).unwrap();
    std::fs::write(t.dir.path().join("db.txt"), "pw-one").unwrap();
    std::fs::create_dir(t.dir.path().join("conf")).unwrap();
    std::fs::write(t.dir.path().join("conf/app.conf"), "a=1\n").unwrap();
}

/// (source, destination, read-write) of each bind mount of a container.
fn binds(container: &str) -> Vec<(String, String, bool)> {
    let text = docker_ok(&["inspect", "--format", "{{json .Mounts}}", container]);
    let mounts: Value = serde_json::from_str(&text).unwrap();
    let mut v: Vec<_> = mounts
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["Type"] == "bind")
        .map(|m| {
            (
                m["Source"].as_str().unwrap().to_string(),
                m["Destination"].as_str().unwrap().to_string(),
                m["RW"].as_bool().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The content of `path` in the container, through `docker cp` (the demo image has no shell).
fn read_in(container: &str, path: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["cp", &format!("{container}:{path}"), "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let mut archive = tar::Archive::new(out.stdout.as_slice());
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut s = String::new();
    entry.read_to_string(&mut s).unwrap();
    s
}

#[test]
fn file_secrets_and_configs_are_bind_mounted_read_only() {
    let t = Tour::new(true);
    with_secrets(&t, "file: ./db.txt");
    t.ok(&[], &["deploy", "--scale=2"]);
    let dir = t.dir.path().canonicalize().unwrap();
    let want = vec![
        (
            dir.join("conf/app.conf").display().to_string(),
            "/etc/app.conf".to_string(),
            false,
        ),
        (
            dir.join("db.txt").display().to_string(),
            "/run/secrets/db_password".to_string(),
            false,
        ),
    ];
    let blue: Vec<String> = t
        .containers()
        .into_iter()
        .filter(|(n, running)| *running && n.contains("-app-blue-"))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(blue.len(), 2, "{blue:?}");
    for c in &blue {
        assert_eq!(binds(c), want, "{c}");
    }
    assert_eq!(read_in(&blue[0], "/run/secrets/db_password"), "pw-one");
    assert_eq!(read_in(&blue[0], "/etc/app.conf"), "a=1\n");

    // A release scaled later is made from the service it started with: the same mounts.
    t.ok(&[], &["scale", "+1"]);
    let added = t
        .containers()
        .into_iter()
        .find(|(n, r)| *r && n.ends_with("-app-blue-3"))
        .expect("a third instance")
        .0;
    assert_eq!(binds(&added), want);
}

#[test]
fn swarm_only_sources_are_refused_on_a_plain_engine() {
    for (source, want) in [
        (
            "environment: API_KEY",
            "secret \"db_password\" comes from environment variable API_KEY",
        ),
        ("external: true", "secret \"db_password\" is external"),
    ] {
        let t = Tour::new(true);
        with_secrets(&t, source);
        let out = t.flow(&[("API_KEY", "k")], &["deploy"]);
        let text = both(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(
            text.contains("service \"app\": key \"secrets\"") && text.contains(want),
            "{text}"
        );
        assert_eq!(t.containers(), vec![], "nothing is created: {text}");
    }
}
