//! `RegistryError`: every failure talking to Consul (or starting the embedded one), as one line
//! that names the Consul address and the key or endpoint, and says what to do. The ACL token is
//! never part of a message.

use std::time::Duration;

/// Where the user sets the Consul address, for messages.
pub(crate) const ADDRESS_HINT: &str = "--consul-address / FLOW_CONSUL_ADDRESS / CONSUL_HTTP_ADDR";
/// Where the user sets the ACL token, for messages.
/// (The config layer reads the token from the environment only, never a flag or file.)
pub(crate) const TOKEN_HINT: &str = "CONSUL_HTTP_TOKEN or FLOW_CONSUL_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The Consul settings cannot be used (address, CA, client certificate).
    #[error("Consul settings: {reason}")]
    Config { reason: String },

    /// A service name that cannot be a key segment.
    #[error("\"{service}\" cannot be used as a Consul key segment under docker-flow/: {reason}")]
    InvalidService { service: String, reason: String },

    /// Nothing answers at the address (refused, no route, name not resolved, TLS failure).
    #[error("Consul at {address} is unreachable ({cause}): start it, or set {ADDRESS_HINT}", ADDRESS_HINT = ADDRESS_HINT)]
    Unreachable { address: String, cause: String },

    /// The TLS handshake failed (untrusted server certificate, client certificate refused).
    #[error("TLS with Consul at {address} failed ({cause}): check the CA (--consul-cacert / CONSUL_CACERT) and the client certificate and key (--consul-client-cert, --consul-client-key / CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY)")]
    Tls { address: String, cause: String },

    /// A call did not complete in time.
    #[error("Consul at {address} did not answer {what} within {} s: check that it is running and that the address is right ({ADDRESS_HINT})", .after.as_secs_f32().ceil(), ADDRESS_HINT = ADDRESS_HINT)]
    Timeout {
        address: String,
        what: String,
        after: Duration,
    },

    /// 403 and no token was set.
    #[error("permission denied by Consul ACLs {what} at {address}: set a token with {TOKEN_HINT}", TOKEN_HINT = TOKEN_HINT)]
    PermissionDenied { address: String, what: String },

    /// 403 with a token that does not grant the operation.
    #[error("permission denied by Consul ACLs {what} at {address}: the token set does not allow it; give its policy `key_prefix \"docker-flow/\" {{ policy = \"write\" }}`, `session_prefix \"\" {{ policy = \"write\" }}` and `service_prefix \"\" {{ policy = \"write\" }}`")]
    TokenNotAllowed { address: String, what: String },

    /// 403 "ACL not found": the token is unknown to Consul.
    #[error("Consul at {address} does not know the ACL token set ({what}): check {TOKEN_HINT}", TOKEN_HINT = TOKEN_HINT)]
    TokenNotFound { address: String, what: String },

    /// Any other unexpected HTTP status.
    #[error("Consul at {address} answered {status} {what}: {body}")]
    Status {
        address: String,
        what: String,
        status: u16,
        body: String,
    },

    /// A 2xx answer we could not understand.
    #[error("Consul at {address} sent an unexpected answer {what}: {reason}")]
    BadResponse {
        address: String,
        what: String,
        reason: String,
    },

    /// The cluster has no leader (starting, or quorum lost).
    #[error("Consul at {address} has no cluster leader ({detail}): wait for it to finish starting, or check `consul members` and the server logs")]
    NoLeader { address: String, detail: String },

    /// A key holds a value docker flow cannot read (written by hand, or by another tool).
    #[error("{key} at {address} holds {value:?}, which is not {expected}: fix it with `{fix}`, or delete it with `consul kv delete {key}`")]
    InvalidValue {
        address: String,
        key: String,
        value: String,
        expected: String,
        fix: String,
    },

    /// The compare-and-set write found keys changed since they were read.
    #[error("the state of \"{service}\" in Consul at {address} (docker-flow/{service}/) was changed by someone else while this command ran ({detail}): nothing was written; run the command again")]
    Conflict {
        address: String,
        service: String,
        detail: String,
    },

    /// The service's (or the proxy's) lock is held by another command.
    #[error("{what} is locked by another docker flow command ({holder}), held in Consul at {address} as {key}; waited {} s: wait for it to finish and retry (the lock of a killed command expires within {} s)", .waited.as_secs_f32().ceil(), crate::registry::SESSION_TTL.as_secs() * 2)]
    Locked {
        address: String,
        /// `"<service>"` or `the proxy <name>`.
        what: String,
        key: String,
        holder: String,
        waited: Duration,
    },

    /// An engine call for the embedded Consul failed.
    #[error("embedded Consul ({container}): could not {action}: {cause}; use your own Consul with --consul-address / FLOW_CONSUL_ADDRESS, or another image with --consul-image / FLOW_CONSUL_IMAGE")]
    Docker {
        container: String,
        action: String,
        cause: String,
    },

    /// The embedded Consul did not come up.
    #[error("embedded Consul ({container}) at {address} did not elect a leader within {} s: {detail}; see `docker logs {container}`", .after.as_secs())]
    EmbeddedNotReady {
        container: String,
        address: String,
        after: Duration,
        detail: String,
    },
}

impl RegistryError {
    /// A configuration or hand-edited-state problem (exit 2), rather than a failure while running.
    pub fn is_bad_state(&self) -> bool {
        matches!(
            self,
            RegistryError::Config { .. }
                | RegistryError::InvalidService { .. }
                | RegistryError::InvalidValue { .. }
        )
    }
}
