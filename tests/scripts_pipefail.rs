//! No shell script of the project ends a pipeline in a reader that can stop before its writer is
//! done (`| grep -q`, `| head`, `| sed q`, `| awk '{…; exit}'`, `| read`). Under `pipefail` the
//! writer then dies of SIGPIPE at random and the whole pipeline reads as failed: that is how
//! `consul version | grep -q 'Consul v1.8.7'` in testbed.sh made the test bed reinstall Consul,
//! or die without a word, about once in ten runs. Read the whole output instead (a variable,
//! `sed -n 1p`, `grep -c`). A line may carry `# pipefail-ok: <why>` where the writer cannot
//! outlive the reader; keep those rare.
//!
//! The scan is a small lexer, not a shell parser: it only has to tell code from quotes, comments
//! and here-documents to find the unquoted `|`s, and a parser crate would be a heavy dependency
//! for that.

use std::path::{Path, PathBuf};

const MARKER: &str = "# pipefail-ok:";

/// A command that reads from a pipe: where it starts and its text, up to the end of the command.
#[derive(Debug)]
struct Reader {
    /// The line of the `|` (1-based).
    pipe_line: usize,
    /// The line where the reading command starts (a `|` may end the line before).
    line: usize,
    text: String,
}

/// What the lexer is inside of.
#[derive(Debug)]
enum Frame {
    /// Commands: the script itself, `$(…)`, `(…)` or `` `…` ``, which `closer` ends; the reader
    /// of a pipe being read, or the line of a `|` whose reader has not started yet.
    Code {
        closer: Option<char>,
        reader: Option<Reader>,
        after_pipe: Option<usize>,
    },
    DoubleQuote,
    /// `${…}`.
    Param,
    /// `$((…))` or `((…))`, with the depth of the parentheses opened inside.
    Arith(usize),
}

fn code(closer: char) -> Frame {
    Frame::Code {
        closer: Some(closer),
        reader: None,
        after_pipe: None,
    }
}

struct Lexer {
    s: Vec<char>,
    i: usize,
    line: usize,
    stack: Vec<Frame>,
    /// Here-documents opened on this line: their end word, and whether tabs before it go.
    heredocs: Vec<(String, bool)>,
    found: Vec<Reader>,
}

/// Every command that reads a pipe, in code only (not in quotes, comments or here-documents).
fn pipe_readers(src: &str) -> Vec<Reader> {
    let mut lx = Lexer {
        s: src.chars().collect(),
        i: 0,
        line: 1,
        stack: vec![Frame::Code {
            closer: None,
            reader: None,
            after_pipe: None,
        }],
        heredocs: Vec::new(),
        found: Vec::new(),
    };
    while lx.i < lx.s.len() {
        match lx.stack.last().unwrap() {
            Frame::Code { closer, .. } => lx.code(*closer),
            Frame::DoubleQuote => lx.double_quote(),
            Frame::Param => lx.param(),
            Frame::Arith(_) => lx.arith(),
        }
    }
    while !lx.stack.is_empty() {
        lx.end_reader();
        lx.stack.pop();
    }
    lx.found
}

impl Lexer {
    fn at(&self, k: usize) -> char {
        self.s.get(k).copied().unwrap_or('\0')
    }

    fn starts(&self, p: &str) -> bool {
        p.chars().enumerate().all(|(k, c)| self.at(self.i + k) == c)
    }

    /// Consumes n characters into every reader being read.
    fn take(&mut self, n: usize) {
        let end = (self.i + n).min(self.s.len());
        for k in self.i..end {
            for f in &mut self.stack {
                if let Frame::Code {
                    reader: Some(r), ..
                } = f
                {
                    r.text.push(self.s[k]);
                }
            }
            if self.s[k] == '\n' {
                self.line += 1;
            }
        }
        self.i = end;
    }

    fn open(&mut self, n: usize, frame: Frame) {
        self.take(n);
        self.stack.push(frame);
    }

    /// A single-quoted string (`'…'`, or `$'…'` with escapes) starting here.
    fn single_quoted(&mut self) {
        let ansi = self.at(self.i) == '$';
        let mut k = self.i + 1 + usize::from(ansi);
        while k < self.s.len() && self.s[k] != '\'' {
            k += if ansi && self.s[k] == '\\' { 2 } else { 1 };
        }
        self.take(k + 1 - self.i);
    }

    /// Ends the reader of the innermost code frame, if one was being read.
    fn end_reader(&mut self) {
        if let Some(Frame::Code {
            reader, after_pipe, ..
        }) = self.stack.last_mut()
        {
            self.found.extend(reader.take());
            *after_pipe = None;
        }
    }

