//! Swarm mode: one compose service → one Swarm service spec, and the few service/task calls the
//! flows need (create, scale with the full spec, remove, tasks and their overlay addresses).
//!
//! The container part of the spec is the container-create request `create::container_config`
//! builds (so both paths read compose the same way), moved into a `ContainerSpec`; `deploy:` is
//! mapped here. A key the spec cannot carry is an error naming service and key, before anything
//! is created. Services run in endpoint mode `dnsrr` and publish nothing: the proxy routes to
//! the tasks' own addresses on the project's overlay networks (see docs/swarm.md).

use std::collections::HashMap;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit, NetworkAttachmentConfig,
    ResourceObject, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecDnsConfig, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use bollard::query_parameters::{
    InspectNetworkOptions, ListServicesOptionsBuilder, ListTasksOptionsBuilder,
    UpdateServiceOptions,
};
use bollard::Docker;
use docker_compose_types as dct;
use indexmap::IndexMap;

use super::create::{container_config, ContainerContext};
use super::duration::{parse_duration, parse_ram_bytes};
use super::{api_error, is_not_found, resources, EngineError};
use crate::compose::{Project, Service};

/// The label Swarm stacks use for their project; `docker stack ps <project>` lists our services.
pub const STACK_NAMESPACE: &str = "com.docker.stack.namespace";

/// The service's healthcheck as JSON. bollard reads `ContainerSpec.HealthCheck` but the engine
/// writes `Healthcheck`, so an inspected spec comes back without it: this label restores it
/// (else scaling with the inspected spec would drop the healthcheck).
pub const HEALTHCHECK_LABEL: &str = "com.docker.flow.healthcheck";

/// Puts the healthcheck the label keeps back into an inspected spec.
fn restore_healthcheck(spec: &mut ServiceSpec) {
    let Some(text) = spec.labels.as_ref().and_then(|l| l.get(HEALTHCHECK_LABEL)) else {
        return;
    };
    let Ok(hc) = serde_json::from_str::<HealthConfig>(text) else {
        return;
    };
    if let Some(c) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    {
        if c.health_check.is_none() {
            c.health_check = Some(hc);
        }
    }
}

/// Whether the engine is an active Swarm manager (services can be created there).
pub async fn is_manager(docker: &Docker) -> Result<bool, EngineError> {
    let info = docker
        .info()
        .await
        .map_err(|e| api_error("read the engine's info", e))?;
    let swarm = info.swarm.unwrap_or_default();
    Ok(
        swarm.local_node_state.map(|s| s.to_string()).as_deref() == Some("active")
            && swarm.control_available == Some(true),
    )
}

