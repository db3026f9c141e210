//! The proxy: one HAProxy container routing every service docker flow manages, reconfigured
//! without dropping requests.
//!
//! - [`render`] turns a [`ProxyModel`] into the config (pure).
//! - [`Proxy::ensure`] keeps the container running and ready (recreated with the full config).
//! - [`Proxy::apply`] routes as the model says: Runtime API commands when only slot contents or
//!   states changed (a colour switch, scaling within the slots), otherwise validate (`haproxy -c`),
//!   write and reload (master-worker keeps the listeners).
//! - [`Proxy::drain`] retires instances gracefully; [`Proxy::reconcile`] repairs drift.
//!
//! The file on disk always equals the runtime state, so a restart reproduces it.

mod error;
mod lifecycle;
mod model;
#[cfg(test)]
mod proptests;
mod render;
mod runtime;
mod session;
mod stand_in;
mod template;
pub mod validate;

use std::time::Duration;

use bollard::Docker;

pub use error::ProxyError;
pub use lifecycle::STAND_IN_LABEL;
pub use model::{
    ApplyReport, Mode, ProxyModel, ProxyOptions, Server, ServiceModel, StandIn, TemplateSpec,
};
pub use render::{backend_name, preview_backend_name, render, slot_count, PREVIEW_HEADER};

use crate::release::Color;
use render::{assignment_of, parse_slots, render_full, structure};
use runtime::{converge, Runtime};

/// Renders `spec` for `service` alone, with one placeholder instance per colour: a template that
/// does not parse, calls an unknown function or holds a section docker flow refuses fails here,
/// before a flow changes anything. (Only `haproxy -c` in the proxy judges the rest.)
pub fn check_template(
    service: &str,
    spec: &TemplateSpec,
    opts: &ProxyOptions,
) -> Result<(), ProxyError> {
    let server = |color: Color| Server {
        name: format!("{service}-{color}-1"),
        address: "192.0.2.1".into(),
        port: 80,
    };
    let model = ProxyModel {
        services: vec![ServiceModel {
            name: service.to_string(),
            live: Color::Blue,
            routes: crate::release::Routes {
                port: 80,
                ..Default::default()
            },
            servers: Color::ALL
                .into_iter()
                .map(|c| (c, vec![server(c)]))
                .collect(),
            template: Some(spec.clone()),
        }],
    };
    render(&model, opts).map(|_| ())
}

/// Label on the proxy container.
pub const LABEL: &str = "com.docker.flow.proxy";

/// A handle on the proxy container; cheap, holds no connection.
pub struct Proxy {
    docker: Docker,
    opts: ProxyOptions,
    /// The config file as this handle last wrote or read it: (generation, text).
    cache: std::sync::Mutex<Option<(u64, String)>>,
    /// A shell open in the container for this handle's Runtime API scripts.
    session: tokio::sync::Mutex<Option<session::Session>>,
}

impl Proxy {
    pub fn new(docker: Docker, opts: ProxyOptions) -> Proxy {
        Proxy {
            docker,
            opts,
            cache: std::sync::Mutex::new(None),
            session: tokio::sync::Mutex::new(None),
        }
    }

    pub fn options(&self) -> &ProxyOptions {
        &self.opts
    }

