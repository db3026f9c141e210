//! The test bed script's own errors: a bad setup ends with one clear line, not a half-done bed.

mod common;

use std::{net::TcpListener, process::Command};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/testbed.sh");

fn run(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.output().expect("run testbed.sh");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn refuses_to_run_without_root() {
    // setpriv (util-linux) drops to the nobody user for this one command.
    let (code, err) = run(Command::new("setpriv").args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "bash",
        SCRIPT,
        "up",
    ]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("must run as root"), "{err}");
}

#[test]
fn a_port_held_by_something_else_than_consul_is_named() {
    common::bed();
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = squatter.local_addr().unwrap().to_string();
    let (code, err) = run(Command::new("bash")
        .arg(SCRIPT)
        .arg("up")
        .env("DOCKERFLOW_TESTBED_CONSUL_ADDR", &addr));
    assert_eq!(code, Some(1), "{err}");
    let port = addr.rsplit(':').next().unwrap();
    assert!(
        err.contains(&format!(
            "port {port} is taken by something that is not Consul"
        )),
        "{err}"
    );
}

#[test]
fn unknown_subcommand_shows_usage() {
    let (code, err) = run(Command::new("bash").args([SCRIPT, "sideways"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("usage:"), "{err}");
}