    fn code(&mut self, closer: Option<char>) {
        let (i, c) = (self.i, self.s[self.i]);
        let prev = if i == 0 { '\n' } else { self.s[i - 1] };
        if c == '#' && " \t\n;&|(){}".contains(prev) {
            while self.i < self.s.len() && self.s[self.i] != '\n' {
                self.i += 1;
            }
            return;
        }
        let line = self.line;
        if let Some(Frame::Code {
            reader, after_pipe, ..
        }) = self.stack.last_mut()
        {
            if let (Some(pipe_line), false) = (*after_pipe, c.is_whitespace()) {
                *reader = Some(Reader {
                    pipe_line,
                    line,
                    text: String::new(),
                });
                *after_pipe = None;
            }
        }
        let next = self.at(i + 1);
        if c == '\\' {
            self.take(2);
        } else if c == '\'' || self.starts("$'") {
            self.single_quoted();
        } else if c == '"' {
            self.open(1, Frame::DoubleQuote);
        } else if self.starts("$((") || self.starts("((") {
            self.open(if c == '$' { 3 } else { 2 }, Frame::Arith(0));
        } else if self.starts("$(") || c == '(' {
            self.open(if c == '$' { 2 } else { 1 }, code(')'));
        } else if self.starts("${") {
            self.open(2, Frame::Param);
        } else if Some(c) == closer {
            self.end_reader();
            self.stack.pop();
            self.take(1);
        } else if c == '`' {
            self.open(1, code('`'));
        } else if c == '|' && next != '|' && prev != '>' {
            // A pipe, `|` or `|&` (not `||`, nor the `>|` redirection).
            self.end_reader();
            if let Some(Frame::Code { after_pipe, .. }) = self.stack.last_mut() {
                *after_pipe = Some(line);
            }
            self.i += if next == '&' { 2 } else { 1 };
        } else if c == '|'
            || c == ';'
            || c == ')'
            || c == '&' && !"<>".contains(prev) && next != '>'
        {
            // The end of a command (also a case pattern's `)`); not `>&`, `<&` nor `&>`.
            self.end_reader();
            self.i += if c == '|' { 2 } else { 1 };
        } else if c == '\n' {
            if !matches!(
                self.stack.last(),
                Some(Frame::Code {
                    after_pipe: Some(_),
                    ..
                })
            ) {
                self.end_reader();
            }
            self.take(1);
            self.skip_heredocs();
        } else if self.starts("<<") && !self.starts("<<<") {
            self.heredoc();
        } else {
            self.take(1);
        }
    }

    /// `<<WORD`, `<<-WORD`, `<<'WORD'`: remembers WORD, whose body starts on the next line.
    fn heredoc(&mut self) {
        let mut k = self.i + 2;
        let strip_tabs = self.at(k) == '-';
        k += usize::from(strip_tabs);
        while self.at(k) == ' ' {
            k += 1;
        }
        let mut word = String::new();
        while k < self.s.len() && !" \t\n;&|<>()".contains(self.s[k]) {
            if !"'\"\\".contains(self.s[k]) {
                word.push(self.s[k]);
            }
            k += 1;
        }
        self.heredocs.push((word, strip_tabs));
        self.take(k - self.i);
    }

    /// Here-document bodies are text: skipped, up to their end word's line.
    fn skip_heredocs(&mut self) {
        for (word, strip_tabs) in std::mem::take(&mut self.heredocs) {
            while self.i < self.s.len() {
                let rest = &self.s[self.i..];
                let len = rest.iter().position(|&c| c == '\n').unwrap_or(rest.len());
                let body: String = rest[..len].iter().collect();
                self.i = (self.i + len + 1).min(self.s.len());
                self.line += 1;
                let body = if strip_tabs {
                    body.trim_start_matches('\t')
                } else {
                    &body
                };
                if body == word {
                    break;
                }
            }
        }
    }

    fn double_quote(&mut self) {
        let c = self.s[self.i];
        if c == '\\' {
            self.take(2);
        } else if c == '"' {
            self.take(1);
            self.stack.pop();
        } else if self.starts("$((") {
            self.open(3, Frame::Arith(0));
        } else if self.starts("$(") {
            self.open(2, code(')'));
        } else if c == '`' {
            self.open(1, code('`'));
        } else if self.starts("${") {
            self.open(2, Frame::Param);
        } else {
            self.take(1);
        }
    }

