//! docker flow: zero-downtime blue-green deploys of Compose services, as a Docker CLI plugin.
//!
//! Layers, top calling down (see docs/architecture.md):
//! cli -> context -> compose -> flow -> engine.

pub mod cli;
pub mod compose;
pub mod config;
pub mod context;
pub mod engine;
pub mod error;
pub mod flow;
pub mod interrupt;
pub mod metadata;
pub mod proxy;
pub mod registry;
pub mod release;
pub mod tls;
