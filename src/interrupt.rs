//! Stop requests: Ctrl-C / SIGTERM, and the Docker CLI closing `DOCKER_CLI_PLUGIN_SOCKET`
//! (which it does instead of forwarding the signal when its stdout is not a terminal).
//! Flows check `Interrupt` at safe points so they stop between steps, never inside one.

use tokio::sync::watch;

/// Why we were asked to stop, once asked.
#[derive(Clone)]
pub struct Interrupt {
    rx: watch::Receiver<Option<&'static str>>,
}

impl Interrupt {
    /// Starts listening for signals and for the CLI's socket closing.
    pub fn install() -> Interrupt {
        let (tx, rx) = watch::channel(None);
        spawn_signal(
            tx.clone(),
            tokio::signal::unix::SignalKind::interrupt(),
            "interrupted (SIGINT)",
        );
        spawn_signal(
            tx.clone(),
            tokio::signal::unix::SignalKind::terminate(),
            "terminated (SIGTERM)",
        );
        if let Ok(name) = std::env::var("DOCKER_CLI_PLUGIN_SOCKET") {
            spawn_socket_watch(tx, name);
        }
        Interrupt { rx }
    }

    /// The reason, once a stop was requested: flows check it between steps.
    pub fn reason(&self) -> Option<&'static str> {
        *self.rx.borrow()
    }

    /// Resolves when a stop is requested.
    pub async fn requested(&mut self) -> &'static str {
        loop {
            if let Some(r) = *self.rx.borrow_and_update() {
                return r;
            }
            if self.rx.changed().await.is_err() {
                // Every sender is gone: nothing can ask us to stop any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

fn spawn_signal(
    tx: watch::Sender<Option<&'static str>>,
    kind: tokio::signal::unix::SignalKind,
    why: &'static str,
) {
    if let Ok(mut sig) = tokio::signal::unix::signal(kind) {
        tokio::spawn(async move {
            while sig.recv().await.is_some() {
                if tx.borrow().is_some() {
                    // A second signal: the user insists, so leave at once.
                    eprintln!("docker flow: {why} again, exiting now");
                    std::process::exit(130);
                }
                let _ = tx.send(Some(why));
            }
        });
    }
}

/// The CLI keeps the socket open while it wants us to run; EOF means "stop".
fn spawn_socket_watch(tx: watch::Sender<Option<&'static str>>, name: String) {
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let Some(mut stream) = connect_plugin_socket(&name) else {
            return;
        };
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        let _ = tx.send(Some("stopped by the docker CLI"));
    });
}

fn connect_plugin_socket(name: &str) -> Option<tokio::net::UnixStream> {
    use std::os::unix::net::{SocketAddr, UnixStream};
    let addr = match name.strip_prefix('@') {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name.as_bytes()).ok()?
        }
        None => SocketAddr::from_pathname(name).ok()?,
    };
    let std_stream = UnixStream::connect_addr(&addr).ok()?;
    std_stream.set_nonblocking(true).ok()?;
    tokio::net::UnixStream::from_std(std_stream).ok()
}