fn unsupported(service: &Service, key: &str, reason: &str) -> EngineError {
    EngineError::UnsupportedKey {
        service: service.name.clone(),
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

fn invalid(service: &Service, key: &str, reason: impl Into<String>) -> EngineError {
    EngineError::InvalidValue {
        service: service.name.clone(),
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// The smallest start period Swarm takes as set (0 reads as unset there).
const START_PERIOD_FLOOR: i64 = 1_000_000;

const NOT_ON_SWARM: &str = "cannot be carried by a Swarm service spec (docker flow runs Swarm services on a Swarm manager)";

/// The spec of Swarm service `name` running `service` with `replicas` tasks. `labels` (docker
/// flow's) go on the service and its containers.
pub fn service_spec(
    project: &Project,
    service: &Service,
    name: &str,
    labels: &IndexMap<String, String>,
    replicas: u32,
) -> Result<ServiceSpec, EngineError> {
    let spec = &service.spec;
    if spec.container_name.is_some() {
        return Err(unsupported(
            service,
            "container_name",
            "names one container; a Swarm service has one per task",
        ));
    }
    if spec.network_mode.is_some() {
        return Err(unsupported(
            service,
            "network_mode",
            "Swarm services attach to overlay networks",
        ));
    }
    let published = host_mode_ports(service)?;
    // The container part through the container path, without the keys mapped here.
    let mut plain = service.clone();
    plain.spec.deploy = None;
    plain.spec.restart = None;
    plain.spec.ports = dct::Ports::Long(Vec::new());
    plain.spec.networks = dct::Networks::Advanced(Default::default());
    // Swarm secrets/configs, not the container path's bind mounts (set below).
    plain.extras.secrets.clear();
    plain.extras.configs.clear();
    let ctx = ContainerContext {
        name: name.to_string(),
        extra_labels: labels.clone(),
        api_version: Some((1, 41)),
        ..Default::default()
    };
    let body = container_config(project, &plain, &ctx)?;
    let host = body.host_config.clone().unwrap_or_default();
    refuse_unmapped_host_config(service, &host)?;

    let mut container_labels: HashMap<String, String> = body.labels.clone().unwrap_or_default();
    container_labels.insert(STACK_NAMESPACE.into(), project.name.clone());
    let health = body.healthcheck.clone().map(|mut h| {
        // Swarm starts an unset start period at 30 s, in which failures do not count: an
        // unhealthy release would hold the deploy that long. Compose's default is 0.
        h.start_period.get_or_insert(START_PERIOD_FLOOR);
        h
    });
    let container = TaskSpecContainerSpec {
        image: body.image.clone(),
        labels: Some(container_labels),
        command: body.entrypoint.clone(),
        args: body.cmd.clone(),
        hostname: body.hostname.clone(),
        env: body.env.clone(),
        dir: body.working_dir.clone(),
        user: body.user.clone(),
        groups: host.group_add.clone(),
        tty: body.tty,
        open_stdin: body.open_stdin,
        read_only: host.readonly_rootfs,
        mounts: host.mounts.clone(),
        stop_signal: body.stop_signal.clone(),
        stop_grace_period: body.stop_timeout.map(|s| s * 1_000_000_000),
        health_check: health.clone(),
        hosts: host.extra_hosts.as_ref().map(|h| {
            // Compose writes `host:ip`, a Swarm spec `ip host`.
            h.iter()
                .map(|e| match e.split_once(':') {
                    Some((host, ip)) => format!("{ip} {host}"),
                    None => e.clone(),
                })
                .collect()
        }),
        dns_config: (host.dns.is_some() || host.dns_search.is_some() || host.dns_options.is_some())
            .then(|| TaskSpecContainerSpecDnsConfig {
                nameservers: host.dns.clone(),
                search: host.dns_search.clone(),
                options: host.dns_options.clone(),
            }),
        oom_score_adj: host.oom_score_adj,
        init: host.init,
        sysctls: host.sysctls.clone(),
        capability_add: host.cap_add.clone(),
        capability_drop: host.cap_drop.clone(),
        ulimits: host.ulimits.clone(),
        ..Default::default()
    };

    let mut limits = Limit {
        nano_cpus: host.nano_cpus,
        memory_bytes: host.memory,
        pids: host.pids_limit,
    };
    let mut reservations = ResourceObject {
        memory_bytes: host.memory_reservation,
        ..Default::default()
    };
    let mut task = TaskSpec {
        container_spec: Some(container),
        log_driver: host.log_config.as_ref().map(|l| TaskSpecLogDriver {
            name: l.typ.clone(),
            options: l.config.clone(),
        }),
        restart_policy: spec
            .restart
            .as_deref()
            .map(|r| restart_from_restart(service, r))
            .transpose()?,
        ..Default::default()
    };
    let mut service_labels: HashMap<String, String> =
        labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    service_labels.insert(STACK_NAMESPACE.into(), project.name.clone());
    if let Some(hc) = &health {
        service_labels.insert(
            HEALTHCHECK_LABEL.into(),
            serde_json::to_string(hc).unwrap_or_default(),
        );
    }
    let mut update_config = None;
    if let Some(d) = &spec.deploy {
        if let Some(m) = d.mode.as_deref().filter(|m| *m != "replicated") {
            return Err(unsupported(
                service,
                "deploy.mode",
                &format!("\"{m}\": docker flow runs replicated services (it scales them)"),
            ));
        }
        for l in &d.labels {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            service_labels.insert(k.to_string(), v.to_string());
        }
        if let Some(r) = &d.resources {
            if let Some(l) = &r.limits {
                cpus_memory(service, "deploy.resources.limits", l, |c, m| {
                    limits.nano_cpus = c.or(limits.nano_cpus);
                    limits.memory_bytes = m.or(limits.memory_bytes);
                })?;
                if l.devices.as_ref().is_some_and(|d| !d.is_empty()) {
                    return Err(unsupported(
                        service,
                        "deploy.resources.limits.devices",
                        NOT_ON_SWARM,
                    ));
                }
            }
            if let Some(rv) = &r.reservations {
                cpus_memory(service, "deploy.resources.reservations", rv, |c, m| {
                    reservations.nano_cpus = c;
                    reservations.memory_bytes = m.or(reservations.memory_bytes);
                })?;
                if rv.devices.as_ref().is_some_and(|d| !d.is_empty()) {
                    return Err(unsupported(
                        service,
                        "deploy.resources.reservations.devices",
                        NOT_ON_SWARM,
                    ));
                }
            }
        }
        if let Some(rp) = &d.restart_policy {
            task.restart_policy = Some(restart_policy(service, rp)?);
        }
        if let Some(p) = &d.placement {
            task.placement = Some(TaskSpecPlacement {
                constraints: (!p.constraints.is_empty()).then(|| p.constraints.clone()),
                preferences: (!p.preferences.is_empty()).then(|| {
                    p.preferences
                        .iter()
                        .map(|s| TaskSpecPlacementPreferences {
                            spread: Some(TaskSpecPlacementSpread {
                                spread_descriptor: Some(s.spread.clone()),
                            }),
                        })
                        .collect()
                }),
                ..Default::default()
            });
        }
        if let Some(u) = &d.update_config {
            update_config = Some(update(service, u)?);
        }
    }
    task.resources = Some(TaskSpecResources {
        limits: Some(limits),
        reservations: Some(reservations),
        ..Default::default()
    });
    task.networks = Some(networks(project, service)?);

    let mut out = ServiceSpec {
        name: Some(name.to_string()),
        labels: Some(service_labels),
        task_template: Some(task),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::from(replicas)),
            }),
            ..Default::default()
        }),
        update_config,
        // No VIP: this kernel has no IPVS, and the proxy routes to each task anyway.
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ports: (!published.is_empty()).then_some(published),
        }),
        ..Default::default()
    };
    // References by name only: `secrets::ensure_swarm_objects` creates the objects and sets
    // their IDs before the spec is sent.
    let objects = super::secrets::swarm_objects(project, service, None)?;
    super::secrets::set_refs(&mut out, service, &objects, &HashMap::new());
    Ok(out)
}

