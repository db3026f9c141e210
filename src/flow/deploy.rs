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
    super::stand_in::say_container_name(cx, FLOW);
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
                if routes.port != 0 && cx.proxy_running().await {
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
    if new_state.live.is_some() && new_state.proxied() && cx.proxy_running().await {
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
    } else if !new_state.proxied() {
        format!(
            "{next} is up and running steadily ({scale} instance(s)); the proxy does not route {} (no path, domain or template){}",
            cx.target,
            match state.live {
                Some(l) => format!(", so {next} already works beside {l}: run `docker flow proxy` to record {next} as live, then `docker flow stop-old` to stop {l}"),
                None => format!(": run `docker flow proxy` to record {next} as live"),
            }
        )
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
/// another engine (an ephemeral host port, so both colours can run at once); 0: none.
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
    if let (Reach::Published(ip), false) = (cx.reach, port == 0) {
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

/// How requests reach the target through the proxy. A port is needed only when the service is
/// routed (paths or domains, given now or kept in Consul, or a template): `--port`, else what
/// Consul kept, else the service's only container port; several or none is bad input, found
/// before anything starts. A service nothing routes gets port 0 (unless `--port` was given):
/// its instances are registered with no check and gated by the monitor window.
pub fn routes_of(cx: &FlowContext, state: &ReleaseState) -> Result<Routes, FlowError> {
    let p = &cx.settings.proxy;
    let stored = state.routes.clone().unwrap_or_default();
    let paths = if p.service_paths.is_empty() {
        stored.paths
    } else {
        p.service_paths.clone()
    };
    let domains = if p.service_domains.is_empty() {
        stored.domains
    } else {
        p.service_domains.clone()
    };
    let templated = state.template.is_some() || p.template.is_some() || p.template_fe.is_some();
    let routed = !paths.is_empty() || !domains.is_empty() || templated;
    let port = match p.port {
        Some(port) => port,
        None if !routed => 0,
        None if stored.port != 0 => stored.port,
        None => only_port(&cx.target, &cx.project.services[&cx.target])?,
    };
    Ok(Routes {
        paths,
        domains,
        port,
        path_type: p.path_type,
        proxy: Some(p.name.clone()),
        networks: target_networks(&cx.project, &cx.target),
    })
}

/// The one container port a routed service lists; an error naming the candidates otherwise.
fn only_port(target: &str, service: &Service) -> Result<u16, FlowError> {
    let how = "set --port (or FLOW_PORT, or `port:` in docker-flow.yml); nothing was changed";
    match container_ports(service).as_slice() {
        [one] => Ok(*one),
        [] => Err(FlowError::Invalid(format!(
            "{target} is routed through the proxy (a path, domain or template) but lists no container port in `ports` or `expose`: {how}"
        ))),
        many => {
            let mut shown: Vec<String> = many.iter().take(8).map(u16::to_string).collect();
            if many.len() > 8 {
                shown.push(format!("… ({} in all)", many.len()));
            }
            Err(FlowError::Invalid(format!(
                "cannot tell which container port of {target} to route to: its `ports` and `expose` list {}; {how}",
                shown.join(", ")
            )))
        }
    }
}

/// The TCP container ports a service lists: `ports` targets, then `expose` entries (ranges
/// expanded), each once.
pub fn container_ports(service: &Service) -> Vec<u16> {
    let tcp = |proto: Option<&str>| proto.is_none_or(|p| p.eq_ignore_ascii_case("tcp"));
    let mut out: Vec<u16> = Vec::new();
    if let docker_compose_types::Ports::Long(ports) = &service.spec.ports {
        out.extend(
            ports
                .iter()
                .filter(|p| tcp(p.protocol.as_deref()))
                .map(|p| p.target),
        );
    }
    for entry in &service.spec.expose {
        let (range, proto) = match entry.split_once('/') {
            Some((r, p)) => (r, Some(p)),
            None => (entry.as_str(), None),
        };
        if !tcp(proto) {
            continue;
        }
        let (from, to) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(from), Ok(to)) = (from.trim().parse::<u16>(), to.trim().parse::<u16>()) {
            out.extend(from..=to);
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(*p));
    out
}

/// A container's address on the target's first network (else on any network it is on).
pub fn network_address<'a>(cx: &FlowContext, c: &'a Container) -> Option<&'a String> {
    target_networks(&cx.project, &cx.target)
        .iter()
        .find_map(|n| c.addresses.get(n))
        .or_else(|| c.addresses.values().next())
}

/// Where the proxy reaches a container's `port`: its address on the target's first network, or,
/// with the proxy on another engine, the advertise address and the port published for it.
/// Port 0 (not routed): its address on the target's first network, published nothing.
pub fn address_of(cx: &FlowContext, c: &Container, port: u16) -> Result<(String, u16), FlowError> {
    let on_network = network_address(cx, c);
    if port == 0 {
        // Recorded in Consul, never routed: a Swarm task whose overlay address was not looked
        // up stands at the advertise address; a container on no network at none.
        let at = match (on_network, cx.reach) {
            (Some(a), _) => a.clone(),
            (None, Reach::Published(ip)) => ip.to_string(),
            (None, Reach::Networks) => String::new(),
        };
        return Ok((at, 0));
    }
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
    on_network.map(|a| (a.clone(), port)).ok_or_else(|| {
        FlowError::Failed(format!(
            "container {} has no network address the proxy can reach",
            c.name
        ))
    })
}

/// Registers each instance in Consul and waits until every one is healthy: its Docker
/// healthcheck, when it has one, and its Consul check. An instance nothing routes to (port 0)
/// is registered with no check; on a plain engine it must run the monitor window without
/// exiting or restarting (Swarm's task state gates it there).
pub async fn register_and_wait(
    cx: &FlowContext,
    color: Color,
    containers: &[Container],
    routes: &Routes,
) -> Result<(), FlowError> {
    let name = format!("{}-{color}", cx.service);
    let routed = routes.port != 0;
    if let (Some(consul), Reach::Networks, true) = (&cx.embedded_consul, cx.reach, routed) {
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
            // No port to probe (and never a guessed one): the monitor window is the gate.
            _ if !routed => Check::None,
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
    let monitor = (!routed && cx.runtime == Runtime::Containers).then_some(cx.settings.monitor);
    let allowance = healthcheck_allowance(cx, containers).await;
    let mut deadline = cx.settings.health_timeout.unwrap_or_else(|| {
        allowance.map_or(Duration::from_secs(90), |a| a + Duration::from_secs(10))
    });
    if let Some(window) = monitor {
        // Never shorter than the window itself.
        deadline = deadline.max(window + Duration::from_secs(5));
    }
    let waiting = cx.report.wait(
        FLOW,
        &cx.service,
        &match monitor {
            Some(window) => format!(
                "waiting until {} instance(s) of {color} have run {} without exiting or restarting (the monitor window; nothing routes to them){}",
                containers.len(),
                seconds(window),
                if allowance.is_some() { " and are healthy" } else { "" },
            ),
            None => format!(
                "waiting until {} instance(s) of {color} are healthy (up to {}s)",
                containers.len(),
                deadline.as_secs()
            ),
        },
    );
    let start = Instant::now();
    let mut first: std::collections::HashMap<String, Life> = std::collections::HashMap::new();
    loop {
        cx.checkpoint(String::new)?;
        if monitor.is_some() {
            for c in containers {
                let now = Life::of(cx, c).await?;
                let before = first.entry(c.id.clone()).or_insert_with(|| now.clone());
                if let Some(why) = unsteady(before, &now) {
                    return Err(FlowError::Failed(format!(
                        "{} {why} (see `docker logs {}`)",
                        c.name, c.name
                    )));
                }
            }
        }
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
        let steady = monitor.is_none_or(|window| start.elapsed() >= window);
        let healthy = now
            .iter()
            .filter(|c| c.health.as_deref().is_none_or(|h| h == "healthy"))
            .filter(|c| passing.iter().any(|p| p.id == c.name))
            .count();
        waiting.update(&match monitor {
            Some(window) => format!(
                "{healthy} of {} instance(s) of {color} healthy, running steadily for {} of {}",
                containers.len(),
                seconds(start.elapsed().min(window)),
                seconds(window)
            ),
            None => format!(
                "{healthy} of {} instance(s) of {color} healthy",
                containers.len()
            ),
        });
        if docker_ok && consul_ok && steady {
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

/// `5s`, `1.5s`.
fn seconds(d: Duration) -> String {
    format!("{}s", (d.as_secs_f64() * 10.0).round() / 10.0)
}

/// What the monitor window watches of one instance (from `docker inspect`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Life {
    /// `running`, `restarting`, `exited`…
    status: String,
    /// Restarts by the container's restart policy.
    restarts: i64,
    /// Changes with every (re)start.
    started_at: String,
    exit_code: i64,
}

impl Life {
    async fn of(cx: &FlowContext, c: &Container) -> Result<Life, FlowError> {
        let info = cx
            .docker
            .inspect_container(&c.id, None)
            .await
            .map_err(|e| FlowError::Failed(format!("inspect {}: {e}", c.name)))?;
        let state = info.state.unwrap_or_default();
        Ok(Life {
            status: state.status.map(|s| s.to_string()).unwrap_or_default(),
            restarts: info.restart_count.unwrap_or(0),
            started_at: state.started_at.unwrap_or_default(),
            exit_code: state.exit_code.unwrap_or(0),
        })
    }
}

/// Why an instance is not steady since it was first seen (None: it still is): it restarted
/// (by its restart policy, even between two looks) or it no longer runs.
fn unsteady(first: &Life, now: &Life) -> Option<String> {
    if now.status == "restarting"
        || now.restarts > first.restarts
        || now.started_at != first.started_at
    {
        // The exit code is the last one only while it waits to be restarted.
        let code = if now.status == "restarting" {
            format!(" with code {}", now.exit_code)
        } else {
            String::new()
        };
        return Some(format!(
            "restarted during the monitor window (it exited{code} and its restart policy started it again)"
        ));
    }
    (now.status != "running").then(|| {
        format!(
            "stopped running during the monitor window ({}, exit code {})",
            now.status, now.exit_code
        )
    })
}

/// What the containers' own healthcheck allows (the engine's rule, from the image's
/// HEALTHCHECK merged with compose's: start period plus every retry); None without one.
async fn healthcheck_allowance(cx: &FlowContext, containers: &[Container]) -> Option<Duration> {
    let first = containers.first()?;
    let info = cx.docker.inspect_container(&first.id, None).await.ok()?;
    let hc = info.config.and_then(|c| c.healthcheck)?;
    let on = hc
        .test
        .as_ref()
        .is_some_and(|t| t.first().map(String::as_str) != Some("NONE"));
    on.then(|| engine::service::healthcheck_deadline(Some(&hc)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: &str) -> Service {
        Service {
            name: "worker".into(),
            spec: serde_yaml::from_str(yaml).expect("a compose service"),
            extras: Default::default(),
            file: "compose.yaml".into(),
        }
    }

    #[test]
    fn container_ports_are_the_tcp_targets_and_exposes_once_each() {
        let s = service(
            "image: x\nports:\n  - {target: 8080, published: 80}\n  - {target: 53, protocol: udp}\nexpose: ['8080', '9090/tcp', '5353/udp', '7000-7002']\n",
        );
        assert_eq!(container_ports(&s), [8080, 9090, 7000, 7001, 7002]);
        assert!(container_ports(&service("image: x\n")).is_empty());
    }

    #[test]
    fn a_routed_service_needs_exactly_one_port() {
        assert_eq!(
            only_port("api", &service("image: x\nexpose: ['8080']\n")).unwrap(),
            8080
        );
        let two = only_port("api", &service("image: x\nexpose: ['8080', '9090']\n"))
            .unwrap_err()
            .to_string();
        for want in [
            "api",
            "8080, 9090",
            "--port",
            "FLOW_PORT",
            "`port:` in docker-flow.yml",
        ] {
            assert!(two.contains(want), "{want:?} not in {two}");
        }
        let none = only_port("api", &service("image: x\n"))
            .unwrap_err()
            .to_string();
        assert!(
            none.contains("no container port") && none.contains("--port"),
            "{none}"
        );
    }

    fn life(status: &str, restarts: i64, started: &str) -> Life {
        Life {
            status: status.into(),
            restarts,
            started_at: started.into(),
            exit_code: 1,
        }
    }

    #[test]
    fn the_monitor_window_fails_an_instance_that_exits_or_restarts() {
        let first = life("running", 0, "t0");
        assert_eq!(unsteady(&first, &first.clone()), None);
        // Restarted between two looks: the count or the start time moved.
        for now in [
            life("running", 1, "t1"),
            life("running", 0, "t1"),
            life("restarting", 0, "t0"),
        ] {
            let why = unsteady(&first, &now).expect("unsteady");
            assert!(why.contains("restarted"), "{why}");
        }
        let why = unsteady(&first, &life("exited", 0, "t0")).expect("unsteady");
        assert!(
            why.contains("exited") && why.contains("exit code 1"),
            "{why}"
        );
    }
}
