//! Talking to the Docker engine: connecting to a resolved `context::Endpoint` (see `connect`).

pub mod connect;

pub use connect::{connect, EngineError};
