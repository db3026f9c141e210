//! `deploy`: the next colour starts beside the live one, health-gated. The live colour and the
//! proxy are untouched: only `proxy` switches users over. Any failure removes what this deploy
//! started, so the next run starts clean.

use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::compose::{Project, Service};
use crate::engine::{self, UpOptions};
use crate::registry::{Check, Registration};
use crate::release::{Color, Release, ReleaseState, Routes};

use super::context::FlowContext;
use super::error::FlowError;
use super::observe::{self, Container, LABEL_COLOR, LABEL_SERVICE, LABEL_TARGET};
use super::reach::Reach;
use super::report::now;
use super::runtime::Runtime;

const FLOW: &str = "deploy";

pub async fn run(cx: &FlowContext) -> Result<(), FlowError> {
    cx.locked(FLOW, || deploy(cx)).await
}

async fn deploy(cx: &FlowContext) -> Result<(), FlowError> {
    let (state, version) = cx.consul.read_state(&cx.service).await?;
    let observed = super::runtime::observe(cx).await?;
    // The first release is blue; a release that was deployed but never made live is replaced.
    // --blue-green=false replaces the live colour in place (the original tool's behaviour:
    // users see errors until the new containers are up).
    let in_place = !cx.settings.blue_green;
    let next = match (state.live, state.candidate) {
        (Some(live), _) if in_place => live,
        (Some(live), _) => live.other(),
        (None, Some(candidate)) => candidate,
        (None, None) => Color::Blue,
    };
    let running_live = state.live.map_or(0, |l| observed.running(l).len() as u32);
    let current = if running_live > 0 {
        running_live
    } else {
        state
            .scale
            .unwrap_or_else(|| default_scale(&cx.project.services[&cx.target]))
    };
    let scale = match &cx.settings.scale {
        Some(spec) => spec
            .apply(current)
            .map_err(|e| FlowError::Invalid(format!("--scale: {e}")))?,
        None => current,
    };
    let routes = routes_of(cx, &state)?;
    super::stand_in::check(cx, &routes).await?;
    let target = &cx.project.services[&cx.target];
    if let Some(name) = &target.spec.container_name {
        if super::stand_in::applies(cx.runtime, target) {
            cx.report.step(FLOW, &cx.service, &format!(
                "container_name {name}: the instances run as {}-<colour>-<n>, and the stand-in {} answers to {name} from the first switch on",
                cx.service,
                super::stand_in::container_name(&cx.service)
            ));
        }
    }
    if cx.runtime == Runtime::Swarm {
        // A compose key a Swarm service cannot carry fails here, before anything is created
        // (a dry run too).
        super::runtime::check_specs(cx, next, scale, routes.port).await?;
    } else {
        // Secrets/configs a plain engine cannot mount (environment, content, external): bad
        // input, found before the side targets or anything else start.
        for name in std::iter::once(&cx.target).chain(&cx.settings.side_targets) {
            engine::secrets::plain_mounts(&cx.project, &cx.project.services[name])
                .map_err(|e| FlowError::Invalid(format!("{e}; nothing was changed")))?;
        }
    }
    if cx.settings.dry_run {
        cx.report.done(FLOW, &cx.service, &format!(
            "dry run: would start {scale} instance(s) of {next} beside {} (side targets: {}), register them as {}-{next}, wait until healthy; nothing changed",
            state.live.map_or("nothing live".to_string(), |l| format!("live {l}")),
            if cx.settings.side_targets.is_empty() { "none".into() } else { cx.settings.side_targets.join(", ") },
            cx.service,
        ));
        return Ok(());
    }
    if in_place && state.live.is_some() {
        cx.report.step(
            FLOW,
            &cx.service,
            &format!("replacing the live {next} in place (--blue-green=false): requests fail until it is healthy"),
        );
    }

    // The target's image first: a release that cannot be pulled changes nothing at all.
    if !cx.settings.skip_pull_target {
        let (project, name) = color_project(cx, next, true, routes.port, &Base::current(cx));
        let report = cx.report;
        let service = cx.service.clone();
        let on_event = move |m: &str| report.step(FLOW, &service, m);
        engine::ensure_image(&cx.docker, &project, &project.services[&name], &on_event)
            .await
            .map_err(|e| {
                FlowError::Failed(format!(
                    "deploy {}: {e}; nothing was changed (--skip-pull-target deploys the local image)",
                    cx.service
                ))
            })?;
    }
    cx.checkpoint(|| "the image was pulled; nothing else changed".into())?;

    // Side targets: up once, left alone when unchanged.
    for side in &cx.settings.side_targets {
        cx.report
            .step(FLOW, &cx.service, &format!("side target {side}"));
        if cx.runtime == Runtime::Swarm {
            super::runtime::up_side_service(cx, side).await?;
            continue;
        }
        let opts = UpOptions {
            on_event: Some(events(cx)),
            ..Default::default()
        };
        let mut project = cx.project.clone();
        if !cx.settings.pull_side_targets {
            set_pull_policy(&mut project, side, "missing");
        }
        engine::up_service(&cx.docker, &project, side, &opts).await?;
    }
    cx.checkpoint(|| "side targets are up; nothing else changed".into())?;

    // What is left of the next colour from two releases ago goes first.
    remove_color(cx, next, observed.of(next)).await?;
    cx.checkpoint(|| {
        format!(
            "old {next} containers removed; {} still live",
            live_text(&state)
        )
    })?;

    cx.report.step(
        FLOW,
        &cx.service,
        &format!("starting {scale} instance(s) of {next}"),
    );
    let started = start_color(cx, next, scale, routes.port, &Base::current(cx)).await;
    let outcome = match started {
        Ok(containers) => {
            // While the candidate turns healthy, the proxy's Runtime API path is readied, so a
            // `--flow proxy` in this run switches within milliseconds of health.
            let warm = async {
                if cx.proxy_running().await {
                    if let Ok(p) = cx.proxy() {
                        p.prepare().await;
                    }
                }
            };
            let (waited, ()) =
                tokio::join!(register_and_wait(cx, next, &containers, &routes), warm);
            waited.map(|_| containers)
        }
        Err(e) => Err(e),
    };
    let containers = match outcome {
        Ok(c) => c,
        Err(e) => {
            // Leave nothing half-done: the new colour goes, live state and proxy never changed.
            let left = super::runtime::observe(cx)
                .await
                .map(|o| o.of(next).to_vec())
                .unwrap_or_default();
            remove_color(cx, next, &left).await.ok();
            return Err(match e {
                FlowError::Interrupted { reason, .. } => FlowError::Interrupted {
                    reason,
                    state: format!("the new release ({next}) was removed; {} still serves users", live_text(&state)),
                },
                other => FlowError::Failed(format!(
                    "deploy {}: {other}; the new release ({next}) was removed, {} still serves users and Consul is unchanged",
                    cx.service,
                    live_text(&state)
                )),
            });
        }
    };

    let image = containers
        .first()
        .map(|c| c.image.clone())
        .unwrap_or_default();
    let mut new_state = state.clone();
    new_state.routes = Some(routes);
    if in_place && state.live.is_some() {
        new_state.live = Some(next);
        new_state.candidate = None;
        new_state.scale = Some(scale);
    } else {
        new_state.candidate = Some(next);
    }
    if new_state.live.is_none() {
        new_state.scale = Some(scale);
    }
    new_state.history.push(Release {
        color: next,
        image: image.clone(),
        image_id: image,
        scale,
        event: "deployed".into(),
        at: now(),
    });
    cx.consul
        .write_state(&cx.service, &new_state, &version)
        .await?;
    if in_place && state.live.is_some() {
        super::stand_in::sync(cx, FLOW, &new_state, None).await?;
    }
    if new_state.live.is_some() && cx.proxy_running().await {
        // Users stay where they are; the candidate becomes reachable with the preview header.
        cx.proxy_locked(|| async {
            let desired = super::model::build(cx, &new_state).await?;
            cx.proxy()?.apply(&desired).await?;
            Ok(())
        })
        .await?;
    }
    let message = if in_place && state.live.is_some() {
        format!("{next} was replaced in place and is healthy ({scale} instance(s))")
    } else {
        format!(
            "{next} is up and healthy ({scale} instance(s)); {} — preview it with the header `X-Flow-Color: {next}`, then run `docker flow proxy` to switch users to {next}",
            match state.live {
                Some(l) => format!("users still get {l}"),
                None => "nothing is live yet".into(),
            }
        )
    };
    cx.report.done(FLOW, &cx.service, &message);
    Ok(())
}

