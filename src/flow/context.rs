//! Everything a flow works with, opened once per invocation: the engine, the loaded compose
//! project, Consul (checked before any change) and the proxy's engine.

use bollard::Docker;

use crate::cli::GlobalOptions;
use crate::compose::{self, Project};
use crate::config::Settings;
use crate::context::{self, Endpoint};
use crate::engine;
use crate::interrupt::Interrupt;
use crate::proxy::{Proxy, ProxyOptions};
use crate::registry::{self, Consul, ConsulConfig, EmbeddedConsul};

use super::error::FlowError;
use super::reach::Reach;
use super::report::Reporter;
use super::runtime::Runtime;

pub struct FlowContext {
    pub settings: Settings,
    pub docker: Docker,
    pub endpoint: Endpoint,
    /// Containers on a plain engine, or services on a Swarm manager.
    pub runtime: Runtime,
    pub project: Project,
    /// The compose service deployed (`--target`).
    pub target: String,
    /// `<project>-<target>`: the name in Consul and in the proxy.
    pub service: String,
    pub consul: Consul,
    pub proxy_docker: Docker,
    /// How the proxy reaches the instances: their networks, or published ports.
    pub reach: Reach,
    /// The `docker-flow-consul` container docker flow runs when no Consul address is set: it
    /// joins the target's networks so its health checks reach the instances.
    pub embedded_consul: Option<String>,
    pub interrupt: Interrupt,
    pub report: Reporter,
    /// One proxy handle for every flow of this run, so its config cache and open shell serve
    /// `deploy --flow proxy` end to end.
    proxy: std::sync::OnceLock<Proxy>,
    /// Swarm's own replacements were followed in this run (once per run: the flows that follow
    /// within the same command would only pay for it in switch latency).
    adopted: std::sync::atomic::AtomicBool,
}

