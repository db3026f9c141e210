//! The Consul HTTP client: settings, the reqwest client (rustls with the ring provider, built
//! here so nothing process-global is needed), URLs, the ACL token header, timeouts, and the
//! mapping of transport errors and HTTP statuses to [`RegistryError`].

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode, Url};
use rustls::{ClientConfig, RootCertStore};

use super::error::RegistryError;

/// Bound on establishing a connection (TCP and TLS handshake).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on an ordinary (non-blocking) call, connection included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where Consul is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsulConfig {
    /// `http://host:port`, `https://host:port` (a path prefix is kept), or `host:port`, which gets
    /// `http://` (`https://` when `cacert` is set).
    pub address: String,
    /// ACL token, sent as `X-Consul-Token`; never printed.
    pub token: Option<String>,
    /// CA certificate (PEM) to verify an https Consul with; only this CA is trusted. Without it
    /// the system roots are.
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) for Consul's `verify_incoming`; needs `client_key`.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl Default for ConsulConfig {
    /// The local agent: `http://127.0.0.1:8500`, no token, no TLS.
    fn default() -> Self {
        ConsulConfig {
            address: "http://127.0.0.1:8500".into(),
            token: None,
            cacert: None,
            client_cert: None,
            client_key: None,
        }
    }
}

impl ConsulConfig {
    /// Settings for `address` with no token and no TLS files.
    pub fn new(address: impl Into<String>) -> Self {
        ConsulConfig {
            address: address.into(),
            ..ConsulConfig::default()
        }
    }
}

/// A Consul HTTP API client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Consul {
    pub(crate) http: reqwest::Client,
    /// Normalised address, without a trailing slash: what messages show.
    pub(crate) address: Arc<str>,
    base: Arc<Url>,
    token: Option<Arc<str>>,
}

impl std::fmt::Debug for Consul {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consul")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Consul {
    /// Builds the client (reads the TLS files; no network I/O).
    pub fn new(cfg: &ConsulConfig) -> Result<Consul, RegistryError> {
        let config = |reason: String| RegistryError::Config { reason };
        let address = normalize_address(&cfg.address, cfg.cacert.is_some()).map_err(config)?;
        let base = Url::parse(&format!("{address}/"))
            .map_err(|e| config(format!("Consul address {address:?} is not a URL: {e}")))?;
        let tls = tls_config(cfg, base.scheme() == "https").map_err(config)?;
        let mut builder = reqwest::Client::builder();
        if is_loopback(&base) {
            // As Go's ProxyFromEnvironment (the consul CLI): never send loopback via HTTP_PROXY.
            builder = builder.no_proxy();
        }
        let http = builder
            .tls_backend_preconfigured(tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("docker-flow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config(format!("cannot build the HTTP client: {}", innermost(&e))))?;
        let token = cfg
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Arc::from);
        Ok(Consul {
            http,
            address: Arc::from(address),
            base: Arc::new(base),
            token,
        })
    }

    /// The normalised address (`http://127.0.0.1:8500`), as messages show it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `<base>/v1/<segments…>`; each segment is percent-encoded, an empty last segment gives a
    /// trailing slash (a KV prefix).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = (*self.base).clone();
        {
            let mut path = url.path_segments_mut().expect("http(s) URLs have a path");
            path.pop_if_empty();
            path.push("v1");
            for s in segments {
                path.push(s);
            }
        }
        url
    }

    /// The URL of a KV key or prefix: `v1/kv/<key>` (the key's `/` kept as separators).
    pub(crate) fn kv_url(&self, key: &str) -> Url {
        let mut segments = vec!["kv"];
        segments.extend(key.split('/'));
        self.url(&segments)
    }

