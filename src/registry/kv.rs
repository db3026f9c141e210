//! KV primitives: recursive reads, key listings, blocking reads, acquire/release writes and
//! transactions, with Consul's base64 values decoded.

use std::time::Duration;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{Body, Consul, REQUEST_TIMEOUT};
use super::error::RegistryError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One KV entry as Consul returns it, value decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvEntry {
    pub key: String,
    /// `None` for a key written without a value.
    pub value: Option<Vec<u8>>,
    pub modify_index: u64,
    /// The session holding the key's lock, if any.
    pub session: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEntry {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    modify_index: u64,
    #[serde(default)]
    session: Option<String>,
}

impl RawEntry {
    fn decode(self) -> Result<KvEntry, String> {
        let value = match self.value {
            None => None,
            Some(v) => Some(
                B64.decode(v.as_bytes())
                    .map_err(|e| format!("value of {} is not base64: {e}", self.key))?,
            ),
        };
        Ok(KvEntry {
            key: self.key,
            value,
            modify_index: self.modify_index,
            session: self.session.filter(|s| !s.is_empty()),
        })
    }
}

/// A read at a raft index, for blocking queries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block {
    pub index: u64,
    pub wait: Duration,
}

/// The outcome of a transaction that reached Consul.
pub(crate) enum TxnOutcome {
    /// Applied; the entries the operations returned (values stripped).
    Committed(Vec<KvEntry>),
    /// Rolled back: (operation index, Consul's reason) for each failed operation.
    RolledBack(Vec<(usize, String)>),
}

pub(crate) fn encode(value: &[u8]) -> String {
    B64.encode(value)
}

impl Consul {
    /// Every key under `prefix` (one recursive GET). A missing prefix is an empty list; note that
    /// Consul also answers 404 when ACLs hide every key (see `state::read_state`).
    pub(crate) async fn kv_list(&self, prefix: &str) -> Result<Vec<KvEntry>, RegistryError> {
        let what = format!("reading {prefix}");
        let mut url = self.kv_url(prefix);
        url.query_pairs_mut().append_key_only("recurse");
        let resp = self
            .send(Method::GET, url, None, REQUEST_TIMEOUT, &what)
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let resp = self.check(resp, &what).await?;
        let raw: Vec<RawEntry> = self.json(resp, &what, REQUEST_TIMEOUT).await?;
        raw.into_iter()
            .map(|r| r.decode().map_err(|e| self.bad_response(&what, e)))
            .collect()
    }

