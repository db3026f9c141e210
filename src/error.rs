//! The error the user sees: one line (a chain of causes joined by ": "), and an exit code.
//! 0 ok, 1 the flow failed (state unchanged or rolled back), 2 usage or configuration error.

use crate::{cli::UsageError, compose::ComposeError, context::ContextError, engine::EngineError};

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
    #[error("{reason}; {state}")]
    Interrupted { reason: &'static str, state: String },
    #[error("`docker flow {0}` is not available in this build yet: it arrives with the flows (see `docker flow --help`)")]
    NotYet(&'static str),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Context(_) | Error::Compose(_) => 2,
            Error::Engine(_) | Error::NotYet(_) => 1,
            Error::Interrupted { .. } => 130,
        }
    }
}
