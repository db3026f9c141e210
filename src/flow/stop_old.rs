//! `stop-old`: stops (does not remove) the colour that is not live, after draining it from the
//! proxy, so that `rollback` can start it again quickly. It never touches the live colour.

use crate::release::Release;

use super::context::FlowContext;
use super::error::FlowError;
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
    let observed = super::runtime::observe(cx).await?;
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
    super::deploy::stop_color(cx, FLOW, old, &running).await?;
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
