//! The error the user sees: one line (a chain of causes joined by ": "), and an exit code.
//! 0 ok, 1 the flow failed (state unchanged or rolled back), 2 usage or configuration error.

use crate::flow::error::FlowError;
use crate::{
    cli::UsageError, compose::ComposeError, config::ConfigError, context::ContextError,
    engine::EngineError,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{reason}; {state}")]
    Interrupted { reason: &'static str, state: String },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Context(_) | Error::Compose(_) | Error::Config(_) => 2,
            Error::Engine(_) => 1,
            Error::Flow(e) => e.exit_code(),
            Error::Interrupted { .. } => 130,
        }
    }
}
