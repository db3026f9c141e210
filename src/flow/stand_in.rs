//! The target's stand-in: an HAProxy container of the target's own that answers, inside the
//! project, to the names the target's containers would have had under `docker compose up` (the
//! service name, declared aliases, `container_name`), listens on every port of the target and
//! publishes its fixed host ports, and sends everything to the live colour. The colours run
//! under coloured names, unpublished, so two of them never compete for a name or a host port.
//! Design and reasons: docs/stand-in.md.
//!
//! [`plan`] decides what the stand-in must be (pure); [`sync`] makes it so after a flow changed
//! the live colour or its instances; [`drain`] retires instances from it.

use docker_compose_types as dct;
use std::collections::BTreeMap;

use crate::compose::{Project, Service};
use crate::proxy::{Mode, Proxy, ProxyModel, ProxyOptions, Server, ServiceModel, StandIn};
use crate::release::{Color, ReleaseState, Routes};

use super::context::FlowContext;
use super::deploy::Base;
use super::error::FlowError;
use super::observe::{Container, LABEL_COLOR};
use super::runtime::Runtime;

/// The stand-in's container name.
pub fn container_name(service: &str) -> String {
    format!("{service}-standin")
}

/// The container ports `service` listens on (`ports` targets and `expose`, TCP), sorted.
pub fn ports_of(service: &Service) -> Vec<u16> {
    let mut ports = super::deploy::container_ports(service);
    ports.sort_unstable();
    ports
}

/// More listeners than this is an `expose` range meant for something else, not a stand-in.
const MAX_LISTENERS: usize = 64;

/// Whether the target gets a stand-in: containers on a plain engine, on networks of their own
/// (not `network_mode`), listening on some port.
pub fn applies(runtime: Runtime, service: &Service) -> bool {
    runtime == Runtime::Containers
        && service.spec.network_mode.is_none()
        && !ports_of(service).is_empty()
}

/// A colour's service as the engine runs it beside a stand-in: no declared aliases and no fixed
/// host ports (the stand-in holds them), so both colours can run at once.
pub fn strip_for_colour(service: &mut Service) {
    if let dct::Networks::Advanced(a) = &mut service.spec.networks {
        for cfg in a.0.values_mut() {
            if let dct::MapOrEmpty::Map(c) = cfg {
                c.aliases.clear();
            }
        }
    }
    if let dct::Ports::Long(list) = &mut service.spec.ports {
        list.retain(|p| p.published.is_none());
    }
}

/// The names `service` declares on network `key`: its declared aliases, and `container_name`.
fn declared_names(service: &Service, key: &str) -> Vec<String> {
    let mut names = Vec::new();
    if let dct::Networks::Advanced(a) = &service.spec.networks {
        if let Some(dct::MapOrEmpty::Map(c)) = a.0.get(key) {
            names.extend(c.aliases.iter().cloned());
        }
    }
    names.extend(service.spec.container_name.iter().cloned());
    names
}

