//! Resolution: each setting from its flag, `FLOW_*` variable or docker-flow.yml key (highest
//! first), parsed and checked, with cross-setting checks (target required, template forms…).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Source};
use super::file::FileConfig;
use super::options::*;
use super::sources::{parse_bool, parse_duration, parse_port, Layers, Opt};
use super::{
    ConsulSettings, FlowName, Origins, ProxySettings, ScaleSpec, Secret, Settings,
    DEFAULT_CONSUL_IMAGE, DEFAULT_DRAIN_TIMEOUT, DEFAULT_FILE, DEFAULT_LOCK_TIMEOUT,
    DEFAULT_MONITOR, DEFAULT_PROXY_IMAGE, DEFAULT_PROXY_NAME,
};
use crate::cli::{ComposeArgs, FlowArgs, Format};
use crate::release::PathType;

/// Resolves `cli` over `env` and the (already read) settings file.
pub fn resolve(
    cli: &FlowArgs,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<&FileConfig>,
) -> Result<Settings, ConfigError> {
    let l = Layers { env, file };
    let flows = flows(cli, &l)?;
    let needs_target: Vec<&str> = flows
        .iter()
        .filter(|f| **f != FlowName::Status)
        .map(|f| f.as_str())
        .collect();

    let mut origins = Origins::default();
    let target = match l.text(TARGET, cli.target.as_deref())? {
        Some((t, origin)) => {
            let name = service_name("target", t, &origin)?;
            origins.target = Some(origin);
            name
        }
        None if needs_target.is_empty() => String::new(),
        None => {
            return Err(ConfigError::Missing {
                what: "the target (the compose service to deploy)",
                when: format!("for {}", needs_target.join(", ")),
                how: format!("--target/-t, FLOW_TARGET or target in {}", file_name(file)),
            })
        }
    };
    let side_targets = match l.list(SIDE_TARGETS, &cli.side_targets)? {
        Some((items, origin)) => {
            origins.side_targets = Some(origin.clone());
            let mut out = Vec::new();
            for item in items {
                let name = service_name("side target", item, &origin)?;
                if name == target {
                    return Err(ConfigError::Conflict(format!(
                        "{name} is both the target and a side target (from {origin})"
                    )));
                }
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            out
        }
        None => Vec::new(),
    };

    let scale = scale(cli, &l)?;
    if flows.contains(&FlowName::Scale) && !flows.contains(&FlowName::Deploy) && scale.is_none() {
        return Err(ConfigError::Missing {
            what: "a scale",
            when: "for the scale flow".into(),
            how: format!(
                "`docker flow scale N|+N|-N`, --scale/-s, FLOW_SCALE or scale in {}",
                file_name(file)
            ),
        });
    }

    let compose = ComposeArgs {
        files: l
            .paths(COMPOSE_PATH, &cli.compose.files)?
            .map_or_else(Vec::new, |f| f.0),
        project: l
            .text(PROJECT, cli.compose.project.as_deref())?
            .map(|(p, origin)| non_empty("project", p, &origin, "expected a project name"))
            .transpose()?,
        project_directory: l
            .path(PROJECT_DIRECTORY, cli.compose.project_directory.as_deref())?
            .map(|p| p.0),
        profiles: l
            .list(PROFILES, &cli.compose.profiles)?
            .map_or_else(Vec::new, |p| p.0),
        env_files: l
            .paths(ENV_FILES, &cli.compose.env_files)?
            .map_or_else(Vec::new, |p| p.0),
    };

    let consul = ConsulSettings {
        address: consul_address(cli, &l)?,
        token: match l.text(opt("", "FLOW_CONSUL_TOKEN", ""), None)? {
            Some((t, _)) => Some(Secret(t)),
            None => l.foreign("CONSUL_HTTP_TOKEN").map(|(t, _)| Secret(t)),
        },
        cacert: path_or_foreign(
            &l,
            CONSUL_CACERT,
            cli.consul_cacert.as_deref(),
            "CONSUL_CACERT",
        )?,
        client_cert: path_or_foreign(
            &l,
            CONSUL_CLIENT_CERT,
            cli.consul_client_cert.as_deref(),
            "CONSUL_CLIENT_CERT",
        )?,
        client_key: path_or_foreign(
            &l,
            CONSUL_CLIENT_KEY,
            cli.consul_client_key.as_deref(),
            "CONSUL_CLIENT_KEY",
        )?,
        image: image(
            &l,
            CONSUL_IMAGE,
            cli.consul_image.as_deref(),
            DEFAULT_CONSUL_IMAGE,
        )?,
    };

    let (proxy, template_origin) = proxy(cli, &l)?;
    origins.template = template_origin;

    let health_path = l
        .parsed(
            HEALTH_PATH,
            cli.health_path.as_deref(),
            "health path",
            |p| {
                if p.starts_with('/') && !p.chars().any(char::is_whitespace) {
                    Ok(p.to_string())
                } else {
                    Err("expected an HTTP path starting with /".into())
                }
            },
        )?
        .map(|p| p.0);
    let health_timeout = l
        .parsed(
            HEALTH_TIMEOUT,
            cli.health_timeout.as_deref(),
            "health timeout",
            |v| {
                parse_duration(v).and_then(|d| {
                    if d.is_zero() {
                        Err("expected a duration above 0".into())
                    } else {
                        Ok(d)
                    }
                })
            },
        )?
        .map(|d| d.0);
    let lock_timeout = l
        .parsed(
            LOCK_TIMEOUT,
            cli.lock_timeout.as_deref(),
            "lock timeout",
            parse_duration,
        )?
        .map_or(DEFAULT_LOCK_TIMEOUT, |d| d.0);
    let drain_timeout = l
        .parsed(
            DRAIN_TIMEOUT,
            cli.drain_timeout.as_deref(),
            "drain timeout",
            parse_duration,
        )?
        .map_or(DEFAULT_DRAIN_TIMEOUT, |d| d.0);
    let monitor = l
        .parsed(MONITOR, cli.monitor.as_deref(), "monitor", parse_duration)?
        .map_or(DEFAULT_MONITOR, |d| d.0);

    let format = match cli.format {
        Some(f) => f,
        None => l
            .parsed(FORMAT, None, "format", |v| {
                match v.to_ascii_lowercase().as_str() {
                    "text" => Ok(Format::Text),
                    "json" => Ok(Format::Json),
                    _ => Err("expected text or json".into()),
                }
            })?
            .map_or(Format::Text, |f| f.0),
    };

    Ok(Settings {
        flows,
        target,
        side_targets,
        pull_side_targets: flag_bool(&l, PULL_SIDE_TARGETS, &cli.pull_side_targets, false)?,
        skip_pull_target: flag_bool(&l, SKIP_PULL_TARGET, &cli.skip_pull_target, false)?,
        blue_green: flag_bool(&l, BLUE_GREEN, &cli.blue_green, true)?,
        compose,
        scale,
        docker_host: l
            .text(HOST, cli.host.as_deref())?
            .map(|(h, origin)| docker_host("host", h, &origin))
            .transpose()?,
        cert_path: l.path(CERT_PATH, cli.cert_path.as_deref())?.map(|p| p.0),
        consul,
        proxy,
        health_path,
        health_timeout,
        lock_timeout,
        drain_timeout,
        monitor,
        dry_run: flag_bool(&l, DRY_RUN, &cli.dry_run, false)?,
        reconcile: false,
        format,
        config_file: file.map(|f| PathBuf::from(&f.name)),
        origins,
    })
}

fn file_name(file: Option<&FileConfig>) -> &str {
    file.map_or(DEFAULT_FILE, |f| f.name.as_str())
}

fn flows(cli: &FlowArgs, l: &Layers) -> Result<Vec<FlowName>, ConfigError> {
    let mut out: Vec<FlowName> = cli.command.into_iter().collect();
    let given = if cli.command.is_some() {
        // The command says what runs: only its own --flow options chain more.
        (!cli.flows.is_empty()).then(|| (cli.flows.clone(), Source::Flag(FLOW.flag)))
    } else {
        l.list(FLOW, &cli.flows)?
    };
    let Some((names, origin)) = given else {
        if out.is_empty() {
            out.push(FlowName::Deploy);
        }
        return Ok(out);
    };
    if names.is_empty() && out.is_empty() {
        return Err(ConfigError::invalid(
            "flow list",
            "",
            &origin,
            format!("expected one or more of {}", FlowName::NAMES.join(", ")),
        ));
    }
    for name in names {
        let Some(flow) = FlowName::parse(&name) else {
            return Err(ConfigError::invalid(
                "flow",
                &name,
                &origin,
                format!("expected one of {}", FlowName::NAMES.join(", ")),
            ));
        };
        if out.contains(&flow) {
            return Err(ConfigError::Conflict(format!(
                "flow {flow} is given twice (from {origin}): each flow runs once per call"
            )));
        }
        out.push(flow);
    }
    Ok(out)
}

fn scale(cli: &FlowArgs, l: &Layers) -> Result<Option<ScaleSpec>, ConfigError> {
    let what = "scale";
    match (&cli.scale_arg, &cli.scale) {
        (Some(a), Some(f)) if a != f => Err(ConfigError::Conflict(format!(
            "two scales: {a:?} (from the scale argument) and {f:?} (from the --scale flag): give one"
        ))),
        (Some(a), _) => ScaleSpec::parse(a)
            .map(Some)
            .map_err(|e| ConfigError::invalid(what, a, &Source::Argument("scale"), e)),
        (None, flag) => Ok(l
            .parsed(SCALE, flag.as_deref(), what, ScaleSpec::parse)?
            .map(|s| s.0)),
    }
}

fn flag_bool(
    l: &Layers,
    o: Opt,
    flag: &Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    Ok(l.bool(o, flag.as_deref())?.map_or(default, |b| b.0))
}

fn non_empty(
    what: &'static str,
    v: String,
    origin: &Source,
    expected: &str,
) -> Result<String, ConfigError> {
    if v.trim().is_empty() {
        Err(ConfigError::invalid(what, &v, origin, expected))
    } else {
        Ok(v)
    }
}

/// A compose service name as compose allows it: letters, digits, `.`, `_`, `-`.
fn service_name(what: &'static str, v: String, origin: &Source) -> Result<String, ConfigError> {
    let ok = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(v)
    } else {
        Err(ConfigError::invalid(
            what,
            &v,
            origin,
            "expected a compose service name (letters, digits, '.', '_', '-')",
        ))
    }
}