/// Ports published in host mode (`mode: host`): each task binds the port on its own node, a
/// random one when none is given. That is how a proxy on another engine reaches the tasks. Any
/// other published port is refused: the ingress routing mesh needs IPVS (and service VIPs), and
/// the proxy routes to each task anyway.
fn host_mode_ports(service: &Service) -> Result<Vec<EndpointPortConfig>, EngineError> {
    let dct::Ports::Long(ports) = &service.spec.ports else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in ports {
        if p.mode.as_deref() != Some("host") {
            if p.published.is_some() {
                return Err(unsupported(
                    service,
                    "ports",
                    &format!("publishes {:?} through the ingress routing mesh: on Swarm the proxy reaches the tasks on the overlay network (drop the host port, keep the container port), or publish in host mode (`mode: host`)", p.published),
                ));
            }
            continue;
        }
        if p.host_ip.is_some() {
            return Err(unsupported(
                service,
                "ports",
                "has a host_ip: a Swarm task publishes on every address of its node",
            ));
        }
        let published = match &p.published {
            None => None,
            Some(dct::PublishedPort::Single(n)) => Some(i64::from(*n)),
            Some(dct::PublishedPort::Range(r)) => Some(r.parse::<i64>().map_err(|_| {
                unsupported(
                    service,
                    "ports",
                    &format!("publishes the range {r:?} in host mode: one port per task"),
                )
            })?),
        };
        out.push(EndpointPortConfig {
            protocol: Some(match p.protocol.as_deref() {
                Some("udp") => EndpointPortConfigProtocolEnum::UDP,
                Some("sctp") => EndpointPortConfigProtocolEnum::SCTP,
                _ => EndpointPortConfigProtocolEnum::TCP,
            }),
            target_port: Some(i64::from(p.target)),
            published_port: published,
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        });
    }
    Ok(out)
}

