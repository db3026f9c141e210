//! The per-service lock: a Consul session (TTL, renewed in the background, `behavior = delete`)
//! holding `docker-flow/<service>/.lock`, whose value says who holds it.
//!
//! A killed process stops renewing; Consul invalidates the session within twice the TTL and
//! deletes the key, so the lock frees itself. The state itself is also protected by the
//! compare-and-set write, so a holder whose session was lost cannot overwrite newer state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::client::{Body, Consul, REQUEST_TIMEOUT};
use super::error::RegistryError;
use super::kv::{op, Block, TxnOutcome};
use super::state::{keys, state_key, validate_service, ROOT};

/// Session TTL. Consul invalidates an unrenewed session after up to twice this.
pub const SESSION_TTL: Duration = Duration::from_secs(15);
/// How often the background task renews the session.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

/// A held lock. Release it with [`Lock::release`]; dropping it unreleased destroys the session
/// in the background (best effort; if the runtime is gone, the TTL frees it).
#[derive(Debug)]
pub struct Lock {
    consul: Consul,
    key: String,
    session: String,
    holder: String,
    lost: Arc<AtomicBool>,
    renew: Option<tokio::task::JoinHandle<()>>,
    released: bool,
}

impl Lock {
    /// The lock key, `docker-flow/<service>/.lock`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The Consul session ID holding the lock.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The holder text written as the key's value.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// True once a renewal found the session gone (destroyed by hand, or expired while Consul
    /// was unreachable): the lock is no longer held.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Deletes the lock key (if this session still holds it) and destroys the session.
    pub async fn release(mut self) -> Result<(), RegistryError> {
        if let Some(task) = self.renew.take() {
            task.abort();
        }
        let what = format!("releasing {}", self.key);
        // Delete only if still ours; a lost lock may already belong to someone else.
        let ops = vec![
            op::check_session(&self.key, &self.session),
            op::delete(&self.key),
        ];
        match self.consul.txn(ops, &what).await? {
            TxnOutcome::Committed(_) | TxnOutcome::RolledBack(_) => {}
        }
        destroy_session(&self.consul, &self.session).await?;
        self.released = true;
        Ok(())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some(task) = self.renew.take() {
            task.abort();
        }
        if self.released {
            return;
        }
        // Destroying the session deletes the key (behavior = delete).
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let consul = self.consul.clone();
            let session = std::mem::take(&mut self.session);
            rt.spawn(async move {
                let _ = destroy_session(&consul, &session).await;
            });
        }
    }
}

