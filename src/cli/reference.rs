//! The option reference (docs/reference.md) and the generated part of each command's page
//! (docs/commands/<cmd>.md), rendered from the clap definitions joined with the config layer's
//! option table, so the docs cannot drift from the code: tests/docs_reference.rs fails when a
//! checked-in page differs from what this renders.

use clap::{Arg, ArgAction, Command, CommandFactory};

use super::{flow_args::SETTINGS_HELP, FlowCli};
use crate::config::{by_flag, FlowName};

/// How to regenerate the pages (printed in them and by the test).
pub const REGENERATE: &str = "DOCKER_FLOW_BLESS=1 cargo test --test docs_reference";

/// The line in a command page below which everything is generated; above it is hand-written.
pub const MARKER: &str = "<!-- Everything below is generated from the code: \
DOCKER_FLOW_BLESS=1 cargo test --test docs_reference -->";

/// Width the `--help` text is wrapped at in the pages (a terminal's would make them unstable).
const WIDTH: usize = 100;

/// The clap tree as `docker flow` builds it (usage lines name the parent: `docker flow deploy`).
fn root() -> Command {
    let mut root = FlowCli::command().term_width(WIDTH);
    root.build();
    root
}

/// The commands with a page, in help order (`help` itself excluded).
pub fn command_names() -> Vec<String> {
    root()
        .get_subcommands()
        .filter(|c| c.get_name() != "help" && !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect()
}

/// One option as the reference shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDoc {
    pub heading: String,
    /// `-s, --scale <N|+N|-N>`
    pub flag: String,
    pub long: String,
    /// From the `[env: …]` tag of the help, else the config table; empty when none.
    pub env: String,
    pub yml: String,
    pub default: String,
    /// The help text without its `[env/yml/default: …]` tags, plus the accepted values.
    pub help: String,
}

/// Takes `[tag: …]` out of `text`: (text without it, its value).
fn take_tag(text: &str, tag: &str) -> (String, Option<String>) {
    let open = format!("[{tag}: ");
    let Some(start) = text.find(&open) else {
        return (text.to_string(), None);
    };
    let Some(len) = text[start..].find(']') else {
        return (text.to_string(), None);
    };
    let value = text[start + open.len()..start + len].trim().to_string();
    let rest = format!("{}{}", &text[..start], &text[start + len + 1..]);
    (rest, Some(value))
}

/// Takes a `(default: …)` remark out of `text`.
fn take_paren_default(text: &str) -> (String, Option<String>) {
    let Some(start) = text.find("(default: ") else {
        return (text.to_string(), None);
    };
    let Some(len) = text[start..].find(')') else {
        return (text.to_string(), None);
    };
    let value = text[start + "(default: ".len()..start + len].to_string();
    let rest = format!("{}{}", text[..start].trim_end(), &text[start + len + 1..]);
    (rest, Some(value))
}

fn is_bool_like(arg: &Arg) -> bool {
    arg.is_require_equals_set() && arg.get_num_args().is_some_and(|n| n.min_values() == 0)
}

fn flag_text(arg: &Arg) -> String {
    let value = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
    let takes_value = !matches!(
        arg.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count | ArgAction::Help
    );
    let Some(long) = arg.get_long() else {
        return format!("<{value}>");
    };
    let mut s = String::new();
    if let Some(short) = arg.get_short() {
        s.push_str(&format!("-{short}, "));
    }
    s.push_str(&format!("--{long}"));
    if is_bool_like(arg) {
        s.push_str(&format!("[={value}]"));
    } else if takes_value {
        s.push_str(&format!(" <{value}>"));
    }
    s
}

/// The documented options (and positionals) of `cmd`; `flow_settings` joins the config table.
pub fn options_of(cmd: &Command, flow_settings: bool) -> Vec<OptionDoc> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version"))
        .map(|arg| {
            let raw = arg
                .get_long_help()
                .or(arg.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            let raw = raw.split_whitespace().collect::<Vec<_>>().join(" ");
            let (rest, env) = take_tag(&raw, "env");
            let (rest, yml) = take_tag(&rest, "yml");
            let (rest, default) = take_tag(&rest, "default");
            let long = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
            let opt = flow_settings.then(|| by_flag(&long)).flatten();
            let env = env.or_else(|| opt.map(|o| o.env.to_string()));
            let yml = yml.or_else(|| opt.map(|o| o.key.to_string()));
            let clap_default = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",");
            // Compose options say `(default: …)` in prose, as `docker compose --help` does.
            let (rest, prose_default) = take_paren_default(&rest);
            let default = default.or(prose_default).unwrap_or(clap_default);
            let mut help = rest.trim().trim_end_matches('.').to_string();
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| format!("`{}`", v.get_name()))
                .collect();
            if !values.is_empty() && !is_bool_like(arg) {
                help.push_str(&format!(". One of {}", values.join(", ")));
            }
            let aliases = arg.get_all_aliases().unwrap_or_default();
            if !aliases.is_empty() {
                let a: Vec<String> = aliases.iter().map(|a| format!("`--{a}`")).collect();
                help.push_str(&format!(" (alias {})", a.join(", ")));
            }
            if matches!(arg.get_action(), ArgAction::Append) && arg.get_long().is_some() {
                help.push_str(" (repeatable)");
            }
            OptionDoc {
                heading: arg.get_help_heading().unwrap_or("Options").to_string(),
                flag: flag_text(arg),
                long,
                env: env.unwrap_or_default(),
                yml: yml.unwrap_or_default(),
                default,
                help,
            }
        })
        .collect()
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn code(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("`{}`", cell(s))
    }
}