/// A Docker endpoint as docker's `-H` takes it; the context layer checks the rest.
fn docker_host(what: &'static str, v: String, origin: &Source) -> Result<String, ConfigError> {
    if !v.is_empty() && !v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Ok(v)
    } else {
        Err(ConfigError::invalid(
            what,
            &v,
            origin,
            "expected a Docker endpoint such as unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host",
        ))
    }
}

fn image(l: &Layers, o: Opt, flag: Option<&str>, default: &str) -> Result<String, ConfigError> {
    Ok(l.parsed(o, flag, "image", |v| {
        if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Err("expected an image reference such as haproxy:lts".into())
        } else {
            Ok(v.to_string())
        }
    })?
    .map_or_else(|| default.to_string(), |i| i.0))
}

fn path_or_foreign(
    l: &Layers,
    o: Opt,
    flag: Option<&Path>,
    foreign: &str,
) -> Result<Option<PathBuf>, ConfigError> {
    Ok(match l.path(o, flag)? {
        Some((p, _)) => Some(p),
        None => l.foreign(foreign).map(|(p, _)| PathBuf::from(p)),
    })
}

/// `http(s)://host[:port]` or `host[:port]` (then `http://`, or `https://` when `https`), as a
/// URL without a trailing slash.
fn consul_url(v: &str, https: bool) -> Result<String, String> {
    let expected = || {
        "expected http://host:port, https://host:port or host:port (e.g. http://127.0.0.1:8500)"
            .to_string()
    };
    let v = v.trim().trim_end_matches('/');
    let (scheme, rest) = match v.split_once("://") {
        Some((s, rest)) => (s.to_ascii_lowercase(), rest),
        None => ((if https { "https" } else { "http" }).to_string(), v),
    };
    if scheme != "http" && scheme != "https" {
        return Err(expected());
    }
    let port = if let Some(bracketed) = rest.strip_prefix('[') {
        // [IPv6]:port
        match bracketed.split_once(']') {
            Some((ip, after)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(expected)?),
            },
            _ => return Err(expected()),
        }
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !host_ok {
            return Err(expected());
        }
        port
    };
    if let Some(port) = port {
        parse_port(port).map_err(|_| expected())?;
    }
    Ok(format!("{scheme}://{rest}"))
}

