//! Which Docker engine to talk to, decided exactly as the Docker CLI decides it: docker's global
//! flags (`--context`, `-H`, `--config`, TLS flags), then the environment (`DOCKER_HOST`,
//! `DOCKER_CONTEXT`, `DOCKER_CONFIG`, `DOCKER_TLS*`, `DOCKER_CERT_PATH`), then `currentContext`
//! in config.json, then the virtual `default` context.
//!
//! Sources of truth in docker/cli: `cli/command/cli.go` (resolveContextName,
//! resolveDefaultDockerEndpoint), `cli/flags/options.go` (TLS flag defaults), `opts/hosts.go`
//! (ParseHost), `cli/context/store` (on-disk layout) and `cli/context/docker/load.go` (when TLS
//! applies). Nothing here talks to an engine; `engine::connect` does that with the result.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::cli::GlobalOptions;

/// The name of the virtual context built from flags and environment (never stored on disk).
pub const DEFAULT_CONTEXT: &str = "default";
/// The engine's socket when nothing says otherwise.
pub const DEFAULT_UNIX_HOST: &str = "unix:///var/run/docker.sock";
/// The default-context host when TLS is on but no host was given (`opts/hosts.go`).
const DEFAULT_TLS_HOST: &str = "tcp://localhost:2376";
/// Port for `tcp://host` without one. Docker uses 2375 here even with TLS on: only the host used
/// when none is given at all defaults to 2376 (`ParseTCPAddr(.., defaultTCPHost)`).
const DEFAULT_TCP_PORT: u16 = 2375;

/// The engine endpoint that the Docker CLI would use for the same flags and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The context name; `default` for the virtual default context.
    pub context: String,
    /// Normalised host: `unix:///path`, `tcp://host:port[/path]` or `ssh://[user@]host[:port][/path]`.
    pub host: String,
    /// TLS settings when TLS is on; only `tcp://` hosts use them (docker ignores TLS on sockets
    /// and ssh).
    pub tls: Option<Tls>,
    /// Why this context was chosen: `--context flag`, `-H flag`, `DOCKER_HOST`, `DOCKER_CONTEXT`,
    /// `currentContext in <config.json>` or `default`.
    pub origin: String,
}

/// TLS material for a `tcp://` endpoint. Every path given here exists (checked at resolution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// CA bundle to trust; `None` means the system roots (only possible for a stored context).
    pub ca: Option<PathBuf>,
    /// Client certificate; presented only together with `key`.
    pub cert: Option<PathBuf>,
    /// Client private key; used only together with `cert`.
    pub key: Option<PathBuf>,
    /// Verify the engine's certificate (false: `SkipTLSVerify` / `--tls` without `--tlsverify`).
    pub verify: bool,
}

/// Why no endpoint could be resolved. Each message is one line that names the context, file or
/// host at fault and what to do about it. Mapped to exit code 2 (configuration error).
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("context \"{name}\" not found (looked in {}, chosen by {origin}): create it with `docker context create {name} --docker host=...` or list them with `docker context ls`", .meta.display())]
    NotFound {
        name: String,
        meta: PathBuf,
        origin: String,
    },
    #[error("cannot read {} for context \"{name}\": {source}; check the file's permissions, or recreate the context with `docker context rm {name}` and `docker context create {name} --docker host=...`", .path.display())]
    Unreadable {
        name: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("context \"{name}\" is damaged: {} is not valid context metadata ({reason}); fix the file or recreate the context with `docker context rm {name}` and `docker context create {name}`", .path.display())]
    Garbled {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("context \"{name}\" has no docker endpoint (in {}): update it with `docker context update {name} --docker host=...`", .path.display())]
    NoDockerEndpoint { name: String, path: PathBuf },
    #[error("cannot read docker config file {}: {reason}; fix it, or point --config or DOCKER_CONFIG at another directory", .path.display())]
    ConfigFile { path: PathBuf, reason: String },
    #[error("{what} {} (from {origin}) cannot be read: {reason}", .path.display())]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        origin: String,
        reason: String,
    },
    #[error("invalid Docker host {host:?} (from {origin}): {reason}; expected unix:///path/to/socket, tcp://host:port or ssh://[user@]host[:port]")]
    InvalidHost {
        host: String,
        origin: String,
        reason: String,
    },
    #[error("Docker host {host:?} (from {origin}) is not usable here: {reason}")]
    UnsupportedHost {
        host: String,
        origin: String,
        reason: String,
    },
}

/// The Docker CLI's config directory: `--config`, else `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub fn config_dir(globals: &GlobalOptions, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match &globals.config {
        Some(dir) => dir.clone(),
        None => env_config_dir(env),
    }
}

