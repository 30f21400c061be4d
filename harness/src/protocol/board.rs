//! The board: a word of memory that a worker shares with its supervisor, saying which
//! slot the worker is polling. It outlives the worker: when the worker dies (an abort,
//! a signal, `process::exit`, a kill after a hang), the supervisor reads from it which
//! test was running. Events cannot tell that: the last ones may die unsent with the
//! process, and a test that blocks sends none.
//!
//! The supervisor creates the board as a small file; the worker maps it shared and
//! stores to it around every poll (an atomic store, no system call). The supervisor
//! reads the file (`pread`): the mapping and the file are the same page cache.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Bytes in a board file: four words. 0: what is polled ([`Polled::word`]); 1: the
/// id of the thread that crashed the worker (set by [`catch_crashes`]'s handler); 2
/// and 3: that thread's name (16 bytes, NUL-padded).
pub(crate) const SIZE: u64 = 32;

type Words = [AtomicU64; 4];

/// The mapped words of this worker, if it is one.
static WORD: OnceLock<&'static Words> = OnceLock::new();

/// Maps `file` (made by [`create`]) for this process's life; what is polled is
/// published to it after this call.
#[cfg(unix)]
fn attach(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    if file.metadata()?.len() < SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the board file is too short",
        ));
    }
    // SAFETY: maps `SIZE` bytes of a file that is at least that long, shared and
    // read-write; the kernel chooses the address, so no existing mapping is touched. The
    // mapping is never unmapped (it lives as long as the process, hence `'static`),
    // page-aligned (so suitably aligned for `AtomicU64`s), and only ever accessed
    // through those atomics: the supervisor reads the file with `pread`, which sees the
    // same page but never forms a Rust reference to it.
    let word = unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            SIZE as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        &*(ptr as *const Words)
    };
    let _ = WORD.set(word);
    Ok(())
}

#[cfg(not(unix))]
fn attach(_file: &File) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "worker processes need unix",
    ))
}

/// Set in a child that a test forked (without exec): it is not the worker.
static FORKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process is a child forked (without exec) from the one that runs the
/// tests: such a child must neither publish nor report; only the worker itself does.
pub(crate) fn forked() -> bool {
    FORKED.load(Ordering::Relaxed)
}

