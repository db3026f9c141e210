//! argv as the Docker CLI passes it -> a typed command.
//!
//! `docker --context prod flow deploy` runs `docker-flow --context prod flow deploy`: docker's
//! global flags first (see `globals`), then the plugin name, then ours (parsed by clap).
//! Standalone use (`docker-flow deploy`) works too: then there is no `flow` word.

pub mod complete;
pub mod flow_args;
pub mod globals;
pub mod reference;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

pub use flow_args::FlowArgs;
pub use globals::GlobalOptions;

/// A usage or configuration error: printed as one line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The plugin's name as the Docker CLI knows it (`docker flow`).
pub const PLUGIN_NAME: &str = "flow";

/// Env var the Docker CLI sets when it runs a plugin (absent when run standalone).
pub const ORIGINAL_CLI_ENV: &str = "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND";

#[derive(Debug, Parser)]
#[command(
    name = "docker flow",
    bin_name = "docker flow",
    about = "Zero-downtime blue-green deploys of Compose services, with relative scaling and an HAProxy switch",
    long_about = None,
    version,
    disable_version_flag = true,
    arg_required_else_help = true,
    args_conflicts_with_subcommands = true,
    args_override_self = true,
    override_usage = "docker flow [OPTIONS] COMMAND\n       docker flow --flow=FLOW [--flow=FLOW…] [OPTIONS]   (the original form)",
    after_help = "Docker's global flags (--context, -H, --config, --tls…) go before `flow`:\n  docker --context prod flow deploy",
    after_long_help = concat!(
        "Docker's global flags (--context, -H, --config, --tls…) go before `flow`:\n  docker --context prod flow deploy\n\n",
        "Without a command, the flows come from --flow (repeat it), FLOW_FLOW or `flow:` in docker-flow.yml,\n",
        "else deploy:\n  docker flow --flow=deploy --flow=proxy --flow=stop-old\n\n"
    ),
)]
pub struct FlowCli {
    /// The command; `None` is the original form (flow options only, `--flow` says what runs).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The original form's options (`docker flow --flow=deploy --target=app …`).
    #[command(flatten)]
    pub flow: FlowArgs,
}

/// Every flow command takes the whole flow option set ([`FlowArgs`]); more flows chain after the
/// command's own with `--flow` (`docker flow deploy --flow=proxy --flow=stop-old`). Turn one into
/// settings with `crate::config::settings_for`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the new release of the target beside the live one and wait until it is healthy
    #[command(args_override_self = true, after_long_help = flow_args::SETTINGS_HELP)]
    Deploy(FlowArgs),
    /// Scale the live release to N instances, or by +N / -N relative to what runs
    #[command(
        allow_negative_numbers = true,
        args_override_self = true,
        after_long_help = flow_args::SETTINGS_HELP
    )]
    Scale {
        /// Instance count: N, or +N / -N relative to the running count (never below 1; 0 is
        /// refused). Same as --scale
        #[arg(value_name = "N|+N|-N")]
        amount: Option<String>,
        #[command(flatten)]
        flow: FlowArgs,
    },
    /// Switch the proxy to the healthy new release (or re-apply the live one); `proxy reconcile`
    /// compares the running proxy with Consul and repairs drift
    #[command(args_override_self = true, after_long_help = flow_args::SETTINGS_HELP)]
    Proxy {
        /// `reconcile`: repair drift between the proxy and Consul instead of switching
        #[arg(value_name = "reconcile", value_parser = ["reconcile"])]
        action: Option<String>,
        #[command(flatten)]
        flow: FlowArgs,
    },
    /// Stop (not remove) the release that is not live
    #[command(args_override_self = true, after_long_help = flow_args::SETTINGS_HELP)]
    StopOld(FlowArgs),
    /// Start the previous release again, switch the proxy back and stop the current one
    #[command(args_override_self = true, after_long_help = flow_args::SETTINGS_HELP)]
    Rollback(FlowArgs),
    /// Show the endpoint in use and the state of each service (no target needed)
    #[command(args_override_self = true, after_long_help = flow_args::SETTINGS_HELP)]
    Status(FlowArgs),
    /// Print the compose project as docker flow loaded it (merged, interpolated, normalised)
    Config(ConfigArgs),
    /// Show docker flow's version
    Version(FormatArgs),
    /// The original form, without a command: `docker flow --flow=deploy --flow=proxy …`.
    /// `parse` makes it; clap never offers it as a command.
    #[command(skip)]
    Flows(FlowArgs),
}