fn live_text(state: &ReleaseState) -> String {
    state.live.map_or("no release".to_string(), |l| {
        format!("the live release ({l})")
    })
}

/// Progress lines from the engine layer.
fn events(cx: &FlowContext) -> engine::EventSink {
    let report = cx.report;
    let service = cx.service.clone();
    std::sync::Arc::new(move |m: &str| report.step(FLOW, &service, m))
}

fn default_scale(service: &Service) -> u32 {
    let spec = &service.spec;
    let replicas = spec.deploy.as_ref().and_then(|d| d.replicas);
    let n = replicas.unwrap_or(if spec.scale > 0 { spec.scale } else { 1 });
    u32::try_from(n.max(1)).unwrap_or(1)
}

fn set_pull_policy(project: &mut Project, service: &str, policy: &str) {
    if let Some(s) = project.services.get_mut(service) {
        if s.spec.build_.is_none() {
            s.spec.pull_policy =
                serde_yaml::from_value(serde_yaml::Value::String(policy.into())).ok();
        }
    }
}

/// The engine names of the networks the target is on (the proxy joins them to reach it).
pub fn target_networks(project: &Project, target: &str) -> Vec<String> {
    let Some(service) = project.services.get(target) else {
        return Vec::new();
    };
    crate::engine::resources::service_network_keys(service)
        .iter()
        .filter_map(|k| project.networks.get(k).map(|n| n.name.clone()))
        .collect()
}

