//! One service of a loaded project → one engine container-create request, as Compose v2.26.1
//! builds it (pkg/compose/create.go: getCreateConfigs, buildContainerVolumes, getDeployResources,
//! defaultNetworkSettings). Pure: no engine calls; what needs the engine (image ID, links,
//! `service:` references, inherited volumes, API version) comes in through [`ContainerContext`].
//!
//! Every key of the canonical model is either turned into a field of the request or refused with
//! an [`EngineError`] naming the service and key: nothing is dropped silently.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, DeviceRequest, EndpointIpamConfig, EndpointSettings,
    HealthConfig, HostConfig, HostConfigCgroupnsModeEnum, HostConfigLogConfig, Mount,
    MountBindOptions, MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType,
    MountVolumeOptions, NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy,
    RestartPolicyNameEnum,
};
use docker_compose_types as dct;
use indexmap::IndexMap;

use super::duration::{parse_duration, parse_ram_bytes};
use super::labels;
use super::EngineError;
use crate::compose::{Project, Service, ServiceExtras};

/// What a container's create request needs beyond the service itself.
#[derive(Debug, Clone, Default)]
pub struct ContainerContext {
    /// Container name (`<project>-<service>-<n>` or `container_name`).
    pub name: String,
    /// `com.docker.compose.container-number`.
    pub number: u32,
    /// Extra labels, e.g. `com.docker.flow.*`; they win over the service's own.
    pub extra_labels: IndexMap<String, String>,
    /// `com.docker.compose.config-hash` (see `labels::config_hash`).
    pub config_hash: String,
    /// The resolved image ID (`sha256:…`), written to `com.docker.compose.image`.
    pub image_id: Option<String>,
    /// The engine's API version (major, minor); `None` means "recent" (≥ 1.44). It decides where
    /// networks and MAC addresses go and which keys the engine can take at all.
    pub api_version: Option<(usize, usize)>,
    /// `links:` resolved to `container:alias` pairs (see `service::up_service`).
    pub links: Vec<String>,
    /// Anonymous volumes carried over from the container this one replaces.
    pub inherited_mounts: Vec<Mount>,
}

impl ContainerContext {
    pub fn new(name: impl Into<String>, number: u32, config_hash: impl Into<String>) -> Self {
        ContainerContext {
            name: name.into(),
            number,
            config_hash: config_hash.into(),
            ..Default::default()
        }
    }

    fn api_at_least(&self, major: usize, minor: usize) -> bool {
        self.api_version.is_none_or(|v| v >= (major, minor))
    }

    fn api_text(&self) -> String {
        self.api_version
            .map(|(a, b)| format!("{a}.{b}"))
            .unwrap_or_default()
    }
}

