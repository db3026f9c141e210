//! Secrets never reach the output: flows run with a Consul ACL token (CONSUL_HTTP_TOKEN,
//! FLOW_CONSUL_TOKEN, and refused from a flag and docker-flow.yml), TLS client key files and a
//! proxy certificate with its key, with `--format json` and docker's `-D`/`--debug`, succeeding
//! and failing; every byte of stdout and stderr is searched for the token and the key material.
//! Files holding secrets (the proxy's PEM in its container) are 0600, and docker flow writes
//! nothing on the host.

mod common;

use std::{collections::BTreeSet, path::Path, process::Output};

use common::own_consul::OwnConsul;
use common::tour::{both, free_port, Tour};
use common::{bed, docker_ok};

const TOKEN: &str = "7e1f0c2a-5b3d-4c6e-8f90-a1b2c3d4e5f6";
const WRONG_TOKEN: &str = "0badc0de-1111-4222-8333-944455556666";
const MARKER: &str = "NotAKeyButSecretMaterial0123456789";

/// Every file under `dir` (relative paths), to tell what a run wrote.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p.clone());
            }
            out.insert(p.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out
}

#[test]
fn tokens_and_keys_never_reach_the_output() {
    bed();
    let consul = OwnConsul::start(TOKEN);
    let tour = Tour::new(false);
    let d = tour.dir.path();
    // The proxy's HTTPS certificate: the server certificate and its key in one PEM.
    let pem = [
        std::fs::read_to_string(consul.pki.path("server.pem")).unwrap(),
        std::fs::read_to_string(consul.pki.path("server-key.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(d.join("proxy.pem"), pem).unwrap();
    std::fs::write(
        d.join("garbage-key.pem"),
        format!("-----BEGIN PRIVATE KEY-----\n{MARKER}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    std::fs::write(d.join("invalid.tmpl"), "backend b\n  {{ nosuch }}\n").unwrap();
    let https_port = free_port().to_string();
    let before_files = (files(d), files(tour.config.path()));

    let mut secrets: Vec<String> = vec![TOKEN.into(), WRONG_TOKEN.into(), MARKER.into()];
    secrets.extend(consul.pki.key_material("client-key.pem"));
    secrets.extend(consul.pki.key_material("server-key.pem"));
    // The engine's TLS client key (context TLS to engine b).
    let bed_tls = |f: &str| bed().tls_dir.join(f).display().to_string();
    secrets.extend(
        std::fs::read_to_string(bed_tls("key.pem"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(String::from),
    );
    assert!(secrets.len() > 10, "no key material read");

    let base = consul.env();
    let with = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        let mut v = base.clone();
        for (k, val) in extra {
            v.retain(|(bk, _)| bk != k);
            v.push((k, val.to_string()));
        }
        v
    };
    let http_token = with(&[("CONSUL_HTTP_TOKEN", TOKEN)]);
    let flow_token = with(&[("FLOW_CONSUL_TOKEN", TOKEN)]);
    let wrong_token = with(&[("FLOW_CONSUL_TOKEN", WRONG_TOKEN)]);
    let garbage_key = with(&[
        ("FLOW_CONSUL_TOKEN", TOKEN),
        ("FLOW_CONSUL_CLIENT_KEY", "garbage-key.pem"),
    ]);
    let cert = "--proxy-cert=proxy.pem";
    let https = format!("--proxy-https-port={https_port}");
    let token_flag = format!("--consul-token={TOKEN}");

    type Run<'a> = (
        &'a str,
        &'a [&'a str],
        &'a [(&'static str, String)],
        Vec<&'a str>,
        bool,
    );
    let engine_tls = |key: &str| -> Vec<String> {
        vec![
            "-H".into(),
            bed().engine_b_tls_host.clone(),
            "--tlsverify".into(),
            format!("--tlscacert={}", bed_tls("ca.pem")),
            format!("--tlscert={}", bed_tls("cert.pem")),
            format!("--tlskey={key}"),
            "-D".into(),
        ]
    };
    let good_tls = engine_tls(&bed_tls("key.pem"));
    let good_tls: Vec<&str> = good_tls.iter().map(String::as_str).collect();
    let wrong_key = consul.file("client-key.pem");
    let bad_tls = engine_tls(&wrong_key);
    let bad_tls: Vec<&str> = bad_tls.iter().map(String::as_str).collect();
    let runs: Vec<Run> = vec![
        (
            "deploy -D json, CONSUL_HTTP_TOKEN",
            &["-D"],
            &http_token,
            vec![
                "deploy",
                "--target=app",
                "--service-path=/demo",
                "--format",
                "json",
            ],
            true,
        ),
        (
            "proxy --debug + cert, FLOW_CONSUL_TOKEN",
            &["--debug"],
            &flow_token,
            vec!["proxy", "--target=app", cert, &https],
            true,
        ),
        (
            "status -D json",
            &["-D"],
            &http_token,
            vec!["status", "--target=app", "--format", "json"],
            true,
        ),
        (
            "status --debug text",
            &["--debug"],
            &flow_token,
            vec!["status", "--target=app"],
            true,
        ),
        (
            "deploy+proxy+stop-old json",
            &[],
            &flow_token,
            vec![
                "deploy",
                "--target=app",
                "--flow=proxy",
                "--flow=stop-old",
                cert,
                &https,
                "--format=json",
            ],
            true,
        ),
        (
            "config json",
            &["-D"],
            &http_token,
            vec!["config", "--format", "json"],
            true,
        ),
        (
            "token as a flag (refused)",
            &["-D"],
            &base,
            vec!["deploy", "--target=app", &token_flag],
            false,
        ),
        (
            "wrong token (fails)",
            &["-D"],
            &wrong_token,
            vec!["deploy", "--target=app"],
            false,
        ),
        (
            "garbage client key (fails)",
            &["-D"],
            &garbage_key,
            vec!["status", "--target=app"],
            false,
        ),
        (
            "bad template (fails)",
            &["-D"],
            &flow_token,
            vec![
                "proxy",
                "--target=app",
                "--consul-template-path=invalid.tmpl",
                "--format=json",
            ],
            false,
        ),
        (
            "status over engine TLS -D json",
            &good_tls,
            &http_token,
            vec!["status", "--format=json"],
            true,
        ),
        (
            "engine TLS, key not the cert's (fails)",
            &bad_tls,
            &http_token,
            vec!["status"],
            false,
        ),
    ];
    println!("{:<42} {:>4} {:>6}  secrets found", "run", "exit", "bytes");
    let mut leaks = Vec::new();
    let mut check = |name: &str, out: &Output, want_ok: bool| {
        let text = both(out);
        assert_eq!(
            out.status.success(),
            want_ok,
            "{name}: exit {:?}\n{text}",
            out.status.code()
        );
        let found: Vec<&String> = secrets
            .iter()
            .filter(|s| text.contains(s.as_str()))
            .collect();
        println!(
            "{name:<42} {:>4} {:>6}  {}",
            out.status.code().unwrap_or(-1),
            text.len(),
            if found.is_empty() {
                "none".to_string()
            } else {
                format!("{found:?}")
            }
        );
        if !found.is_empty() {
            leaks.push(format!("{name}: {found:?} in\n{text}"));
        }
    };
    for (name, globals, env, args, want_ok) in &runs {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = tour.flow_with(globals, &env, args);
        check(name, &out, *want_ok);
    }
    // The token in docker-flow.yml is refused without being echoed.
    std::fs::write(
        d.join("docker-flow.yml"),
        format!("consul_token: {TOKEN}\n"),
    )
    .unwrap();
    let env: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = tour.flow_with(&["-D"], &env, &["deploy", "--target=app"]);
    check("token in docker-flow.yml (refused)", &out, false);
    std::fs::remove_file(d.join("docker-flow.yml")).unwrap();
    assert!(leaks.is_empty(), "secrets printed:\n{}", leaks.join("\n\n"));

    // Nor are they stored in Consul.
    let state = consul.keys(&format!("docker-flow/{}", tour.service()));
    assert!(state.contains("color"), "{state}");
    for s in &secrets {
        assert!(!state.contains(s.as_str()), "{s} stored in Consul: {state}");
    }

    // The proxy's PEM (certificate and key) is readable by HAProxy's user only.
    // (The image has no stat: `ls -ln` gives mode, uid, gid.)
    let listing = docker_ok(&["exec", &tour.proxy, "ls", "-ln", "/usr/local/etc/haproxy"]);
    println!("proxy config dir:\n{listing}");
    let pem: Vec<&str> = listing
        .lines()
        .find(|l| l.ends_with(" flow.pem"))
        .unwrap_or_else(|| panic!("no flow.pem in\n{listing}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        (pem[0], pem[2]),
        ("-rw-------", "99"),
        "flow.pem mode and owner"
    );
    // The Runtime API is on the container's loopback only: only 80 and 443 are published.
    let published = docker_ok(&["port", &tour.proxy]);
    for line in published.lines() {
        assert!(
            line.starts_with("80/tcp -> 127.0.0.1:") || line.starts_with("443/tcp -> 127.0.0.1:"),
            "published: {published}"
        );
    }
    let config = docker_ok(&[
        "exec",
        &tour.proxy,
        "cat",
        "/usr/local/etc/haproxy/haproxy.cfg",
    ]);
    assert!(
        config.contains("stats socket ipv4@127.0.0.1:9999 "),
        "{config}"
    );
    // And HTTPS works with it.
    let served = common::curl(&[
        "-sS",
        "--cacert",
        &consul.file("ca.pem"),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("https://127.0.0.1:{https_port}/demo/hello"),
    ]);
    assert_eq!(served.as_deref(), Ok("200"), "HTTPS through the proxy");

    // Nothing written on the host: the project dir and DOCKER_CONFIG hold what the test put there.
    assert_eq!((files(d), files(tour.config.path())), before_files);
}
