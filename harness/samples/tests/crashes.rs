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

portaltest::main!();