    fn param(&mut self) {
        let c = self.s[self.i];
        if c == '\\' {
            self.take(2);
        } else if c == '}' {
            self.take(1);
            self.stack.pop();
        } else if c == '\'' || self.starts("$'") {
            self.single_quoted();
        } else if c == '"' {
            self.open(1, Frame::DoubleQuote);
        } else if self.starts("$(") {
            self.open(2, code(')'));
        } else if self.starts("${") {
            self.open(2, Frame::Param);
        } else {
            self.take(1);
        }
    }

    fn arith(&mut self) {
        let Some(Frame::Arith(depth)) = self.stack.last_mut() else {
            unreachable!()
        };
        let c = self.s[self.i];
        if c == '(' {
            *depth += 1;
            self.take(1);
        } else if c == ')' && *depth > 0 {
            *depth -= 1;
            self.take(1);
        } else if self.starts("))") {
            self.take(2);
            self.stack.pop();
        } else {
            self.take(1);
        }
    }
}

/// The words of a command, quotes removed (enough to read options; `$(…)` stays as text).
fn words(text: &str) -> Vec<String> {
    let (mut out, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => (quote, any) = (Some(c), true),
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// Why this pipe reader can stop before its writer is done, or None.
fn stops_early(reader: &str) -> Option<&'static str> {
    let words = words(reader);
    let mut args = words.iter().skip_while(|w| {
        w.contains('=') && !w.starts_with('-') || ["command", "exec"].contains(&w.as_str())
    });
    let cmd = args.next()?;
    let args: Vec<&String> = args.collect();
    match cmd.rsplit('/').next().unwrap() {
        "head" => Some("head stops reading after its lines"),
        "read" | "line" => Some("read takes one line and leaves the rest"),
        "grep" | "egrep" | "fgrep" | "zgrep" => grep_stops_early(&args),
        "sed" if args.iter().any(|a| sed_quits(a)) => Some("sed q stops reading"),
        "awk" | "gawk" | "mawk" | "nawk" if args.iter().any(|a| has_word(a, "exit")) => {
            Some("awk's exit stops reading")
        }
        _ => None,
    }
}

/// grep -q, -m N, -l, -L stop at the first match(es) when reading a pipe.
fn grep_stops_early(args: &[&String]) -> Option<&'static str> {
    let why = Some("grep -q/-m/-l/-L stops reading at a match");
    let mut skip_next = false;
    for a in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if *a == "--" {
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let name = long.split('=').next().unwrap();
            if [
                "quiet",
                "silent",
                "max-count",
                "files-with-matches",
                "files-without-match",
            ]
            .contains(&name)
            {
                return why;
            }
            continue;
        }
        let Some(short) = a.strip_prefix('-') else {
            continue;
        };
        for (k, c) in short.char_indices() {
            if "qmlL".contains(c) {
                return why;
            }
            if "efABCDd".contains(c) {
                skip_next = k + 1 == short.len();
                break;
            }
        }
    }
    None
}

/// A sed script with a `q`/`Q` command (`q`, `1q`, `/x/q`, `1p;q`); `s/a/q/` is not one.
fn sed_quits(script: &str) -> bool {
    let c: Vec<char> = script.chars().collect();
    (0..c.len()).any(|i| {
        let before = i == 0 || " \t;{}/$0123456789".contains(c[i - 1]);
        let mut k = i + 1;
        while k < c.len() && c[k].is_ascii_digit() {
            k += 1;
        }
        let after = k == c.len() || " \t;}\n".contains(c[k]);
        "qQ".contains(c[i]) && before && after
    })
}

fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric() && c != '_')
        .any(|w| w == word)
}

/// `file:line: reason: command` for each reader that can stop early, unless marked reviewed.
fn offences(name: &str, src: &str) -> Vec<String> {
    let lines: Vec<&str> = src.lines().collect();
    let marked = |n: usize| {
        lines
            .get(n - 1)
            .and_then(|l| l.split_once(MARKER))
            .is_some_and(|(_, why)| !why.trim().is_empty())
    };
    pipe_readers(src)
        .into_iter()
        .filter_map(|r| {
            let why = stops_early(&r.text)?;
            (!marked(r.line) && !marked(r.pipe_line))
                .then(|| format!("{name}:{}: {why}: | {}", r.line, r.text.trim()))
        })
        .collect()
}

