//! Where a release runs: loose containers on a plain engine (as Compose runs them), or Swarm
//! services on a Swarm manager. The flows call the few operations that differ (observe, start a
//! colour, take it out of service, remove it, bring it back) and keep one state logic.
//!
//! On Swarm a colour is one service `<project>_<target>-<colour>`; its tasks stand where the
//! containers stand in [`Observed`] (name `<service>.<slot>.<task id>`, number = slot), so the
//! proxy, Consul and the flows see instances either way. The health gate is the task state:
//! Swarm keeps a task `starting` until its healthcheck passes (Consul on the host cannot reach
//! overlay addresses to check them itself; see docs/swarm.md).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::engine::secrets;
use crate::engine::swarm::{self, SwarmService, SwarmTask};
use crate::release::Color;

use super::context::FlowContext;
use super::deploy::{color_project, flow_labels, target_networks, Base};
use super::error::FlowError;
use super::observe::{self, Container, Observed, LABEL_SERVICE};
use super::reach::Reach;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// A plain engine: each instance is a container.
    Containers,
    /// A Swarm manager: each colour is a replicated service, each instance a task.
    Swarm,
}

impl Runtime {
    pub async fn detect(docker: &bollard::Docker) -> Result<Runtime, FlowError> {
        Ok(if swarm::is_manager(docker).await? {
            Runtime::Swarm
        } else {
            Runtime::Containers
        })
    }
}

/// The Swarm service name of a colour: `<project>_<target>-<colour>` (a stack's naming).
pub fn service_name(cx: &FlowContext, color: Color) -> String {
    format!("{}_{}-{color}", cx.project.name, cx.target)
}

/// What runs of the target, by colour.
pub async fn observe(cx: &FlowContext) -> Result<Observed, FlowError> {
    match cx.runtime {
        Runtime::Containers => Ok(observe::observe(&cx.docker, &cx.service).await?),
        Runtime::Swarm => observe_swarm(cx).await,
    }
}

async fn observe_swarm(cx: &FlowContext) -> Result<Observed, FlowError> {
    let services = swarm::services_labelled(&cx.docker, LABEL_SERVICE, &cx.service).await?;
    let mut addresses: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    // Overlay addresses matter only to a proxy on the overlay (on another engine the proxy
    // reaches published ports, and the manager holds no record of those networks anyway).
    let overlay = match cx.reach {
        Reach::Networks => target_networks(&cx.project, &cx.target),
        Reach::Published(_) => Vec::new(),
    };
    for network in overlay {
        // A network not created yet holds no task.
        for (task, ip) in swarm::task_addresses(&cx.docker, &network)
            .await
            .unwrap_or_default()
        {
            addresses
                .entry(task)
                .or_default()
                .insert(network.clone(), ip);
        }
    }
    // A proxy on another engine reaches each task at its node's address.
    let nodes = match cx.reach {
        Reach::Published(_) => swarm::nodes(&cx.docker).await?,
        Reach::Networks => HashMap::new(),
    };
    let mut out = Observed::default();
    for service in services {
        let Some(color) = service
            .labels
            .get(observe::LABEL_COLOR)
            .and_then(|c| Color::parse(c))
        else {
            continue;
        };
        let tasks = swarm::tasks(&cx.docker, &service.id).await?;
        let mut list: Vec<Container> = tasks
            .iter()
            .filter(|t| t.desired == "running")
            .map(|t| {
                let node = nodes.get(&t.node).map(|(_, addr)| addr.as_str());
                task_instance(&service, t, &addresses, node)
            })
            .collect();
        list.sort_by_key(|c| c.number);
        out.by_color.insert(color, list);
        out.services.insert(color, service);
    }
    Ok(out)
}

fn task_instance(
    service: &SwarmService,
    task: &SwarmTask,
    addresses: &HashMap<String, BTreeMap<String, String>>,
    node_addr: Option<&str>,
) -> Container {
    let name = task.name(&service.name);
    let checked = service.healthcheck.as_ref().is_some_and(|h| {
        h.test
            .as_ref()
            .is_some_and(|t| t.first().map(String::as_str) != Some("NONE"))
    });
    Container {
        id: task.id.clone(),
        number: task.slot,
        running: task.state == "running",
        // Swarm holds a task in `starting` until its healthcheck passes.
        health: match task.state.as_str() {
            "running" if checked => Some("healthy".into()),
            "starting" if checked => Some("starting".into()),
            _ => None,
        },
        image: task.image.clone(),
        addresses: addresses.get(&name).cloned().unwrap_or_default(),
        // Host-mode ports, at the address of the task's node.
        published: node_addr.map_or(Vec::new(), |addr| {
            task.ports
                .iter()
                .map(|(target, port)| (*target, addr.to_string(), *port))
                .collect()
        }),
        name,
    }
}

