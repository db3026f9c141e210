//! The HAProxy Runtime API, reached through the Docker API: the plugin may run on another
//! machine than the proxy, and the API listens on the container's loopback only. Each call is one
//! exec in the proxy container running a tiny client — busybox `nc`, or bash's `/dev/tcp` on
//! images without nc (the official Debian image), chosen by the shell in the same exec. The commands travel
//! in an environment variable of the exec (never through a shell's parser), `;`-joined so one
//! exec carries a whole batch.

use bollard::{
    exec::{CreateExecOptions, StartExecOptions, StartExecResults},
    Docker,
};
use futures_util::StreamExt;

use super::{
    error::ProxyError,
    render::{Slot, CONFIG_DIR, CONFIG_FILE},
};

/// Configs up to this size travel inside the switch exec (an environment variable; Linux caps
/// one at 128 kB); larger ones are uploaded separately.
pub(crate) const MAX_INLINE_CONFIG: usize = 96 * 1024;

/// What a switch exec did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// The file in the container was not the generation the caller diffed from: nothing done.
    Stale,
    /// Commands applied and the new file in place.
    Done,
}

/// How a switch writes the new config file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Write<'a> {
    /// This text (already stamped), carried in the exec's environment.
    Inline(&'a str),
    /// `<file>.next`, uploaded by the caller before the switch.
    Prepared,
}

impl Write<'_> {
    fn mode(&self) -> &'static str {
        match self {
            Write::Inline(_) => "inline",
            Write::Prepared => "prepared",
        }
    }
}

/// HAProxy reads at most a buffer (16 kB by default) of commands per line: stay well below.
const MAX_BATCH: usize = 8 * 1024;

pub(crate) struct Runtime<'a> {
    pub docker: &'a Docker,
    pub container: &'a str,
    pub opts: &'a super::ProxyOptions,
    /// The open shell of this process, when it has one (see session.rs).
    pub session: &'a tokio::sync::Mutex<Option<super::session::Session>>,
}

/// One server as the running HAProxy sees it (`show servers state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveServer {
    pub backend: String,
    pub name: String,
    pub address: String,
    pub port: u16,
    pub admin: u32,
}

impl LiveServer {
    /// In maintenance (forced, inherited or resolution); `disabled` in the config is forced.
    pub fn maint(&self) -> bool {
        self.admin & 0x23 != 0
    }
    pub fn drain(&self) -> bool {
        self.admin & 0x18 != 0
    }
    pub fn enabled(&self) -> bool {
        !self.maint() && !self.drain()
    }
}

