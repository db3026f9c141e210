//! Talking to the Docker engine: connecting to a resolved `context::Endpoint` (see `connect`),
//! and running Compose services on it the way Compose v2 does:
//!
//! - `create`: one service → one container-create request (`container_config`);
//! - `labels`: Compose's labels and the config hash;
//! - `resources`: project networks and volumes;
//! - `secrets`: compose secrets and configs (bind mounts, or Swarm objects);
//! - `image`: pull policy and `build:`;
//! - `service`: `up_service` (dependencies, scale, idempotent recreate) and `down_project`;
//! - `duration`: Go durations and go-units byte sizes.

pub mod connect;
pub mod create;
pub mod duration;
pub mod image;
pub mod labels;
pub mod resources;
pub mod secrets;
pub mod service;
pub mod swarm;

pub use connect::{connect, EngineError};
pub use create::{container_config, extra_network_endpoints, ContainerContext};
pub use image::ensure_image;
pub use labels::config_hash;
pub use resources::{ensure_networks, ensure_volumes};
pub use service::{down_project, remove_project_volumes, up_service, EventSink, UpOptions};

/// A failed engine call made for a Compose operation: `action` says what we were doing.
pub(crate) fn api_error(action: impl Into<String>, err: bollard::errors::Error) -> EngineError {
    use bollard::errors::Error as B;
    let cause = match &err {
        B::DockerResponseServerError {
            status_code,
            message,
        } => {
            format!("the engine answered {status_code}: {}", message.trim())
        }
        B::DockerStreamError { error } => error.trim().to_string(),
        other => other.to_string(),
    };
    EngineError::Api {
        action: action.into(),
        cause,
        source: Box::new(err),
    }
}

/// Whether an engine error is a 404.
pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