fn consul_address(cli: &FlowArgs, l: &Layers) -> Result<Option<String>, ConfigError> {
    if let Some((u, _)) = l.parsed(
        CONSUL_ADDRESS,
        cli.consul_address.as_deref(),
        "Consul address",
        |v| consul_url(v, false),
    )? {
        return Ok(Some(u));
    }
    let Some((addr, origin)) = l.foreign("CONSUL_HTTP_ADDR") else {
        return Ok(None);
    };
    let https = match l.foreign("CONSUL_HTTP_SSL") {
        Some((v, o)) => parse_bool(&v).map_err(|e| ConfigError::invalid("boolean", &v, &o, e))?,
        None => false,
    };
    consul_url(&addr, https)
        .map(Some)
        .map_err(|e| ConfigError::invalid("Consul address", &addr, &origin, e))
}

/// The proxy's settings, and where its template (or the frontend one of the pair) came from.
fn proxy(cli: &FlowArgs, l: &Layers) -> Result<(ProxySettings, Option<Source>), ConfigError> {
    let port = |o: Opt, flag: &Option<String>| -> Result<Option<(u16, Source)>, ConfigError> {
        l.parsed(o, flag.as_deref(), "port", parse_port)
    };
    let path_type = l
        .parsed(
            PATH_TYPE,
            cli.path_type.as_deref(),
            "path type",
            |v| match v.to_ascii_lowercase().as_str() {
                "prefix" => Ok(PathType::Prefix),
                "exact" => Ok(PathType::Exact),
                "regex" => Ok(PathType::Regex),
                _ => Err("expected prefix, exact or regex".into()),
            },
        )?
        .map_or(PathType::Prefix, |p| p.0);

    let mut service_paths = Vec::new();
    if let Some((items, origin)) = l.list(SERVICE_PATH, &cli.service_paths)? {
        for p in items {
            // The proxy's own check (one rule for config and render): no CR/LF, space, `#`,
            // quote or backslash can reach the HAProxy config.
            crate::proxy::validate::path(&p, path_type).map_err(|e| {
                ConfigError::invalid(
                    "service path",
                    &p,
                    &origin,
                    format!(
                        "expected a path starting with / (or a regex with --path-type=regex): {}",
                        e.reason()
                    ),
                )
            })?;
            service_paths.push(p);
        }
    }
    let mut service_domains = Vec::new();
    if let Some((items, origin)) = l.list(SERVICE_DOMAIN, &cli.service_domains)? {
        for d in items {
            crate::proxy::validate::domain(&d).map_err(|e| {
                ConfigError::invalid(
                    "service domain",
                    &d,
                    &origin,
                    format!(
                        "expected a host name such as example.com or *.example.com: {}",
                        e.reason()
                    ),
                )
            })?;
            service_domains.push(d);
        }
    }

    let mut modes = Vec::new();
    if let Some((items, origin)) = l.list(MODE, &cli.modes)? {
        for m in items {
            modes.push(parse_mode(&m).ok_or_else(|| {
                ConfigError::invalid(
                    "mode",
                    &m,
                    &origin,
                    "expected http or tcp, for every port, or PORT=MODE for one (5432=tcp)",
                )
            })?);
        }
    }

    let engine = l.text(PROXY_DOCKER_HOST, cli.proxy_docker_host.as_deref())?;
    let context = l.text(PROXY_CONTEXT, cli.proxy_context.as_deref())?;
    if let (Some((_, h)), Some((_, c))) = (&engine, &context) {
        return Err(ConfigError::Conflict(format!(
            "the proxy's engine is given twice: a Docker host (from {h}) and a context (from {c}): give one"
        )));
    }
    let engine = engine
        .map(|(h, origin)| docker_host("proxy docker host", h, &origin))
        .transpose()?;
    let context = context
        .map(|(c, origin)| {
            non_empty(
                "proxy context",
                c,
                &origin,
                "expected a Docker context name",
            )
        })
        .transpose()?;

    let http = port(PROXY_HTTP_PORT, &cli.proxy_http_port)?;
    let https = port(PROXY_HTTPS_PORT, &cli.proxy_https_port)?;
    let cert = l.path(PROXY_CERT, cli.proxy_cert.as_deref())?;
    let http_port = http.as_ref().map_or(80, |p| p.0);
    // HTTPS iff a certificate: on 443 unless a port is given.
    let https_port = match (&https, &cert) {
        (Some((p, origin)), None) => {
            return Err(ConfigError::Conflict(format!(
                "the proxy's HTTPS port {p} (from {origin}) needs a certificate: --proxy-cert, FLOW_PROXY_CERT or proxy_cert"
            )))
        }
        (Some((p, _)), Some(_)) => Some(*p),
        (None, Some(_)) => Some(443),
        (None, None) => None,
    };
    if let Some(p) = https_port {
        if p == http_port {
            let from = https.as_ref().or(http.as_ref()).map(|h| &h.1);
            return Err(ConfigError::Conflict(format!(
                "the proxy's HTTPS port {p}{} is also its HTTP port: give two ports",
                from.map(|o| format!(" (from {o})")).unwrap_or_default()
            )));
        }
    }

    let template = l.path(TEMPLATE, cli.consul_template_path.as_deref())?;
    let fe = l.path(TEMPLATE_FE, cli.consul_template_fe_path.as_deref())?;
    let be = l.path(TEMPLATE_BE, cli.consul_template_be_path.as_deref())?;
    match (&template, &fe, &be) {
        (Some((_, t)), Some((_, o)), _) | (Some((_, t)), _, Some((_, o))) => {
            return Err(ConfigError::Conflict(format!(
                "a consul template (from {t}) and a split frontend/backend one (from {o}): give one form"
            )))
        }
        (None, Some((_, o)), None) => {
            return Err(ConfigError::Conflict(format!(
                "a frontend template (from {o}) needs a backend one: --consul-template-be-path, FLOW_CONSUL_TEMPLATE_BE_PATH or consul_template_be_path"
            )))
        }
        (None, None, Some((_, o))) => {
            return Err(ConfigError::Conflict(format!(
                "a backend template (from {o}) needs a frontend one: --consul-template-fe-path, FLOW_CONSUL_TEMPLATE_FE_PATH or consul_template_fe_path"
            )))
        }
        _ => {}
    }

    let template_origin = template
        .as_ref()
        .or(fe.as_ref())
        .map(|(_, origin)| origin.clone());
    let settings = ProxySettings {
        host: l
            .text(PROXY_HOST, cli.proxy_host.as_deref())?
            .map(|(h, origin)| non_empty("proxy host", h, &origin, "expected a host name or URL"))
            .transpose()?,
        docker_host: engine,
        docker_cert_path: l
            .path(
                PROXY_DOCKER_CERT_PATH,
                cli.proxy_docker_cert_path.as_deref(),
            )?
            .map(|p| p.0),
        context,
        reconf_port: port(PROXY_RECONF_PORT, &cli.proxy_reconf_port)?.map(|p| p.0),
        image: image(
            l,
            PROXY_IMAGE,
            cli.proxy_image.as_deref(),
            DEFAULT_PROXY_IMAGE,
        )?,
        name: l
            .parsed(
                PROXY_NAME,
                cli.proxy_name.as_deref(),
                "container name",
                |v| {
                    let ok = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                    if ok {
                        Ok(v.to_string())
                    } else {
                        Err("expected a container name: letters, digits, '_', '.', '-'".into())
                    }
                },
            )?
            .map_or_else(|| DEFAULT_PROXY_NAME.to_string(), |n| n.0),
        http_port,
        https_port,
        bind_address: l
            .parsed(
                PROXY_BIND_ADDRESS,
                cli.proxy_bind_address.as_deref(),
                "bind address",
                |v| {
                    v.parse::<IpAddr>()
                        .map(|ip| ip.to_string())
                        .map_err(|_| "expected an IP address such as 0.0.0.0 or 127.0.0.1".into())
                },
            )?
            .map_or_else(|| "0.0.0.0".to_string(), |a| a.0),
        advertise_address: l
            .parsed(
                ADVERTISE_ADDRESS,
                cli.advertise_address.as_deref(),
                "advertise address",
                |v| {
                    v.parse::<IpAddr>().map_err(|_| {
                        "expected the IP address the proxy reaches the services' host at, such as 192.0.2.10".into()
                    })
                },
            )?
            .map(|a| a.0),
        service_paths,
        service_domains,
        port: port(PORT, &cli.port)?.map(|p| p.0),
        modes,
        path_type,
        template: template.map(|t| t.0),
        template_fe: fe.map(|t| t.0),
        template_be: be.map(|t| t.0),
        cert: cert.map(|p| p.0),
    };
    Ok((settings, template_origin))
}

/// `http`, `tcp`, or `PORT=MODE`.
fn parse_mode(text: &str) -> Option<(Option<u16>, crate::proxy::Mode)> {
    use crate::proxy::Mode;
    match text.split_once('=') {
        None => Some((None, Mode::parse(text)?)),
        Some((port, mode)) => {
            let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
            Some((Some(port), Mode::parse(mode)?))
        }
    }
}
