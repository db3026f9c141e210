//! The image a service runs: `pull_policy` (`missing` by default, `always`, `never`, `build`)
//! and `build:` through the engine's classic builder, with the context sent as a tar (the `tar`
//! crate; `.dockerignore` applied with Docker's pattern rules for `*`, `?`, `**` and `!`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use bollard::Docker;
use docker_compose_types as dct;
use futures_util::StreamExt;

use super::{api_error, is_not_found, EngineError};
use crate::compose::{Project, Service};

/// Makes sure the service's image is on the engine, pulling or building it as its pull policy
/// says, and returns the image ID (`sha256:…`). Progress lines go to `on_event`.
pub async fn ensure_image(
    docker: &Docker,
    project: &Project,
    service: &Service,
    on_event: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, EngineError> {
    let _ = project;
    let image = service
        .spec
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| EngineError::InvalidValue {
            service: service.name.clone(),
            key: "image".into(),
            reason: "the service has neither image nor build".into(),
        })?;
    let build = service.spec.build_.as_ref();
    let policy = service.spec.pull_policy.clone();
    let local = local_image_id(docker, &image).await?;
    match (policy, local) {
        (Some(dct::PullPolicy::Build), _) => {
            build_image(docker, service, &image, build, on_event).await
        }
        (Some(dct::PullPolicy::Always), _) => {
            pull(docker, service, &image, on_event).await?;
            required_id(docker, &image).await
        }
        (_, Some(id)) => Ok(id),
        (Some(dct::PullPolicy::Never), None) if build.is_none() => {
            Err(EngineError::Resource(format!(
            "image \"{image}\" of service \"{}\" is not on the engine and its pull_policy is never",
            service.name
        )))
        }
        (_, None) if build.is_some() => build_image(docker, service, &image, build, on_event).await,
        (_, None) => {
            pull(docker, service, &image, on_event).await?;
            required_id(docker, &image).await
        }
    }
}

async fn local_image_id(docker: &Docker, image: &str) -> Result<Option<String>, EngineError> {
    match docker.inspect_image(image).await {
        Ok(i) => Ok(i.id),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(api_error(format!("inspect image {image}"), e)),
    }
}

async fn required_id(docker: &Docker, image: &str) -> Result<String, EngineError> {
    local_image_id(docker, image).await?.ok_or_else(|| {
        EngineError::Resource(format!(
            "image \"{image}\" is not on the engine after pulling or building it"
        ))
    })
}

/// Splits `repo[:tag][@digest]`; a reference with neither gets `latest` (an empty tag would pull
/// every tag).
fn pull_reference(image: &str) -> (String, Option<&'static str>) {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        (image.to_string(), None)
    } else {
        (image.to_string(), Some("latest"))
    }
}

async fn pull(
    docker: &Docker,
    service: &Service,
    image: &str,
    on_event: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), EngineError> {
    let (from, tag) = pull_reference(image);
    let mut options = CreateImageOptionsBuilder::default().from_image(&from);
    if let Some(t) = tag {
        options = options.tag(t);
    }
    if let Some(p) = &service.extras.platform {
        options = options.platform(p);
    }
    let mut stream = docker.create_image(Some(options.build()), None, None);
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(status) = info.status {
                    on_event(&format!("{image}: {status}"));
                }
            }
            Err(e) => {
                let cause = api_error("pull", e).to_string();
                return Err(EngineError::Resource(format!(
                    "could not pull image \"{image}\" for service \"{}\": {}",
                    service.name,
                    cause.trim_start_matches("could not pull: ")
                )));
            }
        }
    }
    Ok(())
}

