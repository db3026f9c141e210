//! Merging compose files (and `extends` bases) with compose-go's override rules, on the
//! canonical forms produced by `normalize`: mappings merge recursively, sequences append,
//! `command`/`entrypoint`/`healthcheck.test` are replaced, `environment`/`labels`/`sysctls`/
//! `annotations` merge as maps (later wins), `ports` are unique by
//! `host_ip:published:target/protocol`, `volumes` by target, `env_file` by path,
//! `secrets`/`configs` by source, `networks` and `depends_on` merge per key, `logging` options merge only for the same driver, `ulimits` are
//! replaced per limit, and `dns`, `cap_add`, `tmpfs`, `extra_hosts`... are de-duplicated.
//! `!reset` removes a value and `!override` replaces it without merging.

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};

use super::ports::PortSpec;
use super::value::{merge_tag, scalar};

/// Merges one file's top-level model into the accumulated one.
pub(crate) fn merge_model(base: &mut Mapping, over: Mapping) {
    for (k, v) in over {
        if handle_tag(base, &k, &v) {
            continue;
        }
        match (k.as_str(), base.get_mut(&k)) {
            (Some("services"), Some(Value::Mapping(bs))) => {
                if let Value::Mapping(os) = v {
                    for (name, svc) in os {
                        if handle_tag(bs, &name, &svc) {
                            continue;
                        }
                        match (bs.get_mut(&name), svc) {
                            (Some(Value::Mapping(b)), Value::Mapping(o)) => merge_service(b, o),
                            (Some(_), Value::Null) => {}
                            (_, o) => {
                                bs.insert(name, o);
                            }
                        }
                    }
                }
            }
            (_, Some(b)) => merge_value(b, v),
            (_, None) => {
                base.insert(k, v);
            }
        }
    }
}

/// Applies `!reset` / `!override` for `key`; true when handled.
fn handle_tag(base: &mut Mapping, key: &Value, v: &Value) -> bool {
    match (merge_tag(v), v) {
        (Some("reset"), _) => {
            base.shift_remove(key);
            true
        }
        (Some("override"), Value::Tagged(t)) => {
            base.insert(key.clone(), t.value.clone());
            true
        }
        _ => false,
    }
}

/// Compose's generic rule: mappings merge, sequences append, scalars replace, null keeps.
pub(crate) fn merge_value(base: &mut Value, over: Value) {
    match (base, over) {
        (_, Value::Null) => {}
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                if handle_tag(b, &k, &v) {
                    continue;
                }
                match b.get_mut(&k) {
                    Some(bv) => merge_value(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(o)) => b.extend(o),
        (b, o) => *b = o,
    }
}

/// Merges an overriding service definition into its base (both canonical).
pub(crate) fn merge_service(base: &mut Mapping, over: Mapping) {
    for (k, v) in over {
        if handle_tag(base, &k, &v) {
            continue;
        }
        let Some(key) = k.as_str() else { continue };
        let Some(b) = base.get_mut(&k) else {
            base.insert(k, v);
            continue;
        };
        if v.is_null() {
            continue;
        }
        match key {
            "command" | "entrypoint" => *b = v,
            "healthcheck" => match (b, v) {
                (Value::Mapping(bm), Value::Mapping(om)) => {
                    for (hk, hv) in om {
                        bm.insert(hk, hv);
                    }
                }
                (b, v) => *b = v,
            },
            "environment" | "labels" | "sysctls" | "annotations" | "storage_opt" => {
                map_replace(b, v)
            }
            "ports" => unique_by(b, v, PortSpec::merge_key),
            "volumes" => unique_by(b, v, |e| {
                e.get("target").and_then(scalar).unwrap_or_default()
            }),
            "env_file" => unique_by(b, v, |e| e.get("path").and_then(scalar).unwrap_or_default()),
            "secrets" | "configs" => unique_by(b, v, |e| {
                e.get("source").and_then(scalar).unwrap_or_default()
            }),
            "extra_hosts"
            | "dns"
            | "dns_opt"
            | "dns_search"
            | "cap_add"
            | "cap_drop"
            | "tmpfs"
            | "links"
            | "profiles"
            | "expose"
            | "devices"
            | "device_cgroup_rules" => unique_by(b, v, |e| scalar(e).unwrap_or_default()),
            "networks" => match (b, v) {
                (Value::Mapping(bm), Value::Mapping(om)) => {
                    for (net, cfg) in om {
                        match (bm.get_mut(&net), cfg) {
                            (Some(_), Value::Null) => {}
                            (Some(Value::Mapping(bc)), Value::Mapping(oc)) => {
                                for (ak, av) in oc {
                                    match (ak.as_str(), bc.get_mut(&ak)) {
                                        (Some("aliases"), Some(ba)) => {
                                            unique_by(ba, av, |e| scalar(e).unwrap_or_default())
                                        }
                                        _ => {
                                            bc.insert(ak, av);
                                        }
                                    }
                                }
                            }
                            (_, cfg) => {
                                bm.insert(net, cfg);
                            }
                        }
                    }
                }
                (b, v) => *b = v,
            },
            "depends_on" => match (b, v) {
                (Value::Mapping(bm), Value::Mapping(om)) => {
                    for (dep, cfg) in om {
                        match (bm.get_mut(&dep), cfg) {
                            (Some(Value::Mapping(bc)), Value::Mapping(oc)) => {
                                for (ck, cv) in oc {
                                    bc.insert(ck, cv);
                                }
                            }
                            (_, cfg) => {
                                bm.insert(dep, cfg);
                            }
                        }
                    }
                }
                (b, v) => *b = v,
            },
            "logging" => {
                let same_driver = match (b.get("driver"), v.get("driver")) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                };
                if same_driver {
                    merge_value(b, v)
                } else {
                    *b = v
                }
            }
            "ulimits" => match (b, v) {
                (Value::Mapping(bm), Value::Mapping(om)) => {
                    for (lk, lv) in om {
                        bm.insert(lk, lv);
                    }
                }
                (b, v) => *b = v,
            },
            _ => merge_value(b, v),
        }
    }
}

