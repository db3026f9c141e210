//! "Run Consul for me": a single-node Consul server in a container on the engine, its data on a
//! named volume, its HTTP API published on 127.0.0.1 only.
//!
//! The agent binds raft and serf to the container's loopback (`-bind=127.0.0.1`) so a restart
//! with a new container IP never confuses the single-node raft, and its node name is fixed so a
//! container recreated on the same volume is the same node. Health checks run inside that
//! container: instances on other networks need it attached (see [`attach_network`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HostConfig, NetworkConnectRequest, PortBinding,
    RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{CreateContainerOptionsBuilder, CreateImageOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;

use super::client::{Consul, ConsulConfig};
use super::error::RegistryError;

/// The production container name (global on the engine).
pub const CONTAINER: &str = "docker-flow-consul";
/// The production data volume.
pub const VOLUME: &str = "docker-flow-consul-data";
/// Host port on 127.0.0.1 (not 8500, so a local agent there keeps working).
pub const PORT: u16 = 8501;
/// The default image: any image whose entrypoint runs `consul` with the command's arguments.
/// (Same as `config::DEFAULT_CONSUL_IMAGE`, which callers pass.)
pub const IMAGE: &str = "hashicorp/consul:1.20";
/// Label marking the container and volume as docker flow's embedded Consul.
pub const ROLE_LABEL: &str = "com.docker.flow.role";
/// How long a new or restarted server gets to elect itself leader.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

const API_PORT: &str = "8500/tcp";

/// What to run. `Default` gives the production names; tests use unique ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedConsul {
    pub name: String,
    pub volume: String,
    /// Host port on 127.0.0.1; 0 lets the engine choose one (the address returned says which).
    pub port: u16,
    pub image: String,
}

impl Default for EmbeddedConsul {
    fn default() -> Self {
        EmbeddedConsul {
            name: CONTAINER.into(),
            volume: VOLUME.into(),
            port: PORT,
            image: IMAGE.into(),
        }
    }
}

impl EmbeddedConsul {
    fn error(&self, action: impl Into<String>, e: &DockerError) -> RegistryError {
        RegistryError::Docker {
            container: self.name.clone(),
            action: action.into(),
            cause: docker_cause(e),
        }
    }

    fn body(&self) -> ContainerCreateBody {
        let labels = HashMap::from([
            (ROLE_LABEL.to_string(), "consul".to_string()),
            (
                "com.docker.flow.version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ]);
        let host_port = if self.port == 0 {
            String::new()
        } else {
            self.port.to_string()
        };
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(
                [
                    "agent",
                    "-server",
                    "-bootstrap-expect=1",
                    "-node=docker-flow-consul",
                    "-bind=127.0.0.1",
                    "-client=0.0.0.0",
                    "-data-dir=/consul/data",
                    "-hcl=disable_update_check = true",
                ]
                .map(String::from)
                .to_vec(),
            ),
            exposed_ports: Some(vec![API_PORT.to_string()]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{}:/consul/data", self.volume)]),
                port_bindings: Some(HashMap::from([(
                    API_PORT.to_string(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(host_port),
                    }]),
                )])),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

fn is_status(e: &DockerError, code: u16) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

fn docker_cause(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} (engine answered {status_code})"),
        e => e.to_string(),
    }
}

async fn inspect(
    docker: &Docker,
    spec: &EmbeddedConsul,
) -> Result<Option<ContainerInspectResponse>, RegistryError> {
    match docker
        .inspect_container(
            &spec.name,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
    {
        Ok(c) => Ok(Some(c)),
        Err(e) if is_status(&e, 404) => Ok(None),
        Err(e) => Err(spec.error("inspect the container", &e)),
    }
}

/// Makes sure the embedded Consul runs (created if missing, started if stopped) and has a
/// leader; returns its address, `http://127.0.0.1:<port>`.
pub async fn ensure_embedded(
    docker: &Docker,
    spec: &EmbeddedConsul,
    on_event: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, RegistryError> {
    let existing = inspect(docker, spec).await?;
    let running = existing
        .as_ref()
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.running)
        .unwrap_or(false);
    if existing.is_none() {
        create(docker, spec, on_event).await?;
    }
    if !running {
        on_event(&format!("starting Consul ({})", spec.name));
        match docker
            .start_container(
                &spec.name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
        {
            Ok(()) => {}
            Err(e) if is_status(&e, 304) => {} // started by someone else meanwhile
            Err(e) => return Err(spec.error("start the container", &e)),
        }
    }
    let container = inspect(docker, spec)
        .await?
        .ok_or_else(|| RegistryError::Docker {
            container: spec.name.clone(),
            action: "find the container after starting it".into(),
            cause: "it was removed meanwhile".into(),
        })?;
    let port = published_port(&container).ok_or_else(|| RegistryError::Docker {
        container: spec.name.clone(),
        action: "find its published API port".into(),
        cause: format!(
            "{API_PORT} is not published; remove the container (docker rm -f {}) and run again",
            spec.name
        ),
    })?;
    let address = format!("http://127.0.0.1:{port}");
    wait_for_leader(docker, spec, &address, on_event).await?;
    Ok(address)
}

/// Pulls the image when missing, creates the volume and the container.
async fn create(
    docker: &Docker,
    spec: &EmbeddedConsul,
    on_event: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), RegistryError> {
    match docker.inspect_image(&spec.image).await {
        Ok(_) => {}
        Err(e) if is_status(&e, 404) => {
            on_event(&format!("pulling {}", spec.image));
            let (from, tag) = match spec.image.rsplit_once(':') {
                Some((f, t)) if !t.contains('/') => (f.to_string(), t.to_string()),
                _ => (spec.image.clone(), "latest".to_string()),
            };
            let options = CreateImageOptionsBuilder::default()
                .from_image(&from)
                .tag(&tag)
                .build();
            let mut stream = docker.create_image(Some(options), None, None);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        if let Some(status) = info.status {
                            on_event(&format!("{}: {status}", spec.image));
                        }
                    }
                    Err(e) => return Err(spec.error(format!("pull image {}", spec.image), &e)),
                }
            }
        }
        Err(e) => return Err(spec.error(format!("inspect image {}", spec.image), &e)),
    }
    let volume = VolumeCreateRequest {
        name: Some(spec.volume.clone()),
        labels: Some(HashMap::from([(
            ROLE_LABEL.to_string(),
            "consul-data".to_string(),
        )])),
        ..Default::default()
    };
    // Creating an existing local volume returns it unchanged: the data survives recreation.
    docker
        .create_volume(volume)
        .await
        .map_err(|e| spec.error(format!("create volume {}", spec.volume), &e))?;
    on_event(&format!(
        "creating Consul ({}, data in volume {})",
        spec.name, spec.volume
    ));
    let options = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    match docker.create_container(Some(options), spec.body()).await {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 409) => Ok(()), // created by someone else meanwhile
        Err(e) => Err(spec.error("create the container", &e)),
    }
}

