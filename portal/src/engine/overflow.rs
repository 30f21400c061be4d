//! A clear message instead of a bare SIGSEGV when code overflows a portal's stack.
//!
//! Rust's runtime prints "thread '..' has overflowed its stack" for thread stacks, but a
//! portal stack is a mapping it does not know about: a guard-page hit there would kill
//! the process with no word. On the first portal we install a SIGSEGV/SIGBUS handler
//! that recognises faults in the guard page of a portal stack running on the faulting
//! thread, prints what happened and how to raise the size, and aborts. Every other
//! fault goes to the handler that was installed before ours (normally Rust's own).
//!
//! The handler runs on the thread's alternate signal stack (`SA_ONSTACK`): when a
//! stack overflows, the faulting stack has no room left to run it on, and without an
//! alternate stack the kernel kills the process with a bare SIGSEGV. Rust's runtime
//! gives the main thread and every thread it spawns one, but not a thread started by
//! other code (`pthread_create` from C, a foreign runtime's worker). So the first portal
//! on a thread that has none gives it one, which is removed and unmapped when the
//! thread exits. After that first portal, the check costs one thread-local read.
//!
//! With `STACKPORTAL_NO_SIGNAL_HANDLER` set, stackportal installs neither the handler
//! nor alternate signal stacks.

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
    use std::cell::Cell;
    use std::mem::MaybeUninit;
    use std::os::fd::RawFd;
    use std::ptr;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    use std::sync::{Once, OnceLock};

    use crate::engine::frame::{current, Frame, LEAVING};

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

    /// Whether `install_handler` installed our handler (it does not when
    /// STACKPORTAL_NO_SIGNAL_HANDLER is set). Written inside `INSTALL` only.
    static HANDLER_INSTALLED: AtomicBool = AtomicBool::new(false);

    /// Usable size of the alternate signal stacks we map (at least SIGSTKSZ): ample for
    /// our handler and for the one we forward other faults to (Rust's writes one line).
    const ALT_STACK_SIZE: usize = 64 * 1024;

    thread_local! {
        /// Whether this thread has been checked for an alternate signal stack (and
        /// given one if it needed it). No destructor, so it is readable at any time.
        static ALT_STACK_CHECKED: Cell<bool> = const { Cell::new(false) };
        /// The alternate signal stack we gave this thread, if any; dropping it at
        /// thread exit removes and unmaps it.
        static ALT_STACK: AltStack = const {
            AltStack {
                map: Cell::new(ptr::null_mut()),
                len: Cell::new(0),
            }
        };
    }

    /// Installs the handler once per process, and makes sure the calling thread has an
    /// alternate signal stack for it to run on. After the first call on a thread this
    /// is an atomic load and a thread-local read: it runs on every portal creation.
    #[inline]
    pub(crate) fn install() {
        INSTALL.call_once(install_handler);
        if !ALT_STACK_CHECKED.get() {
            check_alt_stack();
        }
    }

    fn install_handler() {
        page_size();
        if std::env::var_os("STACKPORTAL_NO_SIGNAL_HANDLER").is_some() {
            return;
        }
        for (signal, prev) in [(libc::SIGSEGV, &PREV_SEGV), (libc::SIGBUS, &PREV_BUS)] {
            // SAFETY: `sigaction` is given a fully initialised action whose handler
            // has the `SA_SIGINFO` signature, and a valid out-pointer for the old
            // action, which we keep so that foreign faults can be forwarded.
            let old = unsafe {
                let mut action: libc::sigaction = MaybeUninit::zeroed().assume_init();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = MaybeUninit::zeroed().assume_init();
                (libc::sigaction(signal, &action, &mut old) == 0).then_some(old)
            };
            if let Some(old) = old {
                let _ = prev.set(old);
                HANDLER_INSTALLED.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The first portal on this thread: give the thread an alternate signal stack if it
    /// has none and our handler is installed.
    #[cold]
    #[inline(never)]
    fn check_alt_stack() {
        ALT_STACK_CHECKED.set(true);
        // `INSTALL` has completed, which orders its store before this load.
        if HANDLER_INSTALLED.load(Ordering::Relaxed) {
            // Fails only during thread teardown, after `ALT_STACK` was dropped; the
            // thread then goes without (a stack we could not remove at exit).
            let _ = ALT_STACK.try_with(AltStack::install);
        }
    }

    /// The thread's current alternate signal stack setting, or `None` if it cannot be read.
    fn current_alt_stack() -> Option<libc::stack_t> {
        let mut current = MaybeUninit::<libc::stack_t>::zeroed();
        // SAFETY: with a null new setting, sigaltstack only writes the current one
        // through the valid out-pointer.
        let ok = unsafe { libc::sigaltstack(ptr::null(), current.as_mut_ptr()) } == 0;
        // SAFETY: zeroed is a valid `stack_t` (null pointer, zero flags and size), and
        // on success the kernel wrote a valid one.
        ok.then(|| unsafe { current.assume_init() })
    }

    /// An alternate signal stack that stackportal mapped and installed for one thread:
    /// `len` bytes at `map`, the lowest page a guard page.
    struct AltStack {
        map: Cell<*mut libc::c_void>,
        len: Cell<usize>,
    }

    impl AltStack {
        /// Maps and installs an alternate signal stack if the thread has none. Any
        /// failure leaves the thread as it was: overflows then end in a bare SIGSEGV.
        fn install(&self) {
            if !self.map.get().is_null() {
                return;
            }
            match current_alt_stack() {
                Some(current) if current.ss_flags & libc::SS_DISABLE != 0 => {}
                _ => return, // it has one (or we cannot tell): leave it alone
            }
            let page = page_size();
            let size = ALT_STACK_SIZE.max(libc::SIGSTKSZ).next_multiple_of(page);
            let len = size + page;
            // SAFETY: a fresh private anonymous mapping at an address of the kernel's
            // choosing; it overlaps nothing.
            let map = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANON,
                    -1,
                    0,
                )
            };
            if map == libc::MAP_FAILED {
                return;
            }
            let stack = libc::stack_t {
                // SAFETY: `page < len`: the result stays inside the mapping.
                ss_sp: unsafe { map.cast::<u8>().add(page) }.cast(),
                ss_flags: 0,
                ss_size: size,
            };
            // SAFETY: `map..map + len` is our own fresh mapping, which nothing else
            // references: turning its lowest page into a guard page, or unmapping it
            // when that or the installation fails, affects no other memory. Once
            // installed, the kernel uses `ss_sp..ss_sp + size`, which is mapped and
            // writable, until `drop` removes it, before unmapping it.
            unsafe {
                if libc::mprotect(map, page, libc::PROT_NONE) != 0
                    || libc::sigaltstack(&stack, ptr::null_mut()) != 0
                {
                    libc::munmap(map, len);
                    return;
                }
            }
            self.map.set(map);
            self.len.set(len);
        }
    }

    impl Drop for AltStack {
        /// At thread exit: removes the alternate signal stack if it is still ours and
        /// unmaps it once the kernel no longer uses it.
        fn drop(&mut self) {
            let map = self.map.get();
            if map.is_null() {
                return;
            }
            let ours = map as usize + page_size();
            let Some(current) = current_alt_stack() else {
                return; // cannot tell whether it is in use: leak it
            };
            let unused = if current.ss_flags & libc::SS_DISABLE != 0 {
                // Someone already removed it; the kernel no longer refers to it.
                true
            } else if current.ss_sp as usize == ours {
                if current.ss_flags & libc::SS_ONSTACK != 0 {
                    // Exiting from a signal handler running on it: it cannot be
                    // removed, so it must stay mapped.
                    false
                } else {
                    let disable = libc::stack_t {
                        ss_sp: ptr::null_mut(),
                        ss_flags: libc::SS_DISABLE,
                        ss_size: 0,
                    };
                    // SAFETY: removes this thread's alternate signal stack, which is
                    // ours and not in use; signals then run on the thread's stack.
                    unsafe { libc::sigaltstack(&disable, ptr::null_mut()) == 0 }
                }
            } else {
                // Someone replaced it with theirs and may restore ours later (a
                // save/restore pair): leak it rather than let it dangle.
                false
            };
            if unused {
                // SAFETY: the mapping is ours (from `install`), the kernel no longer
                // uses it as this thread's signal stack, and nothing else points into it.
                unsafe {
                    libc::munmap(map, self.len.get());
                }
                self.map.set(ptr::null_mut());
            }
        }
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

    /// Whether `addr` lies in the guard page of a portal stack that is running on this
    /// thread, or whose root is taking its frame apart (`LEAVING`); returns that stack's
    /// usable size and the portal's name. Called from the SIGSEGV handler: it only reads
    /// const thread-locals and the frames they point to, and allocates nothing.
    fn overflowed_portal(addr: usize) -> Option<(usize, &'static str)> {
        let in_guard = |f: &Frame| addr >= f.stack_lo - page_size() && addr < f.stack_lo;
        let found = |f: &Frame| {
            let (ptr, len) = f.name;
            let name = if ptr.is_null() {
                ""
            } else {
                // SAFETY: `name` points at the portal's `Builder::name` string, which
                // lives until its frame has left both `CURRENT` and `LEAVING` (root.rs:
                // the root owns it in its extras, and `take_apart_slow` keeps it until
                // its `Leaving` guard is dropped); the handler aborts the process before
                // it could be freed, hence `'static`.
                unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len)) }
            };
            Some((f.stack_hi - f.stack_lo, name))
        };
        for (head, next) in [
            (
                current(),
                (|f: &Frame| f.parent.get()) as fn(&Frame) -> *const Frame,
            ),
            (LEAVING.with(Cell::get), |f: &Frame| f.leaving_prev.get()),
        ] {
            let mut frame = head;
            while !frame.is_null() {
                // SAFETY: the `CURRENT` chain holds only live frames of portals running
                // on this thread (see `hand_off` in cleanup.rs); the `LEAVING` chain only
                // frames whose root is running `take_apart` below us on this thread (the
                // `Leaving` guard of frame.rs, held by `take_apart_slow` in root.rs).
                let f = unsafe { &*frame };
                if in_guard(f) {
                    return found(f);
                }
                frame = next(f);
            }
        }
        None
    }

    extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid `siginfo_t` for SA_SIGINFO handlers; for
        // SIGSEGV/SIGBUS `si_addr` is the faulting address.
        let addr = unsafe { (*info).si_addr() } as usize;
        if let Some((size, name)) = overflowed_portal(addr) {
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
        // A signal that was sent (`raise`, `kill`), not a fault, does not come back
        // when the handler returns, and std's handler (the usual previous one) then
        // just returns: the process would go on as if nothing happened. When the
        // handler before us gave up (the default action is back), send it again: it
        // is delivered, with the default action, as soon as this handler returns.
        // SAFETY: `info` is valid (see above); sigaction with a null new action only
        // reads the current one into `current`; raise is async-signal-safe.
        unsafe {
            if (*info).si_code <= 0 {
                let mut current: libc::sigaction = MaybeUninit::zeroed().assume_init();
                if libc::sigaction(signal, ptr::null(), &mut current) == 0
                    && current.sa_sigaction == libc::SIG_DFL
                {
                    libc::raise(signal);
                }
            }
        }
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
