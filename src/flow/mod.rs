//! The flows. Each reads observed state, decides, then acts through engine/registry/proxy.

pub mod config;
pub mod status;
pub mod version;