async fn build_image(
    docker: &Docker,
    service: &Service,
    image: &str,
    build: Option<&dct::BuildStep>,
    on_event: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, EngineError> {
    let invalid = |key: &str, reason: String| EngineError::InvalidValue {
        service: service.name.clone(),
        key: key.into(),
        reason,
    };
    let build = build.ok_or_else(|| {
        invalid(
            "pull_policy",
            "is build but the service has no build section".into(),
        )
    })?;
    let adv = match build {
        dct::BuildStep::Simple(ctx) => dct::AdvancedBuildStep {
            context: ctx.clone(),
            ..Default::default()
        },
        dct::BuildStep::Advanced(a) => a.clone(),
    };
    let context = PathBuf::from(&adv.context);
    if !context.is_dir() {
        return Err(invalid(
            "build.context",
            format!(
                "{} is not a directory (remote contexts are not supported)",
                context.display()
            ),
        ));
    }
    const INLINE: &str = ".dockerflow.Dockerfile";
    let mut extra: Vec<(String, Vec<u8>)> = Vec::new();
    let dockerfile = if let Some(text) = &adv.dockerfile_inline {
        extra.push((INLINE.into(), text.clone().into_bytes()));
        INLINE.to_string()
    } else {
        let df = adv
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".into());
        let path = context.join(&df);
        match path.strip_prefix(&context) {
            Ok(rel) if !df.contains("..") => rel.to_string_lossy().into_owned(),
            _ => {
                let bytes = std::fs::read(&path)
                    .map_err(|e| invalid("build.dockerfile", format!("{}: {e}", path.display())))?;
                extra.push((INLINE.into(), bytes));
                INLINE.to_string()
            }
        }
    };
    let tar = context_tar(&context, &extra)
        .map_err(|e| invalid("build.context", format!("{}: {e}", context.display())))?;

    let args: HashMap<String, String> = match &adv.args {
        None => HashMap::new(),
        Some(dct::BuildArgs::KvPair(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(dct::BuildArgs::List(l)) => l
            .iter()
            .filter_map(|a| {
                a.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect(),
        Some(dct::BuildArgs::Simple(s)) => s
            .split_once('=')
            .map(|(k, v)| HashMap::from([(k.to_string(), v.to_string())]))
            .unwrap_or_default(),
    };
    let labels: HashMap<String, String> = match &adv.labels {
        dct::Labels::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        dct::Labels::List(l) => l
            .iter()
            .map(|s| {
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
    };
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&dockerfile)
        .t(image)
        .rm(true)
        .forcerm(true)
        .buildargs(&args)
        .labels(&labels);
    if let Some(t) = &adv.target {
        options = options.target(t);
    }
    if let Some(n) = &adv.network {
        options = options.networkmode(n);
    }
    if !adv.cache_from.is_empty() {
        options = options.cachefrom(&adv.cache_from);
    }
    if let Some(s) = adv.shm_size {
        let s = i32::try_from(s)
            .map_err(|_| invalid("build.shm_size", format!("{s} is too large for the engine")))?;
        options = options.shmsize(s);
    }
    if let Some(p) = &service.extras.platform {
        options = options.platform(p);
    }
    on_event(&format!(
        "building {image} for service \"{}\"",
        service.name
    ));
    let mut stream =
        docker.build_image(options.build(), None, Some(bollard::body_full(tar.into())));
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(EngineError::Resource(format!(
                        "building image \"{image}\" for service \"{}\" failed: {detail}",
                        service.name
                    )));
                }
                if let Some(line) = info
                    .stream
                    .as_deref()
                    .map(str::trim_end)
                    .filter(|l| !l.is_empty())
                {
                    on_event(line);
                }
            }
            Err(e) => {
                return Err(EngineError::Resource(format!(
                    "building image \"{image}\" for service \"{}\" failed: {}",
                    service.name,
                    api_error("build", e)
                        .to_string()
                        .trim_start_matches("could not build: ")
                )))
            }
        }
    }
    required_id(docker, image).await
}

// ---- build context: .dockerignore rules and the tar

/// One `.dockerignore` rule.
struct Rule {
    pattern: String,
    exclude: bool,
}

fn ignore_rules(context: &Path) -> Vec<Rule> {
    let Ok(text) = std::fs::read_to_string(context.join(".dockerignore")) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (exclude, p) = match l.strip_prefix('!') {
                Some(p) => (false, p.trim()),
                None => (true, l),
            };
            let p = super::create::clean_path(p.trim_start_matches('/'));
            Rule {
                pattern: p.trim_start_matches('/').to_string(),
                exclude,
            }
        })
        .collect()
}