/// Map merge where later values replace earlier ones, null included.
fn map_replace(b: &mut Value, v: Value) {
    match (b, v) {
        (Value::Mapping(bm), Value::Mapping(om)) => {
            for (k, val) in om {
                bm.insert(k, val);
            }
        }
        (b, v) => *b = v,
    }
}

/// Appends `v`'s items to `b`, an item whose key is already present replacing it in place.
fn unique_by(b: &mut Value, v: Value, key: impl Fn(&Value) -> String) {
    let (Value::Sequence(bs), Value::Sequence(os)) = (&mut *b, &v) else {
        *b = v;
        return;
    };
    let mut index: HashMap<String, usize> = HashMap::with_capacity(bs.len() + os.len());
    let mut out: Vec<Value> = Vec::with_capacity(bs.len() + os.len());
    for item in bs.drain(..).chain(os.iter().cloned()) {
        let k = key(&item);
        match index.get(&k) {
            Some(&i) => out[i] = item,
            None => {
                index.insert(k, out.len());
                out.push(item);
            }
        }
    }
    *bs = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(y: &str) -> Mapping {
        serde_yaml::from_str(y).unwrap()
    }

    fn merged(a: &str, b: &str) -> Mapping {
        let mut base = svc(a);
        merge_service(&mut base, svc(b));
        base
    }

    #[test]
    fn rules_table() {
        // (base, override, key, expected)
        let cases: &[(&str, &str, &str, &str)] = &[
            ("command: [a, b]", "command: [c]", "command", "[c]"),
            ("entrypoint: [a]", "entrypoint: [b, c]", "entrypoint", "[b, c]"),
            (
                "healthcheck: {test: [CMD, a], interval: 1s}",
                "healthcheck: {test: [CMD, b]}",
                "healthcheck",
                "{test: [CMD, b], interval: 1s}",
            ),
            ("environment: {A: '1', B: '2'}", "environment: {B: '3', C: null}", "environment", "{A: '1', B: '3', C: null}"),
            ("labels: {a: x}", "labels: {b: y}", "labels", "{a: x, b: y}"),
            (
                "ports: [{target: 80, published: 8080, protocol: tcp}]",
                "ports: [{target: 80, published: 8080, protocol: tcp}, {target: 81, protocol: tcp}]",
                "ports",
                "[{target: 80, published: 8080, protocol: tcp}, {target: 81, protocol: tcp}]",
            ),
            (
                "volumes: [{type: volume, source: a, target: /d}, {type: volume, target: /e}]",
                "volumes: [{type: bind, source: /x, target: /d}]",
                "volumes",
                "[{type: bind, source: /x, target: /d}, {type: volume, target: /e}]",
            ),
            ("dns: [a, b]", "dns: [b, c]", "dns", "[a, b, c]"),
            ("security_opt: [a]", "security_opt: [a]", "security_opt", "[a, a]"),
            (
                "networks: {front: {aliases: [a]}, back: null}",
                "networks: {front: {aliases: [a, b]}, other: null}",
                "networks",
                "{front: {aliases: [a, b]}, back: null, other: null}",
            ),
            (
                "depends_on: {db: {condition: service_started, required: true}}",
                "depends_on: {db: {condition: service_healthy}}",
                "depends_on",
                "{db: {condition: service_healthy, required: true}}",
            ),
            (
                "logging: {driver: json-file, options: {max-size: 1m}}",
                "logging: {options: {max-file: '3'}}",
                "logging",
                "{driver: json-file, options: {max-size: 1m, max-file: '3'}}",
            ),
            (
                "logging: {driver: json-file, options: {max-size: 1m}}",
                "logging: {driver: syslog}",
                "logging",
                "{driver: syslog}",
            ),
            ("ulimits: {nofile: {soft: 1, hard: 2}}", "ulimits: {nofile: 5}", "ulimits", "{nofile: 5}"),
            ("image: a", "image: b", "image", "b"),
            ("deploy: {replicas: 1, labels: {a: b}}", "deploy: {labels: {c: d}}", "deploy", "{replicas: 1, labels: {a: b, c: d}}"),
            ("ports: [{target: 1, protocol: tcp}]", "ports: !override [{target: 2, protocol: tcp}]", "ports", "[{target: 2, protocol: tcp}]"),
        ];
        for (a, b, key, want) in cases {
            let m = merged(a, b);
            let want: Value = serde_yaml::from_str(want).unwrap();
            assert_eq!(m.get(*key), Some(&want), "{a} + {b}");
        }
    }

    #[test]
    fn reset_removes() {
        let m = merged("ports: [{target: 1}]\nimage: a", "ports: !reset []");
        assert!(m.get("ports").is_none());
    }

    #[test]
    fn model_merge_services_and_resources() {
        let mut base: Mapping =
            serde_yaml::from_str("services: {a: {image: x}}\nnetworks: {n: {driver: bridge}}")
                .unwrap();
        let over: Mapping = serde_yaml::from_str(
            "services: {a: {user: u}, b: {image: y}}\nnetworks: {n: {internal: true}}",
        )
        .unwrap();
        merge_model(&mut base, over);
        let want: Mapping = serde_yaml::from_str(
            "services: {a: {image: x, user: u}, b: {image: y}}\nnetworks: {n: {driver: bridge, internal: true}}",
        )
        .unwrap();
        assert_eq!(base, want);
    }
}
