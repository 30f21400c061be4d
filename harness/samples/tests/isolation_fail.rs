//! What goes wrong on the shared runtime, and how isolated tests fail: several tests
//! here fail on purpose.
use portaltest::{await_, fixture};
use std::time::{Duration, Instant};

/// Pausing the shared clock fails the culprit; the clock is resumed for the others.
mod clock {
    use super::*;

    #[portaltest::test]
    fn pauses_the_shared_clock() {
        println!("about to pause");
        tokio::time::pause();
        // With auto-advance this would end at once; it never gets that far.
        await_(tokio::time::sleep(Duration::from_secs(3600)));
        println!("not reached");
    }

    #[portaltest::test]
    async fn pauses_it_again() {
        tokio::time::pause();
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }

    /// Passes: its 10s timeout measures real time, and the clock runs.
    #[portaltest::test(timeout = "10s")]
    fn timeouts_and_sleeps_take_real_time() {
        let real = Instant::now();
        let late = await_(tokio::time::timeout(
            Duration::from_millis(100),
            tokio::time::sleep(Duration::from_millis(400)),
        ));
        assert!(late.is_err());
        assert!(
            real.elapsed() >= Duration::from_millis(90),
            "timeout(100ms) fired after {:?}",
            real.elapsed()
        );
        await_(tokio::time::sleep(Duration::from_millis(200)));
        assert!(real.elapsed() >= Duration::from_millis(290));
    }
}

/// A task spawned without a portal pauses the clock: resumed with a warning.
mod spawned {
    use super::*;

    /// Passes: it is not the one that paused.
    #[portaltest::test(timeout = "10s")]
    fn a_task_it_spawned_pauses_the_clock() {
        await_(tokio::task::spawn_local(async { tokio::time::pause() })).unwrap();
        let real = Instant::now();
        await_(tokio::time::sleep(Duration::from_millis(100)));
        await_(tokio::time::sleep(Duration::from_millis(100)));
        assert!(real.elapsed() >= Duration::from_millis(90));
    }
}

/// Runtimes built, entered or dropped on the shared thread.
mod runtimes {
    #[portaltest::test]
    fn blocks_on_a_runtime_of_its_own() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {});
    }

    #[portaltest::test]
    fn drops_a_runtime_of_its_own() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        drop(rt);
    }
}

/// Isolated tests that fail.
mod isolated {
    use super::*;

    #[fixture]
    async fn shared_value() -> u32 {
        7
    }

    #[portaltest::test(isolated)]
    fn uses_a_fixture() {
        let _ = shared_value();
    }

    /// Passes: the fixture itself is fine on the shared runtime.
    #[portaltest::test]
    fn shared_test_uses_the_same_fixture() {
        assert_eq!(*shared_value(), 7);
    }

    #[portaltest::test(isolated)]
    fn panics() {
        println!("printed by the isolated test");
        tracing::info!("tracing event of the isolated test");
        panic!("isolated boom");
    }

    #[portaltest::test(start_paused = true, timeout = "300ms")]
    fn times_out_in_real_time() {
        let _cleanup = portaltest::guard((), |_| async {
            // On the test's own (paused) runtime.
            tokio::time::sleep(Duration::from_secs(5)).await;
            println!("guard cleanup of the isolated test ran");
        });
        // A paused clock alone never ends this: only the real-time limit does.
        await_(std::future::pending::<()>());
    }

    /// Fails as under `#[tokio::test]`: the test runs inside its runtime.
    #[portaltest::test(isolated)]
    fn blocks_on_a_runtime_of_its_own() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {});
    }

    #[portaltest::test(isolated, timeout = "200ms")]
    #[ignore = "blocks its thread for 30 s, past its timeout and the grace period"]
    fn blocks_past_its_timeout() {
        std::thread::sleep(Duration::from_secs(30));
    }
}

portaltest::main!();