    /// Sends a request with the token and a timeout; maps transport failures. The status is
    /// left to the caller (see [`Consul::check`]).
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Body>,
        timeout: Duration,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let mut req = self.http.request(method, url).timeout(timeout);
        if let Some(token) = &self.token {
            req = req.header("X-Consul-Token", &**token);
        }
        req = match body {
            None => req,
            Some(Body::Raw(bytes)) => req.body(bytes),
            Some(Body::Json(v)) => req.json(&v),
        };
        req.send()
            .await
            .map_err(|e| self.transport_error(e, what, timeout))
    }

    /// Passes 2xx answers through; turns any other status into the error that explains it.
    pub(crate) async fn check(
        &self,
        resp: Response,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(self.status_error(status, &body, what))
    }

    pub(crate) fn status_error(&self, status: StatusCode, body: &str, what: &str) -> RegistryError {
        let address = self.address.to_string();
        let what = what.to_string();
        let body = body.trim();
        if status == StatusCode::FORBIDDEN || body.contains("Permission denied") {
            return if body.contains("ACL not found") {
                RegistryError::TokenNotFound { address, what }
            } else if self.token.is_none() {
                RegistryError::PermissionDenied { address, what }
            } else {
                RegistryError::TokenNotAllowed { address, what }
            };
        }
        if body.contains("No cluster leader") {
            return RegistryError::NoLeader {
                address,
                detail: format!("{} {what}", status.as_u16()),
            };
        }
        let mut body: String = body.chars().take(300).collect();
        if body.is_empty() {
            body = status.canonical_reason().unwrap_or("no details").into();
        }
        RegistryError::Status {
            address,
            what,
            status: status.as_u16(),
            body,
        }
    }

    /// Reads a JSON answer.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: Response,
        what: &str,
        timeout: Duration,
    ) -> Result<T, RegistryError> {
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(e, what, timeout))?;
        serde_json::from_slice(&bytes).map_err(|e| self.bad_response(what, e.to_string()))
    }

    pub(crate) fn bad_response(&self, what: &str, reason: String) -> RegistryError {
        RegistryError::BadResponse {
            address: self.address.to_string(),
            what: what.to_string(),
            reason,
        }
    }

    fn transport_error(&self, e: reqwest::Error, what: &str, after: Duration) -> RegistryError {
        let address = self.address.to_string();
        if e.is_timeout() || has_timeout_source(&e) {
            return RegistryError::Timeout {
                address,
                what: what.to_string(),
                after,
            };
        }
        match describe(&e) {
            Cause::Tls(cause) => RegistryError::Tls { address, cause },
            Cause::Other(cause) => RegistryError::Unreachable { address, cause },
        }
    }
}

/// A request body.
pub(crate) enum Body {
    Raw(Vec<u8>),
    Json(serde_json::Value),
}

/// `host:port` → `http://host:port` (`https://` with a CA); checks the scheme; drops a trailing
/// slash.
fn normalize_address(raw: &str, has_ca: bool) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(format!(
            "the Consul address is empty: set {}",
            super::error::ADDRESS_HINT
        ));
    }
    let full = match raw.split_once("://") {
        Some((scheme, _)) => match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => raw.to_string(),
            _ => {
                return Err(format!(
                    "Consul address {raw:?}: scheme {scheme}:// is not supported; use http://host:port or https://host:port"
                ))
            }
        },
        None if has_ca => format!("https://{raw}"),
        None => format!("http://{raw}"),
    };
    let url = Url::parse(&full).map_err(|e| format!("Consul address {raw:?} is not a URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("Consul address {raw:?} has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "Consul address {raw:?}: remove the query or fragment; use http://host:port"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the Consul address must not carry credentials; set an ACL token with CONSUL_HTTP_TOKEN or --consul-token".into(),
        );
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// rustls with the ring provider: only the given CA when there is one (as the consul CLI's
/// CONSUL_CACERT), else the system roots; a client certificate when both files are given.
fn tls_config(cfg: &ConsulConfig, https: bool) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut roots = RootCertStore::empty();
    match &cfg.cacert {
        Some(ca) => {
            let (added, _) =
                roots.add_parsable_certificates(crate::tls::read_certs(ca, "CA certificate")?);
            if added == 0 {
                return Err(format!(
                    "CA certificate {} holds no usable certificate",
                    ca.display()
                ));
            }
        }
        None if https => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if roots.is_empty() {
                return Err("no system CA certificates were found to verify the https Consul address; set the CA with --consul-cacert / CONSUL_CACERT".into());
            }
        }
        None => {} // plain http: the roots are never used
    }
    let builder = builder.with_root_certificates(roots);
    match (&cfg.client_cert, &cfg.client_key) {
        (Some(cert), Some(key)) => {
            crate::tls::client_auth(builder, Some(cert), Some(key), "client")
        }
        (Some(cert), None) => Err(format!(
            "client certificate {} is set without a client key: set both (--consul-client-key / CONSUL_CLIENT_KEY)",
            cert.display()
        )),
        (None, Some(key)) => Err(format!(
            "client key {} is set without a client certificate: set both (--consul-client-cert / CONSUL_CLIENT_CERT)",
            key.display()
        )),
        (None, None) => Ok(builder.with_no_client_auth()),
    }
}