/// The project with the target renamed `<target>-<colour>`, so that its containers are
/// `<project>-<target>-<colour>-<n>` and `docker compose ps` lists them under that service.
/// `pull`: a deploy pulls the target's image (unless --skip-pull-target); scaling never does,
/// so that every instance of a colour runs the same image.
/// `port`: the routed container port, published on the services' host when the proxy runs on
/// another engine (an ephemeral host port, so both colours can run at once).
pub fn color_project(
    cx: &FlowContext,
    color: Color,
    pull: bool,
    port: u16,
    base: &Base,
) -> (Project, String) {
    let mut project = cx.project.clone();
    let name = format!("{}-{color}", cx.target);
    let mut service = base.service.clone();
    service.name = name.clone();
    // The stand-in answers to the container_name (docs/stand-in.md).
    service.spec.container_name = None;
    if super::stand_in::applies(cx.runtime, &base.service) {
        super::stand_in::strip_for_colour(&mut service);
    }
    if service.spec.build_.is_none() {
        let policy = if pull { "always" } else { "missing" };
        service.spec.pull_policy =
            serde_yaml::from_value(serde_yaml::Value::String(policy.into())).ok();
    }
    if let Reach::Published(ip) = cx.reach {
        // On Swarm each task publishes on its own node (host mode, every address of the node).
        let swarm = cx.runtime == Runtime::Swarm;
        let publish = docker_compose_types::Port {
            target: port,
            host_ip: (!swarm && !ip.is_unspecified()).then(|| ip.to_string()),
            published: None,
            protocol: None,
            mode: swarm.then(|| "host".to_string()),
        };
        match &mut service.spec.ports {
            docker_compose_types::Ports::Long(ports) => ports.push(publish),
            other => *other = docker_compose_types::Ports::Long(vec![publish]),
        }
    }
    project.services.insert(name.clone(), service);
    (project, name)
}

