//! `proxy`: routes users to the candidate colour once it is deployed and healthy (the switch:
//! the candidate becomes live), otherwise re-applies the live one. The proxy changes first and
//! Consul second, so a run killed in between is completed by the next one. A service the proxy
//! does not route (a worker) switches in Consul alone.

use crate::proxy::ProxyError;
use crate::release::Release;

use super::context::FlowContext;
use super::error::FlowError;
use super::model;
use super::report::now;

const FLOW: &str = "proxy";

pub async fn run(cx: &FlowContext) -> Result<(), FlowError> {
    cx.locked(FLOW, || switch(cx)).await
}

async fn switch(cx: &FlowContext) -> Result<(), FlowError> {
    if cx.settings.reconcile {
        return reconcile(cx).await;
    }
    let (state, version) = cx.consul.read_state(&cx.service).await?;
    let observed = super::runtime::observe(cx).await?;
    let to = match (state.candidate, state.live) {
        (Some(candidate), _) => {
            let running = observed.running(candidate).len();
            let passing = cx
                .consul
                .instances(&format!("{}-{candidate}", cx.service), true)
                .await?
                .len();
            if running == 0 || passing < running {
                return Err(FlowError::Failed(format!(
                    "the candidate {candidate} is not healthy ({passing} of {running} instance(s) pass their check): users stay on {}",
                    state.live.map_or("nothing".to_string(), |l| l.to_string())
                )));
            }
            // Not routed, no Consul check: every instance it was deployed with still runs
            // (one that crashed or restarts since is not running).
            let all = observed.of(candidate).len();
            if !state.proxied() && running < all {
                return Err(FlowError::Failed(format!(
                    "the candidate {candidate} is not healthy ({running} of {all} instance(s) run): {} stays live",
                    state.live.map_or("nothing".to_string(), |l| l.to_string())
                )));
            }
            candidate
        }
        (None, Some(live)) => live,
        (None, None) => {
            return Err(FlowError::Invalid(format!(
                "nothing is deployed for {}: run `docker flow deploy` first",
                cx.service
            )))
        }
    };
    super::stand_in::check(cx, &state.routes.clone().unwrap_or_default()).await?;
    let mut new_state = state.clone();
    new_state.live = Some(to);
    new_state.candidate = None;
    new_state.scale = Some(observed.running(to).len().max(1) as u32);
    let new_template = model::template_from_settings(cx)?;
    let templated = new_template.is_some();
    if let Some(t) = new_template {
        new_state.template = Some(t);
    }
    let p = &cx.settings.proxy;
    if let Some(routes) = new_state.routes.as_mut() {
        if !p.service_paths.is_empty() {
            routes.paths = p.service_paths.clone();
        }
        if !p.service_domains.is_empty() {
            routes.domains = p.service_domains.clone();
        }
        if let Some(port) = p.port {
            routes.port = port;
        }
        routes.proxy = Some(p.name.clone());
        routes.networks = super::deploy::target_networks(&cx.project, &cx.target);
    }
    if state.routes.is_some() && !state.proxied() && new_state.proxied() {
        // Its instances are registered at port 0 with no check: nothing to route to yet.
        return Err(FlowError::Invalid(format!(
            "{} was deployed with no route (no path, domain or template), so its instances have no routed port and no health check: deploy it again with the route (--service-path, --service-domain or a template) before the proxy can route it; nothing was changed",
            cx.target
        )));
    }
    if cx.settings.dry_run {
        cx.report.done(
            FLOW,
            &cx.service,
            &format!("dry run: would route users to {to}; nothing changed"),
        );
        return Ok(());
    }
    if state.live != Some(to) {
        new_state.history.push(Release {
            color: to,
            image: observed
                .running(to)
                .first()
                .map(|c| c.image.clone())
                .unwrap_or_default(),
            image_id: String::new(),
            scale: new_state.scale.unwrap_or(1),
            event: "switched".into(),
            at: now(),
        });
    }
    if !new_state.proxied() {
        // Nothing routes it: the switch is Consul's live colour alone; no proxy is started.
        cx.consul
            .write_state(&cx.service, &new_state, &version)
            .await?;
        super::stand_in::sync(cx, FLOW, &new_state, state.live).await?;
        let what = if state.live == Some(to) {
            format!("{to} stays live")
        } else {
            format!("{to} is live")
        };
        cx.report.done(
            FLOW,
            &cx.service,
            &format!(
                "{what} in Consul; the proxy does not route {} (no path, domain or template)",
                cx.target
            ),
        );
        return Ok(());
    }
    let report = cx
        .proxy_locked(|| async {
            let desired = model::build(cx, &new_state).await?;
            let proxy = cx.proxy()?;
            cx.report.step(
                FLOW,
                &cx.service,
                &format!("ensuring the proxy {} runs", cx.settings.proxy.name),
            );
            let applied = match proxy.ensure(&desired).await {
                Ok(()) => proxy.apply(&desired).await,
                Err(e) => Err(e),
            };
            let report = match applied {
                // The template given now is what HAProxy refused: name it (Consul is not written).
                Err(ProxyError::InvalidConfig(why)) if templated => {
                    return Err(model::template_error(
                        cx,
                        &format!("HAProxy refuses the config it renders ({why})"),
                    ))
                }
                other => other?,
            };
            cx.consul
                .write_state(&cx.service, &new_state, &version)
                .await?;
            Ok(report)
        })
        .await?;
    super::stand_in::sync(cx, FLOW, &new_state, state.live).await?;
    let how = if report.reloaded {
        "with a seamless reload"
    } else {
        "through the Runtime API, no reload"
    };
    let what = if state.live == Some(to) {
        format!("{to} re-applied")
    } else {
        format!("users now reach {to}")
    };
    cx.report
        .done(FLOW, &cx.service, &format!("{what} ({how})"));
    Ok(())
}

/// `proxy reconcile`: the running proxy against what Consul says, drift repaired (a server put in
/// maintenance by hand, a missing route after someone edited the config).
async fn reconcile(cx: &FlowContext) -> Result<(), FlowError> {
    let (state, _) = cx.consul.read_state(&cx.service).await?;
    if state.live.is_none() {
        return Err(FlowError::Invalid(format!(
            "nothing is live for {}: there is no route to reconcile",
            cx.service
        )));
    }
    if cx.runtime == super::runtime::Runtime::Containers {
        // Registrations of containers removed by hand (on Swarm the run already followed).
        super::adopt::adopt(cx, FLOW, false).await?;
    }
    let fixed = cx
        .proxy_locked(|| async {
            let desired = model::build(cx, &state).await?;
            let proxy = cx.proxy()?;
            proxy.ensure(&desired).await?;
            Ok(proxy.reconcile(&desired).await?)
        })
        .await?;
    super::stand_in::sync(cx, FLOW, &state, None).await?;
    if fixed.is_empty() {
        cx.report.done(
            FLOW,
            &cx.service,
            "the proxy matches Consul; nothing to repair",
        );
    } else {
        for f in &fixed {
            cx.report.step(FLOW, &cx.service, &format!("repaired: {f}"));
        }
        cx.report.done(
            FLOW,
            &cx.service,
            &format!("{} drift(s) repaired", fixed.len()),
        );
    }
    Ok(())
}
