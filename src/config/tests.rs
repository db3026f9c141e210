//! Settings from argv (through the real clap parser), an env map and docker-flow.yml text: no I/O
//! except the tempdirs of the `load_*` tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::CommandFactory;
use proptest::prelude::*;

use super::file::FileConfig;
use super::resolve::resolve;
use super::*;
use crate::cli::{self, FlowCli, Invocation};

fn command(argv: &[&str]) -> Result<Command, clap::Error> {
    let words: Vec<String> = std::iter::once("flow")
        .chain(argv.iter().copied())
        .map(String::from)
        .collect();
    match cli::parse(&words, false)? {
        Invocation::Run(_, c) => Ok(*c),
        Invocation::Complete { .. } => panic!("not a completion"),
    }
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

/// Settings for `docker flow <argv>` with `env` and, unless empty, docker-flow.yml holding `yml`.
fn try_settings(argv: &[&str], env: &[(&str, &str)], yml: &str) -> Result<Settings, ConfigError> {
    let c = command(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let args = flow_args(&c).expect("a flow command");
    let file = if yml.is_empty() {
        None
    } else {
        Some(FileConfig::parse(DEFAULT_FILE, yml)?)
    };
    resolve(&args, &env_of(env), file.as_ref())
}

fn settings(argv: &[&str], env: &[(&str, &str)], yml: &str) -> Settings {
    try_settings(argv, env, yml).unwrap_or_else(|e| panic!("{argv:?} {env:?} {yml:?}: {e}"))
}

fn error(argv: &[&str], env: &[(&str, &str)], yml: &str) -> String {
    match try_settings(argv, env, yml) {
        Ok(s) => panic!("{argv:?} {env:?} {yml:?}: no error: {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults() {
    let s = settings(&["deploy", "-t", "app"], &[], "");
    assert_eq!(s.flows, vec![FlowName::Deploy]);
    assert_eq!(s.target, "app");
    assert!(s.blue_green, "blue-green is on by default");
    assert!(!s.pull_side_targets && !s.skip_pull_target && !s.dry_run);
    assert!(s.side_targets.is_empty());
    assert_eq!(s.compose, ComposeArgs::default());
    assert_eq!(s.scale, None);
    assert_eq!(s.docker_host, None);
    assert_eq!(s.consul.address, None);
    assert_eq!(s.consul.token, None);
    assert_eq!(s.consul.image, "hashicorp/consul:1.20");
    assert_eq!(s.proxy.image, "haproxy:lts");
    assert_eq!(s.proxy.http_port, 80);
    assert_eq!(s.proxy.https_port, None);
    assert_eq!(s.proxy.bind_address, "0.0.0.0");
    assert_eq!(s.proxy.path_type, PathType::Prefix);
    assert_eq!(s.proxy.reconf_port, None);
    assert_eq!(s.lock_timeout, Duration::from_secs(60));
    assert_eq!(s.drain_timeout, Duration::from_secs(10));
    assert_eq!(s.monitor, Duration::from_secs(5));
    assert_eq!(s.health_timeout, None);
    assert_eq!(s.format, Format::Text);
    assert_eq!(s.config_file, None);
}

#[test]
fn every_option_from_flags() {
    let s = settings(
        &[
            "deploy",
            "--format=json",
            "--dry-run",
            "-t",
            "app",
            "-T",
            "db",
            "-T",
            "cache",
            "-S",
            "--skip-pull-target",
            "-b=false",
            "-s",
            "+2",
            "-f",
            "a.yml",
            "-f",
            "b.yml",
            "-p",
            "shop",
            "--project-directory",
            "dir",
            "--profile",
            "web",
            "--env-file",
            "x.env",
            "-H",
            "tcp://swarm:2376",
            "--cert-path",
            "/certs",
            "-c",
            "consul.local:8500",
            "--consul-cacert=ca.pem",
            "--consul-client-cert=c.pem",
            "--consul-client-key=k.pem",
            "--consul-image=consul:local",
            "--proxy-host=proxy.example.com",
            "--proxy-docker-host=ssh://me@proxy",
            "--proxy-docker-cert-path=/pcerts",
            "--proxy-reconf-port=9000",
            "--proxy-image=my/haproxy:3",
            "--proxy-http-port=8080",
            "--proxy-https-port=8443",
            "--proxy-bind-address=127.0.0.1",
            "--proxy-cert=site.pem",
            "--service-path=/demo",
            "--service-path=/api",
            "--service-domain=example.com",
            "--port=8080",
            "--path-type=exact",
            "--consul-template-fe-path=fe.tmpl",
            "--consul-template-be-path=be.tmpl",
            "--health-path=/health",
            "--health-timeout=2m",
            "--lock-timeout=5s",
            "--drain-timeout=500ms",
            "--monitor=1m",
            "--flow=proxy",
            "--flow=stop-old",
        ],
        &[],
        "",
    );
    assert_eq!(
        s.flows,
        vec![FlowName::Deploy, FlowName::Proxy, FlowName::StopOld]
    );
    assert_eq!(s.format, Format::Json);
    assert!(s.dry_run && s.pull_side_targets && s.skip_pull_target && !s.blue_green);
    assert_eq!(s.side_targets, vec!["db", "cache"]);
    assert_eq!(s.scale, Some(ScaleSpec::Relative(2)));
    assert_eq!(
        s.compose,
        ComposeArgs {
            files: vec!["a.yml".into(), "b.yml".into()],
            project: Some("shop".into()),
            project_directory: Some("dir".into()),
            profiles: vec!["web".into()],
            env_files: vec!["x.env".into()],
        }
    );
    assert_eq!(s.docker_host.as_deref(), Some("tcp://swarm:2376"));
    assert_eq!(s.cert_path, Some(PathBuf::from("/certs")));
    assert_eq!(
        s.consul.address.as_deref(),
        Some("http://consul.local:8500")
    );
    assert_eq!(s.consul.cacert, Some("ca.pem".into()));
    assert_eq!(s.consul.client_cert, Some("c.pem".into()));
    assert_eq!(s.consul.client_key, Some("k.pem".into()));
    assert_eq!(s.consul.image, "consul:local");
    let p = &s.proxy;
    assert_eq!(p.host.as_deref(), Some("proxy.example.com"));
    assert_eq!(p.docker_host.as_deref(), Some("ssh://me@proxy"));
    assert_eq!(p.docker_cert_path, Some("/pcerts".into()));
    assert_eq!(p.context, None);
    assert_eq!(p.reconf_port, Some(9000));
    assert_eq!(p.image, "my/haproxy:3");
    assert_eq!((p.http_port, p.https_port), (8080, Some(8443)));
    assert_eq!(p.bind_address, "127.0.0.1");
    assert_eq!(p.cert, Some("site.pem".into()));
    assert_eq!(p.service_paths, vec!["/demo", "/api"]);
    assert_eq!(p.service_domains, vec!["example.com"]);
    assert_eq!(p.port, Some(8080));
    assert_eq!(p.path_type, PathType::Exact);
    assert_eq!(p.template, None);
    assert_eq!(p.template_fe, Some("fe.tmpl".into()));
    assert_eq!(p.template_be, Some("be.tmpl".into()));
    assert_eq!(s.health_path.as_deref(), Some("/health"));
    assert_eq!(s.health_timeout, Some(Duration::from_secs(120)));
    assert_eq!(s.lock_timeout, Duration::from_secs(5));
    assert_eq!(s.drain_timeout, Duration::from_millis(500));
    assert_eq!(s.monitor, Duration::from_secs(60));
    // A certificate alone: HTTPS on 443.
    let s = settings(&["deploy", "-t", "app", "--proxy-cert=c.pem"], &[], "");
    assert_eq!(s.proxy.https_port, Some(443));
}

#[test]
fn every_option_from_the_file_and_from_env() {
    // The same settings, once from docker-flow.yml and once from FLOW_* variables.
    let yml = "\
flow: [deploy, proxy]
target: app
side_targets: [db]
pull_side_targets: true
skip_pull_target: 1
blue_green: false
scale: -1
compose_path: [a.yml, b.yml]
project: shop
project_directory: dir
profiles: web
env_files: [x.env]
host: tcp://swarm:2376
cert_path: /certs
consul_address: https://consul:8501/
consul_cacert: ca.pem
consul_client_cert: c.pem
consul_client_key: k.pem
consul_image: consul:local
proxy_host: proxy.example.com
proxy_context: edge
proxy_docker_cert_path: /pcerts
proxy_reconf_port: 9000
proxy_image: my/haproxy:3
proxy_http_port: 8080
proxy_https_port: '8443'
proxy_bind_address: '::'
proxy_cert: site.pem
service_path: ['^/api/v[0-9]+']
service_domain: [example.com, '*.example.com']
port: 8080
path_type: regex
consul_template_path: app.tmpl
health_path: /health
health_timeout: 90
lock_timeout: 1m30s
drain_timeout: 0
monitor: 2s
dry_run: true
format: json
";
    let env: Vec<(&str, &str)> = vec![
        ("FLOW_FLOW", "deploy, proxy"),
        ("FLOW_TARGET", "app"),
        ("FLOW_SIDE_TARGETS", "db"),
        ("FLOW_PULL_SIDE_TARGETS", "true"),
        ("FLOW_SKIP_PULL_TARGET", "1"),
        ("FLOW_BLUE_GREEN", "false"),
        ("FLOW_SCALE", "-1"),
        ("FLOW_COMPOSE_PATH", "a.yml, b.yml"),
        ("FLOW_PROJECT", "shop"),
        ("FLOW_PROJECT_DIRECTORY", "dir"),
        ("FLOW_PROFILES", "web"),
        ("FLOW_ENV_FILES", "x.env"),
        ("FLOW_HOST", "tcp://swarm:2376"),
        ("FLOW_CERT_PATH", "/certs"),
        ("FLOW_CONSUL_ADDRESS", "https://consul:8501/"),
        ("FLOW_CONSUL_CACERT", "ca.pem"),
        ("FLOW_CONSUL_CLIENT_CERT", "c.pem"),
        ("FLOW_CONSUL_CLIENT_KEY", "k.pem"),
        ("FLOW_CONSUL_IMAGE", "consul:local"),
        ("FLOW_PROXY_HOST", "proxy.example.com"),
        ("FLOW_PROXY_CONTEXT", "edge"),
        ("FLOW_PROXY_DOCKER_CERT_PATH", "/pcerts"),
        ("FLOW_PROXY_RECONF_PORT", "9000"),
        ("FLOW_PROXY_IMAGE", "my/haproxy:3"),
        ("FLOW_PROXY_HTTP_PORT", "8080"),
        ("FLOW_PROXY_HTTPS_PORT", "8443"),
        ("FLOW_PROXY_BIND_ADDRESS", "::"),
        ("FLOW_PROXY_CERT", "site.pem"),
        ("FLOW_SERVICE_PATH", "^/api/v[0-9]+"),
        ("FLOW_SERVICE_DOMAIN", "example.com,*.example.com"),
        ("FLOW_PORT", "8080"),
        ("FLOW_PATH_TYPE", "regex"),
        ("FLOW_CONSUL_TEMPLATE_PATH", "app.tmpl"),
        ("FLOW_HEALTH_PATH", "/health"),
        ("FLOW_HEALTH_TIMEOUT", "90"),
        ("FLOW_LOCK_TIMEOUT", "1m30s"),
        ("FLOW_DRAIN_TIMEOUT", "0"),
        ("FLOW_MONITOR", "2s"),
        ("FLOW_DRY_RUN", "true"),
        ("FLOW_FORMAT", "json"),
    ];
    // The original form: no command, so the flows come from the file or FLOW_FLOW.
    let from_file = settings(&["--dry-run=false", "--dry-run=true"], &[], yml);
    let from_env = settings(&["--dry-run=true"], &env, "");
    for s in [&from_file, &from_env] {
        assert_eq!(s.flows, vec![FlowName::Deploy, FlowName::Proxy]);
        assert_eq!(s.target, "app");
        assert_eq!(s.side_targets, vec!["db"]);
        assert!(s.pull_side_targets && s.skip_pull_target && !s.blue_green && s.dry_run);
        assert_eq!(s.scale, Some(ScaleSpec::Relative(-1)));
        assert_eq!(
            s.compose.files,
            vec![PathBuf::from("a.yml"), PathBuf::from("b.yml")]
        );
        assert_eq!(s.compose.project.as_deref(), Some("shop"));
        assert_eq!(s.compose.project_directory, Some("dir".into()));
        assert_eq!(s.compose.profiles, vec!["web"]);
        assert_eq!(s.compose.env_files, vec![PathBuf::from("x.env")]);
        assert_eq!(s.docker_host.as_deref(), Some("tcp://swarm:2376"));
        assert_eq!(s.cert_path, Some("/certs".into()));
        assert_eq!(s.consul.address.as_deref(), Some("https://consul:8501"));
        assert_eq!(s.consul.cacert, Some("ca.pem".into()));
        assert_eq!(s.consul.client_key, Some("k.pem".into()));
        assert_eq!(s.consul.image, "consul:local");
        assert_eq!(s.proxy.context.as_deref(), Some("edge"));
        assert_eq!(s.proxy.reconf_port, Some(9000));
        assert_eq!((s.proxy.http_port, s.proxy.https_port), (8080, Some(8443)));
        assert_eq!(s.proxy.bind_address, "::");
        assert_eq!(s.proxy.service_paths, vec!["^/api/v[0-9]+"]);
        assert_eq!(
            s.proxy.service_domains,
            vec!["example.com", "*.example.com"]
        );
        assert_eq!(s.proxy.port, Some(8080));
        assert_eq!(s.proxy.path_type, PathType::Regex);
        assert_eq!(s.proxy.template, Some("app.tmpl".into()));
        assert_eq!(s.health_path.as_deref(), Some("/health"));
        assert_eq!(s.health_timeout, Some(Duration::from_secs(90)));
        assert_eq!(s.lock_timeout, Duration::from_secs(90));
        assert_eq!(s.drain_timeout, Duration::ZERO);
        assert_eq!(s.monitor, Duration::from_secs(2));
        assert_eq!(s.format, Format::Json);
    }
    assert_eq!(
        from_file.config_file,
        Some(PathBuf::from("docker-flow.yml"))
    );
}

#[test]
fn scalars_file_then_env_then_flag() {
    let yml = "target: from-file\nport: 80\nlock_timeout: 1s\n";
    let s = settings(&["deploy"], &[], yml);
    assert_eq!((s.target.as_str(), s.proxy.port), ("from-file", Some(80)));
    assert_eq!(s.lock_timeout, Duration::from_secs(1));
    let env = [
        ("FLOW_TARGET", "from-env"),
        ("FLOW_PORT", "81"),
        ("FLOW_LOCK_TIMEOUT", "2s"),
    ];
    let s = settings(&["deploy"], &env, yml);
    assert_eq!((s.target.as_str(), s.proxy.port), ("from-env", Some(81)));
    assert_eq!(s.lock_timeout, Duration::from_secs(2));
    let s = settings(
        &[
            "deploy",
            "-t",
            "from-flag",
            "--port",
            "82",
            "--lock-timeout=3s",
        ],
        &env,
        yml,
    );
    assert_eq!((s.target.as_str(), s.proxy.port), ("from-flag", Some(82)));
    assert_eq!(s.lock_timeout, Duration::from_secs(3));
}

#[test]
fn lists_file_then_env_then_flag_each_replacing() {
    let yml = "target: app\nside_targets: [db, cache]\nservice_path: /file\n";
    let s = settings(&["deploy"], &[], yml);
    assert_eq!(s.side_targets, vec!["db", "cache"]);
    assert_eq!(s.proxy.service_paths, vec!["/file"]);
    let env = [
        ("FLOW_SIDE_TARGETS", " queue , ,mail "),
        ("FLOW_SERVICE_PATH", "/a, /b"),
    ];
    let s = settings(&["deploy"], &env, yml);
    assert_eq!(s.side_targets, vec!["queue", "mail"]);
    assert_eq!(s.proxy.service_paths, vec!["/a", "/b"]);
    let s = settings(&["deploy", "-T", "x", "--service-path", "/c"], &env, yml);
    assert_eq!(s.side_targets, vec!["x"]);
    assert_eq!(s.proxy.service_paths, vec!["/c"]);
    // An empty list variable is the empty list: it clears the file's.
    let s = settings(&["deploy"], &[("FLOW_SIDE_TARGETS", "")], yml);
    assert!(s.side_targets.is_empty());
}

#[test]
fn bools_file_then_env_then_flag_both_ways() {
    let on = "target: app\nblue_green: true\ndry_run: false\n";
    assert!(settings(&["deploy"], &[], on).blue_green);
    assert!(!settings(&["deploy", "--blue-green=false"], &[], on).blue_green);
    assert!(!settings(&["deploy", "-b=0"], &[], on).blue_green);
    assert!(!settings(&["deploy"], &[("FLOW_BLUE_GREEN", "false")], on).blue_green);
    assert!(settings(&["deploy", "-b"], &[("FLOW_BLUE_GREEN", "0")], on).blue_green);
    assert!(
        settings(
            &["deploy", "--blue-green=TRUE"],
            &[("FLOW_BLUE_GREEN", "0")],
            on
        )
        .blue_green
    );
    let off = "target: app\nblue_green: false\n";
    assert!(!settings(&["deploy"], &[], off).blue_green);
    assert!(settings(&["deploy"], &[("FLOW_BLUE_GREEN", "1")], off).blue_green);
    assert!(settings(&["deploy", "--dry-run"], &[], on).dry_run);
    assert!(
        !settings(
            &["deploy", "--dry-run=false"],
            &[("FLOW_DRY_RUN", "true")],
            on
        )
        .dry_run
    );
}

#[test]
fn scale_forms() {
    let rel = |n| Some(ScaleSpec::Relative(n));
    for argv in [
        &["--flow=scale", "-t", "app", "--scale", "-1"][..],
        &["--flow=scale", "-t", "app", "--scale=-1"],
        &["--flow=scale", "-t", "app", "-s", "-1"],
        &["--flow=scale", "-t", "app", "-s=-1"],
        &["--flow=scale", "-t", "app", "-s-1"],
        &["scale", "-1", "-t", "app"],
        &["scale", "-t", "app", "-1"],
        &["scale", "-t", "app", "--scale", "-1"],
        &["scale", "-1", "-t", "app", "--scale=-1"],
    ] {
        assert_eq!(settings(argv, &[], "").scale, rel(-1), "{argv:?}");
    }
    assert_eq!(
        settings(&["scale", "+2", "-t", "app"], &[], "").scale,
        rel(2)
    );
    assert_eq!(
        settings(&["scale", "3", "-t", "app"], &[], "").scale,
        Some(ScaleSpec::Absolute(3))
    );
    // The argument beats FLOW_SCALE and the file like a flag.
    let s = settings(
        &["scale", "+1"],
        &[("FLOW_SCALE", "5")],
        "target: app\nscale: 4\n",
    );
    assert_eq!(s.scale, rel(1));
    assert_eq!(s.flows, vec![FlowName::Scale]);
    // File < env < flag.
    assert_eq!(
        settings(&["scale"], &[], "target: app\nscale: +4\n").scale,
        rel(4)
    );
    assert_eq!(
        settings(
            &["scale"],
            &[("FLOW_SCALE", "-2")],
            "target: app\nscale: +4\n"
        )
        .scale,
        rel(-2)
    );
    // A deploy reuses the live count when no scale is given.
    assert_eq!(settings(&["deploy", "-t", "app"], &[], "").scale, None);
    assert_eq!(
        settings(&["deploy", "-t", "app", "--flow=scale"], &[], "").scale,
        None
    );
}

#[test]
fn the_original_multi_flow_form() {
    let s = settings(
        &["--flow=deploy", "--flow=proxy", "--scale=+2"],
        &[],
        "target: app",
    );
    assert_eq!(s.flows, vec![FlowName::Deploy, FlowName::Proxy]);
    assert_eq!(s.scale, Some(ScaleSpec::Relative(2)));
    let s = settings(
        &[
            "-F", "deploy", "-F", "PROXY", "-F", "stop-old", "-b", "-t", "app",
        ],
        &[],
        "",
    );
    assert_eq!(
        s.flows,
        vec![FlowName::Deploy, FlowName::Proxy, FlowName::StopOld]
    );
    // Options only: the original's default flow list.
    assert_eq!(
        settings(&["-t", "app"], &[], "").flows,
        vec![FlowName::Deploy]
    );
    // The walkthrough: flows by flag, the rest from docker-flow.yml.
    let yml = "target: app\nside_targets:\n  - db\nblue_green: true\nservice_path:\n  - /demo\n";
    let s = settings(
        &["--flow=deploy", "--flow=proxy", "--flow=stop-old"],
        &[],
        yml,
    );
    assert_eq!(s.flows.len(), 3);
    assert_eq!(s.side_targets, vec!["db"]);
    assert_eq!(s.proxy.service_paths, vec!["/demo"]);
    let s = settings(&["--scale=-1", "--flow=scale", "--flow=proxy"], &[], yml);
    assert_eq!(s.flows, vec![FlowName::Scale, FlowName::Proxy]);
    // Flows from FLOW_FLOW, then from the file.
    let s = settings(&["-t", "app"], &[("FLOW_FLOW", " deploy ,proxy,")], "");
    assert_eq!(s.flows, vec![FlowName::Deploy, FlowName::Proxy]);
    let s = settings(&["-t", "app"], &[], "flow: stop-old");
    assert_eq!(s.flows, vec![FlowName::StopOld]);
    let s = settings(
        &["-F", "proxy"],
        &[("FLOW_FLOW", "deploy")],
        "target: app\nflow: scale",
    );
    assert_eq!(s.flows, vec![FlowName::Proxy]);
}

#[test]
fn a_command_chains_flows_and_ignores_flow_from_env_and_file() {
    let s = settings(
        &["deploy", "--flow=proxy", "--flow=stop-old", "-t", "app"],
        &[],
        "",
    );
    assert_eq!(
        s.flows,
        vec![FlowName::Deploy, FlowName::Proxy, FlowName::StopOld]
    );
    let s = settings(
        &["status"],
        &[("FLOW_FLOW", "deploy")],
        "flow: [deploy, proxy]",
    );
    assert_eq!(s.flows, vec![FlowName::Status]);
    for (argv, flow) in [
        ("proxy", FlowName::Proxy),
        ("stop-old", FlowName::StopOld),
        ("rollback", FlowName::Rollback),
        ("status", FlowName::Status),
        ("deploy", FlowName::Deploy),
    ] {
        assert_eq!(settings(&[argv, "-t", "app"], &[], "").flows, vec![flow]);
    }
}

#[test]
fn status_needs_no_target() {
    let s = settings(&["status", "--format", "json"], &[], "");
    assert_eq!(s.target, "");
    assert_eq!(s.format, Format::Json);
    let s = settings(&["status"], &[("FLOW_FORMAT", "json")], "");
    assert_eq!(s.format, Format::Json);
    let s = settings(&["--flow=status"], &[], "format: json");
    assert_eq!(
        (s.flows.as_slice(), s.format),
        (&[FlowName::Status][..], Format::Json)
    );
    // …but a chained flow does.
    let e = error(&["status", "--flow=proxy"], &[], "");
    assert!(e.contains("required for proxy"), "{e}");
}

#[test]
fn consul_conventions() {
    let s = settings(&["status"], &[("CONSUL_HTTP_ADDR", "127.0.0.1:8500")], "");
    assert_eq!(s.consul.address.as_deref(), Some("http://127.0.0.1:8500"));
    let s = settings(
        &["status"],
        &[
            ("CONSUL_HTTP_ADDR", "consul:8501"),
            ("CONSUL_HTTP_SSL", "true"),
        ],
        "",
    );
    assert_eq!(s.consul.address.as_deref(), Some("https://consul:8501"));
    let s = settings(
        &["status"],
        &[("CONSUL_HTTP_ADDR", "http://[::1]:8500/")],
        "",
    );
    assert_eq!(s.consul.address.as_deref(), Some("http://[::1]:8500"));
    // docker-flow.yml beats Consul's own variables; FLOW_* beats the file; the flag beats all.
    let yml = "consul_address: http://file:8500";
    let env = [("CONSUL_HTTP_ADDR", "ambient:8500")];
    let s = settings(&["status"], &env, yml);
    assert_eq!(s.consul.address.as_deref(), Some("http://file:8500"));
    let env2 = [
        ("CONSUL_HTTP_ADDR", "ambient:8500"),
        ("FLOW_CONSUL_ADDRESS", "flow:8500"),
    ];
    let s = settings(&["status"], &env2, yml);
    assert_eq!(s.consul.address.as_deref(), Some("http://flow:8500"));
    let s = settings(&["status", "-c", "https://flag"], &env2, yml);
    assert_eq!(s.consul.address.as_deref(), Some("https://flag"));
    // An empty CONSUL_HTTP_ADDR is unset, as for consul itself.
    let s = settings(&["status"], &[("CONSUL_HTTP_ADDR", "")], "");
    assert_eq!(s.consul.address, None);
    // Token: FLOW_CONSUL_TOKEN, then CONSUL_HTTP_TOKEN; never shown by Debug.
    let s = settings(&["status"], &[("CONSUL_HTTP_TOKEN", "t0k3n")], "");
    assert_eq!(s.consul.token.as_ref().map(Secret::expose), Some("t0k3n"));
    assert!(!format!("{s:?}").contains("t0k3n"));
    let s = settings(
        &["status"],
        &[
            ("CONSUL_HTTP_TOKEN", "ambient"),
            ("FLOW_CONSUL_TOKEN", "mine"),
        ],
        "",
    );
    assert_eq!(s.consul.token, Some(Secret::new("mine")));
    let s = settings(
        &["status"],
        &[
            ("CONSUL_CACERT", "/ca.pem"),
            ("FLOW_CONSUL_CLIENT_CERT", "c.pem"),
        ],
        "consul_client_key: k.pem",
    );
    assert_eq!(s.consul.cacert, Some("/ca.pem".into()));
    assert_eq!(s.consul.client_cert, Some("c.pem".into()));
    assert_eq!(s.consul.client_key, Some("k.pem".into()));
}

#[test]
fn relative_paths_in_a_named_file_are_relative_to_it() {
    let file = FileConfig::parse(
        "conf/flow.yml",
        "target: app\ncompose_path: [base.yml, /abs/x.yml]\nproxy_cert: certs/site.pem\nenv_files: .env\n",
    )
    .unwrap();
    let args = flow_args(&command(&["deploy"]).unwrap()).unwrap();
    let s = resolve(&args, &env_of(&[]), Some(&file)).unwrap();
    assert_eq!(
        s.compose.files,
        vec![PathBuf::from("conf/base.yml"), PathBuf::from("/abs/x.yml")]
    );
    assert_eq!(s.proxy.cert, Some(PathBuf::from("conf/certs/site.pem")));
    assert_eq!(s.compose.env_files, vec![PathBuf::from("conf/.env")]);
    // …but not those of flags and env vars (relative to the current directory).
    let s = resolve(
        &flow_args(&command(&["deploy", "-f", "cli.yml"]).unwrap()).unwrap(),
        &env_of(&[("FLOW_PROXY_CERT", "env.pem")]),
        Some(&file),
    )
    .unwrap();
    assert_eq!(s.compose.files, vec![PathBuf::from("cli.yml")]);
    assert_eq!(s.proxy.cert, Some(PathBuf::from("env.pem")));
}

#[test]
fn unknown_keys_wrong_types_and_syntax_errors_name_the_file() {
    let e = error(&["status"], &[], "target: app\nscal: 2\n");
    assert_eq!(
        e,
        r#"docker-flow.yml: unknown key "scal" (did you mean "scale"?)"#
    );
    let e = error(&["status"], &[], "blue-green: true\n");
    assert!(e.contains(r#"did you mean "blue_green"?"#), "{e}");
    let e = error(&["status"], &[], "frobnicate: 1\n");
    assert_eq!(e, r#"docker-flow.yml: unknown key "frobnicate""#);
    let e = error(&["status"], &[], "target: [a, b]\n");
    assert_eq!(
        e,
        "docker-flow.yml key target: expected a string, got a list"
    );
    let e = error(&["status"], &[], "blue_green: [true]\n");
    assert_eq!(
        e,
        "docker-flow.yml key blue_green: expected true or false, got a list"
    );
    let e = error(
        &["status"],
        &[],
        "target: app\nside_targets:\n  - db\n bad: x\n",
    );
    assert!(e.starts_with("docker-flow.yml:4:"), "{e}");
    assert!(!e.contains(" at line "), "{e}");
    let e = error(&["status"], &[], "- deploy\n");
    assert!(e.contains("docker-flow.yml:1:1: expected a mapping"), "{e}");
    let e = FileConfig::parse("conf/other.yml", "scal: 1").unwrap_err();
    assert!(
        e.to_string().starts_with("conf/other.yml: unknown key"),
        "{e}"
    );
}

#[test]
fn yaml_that_would_lose_the_sign_of_a_scale_keeps_it() {
    assert_eq!(
        settings(&["scale"], &[], "target: app\nscale: +2").scale,
        Some(ScaleSpec::Relative(2))
    );
    assert_eq!(
        settings(&["scale"], &[], "target: app\nscale: 2").scale,
        Some(ScaleSpec::Absolute(2))
    );
}

/// Bad input → an error naming what was wrong and where it came from.
#[test]
fn bad_inputs_name_their_source() {
    type Case<'a> = (
        &'a [&'a str],
        &'a [(&'a str, &'a str)],
        &'a str,
        &'a str,
        &'a str,
    );
    let t = &["deploy", "-t", "app"][..];
    #[rustfmt::skip]
    let cases: &[Case] = &[
        // scale
        (&["deploy", "-t", "app", "--scale=+x"], &[], "", r#"invalid scale "+x""#, "(from --scale flag): expected N, +N or -N"),
        (t, &[("FLOW_SCALE", "+x")], "", r#"invalid scale "+x""#, "(from FLOW_SCALE): expected N, +N or -N"),
        (t, &[], "scale: +x", r#"invalid scale "+x""#, "(from docker-flow.yml key scale)"),
        (&["scale", "x", "-t", "app"], &[], "", r#"invalid scale "x""#, "(from scale argument)"),
        (&["deploy", "-t", "app", "--scale=0"], &[], "", "at least 1", "--scale flag"),
        (t, &[("FLOW_SCALE", "0")], "", "at least 1", "FLOW_SCALE"),
        (t, &[], "scale: 0", "at least 1", "docker-flow.yml key scale"),
        (t, &[], "scale: 1.5", r#"invalid scale "1.5""#, "docker-flow.yml key scale"),
        (&["scale", "+1", "--scale=2", "-t", "app"], &[], "", "two scales", "--scale flag"),
        (&["scale", "-t", "app"], &[], "", "a scale is required for the scale flow", "FLOW_SCALE"),
        (t, &[("FLOW_SCALE", " ")], "", "FLOW_SCALE is set but empty", "FLOW_SCALE"),
        // booleans
        (t, &[("FLOW_BLUE_GREEN", "")], "", "FLOW_BLUE_GREEN is set but empty", "FLOW_BLUE_GREEN"),
        (t, &[("FLOW_BLUE_GREEN", "yes")], "", r#"invalid boolean "yes""#, "(from FLOW_BLUE_GREEN): expected true, false, 1 or 0"),
        (t, &[], "blue_green: yes", r#"invalid boolean "yes""#, "docker-flow.yml key blue_green"),
        (&["deploy", "-t", "app", "--blue-green=maybe"], &[], "", r#"invalid boolean "maybe""#, "--blue-green flag"),
        (&["deploy", "-t", "app", "-S=2"], &[], "", r#"invalid boolean "2""#, "--pull-side-targets flag"),
        (t, &[("FLOW_DRY_RUN", "on")], "", r#"invalid boolean "on""#, "FLOW_DRY_RUN"),
        (t, &[], "skip_pull_target: [a]", "expected true or false, got a list", "docker-flow.yml key skip_pull_target"),
        // target and side targets
        (&["deploy"], &[], "", "required for deploy", "--target/-t, FLOW_TARGET or target in docker-flow.yml"),
        (&["--flow=proxy", "--flow=stop-old", "-b"], &[], "", "required for proxy, stop-old", "FLOW_TARGET"),
        (&["deploy", "-t", "my app"], &[], "", r#"invalid target "my app""#, "--target flag"),
        (&["deploy"], &[("FLOW_TARGET", "")], "", "FLOW_TARGET is set but empty", "FLOW_TARGET"),
        (&["deploy"], &[], "target: true", "expected a string, got a boolean", "docker-flow.yml key target"),
        (&["deploy"], &[], "target: 'a/b'", r#"invalid target "a/b""#, "docker-flow.yml key target"),
        (&["deploy", "-t", "app", "-T", "app"], &[], "", "both the target and a side target", "--side-target flag"),
        (t, &[("FLOW_SIDE_TARGETS", "db,bad name")], "", r#"invalid side target "bad name""#, "FLOW_SIDE_TARGETS"),
        (t, &[], "side_targets: [[a]]", "got a list of lists", "docker-flow.yml key side_targets"),
        // flows
        (&["--flow=deploy", "--flow=deploy", "-t", "app"], &[], "", "flow deploy is given twice", "--flow flag"),
        (&["deploy", "--flow=deploy", "-t", "app"], &[], "", "flow deploy is given twice", "--flow flag"),
        (&["-t", "app"], &[("FLOW_FLOW", "deploy, bogus")], "", r#"invalid flow "bogus""#, "(from FLOW_FLOW): expected one of deploy, scale, proxy, stop-old, rollback, status"),
        (&["-t", "app"], &[], "flow: [deploy, test]", r#"invalid flow "test""#, "docker-flow.yml key flow"),
        (&["-t", "app"], &[("FLOW_FLOW", " , ")], "", "invalid flow list", "FLOW_FLOW"),
        (&["-t", "app"], &[], "flow: {deploy: 1}", "expected a string or a list of strings, got a mapping", "docker-flow.yml key flow"),
        // ports
        (&["deploy", "-t", "app", "--port=0"], &[], "", r#"invalid port "0""#, "(from --port flag): expected a port number from 1 to 65535"),
        (t, &[("FLOW_PORT", "http")], "", r#"invalid port "http""#, "FLOW_PORT"),
        (t, &[], "port: 70000", r#"invalid port "70000""#, "docker-flow.yml key port"),
        (t, &[], "proxy_http_port: {a: 1}", "expected a number, got a mapping", "docker-flow.yml key proxy_http_port"),
        (&["deploy", "-t", "app", "--proxy-https-port=80", "--proxy-cert=c.pem"], &[], "", "is also its HTTP port", "--proxy-https-port flag"),
        (t, &[("FLOW_PROXY_HTTP_PORT", "443")], "proxy_cert: c.pem", "HTTPS port 443 (from FLOW_PROXY_HTTP_PORT) is also its HTTP port", "FLOW_PROXY_HTTP_PORT"),
        (t, &[("FLOW_PROXY_HTTPS_PORT", "8443")], "", "needs a certificate", "(from FLOW_PROXY_HTTPS_PORT)"),
        (t, &[("FLOW_PROXY_RECONF_PORT", "8080x")], "", r#"invalid port "8080x""#, "FLOW_PROXY_RECONF_PORT"),
        // durations and health
        (&["deploy", "-t", "app", "--lock-timeout=ten"], &[], "", r#"invalid lock timeout "ten""#, "--lock-timeout flag"),
        (t, &[("FLOW_DRAIN_TIMEOUT", "-5s")], "", "not negative", "FLOW_DRAIN_TIMEOUT"),
        (t, &[], "monitor: soon", r#"invalid monitor "soon""#, "docker-flow.yml key monitor"),
        (t, &[], "health_timeout: 0", "above 0", "docker-flow.yml key health_timeout"),
        (t, &[], "lock_timeout: [1s]", "expected a duration such as 10s or 1m30s, got a list", "docker-flow.yml key lock_timeout"),
        (&["deploy", "-t", "app", "--health-path=health"], &[], "", r#"invalid health path "health""#, "--health-path flag"),
        // consul
        (t, &[("FLOW_CONSUL_ADDRESS", "ftp://x")], "", r#"invalid Consul address "ftp://x""#, "FLOW_CONSUL_ADDRESS"),
        (t, &[("CONSUL_HTTP_ADDR", "host:port")], "", r#"invalid Consul address "host:port""#, "CONSUL_HTTP_ADDR"),
        (t, &[], "consul_address: http://a b", "invalid Consul address", "docker-flow.yml key consul_address"),
        (&["deploy", "-t", "app", "-c", "http://:8500"], &[], "", "invalid Consul address", "--consul-address flag"),
        (t, &[ ("CONSUL_HTTP_ADDR", "localhost:8500"), ("CONSUL_HTTP_SSL", "maybe"), ], "", r#"invalid boolean "maybe""#, "CONSUL_HTTP_SSL"),
        (t, &[("FLOW_CONSUL_IMAGE", "a b")], "", r#"invalid image "a b""#, "FLOW_CONSUL_IMAGE"),
        (t, &[("FLOW_CONSUL_TOKEN", "")], "", "FLOW_CONSUL_TOKEN is set but empty", "FLOW_CONSUL_TOKEN"),
        // proxy
        (&[ "deploy", "-t", "app", "--proxy-context=x", "--proxy-docker-host=tcp://h:2375", ], &[], "", "the proxy's engine is given twice", "(from --proxy-context flag)"),
        (t, &[("FLOW_PROXY_CONTEXT", "x")], "proxy_docker_host: tcp://h:2375", "(from docker-flow.yml key proxy_docker_host)", "(from FLOW_PROXY_CONTEXT)"),
        (&["deploy", "-t", "app", "--consul-template-fe-path=fe.tmpl"], &[], "", "needs a backend one", "--consul-template-fe-path flag"),
        (t, &[("FLOW_CONSUL_TEMPLATE_BE_PATH", "be")], "", "needs a frontend one", "FLOW_CONSUL_TEMPLATE_BE_PATH"),
        (t, &[("FLOW_CONSUL_TEMPLATE_FE_PATH", "fe")], "consul_template_path: app.tmpl", "give one form", "docker-flow.yml key consul_template_path"),
        (&["deploy", "-t", "app", "--service-path=demo"], &[], "", r#"invalid service path "demo""#, "--service-path flag"),
        (t, &[("FLOW_SERVICE_DOMAIN", "a.com, b c")], "", r#"invalid service domain "b c""#, "FLOW_SERVICE_DOMAIN"),
        // The proxy's own rules, at config time: no '#', quote or inner wildcard gets to a deploy.
        (&["deploy", "-t", "app", "--service-path=/a#b"], &[], "", r#"invalid service path "/a#b""#, "--service-path flag"),
        (t, &[("FLOW_SERVICE_PATH", "/a'b")], "", r#"invalid service path "/a'b""#, "FLOW_SERVICE_PATH"),
        (t, &[], "service_domain: [a.*.com]", r#"invalid service domain "a.*.com""#, "docker-flow.yml key service_domain"),
        (t, &[("FLOW_PATH_TYPE", "glob")], "", r#"invalid path type "glob""#, "(from FLOW_PATH_TYPE): expected prefix, exact or regex"),
        (t, &[], "proxy_image: ''", r#"invalid image """#, "docker-flow.yml key proxy_image"),
        (&["deploy", "-t", "app", "--proxy-bind-address=localhost"], &[], "", r#"invalid bind address "localhost""#, "--proxy-bind-address flag"),
        (&["deploy", "-t", "app", "--advertise-address=edge.example"], &[], "", r#"invalid advertise address "edge.example""#, "--advertise-address flag"),
        (t, &[], "advertise_address: 1", r#"invalid advertise address"#, "docker-flow.yml key advertise_address"),
        (t, &[], "proxy_host: ' '", r#"invalid proxy host " ""#, "docker-flow.yml key proxy_host"),
        // compose, host, format
        (t, &[], "compose_path: ['']", r#"invalid path """#, "docker-flow.yml key compose_path"),
        (t, &[], "project: ''", r#"invalid project """#, "docker-flow.yml key project"),
        (t, &[("FLOW_HOST", "tcp://a b")], "", r#"invalid host "tcp://a b""#, "FLOW_HOST"),
        (t, &[], "format: yaml", r#"invalid format "yaml""#, "(from docker-flow.yml key format): expected text or json"),
        (t, &[("FLOW_CERT_PATH", "")], "", "FLOW_CERT_PATH is set but empty", "FLOW_CERT_PATH"),
        // the file itself
        (t, &[], "scal: 2", r#"unknown key "scal" (did you mean "scale"?)"#, "docker-flow.yml: "),
        (t, &[], "consul_token: s3cr3t", "secrets are never read from docker-flow.yml", "docker-flow.yml: "),
        (t, &[], "target: app\n  bad: [", "docker-flow.yml:2:", "docker-flow.yml"),
        (t, &[], "target: x\ntarget: y", "duplicate entry", "docker-flow.yml:"),
    ];
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (argv, env, yml, what, source) in cases {
        let e = error(argv, env, yml);
        assert!(
            e.contains(what) && e.contains(source),
            "{argv:?} {env:?} {yml:?}:\n  got      {e}\n  expected {what:?} and {source:?}"
        );
        assert_eq!(e.lines().count(), 1, "one line: {e}");
    }
}

#[test]
fn cli_errors() {
    let kind = |argv: &[&str]| command(argv).unwrap_err();
    let e = kind(&["--flow=bogus"]);
    assert_eq!(e.exit_code(), 2);
    let text = e.to_string();
    assert!(
        text.contains("bogus") && text.contains("deploy, scale, proxy, stop-old, rollback, status"),
        "{text}"
    );
    // Stray positional arguments.
    assert!(kind(&["deploy", "stray"]).to_string().contains("'stray'"));
    assert!(kind(&["-t", "app", "deploy"])
        .to_string()
        .contains("'deploy'"));
    assert!(kind(&["scale", "1", "2"]).to_string().contains("'2'"));
    assert!(kind(&["bogus"]).to_string().contains("'bogus'"));
    // A value-taking bool needs `=`: `--blue-green false` leaves a stray word.
    assert_eq!(kind(&["--blue-green", "false"]).exit_code(), 2);
    // Path types and formats are checked by clap too (with completion of their values).
    assert!(kind(&["deploy", "--path-type=glob"])
        .to_string()
        .contains("prefix"));
    // Plain `docker flow` prints help.
    assert_eq!(
        kind(&[]).kind(),
        clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
}

#[test]
fn standalone_original_form_starts_with_our_options() {
    let args: Vec<String> = ["--flow=deploy", "-t", "app", "-c", "consul:8500"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let Invocation::Run(g, c) = cli::parse(&args, true).unwrap() else {
        panic!()
    };
    assert_eq!(g.context, None);
    let s = resolve(&flow_args(&c).unwrap(), &env_of(&[]), None).unwrap();
    assert_eq!(s.consul.address.as_deref(), Some("http://consul:8500"));
}

#[test]
fn not_a_flow() {
    let c = command(&["version"]).unwrap();
    assert_eq!(
        settings_for(&c, &env_of(&[]), Path::new("/nonexistent")),
        Err(ConfigError::NotAFlow("version"))
    );
}

#[test]
fn the_option_table_matches_the_cli_and_the_file_keys() {
    let root = FlowCli::command();
    let deploy = root.find_subcommand("deploy").unwrap();
    for o in OPTIONS {
        let long = o.flag.trim_start_matches("--");
        assert!(
            deploy.get_arguments().any(|a| a.get_long() == Some(long)),
            "{} is not a flag of deploy",
            o.flag
        );
        assert!(
            root.get_arguments().any(|a| a.get_long() == Some(long)),
            "{} is not a flag of the original form",
            o.flag
        );
        assert!(o.env.starts_with("FLOW_"), "{}", o.env);
        assert!(
            KEYS.iter().any(|(k, _)| *k == o.key),
            "{} is not a docker-flow.yml key",
            o.key
        );
    }
    for (k, _) in KEYS {
        assert!(OPTIONS.iter().any(|o| o.key == *k), "key {k} has no option");
    }
    // Every flow command takes the whole set.
    for name in FlowName::NAMES {
        let sub = root.find_subcommand(name).unwrap();
        for o in OPTIONS {
            let long = o.flag.trim_start_matches("--");
            assert!(
                sub.get_arguments().any(|a| a.get_long() == Some(long)),
                "{name} lacks {}",
                o.flag
            );
        }
    }
    let mut help = Vec::new();
    deploy.clone().write_long_help(&mut help).unwrap();
    let help = String::from_utf8(help).unwrap();
    assert!(help.contains("[yml: blue_green] [default: true]"), "{help}");
}

#[test]
fn load_reads_docker_flow_yml_from_cwd_or_the_named_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_of(&[]);
    let deploy = flow_args(&command(&["deploy"]).unwrap()).unwrap();
    let status = flow_args(&command(&["status"]).unwrap()).unwrap();
    // No file: fine.
    let s = load(&status, &env, dir.path()).unwrap();
    assert_eq!(s.config_file, None);
    std::fs::write(
        dir.path().join("docker-flow.yml"),
        "target: app\nscale: +2\n",
    )
    .unwrap();
    let s = load(&deploy, &env, dir.path()).unwrap();
    assert_eq!(
        (s.target.as_str(), s.scale),
        ("app", Some(ScaleSpec::Relative(2)))
    );
    assert_eq!(s.config_file, Some(PathBuf::from("docker-flow.yml")));
    // A named file replaces docker-flow.yml; relative to cwd.
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    std::fs::write(
        dir.path().join("conf/prod.yml"),
        "target: web\ncompose_path: c.yml\n",
    )
    .unwrap();
    let named =
        flow_args(&command(&["deploy", "--flow-config", "conf/prod.yml"]).unwrap()).unwrap();
    let s = load(&named, &env, dir.path()).unwrap();
    assert_eq!(s.target, "web");
    assert_eq!(s.compose.files, vec![PathBuf::from("conf/c.yml")]);
    let s = load(
        &deploy,
        &env_of(&[("FLOW_CONFIG", "conf/prod.yml")]),
        dir.path(),
    )
    .unwrap();
    assert_eq!(s.target, "web");
    // A named file that is missing is an error naming where the name came from.
    let e = load(&deploy, &env_of(&[("FLOW_CONFIG", "nope.yml")]), dir.path()).unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with("cannot read nope.yml: ") && e.ends_with("(from FLOW_CONFIG)"),
        "{e}"
    );
    let missing = flow_args(&command(&["deploy", "--flow-config=gone.yml"]).unwrap()).unwrap();
    let e = load(&missing, &env, dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("gone.yml") && e.contains("--flow-config flag"),
        "{e}"
    );
    // A bad file is an error even for status.
    std::fs::write(dir.path().join("docker-flow.yml"), "targett: app\n").unwrap();
    let e = load(&status, &env, dir.path()).unwrap_err().to_string();
    assert_eq!(
        e,
        r#"docker-flow.yml: unknown key "targett" (did you mean "target"?)"#
    );
    // settings_for is load with the command's flow first.
    let c = command(&["scale", "-1", "--flow-config=conf/prod.yml"]).unwrap();
    let s = settings_for(&c, &env, dir.path()).unwrap();
    assert_eq!(s.flows, vec![FlowName::Scale]);
    assert_eq!(s.scale, Some(ScaleSpec::Relative(-1)));
}

#[test]
fn the_repository_docker_flow_yml_loads() {
    let text = include_str!("../../docker-flow.yml");
    let file = FileConfig::parse(DEFAULT_FILE, text).unwrap();
    let status = flow_args(&command(&["status"]).unwrap()).unwrap();
    let s = resolve(&status, &env_of(&[]), Some(&file)).unwrap();
    assert_eq!(s.target, "app");
    assert_eq!(s.side_targets, vec!["db"]);
    assert!(s.blue_green);
    assert_eq!(s.proxy.service_paths, vec!["/demo"]);
}

const VARS: &[&str] = &[
    "FLOW_FLOW",
    "FLOW_TARGET",
    "FLOW_SIDE_TARGETS",
    "FLOW_BLUE_GREEN",
    "FLOW_SCALE",
    "FLOW_COMPOSE_PATH",
    "FLOW_CONSUL_ADDRESS",
    "CONSUL_HTTP_ADDR",
    "CONSUL_HTTP_SSL",
    "FLOW_PROXY_HTTP_PORT",
    "FLOW_PROXY_HTTPS_PORT",
    "FLOW_PROXY_BIND_ADDRESS",
    "FLOW_SERVICE_PATH",
    "FLOW_SERVICE_DOMAIN",
    "FLOW_PATH_TYPE",
    "FLOW_LOCK_TIMEOUT",
    "FLOW_HEALTH_TIMEOUT",
    "FLOW_HEALTH_PATH",
    "FLOW_FORMAT",
    "FLOW_CONSUL_TEMPLATE_FE_PATH",
    "FLOW_PROXY_CONTEXT",
];

proptest! {
    #[test]
    fn resolve_never_panics_on_any_env(values in proptest::collection::vec(".*", VARS.len())) {
        let env: Vec<(&str, &str)> = VARS.iter().copied().zip(values.iter().map(String::as_str)).collect();
        for argv in [&["deploy"][..], &["status"], &["scale", "-1"], &["-F", "proxy"]] {
            let _ = try_settings(argv, &env, "");
        }
    }

    #[test]
    fn the_file_never_panics(text in ".*", key in proptest::sample::select(KEYS.iter().map(|k| k.0).collect::<Vec<_>>()), value in ".*") {
        let _ = FileConfig::parse(DEFAULT_FILE, &text);
        let doc = format!("{key}: {value}\n");
        if let Ok(file) = FileConfig::parse(DEFAULT_FILE, &doc) {
            let args = flow_args(&command(&["deploy"]).unwrap()).unwrap();
            let _ = resolve(&args, &env_of(&[]), Some(&file));
        }
    }

    #[test]
    fn argv_never_panics(words in proptest::collection::vec(
        prop_oneof![
            Just("deploy".to_string()), Just("scale".to_string()), Just("status".to_string()),
            Just("--scale".to_string()), Just("-s".to_string()), Just("--flow".to_string()),
            Just("-t".to_string()), Just("-b".to_string()), Just("--blue-green=false".to_string()),
            Just("--port".to_string()), Just("-1".to_string()), Just("+2".to_string()),
            ".*",
        ],
        0..8,
    )) {
        let mut argv = vec!["flow".to_string()];
        argv.extend(words);
        if let Ok(Invocation::Run(_, c)) = cli::parse(&argv, false) {
            if let Some(args) = flow_args(&c) {
                let _ = resolve(&args, &env_of(&[]), None);
            }
        }
    }

    #[test]
    fn scale_text_from_any_source_never_panics(s in ".*", current in any::<u32>()) {
        if let Ok(spec) = ScaleSpec::parse(&s) {
            let _ = spec.apply(current);
        }
        let _ = try_settings(&["scale"], &[("FLOW_SCALE", s.as_str()), ("FLOW_TARGET", "app")], "");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The merge: for each setting, the highest layer that gives it wins (flag > FLOW_* > file),
    /// whatever the other layers say and whichever are missing.
    #[test]
    fn the_highest_layer_wins(
        ports in proptest::array::uniform3(proptest::option::of(1u16..)),
        scales in proptest::array::uniform3(proptest::option::of(prop_oneof![
            (1u32..1000).prop_map(|n| n.to_string()),
            (0i64..1000).prop_map(|n| format!("+{n}")),
            (1i64..1000).prop_map(|n| format!("-{n}")),
        ])),
        names in proptest::array::uniform3(proptest::option::of("[a-z][a-z0-9_.-]{0,10}")),
    ) {
        // [file, env, flag]
        let mut yml = String::from("target: app\n");
        let mut env: Vec<(&str, String)> = Vec::new();
        let mut argv: Vec<String> = vec!["deploy".into()];
        for (layer, (port, (scale, name))) in ports.iter().zip(scales.iter().zip(&names)).enumerate() {
            let items = [("port", "FLOW_PORT", port.map(|p| p.to_string())), ("scale", "FLOW_SCALE", scale.clone()), ("proxy_name", "FLOW_PROXY_NAME", name.clone())];
            for (key, var, value) in items {
                let Some(v) = value else { continue };
                match layer {
                    0 => yml.push_str(&format!("{key}: \"{v}\"\n")),
                    1 => env.push((var, v)),
                    _ => argv.push(format!("--{}={v}", key.replace('_', "-"))),
                }
            }
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let s = try_settings(&argv, &env, &yml).map_err(|e| TestCaseError::fail(format!("{argv:?} {env:?} {yml:?}: {e}")))?;
        let top = |l: &[Option<String>; 3]| l.iter().rev().flatten().next().cloned();
        prop_assert_eq!(s.proxy.port.map(|p| p.to_string()), top(&ports.map(|p| p.map(|p| p.to_string()))));
        prop_assert_eq!(s.scale.map(|s| s.to_string()), top(&scales));
        prop_assert_eq!(s.proxy.name, top(&names).unwrap_or_else(|| DEFAULT_PROXY_NAME.to_string()));
    }
}