/// `config.Dir()` before `--config` is applied: `$DOCKER_CONFIG`, else `$HOME/.docker`.
fn env_config_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(dir) = non_empty(env, "DOCKER_CONFIG") {
        return PathBuf::from(dir);
    }
    // Like Go's os/user fallback when HOME is unset: the passwd entry.
    let home = non_empty(env, "HOME")
        .map(PathBuf::from)
        .or_else(passwd_home);
    home.unwrap_or_else(|| PathBuf::from("/")).join(".docker")
}

#[allow(deprecated)] // deprecated only for its Windows behaviour
fn passwd_home() -> Option<PathBuf> {
    std::env::home_dir()
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key).filter(|v| !v.is_empty())
}

/// Resolves the endpoint the Docker CLI would use. `env` reads an environment variable (the
/// process environment in production, a map in tests).
pub fn resolve(
    globals: &GlobalOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint, ContextError> {
    let dir = config_dir(globals, env);
    let (name, origin) = if let Some(name) = globals.context.as_ref().filter(|c| !c.is_empty()) {
        (name.clone(), "--context flag".to_string())
    } else if globals.host.is_some() {
        (DEFAULT_CONTEXT.to_string(), "-H flag".to_string())
    } else if non_empty(env, "DOCKER_HOST").is_some() {
        // DOCKER_HOST beats DOCKER_CONTEXT: it selects the default context.
        (DEFAULT_CONTEXT.to_string(), "DOCKER_HOST".to_string())
    } else if let Some(name) = non_empty(env, "DOCKER_CONTEXT") {
        (name, "DOCKER_CONTEXT".to_string())
    } else {
        let file = dir.join("config.json");
        match current_context(&file)? {
            Some(name) => (name, format!("currentContext in {}", file.display())),
            None => (DEFAULT_CONTEXT.to_string(), "default".to_string()),
        }
    };
    if name == DEFAULT_CONTEXT {
        default_endpoint(globals, env, origin)
    } else {
        stored_endpoint(&dir, &name, origin)
    }
}

/// `currentContext` from config.json; a missing or empty file means none (as in docker). Docker
/// only warns about a garbled config.json; we refuse it, since it may hide the context meant.
fn current_context(file: &Path) -> Result<Option<String>, ContextError> {
    let bad = |reason: String| ContextError::ConfigFile {
        path: file.to_path_buf(),
        reason,
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let obj = match &value {
        Value::Object(obj) => obj,
        Value::Null => return Ok(None),
        _ => return Err(bad("not a JSON object".into())),
    };
    match get_ci(obj, "currentContext") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(bad(format!(
            "\"currentContext\" must be a string, found {other}"
        ))),
    }
}

/// The virtual `default` context: host from `-H` or `DOCKER_HOST`, TLS from flags and env.
fn default_endpoint(
    globals: &GlobalOptions,
    env: &dyn Fn(&str) -> Option<String>,
    origin: String,
) -> Result<Endpoint, ContextError> {
    // TLS flags default to the env (`cli/flags/options.go`); --tlsverify implies --tls. An
    // explicit `--tlsverify=false` / `--tls=false` cannot override the env here, because
    // GlobalOptions does not record whether a flag was given.
    let verify = globals.tlsverify || non_empty(env, "DOCKER_TLS_VERIFY").is_some();
    let tls_on = verify || globals.tls || non_empty(env, "DOCKER_TLS").is_some();

    let (raw, host_origin) = match &globals.host {
        Some(h) => (h.clone(), "-H flag"),
        None => (env("DOCKER_HOST").unwrap_or_default(), "DOCKER_HOST"),
    };
    let host = parse_host(&raw, tls_on, host_origin, true)?;

    let tls = if tls_on {
        // Default file locations come from DOCKER_CERT_PATH, else the config dir as docker
        // computes it when installing its flags, which is before `--config` is applied.
        let cert_dir = non_empty(env, "DOCKER_CERT_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| env_config_dir(env));
        let pick = |flag: &Option<PathBuf>, flag_name: &str, file: &str| match flag {
            Some(p) => (p.clone(), true, format!("{flag_name} flag")),
            None => (
                cert_dir.join(file),
                false,
                format!("default location {}", cert_dir.display()),
            ),
        };
        let (ca, _, ca_origin) = pick(&globals.tlscacert, "--tlscacert", "ca.pem");
        // Docker always reads the CA file, given or default: a missing one is an error.
        check_tls_file("TLS CA certificate", &ca, &ca_origin)?;
        let client_file = |flag: &Option<PathBuf>, flag_name: &str, file: &str, what| {
            let (path, given, from) = pick(flag, flag_name, file);
            if !given && !path.exists() {
                // Default cert/key files that do not exist are dropped.
                return Ok(None);
            }
            check_tls_file(what, &path, &from).map(|()| Some(path))
        };
        let cert = client_file(
            &globals.tlscert,
            "--tlscert",
            "cert.pem",
            "TLS client certificate",
        )?;
        let key = client_file(&globals.tlskey, "--tlskey", "key.pem", "TLS client key")?;
        Some(Tls {
            ca: Some(ca),
            cert,
            key,
            verify,
        })
    } else {
        None
    };
    Ok(Endpoint {
        context: DEFAULT_CONTEXT.to_string(),
        host,
        tls,
        origin,
    })
}

fn check_tls_file(what: &'static str, path: &Path, origin: &str) -> Result<(), ContextError> {
    let err = |reason: String| ContextError::TlsFile {
        what,
        path: path.to_path_buf(),
        origin: origin.to_string(),
        reason,
    };
    let os = |e: io::Error| err(format!("{e}; check the file and its permissions"));
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => std::fs::File::open(path).map(drop).map_err(os),
        Ok(_) => Err(err("not a file".into())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(err("no such file; pass the right path with --tlscacert/--tlscert/--tlskey or set DOCKER_CERT_PATH".into()))
        }
        Err(e) => Err(os(e)),
    }
}

/// The store's directory name for a context: the hex SHA-256 of its name.
fn context_id(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A context from `<config>/contexts/meta/<id>/meta.json` and `<config>/contexts/tls/<id>/docker/`.
fn stored_endpoint(dir: &Path, name: &str, origin: String) -> Result<Endpoint, ContextError> {
    let id = context_id(name);
    let meta = dir
        .join("contexts")
        .join("meta")
        .join(&id)
        .join("meta.json");
    let text = match std::fs::read_to_string(&meta) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ContextError::NotFound {
                name: name.to_string(),
                meta,
                origin,
            });
        }
        Err(source) => {
            return Err(ContextError::Unreadable {
                name: name.to_string(),
                path: meta,
                source,
            })
        }
    };
    let garbled = |reason: String| ContextError::Garbled {
        name: name.to_string(),
        path: meta.clone(),
        reason,
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| garbled(format!("not valid JSON: {e}")))?;
    let Value::Object(root) = value else {
        return Err(garbled("not a JSON object".into()));
    };
    // Go decodes struct fields case-insensitively ("Endpoints", "endpoints"); map keys such as
    // the endpoint name "docker" are exact.
    let docker = match get_ci(&root, "Endpoints") {
        None | Some(Value::Null) => None,
        Some(Value::Object(eps)) => eps.get("docker").filter(|v| !v.is_null()),
        Some(_) => return Err(garbled("\"Endpoints\" is not an object".into())),
    };
    let Some(docker) = docker else {
        return Err(ContextError::NoDockerEndpoint {
            name: name.to_string(),
            path: meta,
        });
    };
    let Value::Object(docker) = docker else {
        return Err(garbled("\"Endpoints.docker\" is not an object".into()));
    };
    let raw_host = match get_ci(docker, "Host") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(garbled("\"Endpoints.docker.Host\" is not a string".into())),
    };
    let skip_verify = match get_ci(docker, "SkipTLSVerify") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(garbled(
                "\"Endpoints.docker.SkipTLSVerify\" is not true or false".into(),
            ))
        }
    };

    // TLS files exist only when they were given at `docker context create`.
    let tls_dir = dir.join("contexts").join("tls").join(&id).join("docker");
    let file_origin = format!("context \"{name}\"");
    let found = |file: &str, what: &'static str| -> Result<Option<PathBuf>, ContextError> {
        let path = tls_dir.join(file);
        if !path.exists() {
            return Ok(None);
        }
        check_tls_file(what, &path, &file_origin).map(|()| Some(path))
    };
    let ca = found("ca.pem", "TLS CA certificate")?;
    let cert = found("cert.pem", "TLS client certificate")?;
    let key = found("key.pem", "TLS client key")?;
    let tls_on = skip_verify || ca.is_some() || cert.is_some() || key.is_some();
    let tls = tls_on.then_some(Tls {
        ca,
        cert,
        key,
        verify: !skip_verify,
    });

    // An empty Host means the client default, the local socket.
    let host_origin = format!("context \"{name}\" in {}", meta.display());
    let host = if raw_host.is_empty() {
        DEFAULT_UNIX_HOST.to_string()
    } else {
        parse_host(&raw_host, false, &host_origin, false)?
    };
    Ok(Endpoint {
        context: name.to_string(),
        host,
        tls,
        origin,
    })
}

