//! The flow options every flow command takes (`docker flow deploy …`, `docker flow scale +2 …`,
//! and the original form `docker flow --flow=deploy --flow=proxy …`).
//!
//! Values are kept as typed on the command line: `crate::config::load` resolves them against the
//! `FLOW_*` variables and docker-flow.yml and parses all three the same way, so an error names
//! the place the bad value came from. Booleans take an optional value (`--blue-green`,
//! `--blue-green=false`), so a flag can switch off what the file switched on.

use std::path::PathBuf;

use clap::{builder::PossibleValuesParser, Args};

use super::{ComposeArgs, Format};
use crate::config::FlowName;

const FLOW: &str = "Flow";
const SERVICE: &str = "Service";
const CONSUL: &str = "Consul";
const PROXY: &str = "Proxy";
const HEALTH: &str = "Health and timing";

#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct FlowArgs {
    /// Output format [env: FLOW_FORMAT] [yml: format] [default: text]
    #[arg(long, value_enum, help_heading = FLOW)]
    pub format: Option<Format>,

    /// Also run this flow, after the command's own; repeat for more, they run in order. Without
    /// a command: the flows to run [env: FLOW_FLOW, comma-separated] [yml: flow] [default: deploy]
    #[arg(
        short = 'F',
        long = "flow",
        value_name = "FLOW",
        value_parser = PossibleValuesParser::new(FlowName::NAMES),
        ignore_case = true,
        help_heading = FLOW
    )]
    pub flows: Vec<String>,

    /// Settings file [env: FLOW_CONFIG] [default: docker-flow.yml, if there is one]
    #[arg(long, value_name = "FILE", help_heading = FLOW)]
    pub flow_config: Option<PathBuf>,

    /// Show what would be done, change nothing [env: FLOW_DRY_RUN] [yml: dry_run]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        help_heading = FLOW
    )]
    pub dry_run: Option<String>,

    /// Compose service to deploy; required by every flow but status [env: FLOW_TARGET] [yml: target]
    #[arg(short = 't', long, value_name = "SERVICE", help_heading = SERVICE)]
    pub target: Option<String>,

    /// Service started (never coloured, scaled or stopped) with the target; repeat for more
    /// [env: FLOW_SIDE_TARGETS, comma-separated] [yml: side_targets]
    #[arg(
        short = 'T',
        long = "side-target",
        value_name = "SERVICE",
        help_heading = SERVICE
    )]
    pub side_targets: Vec<String>,

    /// Pull the side targets' images too [env: FLOW_PULL_SIDE_TARGETS] [yml: pull_side_targets]
    /// [default: false]
    #[arg(
        short = 'S',
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        help_heading = SERVICE
    )]
    pub pull_side_targets: Option<String>,

    /// Do not pull the target's image (use the local one) [env: FLOW_SKIP_PULL_TARGET]
    /// [yml: skip_pull_target] [default: false]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        help_heading = SERVICE
    )]
    pub skip_pull_target: Option<String>,

    /// Blue-green: the new release runs beside the live one (`--blue-green=false`: replace it in
    /// place) [env: FLOW_BLUE_GREEN] [yml: blue_green] [default: true]
    #[arg(
        short = 'b',
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        help_heading = SERVICE
    )]
    pub blue_green: Option<String>,

    /// Instances: N, or +N / -N relative to the running count (never below 1; 0 is refused)
    /// [env: FLOW_SCALE] [yml: scale] [default: as many as the live release]
    #[arg(
        short = 's',
        long,
        value_name = "N|+N|-N",
        allow_negative_numbers = true,
        help_heading = SERVICE
    )]
    pub scale: Option<String>,

    #[command(flatten, next_help_heading = "Compose")]
    pub compose: ComposeArgs,

    /// Docker endpoint of the services (prefer docker's own `-H`/`--context` before `flow`)
    /// [env: FLOW_HOST] [yml: host]
    #[arg(short = 'H', long, value_name = "HOST", help_heading = SERVICE)]
    pub host: Option<String>,

    /// TLS certificate directory for --host (ca.pem, cert.pem, key.pem) [env: FLOW_CERT_PATH]
    /// [yml: cert_path]
    #[arg(long, value_name = "DIR", help_heading = SERVICE)]
    pub cert_path: Option<PathBuf>,

    /// Consul HTTP API: http(s)://host:port or host:port [env: FLOW_CONSUL_ADDRESS, then
    /// CONSUL_HTTP_ADDR] [yml: consul_address] [default: a docker-flow-consul container]
    #[arg(short = 'c', long, value_name = "URL", help_heading = CONSUL)]
    pub consul_address: Option<String>,

    /// CA certificate for Consul over HTTPS [env: FLOW_CONSUL_CACERT, then CONSUL_CACERT]
    /// [yml: consul_cacert]
    #[arg(long, value_name = "FILE", help_heading = CONSUL)]
    pub consul_cacert: Option<PathBuf>,

    /// Client certificate for Consul [env: FLOW_CONSUL_CLIENT_CERT, then CONSUL_CLIENT_CERT]
    /// [yml: consul_client_cert]
    #[arg(long, value_name = "FILE", help_heading = CONSUL)]
    pub consul_client_cert: Option<PathBuf>,

    /// Client key for Consul [env: FLOW_CONSUL_CLIENT_KEY, then CONSUL_CLIENT_KEY]
    /// [yml: consul_client_key]
    #[arg(long, value_name = "FILE", help_heading = CONSUL)]
    pub consul_client_key: Option<PathBuf>,

    /// Image of the Consul container docker flow starts when no address is set
    /// [env: FLOW_CONSUL_IMAGE] [yml: consul_image] [default: hashicorp/consul:1.20]
    #[arg(long, value_name = "IMAGE", help_heading = CONSUL)]
    pub consul_image: Option<String>,

    /// Address users reach the proxy at (for messages) [env: FLOW_PROXY_HOST] [yml: proxy_host]
    #[arg(long, value_name = "HOST", help_heading = PROXY)]
    pub proxy_host: Option<String>,

    /// Docker endpoint the proxy runs on [env: FLOW_PROXY_DOCKER_HOST] [yml: proxy_docker_host]
    /// [default: the services' endpoint]
    #[arg(long, value_name = "HOST", help_heading = PROXY)]
    pub proxy_docker_host: Option<String>,

    /// TLS certificate directory for --proxy-docker-host [env: FLOW_PROXY_DOCKER_CERT_PATH]
    /// [yml: proxy_docker_cert_path]
    #[arg(long, value_name = "DIR", help_heading = PROXY)]
    pub proxy_docker_cert_path: Option<PathBuf>,

    /// Docker context the proxy runs on (instead of --proxy-docker-host) [env: FLOW_PROXY_CONTEXT]
    /// [yml: proxy_context]
    #[arg(long, value_name = "NAME", help_heading = PROXY)]
    pub proxy_context: Option<String>,

    /// Accepted for compatibility and unused: the proxy is switched through HAProxy's runtime
    /// API, there is no reconfigure port [env: FLOW_PROXY_RECONF_PORT] [yml: proxy_reconf_port]
    #[arg(long, value_name = "PORT", help_heading = PROXY)]
    pub proxy_reconf_port: Option<String>,

    /// HAProxy image [env: FLOW_PROXY_IMAGE] [yml: proxy_image] [default: haproxy:lts]
    #[arg(long, value_name = "IMAGE", help_heading = PROXY)]
    pub proxy_image: Option<String>,

    /// Name of the proxy container (one proxy serves every service that names it)
    /// [env: FLOW_PROXY_NAME] [yml: proxy_name] [default: docker-flow-proxy]
    #[arg(long, value_name = "NAME", help_heading = PROXY)]
    pub proxy_name: Option<String>,

    /// Host port of the proxy's HTTP listener [env: FLOW_PROXY_HTTP_PORT] [yml: proxy_http_port]
    /// [default: 80]
    #[arg(long, value_name = "PORT", help_heading = PROXY)]
    pub proxy_http_port: Option<String>,

    /// Host port of the proxy's HTTPS listener (needs --proxy-cert) [env: FLOW_PROXY_HTTPS_PORT]
    /// [yml: proxy_https_port] [default: none]
    #[arg(long, value_name = "PORT", help_heading = PROXY)]
    pub proxy_https_port: Option<String>,

    /// Host address the proxy's ports bind to [env: FLOW_PROXY_BIND_ADDRESS]
    /// [yml: proxy_bind_address] [default: 0.0.0.0]
    #[arg(long, value_name = "IP", help_heading = PROXY)]
    pub proxy_bind_address: Option<String>,

    /// With the proxy on another engine: the IP address it reaches the services' host at
    /// (instances publish the routed port there) [env: FLOW_ADVERTISE_ADDRESS]
    /// [yml: advertise_address] [default: the services' endpoint host; 127.0.0.1 for unix://]
    #[arg(long, value_name = "IP", help_heading = PROXY)]
    pub advertise_address: Option<String>,

    /// PEM file (certificate and key) for HTTPS [env: FLOW_PROXY_CERT] [yml: proxy_cert]
    #[arg(long, value_name = "FILE", help_heading = PROXY)]
    pub proxy_cert: Option<PathBuf>,

    /// Path the proxy routes to the target; repeat for more [env: FLOW_SERVICE_PATH,
    /// comma-separated] [yml: service_path]
    #[arg(long = "service-path", value_name = "PATH", help_heading = PROXY)]
    pub service_paths: Vec<String>,

    /// Domain (Host header) the proxy routes to the target; repeat for more
    /// [env: FLOW_SERVICE_DOMAIN, comma-separated] [yml: service_domain]
    #[arg(long = "service-domain", value_name = "DOMAIN", help_heading = PROXY)]
    pub service_domains: Vec<String>,

    /// How the target's stand-in passes on a port: `http` (per request) or `tcp` (per
    /// connection), for every port or one (`5432=tcp`); repeat for more [env: FLOW_MODE,
    /// comma-separated] [yml: mode] [default: http]
    #[arg(long = "mode", value_name = "[PORT=]MODE", help_heading = PROXY)]
    pub modes: Vec<String>,

    /// Container port the proxy routes to [env: FLOW_PORT] [yml: port] [default: the service's
    /// only `ports`/`expose` port when routed; none when nothing routes it]
    #[arg(long, value_name = "PORT", help_heading = PROXY)]
    pub port: Option<String>,

    /// How --service-path matches [env: FLOW_PATH_TYPE] [yml: path_type] [default: prefix]
    #[arg(
        long,
        value_name = "TYPE",
        value_parser = PossibleValuesParser::new(["prefix", "exact", "regex"]),
        help_heading = PROXY
    )]
    pub path_type: Option<String>,

    /// Consul template (frontend and backend) for the target's proxy config
    /// [env: FLOW_CONSUL_TEMPLATE_PATH] [yml: consul_template_path]
    #[arg(long, value_name = "FILE", help_heading = PROXY)]
    pub consul_template_path: Option<PathBuf>,

    /// Consul template of the frontend part (with --consul-template-be-path)
    /// [env: FLOW_CONSUL_TEMPLATE_FE_PATH] [yml: consul_template_fe_path]
    #[arg(long, value_name = "FILE", help_heading = PROXY)]
    pub consul_template_fe_path: Option<PathBuf>,

    /// Consul template of the backend part (with --consul-template-fe-path)
    /// [env: FLOW_CONSUL_TEMPLATE_BE_PATH] [yml: consul_template_be_path]
    #[arg(long, value_name = "FILE", help_heading = PROXY)]
    pub consul_template_be_path: Option<PathBuf>,

    /// HTTP path that answers 2xx when an instance is ready [env: FLOW_HEALTH_PATH]
    /// [yml: health_path] [default: the image's or compose file's healthcheck]
    #[arg(long, value_name = "PATH", help_heading = HEALTH)]
    pub health_path: Option<String>,

    /// How long a new release may take to become healthy [env: FLOW_HEALTH_TIMEOUT]
    /// [yml: health_timeout]
    #[arg(long, value_name = "DURATION", help_heading = HEALTH)]
    pub health_timeout: Option<String>,

    /// How long to wait for another deploy's lock on the service [env: FLOW_LOCK_TIMEOUT]
    /// [yml: lock_timeout] [default: 60s]
    #[arg(long, value_name = "DURATION", help_heading = HEALTH)]
    pub lock_timeout: Option<String>,

    /// How long the old release keeps serving open connections after a switch
    /// [env: FLOW_DRAIN_TIMEOUT] [yml: drain_timeout] [default: 10s]
    #[arg(long, value_name = "DURATION", help_heading = HEALTH)]
    pub drain_timeout: Option<String>,

    /// How long a new instance of a service the proxy does not route must keep running, not
    /// restarting, to count as healthy [env: FLOW_MONITOR] [yml: monitor] [default: 5s]
    #[arg(long, value_name = "DURATION", help_heading = HEALTH)]
    pub monitor: Option<String>,

    /// The command's own flow (`deploy` for `docker flow deploy`); none in the original form.
    /// Set by `config::settings_for`, never by clap.
    #[arg(skip)]
    pub command: Option<FlowName>,

    /// The positional amount of `docker flow scale <N|+N|-N>`. Set by `config::settings_for`.
    #[arg(skip)]
    pub scale_arg: Option<String>,
}

/// The long help's epilogue of every flow command: where settings come from.
/// One line per paragraph: clap wraps it to the terminal (hard breaks would wrap twice).
pub const SETTINGS_HELP: &str = concat!(
    "Settings come from docker-flow.yml (or --flow-config), then FLOW_* variables, then flags: a later ",
    "one replaces an earlier one, lists included. List variables are comma-separated. Booleans take ",
    "true, false, 1 or 0 (`--blue-green=false`). Durations: 10s, 1m30s, 500ms, or a number of seconds.\n\n",
    "The compose options read FLOW_COMPOSE_PATH (yml: compose_path), FLOW_PROJECT (project), ",
    "FLOW_PROJECT_DIRECTORY (project_directory), FLOW_PROFILES (profiles) and FLOW_ENV_FILES (env_files). ",
    "The Consul ACL token is read from FLOW_CONSUL_TOKEN, then CONSUL_HTTP_TOKEN (never from a flag or file).",
);
