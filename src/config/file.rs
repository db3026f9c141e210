//! docker-flow.yml: a flat mapping of the keys in [`KEYS`] (the original tool's names), checked
//! strictly: an unknown key, a value of the wrong kind or a YAML syntax error is an error naming
//! the file (and the key, or line:column).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_yaml::Value;

use super::error::{ConfigError, Source};

/// The kind of value a key holds, for type checks and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string; a number is taken as written (`project: 2024`).
    Text,
    /// `true`/`false` (or the strings `true`, `false`, `1`, `0`).
    Bool,
    /// A list of strings, or one string for a one-item list.
    List,
    /// A whole number (a port).
    Number,
    /// A duration: `10s`, `1m30s`, `500ms`, or a whole number of seconds.
    Duration,
    /// `N`, `+N` or `-N` (kept as written: YAML would read `+2` as the number 2).
    Scale,
}

impl Kind {
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Bool => "true or false",
            Kind::List => "a string or a list of strings",
            Kind::Number => "a number",
            Kind::Duration => "a duration such as 10s or 1m30s",
            Kind::Scale => "N, +N or -N",
        }
    }
}

/// Every key docker-flow.yml may hold.
pub const KEYS: &[(&str, Kind)] = &[
    ("flow", Kind::List),
    ("target", Kind::Text),
    ("side_targets", Kind::List),
    ("pull_side_targets", Kind::Bool),
    ("skip_pull_target", Kind::Bool),
    ("blue_green", Kind::Bool),
    ("scale", Kind::Scale),
    ("compose_path", Kind::List),
    ("project", Kind::Text),
    ("project_directory", Kind::Text),
    ("profiles", Kind::List),
    ("env_files", Kind::List),
    ("host", Kind::Text),
    ("cert_path", Kind::Text),
    ("consul_address", Kind::Text),
    ("consul_cacert", Kind::Text),
    ("consul_client_cert", Kind::Text),
    ("consul_client_key", Kind::Text),
    ("consul_image", Kind::Text),
    ("proxy_host", Kind::Text),
    ("proxy_docker_host", Kind::Text),
    ("proxy_docker_cert_path", Kind::Text),
    ("proxy_context", Kind::Text),
    ("proxy_reconf_port", Kind::Number),
    ("proxy_image", Kind::Text),
    ("proxy_name", Kind::Text),
    ("proxy_http_port", Kind::Number),
    ("proxy_https_port", Kind::Number),
    ("proxy_bind_address", Kind::Text),
    ("advertise_address", Kind::Text),
    ("proxy_cert", Kind::Text),
    ("service_path", Kind::List),
    ("service_domain", Kind::List),
    ("port", Kind::Number),
    ("mode", Kind::List),
    ("path_type", Kind::Text),
    ("consul_template_path", Kind::Text),
    ("consul_template_fe_path", Kind::Text),
    ("consul_template_be_path", Kind::Text),
    ("health_path", Kind::Text),
    ("health_timeout", Kind::Duration),
    ("lock_timeout", Kind::Duration),
    ("drain_timeout", Kind::Duration),
    ("monitor", Kind::Duration),
    ("dry_run", Kind::Bool),
    ("format", Kind::Text),
];

/// Keys people may try that are deliberately not read from a file, with the reason.
const REFUSED: &[(&str, &str)] = &[
    (
        "consul_token",
        "secrets are never read from docker-flow.yml: set FLOW_CONSUL_TOKEN or CONSUL_HTTP_TOKEN",
    ),
    (
        "consul_http_token",
        "secrets are never read from docker-flow.yml: set FLOW_CONSUL_TOKEN or CONSUL_HTTP_TOKEN",
    ),
    (
        "token",
        "secrets are never read from docker-flow.yml: set FLOW_CONSUL_TOKEN or CONSUL_HTTP_TOKEN",
    ),
    (
        "test_compose_path",
        "the original tool parsed it but never used it; docker flow does not have it",
    ),
    (
        "servicename",
        "the service name is always <project>-<target>",
    ),
    (
        "flow_config",
        "the settings file cannot name another settings file: use --flow-config or FLOW_CONFIG",
    ),
];

/// A value of docker-flow.yml that passed the type check of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileValue {
    Text(String),
    Bool(bool),
    List(Vec<String>),
}

