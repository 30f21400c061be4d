//! `await_` and `has_portal`: awaiting a future from the sync code on a portal's stack,
//! and the suspension of that stack while the future is pending (`Frame::suspend`),
//! with the panics and aborts of the calls that cannot suspend.
//!
//! Its `unsafe`: reading the `Context` of the `Portal::poll` that resumed the stack,
//! and the coroutine's yielder, both through the running portal's frame.

use std::future::{Future, IntoFuture};
use std::panic;
use std::pin::{pin, Pin};
use std::ptr;
use std::task::{Context, Poll, Waker};

use super::frame::{current, running_frame, whereabouts, Away, Frame, Where};
use super::overflow;
use super::panics::Cancelled;
use super::root::Resume;

/// Whether [`await_`](crate::await_) can be called here: the caller runs on the stack
/// of a portal that can suspend.
///
/// Never panics. Returns `false` outside any portal, outside async context altogether,
/// and on the stack of a portal that is being torn down because its owner dropped it.
///
/// ```
/// use stackportal::{has_portal, with_portal_run_sync};
///
/// assert!(!has_portal());
/// let inside = futures::executor::block_on(with_portal_run_sync(has_portal));
/// assert!(inside);
/// assert!(!has_portal());
/// ```
pub fn has_portal() -> bool {
    matches!(whereabouts(), Where::Running)
}

#[cold]
#[inline(never)]
#[track_caller]
fn no_portal() -> ! {
    panic!(
        "stackportal::await_ called outside a portal: there is no portal on this stack to \
         suspend.\nRun the calling code inside one: `stackportal::with_portal_run(async {{ .. }})` \
         or `stackportal::with_portal_run_sync(|| ..)` (awaited from your async task), \
         `stackportal::spawn_local`, or a test under the portaltest harness. \
         Check with `stackportal::has_portal()` first if the caller may run either way."
    )
}

/// Awaits `future` from synchronous code, through the portal the caller runs in.
///
/// The future is polled as `.await` in the task that polls the portal would poll it:
/// wakers, tokio timers and I/O, channels, `task_local!` values and the cooperative
/// budget all work. While the future is pending, the portal's stack is suspended and
/// the executor runs other tasks. (Its `Context` is the portal's own, whose waker wakes
/// the task of the latest poll: a `poll` on a portal stack can outlive the `Context` of
/// the poll that started it, so the task's own is never handed out.)
///
/// The future need not be `'static` or `Send`: it is pinned on the caller's stack,
/// which stays alive while suspended.
///
/// # Panics
///
/// * Outside a portal (see [`has_portal`]): panics with a message that says how to open
///   one. The future is dropped, not leaked.
/// * A panic of the future propagates to the caller unchanged.
/// * When the portal's owner drops it while this call is suspended, the call unwinds
///   with a [`Cancelled`] payload (no message is printed), so that destructors run.
///
/// # While a portal is being torn down
///
/// Destructors that run during that unwind may call `await_`, but nothing can suspend
/// any more: the future is polled once (with a no-op waker) and its output returned if
/// it is ready. If it is pending, `await_` unwinds with [`Cancelled`] again; if the
/// thread is already unwinding (a destructor during the teardown), it cannot do that
/// either, so it prints what happened and aborts the process. Do async cleanup through
/// [`guard`](crate::guard) instead: guards hand their cleanup to the portal's cleanup
/// spawner when the portal is cancelled.
///
/// # While a panic unwinds
///
/// A `Drop` impl that runs while a panic unwinds the portal's stack may call `await_`,
/// but it never suspends there (a portal opened afresh inside a `Drop` that runs
/// during an unrelated panic, elsewhere, is not affected: it suspends as usual): the thread's panic count would stay raised while other
/// tasks run on the thread, so they would see `std::thread::panicking()` and poison the
/// mutexes they release. The future is polled once; if it is ready its output is
/// returned, and if it is pending, `await_` can neither wait nor panic (a panic during
/// an unwind aborts anyway), so it prints what happened and how to fix it and aborts the
/// process. [`guard`](crate::guard) is the way to do async cleanup that must also run
/// on a panic: its cleanup is deferred until the unwind has reached the portal's root,
/// and awaited there.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fn slow_double(x: u32) -> u32 {
///     // Plain sync code, but the timer runs on the async runtime.
///     stackportal::await_(tokio::time::sleep(Duration::from_millis(1)));
///     x * 2
/// }
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// let out = rt.block_on(stackportal::with_portal_run_sync(|| slow_double(21)));
/// assert_eq!(out, 42);
/// ```
#[track_caller]
// Always inlined in optimised builds (see below); in debug builds, where inlining only
// grows every caller's stack frame, an ordinary hint.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub fn await_<F: IntoFuture>(future: F) -> F::Output {
    // Inlined into every caller: each call level between the user's code and the stack
    // switch costs a mispredicted return after every switch, so the hot path is kept
    // small and flat, and everything else lives in cold functions.
    let Some(frame) = running_frame() else {
        misuse(future);
    };
    if frame.tearing_down.get() {
        return poll_once_while_tearing_down(frame, pin!(future.into_future()));
    }
    if !frame.relay.is_set() {
        frame.set_first_waker();
    }
    let mut future = pin!(future.into_future());
    // The frame, its relay and this waker live as long as any poll frame above us,
    // also across suspensions.
    let waker = frame.relay.waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        frame.suspend();
    }
}

