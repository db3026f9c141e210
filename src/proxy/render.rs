//! The HAProxy config, rendered from the model: pure functions, no I/O.
//!
//! Layout: `global` (Runtime API on loopback only, `hard-stop-after`, `mworker-max-reloads`),
//! `defaults` (timeouts, health checks, L7 retries + redispatch), one `frontend main` holding
//! every route, then per service `be_<svc>` (slots of both colours; the live colour's filled
//! slots enabled, everything else `disabled` = maintenance) and `be_<svc>_<colour>` preview
//! backends, then the sections of custom templates.
//!
//! Slot lines carry a marker comment (`# slot <container>` / `# slot -`) so the file can be read
//! back: it is the record of what runs (the file on disk always equals the runtime state).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    error::ProxyError,
    model::{ProxyModel, ProxyOptions, Server, ServiceModel},
    template, validate,
};
use crate::release::{Color, PathType};

pub(crate) const CONFIG_DIR: &str = "/usr/local/etc/haproxy";
pub(crate) const CONFIG_FILE: &str = "haproxy.cfg";
pub(crate) const CERT_FILE: &str = "flow.pem";
/// Runtime API port, on a loopback address (see ProxyOptions::runtime_addr).
pub(crate) const RUNTIME_PORT: u16 = 9999;
/// Ports the main frontend binds inside the container.
pub(crate) const HTTP_PORT_IN: u16 = 80;
pub(crate) const HTTPS_PORT_IN: u16 = 443;
/// Header that routes a request to one colour's preview backend.
pub const PREVIEW_HEADER: &str = "X-Flow-Color";
/// Address of an empty slot (never contacted: empty slots are in maintenance).
pub(crate) const EMPTY_ADDR: &str = "127.0.0.1";
pub(crate) const EMPTY_PORT: u16 = 1;
const SLOT_MARK: &str = "# slot ";

/// One server slot of a generated backend, as rendered or as read back from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    pub backend: String,
    /// `blue-1`, `green-3`, …
    pub name: String,
    /// The instance in the slot (container name, address, port); `None` when empty.
    pub server: Option<Server>,
    pub enabled: bool,
}

impl Slot {
    pub fn addr(&self) -> (&str, u16) {
        match &self.server {
            Some(s) => (&s.address, s.port),
            None => (EMPTY_ADDR, EMPTY_PORT),
        }
    }
}

/// Which instance sits in which slot, per (service, colour); index i is slot `<colour>-<i+1>`.
pub(crate) type Assignment = BTreeMap<(String, Color), Vec<Option<Server>>>;

#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub text: String,
    pub slots: Vec<Slot>,
}

/// Slots per colour: at least 4, a power of two, so scaling within it needs no reload.
pub fn slot_count(instances: usize) -> usize {
    instances.next_power_of_two().max(4)
}

pub fn backend_name(service: &str) -> String {
    format!("be_{service}")
}

pub fn preview_backend_name(service: &str, color: Color) -> String {
    format!("be_{service}_{color}")
}

/// Renders the whole config (pure).
pub fn render(model: &ProxyModel, opts: &ProxyOptions) -> Result<String, ProxyError> {
    render_full(model, opts, &Assignment::new()).map(|r| r.text)
}

/// Places instances into slots, keeping those already placed (by address and port) where they
/// are, so a scale or switch changes as few slots as possible.
pub(crate) fn assign(
    servers: &[Server],
    previous: Option<&Vec<Option<Server>>>,
) -> Vec<Option<Server>> {
    let mut wanted: Vec<Server> = servers.to_vec();
    wanted.sort();
    let mut slots: Vec<Option<Server>> = vec![None; slot_count(wanted.len())];
    let mut rest = Vec::new();
    for s in wanted {
        let kept = previous.and_then(|prev| {
            prev.iter().take(slots.len()).position(|p| {
                p.as_ref()
                    .is_some_and(|p| p.address == s.address && p.port == s.port)
            })
        });
        match kept {
            Some(i) if slots[i].is_none() => slots[i] = Some(s),
            _ => rest.push(s),
        }
    }
    for s in rest {
        if let Some(free) = slots.iter_mut().find(|x| x.is_none()) {
            *free = Some(s);
        }
    }
    slots
}

