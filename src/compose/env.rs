//! Env files (`.env`, `--env-file`, a service's `env_file`), parsed the way compose-go's dotenv
//! parser does: `KEY=VALUE`, `export KEY=VALUE`, YAML-style `KEY: VALUE`, a bare `KEY` taken from
//! the environment, `#` comments (inline only after a space on unquoted values), single quotes
//! literal, double quotes with escapes, and `${...}` interpolation of unquoted and double-quoted
//! values from the given environment first, then from the variables already read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_yaml::Value;

use super::error::ComposeError;

/// Runs the project interpolator on `value`, mapping its error to one naming `file`.
pub(crate) fn interpolate(
    file: &Path,
    value: &mut Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ComposeError> {
    super::interpolate::interpolate(value, lookup).map_err(|e| ComposeError::Interpolate {
        file: file.to_path_buf(),
        path: e.path,
        message: e.message,
    })
}

/// Reads an env file. A missing file is [`ComposeError::EnvFileNotFound`].
pub fn read_env_file(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, String>, ComposeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ComposeError::EnvFileNotFound {
                path: path.to_path_buf(),
            })
        }
        Err(e) => {
            return Err(ComposeError::EnvFile {
                file: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    parse_env(path, &text, lookup)
}

/// The variables of several env files (later files win), their own `${}` references resolved
/// against `env` first, then against what was read so far.
pub fn read_env_files(
    env: &HashMap<String, String>,
    files: &[PathBuf],
) -> Result<IndexMap<String, String>, ComposeError> {
    let mut all: IndexMap<String, String> = IndexMap::new();
    for f in files {
        let lookup = |k: &str| env.get(k).or_else(|| all.get(k)).cloned();
        let vars = read_env_file(f, &lookup)?;
        all.extend(vars);
    }
    Ok(all)
}

/// Parses env-file text (`file` is for messages only).
pub fn parse_env(
    file: &Path,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, String>, ComposeError> {
    let mut out: IndexMap<String, String> = IndexMap::new();
    let err = |line: usize, message: String| ComposeError::EnvFile {
        file: file.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let bytes = text;
    let mut rest = bytes;
    let mut line = 1usize;
    loop {
        // Skip blank space and comment lines.
        loop {
            let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace());
            line += rest[..rest.len() - trimmed.len()].matches('\n').count();
            rest = trimmed;
            if rest.starts_with('#') {
                match rest.find('\n') {
                    Some(i) => rest = &rest[i..],
                    None => rest = "",
                }
            } else {
                break;
            }
        }
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix("export") {
            if after.starts_with([' ', '\t']) {
                rest = after.trim_start_matches([' ', '\t']);
            }
        }
        // Key: up to `=`, `:` or end of line.
        let end = rest.find(['=', ':', '\n']).unwrap_or(rest.len());
        let raw_key = &rest[..end];
        let key = raw_key.trim_end();
        if key.contains(' ') || key.contains('\t') {
            return Err(err(line, "key cannot contain a space".into()));
        }
        if let Some(bad) = key
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')))
        {
            return Err(err(
                line,
                format!("unexpected character {bad:?} in variable name {key:?}"),
            ));
        }
        let sep = rest[end..].chars().next();
        if sep.is_none() || sep == Some('\n') {
            // `KEY` alone: inherited from the environment when set there.
            let known = lookup(key).or_else(|| out.get(key).cloned());
            if let Some(v) = known {
                out.insert(key.to_string(), v);
            }
            rest = &rest[end..];
            continue;
        }
        rest = rest[end + 1..].trim_start_matches([' ', '\t', '\r']);
        let (value, left) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let mut chars = String::new();
                let mut escaped = false;
                let mut close = None;
                for (i, c) in rest.char_indices().skip(1) {
                    if c == '\n' {
                        line += 1;
                    }
                    if c != q {
                        if !escaped && c == '\\' {
                            escaped = true;
                            continue;
                        }
                        if escaped {
                            escaped = false;
                            chars.push('\\');
                        }
                        chars.push(c);
                        continue;
                    }
                    if escaped {
                        escaped = false;
                        chars.push(c);
                        continue;
                    }
                    close = Some(i);
                    break;
                }
                let Some(i) = close else {
                    let first = rest.lines().next().unwrap_or(rest);
                    return Err(err(line, format!("unterminated quoted value {first}")));
                };
                let value = if q == '"' {
                    expand(file, &expand_escapes(&chars), &out, lookup)?
                } else {
                    chars
                };
                (value, &rest[i + 1..])
            }
            _ => {
                let (raw, left) = match rest.find('\n') {
                    Some(i) => (&rest[..i], &rest[i..]),
                    None => (rest, ""),
                };
                let raw = match raw.find(" #") {
                    Some(i) => &raw[..i],
                    None => raw,
                };
                (expand(file, raw.trim_end(), &out, lookup)?, left)
            }
        };
        out.insert(key.to_string(), value);
        rest = left;
    }
    Ok(out)
}

fn expand(
    file: &Path,
    raw: &str,
    so_far: &IndexMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ComposeError> {
    if !raw.contains('$') {
        return Ok(raw.to_string());
    }
    let mut v = Value::String(raw.to_string());
    let both = |k: &str| lookup(k).or_else(|| so_far.get(k).cloned());
    interpolate(file, &mut v, &both)?;
    Ok(match v {
        Value::String(s) => s,
        other => super::value::scalar(&other).unwrap_or_default(),
    })
}

/// Shell escapes in double-quoted values; `\$` stays a literal dollar (`$$` for the
/// interpolator).
fn expand_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.peek().copied() {
            Some(n @ ('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '$' | '"' | '\\')) => {
                it.next();
                out.push_str(match n {
                    'a' => "\u{7}",
                    'b' => "\u{8}",
                    'f' => "\u{c}",
                    'n' => "\n",
                    'r' => "\r",
                    't' => "\t",
                    'v' => "\u{b}",
                    '$' => "$$",
                    '"' => "\"",
                    _ => "\\",
                });
            }
            _ => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> IndexMap<String, String> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_env(Path::new(".env"), text, &|k| env.get(k).cloned()).unwrap()
    }

    #[test]
    fn forms() {
        let m = parse(
            "# c\nA=1\nexport B = two words # comment\nC='lit $A'\nD=\"q\\n$A\"\nE: yaml\nF=\nINH\nG=${A}-${B}\n",
            &[("INH", "from-env")],
        );
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "lit $A");
        assert_eq!(m["D"], "q\n1");
        assert_eq!(m["E"], "yaml");
        assert_eq!(m["F"], "");
        assert_eq!(m["INH"], "from-env");
        assert_eq!(m["G"], "1-two words");
    }

    #[test]
    fn environment_wins_inside_the_file() {
        let m = parse("A=file\nB=$A\n", &[("A", "env")]);
        assert_eq!(m["B"], "env");
    }

    #[test]
    fn errors_name_line() {
        let e = parse_env(Path::new("x.env"), "A=1\nB C=2\n", &|_| None).unwrap_err();
        assert!(e.to_string().contains("x.env"), "{e}");
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse_env(Path::new("x.env"), "A=\"open\n", &|_| None).unwrap_err();
        assert!(e.to_string().contains("unterminated"), "{e}");
    }
}
