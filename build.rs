//! Embeds the plugin metadata: `plugin-metadata` is the single source of its fields, and the
//! version comes from Cargo, so the handshake prints a constant with no work at run time.
use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=plugin-metadata");
    let text = fs::read_to_string("plugin-metadata").expect("read plugin-metadata");
    let mut meta: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("plugin-metadata must be a JSON object");
    for key in ["SchemaVersion", "Vendor", "ShortDescription", "URL"] {
        let ok = meta
            .get(key)
            .and_then(|v| v.as_str())
            .is_some_and(|s| !s.is_empty());
        assert!(ok, "plugin-metadata: {key} must be a non-empty string");
    }
    meta.insert(
        "Version".into(),
        env::var("CARGO_PKG_VERSION").unwrap().into(),
    );
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("plugin-metadata.json");
    fs::write(out, serde_json::to_string(&meta).unwrap() + "\n").unwrap();
}