/// After this call, a child forked from this process knows it ([`forked`]) and
/// publishes to a private copy of the board, not to the supervisor's.
#[cfg(unix)]
pub(crate) fn guard_forks() {
    extern "C" fn in_child() {
        FORKED.store(true, Ordering::Relaxed);
        if let Some(word) = WORD.get() {
            // SAFETY: runs in the child right after fork, where only async-signal-safe
            // work is allowed: an atomic store above and `mmap` (a system call) here.
            // MAP_FIXED replaces exactly the page-aligned `SIZE` bytes that `attach`
            // mapped at this address (never unmapped) with private zeroed memory, so the
            // `AtomicU64` reference stays valid and the child's stores stay its own.
            unsafe {
                libc::mmap(
                    *word as *const Words as *mut libc::c_void,
                    SIZE as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                );
            }
        }
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a handler that glibc runs in the child of every fork();
        // `in_child` is an `extern "C" fn()` that lives as long as the program and only
        // does async-signal-safe work (see above).
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

#[cfg(not(unix))]
pub(crate) fn guard_forks() {}

/// A child forked from the run (see [`forked`]) that reaches the harness: it ends
/// quietly, as if it had called `_exit(0)`, instead of reporting for the worker.
pub(crate) fn exit_if_forked() {
    #[cfg(unix)]
    if forked() {
        // SAFETY: `_exit` ends the process at once, running nothing of this one (no
        // atexit handlers, no destructors, no flushes of state shared with the parent).
        unsafe { libc::_exit(0) }
    }
}

/// What a worker is polling, as the board holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Polled {
    /// The test of this id (index in the sorted list): its own code, or a fixture's
    /// setup on its behalf.
    Test(u32),
    /// The worker's slot of this index, which holds no test (a fixture's teardown).
    Slot(u32),
}

impl Polled {
    /// The word that says it (0: nothing is polled).
    pub(crate) fn word(self) -> u64 {
        match self {
            Polled::Test(id) => id as u64 + 1,
            Polled::Slot(slot) => (1 << 32) | (slot as u64 + 1),
        }
    }

    fn from_word(word: u64) -> Option<Polled> {
        let low = (word & 0xffff_ffff).checked_sub(1)? as u32;
        Some(if word >> 32 == 0 {
            Polled::Test(low)
        } else {
            Polled::Slot(low)
        })
    }
}

/// Publishes what is being polled now (a [`Polled::word`], 0 for nothing); returns
/// what was published before (polls nest).
#[inline]
pub(crate) fn publish(word: u64) -> u64 {
    match WORD.get() {
        Some(w) => w[0].swap(word, Ordering::Relaxed),
        None => 0,
    }
}

/// A new board, for a worker about to start: a temporary file with nothing published,
/// without a name (the worker inherits its descriptor), so none is ever left behind.
pub(crate) fn create() -> io::Result<File> {
    let file = crate::sys::temp::temp_file("board")?;
    file.set_len(SIZE)?;
    Ok(file)
}

/// Attaches to the board that `spec` names: `fd:N`, a descriptor inherited from the
/// supervisor (made by [`create`]), closed once mapped.
#[cfg(unix)]
pub(crate) fn open(spec: &std::ffi::OsStr) -> io::Result<()> {
    use std::os::fd::FromRawFd;
    let fd: i32 = spec
        .to_str()
        .and_then(|s| s.strip_prefix("fd:"))
        .and_then(|n| n.parse().ok())
        .filter(|fd| *fd > 2)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a board descriptor"))?;
    // SAFETY: `fcntl(F_GETFD)` only asks whether `fd` is open; it is checked before the
    // descriptor is taken over. The supervisor passed it for this purpose alone and no
    // other part of this process owns it, so the `File` may own (and close) it.
    let file = unsafe {
        if libc::fcntl(fd, libc::F_GETFD) == -1 {
            return Err(io::Error::last_os_error());
        }
        File::from_raw_fd(fd)
    };
    attach(&file)
}

/// The signals whose handler notes the crashing thread on the board.
#[cfg(unix)]
const CRASH_SIGNALS: [libc::c_int; 5] = [
    libc::SIGABRT,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
];

/// The actions installed before [`catch_crashes`], by signal (its index in
/// [`CRASH_SIGNALS`]).
#[cfg(unix)]
static PREVIOUS: [OnceLock<libc::sigaction>; 5] = [const { OnceLock::new() }; 5];

/// After this call, a crash signal (SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE) notes on
/// the board which thread it hit (its id and name), then goes to the handler installed
/// before it (by default, the process dies): the supervisor can then tell a crash on
/// the runtime thread (a test's) from one on a thread that a test spawned (nobody's to
/// blame by what is polled).
#[cfg(unix)]
pub(crate) fn catch_crashes() {
    // A portal's stack overflow aborts from inside the SIGSEGV handler, on the calling
    // thread's alternate signal stack: our SIGABRT handler then runs there too, and
    // std's alternate stack for the main thread is too small for the two frames (the
    // kernel would kill the process with SIGSEGV instead). The runtime thread (this
    // one) gets a roomy alternate stack.
    const ALT_STACK: usize = 256 * 1024;
    // SAFETY: maps fresh anonymous memory (the kernel picks the address) and makes it
    // this thread's alternate signal stack; it is never unmapped (the runtime thread
    // lives as long as the worker), so the stack stays valid while it is installed.
    unsafe {
        let stack = libc::mmap(
            std::ptr::null_mut(),
            ALT_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if stack != libc::MAP_FAILED {
            let alt = libc::stack_t {
                ss_sp: stack,
                ss_flags: 0,
                ss_size: ALT_STACK,
            };
            libc::sigaltstack(&alt, std::ptr::null_mut());
        }
    }
    for (i, signal) in CRASH_SIGNALS.into_iter().enumerate() {
        // SAFETY: `sigaction` gets a fully initialised action whose handler has the
        // SA_SIGINFO signature, and a valid out-pointer for the previous action, kept
        // so that the handler can pass the signal on.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_crash as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, &action, &mut old) == 0 {
                let _ = PREVIOUS[i].set(old);
            }
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn catch_crashes() {}

#[cfg(unix)]
extern "C" fn on_crash(signal: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    if let (Some(words), false) = (WORD.get(), forked()) {
        // SAFETY: gettid and prctl(PR_GET_NAME) are system calls, safe in a signal
        // handler; `name` is the 16 bytes PR_GET_NAME writes.
        let (tid, name) = unsafe {
            let mut name = [0u8; 16];
            libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr());
            (libc::syscall(libc::SYS_gettid) as u64, name)
        };
        // The first crash is the one that counts.
        if words[1]
            .compare_exchange(0, tid, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let half = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
            words[2].store(half(&name[..8]), Ordering::Relaxed);
            words[3].store(half(&name[8..]), Ordering::Relaxed);
        }
    }
    let previous = CRASH_SIGNALS
        .iter()
        .position(|s| *s == signal)
        .and_then(|i| PREVIOUS[i].get());
    // SAFETY: `previous` is the action that was installed before ours: its handler is
    // called with the signature its flags declare, with the arguments we got. Else the
    // default action is restored (sigaction with a zeroed action is SIG_DFL); a fault
    // then happens again when this returns, and a signal that was sent (si_code <= 0:
    // `abort`, `raise`, `kill`) is sent again, delivered once this handler returns.
    unsafe {
        match previous {
            Some(prev)
                if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN =>
            {
                if prev.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(prev.sa_sigaction);
                    f(signal, info, ctx);
                } else {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(prev.sa_sigaction);
                    f(signal);
                }
            }
            _ => {
                let action: libc::sigaction = std::mem::zeroed();
                libc::sigaction(signal, &action, std::ptr::null_mut());
                if (*info).si_code <= 0 {
                    libc::raise(signal);
                }
            }
        }
    }
}

/// The thread that crashed the worker of `board` (its id and name), if its handler
/// noted one.
pub(crate) fn crashed_thread(board: &File) -> Option<(u64, String)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut words = [0u8; 24];
        board.read_exact_at(&mut words, 8).ok()?;
        let tid = u64::from_ne_bytes(words[..8].try_into().ok()?);
        if tid == 0 {
            return None;
        }
        let name = &words[8..];
        let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
        Some((tid, String::from_utf8_lossy(&name[..end]).into_owned()))
    }
    #[cfg(not(unix))]
    {
        let _ = board;
        None
    }
}

/// What the worker of `board` was polling last.
pub(crate) fn read(board: &File) -> Option<Polled> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut word = [0u8; 8];
        board.read_exact_at(&mut word, 0).ok()?;
        Polled::from_word(u64::from_ne_bytes(word))
    }
    #[cfg(not(unix))]
    {
        let _ = board;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for p in [
            Polled::Test(0),
            Polled::Test(70_000),
            Polled::Slot(0),
            Polled::Slot(5),
        ] {
            assert_eq!(Polled::from_word(p.word()), Some(p));
        }
        assert_eq!(Polled::from_word(0), None);
    }

    #[test]
    fn a_board_file_shows_what_its_mapping_holds() {
        let file = create().unwrap();
        assert_eq!(read(&file), None);
        // `open` owns this descriptor from here on.
        let theirs = std::os::fd::IntoRawFd::into_raw_fd(file.try_clone().unwrap());
        let spec = format!("fd:{theirs}");
        open(std::ffi::OsStr::new(&spec)).unwrap();
        publish(Polled::Test(41).word());
        assert_eq!(read(&file), Some(Polled::Test(41)));
        publish(0);
        assert_eq!(read(&file), None);
    }
}
