//! The conformance probes under portaltest: the same bodies as `conformance_tokio.rs`
//! runs under `#[tokio::test]`, here in isolated tests, `start_paused = true` tests and
//! shared tests (and a few as sync code that `await_`s); harness/tests/conformance.rs
//! compares the traces.
use portaltest::await_;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "conformance/probes.rs"]
mod probes;
use probes::{record, Trace};

macro_rules! on_portaltest {
    ($mode:ident, $args:tt, $($probe:ident),* $(,)?) => {
        mod $mode {
            $(
                #[portaltest::test $args]
                async fn $probe() {
                    let trace = super::probes::$probe().await;
                    super::record(stringify!($mode), stringify!($probe), &trace);
                }
            )*
        }
    };
}

on_portaltest!(
    isolated,
    (isolated),
    yield_lets_spawned_tasks_run,
    spawn_order,
    handle_current,
    block_in_place_refused,
    nested_runtime_refused,
    consume_budget,
    timeout_fires,
    spawn_local_without_local_set,
    pause_in_the_test,
);

on_portaltest!(
    paused,
    (start_paused = true),
    yield_lets_spawned_tasks_run,
    spawn_order,
    consume_budget,
    advance_expires_timers,
    sleep_auto_advances,
    timeout_on_a_paused_clock,
    yields_do_not_advance_the_clock,
    sleepers_wake_in_deadline_order,
    interval_ticks,
);

// On the shared runtime, beside the other tests (no paused clock there).
on_portaltest!(
    shared,
    (),
    yield_lets_spawned_tasks_run,
    spawn_order,
    handle_current,
    block_in_place_refused,
    nested_runtime_refused,
    consume_budget,
    timeout_fires,
    spawn_local_without_local_set,
);

/// Sync code that `await_`s, step by step, what the async probes `.await`.
mod sync_paused {
    use super::*;

    #[portaltest::test(start_paused = true)]
    fn advance_expires_timers() {
        let t = Trace::default();
        let store = Arc::new(Mutex::new(Some("value")));
        let (t2, store2) = (t.clone(), store.clone());
        let purger = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            store2.lock().unwrap().take();
            t2.push("purged");
        });
        let mut timer = Box::pin(tokio::time::sleep(Duration::from_secs(1)));
        await_(std::future::poll_fn(|cx| {
            let _ = timer.as_mut().poll(cx);
            std::task::Poll::Ready(())
        }));
        await_(tokio::task::yield_now());
        let state = |t: &Trace, timer: &tokio::time::Sleep| {
            t.push(format!(
                "key: {:?}, timer elapsed: {}",
                *store.lock().unwrap(),
                timer.is_elapsed()
            ))
        };
        t.push("advance 999ms");
        await_(tokio::time::advance(Duration::from_millis(999)));
        state(&t, &timer);
        t.push("advance 2ms");
        await_(tokio::time::advance(Duration::from_millis(2)));
        state(&t, &timer);
        t.push("yield");
        await_(tokio::task::yield_now());
        state(&t, &timer);
        await_(purger).unwrap();
        record("sync_paused", "advance_expires_timers", &t.take());
    }

    #[portaltest::test(start_paused = true)]
    fn yield_lets_spawned_tasks_run() {
        record(
            "sync_paused",
            "yield_lets_spawned_tasks_run",
            &sync_yield_lets_spawned_tasks_run(),
        );
    }
}

mod sync_shared {
    use super::*;

    #[portaltest::test]
    fn yield_lets_spawned_tasks_run() {
        record(
            "sync_shared",
            "yield_lets_spawned_tasks_run",
            &sync_yield_lets_spawned_tasks_run(),
        );
    }

    #[portaltest::test]
    fn consume_budget() {
        record("sync_shared", "consume_budget", &sync_consume_budget());
    }

    #[portaltest::test]
    fn block_in_place_refused() {
        record(
            "sync_shared",
            "block_in_place_refused",
            &sync_block_in_place_refused(),
        );
    }
}

mod sync_isolated {
    use super::*;

    #[portaltest::test(isolated)]
    fn yield_lets_spawned_tasks_run() {
        record(
            "sync_isolated",
            "yield_lets_spawned_tasks_run",
            &sync_yield_lets_spawned_tasks_run(),
        );
    }

    #[portaltest::test(isolated)]
    fn consume_budget() {
        record("sync_isolated", "consume_budget", &sync_consume_budget());
    }

    #[portaltest::test(isolated)]
    fn block_in_place_refused() {
        record(
            "sync_isolated",
            "block_in_place_refused",
            &sync_block_in_place_refused(),
        );
    }
}

/// `probes::consume_budget` in sync code.
fn sync_consume_budget() -> Vec<String> {
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ran2 = ran.clone();
    let handle = tokio::spawn(async move { ran2.store(true, std::sync::atomic::Ordering::SeqCst) });
    let mut t = Vec::new();
    for i in 1..=1000 {
        await_(tokio::task::coop::consume_budget());
        if ran.load(std::sync::atomic::Ordering::SeqCst) {
            t.push(format!("the spawned task ran after {i} units"));
            break;
        }
    }
    if t.is_empty() {
        t.push("the spawned task never ran in 1000 units".into());
    }
    await_(handle).unwrap();
    t
}

/// `probes::block_in_place_refused`, called from sync code (no `await` around it).
fn sync_block_in_place_refused() -> Vec<String> {
    let r = std::panic::catch_unwind(|| tokio::task::block_in_place(|| 1));
    vec![match r {
        Ok(n) => format!("allowed, returned {n}"),
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("refused: {}", text.split(". ").next().unwrap_or_default())
        }
    }]
}

/// `probes::yield_lets_spawned_tasks_run` in sync code.
fn sync_yield_lets_spawned_tasks_run() -> Vec<String> {
    let t = Trace::default();
    let t2 = t.clone();
    t.push("spawn");
    let handle = tokio::spawn(async move { t2.push("spawned task ran") });
    t.push("yield");
    await_(tokio::task::yield_now());
    t.push("after yield");
    await_(handle).unwrap();
    t.take()
}

portaltest::main!();
