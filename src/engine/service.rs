//! Bringing one Compose service up on the engine the way `docker compose up -d <service>` does
//! (pkg/compose/convergence.go of Compose v2.26.1): its dependencies first, in `depends_on`
//! order and honouring their conditions, then its containers — created, kept, started or
//! recreated by config hash — and `down_project` to remove a project again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum, HealthConfig,
    HealthStatusEnum, Mount, MountType, NetworkConnectRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder,
};
use bollard::Docker;
use docker_compose_types as dct;
use indexmap::IndexMap;

use super::create::{container_config, extra_network_endpoints, ContainerContext};
use super::image::ensure_image;
use super::labels::{self, config_hash};
use super::resources::{ensure_networks, ensure_volumes};
use super::{api_error, is_not_found, EngineError};
use crate::compose::{Project, Service};

/// How to bring a service up.
#[derive(Clone)]
pub struct UpOptions {
    /// Containers of the service; `None` = `scale:` / `deploy.replicas` / 1.
    pub scale: Option<u32>,
    /// Labels added to the service's containers (not its dependencies'), e.g. `com.docker.flow.*`.
    /// A container whose values differ is recreated.
    pub extra_labels: IndexMap<String, String>,
    /// Do not start the dependencies (`up --no-deps`): their conditions are not waited for.
    pub no_deps: bool,
    /// Deadline for `service_completed_successfully` dependencies (Compose waits forever).
    pub completion_timeout: Duration,
    /// Progress lines (pulls, builds, containers created/started/recreated).
    pub on_event: Option<EventSink>,
}

/// Receives progress lines.
pub type EventSink = Arc<dyn Fn(&str) + Send + Sync>;

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            scale: None,
            extra_labels: IndexMap::new(),
            no_deps: false,
            completion_timeout: Duration::from_secs(300),
            on_event: None,
        }
    }
}

impl std::fmt::Debug for UpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpOptions")
            .field("scale", &self.scale)
            .field("extra_labels", &self.extra_labels)
            .field("no_deps", &self.no_deps)
            .field("completion_timeout", &self.completion_timeout)
            .finish_non_exhaustive()
    }
}

impl UpOptions {
    fn event(&self, text: &str) {
        if let Some(f) = &self.on_event {
            f(text);
        }
    }
}

fn dependencies(service: &Service) -> Vec<(String, dct::DependsCondition)> {
    labels::dependencies(service)
}

