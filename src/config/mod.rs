//! Settings of a flow run: `docker-flow.yml` < `FLOW_*` env vars < flags -> [`Settings`].
//!
//! # Use
//!
//! ```text
//! let env = |k: &str| std::env::var(k).ok();
//! let settings = config::settings_for(&command, &env, &std::env::current_dir()?)?;
//! for flow in &settings.flows { /* run it */ }
//! ```
//!
//! - [`settings_for`] takes any flow [`Command`] (`deploy`, `scale`, `proxy`, `stop-old`,
//!   `rollback`, `status`, and the original form without a command, [`Command::Flows`]); it
//!   puts the command's own flow first, then the `--flow` ones.
//! - [`load`] does the work for one [`FlowArgs`]; `env` is the process environment as a function
//!   (tests pass a map) and `cwd` the directory `docker-flow.yml` is looked up in. The only I/O is
//!   reading that file.
//!
//! # Where each setting comes from
//!
//! Lowest to highest: the built-in default, the key of docker-flow.yml (or of `--flow-config` /
//! `FLOW_CONFIG`; a missing default file is fine, a missing named one is an error), the `FLOW_*`
//! variable, the flag. Names are the original docker-flow's: [`OPTIONS`] lists every flag / env
//! var / key, `docker flow deploy --help` shows them with their defaults. Differences from the
//! original, all deliberate:
//!
//! - No unprefixed fallbacks (`SCALE`, `CONSUL_ADDRESS`, `FLOW`…): only `FLOW_*`, plus Consul's
//!   own `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_SSL`, `CONSUL_HTTP_TOKEN`, `CONSUL_CACERT`,
//!   `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY` below docker-flow.yml. The flows variable is
//!   `FLOW_FLOW` (the original also read `FLOW`).
//! - Env lists are comma-separated with each item trimmed and empty items dropped; `FLOW_X=` for
//!   a list is the empty list, for anything else an error naming the variable.
//! - A list from a higher layer replaces a lower one (flags repeat: `-T db -T cache`).
//! - Booleans take `true`/`false`/`1`/`0` everywhere, so `--blue-green=false` beats
//!   `blue_green: true`. `blue_green` defaults to **true** (the original: false).
//! - docker-flow.yml is strict: an unknown key (with a did-you-mean), a wrong type or bad YAML is
//!   an error naming the file and key or line. Relative paths in it are relative to the file.
//! - With a command (`docker flow deploy`), `FLOW_FLOW` and `flow:` are ignored: the command and
//!   its `--flow` options say what runs. Without one, flows come from `--flow`, `FLOW_FLOW`,
//!   `flow:`, else `[deploy]` (a bare `docker flow` prints help instead).
//! - `--scale=0` is an error; a relative scale below 1 gives 1. `--scale -1` works as well as
//!   `--scale=-1`, and `docker flow scale -1` takes it as an argument.
//! - Repeating a single-valued flag is allowed: the last one wins (as with the original).
//! - Also new: `--proxy-context`, `--proxy-image`, `--proxy-http-port`, `--proxy-https-port`,
//!   `--proxy-bind-address`, `--proxy-cert`, `--service-domain`, `--port`, `--path-type`,
//!   `--health-path`, `--health-timeout`, `--lock-timeout`, `--drain-timeout`, `--monitor`,
//!   `--dry-run`, `--format`, `--consul-image`,
//!   `--consul-cacert`/`--consul-client-cert`/`--consul-client-key`,
//!   `--flow-config`. `--skip-pull-target` and the single `--consul-template-path` are back.
//!   `--proxy-reconf-port` is accepted and unused (the proxy is switched through HAProxy's
//!   runtime API). The Consul token is read from `FLOW_CONSUL_TOKEN` / `CONSUL_HTTP_TOKEN` only.
//! - Every error names its source: `invalid scale "+x" (from FLOW_SCALE): expected N, +N or -N`.

mod error;
mod file;
mod options;
mod resolve;
mod scale;
mod sources;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, Source};
pub use file::KEYS;
pub use scale::ScaleSpec;
pub use sources::Opt;

use crate::cli::{Command, ComposeArgs, FlowArgs, Format};
use crate::release::PathType;
use file::FileConfig;
use options::CONFIG;
pub use options::{by_flag, OPTIONS};
use resolve::resolve;
use sources::Layers;