/// Brings the colour's service to `scale` tasks, creating it when missing, and waits until every
/// task runs (healthy) and has its overlay address. A failed or rejected task, or the deadline,
/// is an error; the caller decides what to undo.
pub async fn start_swarm(
    cx: &FlowContext,
    flow: &str,
    color: Color,
    scale: u32,
    port: u16,
    base: &Base,
) -> Result<Vec<Container>, FlowError> {
    let name = service_name(cx, color);
    let observed = observe_swarm(cx).await?;
    let before: HashSet<String> = match observed.services.get(&color) {
        Some(s) => swarm::tasks(&cx.docker, &s.id)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect(),
        None => HashSet::new(),
    };
    if observed.services.contains_key(&color) {
        anchor_proxy(cx, flow, port).await?;
        swarm::scale_service(&cx.docker, &name, scale).await?;
    } else {
        let (project, compose_name) = color_project(cx, color, false, port, base);
        let service = &project.services[&compose_name];
        // Checked before anything is created: a key Swarm cannot carry changes nothing.
        let mut spec = swarm::service_spec(
            &project,
            service,
            &name,
            &flow_labels(cx, color, base),
            scale,
        )?;
        let key = object_key(cx, service).await?;
        secrets::ensure_swarm_objects(&cx.docker, &project, service, &mut spec, &key).await?;
        swarm::ensure_overlay_networks(&cx.docker, &project, service).await?;
        anchor_proxy(cx, flow, port).await?;
        cx.report
            .step(flow, &cx.service, &format!("creating service {name}"));
        if let Err(e) = swarm::create_service(&cx.docker, spec.clone()).await {
            // A shared secret or config pruned by another target's flow between our look-up
            // and the create: made again, then one more try.
            if service.extras.secrets.is_empty() && service.extras.configs.is_empty() {
                return Err(e.into());
            }
            secrets::ensure_swarm_objects(&cx.docker, &project, service, &mut spec, &key).await?;
            swarm::create_service(&cx.docker, spec).await?;
        }
    }
    converge(cx, flow, color, scale, port, &before).await
}

/// The proxy runs on the manager and is on the target's networks before tasks start. A node
/// learns task addresses (the network's service records) only for networks it has a container
/// on: with every task on other nodes, the proxy is the manager's only presence there, and it
/// must reach the tasks anyway. Created from Consul's picture when missing, as `proxy` would.
async fn anchor_proxy(cx: &FlowContext, flow: &str, port: u16) -> Result<(), FlowError> {
    if cx.reach != Reach::Networks || port == 0 {
        // On another engine the proxy reaches published ports: it joins no overlay. A service
        // nothing routes to (port 0) needs no proxy at all.
        return Ok(());
    }
    let (state, _) = cx.consul.read_state(&cx.service).await?;
    cx.proxy_locked(|| async {
        let model = super::model::build(cx, &state).await?;
        cx.report.step(
            flow,
            &cx.service,
            &format!(
                "ensuring the proxy {} runs on the target's networks",
                cx.settings.proxy.name
            ),
        );
        Ok(cx.proxy()?.ensure(&model).await?)
    })
    .await
}

const ENDED: &[&str] = &[
    "complete", "shutdown", "failed", "rejected", "orphaned", "remove",
];

