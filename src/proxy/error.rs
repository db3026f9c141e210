//! What can go wrong talking to the proxy.

use crate::release::Color;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A value that would reach the HAProxy config or a Runtime API command is unsafe.
    #[error("invalid {what} {value:?}: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: String,
    },
    /// A custom template does not parse or does not execute.
    #[error("template of service {service}: {message}")]
    Template { service: String, message: String },
    /// `haproxy -c` rejected the rendered config; the running config is unchanged.
    #[error("the new proxy config is invalid, the old one keeps serving: {0}")]
    InvalidConfig(String),
    /// The Runtime API answered with an error.
    #[error("HAProxy Runtime API: `{command}`: {answer}")]
    Runtime { command: String, answer: String },
    #[error("service {service} has no {color} server {server} in the proxy")]
    UnknownServer {
        service: String,
        color: Color,
        server: String,
    },
    #[error("proxy container {0} does not exist: `docker flow proxy` starts it again with every route from Consul")]
    NotRunning(String),
    #[error("timed out after {secs:.1}s waiting for {what}")]
    Timeout { what: String, secs: f64 },
    #[error("proxy container {container}: {message}")]
    Container { container: String, message: String },
    #[error("Docker engine: {context}: {source}")]
    Docker {
        context: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl ProxyError {
    /// Why a value was refused, without the value (for callers that name it themselves).
    pub fn reason(&self) -> String {
        match self {
            ProxyError::Invalid { why, .. } => why.clone(),
            other => other.to_string(),
        }
    }

    /// Bad input (a value, a template, the config a template renders) rather than a failure.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ProxyError::Invalid { .. } | ProxyError::Template { .. } | ProxyError::InvalidConfig(_)
        )
    }

    pub(crate) fn invalid(what: &'static str, value: &str, why: impl Into<String>) -> ProxyError {
        ProxyError::Invalid {
            what,
            value: value.to_string(),
            why: why.into(),
        }
    }

    pub(crate) fn docker(
        context: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> Self {
        let context = context.into();
        move |source| ProxyError::Docker { context, source }
    }
}
