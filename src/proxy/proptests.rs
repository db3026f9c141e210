//! Property tests of rendering: any template text and any value in the model either renders or
//! is refused, never panics, and no value can add a line to the config.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{
    model::{ProxyModel, ProxyOptions, Server, ServiceModel, TemplateSpec},
    render,
};
use crate::release::{Color, PathType, Routes};

const TEMPLATE: &str = "frontend fe\n    bind *:80\n    acl a path_beg /x\n    use_backend be if a\nbackend be\n    {{range service \"SERVICE_NAME\" \"any\"}}\n    server {{.Node}} {{.Address}}:{{.Port}} check\n    {{end}}\n";

fn model(template: Option<TemplateSpec>) -> ProxyModel {
    let server = |name: &str, ip: &str| Server {
        name: name.into(),
        address: ip.into(),
        port: 8080,
    };
    ProxyModel {
        services: vec![ServiceModel {
            name: "svc".into(),
            live: Color::Blue,
            routes: Routes {
                paths: vec!["/p".into()],
                domains: vec!["p.example".into()],
                port: 8080,
                path_type: PathType::Prefix,
                proxy: None,
                networks: Vec::new(),
            },
            servers: BTreeMap::from([
                (Color::Blue, vec![server("s-1", "192.0.2.5")]),
                (Color::Green, vec![server("s-2", "192.0.2.6")]),
            ]),
            template,
        }],
    }
}

/// Puts `v` in one of the model's fields that reach the config.
fn set(m: &mut ProxyModel, field: usize, v: &str) {
    let s = &mut m.services[0];
    match field {
        0 => s.name = v.into(),
        1 => s.servers.get_mut(&Color::Blue).unwrap()[0].name = v.into(),
        2 => s.servers.get_mut(&Color::Blue).unwrap()[0].address = v.into(),
        3 => s.routes.paths[0] = v.into(),
        _ => s.routes.domains[0] = v.into(),
    }
}

fn template(on: bool) -> Option<TemplateSpec> {
    on.then(|| TemplateSpec::Single(TEMPLATE.into()))
}

/// Pieces of consul-template syntax and HAProxy sections, glued at random.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{{range service \"SERVICE_NAME\" \"any\"}}".to_string()),
        Just("{{range $i, $e := service \"SERVICE_NAME\"}}".to_string()),
        Just("{{end}}".to_string()),
        Just("{{.Address}}:{{.Port}}".to_string()),
        Just("{{ env \"HOME\" }}".to_string()),
        Just("{{ keyOrDefault \"k\" \"d\" }}".to_string()),
        Just("{{ key \"k\" }}".to_string()),
        Just("{{ if .X }}".to_string()),
        Just("COLOR".to_string()),
        Just("\nfrontend f\n    bind *:80\n".to_string()),
        Just("\nbackend b\n    server x ".to_string()),
        Just("\nglobal\n".to_string()),
        Just("\n".to_string()),
        ".{0,12}",
    ]
}

const SEPARATORS: &[&str] = &[
    "\n", "\r", "\r\n", " ", "\t", "#", "\"", "'", "\u{85}", "\u{2028}", "\0",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_template_text_renders_or_is_refused(
        parts in proptest::collection::vec(fragment(), 0..12),
        pair in any::<bool>(),
    ) {
        let text = parts.concat();
        let spec = if pair {
            TemplateSpec::Pair { fe: text.clone(), be: text }
        } else {
            TemplateSpec::Single(text)
        };
        let _ = render(&model(Some(spec.clone())), &ProxyOptions::default());
        let _ = super::check_template("svc", &spec, &ProxyOptions::default());
    }

    #[test]
    fn an_injected_line_never_reaches_the_config(
        field in 0..5usize,
        benign in "[a-z0-9]{1,8}",
        sep in proptest::sample::select(SEPARATORS),
        templated in any::<bool>(),
    ) {
        let mut m = model(template(templated));
        let evil = format!("{}{benign}{sep}server evil 192.0.2.9:80", if field == 3 { "/" } else { "" });
        set(&mut m, field, &evil);
        if let Ok(out) = render(&m, &ProxyOptions::default()) {
            prop_assert!(!out.contains("evil"), "{evil:?} reached the config:\n{out}");
        }
    }

    #[test]
    fn any_value_renders_without_adding_lines_or_is_refused(
        field in 0..5usize,
        value in ".{0,24}",
        templated in any::<bool>(),
    ) {
        let baseline = render(&model(template(templated)), &ProxyOptions::default())
            .expect("the baseline renders")
            .lines()
            .count();
        let mut m = model(template(templated));
        set(&mut m, field, &value);
        if let Ok(out) = render(&m, &ProxyOptions::default()) {
            prop_assert!(!value.contains(['\n', '\r']), "{value:?} was accepted");
            prop_assert_eq!(out.lines().count(), baseline, "{:?} changed the config's lines", value);
        }
    }
}