/// docker-flow.yml, parsed and checked.
#[derive(Debug, Clone, Default)]
pub struct FileConfig {
    /// The file as the user named it (`docker-flow.yml`, or the --flow-config path), for messages.
    pub name: String,
    /// The directory relative paths in the file are relative to: the file's own, as given
    /// (empty for `docker-flow.yml` in the current directory, so paths stay as written).
    pub base: PathBuf,
    values: HashMap<&'static str, FileValue>,
}

impl FileConfig {
    /// Parses the text of the file `name` (as the user gave it).
    pub fn parse(name: &str, text: &str) -> Result<FileConfig, ConfigError> {
        let file = name.to_string();
        let doc: Value = serde_yaml::from_str(text).map_err(|e| syntax(&file, &e))?;
        let base = Path::new(name)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut config = FileConfig {
            name: file.clone(),
            base,
            values: HashMap::new(),
        };
        let mapping = match doc {
            Value::Null => return Ok(config),
            Value::Mapping(m) => m,
            other => {
                return Err(ConfigError::Syntax {
                    file,
                    line: 1,
                    column: 1,
                    message: format!(
                        "expected a mapping of settings (key: value), got {}",
                        kind_of(&other)
                    ),
                })
            }
        };
        let mut numbers = Vec::new();
        for (k, v) in &mapping {
            let key = match k {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => format!("<{}>", kind_of(other)),
            };
            let Some(&(name, kind)) = KEYS.iter().find(|(n, _)| *n == key) else {
                return Err(ConfigError::UnknownKey {
                    file,
                    hint: hint_for(&key),
                    key,
                });
            };
            let wrong = |got: &Value| ConfigError::WrongType {
                file: file.clone(),
                key: name.to_string(),
                expected: kind.expected(),
                got: kind_of(got),
            };
            let value = match (kind, v) {
                (_, Value::Null) => continue,
                (Kind::Bool, Value::Bool(b)) => FileValue::Bool(*b),
                (_, Value::Bool(_)) => return Err(wrong(v)),
                (_, Value::String(s)) if kind == Kind::List => FileValue::List(vec![s.clone()]),
                (_, Value::String(s)) => FileValue::Text(s.clone()),
                (Kind::List, Value::Number(n)) => FileValue::List(vec![n.to_string()]),
                (_, Value::Number(n)) => {
                    numbers.push(name.to_string());
                    FileValue::Text(n.to_string())
                }
                (Kind::List, Value::Sequence(items)) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::String(s) => list.push(s.clone()),
                            Value::Number(n) => list.push(n.to_string()),
                            other => {
                                return Err(ConfigError::WrongType {
                                    file,
                                    key: name.to_string(),
                                    expected: "a list of strings",
                                    got: match kind_of(other) {
                                        "a list" => "a list of lists",
                                        "a mapping" => "a list holding a mapping",
                                        "a boolean" => "a list holding a boolean",
                                        "null" => "a list holding an empty item",
                                        _ => "a list holding a tagged value",
                                    },
                                })
                            }
                        }
                    }
                    FileValue::List(list)
                }
                (_, other) => return Err(wrong(other)),
            };
            config.values.insert(name, value);
        }
        // Numbers as written: YAML reads `scale: +2` as 2 and `project: 1.10` as 1.1.
        if !numbers.is_empty() {
            for (key, raw) in raw_scalars(text, &numbers) {
                if let Some((name, _)) = KEYS.iter().find(|(n, _)| *n == key) {
                    config
                        .values
                        .insert(name, FileValue::Text(raw.trim().to_string()));
                }
            }
        }
        Ok(config)
    }

    pub fn get(&self, key: &str) -> Option<&FileValue> {
        self.values.get(key)
    }

    pub fn source(&self, key: &str) -> Source {
        Source::File {
            file: self.name.clone(),
            key: key.to_string(),
        }
    }

    /// A path from the file: relative ones are relative to the file's directory.
    pub fn path(&self, value: &str) -> PathBuf {
        let p = Path::new(value);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }
}

