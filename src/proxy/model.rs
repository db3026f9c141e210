//! What the proxy must route, and how it runs.

use std::{collections::BTreeMap, fmt};

use crate::release::{Color, Routes};

/// What the proxy must route: every service docker flow manages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyModel {
    /// Sorted by name.
    pub services: Vec<ServiceModel>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceModel {
    /// `<project>-<target>`.
    pub name: String,
    /// The colour users are routed to.
    pub live: Color,
    pub routes: Routes,
    /// Passing instances of each colour.
    pub servers: BTreeMap<Color, Vec<Server>>,
    /// A custom consul-template-style template replacing the generated routing.
    pub template: Option<TemplateSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Server {
    /// Container name.
    pub name: String,
    pub address: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSpec {
    /// One template holding frontend and backend sections.
    Single(String),
    /// The original's pair of files: frontend and backend template.
    Pair { fe: String, be: String },
}

/// How the proxy container runs.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Container name, `docker-flow-proxy` by default.
    pub container: String,
    pub image: String,
    /// Host port container port 80 is published on.
    pub http_port: u16,
    /// Host port container port 443 is published on (443 when `None`); used only with a cert.
    pub https_port: Option<u16>,
    /// Host address the ports are published on.
    pub bind_address: String,
    /// Certificate chain and private key (PEM) for the HTTPS frontend.
    pub cert_pem: Option<Vec<u8>>,
    /// Engine networks to join so the proxy reaches the instances.
    pub networks: Vec<String>,
    /// Run on the host's network (`network_mode: host`): HAProxy binds `bind_address` and the
    /// host ports itself, and reaches instances published on the host's loopback address.
    pub host_network: bool,
    /// Set for a target's stand-in (see [`StandIn`]): no main frontend, one listener per port.
    pub stand_in: Option<StandIn>,
}

/// How requests on a stand-in's port are passed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// Per request: keep-alive clients reach the live colour with their next request.
    #[default]
    Http,
    /// Per connection: new connections reach the live colour, open ones drain.
    Tcp,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "http" => Some(Mode::Http),
            "tcp" => Some(Mode::Tcp),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Http => "http",
            Mode::Tcp => "tcp",
        })
    }
}

/// A target's stand-in: an HAProxy container of its own on the target's engine that answers to
/// the target's compose name (and declared aliases, container_name) on the target's networks,
/// listens on every port of the target and publishes the target's fixed host ports, sending
/// everything to the live colour. The colours themselves run under coloured names, unpublished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StandIn {
    /// Engine network -> the names the stand-in answers to there.
    pub aliases: Vec<(String, Vec<String>)>,
    /// Container ports the stand-in listens on (the target's), each with its mode.
    pub listeners: Vec<(u16, Mode)>,
    /// Fixed host ports moved from the target: (host address, host port, container port).
    pub published: Vec<(String, u16, u16)>,
    /// Value of the stand-in's label: the service it stands in for.
    pub service: String,
    /// The compose project (its label, so `docker compose down` and `ps -a` see it).
    pub project: String,
}

impl StandIn {
    /// The model's service name for one listener's backend (`be_<service>_p<port>`).
    pub fn backend_service(service: &str, port: u16) -> String {
        format!("{service}_p{port}")
    }

    /// A digest of what only a new container can change (names, published ports): a stand-in
    /// whose digest differs is recreated.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = format!("{:?}|{:?}", self.aliases, self.published);
        let h = Sha256::digest(text.as_bytes());
        h.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

impl ProxyOptions {
    /// Where the main frontend listens, as HAProxy's `bind` takes it: inside the container's
    /// own network the fixed ports (published by Docker), on the host's network the host's.
    pub(crate) fn http_listen(&self) -> String {
        if self.host_network {
            listen(&self.bind_address, self.http_port)
        } else {
            format!("*:{}", super::render::HTTP_PORT_IN)
        }
    }

    pub(crate) fn https_listen(&self) -> String {
        let published = self.https_port.unwrap_or(super::render::HTTPS_PORT_IN);
        if self.host_network {
            listen(&self.bind_address, published)
        } else {
            format!("*:{}", super::render::HTTPS_PORT_IN)
        }
    }

    /// The address (and port) a client inside the container connects to for the main frontend.
    pub(crate) fn http_probe(&self) -> (String, u16) {
        if let Some(first) = self.stand_in.as_ref().and_then(|s| s.listeners.first()) {
            return ("127.0.0.1".into(), first.0);
        }
        if self.host_network {
            let addr = match self.bind_address.as_str() {
                "0.0.0.0" | "::" => "127.0.0.1",
                a => a,
            };
            (addr.to_string(), self.http_port)
        } else {
            ("127.0.0.1".into(), super::render::HTTP_PORT_IN)
        }
    }

    /// The Runtime API's TCP address, loopback only. On the host's network every proxy shares
    /// the host's loopback, so each gets its own address in 127.0.0.0/8, derived from its name
    /// (stable across runs and versions: a sha256 prefix).
    /// The Runtime API's port: 9999, or on a stand-in the first port below it that the target
    /// does not use.
    pub(crate) fn runtime_port(&self) -> u16 {
        let used = |p: u16| {
            self.stand_in
                .as_ref()
                .is_some_and(|s| s.listeners.iter().any(|(l, _)| *l == p))
        };
        (1024..=super::render::RUNTIME_PORT)
            .rev()
            .find(|p| !used(*p))
            .unwrap_or(super::render::RUNTIME_PORT)
    }

    pub(crate) fn runtime_addr(&self) -> String {
        if !self.host_network {
            return "127.0.0.1".into();
        }
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(self.container.as_bytes());
        format!("127.{}.{}.{}", h[0], h[1], h[2].max(2))
    }
}

fn listen(address: &str, port: u16) -> String {
    match address {
        "0.0.0.0" => format!("*:{port}"),
        a if a.contains(':') => format!("[{a}]:{port}"),
        a => format!("{a}:{port}"),
    }
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            container: "docker-flow-proxy".into(),
            image: "haproxy:lts".into(),
            http_port: 80,
            https_port: None,
            bind_address: "0.0.0.0".into(),
            cert_pem: None,
            networks: Vec::new(),
            host_network: false,
            stand_in: None,
        }
    }
}

impl fmt::Debug for ProxyOptions {
    // The PEM holds a private key: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("container", &self.container)
            .field("image", &self.image)
            .field("http_port", &self.http_port)
            .field("https_port", &self.https_port)
            .field("bind_address", &self.bind_address)
            .field("cert_pem", &self.cert_pem.as_ref().map(|_| "<redacted>"))
            .field("networks", &self.networks)
            .field("stand_in", &self.stand_in)
            .finish()
    }
}

/// What `Proxy::apply` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// The config structure changed: HAProxy was reloaded (master-worker, listeners kept).
    pub reloaded: bool,
    /// Runtime API commands sent (0 when nothing changed or when reloaded).
    pub runtime_commands: usize,
}
