//! The proxy's whole picture, rebuilt from Consul every time: every service docker flow manages,
//! its live colour, routes, template and passing instances. The proxy keeps no state of its own,
//! so a recreated proxy gets every route back. Services with no routed port and no template
//! (workers) are left out.

use std::collections::BTreeMap;

use crate::proxy::{ProxyModel, Server, ServiceModel, TemplateSpec};
use crate::release::{Color, ReleaseState, Template};

use super::context::FlowContext;
use super::error::FlowError;

/// The model with this invocation's service set to `state` (not yet written to Consul).
pub async fn build(cx: &FlowContext, state: &ReleaseState) -> Result<ProxyModel, FlowError> {
    let mut names = cx.consul.services().await?;
    if !names.contains(&cx.service) {
        names.push(cx.service.clone());
    }
    names.sort();
    let mut services = Vec::new();
    for name in names {
        let st = if name == cx.service {
            state.clone()
        } else {
            cx.consul.read_state(&name).await?.0
        };
        let (Some(live), Some(routes)) = (st.live, st.routes.clone()) else {
            continue;
        };
        if !st.proxied() {
            // Not routed (a worker): no backend, and the proxy joins none of its networks.
            continue;
        }
        let proxy = routes
            .proxy
            .as_deref()
            .unwrap_or(crate::config::DEFAULT_PROXY_NAME);
        if proxy != cx.settings.proxy.name {
            // Served by another proxy container.
            continue;
        }
        let mut servers = BTreeMap::new();
        for color in Color::ALL {
            let passing = cx
                .consul
                .instances(&format!("{name}-{color}"), true)
                .await?;
            // A release deployed before the service was routed stands at port 0: not a server.
            let list: Vec<Server> = passing
                .into_iter()
                .filter(|i| i.port != 0)
                .map(|i| Server {
                    name: i.id,
                    address: i.address,
                    port: i.port,
                })
                .collect();
            servers.insert(color, list);
        }
        let template = st.template.map(|t| match t {
            Template::Single(text) => TemplateSpec::Single(text),
            Template::Pair { fe, be } => TemplateSpec::Pair { fe, be },
        });
        let p = &cx.settings.proxy;
        let given_now = name == cx.service && (p.template.is_some() || p.template_fe.is_some());
        if let (Some(spec), false) = (&template, given_now) {
            // As Consul holds it: a broken one is an error naming its key.
            stored_template_ok(&name, spec)?;
        }
        services.push(ServiceModel {
            name,
            live,
            routes,
            servers,
            template,
        });
    }
    Ok(ProxyModel { services })
}

/// A template read from Consul renders (parses, known functions, allowed sections); else an
/// error naming its key.
fn stored_template_ok(service: &str, spec: &TemplateSpec) -> Result<(), FlowError> {
    crate::proxy::check_template(service, spec, &crate::proxy::ProxyOptions::default()).map_err(
        |e| {
            let key = crate::registry::state_key(service, "template");
            FlowError::Invalid(format!(
                "{key} holds a template that cannot be used: {}; give the service a working one with `docker flow proxy --consul-template-path FILE`, or delete it with `consul kv delete {key}`",
                e.reason()
            ))
        },
    )
}

/// The template the settings name, read now so that Consul keeps its text (the proxy is
/// re-rendered later from Consul alone, for this service and every other).
pub fn template_from_settings(cx: &FlowContext) -> Result<Option<Template>, FlowError> {
    let p = &cx.settings.proxy;
    // Where the single (or the frontend) template came from; the flag name otherwise.
    let origin = cx.settings.origins.template.as_ref();
    let read = |path: &std::path::PathBuf, flag: &str| {
        std::fs::read_to_string(path).map_err(|e| {
            let from = match origin {
                Some(o) if flag != "--consul-template-be-path" => format!("from {o}"),
                _ => flag.to_string(),
            };
            FlowError::Invalid(format!(
                "cannot read the template {} ({from}): {e}",
                path.display()
            ))
        })
    };
    Ok(match (&p.template, &p.template_fe, &p.template_be) {
        (Some(t), None, None) => Some(Template::Single(read(t, "--consul-template-path")?)),
        (None, Some(fe), Some(be)) => Some(Template::Pair {
            fe: read(fe, "--consul-template-fe-path")?,
            be: read(be, "--consul-template-be-path")?,
        }),
        (None, None, None) => None,
        (Some(_), _, _) => {
            return Err(FlowError::Invalid(
                "--consul-template-path and the --consul-template-fe-path/--consul-template-be-path pair exclude each other".into(),
            ))
        }
        _ => {
            return Err(FlowError::Invalid(
                "--consul-template-fe-path and --consul-template-be-path go together: give both".into(),
            ))
        }
    })
}

/// The template the settings name, read and trial-rendered (parse, functions, sections); the
/// error names the file and the option it came from. Also reads `--proxy-cert`.
pub fn check_template(cx: &FlowContext) -> Result<(), FlowError> {
    let proxy = cx.proxy()?;
    let Some(template) = template_from_settings(cx)? else {
        return Ok(());
    };
    let spec = match template {
        Template::Single(text) => TemplateSpec::Single(text),
        Template::Pair { fe, be } => TemplateSpec::Pair { fe, be },
    };
    crate::proxy::check_template(&cx.service, &spec, proxy.options())
        .map_err(|e| template_error(cx, &e.reason()))
}

/// A bad template given in the settings, as an error naming its file(s) and option(s).
pub fn template_error(cx: &FlowContext, why: &str) -> FlowError {
    let p = &cx.settings.proxy;
    let shown = |f: &Option<std::path::PathBuf>| {
        f.as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default()
    };
    let from = cx
        .settings
        .origins
        .template
        .as_ref()
        .map_or(String::new(), |o| format!(" (from {o})"));
    let named = if p.template.is_some() {
        format!("{}{from}", shown(&p.template))
    } else {
        format!(
            "{} and {}{from}",
            shown(&p.template_fe),
            shown(&p.template_be)
        )
    };
    FlowError::Invalid(format!(
        "the template {named} cannot be used: {why}; nothing was changed"
    ))
}
