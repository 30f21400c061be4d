//! What a safe caller may do to a portal without breaking memory safety or losing a
//! wake-up: poll it through combinators that build a fresh `Context` (and `Waker`) for
//! every poll, move it between polls, suspend in code that a suspended `poll` frame is
//! waiting on, and hold futures larger than corosensei's 1 KiB transfer limit.
//!
//! Run them under valgrind and AddressSanitizer too (`.ci/memcheck`): a stale `Context`
//! here is a use-after-free, which a plain run may survive by luck.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures::FutureExt;
use stackportal::{await_, guard, with_portal_run, with_portal_run_sync, Builder, Portal};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Sync code that suspends its portal twice on real timers.
fn sync_helper(log: &Rc<RefCell<Vec<&'static str>>>) {
    await_(tokio::time::sleep(Duration::from_millis(2)));
    log.borrow_mut().push("helper slept");
    await_(tokio::time::sleep(Duration::from_millis(2)));
}

/// An async block whose own `poll` frame stays suspended on the portal stack while
/// `sync_helper` awaits; after that it awaits natively with the context its frame holds.
fn nested_body(log: Rc<RefCell<Vec<&'static str>>>) -> Portal<usize> {
    with_portal_run(async move {
        sync_helper(&log);
        tokio::time::sleep(Duration::from_millis(5)).await;
        tokio::task::yield_now().await;
        log.borrow_mut().push("body done");
        log.borrow().len()
    })
}

/// Passes every poll a `Context` of its own on the heap, around a `Waker` of its own
/// (forwarding to the task's waker). After the poll, that `Context` is overwritten
/// with one whose waker only counts its uses in `STALE_USES` and wakes nobody: code
/// that kept the `Context` past its poll loses its wake-up (and is counted) instead
/// of reading freed memory. Legal, and what a custom combinator may well do.
struct FreshContextEveryPoll<F> {
    inner: F,
    /// Every `Context` handed out so far, poisoned; kept so their memory stays valid.
    #[allow(clippy::vec_box)] // boxed so that each keeps its address
    spent: Vec<Box<Context<'static>>>,
}

fn fresh<F>(inner: F) -> FreshContextEveryPoll<F> {
    FreshContextEveryPoll {
        inner,
        spent: Vec::new(),
    }
}

static STALE_USES: AtomicUsize = AtomicUsize::new(0);

struct Stale;
impl Wake for Stale {
    fn wake(self: Arc<Self>) {
        STALE_USES.fetch_add(1, Ordering::SeqCst);
    }
}

struct Forward {
    to: Waker,
    wakes: Arc<AtomicUsize>,
}
impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.to.wake_by_ref();
    }
}

fn leaked(waker: Waker) -> &'static Waker {
    Box::leak(Box::new(waker))
}

impl<F: Future + Unpin> Future for FreshContextEveryPoll<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let waker = leaked(Waker::from(Arc::new(Forward {
            to: cx.waker().clone(),
            wakes: Arc::new(AtomicUsize::new(0)),
        })));
        let mut heap_cx = Box::new(Context::from_waker(waker));
        let out = Pin::new(&mut self.inner).poll(&mut heap_cx);
        *heap_cx = Context::from_waker(leaked(Waker::from(Arc::new(Stale))));
        self.spent.push(heap_cx);
        out
    }
}

fn assert_no_stale_context_used() {
    assert_eq!(
        STALE_USES.load(Ordering::SeqCst),
        0,
        "a Context was used after its poll"
    );
}

#[test]
fn nested_suspension_then_native_await_with_a_fresh_context_every_poll() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let portal = nested_body(log.clone());
    let out = rt().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), fresh(portal))
            .await
            .expect("the portal finished (no lost wake-up)")
    });
    assert_eq!(out, 2);
    assert_eq!(*log.borrow(), ["helper slept", "body done"]);
    assert_no_stale_context_used();
}

#[test]
fn nested_suspension_first_polled_by_now_or_never_then_awaited() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut portal = nested_body(log.clone());
    let out = rt().block_on(async {
        // The first poll runs with a no-op waker, and suspends inside the async
        // block's `poll`...
        assert!((&mut portal).now_or_never().is_none());
        // ...which must later go on with the awaiting task's waker.
        tokio::time::timeout(Duration::from_secs(10), portal)
            .await
            .expect("the wake-up of the task that awaits the portal is not lost")
    });
    assert_eq!(out, 2);
}

