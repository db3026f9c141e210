//! `docker flow version`.

use crate::cli::Format;

pub fn print(format: Format) {
    let version = env!("CARGO_PKG_VERSION");
    match format {
        Format::Text => println!("docker flow version {version}"),
        Format::Json => println!("{}", serde_json::json!({ "version": version })),
    }
}
