//! Custom templates in consul-template's Go syntax (as the original docker flow took them),
//! rendered with gotmpl from the model instead of from Consul.
//!
//! Before rendering, `SERVICE_NAME` becomes `<service>-<live colour>` and the word `COLOR` the
//! live colour. Functions: `service "NAME" ["any"|"passing"]` (instances with `.Node`
//! `.Address` `.Port` `.ID` `.Name`), `env "VAR"`, `key "k"` / `keyOrDefault "k" "default"`
//! (no Consul KV reaches the renderer: `key` fails, `keyOrDefault` gives the default).
//!
//! A template `frontend` that binds the proxy's own ports is folded into the main frontend: its
//! routing lines (acl, use_backend, http-request, …) move there and its binds are dropped.

use std::{collections::BTreeMap, sync::Arc};

use gotmpl::{Template, Value};

use super::{
    error::ProxyError,
    model::{ProxyModel, ProxyOptions, ServiceModel, TemplateSpec},
    render::{HTTPS_PORT_IN, HTTP_PORT_IN},
};

/// Section keywords of an HAProxy config.
const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "cache",
    "program",
    "http-errors",
    "ring",
    "mailers",
];

/// Frontend directives moved into the main frontend when a template frontend is folded.
const FOLDED: &[&str] = &[
    "acl",
    "use_backend",
    "http-request",
    "http-response",
    "http-after-response",
    "redirect",
    "capture",
];

/// Renders a service's template text.
pub(crate) fn render(
    svc: &ServiceModel,
    spec: &TemplateSpec,
    model: &ProxyModel,
) -> Result<String, ProxyError> {
    let catalog = Arc::new(catalog(model));
    let one = |name: &str, src: &str| -> Result<String, ProxyError> {
        let src = substitute(src, &svc.name, svc.live.as_str());
        let err = |e: gotmpl::TemplateError| ProxyError::Template {
            service: svc.name.clone(),
            message: e.to_string(),
        };
        let cat = catalog.clone();
        let out = Template::new(name)
            .func("service", move |args| service_fn(&cat, args))
            .func("env", |args| {
                let name = str_arg(args, 0, "env")?;
                Ok(Value::from(std::env::var(name).unwrap_or_default()))
            })
            .func("key", |args| {
                let k = str_arg(args, 0, "key")?;
                Err(gotmpl::TemplateError::Exec(format!(
                    "key {k:?}: no Consul KV value reaches the proxy renderer (use keyOrDefault)"
                )))
            })
            .func("keyOrDefault", |args| {
                str_arg(args, 0, "keyOrDefault")?;
                Ok(Value::from(str_arg(args, 1, "keyOrDefault")?.to_string()))
            })
            .parse(&src)
            .map_err(err)?
            .execute_to_string(&Value::Nil)
            .map_err(err)?;
        Ok(out)
    };
    let text = match spec {
        TemplateSpec::Single(t) => one(&format!("{}.tmpl", svc.name), t)?,
        TemplateSpec::Pair { fe, be } => {
            let fe = one(&format!("{}-fe.tmpl", svc.name), fe)?;
            let be = one(&format!("{}-be.tmpl", svc.name), be)?;
            format!("{fe}\n{be}")
        }
    };
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(ProxyError::Template {
            service: svc.name.clone(),
            message: format!("the output holds control character {c:?}"),
        });
    }
    Ok(text)
}

/// `SERVICE_NAME` → `<svc>-<colour>`, the word `COLOR` → the colour.
pub(crate) fn substitute(src: &str, service: &str, color: &str) -> String {
    let s = src.replace("SERVICE_NAME", &format!("{service}-{color}"));
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (i, _) in s.match_indices("COLOR") {
        if i < last || word(s[..i].chars().last()) || word(s[i + 5..].chars().next()) {
            continue;
        }
        out.push_str(&s[last..i]);
        out.push_str(color);
        last = i + 5;
    }
    out.push_str(&s[last..]);
    out
}

