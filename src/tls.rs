//! TLS material from PEM files, shared by the Docker engine and Consul clients: errors name the
//! file and say what is wrong with it.

use std::path::Path;

use rustls::client::WantsClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, ConfigBuilder};

/// Every certificate in a PEM file (a CA bundle or a client chain); `what` names it in errors.
pub fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

/// Finishes a client config with the client certificate and key when both are given.
/// `what` prefixes the file names in errors (e.g. "TLS client" or "Consul client").
pub fn client_auth(
    builder: ConfigBuilder<ClientConfig, WantsClientCert>,
    cert: Option<&Path>,
    key: Option<&Path>,
    what: &str,
) -> Result<ClientConfig, String> {
    let (Some(cert), Some(key)) = (cert, key) else {
        return Ok(builder.with_no_client_auth());
    };
    let chain = read_certs(cert, &format!("{what} certificate"))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "{what} key {} holds no private key (encrypted keys are not supported, as in the Docker CLI)",
            key.display()
        ),
        e => format!("{what} key {}: {e}", key.display()),
    })?;
    builder.with_client_auth_cert(chain, key_der).map_err(|e| {
        format!(
            "{what} certificate {} and key {} do not fit: {e}",
            cert.display(),
            key.display()
        )
    })
}
