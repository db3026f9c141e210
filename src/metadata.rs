//! The Docker CLI plugin handshake. The CLI runs `docker-flow docker-cli-plugin-metadata` before
//! every `docker flow …` and for `docker --help`/`docker info`, so it must stay a constant print.

/// The argument the Docker CLI probes plugins with.
pub const SUBCOMMAND: &str = "docker-cli-plugin-metadata";

/// Metadata JSON, made by build.rs from `plugin-metadata` plus the Cargo version.
pub const JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/plugin-metadata.json"));

#[cfg(test)]
mod tests {
    #[test]
    fn metadata_has_the_fields_the_cli_checks() {
        let v: serde_json::Value = serde_json::from_str(super::JSON).unwrap();
        assert_eq!(v["SchemaVersion"], "0.1.0");
        assert!(!v["Vendor"].as_str().unwrap().is_empty());
        assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    }
}