/// The service and what it depends on, dependencies first. A cycle is an error.
fn start_order(project: &Project, target: &str) -> Result<Vec<String>, EngineError> {
    fn visit(
        project: &Project,
        name: &str,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        if out.iter().any(|n| n == name) {
            return Ok(());
        }
        if let Some(at) = stack.iter().position(|n| n == name) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(name.to_string());
            return Err(EngineError::Resource(format!(
                "dependency cycle: {}",
                cycle.join(" -> ")
            )));
        }
        let Some(service) = project.services.get(name) else {
            return Ok(()); // reported by the caller that needs it
        };
        stack.push(name.to_string());
        for (dep, cond) in dependencies(service) {
            if project.services.contains_key(&dep) {
                visit(project, &dep, stack, out)?;
            } else if cond.required.unwrap_or(true) {
                return Err(EngineError::Dependency {
                    service: name.into(),
                    dependency: dep,
                    reason: "no such service in the project (inactive profile?)".into(),
                });
            }
        }
        stack.pop();
        out.push(name.to_string());
        Ok(())
    }
    let mut out = Vec::new();
    visit(project, target, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn api_version(docker: &Docker) -> (usize, usize) {
    let v = docker.client_version();
    (v.major_version, v.minor_version)
}

fn default_scale(service: &Service) -> u32 {
    if let Some(r) = service.spec.deploy.as_ref().and_then(|d| d.replicas) {
        return r.max(0) as u32;
    }
    if service.spec.scale > 0 {
        return service.spec.scale as u32;
    }
    1
}

/// Checks, before anything is created, that every key of the service can be honoured.
fn validate(project: &Project, service: &Service, api: (usize, usize)) -> Result<(), EngineError> {
    let mut s = service.clone();
    let placeholder = |v: &mut Option<String>| {
        if v.as_deref().is_some_and(|m| m.starts_with("service:")) {
            *v = Some("container:placeholder".into());
        }
    };
    placeholder(&mut s.spec.network_mode);
    placeholder(&mut s.spec.ipc);
    placeholder(&mut s.spec.pid);
    for v in &mut s.spec.volumes_from {
        if !v.starts_with("container:") {
            *v = "container:placeholder".into();
        }
    }
    let ctx = ContainerContext {
        api_version: Some(api),
        ..ContainerContext::new("placeholder", 1, "")
    };
    container_config(project, &s, &ctx)?;
    extra_network_endpoints(project, &s, &ctx)?;
    if service.spec.container_name.is_some() && default_scale(service) > 1 {
        return Err(EngineError::InvalidValue {
            service: service.name.clone(),
            key: "container_name".into(),
            reason: "a fixed container name allows one container only, but scale is above 1".into(),
        });
    }
    Ok(())
}

/// Brings `service` up: networks, volumes, image, dependencies (first, honouring their
/// `depends_on` conditions), then `scale` containers, and returns their IDs in number order.
/// Idempotent: a container with the current config hash is kept (started if stopped), one with
/// another hash, image or extra label is recreated, surplus ones are removed.
pub async fn up_service(
    docker: &Docker,
    project: &Project,
    service: &str,
    opts: &UpOptions,
) -> Result<Vec<String>, EngineError> {
    let target = project.services.get(service).ok_or_else(|| {
        EngineError::Resource(format!(
            "no service \"{service}\" in project \"{}\"",
            project.name
        ))
    })?;
    let api = api_version(docker);
    let order = if opts.no_deps {
        vec![service.to_string()]
    } else {
        start_order(project, service)?
    };
    // Refuse what cannot be honoured before touching the engine.
    for name in &order {
        validate(project, &project.services[name], api)?;
    }
    if opts.scale.is_some_and(|s| s > 1) && target.spec.container_name.is_some() {
        return Err(EngineError::InvalidValue {
            service: service.into(),
            key: "container_name".into(),
            reason: "a fixed container name allows one container only".into(),
        });
    }
    let no_labels = IndexMap::new();
    let mut result = Vec::new();
    for name in &order {
        let svc = &project.services[name];
        ensure_networks(docker, project, svc).await?;
        ensure_volumes(docker, project, svc).await?;
        let on_event = |s: &str| opts.event(s);
        let image_id = ensure_image(docker, project, svc, &on_event).await?;
        if !opts.no_deps {
            wait_dependencies(docker, project, svc, opts).await?;
        }
        let is_target = name == service;
        let scale = match (is_target, opts.scale) {
            (true, Some(s)) => s,
            _ => default_scale(svc),
        };
        let extra = if is_target {
            &opts.extra_labels
        } else {
            &no_labels
        };
        let ids = converge(docker, project, svc, scale, extra, &image_id, api, opts).await?;
        if is_target {
            result = ids;
        }
    }
    Ok(result)
}

async fn project_containers(
    docker: &Docker,
    project: &str,
    service: Option<&str>,
) -> Result<Vec<ContainerSummary>, EngineError> {
    let mut label = vec![format!("{}={project}", labels::PROJECT)];
    if let Some(s) = service {
        label.push(format!("{}={s}", labels::SERVICE));
        label.push(format!("{}=False", labels::ONEOFF));
    }
    let filters = HashMap::from([("label".to_string(), label)]);
    let mut list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api_error(format!("list the containers of project {project}"), e))?;
    list.sort_by_key(number_of);
    Ok(list)
}

