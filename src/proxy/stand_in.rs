//! The sections of a target's stand-in config (pure): one frontend per port of the target,
//! each with its backend of slots for both colours, the live colour's filled slots enabled.
//! TCP listeners come after a `defaults` of their own (timeouts for long-lived connections, no
//! HTTP-only options), so HAProxy has nothing to warn about.

use std::fmt::Write as _;

use super::{
    error::ProxyError,
    model::{Mode, ProxyModel, StandIn},
    render::{assign, backend_name, slot_line, Assignment, Rendered, Slot},
};
use crate::release::Color;

/// Idle limit of a TCP connection through the stand-in: long, since database and broker
/// clients keep pooled connections idle for minutes.
const TCP_IDLE: &str = "1h";

pub(crate) fn render_body(
    model: &ProxyModel,
    stand_in: &StandIn,
    previous: &Assignment,
    mut out: String,
) -> Result<Rendered, ProxyError> {
    let mut slots = Vec::new();
    for mode in [Mode::Http, Mode::Tcp] {
        let listeners: Vec<u16> = stand_in
            .listeners
            .iter()
            .filter(|(_, m)| *m == mode)
            .map(|(p, _)| *p)
            .collect();
        if listeners.is_empty() {
            continue;
        }
        if mode == Mode::Tcp {
            let _ = write!(
                out,
                "defaults tcp
    mode tcp
    log global
    option redispatch 1
    retries 3
    timeout connect 1s
    timeout client {TCP_IDLE}
    timeout server {TCP_IDLE}
    timeout queue 10s
    timeout check 2s
    default-server check inter 1s fall 2 rise 1

"
            );
        }
        for port in listeners {
            let name = StandIn::backend_service(&stand_in.service, port);
            let svc = model
                .services
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| ProxyError::Container {
                    container: stand_in.service.clone(),
                    message: format!("no servers given for the stand-in's port {port}"),
                })?;
            let be = backend_name(&name);
            let _ = writeln!(out, "frontend in_{port}");
            let _ = writeln!(out, "    bind *:{port}");
            let _ = writeln!(out, "    default_backend {be}\n");
            let _ = writeln!(out, "backend {be}");
            out.push_str("    balance roundrobin\n");
            for c in Color::ALL {
                let servers = svc.servers.get(&c).map(Vec::as_slice).unwrap_or(&[]);
                let placed = assign(servers, previous.get(&(name.clone(), c)));
                for (i, s) in placed.into_iter().enumerate() {
                    let slot = Slot {
                        backend: be.clone(),
                        name: format!("{c}-{}", i + 1),
                        enabled: c == svc.live && s.is_some(),
                        server: s,
                    };
                    slot_line(&slot, &mut out);
                    slots.push(slot);
                }
            }
            out.push('\n');
        }
    }
    Ok(Rendered { text: out, slots })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::model::{ProxyOptions, Server, ServiceModel};
    use super::super::render::{parse_slots, render};
    use super::*;
    use crate::release::Routes;

    fn model(live: Color) -> (ProxyModel, ProxyOptions) {
        let stand_in = StandIn {
            aliases: vec![("p_default".into(), vec!["api".into()])],
            listeners: vec![(8080, Mode::Http), (5432, Mode::Tcp)],
            published: vec![],
            service: "p-api".into(),
            project: "p".into(),
        };
        let services = [8080u16, 5432]
            .into_iter()
            .map(|port| ServiceModel {
                name: StandIn::backend_service("p-api", port),
                live,
                routes: Routes {
                    port,
                    ..Default::default()
                },
                servers: BTreeMap::from([
                    (
                        Color::Blue,
                        vec![Server {
                            name: "p-api-blue-1".into(),
                            address: "192.0.2.10".into(),
                            port,
                        }],
                    ),
                    (
                        Color::Green,
                        vec![Server {
                            name: "p-api-green-1".into(),
                            address: "192.0.2.11".into(),
                            port,
                        }],
                    ),
                ]),
                template: None,
            })
            .collect();
        let opts = ProxyOptions {
            container: "p-api-standin".into(),
            stand_in: Some(stand_in),
            ..Default::default()
        };
        (ProxyModel { services }, opts)
    }

    #[test]
    fn one_listener_per_port_live_colour_enabled() {
        let (m, o) = model(Color::Green);
        let text = render(&m, &o).unwrap();
        assert!(!text.contains("frontend main"), "{text}");
        assert!(
            text.contains("frontend in_8080\n    bind *:8080\n"),
            "{text}"
        );
        assert!(
            text.contains("frontend in_5432\n    bind *:5432\n"),
            "{text}"
        );
        // The TCP listener sits after the TCP defaults, the HTTP one before them.
        let tcp = text.find("defaults tcp").unwrap();
        assert!(text.find("frontend in_8080").unwrap() < tcp);
        assert!(text.find("frontend in_5432").unwrap() > tcp);
        let slots = parse_slots(&text);
        let enabled: Vec<_> = slots
            .iter()
            .filter(|s| s.enabled)
            .map(|s| (s.backend.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(
            enabled,
            [("be_p-api_p8080", "green-1"), ("be_p-api_p5432", "green-1")]
        );
        assert!(text.contains("192.0.2.11:5432"));
        // The Runtime API keeps clear of the target's ports.
        assert!(text.contains("stats socket ipv4@127.0.0.1:9999"));
    }

    #[test]
    fn runtime_port_moves_off_a_target_port() {
        let (m, mut o) = model(Color::Blue);
        o.stand_in
            .as_mut()
            .unwrap()
            .listeners
            .push((9999, Mode::Tcp));
        let mut m = m;
        let mut extra = m.services[0].clone();
        extra.name = StandIn::backend_service("p-api", 9999);
        m.services.push(extra);
        let text = render(&m, &o).unwrap();
        assert!(text.contains("stats socket ipv4@127.0.0.1:9998"), "{text}");
    }

    #[test]
    fn a_switch_changes_slot_states_only() {
        let (blue, o) = model(Color::Blue);
        let (green, _) = model(Color::Green);
        let a = render(&blue, &o).unwrap();
        let b = render(&green, &o).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            super::super::render::structure(&a),
            super::super::render::structure(&b)
        );
    }
}
