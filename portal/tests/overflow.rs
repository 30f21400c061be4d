//! Overflowing a portal's stack prints a clear message (a portal stack, its size, how
//! to raise it) before the process dies, instead of a bare SIGSEGV, also on a thread
//! that C code started; and the smallest portal stack is still big enough to print a
//! panic with its backtrace. Each case runs in a child process: this test binary
//! re-executes itself with an environment variable.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Command, ExitStatus};

const CHILD_ENV: &str = "STACKPORTAL_OVERFLOW_CHILD";

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let buf = std::hint::black_box([depth as u8; 512]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(buf[7])
}

/// Whether this process is the child that runs `case`.
fn is_child(case: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(case)
}

/// Runs a portal whose body recurses until it overflows its 64 KiB stack.
fn overflow_a_portal() -> ! {
    let portal = stackportal::Builder::new()
        .stack_size(64 * 1024)
        .name("deep::recursion")
        .run_sync(|| recurse(0));
    futures::executor::block_on(portal);
    unreachable!("the recursion never returns");
}

/// Runs `test` of this binary in a child process with `CHILD_ENV=case` and the extra
/// environment `env`; returns its exit status and its stderr.
fn run_child(case: &str, test: &str, env: &[(&str, &str)]) -> (ExitStatus, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, case)
        .env_remove("STACKPORTAL_NO_SIGNAL_HANDLER")
        .env_remove("STACKPORTAL_STACK_SIZE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// This thread's alternate signal stack setting.
fn alt_stack() -> libc::stack_t {
    let mut current = std::mem::MaybeUninit::<libc::stack_t>::zeroed();
    // SAFETY: with a null new setting, sigaltstack only writes the current one through
    // the valid out-pointer.
    assert_eq!(
        unsafe { libc::sigaltstack(std::ptr::null(), current.as_mut_ptr()) },
        0
    );
    // SAFETY: sigaltstack succeeded and wrote a valid `stack_t`.
    unsafe { current.assume_init() }
}

fn has_alt_stack() -> bool {
    alt_stack().ss_flags & libc::SS_DISABLE == 0
}

/// Runs `f` on a thread started with `pthread_create`, as C code would start it: Rust's
/// runtime did not set it up, so it has no alternate signal stack. Returns what `f`
/// returned. A panic in `f` aborts the process.
fn on_a_foreign_thread<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    type Job = Box<dyn FnOnce() + Send>;
    extern "C" fn start(job: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `job` is the `Box<Job>` leaked below, handed to this thread only.
        let job = unsafe { Box::from_raw(job.cast::<Job>()) };
        job();
        std::ptr::null_mut()
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let job: Box<Job> = Box::new(Box::new(move || {
        assert!(
            !has_alt_stack(),
            "a new pthread starts without an alternate signal stack"
        );
        let _ = tx.send(f());
    }));
    let job = Box::into_raw(job);
    let mut thread = std::mem::MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `start` has the signature pthread_create expects and takes ownership of
    // `job`; default attributes; `thread` is a valid out-pointer.
    let rc =
        unsafe { libc::pthread_create(thread.as_mut_ptr(), std::ptr::null(), start, job.cast()) };
    assert_eq!(rc, 0, "pthread_create");
    // SAFETY: pthread_create succeeded, so it wrote the thread's id, which is joined
    // exactly once.
    let rc = unsafe { libc::pthread_join(thread.assume_init(), std::ptr::null_mut()) };
    assert_eq!(rc, 0, "pthread_join");
    rx.recv().expect("the foreign thread ran the job")
}

#[test]
fn overflow_in_a_portal_names_the_portal_stack_and_the_fix() {
    if is_child("portal") {
        overflow_a_portal();
    }
    let (status, stderr) = run_child(
        "portal",
        "overflow_in_a_portal_names_the_portal_stack_and_the_fix",
        &[],
    );
    assert_eq!(status.signal(), Some(libc::SIGABRT), "aborted: {stderr}");
    assert!(
        stderr.contains("stack overflow in a portal `deep::recursion`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("65536-byte stack"),
        "names the size: {stderr}"
    );
    assert!(
        stderr.contains("STACKPORTAL_STACK_SIZE"),
        "names the fix: {stderr}"
    );
    assert!(
        stderr.contains("Builder::stack_size"),
        "names the fix: {stderr}"
    );
}

/// On a thread without an alternate signal stack the kernel cannot run the SIGSEGV
/// handler on the overflowed stack and kills the process with a bare SIGSEGV, so the
/// first portal on such a thread (one started by C code) gives it an alternate stack.
#[test]
fn overflow_in_a_portal_on_a_thread_started_by_c_code_names_the_portal() {
    if is_child("foreign") {
        on_a_foreign_thread(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async { overflow_a_portal() })
        });
        unreachable!("the recursion never returns");
    }
    let (status, stderr) = run_child(
        "foreign",
        "overflow_in_a_portal_on_a_thread_started_by_c_code_names_the_portal",
        &[],
    );
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "aborted, not a bare SIGSEGV: {status:?} {stderr}"
    );
    assert!(
        stderr.contains("stack overflow in a portal `deep::recursion`"),
        "{stderr}"
    );
    assert!(stderr.contains("65536-byte stack"), "{stderr}");
}