fn published_port(c: &ContainerInspectResponse) -> Option<u16> {
    c.network_settings
        .as_ref()?
        .ports
        .as_ref()?
        .get(API_PORT)?
        .as_ref()?
        .iter()
        .filter(|b| b.host_ip.as_deref().is_none_or(|ip| ip == "127.0.0.1"))
        .find_map(|b| b.host_port.as_deref()?.parse().ok())
}

/// Polls `/v1/status/leader` (backing off, no fixed sleep) until a leader is there, the
/// container stops, or [`READY_TIMEOUT`] passes.
async fn wait_for_leader(
    docker: &Docker,
    spec: &EmbeddedConsul,
    address: &str,
    on_event: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), RegistryError> {
    let consul = Consul::new(&ConsulConfig::new(address))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    let mut told = false;
    loop {
        let last = match consul.ping().await {
            Ok(()) => return Ok(()),
            Err(e) => e.to_string(),
        };
        if !told && start.elapsed() > Duration::from_secs(1) {
            on_event(&format!(
                "waiting for Consul ({}) to elect a leader",
                spec.name
            ));
            told = true;
        }
        let state = inspect(docker, spec).await?.and_then(|c| c.state);
        if let Some(s) = state.filter(|s| s.running == Some(false) && s.restarting != Some(true)) {
            return Err(RegistryError::EmbeddedNotReady {
                container: spec.name.clone(),
                address: address.to_string(),
                after: start.elapsed(),
                detail: format!(
                    "the container exited (code {})",
                    s.exit_code.unwrap_or_default()
                ),
            });
        }
        if start.elapsed() >= READY_TIMEOUT {
            return Err(RegistryError::EmbeddedNotReady {
                container: spec.name.clone(),
                address: address.to_string(),
                after: READY_TIMEOUT,
                detail: last,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Connects the embedded Consul container to `network` (so its HTTP/TCP checks reach
/// instances there); already connected is fine.
pub async fn attach_network(
    docker: &Docker,
    container: &str,
    network: &str,
) -> Result<(), RegistryError> {
    let request = NetworkConnectRequest {
        container: container.to_string(),
        endpoint_config: None,
    };
    match docker.connect_network(network, request).await {
        Ok(()) => Ok(()),
        Err(DockerError::DockerResponseServerError {
            status_code: 403 | 409 | 500,
            message,
        }) if message.contains("already exists") => Ok(()),
        Err(e) => Err(RegistryError::Docker {
            container: container.to_string(),
            action: format!("connect it to network {network}"),
            cause: docker_cause(&e),
        }),
    }
}
