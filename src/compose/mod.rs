//! Compose files, loaded natively the way `docker compose` does: file discovery, YAML (anchors,
//! `<<` merges), interpolation, merging of several files, `include`, `extends`, profiles, project
//! name, then normalisation to one canonical form per key and typing with docker-compose-types.

pub mod model;

pub use model::{
    FileObject, FileRef, FileSource, Network, Project, Service, ServiceExtras, Volume,
};
pub mod interpolate;

pub mod env;
pub mod error;
mod extends;
pub mod files;
mod finalize;
mod include;
mod load;
mod merge;
pub mod name;
mod normalize;
pub mod ports;
pub mod profiles;
mod secrets;
mod value;
pub mod volumes;

pub use error::ComposeError;
pub use load::{load, load_with_warnings, LoadOptions, Loaded};
