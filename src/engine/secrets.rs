//! A service's compose `secrets:` and `configs:` on the engine.
//!
//! - Plain engine, as Compose does without Swarm: a file-based one is bind-mounted read-only
//!   (secrets at `/run/secrets/<target>`, configs at `/<target>`, or the absolute target).
//!   `environment:`/`content:` sources and external ones exist only on Swarm: refused, naming
//!   the key.
//! - Swarm: each becomes a Swarm secret/config. Those are immutable, so a docker flow one is
//!   named `<engine name>-<first 12 hex of sha256(content)>`: changed content is a new object
//!   the new release refers to, while the old release keeps its own (rollback and scale of the
//!   old release keep working). An existing object of that name is reused; an external one must
//!   exist.

use std::collections::HashMap;

use base64::Engine as _;
use bollard::models::{
    ConfigSpec, Mount, MountType, SecretSpec, ServiceSpec, TaskSpecContainerSpecConfigs,
    TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets,
};
use bollard::Docker;
use sha2::{Digest, Sha256};

use super::{api_error, is_not_found, EngineError};
use crate::compose::{FileObject, FileRef, FileSource, Project, Service};

use super::swarm::STACK_NAMESPACE;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Secret,
    Config,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Secret => "secrets",
            Kind::Config => "configs",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Config => "config",
        }
    }
}

fn uses(service: &Service) -> impl Iterator<Item = (Kind, &FileRef)> {
    let e = &service.extras;
    e.secrets
        .iter()
        .map(|r| (Kind::Secret, r))
        .chain(e.configs.iter().map(|r| (Kind::Config, r)))
}

fn declared<'a>(project: &'a Project, kind: Kind, key: &str) -> Option<&'a FileObject> {
    match kind {
        Kind::Secret => project.secrets.get(key),
        Kind::Config => project.configs.get(key),
    }
}

fn refuse(service: &Service, kind: Kind, reason: String) -> EngineError {
    EngineError::UnsupportedKey {
        service: service.name.clone(),
        key: kind.section().to_string(),
        reason,
    }
}

/// Where Compose puts it in the container: a relative target (default: the key) under
/// `/run/secrets` for a secret, under `/` for a config.
pub fn container_path(kind: Kind, r: &FileRef) -> String {
    let target = r.target.clone().unwrap_or_else(|| r.source.clone());
    if target.starts_with('/') {
        target
    } else {
        match kind {
            Kind::Secret => format!("/run/secrets/{target}"),
            Kind::Config => format!("/{target}"),
        }
    }
}

/// The read-only bind mounts of the service's file-based secrets and configs (plain engine).
pub fn plain_mounts(project: &Project, service: &Service) -> Result<Vec<Mount>, EngineError> {
    let mut out = Vec::new();
    for (kind, r) in uses(service) {
        let noun = kind.noun();
        let Some(file) = &r.file else {
            let why = match declared(project, kind, &r.source).map(|o| &o.source) {
                Some(FileSource::External) => "is external: external secrets and configs exist only on a Swarm manager (Compose refuses them on a plain engine too)".to_string(),
                Some(FileSource::Environment { variable, .. }) => format!("comes from environment variable {variable}: on a plain engine docker flow bind-mounts file-based ones only (use `file:`, or deploy to a Swarm manager)"),
                Some(FileSource::Content(_)) => "comes from `content:`: on a plain engine docker flow bind-mounts file-based ones only (use `file:`, or deploy to a Swarm manager)".to_string(),
                _ => "has no file to mount".to_string(),
            };
            return Err(refuse(
                service,
                kind,
                format!("{noun} {:?} {why}", r.source),
            ));
        };
        if let Some((k, _)) = [
            ("uid", r.uid.is_some()),
            ("gid", r.gid.is_some()),
            ("mode", r.mode.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        {
            return Err(refuse(
                service,
                kind,
                format!("{noun} {:?}: `{k}` applies on a Swarm manager only: on a plain engine the file is bind-mounted with its owner and mode on the host (set them there)", r.source),
            ));
        }
        let target = container_path(kind, r);
        // Two mounts at one place: the engine refuses the container, mid-deploy. Said here,
        // before anything starts.
        let taken = volume_targets(service).any(|t| t == target)
            || out
                .iter()
                .any(|m: &Mount| m.target.as_deref() == Some(&target));
        if taken {
            return Err(refuse(
                service,
                kind,
                format!("{noun} {:?} is mounted at {target}, where a volume or another secret or config is mounted too: give one of them another target", r.source),
            ));
        }
        out.push(Mount {
            typ: Some(MountType::BIND),
            source: Some(file.display().to_string()),
            target: Some(target),
            read_only: Some(true),
            ..Default::default()
        });
    }
    Ok(out)
}

/// Where the service's `volumes:` mount (short syntax `src:target[:mode]` or a bare target).
fn volume_targets(service: &Service) -> impl Iterator<Item = String> + '_ {
    service.spec.volumes.iter().map(|v| match v {
        docker_compose_types::Volumes::Simple(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            parts.get(1).unwrap_or(&parts[0]).to_string()
        }
        docker_compose_types::Volumes::Advanced(a) => a.target.clone(),
    })
}

/// One Swarm object a service refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmObject {
    pub kind: Kind,
    /// The top-level key.
    pub key: String,
    /// Its Swarm name: the content-hashed one, or the external name.
    pub name: String,
    /// None: external (must exist).
    pub content: Option<Vec<u8>>,
    pub labels: HashMap<String, String>,
}