pub(crate) fn render_full(
    model: &ProxyModel,
    opts: &ProxyOptions,
    previous: &Assignment,
) -> Result<Rendered, ProxyError> {
    validate::model(model)?;
    let tls = opts.cert_pem.is_some();
    let mut out = header(opts);
    if let Some(stand_in) = &opts.stand_in {
        return super::stand_in::render_body(model, stand_in, previous, out);
    }
    let mut slots = Vec::new();
    // (global and defaults: see `header`)
    // Templates first: their frontend lines fold into the main frontend.
    let mut folded: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut extra_sections = String::new();
    for svc in &model.services {
        if let Some(spec) = &svc.template {
            let text = template::render(svc, spec, model)?;
            let split = template::split_sections(&svc.name, &text, opts)?;
            folded.insert(&svc.name, split.folded);
            for s in split.sections {
                let _ = writeln!(extra_sections, "# template of {}", svc.name);
                extra_sections.push_str(&s);
                extra_sections.push('\n');
            }
        }
    }

    out.push_str("frontend main\n");
    let _ = writeln!(out, "    bind {}", opts.http_listen());
    if tls {
        let _ = writeln!(
            out,
            "    bind {} ssl crt {CONFIG_DIR}/{CERT_FILE}",
            opts.https_listen()
        );
    }
    for svc in by_specificity(&model.services) {
        let _ = writeln!(out, "    # service {}", svc.name);
        if let Some(lines) = folded.get(svc.name.as_str()) {
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
            continue;
        }
        let conds = route_acls(svc, &mut out)?;
        if conds.is_empty() {
            let _ = writeln!(
                out,
                "    # (no routes: not reachable through the main frontend)"
            );
            continue;
        }
        let conds = conds.join(" ");
        for c in Color::ALL {
            let _ = writeln!(
                out,
                "    use_backend {} if {{ req.hdr({PREVIEW_HEADER}) -i {c} }} {conds}",
                preview_backend_name(&svc.name, c)
            );
        }
        let _ = writeln!(
            out,
            "    use_backend {} if {conds}",
            backend_name(&svc.name)
        );
    }
    out.push('\n');

    for svc in model.services.iter().filter(|s| s.template.is_none()) {
        let mut per_color = BTreeMap::new();
        for c in Color::ALL {
            let servers = svc.servers.get(&c).map(Vec::as_slice).unwrap_or(&[]);
            let key = (svc.name.clone(), c);
            per_color.insert(c, assign(servers, previous.get(&key)));
        }
        let be = backend_name(&svc.name);
        let _ = writeln!(out, "backend {be}");
        out.push_str("    balance roundrobin\n");
        for c in Color::ALL {
            for (i, s) in per_color[&c].iter().enumerate() {
                let slot = Slot {
                    backend: be.clone(),
                    name: format!("{c}-{}", i + 1),
                    server: s.clone(),
                    enabled: c == svc.live && s.is_some(),
                };
                slot_line(&slot, &mut out);
                slots.push(slot);
            }
        }
        out.push('\n');
        for c in Color::ALL {
            let be = preview_backend_name(&svc.name, c);
            let _ = writeln!(out, "backend {be}");
            out.push_str("    balance roundrobin\n");
            for (i, s) in per_color[&c].iter().enumerate() {
                let slot = Slot {
                    backend: be.clone(),
                    name: format!("{c}-{}", i + 1),
                    server: s.clone(),
                    enabled: s.is_some(),
                };
                slot_line(&slot, &mut out);
                slots.push(slot);
            }
            out.push('\n');
        }
    }
    out.push_str(&extra_sections);
    Ok(Rendered { text: out, slots })
}

