//! docs/reference.md and the generated part of docs/commands/<cmd>.md match the code. When they
//! do not, the test fails with the command that rewrites them:
//! `DOCKER_FLOW_BLESS=1 cargo test --test docs_reference` (hand-written text above a page's
//! marker line is kept).

use std::path::{Path, PathBuf};

use docker_flow::cli::reference::{command_names, command_page, reference, splice, REGENERATE};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

fn bless() -> bool {
    std::env::var_os("DOCKER_FLOW_BLESS").is_some_and(|v| v != "0")
}

/// Compares `path` with `want`, or writes `want` there when blessing; returns the stale path.
fn check(path: &Path, want: &str) -> Option<String> {
    let have = std::fs::read_to_string(path).ok();
    if have.as_deref() == Some(want) {
        return None;
    }
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, want).unwrap();
        eprintln!("wrote {}", path.display());
        return None;
    }
    Some(path.display().to_string())
}

#[test]
fn the_generated_docs_match_the_code() {
    let mut stale = Vec::new();
    stale.extend(check(&docs().join("reference.md"), &reference()));
    let names = command_names();
    assert!(names.len() >= 8, "commands: {names:?}");
    for name in &names {
        let path = docs().join("commands").join(format!("{name}.md"));
        let have = std::fs::read_to_string(&path).ok();
        let head = format!("# docker flow {name}");
        let want = splice(have.as_deref(), &head, &command_page(name).unwrap());
        stale.extend(check(&path, &want));
    }
    assert!(
        stale.is_empty(),
        "stale docs (the CLI or config/options.rs changed): {}\nregenerate them: {REGENERATE}",
        stale.join(", ")
    );
}

/// A page for a command that no longer exists is stale too.
#[test]
fn every_command_page_is_a_command() {
    let names = command_names();
    for entry in std::fs::read_dir(docs().join("commands")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let name = file.trim_end_matches(".md");
        assert!(
            names.iter().any(|n| n == name),
            "docs/commands/{file} documents no command of docker flow (commands: {names:?})"
        );
    }
}
