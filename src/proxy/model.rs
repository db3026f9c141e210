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
