//! A clear message instead of a bare SIGSEGV when code overflows a portal's stack.
//!
//! Rust's runtime prints "thread '..' has overflowed its stack" for thread stacks, but a
//! portal stack is a mapping it does not know about: a guard-page hit there would kill
//! the process with no word. On the first portal we install a SIGSEGV/SIGBUS handler
//! that recognises faults in the guard page of a portal stack running on the faulting
//! thread, prints what happened and how to raise the size, and aborts. Every other
//! fault goes to the handler that was installed before ours (normally Rust's own).
//!
//! The handler runs on the thread's alternate signal stack (`SA_ONSTACK`): Rust's
//! runtime gives the main thread and every thread it spawns one.

#[cfg(unix)]
pub use self::unix::set_fatal_message_fd;
#[cfg(unix)]
pub(crate) use self::unix::{install, page_size, write_fatal};

#[cfg(not(unix))]
pub(crate) fn install() {}

#[cfg(not(unix))]
pub(crate) fn write_fatal(parts: &[&[u8]]) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    for part in parts {
        let _ = err.write_all(part);
    }
}

#[cfg(not(unix))]
pub(crate) fn page_size() -> usize {
    4096
}

#[cfg(unix)]
mod unix {
    use std::mem::MaybeUninit;
    use std::os::fd::RawFd;
    use std::ptr;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::{Once, OnceLock};

    /// Where messages printed right before an abort go; see `set_fatal_message_fd`.
    static FATAL_FD: AtomicI32 = AtomicI32::new(2);

    /// Sets the file descriptor that stackportal writes to right before it aborts the
    /// process (a portal stack overflow; an `await_` that can neither wait nor panic),
    /// and returns the previous one. The default is 2, standard error.
    ///
    /// A test harness that redirects fd 2 to capture output points this at the real
    /// standard error, so that the last words of a dying process are not lost in the
    /// capture. The descriptor must stay open while it is set.
    ///
    /// ```
    /// let previous = stackportal::set_fatal_message_fd(2);
    /// assert_eq!(previous, 2);
    /// ```
    pub fn set_fatal_message_fd(fd: RawFd) -> RawFd {
        FATAL_FD.swap(fd, Ordering::SeqCst)
    }

    static INSTALL: Once = Once::new();
    static PREV_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
    static PREV_BUS: OnceLock<libc::sigaction> = OnceLock::new();
    static PAGE_SIZE: OnceLock<usize> = OnceLock::new();

    pub(crate) fn page_size() -> usize {
        *PAGE_SIZE.get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            usize::try_from(size)
                .ok()
                .filter(|s| s.is_power_of_two())
                .unwrap_or(4096)
        })
    }

    /// Installs the handler once per process. Cheap after the first call.
    pub(crate) fn install() {
        INSTALL.call_once(|| {
            page_size();
            if std::env::var_os("STACKPORTAL_NO_SIGNAL_HANDLER").is_some() {
                return;
            }
            for (signal, prev) in [(libc::SIGSEGV, &PREV_SEGV), (libc::SIGBUS, &PREV_BUS)] {
                // SAFETY: `sigaction` is given a fully initialised action whose handler
                // has the `SA_SIGINFO` signature, and a valid out-pointer for the old
                // action, which we keep so that foreign faults can be forwarded.
                unsafe {
                    let mut action: libc::sigaction = MaybeUninit::zeroed().assume_init();
                    action.sa_sigaction = handler as *const () as usize;
                    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                    libc::sigemptyset(&mut action.sa_mask);
                    let mut old: libc::sigaction = MaybeUninit::zeroed().assume_init();
                    if libc::sigaction(signal, &action, &mut old) == 0 {
                        let _ = prev.set(old);
                    }
                }
            }
        });
    }

    /// Writes `parts` to the fatal-message descriptor with `write(2)` only:
    /// async-signal-safe, and not affected by Rust's stderr lock or buffers.
    pub(crate) fn write_fatal(parts: &[&[u8]]) {
        let fd = FATAL_FD.load(Ordering::SeqCst);
        for part in parts {
            // SAFETY: writes from a valid buffer of the given length; a stale or
            // closed descriptor makes write fail with EBADF, nothing worse.
            unsafe {
                libc::write(fd, part.as_ptr().cast(), part.len());
            }
        }
    }

    /// Formats `n` in decimal into `buf` without allocating.
    fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return &buf[i..];
            }
        }
    }

    extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid `siginfo_t` for SA_SIGINFO handlers; for
        // SIGSEGV/SIGBUS `si_addr` is the faulting address.
        let addr = unsafe { (*info).si_addr() } as usize;
        if let Some((size, name)) = super::super::overflowed_portal(addr) {
            let mut buf = [0u8; 20];
            let (open, close): (&[u8], &[u8]) = if name.is_empty() {
                (b"", b"")
            } else {
                (b" `", b"`")
            };
            write_fatal(&[
                b"\nstackportal: stack overflow in a portal",
                open,
                name.as_bytes(),
                close,
                b": the code running in it used up its ",
                decimal(size, &mut buf),
                b"-byte stack.\nRaise the size for one portal with `stackportal::Builder::stack_size(bytes)`, \
                  or for every portal with the environment variable STACKPORTAL_STACK_SIZE=<bytes> \
                  (default 2 MiB). Deep recursion can also run on the thread's own stack instead.\n\
                  fatal runtime error: stack overflow in a portal, aborting\n",
            ]);
            // SAFETY: abort is async-signal-safe.
            unsafe { libc::abort() };
        }
        forward(signal, info, ctx);
    }

    /// Passes a fault that is not ours to the handler that was installed before.
    fn forward(signal: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let prev = if signal == libc::SIGSEGV {
            PREV_SEGV.get()
        } else {
            PREV_BUS.get()
        };
        match prev {
            Some(prev)
                if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN =>
            {
                // SAFETY: `prev` is the action the process had installed; we call its
                // handler with the signature its flags declare, with our arguments.
                unsafe {
                    if prev.sa_flags & libc::SA_SIGINFO != 0 {
                        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                            std::mem::transmute(prev.sa_sigaction);
                        f(signal, info, ctx);
                    } else {
                        let f: extern "C" fn(libc::c_int) = std::mem::transmute(prev.sa_sigaction);
                        f(signal);
                    }
                }
            }
            _ => {
                // Default action: restore it and return; the faulting instruction runs
                // again and the kernel kills the process with the original signal.
                // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask.
                unsafe {
                    let mut action: libc::sigaction = MaybeUninit::zeroed().assume_init();
                    action.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(signal, &action, ptr::null_mut());
                }
            }
        }
    }
}