/// The alternate signal stack given to a foreign thread is removed and unmapped when
/// the thread exits; threads that have one keep theirs; and none is installed when
/// STACKPORTAL_NO_SIGNAL_HANDLER keeps the handler out.
#[test]
fn alternate_signal_stack_of_a_foreign_thread_lives_as_long_as_the_thread() {
    if is_child("alt_stack") {
        let no_handler = std::env::var_os("STACKPORTAL_NO_SIGNAL_HANDLER").is_some();
        let before = alt_stack();
        assert!(has_alt_stack(), "Rust gives its threads one");
        futures::executor::block_on(stackportal::with_portal_run_sync(|| ()));
        let after = alt_stack();
        assert_eq!(
            (after.ss_sp, after.ss_size),
            (before.ss_sp, before.ss_size),
            "a thread's own alternate stack is left alone"
        );

        let installed = on_a_foreign_thread(move || {
            futures::executor::block_on(stackportal::with_portal_run_sync(|| ()));
            let stack = alt_stack();
            if no_handler {
                assert!(!has_alt_stack(), "no handler, no alternate stack");
                return None;
            }
            assert!(has_alt_stack(), "the first portal installed one");
            assert!(stack.ss_size >= 64 * 1024, "{}", stack.ss_size);
            // Later portals keep it.
            futures::executor::block_on(stackportal::with_portal_run_sync(|| ()));
            assert_eq!(alt_stack().ss_sp, stack.ss_sp);
            Some(stack.ss_sp as usize)
        });
        if let Some(sp) = installed {
            let mut resident = 0u8;
            // SAFETY: mincore only inspects the page table for one page at `sp`
            // (page-aligned: the stack starts right above its guard page) and writes
            // one byte to `resident`.
            let rc = unsafe { libc::mincore(sp as *mut libc::c_void, 1, &mut resident) };
            let err = std::io::Error::last_os_error().raw_os_error();
            assert_eq!(
                (rc, err),
                (-1, Some(libc::ENOMEM)),
                "unmapped when the thread exited"
            );
        }
        return;
    }
    let test = "alternate_signal_stack_of_a_foreign_thread_lives_as_long_as_the_thread";
    for env in [&[][..], &[("STACKPORTAL_NO_SIGNAL_HANDLER", "1")][..]] {
        let (status, stderr) = run_child("alt_stack", test, env);
        assert!(status.success(), "{env:?}: {status:?} {stderr}");
    }
}

#[test]
fn overflow_of_a_thread_stack_still_gets_rusts_own_message() {
    if is_child("thread") {
        // Install the handler (by running a portal), then overflow a plain thread.
        futures::executor::block_on(stackportal::with_portal_run_sync(|| ()));
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| recurse(0))
            .unwrap()
            .join()
            .unwrap();
        unreachable!();
    }
    let (status, stderr) = run_child(
        "thread",
        "overflow_of_a_thread_stack_still_gets_rusts_own_message",
        &[],
    );
    assert!(status.signal().is_some(), "killed by a signal: {stderr}");
    assert!(
        stderr.contains("has overflowed its stack"),
        "forwarded to Rust's handler: {stderr}"
    );
    assert!(!stderr.contains("in a portal"), "{stderr}");
}