impl Frame {
    /// Gives the relay its first target: the waker of the poll in progress. Once per
    /// portal that awaits, so kept inline (a call here costs more than the clone).
    #[inline(always)]
    pub(super) fn set_first_waker(&self) {
        // SAFETY: `cx` was set by the resume that is running us now (`run_root` in
        // root.rs on the first, `suspend` below on every later one), from the `Context`
        // of a `Portal::poll` (portal.rs) that is on the call stack below this
        // coroutine, so it is alive; we only read its waker, which we clone.
        let waker = unsafe { (*self.cx.get()).waker() };
        self.relay.set_first(waker);
    }

    /// Suspends the portal's stack until the next resume: the portal's `poll` returns
    /// `Pending`. Unwinds with `Cancelled` if the resume is the owner dropping it.
    #[inline(always)]
    pub(super) fn suspend(&self) {
        if self.unwinding() {
            cannot_suspend_while_panicking();
        }
        if self.relay.in_waker_code() {
            cannot_suspend_in_waker_code();
        }
        let resume = {
            let _away = Away::leave(self);
            // SAFETY: the yielder lives at the root of the coroutine stack we run on
            // (root.rs: `run_root` puts its own coroutine's yielder in the frame).
            unsafe { &*self.yielder }.suspend(())
        };
        match resume {
            Resume::Poll(cx) => {
                self.cx.set(cx);
                // SAFETY: `cx` comes from the `Portal::poll` that resumed us (portal.rs
                // passes its own `Context` in `Resume::Poll`), which is on the call stack
                // below us while we run.
                self.relay.update(unsafe { (*cx).waker() });
            }
            Resume::Cancel => {
                self.cx.set(ptr::null_mut());
                self.tearing_down.set(true);
                cancelled();
            }
        }
    }
}

/// `await_` outside a portal, or on a stack that is not the running portal's: drops
/// the future and panics with what to do.
#[cold]
#[inline(never)]
#[track_caller]
fn misuse<F>(future: F) -> ! {
    drop(future);
    if current().is_null() {
        no_portal();
    }
    panic!(
        "stackportal::await_ called on a stack that does not belong to the running \
         portal (inside a foreign coroutine or `Yielder::on_parent_stack`?). Call it \
         from the code the portal runs."
    );
}

/// The owner dropped the portal while `await_` was suspended: unwind its stack.
#[cold]
#[inline(never)]
fn cancelled() -> ! {
    panic::resume_unwind(Box::new(Cancelled))
}

#[cold]
#[inline(never)]
fn cannot_suspend_while_panicking() -> ! {
    overflow::write_fatal(&[
        b"stackportal: fatal: await_ was called on a pending future while the thread was \
          unwinding from a panic (in a destructor, e.g. a Drop impl that awaits an async \
          close).\nSuspending mid-unwind would make every other task on this thread see \
          `std::thread::panicking()`, and a panic here would abort anyway, so the call can \
          neither wait nor panic. Do async cleanup with `stackportal::guard(value, cleanup)`: \
          on a panic, guard cleanups are awaited once the unwind has reached the portal's \
          root. Aborting.\n",
    ]);
    std::process::abort();
}

#[cold]
#[inline(never)]
#[track_caller]
fn cannot_suspend_in_waker_code() -> ! {
    panic!(
        "stackportal::await_ would suspend inside a Waker's `wake` or `clone` (waker code \
         called sync code that awaits). Wakers must not block or suspend: hand the work \
         to a task instead."
    )
}

#[cold]
fn poll_once_while_tearing_down<F: Future>(frame: &Frame, mut future: Pin<&mut F>) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
        return out;
    }
    // Per portal, as for suspending: a portal cancelled while an unrelated panic
    // unwinds another stack (its parent's, which drops it) may raise `Cancelled` again
    // after its code caught the first one. (If a destructor of its own `Cancelled`
    // unwind gets here then, the runtime aborts instead of us: the same end, without
    // this message.)
    if !frame.unwinding() {
        panic::resume_unwind(Box::new(Cancelled));
    }
    overflow::write_fatal(&[
        b"stackportal: fatal: a destructor called await_ on a pending future while its \
          portal was being torn down (its owner dropped it before it finished).\nNothing \
          can suspend at that point, and the thread is already unwinding, so the call can \
          neither wait nor panic. Do async cleanup with `stackportal::guard(value, cleanup)`: \
          a cancelled portal hands guard cleanups to its cleanup spawner. Aborting.\n",
    ]);
    std::process::abort();
}
