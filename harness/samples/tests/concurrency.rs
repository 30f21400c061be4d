//! Interleaving on one thread, and `--test-threads`.
use portaltest::{await_, fixture};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Both rendezvous tests pass only if they are in flight at the same time.
mod rendezvous {
    use super::*;

    #[fixture]
    async fn meeting_point() -> tokio::sync::Barrier {
        tokio::sync::Barrier::new(2)
    }

    fn meet() -> std::thread::ThreadId {
        await_(meeting_point().wait());
        std::thread::current().id()
    }

    #[portaltest::test(timeout = "10s")]
    fn left() {
        let main = std::thread::current().id();
        assert_eq!(meet(), main);
    }

    #[portaltest::test(timeout = "10s")]
    async fn right() {
        let main = std::thread::current().id();
        assert_eq!(meet(), main);
    }
}

/// Each passes only if no other `exclusive` test is in flight: true with
/// `--test-threads 1`, false without it.
mod exclusive {
    use super::*;

    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

    fn alone() {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        await_(tokio::time::sleep(Duration::from_millis(30)));
        let seen = IN_FLIGHT.load(Ordering::SeqCst);
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(seen, 1, "another test was in flight");
    }

    #[portaltest::test]
    fn one() {
        alone()
    }

    #[portaltest::test]
    fn two() {
        alone()
    }

    #[portaltest::test]
    fn three() {
        alone()
    }
}

/// Holds the thread for 2 s: the watchdog names it while it still blocks.
mod blocking {
    #[portaltest::test]
    #[ignore = "blocks the thread for 2 s on purpose"]
    fn holds_the_thread() {
        std::thread::sleep(std::time::Duration::from_millis(2000));
    }
}

/// Waits forever; run with `PORTALTEST_TIMEOUT` to see the run-wide default apply.
mod forever {
    #[portaltest::test]
    #[ignore = "waits forever unless PORTALTEST_TIMEOUT is set"]
    fn waits() {
        let _cleanup = portaltest::guard((), |_| async {
            println!("guard cleanup of a timed-out test");
        });
        portaltest::await_(std::future::pending::<()>());
    }
}

portaltest::main!();