async fn converge(
    cx: &FlowContext,
    flow: &str,
    color: Color,
    scale: u32,
    port: u16,
    before: &HashSet<String>,
) -> Result<Vec<Container>, FlowError> {
    let name = service_name(cx, color);
    let networks = target_networks(&cx.project, &cx.target);
    let mut deadline = cx.settings.health_timeout;
    let waiting = cx.report.wait(
        flow,
        &cx.service,
        &format!("waiting until {scale} task(s) of {name} run healthy"),
    );
    let start = Instant::now();
    loop {
        cx.checkpoint(String::new)?;
        let observed = observe_swarm(cx).await?;
        let Some(service) = observed.services.get(&color) else {
            return Err(FlowError::Failed(format!("service {name} disappeared")));
        };
        let deadline = *deadline.get_or_insert_with(|| {
            // The healthcheck's own allowance, plus time to schedule and start the tasks.
            crate::engine::service::healthcheck_deadline(service.healthcheck.as_ref())
                + Duration::from_secs(30)
        });
        let tasks = swarm::tasks(&cx.docker, &service.id).await?;
        // A task started for this change that ended: failed, rejected, or killed by Swarm as
        // unhealthy (the demo then exits 0: `complete`).
        if let Some(bad) = tasks
            .iter()
            .find(|t| !before.contains(&t.id) && ENDED.contains(&t.state.as_str()))
        {
            return Err(FlowError::Failed(format!(
                "task {} ended before it ran healthy ({}: {}; see `docker service ps --no-trunc {name}`)",
                bad.name(&name),
                bad.state,
                bad.error
            )));
        }
        let current = observed.of(color);
        // Reachable: on the overlay networks, or (a proxy on another engine) published; a task
        // nothing routes to (port 0) only runs.
        let ready = current
            .iter()
            .filter(|c| {
                c.running
                    && (port == 0
                        || match cx.reach {
                            Reach::Networks => networks.iter().all(|n| c.addresses.contains_key(n)),
                            Reach::Published(_) => !c.published.is_empty(),
                        })
            })
            .count();
        waiting.update(&format!("{ready} of {scale} task(s) of {name} running"));
        if ready == scale as usize && current.len() == scale as usize {
            return Ok(current.to_vec());
        }
        if start.elapsed() > deadline {
            return Err(FlowError::Failed(format!(
                "{name} did not run {scale} healthy task(s) within {}s (set --health-timeout to wait longer; see `docker service ps --no-trunc {name}`)",
                deadline.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Builds every spec this deploy would create (the colour and the side targets) without
/// creating anything: a key Swarm cannot carry, or an external secret/config missing, is bad
/// input (exit 2), found before any change.
pub async fn check_specs(
    cx: &FlowContext,
    color: Color,
    scale: u32,
    port: u16,
) -> Result<(), FlowError> {
    let invalid =
        |e: crate::engine::EngineError| FlowError::Invalid(format!("{e}; nothing was changed"));
    let base = Base::current(cx);
    let (project, compose_name) = color_project(cx, color, false, port, &base);
    swarm::service_spec(
        &project,
        &project.services[&compose_name],
        &service_name(cx, color),
        &flow_labels(cx, color, &base),
        scale,
    )
    .map_err(invalid)?;
    for side in &cx.settings.side_targets {
        swarm::service_spec(
            &cx.project,
            &cx.project.services[side],
            &format!("{}_{side}", cx.project.name),
            &indexmap::IndexMap::new(),
            1,
        )
        .map_err(invalid)?;
    }
    for name in std::iter::once(&compose_name).chain(&cx.settings.side_targets) {
        let service = &project.services[name];
        let objects = secrets::swarm_objects(&project, service, None).map_err(invalid)?;
        // A missing external object is bad input; the engine not answering is a failure.
        secrets::check_external(&cx.docker, service, &objects)
            .await
            .map_err(|e| match e {
                crate::engine::EngineError::Resource(_) => invalid(e),
                other => other.into(),
            })?;
    }
    Ok(())
}

/// The key the names of the service's secrets and configs are hashed with (from Consul, made on
/// first use); none asked for when the service has neither.
async fn object_key(
    cx: &FlowContext,
    service: &crate::compose::Service,
) -> Result<Vec<u8>, FlowError> {
    if service.extras.secrets.is_empty() && service.extras.configs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(cx.consul.object_key().await?)
}

/// A side target as the Swarm service `<project>_<side>` on the project's overlay networks:
/// created when missing, else updated with the full spec (Swarm restarts nothing when the spec
/// is unchanged). Not waited for, as Compose does not wait for a started side container.
pub async fn up_side_service(cx: &FlowContext, side: &str) -> Result<(), FlowError> {
    let service = &cx.project.services[side];
    let name = format!("{}_{side}", cx.project.name);
    let replicas = service
        .spec
        .deploy
        .as_ref()
        .and_then(|d| d.replicas)
        .map_or(1, |r| u32::try_from(r.max(1)).unwrap_or(1));
    let labels =
        indexmap::IndexMap::from([("com.docker.flow.side-of".to_string(), cx.service.clone())]);
    let mut spec = swarm::service_spec(&cx.project, service, &name, &labels, replicas)?;
    let key = object_key(cx, service).await?;
    secrets::ensure_swarm_objects(&cx.docker, &cx.project, service, &mut spec, &key).await?;
    swarm::ensure_overlay_networks(&cx.docker, &cx.project, service).await?;
    swarm::create_or_update(&cx.docker, spec).await?;
    Ok(())
}

/// Takes the colour out of service after it was drained and deregistered: containers stop,
/// a Swarm service goes to 0 replicas (its spec stays for rollback).
pub async fn halt(
    cx: &FlowContext,
    flow: &str,
    color: Color,
    containers: &[&Container],
) -> Result<(), FlowError> {
    match cx.runtime {
        Runtime::Containers => {
            for c in containers {
                cx.report
                    .step(flow, &cx.service, &format!("stopping {}", c.name));
                cx.docker
                    .stop_container(&c.id, None)
                    .await
                    .map_err(|e| FlowError::Failed(format!("stop {}: {e}", c.name)))?;
            }
        }
        Runtime::Swarm => {
            let name = service_name(cx, color);
            cx.report.step(
                flow,
                &cx.service,
                &format!("scaling service {name} to 0 (its spec is kept)"),
            );
            swarm::scale_service(&cx.docker, &name, 0).await?;
        }
    }
    Ok(())
}

/// Removes the colour's containers, or its Swarm service (after deregistration).
pub async fn remove(
    cx: &FlowContext,
    flow: &str,
    color: Color,
    containers: &[Container],
) -> Result<(), FlowError> {
    match cx.runtime {
        Runtime::Containers => {
            for c in containers {
                cx.report
                    .step(flow, &cx.service, &format!("removing {} ({color})", c.name));
                let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build();
                if let Err(e) = cx.docker.remove_container(&c.id, Some(opts)).await {
                    if !e.to_string().contains("No such container") {
                        return Err(FlowError::Failed(format!("remove {}: {e}", c.name)));
                    }
                }
            }
        }
        Runtime::Swarm => {
            let name = service_name(cx, color);
            if observe_swarm(cx).await?.services.contains_key(&color) {
                let held = secrets::held_by(&cx.docker, &name).await?;
                cx.report
                    .step(flow, &cx.service, &format!("removing service {name}"));
                swarm::remove_service(&cx.docker, &name).await?;
                // The secrets and configs only this release used go with it.
                for gone in secrets::prune(&cx.docker, &held).await {
                    cx.report.step(
                        flow,
                        &cx.service,
                        &format!("removed {gone}, which only {name} used"),
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(healthcheck: Option<Vec<&str>>) -> SwarmService {
        SwarmService {
            id: "svc".into(),
            name: "shop_web-blue".into(),
            labels: HashMap::new(),
            replicas: 2,
            image: "dockerflow/demo:0.1.0".into(),
            healthcheck: healthcheck.map(|t| bollard::models::HealthConfig {
                test: Some(t.into_iter().map(String::from).collect()),
                ..Default::default()
            }),
        }
    }

    fn task(slot: u32, state: &str) -> SwarmTask {
        SwarmTask {
            id: format!("t{slot}"),
            slot,
            state: state.into(),
            desired: "running".into(),
            error: String::new(),
            image: "dockerflow/demo:0.1.0".into(),
            node: "n1".into(),
            ports: vec![(8080, 30001)],
        }
    }

    #[test]
    fn tasks_stand_as_instances_with_the_task_state_as_health() {
        let addresses = HashMap::from([(
            "shop_web-blue.1.t1".to_string(),
            BTreeMap::from([("shop_default".to_string(), "192.0.2.5".to_string())]),
        )]);
        let checked = service(Some(vec!["CMD", "/demo", "health"]));
        let running = task_instance(&checked, &task(1, "running"), &addresses, None);
        assert_eq!(running.name, "shop_web-blue.1.t1");
        assert_eq!(running.number, 1);
        assert!(running.running);
        assert_eq!(running.health.as_deref(), Some("healthy"));
        assert_eq!(running.addresses["shop_default"], "192.0.2.5");
        assert!(
            running.published.is_empty(),
            "no node address: not reached by port"
        );
        // With a proxy on another engine: the host-mode port at the task's node address.
        let far = task_instance(
            &checked,
            &task(1, "running"),
            &addresses,
            Some("192.0.2.11"),
        );
        assert_eq!(far.published, vec![(8080, "192.0.2.11".to_string(), 30001)]);
        let starting = task_instance(&checked, &task(2, "starting"), &addresses, None);
        assert!(!starting.running);
        assert_eq!(starting.health.as_deref(), Some("starting"));
        assert!(starting.addresses.is_empty());
        // Without a healthcheck (or with NONE) there is no health to report.
        for s in [service(None), service(Some(vec!["NONE"]))] {
            assert_eq!(
                task_instance(&s, &task(1, "running"), &addresses, None).health,
                None
            );
        }
    }
}
