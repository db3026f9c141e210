//! The flows. Each reads observed state (engine + Consul), decides, then acts through the
//! engine, the registry and the proxy, reporting each step.

pub mod adopt;
pub mod config;
pub mod context;
pub mod deploy;
pub mod error;
pub mod model;
pub mod observe;
pub mod reach;
pub mod report;
pub mod rollback;
pub mod run;
pub mod runtime;
pub mod scale;
pub mod stand_in;
pub mod status;
pub mod stop_old;
pub mod switch;
pub mod version;