/// Where the compose project comes from (the same options as `docker compose`).
#[derive(Debug, Args, Default, Clone, PartialEq, Eq)]
pub struct ComposeArgs {
    /// Compose file; repeat to merge several (default: COMPOSE_FILE, then compose.yaml & co.)
    #[arg(
        short = 'f',
        long = "compose-path",
        alias = "file",
        value_name = "FILE"
    )]
    pub files: Vec<std::path::PathBuf>,
    /// Project name (default: COMPOSE_PROJECT_NAME, the files' `name:`, the directory name)
    #[arg(
        short = 'p',
        long = "project",
        alias = "project-name",
        value_name = "NAME"
    )]
    pub project: Option<String>,
    /// Project directory (default: the first compose file's directory)
    #[arg(long, value_name = "DIR")]
    pub project_directory: Option<std::path::PathBuf>,
    /// Enable a profile; repeat for several (default: COMPOSE_PROFILES)
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    /// Env file for interpolation; repeat for several (default: .env in the project directory)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub compose: ComposeArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = ConfigFormat::Yaml)]
    pub format: ConfigFormat,
    /// Print only the service names, one per line
    #[arg(long)]
    pub services: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// What argv asks for, after docker's global flags are taken off.
#[derive(Debug)]
pub enum Invocation {
    /// Run a command (clap already handled --help and parse errors).
    Run(GlobalOptions, Box<Command>),
    /// `docker __complete flow …`: the cobra completion protocol; `__completeNoDesc` (what
    /// docker's bash completion runs) wants the candidates without descriptions.
    Complete {
        words: Vec<String>,
        descriptions: bool,
    },
}

/// Reads argv (without argv[0]). `standalone` is true when no Docker CLI started us.
pub fn parse(args: &[String], standalone: bool) -> Result<Invocation, clap::Error> {
    let (globals, rest) = match globals::split_globals(args) {
        Ok(split) => split,
        // Standalone, the original form starts with our own options: `docker-flow --flow=deploy`.
        Err(_) if standalone => (GlobalOptions::default(), args.to_vec()),
        Err(e) => {
            return Err(FlowCli::command().error(clap::error::ErrorKind::ArgumentConflict, e.0))
        }
    };
    let words: Vec<String> = match rest.first().map(String::as_str) {
        Some(PLUGIN_NAME) => rest[1..].to_vec(),
        // `docker help flow [cmd]` runs `docker-flow help flow [cmd]`.
        Some("help") if rest.get(1).map(String::as_str) == Some(PLUGIN_NAME) => {
            let mut w = rest[2..].to_vec();
            w.push("--help".into());
            w
        }
        Some(first @ ("__complete" | "__completeNoDesc")) => {
            let skip = usize::from(rest.get(1).map(String::as_str) == Some(PLUGIN_NAME));
            return Ok(Invocation::Complete {
                words: rest[1 + skip..].to_vec(),
                descriptions: first == "__complete",
            });
        }
        _ if standalone => rest,
        Some(other) => {
            return Err(FlowCli::command().error(
                clap::error::ErrorKind::InvalidSubcommand,
                format!("expected the plugin name `{PLUGIN_NAME}` after docker's global flags, got {other:?}"),
            ))
        }
        None => Vec::new(),
    };
    let argv = std::iter::once("docker flow".to_string()).chain(words);
    let cli = FlowCli::try_parse_from(argv)?;
    let command = cli.command.unwrap_or(Command::Flows(cli.flow));
    Ok(Invocation::Run(globals, Box::new(command)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], standalone: bool) -> Result<(GlobalOptions, Command), clap::Error> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args, standalone)? {
            Invocation::Run(g, c) => Ok((g, *c)),
            Invocation::Complete { .. } => panic!("not a completion"),
        }
    }

    #[test]
    fn plugin_form_with_globals() {
        let (g, c) = run(
            &["--context", "b", "flow", "status", "--format", "json"],
            false,
        )
        .unwrap();
        assert_eq!(g.context.as_deref(), Some("b"));
        assert!(matches!(
            c,
            Command::Status(FlowArgs {
                format: Some(Format::Json),
                ..
            })
        ));
    }

    #[test]
    fn standalone_form() {
        let (_, c) = run(&["scale", "-1"], true).unwrap();
        assert!(matches!(c, Command::Scale { amount, .. } if amount.as_deref() == Some("-1")));
        let (_, c) = run(&["flow", "stop-old"], true).unwrap();
        assert!(matches!(c, Command::StopOld(_)));
    }

    #[test]
    fn help_and_errors_have_the_right_kind() {
        let e = run(&["help", "flow"], false).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        let e = run(&["flow", "bogus"], false).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = run(&["compose", "up"], false).unwrap_err();
        assert!(e.to_string().contains("expected the plugin name"), "{e}");
    }

    #[test]
    fn completion_words() {
        // docker's `__complete`, and docker's bash completion running the plugin itself with
        // `__completeNoDesc`, with or without the plugin name.
        for (args, standalone, descs) in [
            (&["__complete", "flow", "de"][..], false, true),
            (&["__completeNoDesc", "flow", "de"], true, false),
            (&["__completeNoDesc", "de"], true, false),
        ] {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            match parse(&args, standalone).unwrap() {
                Invocation::Complete {
                    words,
                    descriptions,
                } => assert_eq!((words, descriptions), (vec!["de".to_string()], descs)),
                other => panic!("{other:?}"),
            }
        }
    }
}
