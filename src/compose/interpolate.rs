//! Compose variable interpolation (`$VAR`, `${VAR:-default}`, …) over a parsed YAML tree, then
//! the type casts Compose applies to the fields whose schema type is not a string.
//!
//! Behaviour follows compose-go (`template/template.go`, `interpolation/interpolation.go`,
//! `loader/interpolate.go`), corner cases included:
//! - a `$` that starts nothing (`$`, `$1`, `$}`, `$-`) stays literal; `$$` is a literal `$`;
//! - `${NAME}` must close right after the name, anything else there is an invalid format;
//! - `${NAME<op>…}` runs to the last `}` on its line (compose's regex is greedy and `.` stops
//!   at a newline), then is cut back at the first balanced `}` using compose-go's brace counter;
//! - defaults, replacements and `?` messages are expanded only when used, so an error inside
//!   an unused branch is no error;
//! - mapping keys are never interpolated, only mapping values and sequence items.

use serde_yaml::Value;

/// Looks a variable up: `None` when unset, `Some("")` when set but empty.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A failure to interpolate or cast one scalar of a compose tree.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{path}: {message}")]
pub struct InterpolateError {
    /// Where the value sits, e.g. `services.web.environment.FOO`; list items are `[index]`.
    pub path: String,
    /// What went wrong, e.g. `required variable TAG is missing a value: must be set`.
    pub message: String,
}

/// Interpolates every string scalar of `value` in place (mapping values and sequence items,
/// never mapping keys), then casts the strings found at compose's typed paths (`SERVICE_CASTS`,
/// `TOP_CASTS`). The first failure in document order is returned; the tree may then be partly
/// rewritten.
pub fn interpolate(value: &mut Value, env: Lookup<'_>) -> Result<(), InterpolateError> {
    walk(value, &mut Vec::new(), env)
}

/// Interpolates one string. The error is the message alone, without a path.
pub fn interpolate_str(s: &str, env: Lookup<'_>) -> Result<String, String> {
    substitute(s, env).map_err(|f| f.describe(s))
}

// ---------------------------------------------------------------------------------------------
// The scanner.

/// Why a template could not be expanded; the callers render it with or without a path.
#[derive(Debug)]
enum Failure {
    /// A malformed `${…}` (compose-go's `InvalidTemplateError`).
    Invalid,
    /// `${NAME?reason}` / `${NAME:?reason}` on a missing value; `reason` already expanded.
    Required { name: String, reason: String },
}

impl Failure {
    /// Compose's wording; `template` is the whole scalar being interpolated. The caller adds
    /// the path in front (`services.web.image: …`), so it is not repeated here.
    fn describe(&self, template: &str) -> String {
        match self {
            Failure::Invalid => {
                format!(
                    "invalid interpolation format: {template:?}; \
                     you may need to escape any $ with another $"
                )
            }
            Failure::Required { name, reason } if reason.is_empty() => {
                format!("required variable {name} is missing a value")
            }
            Failure::Required { name, reason } => {
                format!("required variable {name} is missing a value: {reason}")
            }
        }
    }
}

/// Expands every `$` form of `template`, left to right; the first failure wins.
fn substitute(template: &str, env: Lookup<'_>) -> Result<String, Failure> {
    let mut out = String::with_capacity(template.len());
    let mut copied = 0; // `template[..copied]` is already in `out`
    while let Some(found) = template[copied..].find('$') {
        let dollar = copied + found;
        out.push_str(&template[copied..dollar]);
        let (text, next) = expand(template, dollar, env)?;
        out.push_str(&text);
        copied = next;
    }
    out.push_str(&template[copied..]);
    Ok(out)
}

/// Expands the form starting at the `$` at byte `dollar`: its text and the byte just after it.
fn expand(s: &str, dollar: usize, env: Lookup<'_>) -> Result<(String, usize), Failure> {
    match s.as_bytes().get(dollar + 1) {
        Some(b'$') => Ok(("$".to_owned(), dollar + 2)),
        Some(b'{') => braced(s, dollar, env),
        _ => match name_end(s, dollar + 1) {
            // Compose's pattern does not match here, so the `$` is kept as written.
            end if end == dollar + 1 => Ok(("$".to_owned(), end)),
            end => Ok((env(&s[dollar + 1..end]).unwrap_or_default(), end)),
        },
    }
}

