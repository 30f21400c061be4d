//! The probes of the clock and scheduling conformance suite: each runs some tokio code
//! and returns what it observed, in order. The same bodies run under `#[tokio::test]`
//! (`conformance_tokio.rs`, libtest's harness) and under portaltest
//! (`conformance.rs`: isolated, `start_paused = true` and shared tests), and
//! `harness/tests/conformance.rs` compares the traces. Plain tokio only: nothing here
//! knows which harness runs it.

#![allow(dead_code)] // each target runs some of them

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A trace that spawned tasks can append to.
#[derive(Clone, Default)]
pub struct Trace(Arc<Mutex<Vec<String>>>);

impl Trace {
    pub fn push(&self, what: impl Into<String>) {
        self.0.lock().unwrap().push(what.into());
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Writes `mode probe: a | b | c` to the file named by `CONFORMANCE_TRACES`, in one
/// `write` (the tests of a target run at the same time); nothing when it is unset.
pub fn record(mode: &str, probe: &str, trace: &[String]) {
    let Ok(path) = std::env::var("CONFORMANCE_TRACES") else {
        return;
    };
    use std::io::Write;
    let line = format!("{mode} {probe}: {}\n", trace.join(" | "));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(line.as_bytes()).unwrap();
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".into()
    };
    // The first sentence: tokio's texts go on with advice that may change.
    text.split(". ").next().unwrap_or_default().to_string()
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

// ---- on any clock ---------------------------------------------------------------

/// After `yield_now`, the tasks spawned before it have run (the yield defers the
/// wake-up to the scheduler).
pub async fn yield_lets_spawned_tasks_run() -> Vec<String> {
    let t = Trace::default();
    let t2 = t.clone();
    t.push("spawn");
    let handle = tokio::spawn(async move { t2.push("spawned task ran") });
    t.push("yield");
    tokio::task::yield_now().await;
    t.push("after yield");
    handle.await.unwrap();
    t.take()
}

/// The order in which spawned tasks (and a task spawned by one of them) run, relative
/// to the body's yields.
pub async fn spawn_order() -> Vec<String> {
    let t = Trace::default();
    let mut handles = Vec::new();
    for name in ["a", "b", "c"] {
        let t2 = t.clone();
        handles.push(tokio::spawn(async move {
            t2.push(format!("{name} runs"));
            if name == "a" {
                let t3 = t2.clone();
                tokio::spawn(async move { t3.push("d (spawned by a) runs") });
            }
            tokio::task::yield_now().await;
            t2.push(format!("{name} after its yield"));
        }));
    }
    t.push("body yields");
    tokio::task::yield_now().await;
    t.push("body after 1 yield");
    tokio::task::yield_now().await;
    t.push("body after 2 yields");
    for h in handles {
        h.await.unwrap();
    }
    t.push("joined");
    t.take()
}

/// What `Handle::current` says.
pub async fn handle_current() -> Vec<String> {
    let handle = tokio::runtime::Handle::try_current();
    vec![
        format!("try_current ok: {}", handle.is_ok()),
        format!(
            "flavor: {:?}",
            handle.map(|h| h.runtime_flavor()).map_err(|_| ())
        ),
    ]
}

/// `block_in_place` is refused on a current-thread runtime.
pub async fn block_in_place_refused() -> Vec<String> {
    let r = std::panic::catch_unwind(|| tokio::task::block_in_place(|| 1));
    vec![match r {
        Ok(n) => format!("allowed, returned {n}"),
        Err(payload) => format!("refused: {}", panic_text(&*payload)),
    }]
}

/// Blocking on, then dropping, another runtime from inside the test.
pub async fn nested_runtime_refused() -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut t = vec!["built".to_string()];
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(async { 5 })));
    t.push(match r {
        Ok(n) => format!("block_on allowed, returned {n}"),
        Err(payload) => format!("block_on refused: {}", panic_text(&*payload)),
    });
    let r = std::panic::catch_unwind(AssertUnwindSafe(move || drop(rt)));
    t.push(match r {
        Ok(()) => "drop allowed".to_string(),
        Err(payload) => format!("drop refused: {}", panic_text(&*payload)),
    });
    t
}

/// After how many units of budget the task is made to yield (a spawned task then
/// runs).
pub async fn consume_budget() -> Vec<String> {
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let handle = tokio::spawn(async move { ran2.store(true, Ordering::SeqCst) });
    let mut t = Vec::new();
    for i in 1..=1000 {
        tokio::task::coop::consume_budget().await;
        if ran.load(Ordering::SeqCst) {
            t.push(format!("the spawned task ran after {i} units"));
            break;
        }
    }
    if t.is_empty() {
        t.push("the spawned task never ran in 1000 units".into());
    }
    handle.await.unwrap();
    t
}