/// What the stand-in of `target` must be (pure), from the compose service its live release was
/// started from; None when it needs none. Bad input (a name another service claims, a UDP
/// host port, a `--mode` for a port the target does not listen on, TCP on a path-routed port)
/// is an error naming its source.
pub fn plan(
    project: &Project,
    target: &str,
    service_name: &str,
    base: &Service,
    modes: &[(Option<u16>, Mode)],
    routes: &Routes,
) -> Result<Option<StandIn>, FlowError> {
    let ports = ports_of(base);
    let file = base.file.display();
    for (port, _) in modes {
        if let Some(p) = port.filter(|p| !ports.contains(p)) {
            return Err(FlowError::Invalid(format!(
                "--mode (FLOW_MODE, mode:) names port {p}, which {target} does not listen on (its ports in {file}: {})",
                list(&ports)
            )));
        }
    }
    let mode_of = |port: u16| {
        modes
            .iter()
            .rev()
            .find(|(p, _)| *p == Some(port))
            .or_else(|| modes.iter().rev().find(|(p, _)| p.is_none()))
            .map_or(Mode::Http, |(_, m)| *m)
    };
    let routed = !routes.paths.is_empty() || !routes.domains.is_empty();
    if routed && routes.port != 0 && mode_of(routes.port) == Mode::Tcp {
        return Err(FlowError::Invalid(format!(
            "--mode (FLOW_MODE, mode:) makes port {} of {target} TCP, but the proxy routes it by path or domain, which needs HTTP: give the routed port http (`--mode {}=http`) or drop the route",
            routes.port, routes.port
        )));
    }
    if let dct::Ports::Long(list) = &base.spec.ports {
        if let Some(p) = list
            .iter()
            .find(|p| p.published.is_some() && p.protocol.as_deref().is_some_and(|x| x != "tcp"))
        {
            return Err(FlowError::Invalid(format!(
                "{file}: services.{target}.ports publishes {}/{} on a fixed host port: docker flow moves fixed host ports to the target's stand-in, which passes on TCP only; publish it without a host port, or run this service with docker compose",
                p.target,
                p.protocol.as_deref().unwrap_or("tcp")
            )));
        }
    }
    if ports.is_empty() || base.spec.network_mode.is_some() {
        return Ok(None);
    }
    if ports.len() > MAX_LISTENERS {
        return Err(FlowError::Invalid(format!(
            "{file}: services.{target} lists {} container ports in `ports` and `expose` (from {} to {}): its stand-in listens on each, and takes {MAX_LISTENERS} at most; list the ports other services call",
            ports.len(),
            ports[0],
            ports[ports.len() - 1]
        )));
    }
    let aliases = aliases(project, target, base)?;
    let published = published(base, target)?;
    Ok(Some(StandIn {
        aliases,
        listeners: ports.iter().map(|p| (*p, mode_of(*p))).collect(),
        published,
        service: service_name.to_string(),
        project: project.name.clone(),
    }))
}

fn list(ports: &[u16]) -> String {
    if ports.is_empty() {
        return "none".into();
    }
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per engine network of the target: the target's name, declared aliases and container_name.
/// A name another service of the project holds on the same network is refused: both would
/// answer to it.
fn aliases(
    project: &Project,
    target: &str,
    base: &Service,
) -> Result<Vec<(String, Vec<String>)>, FlowError> {
    let mut out = Vec::new();
    for key in crate::engine::resources::service_network_keys(base) {
        let Some(net) = project.networks.get(&key) else {
            continue;
        };
        let mut names = vec![target.to_string()];
        for n in declared_names(base, &key) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        for (other_name, other) in project.services.iter().filter(|(n, _)| *n != target) {
            if !crate::engine::resources::service_network_keys(other).contains(&key) {
                continue;
            }
            let theirs: Vec<String> = std::iter::once(other_name.clone())
                .chain(declared_names(other, &key))
                .collect();
            if let Some(clash) = names.iter().find(|n| theirs.contains(n)) {
                return Err(FlowError::Invalid(format!(
                    "{}: service {other_name} also answers to `{clash}` on network {key}, the name {target}'s stand-in takes there (from services.{target} in {}): the project would have two containers behind one name and one port; rename one of them",
                    other.file.display(),
                    base.file.display()
                )));
            }
        }
        out.push((net.name.clone(), names));
    }
    Ok(out)
}

/// The target's fixed host ports: (host address, host port, container port).
fn published(base: &Service, target: &str) -> Result<Vec<(String, u16, u16)>, FlowError> {
    let dct::Ports::Long(list) = &base.spec.ports else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in list {
        let host = match &p.published {
            None => continue,
            Some(dct::PublishedPort::Single(h)) => *h,
            Some(dct::PublishedPort::Range(r)) => r.parse::<u16>().map_err(|_| {
                FlowError::Invalid(format!(
                    "{}: services.{target}.ports publishes container port {} on the host port range {r}: a stand-in publishes fixed single ports only",
                    base.file.display(),
                    p.target
                ))
            })?,
        };
        let ip = p
            .host_ip
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| "0.0.0.0".into());
        out.push((ip, host, p.target));
    }
    Ok(out)
}

/// The stand-in's model: per listener, the running instances of each colour that Consul
/// passes, at their address on the target's first network.
fn model(
    stand_in: &StandIn,
    live: Color,
    instances: &BTreeMap<Color, Vec<(String, String)>>,
) -> ProxyModel {
    let services = stand_in
        .listeners
        .iter()
        .map(|(port, _)| ServiceModel {
            name: StandIn::backend_service(&stand_in.service, *port),
            live,
            routes: Routes {
                port: *port,
                ..Default::default()
            },
            servers: Color::ALL
                .into_iter()
                .map(|c| {
                    let list = instances.get(&c).map(Vec::as_slice).unwrap_or(&[]);
                    let servers = list
                        .iter()
                        .map(|(name, address)| Server {
                            name: name.clone(),
                            address: address.clone(),
                            port: *port,
                        })
                        .collect();
                    (c, servers)
                })
                .collect(),
            template: None,
        })
        .collect();
    ProxyModel { services }
}

