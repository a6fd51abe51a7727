//! Stop on SIGTERM, SIGINT and SIGHUP-as-reload, the async-signal-safe way: the handler
//! only stores to static atomics, and the poll loop reads them between bursts.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only atomic stores: async-signal-safe.
    if sig == libc::SIGHUP {
        RELOAD.store(true, Ordering::Relaxed);
    } else {
        STOP.store(true, Ordering::Relaxed);
    }
}

/// Install handlers: SIGTERM and SIGINT set the stop flag, SIGHUP the reload flag.
pub fn install() -> io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: `sigaction` is given a zeroed struct whose handler is a plain
        // `extern "C" fn(c_int)` that only touches static atomics; SA_RESTART keeps
        // interrupted syscalls going. No Rust state is shared with the handler.
        let rc = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The stop flag (also settable by the program itself).
pub fn stop_flag() -> &'static AtomicBool {
    &STOP
}

/// True once if SIGHUP arrived since the last call.
pub fn take_reload() -> bool {
    RELOAD.swap(false, Ordering::Relaxed)
}
