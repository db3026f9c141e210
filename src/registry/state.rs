//! A service's release state under `docker-flow/<service>/`: read with one recursive GET,
//! written with one compare-and-set transaction.
//!
//! `color` and `scale` keep the original docker-flow format (raw `blue`/`green`, a raw decimal),
//! so `curl .../v1/kv/docker-flow/<svc>/color?raw` and consul-template keep working; unlike the
//! original, a value that is not one is an error naming the key, never a colour.

use std::collections::BTreeMap;

use reqwest::StatusCode;

use super::client::Consul;
use super::error::RegistryError;
use super::kv::{op, KvEntry, TxnOutcome};
use crate::release::{Color, Release, ReleaseState, Routes, Template};

/// The KV root of docker flow's state (shared with docker-flow-proxy in Consul mode, which keeps
/// other keys under the same service prefix; those are left alone).
pub const ROOT: &str = "docker-flow";
/// Releases kept in `releases` (newest last).
pub const MAX_HISTORY: usize = 20;

/// Key names under `docker-flow/<service>/`.
pub mod keys {
    /// Live colour, raw `blue` / `green` (original format).
    pub const COLOR: &str = "color";
    /// Instances of the live colour, raw decimal >= 1 (original format).
    pub const SCALE: &str = "scale";
    /// Deployed colour waiting for the switch, raw `blue` / `green`.
    pub const CANDIDATE: &str = "candidate";
    /// JSON `Routes`.
    pub const ROUTES: &str = "routes";
    /// JSON list of `Release`, newest last, at most `MAX_HISTORY`.
    pub const RELEASES: &str = "releases";
    /// JSON `Template`: the user's consul-template text for the proxy config.
    pub const TEMPLATE: &str = "template";
    /// The service's lock (Consul session); value: who holds it.
    pub const LOCK: &str = ".lock";
    /// The keys that make up the state, in transaction order.
    pub const STATE: [&str; 6] = [COLOR, SCALE, CANDIDATE, ROUTES, RELEASES, TEMPLATE];
}

/// `docker-flow/<service>/<name>`.
pub fn state_key(service: &str, name: &str) -> String {
    format!("{ROOT}/{service}/{name}")
}

/// What the state keys were when read: their modify indexes and raw values. `write_state` only
/// succeeds if none of them changed since. `StateVersion::default()` means "none existed".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateVersion {
    entries: BTreeMap<&'static str, (u64, Vec<u8>)>,
}

impl StateVersion {
    /// No state key existed (a first deploy).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The highest modify index among the state keys (0 when none exists).
    pub fn index(&self) -> u64 {
        self.entries.values().map(|(i, _)| *i).max().unwrap_or(0)
    }
}

/// Service names become a key segment: letters, digits, `.`, `_`, `-` (Compose's own set).
pub(crate) fn validate_service(service: &str) -> Result<(), RegistryError> {
    let invalid = |reason: &str| RegistryError::InvalidService {
        service: service.to_string(),
        reason: reason.to_string(),
    };
    if service.is_empty() {
        return Err(invalid("it is empty"));
    }
    if service.starts_with('.') {
        return Err(invalid("it starts with a dot"));
    }
    if !service
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(invalid("use only letters, digits, '.', '_' and '-'"));
    }
    Ok(())
}

impl Consul {
    /// The state of `service` and the version to write it back against.
    pub async fn read_state(
        &self,
        service: &str,
    ) -> Result<(ReleaseState, StateVersion), RegistryError> {
        validate_service(service)?;
        let prefix = format!("{ROOT}/{service}/");
        let entries = self.kv_list(&prefix).await?;
        let mut state = ReleaseState::default();
        let mut version = StateVersion::default();
        for entry in entries {
            let Some(name) = entry.key.strip_prefix(&prefix) else {
                continue;
            };
            let Some(&name) = keys::STATE.iter().find(|k| **k == name) else {
                continue; // .lock, docker-flow-proxy's keys, nested keys
            };
            self.decode_into(&mut state, service, name, &entry)?;
            version.entries.insert(
                name,
                (entry.modify_index, entry.value.clone().unwrap_or_default()),
            );
        }
        if !version.entries.contains_key(keys::COLOR) {
            // A recursive read that ACLs hide answers 404 like an empty prefix; a single read is
            // not filtered, so ask for `color` itself to tell "no state" from "not allowed".
            self.kv_get(&state_key(service, keys::COLOR), None).await?;
        }
        Ok((state, version))
    }