fn handle(cx: &FlowContext, stand_in: StandIn) -> Proxy {
    Proxy::new(
        cx.docker.clone(),
        ProxyOptions {
            container: container_name(&cx.service),
            image: cx.settings.proxy.image.clone(),
            networks: stand_in.aliases.iter().map(|(n, _)| n.clone()).collect(),
            stand_in: Some(stand_in),
            ..ProxyOptions::default()
        },
    )
}

/// Makes the stand-in send everything to `state`'s live colour, creating it at the first
/// switch (then the containers `docker compose up` started for the target leave: the stand-in
/// holds their names and host ports). After a switch from `before`, TCP connections still open
/// on it drain for up to --drain-timeout, then close.
pub async fn sync(
    cx: &FlowContext,
    flow: &str,
    state: &ReleaseState,
    before: Option<Color>,
) -> Result<(), FlowError> {
    let Some(live) = state.live else {
        return Ok(());
    };
    if cx.runtime != Runtime::Containers {
        return Ok(());
    }
    let observed = super::runtime::observe(cx).await?;
    let live_instances: Vec<Container> = observed.running(live).into_iter().cloned().collect();
    let base = Base::of_release(cx, &live_instances).await;
    let routes = state.routes.clone().unwrap_or_default();
    let Some(stand_in) = plan(
        &cx.project,
        &cx.target,
        &cx.service,
        &base.service,
        &cx.settings.proxy.modes,
        &routes,
    )?
    else {
        return Ok(());
    };
    let instances = passing_instances(cx, &observed).await?;
    let desired = model(&stand_in, live, &instances);
    let tcp: Vec<String> = stand_in
        .listeners
        .iter()
        .filter(|(_, m)| *m == Mode::Tcp)
        .map(|(p, _)| StandIn::backend_service(&stand_in.service, *p))
        .collect();
    let holds_ports = !stand_in.published.is_empty();
    let proxy = handle(cx, stand_in);
    let name = container_name(&cx.service);
    let exists = cx.docker.inspect_container(&name, None).await.is_ok();
    let compose_own = compose_own(cx).await?;
    if !exists && holds_ports {
        // The host ports are theirs until they stop: a short gap for clients of those ports.
        retire(cx, flow, &compose_own).await?;
    }
    for line in proxy.ensure_report(&desired).await? {
        cx.report.step(flow, &cx.service, &line);
    }
    let applied = proxy.apply(&desired).await?;
    if applied.runtime_commands > 0 || applied.reloaded {
        cx.report.step(
            flow,
            &cx.service,
            &format!("stand-in {name}: in-project calls reach {live}"),
        );
    }
    if exists || !holds_ports {
        retire(cx, flow, &compose_own).await?;
    }
    if let Some(old) = before.filter(|b| *b != live && !tcp.is_empty()) {
        let closed = proxy
            .close_sessions(&tcp, old, cx.settings.drain_timeout)
            .await?;
        if closed > 0 {
            cx.report.step(
                flow,
                &cx.service,
                &format!(
                    "closed {closed} TCP connection(s) still open on {old} after --drain-timeout ({}s)",
                    cx.settings.drain_timeout.as_secs()
                ),
            );
        }
    }
    Ok(())
}

/// Per colour, the running instances Consul passes: (container name, address on the target's
/// first network).
async fn passing_instances(
    cx: &FlowContext,
    observed: &super::observe::Observed,
) -> Result<BTreeMap<Color, Vec<(String, String)>>, FlowError> {
    let mut instances = BTreeMap::new();
    for c in Color::ALL {
        let passing = cx
            .consul
            .instances(&format!("{}-{c}", cx.service), true)
            .await?;
        let list: Vec<(String, String)> = observed
            .running(c)
            .into_iter()
            .filter(|o| passing.iter().any(|p| p.id == o.name))
            .filter_map(|o| {
                let addr = super::deploy::network_address(cx, o)?;
                Some((o.name.clone(), addr.clone()))
            })
            .collect();
        instances.insert(c, list);
    }
    Ok(instances)
}

