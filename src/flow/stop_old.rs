//! `stop-old`: stops (does not remove) the colour that is not live, after draining it from the
//! proxy, so that `rollback` can start it again quickly. It never touches the live colour.

use crate::release::Release;

use super::context::FlowContext;
use super::error::FlowError;
use super::observe;
use super::report::now;

const FLOW: &str = "stop-old";

pub async fn run(cx: &FlowContext) -> Result<(), FlowError> {
    cx.locked(FLOW, || stop_old(cx)).await
}

async fn stop_old(cx: &FlowContext) -> Result<(), FlowError> {
    let (state, version) = cx.consul.read_state(&cx.service).await?;
    let Some(live) = state.live else {
        return Err(FlowError::Invalid(format!(
            "nothing is live for {}: stop-old stops the release users left, after `docker flow proxy` switched them",
            cx.service
        )));
    };
    let old = live.other();
    let observed = observe::observe(&cx.docker, &cx.service).await?;
    let running = observed.running(old);
    if running.is_empty() {
        cx.report.done(
            FLOW,
            &cx.service,
            &format!("{old} is not running; nothing to stop ({live} is live)"),
        );
        return Ok(());
    }
    if cx.settings.dry_run {
        cx.report.done(
            FLOW,
            &cx.service,
            &format!(
                "dry run: would drain and stop {} instance(s) of {old}; nothing changed",
                running.len()
            ),
        );
        return Ok(());
    }
    let names: Vec<String> = running.iter().map(|c| c.name.clone()).collect();
    if super::scale::proxy_running(cx).await {
        cx.report
            .step(FLOW, &cx.service, &format!("draining {old} from the proxy"));
        cx.proxy()?
            .drain(&cx.service, old, &names, cx.settings.drain_timeout)
            .await?;
    }
    for c in &running {
        cx.consul.deregister(&c.name).await?;
        cx.report
            .step(FLOW, &cx.service, &format!("stopping {}", c.name));
        cx.docker
            .stop_container(&c.id, None)
            .await
            .map_err(|e| FlowError::Failed(format!("stop {}: {e}", c.name)))?;
    }
    let mut new_state = state.clone();
    if new_state.candidate == Some(old) {
        // Stopping an undeployed candidate abandons it.
        new_state.candidate = None;
    }
    new_state.history.push(Release {
        color: old,
        image: running[0].image.clone(),
        image_id: String::new(),
        scale: running.len() as u32,
        event: "stopped".into(),
        at: now(),
    });
    cx.consul
        .write_state(&cx.service, &new_state, &version)
        .await?;
    cx.report.done(
        FLOW,
        &cx.service,
        &format!("{old} stopped (kept for `docker flow rollback`); {live} is live"),
    );
    Ok(())
}
