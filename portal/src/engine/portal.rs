//! The [`Portal`] future: its creation (a coroutine on a pooled stack), its `poll`
//! (a resume of the coroutine with the poll's `Context`), and its drop, which cancels
//! an unfinished portal by resuming it one last time so that its stack unwinds.
//!
//! No `unsafe` here: the coroutine's side of these resumes is in root.rs.

use std::fmt;
use std::future::Future;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};

use corosensei::stack::Stack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::frame::Extras;
use super::overflow;
use super::panics::{drop_payload, drop_quietly, panic_message, report, Cancelled, Payload};
use super::root::{run_root, Finish, Resume};
use super::stacks::{self, PortalStack};

pub(super) type Co<T> = Coroutine<Resume, (), Finish<T>, PortalStack>;

/// Bodies larger than this are boxed: corosensei moves the coroutine's closure onto the
/// new stack and refuses closures over 1 KiB ("type is too big to transfer").
const INLINE_BODY_MAX: usize = 512;

/// Bodies aligned above this are boxed too: the coroutine's closure (body and extras
/// together) is padded to a multiple of the body's alignment, so a 4 KiB-aligned body
/// makes it at least 4 KiB, whatever the body's size (a zero-sized `[Page; 0]` too).
const INLINE_BODY_ALIGN_MAX: usize = 16;

/// A future that runs code on its own stack, where that code may [`await_`](crate::await_) futures.
///
/// Created by [`with_portal_run`](crate::with_portal_run),
/// [`with_portal_run_sync`](crate::with_portal_run_sync) or a
/// [`Builder`](crate::Builder). Awaiting (polling) it runs the code; it completes with
/// the code's result. A panic in the code comes out of `poll` with its original
/// payload.
///
/// `Portal` is `Unpin` and deliberately **not `Send`**: its suspended stack may hold
/// references to thread-locals whose addresses the compiler cached before a suspension
/// (llvm/llvm-project#98479), so resuming it on another thread is unsound. Run it on a
/// tokio current-thread runtime, a `LocalSet`, or a local executor
/// (`futures::executor::LocalPool`, `async_executor::LocalExecutor`).
///
/// ```compile_fail,E0277
/// // A multi-thread spawn needs `Send`: rejected at compile time
/// // ("`*mut ()` cannot be sent between threads safely").
/// # async fn demo() {
/// tokio::spawn(stackportal::with_portal_run(async {}));
/// # }
/// ```
///
/// Dropping a portal that has not finished unwinds its stack: every destructor on it
/// runs exactly once (see [`Cancelled`]). A portal dropped before its first poll drops
/// its body (and everything the body captured) once; a panic of those drops comes out
/// of the drop, unless the thread is already unwinding (then it is reported on stderr).
/// The same holds for the output of a cancelled portal whose code swallowed
/// [`Cancelled`] and returned a value.
///
/// # `panic = "abort"`
///
/// A suspended stack cannot be unwound when panics abort. Dropping a *suspended* portal
/// (a timeout, a `select!` that chose another branch) then leaks its stack: it stays
/// mapped and counted, the destructors of the values on it never run (guards'
/// cleanups included), and one line on stderr says so. Dropping a portal that never
/// ran, or that finished, is as usual.
#[must_use = "a portal does nothing unless it is awaited"]
pub struct Portal<T> {
    co: Option<Co<T>>,
    /// Usable bytes of the coroutine's stack.
    stack_size: usize,
    /// `Builder::name`, for the line that says a suspended portal was leaked (only
    /// under `panic = "abort"`, where that happens).
    #[cfg(panic = "abort")]
    name: Option<Box<str>>,
}

impl<T> fmt::Debug for Portal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.co {
            None => "finished",
            Some(co) if co.done() => "finished",
            Some(co) if co.started() => "suspended",
            Some(_) => "not started",
        };
        f.debug_struct("Portal")
            .field("state", &state)
            .field("stack_size", &self.stack_size())
            .finish()
    }
}

impl<T: 'static> Portal<T> {
    #[inline]
    pub(crate) fn new<F>(body: F, stack_size: usize, extras: Option<Box<Extras>>) -> Self
    where
        F: FnOnce() -> T + 'static,
    {
        if mem::size_of::<F>() > INLINE_BODY_MAX || mem::align_of::<F>() > INLINE_BODY_ALIGN_MAX {
            let body = Box::new(body);
            Self::with_body(body, stack_size, extras)
        } else {
            Self::with_body(body, stack_size, extras)
        }
    }

    #[inline]
    fn with_body<F>(body: F, stack_size: usize, extras: Option<Box<Extras>>) -> Self
    where
        F: FnOnce() -> T + 'static,
    {
        overflow::install();
        #[cfg(panic = "abort")]
        let name = extras.as_ref().and_then(|e| e.name.clone());
        let stack = stacks::take(stack_size);
        debug_assert_eq!(stack.size(), stack_size);
        let stack_hi = stack.base().get();
        let co = Coroutine::with_stack(stack, move |yielder: &Yielder<Resume, ()>, first| {
            run_root(
                yielder,
                first,
                stack_hi - stack_size..stack_hi,
                extras,
                body,
            )
        });
        Portal {
            co: Some(co),
            stack_size,
            #[cfg(panic = "abort")]
            name,
        }
    }
}

