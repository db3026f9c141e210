//! Consul: a service's release state (KV), the per-service deploy lock (session), instance
//! registration and health (agent and catalog), and an embedded single-node Consul.
//!
//! Key layout under `docker-flow/<service>/` (`color` and `scale` as the original docker-flow
//! wrote them, so existing consul-template setups and `curl ...?raw` keep working):
//!
//! | key         | format                                | written when                           |
//! |-------------|---------------------------------------|----------------------------------------|
//! | `color`     | raw `blue` / `green`                  | the switch makes a colour live         |
//! | `scale`     | raw decimal >= 1                      | deploy / scale of the live colour      |
//! | `candidate` | raw `blue` / `green`                  | deploy without switching; cleared after|
//! | `routes`    | JSON [`Routes`](crate::release::Routes) | deploy / proxy with routes            |
//! | `releases`  | JSON list of [`Release`](crate::release::Release), newest last, <= 20 | every event |
//! | `template`  | JSON [`Template`](crate::release::Template) | deploy with a consul-template    |
//! | `.lock`     | holder text, held by a Consul session | while a command changes the service    |
//!
//! Every call has a timeout, every status is checked, and every failure is a [`RegistryError`]
//! naming the Consul address and the key or endpoint.

mod catalog;
mod client;
pub mod embedded;
mod error;
mod kv;
mod lock;
mod object_key;
mod state;

pub use catalog::{CatalogInstance, Check, Registration, DEREGISTER_CRITICAL_AFTER};
pub use client::{Consul, ConsulConfig};
pub use embedded::{attach_network, ensure_embedded, EmbeddedConsul};
pub use error::RegistryError;
pub use lock::{holder_text, Lock, RENEW_EVERY, SESSION_TTL};
pub use state::{keys, state_key, StateVersion, MAX_HISTORY, ROOT};