/// HostConfig fields `container_config` may set that a Swarm container spec has no place for.
fn refuse_unmapped_host_config(
    service: &Service,
    host: &bollard::models::HostConfig,
) -> Result<(), EngineError> {
    const MAPPED: &[&str] = &[
        "Mounts",
        "CapAdd",
        "CapDrop",
        "NetworkMode",
        "Init",
        "ReadonlyRootfs",
        "Sysctls",
        "Dns",
        "DnsSearch",
        "DnsOptions",
        "ExtraHosts",
        "LogConfig",
        "GroupAdd",
        "OomScoreAdj",
        "Memory",
        "MemoryReservation",
        "NanoCpus",
        "PidsLimit",
        "Ulimits",
    ];
    // Compose's names for the engine's, for the error message.
    const COMPOSE_KEY: &[(&str, &str)] = &[
        ("Binds", "volumes (bind)"),
        ("Privileged", "privileged"),
        ("Devices", "devices"),
        ("PidMode", "pid"),
        ("IpcMode", "ipc"),
        ("UsernsMode", "userns_mode"),
        ("UTSMode", "uts"),
        ("ShmSize", "shm_size"),
        ("Tmpfs", "tmpfs"),
        ("SecurityOpt", "security_opt"),
        ("CgroupParent", "cgroup_parent"),
        ("Runtime", "runtime"),
        ("VolumesFrom", "volumes_from"),
        ("Links", "links"),
        ("CpuShares", "cpu_shares"),
        ("CpuQuota", "cpu_quota"),
        ("CpuPeriod", "cpu_period"),
        ("CpusetCpus", "cpuset"),
        ("MemorySwap", "memswap_limit"),
        ("MemorySwappiness", "mem_swappiness"),
        ("DeviceRequests", "deploy.resources.reservations.devices"),
        ("StorageOpt", "storage_opt"),
    ];
    let value = serde_json::to_value(host).unwrap_or_default();
    for (key, v) in value.as_object().into_iter().flatten() {
        let set = match v {
            serde_json::Value::Null => false,
            serde_json::Value::Array(a) => !a.is_empty(),
            serde_json::Value::Object(o) => !o.is_empty(),
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(s) => !s.is_empty(),
            serde_json::Value::Number(n) => n.as_i64() != Some(0),
        };
        if set && !MAPPED.contains(&key.as_str()) {
            let name = COMPOSE_KEY
                .iter()
                .find(|(k, _)| k == key)
                .map_or(key.as_str(), |(_, c)| c);
            return Err(unsupported(service, name, NOT_ON_SWARM));
        }
    }
    Ok(())
}

fn cpus_memory(
    service: &Service,
    key: &str,
    l: &dct::Limits,
    mut set: impl FnMut(Option<i64>, Option<i64>),
) -> Result<(), EngineError> {
    let cpus = l
        .cpus
        .as_deref()
        .map(|c| {
            c.trim()
                .parse::<f64>()
                .map(|c| (c * 1e9) as i64)
                .map_err(|_| {
                    invalid(
                        service,
                        &format!("{key}.cpus"),
                        format!("{c:?} is not a number"),
                    )
                })
        })
        .transpose()?;
    let memory = l
        .memory
        .as_deref()
        .map(|m| parse_ram_bytes(m).map_err(|e| invalid(service, &format!("{key}.memory"), e)))
        .transpose()?;
    set(cpus.filter(|&c| c != 0), memory.filter(|&m| m != 0));
    Ok(())
}

fn condition(
    service: &Service,
    key: &str,
    v: &str,
) -> Result<TaskSpecRestartPolicyConditionEnum, EngineError> {
    Ok(match v {
        "" | "any" | "always" | "unless-stopped" => TaskSpecRestartPolicyConditionEnum::ANY,
        "none" | "no" => TaskSpecRestartPolicyConditionEnum::NONE,
        "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
        other => {
            return Err(invalid(
                service,
                key,
                format!("unknown restart condition \"{other}\""),
            ))
        }
    })
}

fn restart_from_restart(service: &Service, r: &str) -> Result<TaskSpecRestartPolicy, EngineError> {
    let (name, count) = match r.split_once(':') {
        Some((n, c)) => (n, c.trim().parse::<i64>().ok()),
        None => (r, None),
    };
    Ok(TaskSpecRestartPolicy {
        condition: Some(condition(service, "restart", name)?),
        max_attempts: count,
        ..Default::default()
    })
}

