//! Project networks and volumes, as Compose v2.26.1 handles them (create.go: ensureNetwork,
//! resolveOrCreateNetwork, resolveExternalNetwork, ensureVolume): missing ones are created with
//! Compose's labels, external ones must exist, existing ones are left alone.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::ListNetworksOptionsBuilder;
use bollard::Docker;
use docker_compose_types as dct;

use super::{api_error, is_not_found, labels, EngineError};
use crate::compose::{Network, Project, Service, Volume};

/// The network keys a service attaches to (none with `network_mode`).
pub fn service_network_keys(service: &Service) -> Vec<String> {
    if service.spec.network_mode.is_some() {
        return Vec::new();
    }
    match &service.spec.networks {
        dct::Networks::Simple(l) => l.clone(),
        dct::Networks::Advanced(a) => a.0.keys().cloned().collect(),
    }
}

/// The named-volume keys a service mounts.
pub fn service_volume_keys(service: &Service) -> Vec<String> {
    let mut keys = Vec::new();
    for v in &service.spec.volumes {
        if let dct::Volumes::Advanced(a) = v {
            if a._type == "volume" {
                if let Some(s) = a.source.as_ref().filter(|s| !s.is_empty()) {
                    if !keys.contains(s) {
                        keys.push(s.clone());
                    }
                }
            }
        }
    }
    keys
}

/// Makes sure every network the service uses exists: creates the project's own, checks the
/// external ones.
pub async fn ensure_networks(
    docker: &Docker,
    project: &Project,
    service: &Service,
) -> Result<(), EngineError> {
    for key in service_network_keys(service) {
        let net = project
            .networks
            .get(&key)
            .ok_or_else(|| EngineError::InvalidValue {
                service: service.name.clone(),
                key: "networks".into(),
                reason: format!("network \"{key}\" is not declared in the top-level networks"),
            })?;
        ensure_network(docker, &project.name, &key, net).await?;
    }
    Ok(())
}

async fn networks_named(
    docker: &Docker,
    name: &str,
) -> Result<Vec<bollard::models::Network>, EngineError> {
    let filters = HashMap::from([("name", vec![name])]);
    let list = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api_error(format!("list networks named {name}"), e))?;
    Ok(list
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(name) || n.id.as_deref() == Some(name))
        .collect())
}

/// One network: external → must exist; otherwise created unless it is there.
pub async fn ensure_network(
    docker: &Docker,
    project: &str,
    key: &str,
    net: &Network,
) -> Result<(), EngineError> {
    let found = networks_named(docker, &net.name).await?;
    if net.external {
        return match found.len() {
            1 => Ok(()),
            0 => Err(EngineError::Resource(format!(
                "network {} declared as external, but could not be found: create it first (docker network create {})",
                net.name, net.name
            ))),
            _ => Err(EngineError::Resource(format!(
                "multiple networks with name \"{}\" were found: use the network ID as `name` to avoid ambiguity",
                net.name
            ))),
        };
    }
    if let Some(existing) = found.iter().find(|n| n.name.as_deref() == Some(&net.name)) {
        let own = existing
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::NETWORK));
        if let Some(own) = own.filter(|o| o.as_str() != key) {
            return Err(EngineError::Resource(format!(
                "network {} was found but has incorrect label {} set to \"{own}\"",
                net.name,
                labels::NETWORK
            )));
        }
        return Ok(());
    }
    let ipam = net
        .ipam
        .as_ref()
        .filter(|i| i.driver.is_some() || !i.config.is_empty())
        .map(|i| Ipam {
            driver: i.driver.clone(),
            config: Some(
                i.config
                    .iter()
                    .enumerate()
                    .map(|(i, c)| IpamConfig {
                        subnet: Some(c.subnet.clone()),
                        gateway: c.gateway.clone(),
                        ip_range: net.ip_ranges.get(i).cloned().flatten(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            options: None,
        });
    let request = NetworkCreateRequest {
        name: net.name.clone(),
        driver: net.driver.clone(),
        internal: Some(net.internal),
        attachable: Some(net.attachable),
        enable_ipv6: Some(net.enable_ipv6),
        ipam,
        options: Some(
            net.driver_opts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        labels: Some(
            labels::network_labels(project, key, &net.labels)
                .into_iter()
                .collect(),
        ),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(()),
        // Another `up` created it meanwhile: fine when it is there now.
        Err(e)
            if matches!(
                e,
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 409,
                    ..
                }
            ) =>
        {
            if networks_named(docker, &net.name).await?.is_empty() {
                Err(api_error(format!("create network {}", net.name), e))
            } else {
                Ok(())
            }
        }
        Err(e) => Err(api_error(format!("create network {}", net.name), e)),
    }
}

/// Makes sure every named volume the service mounts exists: creates the project's own, checks
/// the external ones.
pub async fn ensure_volumes(
    docker: &Docker,
    project: &Project,
    service: &Service,
) -> Result<(), EngineError> {
    for key in service_volume_keys(service) {
        let vol = project
            .volumes
            .get(&key)
            .ok_or_else(|| EngineError::InvalidValue {
                service: service.name.clone(),
                key: "volumes".into(),
                reason: format!("volume \"{key}\" is not declared in the top-level volumes"),
            })?;
        ensure_volume(docker, &project.name, &key, vol).await?;
    }
    Ok(())
}

/// One volume: external → must exist; otherwise created unless it is there.
pub async fn ensure_volume(
    docker: &Docker,
    project: &str,
    key: &str,
    vol: &Volume,
) -> Result<(), EngineError> {
    match docker.inspect_volume(&vol.name).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => {
            if vol.external {
                return Err(EngineError::Resource(format!(
                    "external volume \"{}\" not found: create it first (docker volume create {})",
                    vol.name, vol.name
                )));
            }
            let request = VolumeCreateRequest {
                name: Some(vol.name.clone()),
                driver: vol.driver.clone(),
                driver_opts: Some(
                    vol.driver_opts
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                labels: Some(
                    labels::volume_labels(project, key, &vol.labels)
                        .into_iter()
                        .collect(),
                ),
                ..Default::default()
            };
            docker
                .create_volume(request)
                .await
                .map(|_| ())
                .map_err(|e| api_error(format!("create volume {}", vol.name), e))
        }
        Err(e) => Err(api_error(format!("inspect volume {}", vol.name), e)),
    }
}