/// `global` (Runtime API on loopback only) and the HTTP `defaults`, shared by the main proxy
/// and the stand-ins.
fn header(opts: &ProxyOptions) -> String {
    let mut out = String::new();
    out.push_str(
        "# Generated by docker flow. Do not edit: `docker flow proxy` rewrites this file,\n\
         # and the running HAProxy is kept equal to it.\n",
    );
    out.push_str("global\n");
    out.push_str("    log stdout format raw local0 notice\n");
    let _ = writeln!(
        out,
        "    stats socket ipv4@{}:{} level admin",
        opts.runtime_addr(),
        opts.runtime_port()
    );
    out.push_str("    stats socket /var/lib/haproxy/admin.sock mode 600 level admin\n");
    out.push_str("    stats timeout 30s\n");
    out.push_str("    hard-stop-after 30s\n");
    out.push_str("    mworker-max-reloads 50\n");
    if opts.cert_pem.is_some() {
        out.push_str("    ssl-default-bind-options ssl-min-ver TLSv1.2\n");
    }
    out.push('\n');
    out.push_str(
        "defaults
    mode http
    log global
    option dontlognull
    option forwardfor
    # Every retry goes to another server, and a connect gets 1 s: a request sent to an
    # instance whose node just died is answered by another within about a second, before the
    # checks (1 s apart, 2 failures) take the dead one out.
    option redispatch 1
    # On reload, an old worker closes a keep-alive connection only after answering on it
    # (measured: 0 of 160 closures lost a request, against 9 with close-spread-time).
    option idle-close-on-response
    retries 3
    retry-on conn-failure empty-response response-timeout
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 10s
    timeout check 2s
    default-server check inter 1s fall 2 rise 1

",
    );

    out
}

/// The order of the services' rules in the main frontend, where the first matching rule wins:
/// templates first (the user wrote their rules), then the most specific routes — exact hosts
/// before wildcards before any host, exact paths before prefixes (longest first) before regexes
/// before `/` and before no path — so `/demo/api` is not shadowed by `/demo`, nor `api.example.com` by
/// `*.example.com`, whatever order the services were deployed in.
fn by_specificity(services: &[ServiceModel]) -> Vec<&ServiceModel> {
    let rank = |s: &ServiceModel| {
        let r = &s.routes;
        let host = if r.domains.iter().any(|d| !d.starts_with('*')) {
            2
        } else {
            u8::from(!r.domains.is_empty())
        };
        let (path, len) = match (r.paths.is_empty(), r.path_type) {
            (true, _) => (0, 0),
            (false, PathType::Exact) => (3, 0),
            (false, PathType::Prefix) => match r.paths.iter().map(String::len).max() {
                // `/` catches every path: after everything, regexes included.
                Some(len) if len > 1 => (2, len),
                _ => (1, 0),
            },
            (false, PathType::Regex) => (1, 1),
        };
        std::cmp::Reverse((s.template.is_some(), host, path, len))
    };
    let mut v: Vec<&ServiceModel> = services.iter().collect();
    // Stable: equally specific services keep the model's (name) order.
    v.sort_by_key(|s| rank(s));
    v
}