fn restart_policy(
    service: &Service,
    rp: &dct::RestartPolicy,
) -> Result<TaskSpecRestartPolicy, EngineError> {
    let dur = |k: &str, v: &Option<String>| {
        v.as_deref()
            .map(|d| {
                parse_duration(d)
                    .map_err(|e| invalid(service, &format!("deploy.restart_policy.{k}"), e))
            })
            .transpose()
    };
    Ok(TaskSpecRestartPolicy {
        condition: Some(condition(
            service,
            "deploy.restart_policy.condition",
            rp.condition.as_deref().unwrap_or(""),
        )?),
        delay: dur("delay", &rp.delay)?,
        max_attempts: rp.max_attempts,
        window: dur("window", &rp.window)?,
    })
}

fn update(
    service: &Service,
    u: &dct::UpdateConfig,
) -> Result<ServiceSpecUpdateConfig, EngineError> {
    let dur = |k: &str, v: &Option<String>| {
        v.as_deref()
            .map(|d| {
                parse_duration(d)
                    .map_err(|e| invalid(service, &format!("deploy.update_config.{k}"), e))
            })
            .transpose()
    };
    let failure_action = match u.failure_action.as_deref() {
        None => None,
        Some("pause") => Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
        Some("continue") => Some(ServiceSpecUpdateConfigFailureActionEnum::CONTINUE),
        Some("rollback") => Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
        Some(other) => {
            return Err(invalid(
                service,
                "deploy.update_config.failure_action",
                format!("unknown action \"{other}\" (pause, continue, rollback)"),
            ))
        }
    };
    Ok(ServiceSpecUpdateConfig {
        parallelism: u.parallelism,
        delay: dur("delay", &u.delay)?,
        failure_action,
        monitor: dur("monitor", &u.monitor)?,
        max_failure_ratio: u.max_failure_ratio,
        order: None,
    })
}

/// The service's networks as overlay attachments, aliased by the service name (as Compose does).
fn networks(
    project: &Project,
    service: &Service,
) -> Result<Vec<NetworkAttachmentConfig>, EngineError> {
    let advanced = match &service.spec.networks {
        dct::Networks::Advanced(a) => Some(a),
        dct::Networks::Simple(_) => None,
    };
    resources::service_network_keys(service)
        .into_iter()
        .map(|key| {
            let net = project.networks.get(&key).ok_or_else(|| {
                invalid(
                    service,
                    "networks",
                    format!("network \"{key}\" is not declared in the top-level networks"),
                )
            })?;
            let mut aliases = vec![service.name.clone()];
            if let Some(dct::MapOrEmpty::Map(s)) = advanced.and_then(|a| a.0.get(&key)) {
                if s.ipv4_address.is_some() || s.ipv6_address.is_some() {
                    return Err(unsupported(
                        service,
                        &format!("networks.{key}.ipv4_address"),
                        "a service has one address per task, given by Swarm",
                    ));
                }
                aliases.extend(s.aliases.iter().cloned());
            }
            Ok(NetworkAttachmentConfig {
                target: Some(net.name.clone()),
                aliases: Some(aliases),
                driver_opts: None,
            })
        })
        .collect()
}

/// Makes sure the service's networks exist as attachable overlays (created with Compose's names
/// and labels; a project network that exists with another driver is an error).
pub async fn ensure_overlay_networks(
    docker: &Docker,
    project: &Project,
    service: &Service,
) -> Result<(), EngineError> {
    for key in resources::service_network_keys(service) {
        let Some(net) = project.networks.get(&key) else {
            continue;
        };
        let mut overlay = net.clone();
        if !overlay.external {
            match overlay.driver.as_deref() {
                None | Some("overlay") | Some("bridge") => overlay.driver = Some("overlay".into()),
                Some(other) => {
                    return Err(invalid(
                        service,
                        &format!("networks.{key}.driver"),
                        format!("\"{other}\": a Swarm service needs an overlay network"),
                    ))
                }
            }
            overlay.attachable = true;
        }
        resources::ensure_network(docker, &project.name, &key, &overlay).await?;
        let found = inspect_settled(docker, &overlay.name).await?;
        if found.driver.as_deref() != Some("overlay") || found.attachable != Some(true) {
            return Err(EngineError::Resource(format!(
                "network {} exists but is not an attachable overlay network (driver {}): remove it (`docker network rm {}`) so docker flow can create it for Swarm",
                overlay.name,
                found.driver.unwrap_or_default(),
                overlay.name
            )));
        }
    }
    Ok(())
}

