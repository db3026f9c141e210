//! `docker flow config` through the real docker CLI: the loaded project, and load errors as one
//! line with exit code 2.

use std::{path::Path, process::Command};

const PLUGIN: &str = env!("CARGO_BIN_EXE_docker-flow");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/load");

fn docker_in(dir: &Path, args: &[&str]) -> std::process::Output {
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir(config.path().join("cli-plugins")).unwrap();
    std::os::unix::fs::symlink(PLUGIN, config.path().join("cli-plugins/docker-flow")).unwrap();
    Command::new("docker")
        .args(args)
        .current_dir(dir)
        .env("DOCKER_CONFIG", config.path())
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_PROFILES")
        .output()
        .expect("run docker")
}

#[test]
fn config_prints_the_project_like_compose_does() {
    let dir = Path::new(FIXTURES).join("multi_file");
    let ours = docker_in(&dir, &["flow", "config", "--format", "json"]);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let ours: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
    let theirs = docker_in(&dir, &["compose", "config", "--format", "json"]);
    assert!(
        theirs.status.success(),
        "docker compose config: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
    assert_eq!(ours["name"], theirs["name"]);
    let names = |v: &serde_json::Value| {
        v["services"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&ours), names(&theirs));
    for (svc, spec) in theirs["services"].as_object().unwrap() {
        for key in ["image", "environment", "command", "entrypoint"] {
            assert_eq!(
                ours["services"][svc][key], spec[key],
                "services.{svc}.{key}"
            );
        }
    }
    let services = docker_in(&dir, &["flow", "config", "--services"]);
    let mut listed: Vec<String> = String::from_utf8_lossy(&services.stdout)
        .lines()
        .map(String::from)
        .collect();
    listed.sort();
    assert_eq!(listed, names(&theirs));
}

#[test]
fn a_load_error_is_one_line_naming_the_file_and_exit_2() {
    let dir = Path::new(FIXTURES).join("errors/unknown_key");
    let out = docker_in(&dir, &["flow", "config"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("unknown_key/compose.yaml") && err.contains("\"imagee\""),
        "{err}"
    );
    let out = docker_in(&dir, &["flow", "config", "-f", "nope.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nope.yaml"), "{err}");
}