/// Containers `docker compose up` started for the target (its compose labels, no colour):
/// they answer to the names the stand-in takes.
async fn compose_own(cx: &FlowContext) -> Result<Vec<(String, String)>, FlowError> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![
            format!("com.docker.compose.project={}", cx.project.name),
            format!("com.docker.compose.service={}", cx.target),
        ],
    )]);
    let opts = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let list = cx
        .docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| FlowError::Failed(format!("list the containers of {}: {e}", cx.target)))?;
    Ok(list
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .is_none_or(|l| !l.contains_key(LABEL_COLOR))
        })
        .filter_map(|c| {
            let name = c.names?.first()?.trim_start_matches('/').to_string();
            Some((c.id?, name))
        })
        .collect())
}

/// Stops (gracefully, with the container's own stop timeout) and removes `containers`.
async fn retire(
    cx: &FlowContext,
    flow: &str,
    containers: &[(String, String)],
) -> Result<(), FlowError> {
    for (id, name) in containers {
        cx.report.step(
            flow,
            &cx.service,
            &format!(
                "{name} (started by docker compose) stops: the stand-in answers as {} now",
                cx.target
            ),
        );
        cx.docker
            .stop_container(id, None)
            .await
            .map_err(|e| FlowError::Failed(format!("stop {name}: {e}")))?;
        let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .build();
        cx.docker
            .remove_container(id, Some(opts))
            .await
            .map_err(|e| FlowError::Failed(format!("remove {name}: {e}")))?;
    }
    Ok(())
}

/// Says where a target's `container_name` went: the stand-in answers to it, the instances run
/// under coloured names.
pub fn say_container_name(cx: &FlowContext, flow: &str) {
    let target = &cx.project.services[&cx.target];
    if let (Some(name), true) = (&target.spec.container_name, applies(cx.runtime, target)) {
        cx.report.step(flow, &cx.service, &format!(
            "container_name {name}: the instances run as {}-<colour>-<n>, and the stand-in {} answers to {name} from the first switch on",
            cx.service,
            container_name(&cx.service)
        ));
    }
}

/// Bad input a stand-in would meet, found before a flow changes anything: what [`plan`]
/// refuses for the target as the compose file says now, and a `container_name` (the stand-in
/// answers to it) that a container other than the target's own already has.
pub async fn check(cx: &FlowContext, routes: &Routes) -> Result<(), FlowError> {
    let target = &cx.project.services[&cx.target];
    if !applies(cx.runtime, target) {
        return Ok(());
    }
    plan(
        &cx.project,
        &cx.target,
        &cx.service,
        target,
        &cx.settings.proxy.modes,
        routes,
    )?;
    let Some(name) = &target.spec.container_name else {
        return Ok(());
    };
    let Ok(info) = cx.docker.inspect_container(name, None).await else {
        return Ok(());
    };
    let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
    let ours = labels.get("com.docker.compose.project") == Some(&cx.project.name)
        && labels.get("com.docker.compose.service") == Some(&cx.target);
    if ours {
        return Ok(());
    }
    Err(FlowError::Invalid(format!(
        "{}: services.{}.container_name is `{name}`, the name of another container on this engine (not one of {}'s): its stand-in would answer to that name beside it; rename one of them. Nothing was changed",
        target.file.display(),
        cx.target,
        cx.target
    )))
}

/// Drains `names` (containers of `color`) from the stand-in, when it runs: no new requests or
/// connections, open ones finish (bounded by --drain-timeout), then maintenance.
pub async fn drain(cx: &FlowContext, color: Color, names: &[String]) -> Result<(), FlowError> {
    if cx.runtime != Runtime::Containers || names.is_empty() {
        return Ok(());
    }
    let name = container_name(&cx.service);
    let Ok(info) = cx.docker.inspect_container(&name, None).await else {
        return Ok(());
    };
    if !info.state.and_then(|s| s.running).unwrap_or(false) {
        return Ok(());
    }
    let target = &cx.project.services[&cx.target];
    let ports = ports_of(target);
    let stand_in = StandIn {
        listeners: ports.iter().map(|p| (*p, Mode::Http)).collect(),
        service: cx.service.clone(),
        project: cx.project.name.clone(),
        ..StandIn::default()
    };
    let proxy = handle(cx, stand_in);
    // One port after the other: each drain rewrites the config file.
    for p in &ports {
        let svc = StandIn::backend_service(&cx.service, *p);
        proxy
            .drain(&svc, color, names, cx.settings.drain_timeout)
            .await?;
    }
    Ok(())
}