/// `FLOW_X, then CONSUL_Y` with each variable name as code.
fn env_cell(s: &str) -> String {
    s.split(", ")
        .map(|part| {
            part.split(' ')
                .map(|w| {
                    if !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                        format!("`{w}`")
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn option_table(out: &mut String, docs: &[OptionDoc], with_sources: bool) {
    let mut headings: Vec<&str> = Vec::new();
    for d in docs {
        if !headings.contains(&d.heading.as_str()) {
            headings.push(&d.heading);
        }
    }
    for heading in headings {
        if headings_shown(docs) {
            out.push_str(&format!("\n### {heading}\n\n"));
        } else {
            out.push('\n');
        }
        if with_sources {
            out.push_str("| flag | env var | docker-flow.yml | default | what it sets |\n");
            out.push_str("|---|---|---|---|---|\n");
        } else {
            out.push_str("| flag | default | what it sets |\n|---|---|---|\n");
        }
        for d in docs.iter().filter(|d| d.heading == heading) {
            if with_sources {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    code(&d.flag),
                    env_cell(&cell(&d.env)),
                    code(&d.yml),
                    cell(&d.default),
                    cell(&d.help)
                ));
            } else {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    code(&d.flag),
                    cell(&d.default),
                    cell(&d.help)
                ));
            }
        }
    }
}

fn headings_shown(docs: &[OptionDoc]) -> bool {
    docs.iter().any(|d| d.heading != "Options")
}

fn about(cmd: &Command) -> String {
    cmd.get_about()
        .map(|a| a.to_string())
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_flow_command(name: &str) -> bool {
    FlowName::NAMES.contains(&name)
}

/// docs/reference.md, whole.
pub fn reference() -> String {
    let root = root();
    let mut out = String::new();
    out.push_str("# Option reference\n\n");
    out.push_str(&format!(
        "<!-- Generated from the code (src/cli, src/config/options.rs); do not edit. Regenerate: {REGENERATE} -->\n\n"
    ));
    out.push_str(
        "Every command and option of `docker flow`, with the `FLOW_*` variable and the \
         `docker-flow.yml` key that set it too. Generated from the clap definitions and the \
         config layer's option table; `docker flow <command> --help` prints the same.\n\n",
    );
    out.push_str("## Commands\n\n| command | what it does |\n|---|---|\n");
    for sub in root.get_subcommands().filter(|c| c.get_name() != "help") {
        let name = sub.get_name();
        out.push_str(&format!(
            "| [`docker flow {name}`](commands/{name}.md) | {} |\n",
            cell(&about(sub))
        ));
    }
    out.push_str(
        "| `docker flow --flow=FLOW …` | the original form: runs the flows named by `--flow` \
         (repeat it), `FLOW_FLOW` or `flow:` in docker-flow.yml, else `deploy`; takes every flow \
         option |\n",
    );
    out.push_str(
        "\nDocker's global flags (`--context`, `-H`, `--config`, `--tls…`) go before `flow`: \
         `docker --context prod flow deploy`.\n",
    );

    out.push_str("\n## Where settings come from\n\n");
    let paragraphs: Vec<String> = SETTINGS_HELP
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    out.push_str(&paragraphs.join("\n\n"));
    out.push('\n');

    out.push_str("\n## Flow options\n\n");
    let flows: Vec<String> = FlowName::NAMES.iter().map(|n| format!("`{n}`")).collect();
    out.push_str(&format!(
        "Every flow command ({}) and the original form take all of these.\n",
        flows.join(", ")
    ));
    option_table(&mut out, &options_of(&root, true), true);

    out.push_str("\n## Command arguments\n");
    for sub in root.get_subcommands() {
        let positionals: Vec<OptionDoc> = options_of(sub, false)
            .into_iter()
            .filter(|d| d.long.is_empty())
            .collect();
        if positionals.is_empty() {
            continue;
        }
        out.push_str(&format!("\n`docker flow {}`:\n", sub.get_name()));
        for d in positionals {
            out.push_str(&format!("- `{}`: {}\n", d.flag, d.help));
        }
    }

    for sub in root.get_subcommands() {
        let name = sub.get_name();
        if is_flow_command(name) || name == "help" {
            continue;
        }
        out.push_str(&format!("\n## `docker flow {name}` options\n"));
        let docs: Vec<OptionDoc> = options_of(sub, false)
            .into_iter()
            .filter(|d| !d.long.is_empty())
            .collect();
        option_table(&mut out, &docs, false);
    }
    out
}

/// The generated part of docs/commands/<name>.md: usage, arguments and options (the flow
/// options by reference: every flow command takes the same set). `None` for an unknown command.
pub fn command_page(name: &str) -> Option<String> {
    let mut root = root();
    let sub = root.find_subcommand_mut(name)?;
    let usage = sub.render_usage().to_string();
    let usage = usage.trim().trim_start_matches("Usage:").trim();
    let mut out = format!("## Usage\n\n```text\n{usage}\n```\n\n{}.\n", about(sub));
    let docs = options_of(sub, false);
    let (positionals, options): (Vec<_>, Vec<_>) =
        docs.into_iter().partition(|d| d.long.is_empty());
    if !positionals.is_empty() {
        out.push_str("\n## Arguments\n\n");
        for d in positionals {
            out.push_str(&format!("- `{}`: {}\n", d.flag, d.help));
        }
    }
    out.push_str("\n## Options\n");
    if is_flow_command(name) {
        out.push_str(
            "\nEvery flow option (target, compose files, Consul, proxy, routes, health and \
             timing), each also a `FLOW_*` variable and a docker-flow.yml key: \
             [the option reference](../reference.md#flow-options). \
             `docker flow {name} --help` lists them too.\n",
        );
        out = out.replace("{name}", name);
    } else {
        option_table(&mut out, &options, false);
    }
    Some(out)
}

/// A page's new text: its hand-written part (above [`MARKER`], or `head` when there is none
/// yet), the marker, then `generated`.
pub fn splice(existing: Option<&str>, head: &str, generated: &str) -> String {
    let kept = existing
        .and_then(|text| text.split_once(MARKER).map(|(above, _)| above.to_string()))
        .unwrap_or_else(|| format!("{}\n\n", head.trim_end()));
    format!("{kept}{MARKER}\n\n{generated}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_come_out_of_the_help() {
        let (rest, env) = take_tag("Output format [env: FLOW_FORMAT] [yml: format]", "env");
        assert_eq!(env.as_deref(), Some("FLOW_FORMAT"));
        assert_eq!(rest, "Output format  [yml: format]");
        assert_eq!(take_tag("no tags", "env"), ("no tags".to_string(), None));
    }

    /// The help's own `[env: …]` / `[yml: …]` agree with the config table (drift between the
    /// two would put a wrong name in the docs and in `--help`).
    #[test]
    fn help_tags_agree_with_the_option_table() {
        for d in options_of(&root(), true) {
            let Some(opt) = by_flag(&d.long) else {
                panic!("{} has no entry in config/options.rs", d.long)
            };
            assert_eq!(
                d.env.split([',', ' ']).next(),
                Some(opt.env),
                "{}: env",
                d.long
            );
            assert_eq!(d.yml, opt.key, "{}: yml", d.long);
        }
    }

    #[test]
    fn reference_shows_names_defaults_and_commands() {
        let r = reference();
        assert!(
            r.contains("| `-b, --blue-green[=BOOL]` | `FLOW_BLUE_GREEN` | `blue_green` | true |"),
            "{r}"
        );
        assert!(
            r.contains("`FLOW_CONSUL_ADDRESS`, then `CONSUL_HTTP_ADDR`"),
            "{r}"
        );
        assert!(r.contains("| `--format <FORMAT>` | yaml |"), "{r}");
        for name in command_names() {
            assert!(r.contains(&format!("(commands/{name}.md)")), "{name}");
        }
    }

    #[test]
    fn pages_keep_their_hand_written_part() {
        let first = splice(None, "# deploy\n\nIntro.", "gen 1\n");
        assert_eq!(first, format!("# deploy\n\nIntro.\n\n{MARKER}\n\ngen 1\n"));
        let edited = first.replace("Intro.", "Better intro.");
        let again = splice(Some(&edited), "# unused", "gen 2\n");
        assert_eq!(
            again,
            format!("# deploy\n\nBetter intro.\n\n{MARKER}\n\ngen 2\n")
        );
        let page = command_page("scale").unwrap();
        assert!(
            page.contains("docker flow scale [OPTIONS] [N|+N|-N]"),
            "{page}"
        );
        assert!(command_page("nope").is_none());
    }
}