/// Label holding the compose service a release was started from (JSON).
const LABEL_SPEC: &str = "com.docker.flow.spec";

/// What a colour's containers are made from: the compose service and docker flow's version as
/// they were when the release was deployed (kept as labels on its containers). Scaling a release
/// later replicates it: a compose file or environment edited since, or a newer docker flow, never
/// recreates its running instances nor starts different ones beside them.
#[derive(Debug, Clone)]
pub struct Base {
    pub service: Service,
    pub version: String,
    /// Whether the containers carry the service label (not those of an older docker flow: adding
    /// it would make them differ and be recreated).
    pub labelled: bool,
}

impl Base {
    /// The target as the compose project says now: for a new release.
    pub fn current(cx: &FlowContext) -> Base {
        Base {
            service: cx.project.services[&cx.target].clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            labelled: true,
        }
    }

    /// The release `instances` belong to, from the labels of the first; the current target when
    /// they carry none (started by an older docker flow).
    pub async fn of_release(cx: &FlowContext, instances: &[Container]) -> Base {
        if let Some(first) = instances.first() {
            if let Ok(info) = cx.docker.inspect_container(&first.id, None).await {
                let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
                let service = labels
                    .get(LABEL_SPEC)
                    .and_then(|s| serde_json::from_str::<Service>(s).ok());
                if let (Some(service), Some(version)) =
                    (service, labels.get("com.docker.flow.version"))
                {
                    return Base {
                        service,
                        version: version.clone(),
                        labelled: true,
                    };
                }
            }
        }
        Base {
            labelled: false,
            ..Base::current(cx)
        }
    }
}

pub fn flow_labels(cx: &FlowContext, color: Color, base: &Base) -> IndexMap<String, String> {
    let mut labels = IndexMap::from([
        (LABEL_SERVICE.to_string(), cx.service.clone()),
        (LABEL_TARGET.to_string(), cx.target.clone()),
        (LABEL_COLOR.to_string(), color.to_string()),
        ("com.docker.flow.version".to_string(), base.version.clone()),
    ]);
    if base.labelled {
        labels.insert(
            LABEL_SPEC.to_string(),
            serde_json::to_string(&base.service).expect("a compose service serialises"),
        );
    }
    labels
}

/// Brings `color` to `scale` running containers (creating, starting or removing surplus), made
/// from `base`.
pub async fn start_color(
    cx: &FlowContext,
    color: Color,
    scale: u32,
    port: u16,
    base: &Base,
) -> Result<Vec<Container>, FlowError> {
    if cx.runtime == Runtime::Swarm {
        return super::runtime::start_swarm(cx, FLOW, color, scale, port, base).await;
    }
    // Never pulls: the deploy pulled first; every instance of a colour runs the same image.
    let (project, name) = color_project(cx, color, false, port, base);
    let opts = UpOptions {
        scale: Some(scale),
        extra_labels: flow_labels(cx, color, base),
        on_event: Some(events(cx)),
        ..Default::default()
    };
    engine::up_service(&cx.docker, &project, &name, &opts).await?;
    let observed = observe::observe(&cx.docker, &cx.service).await?;
    Ok(observed
        .of(color)
        .iter()
        .filter(|c| c.running)
        .cloned()
        .collect())
}

/// Which container port the proxy sends requests to: --port, else what Consul kept, else the
/// service's first published or exposed port.
pub fn routes_of(cx: &FlowContext, state: &ReleaseState) -> Result<Routes, FlowError> {
    let p = &cx.settings.proxy;
    let stored = state.routes.clone().unwrap_or_default();
    let service = &cx.project.services[&cx.target];
    let port = p
        .port
        .or((stored.port != 0).then_some(stored.port))
        .or_else(|| first_port(service))
        .ok_or_else(|| {
            FlowError::Invalid(format!(
                "cannot tell which container port of {} to route to: set --port (or FLOW_PORT, or `port:` in docker-flow.yml)",
                cx.target
            ))
        })?;
    Ok(Routes {
        paths: if p.service_paths.is_empty() {
            stored.paths
        } else {
            p.service_paths.clone()
        },
        domains: if p.service_domains.is_empty() {
            stored.domains
        } else {
            p.service_domains.clone()
        },
        port,
        path_type: p.path_type,
        proxy: Some(p.name.clone()),
        networks: target_networks(&cx.project, &cx.target),
    })
}

