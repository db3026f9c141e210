//! A Consul agent of the test's own: the bed's binary in -dev mode from a config file, every port
//! on 127.0.0.1 and free, the HTTP API over TLS only (certificates made with openssl in a temp
//! dir), client certificates required, ACLs on with default deny. Ended by PID in Drop.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{tour::free_port, wait_until};

pub const CONSUL_BIN: &str = "/var/lib/dockerflow-testbed/bin/consul";

/// The files openssl made: a CA, the server's and a client's certificate and key, and a second,
/// unrelated CA (for "wrong CA" cases).
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for ca in ["ca", "other-ca"] {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=dftest {ca}"),
                "-keyout",
                &format!("{ca}-key.pem"),
                "-out",
                &format!("{ca}.pem"),
            ]);
        }
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:server.dc1.consul\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .unwrap();
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (who, cn) in [("server", "server.dc1.consul"), ("client", "dftest client")] {
            run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{who}-key.pem"),
                "-out",
                &format!("{who}.csr"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{who}.ext"),
                "-out",
                &format!("{who}.pem"),
            ]);
        }
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The base64 body lines of a PEM private key: what must never be printed.
    pub fn key_material(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(String::from)
            .collect()
    }
}

pub struct OwnConsul {
    child: Child,
    pub pki: Pki,
    pub https: String,
    pub token: String,
    data: tempfile::TempDir,
}

impl OwnConsul {
    /// Starts the agent and waits until it has a leader and the ACL master token works.
    /// Its ports are picked free, but another process can take one before the agent binds it
    /// (an outgoing connection's ephemeral port): an agent that exits is started again on new
    /// ports, up to three times, and a failure shows its log.
    pub fn start(token: &str) -> OwnConsul {
        let mut attempt = 1;
        let c = loop {
            // A new PKI too: the dropped agent takes its temp dirs along.
            let mut c = OwnConsul::spawn(Pki::new(), token);
            match c.wait_for_leader(Duration::from_secs(30)) {
                Ok(()) => break c,
                Err(why) if attempt < 3 && why.starts_with("exited") => {
                    eprintln!(
                        "own Consul agent {why}; starting it again on other ports:\n{}",
                        c.log()
                    );
                    attempt += 1;
                }
                Err(why) => panic!(
                    "our Consul agent did not elect itself ({why}); its log:\n{}",
                    c.log()
                ),
            }
        };
        wait_until(
            "our Consul agent to take the token",
            Duration::from_secs(30),
            || {
                c.get("/v1/kv/?keys").ok().or_else(|| {
                    // 404 on an empty KV is fine: it means the token was accepted.
                    c.curl(
                        &["-sS", "-o", "/dev/null", "-w", "%{http_code}"],
                        "/v1/kv/?keys",
                    )
                    .ok()
                    .filter(|code| code == "404")
                })
            },
        );
        c
    }

    /// The agent on freshly picked ports, its data and log in a new temp dir.
    fn spawn(pki: Pki, token: &str) -> OwnConsul {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let p = |name: &str| pki.path(name).display().to_string();
        let config = serde_json::json!({
            "node_name": format!("dftest-{}", std::process::id()),
            "data_dir": data.path().join("data"),
            "bind_addr": "127.0.0.1",
            "client_addr": "127.0.0.1",
            "advertise_addr": "127.0.0.1",
            "ports": {
                "http": -1, "dns": -1, "grpc": -1, "https": port,
                "serf_lan": free_port(), "serf_wan": free_port(), "server": free_port(),
            },
            "ca_file": p("ca.pem"),
            "cert_file": p("server.pem"),
            "key_file": p("server-key.pem"),
            "verify_incoming_https": true,
            "acl": {
                "enabled": true,
                "default_policy": "deny",
                "enable_token_persistence": false,
                "tokens": { "master": token, "agent": token },
            },
        });
        let file = data.path().join("agent.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let log = std::fs::File::create(data.path().join("agent.log")).unwrap();
        let child = Command::new(CONSUL_BIN)
            .args(["agent", "-dev", "-config-file"])
            .arg(&file)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start consul");
        OwnConsul {
            child,
            pki,
            https: format!("https://127.0.0.1:{port}"),
            token: token.to_string(),
            data,
        }
    }

    /// Until the agent reports itself as leader; "exited …" when it stopped first.
    fn wait_for_leader(&mut self, deadline: Duration) -> Result<(), String> {
        let start = std::time::Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited ({status})"));
            }
            if self
                .get("/v1/status/leader")
                .is_ok_and(|l| l.contains("127.0.0.1"))
            {
                return Ok(());
            }
            if start.elapsed() > deadline {
                return Err(format!("no leader after {deadline:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// curl against the agent with the CA, client certificate and token.
    pub fn curl(&self, extra: &[&str], path: &str) -> Result<String, String> {
        let (ca, cert, key) = (
            self.pki.path("ca.pem"),
            self.pki.path("client.pem"),
            self.pki.path("client-key.pem"),
        );
        let mut args: Vec<String> = [
            "--cacert",
            &ca.display().to_string(),
            "--cert",
            &cert.display().to_string(),
            "--key",
            &key.display().to_string(),
            "-H",
            &format!("X-Consul-Token: {}", self.token),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(format!("{}{path}", self.https));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        super::curl(&args)
    }

    pub fn get(&self, path: &str) -> Result<String, String> {
        self.curl(&["-fsS"], path)
    }

    /// The raw value of a key, if set.
    pub fn kv(&self, key: &str) -> Option<String> {
        self.get(&format!("/v1/kv/{key}?raw")).ok()
    }

    /// Every key under a prefix (empty when none).
    pub fn keys(&self, prefix: &str) -> String {
        self.get(&format!("/v1/kv/{prefix}?recurse"))
            .unwrap_or_default()
    }

    /// The environment that points docker flow at this agent (TLS files, token by env).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FLOW_CONSUL_ADDRESS", self.https.clone()),
            ("FLOW_CONSUL_CACERT", self.file("ca.pem")),
            ("FLOW_CONSUL_CLIENT_CERT", self.file("client.pem")),
            ("FLOW_CONSUL_CLIENT_KEY", self.file("client-key.pem")),
        ]
    }

    pub fn file(&self, name: &str) -> String {
        self.pki.path(name).display().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("agent.log")).unwrap_or_default()
    }
}

impl Drop for OwnConsul {
    fn drop(&mut self) {
        // Ours alone, by PID: SIGTERM via kill(1), then reap.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
