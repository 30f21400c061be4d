//! Isolated tests and paused clocks: everything here passes (the `exclusive` tests only
//! with `--test-threads 1`).
use portaltest::{await_, fixture};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `#[portaltest::test(start_paused = true)]`: the port of
/// `#[tokio::test(start_paused = true)]`.
mod paused {
    use super::*;

    #[portaltest::test(start_paused = true, timeout = "5s")]
    async fn sleeps_an_hour_at_once() {
        let real = Instant::now();
        let start = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(start.elapsed() >= Duration::from_secs(3600));
        assert!(real.elapsed() < Duration::from_secs(5));
        // The harness's own timeout (5s) runs in real time, not on this clock.
    }

    #[portaltest::test(start_paused = true)]
    fn sync_code_awaits_on_a_paused_clock() {
        let start = tokio::time::Instant::now();
        let late = await_(tokio::time::timeout(
            Duration::from_millis(100),
            tokio::time::sleep(Duration::from_secs(60)),
        ));
        assert!(late.is_err(), "a timeout on a paused clock still fires");
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }
}

/// `#[portaltest::test(isolated)]`: a thread and a runtime of the test's own.
mod own {
    use super::*;

    #[portaltest::test(isolated)]
    fn runs_on_a_thread_named_after_it() {
        assert_eq!(
            std::thread::current().name(),
            Some("own::runs_on_a_thread_named_after_it")
        );
        assert_ne!(std::thread::current().name(), Some("main"));
    }

    #[portaltest::test(isolated)]
    fn pauses_its_own_clock() {
        tokio::time::pause();
        let start = tokio::time::Instant::now();
        await_(tokio::time::sleep(Duration::from_secs(600)));
        assert!(start.elapsed() >= Duration::from_secs(600));
        tokio::time::resume();
    }

    /// As under `#[tokio::test]`, another runtime is built, blocked on and dropped on a
    /// thread of its own (inside the test's runtime tokio refuses it).
    #[portaltest::test(isolated)]
    fn builds_blocks_on_and_drops_a_runtime() {
        let n = std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let n = rt.block_on(async {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    tokio::spawn(async { 20 }).await.unwrap() + 1
                });
                drop(rt);
                n
            })
            .join()
            .unwrap()
        });
        assert_eq!(n, 21);
        // ...and still awaits on its own runtime afterwards.
        assert_eq!(await_(tokio::spawn(async { 7 })).unwrap(), 7);
    }

    #[portaltest::test(isolated)]
    async fn async_tests_may_be_isolated() {
        let local = tokio::task::spawn_local(async { 1 });
        let sent = tokio::spawn(async { 2 });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(local.await.unwrap() + sent.await.unwrap(), 3);
    }

    #[portaltest::test(isolated)]
    #[should_panic(expected = "isolated and expected")]
    fn should_panic_works() {
        panic!("isolated and expected");
    }

    #[portaltest::test(isolated)]
    fn guards_run_their_cleanup() {
        let flag = std::rc::Rc::new(std::cell::Cell::new(false));
        let seen = flag.clone();
        drop(portaltest::guard((), move |_| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            seen.set(true);
        }));
        assert!(flag.get());
    }
}

/// An isolated test may block its thread: the shared tests go on meanwhile.
mod meanwhile {
    use super::*;

    static SHARED_RAN: AtomicBool = AtomicBool::new(false);

    #[portaltest::test(isolated, timeout = "10s")]
    fn blocks_until_a_shared_test_ran() {
        let start = Instant::now();
        while !SHARED_RAN.load(Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no shared test ran while this isolated test blocked its thread"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[portaltest::test]
    fn shared_test_runs_on_the_main_thread() {
        await_(tokio::time::sleep(Duration::from_millis(20)));
        assert_eq!(std::thread::current().name(), Some("main"));
        SHARED_RAN.store(true, Ordering::SeqCst);
    }
}

/// Fixtures work as ever in shared tests next to isolated ones.
mod fixtures {
    use super::*;

    #[fixture]
    async fn answer() -> u32 {
        42
    }

    #[portaltest::test]
    fn shared_test_uses_a_fixture() {
        assert_eq!(*answer(), 42);
    }
}

/// Each passes only if no other `exclusive` test is in flight: `--test-threads 1`
/// counts isolated tests too.
mod exclusive {
    use super::*;

    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

    fn alone() {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(10));
        await_(tokio::time::sleep(Duration::from_millis(190)));
        let seen = IN_FLIGHT.load(Ordering::SeqCst);
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(seen, 1, "another test was in flight");
    }

    #[portaltest::test(isolated)]
    #[ignore = "run with --test-threads 1"]
    fn isolated_one() {
        alone()
    }

    #[portaltest::test(start_paused = true)]
    #[ignore = "run with --test-threads 1"]
    fn isolated_two() {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        let seen = IN_FLIGHT.load(Ordering::SeqCst);
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(seen, 1, "another test was in flight");
    }

    #[portaltest::test]
    #[ignore = "run with --test-threads 1"]
    fn shared_one() {
        alone()
    }
}

portaltest::main!();