fn number_of(c: &ContainerSummary) -> u32 {
    c.labels
        .as_ref()
        .and_then(|l| l.get(labels::CONTAINER_NUMBER))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn label_of<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a str> {
    c.labels.as_ref()?.get(key).map(String::as_str)
}

/// Replaces `service:` references (network_mode, ipc, pid, volumes_from) by the first container
/// of that service, as Compose does before hashing and creating; resolves `links`.
async fn resolve_references(
    docker: &Docker,
    project: &Project,
    service: &Service,
) -> Result<(Service, Vec<String>), EngineError> {
    let mut s = service.clone();
    // Keep the dependencies the references imply (for the depends_on label) before they go.
    s.spec.depends_on =
        dct::DependsOnOptions::Conditional(dependencies(service).into_iter().collect());
    let mut cache: HashMap<String, Vec<ContainerSummary>> = HashMap::new();
    async fn containers_of<'a>(
        docker: &Docker,
        project: &Project,
        cache: &'a mut HashMap<String, Vec<ContainerSummary>>,
        name: &str,
    ) -> Result<&'a Vec<ContainerSummary>, EngineError> {
        if !cache.contains_key(name) {
            let list = project_containers(docker, &project.name, Some(name)).await?;
            cache.insert(name.to_string(), list);
        }
        Ok(&cache[name])
    }
    for (key, field) in [
        ("network_mode", &mut s.spec.network_mode),
        ("ipc", &mut s.spec.ipc),
        ("pid", &mut s.spec.pid),
    ] {
        if let Some(other) = field.as_deref().and_then(|v| v.strip_prefix("service:")) {
            let other = other.to_string();
            let list = containers_of(docker, project, &mut cache, &other).await?;
            let id =
                list.first()
                    .and_then(|c| c.id.clone())
                    .ok_or_else(|| EngineError::Dependency {
                        service: service.name.clone(),
                        dependency: other.clone(),
                        reason: format!("{key}: service:{other} has no container to share with"),
                    })?;
            *field = Some(format!("container:{id}"));
        }
    }
    let mut volumes_from = Vec::new();
    for v in &s.spec.volumes_from {
        if v.starts_with("container:") {
            volumes_from.push(v.clone());
            continue;
        }
        let (other, mode) = match v.split_once(':') {
            Some((o, m)) => (o.to_string(), Some(m.to_string())),
            None => (v.clone(), None),
        };
        let list = containers_of(docker, project, &mut cache, &other).await?;
        let id =
            list.first()
                .and_then(|c| c.id.clone())
                .ok_or_else(|| EngineError::Dependency {
                    service: service.name.clone(),
                    dependency: other.clone(),
                    reason: "volumes_from: the service has no container to share volumes with"
                        .into(),
                })?;
        volumes_from.push(match mode {
            Some(m) => format!("container:{id}:{m}"),
            None => format!("container:{id}"),
        });
    }
    s.spec.volumes_from = volumes_from;
    let mut links = Vec::new();
    for link in &service.spec.links {
        let (other, alias) = link.split_once(':').unwrap_or((link, link));
        let list = containers_of(docker, project, &mut cache, other).await?;
        for c in list {
            let cname = canonical_name(c);
            let n = number_of(c);
            links.push(format!("{cname}:{alias}"));
            links.push(format!("{cname}:{other}-{n}"));
            links.push(format!("{cname}:{}-{other}-{n}", project.name));
        }
    }
    Ok((s, links))
}

fn canonical_name(c: &ContainerSummary) -> String {
    c.names
        .iter()
        .flatten()
        .map(|n| n.trim_start_matches('/'))
        .find(|n| !n.contains('/'))
        .unwrap_or_default()
        .to_string()
}

fn container_name(project: &Project, service: &Service, number: u32) -> String {
    service
        .spec
        .container_name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-{number}", project.name, service.name))
}

