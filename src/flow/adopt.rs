//! Tasks Swarm replaced on its own, brought into Consul and the proxy before a flow runs.
//!
//! When a node goes down (or a task dies), Swarm starts a replacement task elsewhere, at a new
//! address. Consul still holds the old task, which points at nothing, and does not know the new
//! one. Every run on Swarm (before its first flow) brings Consul to the tasks that run: for each
//! colour Consul has instances of, a running task it lacks is registered and a registration
//! whose task Swarm no longer wants running is removed. When that changes the live colour, the
//! proxy is updated too, so `docker flow proxy reconcile` (or any flow) restores full capacity
//! after a node loss.
//!
//! On a plain engine nothing starts instances on its own, but a container can be removed by hand
//! while registered: `proxy reconcile` drops such registrations (`register` false).

use crate::registry::{Check, Registration};
use crate::release::Color;

use super::context::FlowContext;
use super::deploy::address_of;
use super::error::FlowError;
use super::model;

/// Before a run's first flow on Swarm: best effort, since a flow during an incident (a
/// rollback while a node is down) must not fail for it; what went wrong is reported.
pub async fn follow_swarm(cx: &FlowContext, flow: &str) {
    if let Err(e) = adopt(cx, flow, true).await {
        cx.report.step(
            flow,
            &cx.service,
            &format!("could not follow the tasks Swarm replaced ({e}); going on"),
        );
    }
}

/// What changed, one line each (empty: Consul already matched what runs). `register`: also
/// register running instances Consul lacks (Swarm's replacements).
pub async fn adopt(cx: &FlowContext, flow: &str, register: bool) -> Result<Vec<String>, FlowError> {
    let (state, _) = cx.consul.read_state(&cx.service).await?;
    let Some(routes) = state.routes.as_ref() else {
        return Ok(Vec::new());
    };
    let observed = super::runtime::observe(cx).await?;
    let mut changes = Vec::new();
    let mut live_changed = false;
    for color in Color::ALL {
        let name = format!("{}-{color}", cx.service);
        let registered = cx.consul.instances(&name, false).await?;
        if registered.is_empty() {
            // Not registered by a flow (stopped, or never deployed): nothing to follow.
            continue;
        }
        // Instances that exist (on Swarm: tasks Swarm wants running; a running one with its
        // address is healthy, the task state being the gate there).
        let tasks = observed.of(color);
        for gone in registered
            .iter()
            .filter(|r| !tasks.iter().any(|t| t.name == r.id))
        {
            cx.consul.deregister(&gone.id).await?;
            changes.push(format!(
                "deregistered {} ({}:{}): it no longer runs",
                gone.id, gone.address, gone.port
            ));
            live_changed |= state.live == Some(color);
        }
        for task in tasks
            .iter()
            .filter(|t| register && t.running && !registered.iter().any(|r| r.id == t.name))
        {
            let Ok((address, port)) = address_of(cx, task, routes.port) else {
                // No address yet: the next flow registers it.
                continue;
            };
            cx.consul
                .register(&Registration {
                    id: task.name.clone(),
                    name: name.clone(),
                    address: address.clone(),
                    port,
                    tags: vec![color.to_string()],
                    check: Check::None,
                })
                .await?;
            changes.push(format!(
                "registered {} ({address}:{port}), which Swarm started in place of a lost task",
                task.name
            ));
            live_changed |= state.live == Some(color);
        }
    }
    for c in &changes {
        cx.report.step(flow, &cx.service, c);
    }
    if live_changed && cx.proxy_running().await {
        cx.proxy_locked(|| async {
            let desired = model::build(cx, &state).await?;
            cx.proxy()?.apply(&desired).await?;
            Ok(())
        })
        .await?;
        cx.report.step(
            flow,
            &cx.service,
            "the proxy routes to the instances that run",
        );
    }
    Ok(changes)
}
