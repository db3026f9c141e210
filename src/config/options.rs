//! Every option's three names: flag, `FLOW_*` variable, docker-flow.yml key.

use super::sources::Opt;

pub(crate) const fn opt(flag: &'static str, env: &'static str, key: &'static str) -> Opt {
    Opt { flag, env, key }
}

pub(crate) const CONFIG: Opt = opt("--flow-config", "FLOW_CONFIG", "");
pub(crate) const FLOW: Opt = opt("--flow", "FLOW_FLOW", "flow");
pub(crate) const TARGET: Opt = opt("--target", "FLOW_TARGET", "target");
pub(crate) const SIDE_TARGETS: Opt = opt("--side-target", "FLOW_SIDE_TARGETS", "side_targets");
pub(crate) const PULL_SIDE_TARGETS: Opt = opt(
    "--pull-side-targets",
    "FLOW_PULL_SIDE_TARGETS",
    "pull_side_targets",
);
pub(crate) const SKIP_PULL_TARGET: Opt = opt(
    "--skip-pull-target",
    "FLOW_SKIP_PULL_TARGET",
    "skip_pull_target",
);
pub(crate) const BLUE_GREEN: Opt = opt("--blue-green", "FLOW_BLUE_GREEN", "blue_green");
pub(crate) const SCALE: Opt = opt("--scale", "FLOW_SCALE", "scale");
pub(crate) const COMPOSE_PATH: Opt = opt("--compose-path", "FLOW_COMPOSE_PATH", "compose_path");
pub(crate) const PROJECT: Opt = opt("--project", "FLOW_PROJECT", "project");
pub(crate) const PROJECT_DIRECTORY: Opt = opt(
    "--project-directory",
    "FLOW_PROJECT_DIRECTORY",
    "project_directory",
);
pub(crate) const PROFILES: Opt = opt("--profile", "FLOW_PROFILES", "profiles");
pub(crate) const ENV_FILES: Opt = opt("--env-file", "FLOW_ENV_FILES", "env_files");
pub(crate) const HOST: Opt = opt("--host", "FLOW_HOST", "host");
pub(crate) const CERT_PATH: Opt = opt("--cert-path", "FLOW_CERT_PATH", "cert_path");
pub(crate) const CONSUL_ADDRESS: Opt =
    opt("--consul-address", "FLOW_CONSUL_ADDRESS", "consul_address");
pub(crate) const CONSUL_CACERT: Opt = opt("--consul-cacert", "FLOW_CONSUL_CACERT", "consul_cacert");
pub(crate) const CONSUL_CLIENT_CERT: Opt = opt(
    "--consul-client-cert",
    "FLOW_CONSUL_CLIENT_CERT",
    "consul_client_cert",
);
pub(crate) const CONSUL_CLIENT_KEY: Opt = opt(
    "--consul-client-key",
    "FLOW_CONSUL_CLIENT_KEY",
    "consul_client_key",
);
pub(crate) const CONSUL_IMAGE: Opt = opt("--consul-image", "FLOW_CONSUL_IMAGE", "consul_image");
pub(crate) const PROXY_HOST: Opt = opt("--proxy-host", "FLOW_PROXY_HOST", "proxy_host");
pub(crate) const PROXY_DOCKER_HOST: Opt = opt(
    "--proxy-docker-host",
    "FLOW_PROXY_DOCKER_HOST",
    "proxy_docker_host",
);
pub(crate) const PROXY_DOCKER_CERT_PATH: Opt = opt(
    "--proxy-docker-cert-path",
    "FLOW_PROXY_DOCKER_CERT_PATH",
    "proxy_docker_cert_path",
);
pub(crate) const PROXY_CONTEXT: Opt = opt("--proxy-context", "FLOW_PROXY_CONTEXT", "proxy_context");
pub(crate) const PROXY_RECONF_PORT: Opt = opt(
    "--proxy-reconf-port",
    "FLOW_PROXY_RECONF_PORT",
    "proxy_reconf_port",
);
pub(crate) const PROXY_IMAGE: Opt = opt("--proxy-image", "FLOW_PROXY_IMAGE", "proxy_image");
pub(crate) const PROXY_NAME: Opt = opt("--proxy-name", "FLOW_PROXY_NAME", "proxy_name");
pub(crate) const PROXY_HTTP_PORT: Opt = opt(
    "--proxy-http-port",
    "FLOW_PROXY_HTTP_PORT",
    "proxy_http_port",
);
pub(crate) const PROXY_HTTPS_PORT: Opt = opt(
    "--proxy-https-port",
    "FLOW_PROXY_HTTPS_PORT",
    "proxy_https_port",
);
pub(crate) const PROXY_BIND_ADDRESS: Opt = opt(
    "--proxy-bind-address",
    "FLOW_PROXY_BIND_ADDRESS",
    "proxy_bind_address",
);
pub(crate) const ADVERTISE_ADDRESS: Opt = opt(
    "--advertise-address",
    "FLOW_ADVERTISE_ADDRESS",
    "advertise_address",
);
pub(crate) const PROXY_CERT: Opt = opt("--proxy-cert", "FLOW_PROXY_CERT", "proxy_cert");
pub(crate) const SERVICE_PATH: Opt = opt("--service-path", "FLOW_SERVICE_PATH", "service_path");
pub(crate) const SERVICE_DOMAIN: Opt =
    opt("--service-domain", "FLOW_SERVICE_DOMAIN", "service_domain");