fn first_port(service: &Service) -> Option<u16> {
    if let docker_compose_types::Ports::Long(ports) = &service.spec.ports {
        if let Some(p) = ports.first() {
            return Some(p.target);
        }
    }
    service
        .spec
        .expose
        .first()
        .and_then(|e| e.split('/').next()?.split('-').next()?.parse().ok())
}

/// Where the proxy reaches a container's `port`: its address on the target's first network, or,
/// with the proxy on another engine, the advertise address and the port published for it.
pub fn address_of(cx: &FlowContext, c: &Container, port: u16) -> Result<(String, u16), FlowError> {
    if let Reach::Published(ip) = cx.reach {
        // A container on the services' engine: at the advertise address. A Swarm task: at its
        // node's address (each task publishes on its own node).
        let swarm = cx.runtime == Runtime::Swarm;
        return c
            .published
            .iter()
            .find(|(private, _, _)| *private == port)
            .map(|(_, host, public)| {
                let at = if swarm { host.clone() } else { ip.to_string() };
                (at, *public)
            })
            .ok_or_else(|| {
                FlowError::Failed(format!(
                    "container {} publishes no host port for container port {port}, which the proxy on the other engine needs",
                    c.name
                ))
            });
    }
    let networks = target_networks(&cx.project, &cx.target);
    networks
        .iter()
        .find_map(|n| c.addresses.get(n))
        .or_else(|| c.addresses.values().next())
        .map(|a| (a.clone(), port))
        .ok_or_else(|| {
            FlowError::Failed(format!(
                "container {} has no network address the proxy can reach",
                c.name
            ))
        })
}