/// `<engine name>-<first 12 hex of sha256(key ‖ content)>`. Keyed (the key is secret, fixed
/// length, kept in Consul): a plain hash of a short password in a name anyone can list could be
/// reversed by guessing.
pub fn hashed_name(name: &str, key: &[u8], content: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(key)
        .chain_update(content)
        .finalize();
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hex}")
}

/// The Swarm objects the service needs, one per key, contents read now. Without `key` (a spec
/// built for checking) the objects carry their bare engine names.
pub fn swarm_objects(
    project: &Project,
    service: &Service,
    key: Option<&[u8]>,
) -> Result<Vec<SwarmObject>, EngineError> {
    let mut out: Vec<SwarmObject> = Vec::new();
    for (kind, r) in uses(service) {
        if out.iter().any(|o| o.kind == kind && o.key == r.source) {
            continue;
        }
        let object =
            declared(project, kind, &r.source).ok_or_else(|| EngineError::InvalidValue {
                service: service.name.clone(),
                key: kind.section().into(),
                reason: format!("undefined {} {:?}", kind.noun(), r.source),
            })?;
        let content = object.content().map_err(|e| EngineError::InvalidValue {
            service: service.name.clone(),
            key: kind.section().into(),
            reason: format!(
                "cannot read the file of {} {:?}: {e}",
                kind.noun(),
                r.source
            ),
        })?;
        let mut labels: HashMap<String, String> = object.labels.clone().into_iter().collect();
        labels.insert(STACK_NAMESPACE.into(), project.name.clone());
        out.push(SwarmObject {
            kind,
            key: r.source.clone(),
            name: match (&content, key) {
                (Some(c), Some(k)) => hashed_name(&object.name, k, c),
                _ => object.name.clone(),
            },
            content,
            labels,
        });
    }
    Ok(out)
}

/// Sets the container spec's secret and config references (Swarm's defaults: uid/gid "0", mode
/// 0444; a secret's file name defaults to its key, a config's to `/<key>`). `ids` by
/// (kind, name); an unknown ID is left empty (a spec built for checking only).
pub fn set_refs(
    spec: &mut ServiceSpec,
    service: &Service,
    objects: &[SwarmObject],
    ids: &HashMap<(Kind, String), String>,
) {
    let Some(c) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    else {
        return;
    };
    let lookup = |kind: Kind, r: &FileRef| {
        let name = objects
            .iter()
            .find(|o| o.kind == kind && o.key == r.source)
            .map(|o| o.name.clone())
            .unwrap_or_default();
        let id = ids.get(&(kind, name.clone())).cloned();
        (name, id)
    };
    let uid = |r: &FileRef| Some(r.uid.clone().unwrap_or_else(|| "0".into()));
    let gid = |r: &FileRef| Some(r.gid.clone().unwrap_or_else(|| "0".into()));
    let mode = |r: &FileRef| Some(r.mode.unwrap_or(0o444));
    let secrets: Vec<TaskSpecContainerSpecSecrets> = service
        .extras
        .secrets
        .iter()
        .map(|r| {
            let (name, id) = lookup(Kind::Secret, r);
            TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(r.target.clone().unwrap_or_else(|| r.source.clone())),
                    uid: uid(r),
                    gid: gid(r),
                    mode: mode(r),
                }),
                secret_id: id,
                secret_name: Some(name),
            }
        })
        .collect();
    let configs: Vec<TaskSpecContainerSpecConfigs> = service
        .extras
        .configs
        .iter()
        .map(|r| {
            let (name, id) = lookup(Kind::Config, r);
            TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(container_path(Kind::Config, r)),
                    uid: uid(r),
                    gid: gid(r),
                    mode: mode(r),
                }),
                config_id: id,
                config_name: Some(name),
                runtime: None,
            }
        })
        .collect();
    c.secrets = (!secrets.is_empty()).then_some(secrets);
    c.configs = (!configs.is_empty()).then_some(configs);
}

/// The ID of the Swarm object named `name`, None when there is none.
async fn find(docker: &Docker, kind: Kind, name: &str) -> Result<Option<String>, EngineError> {
    let found = match kind {
        Kind::Secret => docker
            .inspect_secret(name)
            .await
            .map(|s| (s.id, s.spec.and_then(|s| s.name))),
        Kind::Config => docker
            .inspect_config(name)
            .await
            .map(|c| (c.id, c.spec.and_then(|s| s.name))),
    };
    match found {
        // The engine also matches an ID prefix: only the exact name counts.
        Ok((id, n)) => Ok(id.filter(|_| n.as_deref() == Some(name))),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(api_error(format!("inspect {} {name}", kind.noun()), e)),
    }
}