/// The settings file looked up in the current directory.
pub const DEFAULT_FILE: &str = "docker-flow.yml";
/// The Consul image of the container docker flow starts when no Consul address is set.
pub const DEFAULT_CONSUL_IMAGE: &str = "hashicorp/consul:1.20";
/// The proxy's image.
pub const DEFAULT_PROXY_IMAGE: &str = "haproxy:lts";
/// The proxy container every service shares unless `--proxy-name` says otherwise.
pub const DEFAULT_PROXY_NAME: &str = "docker-flow-proxy";
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an instance the proxy does not route must keep running (Swarm's `monitor` default).
pub const DEFAULT_MONITOR: Duration = Duration::from_secs(5);

/// One step of a run, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowName {
    Deploy,
    Scale,
    Proxy,
    StopOld,
    Rollback,
    Status,
}

impl FlowName {
    pub const ALL: [FlowName; 6] = [
        FlowName::Deploy,
        FlowName::Scale,
        FlowName::Proxy,
        FlowName::StopOld,
        FlowName::Rollback,
        FlowName::Status,
    ];
    pub const NAMES: [&'static str; 6] =
        ["deploy", "scale", "proxy", "stop-old", "rollback", "status"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// `deploy`, `stop-old`… (any case, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<FlowName> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for FlowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret (the Consul ACL token): never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsulSettings {
    /// Consul's HTTP API as a URL (`http://host:port`, no trailing slash). `None`: docker flow
    /// runs its own `docker-flow-consul` container from `image`.
    pub address: Option<String>,
    /// ACL token: `FLOW_CONSUL_TOKEN`, then `CONSUL_HTTP_TOKEN`.
    pub token: Option<Secret>,
    pub cacert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Image of the docker-flow-consul container.
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// Address users reach the proxy at, for messages (`--proxy-host`).
    pub host: Option<String>,
    /// Docker endpoint of the proxy (`--proxy-docker-host`); `None` with no `context`: the
    /// services' endpoint.
    pub docker_host: Option<String>,
    pub docker_cert_path: Option<PathBuf>,
    /// Docker context of the proxy (`--proxy-context`); never set together with `docker_host`.
    pub context: Option<String>,
    /// Accepted for compatibility with the original and unused: there is no reconfigure API,
    /// the proxy is switched through HAProxy's runtime API.
    pub reconf_port: Option<u16>,
    pub image: String,
    /// The proxy container's name (`docker-flow-proxy`).
    pub name: String,
    pub http_port: u16,
    /// Set exactly when `cert` is: `--proxy-https-port`, else 443.
    pub https_port: Option<u16>,
    pub bind_address: String,
    /// Address the proxy reaches the services' engine host at, when the proxy runs on another
    /// engine (`--advertise-address`); None: derived from the services' endpoint.
    pub advertise_address: Option<IpAddr>,
    /// Paths routed to the target (checked to start with `/` unless `path_type` is regex).
    pub service_paths: Vec<String>,
    pub service_domains: Vec<String>,
    /// Container port to route to.
    pub port: Option<u16>,
    /// How the stand-in passes on the target's ports: (None = every port, or one port, mode),
    /// in the order given (a port's own entry wins over the one for every port).
    pub modes: Vec<(Option<u16>, crate::proxy::Mode)>,
    pub path_type: PathType,
    /// One consul-template for frontend and backend (`--consul-template-path`).
    pub template: Option<PathBuf>,
    /// The split form: both or neither, and never with `template`.
    pub template_fe: Option<PathBuf>,
    pub template_be: Option<PathBuf>,
    /// PEM with certificate and key, for HTTPS.
    pub cert: Option<PathBuf>,
}

/// Everything a flow run needs to know from the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The flows to run, in order, each at most once.
    pub flows: Vec<FlowName>,
    /// The compose service to deploy. Empty only when every flow is `status`.
    pub target: String,
    pub side_targets: Vec<String>,
    pub pull_side_targets: bool,
    pub skip_pull_target: bool,
    /// Default true.
    pub blue_green: bool,
    pub compose: ComposeArgs,
    pub scale: Option<ScaleSpec>,
    /// Docker endpoint of the services (`--host`/`-H` after `flow`, `FLOW_HOST`, `host:`), kept
    /// for compatibility with the original; docker's own `-H`/`--context` before `flow` is the
    /// preferred way, and this overrides it when set.
    pub docker_host: Option<String>,
    /// TLS certificate directory for `docker_host` (`--cert-path`).
    pub cert_path: Option<PathBuf>,
    pub consul: ConsulSettings,
    pub proxy: ProxySettings,
    /// HTTP path probed for readiness; `None`: the image's or compose file's healthcheck.
    pub health_path: Option<String>,
    /// `None`: the flow's own default.
    pub health_timeout: Option<Duration>,
    pub lock_timeout: Duration,
    pub drain_timeout: Duration,
    /// The monitor window: an instance with no routed port is healthy once it ran this long
    /// without exiting or restarting (its Docker healthcheck, when it has one, passing too).
    pub monitor: Duration,
    pub dry_run: bool,
    /// `docker flow proxy reconcile`: repair drift instead of switching.
    pub reconcile: bool,
    pub format: Format,
    /// The settings file that was read, as named (`None`: there was none).
    pub config_file: Option<PathBuf>,
    pub origins: Origins,
}

/// Where some settings came from, for errors found after resolution: a target that is not a
/// service of the project, a template that does not render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    pub target: Option<Source>,
    pub side_targets: Option<Source>,
    /// Of `--consul-template-path`, or of the frontend one of the pair.
    pub template: Option<Source>,
}

