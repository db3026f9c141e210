//! Progress of a flow: one line per step (and per container) on stderr, a spinner while waiting
//! when stderr is a terminal (like `docker compose up`), plain lines otherwise, or JSON events on
//! stdout with `--format json`, so people, CI logs and scripts all read it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::Format;

#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    format: Format,
}

impl Reporter {
    pub fn new(format: Format) -> Reporter {
        Reporter { format }
    }

    /// A step of `flow` on `service`.
    pub fn step(&self, flow: &str, service: &str, message: &str) {
        match self.format {
            Format::Text => eprintln!("[{flow}] {service}: {message}"),
            Format::Json => println!(
                "{}",
                json!({ "event": "step", "flow": flow, "service": service, "message": message, "time": now() })
            ),
        }
    }

    /// The end of a flow, with what it left.
    pub fn done(&self, flow: &str, service: &str, message: &str) {
        match self.format {
            Format::Text => eprintln!("[{flow}] {service}: {message}"),
            Format::Json => println!(
                "{}",
                json!({ "event": "done", "flow": flow, "service": service, "message": message, "time": now() })
            ),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// A wait in progress: a spinner with the elapsed time on a terminal, one line otherwise.
    pub fn wait(&self, flow: &str, service: &str, message: &str) -> Waiting {
        if self.format == Format::Text && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} [{prefix}] {msg} ({elapsed})")
            {
                bar.set_style(style);
            }
            bar.set_prefix(flow.to_string());
            bar.set_message(format!("{service}: {message}"));
            bar.enable_steady_tick(Duration::from_millis(120));
            Waiting {
                bar: Some(bar),
                service: service.to_string(),
            }
        } else {
            self.step(flow, service, message);
            Waiting {
                bar: None,
                service: service.to_string(),
            }
        }
    }
}

/// The spinner of a wait; it disappears when dropped, leaving the flow's next line.
pub struct Waiting {
    bar: Option<ProgressBar>,
    service: String,
}

impl Waiting {
    /// Updates the spinner's text (e.g. how many instances are healthy so far).
    pub fn update(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: {message}", self.service));
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Unix seconds, for events and release history.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