/// End of the variable name starting at byte `start` (`start` itself when there is none).
/// ASCII only: `[_a-zA-Z][_a-zA-Z0-9]*`.
fn name_end(s: &str, start: usize) -> usize {
    let bytes = s.as_bytes();
    match bytes.get(start) {
        Some(&b) if b == b'_' || b.is_ascii_alphabetic() => {}
        _ => return start,
    }
    let tail = bytes[start + 1..]
        .iter()
        .take_while(|&&b| b == b'_' || b.is_ascii_alphanumeric())
        .count();
    start + 1 + tail
}

/// What an operator does with the text after it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OpKind {
    /// `-`: the text replaces a missing value.
    Default,
    /// `+`: the text replaces a present value.
    Replace,
    /// `?`: a missing value is an error with the text as reason.
    Require,
}

/// An operator after a name; `colon` (`:-`, `:+`, `:?`) makes an empty value count as missing.
#[derive(Debug, Clone, Copy)]
struct Op {
    kind: OpKind,
    colon: bool,
}

/// `${…}` starting at the `$` at byte `dollar`.
fn braced(s: &str, dollar: usize, env: Lookup<'_>) -> Result<(String, usize), Failure> {
    let name_start = dollar + 2;
    let after_name = name_end(s, name_start);
    if after_name == name_start {
        return Err(Failure::Invalid);
    }
    let name = &s[name_start..after_name];
    if s.as_bytes().get(after_name) == Some(&b'}') {
        return Ok((env(name).unwrap_or_default(), after_name + 1));
    }
    let (op, arg_start) = operator(s.as_bytes(), after_name).ok_or(Failure::Invalid)?;
    let close = closing_brace(s, dollar, arg_start).ok_or(Failure::Invalid)?;
    let value = apply(op, name, &s[arg_start..close], env)?;
    Ok((value, close + 1))
}

/// The operator at byte `at`, and where the text after it starts.
fn operator(bytes: &[u8], at: usize) -> Option<(Op, usize)> {
    let colon = bytes.get(at) == Some(&b':');
    let kind_at = at + usize::from(colon);
    let kind = match bytes.get(kind_at)? {
        b'-' => OpKind::Default,
        b'+' => OpKind::Replace,
        b'?' => OpKind::Require,
        _ => return None,
    };
    Some((Op { kind, colon }, kind_at + 1))
}

/// The `}` closing the `${` at `dollar`, whose operator text starts at `arg_start`.
fn closing_brace(s: &str, dollar: usize, arg_start: usize) -> Option<usize> {
    // Compose's regex ends an operator form at the last `}` of the line…
    let line_end = s[arg_start..].find('\n').map_or(s.len(), |n| arg_start + n);
    let last = arg_start + s[arg_start..line_end].rfind('}')?;
    // …then cuts it back at the first balanced `}`, which leaves text after it to expand.
    Some(first_balanced_close(&s.as_bytes()[dollar..=last]).map_or(last, |n| dollar + n))
}

