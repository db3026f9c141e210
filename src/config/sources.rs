//! The three places a setting comes from, looked up highest first: the flag, the `FLOW_*`
//! variable, the docker-flow.yml key. Every value comes back with its [`Source`], and every
//! parse error names it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ConfigError, Source};
use super::file::{FileConfig, FileValue};

/// One option's names: `--scale`, `FLOW_SCALE`, `scale`.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub flag: &'static str,
    pub env: &'static str,
    pub key: &'static str,
}

/// The lower-precedence layers (the flag is passed to each lookup).
pub struct Layers<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub file: Option<&'a FileConfig>,
}

pub type Found<T> = Option<(T, Source)>;

impl Layers<'_> {
    /// A single value as text: the flag, else the env var (trimmed; set-but-empty is an error),
    /// else the file.
    pub fn text(&self, opt: Opt, flag: Option<&str>) -> Result<Found<String>, ConfigError> {
        if let Some(v) = flag {
            return Ok(Some((v.to_string(), Source::Flag(opt.flag))));
        }
        if let Some(v) = (self.env)(opt.env) {
            let v = v.trim();
            if v.is_empty() {
                return Err(ConfigError::EmptyEnv {
                    var: opt.env.to_string(),
                });
            }
            return Ok(Some((v.to_string(), Source::Env(opt.env.to_string()))));
        }
        Ok(self.file_text(opt.key))
    }

    fn file_text(&self, key: &str) -> Found<String> {
        let file = self.file?;
        let text = match file.get(key)? {
            FileValue::Text(s) => s.clone(),
            FileValue::Bool(b) => b.to_string(),
            FileValue::List(items) => items.join(","),
        };
        Some((text, file.source(key)))
    }

    /// A value parsed by `parse` (whose `Err` says what was expected), from any layer.
    pub fn parsed<T>(
        &self,
        opt: Opt,
        flag: Option<&str>,
        what: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Found<T>, ConfigError> {
        if let Some(v) = flag {
            // A bool flag's file value may be a YAML bool; text covers every case.
            let origin = Source::Flag(opt.flag);
            return parse(v)
                .map(|t| Some((t, origin.clone())))
                .map_err(|e| ConfigError::invalid(what, v, &origin, e));
        }
        match self.text(opt, None)? {
            Some((v, origin)) => parse(&v)
                .map(|t| Some((t, origin.clone())))
                .map_err(|e| ConfigError::invalid(what, &v, &origin, e)),
            None => Ok(None),
        }
    }

    /// A boolean: `true`/`false`/`1`/`0` (any case) from any layer.
    pub fn bool(&self, opt: Opt, flag: Option<&str>) -> Result<Found<bool>, ConfigError> {
        if flag.is_none() && (self.env)(opt.env).is_none() {
            if let Some(file) = self.file {
                if let Some(FileValue::Bool(b)) = file.get(opt.key) {
                    return Ok(Some((*b, file.source(opt.key))));
                }
            }
        }
        self.parsed(opt, flag, "boolean", parse_bool)
    }

    /// A list: the flag's values (repeated flag) replace the env var's (comma-separated, each
    /// item trimmed, empty items dropped; `FLOW_X=` is the empty list), which replace the file's.
    pub fn list(&self, opt: Opt, flag: &[String]) -> Result<Found<Vec<String>>, ConfigError> {
        if !flag.is_empty() {
            return Ok(Some((flag.to_vec(), Source::Flag(opt.flag))));
        }
        if let Some(v) = (self.env)(opt.env) {
            return Ok(Some((split_list(&v), Source::Env(opt.env.to_string()))));
        }
        let Some(file) = self.file else {
            return Ok(None);
        };
        Ok(match file.get(opt.key) {
            Some(FileValue::List(items)) => Some((items.clone(), file.source(opt.key))),
            Some(FileValue::Text(s)) => Some((vec![s.clone()], file.source(opt.key))),
            Some(FileValue::Bool(b)) => Some((vec![b.to_string()], file.source(opt.key))),
            None => None,
        })
    }

    /// A path: from the file, relative to the file's directory; otherwise as given.
    pub fn path(&self, opt: Opt, flag: Option<&Path>) -> Result<Found<PathBuf>, ConfigError> {
        if let Some(p) = flag {
            return non_empty_path(p.to_path_buf(), Source::Flag(opt.flag));
        }
        match self.text(opt, None)? {
            Some((v, origin @ Source::File { .. })) => {
                let file = self.file.expect("a file source has a file");
                non_empty_path(file.path(&v), origin)
            }
            Some((v, origin)) => non_empty_path(PathBuf::from(v), origin),
            None => Ok(None),
        }
    }

    /// A list of paths (see [`Layers::path`] for relative ones).
    pub fn paths(&self, opt: Opt, flag: &[PathBuf]) -> Result<Found<Vec<PathBuf>>, ConfigError> {
        if !flag.is_empty() {
            for p in flag {
                non_empty_path(p.clone(), Source::Flag(opt.flag))?;
            }
            return Ok(Some((flag.to_vec(), Source::Flag(opt.flag))));
        }
        let Some((items, origin)) = self.list(opt, &[])? else {
            return Ok(None);
        };
        let mut paths = Vec::with_capacity(items.len());
        for item in items {
            non_empty_path(PathBuf::from(&item), origin.clone())?;
            paths.push(match (&origin, self.file) {
                (Source::File { .. }, Some(file)) => file.path(&item),
                _ => PathBuf::from(item),
            });
        }
        Ok(Some((paths, origin)))
    }

    /// A variable outside the `FLOW_` namespace (`CONSUL_HTTP_ADDR`…): empty counts as unset,
    /// as the tools that own it do.
    pub fn foreign(&self, var: &str) -> Option<(String, Source)> {
        let v = (self.env)(var)?;
        let v = v.trim();
        (!v.is_empty()).then(|| (v.to_string(), Source::Env(var.to_string())))
    }
}

fn non_empty_path(p: PathBuf, origin: Source) -> Result<Found<PathBuf>, ConfigError> {
    if p.as_os_str().is_empty() {
        return Err(ConfigError::invalid(
            "path",
            "",
            &origin,
            "expected a file path",
        ));
    }
    Ok(Some((p, origin)))
}

pub fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("expected true, false, 1 or 0".into()),
    }
}

pub fn parse_port(v: &str) -> Result<u16, String> {
    let v = v.trim();
    match v.parse::<u16>() {
        Ok(p) if p > 0 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err("expected a port number from 1 to 65535".into()),
    }
}

/// Go-style durations (`10s`, `1m30s`, `500ms`, `1.5h`) or a whole number of seconds; never
/// negative.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let expected = || "expected a duration such as 10s, 1m30s or 500ms (a bare number is seconds)";
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| expected().to_string());
    }
    let nanos = crate::engine::duration::parse_duration(v).map_err(|_| expected().to_string())?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| "expected a duration that is not negative".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(split_list(" a, b ,,c ,"), vec!["a", "b", "c"]);
        assert_eq!(split_list(""), Vec::<String>::new());
        assert_eq!(parse_bool("TRUE"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("yes").is_err());
        assert_eq!(parse_port("8080"), Ok(8080));
        assert!(parse_port("+80").is_err());
        assert!(parse_port("0").is_err());
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("10").is_ok());
        assert!(parse_duration("ten").is_err());
    }
}