impl Runtime<'_> {
    /// Opens the shell now, so that the next script does not pay for it.
    pub async fn open_session(&self) {
        let mut slot = self.session.lock().await;
        self.fill(&mut slot).await;
    }

    /// Opens the shell into an empty slot; a shell that cannot be opened leaves it empty.
    async fn fill(&self, slot: &mut Option<super::session::Session>) {
        if slot.is_none() {
            *slot = super::session::Session::open(self.docker, self.container)
                .await
                .ok();
        }
    }

    /// Runs a shell script in the container through the open shell (opened on first use), or a
    /// new exec when the shell cannot be opened or breaks (the proxy was recreated): a script
    /// that broke mid-way is run again, which the scripts allow (generation check, idempotent
    /// commands).
    pub async fn script(
        &self,
        script: &str,
        env: Vec<String>,
    ) -> Result<(i64, String), ProxyError> {
        let mut slot = self.session.lock().await;
        self.fill(&mut slot).await;
        if let Some(session) = slot.as_mut() {
            match session.run(script, &env).await {
                Ok(done) => return Ok(done),
                Err(_) => *slot = None,
            }
        }
        drop(slot);
        self.exec(sh(script), env, Some("0")).await
    }

    /// Runs `cmd` in the container: (exit code, stdout+stderr).
    pub async fn exec(
        &self,
        cmd: Vec<String>,
        env: Vec<String>,
        user: Option<&str>,
    ) -> Result<(i64, String), ProxyError> {
        let what = || format!("exec in {}", self.container);
        let created = self
            .docker
            .create_exec(
                self.container,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd),
                    env: Some(env),
                    user: user.map(str::to_string),
                    ..Default::default()
                },
            )
            .await
            .map_err(ProxyError::docker(what()))?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    output_capacity: Some(1 << 20),
                    ..Default::default()
                }),
            )
            .await
            .map_err(ProxyError::docker(what()))?;
        let mut out = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(chunk) = output.next().await {
                out.extend_from_slice(&chunk.map_err(ProxyError::docker(what()))?.into_bytes());
            }
        }
        let code = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(ProxyError::docker(what()))?
            .exit_code
            .unwrap_or(-1);
        Ok((code, String::from_utf8_lossy(&out).into_owned()))
    }

    /// Shell text sending `$FLOW_CMD` to the Runtime API and printing the answer: busybox `nc`
    /// when the image has it, else bash's `/dev/tcp` (the official Debian image). Detected by
    /// the shell in the same exec, which costs nothing, instead of one more exec.
    fn send_script(&self) -> String {
        let addr = self.opts.runtime_addr();
        let port = self.opts.runtime_port();
        format!(
            "if command -v nc >/dev/null 2>&1; then printf '%s\\n' \"$FLOW_CMD\" | nc {addr} {port}; \
             else bash -c 'exec 3<>/dev/tcp/{addr}/{port} && printf \"%s\\n\" \"$FLOW_CMD\" >&3 && cat <&3'; fi"
        )
    }

    fn connect_script(addr: &str, port: u16) -> String {
        format!(
            "if command -v nc >/dev/null 2>&1; then nc {addr} {port} </dev/null >/dev/null; \
             else bash -c 'exec 3<>/dev/tcp/{addr}/{port}'; fi"
        )
    }

    /// Sends one line (commands joined with `;`) and returns the raw answer.
    pub async fn send(&self, line: &str) -> Result<String, ProxyError> {
        debug_assert!(!line.contains('\n'));
        let (code, out) = self
            .script(&self.send_script(), vec![format!("FLOW_CMD={line}")])
            .await?;
        if code != 0 || out.is_empty() {
            return Err(ProxyError::Runtime {
                command: line.to_string(),
                answer: format!("no answer (exit {code}): {}", out.trim()),
            });
        }
        Ok(out)
    }

    /// Sends `set …` commands in as few execs as possible; any answer but the known
    /// confirmations is an error.
    pub async fn commands(&self, cmds: &[String]) -> Result<(), ProxyError> {
        for b in batches(cmds) {
            let answer = self.send(&b).await?;
            check_answer(&b, &answer)?;
        }
        Ok(())
    }

    /// The switch in one exec (as root, to write the config directory): checks that the file is
    /// still `generation` (0: do not check), writes the new file beside the live one, sends the
    /// commands, then moves the file in place. The new file is written before any command, so
    /// a config directory that is full or read-only fails the switch with nothing changed.
    /// Batches too large for one line go the slow way: the file first, then the commands
    /// (on failure the caller puts the old file back).
    pub async fn switch(
        &self,
        cmds: &[String],
        generation: u64,
        write: Write<'_>,
    ) -> Result<Switch, ProxyError> {
        let batches = batches(cmds);
        let one = batches.len() <= 1;
        let line = if one {
            batches.first().cloned().unwrap_or_default()
        } else {
            String::new()
        };
        let path = format!("{CONFIG_DIR}/{CONFIG_FILE}");
        let script = format!(
            "f='{path}'
if [ \"$FLOW_GEN\" != 0 ]; then
  first=; read -r first < \"$f\" || true
  [ \"$first\" = \"# generation $FLOW_GEN\" ] || {{ echo FLOW_STALE; exit 0; }}
fi
case \"$FLOW_WRITE\" in
  inline) {{ printf '%s' \"$FLOW_CFG\" > \"$f.tmp\" && [ \"$(wc -c < \"$f.tmp\")\" -eq \"$FLOW_LEN\" ]; }} 2>&1 || {{ rm -f \"$f.tmp\"; echo FLOW_NOWRITE; exit 1; }} ;;
  prepared) mv -f \"$f.next\" \"$f.tmp\" 2>&1 || {{ echo FLOW_NOWRITE; exit 1; }} ;;
esac
if [ -n \"$FLOW_CMD\" ]; then {{ {send}; }} || {{ rm -f \"$f.tmp\"; exit 1; }}; fi
mv -f \"$f.tmp\" \"$f\" || exit 1
echo FLOW_DONE",
            send = self.send_script()
        );
        let mut env = vec![
            format!("FLOW_GEN={generation}"),
            format!("FLOW_CMD={line}"),
            format!("FLOW_WRITE={}", write.mode()),
        ];
        if let Write::Inline(config) = write {
            env.push(format!("FLOW_CFG={config}"));
            env.push(format!("FLOW_LEN={}", config.len()));
        }
        let (code, out) = self.script(&script, env).await?;
        if out.lines().any(|l| l == "FLOW_STALE") {
            return Ok(Switch::Stale);
        }
        if out.lines().any(|l| l == "FLOW_NOWRITE") {
            return Err(ProxyError::Container {
                container: self.container.to_string(),
                message: format!(
                    "cannot write the new config in {CONFIG_DIR} (full or read-only?): {}; nothing was changed, the old config keeps serving",
                    out.replace("FLOW_NOWRITE", "").trim()
                ),
            });
        }
        let answer = out.replace("FLOW_DONE", "");
        if code != 0 || !out.contains("FLOW_DONE") {
            return Err(ProxyError::Runtime {
                command: line,
                answer: format!("exit {code}: {}", answer.trim()),
            });
        }
        check_answer(&line, &answer)?;
        if !one {
            self.commands(cmds).await?;
        }
        Ok(Switch::Done)
    }

    /// `show info` answered and the main frontend accepts a TCP connection: the worker's PID.
    pub async fn probe(&self) -> Result<Option<u32>, ProxyError> {
        let script = format!(
            "{{ {}; }} && {{ {}; }} && echo FLOW_FRONTEND_OK",
            self.send_script(),
            {
                let (addr, port) = self.opts.http_probe();
                Self::connect_script(&addr, port)
            }
        );
        let (_, out) = self
            .script(&script, vec!["FLOW_CMD=show info".into()])
            .await?;
        if !out.contains("FLOW_FRONTEND_OK") {
            return Ok(None);
        }
        Ok(out
            .lines()
            .find_map(|l| l.strip_prefix("Pid:"))
            .and_then(|p| p.trim().parse().ok()))
    }

    pub async fn servers(&self) -> Result<Vec<LiveServer>, ProxyError> {
        let out = self.send("show servers state").await?;
        let mut v = Vec::new();
        for l in out.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 19 || l.starts_with('#') {
                continue;
            }
            v.push(LiveServer {
                backend: f[1].into(),
                name: f[3].into(),
                address: f[4].into(),
                port: f[18].parse().unwrap_or(0),
                admin: f[6].parse().unwrap_or(0),
            });
        }
        Ok(v)
    }

    /// Current sessions per (backend, server).
    pub async fn sessions(&self) -> Result<Vec<(String, String, u64)>, ProxyError> {
        let out = self.send("show stat -1 4 -1").await?;
        Ok(out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f.len() > 4).then(|| {
                    (
                        f[0].to_string(),
                        f[1].to_string(),
                        f[4].parse().unwrap_or(0),
                    )
                })
            })
            .collect())
    }
}

