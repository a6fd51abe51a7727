//! The calling thread's resource usage (`getrusage(RUSAGE_THREAD)`), for telling the
//! time a thread spent on its own work from the time other tasks took its CPU.

use std::io;
use std::mem::MaybeUninit;

/// Times the calling thread was preempted (involuntary context switches) so far.
pub fn involuntary_switches() -> io::Result<u64> {
    let mut ru = MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` points to a whole, writable `rusage`, which getrusage fills on success.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zero-initialised, then filled by the kernel (rc == 0); every field of
    // `rusage` is a plain integer, valid for any bit pattern.
    let ru = unsafe { ru.assume_init() };
    Ok(u64::try_from(ru.ru_nivcsw).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_only_grow() {
        let a = super::involuntary_switches().expect("getrusage");
        let b = super::involuntary_switches().expect("getrusage");
        assert!(b >= a);
    }
}
