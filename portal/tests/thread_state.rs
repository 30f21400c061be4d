//! What follows the task across `await_` and what stays with the thread, as the crate
//! docs ("Cancellation is an unwind", "What stays with the thread") describe it.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

use stackportal::{await_, with_portal_run_sync};

tokio::task_local! {
    static REQUEST: u32;
}

mod test_env;
use test_env::rt;

#[test]
fn a_task_local_scope_around_the_portal_holds_across_await_() {
    let seen = rt().block_on(REQUEST.scope(
        7,
        with_portal_run_sync(|| {
            let before = REQUEST.get();
            await_(tokio::time::sleep(std::time::Duration::from_millis(2)));
            (before, REQUEST.get())
        }),
    ));
    assert_eq!(seen, (7, 7));
}

/// The documented hazard: `sync_scope` inside a portal, held across `await_`, is what
/// another task on the thread sees while the portal is suspended.
#[test]
fn a_sync_scope_held_across_await_leaks_to_other_tasks() {
    let rt = rt();
    let local = tokio::task::LocalSet::new();
    let seen_by_other = local.block_on(&rt, async {
        let other = tokio::task::spawn_local(async { REQUEST.try_with(|v| *v).ok() });
        with_portal_run_sync(|| {
            REQUEST.sync_scope(99, || await_(tokio::task::yield_now()));
        })
        .await;
        other.await.unwrap()
    });
    assert_eq!(seen_by_other, Some(99));
}

/// Cancellation unwinds: a std `MutexGuard` held across the suspended `await_` poisons
/// its mutex, as it would on a panic (a dropped `async fn` would not).
#[test]
fn cancellation_poisons_a_mutex_held_across_await_() {
    let mutex = Arc::new(Mutex::new(0));
    let m = mutex.clone();
    let saw_panicking = Rc::new(Cell::new(false));
    let s = saw_panicking.clone();
    let mut portal = with_portal_run_sync(move || {
        struct Probe(Rc<Cell<bool>>);
        impl Drop for Probe {
            fn drop(&mut self) {
                self.0.set(std::thread::panicking());
            }
        }
        let _probe = Probe(s);
        let _held = m.lock().unwrap();
        await_(std::future::pending::<()>());
    });
    let polled = Pin::new(&mut portal).poll(&mut Context::from_waker(Waker::noop()));
    assert!(polled.is_pending());
    drop(portal);
    assert!(saw_panicking.get(), "destructors see thread::panicking()");
    assert!(mutex.is_poisoned());
}
