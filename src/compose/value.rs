//! Small helpers over `serde_yaml::Value` shared by the loader modules.

use serde_yaml::{Mapping, Value};

/// The text of a mapping key or scalar: strings as is, numbers and bools printed.
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

/// A short description of a value's kind, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
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

pub(crate) fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

/// The `!reset` / `!override` tag of a value (Compose's merge controls), if any.
pub(crate) fn merge_tag(v: &Value) -> Option<&'static str> {
    match v {
        Value::Tagged(t) if t.tag == "reset" => Some("reset"),
        Value::Tagged(t) if t.tag == "override" => Some("override"),
        _ => None,
    }
}

/// Removes `!reset` / `!override` tags left anywhere in the tree (after merging they mean
/// "this value, as written"; `!reset` alone means "absent").
pub(crate) fn strip_tags(v: &mut Value) {
    match v {
        Value::Tagged(t) => {
            let inner = std::mem::take(&mut t.value);
            *v = if t.tag == "reset" { Value::Null } else { inner };
            strip_tags(v);
        }
        Value::Mapping(m) => {
            let reset: Vec<Value> = m
                .iter()
                .filter(|(_, v)| merge_tag(v) == Some("reset"))
                .map(|(k, _)| k.clone())
                .collect();
            for k in reset {
                m.shift_remove(&k);
            }
            for (_, v) in m.iter_mut() {
                strip_tags(v);
            }
        }
        Value::Sequence(seq) => seq.iter_mut().for_each(strip_tags),
        _ => {}
    }
}

/// The mapping at `key`, creating an empty one (or replacing a null) when absent.
pub(crate) fn mapping_mut<'a>(m: &'a mut Mapping, key: &str) -> Option<&'a mut Mapping> {
    if !matches!(m.get(key), Some(Value::Mapping(_))) {
        match m.get(key) {
            None | Some(Value::Null) => {
                m.insert(s(key), Value::Mapping(Mapping::new()));
            }
            _ => return None,
        }
    }
    m.get_mut(key).and_then(Value::as_mapping_mut)
}

/// `path.clean()` à la Go for absolute or relative slash paths: removes `.`, resolves `..`,
/// collapses slashes, drops a trailing slash.
pub(crate) fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths_like_go() {
        assert_eq!(clean_path("/a/b/../c/./d/"), "/a/c/d");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path("//x//y"), "/x/y");
    }

    #[test]
    fn scalars_print_like_compose() {
        assert_eq!(scalar(&serde_yaml::from_str("1").unwrap()).unwrap(), "1");
        assert_eq!(
            scalar(&serde_yaml::from_str("true").unwrap()).unwrap(),
            "true"
        );
        assert_eq!(scalar(&Value::Null), None);
    }

    #[test]
    fn strip_tags_drops_reset_keys() {
        let mut v: Value = serde_yaml::from_str("a: !reset []\nb: !override [1]\nc: 2").unwrap();
        strip_tags(&mut v);
        assert_eq!(v, serde_yaml::from_str::<Value>("b: [1]\nc: 2").unwrap());
    }
}
