//! `docker flow status`: which endpoint the context resolution chose, what engine answers there,
//! and whether it is a Swarm manager. (Per-service state joins when the flows land.)

use serde::Serialize;

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
    format: Format,
    mut interrupt: Interrupt,
) -> Result<(), Error> {
    let env = |k: &str| std::env::var(k).ok();
    let endpoint = context::resolve(globals, &env)?;
    // Status changes nothing, so a stop request may cut it anywhere.
    let status = tokio::select! {
        s = gather(&endpoint) => s?,
        reason = interrupt.requested() => {
            return Err(Error::Interrupted { reason, state: "nothing was changed".into() })
        }
    };
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&status).expect("serialize status")
        ),
        Format::Text => print_text(&status),
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

fn print_text(s: &Status) {
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
    println!("Services:  none deployed by docker flow yet");
}
