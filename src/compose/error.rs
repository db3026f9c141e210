//! Load errors. Every one is a configuration error (the CLI maps them to exit status 2) and
//! prints as one line naming the file (with line:column when YAML gives one), the service and
//! the key at fault.

use std::fmt;
use std::path::{Path, PathBuf};

/// A compose configuration error found while loading a project.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// A compose file named with `-f` / `COMPOSE_FILE` (or an `include`/`extends` target) is missing.
    #[error("compose file not found: {}", .path.display())]
    FileNotFound { path: PathBuf },

    /// No `-f` and no default file in the directory or its parents (Compose's wording).
    #[error("no configuration file provided: not found (looked for compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml in {} and its parents): run docker flow in the project's directory, or name the file with -f/--compose-path (FLOW_COMPOSE_PATH)", .dir.display())]
    NoConfigFile { dir: PathBuf },

    /// `-f -`.
    #[error("reading a compose file from stdin (-f -) is not supported by docker flow; pass a file path")]
    Stdin,

    /// A file exists but cannot be read.
    #[error("{}: {message}", .file.display())]
    Io { file: PathBuf, message: String },

    /// Malformed YAML, with serde_yaml's position when it has one.
    #[error("{}{}: {message}", .file.display(), Position(*.line, *.column))]
    Yaml {
        file: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },

    /// `--env-file` / `include.env_file` that does not exist.
    #[error("couldn't find env file: {}", .path.display())]
    EnvFileNotFound { path: PathBuf },

    /// A required service `env_file` that does not exist.
    #[error("{}: service {service:?}: env file {} not found", .file.display(), .path.display())]
    ServiceEnvFileNotFound {
        file: PathBuf,
        service: String,
        path: PathBuf,
    },

    /// A malformed env file.
    #[error("failed to read {}: {message}", .file.display())]
    EnvFile { file: PathBuf, message: String },

    /// Interpolation failed (`${X:?err}`, bad syntax, bad cast).
    #[error("{}: {message} (at {path})", .file.display())]
    Interpolate {
        file: PathBuf,
        path: String,
        message: String,
    },

    /// A key of the Compose spec that docker flow cannot honour.
    #[error("{}: {}key {key:?} is not supported by docker flow", .file.display(), ServicePrefix(.service))]
    Unsupported {
        file: PathBuf,
        service: Option<String>,
        key: String,
    },

    /// A key that is not part of the Compose spec at all.
    #[error("{}: {}key {key:?} is not a Compose {} key", .file.display(), ServicePrefix(.service), if .service.is_some() { "service" } else { "top-level" })]
    UnknownKey {
        file: PathBuf,
        service: Option<String>,
        key: String,
    },

    /// A value of a service key that is invalid (bad port, bad volume, wrong type...).
    #[error("{}: service {service:?}: {key}: {message}", .file.display())]
    InvalidValue {
        file: PathBuf,
        service: String,
        key: String,
        message: String,
    },

    /// Any other problem in one file (bad `include`, bad top-level section...).
    #[error("{}: {message}", .file.display())]
    InFile { file: PathBuf, message: String },

    /// `-p` / `COMPOSE_PROJECT_NAME` that is not a normal project name (Compose's wording).
    #[error("invalid project name {name:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number")]
    InvalidProjectName { name: String },

    /// The project name resolved to nothing (e.g. a directory named `__`).
    #[error("project name must not be empty")]
    EmptyProjectName,

    /// `depends_on` cycle, named in order (Compose's wording).
    #[error("{}: depends_on: dependency cycle detected: {}", .file.display(), .cycle.join(" -> "))]
    DependencyCycle { file: PathBuf, cycle: Vec<String> },

    /// `extends` cycle.
    #[error("{}: circular reference with extends: {}", .file.display(), .chain.join(" -> "))]
    ExtendsCycle { file: PathBuf, chain: Vec<String> },

    /// `include` cycle.
    #[error("include cycle detected: {}", .chain.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> "))]
    IncludeCycle { chain: Vec<PathBuf> },

    /// Project-level consistency errors (undefined network, volume, service...), with the file
    /// that defines the service at fault.
    #[error("{}: {message}", .file.display())]
    Invalid { file: PathBuf, message: String },
}

impl ComposeError {
    pub(crate) fn in_file(file: &Path, message: impl Into<String>) -> Self {
        ComposeError::InFile {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn value(
        file: &Path,
        service: &str,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ComposeError::InvalidValue {
            file: file.to_path_buf(),
            service: service.to_string(),
            key: key.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(file: &Path, service: Option<&str>, key: impl Into<String>) -> Self {
        ComposeError::Unsupported {
            file: file.to_path_buf(),
            service: service.map(str::to_string),
            key: key.into(),
        }
    }
}

struct Position(Option<usize>, Option<usize>);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(l), Some(c)) => write!(f, ":{l}:{c}"),
            (Some(l), None) => write!(f, ":{l}"),
            _ => Ok(()),
        }
    }
}

struct ServicePrefix<'a>(&'a Option<String>);

impl fmt::Display for ServicePrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "service {s:?}: "),
            None => Ok(()),
        }
    }
}
