//! A shell kept open in the proxy container for the life of one docker flow process. Every
//! Runtime API exchange is a shell script run in the container; a new exec for each costs
//! 30–100 ms on the engine, a script written to an open shell about a millisecond. So
//! `deploy --flow proxy` switches users within milliseconds of the candidate turning healthy:
//! the deploy's preview update opened the shell, the switch only writes to it.

use std::pin::Pin;
use std::time::Duration;

use bollard::{
    container::LogOutput,
    exec::{CreateExecOptions, StartExecOptions, StartExecResults},
    Docker,
};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::error::ProxyError;

/// Longest a script may run (a switch or probe takes milliseconds; a stuck one is an error).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(30);

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

pub(crate) struct Session {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    /// Output read past the last script's end marker.
    pending: Vec<u8>,
    /// Marks the end of a script's output; random per session so no output can fake it.
    marker: String,
}

impl Session {
    /// Starts `sh` in the container as root (the switch writes the config directory).
    pub async fn open(docker: &Docker, container: &str) -> Result<Session, ProxyError> {
        let what = || format!("open a shell in {container}");
        let created = docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(vec!["sh".to_string()]),
                    user: Some("0".to_string()),
                    ..Default::default()
                },
            )
            .await
            .map_err(ProxyError::docker(what()))?;
        let started = docker
            .start_exec(&created.id, None::<StartExecOptions>)
            .await
            .map_err(ProxyError::docker(what()))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(ProxyError::Container {
                container: container.to_string(),
                message: "the shell started detached".into(),
            });
        };
        let nonce: [u8; 8] = std::array::from_fn(|_| rand_byte());
        let marker = format!(
            "FLOW_END_{}",
            nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        Ok(Session {
            input,
            output,
            pending: Vec::new(),
            marker,
        })
    }

    /// Runs `script` with `env` (`NAME=value`) in a subshell (its `exit` ends only the subshell):
    /// (exit code, stdout+stderr).
    pub async fn run(&mut self, script: &str, env: &[String]) -> Result<(i64, String), ProxyError> {
        tokio::time::timeout(SCRIPT_DEADLINE, self.run_inner(script, env))
            .await
            .map_err(|_| ProxyError::Timeout {
                what: "a script in the proxy's shell".into(),
                secs: SCRIPT_DEADLINE.as_secs_f64(),
            })?
    }

    async fn run_inner(
        &mut self,
        script: &str,
        env: &[String],
    ) -> Result<(i64, String), ProxyError> {
        let mut text = String::from("(\n");
        for var in env {
            let (name, value) = var.split_once('=').unwrap_or((var, ""));
            text.push_str(&format!("export {name}={}\n", quote(value)));
        }
        text.push_str(script);
        text.push_str(&format!(
            "\n) </dev/null 2>&1; printf '\\n{} %s\\n' \"$?\"\n",
            self.marker
        ));
        let broken = |e: std::io::Error| ProxyError::Container {
            container: String::new(),
            message: format!("the proxy's shell: {e}"),
        };
        self.input
            .write_all(text.as_bytes())
            .await
            .map_err(broken)?;
        self.input.flush().await.map_err(broken)?;
        let needle = format!("\n{} ", self.marker);
        loop {
            if let Some(at) = find(&self.pending, needle.as_bytes()) {
                let rest = &self.pending[at + needle.len()..];
                if let Some(nl) = rest.iter().position(|b| *b == b'\n') {
                    let code = String::from_utf8_lossy(&rest[..nl])
                        .trim()
                        .parse()
                        .unwrap_or(-1);
                    let out = String::from_utf8_lossy(&self.pending[..at]).into_owned();
                    self.pending.drain(..at + needle.len() + nl + 1);
                    return Ok((code, out));
                }
            }
            match self.output.next().await {
                Some(Ok(chunk)) => self.pending.extend_from_slice(&chunk.into_bytes()),
                Some(Err(e)) => {
                    return Err(broken(std::io::Error::other(e.to_string())));
                }
                None => {
                    return Err(broken(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "closed",
                    )))
                }
            }
        }
    }
}

/// Single-quoted for sh: every byte literal, `'` written as `'\''`.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Randomness for the marker, from the std hasher's per-process random keys.
fn rand_byte() -> u8 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now()) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_literally() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's $HOME `x`"), r"'it'\''s $HOME `x`'");
        assert_eq!(quote("line\nnext"), "'line\nnext'");
    }

    #[test]
    fn the_marker_is_found_across_chunks() {
        assert_eq!(find(b"abc\nEND 0\n", b"\nEND "), Some(3));
        assert_eq!(find(b"abc", b"\nEND "), None);
    }
}