/// The same nesting one level down: a future awaited by `await_` whose own `poll`
/// calls sync code that awaits, polled by a fresh heap `Context` every time.
#[test]
fn nested_suspension_inside_a_future_awaited_by_await_() {
    struct PollCallsSyncCode {
        step: u32,
        sleep: Pin<Box<tokio::time::Sleep>>,
    }
    impl Future for PollCallsSyncCode {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            if self.step == 0 {
                // Sync code with a nested suspension, inside this poll.
                await_(tokio::time::sleep(Duration::from_millis(2)));
                self.step = 1;
            }
            // Then registers `cx`'s waker: it must still be valid and current.
            match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(7),
                Poll::Pending => Poll::Pending,
            }
        }
    }
    let portal = with_portal_run_sync(|| {
        await_(PollCallsSyncCode {
            step: 0,
            sleep: Box::pin(tokio::time::sleep(Duration::from_millis(5))),
        }) + await_(async { 1 })
    });
    let out = rt().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), fresh(portal))
            .await
            .expect("finished")
    });
    assert_eq!(out, 8);
    assert_no_stale_context_used();
}

/// A guard dropped inside async code (its cleanup awaited through the portal) while
/// that async code's `poll` frame is what the portal's body awaits.
#[test]
fn guard_dropped_in_async_code_with_a_fresh_context_every_poll() {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    let portal = with_portal_run(async move {
        let g = guard((), |()| async {
            tokio::time::sleep(Duration::from_millis(2)).await;
        });
        drop(g); // awaits the cleanup: a nested suspension inside this poll
        tokio::time::sleep(Duration::from_millis(3)).await;
        d.set(true);
    });
    rt().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), fresh(portal))
            .await
            .expect("finished");
    });
    assert!(done.get());
    assert_no_stale_context_used();
}

/// Nested portals, each level polled through a fresh heap context, five levels deep.
#[test]
fn nested_portals_each_polled_with_a_fresh_context() {
    fn level(n: u32) -> u32 {
        if n == 0 {
            await_(tokio::time::sleep(Duration::from_millis(1)));
            return 0;
        }
        let inner = with_portal_run(async move {
            let below = level(n - 1);
            tokio::time::sleep(Duration::from_millis(1)).await;
            below + 1
        });
        await_(fresh(inner))
    }
    let out = rt().block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            fresh(with_portal_run_sync(|| level(5))),
        )
        .await
        .expect("finished")
    });
    assert_eq!(out, 5);
    assert_no_stale_context_used();
}

/// The waker that a future registered must be able to wake the portal from another
/// thread after the poll that handed it out has returned.
#[test]
fn wakes_from_another_thread_reach_the_latest_task() {
    let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
    let portal = with_portal_run(async move {
        // Suspend once inside this poll so that the `rx.await` below runs on a
        // context from an earlier poll.
        await_(tokio::task::yield_now());
        rx.await.unwrap()
    });
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(11).unwrap();
    });
    let out = rt().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), fresh(portal))
            .await
            .expect("woken from the other thread")
    });
    sender.join().unwrap();
    assert_eq!(out, 11);
    assert_no_stale_context_used();
}

/// `Portal` is `Unpin`: moving it between polls is safe code and must work, including
/// with a nested suspension in flight. Each poll moves it to a new slot and puts an
/// unstarted decoy portal where it was, so anything that still points at an old place
/// reads a decoy.
#[test]
fn portal_moved_between_polls() {
    const MAX_POLLS: usize = 10_000;
    let log = Rc::new(RefCell::new(Vec::new()));
    let out = rt().block_on(async {
        let mut slots: Vec<Option<Portal<usize>>> = Vec::with_capacity(MAX_POLLS + 1);
        slots.push(Some(nested_body(log.clone())));
        for at in 0..MAX_POLLS {
            let portal = slots[at].as_mut().unwrap();
            let res = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *portal).poll(cx))).await;
            if let Poll::Ready(out) = res {
                return out;
            }
            let moved = slots[at].take();
            slots.push(moved);
            slots[at] = Some(with_portal_run(async { 0 }));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the portal never finished");
    });
    assert_eq!(out, 2);
}

