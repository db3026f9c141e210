//! Per-file canonicalisation of service definitions, before files are merged: every key gets
//! one form (ports and volumes long, environment/labels/sysctls as maps, networks and
//! depends_on as maps, command/entrypoint as lists, paths absolute...), so that merging and
//! the later typing see one shape. Unknown and unsupported keys are rejected here, where the
//! file that wrote them is known.

use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::error::ComposeError;
use super::value::{kind, s, scalar};
use super::{ports, volumes};

/// Where a file's relative paths resolve, and the home directory for `~`.
pub(crate) struct FileCtx<'a> {
    pub file: &'a Path,
    pub base_dir: &'a Path,
    pub home: Option<&'a str>,
}

/// Service keys docker-compose-types types (and docker flow passes on).
const TYPED: &[&str] = &[
    "hostname",
    "domainname",
    "privileged",
    "read_only",
    "healthcheck",
    "deploy",
    "image",
    "container_name",
    "build",
    "pid",
    "ports",
    "environment",
    "network_mode",
    "devices",
    "restart",
    "labels",
    "tmpfs",
    "ulimits",
    "volumes",
    "networks",
    "cap_add",
    "cap_drop",
    "depends_on",
    "command",
    "entrypoint",
    "env_file",
    "stop_grace_period",
    "profiles",
    "links",
    "dns",
    "dns_opt",
    "ipc",
    "stop_signal",
    "user",
    "userns_mode",
    "working_dir",
    "expose",
    "volumes_from",
    "extends",
    "logging",
    "scale",
    "init",
    "stdin_open",
    "shm_size",
    "extra_hosts",
    "group_add",
    "tty",
    "sysctls",
    "security_opt",
    "pull_policy",
    "cgroup_parent",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "runtime",
];

/// Service keys kept in `ServiceExtras`.
pub(crate) const EXTRAS: &[&str] = &[
    "platform",
    "cpus",
    "cpu_shares",
    "cpu_quota",
    "cpu_period",
    "cpuset",
    "pids_limit",
    "oom_score_adj",
    "oom_kill_disable",
    "memswap_limit",
    "mac_address",
    "dns_search",
    "storage_opt",
    "device_cgroup_rules",
    "uts",
    "cgroup",
    "annotations",
    "secrets",
    "configs",
];

/// Service keys docker flow loads and passes on as written (`ServiceExtras::passed`), as
/// Compose does: the engine, not the loader, decides what they mean on its host.
pub(crate) const PASSED: &[&str] = &[
    "attach",
    "credential_spec",
    "external_links",
    "gpus",
    "isolation",
];

/// Keys of `build:` passed on as written, beside the ones docker-compose-types types.
pub(crate) const PASSED_BUILD: &[&str] = &[
    "ssh",
    "secrets",
    "additional_contexts",
    "cache_to",
    "platforms",
    "tags",
    "privileged",
    "pull",
    "no_cache",
    "extra_hosts",
    "isolation",
    "ulimits",
    "entitlements",
    "provenance",
    "sbom",
];

/// Keys of a service's network attachment passed on as written.
pub(crate) const PASSED_NETWORK: &[&str] = &[
    "mac_address",
    "driver_opts",
    "link_local_ips",
    "priority",
    "gw_priority",
];

/// Service keys of the Compose spec docker flow does not handle.
const UNSUPPORTED: &[&str] = &[
    "blkio_config",
    "cpu_count",
    "cpu_percent",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "develop",
    "label_file",
    "models",
    "post_start",
    "pre_stop",
    "provider",
    "use_api_socket",
    "volume_driver",
    "net",
];

/// Keys whose scalar value is text (numbers and booleans are printed).
const STRINGS: &[&str] = &[
    "hostname",
    "domainname",
    "image",
    "container_name",
    "pid",
    "network_mode",
    "restart",
    "stop_grace_period",
    "ipc",
    "stop_signal",
    "user",
    "userns_mode",
    "working_dir",
    "shm_size",
    "cgroup_parent",
    "mem_limit",
    "mem_reservation",
    "runtime",
    "platform",
    "cpuset",
    "mac_address",
    "uts",
    "cgroup",
    "pull_policy",
];