    fn decode_into(
        &self,
        state: &mut ReleaseState,
        service: &str,
        name: &'static str,
        entry: &KvEntry,
    ) -> Result<(), RegistryError> {
        let key = state_key(service, name);
        let raw = entry.value.as_deref().unwrap_or_default();
        let invalid = |value: &str, expected: &str, fix: String| RegistryError::InvalidValue {
            address: self.address.to_string(),
            key: key.clone(),
            value: value.chars().take(200).collect(),
            expected: expected.to_string(),
            fix,
        };
        let text = std::str::from_utf8(raw).map_err(|_| {
            invalid(
                &String::from_utf8_lossy(raw),
                "UTF-8 text",
                format!("consul kv put {key} <value>"),
            )
        })?;
        if text.trim().is_empty() {
            // An empty value means "not set", as in the original (empty colour = first deploy).
            return Ok(());
        }
        match name {
            keys::COLOR | keys::CANDIDATE => {
                let color = Color::parse(text).ok_or_else(|| {
                    invalid(
                        text,
                        "a colour (blue or green)",
                        format!("consul kv put {key} blue"),
                    )
                })?;
                if name == keys::COLOR {
                    state.live = Some(color);
                } else {
                    state.candidate = Some(color);
                }
            }
            keys::SCALE => {
                let scale = text
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        invalid(
                            text,
                            "a whole number of instances (1 or more)",
                            format!("consul kv put {key} 1"),
                        )
                    })?;
                state.scale = Some(scale);
            }
            keys::ROUTES => {
                let routes: Routes = serde_json::from_str(text).map_err(|e| {
                    invalid(
                        text,
                        &format!("docker flow's routes JSON ({e})"),
                        format!("consul kv put {key} '{{\"port\":8080,\"paths\":[\"/\"]}}'"),
                    )
                })?;
                // Routes reach the HAProxy config: one written by hand is checked like a flag.
                if let Err(e) = check_routes(&routes) {
                    return Err(invalid(
                        text,
                        &format!("docker flow's routes JSON with safe values ({e})"),
                        format!("consul kv put {key} '{{\"port\":8080,\"paths\":[\"/\"]}}'"),
                    ));
                }
                state.routes = Some(routes);
            }
            keys::RELEASES => {
                let history: Vec<Release> = serde_json::from_str(text).map_err(|e| {
                    invalid(
                        text,
                        &format!("docker flow's release history JSON ({e})"),
                        format!("consul kv put {key} '[]'"),
                    )
                })?;
                state.history = history;
            }
            keys::TEMPLATE => {
                let template: Template = serde_json::from_str(text).map_err(|e| {
                    invalid(
                        text,
                        &format!("docker flow's template JSON ({e})"),
                        format!("consul kv put {key} '{{\"single\":\"<template text>\"}}'"),
                    )
                })?;
                state.template = Some(template);
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes `state` if no state key changed since `version` was read: one transaction with a
    /// check per key (`cas` for changed values, `check-index` for unchanged ones, `delete-cas`
    /// for keys now absent, `check-not-exists` for keys still absent). A concurrent change fails
    /// the whole write with [`RegistryError::Conflict`]. `history` is trimmed to the last
    /// [`MAX_HISTORY`]. Returns the version of what was written.
    pub async fn write_state(
        &self,
        service: &str,
        state: &ReleaseState,
        version: &StateVersion,
    ) -> Result<StateVersion, RegistryError> {
        validate_service(service)?;
        let what = format!("writing {ROOT}/{service}/ (transaction)");
        let values = encode_state(state).map_err(|e| self.bad_response(&what, e))?;
        let mut ops = Vec::new();
        let mut op_keys = Vec::new();
        for (name, value) in &values {
            let key = state_key(service, name);
            let old = version.entries.get(name);
            ops.push(match (value, old) {
                (Some(v), Some((idx, old))) if v == old => op::check_index(&key, *idx),
                (Some(v), Some((idx, _))) => op::cas(&key, v, *idx),
                (Some(v), None) => op::cas(&key, v, 0),
                (None, Some((idx, _))) => op::delete_cas(&key, *idx),
                (None, None) => op::check_not_exists(&key),
            });
            op_keys.push(key);
        }
        match self.txn(ops, &what).await? {
            TxnOutcome::Committed(results) => {
                let mut next = StateVersion::default();
                for (name, value) in values {
                    let Some(value) = value else { continue };
                    let key = state_key(service, name);
                    let index = results
                        .iter()
                        .find(|e| e.key == key)
                        .map(|e| e.modify_index)
                        .or_else(|| version.entries.get(name).map(|(i, _)| *i))
                        .unwrap_or(0);
                    next.entries.insert(name, (index, value));
                }
                Ok(next)
            }
            TxnOutcome::RolledBack(errors) => {
                let detail = errors
                    .iter()
                    .map(|(i, why)| match op_keys.get(*i) {
                        Some(k) => format!("{k}: {why}"),
                        None => why.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(RegistryError::Conflict {
                    address: self.address.to_string(),
                    service: service.to_string(),
                    detail,
                })
            }
        }
    }

    /// Services that have docker flow state: the `docker-flow/<service>/` prefixes holding at
    /// least one state key (docker-flow-proxy's own keys and bare locks do not count). Sorted.
    pub async fn services(&self) -> Result<Vec<String>, RegistryError> {
        let root = format!("{ROOT}/");
        let listed = self.kv_keys(&root, None).await?;
        if listed.is_empty() {
            // As in read_state: tell an empty root from one that ACLs hide.
            let what = format!("listing keys under {root}");
            let resp = self
                .send(
                    reqwest::Method::GET,
                    self.kv_url(&root),
                    None,
                    super::client::REQUEST_TIMEOUT,
                    &what,
                )
                .await?;
            if resp.status() != StatusCode::NOT_FOUND {
                self.check(resp, &what).await?;
            }
        }
        let mut services: Vec<String> = listed
            .iter()
            .filter_map(|k| {
                let rest = k.strip_prefix(&root)?;
                let (service, name) = rest.split_once('/')?;
                (keys::STATE.contains(&name) && validate_service(service).is_ok())
                    .then(|| service.to_string())
            })
            .collect();
        services.sort();
        services.dedup();
        Ok(services)
    }
}

/// A state key and its raw value (`None`: the key should not exist).
type KeyValue = (&'static str, Option<Vec<u8>>);

/// The raw value of each state key.
fn encode_state(state: &ReleaseState) -> Result<Vec<KeyValue>, String> {
    let history = &state.history[state.history.len().saturating_sub(MAX_HISTORY)..];
    Ok(vec![
        (
            keys::COLOR,
            state.live.map(|c| c.as_str().as_bytes().to_vec()),
        ),
        (keys::SCALE, state.scale.map(|n| n.to_string().into_bytes())),
        (
            keys::CANDIDATE,
            state.candidate.map(|c| c.as_str().as_bytes().to_vec()),
        ),
        (
            keys::ROUTES,
            state
                .routes
                .as_ref()
                .map(serde_json::to_vec)
                .transpose()
                .map_err(|e| e.to_string())?,
        ),
        (
            keys::RELEASES,
            if history.is_empty() {
                None
            } else {
                Some(serde_json::to_vec(history).map_err(|e| e.to_string())?)
            },
        ),
        (
            keys::TEMPLATE,
            state
                .template
                .as_ref()
                .map(serde_json::to_vec)
                .transpose()
                .map_err(|e| e.to_string())?,
        ),
    ])
}

/// The values of `routes` that reach the proxy: paths, domains, the proxy container's name.
fn check_routes(routes: &Routes) -> Result<(), crate::proxy::ProxyError> {
    use crate::proxy::validate;
    for p in &routes.paths {
        validate::path(p, routes.path_type)?;
    }
    for d in &routes.domains {
        validate::domain(d)?;
    }
    if let Some(proxy) = &routes.proxy {
        validate::name("proxy container name", proxy)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_format_values() {
        let state = ReleaseState {
            live: Some(Color::Green),
            scale: Some(3),
            ..Default::default()
        };
        let values = encode_state(&state).unwrap();
        assert_eq!(values[0], (keys::COLOR, Some(b"green".to_vec())));
        assert_eq!(values[1], (keys::SCALE, Some(b"3".to_vec())));
        assert!(values[2..].iter().all(|(_, v)| v.is_none()));
        assert_eq!(values.len(), keys::STATE.len());
        assert!(values.iter().zip(keys::STATE).all(|((k, _), n)| *k == n));
    }

    #[test]
    fn history_is_trimmed_to_the_newest() {
        let release = |at| Release {
            color: Color::Blue,
            image: "app:1".into(),
            image_id: "sha256:x".into(),
            scale: 1,
            event: "deployed".into(),
            at,
        };
        let state = ReleaseState {
            history: (0..30).map(release).collect(),
            ..Default::default()
        };
        let values = encode_state(&state).unwrap();
        let kept: Vec<Release> = serde_json::from_slice(values[4].1.as_ref().unwrap()).unwrap();
        assert_eq!(kept.len(), MAX_HISTORY);
        assert_eq!(kept.first().unwrap().at, 10);
        assert_eq!(kept.last().unwrap().at, 29);
    }

    #[test]
    fn service_names() {
        assert!(validate_service("myproj-app").is_ok());
        assert!(validate_service("a.b_c-1").is_ok());
        for bad in ["", ".lock", "a/b", "a b", "a?b"] {
            assert!(validate_service(bad).is_err(), "{bad:?}");
        }
    }
}
