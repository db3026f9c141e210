//! Bad input, everywhere it enters, through the real binary (`docker flow …` via the docker CLI):
//! flags, FLOW_* variables, docker-flow.yml, compose files, Consul values written by hand,
//! templates, and injection attempts into the proxy config. Every case must exit 2 with an error
//! naming its source, and change nothing: no container or network of the project, no proxy
//! container, no Consul service, the service's Consul keys exactly as before.

mod common;

use std::process::Output;

use common::tour::{both, Tour};
use common::{bed, curl, docker_ok, stderr};

/// One bad input. `{svc}` in needles and kv keys becomes the service (`<project>-app`).
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// Files written into the project directory first.
    files: &'static [(&'static str, &'static str)],
    /// Keys written under `docker-flow/{svc}/` first (by hand, as a user would with curl).
    kv: &'static [(&'static str, &'static str)],
    /// Each must appear in the error line (the first stderr line that is not progress).
    needles: &'static [&'static str],
}

const fn case(
    name: &'static str,
    args: &'static [&'static str],
    needles: &'static [&'static str],
) -> Case {
    Case {
        name,
        args,
        env: &[],
        files: &[],
        kv: &[],
        needles,
    }
}

impl Case {
    const fn env(mut self, env: &'static [(&'static str, &'static str)]) -> Case {
        self.env = env;
        self
    }
    const fn files(mut self, files: &'static [(&'static str, &'static str)]) -> Case {
        self.files = files;
        self
    }
    const fn kv(mut self, kv: &'static [(&'static str, &'static str)]) -> Case {
        self.kv = kv;
        self
    }
}

const DEPLOY: &[&str] = &["deploy", "--target=app"];
const EVIL_PATH: &str = "/a\n  server evil 192.0.2.1:80";

