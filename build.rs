//! Embeds the plugin metadata: `plugin-metadata` is the single source of its fields, and the
//! version comes from Cargo, so the handshake prints a constant with no work at run time.
//! Also records the git commit the binary is built from, for `docker flow version`.
use std::{env, fs, path::Path, process::Command};

/// What the binary is built from: a change to any of these makes the build `-dirty`.
const SOURCES: [&str; 5] = [
    "src",
    "build.rs",
    "Cargo.toml",
    "Cargo.lock",
    "plugin-metadata",
];

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

    println!("cargo:rustc-env=DOCKER_FLOW_COMMIT={}", commit());
}

/// `git rev-parse --short HEAD`, plus `-dirty` when the sources differ from it; `unknown`
/// outside a git checkout (a source archive) or without git. DOCKER_FLOW_COMMIT, when set,
/// names it instead (a build from an exported tree that knows its commit).
fn commit() -> String {
    println!("cargo:rerun-if-env-changed=DOCKER_FLOW_COMMIT");
    if let Some(c) = env::var("DOCKER_FLOW_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        return c;
    }
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    // Run again when HEAD moves (a commit, a checkout) or the sources change. The ref HEAD
    // names lives in the common git dir of a worktree: --git-path finds each file.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watch {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    for path in SOURCES {
        println!("cargo:rerun-if-changed={path}");
    }
    let mut args = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    args.extend(SOURCES);
    match git(&args) {
        Some(changes) if changes.is_empty() => head,
        _ => format!("{head}-dirty"),
    }
}

/// A git command's trimmed stdout, or None when git is missing or fails.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        // `git status` may rewrite the index to refresh it: that would make this script run
        // again on every build.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