/// The usual holder text: `"<action> by <user>@<host> pid <pid> since <HH:MM:SS> UTC"`.
pub fn holder_text(action: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!(
        "{action} by {user}@{host} pid {} since {:02}:{:02}:{:02} UTC",
        std::process::id(),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

async fn destroy_session(consul: &Consul, session: &str) -> Result<(), RegistryError> {
    let what = format!("destroying lock session {session}");
    let resp = consul
        .send(
            Method::PUT,
            consul.url(&["session", "destroy", session]),
            None,
            REQUEST_TIMEOUT,
            &what,
        )
        .await?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Ok(());
    }
    consul.check(resp, &what).await.map(|_| ())
}

impl Consul {
    /// Takes the lock of `service`, waiting up to `wait` (with blocking queries, no polling) for
    /// another holder to let go; then fails naming the holder. `holder` is stored as the key's
    /// value (see [`holder_text`]).
    pub async fn lock(
        &self,
        service: &str,
        holder: &str,
        wait: Duration,
    ) -> Result<Lock, RegistryError> {
        validate_service(service)?;
        let key = state_key(service, keys::LOCK);
        self.lock_key(&format!("\"{service}\""), key, holder, wait)
            .await
    }

    /// The lock of one proxy container, held while a flow builds its config from Consul, applies
    /// it and records the result: two services switching at once on one proxy must not each
    /// apply a picture that misses the other's change. Under `docker-flow/.proxy/` (no service
    /// name starts with a dot, so it is never read as a service).
    pub async fn lock_proxy(
        &self,
        proxy: &str,
        holder: &str,
        wait: Duration,
    ) -> Result<Lock, RegistryError> {
        let key = format!("{ROOT}/.proxy/{proxy}/{}", keys::LOCK);
        self.lock_key(&format!("the proxy {proxy}"), key, holder, wait)
            .await
    }

    async fn lock_key(
        &self,
        what: &str,
        key: String,
        holder: &str,
        wait: Duration,
    ) -> Result<Lock, RegistryError> {
        let session = self.create_session(&key).await?;
        // Renewed from now on: a wait for another holder (a killed run's lock takes up to twice
        // the TTL to expire) outlasts an unrenewed session, which then cannot acquire.
        let lost = Arc::new(AtomicBool::new(false));
        let renew = tokio::spawn(renew_loop(self.clone(), session.clone(), Arc::clone(&lost)));
        match self.acquire(what, &key, &session, holder, wait).await {
            Ok(()) => Ok(Lock {
                consul: self.clone(),
                key,
                session,
                holder: holder.to_string(),
                lost,
                renew: Some(renew),
                released: false,
            }),
            Err(e) => {
                renew.abort();
                let _ = destroy_session(self, &session).await;
                Err(e)
            }
        }
    }

    async fn create_session(&self, key: &str) -> Result<String, RegistryError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Created {
            #[serde(rename = "ID")]
            id: String,
        }
        let what = format!("creating a session to lock {key} (/v1/session/create)");
        let body = json!({
            "Name": format!("docker-flow lock {key}"),
            "TTL": format!("{}s", SESSION_TTL.as_secs()),
            "Behavior": "delete",
            // The state is CAS-protected; a freed lock is usable at once.
            "LockDelay": "0s",
        });
        let resp = self
            .send(
                Method::PUT,
                self.url(&["session", "create"]),
                Some(Body::Json(body)),
                REQUEST_TIMEOUT,
                &what,
            )
            .await?;
        let resp = self.check(resp, &what).await?;
        let created: Created = self.json(resp, &what, REQUEST_TIMEOUT).await?;
        Ok(created.id)
    }

    async fn acquire(
        &self,
        what: &str,
        key: &str,
        session: &str,
        holder: &str,
        wait: Duration,
    ) -> Result<(), RegistryError> {
        let start = Instant::now();
        let deadline = start + wait;
        let doing = format!("locking {key}");
        loop {
            if self
                .kv_put_session(key, holder.as_bytes(), "acquire", session, &doing)
                .await?
            {
                return Ok(());
            }
            // Held: see by whom, then wait for the key to change (or the deadline).
            let (entry, index) = self.kv_get(key, None).await?;
            let now = Instant::now();
            let held = entry.as_ref().filter(|e| e.session.is_some());
            if now >= deadline {
                let holder = match held {
                    Some(e) => e
                        .value
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .map(|h| h.trim().to_string())
                        .filter(|h| !h.is_empty())
                        .unwrap_or_else(|| {
                            format!("session {}", e.session.as_deref().unwrap_or("?"))
                        }),
                    // Free but not acquirable: another tool's session left a lock-delay.
                    None => "nobody: Consul's lock-delay after an expired session".into(),
                };
                return Err(RegistryError::Locked {
                    address: self.address.to_string(),
                    what: what.to_string(),
                    key: key.to_string(),
                    holder,
                    waited: start.elapsed(),
                });
            }
            match held {
                Some(e) => {
                    let block = Block {
                        index: index.max(e.modify_index),
                        wait: deadline - now,
                    };
                    self.kv_get(key, Some(block)).await?;
                }
                // Freed in between (retry now), or in a lock-delay (retry shortly).
                None => tokio::time::sleep(Duration::from_millis(200).min(deadline - now)).await,
            }
        }
    }
}

async fn renew_loop(consul: Consul, session: String, lost: Arc<AtomicBool>) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let resp = consul
            .send(
                Method::PUT,
                consul.url(&["session", "renew", &session]),
                None,
                REQUEST_TIMEOUT,
                "renewing the lock session",
            )
            .await;
        match resp {
            Ok(r) if r.status() == StatusCode::NOT_FOUND => {
                lost.store(true, Ordering::Relaxed);
                return;
            }
            // Transient failures: keep trying until the TTL decides.
            _ => {}
        }
    }
}
