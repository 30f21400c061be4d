//! `AsyncGuard` cleanups are never silently skipped: awaited in place on a normal drop,
//! run before the portal completes on a panic, handed to the registered spawner on
//! cancellation, and reported on stderr only when there is none.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use stackportal::{await_, guard, with_portal_run_sync, AsyncGuard, Builder};

mod test_env;

type Log = Rc<RefCell<Vec<String>>>;

fn logged(log: &Log, name: &'static str) -> AsyncGuard<&'static str> {
    let log = log.clone();
    guard(name, move |name| async move {
        // A real suspension: the cleanup needs the runtime.
        tokio::time::sleep(Duration::from_millis(1)).await;
        log.borrow_mut().push(format!("cleanup {name}"));
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn normal_drop_awaits_cleanup_in_place() {
    let log: Log = Default::default();
    let l = log.clone();
    rt().block_on(with_portal_run_sync(move || {
        {
            let g = logged(&l, "a");
            assert_eq!(*g, "a");
            l.borrow_mut().push("body".into());
        }
        l.borrow_mut().push("after drop".into());
    }));
    assert_eq!(*log.borrow(), ["body", "cleanup a", "after drop"]);
}

#[test]
fn async_closure_cleanup_and_into_inner() {
    let log: Log = Default::default();
    let l = log.clone();
    rt().block_on(with_portal_run_sync(move || {
        let l2 = l.clone();
        let g = guard(1, async move |v| {
            l2.borrow_mut().push(format!("async closure {v}"))
        });
        drop(g);
        let disarmed = guard(2, |_| async { panic!("must not run") });
        assert_eq!(AsyncGuard::into_inner(disarmed), 2);
    }));
    assert_eq!(*log.borrow(), ["async closure 1"]);
}

#[test]
fn on_panic_cleanups_run_before_the_portal_completes() {
    let log: Log = Default::default();
    let l = log.clone();
    let res = rt().block_on(
        AssertUnwindSafe(with_portal_run_sync(move || {
            let _a = logged(&l, "a");
            let _b = logged(&l, "b");
            panic!("test failed");
        }))
        .catch_unwind(),
    );
    assert_eq!(*res.unwrap_err().downcast::<&str>().unwrap(), "test failed");
    // Dropped in reverse order of creation during the unwind; both awaited.
    assert_eq!(*log.borrow(), ["cleanup b", "cleanup a"]);
}

/// Runs `body` in a portal with a spawner that collects handed-over cleanups as local
/// tasks, cancels it after 5 ms, and returns how many cleanups were handed over, after
/// awaiting them all.
fn cancel_after_5ms(body: impl FnOnce() + 'static) -> usize {
    let rt = rt();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let spawned = Rc::new(RefCell::new(Vec::new()));
        let s = spawned.clone();
        let portal = Builder::new()
            .cleanup_spawner(move |cleanup| s.borrow_mut().push(tokio::task::spawn_local(cleanup)))
            .run_sync(body);
        let res = tokio::time::timeout(test_env::ms(5), portal).await;
        assert!(res.is_err(), "the portal was cancelled");
        let handles: Vec<_> = spawned.borrow_mut().drain(..).collect();
        let handed_over = handles.len();
        for h in handles {
            h.await.unwrap();
        }
        handed_over
    })
}

#[test]
fn on_cancellation_cleanups_go_to_the_registered_spawner() {
    let log: Log = Default::default();
    let l = log.clone();
    let handed_over = cancel_after_5ms(move || {
        let _a = logged(&l, "a");
        await_(tokio::time::sleep(Duration::from_secs(3600)));
    });
    assert_eq!(handed_over, 1, "the cleanup was handed to the spawner");
    assert_eq!(*log.borrow(), ["cleanup a"]);
}

#[test]
fn cancellation_mid_cleanup_hands_the_rest_to_the_spawner() {
    let log: Log = Default::default();
    let l = log.clone();
    // The body returns at once; the cleanup starts and is cancelled mid-way.
    let handed_over = cancel_after_5ms(move || {
        let _slow = guard((), move |()| async move {
            l.borrow_mut().push("cleanup started".into());
            tokio::time::sleep(test_env::ms(20)).await;
            l.borrow_mut().push("cleanup finished".into());
        });
    });
    assert_eq!(handed_over, 1);
    assert_eq!(*log.borrow(), ["cleanup started", "cleanup finished"]);
}

/// Without a spawner the lost cleanup is reported on stderr (checked in a child
/// process, whose stderr we can read).
#[test]
fn without_a_spawner_a_cancelled_cleanup_is_reported() {
    if std::env::var_os("STACKPORTAL_TEST_CHILD").is_some() {
        let mut portal = with_portal_run_sync(|| {
            let _g = guard((), |()| async {});
            await_(std::future::pending::<()>());
        });
        let waker = futures::task::noop_waker();
        let polled = std::pin::Pin::new(&mut portal).poll(&mut Context::from_waker(&waker));
        assert!(matches!(polled, Poll::Pending));
        drop(portal);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "without_a_spawner_a_cancelled_cleanup_is_reported",
            "--nocapture",
        ])
        .env("STACKPORTAL_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("AsyncGuard cleanup could not run"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cleanup_spawner"),
        "names the fix: {stderr}"
    );
}

#[test]
fn close_runs_the_cleanup_in_async_code() {
    let log: Log = Default::default();
    let g = logged(&log, "closed");
    rt().block_on(AsyncGuard::close(g));
    assert_eq!(*log.borrow(), ["cleanup closed"]);
}

#[test]
fn spawn_local_registers_a_spawner() {
    let log: Log = Default::default();
    let rt = rt();
    let local = tokio::task::LocalSet::new();
    let l = log.clone();
    local.block_on(&rt, async move {
        let task = stackportal::spawn_local({
            let l = l.clone();
            async move {
                let _a = logged(&l, "task guard");
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
        tokio::task::yield_now().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        // The cleanup was spawned on the LocalSet: wait until it has run (a spawner
        // that dropped it would leave the log empty and time out here).
        tokio::time::timeout(Duration::from_secs(10), async move {
            while l.borrow().is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the handed-over cleanup never ran");
    });
    assert_eq!(*log.borrow(), ["cleanup task guard"]);
}

/// Runs this test binary again for one test, with `STACKPORTAL_TEST_CHILD` set;
/// returns (success, stderr).
fn in_child(test: &str) -> (std::process::ExitStatus, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env("STACKPORTAL_TEST_CHILD", "1")
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `spawn_local`'s spawner accepts a cleanup, but the `LocalSet` is dropped before the
/// cleanup task runs: that loss is reported, not silent.
#[test]
fn a_cleanup_dropped_by_its_spawner_is_reported() {
    if std::env::var_os("STACKPORTAL_TEST_CHILD").is_some() {
        let rt = rt();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let task = stackportal::spawn_local(async {
                let _g = guard((), |()| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                });
                std::future::pending::<()>().await;
            });
            tokio::task::yield_now().await;
            task.abort();
            // Let the abort run (the cleanup is handed over), not the cleanup itself.
            tokio::task::yield_now().await;
        });
        drop(local); // drops the handed-over cleanup task unfinished
        return;
    }
    let (status, stderr) = in_child("a_cleanup_dropped_by_its_spawner_is_reported");
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("handed to a cleanup spawner, which dropped it before it finished"),
        "{stderr}"
    );
}
