//! A bollard client for a resolved endpoint, checked with a first round trip.
//!
//! - `unix://` → bollard's unix socket client (the socket must exist).
//! - `tcp://` without TLS → bollard's plain HTTP client.
//! - `tcp://` with TLS → our own rustls client config (ring provider, as bollard's `ssl` feature)
//!   behind bollard's custom-transport hook. bollard's `connect_with_ssl` cannot skip
//!   verification (`SkipTLSVerify`, `--tls` without `--tlsverify`), cannot verify against the
//!   system roots when a context has no CA, adds the system roots to a given CA (docker trusts
//!   only the CA), and silently drops an unreadable client key; one path for all TLS keeps the
//!   Docker CLI's behaviour and names the file at fault.
//! - `ssh://` → bollard's ssh client (system `ssh`, `docker system dial-stdio` on the remote).
//!
//! Then `negotiate_version()` (bollard defaults to API 1.53; older engines such as 20.10 speak
//! 1.41) and `ping()`, both within a short connect timeout.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bollard::{BollardRequest, Docker, API_DEFAULT_VERSION};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::context::{Endpoint, Tls};

/// Bound on the first contact (TCP/TLS handshake, version negotiation and ping).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// ssh gets as long as the Docker CLI gives it (`-o ConnectTimeout=30`).
const SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// bollard's per-request timeout (to the response headers) once connected: its own default.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The engine could not be reached or refused a request. One line naming the context and host.
/// Mapped to exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no Docker engine at {host} (context \"{context}\"): socket not found — is dockerd running?")]
    SocketNotFound { context: String, host: String },
    #[error("cannot connect to the Docker engine at {host} (context \"{context}\"): {cause}")]
    Connect {
        context: String,
        host: String,
        cause: String,
    },
    #[error("the Docker engine at {host} (context \"{context}\") did not answer within {} s: check that the address is right and reachable", .after.as_secs())]
    Timeout {
        context: String,
        host: String,
        after: Duration,
    },
    #[error("cannot set up TLS for {host} (context \"{context}\"): {reason}")]
    TlsSetup {
        context: String,
        host: String,
        reason: String,
    },
    #[error("cannot use {host} (context \"{context}\"): {reason}")]
    Unsupported {
        context: String,
        host: String,
        reason: String,
    },
    #[error("could not {action} (engine at {host}, context \"{context}\"): {cause}")]
    Request {
        context: String,
        host: String,
        action: String,
        cause: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    // Compose services on the engine (engine::create, service, resources, image): see mod.rs.
    /// A key of the loaded model that docker flow cannot honour on this engine.
    #[error("service \"{service}\": key \"{key}\" {reason}")]
    UnsupportedKey {
        service: String,
        key: String,
        reason: String,
    },
    /// A value in the model that cannot be turned into an engine request.
    #[error("service \"{service}\": key \"{key}\": {reason}")]
    InvalidValue {
        service: String,
        key: String,
        reason: String,
    },
    /// An engine call made for a Compose operation failed.
    #[error("could not {action}: {cause}")]
    Api {
        action: String,
        cause: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    /// A project resource (network, volume, image, container) is missing or unusable.
    #[error("{0}")]
    Resource(String),
    /// A dependency did not reach its `depends_on` condition.
    #[error("service \"{service}\" depends on \"{dependency}\": {reason}")]
    Dependency {
        service: String,
        dependency: String,
        reason: String,
    },
}

impl EngineError {
    /// A failed API call: `action` says what we were doing ("list containers").
    pub fn request(ep: &Endpoint, action: &str, err: bollard::errors::Error) -> Self {
        EngineError::Request {
            context: ep.context.clone(),
            host: ep.host.clone(),
            action: action.to_string(),
            cause: describe(&err, ep),
            source: Box::new(err),
        }
    }
}

/// Connects to the endpoint, negotiates the API version and pings the engine.
pub async fn connect(ep: &Endpoint) -> Result<Docker, EngineError> {
    let (docker, limit) = open(ep)?;
    let first_contact = async {
        let docker = docker.negotiate_version().await?;
        docker.ping().await?;
        Ok::<_, bollard::errors::Error>(docker)
    };
    match tokio::time::timeout(limit, first_contact).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(e)) => Err(connect_error(ep, &e)),
        Err(_) => Err(EngineError::Timeout {
            context: ep.context.clone(),
            host: ep.host.clone(),
            after: limit,
        }),
    }
}