/// A timeout around a future that never ends fires.
pub async fn timeout_fires() -> Vec<String> {
    let r = tokio::time::timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
    vec![format!("timed out: {}", r.is_err())]
}

/// `spawn_local` without a `LocalSet`.
pub async fn spawn_local_without_local_set() -> Vec<String> {
    let r = std::panic::catch_unwind(|| tokio::task::spawn_local(async { 3 }));
    vec![match r {
        Ok(handle) => format!("allowed, returned {}", handle.await.unwrap()),
        Err(payload) => format!("refused: {}", panic_text(&*payload)),
    }]
}

// ---- on a paused clock ------------------------------------------------------------

/// The mini-redis case: a task purges a key when it expires. `time::advance(..).await`
/// past the expiry fires the timer (tokio rounds a deadline up to its next
/// millisecond, hence 999 ms + 2 ms): the timer has elapsed when `advance` returns, and
/// the purging task, woken by it, has run by the test's next yield.
pub async fn advance_expires_timers() -> Vec<String> {
    let t = Trace::default();
    let store = Arc::new(Mutex::new(Some("value")));
    let (t2, store2) = (t.clone(), store.clone());
    let purger = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        store2.lock().unwrap().take();
        t2.push("purged");
    });
    let mut timer = std::pin::pin!(tokio::time::sleep(Duration::from_secs(1)));
    // Registers the timer (and lets the purger register its own).
    std::future::poll_fn(|cx| {
        let _ = timer.as_mut().poll(cx);
        std::task::Poll::Ready(())
    })
    .await;
    tokio::task::yield_now().await;
    let state = |t: &Trace, timer: &tokio::time::Sleep| {
        t.push(format!(
            "key: {:?}, timer elapsed: {}",
            *store.lock().unwrap(),
            timer.is_elapsed()
        ))
    };
    t.push("advance 999ms");
    tokio::time::advance(Duration::from_millis(999)).await;
    state(&t, &timer);
    t.push("advance 2ms");
    tokio::time::advance(Duration::from_millis(2)).await;
    state(&t, &timer);
    t.push("yield");
    tokio::task::yield_now().await;
    state(&t, &timer);
    purger.await.unwrap();
    t.take()
}

/// A sleep on a paused clock ends at once, exactly when due.
pub async fn sleep_auto_advances() -> Vec<String> {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    vec![format!("slept {}", ms(start.elapsed()))]
}

/// A timeout fires at its exact time on a paused clock.
pub async fn timeout_on_a_paused_clock() -> Vec<String> {
    let start = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_millis(100),
        tokio::time::sleep(Duration::from_secs(60)),
    )
    .await;
    vec![format!(
        "timed out: {} after {}",
        r.is_err(),
        ms(start.elapsed())
    )]
}

/// Yielding does not let the clock auto-advance; waiting does.
pub async fn yields_do_not_advance_the_clock() -> Vec<String> {
    let start = Instant::now();
    let fired = Arc::new(AtomicBool::new(false));
    let fired2 = fired.clone();
    let timer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        fired2.store(true, Ordering::SeqCst);
    });
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    let mut t = vec![format!(
        "after 20 yields: fired {}, at {}",
        fired.load(Ordering::SeqCst),
        ms(start.elapsed())
    )];
    tokio::time::sleep(Duration::from_millis(10)).await;
    t.push(format!(
        "after sleeping 10ms: fired {}, at {}",
        fired.load(Ordering::SeqCst),
        ms(start.elapsed())
    ));
    timer.await.unwrap();
    t
}

/// Sleeping tasks wake in order of their deadlines, at their deadlines.
pub async fn sleepers_wake_in_deadline_order() -> Vec<String> {
    let t = Trace::default();
    let start = Instant::now();
    let mut handles = Vec::new();
    for (name, after) in [("c", 30), ("a", 10), ("b", 20), ("a2", 10)] {
        let t2 = t.clone();
        handles.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after)).await;
            t2.push(format!("{name} at {}", ms(start.elapsed())));
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    t.push(format!("body at {}", ms(start.elapsed())));
    for h in handles {
        h.await.unwrap();
    }
    t.take()
}

/// An interval's ticks on a paused clock.
pub async fn interval_ticks() -> Vec<String> {
    let start = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    let mut t = Vec::new();
    for _ in 0..3 {
        interval.tick().await;
        t.push(format!("tick at {}", ms(start.elapsed())));
    }
    t
}

/// `time::pause()` in the test itself (on a clock that was running).
pub async fn pause_in_the_test() -> Vec<String> {
    tokio::time::pause();
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(600)).await;
    let t = vec![format!("slept {}", ms(start.elapsed()))];
    tokio::time::resume();
    t
}