/// Keys holding a list of strings (a single string is a one-item list).
const STRING_LISTS: &[&str] = &[
    "devices",
    "tmpfs",
    "cap_add",
    "cap_drop",
    "profiles",
    "links",
    "dns",
    "dns_opt",
    "dns_search",
    "expose",
    "volumes_from",
    "security_opt",
    "external_links",
    "device_cgroup_rules",
];

/// Keys holding `KEY=VALUE` lists or maps, canonically maps of strings.
const STRING_MAPS: &[&str] = &["labels", "sysctls", "annotations", "storage_opt"];

/// Canonicalises one service of one file in place.
pub(crate) fn canonical_service(
    ctx: &FileCtx,
    name: &str,
    svc: &mut Mapping,
) -> Result<(), ComposeError> {
    let keys: Vec<Value> = svc.keys().cloned().collect();
    for k in keys {
        let Some(key) = k.as_str().map(str::to_string) else {
            return Err(ComposeError::InvalidValue {
                file: ctx.file.to_path_buf(),
                service: name.to_string(),
                key: scalar(&k).unwrap_or_default(),
                message: "keys must be strings".into(),
            });
        };
        if key.starts_with("x-") {
            continue;
        }
        if !TYPED.contains(&key.as_str())
            && !EXTRAS.contains(&key.as_str())
            && !PASSED.contains(&key.as_str())
        {
            return Err(if UNSUPPORTED.contains(&key.as_str()) {
                ComposeError::unsupported(ctx.file, Some(name), key)
            } else {
                ComposeError::UnknownKey {
                    file: ctx.file.to_path_buf(),
                    service: Some(name.to_string()),
                    key,
                }
            });
        }
        let v = svc.get_mut(&k).expect("key listed above");
        // `!reset` stays for the merge; `!override` wraps a value canonicalised like any other.
        let target = match v {
            Value::Tagged(t) if t.tag == "reset" => continue,
            Value::Tagged(t) if t.tag == "override" => &mut t.value,
            other => other,
        };
        let taken = std::mem::take(target);
        *target = canonical_key(ctx, name, &key, taken)?;
    }
    Ok(())
}

fn err(ctx: &FileCtx, service: &str, key: &str, message: impl Into<String>) -> ComposeError {
    ComposeError::value(ctx.file, service, key, message)
}

