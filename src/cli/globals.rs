//! Docker's global flags, as the Docker CLI hands them to a plugin: everything in argv before the
//! plugin name (`docker --context prod -D flow deploy` gives `--context prod -D flow deploy`).
//! Parsed by hand with pflag's rules because they come before our clap command.

use std::path::PathBuf;

use super::UsageError;

/// The global flags of the `docker` command that a plugin must honour.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GlobalOptions {
    pub config: Option<PathBuf>,
    pub context: Option<String>,
    pub debug: bool,
    pub host: Option<String>,
    pub log_level: Option<String>,
    pub tls: bool,
    pub tlsverify: bool,
    pub tlscacert: Option<PathBuf>,
    pub tlscert: Option<PathBuf>,
    pub tlskey: Option<PathBuf>,
}

/// Flags that take a value, by long name, with their short letter where docker has one.
const VALUE_FLAGS: &[(&str, Option<char>)] = &[
    ("config", None),
    ("context", Some('c')),
    ("host", Some('H')),
    ("log-level", Some('l')),
    ("tlscacert", None),
    ("tlscert", None),
    ("tlskey", None),
];
const BOOL_FLAGS: &[(&str, Option<char>)] =
    &[("debug", Some('D')), ("tls", None), ("tlsverify", None)];

/// Splits argv (without argv[0]) into docker's global options and the rest, which starts at the
/// first word that is not a global flag (normally `flow`).
pub fn split_globals(args: &[String]) -> Result<(GlobalOptions, Vec<String>), UsageError> {
    let mut opts = GlobalOptions::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            break;
        }
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            if VALUE_FLAGS.iter().any(|(n, _)| *n == name) {
                let value = match inline {
                    Some(v) => v,
                    None => take_value(args, &mut i, &format!("--{name}"))?,
                };
                set_value(&mut opts, name, value)?;
            } else if BOOL_FLAGS.iter().any(|(n, _)| *n == name) {
                let on = match inline.as_deref() {
                    None => true,
                    Some(v) => parse_bool(v).ok_or_else(|| {
                        UsageError(format!(
                            "invalid value {v:?} for docker flag --{name}: expected true or false"
                        ))
                    })?,
                };
                set_bool(&mut opts, name, on);
            } else {
                return Err(UsageError(format!(
                    "unknown docker global flag {arg:?} before `flow` (docker's global flags are --config, -c/--context, -D/--debug, -H/--host, -l/--log-level, --tls, --tlsverify, --tlscacert, --tlscert, --tlskey)"
                )));
            }
        } else {
            // Short flags: booleans may be grouped (`-D`), a value flag takes the rest of the
            // word (`-cprod`, `-c=prod`) or the next word (`-c prod`).
            let shorts: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < shorts.len() {
                let c = shorts[j];
                j += 1;
                if let Some((name, _)) = VALUE_FLAGS.iter().find(|(_, s)| *s == Some(c)) {
                    let rest: String = shorts[j..].iter().collect();
                    let value = if rest.is_empty() {
                        take_value(args, &mut i, &format!("-{c}"))?
                    } else {
                        rest.strip_prefix('=').unwrap_or(&rest).to_string()
                    };
                    set_value(&mut opts, name, value)?;
                    break;
                } else if let Some((name, _)) = BOOL_FLAGS.iter().find(|(_, s)| *s == Some(c)) {
                    set_bool(&mut opts, name, true);
                } else {
                    return Err(UsageError(format!(
                        "unknown docker global flag -{c} in {arg:?} before `flow`"
                    )));
                }
            }
        }
    }
    if opts.context.is_some() && opts.host.is_some() {
        // The Docker CLI refuses this combination too (cli/command/cli.go).
        return Err(UsageError(
            "conflicting options: cannot specify both --host and --context".into(),
        ));
    }
    Ok((opts, args[i..].to_vec()))
}

fn take_value(args: &[String], i: &mut usize, flag: &str) -> Result<String, UsageError> {
    let v = args
        .get(*i)
        .ok_or_else(|| UsageError(format!("docker flag {flag} needs a value")))?;
    *i += 1;
    Ok(v.clone())
}

fn set_value(opts: &mut GlobalOptions, name: &str, value: String) -> Result<(), UsageError> {
    match name {
        "config" => opts.config = Some(value.into()),
        "context" => opts.context = Some(value),
        "host" => {
            if opts.host.is_some() {
                return Err(UsageError(
                    "docker flag -H/--host may be given only once".into(),
                ));
            }
            opts.host = Some(value)
        }
        "log-level" => opts.log_level = Some(value),
        "tlscacert" => opts.tlscacert = Some(value.into()),
        "tlscert" => opts.tlscert = Some(value.into()),
        "tlskey" => opts.tlskey = Some(value.into()),
        _ => unreachable!("VALUE_FLAGS lists {name}"),
    }
    Ok(())
}

fn set_bool(opts: &mut GlobalOptions, name: &str, on: bool) {
    match name {
        "debug" => opts.debug = on,
        "tls" => opts.tls = on,
        "tlsverify" => opts.tlsverify = on,
        _ => unreachable!("BOOL_FLAGS lists {name}"),
    }
}

/// pflag's strconv.ParseBool.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str]) -> (GlobalOptions, Vec<String>) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        split_globals(&args).unwrap()
    }

    #[test]
    fn every_form_of_a_value_flag() {
        for form in [
            &["--context", "prod", "flow"][..],
            &["--context=prod", "flow"],
            &["-c", "prod", "flow"],
            &["-cprod", "flow"],
            &["-c=prod", "flow"],
        ] {
            let (g, rest) = split(form);
            assert_eq!(g.context.as_deref(), Some("prod"), "{form:?}");
            assert_eq!(rest, vec!["flow"]);
        }
    }

    #[test]
    fn all_globals_then_flow_args_untouched() {
        let (g, rest) = split(&[
            "--config",
            "/cfg",
            "-D",
            "-H",
            "tcp://1.2.3.4:2376",
            "-l",
            "debug",
            "--tls",
            "--tlsverify=false",
            "--tlscacert",
            "/ca",
            "--tlscert=/c",
            "--tlskey",
            "/k",
            "flow",
            "deploy",
            "--scale",
            "-1",
        ]);
        assert_eq!(g.config, Some("/cfg".into()));
        assert!(g.debug && g.tls && !g.tlsverify);
        assert_eq!(g.host.as_deref(), Some("tcp://1.2.3.4:2376"));
        assert_eq!(g.log_level.as_deref(), Some("debug"));
        assert_eq!(g.tlscacert, Some("/ca".into()));
        assert_eq!(g.tlscert, Some("/c".into()));
        assert_eq!(g.tlskey, Some("/k".into()));
        assert_eq!(rest, vec!["flow", "deploy", "--scale", "-1"]);
    }

    #[test]
    fn grouped_short_flags() {
        let (g, rest) = split(&["-Dcprod", "flow"]);
        assert!(g.debug);
        assert_eq!(g.context.as_deref(), Some("prod"));
        assert_eq!(rest, vec!["flow"]);
    }

    #[test]
    fn errors_name_the_flag() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let e = split_globals(&args(&["--context"])).unwrap_err();
        assert!(e.0.contains("--context needs a value"), "{e}");
        let e = split_globals(&args(&["--bogus", "flow"])).unwrap_err();
        assert!(e.0.contains("--bogus"), "{e}");
        let e = split_globals(&args(&["-c", "a", "-H", "unix:///x", "flow"])).unwrap_err();
        assert!(e.0.contains("conflicting options"), "{e}");
    }
}
