//! Thread-per-connection HTTP/1.1 server with keep-alive and a graceful drain.
//!
//! Load tests run thousands of requests through a blue-green switch, so the
//! rules are: a request that has started arriving is always answered, idle
//! keep-alive connections are the only ones closed without a response, and
//! every response says whether the connection stays open.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::http::{Body, ReadError, RequestReader};
use crate::routes;

/// More clients than this wait in the listen backlog until a slot frees.
const MAX_CONNECTIONS: usize = 1024;
/// Socket read timeout: how often a waiting connection looks at the drain flag.
const TICK: Duration = Duration::from_millis(250);
/// Close connections that sent nothing for this long (idle or mid-request).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the client's FIN after our last response.
const LINGER: Duration = Duration::from_secs(2);
/// Handlers are shallow; no need for the 2 MiB default stack.
const STACK_SIZE: usize = 256 * 1024;

pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

struct Shared {
    cfg: Config,
    started: Instant,
    draining: AtomicBool,
    counts: Mutex<Counts>,
    changed: Condvar,
}

struct Counts {
    active: usize,
    accepting: bool,
}

impl Server {
    /// Binds the listener and starts accepting in the background.
    /// `started` is the process start, which the time-based knobs count from.
    pub fn start(cfg: Config, started: Instant) -> io::Result<Server> {
        let listener = TcpListener::bind(cfg.listen)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cfg,
            started,
            draining: AtomicBool::new(false),
            counts: Mutex::new(Counts {
                active: 0,
                accepting: true,
            }),
            changed: Condvar::new(),
        });
        let acceptor = Arc::clone(&shared);
        thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept_loop(listener, acceptor))?;
        Ok(Server { shared, addr })
    }

    /// The bound address (useful with PORT=0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes idle connections, lets in-flight requests
    /// finish, and waits up to `timeout` for that. Returns how many
    /// connections were still open when it gave up.
    pub fn drain(self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        self.shared.draining.store(true, Ordering::SeqCst);
        // Take the lock before notifying so a waiting acceptor cannot miss it.
        drop(self.shared.lock());
        self.shared.changed.notify_all();
        // accept() can't be interrupted portably: wake it with a connection.
        let _ = TcpStream::connect_timeout(&wake_addr(self.addr), Duration::from_secs(1));

        let mut counts = self.shared.lock();
        while counts.active > 0 || counts.accepting {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            counts = self
                .shared
                .changed
                .wait_timeout(counts, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        counts.active
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Waits for a free connection slot; false once draining.
    fn wait_for_slot(&self) -> bool {
        let mut counts = self.lock();
        while counts.active >= MAX_CONNECTIONS && !self.draining() {
            counts = self
                .changed
                .wait(counts)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !self.draining()
    }
}

/// Counts a connection as active for as long as it lives.
struct Slot(Arc<Shared>);

impl Slot {
    fn take(shared: &Arc<Shared>) -> Slot {
        shared.lock().active += 1;
        Slot(Arc::clone(shared))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.lock().active -= 1;
        self.0.changed.notify_all();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while shared.wait_for_slot() {
        match listener.accept() {
            Ok((stream, _)) => {
                // Serve it even if draining began meanwhile: it may be a real
                // client that raced the signal, not just our wake-up call.
                let draining = shared.draining();
                let slot = Slot::take(&shared);
                let spawned = thread::Builder::new()
                    .stack_size(STACK_SIZE)
                    .spawn(move || serve_connection(stream, &slot));
                if let Err(e) = spawned {
                    eprintln!("demo: cannot start connection thread: {e}");
                }
                if draining {
                    break;
                }
            }
            // Typically out of file descriptors: back off rather than spin;
            // the client waits in the backlog meanwhile.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    // Dropping the listener makes new connection attempts fail fast, so a
    // proxy moves on to the other release instead of waiting.
    drop(listener);
    shared.lock().accepting = false;
    shared.changed.notify_all();
}

/// The listener's own address, or loopback if it listens on all addresses.
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// Why a connection stops before a request is complete.
enum Stop {
    /// Nothing to answer (idle, or the client went away): just close.
    Close,
    /// Answer with this error status (and detail for the body), then close.
    Reply(u16, &'static str),
}

fn serve_connection(stream: TcpStream, slot: &Slot) {
    let shared = &*slot.0;
    // Each response goes out in one write; Nagle would only delay it.
    let _ = stream.set_nodelay(true);
    if stream.set_read_timeout(Some(TICK)).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let mut reader = RequestReader::new(&stream);
    let mut out = &stream;

    let answered = loop {
        let req = match patiently(&mut reader, shared, true, |r| r.read_head()) {
            Ok(Some(req)) => req,
            Ok(None) | Err(Stop::Close) => break false,
            Err(Stop::Reply(status, why)) => break reply_and_close(out, status, why, shared),
        };

        match req.body {
            Body::Empty => {}
            Body::Length(mut left) => {
                if req.expect_continue && out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                    break false;
                }
                match patiently(&mut reader, shared, false, |r| r.discard_body(&mut left)) {
                    Ok(()) => {}
                    Err(Stop::Close) => break false,
                    Err(Stop::Reply(status, why)) => {
                        break reply_and_close(out, status, why, shared)
                    }
                }
            }
            // Chunked bodies are not supported; without reading this one we
            // cannot find the next request, so the connection must end.
            Body::TransferEncoded => {
                break reply_and_close(out, 501, "chunked request bodies", shared)
            }
        }

        let resp = routes::route(&req, &shared.cfg, shared.started.elapsed());
        // Once draining, tell every client to go elsewhere for the next request.
        let keep_alive = req.keep_alive && !shared.draining();
        if out
            .write_all(&resp.to_bytes(keep_alive, req.method != "HEAD"))
            .is_err()
        {
            break false;
        }
        if !keep_alive {
            break true;
        }
    };
    if answered {
        linger_close(&stream);
    }
}

/// Runs a read step that may hit the socket's read timeout, retrying until it
/// completes. Gives up when the client sent nothing for IDLE_TIMEOUT, or when
/// draining and the connection is idle between requests.
fn patiently<T>(
    reader: &mut RequestReader<&TcpStream>,
    shared: &Shared,
    between_requests: bool,
    mut step: impl FnMut(&mut RequestReader<&TcpStream>) -> Result<T, ReadError>,
) -> Result<T, Stop> {
    let mut progress = (reader.received(), Instant::now());
    let mut drain_seen = false;
    loop {
        match step(reader) {
            Ok(value) => return Ok(value),
            Err(ReadError::Io(e)) if is_timeout(&e) => {
                if reader.received() != progress.0 {
                    progress = (reader.received(), Instant::now());
                }
                let idle = between_requests && reader.buffered() == 0;
                if idle && shared.draining() {
                    // Close only after a whole read timeout that began once we
                    // knew about the drain: a request sent before the signal
                    // is then surely read and answered, not dropped.
                    if drain_seen {
                        return Err(Stop::Close);
                    }
                    drain_seen = true;
                }
                if progress.1.elapsed() >= IDLE_TIMEOUT {
                    return Err(if idle {
                        Stop::Close
                    } else {
                        Stop::Reply(408, "request incomplete after 30 s")
                    });
                }
            }
            // Reset or EOF mid-request: nobody left to answer.
            Err(ReadError::Io(_)) => return Err(Stop::Close),
            Err(ReadError::Malformed(why)) => return Err(Stop::Reply(400, why)),
            Err(ReadError::TooLarge) => return Err(Stop::Reply(431, "request head over 16 KiB")),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    // SO_RCVTIMEO reports EAGAIN (WouldBlock) on Unix, TimedOut elsewhere.
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn reply_and_close(mut out: &TcpStream, status: u16, why: &str, shared: &Shared) -> bool {
    let resp = routes::error(status, why, &shared.cfg);
    out.write_all(&resp.to_bytes(false, true)).is_ok()
}

/// Closes after a final response without losing it: send our FIN first and
/// read until the client's, because closing with unread request bytes in the
/// socket would send a reset that can destroy the response in flight.
fn linger_close(stream: &TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 1024];
    let mut input = stream;
    while Instant::now() < deadline {
        match input.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_via_loopback_when_listening_everywhere() {
        let any4: SocketAddr = "0.0.0.0:81".parse().unwrap();
        let any6: SocketAddr = "[::]:82".parse().unwrap();
        let one: SocketAddr = "10.1.2.3:83".parse().unwrap();
        assert_eq!(wake_addr(any4), "127.0.0.1:81".parse().unwrap());
        assert_eq!(wake_addr(any6), "[::1]:82".parse().unwrap());
        assert_eq!(wake_addr(one), one);
    }
}