/// Instances by Consul service name: `<svc>-<colour>` and `<svc>` (the live colour).
fn catalog(model: &ProxyModel) -> BTreeMap<String, Vec<Value>> {
    let mut cat = BTreeMap::new();
    for svc in &model.services {
        for (color, servers) in &svc.servers {
            let name = format!("{}-{color}", svc.name);
            let list: Vec<Value> = servers
                .iter()
                .map(|s| {
                    let mut m: BTreeMap<String, Value> = BTreeMap::new();
                    m.insert("Node".into(), Value::from(s.name.clone()));
                    m.insert("ID".into(), Value::from(s.name.clone()));
                    m.insert("Name".into(), Value::from(name.clone()));
                    m.insert("Address".into(), Value::from(s.address.clone()));
                    m.insert("Port".into(), Value::Int(i64::from(s.port)));
                    m.insert("Tags".into(), Value::from(Vec::<Value>::new()));
                    Value::from(m)
                })
                .collect();
            if *color == svc.live {
                cat.insert(svc.name.clone(), list.clone());
            }
            cat.insert(name, list);
        }
    }
    cat
}

fn service_fn(cat: &BTreeMap<String, Vec<Value>>, args: &[Value]) -> gotmpl::Result<Value> {
    let name = str_arg(args, 0, "service")?;
    if let Some(filter) = args.get(1) {
        match filter.as_str() {
            Some("any") | Some("passing") => {}
            _ => {
                return Err(gotmpl::TemplateError::Exec(format!(
                    "service {name:?}: the filter must be \"any\" or \"passing\""
                )))
            }
        }
    }
    // A tag prefix (`tag.name`) is not supported: match the whole name.
    Ok(Value::from(cat.get(name).cloned().unwrap_or_default()))
}

fn str_arg<'a>(args: &'a [Value], i: usize, func: &str) -> gotmpl::Result<&'a str> {
    args.get(i).and_then(Value::as_str).ok_or_else(|| {
        gotmpl::TemplateError::Exec(format!("{func}: argument {} must be a string", i + 1))
    })
}

pub(crate) struct Split {
    /// Lines for the main frontend.
    pub folded: Vec<String>,
    /// Other sections, each a header line plus its lines.
    pub sections: Vec<String>,
}

