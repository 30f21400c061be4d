//! Panics of user code, as the engine meets them: the [`Cancelled`] payload that
//! unwinds a cancelled portal's stack, drops that catch the panics of user values
//! (`drop_quietly`, `drop_payload`), the first-panic-wins `merge` of an outcome, and
//! best-effort reports on stderr for the panics that cannot propagate.
//!
//! No `unsafe` here.

use std::any::Any;
use std::fmt;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

pub(super) type Payload = Box<dyn Any + Send + 'static>;
pub(super) type Outcome<T> = Result<T, Payload>;

/// The unwind payload that tears down the stack of a portal dropped before it finished.
///
/// When a suspended [`Portal`](crate::Portal) is dropped (a timeout fired, a `select!` chose another
/// branch, the task was aborted), the [`await_`](crate::await_) it is suspended in
/// unwinds with this payload. Destructors on the portal's stack run exactly once, as
/// they would for a dropped `async fn`. The panic hook is not called, so nothing is
/// printed.
///
/// Code that uses [`std::panic::catch_unwind`] inside a portal should re-raise this
/// payload with [`std::panic::resume_unwind`] instead of treating it as a test failure
/// or retrying. If it swallows it, the portal still finishes: further `await_`s on
/// pending futures raise `Cancelled` again and never suspend.
///
/// ```
/// use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
/// use stackportal::Cancelled;
///
/// fn run_step(step: impl FnOnce()) -> Result<(), String> {
///     match catch_unwind(AssertUnwindSafe(step)) {
///         Ok(()) => Ok(()),
///         Err(payload) if payload.is::<Cancelled>() => resume_unwind(payload),
///         Err(_) => Err("step panicked".into()),
///     }
/// }
/// assert!(run_step(|| ()).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the portal was dropped before it finished")
    }
}

/// Drops `value`; returns the panic of its `Drop`, if any.
#[inline]
pub(crate) fn drop_quietly<V>(value: V) -> Option<Payload> {
    panic::catch_unwind(AssertUnwindSafe(move || drop(value))).err()
}

/// Drops a panic payload whose own `Drop` may panic; the payload of that second panic
/// is leaked rather than risk a third.
pub(crate) fn drop_payload(payload: Payload) {
    if let Some(again) = drop_quietly(payload) {
        mem::forget(again);
    }
}

/// Records `payload` in `outcome` unless it already holds a panic (then `payload` is
/// dropped): the first panic wins, as it did on the portal's stack.
pub(super) fn merge<T>(outcome: &mut Outcome<T>, payload: Payload) {
    if outcome.is_err() {
        drop_payload(payload);
        return;
    }
    if let Ok(value) = mem::replace(outcome, Err(payload)) {
        if let Some(again) = drop_quietly(value) {
            drop_payload(again);
        }
    }
}

/// Writes a diagnostic to stderr, best effort: a closed or full stderr is ignored (on
/// drop, cancel and teardown paths `eprintln!` would panic, and abort an unwind).
#[cold]
pub(crate) fn report(args: fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// The text of a panic payload, for reports.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else if payload.is::<Cancelled>() {
        "cancelled"
    } else {
        "Box<dyn Any>"
    }
}
