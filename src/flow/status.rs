//! `docker flow status`: which endpoint the context resolution chose, what engine answers there,
//! and whether it is a Swarm manager; with a target, the service's release state (colours,
//! instances with their Docker health and Consul state, on Swarm the node of each task; routes;
//! history).

use std::collections::HashMap;

use serde::Serialize;

use crate::engine::swarm;
use crate::{cli::Format, cli::GlobalOptions, context, engine, error::Error, interrupt::Interrupt};

#[derive(Debug, Serialize)]
pub struct Status {
    pub context: String,
    pub origin: String,
    pub endpoint: String,
    pub engine: EngineStatus,
}

#[derive(Debug, Serialize)]
pub struct EngineStatus {
    pub name: String,
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
    pub root_dir: String,
    /// `inactive`, `pending`, `active`, `error` or `locked`, as the engine reports it.
    pub swarm: String,
    pub swarm_manager: bool,
}

pub async fn run(
    globals: &GlobalOptions,
    settings: crate::config::Settings,
    mut interrupt: Interrupt,
) -> Result<(), Error> {
    let format = settings.format;
    let env = |k: &str| std::env::var(k).ok();
    let endpoint = context::resolve(globals, &env)?;
    // Status changes nothing, so a stop request may cut it anywhere.
    let for_context = interrupt.clone();
    let work = async move {
        let status = gather(&endpoint).await?;
        // With a target (flag, env or docker-flow.yml), the service's release state too.
        let service = if settings.target.is_empty() {
            None
        } else {
            match super::context::FlowContext::open(globals, settings, for_context, true).await {
                Ok(cx) => Some(Ok(service_status(&cx).await?)),
                Err(super::error::FlowError::NotDeployed(why)) => Some(Err(why)),
                Err(e) => return Err(e.into()),
            }
        };
        Ok::<_, Error>((status, service))
    };
    let (status, service) = tokio::select! {
        s = work => s?,
        reason = interrupt.requested() => {
            return Err(Error::Interrupted { reason, state: "nothing was changed".into() })
        }
    };
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(&status).expect("serialize status");
            if let Some(map) = v.as_object_mut() {
                match &service {
                    Some(Ok(s)) => {
                        if let Some(extra) = serde_json::to_value(s).expect("serialize").as_object()
                        {
                            map.extend(extra.clone());
                        }
                    }
                    Some(Err(why)) => {
                        map.insert("note".into(), why.clone().into());
                    }
                    None => {}
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&v).expect("serialize status")
            );
        }
        Format::Text => {
            print_text(&status, service.is_none());
            match &service {
                Some(Ok(s)) => print_service_text(s),
                Some(Err(why)) => println!("Service:   {why}"),
                None => {}
            }
        }
    }
    Ok(())
}

async fn gather(endpoint: &context::Endpoint) -> Result<Status, Error> {
    let docker = engine::connect(endpoint).await?;
    let (version, info) = tokio::try_join!(docker.version(), docker.info())
        .map_err(|e| engine::EngineError::request(endpoint, "read engine version and info", e))?;
    let swarm = info.swarm.unwrap_or_default();
    Ok(Status {
        context: endpoint.context.clone(),
        origin: endpoint.origin.clone(),
        endpoint: endpoint.host.clone(),
        engine: EngineStatus {
            name: info.name.unwrap_or_default(),
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            os: version.os.unwrap_or_default(),
            arch: version.arch.unwrap_or_default(),
            root_dir: info.docker_root_dir.unwrap_or_default(),
            swarm: swarm
                .local_node_state
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "inactive".into()),
            swarm_manager: swarm.control_available.unwrap_or(false),
        },
    })
}

fn print_text(s: &Status, no_service: bool) {
    let e = &s.engine;
    let role = match (e.swarm.as_str(), e.swarm_manager) {
        ("active", true) => "active, this node is a manager".to_string(),
        ("active", false) => "active, this node is a worker (flows need a manager)".to_string(),
        (state, _) => state.to_string(),
    };
    let origin = if s.origin == "default" {
        "nothing chose another"
    } else {
        &s.origin
    };
    println!("Context:   {} (from {origin})", s.context);
    println!("Endpoint:  {}", s.endpoint);
    println!(
        "Engine:    Docker {} (API {}) {}/{} on {}",
        e.version, e.api_version, e.os, e.arch, e.name
    );
    println!("Root dir:  {}", e.root_dir);
    println!("Swarm:     {role}");
    if no_service {
        println!(
            "Service:   none chosen (give --target, FLOW_TARGET or a docker-flow.yml to see one)"
        );
    }
}