/// Every external object the service refers to exists (checked before anything is created).
pub async fn check_external(
    docker: &Docker,
    service: &Service,
    objects: &[SwarmObject],
) -> Result<(), EngineError> {
    for o in objects.iter().filter(|o| o.content.is_none()) {
        if find(docker, o.kind, &o.name).await?.is_none() {
            return Err(EngineError::Resource(format!(
                "service \"{}\": external {} \"{}\" ({}.{}) does not exist on this Swarm: create it first (`docker {} create {} <file>`)",
                service.name,
                o.kind.noun(),
                o.name,
                o.kind.section(),
                o.key,
                o.kind.noun(),
                o.name
            )));
        }
    }
    Ok(())
}

/// Creates the objects the service needs (externals checked first, existing ones reused) and
/// sets the spec's references with their IDs.
pub async fn ensure_swarm_objects(
    docker: &Docker,
    project: &Project,
    service: &Service,
    spec: &mut ServiceSpec,
    key: &[u8],
) -> Result<(), EngineError> {
    let objects = swarm_objects(project, service, Some(key))?;
    check_external(docker, service, &objects).await?;
    let mut ids = HashMap::new();
    for o in &objects {
        let id = match (find(docker, o.kind, &o.name).await?, &o.content) {
            (Some(id), _) => id,
            (None, None) => unreachable!("externals were checked above"),
            (None, Some(content)) => create(docker, o, content).await?,
        };
        ids.insert((o.kind, o.name.clone()), id);
    }
    set_refs(spec, service, &objects, &ids);
    Ok(())
}

async fn create(docker: &Docker, o: &SwarmObject, content: &[u8]) -> Result<String, EngineError> {
    let data = Some(base64::engine::general_purpose::STANDARD.encode(content));
    let created = match o.kind {
        Kind::Secret => {
            docker
                .create_secret(SecretSpec {
                    name: Some(o.name.clone()),
                    labels: Some(o.labels.clone()),
                    data,
                    ..Default::default()
                })
                .await
        }
        Kind::Config => {
            docker
                .create_config(ConfigSpec {
                    name: Some(o.name.clone()),
                    labels: Some(o.labels.clone()),
                    data,
                    ..Default::default()
                })
                .await
        }
    };
    match created {
        Ok(r) => Ok(r.id),
        // Created meanwhile by another deploy of the same content: the same object.
        Err(e) => match find(docker, o.kind, &o.name).await? {
            Some(id) => Ok(id),
            None => Err(api_error(format!("create {} {}", o.kind.noun(), o.name), e)),
        },
    }
}

/// The secrets and configs service `name` refers to: (kind, ID, name).
pub async fn held_by(
    docker: &Docker,
    name: &str,
) -> Result<Vec<(Kind, String, String)>, EngineError> {
    let service = docker
        .inspect_service(name, None)
        .await
        .map_err(|e| api_error(format!("inspect service {name}"), e))?;
    Ok(refs_of(service.spec.as_ref()))
}

fn refs_of(spec: Option<&ServiceSpec>) -> Vec<(Kind, String, String)> {
    let Some(c) = spec
        .and_then(|s| s.task_template.as_ref())
        .and_then(|t| t.container_spec.as_ref())
    else {
        return Vec::new();
    };
    let secrets = c
        .secrets
        .iter()
        .flatten()
        .filter_map(|r| Some((Kind::Secret, r.secret_id.clone()?, r.secret_name.clone()?)));
    let configs = c
        .configs
        .iter()
        .flatten()
        .filter_map(|r| Some((Kind::Config, r.config_id.clone()?, r.config_name.clone()?)));
    secrets.chain(configs).collect()
}

/// Removes those of `held` (what a removed service referred to) that no service refers to any
/// more, so an old release's objects do not pile up; returns their names. Best effort: an
/// object taken meanwhile is refused by Swarm and stays.
pub async fn prune(docker: &Docker, held: &[(Kind, String, String)]) -> Vec<String> {
    if held.is_empty() {
        return Vec::new();
    }
    let Ok(services) = docker
        .list_services(None::<bollard::query_parameters::ListServicesOptions>)
        .await
    else {
        return Vec::new();
    };
    let used: Vec<(Kind, String)> = services
        .iter()
        .flat_map(|s| refs_of(s.spec.as_ref()))
        .map(|(k, id, _)| (k, id))
        .collect();
    let mut removed = Vec::new();
    for (kind, id, name) in held {
        if used.contains(&(*kind, id.clone())) {
            continue;
        }
        let done = match kind {
            Kind::Secret => docker.delete_secret(id).await,
            Kind::Config => docker.delete_config(id).await,
        };
        if done.is_ok() {
            removed.push(format!("{} {name}", kind.noun()));
        }
    }
    removed
}

#[cfg(test)]
mod tests;