/// Writes the service's ACL lines; returns the condition terms a `use_backend` needs (ANDed).
fn route_acls(svc: &ServiceModel, out: &mut String) -> Result<Vec<String>, ProxyError> {
    let r = &svc.routes;
    let mut conds = Vec::new();
    if !r.paths.is_empty() {
        let acl = format!("{}_path", svc.name);
        let (fetch, quote) = match r.path_type {
            PathType::Prefix => ("path_beg", false),
            PathType::Exact => ("path", false),
            PathType::Regex => ("path_reg", true),
        };
        let mut line = format!("    acl {acl} {fetch}");
        for p in &r.paths {
            validate::path(p, r.path_type)?;
            if quote {
                let _ = write!(line, " '{p}'");
            } else {
                let _ = write!(line, " {p}");
            }
        }
        let _ = writeln!(out, "{line}");
        conds.push(acl);
    }
    if !r.domains.is_empty() {
        let acl = format!("{}_host", svc.name);
        let mut exact = Vec::new();
        let mut suffix = Vec::new();
        for d in &r.domains {
            let d = validate::domain(d)?;
            match d.strip_prefix('*') {
                Some(rest) => suffix.push(rest.to_string()),
                None => exact.push(d),
            }
        }
        // The Host header without its port.
        if !exact.is_empty() {
            let _ = writeln!(
                out,
                "    acl {acl} req.hdr(host),field(1,:) -m str -i {}",
                exact.join(" ")
            );
        }
        if !suffix.is_empty() {
            let _ = writeln!(
                out,
                "    acl {acl} req.hdr(host),field(1,:) -m end -i {}",
                suffix.join(" ")
            );
        }
        conds.push(acl);
    }
    Ok(conds)
}

pub(crate) fn slot_line(slot: &Slot, out: &mut String) {
    let (addr, port) = slot.addr();
    let addr = if addr.contains(':') {
        format!("ipv6@{addr}:{port}")
    } else {
        format!("{addr}:{port}")
    };
    let state = if slot.enabled { "" } else { " disabled" };
    let who = slot.server.as_ref().map(|s| s.name.as_str()).unwrap_or("-");
    let _ = writeln!(
        out,
        "    server {} {addr}{state} {SLOT_MARK}{who}",
        slot.name
    );
}

/// Reads the slots back from a config this module rendered.
pub(crate) fn parse_slots(text: &str) -> Vec<Slot> {
    let mut backend = String::new();
    let mut slots = Vec::new();
    for line in text.lines() {
        if let Some(b) = line.strip_prefix("backend ") {
            backend = b.split_whitespace().next().unwrap_or("").to_string();
            continue;
        }
        if !line.starts_with(' ') && !line.is_empty() {
            backend.clear();
            continue;
        }
        let Some((decl, who)) = line.split_once(SLOT_MARK) else {
            continue;
        };
        let words: Vec<&str> = decl.split_whitespace().collect();
        if backend.is_empty() || words.len() < 3 || words[0] != "server" {
            continue;
        }
        let addr = words[2].strip_prefix("ipv6@").unwrap_or(words[2]);
        let Some((ip, port)) = addr.rsplit_once(':') else {
            continue;
        };
        let port: u16 = port.parse().unwrap_or(0);
        let who = who.trim();
        slots.push(Slot {
            backend: backend.clone(),
            name: words[1].to_string(),
            server: (who != "-").then(|| Server {
                name: who.to_string(),
                address: ip.to_string(),
                port,
            }),
            enabled: !words[3..].contains(&"disabled"),
        });
    }
    slots
}

/// The assignment a rendered config holds, to render the next one with instances kept in place.
pub(crate) fn assignment_of(slots: &[Slot]) -> Assignment {
    let mut a = Assignment::new();
    for s in slots {
        let Some(svc) = s.backend.strip_prefix("be_") else {
            continue;
        };
        let Some((color, n)) = s.name.split_once('-') else {
            continue;
        };
        let (Some(color), Ok(n)) = (Color::parse(color), n.parse::<usize>()) else {
            continue;
        };
        // Main backends only (`be_<svc>`), not previews (`be_<svc>_<colour>`).
        if svc.ends_with("_blue") || svc.ends_with("_green") {
            continue;
        }
        let v = a.entry((svc.to_string(), color)).or_default();
        if v.len() < n {
            v.resize(n, None);
        }
        v[n - 1] = s.server.clone();
    }
    a
}

