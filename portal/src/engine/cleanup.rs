//! Async cleanup of guards that cannot be awaited in place: the [`Cleanup`] type, the
//! cleanups deferred while a panic unwinds a portal's stack (awaited at its root,
//! `run_deferred`), and the hand-off of a cancelled portal's cleanups to the nearest
//! cleanup spawner, which reports a cleanup that is dropped unfinished.
//!
//! Its `unsafe`: walking the chain of running portals' frames to find a spawner.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::await_::await_;
use super::frame::{current, running_frame, Frame};
use super::panics::{drop_payload, drop_quietly, merge, panic_message, report, Cancelled, Outcome};

/// A cleanup future handed from an [`AsyncGuard`](crate::AsyncGuard) to the cleanup
/// spawner of a cancelled portal (see
/// [`Builder::cleanup_spawner`](crate::Builder::cleanup_spawner)).
///
/// ```
/// let spawner = |cleanup: stackportal::Cleanup| futures::executor::block_on(cleanup);
/// spawner(Box::pin(async {}));
/// ```
pub type Cleanup = Pin<Box<dyn Future<Output = ()>>>;

/// What a cancelled portal calls with the cleanups it could not await itself.
pub(crate) type Spawner = Rc<dyn Fn(Cleanup)>;

/// Runs at the root of a portal's stack once its body has returned or unwound: awaits
/// the guard cleanups that were deferred because they were dropped during a panic.
/// Panics of the cleanups, their drops, their payloads and the spawner are caught into
/// `outcome` (the first panic wins).
pub(super) fn run_deferred<T>(frame: &Frame, outcome: &mut Outcome<T>) {
    loop {
        let next = {
            let mut deferred = frame.deferred.borrow_mut();
            // In the order they were dropped; there are rarely more than a few.
            (!deferred.is_empty()).then(|| deferred.remove(0))
        };
        let Some(cleanup) = next else {
            return;
        };
        let step = panic::catch_unwind(AssertUnwindSafe(move || {
            let mut cleanup = cleanup;
            if frame.tearing_down.get() {
                hand_off(cleanup);
                return;
            }
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| await_(cleanup.as_mut())))
            {
                if payload.is::<Cancelled>() {
                    // Cancelled while awaiting: the rest of this cleanup goes to the spawner.
                    hand_off(cleanup);
                } else {
                    drop(cleanup);
                }
                panic::resume_unwind(payload);
            }
        }));
        if let Err(payload) = step {
            merge(outcome, payload);
        }
    }
}

/// Queues `cleanup` on the running portal, to be awaited once the panic that is
/// unwinding its stack reaches the portal's root. Gives it back outside a portal.
pub(crate) fn defer(cleanup: Cleanup) -> Result<(), Cleanup> {
    match running_frame() {
        Some(frame) => {
            frame.deferred.borrow_mut().push(cleanup);
            Ok(())
        }
        None => Err(cleanup),
    }
}

/// Hands `cleanup` to the nearest cleanup spawner registered on the current portal or
/// the portals around it; reports on stderr when there is none, when the spawner
/// panics, or when it drops it before it finished (its executor shut down, say).
pub(crate) fn hand_off(cleanup: Cleanup) {
    let mut frame = current();
    while !frame.is_null() {
        // SAFETY: `CURRENT` and the `parent` chain hold frames of portals whose code is
        // running on this thread (each `parent` was read from `CURRENT` when its portal
        // was entered, by `Entered` or `Away` in frame.rs, and that portal's poll is
        // below it on the call stack), so all are alive.
        let f = unsafe { &*frame };
        // SAFETY: `extras` is null or points at the extras owned by the root of that
        // frame's coroutine, dropped only after the frame has left `CURRENT` (root.rs:
        // `run_root` hands them to `take_apart` after its `Entered` guard is dropped).
        let extras = unsafe { f.extras.as_ref() };
        if let Some(spawner) = extras.and_then(|e| e.spawner.as_ref()) {
            let tracked = Box::pin(Tracked {
                cleanup: Some(cleanup),
            });
            // Often called from a guard's `Drop` during a cancellation's unwind, where
            // a panic would abort the process: a spawner's panic is reported instead
            // (the cleanup it was given is dropped with it, and reports itself).
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| spawner(tracked))) {
                report(format_args!(
                    "stackportal: a portal's cleanup spawner panicked: {}\n",
                    panic_message(&*payload)
                ));
                drop_payload(payload);
            }
            return;
        }
        frame = f.parent.get();
    }
    report_lost_cleanup("its portal was cancelled (dropped before it finished)");
    // Maybe in a `Drop` during an unwind: a panic of the cleanup's own drop would abort.
    if let Some(payload) = drop_quietly(cleanup) {
        drop_payload(payload);
    }
}

/// A handed-off cleanup that reports itself if it is dropped before it finished.
struct Tracked {
    cleanup: Option<Cleanup>,
}

impl Future for Tracked {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(cleanup) = self.cleanup.as_mut() else {
            return Poll::Ready(());
        };
        let done = cleanup.as_mut().poll(cx);
        if done.is_ready() {
            self.cleanup = None;
        }
        done
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.cleanup.is_some() {
            report_lost_cleanup_of_spawner();
        }
    }
}

pub(crate) fn report_lost_cleanup(why: &str) {
    report(format_args!(
        "stackportal: an AsyncGuard cleanup could not run: {why}, and no cleanup spawner is \
         registered. Register one with `stackportal::Builder::cleanup_spawner` (the portaltest \
         harness and `stackportal::spawn_local` do), or close the guard explicitly with \
         `AsyncGuard::close(guard).await`.\n"
    ));
}

#[cold]
fn report_lost_cleanup_of_spawner() {
    report(format_args!(
        "stackportal: an AsyncGuard cleanup was handed to a cleanup spawner, which dropped \
         it before it finished (e.g. the tokio LocalSet or runtime that `spawn_local` \
         spawned it on was shut down first). Keep the executor running until cancelled \
         portals' cleanups have finished, or close the guard explicitly with \
         `AsyncGuard::close(guard).await`.\n"
    ));
}