fn has_timeout_source(e: &(dyn StdError + 'static)) -> bool {
    let mut cur = e.source();
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        cur = s.source();
    }
    false
}

/// A short cause for a transport error: a TLS failure, "connection refused", "cannot resolve …".
enum Cause {
    Tls(String),
    Other(String),
}

fn describe(e: &reqwest::Error) -> Cause {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = cur {
        if let Some(tls) = tls_error(s) {
            return Cause::Tls(tls.to_string());
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return Cause::Other("connection refused".into()),
                ConnectionReset => return Cause::Other("connection reset".into()),
                ConnectionAborted => return Cause::Other("connection aborted".into()),
                _ => {}
            }
        }
        cur = s.source();
    }
    let text = innermost(e);
    if text.contains("failed to lookup address") || text.contains("dns error") {
        return Cause::Other(format!("cannot resolve the host name: {text}"));
    }
    Cause::Other(text)
}

/// A rustls error, possibly wrapped in (nested) `io::Error`s, whose `source()` skips the
/// wrapped error itself.
fn tls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    tls_error(inner)
}

/// The innermost cause's text (reqwest's outer messages only say "error sending request").
fn innermost(e: &(dyn StdError + 'static)) -> String {
    let mut last = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        last = s.to_string();
        cur = s.source();
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_normalise() {
        assert_eq!(
            normalize_address("127.0.0.1:8500", false).unwrap(),
            "http://127.0.0.1:8500"
        );
        assert_eq!(
            normalize_address("consul.local:8501", true).unwrap(),
            "https://consul.local:8501"
        );
        assert_eq!(
            normalize_address(" http://h:1/ ", false).unwrap(),
            "http://h:1"
        );
        assert_eq!(
            normalize_address("https://h/consul/", false).unwrap(),
            "https://h/consul"
        );
        assert!(normalize_address("unix:///tmp/c.sock", false)
            .unwrap_err()
            .contains("not supported"));
        assert!(normalize_address("", false).unwrap_err().contains("empty"));
        assert!(normalize_address("http://u:p@h:1", false)
            .unwrap_err()
            .contains("credentials"));
    }

    #[test]
    fn urls_encode_segments_and_keep_prefixes() {
        let c = Consul::new(&ConsulConfig::new("http://h:1/base")).unwrap();
        assert_eq!(
            c.kv_url("docker-flow/app/").as_str(),
            "http://h:1/base/v1/kv/docker-flow/app/"
        );
        assert_eq!(
            c.url(&["agent", "service", "deregister", "a b"]).as_str(),
            "http://h:1/base/v1/agent/service/deregister/a%20b"
        );
    }

    #[test]
    fn loopback_hosts() {
        for (u, want) in [
            ("http://127.0.0.1:8500/", true),
            ("http://localhost:8500/", true),
            ("http://[::1]:8500/", true),
            ("http://192.0.2.1:8500/", false),
            ("https://consul.example.com/", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(u).unwrap()), want, "{u}");
        }
    }

    #[test]
    fn token_is_not_in_debug_output() {
        let mut cfg = ConsulConfig::new("h:1");
        cfg.token = Some("s3cr3t".into());
        let c = Consul::new(&cfg).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn half_a_client_certificate_is_an_error() {
        let mut cfg = ConsulConfig::new("h:1");
        cfg.client_cert = Some("/nonexistent/cert.pem".into());
        let err = Consul::new(&cfg).unwrap_err().to_string();
        assert!(err.contains("without a client key"), "{err}");
    }
}