fn canonical_key(ctx: &FileCtx, name: &str, key: &str, v: Value) -> Result<Value, ComposeError> {
    if v.is_null() {
        return Ok(v);
    }
    let e = |m: String| err(ctx, name, key, m);
    Ok(match key {
        k if STRINGS.contains(&k) => match scalar(&v) {
            Some(t) => s(t),
            None => return Err(e(format!("expected a string, found {}", kind(&v)))),
        },
        k if STRING_LISTS.contains(&k) => string_list(&v).map_err(e)?,
        k if STRING_MAPS.contains(&k) => Value::Mapping(string_map(&v, false).map_err(e)?),
        "environment" => Value::Mapping(string_map(&v, true).map_err(e)?),
        "secrets" | "configs" => super::secrets::canonical_refs(&v).map_err(e)?,
        "ports" => {
            let Value::Sequence(seq) = v else {
                return Err(e(format!("expected a list, found {}", kind(&v))));
            };
            let mut out = Vec::with_capacity(seq.len());
            for p in &seq {
                out.extend(ports::canonical(p).map_err(e)?);
            }
            Value::Sequence(out)
        }
        "volumes" => {
            let Value::Sequence(seq) = v else {
                return Err(e(format!("expected a list, found {}", kind(&v))));
            };
            let mut out = Vec::with_capacity(seq.len());
            for item in &seq {
                let m = match item {
                    Value::String(spec) => {
                        volumes::parse_short(spec, ctx.base_dir, ctx.home).map_err(e)?
                    }
                    Value::Mapping(m) => volumes::canonical_long(m, ctx.base_dir, ctx.home)
                        .map_err(|(k, m)| {
                            if m == "not supported by docker flow" {
                                ComposeError::unsupported(ctx.file, Some(name), k)
                            } else {
                                err(ctx, name, &k, m)
                            }
                        })?,
                    other => return Err(e(format!("unexpected {}", kind(other)))),
                };
                out.push(Value::Mapping(m));
            }
            Value::Sequence(out)
        }
        "networks" => {
            let mut out = Mapping::new();
            match v {
                Value::Sequence(seq) => {
                    for n in seq {
                        let n =
                            scalar(&n).ok_or_else(|| e("network names must be strings".into()))?;
                        out.insert(s(n), Value::Null);
                    }
                }
                Value::Mapping(m) => {
                    for (n, cfg) in m {
                        let n = scalar(&n).unwrap_or_default();
                        out.insert(s(n.clone()), network_attachment(ctx, name, &n, cfg)?);
                    }
                }
                other => {
                    return Err(e(format!(
                        "expected a list or mapping, found {}",
                        kind(&other)
                    )))
                }
            }
            Value::Mapping(out)
        }
        "depends_on" => {
            let mut out = Mapping::new();
            let default = |cond: &str| {
                let mut m = Mapping::new();
                m.insert(s("condition"), s(cond));
                m.insert(s("required"), Value::Bool(true));
                Value::Mapping(m)
            };
            match v {
                Value::Sequence(seq) => {
                    for d in seq {
                        let d =
                            scalar(&d).ok_or_else(|| e("service names must be strings".into()))?;
                        out.insert(s(d), default("service_started"));
                    }
                }
                Value::Mapping(m) => {
                    for (d, cfg) in m {
                        let d = scalar(&d).unwrap_or_default();
                        let mut entry = match default("service_started") {
                            Value::Mapping(m) => m,
                            _ => unreachable!(),
                        };
                        for (ck, cv) in cfg.as_mapping().into_iter().flatten() {
                            let ck = scalar(ck).unwrap_or_default();
                            match ck.as_str() {
                                "condition" => {
                                    let c = scalar(cv).unwrap_or_default();
                                    if !matches!(
                                        c.as_str(),
                                        "service_started"
                                            | "service_healthy"
                                            | "service_completed_successfully"
                                    ) {
                                        return Err(e(format!(
                                            "invalid condition {c:?} for {d:?}"
                                        )));
                                    }
                                    entry.insert(s("condition"), s(c));
                                }
                                "required" | "restart" => {
                                    let b = match cv {
                                        Value::Bool(b) => *b,
                                        other => scalar(other).as_deref() == Some("true"),
                                    };
                                    entry.insert(s(ck), Value::Bool(b));
                                }
                                other => {
                                    return Err(e(format!("unknown attribute {other:?} for {d:?}")))
                                }
                            }
                        }
                        out.insert(s(d), Value::Mapping(entry));
                    }
                }
                other => {
                    return Err(e(format!(
                        "expected a list or mapping, found {}",
                        kind(&other)
                    )))
                }
            }
            Value::Mapping(out)
        }
        "command" | "entrypoint" => match v {
            Value::String(t) => Value::Sequence(
                shell_words::split(&t)
                    .map_err(|x| e(format!("cannot split {t:?}: {x}")))?
                    .into_iter()
                    .map(s)
                    .collect(),
            ),
            Value::Sequence(seq) => Value::Sequence(
                seq.iter()
                    .map(|i| {
                        scalar(i)
                            .map(s)
                            .ok_or_else(|| e("list items must be strings".into()))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(e(format!(
                    "expected a string or list, found {}",
                    kind(&other)
                )))
            }
        },
        "healthcheck" => {
            let Value::Mapping(mut m) = v else {
                return Err(e(format!("expected a mapping, found {}", kind(&v))));
            };
            for (hk, hv) in m.iter_mut() {
                let hk = scalar(hk).unwrap_or_default();
                match hk.as_str() {
                    "test" => {
                        *hv = match std::mem::take(hv) {
                            Value::String(t) => Value::Sequence(vec![s("CMD-SHELL"), s(t)]),
                            Value::Sequence(seq) => Value::Sequence(
                                seq.iter()
                                    .map(|i| s(scalar(i).unwrap_or_default()))
                                    .collect(),
                            ),
                            other => other,
                        }
                    }
                    "interval" | "timeout" | "start_period" | "start_interval" => {
                        if let Some(t) = scalar(hv) {
                            *hv = s(t);
                        }
                    }
                    "retries" | "disable" => {}
                    other => {
                        return Err(ComposeError::unsupported(
                            ctx.file,
                            Some(name),
                            format!("healthcheck.{other}"),
                        ))
                    }
                }
            }
            Value::Mapping(m)
        }
        "env_file" => {
            let items = match v {
                Value::Sequence(seq) => seq,
                other => vec![other],
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let (path, required) = match &item {
                    Value::Mapping(m) => {
                        if let Some(fmt) = m.get("format") {
                            if !fmt.is_null() {
                                return Err(ComposeError::unsupported(
                                    ctx.file,
                                    Some(name),
                                    "env_file.format",
                                ));
                            }
                        }
                        let p = m
                            .get("path")
                            .and_then(scalar)
                            .ok_or_else(|| e("env_file entry is missing `path`".into()))?;
                        let req = match m.get("required") {
                            None => true,
                            Some(Value::Bool(b)) => *b,
                            Some(other) => scalar(other).as_deref() != Some("false"),
                        };
                        (p, req)
                    }
                    other => (
                        scalar(other).ok_or_else(|| e("env_file entries must be paths".into()))?,
                        true,
                    ),
                };
                let abs = super::files::absolute(ctx.base_dir, Path::new(&path));
                let mut m = Mapping::new();
                m.insert(s("path"), s(abs.display().to_string()));
                m.insert(s("required"), Value::Bool(required));
                out.push(Value::Mapping(m));
            }
            Value::Sequence(out)
        }
        "extra_hosts" => {
            let mut out = Vec::new();
            match &v {
                Value::Sequence(seq) => {
                    for h in seq {
                        let h = scalar(h).ok_or_else(|| e("entries must be strings".into()))?;
                        let (host, ip) = h
                            .split_once('=')
                            .or_else(|| h.split_once(':'))
                            .ok_or_else(|| {
                                e(format!("invalid extra host {h:?}, expected host:ip"))
                            })?;
                        out.push(s(format!("{host}:{}", unbracket(ip))));
                    }
                }
                Value::Mapping(m) => {
                    for (host, ips) in m {
                        let host = scalar(host).unwrap_or_default();
                        let ips = match ips {
                            Value::Sequence(seq) => seq.iter().filter_map(scalar).collect(),
                            other => vec![scalar(other).unwrap_or_default()],
                        };
                        for ip in ips {
                            out.push(s(format!("{host}:{}", unbracket(&ip))));
                        }
                    }
                }
                other => {
                    return Err(e(format!(
                        "expected a list or mapping, found {}",
                        kind(other)
                    )))
                }
            }
            Value::Sequence(out)
        }
        "build" => {
            let mut m = match v {
                Value::Mapping(m) => m,
                other => {
                    let mut m = Mapping::new();
                    m.insert(s("context"), s(scalar(&other).unwrap_or_default()));
                    m
                }
            };
            for (bk, _) in m.iter() {
                let bk = scalar(bk).unwrap_or_default();
                if !matches!(
                    bk.as_str(),
                    "context"
                        | "dockerfile"
                        | "dockerfile_inline"
                        | "args"
                        | "shm_size"
                        | "target"
                        | "network"
                        | "cache_from"
                        | "labels"
                ) && !bk.starts_with("x-")
                    && !PASSED_BUILD.contains(&bk.as_str())
                {
                    return Err(ComposeError::unsupported(
                        ctx.file,
                        Some(name),
                        format!("build.{bk}"),
                    ));
                }
            }
            let ctx_dir = m
                .get("context")
                .and_then(scalar)
                .unwrap_or_else(|| ".".into());
            if !is_remote_context(&ctx_dir) {
                let abs = super::files::absolute(ctx.base_dir, Path::new(&ctx_dir));
                m.insert(s("context"), s(abs.display().to_string()));
            }
            if let Some(args) = m.get("args").cloned() {
                m.insert(
                    s("args"),
                    Value::Mapping(string_map(&args, true).map_err(e)?),
                );
            }
            if let Some(labels) = m.get("labels").cloned() {
                m.insert(
                    s("labels"),
                    Value::Mapping(string_map(&labels, false).map_err(e)?),
                );
            }
            Value::Mapping(m)
        }
        "deploy" => {
            let Value::Mapping(mut m) = v else {
                return Err(e(format!("expected a mapping, found {}", kind(&v))));
            };
            // Swarm-only settings Compose itself ignores on a single engine.
            m.shift_remove("endpoint_mode");
            m.shift_remove("rollback_config");
            if let Some(labels) = m.get("labels").cloned() {
                m.insert(
                    s("labels"),
                    Value::Mapping(string_map(&labels, false).map_err(e)?),
                );
            }
            if let Some(Value::Mapping(res)) = m.get_mut("resources") {
                for (_, side) in res.iter_mut() {
                    if let Value::Mapping(side) = side {
                        for key in ["cpus", "memory"] {
                            if let Some(val) = side.get(key).and_then(scalar) {
                                side.insert(s(key), s(val));
                            }
                        }
                    }
                }
            }
            Value::Mapping(m)
        }
        "logging" => {
            let Value::Mapping(mut m) = v else {
                return Err(e(format!("expected a mapping, found {}", kind(&v))));
            };
            if let Some(opts) = m.get("options").cloned() {
                if !opts.is_null() {
                    m.insert(
                        s("options"),
                        Value::Mapping(string_map(&opts, false).map_err(e)?),
                    );
                }
            }
            Value::Mapping(m)
        }
        "extends" => match v {
            Value::String(_) | Value::Mapping(_) => v,
            other => {
                return Err(e(format!(
                    "expected a string or mapping, found {}",
                    kind(&other)
                )))
            }
        },
        _ => v,
    })
}

fn unbracket(ip: &str) -> String {
    ip.strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip)
        .to_string()
}

fn is_remote_context(c: &str) -> bool {
    c.contains("://") || c.starts_with("git@") || c.starts_with("github.com/")
}

fn network_attachment(
    ctx: &FileCtx,
    service: &str,
    network: &str,
    cfg: Value,
) -> Result<Value, ComposeError> {
    let Value::Mapping(m) = cfg else {
        return Ok(Value::Null);
    };
    let mut out = Mapping::new();
    for (k, v) in m {
        let k = scalar(&k).unwrap_or_default();
        match k.as_str() {
            "aliases" => {
                let list = string_list(&v)
                    .map_err(|m| err(ctx, service, &format!("networks.{network}.aliases"), m))?;
                out.insert(s(k), list);
            }
            "ipv4_address" | "ipv6_address" => {
                out.insert(s(k), s(scalar(&v).unwrap_or_default()));
            }
            k if PASSED_NETWORK.contains(&k) => {
                out.insert(s(k), v);
            }
            other => {
                return Err(ComposeError::unsupported(
                    ctx.file,
                    Some(service),
                    format!("networks.{network}.{other}"),
                ))
            }
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Mapping(out)
    })
}

/// A string or list of scalars, as a list of strings.
pub(crate) fn string_list(v: &Value) -> Result<Value, String> {
    match v {
        Value::Sequence(seq) => Ok(Value::Sequence(
            seq.iter()
                .map(|i| {
                    scalar(i)
                        .map(s)
                        .ok_or_else(|| format!("list items must be strings, found {}", kind(i)))
                })
                .collect::<Result<_, _>>()?,
        )),
        other => match scalar(other) {
            Some(t) => Ok(Value::Sequence(vec![s(t)])),
            None => Err(format!("expected a string or list, found {}", kind(other))),
        },
    }
}

/// A `KEY=VALUE` list or a map, as a map of strings. With `keep_null`, a bare `KEY` (or a
/// null value) stays null (resolved later from the environment); otherwise it is `""`.
pub(crate) fn string_map(v: &Value, keep_null: bool) -> Result<Mapping, String> {
    let mut out = Mapping::new();
    let null = |k: String| (s(k), if keep_null { Value::Null } else { s("") });
    match v {
        Value::Sequence(seq) => {
            for item in seq {
                let t = scalar(item).ok_or_else(|| {
                    format!("list items must be KEY=VALUE strings, found {}", kind(item))
                })?;
                let (k, v) = match t.split_once('=') {
                    Some((k, v)) => (s(k), s(v)),
                    None => null(t),
                };
                out.insert(k, v);
            }
        }
        Value::Mapping(m) => {
            for (k, val) in m {
                let k = scalar(k).ok_or_else(|| "keys must be strings".to_string())?;
                if super::value::merge_tag(val) == Some("reset") {
                    // Kept tagged: merging removes the key (strip_tags, when alone).
                    out.insert(s(k), val.clone());
                    continue;
                }
                let (k, v) = match scalar(val) {
                    Some(t) => (s(k), s(t)),
                    None if val.is_null() => null(k),
                    None => {
                        return Err(format!(
                            "value of {k:?} must be a scalar, found {}",
                            kind(val)
                        ))
                    }
                };
                out.insert(k, v);
            }
        }
        Value::Null => {}
        other => return Err(format!("expected a list or mapping, found {}", kind(other))),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(yaml: &str) -> Result<Mapping, ComposeError> {
        let mut m: Mapping = serde_yaml::from_str(yaml).unwrap();
        let ctx = FileCtx {
            file: Path::new("/p/compose.yaml"),
            base_dir: Path::new("/p"),
            home: Some("/home/u"),
        };
        canonical_service(&ctx, "web", &mut m)?;
        Ok(m)
    }

    #[test]
    fn maps_and_lists() {
        let m = canon(
            "environment: [A=1, B]\nlabels: {a: 1, b: true}\nsysctls: [net.x=1]\ndns: 8.8.8.8\nexpose: [80]\nuser: 1000\n",
        )
        .unwrap();
        assert_eq!(m["environment"]["A"], s("1"));
        assert_eq!(m["environment"]["B"], Value::Null);
        assert_eq!(m["labels"]["a"], s("1"));
        assert_eq!(m["labels"]["b"], s("true"));
        assert_eq!(m["sysctls"]["net.x"], s("1"));
        assert_eq!(m["dns"], Value::Sequence(vec![s("8.8.8.8")]));
        assert_eq!(m["expose"], Value::Sequence(vec![s("80")]));
        assert_eq!(m["user"], s("1000"));
    }

    #[test]
    fn command_healthcheck_depends_on() {
        let m = canon(
            "command: sh -c 'echo hi'\nhealthcheck: {test: curl -f x, interval: 5s}\ndepends_on: [db]\nextra_hosts: {h: 1.2.3.4}\n",
        )
        .unwrap();
        assert_eq!(
            m["command"],
            Value::Sequence(vec![s("sh"), s("-c"), s("echo hi")])
        );
        assert_eq!(m["healthcheck"]["test"][0], s("CMD-SHELL"));
        assert_eq!(m["depends_on"]["db"]["condition"], s("service_started"));
        assert_eq!(m["extra_hosts"][0], s("h:1.2.3.4"));
    }

    #[test]
    fn rejects_unknown_and_unsupported() {
        let e = canon("develop: {}").unwrap_err().to_string();
        assert_eq!(
            e,
            "/p/compose.yaml: service \"web\": key \"develop\" is not supported by docker flow"
        );
        let e = canon("imagee: x").unwrap_err().to_string();
        assert!(e.contains("\"imagee\" is not a Compose service key"), "{e}");
        let e = canon("networks: {front: {ipv5_address: x}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("networks.front.ipv5_address"), "{e}");
        let e = canon("ports: ['x:80']").unwrap_err().to_string();
        assert!(e.contains("ports"), "{e}");
    }

    #[test]
    fn keys_compose_accepts_are_kept() {
        let m = canon(
            "attach: false\ngpus: all\nisolation: default\nexternal_links: [db:d]\n\
             credential_spec: {config: x}\nbuild: {context: ., ssh: [default], cache_to: [a]}\n\
             networks: {front: {mac_address: 02:42:ac:11:00:02, driver_opts: {a: b}}}\n",
        )
        .unwrap();
        assert_eq!(m["gpus"], s("all"));
        assert_eq!(m["external_links"][0], s("db:d"));
        assert_eq!(m["build"]["ssh"][0], s("default"));
        assert_eq!(m["networks"]["front"]["driver_opts"]["a"], s("b"));
    }

    #[test]
    fn reset_inside_a_map_removes_the_key() {
        let mut m = canon("environment: {FOO: !reset null, BAR: x}").unwrap();
        let mut v = Value::Mapping(std::mem::take(&mut m));
        super::super::value::strip_tags(&mut v);
        assert!(v["environment"].get("FOO").is_none(), "{v:?}");
        assert_eq!(v["environment"]["BAR"], s("x"));
    }

    #[test]
    fn paths_resolve_against_base() {
        let m = canon("build: ./app\nenv_file: [a.env, {path: b.env, required: false}]\n").unwrap();
        assert_eq!(m["build"]["context"], s("/p/app"));
        assert_eq!(m["env_file"][0]["path"], s("/p/a.env"));
        assert_eq!(m["env_file"][1]["required"], Value::Bool(false));
    }
}
