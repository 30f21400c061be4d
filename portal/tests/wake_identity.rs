//! Relay identity: a portal nested in another is polled with the outer
//! portal's relay waker, whose raw parts never change while the task it forwards to
//! does; the inner portal must still wake the task of the latest poll. Each case runs
//! on its own thread, watched with a bounded wait: a lost wake-up is a hang.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures::FutureExt;
use stackportal::{await_, with_portal_run_sync, Portal};

mod test_env;

/// Runs `case` on a thread of its own; fails if it has not finished within 60 s.
fn within_a_bound(what: &str, case: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        case();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung (lost wake-up)"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the case panicked"),
    }
}

/// An outer portal awaiting an inner portal that sleeps `ms` milliseconds.
fn nested(ms: u64) -> Portal<u32> {
    with_portal_run_sync(move || {
        let inner = with_portal_run_sync(move || {
            await_(tokio::time::sleep(Duration::from_millis(ms)));
            7
        });
        await_(inner) + 1
    })
}

#[test]
fn a_nested_portal_polled_once_with_now_or_never_then_awaited_finishes() {
    within_a_bound("now_or_never then .await", || {
        let rt = test_env::rt();
        let out = rt.block_on(async {
            let mut outer = nested(50);
            assert!((&mut outer).now_or_never().is_none());
            outer.await
        });
        assert_eq!(out, 8);
    });
}

#[test]
fn a_nested_portal_moved_between_local_tasks_wakes_the_new_task() {
    within_a_bound("moved between LocalSet tasks", || {
        let rt = test_env::rt();
        let local = tokio::task::LocalSet::new();
        let out = local.block_on(&rt, async {
            let slot: Rc<RefCell<Option<Portal<u32>>>> = Rc::default();
            let a_slot = slot.clone();
            // Task A polls the nesting once, with its own waker, and ends.
            tokio::task::spawn_local(async move {
                let mut outer = nested(50);
                std::future::poll_fn(|cx| {
                    assert!(Pin::new(&mut outer).poll(cx).is_pending());
                    Poll::Ready(())
                })
                .await;
                *a_slot.borrow_mut() = Some(outer);
            })
            .await
            .unwrap();
            // Task B finishes it.
            let outer = slot.borrow_mut().take().unwrap();
            tokio::task::spawn_local(outer).await.unwrap()
        });
        assert_eq!(out, 8);
    });
}

#[test]
fn three_levels_of_nesting_follow_the_task() {
    within_a_bound("three levels", || {
        let rt = test_env::rt();
        let out = rt.block_on(async {
            let mut outer = with_portal_run_sync(|| {
                let middle = with_portal_run_sync(|| await_(nested(30)) * 2);
                await_(middle)
            });
            assert!((&mut outer).now_or_never().is_none());
            outer.await
        });
        assert_eq!(out, 16);
    });
}

/// A waker whose `clone` panics the first `n` times.
struct TouchyWaker {
    clones_to_fail: AtomicUsize,
    wakes: AtomicUsize,
}

impl Wake for TouchyWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that counts wakes; its clones go through a `TouchyWaker` wrapper whose
/// clone panics once: built by hand since `Wake` has no clone hook.
fn touchy_waker(inner: Arc<TouchyWaker>) -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is an `Arc<TouchyWaker>` pointer owned by a waker.
        let arc = unsafe { Arc::from_raw(data.cast::<TouchyWaker>()) };
        let fail = arc
            .clones_to_fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let copy = arc.clone();
        std::mem::forget(arc);
        if fail {
            drop(copy);
            panic!("waker clone failed");
        }
        RawWaker::new(Arc::into_raw(copy).cast(), &VTABLE)
    }
    unsafe fn wake(data: *const ()) {
        // SAFETY: as above; consumes the reference.
        let arc = unsafe { Arc::from_raw(data.cast::<TouchyWaker>()) };
        arc.wakes.fetch_add(1, Ordering::SeqCst);
    }
    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: as above; borrows the reference.
        let arc = unsafe { &*data.cast::<TouchyWaker>() };
        arc.wakes.fetch_add(1, Ordering::SeqCst);
    }
    unsafe fn drop_arc(data: *const ()) {
        // SAFETY: as above; releases the reference.
        drop(unsafe { Arc::from_raw(data.cast::<TouchyWaker>()) });
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_arc);
    // SAFETY: the vtable functions treat the data pointer as an `Arc<TouchyWaker>`.
    unsafe { Waker::from_raw(RawWaker::new(Arc::into_raw(inner).cast(), &VTABLE)) }
}

#[test]
fn a_waker_clone_that_panics_leaves_no_stale_target() {
    // Poll with waker A (its clone works), then with waker B whose first clone panics:
    // the panic comes out of `await_`; the body catches it and waits again, and a wake
    // must reach B, not A.
    let a = Arc::new(TouchyWaker {
        clones_to_fail: AtomicUsize::new(0),
        wakes: AtomicUsize::new(0),
    });
    let b = Arc::new(TouchyWaker {
        clones_to_fail: AtomicUsize::new(1),
        wakes: AtomicUsize::new(0),
    });
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let stash: Rc<RefCell<Option<Waker>>> = Rc::default();
    let stash2 = stash.clone();
    let mut portal = with_portal_run_sync(move || {
        // Pending until a yield: registers the relay's waker each time.
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            await_(std::future::poll_fn(|cx| {
                *stash2.borrow_mut() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }))
        }));
        assert!(first.is_err(), "the clone's panic comes out of await_");
        await_(rx).unwrap()
    });
    let wa = touchy_waker(a.clone());
    let wb = touchy_waker(b.clone());
    assert!(Pin::new(&mut portal)
        .poll(&mut Context::from_waker(&wa))
        .is_pending());
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let second = Pin::new(&mut portal).poll(&mut Context::from_waker(&wb));
    std::panic::set_hook(prev);
    assert!(second.is_pending());
    let a_before = a.wakes.load(Ordering::SeqCst);
    tx.send(5).unwrap();
    assert_eq!(b.wakes.load(Ordering::SeqCst), 1, "the wake reaches B");
    assert_eq!(a.wakes.load(Ordering::SeqCst), a_before, "not A");
    assert_eq!(
        Pin::new(&mut portal).poll(&mut Context::from_waker(&wb)),
        Poll::Ready(5)
    );
    drop(stash);
}
