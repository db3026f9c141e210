//! Service registration with the local agent and health-aware lookups.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{Body, Consul, REQUEST_TIMEOUT};
use super::error::RegistryError;

/// A check critical this long gets its instance deregistered by Consul, so instances of a
/// killed docker flow (which never deregistered them) vanish. Consul's minimum is one minute
/// (its reaper runs every 30 s); three leave a slow-starting instance time to pass.
pub const DEREGISTER_CRITICAL_AFTER: Duration = Duration::from_secs(180);

/// An instance to register with the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Service ID: the container name (unique per agent).
    pub id: String,
    /// Service name: `<service>-<color>`.
    pub name: String,
    /// Where the agent and the proxy reach it (the container's IP).
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub check: Check,
}

/// The agent's health check of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// GET `url`; 2xx passes, 429 warns, anything else is critical.
    Http {
        url: String,
        interval: Duration,
        timeout: Duration,
    },
    /// A TCP connect to `address` (`host:port`).
    Tcp {
        address: String,
        interval: Duration,
        timeout: Duration,
    },
    /// No agent check: the engine is the health gate (Swarm tasks, which Consul on the host
    /// cannot reach on their overlay network). Consul counts an instance without checks as
    /// passing.
    None,
}

/// An instance as the health endpoint reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogInstance {
    /// Service ID (the container name).
    pub id: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    /// All its checks (the node's included) pass.
    pub passing: bool,
}

/// Consul duration syntax: `1500ms`.
fn go_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

fn check_json(check: &Check) -> Option<Value> {
    let deregister = go_duration(DEREGISTER_CRITICAL_AFTER);
    Some(match check {
        Check::None => return None,
        Check::Http {
            url,
            interval,
            timeout,
        } => json!({
            "HTTP": url,
            "Method": "GET",
            "Interval": go_duration(*interval),
            "Timeout": go_duration(*timeout),
            "DeregisterCriticalServiceAfter": deregister,
        }),
        Check::Tcp {
            address,
            interval,
            timeout,
        } => json!({
            "TCP": address,
            "Interval": go_duration(*interval),
            "Timeout": go_duration(*timeout),
            "DeregisterCriticalServiceAfter": deregister,
        }),
    })
}

impl Consul {
    /// Registers (or re-registers) an instance with the agent (`/v1/agent/service/register`).
    pub async fn register(&self, r: &Registration) -> Result<(), RegistryError> {
        let what = format!(
            "registering {} as service {} (/v1/agent/service/register)",
            r.id, r.name
        );
        let mut body = json!({
            "ID": r.id,
            "Name": r.name,
            "Address": r.address,
            "Port": r.port,
            "Tags": r.tags,
        });
        if let Some(check) = check_json(&r.check) {
            body["Check"] = check;
        }
        let resp = self
            .send(
                Method::PUT,
                self.url(&["agent", "service", "register"]),
                Some(Body::Json(body)),
                REQUEST_TIMEOUT,
                &what,
            )
            .await?;
        self.check(resp, &what).await.map(|_| ())
    }

    /// Deregisters an instance from the agent; an unknown ID is already gone, which is fine.
    pub async fn deregister(&self, id: &str) -> Result<(), RegistryError> {
        let what = format!("deregistering {id} (/v1/agent/service/deregister)");
        let resp = self
            .send(
                Method::PUT,
                self.url(&["agent", "service", "deregister", id]),
                None,
                REQUEST_TIMEOUT,
                &what,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        let status = resp.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Consul 1.8 answers 500 "Unknown service …" for an ID it does not have.
            let body = resp.text().await.unwrap_or_default();
            if body.contains("Unknown service") {
                return Ok(());
            }
            return Err(self.status_error(status, &body, &what));
        }
        self.check(resp, &what).await.map(|_| ())
    }

    /// The instances of service `name` (`/v1/health/service/<name>`), only passing ones when
    /// `passing_only`. An unknown service has none.
    pub async fn instances(
        &self,
        name: &str,
        passing_only: bool,
    ) -> Result<Vec<CatalogInstance>, RegistryError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            node: Node,
            service: Service,
            #[serde(default)]
            checks: Vec<HealthCheck>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Node {
            #[serde(default)]
            address: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Service {
            #[serde(rename = "ID")]
            id: String,
            #[serde(default)]
            address: String,
            #[serde(default)]
            port: u16,
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct HealthCheck {
            status: String,
        }

        let what = format!("listing instances of {name} (/v1/health/service/{name})");
        let mut url = self.url(&["health", "service", name]);
        if passing_only {
            url.query_pairs_mut().append_key_only("passing");
        }
        let resp = self
            .send(Method::GET, url, None, REQUEST_TIMEOUT, &what)
            .await?;
        let resp = self.check(resp, &what).await?;
        let entries: Vec<Entry> = self.json(resp, &what, REQUEST_TIMEOUT).await?;
        Ok(entries
            .into_iter()
            .map(|e| CatalogInstance {
                id: e.service.id,
                address: if e.service.address.is_empty() {
                    e.node.address
                } else {
                    e.service.address
                },
                port: e.service.port,
                tags: e.service.tags.unwrap_or_default(),
                passing: e.checks.iter().all(|c| c.status == "passing"),
            })
            .collect())
    }

    /// Checks that Consul answers and has a leader (`/v1/status/leader`).
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let what = "asking for the cluster leader (/v1/status/leader)";
        let resp = self
            .send(
                Method::GET,
                self.url(&["status", "leader"]),
                None,
                REQUEST_TIMEOUT,
                what,
            )
            .await?;
        let resp = self.check(resp, what).await?;
        let leader: String = self.json(resp, what, REQUEST_TIMEOUT).await?;
        if leader.trim().is_empty() {
            return Err(RegistryError::NoLeader {
                address: self.address.to_string(),
                detail: "/v1/status/leader is empty".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_carry_the_deregister_timeout() {
        let v = check_json(&Check::Tcp {
            address: "192.0.2.2:80".into(),
            interval: Duration::from_secs(2),
            timeout: Duration::from_millis(500),
        })
        .unwrap();
        assert_eq!(v["TCP"], "192.0.2.2:80");
        assert_eq!(v["Interval"], "2000ms");
        assert_eq!(v["Timeout"], "500ms");
        assert_eq!(v["DeregisterCriticalServiceAfter"], "180000ms");
        assert_eq!(check_json(&Check::None), None);
    }
}
