//! `rollback`: the previous colour starts again (it was stopped, not removed), becomes healthy,
//! the proxy switches back to it, and the current colour is drained and stopped.

use crate::release::Release;

use super::context::FlowContext;
use super::deploy::{register_and_wait, routes_of};
use super::error::FlowError;
use super::model;
use super::report::now;
use super::runtime::Runtime;

const FLOW: &str = "rollback";

pub async fn run(cx: &FlowContext) -> Result<(), FlowError> {
    cx.locked(FLOW, || rollback(cx)).await
}

async fn rollback(cx: &FlowContext) -> Result<(), FlowError> {
    let (state, version) = cx.consul.read_state(&cx.service).await?;
    let Some(live) = state.live else {
        return Err(FlowError::Invalid(format!(
            "nothing is live for {}: there is nothing to roll back",
            cx.service
        )));
    };
    let previous = live.other();
    let observed = super::runtime::observe(cx).await?;
    let leftover = observed.running(previous);
    let switched = state
        .history
        .last()
        .is_some_and(|r| r.event == "rolled-back" && r.color == live);
    if switched && state.candidate.is_none() && !leftover.is_empty() && !cx.settings.dry_run {
        // A rollback killed after it switched users (Consul says so) but before it stopped
        // what it rolled back from: finish that one instead of rolling back again.
        super::deploy::stop_color(cx, FLOW, previous, &leftover).await?;
        cx.report.done(
            FLOW,
            &cx.service,
            &format!(
                "the interrupted rollback is finished: users reach {live}; {previous} stopped"
            ),
        );
        return Ok(());
    }
    let containers: Vec<_> = observed.of(previous).to_vec();
    let swarm = cx.runtime == Runtime::Swarm;
    let kept = if swarm {
        observed.services.contains_key(&previous)
    } else {
        !containers.is_empty()
    };
    if !kept {
        return Err(FlowError::Invalid(format!(
            "no previous release of {} to roll back to: {previous} has no containers (the first release has nothing before it)",
            cx.service
        )));
    }
    if cx.settings.dry_run {
        cx.report.done(FLOW, &cx.service, &format!("dry run: would start {previous}, switch users to it and stop {live}; nothing changed"));
        return Ok(());
    }
    cx.report
        .step(FLOW, &cx.service, &format!("starting {previous} again"));
    let routes = routes_of(cx, &state)?;
    let started: Vec<_> = if swarm {
        // The service was scaled to 0 with its spec kept: back to the scale it was stopped at.
        let scale = recorded_scale(&state, previous);
        let back = super::runtime::start_swarm(
            cx,
            FLOW,
            previous,
            scale,
            routes.port,
            &super::deploy::Base::current(cx),
        )
        .await;
        match back {
            Ok(tasks) => tasks,
            Err(e) => {
                super::runtime::halt(cx, FLOW, previous, &[]).await.ok();
                return Err(FlowError::Failed(format!(
                    "rollback {}: {e}; {previous} was scaled to 0 again, {live} is still live",
                    cx.service
                )));
            }
        }
    } else {
        for c in containers.iter().filter(|c| !c.running) {
            cx.docker.start_container(&c.id, None).await.map_err(|e| {
                FlowError::Failed(format!("start {}: {e}; {live} is still live", c.name))
            })?;
        }
        super::runtime::observe(cx).await?.of(previous).to_vec()
    };
    if let Err(e) = register_and_wait(cx, previous, &started, &routes).await {
        for c in &started {
            cx.consul.deregister(&c.name).await.ok();
        }
        let refs: Vec<_> = started.iter().collect();
        super::runtime::halt(cx, FLOW, previous, &refs).await.ok();
        return Err(FlowError::Failed(format!(
            "rollback {}: {e}; {previous} was stopped again, {live} is still live",
            cx.service
        )));
    }
    let mut new_state = state.clone();
    new_state.live = Some(previous);
    new_state.candidate = None;
    new_state.scale = Some(started.len() as u32);
    new_state.history.push(Release {
        color: previous,
        image: started.first().map(|c| c.image.clone()).unwrap_or_default(),
        image_id: String::new(),
        scale: started.len() as u32,
        event: "rolled-back".into(),
        at: now(),
    });
    if new_state.proxied() {
        cx.proxy_locked(|| async {
            let desired = model::build(cx, &new_state).await?;
            let proxy = cx.proxy()?;
            proxy.ensure(&desired).await?;
            proxy.apply(&desired).await?;
            cx.consul
                .write_state(&cx.service, &new_state, &version)
                .await?;
            Ok(())
        })
        .await?;
    } else {
        // Not routed (a worker): the live colour changes in Consul alone.
        cx.consul
            .write_state(&cx.service, &new_state, &version)
            .await?;
    }
    super::stand_in::sync(cx, FLOW, &new_state, Some(live)).await?;
    // Users are on the previous release now; the rolled-back one drains and stops.
    super::deploy::stop_color(cx, FLOW, live, &observed.running(live))
        .await
        .map_err(|e| FlowError::Failed(format!("{e} (users are already on {previous})")))?;
    cx.report.done(
        FLOW,
        &cx.service,
        &format!("rolled back: users reach {previous}; {live} stopped"),
    );
    Ok(())
}

/// The scale `color` last ran at (what stop-old or a deploy recorded), else the live scale.
fn recorded_scale(state: &crate::release::ReleaseState, color: crate::release::Color) -> u32 {
    state
        .history
        .iter()
        .rev()
        .find(|r| r.color == color && r.scale > 0)
        .map(|r| r.scale)
        .or(state.scale)
        .unwrap_or(1)
        .max(1)
}
