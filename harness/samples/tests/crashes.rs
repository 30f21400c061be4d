//! Tests that end or stall their process: an abort, a raised SIGSEGV, a blocking hang
//! past its time limit, a fixture whose setup aborts, and long tests for Ctrl-C. The
//! end-to-end tests (harness/tests/supervisor.rs) pick groups with filters and check
//! that the supervisor reports every test once, blames the right one, and tears down.

use std::time::Duration;

use portaltest::{await_, fixture};

mod support;
use support::log;

fn nap(ms: u64) {
    await_(tokio::time::sleep(Duration::from_millis(ms)));
}

mod abort {
    use super::*;

    #[portaltest::test]
    fn aborts() {
        nap(50);
        println!("about to abort");
        std::process::abort();
    }

    #[portaltest::test]
    fn neighbour_1() {
        nap(150);
        log("ran abort::neighbour_1");
    }

    #[portaltest::test]
    fn neighbour_2() {
        nap(150);
        log("ran abort::neighbour_2");
    }
}

mod segv {
    use super::*;

    #[portaltest::test]
    fn raises() {
        nap(20);
        eprintln!("raising SIGSEGV");
        // SAFETY: raise() has no memory-safety preconditions; it sends the signal to
        // this process, which dies of it (that is the point of the test).
        unsafe {
            libc::raise(libc::SIGSEGV);
        }
    }

    #[portaltest::test]
    fn neighbour() {
        nap(100);
        log("ran segv::neighbour");
    }
}

mod hang {
    use super::*;

    #[portaltest::test(timeout = "300ms")]
    fn blocks() {
        println!("blocking the runtime thread");
        std::thread::sleep(Duration::from_secs(60));
    }

    #[portaltest::test]
    fn neighbour() {
        nap(100);
        log("ran hang::neighbour");
    }
}

mod crashing_fixture {
    use super::*;

    #[fixture]
    async fn explodes() -> u32 {
        println!("setting up explodes");
        std::process::abort();
    }

    #[portaltest::test]
    fn first_user() {
        nap(10);
        let _ = explodes();
    }

    #[portaltest::test]
    fn second_user() {
        // Starts after the first user's crash, in the fresh worker.
        nap(400);
        let _ = explodes();
    }

    #[portaltest::test]
    fn third_user() {
        // Also in the fresh worker, after `second_user` met the broken fixture there.
        nap(450);
        let _ = explodes();
    }

    #[portaltest::test]
    fn bystander() {
        nap(100);
        log("ran crashing_fixture::bystander");
    }
}

mod slow_teardown {
    use super::*;

    #[fixture(teardown = wait_long)]
    async fn lingering() -> u32 {
        1
    }

    async fn wait_long(_: u32) {
        log("tearing down slowly");
        println!("tearing down slowly");
        tokio::time::sleep(Duration::from_secs(60)).await;
    }

    #[fixture(teardown = block_long)]
    async fn stubborn() -> u32 {
        2
    }

    async fn block_long(_: u32) {
        println!("tearing down, blocking");
        std::thread::sleep(Duration::from_secs(60));
    }

    #[portaltest::test]
    fn uses_lingering() {
        assert_eq!(*lingering(), 1);
    }

    #[portaltest::test]
    fn uses_stubborn() {
        assert_eq!(*stubborn(), 2);
    }
}

mod isolated_exit {
    #[portaltest::test(isolated)]
    fn exits() {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::process::exit(3);
    }

    #[portaltest::test]
    fn neighbour() {
        super::nap(200);
    }
}

mod stuck {
    use super::*;

    /// Blocks the runtime thread with no time limit: only a kill ends it.
    #[portaltest::test]
    fn blocks_without_a_limit() {
        log("stuck");
        std::thread::sleep(Duration::from_secs(60));
    }
}

mod env_hygiene {
    /// A test that starts a portaltest binary itself must not hand it the variables that
    /// made this process a worker.
    #[portaltest::test]
    fn worker_variables_are_not_visible_to_tests() {
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            assert!(!name.starts_with("PORTALTEST_WORKER"), "{name} leaked");
        }
    }
}

mod interrupt {
    use super::*;

    /// A file that exists while the fixture does.
    #[fixture(teardown = remove)]
    async fn scratch() -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("portaltest-scratch-{}", std::process::id()));
        std::fs::write(&path, b"scratch").unwrap();
        log(&format!("scratch {}", path.display()));
        path
    }

    async fn remove(path: std::path::PathBuf) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        std::fs::remove_file(&path).unwrap();
        log("teardown ran");
    }

    #[portaltest::test]
    fn waits_long_1() {
        let _file = scratch();
        let _guard = portaltest::guard(1, async |n| {
            tokio::time::sleep(Duration::from_millis(10)).await;
            log(&format!("guard {n} ran"));
        });
        log("started 1");
        nap(60_000);
    }

    #[portaltest::test]
    fn waits_long_2() {
        let _file = scratch();
        let _guard = portaltest::guard(2, async |n| {
            tokio::time::sleep(Duration::from_millis(10)).await;
            log(&format!("guard {n} ran"));
        });
        log("started 2");
        nap(60_000);
    }

    #[portaltest::test]
    fn quick() {
        nap(10);
        log("quick done");
    }
}

mod retry_deadline {
    use super::*;

    /// Every try times out while it awaits, and is cancelled: three tries, each with
    /// its own limit (the supervisor must not count try 2 against try 1's deadline).
    #[portaltest::test(timeout = "300ms", retries = 2)]
    fn awaits_past_its_limit() {
        log("try");
        nap(60_000);
    }
}

