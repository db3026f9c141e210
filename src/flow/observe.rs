//! What runs: the containers of a target's colours, found by docker flow's labels, with their
//! state, health and address on the network the proxy reaches them through.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;

use crate::engine::EngineError;
use crate::release::Color;

/// Labels docker flow adds to the containers of a release (beside Compose's own).
pub const LABEL_SERVICE: &str = "com.docker.flow.service";
pub const LABEL_TARGET: &str = "com.docker.flow.target";
pub const LABEL_COLOR: &str = "com.docker.flow.color";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub number: u32,
    pub running: bool,
    /// `healthy`, `unhealthy`, `starting`, or None without a healthcheck.
    pub health: Option<String>,
    pub image: String,
    /// IP address per engine network name.
    pub addresses: BTreeMap<String, String>,
    /// Published TCP ports: (container port, host address, host port).
    pub published: Vec<(u16, String, u16)>,
}

/// The containers of each colour of one target, sorted by container number.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub by_color: BTreeMap<Color, Vec<Container>>,
    /// On Swarm: each colour's service (present even at 0 replicas).
    pub services: BTreeMap<Color, crate::engine::swarm::SwarmService>,
}

impl Observed {
    pub fn of(&self, color: Color) -> &[Container] {
        self.by_color.get(&color).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn running(&self, color: Color) -> Vec<&Container> {
        self.of(color).iter().filter(|c| c.running).collect()
    }
}

pub async fn observe(docker: &Docker, service: &str) -> Result<Observed, EngineError> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_SERVICE}={service}")],
    )]);
    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| EngineError::Resource(format!("list the containers of {service}: {e}")))?;
    let mut out = Observed::default();
    for c in list {
        let labels = c.labels.clone().unwrap_or_default();
        let Some(color) = labels.get(LABEL_COLOR).and_then(|s| Color::parse(s)) else {
            continue;
        };
        let status = c.status.clone().unwrap_or_default();
        let health = ["(healthy)", "(unhealthy)", "(health: starting)"]
            .iter()
            .find(|h| status.contains(*h))
            .map(|h| {
                h.trim_matches(|ch| ch == '(' || ch == ')')
                    .trim_start_matches("health: ")
                    .to_string()
            });
        let addresses = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .map(|nets| {
                nets.iter()
                    .filter_map(|(name, ep)| {
                        ep.ip_address
                            .clone()
                            .filter(|ip| !ip.is_empty())
                            .map(|ip| (name.clone(), ip))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let published = c
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                let public = p.public_port?;
                Some((p.private_port, p.ip.clone().unwrap_or_default(), public))
            })
            .collect();
        out.by_color.entry(color).or_default().push(Container {
            id: c.id.clone().unwrap_or_default(),
            name: c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            number: labels
                .get("com.docker.compose.container-number")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            running: c.state.as_ref().map(|s| s.to_string()) == Some("running".to_string()),
            health,
            image: c.image.clone().unwrap_or_default(),
            addresses,
            published,
        });
    }
    for list in out.by_color.values_mut() {
        list.sort_by_key(|c| c.number);
    }
    Ok(out)
}