/// Looks a key up the way Go's encoding/json matches struct fields: exact name first, then
/// case-insensitively.
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// docker's `opts.ParseHost`: trims, fills in defaults and normalises. `bare_is_tcp` allows
/// `host:port` without a scheme (as `-H` and `DOCKER_HOST` do); stored contexts need a scheme.
fn parse_host(
    raw: &str,
    tls_on: bool,
    origin: &str,
    bare_is_tcp: bool,
) -> Result<String, ContextError> {
    let invalid = |reason: &str| ContextError::InvalidHost {
        host: raw.to_string(),
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let unsupported = |reason: &str| ContextError::UnsupportedHost {
        host: raw.to_string(),
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let host = raw.trim();
    if host.is_empty() {
        return Ok(if tls_on {
            DEFAULT_TLS_HOST
        } else {
            DEFAULT_UNIX_HOST
        }
        .to_string());
    }
    let (scheme, rest) = match host.split_once("://") {
        Some((s, r)) => (s, r),
        None if bare_is_tcp => ("tcp", host),
        None => return Err(invalid("no scheme")),
    };
    match scheme {
        "tcp" => parse_tcp(rest).map_err(|r| invalid(&r)),
        "unix" => {
            let path = rest.strip_prefix("unix://").unwrap_or(rest);
            if path.contains("://") {
                return Err(invalid("a unix:// host takes a socket path"));
            }
            Ok(format!("unix://{}", if path.is_empty() { "/var/run/docker.sock" } else { path }))
        }
        "ssh" => {
            check_ssh(rest).map_err(|r| invalid(&r))?;
            Ok(host.to_string())
        }
        "npipe" => Err(unsupported("npipe:// is a Windows named pipe; on Linux use unix:///var/run/docker.sock or tcp://host:port")),
        "fd" => Err(unsupported("fd:// is for dockerd's socket activation, not for clients; use unix:///var/run/docker.sock or tcp://host:port")),
        "http" | "https" => Err(invalid("docker does not take http:// or https:// here; use tcp://host:port (with --tls/--tlsverify for TLS)")),
        "" => Err(invalid("empty scheme")),
        other => Err(invalid(&format!("unknown scheme {other}://"))),
    }
}

/// `opts.ParseTCPAddr` with docker's defaults: `tcp://` alone is localhost:2375, a missing host
/// is localhost, a missing port is 2375; a path after the address is kept.
fn parse_tcp(addr: &str) -> Result<String, String> {
    let addr = addr.strip_prefix("tcp://").unwrap_or(addr);
    if addr.is_empty() {
        return Ok(format!("tcp://localhost:{DEFAULT_TCP_PORT}"));
    }
    if addr.contains("://") {
        return Err("a tcp:// host takes host:port".into());
    }
    if addr.contains(['?', '#', '@']) {
        return Err("a tcp:// host takes only host:port and an optional path".into());
    }
    let (authority, path) = match addr.find('/') {
        Some(i) => addr.split_at(i),
        None => (addr, ""),
    };
    let (host, port) = split_host_port(authority)?;
    let host = if host.is_empty() { "localhost" } else { host };
    let port: u16 = if port.is_empty() {
        DEFAULT_TCP_PORT
    } else {
        port.parse()
            .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok(format!("tcp://{host}:{port}{path}"))
}

/// Go's net.SplitHostPort, with a missing port allowed (returned empty).
fn split_host_port(authority: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [ in IPv6 address")?;
        return match after {
            "" => Ok((host, "")),
            _ => after
                .strip_prefix(':')
                .map(|p| (host, p))
                .ok_or_else(|| "junk after ]".into()),
        };
    }
    match authority.matches(':').count() {
        0 => Ok((authority, "")),
        1 => Ok(authority.split_once(':').expect("one colon")),
        _ => Err("an IPv6 address must be in brackets, e.g. tcp://[::1]:2375".into()),
    }
}

/// What docker's ssh connection helper accepts: `[user@]host[:port][/socket-path]`, no password.
fn check_ssh(rest: &str) -> Result<(), String> {
    let authority = rest.split('/').next().unwrap_or_default();
    let hostport = match authority.rsplit_once('@') {
        Some((user, _)) if user.contains(':') => {
            return Err("ssh:// hosts cannot carry a password; use keys or ssh-agent".into())
        }
        Some(("", _)) => return Err("empty user name before @".into()),
        Some((_, h)) => h,
        None => authority,
    };
    if rest.contains(['?', '#']) {
        return Err("ssh:// hosts take no query or fragment".into());
    }
    let (host, port) = split_host_port(hostport)?;
    if host.is_empty() {
        return Err("no host name".into());
    }
    if !port.is_empty() && port.parse::<u16>().is_err() {
        return Err(format!("port {port:?} is not a number from 0 to 65535"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fs;

    use super::*;

    /// A fake `~/.docker` in a temp dir, and the env to find it.
    struct Fake {
        dir: tempfile::TempDir,
        env: HashMap<String, String>,
    }

    impl Fake {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut env = HashMap::new();
            env.insert(
                "DOCKER_CONFIG".to_string(),
                dir.path().display().to_string(),
            );
            env.insert("HOME".to_string(), "/nonexistent-home".to_string());
            Fake { dir, env }
        }
        fn path(&self) -> &Path {
            self.dir.path()
        }
        fn set(mut self, k: &str, v: &str) -> Self {
            self.env.insert(k.to_string(), v.to_string());
            self
        }
        fn meta_dir(&self, name: &str) -> PathBuf {
            self.path().join("contexts/meta").join(context_id(name))
        }
        fn write_meta(&self, name: &str, json: &str) {
            let d = self.meta_dir(name);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("meta.json"), json).unwrap();
        }
        fn context(self, name: &str, host: &str) -> Self {
            self.context_full(name, host, false, &[])
        }
        fn context_full(self, name: &str, host: &str, skip: bool, tls_files: &[&str]) -> Self {
            self.write_meta(
                name,
                &format!(
                    r#"{{"Name":"{name}","Metadata":{{"Description":"test"}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":{skip}}}}}}}"#
                ),
            );
            let tls = self
                .path()
                .join("contexts/tls")
                .join(context_id(name))
                .join("docker");
            for f in tls_files {
                fs::create_dir_all(&tls).unwrap();
                fs::write(tls.join(f), "pem").unwrap();
            }
            self
        }
        fn current(self, name: &str) -> Self {
            fs::write(
                self.path().join("config.json"),
                format!(r#"{{"auths":{{}},"currentContext":"{name}"}}"#),
            )
            .unwrap();
            self
        }
        fn resolve(&self, g: &GlobalOptions) -> Result<Endpoint, ContextError> {
            let env = self.env.clone();
            resolve(g, &move |k: &str| env.get(k).cloned())
        }
        fn ok(&self, g: &GlobalOptions) -> Endpoint {
            self.resolve(g)
                .unwrap_or_else(|e| panic!("resolve failed: {e}"))
        }
    }

    fn ctx_flag(name: &str) -> GlobalOptions {
        GlobalOptions {
            context: Some(name.into()),
            ..Default::default()
        }
    }
    fn host_flag(host: &str) -> GlobalOptions {
        GlobalOptions {
            host: Some(host.into()),
            ..Default::default()
        }
    }
    fn none() -> GlobalOptions {
        GlobalOptions::default()
    }

    #[test]
    fn context_id_is_sha256_hex_of_the_name() {
        assert_eq!(
            context_id("foo"),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
    }

    #[test]
    fn nothing_set_gives_the_default_socket() {
        let ep = Fake::new().ok(&none());
        assert_eq!(
            ep,
            Endpoint {
                context: "default".into(),
                host: DEFAULT_UNIX_HOST.into(),
                tls: None,
                origin: "default".into()
            }
        );
    }

    #[test]
    fn context_flag_beats_docker_host_and_everything_else() {
        let f = Fake::new()
            .context("a", "tcp://a:1")
            .context("b", "tcp://b:2")
            .current("b")
            .set("DOCKER_HOST", "tcp://env:3")
            .set("DOCKER_CONTEXT", "b");
        let ep = f.ok(&ctx_flag("a"));
        assert_eq!(
            (ep.context.as_str(), ep.host.as_str(), ep.origin.as_str()),
            ("a", "tcp://a:1", "--context flag")
        );
    }

    #[test]
    fn host_flag_beats_docker_host_docker_context_and_config() {
        let f = Fake::new()
            .context("b", "tcp://b:2")
            .current("b")
            .set("DOCKER_HOST", "tcp://env:3")
            .set("DOCKER_CONTEXT", "b");
        let ep = f.ok(&host_flag("tcp://flag:4"));
        assert_eq!(
            (ep.context.as_str(), ep.host.as_str(), ep.origin.as_str()),
            ("default", "tcp://flag:4", "-H flag")
        );
    }

    #[test]
    fn docker_host_beats_docker_context() {
        let f = Fake::new()
            .context("b", "tcp://b:2")
            .set("DOCKER_HOST", "tcp://env:3")
            .set("DOCKER_CONTEXT", "b");
        let ep = f.ok(&none());
        assert_eq!(
            (ep.context.as_str(), ep.host.as_str(), ep.origin.as_str()),
            ("default", "tcp://env:3", "DOCKER_HOST")
        );
    }

    #[test]
    fn empty_docker_host_is_ignored() {
        let f = Fake::new()
            .context("b", "tcp://b:2")
            .set("DOCKER_HOST", "")
            .set("DOCKER_CONTEXT", "b");
        let ep = f.ok(&none());
        assert_eq!(
            (ep.context.as_str(), ep.host.as_str(), ep.origin.as_str()),
            ("b", "tcp://b:2", "DOCKER_CONTEXT")
        );
    }

    #[test]
    fn docker_context_beats_config_current_context() {
        let f = Fake::new()
            .context("b", "tcp://b:2")
            .context("c", "tcp://c:3")
            .current("c")
            .set("DOCKER_CONTEXT", "b");
        let ep = f.ok(&none());
        assert_eq!(
            (ep.context.as_str(), ep.origin.as_str()),
            ("b", "DOCKER_CONTEXT")
        );
    }

    #[test]
    fn config_current_context_beats_default() {
        let f = Fake::new().context("c", "unix:///run/c.sock").current("c");
        let ep = f.ok(&none());
        assert_eq!(ep.context, "c");
        assert_eq!(ep.host, "unix:///run/c.sock");
        assert_eq!(
            ep.origin,
            format!(
                "currentContext in {}",
                f.path().join("config.json").display()
            )
        );
        assert_eq!(ep.tls, None);
    }

    #[test]
    fn context_named_default_is_the_virtual_one_with_docker_host() {
        // Even chosen by name, "default" takes its host from DOCKER_HOST.
        let f = Fake::new().set("DOCKER_CONTEXT", "default");
        assert_eq!(f.ok(&none()).host, DEFAULT_UNIX_HOST);
        let f = Fake::new().set("DOCKER_HOST", "tcp://h:1");
        let ep = f.ok(&ctx_flag("default"));
        assert_eq!(
            (ep.context.as_str(), ep.host.as_str(), ep.origin.as_str()),
            ("default", "tcp://h:1", "--context flag")
        );
        let f = Fake::new().current("default");
        assert_eq!(f.ok(&none()).context, "default");
    }

    #[test]
    fn config_flag_beats_docker_config() {
        let other = Fake::new().context("x", "tcp://other:1").current("x");
        let f = Fake::new();
        let g = GlobalOptions {
            config: Some(other.path().to_path_buf()),
            ..Default::default()
        };
        assert_eq!(
            config_dir(&g, &|k: &str| f.env.get(k).cloned()),
            other.path()
        );
        assert_eq!(f.ok(&g).host, "tcp://other:1");
        assert_eq!(
            config_dir(&none(), &|k: &str| f.env.get(k).cloned()),
            f.path()
        );
        let home = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        assert_eq!(config_dir(&none(), &home), Path::new("/home/u/.docker"));
    }

    #[test]
    fn unknown_context_names_where_it_looked_and_what_to_do() {
        let f = Fake::new().set("DOCKER_CONTEXT", "prod");
        let e = f.resolve(&none()).unwrap_err().to_string();
        let meta = f
            .path()
            .join("contexts/meta")
            .join(context_id("prod"))
            .join("meta.json");
        assert_eq!(
            e,
            format!(
                "context \"prod\" not found (looked in {}, chosen by DOCKER_CONTEXT): create it with `docker context create prod --docker host=...` or list them with `docker context ls`",
                meta.display()
            )
        );
        let f = Fake::new().current("gone");
        let e = f.resolve(&none()).unwrap_err().to_string();
        assert!(
            e.contains("chosen by currentContext in ") && e.contains("config.json"),
            "{e}"
        );
    }

    #[test]
    fn corrupt_meta_json_names_the_file() {
        let f = Fake::new();
        f.write_meta("bad", "{\"Name\":\"bad\",");
        let e = f.resolve(&ctx_flag("bad")).unwrap_err();
        assert!(matches!(e, ContextError::Garbled { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("context \"bad\" is damaged"), "{msg}");
        assert!(
            msg.contains(&f.meta_dir("bad").join("meta.json").display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("EOF"), "serde's reason: {msg}");

        f.write_meta(
            "bad2",
            r#"{"Name":"bad2","Endpoints":{"docker":{"Host":42}}}"#,
        );
        let msg = f.resolve(&ctx_flag("bad2")).unwrap_err().to_string();
        assert!(msg.contains("Host\" is not a string"), "{msg}");
    }

    #[test]
    fn context_without_docker_endpoint() {
        let f = Fake::new();
        f.write_meta(
            "k8s",
            r#"{"Name":"k8s","Metadata":{},"Endpoints":{"kubernetes":{"Host":"x"}}}"#,
        );
        let e = f.resolve(&ctx_flag("k8s")).unwrap_err();
        assert!(matches!(e, ContextError::NoDockerEndpoint { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("context \"k8s\" has no docker endpoint"),
            "{e}"
        );
    }

    #[test]
    fn meta_json_keys_match_case_insensitively_like_go() {
        let f = Fake::new();
        f.write_meta(
            "lc",
            r#"{"name":"lc","endpoints":{"docker":{"host":"tcp://lc:1","skipTLSVerify":true}}}"#,
        );
        let ep = f.ok(&ctx_flag("lc"));
        assert_eq!(ep.host, "tcp://lc:1");
        assert_eq!(
            ep.tls,
            Some(Tls {
                ca: None,
                cert: None,
                key: None,
                verify: false
            })
        );
    }

    #[test]
    fn empty_context_host_is_the_local_socket() {
        let f = Fake::new();
        f.write_meta(
            "e",
            r#"{"Name":"e","Endpoints":{"docker":{"SkipTLSVerify":false}}}"#,
        );
        assert_eq!(f.ok(&ctx_flag("e")).host, DEFAULT_UNIX_HOST);
    }

    #[test]
    fn garbled_config_json_is_named() {
        let f = Fake::new();
        fs::write(f.path().join("config.json"), "{not json").unwrap();
        let e = f.resolve(&none()).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "cannot read docker config file {}",
                f.path().join("config.json").display()
            )),
            "{e}"
        );
        // Not consulted when a higher-priority source decides.
        assert_eq!(f.ok(&host_flag("tcp://h:1")).host, "tcp://h:1");
        // Empty file: fine, like docker.
        fs::write(f.path().join("config.json"), "").unwrap();
        assert_eq!(f.ok(&none()).context, "default");
    }

    #[test]
    fn context_tls_dir_discovery() {
        let f = Fake::new().context_full(
            "secure",
            "tcp://s:2376",
            false,
            &["ca.pem", "cert.pem", "key.pem"],
        );
        let ep = f.ok(&ctx_flag("secure"));
        let d = f
            .path()
            .join("contexts/tls")
            .join(context_id("secure"))
            .join("docker");
        assert_eq!(
            ep.tls,
            Some(Tls {
                ca: Some(d.join("ca.pem")),
                cert: Some(d.join("cert.pem")),
                key: Some(d.join("key.pem")),
                verify: true
            })
        );
        // Only a CA: TLS on, no client cert.
        let f = Fake::new().context_full("ca", "tcp://s:2376", false, &["ca.pem"]);
        let tls = f.ok(&ctx_flag("ca")).tls.unwrap();
        assert!(tls.ca.is_some() && tls.cert.is_none() && tls.key.is_none() && tls.verify);
        // No files, no skip: plain tcp.
        let f = Fake::new().context("plain", "tcp://p:2375");
        assert_eq!(f.ok(&ctx_flag("plain")).tls, None);
    }

    #[test]
    fn skip_tls_verify_turns_tls_on_without_verification() {
        let f = Fake::new().context_full("insecure", "tcp://i:2376", true, &[]);
        assert_eq!(
            f.ok(&ctx_flag("insecure")).tls,
            Some(Tls {
                ca: None,
                cert: None,
                key: None,
                verify: false
            })
        );
        let f =
            Fake::new().context_full("insecure", "tcp://i:2376", true, &["cert.pem", "key.pem"]);
        let tls = f.ok(&ctx_flag("insecure")).tls.unwrap();
        assert!(!tls.verify && tls.cert.is_some() && tls.key.is_some() && tls.ca.is_none());
    }

    /// A cert dir with the given files, for the default context.
    fn cert_dir(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in files {
            fs::write(d.path().join(f), "pem").unwrap();
        }
        d
    }

    #[test]
    fn default_context_tls_from_env() {
        let certs = cert_dir(&["ca.pem", "cert.pem", "key.pem"]);
        let cp = certs.path().display().to_string();
        // DOCKER_TLS_VERIFY: TLS on, verify, default TLS host when none given.
        let ep = Fake::new()
            .set("DOCKER_TLS_VERIFY", "1")
            .set("DOCKER_CERT_PATH", &cp)
            .ok(&none());
        assert_eq!(ep.host, "tcp://localhost:2376");
        let tls = ep.tls.unwrap();
        assert!(tls.verify);
        assert_eq!(tls.ca, Some(certs.path().join("ca.pem")));
        assert_eq!(tls.cert, Some(certs.path().join("cert.pem")));
        assert_eq!(tls.key, Some(certs.path().join("key.pem")));
        // DOCKER_TLS alone: TLS without verification.
        let ep = Fake::new()
            .set("DOCKER_TLS", "1")
            .set("DOCKER_CERT_PATH", &cp)
            .ok(&none());
        assert!(!ep.tls.unwrap().verify);
        // Empty values do not count.
        let ep = Fake::new()
            .set("DOCKER_TLS", "")
            .set("DOCKER_TLS_VERIFY", "")
            .ok(&none());
        assert_eq!((ep.host.as_str(), ep.tls), (DEFAULT_UNIX_HOST, None));
    }

    #[test]
    fn default_context_tls_from_flags_and_config_dir() {
        // Without DOCKER_CERT_PATH the files come from DOCKER_CONFIG's dir; missing cert/key dropped.
        let f = Fake::new();
        fs::write(f.path().join("ca.pem"), "pem").unwrap();
        let g = GlobalOptions {
            tls: true,
            host: Some("tcp://h".into()),
            ..Default::default()
        };
        let ep = f.ok(&g);
        assert_eq!(
            ep.host, "tcp://h:2375",
            "docker's ParseHost uses 2375 even with TLS"
        );
        assert_eq!(
            ep.tls,
            Some(Tls {
                ca: Some(f.path().join("ca.pem")),
                cert: None,
                key: None,
                verify: false
            })
        );
        // --tlsverify implies TLS and verification; explicit files win.
        let certs = cert_dir(&["myca.pem", "c.pem", "k.pem"]);
        let g = GlobalOptions {
            tlsverify: true,
            tlscacert: Some(certs.path().join("myca.pem")),
            tlscert: Some(certs.path().join("c.pem")),
            tlskey: Some(certs.path().join("k.pem")),
            ..Default::default()
        };
        let ep = f.ok(&g);
        assert_eq!(ep.host, "tcp://localhost:2376");
        assert_eq!(
            ep.tls,
            Some(Tls {
                ca: Some(certs.path().join("myca.pem")),
                cert: Some(certs.path().join("c.pem")),
                key: Some(certs.path().join("k.pem")),
                verify: true
            })
        );
    }

    #[test]
    fn missing_tls_files_named_by_flag_or_default_are_errors() {
        let f = Fake::new();
        // The CA is always required once TLS is on, even at its default location.
        let e = f
            .resolve(&GlobalOptions {
                tlsverify: true,
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&f.path().join("ca.pem").display().to_string())
                && e.contains("TLS CA certificate"),
            "{e}"
        );
        // A cert named by flag must exist.
        fs::write(f.path().join("ca.pem"), "pem").unwrap();
        let g = GlobalOptions {
            tls: true,
            tlscert: Some("/no/such/cert.pem".into()),
            ..Default::default()
        };
        let e = f.resolve(&g).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "TLS client certificate /no/such/cert.pem (from --tlscert flag) cannot be read"
            ),
            "{e}"
        );
    }

    #[test]
    fn tls_is_ignored_unless_asked_for() {
        let certs = cert_dir(&["ca.pem", "cert.pem", "key.pem"]);
        let ep = Fake::new()
            .set("DOCKER_CERT_PATH", &certs.path().display().to_string())
            .ok(&host_flag("tcp://h:1"));
        assert_eq!(ep.tls, None);
    }

    #[test]
    fn parse_host_like_docker() {
        let p = |h: &str| parse_host(h, false, "-H flag", true);
        assert_eq!(p("tcp://1.2.3.4").unwrap(), "tcp://1.2.3.4:2375");
        assert_eq!(p("tcp://1.2.3.4:2376").unwrap(), "tcp://1.2.3.4:2376");
        assert_eq!(p("tcp://").unwrap(), "tcp://localhost:2375");
        assert_eq!(p("tcp://:7").unwrap(), "tcp://localhost:7");
        assert_eq!(p("tcp://h:").unwrap(), "tcp://h:2375");
        assert_eq!(p("tcp://h:1/base").unwrap(), "tcp://h:1/base");
        assert_eq!(p("tcp://[::1]").unwrap(), "tcp://[::1]:2375");
        assert_eq!(p("tcp://[::1]:9").unwrap(), "tcp://[::1]:9");
        assert_eq!(p("host.example:2375").unwrap(), "tcp://host.example:2375");
        assert_eq!(p(" unix:///x.sock ").unwrap(), "unix:///x.sock");
        assert_eq!(p("unix://").unwrap(), DEFAULT_UNIX_HOST);
        assert_eq!(p("ssh://me@box").unwrap(), "ssh://me@box");
        assert_eq!(
            p("ssh://me@box:2222/run/docker.sock").unwrap(),
            "ssh://me@box:2222/run/docker.sock"
        );
        assert_eq!(p("").unwrap(), DEFAULT_UNIX_HOST);
        assert_eq!(
            parse_host("", true, "DOCKER_HOST", true).unwrap(),
            DEFAULT_TLS_HOST
        );

        for bad in [
            "tcp://h:port",
            "tcp://h:99999",
            "tcp://a:b:c",
            "http://h:1",
            "bogus://x",
            "ssh://me:pw@h",
            "ssh://",
            "://x",
        ] {
            let e = p(bad).unwrap_err();
            assert!(
                matches!(e, ContextError::InvalidHost { .. }),
                "{bad}: {e:?}"
            );
            assert!(
                e.to_string().contains(bad) && e.to_string().contains("(from -H flag)"),
                "{e}"
            );
        }
        for bad in ["npipe:////./pipe/docker_engine", "fd://"] {
            let e = p(bad).unwrap_err();
            assert!(
                matches!(e, ContextError::UnsupportedHost { .. }),
                "{bad}: {e:?}"
            );
        }
        // Stored contexts need a scheme.
        assert!(parse_host("h:1", false, "context", false).is_err());
    }

    #[test]
    fn invalid_host_names_its_source() {
        let e = Fake::new()
            .set("DOCKER_HOST", "tcp://h:x")
            .resolve(&none())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid Docker host \"tcp://h:x\" (from DOCKER_HOST)"),
            "{e}"
        );
        let f = Fake::new().context("w", "npipe:////./pipe/docker_engine");
        let e = f.resolve(&ctx_flag("w")).unwrap_err().to_string();
        assert!(
            e.contains("(from context \"w\" in ") && e.contains("Windows named pipe"),
            "{e}"
        );
    }
}
