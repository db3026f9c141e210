//! Swarm managers of the test bed: the checks and cleanup every Swarm test shares.

use std::time::Duration;

use super::{docker, docker_ok, wait_until};

/// Fails unless `host` is a Swarm manager (the bed's engine c, or node 0 of its three nodes).
pub fn assert_manager(host: &str) {
    assert_eq!(
        docker_ok(&[
            "-H",
            host,
            "info",
            "--format",
            "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
        ]),
        "active true",
        "{host} must be a Swarm manager: run `scripts/testbed.sh up`"
    );
}

/// Tasks of service `name` on manager `host` that run.
pub fn running_tasks(host: &str, name: &str) -> usize {
    let out = docker(&[
        "-H",
        host,
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.CurrentState}}",
        name,
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Running"))
        .count()
}

/// Removes a Swarm project from manager `host`: its services (by the stack label) and its proxy,
/// then, once their tasks are gone, its network; `also` runs in the same wait (removing what
/// else the tasks held) and says whether that is gone too.
pub fn remove_project(
    host: &str,
    project: &str,
    proxy: &str,
    deadline: Duration,
    mut also: impl FnMut() -> bool,
) {
    let label = format!("label=com.docker.stack.namespace={project}");
    let ids = docker(&["-H", host, "service", "ls", "-q", "--filter", &label]);
    for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
        let _ = docker(&["-H", host, "service", "rm", id]);
    }
    let _ = docker(&["-H", host, "rm", "-f", proxy]);
    let net = format!("{project}_default");
    wait_until(
        &format!("the Swarm project {project} is removed"),
        deadline,
        || {
            let gone = also();
            let out = docker(&["-H", host, "network", "rm", &net]);
            let err = String::from_utf8_lossy(&out.stderr);
            let net_gone =
                out.status.success() || err.contains("not found") || err.contains("No such");
            (gone && net_gone).then_some(())
        },
    );
}