/// Glob match where `*` and `?` stay within one path segment and `**` spans segments.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
            let rest = p[2..].strip_prefix(b"/").unwrap_or(&p[2..]);
            (0..=s.len())
                .any(|i| (i == 0 || s[i - 1] == b'/' || rest.is_empty()) && glob(rest, &s[i..]))
        }
        (Some(b'*'), _) => {
            glob(&p[1..], s) || (s.first().is_some_and(|c| *c != b'/') && glob(p, &s[1..]))
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Whether `rel` (or a directory above it) is excluded; the last matching rule wins.
fn ignored(rules: &[Rule], rel: &str) -> bool {
    let mut out = false;
    for r in rules {
        let mut prefix = String::new();
        let mut hit = false;
        for part in rel.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            hit |= glob(r.pattern.as_bytes(), prefix.as_bytes());
        }
        if hit {
            out = r.exclude;
        }
    }
    out
}

/// The build context as a tar: every file, directory and symlink not excluded by
/// `.dockerignore` (the Dockerfile and `.dockerignore` always go), plus `extra` files at the root.
fn context_tar(context: &Path, extra: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let rules = ignore_rules(context);
    let mut tar = tar::Builder::new(Vec::new());
    // Links go in as links, as docker build sends them.
    tar.follow_symlinks(false);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let mut entries: Vec<_> =
            std::fs::read_dir(context.join(&rel_dir))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel = rel_dir.join(entry.file_name());
            let rel_s = rel.to_string_lossy().into_owned();
            let keep = matches!(rel_s.as_str(), "Dockerfile" | ".dockerignore");
            if !keep && ignored(&rules, &rel_s) {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(rel.clone());
            }
            tar.append_path_with_name(entry.path(), &rel)?;
        }
    }
    for (name, data) in extra {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data.as_slice())?;
    }
    tar.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_reference_defaults_the_tag() {
        assert_eq!(pull_reference("nginx"), ("nginx".into(), Some("latest")));
        assert_eq!(pull_reference("nginx:1.27"), ("nginx:1.27".into(), None));
        assert_eq!(
            pull_reference("reg:5000/a/b"),
            ("reg:5000/a/b".into(), Some("latest"))
        );
        assert_eq!(
            pull_reference("a/b@sha256:00"),
            ("a/b@sha256:00".into(), None)
        );
    }

    #[test]
    fn dockerignore_patterns() {
        let rules = |s: &[&str]| {
            s.iter()
                .map(|p| match p.strip_prefix('!') {
                    Some(p) => Rule {
                        pattern: p.into(),
                        exclude: false,
                    },
                    None => Rule {
                        pattern: p.to_string(),
                        exclude: true,
                    },
                })
                .collect::<Vec<_>>()
        };
        let r = rules(&[
            "target",
            "*.log",
            "**/node_modules",
            "docs/*.md",
            "!docs/keep.md",
        ]);
        assert!(ignored(&r, "target"));
        assert!(ignored(&r, "target/debug/x"));
        assert!(ignored(&r, "a.log"));
        assert!(!ignored(&r, "sub/a.log"));
        assert!(ignored(&r, "web/node_modules/x.js"));
        assert!(ignored(&r, "node_modules"));
        assert!(ignored(&r, "docs/a.md"));
        assert!(!ignored(&r, "docs/keep.md"));
        assert!(!ignored(&r, "src/main.rs"));
    }

    #[test]
    fn tar_has_files_and_respects_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "secret\n").unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/main"), vec![7u8; 700]).unwrap();
        let tar = context_tar(dir.path(), &[("extra".into(), b"hi".to_vec())]).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"Dockerfile".to_string()));
        assert!(names.contains(&"app".to_string()) || names.contains(&"app/".to_string()));
        assert!(names.contains(&"app/main".to_string()));
        assert!(names.contains(&"extra".to_string()));
        assert!(!names.contains(&"secret".to_string()));
    }
}