impl<T> Portal<T> {
    /// The usable size in bytes of this portal's stack.
    ///
    /// ```
    /// let portal = stackportal::Builder::new().stack_size(256 * 1024).run_sync(|| ());
    /// assert_eq!(portal.stack_size(), 256 * 1024);
    /// ```
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Gives a finished coroutine's stack back to the pool. (Every other way a
    /// coroutine is dropped unmaps its stack and uncounts it: see `PortalStack`.)
    fn recycle(co: Co<T>) {
        stacks::give(co.into_stack());
    }
}

impl<T> Future for Portal<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let Some(co) = this.co.as_mut().filter(|co| !co.done()) else {
            panic!("`stackportal::Portal` polled after it completed");
        };
        // Lifetime erased: the coroutine only uses the pointer while this call is on
        // the stack (see `Frame::cx`).
        let cx = ptr::from_mut(cx).cast::<Context<'static>>();
        match co.resume(Resume::Poll(cx)) {
            CoroutineResult::Yield(()) => Poll::Pending,
            CoroutineResult::Return(finish) => {
                if let Some(co) = this.co.take() {
                    Self::recycle(co);
                }
                match finish.outcome {
                    Ok(out) => Poll::Ready(out),
                    Err(payload) => panic::resume_unwind(payload),
                }
            }
        }
    }
}

impl<T> Drop for Portal<T> {
    #[inline]
    fn drop(&mut self) {
        if self.co.is_some() {
            self.drop_unfinished();
        }
    }
}

impl<T> Portal<T> {
    #[cold]
    fn drop_unfinished(&mut self) {
        let Some(mut co) = self.co.take() else {
            return;
        };
        if co.done() {
            // Finished by a panic out of its root, which `poll` passed on.
            Self::recycle(co);
            return;
        }
        let unstarted = !co.started();
        if cfg!(panic = "abort") && !unstarted {
            // Unwinding the suspended stack would abort the process: abandon it.
            mem::forget(co);
            #[cfg(panic = "abort")]
            leaked_under_panic_abort(self.name.as_deref(), self.stack_size);
            return;
        }
        // Started: `await_` unwinds with `Cancelled`. Not started: the root drops the
        // body. Either way the coroutine finishes at its root, which catches every
        // panic; one that still escapes it (a bug) comes out of `resume` with the
        // coroutine marked done, and its stack is unmapped when `co` is dropped.
        match panic::catch_unwind(AssertUnwindSafe(|| co.resume(Resume::Cancel))) {
            Ok(CoroutineResult::Return(finish)) => {
                Self::recycle(co);
                finish_cancelled(finish, unstarted);
            }
            Ok(CoroutineResult::Yield(())) => {
                // `await_` never suspends once `tearing_down` is set and the yielder is
                // private, so this cannot happen. Leaking is the only sound option left:
                // dropping `co` would start corosensei's forced unwind.
                mem::forget(co);
                report(format_args!(
                    "stackportal: bug: a cancelled portal suspended again; its stack leaks\n"
                ));
            }
            Err(payload) => {
                if co.done() {
                    drop(co);
                } else {
                    mem::forget(co);
                }
                report(format_args!(
                    "stackportal: bug: a panic escaped a cancelled portal's root: {}\n",
                    panic_message(&*payload)
                ));
                drop_payload(payload);
            }
        }
    }
}

/// What a portal dropped before it finished leaves behind: its output or its panic.
/// A panic from dropping the body of a portal that never ran, or its output, propagates
/// as the `Drop` of any value would, unless the thread is already unwinding (then it
/// is reported instead: a second panic would abort).
#[cold]
fn finish_cancelled<T>(finish: Finish<T>, unstarted: bool) {
    let propagate = |payload: Payload| {
        if std::thread::panicking() {
            report(format_args!(
                "stackportal: a destructor panicked while a portal was dropped during a \
                 panic: {}\n",
                panic_message(&*payload)
            ));
            drop_payload(payload);
        } else {
            panic::resume_unwind(payload);
        }
    };
    match finish.outcome {
        Ok(out) => {
            if let Some(payload) = drop_quietly(out) {
                propagate(payload);
            }
        }
        Err(payload) if payload.is::<Cancelled>() => drop_payload(payload),
        Err(payload) if unstarted => propagate(payload),
        Err(payload) => {
            if finish.panicked_before_cancel {
                report(format_args!(
                    "stackportal: a portal's code panicked, and the portal was dropped \
                     (cancelled) while it awaited the guard cleanups of that panic; the \
                     panic is dropped: {}\n",
                    panic_message(&*payload)
                ));
            } else {
                report(format_args!(
                    "stackportal: a cancelled portal's code panicked while its stack was \
                     being unwound: {}\n",
                    panic_message(&*payload)
                ));
            }
            drop_payload(payload);
        }
    }
}

/// Under `panic = "abort"`, a suspended portal that is dropped cannot be unwound.
#[cfg(panic = "abort")]
#[cold]
fn leaked_under_panic_abort(name: Option<&str>, stack_size: usize) {
    let name = name.map(|n| format!(" `{n}`")).unwrap_or_default();
    report(format_args!(
        "stackportal: the suspended portal{name} was dropped before it finished; with \
         panic = \"abort\" its stack cannot be unwound, so it is leaked ({stack_size} \
         bytes; the destructors of the values on it do not run)\n"
    ));
}