/// On the smallest stack (`STACKPORTAL_STACK_SIZE=1` is raised to `MIN_STACK_SIZE`), a
/// panic with `RUST_BACKTRACE=full` prints its message and a symbolized backtrace, the
/// first in the process (the deepest), and is caught as usual: `MIN_STACK_SIZE` leaves
/// room for the symbolizer, which overflows a 16 KiB stack.
#[test]
fn panic_on_the_smallest_stack_prints_its_backtrace() {
    if is_child("panic") {
        let portal = stackportal::with_portal_run_sync(|| -> u32 {
            let n = std::hint::black_box(7);
            panic!("boom number {n} on the smallest stack")
        });
        assert_eq!(portal.stack_size(), stackportal::MIN_STACK_SIZE);
        let payload = catch_unwind(AssertUnwindSafe(|| futures::executor::block_on(portal)))
            .expect_err("the panic reaches the poller");
        let message = payload.downcast_ref::<String>().map(String::as_str);
        assert_eq!(message, Some("boom number 7 on the smallest stack"));
        eprintln!("child: caught the panic");
        return;
    }
    for backtrace in ["full", "1"] {
        let (status, stderr) = run_child(
            "panic",
            "panic_on_the_smallest_stack_prints_its_backtrace",
            &[
                ("STACKPORTAL_STACK_SIZE", "1"),
                ("RUST_BACKTRACE", backtrace),
            ],
        );
        assert!(
            status.success(),
            "RUST_BACKTRACE={backtrace}: {status:?} {stderr}"
        );
        assert!(!stderr.contains("stack overflow"), "{stderr}");
        assert!(
            stderr.contains("boom number 7 on the smallest stack"),
            "{stderr}"
        );
        assert!(stderr.contains("stack backtrace:"), "{stderr}");
        assert!(
            stderr.contains("panic_on_the_smallest_stack_prints_its_backtrace"),
            "symbolized: {stderr}"
        );
        assert!(stderr.contains("child: caught the panic"), "{stderr}");
    }
}

/// A SIGSEGV that is sent (`raise`, `kill`), not a fault, must still end the process:
/// std's handler, the one before ours, only restores the default action and returns,
/// which for a sent signal would let the program go on as if nothing happened.
#[test]
fn a_raised_sigsegv_still_ends_the_process() {
    if is_child("raised") {
        futures::executor::block_on(stackportal::with_portal_run_sync(|| ()));
        // SAFETY: raise() has no memory-safety preconditions; the process dies of it.
        unsafe {
            libc::raise(libc::SIGSEGV);
        }
        eprintln!("child: survived the SIGSEGV");
        std::process::exit(0);
    }
    let (status, stderr) = run_child("raised", "a_raised_sigsegv_still_ends_the_process", &[]);
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{stderr}");
    assert!(!stderr.contains("survived"), "{stderr}");
}

/// A singly linked list whose (recursive) drop goes one frame deeper per node.
struct Node {
    _pad: [u64; 4],
    _next: Option<Box<Node>>,
}

fn long_list(len: usize) -> Option<Box<Node>> {
    let mut head = None;
    for _ in 0..len {
        head = Some(Box::new(Node {
            _pad: [0; 4],
            _next: head,
        }));
    }
    head
}

/// The root drops the portal's extras (its cleanup spawner) and its relay's waker after
/// it has left `CURRENT`; an overflow there (a spawner owning a long linked list) is
/// named through `LEAVING`, not a bare SIGSEGV.
#[test]
fn overflow_while_a_portal_drops_its_cleanup_spawner_names_the_portal() {
    if is_child("spawner") {
        let list = long_list(1_000_000);
        let portal = stackportal::Builder::new()
            .stack_size(64 * 1024)
            .name("spawner::list")
            .cleanup_spawner(move |cleanup| {
                let _ = &list;
                drop(cleanup);
            })
            .run_sync(|| 1);
        futures::executor::block_on(portal);
        unreachable!("dropping the list overflows the portal's stack");
    }
    let (status, stderr) = run_child(
        "spawner",
        "overflow_while_a_portal_drops_its_cleanup_spawner_names_the_portal",
        &[],
    );
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "aborted, not a bare SIGSEGV: {status:?} {stderr}"
    );
    assert!(
        stderr.contains("stack overflow in a portal `spawner::list`"),
        "{stderr}"
    );
}
