//! Isolated tests (`#[portaltest::test(isolated)]`, `start_paused = true`): a std
//! thread and a tokio current-thread runtime of their own.
//!
//! The test still runs inside a portal (so sync code may `await_`), with its runtime's
//! handle and a `LocalSet` entered, but that thread is its own: it may block, build,
//! `block_on` and drop runtimes (the portal is polled outside `block_on`, see
//! [`drive`]), and pause its clock, while the shared tests go on interleaving on the
//! runtime thread. The runner awaits the thread's [`Finished`] through a oneshot
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
use std::io::{self, Write};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use stackportal::Cleanup;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, LocalSet};

use crate::panics::CatchUnwind;
use crate::registry::TestDef;

/// Output of an isolated test that the harness can attribute exactly (its panic
/// messages and `tracing` events), collected while it runs.
pub(crate) type Buffer = Arc<Mutex<Vec<u8>>>;

struct Current {
    name: String,
    /// `None` with `--nocapture` (or when capture is unavailable): write live.
    buffer: Option<Buffer>,
}

thread_local! {
    /// Set on the thread of an isolated test.
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// The name of the isolated test this thread runs, if it is one.
pub(crate) fn current_name() -> Option<String> {
    CURRENT
        .try_with(|c| c.try_borrow().ok()?.as_ref().map(|c| c.name.clone()))
        .ok()
        .flatten()
}

/// On an isolated test's thread: its name and where its panic messages go.
pub(crate) fn current_target() -> Option<(String, Option<Buffer>)> {
    CURRENT
        .try_with(|c| {
            c.try_borrow()
                .ok()?
                .as_ref()
                .map(|c| (c.name.clone(), c.buffer.clone()))
        })
        .ok()
        .flatten()
}

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
    let current = Current {
        name: name.clone(),
        buffer: buffer.clone(),
    };
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            CURRENT.with(|c| *c.borrow_mut() = Some(current));
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
        .run_sync(move || crate::panics::__rust_begin_short_backtrace(def.run));
    let mut caught = CatchUnwind(portal);
    let mut cancel = Some(cancel);
    let finished = drive(
        &rt,
        &local,
        std::future::poll_fn(|cx| {
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
        }),
    );
    {
        // A cancelled portal unwinds here and hands its pending guard cleanups over.
        let _rt = rt.enter();
        let _local = local.enter();
        drop(caught);
    }
    loop {
        let list = std::mem::take(&mut *cleanups.borrow_mut());
        if list.is_empty() {
            break;
        }
        for handle in list {
            let _ = drive(&rt, &local, handle);
        }
    }
    // As `#[tokio::test]` does: the runtime shuts down (waiting for its blocking
    // tasks) before the test counts as finished.
    drop(local);
    drop(rt);
    finished
}

/// The waker of a future that [`drive`] runs: records the wake-up and wakes the
/// `block_on` that is driving the runtime meanwhile, if any.
#[derive(Default)]
struct DriveWaker {
    woken: AtomicBool,
    driver: Mutex<Option<Waker>>,
}

impl Wake for DriveWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        let driver = self.driver.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(driver) = driver {
            driver.wake();
        }
    }
}

/// Runs `fut` to completion on this thread, on `rt` and `local`, the way
/// `local.block_on(rt, fut)` would, with one difference: `fut` is polled with the
/// runtime's handle and the `LocalSet` entered (`Handle::current()`, `tokio::spawn`,
/// `spawn_local`, timers and I/O work) but *outside* `block_on`, so tokio does not
/// consider the thread to be running a runtime and the test may build, `block_on` and
/// drop runtimes of its own. While `fut` waits, `block_on` drives the runtime (its
/// tasks, timers, I/O; a paused clock auto-advances when nothing else is to be done,
/// as under `#[tokio::test(start_paused = true)]`) until `fut` is woken.
fn drive<F: Future>(rt: &Runtime, local: &LocalSet, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let state = Arc::new(DriveWaker::default());
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        state.woken.store(false, Ordering::SeqCst);
        let polled = {
            let _rt = rt.enter();
            let _local = local.enter();
            fut.as_mut().poll(&mut cx)
        };
        if let Poll::Ready(out) = polled {
            return out;
        }
        local.block_on(
            rt,
            std::future::poll_fn(|cx| {
                if state.woken.load(Ordering::SeqCst) {
                    return Poll::Ready(());
                }
                *state.driver.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
                // A wake-up between the check and the store found no driver to wake.
                if state.woken.load(Ordering::SeqCst) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }),
        );
    }
}

/// The writer of the harness's `tracing` subscriber: an isolated test's events go to
/// its buffer, everything else to stdout (that is, into the capture of the test being
/// polled).
pub(crate) enum TestWriter {
    Stdout(io::Stdout),
    Buffer(Buffer),
}

pub(crate) fn make_writer() -> TestWriter {
    match current_target() {
        Some((_, Some(buffer))) => TestWriter::Buffer(buffer),
        _ => TestWriter::Stdout(io::stdout()),
    }
}

impl Write for TestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            TestWriter::Stdout(out) => out.write(buf),
            TestWriter::Buffer(b) => {
                b.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            TestWriter::Stdout(out) => out.flush(),
            TestWriter::Buffer(_) => Ok(()),
        }
    }
}