fn cases() -> Vec<Case> {
    vec![
        // --- flags
        case(
            "flag scale +x",
            &["deploy", "--target=app", "--scale=+x"],
            &["\"+x\"", "--scale flag"],
        ),
        case(
            "flag scale 0",
            &["deploy", "--target=app", "--scale=0"],
            &["--scale flag", "at least 1"],
        ),
        case(
            "argument scale 0",
            &["scale", "0", "--target=app"],
            &["scale argument"],
        ),
        case(
            "argument scale -x",
            &["scale", "--target=app", "--", "-x"],
            &["scale argument"],
        ),
        case(
            "flag target empty",
            &["deploy", "--target="],
            &["--target flag"],
        ),
        case(
            "flag target bad name",
            &["deploy", "--target=app;rm"],
            &["--target flag"],
        ),
        case(
            "flag target not a service",
            &["deploy", "--target=nosuch"],
            &["target \"nosuch\" (from --target flag)"],
        ),
        case(
            "flag side target not a service",
            &["deploy", "--target=app", "--side-target=nosuch"],
            &["side target \"nosuch\" (from --side-target flag)"],
        ),
        case(
            "flag unknown flow",
            &["--target=app", "--flow=launch"],
            &["'launch'", "--flow"],
        ),
        case(
            "flag flow twice",
            &["--target=app", "--flow=deploy", "--flow=deploy"],
            &["twice", "--flow flag"],
        ),
        case(
            "flag port 70000",
            &["deploy", "--target=app", "--proxy-http-port=70000"],
            &["--proxy-http-port flag"],
        ),
        case(
            "flag port abc",
            &["deploy", "--target=app", "--port=abc"],
            &["--port flag"],
        ),
        case(
            "flag port 0",
            &["deploy", "--target=app", "--port=0"],
            &["--port flag"],
        ),
        case(
            "flag duration unit",
            &["deploy", "--target=app", "--health-timeout=5parsecs"],
            &["--health-timeout flag"],
        ),
        case(
            "flag duration negative",
            &["deploy", "--target=app", "--lock-timeout=-1s"],
            &["--lock-timeout flag"],
        ),
        case(
            "flag duration empty",
            &["deploy", "--target=app", "--drain-timeout="],
            &["--drain-timeout flag"],
        ),
        case(
            "flag path type",
            &["deploy", "--target=app", "--path-type=glob"],
            &["'glob'", "--path-type"],
        ),
        case(
            "flag boolean",
            &["deploy", "--target=app", "--blue-green=maybe"],
            &["--blue-green flag"],
        ),
        case(
            "flag consul scheme",
            &[
                "deploy",
                "--target=app",
                "--consul-address=ftp://127.0.0.1:8500",
            ],
            &["--consul-address flag"],
        ),
        case(
            "flag bind address",
            &["deploy", "--target=app", "--proxy-bind-address=localhost"],
            &["--proxy-bind-address flag"],
        ),
        case(
            "flag proxy name",
            &["deploy", "--target=app", "--proxy-name=a b"],
            &["--proxy-name flag"],
        ),
        case(
            "flag https port without cert",
            &["deploy", "--target=app", "--proxy-https-port=8443"],
            &["--proxy-https-port flag", "certificate"],
        ),
        case(
            "flag health path",
            &["deploy", "--target=app", "--health-path=health"],
            &["--health-path flag"],
        ),
        case(
            "flag format",
            &["deploy", "--target=app", "--format=yaml"],
            &["'yaml'", "--format"],
        ),
        // --- FLOW_* variables
        case("env scale +x", DEPLOY, &["\"+x\"", "FLOW_SCALE"]).env(&[("FLOW_SCALE", "+x")]),
        case("env scale 0", DEPLOY, &["FLOW_SCALE", "at least 1"]).env(&[("FLOW_SCALE", "0")]),
        case("env target empty", &["deploy"], &["FLOW_TARGET"]).env(&[("FLOW_TARGET", "")]),
        case(
            "env unknown flow",
            &["--target=app"],
            &["\"launch\"", "FLOW_FLOW"],
        )
        .env(&[("FLOW_FLOW", "deploy,launch")]),
        case("env port", DEPLOY, &["FLOW_PROXY_HTTP_PORT"])
            .env(&[("FLOW_PROXY_HTTP_PORT", "99999")]),
        case("env duration", DEPLOY, &["FLOW_HEALTH_TIMEOUT"])
            .env(&[("FLOW_HEALTH_TIMEOUT", "soon")]),
        case("env boolean", DEPLOY, &["FLOW_BLUE_GREEN"]).env(&[("FLOW_BLUE_GREEN", "yes please")]),
        case("env consul address empty", DEPLOY, &["FLOW_CONSUL_ADDRESS"])
            .env(&[("FLOW_CONSUL_ADDRESS", "")]),
        case("env consul token empty", DEPLOY, &["FLOW_CONSUL_TOKEN"])
            .env(&[("FLOW_CONSUL_TOKEN", "")]),
        case("env path type", DEPLOY, &["FLOW_PATH_TYPE"]).env(&[("FLOW_PATH_TYPE", "fuzzy")]),
        case(
            "env config file missing",
            DEPLOY,
            &["nope.yml", "FLOW_CONFIG"],
        )
        .env(&[("FLOW_CONFIG", "nope.yml")]),
        // --- docker-flow.yml
        case("yml wrong type", DEPLOY, &["docker-flow.yml key scale"])
            .files(&[("docker-flow.yml", "scale: [1, 2]\n")]),
        case(
            "yml unknown key",
            DEPLOY,
            &["docker-flow.yml", "\"sacle\"", "scale"],
        )
        .files(&[("docker-flow.yml", "sacle: 2\n")]),
        case("yml bad YAML", DEPLOY, &["docker-flow.yml:2:1"])
            .files(&[("docker-flow.yml", "target: [app\n")]),
        case("yml not a mapping", DEPLOY, &["docker-flow.yml"])
            .files(&[("docker-flow.yml", "- deploy\n")]),
        case("yml boolean", DEPLOY, &["docker-flow.yml key blue_green"])
            .files(&[("docker-flow.yml", "blue_green: maybe\n")]),
        case("yml scale 0", DEPLOY, &["docker-flow.yml key scale"])
            .files(&[("docker-flow.yml", "scale: 0\n")]),
        case(
            "yml duration",
            DEPLOY,
            &["docker-flow.yml key health_timeout"],
        )
        .files(&[("docker-flow.yml", "health_timeout: 1 fortnight\n")]),
        case(
            "yml secret refused",
            DEPLOY,
            &["docker-flow.yml", "consul_token"],
        )
        .files(&[("docker-flow.yml", "consul_token: s3cr3t\n")]),
        case(
            "yml target not a service",
            &["deploy"],
            &["target \"nosuch\" (from docker-flow.yml key target)"],
        )
        .files(&[("docker-flow.yml", "target: nosuch\n")]),
        case(
            "yml unknown flow",
            &["--target=app"],
            &["docker-flow.yml key flow"],
        )
        .files(&[("docker-flow.yml", "flow: [deploy, launch]\n")]),
        case(
            "yml injected path",
            DEPLOY,
            &["docker-flow.yml key service_path"],
        )
        .files(&[(
            "docker-flow.yml",
            "service_path: [\"/a\\n  server evil 192.0.2.1:80\"]\n",
        )]),
        // --- compose files
        case(
            "compose unknown key",
            DEPLOY,
            &["compose.yaml", "\"imagee\""],
        )
        .files(&[("compose.yaml", "services:\n  app:\n    imagee: x\n")]),
        case(
            "compose key flow cannot honour",
            DEPLOY,
            &["compose.yaml", "develop"],
        )
        .files(&[(
            "compose.yaml",
            "services:\n  app:\n    image: ${DEMO_IMAGE}\n    develop:\n      watch: []\n",
        )]),
        case(
            "compose required variable",
            DEPLOY,
            &["compose.yaml", "NOPE"],
        )
        .files(&[(
            "compose.yaml",
            "services:\n  app:\n    image: ${NOPE:?set NOPE}\n",
        )]),
        case("compose bad interpolation", DEPLOY, &["compose.yaml"]).files(&[(
            "compose.yaml",
            "services:\n  app:\n    image: ${DEMO_IMAGE\n",
        )]),
        case("compose bad YAML", DEPLOY, &["compose.yaml"])
            .files(&[("compose.yaml", "services: [app\n")]),
        case(
            "compose missing file",
            &["deploy", "--target=app", "--compose-path=nope.yaml"],
            &["nope.yaml"],
        ),
        case(
            "compose missing target",
            DEPLOY,
            &["target \"app\" (from --target flag)"],
        )
        .files(&[(
            "compose.yaml",
            "services:\n  web:\n    image: ${DEMO_IMAGE}\n",
        )]),
        // --- Consul values written by hand
        case(
            "consul garbage colour",
            DEPLOY,
            &["docker-flow/{svc}/color", "purple"],
        )
        .kv(&[("color", "purple")]),
        case(
            "consul negative scale",
            DEPLOY,
            &["docker-flow/{svc}/scale", "-3"],
        )
        .kv(&[("color", "blue"), ("scale", "-3")]),
        case(
            "consul garbage candidate",
            DEPLOY,
            &["docker-flow/{svc}/candidate"],
        )
        .kv(&[("candidate", "orange")]),
        case(
            "consul broken routes",
            DEPLOY,
            &["docker-flow/{svc}/routes"],
        )
        .kv(&[("color", "blue"), ("routes", "{\"paths\": [")]),
        case(
            "consul broken releases",
            DEPLOY,
            &["docker-flow/{svc}/releases"],
        )
        .kv(&[("releases", "not json")]),
        case(
            "consul injected route",
            &["proxy", "--target=app"],
            &["docker-flow/{svc}/routes"],
        )
        .kv(&[
            ("color", "blue"),
            ("scale", "1"),
            (
                "routes",
                "{\"paths\":[\"/a\\n  server evil 192.0.2.1:80\"],\"domains\":[],\"port\":8080}",
            ),
        ]),
        // --- templates
        case(
            "template does not parse",
            &[
                "deploy",
                "--target=app",
                "--flow=proxy",
                "--consul-template-path=bad.tmpl",
            ],
            &["bad.tmpl", "--consul-template-path"],
        )
        .files(&[(
            "bad.tmpl",
            "backend x\n  {{ range service \"SERVICE_NAME\" }\n",
        )]),
        case(
            "template unknown function",
            &[
                "deploy",
                "--target=app",
                "--flow=proxy",
                "--consul-template-path=bad.tmpl",
            ],
            &["bad.tmpl", "nosuch"],
        )
        .files(&[("bad.tmpl", "backend x\n  {{ nosuch \"a\" }}\n")]),
        case(
            "template missing file",
            &[
                "deploy",
                "--target=app",
                "--flow=proxy",
                "--consul-template-path=gone.tmpl",
            ],
            &["gone.tmpl", "(from --consul-template-path flag)"],
        ),
        case(
            "template from yml, missing",
            &["deploy", "--target=app", "--flow=proxy"],
            &[
                "gone.tmpl",
                "(from docker-flow.yml key consul_template_path)",
            ],
        )
        .files(&[("docker-flow.yml", "consul_template_path: gone.tmpl\n")]),
        case(
            "template global section",
            &[
                "deploy",
                "--target=app",
                "--flow=proxy",
                "--consul-template-path=bad.tmpl",
            ],
            &["bad.tmpl", "global"],
        )
        .files(&[("bad.tmpl", "global\n  maxconn 1\n")]),
        case(
            "template from env, unknown function",
            &["deploy", "--target=app", "--flow=proxy"],
            &["bad.tmpl", "FLOW_CONSUL_TEMPLATE_PATH", "nosuch"],
        )
        .env(&[("FLOW_CONSUL_TEMPLATE_PATH", "bad.tmpl")])
        .files(&[("bad.tmpl", "backend x\n  {{ nosuch }}\n")]),
        case(
            "consul broken template",
            &["proxy", "--target=app"],
            &["docker-flow/{svc}/template", "nosuch"],
        )
        .kv(&[
            ("color", "blue"),
            ("scale", "1"),
            (
                "routes",
                "{\"paths\":[\"/demo\"],\"domains\":[],\"port\":8080}",
            ),
            ("template", "{\"single\":\"backend b\\n  {{ nosuch }}\\n\"}"),
        ]),
        case(
            "template env half pair",
            DEPLOY,
            &["FLOW_CONSUL_TEMPLATE_FE_PATH"],
        )
        .env(&[("FLOW_CONSUL_TEMPLATE_FE_PATH", "fe.tmpl")]),
        // --- injection into the proxy config
        case(
            "inject path flag",
            &["deploy", "--target=app", "--service-path", EVIL_PATH],
            &["--service-path flag"],
        ),
        case("inject path env", DEPLOY, &["FLOW_SERVICE_PATH"])
            .env(&[("FLOW_SERVICE_PATH", EVIL_PATH)]),
        case(
            "inject path #",
            &["deploy", "--target=app", "--service-path=/a#b"],
            &["--service-path flag"],
        ),
        case(
            "inject path quote",
            &["deploy", "--target=app", "--service-path=/a\"b"],
            &["--service-path flag"],
        ),
        case(
            "inject domain space",
            &["deploy", "--target=app", "--service-domain=exa mple.com"],
            &["--service-domain flag"],
        ),
        case(
            "inject domain quote",
            &["deploy", "--target=app", "--service-domain=a'b.com"],
            &["--service-domain flag"],
        ),
        case(
            "inject domain #",
            &["deploy", "--target=app", "--service-domain=x.com#y"],
            &["--service-domain flag"],
        ),
        case(
            "inject domain wildcard inside",
            &["deploy", "--target=app", "--service-domain=a.*.com"],
            &["--service-domain flag"],
        ),
        case(
            "inject health path",
            &["deploy", "--target=app", "--health-path=/h\nx"],
            &["--health-path flag"],
        ),
        case("inject proxy name", DEPLOY, &["FLOW_PROXY_NAME"]).env(&[("FLOW_PROXY_NAME", "p\nq")]),
    ]
}

