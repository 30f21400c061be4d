//! `#[portaltest::test(exclusive)]` and `#[portaltest::test(group = "..")]`
//! (harness/tests/samples.rs). Everything passes; the `group::` tests log their
//! process to `PORTALTEST_SAMPLE_LOG`.
use portaltest::await_;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

mod support;

/// Holds a place among the tests in flight for a while (yielding all along).
fn stay(in_flight: &AtomicUsize) -> usize {
    in_flight.fetch_add(1, Ordering::SeqCst);
    await_(tokio::time::sleep(Duration::from_millis(100)));
    let seen = in_flight.load(Ordering::SeqCst);
    in_flight.fetch_sub(1, Ordering::SeqCst);
    seen
}

/// The exclusive test sees no other test in flight, and none sees it.
mod exclusive {
    use super::*;

    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
    static ALONE_RUNNING: AtomicBool = AtomicBool::new(false);

    #[portaltest::test(exclusive)]
    fn alone() {
        ALONE_RUNNING.store(true, Ordering::SeqCst);
        let seen = stay(&IN_FLIGHT);
        ALONE_RUNNING.store(false, Ordering::SeqCst);
        assert_eq!(
            seen, 1,
            "other tests were in flight beside the exclusive one"
        );
    }

    fn beside() {
        assert!(!ALONE_RUNNING.load(Ordering::SeqCst), "started beside it");
        let seen = stay(&IN_FLIGHT);
        assert!(!ALONE_RUNNING.load(Ordering::SeqCst), "ran beside it");
        // The others do run together.
        assert!(seen >= 1);
    }

    #[portaltest::test]
    fn a() {
        beside()
    }

    #[portaltest::test]
    async fn b() {
        beside()
    }

    #[portaltest::test]
    fn c() {
        beside()
    }

    #[portaltest::test]
    fn d() {
        beside()
    }
}

/// The tests of a group run one at a time, in one process; other tests run beside
/// them.
mod group {
    use super::*;

    static DB: AtomicUsize = AtomicUsize::new(0);
    static CACHE: AtomicUsize = AtomicUsize::new(0);

    fn member(group: &str, in_flight: &AtomicUsize) {
        support::log(&format!("{group} {}", std::process::id()));
        let seen = stay(in_flight);
        assert_eq!(seen, 1, "two tests of group {group} were in flight at once");
    }

    #[portaltest::test(group = "db")]
    fn db_one() {
        member("db", &DB)
    }

    #[portaltest::test(group = "db")]
    async fn db_two() {
        member("db", &DB)
    }

    #[portaltest::test(group = "db", exclusive)]
    fn db_three_alone() {
        member("db", &DB)
    }

    #[portaltest::test(group = "cache")]
    fn cache_one() {
        member("cache", &CACHE)
    }

    #[portaltest::test(group = "cache", isolated)]
    fn cache_two_isolated() {
        member("cache", &CACHE)
    }

    #[portaltest::test]
    fn ungrouped_one() {}

    #[portaltest::test]
    fn ungrouped_two() {}

    /// Runs beside a test of group `db` (in one worker process).
    #[portaltest::test(timeout = "20s")]
    fn beside_the_group() {
        while DB.load(Ordering::SeqCst) == 0 {
            await_(tokio::time::sleep(Duration::from_millis(1)));
        }
    }
}

portaltest::main!();