/// The network as the engine has it. Right after its creation a manager answers an inspect
/// with an entry that has no driver yet (seen on 20.10): asked again until it has one (5 s).
async fn inspect_settled(
    docker: &Docker,
    name: &str,
) -> Result<bollard::models::NetworkInspect, EngineError> {
    let start = std::time::Instant::now();
    loop {
        let found = docker
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await
            .map_err(|e| api_error(format!("inspect network {name}"), e))?;
        if found.driver.as_deref().is_some_and(|d| !d.is_empty())
            || start.elapsed() > std::time::Duration::from_secs(5)
        {
            return Ok(found);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A Swarm service docker flow manages, with what the flows read.
#[derive(Debug, Clone)]
pub struct SwarmService {
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
    pub replicas: u32,
    pub image: String,
    pub healthcheck: Option<HealthConfig>,
}

/// The services carrying `label=value`.
pub async fn services_labelled(
    docker: &Docker,
    label: &str,
    value: &str,
) -> Result<Vec<SwarmService>, EngineError> {
    let filters = HashMap::from([("label", vec![format!("{label}={value}")])]);
    let list = docker
        .list_services(Some(
            ListServicesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api_error(format!("list the Swarm services of {value}"), e))?;
    Ok(list
        .into_iter()
        .map(|s| {
            let mut spec = s.spec.unwrap_or_default();
            restore_healthcheck(&mut spec);
            let container = spec
                .task_template
                .and_then(|t| t.container_spec)
                .unwrap_or_default();
            SwarmService {
                id: s.id.unwrap_or_default(),
                name: spec.name.unwrap_or_default(),
                labels: spec.labels.unwrap_or_default(),
                replicas: spec
                    .mode
                    .and_then(|m| m.replicated)
                    .and_then(|r| r.replicas)
                    .map_or(0, |r| u32::try_from(r).unwrap_or(0)),
                image: container.image.unwrap_or_default(),
                healthcheck: container.health_check,
            }
        })
        .collect())
}

pub async fn create_service(docker: &Docker, spec: ServiceSpec) -> Result<(), EngineError> {
    let name = spec.name.clone().unwrap_or_default();
    docker
        .create_service(spec, None)
        .await
        .map_err(|e| api_error(format!("create service {name}"), e))?;
    Ok(())
}

/// Creates the service, or updates an existing one to `spec` (full spec, current version index).
pub async fn create_or_update(docker: &Docker, spec: ServiceSpec) -> Result<(), EngineError> {
    let name = spec.name.clone().unwrap_or_default();
    match docker.inspect_service(&name, None).await {
        Err(e) if is_not_found(&e) => create_service(docker, spec).await,
        Err(e) => Err(api_error(format!("inspect service {name}"), e)),
        Ok(current) => {
            let version = current.version.and_then(|v| v.index).unwrap_or_default();
            let options = UpdateServiceOptions {
                version: i32::try_from(version).unwrap_or(i32::MAX),
                ..Default::default()
            };
            docker
                .update_service(&name, spec, options, None)
                .await
                .map_err(|e| api_error(format!("update service {name}"), e))?;
            Ok(())
        }
    }
}

/// Sets the replicas of service `name`: the full current spec goes back with its version index
/// (a partial spec would reset every other field).
pub async fn scale_service(docker: &Docker, name: &str, replicas: u32) -> Result<(), EngineError> {
    let current = docker
        .inspect_service(name, None)
        .await
        .map_err(|e| api_error(format!("inspect service {name}"), e))?;
    let version = current.version.and_then(|v| v.index).unwrap_or_default();
    let mut spec = current.spec.unwrap_or_default();
    restore_healthcheck(&mut spec);
    spec.mode = Some(ServiceSpecMode {
        replicated: Some(ServiceSpecModeReplicated {
            replicas: Some(i64::from(replicas)),
        }),
        ..Default::default()
    });
    let options = UpdateServiceOptions {
        version: i32::try_from(version).unwrap_or(i32::MAX),
        ..Default::default()
    };
    docker
        .update_service(name, spec, options, None)
        .await
        .map_err(|e| api_error(format!("scale service {name} to {replicas}"), e))?;
    Ok(())
}

/// Removes service `name`; a missing one is fine.
pub async fn remove_service(docker: &Docker, name: &str) -> Result<(), EngineError> {
    match docker.delete_service(name).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(api_error(format!("remove service {name}"), e)),
    }
}

/// One task of a service, as the flows see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTask {
    pub id: String,
    pub slot: u32,
    /// `new` … `running`, `failed`, `rejected`, `shutdown` (Swarm's task states).
    pub state: String,
    pub desired: String,
    /// Why it failed or was rejected, when it did.
    pub error: String,
    pub image: String,
    /// The ID of the node it is assigned to (empty until scheduled).
    pub node: String,
    /// Ports published in host mode on its node: (container port, node port).
    pub ports: Vec<(u16, u16)>,
}

impl SwarmTask {
    /// The task's name on its networks and of its container: `<service>.<slot>.<task id>`.
    pub fn name(&self, service: &str) -> String {
        format!("{service}.{}.{}", self.slot, self.id)
    }
}

/// The tasks of service `id`, every state (old ones too: failed tasks explain a failed deploy).
pub async fn tasks(docker: &Docker, service_id: &str) -> Result<Vec<SwarmTask>, EngineError> {
    let filters = HashMap::from([("service", vec![service_id.to_string()])]);
    let list = docker
        .list_tasks(Some(
            ListTasksOptionsBuilder::default().filters(&filters).build(),
        ))
        .await
        .map_err(|e| api_error(format!("list the tasks of service {service_id}"), e))?;
    Ok(list
        .into_iter()
        .map(|t| {
            let status = t.status.unwrap_or_default();
            let ports = status
                .port_status
                .as_ref()
                .and_then(|p| p.ports.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let target = u16::try_from(p.target_port?).ok()?;
                    let published = u16::try_from(p.published_port?).ok()?;
                    Some((target, published))
                })
                .collect();
            SwarmTask {
                ports,
                id: t.id.unwrap_or_default(),
                slot: t.slot.map_or(0, |s| u32::try_from(s).unwrap_or(0)),
                state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                desired: t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
                error: status.err.or(status.message).unwrap_or_default(),
                node: t.node_id.unwrap_or_default(),
                image: t
                    .spec
                    .and_then(|s| s.container_spec)
                    .and_then(|c| c.image)
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// Node ID → (hostname, address), as `docker node ls` knows them.
pub async fn nodes(docker: &Docker) -> Result<HashMap<String, (String, String)>, EngineError> {
    let nodes = docker
        .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
        .await
        .map_err(|e| api_error("list the Swarm's nodes", e))?;
    Ok(nodes
        .into_iter()
        .filter_map(|n| {
            let id = n.id?;
            let host = n.description.and_then(|d| d.hostname).unwrap_or_default();
            let addr = n.status.and_then(|s| s.addr).unwrap_or_default();
            Some((id, (host, addr)))
        })
        .collect())
}

/// Node ID → `<hostname> (<address>)`: where each task runs, as status shows it.
pub async fn node_names(docker: &Docker) -> Result<HashMap<String, String>, EngineError> {
    Ok(nodes(docker)
        .await?
        .into_iter()
        .map(|(id, (host, addr))| (id, format!("{host} ({addr})")))
        .collect())
}

/// Task name → IP address on overlay network `network`, from the network's service records
/// (`docker network inspect -v`): what the proxy on that network reaches, on any node.
pub async fn task_addresses(
    docker: &Docker,
    network: &str,
) -> Result<HashMap<String, String>, EngineError> {
    let found = docker
        .inspect_network(
            network,
            Some(InspectNetworkOptions {
                verbose: true,
                scope: Some("swarm".into()),
            }),
        )
        .await
        .map_err(|e| api_error(format!("inspect network {network}"), e))?;
    let mut out = HashMap::new();
    for svc in found.services.unwrap_or_default().into_values() {
        for task in svc
            .get("Tasks")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            let name = task.get("Name").and_then(|v| v.as_str());
            let ip = task.get("EndpointIP").and_then(|v| v.as_str());
            if let (Some(name), Some(ip)) = (name, ip.filter(|ip| !ip.is_empty())) {
                out.insert(name.to_string(), ip.to_string());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
