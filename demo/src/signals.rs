//! SIGTERM/SIGINT handling without crates.
//!
//! As PID 1 in a container the process gets no default signal dispositions,
//! so without a handler `docker stop` would wait out its timeout and SIGKILL
//! us. The handler only touches atomics (async-signal-safe); the main thread
//! polls them.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

static RECEIVED: AtomicU32 = AtomicU32::new(0);
static LAST: AtomicI32 = AtomicI32::new(0);

const POLL: Duration = Duration::from_millis(20);

/// Routes SIGTERM and SIGINT to our flag. A second signal exits at once
/// with code 1, skipping any stop delay or drain.
pub fn install() {
    #[cfg(unix)]
    sys::install();
}

/// Whether SIGTERM or SIGINT has arrived.
pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}

/// Name of the last signal received, for logs.
pub fn name() -> &'static str {
    match LAST.load(Ordering::SeqCst) {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// Blocks until a signal arrives (true) or `timeout` passes (false).
pub fn wait(timeout: Option<Duration>) -> bool {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if received() {
            return true;
        }
        let pause = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(POLL),
                _ => return false,
            },
            None => POLL,
        };
        thread::sleep(pause);
    }
}

#[cfg(unix)]
mod sys {
    use std::ffi::c_int;
    use std::sync::atomic::Ordering;

    // Same numbers on every Linux architecture and on the BSDs.
    const SIGINT: c_int = 2;
    const SIGTERM: c_int = 15;
    const SIG_ERR: usize = usize::MAX;

    // From the C library std already links. glibc and musl give signal()
    // BSD semantics: the handler stays installed and interrupted system
    // calls restart, so no need for the platform-specific sigaction layout.
    unsafe extern "C" {
        fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
        fn _exit(status: c_int) -> !;
    }

    extern "C" fn on_signal(sig: c_int) {
        super::LAST.store(sig, Ordering::SeqCst);
        if super::RECEIVED.fetch_add(1, Ordering::SeqCst) > 0 {
            // SAFETY: _exit is async-signal-safe (process::exit is not).
            unsafe { _exit(1) }
        }
    }

    pub fn install() {
        for sig in [SIGINT, SIGTERM] {
            // SAFETY: on_signal is a plain function valid for the life of the
            // process and does only async-signal-safe work.
            if unsafe { signal(sig, on_signal) } == SIG_ERR {
                eprintln!("demo: cannot install handler for signal {sig}");
            }
        }
    }
}