/// The project's shell scripts: `*.sh`, and files starting with a bash or sh shebang.
fn shell_scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let (path, kind) = (entry.path(), entry.file_type().unwrap());
        let name = entry.file_name().to_string_lossy().to_string();
        if kind.is_dir() && name != "target" && name != ".git" {
            shell_scripts(&path, out);
        } else if kind.is_file() {
            let head = std::fs::read(&path).unwrap_or_default();
            let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
            let shebang = first.starts_with(b"#!")
                && [&b"bash"[..], b"/sh"]
                    .iter()
                    .any(|w| first.windows(w.len()).any(|x| x == *w));
            if name.ends_with(".sh") || shebang {
                out.push(path);
            }
        }
    }
}

#[test]
fn no_project_script_ends_a_pipeline_in_a_reader_that_stops_early() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts = Vec::new();
    shell_scripts(root, &mut scripts);
    let names: Vec<String> = scripts
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    for want in [
        "scripts/testbed.sh",
        "scripts/quickstart.sh",
        "scripts/bench.sh",
        "scripts/test.sh",
        "install.sh",
        ".ci/run",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} not scanned; scanned: {names:?}"
        );
    }
    let testbed = std::fs::read_to_string(root.join("scripts/testbed.sh")).unwrap();
    assert!(
        pipe_readers(&testbed).len() >= 10,
        "the lexer lost testbed.sh's pipes"
    );
    let mut all = Vec::new();
    for (path, name) in scripts.iter().zip(&names) {
        all.extend(offences(name, &std::fs::read_to_string(path).unwrap()));
    }
    assert!(
        all.is_empty(),
        "pipelines whose reader can stop before the writer is done (under pipefail the writer dies \
         of SIGPIPE at random and the pipeline fails): read the whole output first (a variable, \
         sed -n 1p, grep -c), or mark a reviewed line `{MARKER} <why>`:\n{}",
        all.join("\n")
    );
}

#[cfg(test)]
fn flagged(src: &str) -> Vec<String> {
    offences("t.sh", src)
}

#[test]
fn the_scan_catches_the_original_bug_and_its_kin() {
    let bug = r#"  if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q 'Consul v1.8.7'; then return; fi"#;
    assert_eq!(
        flagged(bug),
        ["t.sh:1: grep -q/-m/-l/-L stops reading at a match: | grep -q 'Consul v1.8.7'"]
    );
    for src in [
        "\"$bin\" version | head -n 1 >&2",
        "v=$(sed -n 's/x/y/p' f | head -n 1)",
        "die \"taken: $(ss -Hltnp | head -n 1)\"",
        "x=`ls | head -1`",
        "ip addr show |\n  grep -q \"$a/\" || add",
        "a | grep -Eq x",
        "a | grep --quiet x",
        "a | grep -m1 x",
        "a | grep -l x",
        "a 2>&1 | /usr/bin/head",
        "a |& head",
        "a | sed q",
        "a | sed -n '1p;q'",
        "a | awk '/x/ { print; exit }'",
        "a | read -r first",
        "f() { a | head; }",
        "case $x in y) a | head ;; esac",
        "x=${y:-$(a | head -n 1)}",
    ] {
        assert_eq!(flagged(src).len(), 1, "not caught: {src}");
    }
    assert!(flagged("a |\n\n  head -n 1")
        .iter()
        .any(|o| o.starts_with("t.sh:3:")));
}

#[test]
fn the_scan_leaves_readers_that_read_everything_and_text_that_is_no_code() {
    for src in [
        "grep -q x file",
        "a | grep -c x",
        "a | grep x >/dev/null",
        "a | grep -e -q",
        "a | sed -n 1p",
        "a | sed 's/a/q/'",
        "a | awk 'NR == 1'",
        "a | tail -n 1",
        "a || head x",
        "a && head x",
        "echo 'a | head'",
        "echo \"a | head\"",
        "echo $'a | head \\' | head'",
        "# a | head",
        "a # | head",
        "x=$((a | b)); ((c | d))",
        "echo hi >| f",
        "cat <<EOF\na | head\nEOF\nb | tail",
        "cat <<-'EOF'\n\ta | head\n\tEOF",
        "grep -qx \"$a\" <<<\"$b\"",
        "awk '{ print \"a | head\" }' f",
        "a | while read -r x; do :; done",
        "a | head -n 1 # pipefail-ok: a writes one line then exits",
        "a |   # pipefail-ok: a writes one line\n  head -n 1",
        "[ \"${#x}\" = 1 ] | cat",
    ] {
        assert_eq!(flagged(src), Vec::<String>::new(), "wrongly caught: {src}");
    }
    // A marker with no reason is no marker.
    assert_eq!(flagged("a | head # pipefail-ok:").len(), 1);
}