pub(crate) const PORT: Opt = opt("--port", "FLOW_PORT", "port");
pub(crate) const MODE: Opt = opt("--mode", "FLOW_MODE", "mode");
pub(crate) const PATH_TYPE: Opt = opt("--path-type", "FLOW_PATH_TYPE", "path_type");
pub(crate) const TEMPLATE: Opt = opt(
    "--consul-template-path",
    "FLOW_CONSUL_TEMPLATE_PATH",
    "consul_template_path",
);
pub(crate) const TEMPLATE_FE: Opt = opt(
    "--consul-template-fe-path",
    "FLOW_CONSUL_TEMPLATE_FE_PATH",
    "consul_template_fe_path",
);
pub(crate) const TEMPLATE_BE: Opt = opt(
    "--consul-template-be-path",
    "FLOW_CONSUL_TEMPLATE_BE_PATH",
    "consul_template_be_path",
);
pub(crate) const HEALTH_PATH: Opt = opt("--health-path", "FLOW_HEALTH_PATH", "health_path");
pub(crate) const HEALTH_TIMEOUT: Opt =
    opt("--health-timeout", "FLOW_HEALTH_TIMEOUT", "health_timeout");
pub(crate) const LOCK_TIMEOUT: Opt = opt("--lock-timeout", "FLOW_LOCK_TIMEOUT", "lock_timeout");
pub(crate) const DRAIN_TIMEOUT: Opt = opt("--drain-timeout", "FLOW_DRAIN_TIMEOUT", "drain_timeout");
pub(crate) const MONITOR: Opt = opt("--monitor", "FLOW_MONITOR", "monitor");
pub(crate) const DRY_RUN: Opt = opt("--dry-run", "FLOW_DRY_RUN", "dry_run");
pub(crate) const FORMAT: Opt = opt("--format", "FLOW_FORMAT", "format");

/// Every option with a flag, an env var and a docker-flow.yml key (for docs and tests).
pub const OPTIONS: &[Opt] = &[
    FLOW,
    TARGET,
    SIDE_TARGETS,
    PULL_SIDE_TARGETS,
    SKIP_PULL_TARGET,
    BLUE_GREEN,
    SCALE,
    COMPOSE_PATH,
    PROJECT,
    PROJECT_DIRECTORY,
    PROFILES,
    ENV_FILES,
    HOST,
    CERT_PATH,
    CONSUL_ADDRESS,
    CONSUL_CACERT,
    CONSUL_CLIENT_CERT,
    CONSUL_CLIENT_KEY,
    CONSUL_IMAGE,
    PROXY_HOST,
    PROXY_DOCKER_HOST,
    PROXY_DOCKER_CERT_PATH,
    PROXY_CONTEXT,
    PROXY_RECONF_PORT,
    PROXY_IMAGE,
    PROXY_NAME,
    PROXY_HTTP_PORT,
    PROXY_HTTPS_PORT,
    PROXY_BIND_ADDRESS,
    ADVERTISE_ADDRESS,
    PROXY_CERT,
    SERVICE_PATH,
    SERVICE_DOMAIN,
    PORT,
    MODE,
    PATH_TYPE,
    TEMPLATE,
    TEMPLATE_FE,
    TEMPLATE_BE,
    HEALTH_PATH,
    HEALTH_TIMEOUT,
    LOCK_TIMEOUT,
    DRAIN_TIMEOUT,
    MONITOR,
    DRY_RUN,
    FORMAT,
];

/// The option whose flag is `flag` (`--scale`), `--flow-config` included.
pub fn by_flag(flag: &str) -> Option<Opt> {
    OPTIONS
        .iter()
        .chain(std::iter::once(&CONFIG))
        .find(|o| o.flag == flag)
        .copied()
}
