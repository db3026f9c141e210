//! The proxy container: create, start, connect, upload, reload, readiness.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use bollard::{
    errors::Error as BollardError,
    models::{
        ContainerCreateBody, EndpointSettings, HostConfig, NetworkConnectRequest, NetworkingConfig,
        PortBinding, RestartPolicy, RestartPolicyNameEnum,
    },
    query_parameters::{
        CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
        DownloadFromContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
        RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
    },
};
use futures_util::StreamExt;

use super::{
    error::ProxyError,
    model::ProxyModel,
    render::{self, CERT_FILE, CONFIG_DIR, CONFIG_FILE, HTTPS_PORT_IN, HTTP_PORT_IN},
    Proxy, LABEL,
};

/// Label on a stand-in container: the service it stands in for.
pub const STAND_IN_LABEL: &str = "com.docker.flow.stand-in";
/// Label on a stand-in container: the digest of its names and published ports.
const STAND_IN_DIGEST: &str = "com.docker.flow.stand-in.digest";

/// What differs between creating the proxy and a stand-in.
struct CreateParts {
    labels: HashMap<String, String>,
    ports: HashMap<String, Option<Vec<PortBinding>>>,
    /// The first network and its endpoint (the others are connected after create).
    endpoint: Option<(String, EndpointSettings)>,
}

/// The new config uploaded beside the live one before it is put in place.
pub(super) const NEXT_FILE: &str = "haproxy.cfg.next";
const READY_DEADLINE: Duration = Duration::from_secs(30);
const RELOAD_DEADLINE: Duration = Duration::from_secs(20);
/// HAProxy's user in the official image.
const HAPROXY_UID: u64 = 99;