/// compose-go's `getFirstBraceClosingIndex`, quirk included: the byte after each `{` is
/// skipped, so `{}` inside a default does not count as a closed pair.
fn first_balanced_close(bytes: &[u8]) -> Option<usize> {
    let mut open = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'}' => {
                open = open.saturating_sub(1);
                if open == 0 {
                    return Some(i);
                }
            }
            b'{' => {
                open += 1;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Applies `op` to `name`; `arg` is expanded only when it is used (compose is lazy here too).
fn apply(op: Op, name: &str, arg: &str, env: Lookup<'_>) -> Result<String, Failure> {
    let value = env(name);
    let missing = match &value {
        None => true,
        Some(v) => op.colon && v.is_empty(),
    };
    match (op.kind, missing) {
        (OpKind::Default, true) | (OpKind::Replace, false) => substitute(arg, env),
        (OpKind::Require, true) => Err(Failure::Required {
            name: name.to_owned(),
            reason: substitute(arg, env)?,
        }),
        // Present for `-`/`?`; missing for `+`, which then yields the (empty) value itself.
        _ => Ok(value.unwrap_or_default()),
    }
}

// ---------------------------------------------------------------------------------------------
// The tree walk.

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn walk(value: &mut Value, path: &mut Vec<Seg>, env: Lookup<'_>) -> Result<(), InterpolateError> {
    match value {
        Value::String(s) => {
            let new = scalar(s, path, env)?;
            *value = new;
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                walk(item, path, env)?;
                path.pop();
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                path.push(Seg::Key(key_text(key)));
                walk(item, path, env)?;
                path.pop();
            }
        }
        // `!reset` / `!override` and the like: the tagged value sits at the same path.
        Value::Tagged(tagged) => walk(&mut tagged.value, path, env)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// One interpolated string scalar, cast when its path is typed.
fn scalar(s: &str, path: &[Seg], env: Lookup<'_>) -> Result<Value, InterpolateError> {
    let fail = |message| InterpolateError {
        path: render(path),
        message,
    };
    let text = substitute(s, env).map_err(|f| fail(f.describe(s)))?;
    match cast_for(path) {
        None => Ok(Value::String(text)),
        Some(cast) => cast
            .apply(text)
            .map_err(|e| fail(format!("failed to cast to expected type: {e}"))),
    }
}

/// A mapping key as a path step; non-string keys (`80:`) as YAML writes them.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .map(|t| t.trim_end().to_owned())
            .unwrap_or_default(),
    }
}

/// `services.web.ports[0].target`.
fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Type casts.

/// The type a string at a typed path is converted to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cast {
    /// compose-go's `toInt` / `toInt64` (both 64-bit): decimal, optional sign.
    Int,
    /// `toFloat`.
    Float,
    /// `toFloat32`: range-checked as a 32-bit float, stored as parsed.
    Float32,
    /// `toBoolean`: YAML 1.1 spellings, case-insensitive.
    Bool,
    /// An int when it is one, else left as is (`published` may be a range like `8000-8010`).
    IntIfInteger,
}

/// Typed paths under `services.*`. `*` matches any step, `[]` a sequence index only.
/// compose-go's list, plus two for docker-compose-types, which takes no numeric strings:
/// `mem_swappiness` (compose-go converts it later, while decoding) and an integer
/// `ports.[].published` (compose-go keeps a string; a range stays one here too).
const SERVICE_CASTS: &[(&[&str], Cast)] = &[
    (&["cpu_count"], Cast::Int),
    (&["cpu_percent"], Cast::Float),
    (&["cpu_period"], Cast::Int),
    (&["cpu_quota"], Cast::Int),
    (&["cpu_rt_period"], Cast::Int),
    (&["cpu_rt_runtime"], Cast::Int),
    (&["cpus"], Cast::Float32),
    (&["cpu_shares"], Cast::Int),
    (&["init"], Cast::Bool),
    (&["depends_on", "*", "required"], Cast::Bool),
    (&["depends_on", "*", "restart"], Cast::Bool),
    (&["deploy", "replicas"], Cast::Int),
    (&["deploy", "update_config", "parallelism"], Cast::Int),
    (
        &["deploy", "update_config", "max_failure_ratio"],
        Cast::Float,
    ),
    (&["deploy", "rollback_config", "parallelism"], Cast::Int),
    (
        &["deploy", "rollback_config", "max_failure_ratio"],
        Cast::Float,
    ),
    (&["deploy", "restart_policy", "max_attempts"], Cast::Int),
    (&["deploy", "placement", "max_replicas_per_node"], Cast::Int),
    (&["healthcheck", "retries"], Cast::Int),
    (&["healthcheck", "disable"], Cast::Bool),
    (&["mem_swappiness"], Cast::Int),
    (&["oom_kill_disable"], Cast::Bool),
    (&["oom_score_adj"], Cast::Int),
    (&["pids_limit"], Cast::Int),
    (&["ports", "[]", "target"], Cast::Int),
    (&["ports", "[]", "published"], Cast::IntIfInteger),
    (&["privileged"], Cast::Bool),
    (&["read_only"], Cast::Bool),
    (&["scale"], Cast::Int),
    (&["stdin_open"], Cast::Bool),
    (&["tty"], Cast::Bool),
    (&["ulimits", "*"], Cast::Int),
    (&["ulimits", "*", "hard"], Cast::Int),
    (&["ulimits", "*", "soft"], Cast::Int),
    (&["volumes", "[]", "read_only"], Cast::Bool),
    (&["volumes", "[]", "volume", "nocopy"], Cast::Bool),
];