/// Registers each instance in Consul and waits until every one is healthy (its Docker
/// healthcheck, when it has one, and its Consul check).
pub async fn register_and_wait(
    cx: &FlowContext,
    color: Color,
    containers: &[Container],
    routes: &Routes,
) -> Result<(), FlowError> {
    let name = format!("{}-{color}", cx.service);
    if let (Some(consul), Reach::Networks) = (&cx.embedded_consul, cx.reach) {
        // The embedded Consul checks from its own container: it must reach the instances.
        for network in target_networks(&cx.project, &cx.target) {
            crate::registry::attach_network(&cx.proxy_docker, consul, &network).await?;
        }
    }
    if cx.runtime == Runtime::Swarm && cx.settings.health_path.is_some() {
        cx.report.step(
            FLOW,
            &cx.service,
            "note: --health-path (FLOW_HEALTH_PATH, health_path) has no effect on Swarm: a task runs only once its compose healthcheck passes, and Consul cannot reach overlay addresses to check them",
        );
    }
    for c in containers {
        let (address, port) = address_of(cx, c, routes.port)?;
        let check = match &cx.settings.health_path {
            // Swarm's task state is the gate: Consul cannot reach overlay addresses.
            _ if cx.runtime == Runtime::Swarm => Check::None,
            Some(path) => Check::Http {
                url: format!("http://{address}:{port}{path}"),
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(2),
            },
            None => Check::Tcp {
                address: format!("{address}:{port}"),
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(2),
            },
        };
        cx.consul
            .register(&Registration {
                id: c.name.clone(),
                name: name.clone(),
                address,
                port,
                tags: vec![color.to_string()],
                check,
            })
            .await?;
    }
    let deadline = health_deadline(cx, containers).await;
    let waiting = cx.report.wait(
        FLOW,
        &cx.service,
        &format!(
            "waiting until {} instance(s) of {color} are healthy (up to {}s)",
            containers.len(),
            deadline.as_secs()
        ),
    );
    let start = Instant::now();
    loop {
        cx.checkpoint(String::new)?;
        let observed = super::runtime::observe(cx).await?;
        let now: Vec<&Container> = observed
            .of(color)
            .iter()
            .filter(|c| containers.iter().any(|o| o.id == c.id))
            .collect();
        if let Some(dead) = containers
            .iter()
            .find(|o| !now.iter().any(|c| c.id == o.id && c.running))
        {
            return Err(FlowError::Failed(format!(
                "{} stopped while starting (see `docker logs {}`)",
                dead.name, dead.name
            )));
        }
        if let Some(bad) = now
            .iter()
            .find(|c| c.health.as_deref() == Some("unhealthy"))
        {
            return Err(FlowError::Failed(format!(
                "{} is unhealthy (see `docker inspect --format '{{{{json .State.Health}}}}' {}`)",
                bad.name, bad.name
            )));
        }
        let docker_ok = now
            .iter()
            .all(|c| c.health.is_none() || c.health.as_deref() == Some("healthy"));
        let passing = cx.consul.instances(&name, true).await?;
        let consul_ok = containers
            .iter()
            .all(|c| passing.iter().any(|p| p.id == c.name));
        let healthy = now
            .iter()
            .filter(|c| c.health.as_deref().is_none_or(|h| h == "healthy"))
            .filter(|c| passing.iter().any(|p| p.id == c.name))
            .count();
        waiting.update(&format!(
            "{healthy} of {} instance(s) of {color} healthy",
            containers.len()
        ));
        if docker_ok && consul_ok {
            return Ok(());
        }
        if start.elapsed() > deadline {
            return Err(FlowError::Failed(format!(
                "{color} did not become healthy within {}s (set --health-timeout to wait longer)",
                deadline.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// --health-timeout, else what the compose healthcheck allows (start period plus every retry),
/// plus slack for the container to start.
/// --health-timeout, else what the containers' own healthcheck allows (the engine's rule, from
/// the image's HEALTHCHECK merged with compose's), plus slack for Consul's first checks;
/// 90 s for a container with no healthcheck.
async fn health_deadline(cx: &FlowContext, containers: &[Container]) -> Duration {
    if let Some(t) = cx.settings.health_timeout {
        return t;
    }
    let Some(first) = containers.first() else {
        return Duration::from_secs(90);
    };
    match cx.docker.inspect_container(&first.id, None).await {
        Ok(info) => match info.config.and_then(|c| c.healthcheck) {
            Some(hc)
                if hc
                    .test
                    .as_ref()
                    .is_some_and(|t| t.first().map(String::as_str) != Some("NONE")) =>
            {
                engine::service::healthcheck_deadline(Some(&hc)) + Duration::from_secs(10)
            }
            _ => Duration::from_secs(90),
        },
        Err(_) => Duration::from_secs(90),
    }
}

/// Takes running containers of `color` out of service without removing them (stop-old,
/// rollback): drained from the proxy when it runs, deregistered, then stopped.
pub async fn stop_color(
    cx: &FlowContext,
    flow: &str,
    color: Color,
    containers: &[&Container],
) -> Result<(), FlowError> {
    let names: Vec<String> = containers.iter().map(|c| c.name.clone()).collect();
    if cx.proxy_running().await {
        cx.report.step(
            flow,
            &cx.service,
            &format!("draining {color} from the proxy"),
        );
        cx.proxy()?
            .drain(&cx.service, color, &names, cx.settings.drain_timeout)
            .await?;
    }
    super::stand_in::drain(cx, color, &names).await?;
    for c in containers {
        cx.consul.deregister(&c.name).await?;
    }
    super::runtime::halt(cx, flow, color, containers).await
}

/// Stops and removes the containers of `color`, deregistering them first.
pub async fn remove_color(
    cx: &FlowContext,
    color: Color,
    containers: &[Container],
) -> Result<(), FlowError> {
    for c in containers {
        cx.consul.deregister(&c.name).await?;
    }
    super::runtime::remove(cx, FLOW, color, containers).await
}
