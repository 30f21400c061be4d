//! The root of a portal's stack, the coroutine's side of the portal: what the portal
//! tells its coroutine on a resume ([`Resume`]) and what the coroutine returns
//! ([`Finish`]); `run_root`, which owns the portal's frame and runs the body inside it;
//! and the order in which the root takes the frame apart.
//!
//! No `unsafe` here: the frame that `run_root` owns is a local, and other files' unsafe
//! code relies on it living at the root of the stack (see frame.rs).

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::task::Context;

use corosensei::Yielder;

use super::cleanup::run_deferred;
use super::frame::{Entered, Extras, Frame, Leaving};
use super::panics::{drop_quietly, merge, Cancelled, Outcome, Payload};
use super::relay::Relay;

/// What a portal's coroutine returns.
pub(super) struct Finish<T> {
    pub(super) outcome: Outcome<T>,
    /// The body had panicked (not with `Cancelled`) before the portal was cancelled:
    /// the panic was not caused by the teardown.
    pub(super) panicked_before_cancel: bool,
}

/// What the portal tells its coroutine on each resume.
#[derive(Clone, Copy)]
pub(super) enum Resume {
    /// Run on, for the `Portal::poll` in progress, whose `Context` this is.
    Poll(*mut Context<'static>),
    /// The portal is being dropped: unwind the stack and finish.
    Cancel,
}

/// The root of every portal's stack: sets up the frame, runs the body (or, for a portal
/// dropped before its first poll, drops it), awaits the cleanups deferred by a panic,
/// and takes the frame apart in an order in which nothing half-dropped is reachable.
///
/// Nothing escapes it by unwinding from user code: every `Drop` of the body, its
/// output, panic payloads, extras and the relay's wakers runs inside `catch_unwind`,
/// and `CURRENT` / `LEAVING` are held by guards (`engine` docs).
#[inline(always)]
pub(super) fn run_root<T, F: FnOnce() -> T>(
    yielder: &Yielder<Resume, ()>,
    first: Resume,
    stack: std::ops::Range<usize>,
    extras: Option<Box<Extras>>,
    body: F,
) -> Finish<T> {
    let (cx, dropped_unstarted) = match first {
        Resume::Poll(cx) => (cx, false),
        // Dropped before its first poll: the body is dropped here, on its own stack,
        // inside the portal (its guards see a portal being torn down). Starting the
        // coroutine for that, rather than letting corosensei drop the closure, keeps
        // its started/done state right whatever the drop does (a panic included).
        Resume::Cancel => (ptr::null_mut(), true),
    };
    let name = extras
        .as_deref()
        .and_then(|e| e.name.as_deref())
        .map_or((ptr::null(), 0), |n| (n.as_ptr(), n.len()));
    let frame = Frame {
        yielder,
        cx: Cell::new(cx),
        relay: Relay::new(),
        parent: Cell::new(ptr::null()),
        stack_lo: stack.start,
        stack_hi: stack.end,
        tearing_down: Cell::new(dropped_unstarted),
        entered_panicking: Cell::new(false),
        extras: extras.as_deref().map_or(ptr::null(), ptr::from_ref),
        name,
        leaving_prev: Cell::new(ptr::null()),
        deferred: RefCell::new(Vec::new()),
    };
    let mut finish = {
        let _entered = Entered::enter(&frame);
        let mut finish = if dropped_unstarted {
            let outcome = match panic::catch_unwind(AssertUnwindSafe(move || drop(body))) {
                Ok(()) => Err(Box::new(Cancelled) as Payload),
                Err(payload) => Err(payload),
            };
            Finish {
                outcome,
                panicked_before_cancel: false,
            }
        } else {
            let outcome = panic::catch_unwind(AssertUnwindSafe(body));
            let panicked_before_cancel = !frame.tearing_down.get()
                && outcome
                    .as_ref()
                    .is_err_and(|payload| !payload.is::<Cancelled>());
            Finish {
                outcome,
                panicked_before_cancel,
            }
        };
        if !frame.deferred.borrow().is_empty() {
            run_deferred(&frame, &mut finish.outcome);
        }
        finish
        // `_entered` restores `CURRENT` here: leave the portal before anything it owns
        // is dropped: a destructor that runs now (a guard captured by the cleanup
        // spawner, say) must not find this frame or its half-dropped spawner.
    };
    take_apart(&frame, extras, &mut finish.outcome);
    finish
}

/// The last steps at a portal's root, after its frame left `CURRENT`: drops the extras
/// (its cleanup spawner) and the relay's wakers, catching their panics into `outcome`,
/// with the frame in `LEAVING` so that an overflow in those drops is named.
#[inline(always)]
fn take_apart<T>(frame: &Frame, extras: Option<Box<Extras>>, outcome: &mut Outcome<T>) {
    // The common case of a portal without extras that never awaited: nothing to drop.
    if extras.is_some() || frame.relay.holds_wakers() {
        take_apart_slow(frame, extras, outcome);
    }
}

#[inline(never)]
fn take_apart_slow<T>(frame: &Frame, extras: Option<Box<Extras>>, outcome: &mut Outcome<T>) {
    // Declared before `_leaving`, so dropped after it: the overflow handler reads it.
    let mut _name = None;
    let _leaving = Leaving::enter(frame);
    if let Some(extras) = extras {
        let Extras { name, spawner } = *extras;
        _name = name;
        if let Some(payload) = drop_quietly(spawner) {
            merge(outcome, payload);
        }
    }
    if let Some(payload) = drop_quietly(frame.relay.take_all()) {
        merge(outcome, payload);
    }
}
