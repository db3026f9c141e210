//! `docker flow version`: the version and the git commit the binary was built from (build.rs).

use crate::cli::Format;

/// `abc1234`, `abc1234-dirty` (built with uncommitted changes) or `unknown` (not from git).
pub const COMMIT: &str = env!("DOCKER_FLOW_COMMIT");

pub fn print(format: Format) {
    let version = env!("CARGO_PKG_VERSION");
    match format {
        // The form of `docker --version`: "Docker version 28.2.2, build e6534b4".
        Format::Text => println!("docker flow version {version}, build {COMMIT}"),
        Format::Json => println!(
            "{}",
            serde_json::json!({ "version": version, "commit": COMMIT })
        ),
    }
}
