//! The release vocabulary every layer shares: colours, a service's release state as kept in
//! Consul, and the instances of a colour.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the two releases of a blue-green service. The first release is blue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub const ALL: [Color; 2] = [Color::Blue, Color::Green];

    /// The colour a deploy uses when `self` is live.
    pub fn other(self) -> Color {
        match self {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }

    /// Strict parse: anything but `blue`/`green` is `None` (the original tool read any text,
    /// "Permission denied" included, as a colour).
    pub fn parse(s: &str) -> Option<Color> {
        match s.trim() {
            "blue" => Some(Color::Blue),
            "green" => Some(Color::Green),
            _ => None,
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How requests reach a service through the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routes {
    /// Path prefixes (or exact paths / regexes, see `path_type`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Host header values (`example.com`, `*.example.com`).
    #[serde(default)]
    pub domains: Vec<String>,
    /// The container port requests go to; 0: none, the main proxy does not route the service
    /// (a worker, or any service deployed with no path, domain or template).
    pub port: u16,
    #[serde(default)]
    pub path_type: PathType,
    /// The proxy container that serves these routes (None: `docker-flow-proxy`). Each proxy
    /// renders only the services that name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The engine networks the service's instances are on: a proxy recreated by another
    /// service's flow joins them too, so every route it renders is reachable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathType {
    #[default]
    Prefix,
    Exact,
    Regex,
}

/// One event in a service's release history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub color: Color,
    pub image: String,
    /// Image ID (content digest) the containers were created from.
    pub image_id: String,
    pub scale: u32,
    /// `deployed`, `switched`, `stopped`, `rolled-back`.
    pub event: String,
    /// Unix seconds.
    pub at: u64,
}

/// A service's state in Consul, under `docker-flow/<service>/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseState {
    /// `color`: the live colour, the one the proxy routes users to (original format).
    pub live: Option<Color>,
    /// `scale`: instances of the live colour (original format: a decimal integer).
    pub scale: Option<u32>,
    /// `candidate`: a deployed colour waiting for `proxy` to switch to it.
    pub candidate: Option<Color>,
    /// `routes`: JSON.
    pub routes: Option<Routes>,
    /// `releases`: JSON list, newest last, bounded.
    pub history: Vec<Release>,
    /// `template`: JSON, the user's consul-template text for this service's proxy config.
    pub template: Option<Template>,
}

impl ReleaseState {
    /// Whether the main proxy routes the service: a routed port, or a template of its own.
    pub fn proxied(&self) -> bool {
        self.template.is_some() || self.routes.as_ref().is_some_and(|r| r.port != 0)
    }
}

/// A consul-template (Go template syntax) the user gave for a service's proxy config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Template {
    /// `--consul-template-path`: frontend and backend in one file.
    Single(String),
    /// `--consul-template-fe-path` + `--consul-template-be-path`.
    Pair { fe: String, be: String },
}

/// A running instance of a colour, as the engine and Consul know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    pub container: String,
    pub color: Color,
    pub number: u32,
    /// Address the proxy and Consul reach it at (the container's IP on the project network).
    pub address: String,
    pub port: u16,
    pub image: String,
}
