//! SIGTERM / SIGINT as a flag that long-running loops poll, so `serve` and `watch`
//! stop cleanly (flushing what they wrote) instead of dying mid-line.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the handlers for SIGTERM and SIGINT (idempotent).
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe;
    // signal() with a valid function pointer has no other preconditions.
    unsafe {
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

/// True once SIGTERM or SIGINT arrived.
pub fn stopping() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Sleeps until `deadline`, waking early (returning false) when a stop was asked.
pub fn sleep_until(deadline: Instant) -> bool {
    loop {
        if stopping() {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}