fn not_found(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl Proxy {
    /// The networks to be on: this flow's target's, and every routed service's (so that a
    /// proxy recreated by one service's flow reaches all the others).
    fn networks(&self, model: &ProxyModel) -> Vec<String> {
        let mut all = self.opts.networks.clone();
        if self.opts.stand_in.is_some() {
            // A stand-in is on its target's networks only.
            return all;
        }
        for n in model.services.iter().flat_map(|s| &s.routes.networks) {
            if !all.contains(n) {
                all.push(n.clone());
            }
        }
        all
    }

    pub(super) async fn ensure_inner(&self, model: &ProxyModel) -> Result<Vec<String>, ProxyError> {
        let name = &self.opts.container;
        let networks = self.networks(model);
        let mut did = Vec::new();
        let info = match self.docker.inspect_container(name, None).await {
            Ok(i) => Some(i),
            Err(e) if not_found(&e) => None,
            Err(e) => return Err(ProxyError::docker(format!("inspect {name}"))(e)),
        };
        match info {
            None => {
                self.create(model, &networks).await?;
                if let Err(e) = self.wait_ready(None).await {
                    // A proxy that never served (a template rendering a config HAProxy refuses)
                    // is removed again: the flow leaves no broken container behind.
                    let alerts = self.alerts().await;
                    self.remove_own().await;
                    return Err(match alerts {
                        Some(why) => ProxyError::InvalidConfig(why),
                        None => e,
                    });
                }
                did.push(format!(
                    "proxy container {name} created with the full config"
                ));
                return Ok(did);
            }
            Some(info) if self.stale_stand_in(&info) => {
                // Its names or published ports changed: only a new container carries them.
                self.remove_own().await;
                self.create(model, &networks).await?;
                self.wait_ready(None).await?;
                did.push(format!(
                    "stand-in {name} recreated: its names or published ports changed"
                ));
                return Ok(did);
            }
            Some(info) => {
                let mode = info
                    .host_config
                    .as_ref()
                    .and_then(|h| h.network_mode.clone())
                    .unwrap_or_default();
                if self.opts.host_network && mode != "host" {
                    return Err(ProxyError::Container {
                        container: name.clone(),
                        message: format!(
                        "runs on its own network ({mode}), but the instances are published on the other engine's loopback address, which only a proxy on the host's network reaches: remove it (`docker rm -f {name}`; the next flow recreates it with every route) or set --advertise-address to an address it reaches"
                    )});
                }
                let joined: Vec<String> = info
                    .network_settings
                    .and_then(|n| n.networks)
                    .map(|n| n.into_keys().collect())
                    .unwrap_or_default();
                // A proxy on the host's network reaches every local container already.
                let missing = networks
                    .iter()
                    .filter(|n| mode != "host" && !joined.contains(n));
                for net in missing {
                    self.connect(net).await?;
                    did.push(format!("proxy joined network {net}"));
                }
                let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
                let paused = info.state.as_ref().and_then(|s| s.paused).unwrap_or(false);
                if paused {
                    self.docker
                        .unpause_container(name)
                        .await
                        .map_err(ProxyError::docker(format!("unpause {name}")))?;
                    did.push(format!("proxy container {name} unpaused"));
                } else if !running {
                    self.docker
                        .start_container(name, None)
                        .await
                        .map_err(ProxyError::docker(format!("start {name}")))?;
                    did.push(format!("proxy container {name} started"));
                }
            }
        }
        self.wait_ready(None).await?;
        Ok(did)
    }

    /// A stand-in made for other names or published ports than the options say.
    fn stale_stand_in(&self, info: &bollard::models::ContainerInspectResponse) -> bool {
        let Some(stand_in) = &self.opts.stand_in else {
            return false;
        };
        let labels = info.config.as_ref().and_then(|c| c.labels.as_ref());
        labels.and_then(|l| l.get(STAND_IN_DIGEST)) != Some(&stand_in.digest())
    }

    /// Labels, published ports and the first network's endpoint of a new container.
    fn create_parts(&self, networks: &[String]) -> CreateParts {
        let o = &self.opts;
        if let Some(stand_in) = &o.stand_in {
            let mut ports: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
            for (ip, host, container) in &stand_in.published {
                ports
                    .entry(format!("{container}/tcp"))
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new)
                    .push(PortBinding {
                        host_ip: Some(ip.clone()),
                        host_port: Some(host.to_string()),
                    });
            }
            let labels = HashMap::from([
                (STAND_IN_LABEL.to_string(), stand_in.service.clone()),
                (STAND_IN_DIGEST.to_string(), stand_in.digest()),
                (
                    "com.docker.compose.project".to_string(),
                    stand_in.project.clone(),
                ),
            ]);
            return CreateParts {
                labels,
                ports,
                endpoint: networks.first().map(|n| (n.clone(), self.endpoint(n))),
            };
        }
        let mut ports: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        let bind = |port: u16| {
            Some(vec![PortBinding {
                host_ip: Some(o.bind_address.clone()),
                host_port: Some(port.to_string()),
            }])
        };
        ports.insert(format!("{HTTP_PORT_IN}/tcp"), bind(o.http_port));
        if o.cert_pem.is_some() {
            ports.insert(
                format!("{HTTPS_PORT_IN}/tcp"),
                bind(o.https_port.unwrap_or(HTTPS_PORT_IN)),
            );
        }
        if o.host_network {
            // HAProxy binds the host's ports itself (see ProxyOptions::http_listen).
            ports.clear();
        }
        CreateParts {
            labels: HashMap::from([(LABEL.to_string(), "true".to_string())]),
            ports,
            endpoint: networks
                .first()
                .map(|n| (n.clone(), EndpointSettings::default())),
        }
    }

    /// The endpoint on `network`: a stand-in answers there to the names its options give.
    fn endpoint(&self, network: &str) -> EndpointSettings {
        let aliases = self.opts.stand_in.as_ref().and_then(|s| {
            s.aliases
                .iter()
                .find(|(n, _)| n == network)
                .map(|(_, a)| a.clone())
        });
        EndpointSettings {
            aliases,
            ..Default::default()
        }
    }

    async fn create(&self, model: &ProxyModel, networks: &[String]) -> Result<(), ProxyError> {
        let o = &self.opts;
        // Render first: a model that does not render creates nothing.
        let config = render::render(model, o)?;
        let networks: &[String] = if o.host_network { &[] } else { networks };
        let parts = self.create_parts(networks);
        let ports = parts.ports;
        let networking = parts.endpoint.map(|(n, e)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n, e)])),
        });
        let body = ContainerCreateBody {
            image: Some(o.image.clone()),
            labels: Some(parts.labels),
            exposed_ports: Some(ports.keys().cloned().collect()),
            host_config: Some(HostConfig {
                network_mode: o.host_network.then(|| "host".to_string()),
                port_bindings: Some(ports),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            networking_config: networking,
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::new()
            .name(&o.container)
            .build();
        let created = match self
            .docker
            .create_container(Some(opts.clone()), body.clone())
            .await
        {
            Err(e) if not_found(&e) => {
                self.pull().await?;
                self.docker.create_container(Some(opts), body).await
            }
            other => other,
        };
        created.map_err(ProxyError::docker(format!("create {}", o.container)))?;
        let started = async {
            for net in networks.iter().skip(1) {
                self.connect(net).await?;
            }
            if let Some(pem) = &o.cert_pem {
                self.upload(CERT_FILE, pem, 0o600).await?;
            }
            self.write_config(&config).await?;
            self.docker
                .start_container(&o.container, None)
                .await
                .map_err(ProxyError::docker(format!("start {}", o.container)))
        }
        .await;
        if started.is_err() {
            // Ours, created just now: a container that never ran is not left behind (a port in
            // use would otherwise leave one that fails every later start).
            self.remove_own().await;
        }
        started
    }

    /// Removes the proxy container this handle created and that never served.
    async fn remove_own(&self) {
        let _ = self
            .docker
            .remove_container(
                &self.opts.container,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await;
    }

    async fn pull(&self) -> Result<(), ProxyError> {
        let image = &self.opts.image;
        let (from, tag) = match image.rsplit_once(':') {
            Some((f, t)) if !t.contains('/') => (f, t),
            _ => (image.as_str(), "latest"),
        };
        let opts = CreateImageOptionsBuilder::new()
            .from_image(from)
            .tag(tag)
            .build();
        let mut s = self.docker.create_image(Some(opts), None, None);
        while let Some(r) = s.next().await {
            r.map_err(ProxyError::docker(format!(
                "pull {image} (--proxy-image / FLOW_PROXY_IMAGE names another image)"
            )))?;
        }
        Ok(())
    }

    async fn connect(&self, net: &str) -> Result<(), ProxyError> {
        self.docker
            .connect_network(
                net,
                NetworkConnectRequest {
                    container: self.opts.container.clone(),
                    endpoint_config: self.opts.stand_in.is_some().then(|| self.endpoint(net)),
                },
            )
            .await
            .map_err(ProxyError::docker(format!(
                "connect {} to network {net}",
                self.opts.container
            )))
    }

    /// HAProxy's `[ALERT]` lines from the container's log (why it did not start), if any.
    async fn alerts(&self) -> Option<String> {
        let opts = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("50")
            .build();
        let mut s = self.docker.logs(&self.opts.container, Some(opts));
        let mut text = String::new();
        while let Some(Ok(chunk)) = s.next().await {
            text.push_str(&chunk.to_string());
        }
        let alerts: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.contains("[ALERT]"))
            .collect();
        (!alerts.is_empty()).then(|| alerts.join(" | "))
    }

    /// Writes one file into the config directory, owned by HAProxy's user.
    pub(super) async fn upload(
        &self,
        file: &str,
        data: &[u8],
        mode: u32,
    ) -> Result<(), ProxyError> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(HAPROXY_UID);
        h.set_gid(HAPROXY_UID);
        h.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        h.set_entry_type(tar::EntryType::Regular);
        let archive = tar
            .append_data(&mut h, file, data)
            .and_then(|_| tar.into_inner())
            .map_err(|e| ProxyError::Container {
                container: self.opts.container.clone(),
                message: format!("pack {file}: {e}"),
            })?;
        let opts = UploadToContainerOptionsBuilder::new()
            .path(CONFIG_DIR)
            .build();
        self.docker
            .upload_to_container(
                &self.opts.container,
                Some(opts),
                bollard::body_full(archive.into()),
            )
            .await
            .map_err(ProxyError::docker(format!(
                "upload {CONFIG_DIR}/{file} to {}",
                self.opts.container
            )))
    }

    /// The config file the proxy runs (the record of its state).
    pub(super) async fn read_config(&self) -> Result<String, ProxyError> {
        let name = &self.opts.container;
        let path = format!("{CONFIG_DIR}/{CONFIG_FILE}");
        let opts = DownloadFromContainerOptionsBuilder::new()
            .path(&path)
            .build();
        let mut s = self.docker.download_from_container(name, Some(opts));
        let mut bytes = Vec::new();
        while let Some(chunk) = s.next().await {
            match chunk {
                Ok(c) => bytes.extend_from_slice(&c),
                Err(e) if not_found(&e) => return Err(ProxyError::NotRunning(name.clone())),
                Err(e) => return Err(ProxyError::docker(format!("read {path} from {name}"))(e)),
            }
        }
        let mut archive = tar::Archive::new(bytes.as_slice());
        let err = |e: std::io::Error| ProxyError::Container {
            container: name.clone(),
            message: format!("read {path}: {e}"),
        };
        let mut entries = archive.entries().map_err(err)?;
        let mut text = String::new();
        if let Some(entry) = entries.next() {
            use std::io::Read;
            entry.map_err(err)?.read_to_string(&mut text).map_err(err)?;
        }
        let (generation, text) = unstamp(&text);
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, text.clone()));
        Ok(text)
    }

    /// Writes the config file (stamped with a new generation) and remembers it.
    pub(super) async fn write_config(&self, text: &str) -> Result<(), ProxyError> {
        let (generation, stamped) = stamp(text);
        self.forget();
        self.upload(CONFIG_FILE, stamped.as_bytes(), 0o644).await?;
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((generation, text.to_string()));
        Ok(())
    }

    pub(super) fn forget(&self) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The config as last written or read by this handle, else read from the container.
    pub(super) async fn current_config(&self) -> Result<(u64, String), ProxyError> {
        if let Some(c) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(c);
        }
        let text = self.read_config().await?;
        let generation = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|c| c.0)
            .unwrap_or(0);
        Ok((generation, text))
    }

    /// Validates `text` with `haproxy -c` inside the container, puts it in place and reloads
    /// (SIGUSR2 to the master); returns when the new worker serves.
    pub(super) async fn reload_with(&self, text: &str) -> Result<(), ProxyError> {
        let rt = self.runtime();
        let next = NEXT_FILE.to_string();
        let next_path = format!("{CONFIG_DIR}/{next}");
        let live_path = format!("{CONFIG_DIR}/{CONFIG_FILE}");
        if let Some(pem) = &self.opts.cert_pem {
            self.upload(CERT_FILE, pem, 0o600).await?;
        }
        let (generation, stamped) = stamp(text);
        self.forget();
        self.upload(&next, stamped.as_bytes(), 0o644).await?;
        let (code, out) = rt
            .exec(
                vec![
                    "haproxy".into(),
                    "-c".into(),
                    "-f".into(),
                    next_path.clone(),
                ],
                vec![],
                None,
            )
            .await?;
        if code != 0 {
            let _ = rt
                .exec(vec!["rm".into(), "-f".into(), next_path], vec![], Some("0"))
                .await;
            let why: Vec<&str> = out
                .lines()
                .map(str::trim)
                .filter(|l| l.contains("[ALERT]") || l.contains("error") || l.contains("[WARNING]"))
                .collect();
            let why = if why.is_empty() {
                out.trim().to_string()
            } else {
                why.join(" | ")
            };
            return Err(ProxyError::InvalidConfig(why));
        }
        let before = rt.probe().await?;
        let (code, out) = rt
            .exec(
                vec!["mv".into(), "-f".into(), next_path, live_path],
                vec![],
                Some("0"),
            )
            .await?;
        if code != 0 {
            return Err(ProxyError::Container {
                container: self.opts.container.clone(),
                message: format!("put the new config in place: {}", out.trim()),
            });
        }
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((generation, text.to_string()));
        self.docker
            .kill_container(
                &self.opts.container,
                Some(KillContainerOptionsBuilder::new().signal("SIGUSR2").build()),
            )
            .await
            .map_err(ProxyError::docker(format!(
                "reload {}",
                self.opts.container
            )))?;
        self.wait_ready(before).await
    }

    /// Polls until the Runtime API answers with a worker PID other than `old` and the frontend
    /// accepts connections.
    async fn wait_ready(&self, old: Option<u32>) -> Result<(), ProxyError> {
        let deadline = if old.is_some() {
            RELOAD_DEADLINE
        } else {
            READY_DEADLINE
        };
        let start = Instant::now();
        let mut pause = Duration::from_millis(10);
        let mut last_err = String::new();
        let mut tries = 0u32;
        loop {
            match self.runtime().probe().await {
                Ok(Some(pid)) if Some(pid) != old => return Ok(()),
                Ok(_) => {}
                Err(e) => last_err = e.to_string(),
            }
            tries += 1;
            if tries % 8 == 0 {
                let info = self
                    .docker
                    .inspect_container(&self.opts.container, None)
                    .await
                    .map_err(ProxyError::docker(format!(
                        "inspect {}",
                        self.opts.container
                    )))?;
                let state = info.state.unwrap_or_default();
                if state.running != Some(true) {
                    return Err(ProxyError::Container {
                        container: self.opts.container.clone(),
                        message: format!(
                            "not running (exit code {}); see `docker logs {}`",
                            state.exit_code.unwrap_or(-1),
                            self.opts.container
                        ),
                    });
                }
            }
            if start.elapsed() >= deadline {
                let what = match old {
                    Some(_) => format!("the reloaded proxy {} to serve", self.opts.container),
                    None => format!("proxy {} to be ready", self.opts.container),
                };
                let what = if last_err.is_empty() {
                    what
                } else {
                    format!("{what} ({last_err})")
                };
                return Err(ProxyError::Timeout {
                    what,
                    secs: deadline.as_secs_f64(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }
}

const GENERATION: &str = "# generation ";

/// Prepends `# generation <n>` (a fresh number): a handle that wrote the file knows it is still
/// the file in place when the number is, without reading it back.
pub(super) fn stamp(text: &str) -> (u64, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let generation = (nanos ^ (u64::from(std::process::id()) << 40))
        .wrapping_add(N.fetch_add(1, Ordering::Relaxed))
        .max(1);
    (generation, format!("{GENERATION}{generation}\n{text}"))
}

pub(super) fn unstamp(text: &str) -> (u64, String) {
    if let Some(rest) = text.strip_prefix(GENERATION) {
        if let Some((n, body)) = rest.split_once('\n') {
            if let Ok(n) = n.trim().parse() {
                return (n, body.to_string());
            }
        }
    }
    (0, text.to_string())
}