/// One service's release state, for `docker flow status` with a target and for `--flow=status`.
#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub live: Option<crate::release::Color>,
    pub candidate: Option<crate::release::Color>,
    pub scale: Option<u32>,
    pub routes: Option<crate::release::Routes>,
    /// On a Swarm manager: each colour's service (instances are then its tasks).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub swarm_services: Vec<SwarmServiceStatus>,
    pub instances: Vec<InstanceStatus>,
    /// The target's stand-in (docs/stand-in.md), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stand_in: Option<StandInStatus>,
    pub history: Vec<crate::release::Release>,
}

#[derive(Debug, Serialize)]
pub struct StandInStatus {
    pub name: String,
    pub running: bool,
    /// Engine network -> the names it answers to there.
    pub names: std::collections::BTreeMap<String, Vec<String>>,
    /// `host address:host port->container port`.
    pub published: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SwarmServiceStatus {
    pub name: String,
    pub color: crate::release::Color,
    pub replicas: u32,
    pub image: String,
}

#[derive(Debug, Serialize)]
pub struct InstanceStatus {
    pub name: String,
    pub color: crate::release::Color,
    pub running: bool,
    pub health: Option<String>,
    pub consul: &'static str,
    pub address: Option<String>,
    pub image: String,
    /// On Swarm: the node the task runs on, `<hostname> (<address>)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Consul holds an instance that does not run: `docker flow proxy reconcile` (or any flow on
/// Swarm) repairs it.
pub const STALE: &str = "stale";

pub async fn print_service(
    cx: &super::context::FlowContext,
) -> Result<(), super::error::FlowError> {
    let s = service_status(cx).await?;
    if cx.settings.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&s).expect("serialize service status")
        );
    } else {
        print_service_text(&s);
    }
    Ok(())
}

pub async fn service_status(
    cx: &super::context::FlowContext,
) -> Result<ServiceStatus, super::error::FlowError> {
    let (state, _) = cx.consul.read_state(&cx.service).await?;
    let observed = super::runtime::observe(cx).await?;
    let nodes = task_nodes(cx, &observed).await?;
    let mut instances = Vec::new();
    for color in crate::release::Color::ALL {
        let registered = cx
            .consul
            .instances(&format!("{}-{color}", cx.service), false)
            .await?;
        let port = state.routes.as_ref().map_or(0, |r| r.port);
        for c in observed.of(color) {
            let entry = registered.iter().find(|p| p.id == c.name);
            // Where the proxy reaches it: as registered, else as it would be.
            let address = match entry {
                Some(p) => Some(format!("{}:{}", p.address, p.port)),
                None => super::deploy::address_of(cx, c, port)
                    .ok()
                    .map(|(a, p)| format!("{a}:{p}")),
            };
            let consul = match entry {
                Some(p) if p.passing => "passing",
                Some(_) => "critical",
                None => "not registered",
            };
            instances.push(InstanceStatus {
                name: c.name.clone(),
                color,
                running: c.running,
                health: c.health.clone(),
                consul,
                address,
                image: c.image.clone(),
                node: nodes.get(&c.id).cloned(),
            });
        }
        // Registered but no longer running (removed by hand, or a task Swarm replaced on a
        // lost node): the proxy may still route there until a flow runs.
        for gone in registered
            .iter()
            .filter(|r| !observed.of(color).iter().any(|c| c.name == r.id))
        {
            instances.push(InstanceStatus {
                name: gone.id.clone(),
                color,
                running: false,
                health: None,
                consul: STALE,
                address: Some(format!("{}:{}", gone.address, gone.port)),
                image: String::new(),
                node: None,
            });
        }
    }
    Ok(ServiceStatus {
        service: cx.service.clone(),
        live: state.live,
        candidate: state.candidate,
        scale: state.scale,
        routes: state.routes,
        swarm_services: observed
            .services
            .iter()
            .map(|(color, s)| SwarmServiceStatus {
                name: s.name.clone(),
                color: *color,
                replicas: s.replicas,
                image: s.image.clone(),
            })
            .collect(),
        instances,
        stand_in: stand_in_status(cx).await,
        history: state.history,
    })
}

