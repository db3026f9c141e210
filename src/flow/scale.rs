//! `scale`: the live colour to N instances, or by +N / -N relative to the recorded scale
//! (floor 1); a rerun after a killed run converges instead of adding again.
//! New instances are registered and healthy before the proxy learns of them; removed ones are
//! drained first.

use super::context::FlowContext;
use super::deploy::{register_and_wait, routes_of, start_color, Base};
use super::error::FlowError;
use super::runtime::{self, Runtime};
use super::{model, observe};
use crate::engine::swarm;

const FLOW: &str = "scale";

pub async fn run(cx: &FlowContext) -> Result<(), FlowError> {
    cx.locked(FLOW, || scale(cx)).await
}

async fn scale(cx: &FlowContext) -> Result<(), FlowError> {
    let spec = cx.settings.scale.as_ref().ok_or_else(|| {
        FlowError::Invalid("scale needs an amount: `docker flow scale N|+N|-N` (or --scale, FLOW_SCALE, `scale:` in docker-flow.yml)".into())
    })?;
    let (state, version) = cx.consul.read_state(&cx.service).await?;
    let Some(color) = state.live.or(state.candidate) else {
        return Err(FlowError::Invalid(format!(
            "nothing is deployed for {}: run `docker flow deploy` first",
            cx.service
        )));
    };
    let observed = super::runtime::observe(cx).await?;
    let before: Vec<observe::Container> = observed.running(color).into_iter().cloned().collect();
    let current = before.len() as u32;
    // Relative amounts apply to the scale Consul recorded (what the last completed flow left),
    // so a rerun after a killed `scale +2` ends where the first run would have, not at +4.
    let recorded = state.scale.unwrap_or(current);
    let wanted = spec
        .apply(recorded)
        .map_err(|e| FlowError::Invalid(format!("scale: {e}")))?;
    let name = format!("{}-{color}", cx.service);
    let passing: Vec<String> = cx
        .consul
        .instances(&name, true)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    let settled = before.iter().all(|c| passing.contains(&c.name));
    if wanted == current && state.scale == Some(wanted) && settled {
        cx.report.done(
            FLOW,
            &cx.service,
            &format!("{color} already runs {current} instance(s)"),
        );
        return Ok(());
    }
    if cx.settings.dry_run {
        cx.report.done(
            FLOW,
            &cx.service,
            &format!("dry run: would scale {color} from {current} to {wanted}; nothing changed"),
        );
        return Ok(());
    }
    let routes = routes_of(cx, &state)?;
    // The release as it was deployed, whatever the compose file says now.
    let release = Base::of_release(cx, &before).await;
    let is_live = state.live == Some(color);
    if wanted >= current {
        cx.report.step(
            FLOW,
            &cx.service,
            &format!("scaling {color} from {current} to {wanted}"),
        );
        let after = match start_color(cx, color, wanted, routes.port, &release).await {
            Ok(after) => after,
            Err(e) if cx.runtime == Runtime::Swarm => {
                // Back to what ran; Swarm removes tasks that do not run first.
                swarm::scale_service(&cx.docker, &runtime::service_name(cx, color), current)
                    .await
                    .ok();
                return Err(FlowError::Failed(format!(
                    "scale {}: {e}; {color} was scaled back to {current}",
                    cx.service
                )));
            }
            Err(e) => return Err(e),
        };
        // New instances, and those a killed run started beyond the recorded scale that do
        // not pass yet: registered and healthy before the proxy learns of them.
        let added: Vec<_> = after
            .into_iter()
            .filter(|c| {
                !before.iter().any(|b| b.id == c.id)
                    || (c.number > recorded && !passing.contains(&c.name))
            })
            .collect();
        if !added.is_empty() {
            if let Err(e) = register_and_wait(cx, color, &added, &routes).await {
                // The new instances go again; the proxy never knew them.
                if cx.runtime == Runtime::Swarm {
                    for c in &added {
                        cx.consul.deregister(&c.name).await.ok();
                    }
                    swarm::scale_service(&cx.docker, &runtime::service_name(cx, color), current)
                        .await
                        .ok();
                } else {
                    super::deploy::remove_color(cx, color, &added).await.ok();
                }
                let kept = before
                    .iter()
                    .filter(|b| !added.iter().any(|a| a.id == b.id))
                    .count();
                return Err(FlowError::Failed(format!(
                    "scale {}: {e}; the new instances were removed, {kept} still run",
                    cx.service
                )));
            }
        }
    } else {
        let surplus: Vec<_> = before
            .iter()
            .filter(|c| c.number > wanted)
            .cloned()
            .collect();
        if is_live && state.proxied() && cx.proxy_running().await {
            let names: Vec<String> = surplus.iter().map(|c| c.name.clone()).collect();
            cx.report
                .step(FLOW, &cx.service, &format!("draining {}", names.join(", ")));
            cx.proxy()?
                .drain(&cx.service, color, &names, cx.settings.drain_timeout)
                .await?;
        }
        if is_live {
            let names: Vec<String> = surplus.iter().map(|c| c.name.clone()).collect();
            super::stand_in::drain(cx, color, &names).await?;
        }
        for c in &surplus {
            cx.consul.deregister(&c.name).await?;
        }
        cx.report.step(
            FLOW,
            &cx.service,
            &format!("scaling {color} from {current} to {wanted}"),
        );
        let after = start_color(cx, color, wanted, routes.port, &release).await?;
        if cx.runtime == Runtime::Swarm {
            // Swarm picks which tasks go: the ones it kept stay registered (a drained one it
            // kept is registered again), the ones it removed are deregistered.
            let kept: Vec<_> = after
                .iter()
                .filter(|c| surplus.iter().any(|s| s.id == c.id))
                .cloned()
                .collect();
            for gone in before
                .iter()
                .filter(|b| !after.iter().any(|a| a.id == b.id))
            {
                cx.consul.deregister(&gone.name).await?;
            }
            if !kept.is_empty() {
                register_and_wait(cx, color, &kept, &routes).await?;
            }
        }
    }
    let mut new_state = state.clone();
    if is_live || state.live.is_none() {
        new_state.scale = Some(wanted);
    }
    let proxied = is_live && new_state.proxied() && cx.proxy_running().await;
    cx.proxy_locked(|| async {
        if proxied {
            let desired = model::build(cx, &new_state).await?;
            cx.proxy()?.apply(&desired).await?;
        }
        cx.consul
            .write_state(&cx.service, &new_state, &version)
            .await?;
        Ok(())
    })
    .await?;
    if is_live {
        super::stand_in::sync(cx, FLOW, &new_state, None).await?;
    }
    cx.report.done(
        FLOW,
        &cx.service,
        &format!("{color} runs {wanted} instance(s)"),
    );
    Ok(())
}