mod at_once {
    /// Ends its worker in its first poll: its start may still be in the worker's buffer.
    #[portaltest::test]
    fn exits_in_its_first_poll() {
        std::process::exit(0);
    }

    #[portaltest::test]
    fn raises_in_its_first_poll() {
        std::process::abort();
    }
}

/// This process's pid, in the log (the worker's, for the end-to-end tests to signal).
fn log_pid(what: &str) {
    log(&format!("{what} {}", std::process::id()));
}

mod forks {
    use super::*;

    /// fork() without exec or `_exit`: the child returns into the harness, which must
    /// not let it report (the test would be counted twice).
    #[portaltest::test]
    fn returns_twice() {
        // In its first poll, so that the worker's buffered events (its start) are
        // copied into the child too.
        // SAFETY: fork() in a test is the point; the child only returns from this fn
        // (into the harness, which ends it quietly) and touches no lock held elsewhere.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            log_pid("child");
            return;
        }
        // The child gets back into the harness, which must end it without a report.
        let mut status = 0;
        // SAFETY: waits for the child just forked; `status` is a valid out-pointer.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid);
        assert!(
            libc::WIFEXITED(status),
            "the child ended with status {status:#x}"
        );
        log(&format!("child ended with {}", libc::WEXITSTATUS(status)));
    }

    /// A forked child that lingers (120 s) holding the worker's socket: the run must
    /// end when the worker has, and the child with it.
    #[portaltest::test]
    fn leaves_a_child() {
        // SAFETY: as above; the child sleeps and `_exit`s, running nothing of the harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            log_pid("lingering");
            std::thread::sleep(Duration::from_secs(120));
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(0) };
        }
    }
}

mod orphan {
    use super::*;

    /// Blocks its worker, for a test that kills the supervisor.
    #[portaltest::test]
    fn blocks() {
        log_pid("worker");
        std::thread::sleep(Duration::from_secs(60));
    }
}

mod helper {
    use super::*;

    /// A fixture that starts a helper process, which its teardown would stop.
    #[fixture(teardown = stop)]
    async fn sleeper() -> std::process::Child {
        let child = std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .expect("cannot start sleep");
        log(&format!("helper {}", child.id()));
        child
    }

    async fn stop(mut child: std::process::Child) {
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Blocks past its limit: its worker is killed, the teardown never runs.
    #[portaltest::test(timeout = "300ms")]
    fn blocks_with_a_helper() {
        let _helper = sleeper();
        std::thread::sleep(Duration::from_secs(60));
    }
}

mod silent {
    use super::*;

    /// Awaits (so no test is polled) long enough for the end-to-end test to SIGKILL
    /// the worker, as the OOM killer would; passes when run again.
    #[portaltest::test]
    fn awaits() {
        log_pid("awaiting");
        nap(1_500);
    }
}

mod thread_crash {
    use super::*;

    /// Passes, leaving a thread that aborts the process 200 ms later.
    #[portaltest::test]
    fn spawns_a_crashing_thread() {
        std::thread::Builder::new()
            .name("aborter".into())
            .spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                std::process::abort();
            })
            .unwrap();
    }

    /// Polled (it blocks the runtime thread) when the other test's thread aborts: it
    /// is innocent, and runs again.
    #[portaltest::test]
    fn innocent_poller() {
        nap(20);
        log("innocent polled");
        std::thread::sleep(Duration::from_millis(1_000));
    }
}

mod stop {
    use super::*;

    /// Awaits 1.5 s under a 2 s limit: a stop of the run (Ctrl-Z, SIGSTOP) in between
    /// must not make it time out, nor count as a hang.
    #[portaltest::test(timeout = "2s")]
    fn awaits_under_its_limit() {
        log_pid("stop me");
        nap(1_500);
    }
}

mod loud {
    use super::*;

    /// Prints 3 MiB (several event chunks; PORTALTEST_SAMPLE_LOUD_LINES lines of 37
    /// bytes, default 100,000), numbered lines, then fails.
    #[portaltest::test]
    fn fails_loudly() {
        nap(20);
        let lines: u32 = std::env::var("PORTALTEST_SAMPLE_LOUD_LINES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000);
        for n in 0..lines {
            println!("line {n:06} ..........................");
        }
        log("printed");
        panic!("loud failure");
    }

    /// Waits long: only Ctrl-C ends it.
    #[portaltest::test]
    fn waits() {
        log_pid("loud waiting");
        nap(60_000);
    }
}

mod crash_retries {
    use super::*;

    /// The number of this try (tries of one test may run in several workers: the log
    /// counts them).
    fn try_number(tag: &str) -> usize {
        log(tag);
        let path = std::env::var("PORTALTEST_SAMPLE_LOG").expect("PORTALTEST_SAMPLE_LOG");
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().filter(|l| *l == tag).count()
    }

    /// Try 1 panics, try 2 aborts its worker, try 3 panics: three tries, each under
    /// its own heading.
    #[portaltest::test(retries = 2)]
    fn panics_crashes_panics() {
        nap(10);
        let n = try_number("crash try");
        println!("try {n} here");
        if n == 2 {
            std::process::abort();
        }
        panic!("try {n} fails");
    }

    /// Ends its worker with `exit(0)` on every try (retried with PORTALTEST_RETRIES).
    #[portaltest::test]
    fn exits_zero() {
        let n = try_number("exit try");
        println!("exit try {n}");
        std::process::exit(0);
    }
}

portaltest::main!();
