//! Why a flow stopped. Each message says what state it left, so the user knows what runs.

use crate::compose::ComposeError;
use crate::engine::EngineError;
use crate::proxy::ProxyError;
use crate::registry::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// Bad input found while planning (exit 2): nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// Nothing was ever deployed where this invocation looks (no Consul to read state from).
    #[error("{0}")]
    NotDeployed(String),
    /// The flow ran and failed (exit 1); the message says what was undone.
    #[error("{0}")]
    Failed(String),
    #[error("{reason}; {state}")]
    Interrupted { reason: &'static str, state: String },
}

impl FlowError {
    pub fn exit_code(&self) -> u8 {
        match self {
            FlowError::Invalid(_) | FlowError::NotDeployed(_) | FlowError::Compose(_) => 2,
            FlowError::Registry(e) if e.is_bad_state() => 2,
            FlowError::Proxy(e) if e.is_bad_input() => 2,
            FlowError::Interrupted { .. } => 130,
            _ => 1,
        }
    }
}
