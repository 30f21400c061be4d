//! A test that calls `std::process::exit` ends the whole process before any further
//! result, the summary or the teardowns, with whatever code it chose: `exit(0)` would
//! report a green run that never finished (libtest has this bug). While the run is in
//! progress, an `atexit` handler turns any such exit into a failure: it names the test
//! that was running and exits with 101.
//!
//! A crash or an abort cannot be caught in-process: the supervisor sees those, when
//! the tests run in worker processes (see [`crate::supervisor`]).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};

/// Whether the run is in progress (between the first test and the summary).
static ARMED: AtomicBool = AtomicBool::new(false);
/// Where to write the message: the real standard error (captured runs redirect fd 2).
static FD: AtomicI32 = AtomicI32::new(2);
/// How to name the test that was running: the slot being polled (published by the
/// runner around every poll, in atomics) and the tests' names. Nothing thread-local:
/// `exit` runs the thread-local destructors before the `atexit` handlers.
static RUNNING: OnceLock<(Polling, Names)> = OnceLock::new();

/// The slot being polled, if any.
type Polling = fn() -> Option<usize>;
/// The tests' names, by slot.
type Names = Arc<Mutex<Vec<String>>>;

/// Arms the guard for the run: after this call, an exit of the process ends with 101
/// and a message on `fd`, until [`disarm`].
pub(crate) fn arm(fd: i32, polling: Polling, names: Names) {
    static REGISTER: Once = Once::new();
    let _ = RUNNING.set((polling, names));
    FD.store(fd, Ordering::SeqCst);
    REGISTER.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a plain `extern "C" fn()` with the C runtime; it stays valid
        // for the life of the process (a static function).
        unsafe {
            libc::atexit(on_exit);
        }
    });
    ARMED.store(true, Ordering::SeqCst);
}

/// The run has finished: exits are the harness's own from here on.
pub(crate) fn disarm() {
    ARMED.store(false, Ordering::SeqCst);
}

#[cfg(unix)]
extern "C" fn on_exit() {
    if !ARMED.swap(false, Ordering::SeqCst) {
        return;
    }
    let running = RUNNING
        .get()
        .and_then(|(polling, names)| {
            let slot = polling()?;
            names.try_lock().ok()?.get(slot).cloned()
        })
        .or_else(|| {
            // Isolated tests run on a thread named after them.
            std::thread::current()
                .name()
                .filter(|n| *n != "main")
                .map(str::to_string)
        });
    let who = match running {
        Some(name) => format!("while test `{name}` was running"),
        None => {
            "while no test was being polled (a fixture, a teardown or a spawned task?)".to_string()
        }
    };
    let text = format!(
        "\nportaltest: error: the process exited (`std::process::exit`) {who}, before the \
         run finished: the remaining results, the summary and the fixtures' teardowns were \
         lost. A test must not end the process; return an `Err` or panic instead. \
         Exiting with 101.\n"
    );
    let fd = FD.load(Ordering::SeqCst);
    // SAFETY: writes from a valid buffer; a closed descriptor only makes write fail.
    unsafe {
        libc::write(fd, text.as_ptr().cast(), text.len());
        // Exit at once with the failure code: the exit in progress would report the
        // test's own code. `_exit` runs no further handlers, which is what we want.
        libc::_exit(101);
    }
}