fn syntax(file: &str, e: &serde_yaml::Error) -> ConfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    let mut message = e.to_string();
    // serde_yaml repeats the position in the text; ours goes in front.
    if let Some(loc) = e.location() {
        let at = format!(" at line {} column {}", loc.line(), loc.column());
        message = message.replacen(&at, "", 1);
    }
    ConfigError::Syntax {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// ` (did you mean "scale"?)` for a near miss, or why a known-but-refused key is refused.
fn hint_for(key: &str) -> Option<String> {
    if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == key) {
        return Some((*why).to_string());
    }
    closest(key).map(|k| format!("did you mean {k:?}?"))
}

/// The known key nearest to `key`: the same up to case and `-`/`_`, or within a small edit
/// distance.
pub fn closest(key: &str) -> Option<&'static str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let k = norm(key);
    if let Some((name, _)) = KEYS.iter().find(|(n, _)| *n == k) {
        return Some(name);
    }
    let limit = match k.chars().count() {
        0..=3 => 1,
        4..=8 => 2,
        _ => 3,
    };
    KEYS.iter()
        .map(|(n, _)| (levenshtein(&k, n), *n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The text of the top-level scalars of `keys` as written in the YAML (a second, lenient pass:
/// serde_yaml's `deserialize_str` hands over a plain scalar's text unresolved).
fn raw_scalars(text: &str, keys: &[String]) -> Vec<(String, String)> {
    struct Top<'a>(&'a [String]);
    impl<'de> Visitor<'de> for Top<'_> {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a mapping")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<Raw>()? {
                if self.0.contains(&key.0) {
                    let value: Raw = map.next_value()?;
                    out.push((key.0, value.0));
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    struct Raw(String);
    impl<'de> de::Deserialize<'de> for Raw {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Raw;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a scalar")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
                    Ok(Raw(v.to_string()))
                }
            }
            d.deserialize_str(V)
        }
    }
    serde_yaml::Deserializer::from_str(text)
        .deserialize_map(Top(keys))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text() {
        let c =
            FileConfig::parse("docker-flow.yml", "scale: +2\nproject: 1.10\nport: 8080\n").unwrap();
        assert_eq!(c.get("scale"), Some(&FileValue::Text("+2".into())));
        assert_eq!(c.get("project"), Some(&FileValue::Text("1.10".into())));
        assert_eq!(c.get("port"), Some(&FileValue::Text("8080".into())));
        let c = FileConfig::parse("f.yml", "scale: -1").unwrap();
        assert_eq!(c.get("scale"), Some(&FileValue::Text("-1".into())));
        let c = FileConfig::parse("f.yml", "scale: '+3'").unwrap();
        assert_eq!(c.get("scale"), Some(&FileValue::Text("+3".into())));
    }

    #[test]
    fn lists_and_single_strings() {
        let c = FileConfig::parse(
            "docker-flow.yml",
            "compose_path: a.yml\nside_targets: [db, 7]\nflow:\n  - deploy\n  - proxy\n",
        )
        .unwrap();
        assert_eq!(
            c.get("compose_path"),
            Some(&FileValue::List(vec!["a.yml".into()]))
        );
        assert_eq!(
            c.get("side_targets"),
            Some(&FileValue::List(vec!["db".into(), "7".into()]))
        );
        assert_eq!(
            c.get("flow"),
            Some(&FileValue::List(vec!["deploy".into(), "proxy".into()]))
        );
    }

    #[test]
    fn empty_file_comments_and_nulls_are_nothing() {
        for text in ["", "# nothing\n", "target:\n", "---\n"] {
            let c = FileConfig::parse("docker-flow.yml", text).unwrap();
            assert!(c.values.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn near_misses_get_a_suggestion() {
        assert_eq!(closest("scal"), Some("scale"));
        assert_eq!(closest("blue-green"), Some("blue_green"));
        assert_eq!(closest("side_target"), Some("side_targets"));
        assert_eq!(closest("service_paths"), Some("service_path"));
        assert_eq!(closest("Target"), Some("target"));
        assert_eq!(closest("zzzzzzzz"), None);
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let c = FileConfig::parse("conf/flow.yml", "").unwrap();
        assert_eq!(c.path("a.yml"), PathBuf::from("conf/a.yml"));
        assert_eq!(c.path("/x/a.yml"), PathBuf::from("/x/a.yml"));
        let c = FileConfig::parse("docker-flow.yml", "").unwrap();
        assert_eq!(c.path("a.yml"), PathBuf::from("a.yml"));
    }
}