fn unsupported(service: &Service, key: &str, reason: impl Into<String>) -> EngineError {
    EngineError::UnsupportedKey {
        service: service.name.clone(),
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn invalid(service: &Service, key: &str, reason: impl Into<String>) -> EngineError {
    EngineError::InvalidValue {
        service: service.name.clone(),
        key: key.to_string(),
        reason: reason.into(),
    }
}

const SWARM_ONLY: &str =
    "is only meaningful on Swarm (docker flow runs containers, not Swarm services)";

fn none_if_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn map_if_any(m: HashMap<String, String>) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then_some(m)
}

/// The container-create request for one container of `service`.
pub fn container_config(
    project: &Project,
    service: &Service,
    ctx: &ContainerContext,
) -> Result<ContainerCreateBody, EngineError> {
    // Exhaustive on purpose: every key of the model is considered here.
    let dct::Service {
        hostname,
        domainname,
        privileged,
        read_only,
        healthcheck,
        deploy,
        image,
        container_name: _, // in ctx.name
        build_: _,         // engine::image
        pid,
        ports,
        environment,
        network_mode,
        devices,
        restart,
        labels: _, // labels::container_labels
        tmpfs,
        ulimits,
        volumes,
        networks,
        cap_add,
        cap_drop,
        depends_on: _, // service::up_service and the depends_on label
        command,
        entrypoint,
        env_file,
        stop_grace_period,
        profiles: _, // applied by the loader
        links: _,    // resolved into ctx.links by up_service
        dns,
        dns_opt,
        ipc,
        net,
        stop_signal,
        user,
        userns_mode,
        working_dir,
        expose,
        volumes_from,
        extends,
        logging,
        scale: _, // service::up_service
        init,
        stdin_open,
        shm_size,
        extensions: _, // x-* keys are for tools, never for the engine
        extra_hosts,
        group_add,
        tty,
        sysctls,
        security_opt,
        secrets,
        pull_policy: _, // engine::image
        cgroup_parent,
        mem_limit,
        mem_reservation,
        mem_swappiness,
        runtime,
    } = &service.spec;
    let ServiceExtras {
        platform: _, // create options (service::up_service)
        cpus,
        cpu_shares,
        cpu_quota,
        cpu_period,
        cpuset,
        pids_limit,
        oom_score_adj,
        oom_kill_disable,
        memswap_limit,
        mac_address,
        dns_search,
        storage_opt,
        device_cgroup_rules,
        uts,
        cgroup,
        annotations,
        secrets: _, // mounts below (engine::secrets)
        configs: _,
        passed,
    } = &service.extras;

    // Keys the loader resolves; seeing them here means the model is not canonical.
    if env_file.as_ref().is_some_and(|e| match e {
        dct::StringOrList::Simple(s) => !s.is_empty(),
        dct::StringOrList::List(l) => !l.is_empty(),
    }) {
        return Err(unsupported(
            service,
            "env_file",
            "must be merged into environment by the loader",
        ));
    }
    if !extends.is_empty() {
        return Err(unsupported(
            service,
            "extends",
            "must be resolved by the loader",
        ));
    }
    if net.is_some() {
        return Err(unsupported(
            service,
            "net",
            "is Compose file format v1; use network_mode",
        ));
    }
    if secrets.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(unsupported(
            service,
            "secrets",
            "must be moved into the service's extras by the loader",
        ));
    }

    let image = image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| invalid(service, "image", "no image (and no build) for the service"))?;

    // --- container config
    let env = match environment {
        dct::Environment::KvPair(map) => map
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect(),
        dct::Environment::List(list) => list.clone(),
    };
    let command = command.as_ref().map(|c| match c {
        dct::Command::Args(a) => a.clone(),
        dct::Command::Simple(s) => shell_words::split(s).unwrap_or_else(|_| vec![s.clone()]),
    });
    let entrypoint = entrypoint.as_ref().map(|e| match e {
        dct::Entrypoint::List(a) => a.clone(),
        dct::Entrypoint::Simple(s) => shell_words::split(s).unwrap_or_else(|_| vec![s.clone()]),
    });
    let healthcheck = healthcheck
        .as_ref()
        .map(|h| health_config(service, h, ctx))
        .transpose()?;
    let stop_timeout = stop_grace_period
        .as_deref()
        .map(|d| {
            parse_duration(d)
                .map(|ns| ns / 1_000_000_000)
                .map_err(|e| invalid(service, "stop_grace_period", e))
        })
        .transpose()?;

    let (exposed, port_bindings) = port_config(service, ports, expose)?;

    let label_map = labels::container_labels(
        project,
        service,
        ctx.number,
        &ctx.config_hash,
        ctx.image_id.as_deref(),
        &ctx.extra_labels,
    );

    // --- mounts
    let (binds, mut mounts) = volume_config(project, service, volumes, ctx)?;
    // Their targets are checked against the volumes' (a clash is refused, never dropped).
    mounts.extend(super::secrets::plain_mounts(project, service)?);
    let tmpfs = match tmpfs {
        None => HashMap::new(),
        Some(dct::Tmpfs::Simple(s)) => tmpfs_map(std::slice::from_ref(s)),
        Some(dct::Tmpfs::List(l)) => tmpfs_map(l),
    };

    for (key, value) in [("pid", pid), ("ipc", ipc), ("network_mode", network_mode)] {
        if value.as_deref().is_some_and(|v| v.starts_with("service:")) {
            return Err(invalid(
                service,
                key,
                "a `service:` reference must be resolved to a container first (up_service does)",
            ));
        }
    }
    // --- networking
    let (network_mode, networking_config) =
        network_config(project, service, network_mode, networks, ctx)?;

    // --- resources
    let mut memory = mem_limit
        .as_deref()
        .map(|v| parse_ram_bytes(v).map_err(|e| invalid(service, "mem_limit", e)))
        .transpose()?;
    let mut memory_reservation = mem_reservation
        .as_deref()
        .map(|v| parse_ram_bytes(v).map_err(|e| invalid(service, "mem_reservation", e)))
        .transpose()?;
    let mut nano_cpus = cpus.map(|c| (c * 1e9) as i64).filter(|&n| n != 0);
    let mut device_requests = Vec::new();
    let mut restart_policy = restart
        .as_deref()
        .map(|r| restart_from_service(service, r))
        .transpose()?;
    if let Some(d) = deploy {
        let dct::Deploy {
            mode,
            replicas: _, // scale
            labels,
            update_config,
            resources,
            restart_policy: deploy_restart,
            placement,
        } = d;
        if let Some(m) = mode.as_deref().filter(|m| *m != "replicated") {
            return Err(unsupported(
                service,
                "deploy.mode",
                format!("\"{m}\" {SWARM_ONLY}"),
            ));
        }
        if !labels.is_empty() {
            return Err(unsupported(service, "deploy.labels", SWARM_ONLY));
        }
        if update_config.is_some() {
            return Err(unsupported(service, "deploy.update_config", SWARM_ONLY));
        }
        if placement.is_some() {
            return Err(unsupported(service, "deploy.placement", SWARM_ONLY));
        }
        if let Some(rp) = deploy_restart {
            if rp.delay.is_some() {
                return Err(unsupported(
                    service,
                    "deploy.restart_policy.delay",
                    SWARM_ONLY,
                ));
            }
            if rp.window.is_some() {
                return Err(unsupported(
                    service,
                    "deploy.restart_policy.window",
                    SWARM_ONLY,
                ));
            }
            let name = restart_name(
                service,
                "deploy.restart_policy.condition",
                rp.condition.as_deref().unwrap_or(""),
            )?;
            restart_policy = Some(RestartPolicy {
                name: Some(name),
                maximum_retry_count: Some(rp.max_attempts.unwrap_or(0)),
            });
        }
        if let Some(r) = resources {
            if let Some(l) = &r.limits {
                if let Some(m) = &l.memory {
                    let b = parse_ram_bytes(m)
                        .map_err(|e| invalid(service, "deploy.resources.limits.memory", e))?;
                    if b != 0 {
                        memory = Some(b);
                    }
                }
                if let Some(c) = &l.cpus {
                    let c: f64 = c.trim().parse().map_err(|_| {
                        invalid(
                            service,
                            "deploy.resources.limits.cpus",
                            format!("{c:?} is not a number"),
                        )
                    })?;
                    if c != 0.0 {
                        nano_cpus = Some((c * 1e9) as i64);
                    }
                }
                if l.devices.as_ref().is_some_and(|d| !d.is_empty()) {
                    return Err(unsupported(
                        service,
                        "deploy.resources.limits.devices",
                        "is not a Compose key for containers; use deploy.resources.reservations.devices",
                    ));
                }
            }
            if let Some(rv) = &r.reservations {
                if rv.cpus.is_some() {
                    return Err(unsupported(
                        service,
                        "deploy.resources.reservations.cpus",
                        SWARM_ONLY,
                    ));
                }
                if let Some(m) = &rv.memory {
                    let b = parse_ram_bytes(m)
                        .map_err(|e| invalid(service, "deploy.resources.reservations.memory", e))?;
                    if b != 0 {
                        memory_reservation = Some(b);
                    }
                }
                for d in rv.devices.iter().flatten() {
                    if d.options.as_ref().is_some_and(|o| !o.is_empty()) {
                        return Err(unsupported(
                            service,
                            "deploy.resources.reservations.devices.options",
                            "is not passed to the engine by Compose either",
                        ));
                    }
                    device_requests.push(DeviceRequest {
                        driver: d.driver.clone(),
                        count: Some(match &d.count {
                            Some(dct::DeviceCount::All) => -1,
                            Some(dct::DeviceCount::Count(n)) => *n as i64,
                            None => 0,
                        }),
                        device_ids: d.device_ids.clone(),
                        capabilities: Some(vec![d.capabilities.clone().unwrap_or_default()]),
                        options: None,
                    });
                }
            }
        }
    }

    device_requests.extend(gpu_requests(passed.get("gpus")));
    // `external_links` (containers outside the project) go to the engine as written, as Compose
    // sends them: `name:alias`, or `name:name`.
    let mut links = ctx.links.clone();
    for l in passed
        .get("external_links")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
    {
        links.push(match l.split_once(':') {
            Some(_) => l.to_string(),
            None => format!("{l}:{l}"),
        });
    }

    let devices = devices
        .iter()
        .map(|d| {
            let parts: Vec<&str> = d.split(':').collect();
            let (src, dst, perm) = match parts.as_slice() {
                [s] => (*s, *s, "rwm"),
                [s, d] => (*s, *d, "rwm"),
                [s, d, p] => (*s, *d, *p),
                _ => {
                    return Err(invalid(
                        service,
                        "devices",
                        format!("{d:?} is not src[:dst[:perms]]"),
                    ))
                }
            };
            Ok(DeviceMapping {
                path_on_host: Some(src.into()),
                path_in_container: Some(if dst.is_empty() { src } else { dst }.into()),
                cgroup_permissions: Some(perm.into()),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let ulimits = ulimits
        .0
        .iter()
        .map(|(name, u)| {
            let num = |v: &dct::StringOrUnsigned| -> Result<i64, EngineError> {
                match v {
                    dct::StringOrUnsigned::Unsigned(n) => Ok(*n),
                    dct::StringOrUnsigned::String(s) => s.trim().parse().map_err(|_| {
                        invalid(
                            service,
                            &format!("ulimits.{name}"),
                            format!("{s:?} is not a number"),
                        )
                    }),
                }
            };
            let (soft, hard) = match u {
                dct::Ulimit::Single(v) => (num(v)?, num(v)?),
                dct::Ulimit::SoftHard { soft, hard } => (num(soft)?, num(hard)?),
            };
            Ok(ResourcesUlimits {
                name: Some(name.clone()),
                soft: Some(soft),
                hard: Some(hard),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let sysctls: HashMap<String, String> = match sysctls {
        dct::SysCtls::Map(m) => m
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
        dct::SysCtls::List(l) => l
            .iter()
            .map(|s| {
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
    };

    let log_config = logging.as_ref().map(|l| HostConfigLogConfig {
        typ: l.driver.clone(),
        config: l
            .options
            .as_ref()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()),
    });

    let (security_opt, unconfined) = security_opts(project, service, security_opt)?;

    let shm_size = shm_size
        .as_deref()
        .map(|v| parse_ram_bytes(v).map_err(|e| invalid(service, "shm_size", e)))
        .transpose()?;
    let memory_swap = *memswap_limit;

    if let Some(u) = uts.as_deref().filter(|u| u.starts_with("service:")) {
        return Err(unsupported(
            service,
            "uts",
            format!("\"{u}\": sharing another service's UTS namespace is not supported"),
        ));
    }
    let volumes_from = volumes_from
        .iter()
        .map(|v| {
            if let Some(c) = v.strip_prefix("container:") {
                Ok(c.to_string())
            } else {
                Err(invalid(service, "volumes_from", format!("\"{v}\": a service reference must be resolved to a container first (up_service does)")))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;

    let cgroupns_mode = match cgroup.as_deref() {
        None | Some("") => None,
        Some("host") => Some(HostConfigCgroupnsModeEnum::HOST),
        Some("private") => Some(HostConfigCgroupnsModeEnum::PRIVATE),
        Some(other) => {
            return Err(invalid(
                service,
                "cgroup",
                format!("\"{other}\" is neither host nor private"),
            ))
        }
    };
    if !annotations.is_empty() && !ctx.api_at_least(1, 43) {
        return Err(unsupported(
            service,
            "annotations",
            format!(
                "needs Docker Engine API 1.43 or later (this engine speaks {})",
                ctx.api_text()
            ),
        ));
    }
    if mac_address.is_some() && !ctx.api_at_least(1, 44) {
        return Err(unsupported(
            service,
            "mac_address",
            format!(
                "needs Docker Engine API 1.44 or later with docker flow (this engine speaks {})",
                ctx.api_text()
            ),
        ));
    }

    let host_config = HostConfig {
        binds: none_if_empty(binds),
        mounts: none_if_empty(mounts),
        annotations: (!annotations.is_empty()).then(|| {
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        cap_add: none_if_empty(cap_add.clone()),
        cap_drop: none_if_empty(cap_drop.clone()),
        network_mode: Some(network_mode),
        init: init.then_some(true),
        ipc_mode: ipc.clone(),
        cgroupns_mode,
        readonly_rootfs: read_only.then_some(true),
        restart_policy,
        shm_size,
        sysctls: map_if_any(sysctls),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        volumes_from: none_if_empty(volumes_from),
        dns: none_if_empty(dns.clone()),
        dns_search: none_if_empty(dns_search.clone()),
        dns_options: none_if_empty(dns_opt.clone()),
        extra_hosts: none_if_empty(extra_hosts.clone()),
        security_opt: none_if_empty(security_opt),
        masked_paths: unconfined.then(Vec::new),
        readonly_paths: unconfined.then(Vec::new),
        storage_opt: (!storage_opt.is_empty()).then(|| {
            storage_opt
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        userns_mode: userns_mode.clone(),
        uts_mode: uts.clone(),
        privileged: privileged.then_some(true),
        pid_mode: pid.clone(),
        tmpfs: map_if_any(tmpfs),
        runtime: runtime.clone(),
        log_config,
        group_add: none_if_empty(
            group_add
                .iter()
                .map(|g| match g {
                    dct::Group::Named(n) => n.clone(),
                    dct::Group::Gid(g) => g.to_string(),
                })
                .collect(),
        ),
        links: none_if_empty(links),
        oom_score_adj: *oom_score_adj,
        // Resources
        cgroup_parent: cgroup_parent.clone(),
        memory,
        memory_swap,
        memory_swappiness: mem_swappiness.map(i64::from),
        memory_reservation,
        oom_kill_disable: *oom_kill_disable,
        cpu_period: *cpu_period,
        cpu_quota: *cpu_quota,
        cpu_shares: *cpu_shares,
        nano_cpus,
        cpuset_cpus: cpuset.clone(),
        device_cgroup_rules: none_if_empty(device_cgroup_rules.clone()),
        pids_limit: pids_limit.filter(|&p| p != 0),
        devices: none_if_empty(devices),
        device_requests: none_if_empty(device_requests),
        ulimits: none_if_empty(ulimits),
        ..Default::default()
    };

    Ok(ContainerCreateBody {
        hostname: hostname.clone(),
        domainname: domainname.clone(),
        user: user.clone(),
        exposed_ports: none_if_empty(exposed),
        tty: tty.then_some(true),
        open_stdin: stdin_open.then_some(true),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: command,
        image: Some(image),
        working_dir: working_dir.clone(),
        entrypoint,
        labels: Some(label_map.into_iter().collect()),
        stop_signal: stop_signal.clone(),
        env: none_if_empty(env),
        healthcheck,
        stop_timeout,
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    })
}

/// Networks to connect after creating the container: on engines older than API 1.44 the create
/// request takes one network only (Compose connects the others before starting, in the same
/// order). Empty on newer engines or with `network_mode`.
pub fn extra_network_endpoints(
    project: &Project,
    service: &Service,
    ctx: &ContainerContext,
) -> Result<Vec<(String, EndpointSettings)>, EngineError> {
    if service.spec.network_mode.is_some() || project.networks.is_empty() || ctx.api_at_least(1, 44)
    {
        return Ok(Vec::new());
    }
    let keys = network_keys(&service.spec.networks);
    keys.iter()
        .skip(1)
        .map(|key| {
            let name = engine_network_name(project, service, key)?;
            Ok((
                name,
                endpoint(service, key, &service.spec.networks, ctx, false),
            ))
        })
        .collect()
}

fn health_config(
    service: &Service,
    h: &dct::Healthcheck,
    ctx: &ContainerContext,
) -> Result<HealthConfig, EngineError> {
    let dur = |key: &str, v: &Option<String>| -> Result<Option<i64>, EngineError> {
        v.as_deref()
            .map(|d| {
                parse_duration(d).map_err(|e| invalid(service, &format!("healthcheck.{key}"), e))
            })
            .transpose()
    };
    let test = if h.disable {
        Some(vec!["NONE".to_string()])
    } else {
        h.test.as_ref().map(|t| match t {
            dct::HealthcheckTest::Multiple(v) => v.clone(),
            dct::HealthcheckTest::Single(s) => vec!["CMD-SHELL".into(), s.clone()],
        })
    };
    let start_interval = dur("start_interval", &h.start_interval)?;
    if start_interval.is_some() && !ctx.api_at_least(1, 44) {
        return Err(unsupported(
            service,
            "healthcheck.start_interval",
            format!(
                "needs Docker Engine API 1.44 or later (this engine speaks {})",
                ctx.api_text()
            ),
        ));
    }
    Ok(HealthConfig {
        test,
        interval: dur("interval", &h.interval)?,
        timeout: dur("timeout", &h.timeout)?,
        retries: (h.retries != 0).then_some(h.retries),
        start_period: dur("start_period", &h.start_period)?,
        start_interval,
    })
}

fn restart_name(
    service: &Service,
    key: &str,
    v: &str,
) -> Result<RestartPolicyNameEnum, EngineError> {
    Ok(match v {
        "" => RestartPolicyNameEnum::EMPTY,
        "no" | "none" => RestartPolicyNameEnum::NO,
        "always" | "any" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        other => {
            return Err(invalid(
                service,
                key,
                format!("unknown restart policy \"{other}\""),
            ))
        }
    })
}

fn restart_from_service(service: &Service, r: &str) -> Result<RestartPolicy, EngineError> {
    let (name, count) = match r.split_once(':') {
        Some((n, c)) => (n, c.trim().parse::<i64>().unwrap_or(0)),
        None => (r, 0),
    };
    Ok(RestartPolicy {
        name: Some(restart_name(service, "restart", name)?),
        maximum_retry_count: Some(count),
    })
}

type PortMap = HashMap<String, Option<Vec<PortBinding>>>;

fn port_config(
    service: &Service,
    ports: &dct::Ports,
    expose: &[String],
) -> Result<(Vec<String>, PortMap), EngineError> {
    let mut exposed: Vec<String> = Vec::new();
    let mut add = |p: String| {
        if !exposed.contains(&p) {
            exposed.push(p);
        }
    };
    // As Compose: `expose` entries go to the engine as written (`9090`, `9090/udp`).
    for e in expose {
        add(e.clone());
    }
    let mut bindings: PortMap = HashMap::new();
    let long = match ports {
        dct::Ports::Long(l) => l,
        dct::Ports::Short(s) if s.is_empty() => return Ok((exposed, bindings)),
        dct::Ports::Short(_) => {
            return Err(invalid(
                service,
                "ports",
                "short syntax must be normalised to the long form by the loader",
            ))
        }
    };
    for p in long {
        if let Some(m) = p
            .mode
            .as_deref()
            .filter(|m| *m != "host" && *m != "ingress")
        {
            return Err(invalid(
                service,
                "ports.mode",
                format!("unknown mode \"{m}\""),
            ));
        }
        let key = format!("{}/{}", p.target, p.protocol.as_deref().unwrap_or("tcp"));
        add(key.clone());
        let host_port = match &p.published {
            None => String::new(),
            Some(dct::PublishedPort::Single(n)) => n.to_string(),
            Some(dct::PublishedPort::Range(r)) => r.clone(),
        };
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.clone().unwrap_or_default()),
                host_port: Some(host_port),
            });
    }
    Ok((exposed, bindings))
}

fn tmpfs_map(list: &[String]) -> HashMap<String, String> {
    list.iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect()
}

/// `path.Clean` for container paths.
pub(crate) fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn volume_config(
    project: &Project,
    service: &Service,
    volumes: &[dct::Volumes],
    ctx: &ContainerContext,
) -> Result<(Vec<String>, Vec<Mount>), EngineError> {
    let mut binds: Vec<String> = Vec::new();
    let mut mounts: Vec<Mount> = Vec::new();
    let put = |mounts: &mut Vec<Mount>, m: Mount| {
        mounts.retain(|x| x.target != m.target);
        mounts.push(m);
    };
    for v in volumes {
        let v = match v {
            dct::Volumes::Advanced(a) => a,
            dct::Volumes::Simple(s) => {
                return Err(invalid(
                    service,
                    "volumes",
                    format!(
                        "\"{s}\": short syntax must be normalised to the long form by the loader"
                    ),
                ))
            }
        };
        let target = clean_path(&v.target);
        let ro = v.read_only.then_some(true);
        let bind_string = |source: &str| {
            let mut opts = vec![if v.read_only { "ro" } else { "rw" }.to_string()];
            if let Some(b) = &v.bind {
                opts.extend(b.selinux.clone().filter(|s| !s.is_empty()));
                opts.extend(b.propagation.clone().filter(|s| !s.is_empty()));
            }
            if v.volume.as_ref().is_some_and(|vo| vo.nocopy == Some(true)) {
                opts.push("nocopy".into());
            }
            format!("{source}:{}:{}", v.target, opts.join(","))
        };
        match v._type.as_str() {
            "bind" => {
                let source = v
                    .source
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        invalid(
                            service,
                            "volumes",
                            format!("bind mount at {} has no source", v.target),
                        )
                    })?;
                if v.volume.is_some() || v.tmpfs.is_some() {
                    return Err(invalid(
                        service,
                        "volumes",
                        format!("bind mount at {} has volume or tmpfs options", v.target),
                    ));
                }
                let bind = v.bind.clone().unwrap_or_default();
                // Compose sends short-syntax binds (create_host_path) as Binds, so that a missing
                // host directory is created; SELinux relabelling exists only there too.
                if bind.create_host_path == Some(true) || bind.selinux.is_some() {
                    binds.retain(|b| b.split(':').nth(1).is_none_or(|t| clean_path(t) != target));
                    mounts.retain(|m| m.target.as_deref() != Some(&target));
                    binds.push(bind_string(source));
                    continue;
                }
                let propagation = bind
                    .propagation
                    .as_deref()
                    .map(|p| {
                        Ok(match p {
                            "" => MountBindOptionsPropagationEnum::EMPTY,
                            "private" => MountBindOptionsPropagationEnum::PRIVATE,
                            "rprivate" => MountBindOptionsPropagationEnum::RPRIVATE,
                            "shared" => MountBindOptionsPropagationEnum::SHARED,
                            "rshared" => MountBindOptionsPropagationEnum::RSHARED,
                            "slave" => MountBindOptionsPropagationEnum::SLAVE,
                            "rslave" => MountBindOptionsPropagationEnum::RSLAVE,
                            other => {
                                return Err(invalid(
                                    service,
                                    "volumes.bind.propagation",
                                    format!("unknown propagation \"{other}\""),
                                ))
                            }
                        })
                    })
                    .transpose()?
                    .filter(|p| *p != MountBindOptionsPropagationEnum::EMPTY);
                put(
                    &mut mounts,
                    Mount {
                        typ: Some(MountType::BIND),
                        source: Some(source.to_string()),
                        target: Some(target),
                        read_only: ro,
                        bind_options: v.bind.as_ref().map(|_| MountBindOptions {
                            propagation,
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                );
            }
            "volume" => {
                if v.bind.is_some() || v.tmpfs.is_some() {
                    return Err(invalid(
                        service,
                        "volumes",
                        format!("volume mount at {} has bind or tmpfs options", v.target),
                    ));
                }
                let source = match v.source.as_deref().filter(|s| !s.is_empty()) {
                    None => {
                        if let Some(m) = ctx
                            .inherited_mounts
                            .iter()
                            .find(|m| m.target.as_deref() == Some(&target))
                        {
                            put(&mut mounts, m.clone());
                            continue;
                        }
                        None
                    }
                    Some(key) => {
                        let vol = project.volumes.get(key).ok_or_else(|| {
                            invalid(
                                service,
                                "volumes",
                                format!(
                                    "volume \"{key}\" is not declared in the top-level volumes"
                                ),
                            )
                        })?;
                        if vol.driver_opts.get("o").is_some_and(|o| o == "bind") {
                            // As Compose: a named volume backed by a bind goes through Binds.
                            binds.push(bind_string(&vol.name));
                            continue;
                        }
                        Some(vol.name.clone())
                    }
                };
                let volume_options = match &v.volume {
                    None => None,
                    Some(vo) => {
                        if vo.subpath.is_some() && !ctx.api_at_least(1, 45) {
                            return Err(unsupported(
                                service,
                                "volumes.volume.subpath",
                                format!(
                                    "needs Docker Engine API 1.45 or later (this engine speaks {})",
                                    ctx.api_text()
                                ),
                            ));
                        }
                        Some(MountVolumeOptions {
                            no_copy: vo.nocopy.filter(|n| *n),
                            subpath: vo.subpath.clone(),
                            ..Default::default()
                        })
                    }
                };
                put(
                    &mut mounts,
                    Mount {
                        typ: Some(MountType::VOLUME),
                        source,
                        target: Some(target),
                        read_only: ro,
                        volume_options,
                        ..Default::default()
                    },
                );
            }
            "tmpfs" => {
                if v.bind.is_some() || v.volume.is_some() {
                    return Err(invalid(
                        service,
                        "volumes",
                        format!("tmpfs mount at {} has bind or volume options", v.target),
                    ));
                }
                put(
                    &mut mounts,
                    Mount {
                        typ: Some(MountType::TMPFS),
                        target: Some(target),
                        read_only: ro,
                        tmpfs_options: v.tmpfs.as_ref().map(|t| MountTmpfsOptions {
                            size_bytes: (t.size != 0).then_some(t.size as i64),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                );
            }
            other => {
                return Err(unsupported(
                    service,
                    "volumes.type",
                    format!("\"{other}\" is not supported (bind, volume and tmpfs are)"),
                ))
            }
        }
    }
    // Image-declared volumes of the replaced container (not named in the spec) are kept too.
    for m in &ctx.inherited_mounts {
        if !mounts.iter().any(|x| x.target == m.target)
            && !binds
                .iter()
                .any(|b| b.split(':').nth(1).map(clean_path).as_deref() == m.target.as_deref())
        {
            mounts.push(m.clone());
        }
    }
    Ok((binds, mounts))
}

fn security_opts(
    project: &Project,
    service: &Service,
    opts: &[String],
) -> Result<(Vec<String>, bool), EngineError> {
    let mut unconfined = false;
    let mut parsed = Vec::new();
    for opt in opts {
        if opt == "systempaths=unconfined" {
            unconfined = true;
            continue;
        }
        let (k, v) = match opt.split_once('=') {
            Some(kv) => kv,
            None if opt == "no-new-privileges" => (opt.as_str(), ""),
            None => opt.split_once(':').ok_or_else(|| {
                invalid(
                    service,
                    "security_opt",
                    format!("invalid security-opt {opt:?}"),
                )
            })?,
        };
        if k == "seccomp" && v != "unconfined" {
            let path = project.working_dir.join(Path::new(v));
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    service,
                    "security_opt",
                    format!("opening seccomp profile ({}) failed: {e}", path.display()),
                )
            })?;
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                invalid(
                    service,
                    "security_opt",
                    format!("seccomp profile ({}) is not JSON: {e}", path.display()),
                )
            })?;
            parsed.push(format!("seccomp={json}"));
        } else {
            parsed.push(opt.clone());
        }
    }
    Ok((parsed, unconfined))
}

/// The service's network keys in Compose's priority order (no `priority` in the model, so by
/// name, as compose-go's `NetworksByPriority` does for equal priorities).
fn network_keys(networks: &dct::Networks) -> Vec<String> {
    let mut keys: Vec<String> = match networks {
        dct::Networks::Simple(l) => l.clone(),
        dct::Networks::Advanced(a) => a.0.keys().cloned().collect(),
    };
    keys.sort();
    keys
}

fn engine_network_name(
    project: &Project,
    service: &Service,
    key: &str,
) -> Result<String, EngineError> {
    project
        .networks
        .get(key)
        .map(|n| n.name.clone())
        .ok_or_else(|| {
            invalid(
                service,
                "networks",
                format!("network \"{key}\" is not declared in the top-level networks"),
            )
        })
}

fn endpoint(
    service: &Service,
    key: &str,
    networks: &dct::Networks,
    ctx: &ContainerContext,
    primary: bool,
) -> EndpointSettings {
    let cfg: Option<dct::AdvancedNetworkSettings> = match networks {
        dct::Networks::Advanced(a) => a.0.get(key).cloned().and_then(Option::from),
        dct::Networks::Simple(_) => None,
    };
    let mut aliases = vec![ctx.name.clone(), service.name.clone()];
    if let Some(c) = &cfg {
        aliases.extend(c.aliases.iter().cloned());
    }
    let mac = (primary && ctx.api_at_least(1, 44))
        .then(|| service.extras.mac_address.clone())
        .flatten();
    EndpointSettings {
        aliases: Some(aliases),
        links: none_if_empty(ctx.links.clone()),
        ip_address: cfg.as_ref().and_then(|c| c.ipv4_address.clone()),
        ipam_config: cfg.as_ref().map(|c| EndpointIpamConfig {
            ipv4_address: c.ipv4_address.clone(),
            ipv6_address: c.ipv6_address.clone(),
            ..Default::default()
        }),
        mac_address: mac,
        ..Default::default()
    }
}

fn network_config(
    project: &Project,
    service: &Service,
    network_mode: &Option<String>,
    networks: &dct::Networks,
    ctx: &ContainerContext,
) -> Result<(String, Option<NetworkingConfig>), EngineError> {
    if let Some(mode) = network_mode {
        if !networks.is_empty() {
            return Err(invalid(
                service,
                "network_mode",
                "cannot be combined with networks",
            ));
        }
        return Ok((mode.clone(), None));
    }
    if project.networks.is_empty() {
        return Ok(("none".into(), None));
    }
    let mut keys = network_keys(networks);
    if keys.is_empty() {
        keys.push("default".into());
    }
    let primary = engine_network_name(project, service, &keys[0])?;
    let mut endpoints = HashMap::new();
    endpoints.insert(
        primary.clone(),
        endpoint(service, &keys[0], networks, ctx, true),
    );
    for key in keys.iter().skip(1) {
        let name = engine_network_name(project, service, key)?;
        if ctx.api_at_least(1, 44) {
            endpoints.insert(name, endpoint(service, key, networks, ctx, false));
        }
    }
    Ok((
        primary,
        Some(NetworkingConfig {
            endpoints_config: Some(endpoints),
        }),
    ))
}

#[cfg(test)]
mod tests;

/// `gpus: all` or a list of `{driver, count, device_ids, capabilities, options}`, as Compose
/// turns it into device requests (capability `gpu`).
fn gpu_requests(gpus: Option<&serde_json::Value>) -> Vec<DeviceRequest> {
    let gpu = || Some(vec![vec!["gpu".to_string()]]);
    match gpus {
        Some(serde_json::Value::String(s)) if s == "all" => vec![DeviceRequest {
            count: Some(-1),
            capabilities: gpu(),
            ..Default::default()
        }],
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|g| {
                let strings = |k: &str| {
                    g.get(k).and_then(|v| v.as_array()).map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect::<Vec<_>>()
                    })
                };
                let count = match g.get("count") {
                    Some(serde_json::Value::String(s)) if s == "all" => Some(-1),
                    Some(n) => n.as_i64(),
                    None if g.get("device_ids").is_none() => Some(-1),
                    None => None,
                };
                let mut caps = strings("capabilities").unwrap_or_default();
                if !caps.iter().any(|c| c == "gpu") {
                    caps.push("gpu".to_string());
                }
                DeviceRequest {
                    driver: g.get("driver").and_then(|v| v.as_str()).map(str::to_string),
                    count,
                    device_ids: strings("device_ids"),
                    capabilities: Some(vec![caps]),
                    options: g.get("options").and_then(|o| {
                        o.as_object().map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect()
                        })
                    }),
                }
            })
            .collect(),
        _ => vec![],
    }
}