/// Splits a rendered template into sections and folds frontends that bind the proxy's ports.
pub(crate) fn split_sections(
    service: &str,
    text: &str,
    opts: &ProxyOptions,
) -> Result<Split, ProxyError> {
    let err = |message: String| ProxyError::Template {
        service: service.to_string(),
        message,
    };
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or("");
        if SECTIONS.contains(&first) {
            if matches!(first, "global" | "defaults") {
                return Err(err(format!(
                    "line {}: a `{first}` section would change every service; it is not allowed in a template",
                    n + 1
                )));
            }
            sections.push((line.to_string(), Vec::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push(line.to_string());
        } else {
            return Err(err(format!(
                "line {}: {line:?} is outside any section (frontend/backend/…)",
                n + 1
            )));
        }
    }
    let own_ports = [
        HTTP_PORT_IN,
        HTTPS_PORT_IN,
        opts.http_port,
        opts.https_port.unwrap_or(HTTPS_PORT_IN),
    ];
    let mut split = Split {
        folded: Vec::new(),
        sections: Vec::new(),
    };
    for (header, body) in sections {
        let is_fe = header.split_whitespace().next() == Some("frontend");
        let binds: Vec<&String> = body.iter().filter(|l| l.starts_with("bind ")).collect();
        let folds = is_fe
            && !binds.is_empty()
            && binds.iter().all(|b| {
                b.split_whitespace()
                    .nth(1)
                    .and_then(|a| a.rsplit_once(':'))
                    .and_then(|(_, p)| p.parse::<u16>().ok())
                    .is_some_and(|p| own_ports.contains(&p))
            });
        if folds {
            split.folded.push(format!("# from template {header}"));
            for l in body {
                let first = l.split_whitespace().next().unwrap_or("");
                if FOLDED.contains(&first) {
                    split.folded.push(l);
                } else if first != "bind" {
                    split.folded.push(format!("# dropped (main frontend): {l}"));
                }
            }
        } else {
            let mut s = format!("{header}\n");
            for l in body {
                s.push_str("    ");
                s.push_str(&l);
                s.push('\n');
            }
            split.sections.push(s);
        }
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        proxy::{model::Server, render},
        release::{Color, Routes},
    };

    pub(crate) const FE: &str = "frontend go-demo-app-fe
    bind *:80
    bind *:443
    option http-server-close
    acl url_demo path_beg /demo
    use_backend go-demo-app-be if url_demo
";
    pub(crate) const BE: &str = "backend go-demo-app-be
    {{range service \"SERVICE_NAME\" \"any\"}}
    server {{.Node}}_{{.Port}} {{.Address}}:{{.Port}} check
    {{end}}
";

    fn model(spec: TemplateSpec) -> ProxyModel {
        ProxyModel {
            services: vec![ServiceModel {
                name: "go-demo-app".into(),
                live: Color::Green,
                routes: Routes::default(),
                servers: BTreeMap::from([
                    (
                        Color::Blue,
                        vec![Server {
                            name: "b1".into(),
                            address: "192.0.2.2".into(),
                            port: 8080,
                        }],
                    ),
                    (
                        Color::Green,
                        vec![Server {
                            name: "g1".into(),
                            address: "192.0.2.3".into(),
                            port: 8080,
                        }],
                    ),
                ]),
                template: Some(spec),
            }],
        }
    }

    #[test]
    fn original_fe_be_example_folds_into_main_frontend() {
        let m = model(TemplateSpec::Pair {
            fe: FE.into(),
            be: BE.into(),
        });
        let cfg = render::render(&m, &ProxyOptions::default()).unwrap();
        assert!(cfg.contains("    acl url_demo path_beg /demo\n"), "{cfg}");
        assert!(
            cfg.contains("    use_backend go-demo-app-be if url_demo\n"),
            "{cfg}"
        );
        assert!(
            !cfg.contains("\nfrontend go-demo-app-fe\n"),
            "folded, not bound twice:\n{cfg}"
        );
        assert_eq!(cfg.matches("bind *:80").count(), 1);
        assert!(cfg.contains("backend go-demo-app-be\n"));
        assert!(
            cfg.contains("    server g1_8080 192.0.2.3:8080 check\n"),
            "live colour: {cfg}"
        );
        assert!(!cfg.contains("192.0.2.2"), "{cfg}");
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            substitute("SERVICE_NAME COLOR X-COLOR COLORS", "a", "blue"),
            "a-blue blue X-blue COLORS"
        );
        assert_eq!(substitute("be_COLOR", "a", "blue"), "be_COLOR");
        assert_eq!(substitute("be-COLOR", "a", "blue"), "be-blue");
    }

    #[test]
    fn parse_errors_are_gotmpl_messages() {
        let m = model(TemplateSpec::Single(
            "backend x\n {{range service \"a\"\n".into(),
        ));
        let err = render::render(&m, &ProxyOptions::default()).unwrap_err();
        assert!(matches!(err, ProxyError::Template { .. }), "{err}");
        assert!(err.to_string().contains("template"), "{err}");
    }

    #[test]
    fn other_frontends_stay_and_global_is_refused() {
        let m = model(TemplateSpec::Single(
            "frontend stats\n bind *:8404\n stats enable\n".into(),
        ));
        let cfg = render::render(&m, &ProxyOptions::default()).unwrap();
        assert!(
            cfg.contains("frontend stats\n    bind *:8404\n    stats enable\n"),
            "{cfg}"
        );
        let m = model(TemplateSpec::Single(
            "global\n stats socket ipv4@0.0.0.0:9999 level admin\n".into(),
        ));
        assert!(render::render(&m, &ProxyOptions::default()).is_err());
        let m = model(TemplateSpec::Single("acl x path /x\n".into()));
        assert!(render::render(&m, &ProxyOptions::default()).is_err());
    }

    #[test]
    fn functions() {
        // SAFETY-free in edition 2021; no other test reads this variable.
        std::env::set_var("DFTEST_PROXY_ENV", "v");
        let m = model(TemplateSpec::Single(
            "backend b\n # {{env \"DFTEST_PROXY_ENV\"}} {{keyOrDefault \"k\" \"d\"}} {{range service \"go-demo-app-blue\"}}{{.Name}} {{.ID}}{{end}}\n".into(),
        ));
        let text =
            super::render(&m.services[0], m.services[0].template.as_ref().unwrap(), &m).unwrap();
        assert!(text.contains("# v d go-demo-app-blue b1"), "{text}");
    }
}