/// The config with slot contents and states blanked out: two configs with the same structure
/// differ only in what Runtime API commands can change (server address, port, state).
pub(crate) fn structure(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if let Some((decl, _)) = line.split_once(SLOT_MARK) {
            let mut w = decl.split_whitespace();
            if let (Some("server"), Some(name)) = (w.next(), w.next()) {
                let _ = writeln!(out, "    server {name}");
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Marks the slots holding `containers` in the backends of `service` as disabled (after a drain).
pub(crate) fn disable_in_text(text: &str, service: &str, containers: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let main = backend_name(service);
    let mut in_svc = false;
    for line in text.lines() {
        if let Some(b) = line.strip_prefix("backend ") {
            in_svc = b.trim() == main;
        } else if !line.starts_with(' ') && !line.is_empty() {
            in_svc = false;
        }
        if in_svc {
            if let Some((decl, who)) = line.split_once(SLOT_MARK) {
                if containers.iter().any(|c| c == who.trim()) && !decl.contains(" disabled") {
                    let _ = writeln!(
                        out,
                        "{} disabled {SLOT_MARK}{}",
                        decl.trim_end(),
                        who.trim()
                    );
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{proxy::model::TemplateSpec, release::Routes};

    fn server(n: &str, ip: &str) -> Server {
        Server {
            name: n.into(),
            address: ip.into(),
            port: 8080,
        }
    }

    fn svc(name: &str, live: Color) -> ServiceModel {
        ServiceModel {
            name: name.into(),
            live,
            routes: Routes {
                paths: vec!["/demo".into()],
                domains: vec!["example.com:8080".into(), "*.example.org".into()],
                port: 8080,
                path_type: PathType::Prefix,
                proxy: None,
                networks: Vec::new(),
            },
            servers: BTreeMap::from([
                (Color::Blue, vec![server("app-web-blue-1", "192.0.2.2")]),
                (Color::Green, vec![server("app-web-green-1", "192.0.2.3")]),
            ]),
            template: None,
        }
    }

    fn opts() -> ProxyOptions {
        ProxyOptions::default()
    }

    #[test]
    fn more_specific_routes_come_first_whatever_the_deploy_order() {
        let route = |name: &str, paths: &[&str], domains: &[&str], t: PathType| {
            let mut s = svc(name, Color::Blue);
            s.routes.paths = paths.iter().map(|p| p.to_string()).collect();
            s.routes.domains = domains.iter().map(|d| d.to_string()).collect();
            s.routes.path_type = t;
            s
        };
        let model = ProxyModel {
            services: vec![
                route("a-root", &["/"], &[], PathType::Prefix),
                route("b-demo", &["/demo"], &[], PathType::Prefix),
                route("c-api", &["/demo/api"], &[], PathType::Prefix),
                route("d-wild", &[], &["*.example.com"], PathType::Prefix),
                route("e-host", &[], &["api.example.com"], PathType::Prefix),
                route("f-exact", &["/demo"], &[], PathType::Exact),
                route("g-regex", &["^/v[0-9]+/"], &[], PathType::Regex),
            ],
        };
        let cfg = render(&model, &opts()).unwrap();
        let order: Vec<&str> = cfg
            .lines()
            .filter_map(|l| l.trim().strip_prefix("# service "))
            .collect();
        assert_eq!(
            order,
            ["e-host", "d-wild", "f-exact", "c-api", "b-demo", "g-regex", "a-root"]
        );
    }

    #[test]
    fn renders_routes_slots_and_previews() {
        let model = ProxyModel {
            services: vec![svc("app-web", Color::Blue)],
        };
        let cfg = render(&model, &opts()).unwrap();
        for want in [
            "    stats socket ipv4@127.0.0.1:9999 level admin\n",
            "    hard-stop-after 30s\n",
            "    mworker-max-reloads 50\n",
            "    option redispatch 1\n",
            "    timeout connect 1s\n",
            "    retries 3\n",
            "    retry-on conn-failure empty-response response-timeout\n",
            "    default-server check inter 1s fall 2 rise 1\n",
            "frontend main\n    bind *:80\n",
            "    acl app-web_path path_beg /demo\n",
            "    acl app-web_host req.hdr(host),field(1,:) -m str -i example.com\n",
            "    acl app-web_host req.hdr(host),field(1,:) -m end -i .example.org\n",
            "    use_backend be_app-web_green if { req.hdr(X-Flow-Color) -i green } app-web_path app-web_host\n",
            "    use_backend be_app-web if app-web_path app-web_host\n",
            "backend be_app-web\n    balance roundrobin\n    server blue-1 192.0.2.2:8080 # slot app-web-blue-1\n    server blue-2 127.0.0.1:1 disabled # slot -\n",
            "    server green-1 192.0.2.3:8080 disabled # slot app-web-green-1\n",
            "backend be_app-web_green\n    balance roundrobin\n    server green-1 192.0.2.3:8080 # slot app-web-green-1\n",
        ] {
            assert!(cfg.contains(want), "missing {want:?} in\n{cfg}");
        }
        assert!(!cfg.contains("443"), "no TLS without a cert");
        assert_eq!(
            cfg.matches("server blue-").count(),
            8,
            "4 slots x 2 backends"
        );
        // The preview rules come before the main rule (first match wins).
        assert!(cfg.find("be_app-web_blue if").unwrap() < cfg.find("be_app-web if").unwrap());
    }

    #[test]
    fn switch_changes_only_slot_states() {
        let blue = render(
            &ProxyModel {
                services: vec![svc("a", Color::Blue)],
            },
            &opts(),
        )
        .unwrap();
        let green = render(
            &ProxyModel {
                services: vec![svc("a", Color::Green)],
            },
            &opts(),
        )
        .unwrap();
        assert_ne!(blue, green);
        assert_eq!(structure(&blue), structure(&green));
        let slots = parse_slots(&green);
        let g1 = slots
            .iter()
            .find(|s| s.backend == "be_a" && s.name == "green-1")
            .unwrap();
        assert!(g1.enabled);
        assert_eq!(g1.server.as_ref().unwrap().address, "192.0.2.3");
        let b1 = slots
            .iter()
            .find(|s| s.backend == "be_a" && s.name == "blue-1")
            .unwrap();
        assert!(!b1.enabled);
    }

    #[test]
    fn slots_grow_by_powers_of_two_and_keep_places() {
        assert_eq!(slot_count(0), 4);
        assert_eq!(slot_count(4), 4);
        assert_eq!(slot_count(5), 8);
        assert_eq!(slot_count(9), 16);
        let prev = vec![None, Some(server("b", "192.0.2.9")), None, None];
        let got = assign(
            &[server("a", "192.0.2.1"), server("b", "192.0.2.9")],
            Some(&prev),
        );
        assert_eq!(got[1].as_ref().unwrap().name, "b");
        assert_eq!(got[0].as_ref().unwrap().name, "a");
        let mut model = ProxyModel {
            services: vec![svc("a", Color::Blue)],
        };
        let four = render(&model, &opts()).unwrap();
        let blues = model.services[0].servers.get_mut(&Color::Blue).unwrap();
        for i in 2..=4 {
            blues.push(server(&format!("b{i}"), &format!("192.0.2.{}", 10 + i)));
        }
        assert_eq!(
            structure(&render(&model, &opts()).unwrap()),
            structure(&four)
        );
        let blues = model.services[0].servers.get_mut(&Color::Blue).unwrap();
        blues.push(server("b5", "192.0.2.50"));
        assert_ne!(
            structure(&render(&model, &opts()).unwrap()),
            structure(&four)
        );
    }

    #[test]
    fn on_the_hosts_network_it_binds_the_host_ports_and_its_own_runtime_address() {
        let mut o = opts();
        o.host_network = true;
        o.bind_address = "127.0.0.1".into();
        o.http_port = 18080;
        o.cert_pem = Some(b"pem".to_vec());
        o.https_port = Some(18443);
        let cfg = render(&ProxyModel::default(), &o).unwrap();
        assert!(cfg.contains("    bind 127.0.0.1:18080\n"), "{cfg}");
        assert!(cfg.contains("    bind 127.0.0.1:18443 ssl crt "), "{cfg}");
        let runtime = o.runtime_addr();
        assert!(
            runtime.starts_with("127.") && runtime != "127.0.0.1",
            "{runtime}"
        );
        assert!(cfg.contains(&format!("stats socket ipv4@{runtime}:9999 level admin")));
        // Stable per name, different across names.
        assert_eq!(runtime, o.runtime_addr());
        o.container = "other-proxy".into();
        assert_ne!(runtime, o.runtime_addr());
        o.bind_address = "0.0.0.0".into();
        assert_eq!(o.http_listen(), "*:18080");
        assert_eq!(o.http_probe(), ("127.0.0.1".to_string(), 18080));
        o.bind_address = "::1".into();
        assert_eq!(o.http_listen(), "[::1]:18080");
    }

    #[test]
    fn tls_binds_443_with_the_uploaded_pem() {
        let mut o = opts();
        o.cert_pem = Some(b"pem".to_vec());
        let cfg = render(&ProxyModel::default(), &o).unwrap();
        assert!(
            cfg.contains("    bind *:443 ssl crt /usr/local/etc/haproxy/flow.pem\n"),
            "{cfg}"
        );
    }

    #[test]
    fn exact_and_regex_paths() {
        let mut s = svc("a", Color::Blue);
        s.routes.path_type = PathType::Exact;
        s.routes.domains.clear();
        let cfg = render(
            &ProxyModel {
                services: vec![s.clone()],
            },
            &opts(),
        )
        .unwrap();
        assert!(cfg.contains("    acl a_path path /demo\n"));
        assert!(cfg.contains("    use_backend be_a if a_path\n"));
        s.routes.path_type = PathType::Regex;
        s.routes.paths = vec!["^/api/v[0-9]+/".into()];
        let cfg = render(&ProxyModel { services: vec![s] }, &opts()).unwrap();
        assert!(
            cfg.contains("    acl a_path path_reg '^/api/v[0-9]+/'\n"),
            "{cfg}"
        );
    }

    #[test]
    fn injection_is_rejected() {
        let mut s = svc("a", Color::Blue);
        s.routes.paths = vec!["/a\n  server evil 1.2.3.4:80".into()];
        let err = render(&ProxyModel { services: vec![s] }, &opts()).unwrap_err();
        assert!(err.to_string().contains("route path"), "{err}");
        let mut s = svc("a", Color::Blue);
        s.routes.domains = vec!["evil.com use_backend x".into()];
        assert!(render(&ProxyModel { services: vec![s] }, &opts()).is_err());
        let mut s = svc("a", Color::Blue);
        s.servers.get_mut(&Color::Blue).unwrap()[0].address = "1.2.3.4:80 backup".into();
        assert!(render(&ProxyModel { services: vec![s] }, &opts()).is_err());
        let mut s = svc("a b", Color::Blue);
        s.template = Some(TemplateSpec::Single(String::new()));
        assert!(render(&ProxyModel { services: vec![s] }, &opts()).is_err());
    }

    #[test]
    fn drain_marks_slots_disabled_in_the_file() {
        let cfg = render(
            &ProxyModel {
                services: vec![svc("a", Color::Blue)],
            },
            &opts(),
        )
        .unwrap();
        let out = disable_in_text(&cfg, "a", &["app-web-blue-1".into()]);
        let b1 = parse_slots(&out)
            .into_iter()
            .find(|s| s.backend == "be_a" && s.name == "blue-1")
            .unwrap();
        assert!(!b1.enabled);
        assert_eq!(structure(&out), structure(&cfg));
    }
}