/// `;`-joined lines of at most `MAX_BATCH` bytes.
fn batches(cmds: &[String]) -> Vec<String> {
    let mut batch = String::new();
    let mut batches = Vec::new();
    for c in cmds {
        if !batch.is_empty() && batch.len() + c.len() + 2 > MAX_BATCH {
            batches.push(std::mem::take(&mut batch));
        }
        if !batch.is_empty() {
            batch.push_str("; ");
        }
        batch.push_str(c);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// Any answer line but the known confirmations is an error.
fn check_answer(line: &str, answer: &str) -> Result<(), ProxyError> {
    let bad: Vec<&str> = answer
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("IP changed from")
                && !l.starts_with("port changed from")
                && !l.starts_with("no need to change")
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(ProxyError::Runtime {
            command: line.to_string(),
            answer: bad.join(" / "),
        })
    }
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// What a slot currently is: (address, port, enabled).
pub(crate) type SlotNow = (String, u16, bool);

/// Commands that take slots from `now` to `want`: first fill and enable (address, `state ready`,
/// `health up` — the model lists passing instances only), then retire (`state drain`, `state
/// maint`: in-flight requests finish, no new ones arrive), then re-address retired slots.
pub(crate) fn converge(now: impl Fn(&Slot) -> Option<SlotNow>, want: &[Slot]) -> Vec<String> {
    let mut enable = Vec::new();
    let mut retire = Vec::new();
    let mut readdress = Vec::new();
    for s in want {
        let id = format!("{}/{}", s.backend, s.name);
        let (addr, port) = s.addr();
        let Some((cur_addr, cur_port, cur_on)) = now(s) else {
            continue;
        };
        let moved = cur_addr != addr || cur_port != port;
        let set_addr = format!("set server {id} addr {addr} port {port}");
        if s.enabled {
            if moved {
                enable.push(set_addr);
            }
            if !cur_on {
                enable.push(format!("set server {id} state ready"));
                enable.push(format!("set server {id} health up"));
            }
        } else {
            if cur_on {
                retire.push(format!("set server {id} state drain"));
                retire.push(format!("set server {id} state maint"));
            }
            if moved {
                readdress.push(set_addr);
            }
        }
    }
    enable.extend(retire);
    enable.extend(readdress);
    enable
}
