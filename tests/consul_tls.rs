//! TLS to Consul with real certificates: our own Consul agent (HTTPS only, client certificates
//! required, ACLs on) and flows run against it with --consul-cacert and a client certificate;
//! a wrong CA or a missing client certificate is a clear error that changes nothing.

mod common;

use common::own_consul::OwnConsul;
use common::tour::{both, Tour};
use common::{bed, docker_ok};

fn envs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

/// Nothing of `tour` exists: containers, networks, proxy, keys in our Consul.
fn untouched(tour: &Tour, consul: &OwnConsul) {
    assert!(tour.containers().is_empty(), "{:?}", tour.containers());
    let label = format!("label=com.docker.compose.project={}", tour.project);
    assert_eq!(docker_ok(&["network", "ls", "-q", "--filter", &label]), "");
    assert_eq!(
        docker_ok(&["ps", "-aq", "--filter", &format!("name=^{}$", tour.proxy)]),
        ""
    );
    assert_eq!(consul.keys(&format!("docker-flow/{}", tour.service())), "");
}

#[test]
fn flows_run_against_consul_over_verified_tls() {
    bed();
    let consul = OwnConsul::start("1b2d3f4a-0000-4000-8000-0000000000c1");
    let mut env = consul.env();
    env.push(("CONSUL_HTTP_TOKEN", consul.token.clone()));

    // Deploy + proxy + status over https with the CA, a client certificate and the token.
    let tour = Tour::new(false);
    tour.ok(
        &envs(&env),
        &[
            "deploy",
            "--target=app",
            "--service-path=/demo",
            "--flow=proxy",
        ],
    );
    let color = format!("docker-flow/{}/color", tour.service());
    assert_eq!(
        consul.kv(&color).as_deref(),
        Some("blue"),
        "{}",
        consul.log()
    );
    assert_eq!(tour.release().as_deref(), Some("v1"));
    assert_eq!(
        tour.kv("color"),
        None,
        "the bed's Consul was written instead"
    );
    let status = tour.ok(&envs(&env), &["status", "--target=app", "--format", "json"]);
    assert!(status.contains("blue"), "{status}");
    println!("deploy + proxy + status over {}: ok", consul.https);

    let fresh = Tour::new(false);
    let deploy = [
        "deploy",
        "--target=app",
        "--service-path=/demo",
        "--flow=proxy",
    ];
    let fails = |env: &[(&'static str, String)], wants: &[&str]| {
        let out = fresh.flow(&envs(env), &deploy);
        let text = both(&out);
        assert!(!out.status.success(), "succeeded: {text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("docker flow:"))
            .unwrap_or_default();
        for w in wants {
            assert!(line.contains(w), "{w:?} not in {line:?}");
        }
        untouched(&fresh, &consul);
        println!("exit {:?}: {line}", out.status.code());
    };

    // A CA that did not sign the server's certificate.
    let mut wrong_ca = env.clone();
    wrong_ca.retain(|(k, _)| *k != "FLOW_CONSUL_CACERT");
    wrong_ca.push(("FLOW_CONSUL_CACERT", consul.file("other-ca.pem")));
    fails(&wrong_ca, &["TLS", &consul.https, "--consul-cacert"]);

    // No client certificate, while Consul requires one.
    let mut no_client = env.clone();
    no_client.retain(|(k, _)| !k.starts_with("FLOW_CONSUL_CLIENT"));
    fails(&no_client, &[&consul.https]);

    // Plain http to the https port.
    let mut plain = env.clone();
    plain.retain(|(k, _)| *k != "FLOW_CONSUL_ADDRESS");
    plain.push(("FLOW_CONSUL_ADDRESS", consul.https.replace("https", "http")));
    fails(&plain, &["127.0.0.1"]);

    // And with the right files the same fresh project deploys.
    fresh.ok(&envs(&env), &deploy);
    assert_eq!(
        consul
            .kv(&format!("docker-flow/{}/color", fresh.service()))
            .as_deref(),
        Some("blue")
    );
}