/// The settings for a flow command. The command's own flow comes first (`docker flow deploy
/// --flow=proxy` runs deploy, then proxy); the original form ([`Command::Flows`]) takes its
/// flows from `--flow`, `FLOW_FLOW`, `flow:` or `[deploy]`. `config` and `version` are not flow
/// commands: [`ConfigError::NotAFlow`].
pub fn settings_for(
    command: &Command,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Settings, ConfigError> {
    let args = flow_args(command).ok_or(match command {
        Command::Config(_) => ConfigError::NotAFlow("config"),
        _ => ConfigError::NotAFlow("version"),
    })?;
    let mut settings = load(&args, env, cwd)?;
    settings.reconcile = matches!(
        command,
        Command::Proxy {
            action: Some(_),
            ..
        }
    );
    Ok(settings)
}

/// The flow options of a command, with its own flow and its positional scale filled in.
pub fn flow_args(command: &Command) -> Option<FlowArgs> {
    let (name, args, scale) = match command {
        Command::Deploy(a) => (Some(FlowName::Deploy), a, None),
        Command::Scale { amount, flow } => (Some(FlowName::Scale), flow, amount.clone()),
        Command::Proxy { flow, .. } => (Some(FlowName::Proxy), flow, None),
        Command::StopOld(a) => (Some(FlowName::StopOld), a, None),
        Command::Rollback(a) => (Some(FlowName::Rollback), a, None),
        Command::Status(a) => (Some(FlowName::Status), a, None),
        Command::Flows(a) => (None, a, None),
        Command::Config(_) | Command::Version(_) => return None,
    };
    let mut args = args.clone();
    args.command = name.or(args.command);
    args.scale_arg = scale.or(args.scale_arg);
    Some(args)
}

/// Reads docker-flow.yml (see the module docs for which) and resolves `cli` over it and `env`.
pub fn load(
    cli: &FlowArgs,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Settings, ConfigError> {
    let file = read_file(cli, env, cwd)?;
    resolve(cli, env, file.as_ref())
}

fn read_file(
    cli: &FlowArgs,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Option<FileConfig>, ConfigError> {
    let layers = Layers { env, file: None };
    let named = layers.path(CONFIG, cli.flow_config.as_deref())?;
    let (path, origin) = match named {
        Some((p, origin)) => (p, Some(origin)),
        None => (PathBuf::from(DEFAULT_FILE), None),
    };
    let name = path.display().to_string();
    match std::fs::read_to_string(cwd.join(&path)) {
        Ok(text) => FileConfig::parse(&name, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && origin.is_none() => Ok(None),
        Err(e) => Err(ConfigError::Read {
            file: name,
            reason: match origin {
                Some(o) => format!("{e} (from {o})"),
                None => e.to_string(),
            },
        }),
    }
}

#[cfg(test)]
mod tests;