#[allow(clippy::too_many_arguments)]
async fn converge(
    docker: &Docker,
    project: &Project,
    service: &Service,
    scale: u32,
    extra: &IndexMap<String, String>,
    image_id: &str,
    api: (usize, usize),
    opts: &UpOptions,
) -> Result<Vec<String>, EngineError> {
    let (resolved, links) = resolve_references(docker, project, service).await?;
    let hash = config_hash(&resolved);
    let existing = project_containers(docker, &project.name, Some(&service.name)).await?;
    let obsolete = |c: &ContainerSummary| {
        label_of(c, labels::CONFIG_HASH) != Some(hash.as_str())
            || label_of(c, labels::IMAGE) != Some(image_id)
            || extra
                .iter()
                .any(|(k, v)| label_of(c, k) != Some(v.as_str()))
    };
    let mut sorted: Vec<&ContainerSummary> = existing.iter().collect();
    sorted.sort_by_key(|c| (!obsolete(c), number_of(c)));
    let base_ctx = |number: u32| ContainerContext {
        name: container_name(project, service, number),
        number,
        extra_labels: extra.clone(),
        config_hash: hash.clone(),
        image_id: Some(image_id.to_string()),
        api_version: Some(api),
        links: links.clone(),
        inherited_mounts: Vec::new(),
    };

    let mut keep = Vec::new();
    let mut work = Vec::new();
    for (i, c) in sorted.iter().enumerate() {
        let id = c.id.clone().unwrap_or_default();
        if i as u32 >= scale {
            opts.event(&format!("removing surplus container {}", canonical_name(c)));
            stop_and_remove(docker, &id, false).await?;
            continue;
        }
        let number = number_of(c);
        if obsolete(c) {
            let ctx = base_ctx(number);
            let resolved = &resolved;
            let image = image_id;
            work.push(Box::pin(async move {
                recreate(docker, project, resolved, &id, image, ctx, opts).await
            })
                as std::pin::Pin<
                    Box<dyn std::future::Future<Output = _> + Send + '_>,
                >);
        } else {
            if !matches!(c.state, Some(ContainerSummaryStateEnum::RUNNING)) {
                opts.event(&format!("starting {}", canonical_name(c)));
                start(docker, &id).await?;
            }
            keep.push((number, id));
        }
    }
    let next = existing.iter().map(number_of).max().unwrap_or(0) + 1;
    let missing = scale.saturating_sub(sorted.len().min(scale as usize) as u32);
    for k in 0..missing {
        let ctx = base_ctx(next + k);
        let resolved = &resolved;
        work.push(Box::pin(async move {
            let name = ctx.name.clone();
            let number = ctx.number;
            let id = create(docker, project, resolved, &name, &ctx).await?;
            opts.event(&format!("created {name}"));
            start(docker, &id).await?;
            opts.event(&format!("started {name}"));
            Ok((number, id))
        }));
    }
    let done = futures_util::future::join_all(work).await;
    for r in done {
        keep.push(r?);
    }
    keep.sort();
    Ok(keep.into_iter().map(|(_, id)| id).collect())
}

async fn create(
    docker: &Docker,
    project: &Project,
    service: &Service,
    create_name: &str,
    ctx: &ContainerContext,
) -> Result<String, EngineError> {
    let body = container_config(project, service, ctx)?;
    let mut options = CreateContainerOptionsBuilder::default().name(create_name);
    if let Some(p) = &service.extras.platform {
        options = options.platform(p);
    }
    let created = docker
        .create_container(Some(options.build()), body)
        .await
        .map_err(|e| api_error(format!("create container {create_name}"), e))?;
    for (network, endpoint) in extra_network_endpoints(project, service, ctx)? {
        docker
            .connect_network(
                &network,
                NetworkConnectRequest {
                    container: created.id.clone(),
                    endpoint_config: Some(endpoint),
                },
            )
            .await
            .map_err(|e| {
                api_error(
                    format!("connect container {create_name} to network {network}"),
                    e,
                )
            })?;
    }
    Ok(created.id)
}

async fn start(docker: &Docker, id: &str) -> Result<(), EngineError> {
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| api_error(format!("start container {id}"), e))
}

async fn stop_and_remove(docker: &Docker, id: &str, volumes: bool) -> Result<(), EngineError> {
    match docker
        .stop_container(id, None::<bollard::query_parameters::StopContainerOptions>)
        .await
    {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => {}
        Err(e) => return Err(api_error(format!("stop container {id}"), e)),
    }
    match docker
        .remove_container(
            id,
            Some(
                RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(volumes)
                    .build(),
            ),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(api_error(format!("remove container {id}"), e)),
    }
}