/// What a case left behind, for the "no change" check.
#[derive(Debug, PartialEq, Eq)]
struct Footprint {
    containers: String,
    networks: String,
    proxy: String,
    services: Vec<String>,
    /// (key, value, modify index) under docker-flow/<service>/.
    kv: Vec<(String, String, u64)>,
}

fn footprint(tour: &Tour) -> Footprint {
    let label = format!("label=com.docker.compose.project={}", tour.project);
    let consul = &bed().consul;
    let kv = curl(&[
        "-sS",
        &format!("{consul}/v1/kv/docker-flow/{}/?recurse", tour.service()),
    ])
    .unwrap_or_default();
    let kv: Vec<(String, String, u64)> = serde_json::from_str::<serde_json::Value>(&kv)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["Key"].as_str().unwrap_or_default().to_string(),
                e["Value"].as_str().unwrap_or_default().to_string(),
                e["ModifyIndex"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let services = curl(&["-fsS", &format!("{consul}/v1/agent/services")]).unwrap_or_default();
    let services = serde_json::from_str::<serde_json::Value>(&services)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
        .keys()
        .filter(|k| k.starts_with(&tour.project))
        .cloned()
        .collect();
    Footprint {
        containers: docker_ok(&["ps", "-aq", "--filter", &label]),
        networks: docker_ok(&["network", "ls", "-q", "--filter", &label]),
        proxy: docker_ok(&["ps", "-aq", "--filter", &format!("name=^{}$", tour.proxy)]),
        services,
        kv,
    }
}

fn put_kv(service: &str, key: &str, value: &str) {
    curl(&[
        "-fsS",
        "-X",
        "PUT",
        "--data-binary",
        value,
        &format!("{}/v1/kv/docker-flow/{service}/{key}", bed().consul),
    ])
    .unwrap_or_else(|e| panic!("write {key}: {e}"));
}

/// Runs one case; returns (exit code, the error line, what is wrong with it).
fn run(c: &Case) -> (Option<i32>, String, Vec<String>) {
    let tour = Tour::new(false);
    let svc = tour.service();
    for (name, text) in c.files {
        std::fs::write(tour.dir.path().join(name), text).unwrap();
    }
    for (k, v) in c.kv {
        put_kv(&svc, k, v);
    }
    let before = footprint(&tour);
    let out: Output = tour.flow(c.env, c.args);
    let after = footprint(&tour);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    // Progress lines (`[deploy] …`) may come first; the error is the first line that is not one.
    let first = err
        .lines()
        .find(|l| !l.starts_with('['))
        .unwrap_or_default()
        .to_string();
    let mut wrong = Vec::new();
    if out.status.code() != Some(2) {
        wrong.push(format!("exit {:?}, want 2", out.status.code()));
    }
    if err.contains("panicked") {
        wrong.push("panicked".into());
    }
    for n in c.needles {
        let n = n.replace("{svc}", &svc);
        if !first.contains(&n) {
            wrong.push(format!("first line does not name {n:?}"));
        }
    }
    if after != before {
        wrong.push(format!("changed: before {before:?}, after {after:?}"));
    }
    if !after.containers.is_empty() || !after.networks.is_empty() || !after.proxy.is_empty() {
        wrong.push(format!("left containers/networks/proxy: {after:?}"));
    }
    if !wrong.is_empty() {
        wrong.push(format!("output:\n{}", both(&out)));
    }
    (out.status.code(), first, wrong)
}

#[test]
fn every_bad_input_exits_2_naming_its_source_and_changes_nothing() {
    bed();
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    // A few at a time: each waits mostly on docker and Consul.
    let results: Vec<(Option<i32>, String, Vec<String>)> = std::thread::scope(|s| {
        let chunks: Vec<&[Case]> = cases.chunks(cases.len().div_ceil(3)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| s.spawn(move || chunk.iter().map(run).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a case runner panicked"))
            .collect()
    });
    println!("{:<38} {:>4}  first line of the error", "case", "exit");
    let mut failures = Vec::new();
    for (c, (code, first, wrong)) in cases.iter().zip(&results) {
        let mark = if wrong.is_empty() { "" } else { "  <-- FAIL" };
        let code = code.map_or("-".to_string(), |c| c.to_string());
        println!("{:<38} {code:>4}  {first}{mark}", c.name);
        if !wrong.is_empty() {
            failures.push(format!("{}: {}", c.name, wrong.join("; ")));
        }
    }
    println!("{} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The proxy's config file as the container holds it.
fn proxy_config(tour: &Tour) -> String {
    docker_ok(&[
        "exec",
        &tour.proxy,
        "cat",
        "/usr/local/etc/haproxy/haproxy.cfg",
    ])
}

/// A template that parses but renders a config HAProxy refuses (only `haproxy -c` can tell):
/// exit 2 naming the file, Consul unchanged; with no proxy yet none is left behind, with a
/// running one its config stays and it keeps serving.
#[test]
fn a_template_haproxy_refuses_changes_nothing() {
    let tour = Tour::new(false);
    std::fs::write(
        tour.dir.path().join("invalid.tmpl"),
        "backend flow-bogus\n  bogus_keyword 1\n",
    )
    .unwrap();
    let bad = [
        "proxy",
        "--target=app",
        "--consul-template-path=invalid.tmpl",
    ];
    let check = |out: &Output| {
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{}", both(out));
        let line = err
            .lines()
            .find(|l| l.starts_with("docker flow:"))
            .unwrap_or_default();
        for want in ["invalid.tmpl", "--consul-template-path", "bogus_keyword"] {
            assert!(line.contains(want), "{want:?} not in {line:?}");
        }
    };
    tour.ok(&[], &["deploy", "--target=app", "--service-path=/demo"]);

    // No proxy yet: it would be created with the refused config; it is removed again.
    let before = footprint(&tour);
    let out = tour.flow(&[], &bad);
    check(&out);
    let after = footprint(&tour);
    assert_eq!(after.kv, before.kv, "Consul changed");
    assert_eq!(after.proxy, "", "a proxy container was left behind");

    // A running proxy keeps its config and serves.
    tour.ok(&[], &["proxy", "--target=app"]);
    assert_eq!(tour.release().as_deref(), Some("v1"));
    let before = footprint(&tour);
    let config = proxy_config(&tour);
    let out = tour.flow(&[], &bad);
    check(&out);
    assert_eq!(footprint(&tour), before, "something changed");
    assert_eq!(proxy_config(&tour), config, "the proxy's config changed");
    assert_eq!(tour.release().as_deref(), Some("v1"));
    println!(
        "refused template: {}",
        stderr(&out).lines().last().unwrap_or_default()
    );
}

/// The proxy's port held by another process: the proxy cannot start; no container of it is left
/// behind (it would fail every later start) and Consul is unchanged.
#[test]
fn a_proxy_port_in_use_leaves_no_proxy_behind() {
    let tour = Tour::new(false);
    tour.ok(&[], &["deploy", "--target=app", "--service-path=/demo"]);
    let holder = std::net::TcpListener::bind(("127.0.0.1", tour.port)).unwrap();
    let before = footprint(&tour);
    let out = tour.flow(&[], &["proxy", "--target=app"]);
    assert!(!out.status.success(), "{}", both(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("docker flow:"))
        .unwrap_or_default();
    assert!(line.contains(&tour.proxy), "{line}");
    assert_eq!(footprint(&tour), before, "something changed");
    println!("port in use: exit {:?}: {line}", out.status.code());
    drop(holder);
    // Free again: the same command works.
    tour.ok(&[], &["proxy", "--target=app"]);
    assert_eq!(tour.release().as_deref(), Some("v1"));
}
