//! How the proxy reaches the instances. On the services' own engine it joins their networks and
//! routes to the containers' addresses. On another engine (--proxy-context,
//! --proxy-docker-host) those addresses mean nothing to it, so the instances publish the routed
//! port on their host and the proxy routes to `<advertise address>:<published port>`, as the
//! original tool did through Registrator.

use std::net::{IpAddr, Ipv4Addr};

use bollard::Docker;

use super::error::FlowError;
use crate::context::Endpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The proxy shares the services' engine and joins their networks.
    Networks,
    /// The proxy is on another engine: instances publish the routed port on this address.
    Published(IpAddr),
}

impl Reach {
    /// Networks when both engines are the same daemon (so a second context pointing at the same
    /// engine changes nothing); else Published at --advertise-address, or the services' endpoint
    /// host. Same daemon: same engine ID, name and root dir — the ID alone is shared by daemons
    /// that share /etc/docker (and by cloned machines).
    pub async fn decide(
        services: &Docker,
        proxy: &Docker,
        endpoint: &Endpoint,
        advertise: Option<IpAddr>,
    ) -> Result<Reach, FlowError> {
        let id = |d: &Docker| {
            let d = d.clone();
            async move {
                d.info()
                    .await
                    .map(|i| (i.id, i.name, i.docker_root_dir))
                    .map_err(|e| FlowError::Failed(format!("docker info: {e}")))
            }
        };
        if id(services).await? == id(proxy).await? {
            return Ok(Reach::Networks);
        }
        match advertise {
            Some(ip) => Ok(Reach::Published(ip)),
            None => Ok(Reach::Published(endpoint_ip(&endpoint.host).await?)),
        }
    }
}

/// The services' host as the proxy should reach it: the endpoint's host (resolved), or the
/// loopback address for a local socket.
async fn endpoint_ip(host: &str) -> Result<IpAddr, FlowError> {
    let Some((scheme, rest)) = host.split_once("://") else {
        return Err(FlowError::Invalid(format!("unknown endpoint {host}")));
    };
    if scheme == "unix" || scheme == "npipe" {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let name = match hostport.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => hostport.split(':').next().unwrap_or_default(),
    };
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(ip);
    }
    tokio::net::lookup_host((name, 0))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| {
            FlowError::Invalid(format!(
                "cannot resolve {name} (the services' engine host) to an address the proxy can reach: set --advertise-address (FLOW_ADVERTISE_ADDRESS)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_endpoint_host_is_the_address() {
        for (host, ip) in [
            ("unix:///var/run/docker.sock", "127.0.0.1"),
            ("tcp://192.0.2.7:2376", "192.0.2.7"),
            ("ssh://deploy@192.0.2.8:22", "192.0.2.8"),
            ("tcp://[2001:db8::1]:2376", "2001:db8::1"),
            ("tcp://localhost:2375", "127.0.0.1"),
        ] {
            let got = endpoint_ip(host).await.unwrap();
            assert!(
                got.to_string() == ip || (host.contains("localhost") && got.is_loopback()),
                "{host}: {got}"
            );
        }
        let err = endpoint_ip("tcp://no-such-host.invalid:2376")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--advertise-address"), "{err}");
    }
}
