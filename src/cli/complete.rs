//! Shell completion through the Docker CLI: `docker __complete flow <words…> <partial>` runs
//! `docker-flow __complete flow …`, and cobra's protocol expects one candidate per line
//! (`value<TAB>description`) and a last line `:<directive>`.

use clap::CommandFactory;

use super::FlowCli;

/// cobra's ShellCompDirectiveNoFileComp: never fall back to file names.
const NO_FILE_COMP: u32 = 4;

/// Candidates for the last word, given the words before it.
pub fn candidates(words: &[String]) -> Vec<(String, String)> {
    let (partial, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", &[][..]),
    };
    let root = FlowCli::command();
    // Walk down the subcommands named so far.
    let mut cmd = &root;
    for w in before {
        if let Some(sub) = cmd.find_subcommand(w) {
            cmd = sub;
        }
    }
    let mut out = Vec::new();
    if partial.starts_with('-') {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                let name = format!("--{long}");
                if name.starts_with(partial) {
                    out.push((name, help_of(arg.get_help())));
                }
            }
        }
        if "--help".starts_with(partial) {
            out.push(("--help".into(), "Print help".into()));
        }
    } else if let Some(prev) = before.last().and_then(|p| p.strip_prefix("--")) {
        // A value for the flag before: offer the enum's possible values.
        if let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(prev)) {
            for v in arg.get_possible_values() {
                if v.get_name().starts_with(partial) {
                    out.push((v.get_name().to_string(), help_of(v.get_help())));
                }
            }
        }
    }
    if out.is_empty() && !partial.starts_with('-') && std::ptr::eq(cmd, &root) {
        for sub in root.get_subcommands() {
            if sub.get_name().starts_with(partial) && !sub.is_hide_set() {
                out.push((sub.get_name().to_string(), help_of(sub.get_about())));
            }
        }
    }
    out
}

/// The protocol's text: candidates (with their descriptions when asked), then the directive.
pub fn render(words: &[String], descriptions: bool) -> String {
    let mut s = String::new();
    for (value, help) in candidates(words) {
        if help.is_empty() || !descriptions {
            s.push_str(&format!("{value}\n"));
        } else {
            s.push_str(&format!("{value}\t{help}\n"));
        }
    }
    s.push_str(&format!(":{NO_FILE_COMP}\n"));
    s
}

fn help_of(text: Option<&clap::builder::StyledStr>) -> String {
    text.map(|t| t.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn subcommands_by_prefix() {
        let out = render(&words(&["s"]), true);
        assert!(out.contains("scale\t"), "{out}");
        assert!(out.contains("status\t"), "{out}");
        assert!(out.contains("stop-old\t"), "{out}");
        assert!(!out.contains("deploy"), "{out}");
        assert!(out.ends_with(":4\n"));
    }

    #[test]
    fn flags_and_values_of_a_subcommand() {
        let out = render(&words(&["status", "--f"]), true);
        assert!(out.starts_with("--format\t"), "{out}");
        let out = render(&words(&["status", "--format", ""]), true);
        assert!(out.contains("json") && out.contains("text"), "{out}");
        let out = render(&words(&["st"]), false);
        assert_eq!(out, "stop-old\nstatus\n:4\n");
    }
}