/// Typed paths from the top of the file.
const TOP_CASTS: &[(&[&str], Cast)] = &[
    (&["networks", "*", "external"], Cast::Bool),
    (&["networks", "*", "internal"], Cast::Bool),
    (&["networks", "*", "attachable"], Cast::Bool),
    (&["networks", "*", "enable_ipv4"], Cast::Bool),
    (&["networks", "*", "enable_ipv6"], Cast::Bool),
    (&["volumes", "*", "external"], Cast::Bool),
    (&["secrets", "*", "external"], Cast::Bool),
    (&["configs", "*", "external"], Cast::Bool),
];

/// The cast for a value at `path`, if its path is typed.
fn cast_for(path: &[Seg]) -> Option<Cast> {
    let in_service = match path {
        [Seg::Key(top), _, rest @ ..] if top == "services" => Some(rest),
        _ => None,
    };
    let service = in_service.and_then(|rest| find_cast(SERVICE_CASTS, rest));
    service.or_else(|| find_cast(TOP_CASTS, path))
}

fn find_cast(table: &[(&[&str], Cast)], path: &[Seg]) -> Option<Cast> {
    table
        .iter()
        .find(|(pattern, _)| matches(pattern, path))
        .map(|&(_, cast)| cast)
}

fn matches(pattern: &[&str], path: &[Seg]) -> bool {
    pattern.len() == path.len()
        && pattern.iter().zip(path).all(|(p, seg)| match (*p, seg) {
            ("*", _) | ("[]", Seg::Index(_)) => true,
            (p, Seg::Key(k)) => p == k,
            _ => false,
        })
}

