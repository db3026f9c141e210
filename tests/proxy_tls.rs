//! HTTPS termination end to end: a certificate the user supplies (`--proxy-cert`), served by the
//! proxy's HTTPS listener and verified by curl against it, while HTTP keeps working; the key
//! inside the container is readable by HAProxy's user only.

mod common;

use std::process::Command;

use common::curl;
use common::tour::{free_port, Tour};

#[test]
fn the_proxy_terminates_https_with_the_users_certificate() {
    let tour = Tour::new(true);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=demo.test",
            "-addext",
            "subjectAltName=DNS:demo.test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl (the test bed installs it)");
    assert!(made.status.success(), "{made:?}");
    let pem = dir.path().join("proxy.pem");
    let mut both = std::fs::read(&cert).unwrap();
    both.extend(std::fs::read(&key).unwrap());
    std::fs::write(&pem, both).unwrap();

    let https = free_port().to_string();
    let env = [
        ("FLOW_PROXY_CERT", pem.to_str().unwrap()),
        ("FLOW_PROXY_HTTPS_PORT", https.as_str()),
        ("RELEASE", "v1"),
    ];
    tour.ok(&env, &["deploy", "--flow=proxy"]);

    let url = format!("https://demo.test:{https}/demo/hello");
    let resolve = format!("demo.test:{https}:127.0.0.1");
    let body = curl(&[
        "-fsS",
        "--max-time",
        "5",
        "--cacert",
        cert.to_str().unwrap(),
        "--resolve",
        &resolve,
        &url,
    ])
    .expect("HTTPS through the proxy, verified against the user's certificate");
    assert_eq!(body, "hello, world!");
    // A client that trusts another CA refuses it: the proxy really serves that certificate.
    let other = curl(&["-fsS", "--max-time", "5", "--resolve", &resolve, &url]);
    assert!(other.is_err(), "{other:?}");
    assert_eq!(tour.release().as_deref(), Some("v1"), "HTTP still serves");

    let mode = common::docker_ok(&[
        "exec",
        &tour.proxy,
        "busybox",
        "stat",
        "-c",
        "%a %u",
        "/usr/local/etc/haproxy/flow.pem",
    ]);
    assert_eq!(mode.trim(), "600 99", "the key is HAProxy's user's alone");
}