    fn runtime(&self) -> Runtime<'_> {
        Runtime {
            docker: &self.docker,
            container: &self.opts.container,
            opts: &self.opts,
            session: &self.session,
        }
    }

    /// Container running and ready: created if missing (with the full config from `model`),
    /// started if stopped, connected to the networks; ready = the Runtime API answers and the
    /// frontend accepts a TCP connection (polled with a deadline).
    pub async fn ensure(&self, model: &ProxyModel) -> Result<(), ProxyError> {
        self.ensure_inner(model).await.map(|_| ())
    }

    /// [`Proxy::ensure`], saying what it did (created, started, joined a network).
    pub async fn ensure_report(&self, model: &ProxyModel) -> Result<Vec<String>, ProxyError> {
        self.ensure_inner(model).await
    }

    /// Makes the running proxy route as `model` says, without dropping requests.
    /// Readies the Runtime API path (opens the shell in the container) ahead of a switch; a
    /// failure only means the switch opens it itself.
    pub async fn prepare(&self) {
        self.runtime().open_session().await;
    }

    pub async fn apply(&self, model: &ProxyModel) -> Result<ApplyReport, ProxyError> {
        validate::model(model)?;
        // Twice at most: a first try on the remembered file, a second on the file read back
        // when another handle changed it meanwhile.
        for _ in 0..2 {
            let (generation, current) = self.current_config().await?;
            let prev = parse_slots(&current);
            let next = render_full(model, &self.opts, &assignment_of(&prev))?;
            if next.text == current {
                return Ok(ApplyReport::default());
            }
            if structure(&next.text) != structure(&current) {
                self.reload_with(&next.text).await?;
                return Ok(ApplyReport {
                    reloaded: true,
                    runtime_commands: 0,
                });
            }
            let cmds = converge(
                |s| {
                    prev.iter()
                        .find(|p| p.backend == s.backend && p.name == s.name)
                        .map(|p| {
                            let (a, port) = p.addr();
                            (a.to_string(), port, p.enabled)
                        })
                },
                &next.slots,
            );
            // One exec: check the file is still `generation`, write the new file, send the
            // commands, put the file in place. A config too large for the exec's environment
            // is uploaded first, so a failed write changes nothing either way.
            let (new_generation, stamped) = lifecycle::stamp(&next.text);
            let inline = stamped.len() <= runtime::MAX_INLINE_CONFIG;
            self.forget();
            let write = if inline {
                runtime::Write::Inline(&stamped)
            } else {
                self.upload(lifecycle::NEXT_FILE, stamped.as_bytes(), 0o644)
                    .await?;
                runtime::Write::Prepared
            };
            let outcome = self.runtime().switch(&cmds, generation, write).await;
            match outcome {
                Ok(runtime::Switch::Stale) => continue,
                Ok(runtime::Switch::Done) => {}
                Err(e) => {
                    // Commands may have been partly applied: put the old file back, so that the
                    // next apply diffs from it and sends them again (they are idempotent).
                    let _ = self.write_config(&current).await;
                    return Err(e);
                }
            }
            *self.cache.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((new_generation, next.text.clone()));
            return Ok(ApplyReport {
                reloaded: false,
                runtime_commands: cmds.len(),
            });
        }
        Err(ProxyError::Container {
            container: self.opts.container.clone(),
            message: "its config keeps changing under this apply (another docker flow?)".into(),
        })
    }

    /// Stops sending new requests to `servers` (container names) of `service`'s `color`, lets
    /// in-flight ones finish (bounded by `timeout`), then puts them in maintenance.
    pub async fn drain(
        &self,
        service: &str,
        color: Color,
        servers: &[String],
        timeout: Duration,
    ) -> Result<(), ProxyError> {
        validate::name("service name", service)?;
        for s in servers {
            validate::name("server (container) name", s)?;
        }
        let current = self.read_config().await?;
        let slots = parse_slots(&current);
        let main = backend_name(service);
        let preview = preview_backend_name(service, color);
        let prefix = format!("{color}-");
        let mut targets = Vec::new();
        for name in servers {
            let found: Vec<&render::Slot> = slots
                .iter()
                .filter(|s| {
                    (s.backend == main || s.backend == preview)
                        && s.name.starts_with(&prefix)
                        && s.server.as_ref().is_some_and(|x| &x.name == name)
                })
                .collect();
            if !found.iter().any(|s| s.backend == main) {
                // Not routed (a template's own backend, or already removed): nothing to drain.
                continue;
            }
            targets.extend(
                found
                    .into_iter()
                    .map(|s| (s.backend.clone(), s.name.clone())),
            );
        }
        if targets.is_empty() {
            return Ok(());
        }
        let rt = self.runtime();
        let cmds: Vec<String> = targets
            .iter()
            .map(|(b, s)| format!("set server {b}/{s} state drain"))
            .collect();
        rt.commands(&cmds).await?;
        let start = std::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let busy: u64 = rt
                .sessions()
                .await?
                .into_iter()
                .filter(|(b, s, _)| targets.iter().any(|(tb, ts)| tb == b && ts == s))
                .map(|(_, _, n)| n)
                .sum();
            if busy == 0 || start.elapsed() >= timeout {
                break;
            }
            tokio::time::sleep(pause.min(timeout.saturating_sub(start.elapsed()))).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
        let cmds: Vec<String> = targets
            .iter()
            .map(|(b, s)| format!("set server {b}/{s} state maint"))
            .collect();
        rt.commands(&cmds).await?;
        let text = render::disable_in_text(&current, service, servers);
        self.write_config(&text).await
    }

    /// Lets the sessions still open on `color`'s servers of `services` end by themselves for up
    /// to `timeout`, then shuts the rest down: after a TCP switch new connections already reach
    /// the other colour, and open ones drain. Returns how many were shut down.
    pub async fn close_sessions(
        &self,
        services: &[String],
        color: Color,
        timeout: Duration,
    ) -> Result<u64, ProxyError> {
        let backends: Vec<String> = services.iter().map(|s| backend_name(s)).collect();
        let prefix = format!("{color}-");
        let rt = self.runtime();
        let start = std::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let open: Vec<(String, String, u64)> = rt
                .sessions()
                .await?
                .into_iter()
                .filter(|(b, s, n)| *n > 0 && backends.contains(b) && s.starts_with(&prefix))
                .collect();
            if open.is_empty() {
                return Ok(0);
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                let cmds: Vec<String> = open
                    .iter()
                    .map(|(b, s, _)| format!("shutdown sessions server {b}/{s}"))
                    .collect();
                rt.commands(&cmds).await?;
                return Ok(open.iter().map(|o| o.2).sum());
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// Compares the running proxy with `model` and repairs drift; returns what was fixed.
    pub async fn reconcile(&self, model: &ProxyModel) -> Result<Vec<String>, ProxyError> {
        self.forget();
        let mut fixed = self.ensure_inner(model).await?;
        let report = self.apply(model).await?;
        if report.reloaded {
            fixed.push(
                "the config differed from the model in structure: rewritten and reloaded".into(),
            );
        } else if report.runtime_commands > 0 {
            fixed.push(format!(
                "the config differed from the model in server slots: {} Runtime API commands",
                report.runtime_commands
            ));
        }
        // The file now equals the model; compare the running process with it.
        let text = self.read_config().await?;
        let want = parse_slots(&text);
        let live = self.runtime().servers().await?;
        let missing: Vec<String> = want
            .iter()
            .filter(|s| {
                !live
                    .iter()
                    .any(|l| l.backend == s.backend && l.name == s.name)
            })
            .map(|s| format!("{}/{}", s.backend, s.name))
            .collect();
        if !missing.is_empty() {
            self.reload_with(&text).await?;
            fixed.push(format!(
                "HAProxy ran another config (no {}): reloaded",
                missing.join(", ")
            ));
            return Ok(fixed);
        }
        let cmds = converge(
            |s| {
                live.iter()
                    .find(|l| l.backend == s.backend && l.name == s.name)
                    .map(|l| (l.address.clone(), l.port, l.enabled()))
            },
            &want,
        );
        if !cmds.is_empty() {
            self.runtime().commands(&cmds).await?;
            fixed.extend(cmds.into_iter().map(|c| format!("runtime drift: {c}")));
        }
        Ok(fixed)
    }
}