/// Builds the client for the host's scheme (no I/O yet, except checking that a socket exists).
fn open(ep: &Endpoint) -> Result<(Docker, Duration), EngineError> {
    let unsupported = |reason: &str| EngineError::Unsupported {
        context: ep.context.clone(),
        host: ep.host.clone(),
        reason: reason.to_string(),
    };
    let (scheme, rest) = ep
        .host
        .split_once("://")
        .ok_or_else(|| unsupported("no scheme"))?;
    let built = match scheme {
        "unix" => {
            match std::fs::metadata(rest) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(EngineError::SocketNotFound {
                        context: ep.context.clone(),
                        host: ep.host.clone(),
                    })
                }
                _ => {} // other problems (permissions) show up, named, when connecting
            }
            Docker::connect_with_unix(rest, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
        }
        "tcp" => {
            if rest.contains('/') {
                return Err(unsupported(
                    "a base path after host:port is not supported; use tcp://host:port",
                ));
            }
            match &ep.tls {
                None => {
                    Docker::connect_with_http(&ep.host, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
                }
                Some(tls) => {
                    let config = client_config(tls).map_err(|reason| EngineError::TlsSetup {
                        context: ep.context.clone(),
                        host: ep.host.clone(),
                        reason,
                    })?;
                    connect_with_rustls(rest, config)
                }
            }
        }
        "ssh" => {
            // bollard 0.21.1 hands "user@host:port" to ssh without the scheme, so ssh reads the
            // port as part of the host name; and it always dials the remote's default socket.
            let authority = rest.split('/').next().unwrap_or_default();
            let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let has_port = match hostport.strip_prefix('[') {
                Some(v6) => v6.contains("]:"),
                None => hostport.contains(':'),
            };
            if has_port {
                return Err(unsupported(
                    "ssh with an explicit port is not supported yet; set the port in ~/.ssh/config (Host <alias> / Port <n>) and use ssh://user@<alias>",
                ));
            }
            if rest.len() > authority.len() && &rest[authority.len()..] != "/" {
                return Err(unsupported(
                    "ssh with a socket path is not supported yet; only the remote's default socket can be reached",
                ));
            }
            let docker =
                Docker::connect_with_ssh(&ep.host, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION, None)
                    .map_err(|e| connect_error(ep, &e))?;
            return Ok((docker, SSH_CONNECT_TIMEOUT));
        }
        "npipe" => return Err(unsupported("npipe:// is a Windows named pipe")),
        _ => return Err(unsupported("unknown scheme")),
    };
    built
        .map(|d| (d, CONNECT_TIMEOUT))
        .map_err(|e| connect_error(ep, &e))
}

/// A hyper client over rustls with `config`, plugged into bollard as a custom transport.
fn connect_with_rustls(addr: &str, config: ClientConfig) -> Result<Docker, bollard::errors::Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false); // the URI scheme is https; the TLS layer wraps this connector
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnector::from((http, config));
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_max_idle_per_host(0); // as bollard's own clients
    let client = Arc::new(builder.build(https));
    Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let response = client.request(req);
            async move { response.await.map_err(bollard::errors::Error::from) }
        },
        Some(format!("https://{addr}")),
        REQUEST_TIMEOUT_SECS,
        API_DEFAULT_VERSION,
    )
}