/// The stand-in as the engine has it: running, the names it answers to, its host ports.
async fn stand_in_status(cx: &super::context::FlowContext) -> Option<StandInStatus> {
    let name = super::stand_in::container_name(&cx.service);
    let info = cx.docker.inspect_container(&name, None).await.ok()?;
    let id = info.id.clone().unwrap_or_default();
    let names = info
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(net, e)| {
            // The engine adds the container's short ID to the aliases: not a name of ours.
            let aliases = e
                .aliases
                .unwrap_or_default()
                .into_iter()
                .filter(|a| !id.starts_with(a.as_str()))
                .collect();
            (net, aliases)
        })
        .collect();
    let mut published: Vec<String> = info
        .host_config
        .and_then(|h| h.port_bindings)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|(port, binds)| {
            binds.unwrap_or_default().into_iter().map(move |b| {
                format!(
                    "{}:{}->{}",
                    b.host_ip.unwrap_or_default(),
                    b.host_port.unwrap_or_default(),
                    port.trim_end_matches("/tcp")
                )
            })
        })
        .collect();
    published.sort();
    Some(StandInStatus {
        name,
        running: info.state.and_then(|s| s.running).unwrap_or(false),
        names,
        published,
    })
}

/// On Swarm, task ID → the node it runs on (empty on a plain engine).
async fn task_nodes(
    cx: &super::context::FlowContext,
    observed: &super::observe::Observed,
) -> Result<HashMap<String, String>, super::error::FlowError> {
    if cx.runtime != super::runtime::Runtime::Swarm {
        return Ok(HashMap::new());
    }
    let names = swarm::node_names(&cx.docker).await?;
    let mut out = HashMap::new();
    for service in observed.services.values() {
        for task in swarm::tasks(&cx.docker, &service.id).await? {
            if let Some(name) = names.get(&task.node) {
                out.insert(task.id, name.clone());
            }
        }
    }
    Ok(out)
}

fn print_service_text(s: &ServiceStatus) {
    let colour = |c: Option<crate::release::Color>| c.map_or("none".to_string(), |c| c.to_string());
    println!("Service:   {}", s.service);
    println!(
        "Live:      {} ({} instance(s))",
        colour(s.live),
        s.scale.unwrap_or(0)
    );
    println!("Candidate: {}", colour(s.candidate));
    if s.routes.as_ref().is_some_and(|r| r.port == 0) {
        println!("Routes:    none (no routed port: the proxy does not route it)");
    } else if let Some(r) = &s.routes {
        println!(
            "Routes:    paths [{}] domains [{}] -> port {} (proxy {})",
            r.paths.join(", "),
            r.domains.join(", "),
            r.port,
            r.proxy
                .as_deref()
                .unwrap_or(crate::config::DEFAULT_PROXY_NAME)
        );
    }
    if let Some(si) = &s.stand_in {
        let names: Vec<String> = si
            .names
            .iter()
            .map(|(net, n)| format!("{} on {net}", n.join(", ")))
            .collect();
        println!(
            "Stand-in:  {} ({}), answers as {}{}",
            si.name,
            if si.running { "running" } else { "stopped" },
            names.join("; "),
            if si.published.is_empty() {
                String::new()
            } else {
                format!("; publishes {}", si.published.join(", "))
            }
        );
    }
    for v in &s.swarm_services {
        println!(
            "Service {} ({}): {} replica(s) of {}",
            v.name, v.color, v.replicas, v.image
        );
    }
    for i in &s.instances {
        if i.consul == STALE {
            println!(
                "  {:<40} {:<6} registered in Consul at {} but not running: run `docker flow proxy reconcile`",
                i.name,
                i.color.to_string(),
                i.address.as_deref().unwrap_or("-"),
            );
            continue;
        }
        println!(
            "  {:<40} {:<6} {:<8} health {:<10} consul {:<15} {} {}{}",
            i.name,
            i.color.to_string(),
            if i.running { "running" } else { "stopped" },
            i.health.as_deref().unwrap_or("-"),
            i.consul,
            i.address.as_deref().unwrap_or("-"),
            i.image,
            i.node
                .as_ref()
                .map_or(String::new(), |n| format!(" on {n}")),
        );
    }
}
