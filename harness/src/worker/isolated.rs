//! Isolated tests (`#[portaltest::test(isolated)]`, `start_paused = true`): a std
//! thread and a tokio current-thread runtime of their own.
//!
//! The test still runs inside a portal (so sync code may `await_`), driven inside its
//! runtime's `block_on` within a `LocalSet`, as `#[tokio::test]` drives its body: tokio
//! sees it exactly as it sees a `#[tokio::test]` (the clock, `yield_now`, `advance`,
//! the budget, `Handle::current`, what it refuses: `block_on` of another runtime,
//! `block_in_place`), and `spawn_local` works too. The thread is its own: it may block,
//! and pause its clock, while the shared tests go on interleaving on the runtime
//! thread. The runner awaits the thread's [`Finished`] through a oneshot
//! channel and can ask it to cancel the test (a timeout); the portal is then dropped,
//! which unwinds its stack, and the guard cleanups it hands over are awaited on the
//! test's runtime before the thread reports.
//!
//! Fixtures live on the shared runtime's thread (`Rc` values in thread-locals); an
//! isolated test that uses one panics with a message naming it
//! ([`crate::worker::attribution::fixture_unavailable_here`]).

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use stackportal::Cleanup;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::fixtures::registry::TestDef;
use crate::here::{self, Buffer};
use crate::unwind::CatchUnwind;

/// How an isolated test's thread ended.
pub(crate) enum Finished {
    /// The test body returned (`Err` carries its error).
    Returned(Result<(), String>),
    /// The test (or its runtime's shutdown) panicked.
    Panicked(Box<dyn Any + Send>),
    /// The runner asked for cancellation (a timeout); the stack was unwound.
    Cancelled,
}

/// The runner's side of a running isolated test.
pub(crate) struct Running {
    pub(crate) finished: oneshot::Receiver<Finished>,
    /// Sending (or dropping it after a send) asks the test to stop.
    pub(crate) cancel: oneshot::Sender<()>,
    pub(crate) buffer: Option<Buffer>,
}

/// Starts `def` on a thread of its own, named `name` (so that std's panic messages
/// name the test too). With `capture`, its panic messages and `tracing` events are
/// collected in [`Running::buffer`].
pub(crate) fn spawn(def: &'static TestDef, name: String, capture: bool) -> io::Result<Running> {
    let (done_tx, finished) = oneshot::channel();
    let (cancel, cancel_rx) = oneshot::channel();
    let buffer: Option<Buffer> = capture.then(Buffer::default);
    let (thread_name, thread_buffer) = (name.clone(), buffer.clone());
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            here::enter_isolated(thread_name, thread_buffer);
            let finished = std::panic::catch_unwind(AssertUnwindSafe(|| {
                run_on_own_runtime(def, name, cancel_rx)
            }))
            .unwrap_or_else(Finished::Panicked);
            // The runner may have given up on this thread (it blocked past its timeout).
            let _ = done_tx.send(finished);
        })?;
    Ok(Running {
        finished,
        cancel,
        buffer,
    })
}

fn run_on_own_runtime(
    def: &'static TestDef,
    name: String,
    cancel: oneshot::Receiver<()>,
) -> Finished {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if def.start_paused {
        builder.start_paused(true);
    }
    let rt = builder
        .build()
        .expect("portaltest: cannot build the isolated test's tokio runtime");
    let local = tokio::task::LocalSet::new();
    let cleanups: Rc<RefCell<Vec<JoinHandle<()>>>> = Rc::default();
    let handed_over = cleanups.clone();
    let portal = stackportal::Builder::new()
        .name(name)
        .cleanup_spawner(move |cleanup: Cleanup| {
            // Called while the test's `LocalSet` is entered (in a poll of the test, or
            // when it is dropped below).
            handed_over
                .borrow_mut()
                .push(tokio::task::spawn_local(cleanup));
        })
        .run_sync(move || crate::unwind::__rust_begin_short_backtrace(def.run));
    // Driven inside the runtime's `block_on`, exactly as `#[tokio::test]` drives its
    // body: `yield_now` (and so `time::advance`) defers its wake-up until the runtime
    // has run its other tasks and its driver (expired timers wake their tasks first),
    // a paused clock auto-advances only when nothing else is to be done,
    // `block_in_place` is refused and `consume_budget` counts the task budget. The
    // `LocalSet` around it adds `spawn_local`, which `#[tokio::test]` lacks.
    let finished = local.block_on(&rt, async move {
        let mut caught = CatchUnwind(portal);
        let mut cancel = Some(cancel);
        let finished = std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = Pin::new(&mut caught).poll(cx) {
                return Poll::Ready(match result {
                    Ok(returned) => Finished::Returned(returned),
                    Err(payload) => Finished::Panicked(payload),
                });
            }
            if let Some(rx) = &mut cancel {
                match Pin::new(rx).poll(cx) {
                    Poll::Ready(Ok(())) => return Poll::Ready(Finished::Cancelled),
                    // The runner is gone without asking: run on.
                    Poll::Ready(Err(_)) => cancel = None,
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        })
        .await;
        // A cancelled portal unwinds here (inside the runtime, where its code ran) and
        // hands its pending guard cleanups over.
        drop(caught);
        loop {
            let list = std::mem::take(&mut *cleanups.borrow_mut());
            if list.is_empty() {
                break;
            }
            for handle in list {
                let _ = handle.await;
            }
        }
        finished
    });
    // As `#[tokio::test]` does: the runtime shuts down (waiting for its blocking
    // tasks) before the test counts as finished.
    drop(local);
    drop(rt);
    finished
}
