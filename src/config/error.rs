//! Configuration errors. Each names where the bad value came from: a flag, an env var or a key of
//! docker-flow.yml (see [`Source`]), so the user knows which of the three places to fix.

use std::fmt;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--scale` (shown as `--scale flag`).
    Flag(&'static str),
    /// The positional argument of a command, e.g. `docker flow scale <N|+N|-N>`.
    Argument(&'static str),
    /// An environment variable, e.g. `FLOW_SCALE`.
    Env(String),
    /// A key of the settings file (`file` as the user gave it, e.g. `docker-flow.yml`).
    File { file: String, key: String },
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag} flag"),
            Source::Argument(name) => write!(f, "{name} argument"),
            Source::Env(var) => f.write_str(var),
            Source::File { file, key } => write!(f, "{file} key {key}"),
            Source::Default => f.write_str("default"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A value that does not parse: `invalid scale "+x" (from FLOW_SCALE): expected N, +N or -N`.
    #[error("invalid {what} {value:?} (from {origin}): {expected}")]
    Invalid {
        what: &'static str,
        value: String,
        origin: Source,
        expected: String,
    },
    /// A required setting that no source gives.
    #[error("{what} is required {when}: set {how}")]
    Missing {
        what: &'static str,
        when: String,
        how: String,
    },
    /// `FLOW_X=` (set but empty) for a single-valued setting.
    #[error("{var} is set but empty: give it a value or unset it")]
    EmptyEnv { var: String },
    /// Two settings that cannot go together (each named with its source).
    #[error("{0}")]
    Conflict(String),
    /// A key docker-flow.yml does not know.
    #[error("{file}: unknown key {key:?}{}", in_parens(.hint))]
    UnknownKey {
        file: String,
        key: String,
        /// `did you mean "scale"?`, or why the key is refused.
        hint: Option<String>,
    },
    /// A key of docker-flow.yml holding the wrong kind of value.
    #[error("{file} key {key}: expected {expected}, got {got}")]
    WrongType {
        file: String,
        key: String,
        expected: &'static str,
        got: &'static str,
    },
    /// docker-flow.yml is not YAML (or not a mapping at the top).
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// docker-flow.yml exists (or was asked for) but cannot be read.
    #[error("cannot read {file}: {reason}")]
    Read { file: String, reason: String },
    /// `settings_for` was given a command that runs no flow (`config`, `version`).
    #[error("`docker flow {0}` takes no flow options")]
    NotAFlow(&'static str),
}

fn in_parens(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(" ({h})"),
        None => String::new(),
    }
}

impl ConfigError {
    pub(crate) fn invalid(
        what: &'static str,
        value: &str,
        origin: &Source,
        expected: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            what,
            value: value.to_string(),
            origin: origin.clone(),
            expected: expected.into(),
        }
    }
}
