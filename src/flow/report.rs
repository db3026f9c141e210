//! Progress of a flow: one plain line per step on stderr (like `docker compose up` without a
//! terminal), or JSON events on stdout with `--format json`, so CI logs and scripts both read it.

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
}

/// Unix seconds, for events and release history.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
