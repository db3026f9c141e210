//! Compose files, loaded natively the way `docker compose` does: file discovery, YAML (anchors,
//! `<<` merges), interpolation, merging of several files, `include`, `extends`, profiles, project
//! name, then normalisation to one canonical form per key and typing with docker-compose-types.

pub mod model;

pub use model::{Network, Project, Service, ServiceExtras, Volume};