impl Cast {
    /// Converts `text`; the error reads like Go's strconv reason, naming the text.
    fn apply(self, text: String) -> Result<Value, String> {
        match self {
            Cast::Int => parse_int(&text).map(Value::from),
            Cast::Float => parse_float(&text, false).map(Value::from),
            Cast::Float32 => parse_float(&text, true).map(Value::from),
            Cast::Bool => parse_bool(&text).map(Value::Bool),
            Cast::IntIfInteger => Ok(parse_int(&text).map_or(Value::String(text), Value::from)),
        }
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: Rust's `i64` parser accepts the same syntax.
fn parse_int(text: &str) -> Result<i64, String> {
    use std::num::IntErrorKind::{NegOverflow, PosOverflow};
    text.parse::<i64>().map_err(|e| match e.kind() {
        PosOverflow | NegOverflow => format!("value out of range {text:?}"),
        _ => format!("invalid syntax {text:?}"),
    })
}

/// Go's `strconv.ParseFloat` for decimal input: overflow is an error there, not infinity.
fn parse_float(text: &str, single: bool) -> Result<f64, String> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    // Go takes no sign before NaN; Rust would.
    if unsigned.len() != text.len() && unsigned.eq_ignore_ascii_case("nan") {
        return Err(format!("invalid syntax {text:?}"));
    }
    let value: f64 = text
        .parse()
        .map_err(|_| format!("invalid syntax {text:?}"))?;
    let explicit_inf =
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    let overflow = if single {
        (value as f32).is_infinite()
    } else {
        value.is_infinite()
    };
    if overflow && !explicit_inf {
        return Err(format!("value out of range {text:?}"));
    }
    Ok(value)
}

/// compose-go's `toBoolean` (YAML 1.1 booleans; compose warns on the non-1.2 ones).
fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_lowercase().as_str() {
        "true" | "y" | "yes" | "on" => Ok(true),
        "false" | "n" | "no" | "off" => Ok(false),
        _ => Err(format!("invalid boolean: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// The fixed environment of the table: set, empty, JSON-ish, lower-case.
    fn fixed_env(name: &str) -> Option<String> {
        let value = match name {
            "FOO" => "first",
            "BAR" => "",
            "JSON" => r#"{"json":2}"#,
            "N" => "3",
            "lower" => "yes",
            "DOLLAR" => "$FOO",
            _ => return None,
        };
        Some(value.to_owned())
    }

    /// What a table case expects.
    enum Want {
        Is(&'static str),
        Fails(&'static str),
        /// The invalid-format message for this very input.
        Invalid,
    }
    use Want::{Fails, Invalid, Is};

    const CASES: &[(&str, Want)] = &[
        // plain, $VAR, ${VAR}
        ("plain text", Is("plain text")),
        ("$FOO", Is("first")),
        ("${FOO}", Is("first")),
        ("$FOO-bar", Is("first-bar")),
        ("${FOO}bar", Is("firstbar")),
        ("$FOO.$FOO", Is("first.first")),
        ("$lower", Is("yes")),
        ("$UNSET", Is("")),
        ("${UNSET}", Is("")),
        ("${BAR}", Is("")),
        ("$FOO_BAR", Is("")),
        ("a\n${FOO}\nb", Is("a\nfirst\nb")),
        ("$DOLLAR", Is("$FOO")),
        // $$ and lone $
        ("$$", Is("$")),
        ("$${FOO}", Is("${FOO}")),
        ("$$FOO", Is("$FOO")),
        ("$$$FOO", Is("$first")),
        ("a $ string", Is("a $ string")),
        ("^REGEX$", Is("^REGEX$")),
        ("$}", Is("$}")),
        ("$", Is("$")),
        ("$1abc", Is("$1abc")),
        ("$-x", Is("$-x")),
        ("$é", Is("$é")),
        ("$ {FOO}", Is("$ {FOO}")),
        // :- and -
        ("${FOO:-def}", Is("first")),
        ("${BAR:-def}", Is("def")),
        ("${UNSET:-def}", Is("def")),
        ("${UNSET:-}", Is("")),
        ("${FOO-def}", Is("first")),
        ("${BAR-def}", Is("")),
        ("${UNSET-def}", Is("def")),
        ("${UNSET-}", Is("")),
        ("${BAR:-/non:-alphanumeric}", Is("/non:-alphanumeric")),
        ("${UNSET-myerror?msg}", Is("myerror?msg")),
        // :+ and +
        ("${FOO:+alt}", Is("alt")),
        ("${BAR:+alt}", Is("")),
        ("${UNSET:+alt}", Is("")),
        ("${FOO+alt}", Is("alt")),
        ("${BAR+alt}", Is("alt")),
        ("${UNSET+alt}", Is("")),
        // :? and ?
        ("${FOO:?err}", Is("first")),
        ("${FOO?err}", Is("first")),
        ("${BAR?err}", Is("")),
        (
            "${BAR:?must be set}",
            Fails("required variable BAR is missing a value: must be set"),
        ),
        (
            "x ${UNSET:?must be set}",
            Fails("required variable UNSET is missing a value: must be set"),
        ),
        (
            "${UNSET:?}",
            Fails("required variable UNSET is missing a value"),
        ),
        (
            "${BAR:?}",
            Fails("required variable BAR is missing a value"),
        ),
        (
            "${UNSET?bar-baz}",
            Fails("required variable UNSET is missing a value: bar-baz"),
        ),
        (
            "${UNSET?}",
            Fails("required variable UNSET is missing a value"),
        ),
        (
            "${UNSET?${FOO} is needed}",
            Fails("required variable UNSET is missing a value: first is needed"),
        ),
        // nesting, laziness, what follows a cut-back `}`
        ("${UNSET:-${OTHER:-x}}", Is("x")),
        ("${UNSET:-${FOO}}", Is("first")),
        ("${UNSET-$FOO and ${FOO}}", Is("first and first")),
        ("${BAR+$FOO ${FOO:+second}}", Is("first second")),
        ("${FOO:-${UNSET?never}}", Is("first")),
        ("${FOO?${}}", Is("first")),
        ("${FOO:-${}}", Is("first")),
        (
            "${UNSET:?${OTHER:?inner}}",
            Fails("required variable OTHER is missing a value: inner"),
        ),
        ("${UNSET:-a}-${FOO:-b}}", Is("a-first}")),
        ("${UNSET:-x}}", Is("x}")),
        ("ok ${SUB:-redis}.${FOO:?}", Is("ok redis.first")),
        (r#"${UNSET:-{"json":1}}"#, Is(r#"{"json":1}"#)),
        (r#"${JSON:-{"json":1}}"#, Is(r#"{"json":2}"#)),
        // compose-go's brace counter skips the byte after `{`, so `{}` does not close here.
        ("${UNSET:-{}}x}", Is("{}}x")),
        // invalid formats
        ("${", Invalid),
        ("${}", Invalid),
        ("${ }", Invalid),
        ("${ foo}", Invalid),
        ("${foo }", Invalid),
        ("${foo!}", Invalid),
        ("${1}", Invalid),
        ("${FOO.BAR}", Invalid),
        ("${FOO:x}", Invalid),
        ("${FOO:}", Invalid),
        ("${FOO:-x", Invalid),
        ("${UNSET:-x\n}", Invalid),
        ("${UNSET:-${}}", Invalid),
        ("ok $FOO then ${", Invalid),
    ];

    #[test]
    fn table() {
        for (input, want) in CASES {
            let got = interpolate_str(input, &fixed_env);
            let want = match want {
                Is(s) => Ok(s.to_string()),
                Fails(m) => Err(m.to_string()),
                Invalid => Err(format!(
                    "invalid interpolation format: {input:?}; \
                     you may need to escape any $ with another $"
                )),
            };
            assert_eq!(got, want, "input {input:?}");
        }
        assert!(CASES.len() >= 40);
    }

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    fn run(text: &str) -> Result<Value, InterpolateError> {
        let mut v = yaml(text);
        interpolate(&mut v, &fixed_env).map(|()| v)
    }

    fn fails(text: &str, path: &str, message: &str) {
        let want = InterpolateError {
            path: path.to_owned(),
            message: message.to_owned(),
        };
        assert_eq!(run(text), Err(want), "{text}");
    }

    #[test]
    fn values_and_sequence_items_are_interpolated_keys_are_not() {
        let got = run(
            "services:\n  web:\n    image: app:${FOO}\n    command: [echo, $FOO, 3]\n\
             \x20   labels:\n      $FOO: $FOO\nx-list: [[$FOO]]\n",
        );
        let want = yaml(
            "services:\n  web:\n    image: app:first\n    command: [echo, first, 3]\n\
             \x20   labels:\n      $FOO: first\nx-list: [[first]]\n",
        );
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn errors_name_the_path() {
        fails(
            "services:\n  web:\n    image: ${TAG:?must be set}\n",
            "services.web.image",
            "required variable TAG is missing a value: must be set",
        );
        fails(
            "services:\n  web:\n    environment: [A=1, \"B=${X?}\"]\n",
            "services.web.environment[1]",
            "required variable X is missing a value",
        );
        fails(
            "services:\n  web:\n    image: \"${\"\n",
            "services.web.image",
            "invalid interpolation format: \"${\"; \
             you may need to escape any $ with another $",
        );
        let err = run("a:\n  b: ${X:?gone}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.b: required variable X is missing a value: gone"
        );
    }

    #[test]
    fn tagged_values_are_interpolated() {
        let got = run("services:\n  web:\n    image: !override ${FOO}\n").unwrap();
        let want = yaml("services:\n  web:\n    image: !override first\n");
        assert_eq!(got, want);
    }

    #[test]
    fn typed_paths_are_cast() {
        let got = run(concat!(
            "services:\n",
            "  web:\n",
            "    deploy:\n",
            "      replicas: ${N}\n",
            "      update_config: {parallelism: '2', max_failure_ratio: '0.5'}\n",
            "    scale: '4'\n",
            "    cpus: '0.5'\n",
            "    cpu_count: '-1'\n",
            "    mem_swappiness: '60'\n",
            "    privileged: ON\n",
            "    tty: ${lower}\n",
            "    read_only: 'n'\n",
            "    init: 'true'\n",
            "    healthcheck: {retries: '5', disable: 'off'}\n",
            "    ports: [{target: '80', published: '8080'}, {target: '81', published: 90-91}]\n",
            "    ulimits: {nproc: '65535', nofile: {soft: '1024', hard: '2048'}}\n",
            "    depends_on: {db: {required: 'false', restart: 'yes'}}\n",
            "    volumes: [{read_only: 'true', volume: {nocopy: 'y'}}]\n",
            "    environment: {PORT: '80'}\n",
            "networks:\n  front: {external: 'true', internal: 'no', enable_ipv6: 'TRUE'}\n",
            "volumes:\n  data: {external: 'yes'}\n",
            "secrets:\n  s: {external: 'false'}\n",
            "configs:\n  c: {external: 'on'}\n",
        ))
        .unwrap();
        let want = yaml(concat!(
            "services:\n",
            "  web:\n",
            "    deploy:\n",
            "      replicas: 3\n",
            "      update_config: {parallelism: 2, max_failure_ratio: 0.5}\n",
            "    scale: 4\n",
            "    cpus: 0.5\n",
            "    cpu_count: -1\n",
            "    mem_swappiness: 60\n",
            "    privileged: true\n",
            "    tty: true\n",
            "    read_only: false\n",
            "    init: true\n",
            "    healthcheck: {retries: 5, disable: false}\n",
            "    ports: [{target: 80, published: 8080}, {target: 81, published: 90-91}]\n",
            "    ulimits: {nproc: 65535, nofile: {soft: 1024, hard: 2048}}\n",
            "    depends_on: {db: {required: false, restart: true}}\n",
            "    volumes: [{read_only: true, volume: {nocopy: true}}]\n",
            "    environment: {PORT: '80'}\n",
            "networks:\n  front: {external: true, internal: false, enable_ipv6: true}\n",
            "volumes:\n  data: {external: true}\n",
            "secrets:\n  s: {external: false}\n",
            "configs:\n  c: {external: true}\n",
        ));
        assert_eq!(got, want);
    }

    #[test]
    fn untyped_or_already_typed_values_are_left_alone() {
        let text = "services:\n  web:\n    deploy: {replicas: 2}\n    image: '3'\n\
                    \x20   ports: {target: '80'}\nx-networks:\n  n: {external: 'true'}\n";
        assert_eq!(run(text), Ok(yaml(text)));
    }

    #[test]
    fn cast_errors_name_the_path() {
        fails(
            "services:\n  web:\n    deploy: {replicas: abc}\n",
            "services.web.deploy.replicas",
            "failed to cast to expected type: invalid syntax \"abc\"",
        );
        fails(
            "services:\n  web:\n    deploy: {replicas: '${UNSET}'}\n",
            "services.web.deploy.replicas",
            "failed to cast to expected type: invalid syntax \"\"",
        );
        fails(
            "services:\n  web:\n    ports: [{target: '80'}, {target: eighty}]\n",
            "services.web.ports[1].target",
            "failed to cast to expected type: invalid syntax \"eighty\"",
        );
        fails(
            "services:\n  web:\n    pids_limit: '99999999999999999999'\n",
            "services.web.pids_limit",
            "failed to cast to expected type: value out of range \"99999999999999999999\"",
        );
        fails(
            "services:\n  web:\n    cpus: '1e39'\n",
            "services.web.cpus",
            "failed to cast to expected type: value out of range \"1e39\"",
        );
        fails(
            "services:\n  web:\n    tty: maybe\n",
            "services.web.tty",
            "failed to cast to expected type: invalid boolean: maybe",
        );
        fails(
            "networks:\n  front: {external: '${FOO}'}\n",
            "networks.front.external",
            "failed to cast to expected type: invalid boolean: first",
        );
    }

    #[test]
    fn go_float_syntax() {
        assert_eq!(parse_float("1.5", false), Ok(1.5));
        assert_eq!(parse_float("-.5e1", false), Ok(-5.0));
        assert_eq!(parse_float("+Inf", false), Ok(f64::INFINITY));
        assert!(parse_float("NaN", false).unwrap().is_nan());
        assert!(parse_float("-nan", false).is_err());
        assert!(parse_float("1e400", false).is_err());
        assert_eq!(parse_float("1e39", false), Ok(1e39));
        assert!(parse_float("1_0", false).is_err());
        assert_eq!(parse_int("+7"), Ok(7));
        assert!(parse_int("0x10").is_err());
    }

    // -----------------------------------------------------------------------------------------
    // Properties.

    /// Strings dense in interpolation syntax.
    const TEMPLATE: &str = r"[$${}:?+\-_ABab0-9 .\n{}é]{0,24}";

    fn any_text() -> BoxedStrategy<String> {
        prop_oneof![any::<String>(), TEMPLATE].boxed()
    }

    fn any_env() -> impl Strategy<Value = HashMap<String, String>> {
        prop::collection::hash_map("[AB_][AB0-9_]{0,1}", TEMPLATE, 0..5)
    }

    fn tree_key() -> impl Strategy<Value = String> {
        let keys = [
            "services",
            "web",
            "deploy",
            "replicas",
            "ports",
            "target",
            "published",
            "ulimits",
            "nofile",
            "soft",
            "networks",
            "external",
            "cpus",
            "tty",
            "volumes",
            "$A",
            "x",
        ];
        prop::sample::select(keys.map(str::to_owned).to_vec())
    }

    fn any_tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            prop_oneof![TEMPLATE, "[0-9]{1,3}", "yes|no|maybe"].prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
                prop::collection::vec((tree_key(), inner), 0..4).prop_map(|pairs| {
                    Value::Mapping(
                        pairs
                            .into_iter()
                            .map(|(k, v)| (Value::String(k), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    /// Every mapping key of a tree, in document order.
    fn keys(value: &Value, out: &mut Vec<Value>) {
        match value {
            Value::Sequence(items) => items.iter().for_each(|v| keys(v, out)),
            Value::Mapping(map) => map.iter().for_each(|(k, v)| {
                out.push(k.clone());
                keys(v, out);
            }),
            Value::Tagged(t) => keys(&t.value, out),
            _ => {}
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in any_text(), env in any_env()) {
            let lookup = |k: &str| env.get(k).cloned();
            let _ = interpolate_str(&s, &lookup);
        }

        #[test]
        fn text_without_dollar_is_unchanged(s in "[^$]{0,40}", env in any_env()) {
            let lookup = |k: &str| env.get(k).cloned();
            prop_assert_eq!(interpolate_str(&s, &lookup), Ok(s.clone()));
        }

        #[test]
        fn text_without_brace_never_fails(s in "[^{]{0,40}", env in any_env()) {
            let lookup = |k: &str| env.get(k).cloned();
            prop_assert!(interpolate_str(&s, &lookup).is_ok());
        }

        #[test]
        fn escaped_dollars_round_trip(s in any_text(), env in any_env()) {
            let lookup = |k: &str| env.get(k).cloned();
            let escaped = s.replace('$', "$$");
            prop_assert_eq!(interpolate_str(&escaped, &lookup), Ok(s.clone()));
        }

        #[test]
        fn trees_never_panic_and_keep_their_keys(tree in any_tree(), env in any_env()) {
            let lookup = |k: &str| env.get(k).cloned();
            let mut before = Vec::new();
            keys(&tree, &mut before);
            let mut value = tree;
            if interpolate(&mut value, &lookup).is_ok() {
                let mut after = Vec::new();
                keys(&value, &mut after);
                prop_assert_eq!(before, after);
            }
        }
    }
}
