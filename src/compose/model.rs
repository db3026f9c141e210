//! The loaded project: what the rest of docker flow reads. Everything here is already merged,
//! interpolated, filtered by profiles and normalised, so consumers handle one form per key.
//!
//! Canonical forms inside `Service::spec` (a docker-compose-types `Service`):
//! - `ports`: always `Ports::Long`, one entry per container port (ranges expanded), `protocol`
//!   set (`tcp` default), `host_ip` as written (None = all addresses), `published` None = random.
//! - `environment`: always `Environment::KvPair`, `env_file` contents merged under it (the file is
//!   lower precedence), values `Some(SingleValue::String)`; a bare `FOO` takes the value from the
//!   interpolation environment, or stays `None` when unset (as Compose keeps it: the engine
//!   gets the bare name `FOO`); `env_file` emptied.
//! - `labels`: always `Labels::Map`. `sysctls`: always `SysCtls::Map`.
//! - `volumes`: always `Volumes::Advanced`: `type` is `bind`, `volume` or `tmpfs`; bind sources
//!   are absolute paths; volume sources are the key in `Project::volumes` (None = anonymous).
//! - `networks`: always `Networks::Advanced`; the implicit `default` network is added when a
//!   service names none and has no `network_mode`. Keys are keys of `Project::networks`.
//! - `command` / `entrypoint`: always the list forms (`Command::Args`, `Entrypoint::List`); a
//!   string is split like a shell would (shell-words), as Compose does.
//! - `healthcheck.test`: always `HealthcheckTest::Multiple` (a string becomes `CMD-SHELL`).
//! - `depends_on`: always `DependsOnOptions::Conditional` (`service_started` default), only on
//!   services that are active.
//! - `extra_hosts`: `host:ip` strings. `tmpfs`: `Tmpfs::List`. `build.context`: absolute.
//! - `image`: set; a service with `build:` and no image gets `<project>-<service>`.
//! - `extends`, `env_file`: resolved and emptied. `profiles`: kept as written (already applied).
//! - `secrets` / `configs`: moved into `ServiceExtras` as long-form [`FileRef`]s (the typed
//!   `spec.secrets` stays None), each `source` a key of `Project::secrets` / `configs`.
//!
//! Keys docker-compose-types does not know are in `ServiceExtras`; a key docker flow cannot honour
//! is a load error naming file, service and key, never silently dropped.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A compose project after loading.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    /// Normalised project name (`-p`, `COMPOSE_PROJECT_NAME`, `name:`, directory).
    pub name: String,
    /// Absolute project directory (relative paths in the files resolve against it).
    pub working_dir: PathBuf,
    /// Absolute paths of the compose files, in load order (for the Compose labels).
    pub config_files: Vec<PathBuf>,
    /// Absolute paths of `--env-file`s given (for the Compose label), empty when none.
    pub env_files: Vec<PathBuf>,
    /// Active services (profiles applied), in file order.
    pub services: IndexMap<String, Service>,
    /// Networks by key, with their engine names resolved (`<project>_<key>` unless `name:`/external).
    pub networks: IndexMap<String, Network>,
    /// Named volumes by key, with their engine names resolved likewise.
    pub volumes: IndexMap<String, Volume>,
    /// Top-level secrets some active service uses, by key (see [`FileObject`]).
    pub secrets: IndexMap<String, FileObject>,
    /// Top-level configs some active service uses, by key.
    pub configs: IndexMap<String, FileObject>,
}

/// One service, in canonical form (see the module docs). Deserialize: a release keeps the
/// service it was started from (a label on its containers), so scaling it later replicates it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub spec: docker_compose_types::Service,
    pub extras: ServiceExtras,
    /// The file that defines the service (the last one that changed it), for error messages.
    pub file: PathBuf,
}

/// Service keys of the Compose spec that docker-compose-types does not type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceExtras {
    pub platform: Option<String>,
    /// `cpus: 1.5` -> NanoCpus.
    pub cpus: Option<f64>,
    pub cpu_shares: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpuset: Option<String>,
    pub pids_limit: Option<i64>,
    pub oom_score_adj: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    /// Bytes.
    pub memswap_limit: Option<i64>,
    pub mac_address: Option<String>,
    pub dns_search: Vec<String>,
    pub storage_opt: IndexMap<String, String>,
    pub device_cgroup_rules: Vec<String>,
    pub uts: Option<String>,
    pub cgroup: Option<String>,
    pub annotations: IndexMap<String, String>,
    /// `secrets:` of the service, long form. Defaulted and skipped when empty, so the service
    /// label of a release started before they existed still reads, and stays byte-identical.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    /// `configs:` of the service, long form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    /// Compose keys docker flow loads and passes on as written, nested as in the file:
    /// `attach`, `gpus`, `isolation`, `credential_spec`, `external_links`, `build.ssh`...,
    /// `deploy.update_config.order`, `networks.<n>.mac_address`..., and `ports[i].name` /
    /// `app_protocol` (a list holds one object per port, by index). `config` prints them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub passed: serde_json::Map<String, serde_json::Value>,
}

/// A service's use of a top-level secret or config (`source` is its key there). `target`, `uid`,
/// `gid`, `mode` are as written (defaults are the runtime's: they differ between a Swarm service
/// and a plain container).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// The absolute path of the top-level object's `file:`, resolved by the loader: kept in the
    /// service so a release scaled later mounts what it was started with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// A top-level secret or config, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileObject {
    /// The engine's name: `name:`, else the key for an external one, else `<project>_<key>`.
    pub name: String,
    pub source: FileSource,
    pub labels: IndexMap<String, String>,
}

/// Where a secret's or config's content comes from. `Debug` hides an `environment:` value (a
/// failed assertion or a debug print of a project must not show it).
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSource {
    /// `file:`, absolute (checked to exist when loaded).
    File(PathBuf),
    /// `environment:` names the variable; its value (read when loaded) is never printed.
    Environment {
        variable: String,
        #[serde(skip)]
        value: String,
    },
    /// `content:` (configs only), interpolated.
    Content(String),
    /// `external: true`: must exist on the engine.
    External,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileSource::File(p) => f.debug_tuple("File").field(p).finish(),
            FileSource::Environment { variable, .. } => f
                .debug_struct("Environment")
                .field("variable", variable)
                .field("value", &"<hidden>")
                .finish(),
            FileSource::Content(c) => f.debug_tuple("Content").field(c).finish(),
            FileSource::External => f.write_str("External"),
        }
    }
}

impl FileObject {
    pub fn is_external(&self) -> bool {
        self.source == FileSource::External
    }

    /// The content to store in a Swarm object (None for an external one).
    pub fn content(&self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(match &self.source {
            FileSource::File(p) => Some(std::fs::read(p)?),
            FileSource::Environment { value, .. } => Some(value.clone().into_bytes()),
            FileSource::Content(c) => Some(c.clone().into_bytes()),
            FileSource::External => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    /// The engine's name for it.
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub attachable: bool,
    pub internal: bool,
    pub enable_ipv6: bool,
    pub labels: IndexMap<String, String>,
    /// IPAM driver and configs (subnet, gateway), as written.
    pub ipam: Option<docker_compose_types::Ipam>,
    /// `ipam.config[i].ip_range`, by index of `ipam.config` (docker-compose-types has no field).
    #[serde(skip)]
    pub ip_ranges: Vec<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Volume {
    /// The engine's name for it.
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub labels: IndexMap<String, String>,
}