/// As Compose: create the replacement under a temporary name (keeping the old container's
/// anonymous volumes), stop and remove the old one, rename the new one, start it.
async fn recreate(
    docker: &Docker,
    project: &Project,
    service: &Service,
    old_id: &str,
    image_id: &str,
    mut ctx: ContainerContext,
    opts: &UpOptions,
) -> Result<(u32, String), EngineError> {
    let old = docker
        .inspect_container(
            old_id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .map_err(|e| api_error(format!("inspect container {old_id}"), e))?;
    let image_volumes: Vec<String> = docker
        .inspect_image(image_id)
        .await
        .ok()
        .and_then(|i| i.config)
        .and_then(|c| c.volumes)
        .unwrap_or_default();
    let anonymous: Vec<String> = service
        .spec
        .volumes
        .iter()
        .filter_map(|v| match v {
            dct::Volumes::Advanced(a)
                if a._type == "volume" && a.source.as_deref().unwrap_or("").is_empty() =>
            {
                Some(super::create::clean_path(&a.target))
            }
            _ => None,
        })
        .collect();
    for m in old.mounts.iter().flatten() {
        let dest = super::create::clean_path(m.destination.as_deref().unwrap_or(""));
        if m.typ.as_deref() == Some("volume")
            && (image_volumes.contains(&dest) || anonymous.contains(&dest))
        {
            ctx.inherited_mounts.push(Mount {
                typ: Some(MountType::VOLUME),
                source: m.name.clone(),
                target: Some(dest),
                read_only: (m.rw == Some(false)).then_some(true),
                ..Default::default()
            });
        }
    }
    let short = &old_id[..old_id.len().min(12)];
    let tmp = format!("{short}_{}", ctx.name);
    opts.event(&format!("recreating {}", ctx.name));
    let new_id = create(docker, project, service, &tmp, &ctx).await?;
    stop_and_remove(docker, old_id, false).await?;
    docker
        .rename_container(
            &new_id,
            RenameContainerOptionsBuilder::default()
                .name(&ctx.name)
                .build(),
        )
        .await
        .map_err(|e| api_error(format!("rename container {tmp} to {}", ctx.name), e))?;
    start(docker, &new_id).await?;
    opts.event(&format!("recreated {}", ctx.name));
    Ok((ctx.number, new_id))
}

/// Waits until the dependencies of `service` meet their `depends_on` conditions.
async fn wait_dependencies(
    docker: &Docker,
    project: &Project,
    service: &Service,
    opts: &UpOptions,
) -> Result<(), EngineError> {
    for (dep, cond) in dependencies(service) {
        let required = cond.required.unwrap_or(true);
        let fail = |reason: String| EngineError::Dependency {
            service: service.name.clone(),
            dependency: dep.clone(),
            reason,
        };
        let outcome = match cond.condition.as_str() {
            "service_started" | "" => Ok(()),
            "service_healthy" => wait_healthy(docker, project, &dep, opts)
                .await
                .map_err(fail),
            "service_completed_successfully" => wait_completed(docker, project, &dep, opts)
                .await
                .map_err(fail),
            other => Err(EngineError::InvalidValue {
                service: service.name.clone(),
                key: format!("depends_on.{dep}.condition"),
                reason: format!("unknown condition \"{other}\""),
            }),
        };
        match outcome {
            Err(e) if !required && matches!(e, EngineError::Dependency { .. }) => {
                opts.event(&format!("optional dependency skipped: {e}"));
            }
            other => other?,
        }
    }
    Ok(())
}

fn ns(v: Option<i64>, default: Duration) -> Duration {
    match v {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

/// How long a container with this (merged: image + compose) healthcheck may take to turn
/// healthy: start period + (interval + timeout) × (retries + 1), plus a little slack, with
/// Docker's defaults for what is unset.
pub fn healthcheck_deadline(hc: Option<&HealthConfig>) -> Duration {
    let hc = hc.cloned().unwrap_or_default();
    let interval = ns(hc.interval, Duration::from_secs(30));
    let timeout = ns(hc.timeout, Duration::from_secs(30));
    let retries = hc.retries.filter(|r| *r > 0).unwrap_or(3) as u32;
    let start = ns(hc.start_period, Duration::ZERO);
    start + (interval + timeout) * (retries + 1) + Duration::from_secs(5)
}

/// Healthy = every container of the service reports `healthy`. The deadline comes from the
/// container's (merged) healthcheck: start period + (interval + timeout) × (retries + 1), plus a
/// little slack; unhealthy or exited ends the wait early.
async fn wait_healthy(
    docker: &Docker,
    project: &Project,
    dep: &str,
    opts: &UpOptions,
) -> Result<(), String> {
    let containers = project_containers(docker, &project.name, Some(dep))
        .await
        .map_err(|e| e.to_string())?;
    if containers.is_empty() {
        return Err("it has no container".into());
    }
    opts.event(&format!("waiting for {dep} to be healthy"));
    for c in containers {
        let id = c.id.clone().unwrap_or_default();
        let name = canonical_name(&c);
        let started = Instant::now();
        let mut deadline: Option<Duration> = None;
        loop {
            let info = docker
                .inspect_container(
                    &id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .map_err(|e| api_error(format!("inspect container {name}"), e).to_string())?;
            let limit = *deadline.get_or_insert_with(|| {
                healthcheck_deadline(info.config.as_ref().and_then(|c| c.healthcheck.as_ref()))
            });
            let state = info.state.unwrap_or_default();
            if matches!(
                state.status,
                Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
            ) {
                return Err(format!(
                    "container {name} exited ({})",
                    state.exit_code.unwrap_or(-1)
                ));
            }
            match state.health.and_then(|h| h.status) {
                Some(HealthStatusEnum::HEALTHY) => break,
                Some(HealthStatusEnum::UNHEALTHY) => {
                    return Err(format!("container {name} is unhealthy"))
                }
                Some(HealthStatusEnum::STARTING) => {}
                _ => return Err(format!("container {name} has no healthcheck configured")),
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "container {name} was not healthy within {} s",
                    limit.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// Completed = a container of the service exited 0 (as Compose, the first exit decides).
async fn wait_completed(
    docker: &Docker,
    project: &Project,
    dep: &str,
    opts: &UpOptions,
) -> Result<(), String> {
    let containers = project_containers(docker, &project.name, Some(dep))
        .await
        .map_err(|e| e.to_string())?;
    if containers.is_empty() {
        return Err("it has no container".into());
    }
    opts.event(&format!("waiting for {dep} to complete"));
    let started = Instant::now();
    loop {
        for c in &containers {
            let id = c.id.clone().unwrap_or_default();
            let info = docker
                .inspect_container(
                    &id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .map_err(|e| api_error(format!("inspect container {id}"), e).to_string())?;
            let state = info.state.unwrap_or_default();
            if matches!(state.status, Some(ContainerStateStatusEnum::EXITED)) {
                let code = state.exit_code.unwrap_or(-1);
                return if code == 0 {
                    Ok(())
                } else {
                    Err(format!("it didn't complete successfully: exit {code}"))
                };
            }
        }
        if started.elapsed() > opts.completion_timeout {
            return Err(format!(
                "it did not complete within {} s",
                opts.completion_timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Removes every container and network labelled with the project (as `docker compose down`),
/// and with `volumes` also the containers' anonymous volumes and the project's named volumes
/// (as `down -v`). Missing things are not an error.
pub async fn down_project(
    docker: &Docker,
    project_name: &str,
    volumes: bool,
) -> Result<(), EngineError> {
    let containers = project_containers(docker, project_name, None).await?;
    let removals = containers.iter().map(|c| {
        let id = c.id.clone().unwrap_or_default();
        async move { stop_and_remove(docker, &id, volumes).await }
    });
    for r in futures_util::future::join_all(removals).await {
        r?;
    }
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={project_name}", labels::PROJECT)],
    )]);
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api_error(format!("list the networks of project {project_name}"), e))?;
    for n in networks {
        let name = n.name.unwrap_or_default();
        match docker.remove_network(&name).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(api_error(format!("remove network {name}"), e)),
        }
    }
    if volumes {
        remove_project_volumes(docker, project_name).await?;
    }
    Ok(())
}

/// Removes the named volumes labelled with the project.
pub async fn remove_project_volumes(
    docker: &Docker,
    project_name: &str,
) -> Result<(), EngineError> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={project_name}", labels::PROJECT)],
    )]);
    let list = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api_error(format!("list the volumes of project {project_name}"), e))?;
    for v in list.volumes.unwrap_or_default() {
        match docker
            .remove_volume(
                &v.name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(api_error(format!("remove volume {}", v.name), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::ServiceExtras;
    use std::path::PathBuf;

    fn svc(name: &str, deps: &[(&str, &str)]) -> Service {
        let mut map = IndexMap::new();
        for (d, c) in deps {
            map.insert(d.to_string(), dct::DependsCondition::new(*c));
        }
        Service {
            name: name.into(),
            spec: dct::Service {
                image: Some("x".into()),
                depends_on: dct::DependsOnOptions::Conditional(map),
                ..Default::default()
            },
            extras: ServiceExtras::default(),
            file: PathBuf::from("/p/compose.yaml"),
        }
    }

    fn project(services: Vec<Service>) -> Project {
        Project {
            name: "p".into(),
            working_dir: "/p".into(),
            config_files: vec!["/p/compose.yaml".into()],
            env_files: vec![],
            services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
            networks: IndexMap::new(),
            volumes: IndexMap::new(),
            secrets: IndexMap::new(),
            configs: IndexMap::new(),
        }
    }

    #[test]
    fn start_order_puts_dependencies_first() {
        let p = project(vec![
            svc(
                "web",
                &[("api", "service_healthy"), ("cache", "service_started")],
            ),
            svc(
                "api",
                &[
                    ("db", "service_healthy"),
                    ("migrate", "service_completed_successfully"),
                ],
            ),
            svc("migrate", &[("db", "service_healthy")]),
            svc("db", &[]),
            svc("cache", &[]),
            svc("unrelated", &[]),
        ]);
        assert_eq!(
            start_order(&p, "web").unwrap(),
            vec!["db", "migrate", "api", "cache", "web"]
        );
        assert_eq!(start_order(&p, "db").unwrap(), vec!["db"]);
    }

    #[test]
    fn start_order_reports_cycles_and_missing_dependencies() {
        let p = project(vec![
            svc("a", &[("b", "service_started")]),
            svc("b", &[("a", "service_started")]),
        ]);
        let e = start_order(&p, "a").unwrap_err().to_string();
        assert!(e.contains("a -> b -> a"), "{e}");
        let p = project(vec![svc("a", &[("ghost", "service_started")])]);
        let e = start_order(&p, "a").unwrap_err().to_string();
        assert!(e.contains("\"ghost\""), "{e}");
    }

    #[test]
    fn validate_refuses_swarm_keys_before_anything_is_created() {
        let mut s = svc("web", &[]);
        s.spec.deploy = Some(dct::Deploy {
            placement: Some(Default::default()),
            ..Default::default()
        });
        let p = project(vec![s.clone()]);
        let e = validate(&p, &s, (1, 41)).unwrap_err().to_string();
        assert_eq!(
            e,
            "service \"web\": key \"deploy.placement\" is only meaningful on Swarm (docker flow runs containers, not Swarm services)"
        );
    }

    #[test]
    fn default_scale_from_scale_or_replicas() {
        let mut s = svc("web", &[]);
        assert_eq!(default_scale(&s), 1);
        s.spec.scale = 2;
        assert_eq!(default_scale(&s), 2);
        s.spec.deploy = Some(dct::Deploy {
            replicas: Some(3),
            ..Default::default()
        });
        assert_eq!(default_scale(&s), 3);
    }
}