/// The rustls client config that the Docker CLI's Go TLS config amounts to: trust only the CA
/// when one is given (else the system roots), or nothing is checked when `verify` is off;
/// present the client certificate when both cert and key are there.
fn client_config(tls: &Tls) -> Result<ClientConfig, String> {
    // An explicit provider: no dependence on a process-level default being installed.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if !tls.verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        match &tls.ca {
            Some(ca) => {
                let (added, _) = roots
                    .add_parsable_certificates(crate::tls::read_certs(ca, "TLS CA certificate")?);
                if added == 0 {
                    return Err(format!(
                        "TLS CA certificate {} holds no usable certificate",
                        ca.display()
                    ));
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
                if roots.is_empty() {
                    return Err("the context has no ca.pem and no system CA certificates were found; add the CA with `docker context update <name> --docker ca=...`".into());
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    crate::tls::client_auth(
        builder,
        tls.cert.as_deref(),
        tls.key.as_deref(),
        "TLS client",
    )
}

/// `SkipTLSVerify`: accept whatever certificate the engine shows (like Go's
/// `InsecureSkipVerify`), but still check the handshake signatures so the peer proves it holds
/// that certificate's key. Our client certificate, if any, is still presented.
#[derive(Debug)]
struct AcceptAnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connect_error(ep: &Endpoint, err: &bollard::errors::Error) -> EngineError {
    if let bollard::errors::Error::SocketNotFoundError(_) = err {
        return EngineError::SocketNotFound {
            context: ep.context.clone(),
            host: ep.host.clone(),
        };
    }
    EngineError::Connect {
        context: ep.context.clone(),
        host: ep.host.clone(),
        cause: describe(err, ep),
    }
}

/// One line for a bollard error: the engine's own message, or the innermost causes with a hint
/// for the usual suspects (refused, permissions, TLS).
fn describe(err: &bollard::errors::Error, ep: &Endpoint) -> String {
    let ssh = ep.host.starts_with("ssh://");
    use bollard::errors::Error as B;
    match err {
        B::DockerResponseServerError {
            status_code,
            message,
        } => {
            let hint = if message.contains("HTTP request to an HTTPS server") {
                " — the engine expects TLS: use --tlsverify (or --tls) or a context with TLS"
            } else {
                ""
            };
            return format!(
                "the engine answered {status_code}: {}{hint}",
                message.trim()
            );
        }
        B::RequestTimeoutError => return format!("no answer within {REQUEST_TIMEOUT_SECS} s"),
        _ => {}
    }
    // The chain, as messages, looking through io::Error wrappers (whose source() skips the
    // wrapped error itself).
    let mut messages: Vec<String> = Vec::new();
    let mut hint = None;
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        let mut inner = e.source();
        if let Some(ioe) = e.downcast_ref::<io::Error>() {
            hint = hint.or(match ioe.kind() {
                io::ErrorKind::ConnectionRefused if ssh => {
                    Some("ssh: connection refused — is sshd running on that host?".to_string())
                }
                io::ErrorKind::ConnectionRefused => {
                    Some("connection refused — is dockerd listening there?".to_string())
                }
                io::ErrorKind::PermissionDenied => Some(
                    "permission denied — run as root or add the user to the docker group"
                        .to_string(),
                ),
                io::ErrorKind::NotFound => {
                    Some("socket not found — is dockerd running?".to_string())
                }
                io::ErrorKind::ConnectionReset => Some(
                    "connection reset by the engine — wrong port, or does it expect TLS (--tlsverify)?"
                        .to_string(),
                ),
                _ => None,
            });
            if let Some(wrapped) = ioe.get_ref() {
                inner = Some(wrapped);
            }
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            hint = Some(format!("TLS handshake failed: {tls}{}", tls_hint(tls)));
        }
        let text = e.to_string();
        if !messages.iter().any(|m| m.contains(&text)) {
            messages.retain(|m| !text.contains(m.as_str()));
            messages.push(text);
        }
        next = inner;
    }
    match hint {
        Some(h) => h,
        None => messages.join(": "),
    }
}

fn tls_hint(err: &rustls::Error) -> &'static str {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match err {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            " — the engine's certificate is not signed by the CA in use (check --tlscacert or the context's ca.pem)"
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            " — the engine's certificate does not name this host; connect by a name or IP it lists"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => " — the engine's certificate has expired",
        E::AlertReceived(A::CertificateRequired | A::BadCertificate | A::UnknownCA | A::HandshakeFailure) => {
            " — the engine rejected our client certificate (check --tlscert/--tlskey or the context's cert.pem/key.pem)"
        }
        E::InvalidMessage(_) => " — is the engine serving TLS on this port?",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(host: &str, tls: Option<Tls>) -> Endpoint {
        Endpoint {
            context: "t".into(),
            host: host.into(),
            tls,
            origin: "test".into(),
        }
    }

    #[tokio::test]
    async fn missing_socket_is_named() {
        let e = connect(&ep("unix:///nonexistent/docker.sock", None))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no Docker engine at unix:///nonexistent/docker.sock (context \"t\"): socket not found — is dockerd running?"
        );
    }

    #[tokio::test]
    async fn refused_tcp_is_named() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("tcp://127.0.0.1:{port}");
        let e = connect(&ep(&host, None)).await.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "cannot connect to the Docker engine at {host} (context \"t\"): "
            )),
            "{e}"
        );
        assert!(e.contains("connection refused"), "{e}");
        let skip = Tls {
            ca: None,
            cert: None,
            key: None,
            verify: false,
        };
        let e = connect(&ep(&host, Some(skip)))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("connection refused"), "{e}");
    }

    #[test]
    fn tls_setup_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a pem").unwrap();
        let tls = Tls {
            ca: Some(ca.clone()),
            cert: None,
            key: None,
            verify: true,
        };
        let e = client_config(&tls).unwrap_err();
        assert!(e.contains(&ca.display().to_string()), "{e}");
        let key = dir.path().join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let tls = Tls {
            ca: None,
            cert: Some(cert),
            key: Some(key.clone()),
            verify: false,
        };
        let e = client_config(&tls).unwrap_err();
        assert!(
            e.contains(&key.display().to_string()) && e.contains("encrypted"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn unsupported_hosts_are_explained() {
        let e = connect(&ep("ssh://me@box:2222", None))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("explicit port"), "{e}");
        let e = connect(&ep("ssh://me@box/run/docker.sock", None))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("socket path"), "{e}");
        let e = connect(&ep("tcp://h:1/base", None))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("base path"), "{e}");
    }
}