/// A cleanup spawner that itself owns a guard: on cancellation the portal drops its
/// spawner while that guard's drop looks for a spawner.
#[test]
fn spawner_that_captures_a_guard_on_cancellation() {
    let ran = Rc::new(Cell::new(0u32));
    let r = ran.clone();
    let captured = guard((), move |()| async move {
        r.set(r.get() + 1);
    });
    struct Alive(Rc<Cell<bool>>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.set(false);
        }
    }
    let alive = Alive(Rc::new(Cell::new(true)));
    let spawned = Rc::new(RefCell::new(Vec::new()));
    let s = spawned.clone();
    let r2 = ran.clone();
    let mut portal = Builder::new()
        // Captures are dropped in the order they are mentioned: `alive` goes first.
        .cleanup_spawner(move |cleanup| {
            assert!(alive.0.get(), "the spawner was called while being dropped");
            let _keep = &captured;
            s.borrow_mut().push(cleanup);
        })
        .run_sync(move || {
            let _g = guard((), move |()| async move { r2.set(r2.get() + 10) });
            await_(std::future::pending::<()>());
        });
    assert!(poll_once(&mut portal).is_pending());
    drop(portal);
    // The suspended guard's cleanup went to the spawner...
    for cleanup in spawned.borrow_mut().drain(..) {
        futures::executor::block_on(cleanup);
    }
    // ...and the guard the spawner owned ran its (ready) cleanup when it was dropped.
    assert_eq!(ran.get(), 11);
}

fn poll_once<T>(portal: &mut Portal<T>) -> Poll<T> {
    Pin::new(portal).poll(&mut Context::from_waker(Waker::noop()))
}

/// Futures and closures far over corosensei's 1 KiB limit on what crosses a switch.
#[test]
fn big_futures_and_closures() {
    let big = [7u8; 64 * 1024];
    let out = rt().block_on(with_portal_run(async move {
        tokio::task::yield_now().await;
        big.iter().map(|&b| u64::from(b)).sum::<u64>()
    }));
    assert_eq!(out, 7 * 64 * 1024);

    let captured = [3u8; 64 * 1024];
    let out = rt().block_on(with_portal_run_sync(move || {
        await_(tokio::task::yield_now());
        captured.iter().map(|&b| u64::from(b)).sum::<u64>()
    }));
    assert_eq!(out, 3 * 64 * 1024);

    // A big output too.
    let out = rt().block_on(with_portal_run_sync(|| [9u8; 4096]));
    assert_eq!(out[4095], 9);

    let rt = rt();
    let local = tokio::task::LocalSet::new();
    let out = local.block_on(&rt, async {
        let buf = [1u8; 1500];
        stackportal::spawn_local(async move {
            tokio::task::yield_now().await;
            buf.len()
        })
        .await
        .unwrap()
    });
    assert_eq!(out, 1500);
}

/// A portal polled with a new waker every time wakes the one that polled it last: each
/// poll after the first waits until the previous poll's own waker was woken (a wake
/// that went to an older waker, or nowhere, times the test out), and no waker but the
/// latest is ever woken.
#[test]
fn portal_polled_from_alternating_wakers() {
    let mut portal = with_portal_run(async {
        for _ in 0..20 {
            await_(tokio::task::yield_now());
            tokio::task::yield_now().await;
            await_(tokio::time::sleep(Duration::from_millis(1)));
        }
        1
    });
    let stale_wakes = Arc::new(AtomicUsize::new(0));
    let out = rt().block_on(async {
        let task = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let mut older: Vec<Arc<AtomicUsize>> = Vec::new();
        loop {
            let wakes = Arc::new(AtomicUsize::new(0));
            let waker = Waker::from(Arc::new(Forward {
                to: task.clone(),
                wakes: wakes.clone(),
            }));
            if let Poll::Ready(v) = Pin::new(&mut portal).poll(&mut Context::from_waker(&waker)) {
                break v;
            }
            let woken = std::future::poll_fn(|_| {
                if wakes.load(Ordering::SeqCst) > 0 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            tokio::time::timeout(Duration::from_secs(20), woken)
                .await
                .expect("the portal's wake-up reached the waker of its latest poll");
            let stale: usize = older.iter().map(|w| w.load(Ordering::SeqCst)).sum();
            stale_wakes.store(stale, Ordering::SeqCst);
            // From now on, wakes of this waker are wakes of an older one.
            wakes.store(0, Ordering::SeqCst);
            older.push(wakes);
        }
    });
    assert_eq!(out, 1);
    assert_eq!(
        stale_wakes.load(Ordering::SeqCst),
        0,
        "wakes went to wakers of earlier polls"
    );
}