impl FlowContext {
    /// `read_only` (status): never start the embedded Consul, only use it if it runs.
    pub async fn open(
        globals: &GlobalOptions,
        settings: Settings,
        interrupt: Interrupt,
        read_only: bool,
    ) -> Result<FlowContext, FlowError> {
        let report = Reporter::new(settings.format);
        let env = |k: &str| std::env::var(k).ok();
        let mut globals = globals.clone();
        if globals.host.is_none() && globals.context.is_none() {
            // The original's --host / FLOW_HOST: docker's own -H before `flow` is preferred.
            globals.host = settings.docker_host.clone();
        }
        let endpoint =
            context::resolve(&globals, &env).map_err(|e| FlowError::Invalid(e.to_string()))?;
        let docker = engine::connect(&endpoint).await?;
        let runtime = Runtime::detect(&docker).await?;

        let options = super::config::load_options(&settings.compose)
            .map_err(|e| FlowError::Invalid(e.to_string()))?;
        let project = compose::load(&options)?;
        let target = settings.target.clone();
        let o = &settings.origins;
        let side = "--side-target, FLOW_SIDE_TARGETS or side_targets";
        for (what, name, origin, set) in std::iter::once((
            "target",
            &target,
            &o.target,
            "--target, FLOW_TARGET or target",
        ))
        .chain(
            settings
                .side_targets
                .iter()
                .map(|s| ("side target", s, &o.side_targets, side)),
        ) {
            if !project.services.contains_key(name) {
                let known: Vec<&str> = project.services.keys().map(String::as_str).collect();
                let from = origin
                    .as_ref()
                    .map(|o| format!(" (from {o})"))
                    .unwrap_or_default();
                return Err(FlowError::Invalid(format!(
                    "{what} \"{name}\"{from} is not a service of project \"{}\" (services: {}): name one of them with {set} in docker-flow.yml",
                    project.name,
                    known.join(", ")
                )));
            }
        }
        let service = format!("{}-{}", project.name, target);

        let proxy_docker = proxy_engine(&settings, &globals, &docker).await?;
        let reach = if settings.proxy.context.is_none() && settings.proxy.docker_host.is_none() {
            // The proxy runs on the services' own engine: nothing to compare.
            Reach::Networks
        } else {
            Reach::decide(
                &docker,
                &proxy_docker,
                &endpoint,
                settings.proxy.advertise_address,
            )
            .await?
        };
        if let (Reach::Published(ip), None) = (reach, &settings.consul.address) {
            if ip.is_loopback() {
                // Its checks would run inside a container on the proxy's engine, where the
                // services' loopback address is not theirs.
                return Err(FlowError::Invalid(format!(
                    "the services' engine is reached at {ip} from the proxy's engine, which the embedded Consul cannot check from its container: set --consul-address (FLOW_CONSUL_ADDRESS) to a Consul agent on this host, or --advertise-address to an address both reach"
                )));
            }
        }
        let (consul, embedded_consul) =
            open_consul(&settings, &proxy_docker, &report, read_only).await?;
        Ok(FlowContext {
            settings,
            docker,
            endpoint,
            runtime,
            project,
            target,
            service,
            consul,
            proxy_docker,
            reach,
            embedded_consul,
            interrupt,
            report,
            proxy: std::sync::OnceLock::new(),
            adopted: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The proxy for this invocation, joined to the target's networks.
    pub fn proxy(&self) -> Result<&Proxy, FlowError> {
        if let Some(p) = self.proxy.get() {
            return Ok(p);
        }
        let p = self.new_proxy()?;
        Ok(self.proxy.get_or_init(|| p))
    }

    fn new_proxy(&self) -> Result<Proxy, FlowError> {
        let cert_pem = match &self.settings.proxy.cert {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                FlowError::Invalid(format!(
                    "cannot read the proxy certificate {} (--proxy-cert): {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let networks = super::deploy::target_networks(&self.project, &self.target);
        Ok(Proxy::new(
            self.proxy_docker.clone(),
            ProxyOptions {
                container: self.settings.proxy.name.clone(),
                image: self.settings.proxy.image.clone(),
                http_port: self.settings.proxy.http_port,
                https_port: self.settings.proxy.https_port,
                bind_address: self.settings.proxy.bind_address.clone(),
                cert_pem,
                // Instances on another engine reached on its loopback address: only a proxy on
                // the host's own network can reach them.
                host_network: matches!(self.reach, Reach::Published(ip) if ip.is_loopback()),
                networks: match self.reach {
                    Reach::Networks => networks,
                    Reach::Published(_) => Vec::new(),
                },
                stand_in: None,
            },
        ))
    }

    /// Whether the proxy container runs: flows that only update or drain the proxy leave it
    /// alone when nobody started it yet.
    pub async fn proxy_running(&self) -> bool {
        running(&self.proxy_docker, &self.settings.proxy.name).await
    }

    /// Fails with the stop reason if the user or the CLI asked to stop; `state` says what is left.
    pub fn checkpoint(&self, state: impl FnOnce() -> String) -> Result<(), FlowError> {
        match self.interrupt.reason() {
            Some(reason) => Err(FlowError::Interrupted {
                reason,
                state: state(),
            }),
            None => Ok(()),
        }
    }

    /// Runs `work` holding the service's Consul lock (a second flow on the same service waits up
    /// to --lock-timeout, then fails naming the holder). On Swarm, the run's first flow first
    /// follows the tasks Swarm replaced on its own (`adopt`), except in a dry run.
    pub async fn locked<F, Fut>(&self, flow: &str, work: F) -> Result<(), FlowError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), FlowError>>,
    {
        let holder = registry::holder_text(flow);
        let lock = self
            .consul
            .lock(&self.service, &holder, self.settings.lock_timeout)
            .await?;
        let result = async {
            if self.runtime == super::runtime::Runtime::Swarm
                && !self.settings.dry_run
                && !self
                    .adopted
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                super::adopt::follow_swarm(self, flow).await;
            }
            work().await
        }
        .await;
        // The flow's own error matters more than a failed release (the session expires anyway).
        let released = lock.release().await;
        result.and(released.map_err(FlowError::from))
    }
}

impl FlowContext {
    /// Runs `work` holding the proxy's Consul lock: reading the proxy's picture from Consul,
    /// applying it and recording the outcome are one step across every service on that proxy.
    pub async fn proxy_locked<T, F, Fut>(&self, work: F) -> Result<T, FlowError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, FlowError>>,
    {
        let holder = registry::holder_text(&format!("{} on the proxy", self.service));
        let lock = self
            .consul
            .lock_proxy(
                &self.settings.proxy.name,
                &holder,
                self.settings.lock_timeout,
            )
            .await?;
        let result = work().await;
        let released = lock.release().await;
        let value = result?;
        released?;
        Ok(value)
    }
}

/// The engine the proxy (and the embedded Consul) run on: --proxy-context, --proxy-docker-host,
/// else the services' own engine.
async fn proxy_engine(
    settings: &Settings,
    globals: &GlobalOptions,
    docker: &Docker,
) -> Result<Docker, FlowError> {
    let p = &settings.proxy;
    if p.context.is_none() && p.docker_host.is_none() {
        return Ok(docker.clone());
    }
    let mut g = GlobalOptions {
        config: globals.config.clone(),
        ..Default::default()
    };
    g.context = p.context.clone();
    if g.context.is_none() {
        g.host = p.docker_host.clone();
        if let Some(certs) = &p.docker_cert_path {
            for f in ["ca.pem", "cert.pem", "key.pem"] {
                if let Err(e) = std::fs::metadata(certs.join(f)) {
                    return Err(FlowError::Invalid(format!(
                        "proxy engine: {} cannot be read ({e}): --proxy-docker-cert-path (FLOW_PROXY_DOCKER_CERT_PATH, proxy_docker_cert_path in docker-flow.yml) names a directory holding ca.pem, cert.pem and key.pem",
                        certs.join(f).display()
                    )));
                }
            }
            g.tlsverify = true;
            g.tlscacert = Some(certs.join("ca.pem"));
            g.tlscert = Some(certs.join("cert.pem"));
            g.tlskey = Some(certs.join("key.pem"));
        }
    }
    // The services' DOCKER_HOST/DOCKER_CONTEXT/TLS variables are not the proxy's; the config
    // dir (where its context is stored) is shared.
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|_| k == "DOCKER_CONFIG" || !k.starts_with("DOCKER_"))
    };
    let endpoint =
        context::resolve(&g, &env).map_err(|e| FlowError::Invalid(format!("proxy engine: {e}")))?;
    Ok(engine::connect(&endpoint).await?)
}

/// Consul as configured, or the embedded one docker flow runs for the user; checked before any
/// change so an unreachable Consul changes nothing.
async fn open_consul(
    settings: &Settings,
    proxy_docker: &Docker,
    report: &Reporter,
    read_only: bool,
) -> Result<(Consul, Option<String>), FlowError> {
    let c = &settings.consul;
    let (address, embedded) = match &c.address {
        Some(a) => (a.clone(), None),
        None => {
            let report = *report;
            let on_event = move |m: &str| report.step("consul", "docker-flow-consul", m);
            let spec = EmbeddedConsul {
                image: c.image.clone(),
                ..Default::default()
            };
            if read_only && !running(proxy_docker, &spec.name).await {
                // `status` looks, it never starts Consul: without it nothing was deployed.
                return Err(FlowError::NotDeployed(format!(
                    "nothing is deployed here: no Consul address is set (--consul-address, FLOW_CONSUL_ADDRESS, CONSUL_HTTP_ADDR) and {} does not run",
                    spec.name
                )));
            }
            let address = registry::ensure_embedded(proxy_docker, &spec, &on_event).await?;
            (address, Some(spec.name))
        }
    };
    let consul = Consul::new(&ConsulConfig {
        address,
        token: c.token.as_ref().map(|t| t.expose().to_string()),
        cacert: c.cacert.clone(),
        client_cert: c.client_cert.clone(),
        client_key: c.client_key.clone(),
    })?;
    consul.ping().await?;
    Ok((consul, embedded))
}

/// Whether a container of that name runs on that engine.
async fn running(docker: &Docker, name: &str) -> bool {
    docker
        .inspect_container(name, None)
        .await
        .ok()
        .and_then(|c| c.state?.running)
        .unwrap_or(false)
}