    /// One key, optionally as a blocking query; returns the entry (if any) and the index to
    /// block on next (`X-Consul-Index`). A 403 here is reported (single reads are not filtered).
    pub(crate) async fn kv_get(
        &self,
        key: &str,
        block: Option<Block>,
    ) -> Result<(Option<KvEntry>, u64), RegistryError> {
        let what = format!("reading {key}");
        let mut url = self.kv_url(key);
        let mut timeout = REQUEST_TIMEOUT;
        if let Some(b) = block {
            url.query_pairs_mut()
                .append_pair("index", &b.index.to_string())
                .append_pair("wait", &format!("{}ms", b.wait.as_millis().max(1)));
            // Consul adds up to wait/16 of jitter.
            timeout = b.wait + b.wait / 16 + REQUEST_TIMEOUT;
        }
        let resp = self.send(Method::GET, url, None, timeout, &what).await?;
        let index = resp
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok((None, index));
        }
        let resp = self.check(resp, &what).await?;
        let raw: Vec<RawEntry> = self.json(resp, &what, timeout).await?;
        let entry = raw
            .into_iter()
            .next()
            .map(RawEntry::decode)
            .transpose()
            .map_err(|e| self.bad_response(&what, e))?;
        Ok((entry, index))
    }

    /// Key names under `prefix` (`?keys`), up to `separator` when given.
    pub(crate) async fn kv_keys(
        &self,
        prefix: &str,
        separator: Option<&str>,
    ) -> Result<Vec<String>, RegistryError> {
        let what = format!("listing keys under {prefix}");
        let mut url = self.kv_url(prefix);
        url.query_pairs_mut().append_key_only("keys");
        if let Some(sep) = separator {
            url.query_pairs_mut().append_pair("separator", sep);
        }
        let resp = self
            .send(Method::GET, url, None, REQUEST_TIMEOUT, &what)
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let resp = self.check(resp, &what).await?;
        self.json(resp, &what, REQUEST_TIMEOUT).await
    }

    /// `PUT /v1/kv/<key>?<flag>=<session>` (`acquire` / `release`): Consul's `true`/`false`.
    pub(crate) async fn kv_put_session(
        &self,
        key: &str,
        value: &[u8],
        flag: &str,
        session: &str,
        what: &str,
    ) -> Result<bool, RegistryError> {
        let mut url = self.kv_url(key);
        url.query_pairs_mut().append_pair(flag, session);
        let resp = self
            .send(
                Method::PUT,
                url,
                Some(Body::Raw(value.to_vec())),
                REQUEST_TIMEOUT,
                what,
            )
            .await?;
        let resp = self.check(resp, what).await?;
        self.json::<bool>(resp, what, REQUEST_TIMEOUT).await
    }

    /// `PUT /v1/txn`. Up to 64 operations (Consul's limit); all apply or none.
    pub(crate) async fn txn(
        &self,
        ops: Vec<Value>,
        what: &str,
    ) -> Result<TxnOutcome, RegistryError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct TxnResponse {
            #[serde(default)]
            results: Option<Vec<TxnResult>>,
            #[serde(default)]
            errors: Option<Vec<TxnError>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct TxnResult {
            #[serde(rename = "KV", default)]
            kv: Option<RawEntry>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct TxnError {
            #[serde(default)]
            op_index: usize,
            #[serde(default)]
            what: String,
        }

        let url = self.url(&["txn"]);
        let resp = self
            .send(
                Method::PUT,
                url,
                Some(Body::Json(Value::Array(ops))),
                REQUEST_TIMEOUT,
                what,
            )
            .await?;
        let status = resp.status();
        if status == StatusCode::CONFLICT {
            let body = resp.text().await.unwrap_or_default();
            let parsed: TxnResponse = serde_json::from_str(&body)
                .map_err(|e| self.bad_response(what, format!("{e}: {body}")))?;
            let errors: Vec<(usize, String)> = parsed
                .errors
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.op_index, e.what))
                .collect();
            if errors.iter().any(|(_, w)| w.contains("Permission denied")) {
                return Err(self.status_error(StatusCode::FORBIDDEN, "Permission denied", what));
            }
            return Ok(TxnOutcome::RolledBack(errors));
        }
        let resp = self.check(resp, what).await?;
        let parsed: TxnResponse = self.json(resp, what, REQUEST_TIMEOUT).await?;
        let entries = parsed
            .results
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.kv)
            // Write results carry no value; keep only what the caller needs.
            .map(|r| KvEntry {
                key: r.key,
                value: None,
                modify_index: r.modify_index,
                session: r.session.filter(|s| !s.is_empty()),
            })
            .collect();
        Ok(TxnOutcome::Committed(entries))
    }
}

/// Transaction operations (`{"KV": {...}}`).
pub(crate) mod op {
    use super::*;

    pub fn cas(key: &str, value: &[u8], index: u64) -> Value {
        json!({"KV": {"Verb": "cas", "Key": key, "Value": encode(value), "Index": index}})
    }
    pub fn check_index(key: &str, index: u64) -> Value {
        json!({"KV": {"Verb": "check-index", "Key": key, "Index": index}})
    }
    pub fn check_not_exists(key: &str) -> Value {
        json!({"KV": {"Verb": "check-not-exists", "Key": key}})
    }
    pub fn delete_cas(key: &str, index: u64) -> Value {
        json!({"KV": {"Verb": "delete-cas", "Key": key, "Index": index}})
    }
    pub fn check_session(key: &str, session: &str) -> Value {
        json!({"KV": {"Verb": "check-session", "Key": key, "Session": session}})
    }
    pub fn delete(key: &str) -> Value {
        json!({"KV": {"Verb": "delete", "Key": key}})
    }
}
