//! [`AsyncGuard`]: async cleanup for sync code, the answer to async context managers
//! and to the missing async drop.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::{self, AssertUnwindSafe};
use std::task::{Context, Poll, Waker};

use crate::engine::{self, await_, Cancelled, Cleanup, Where};

type MakeCleanup<T> = Box<dyn FnOnce(T) -> Cleanup>;

/// A value whose async cleanup runs when the guard is dropped.
///
/// Made by [`guard`]. Derefs to the value. When the guard is dropped:
///
/// * in a running portal, `cleanup(value)` is awaited in place, through the portal
///   (a panic of the cleanup propagates from the drop, unless the thread is already
///   unwinding: then it is reported on stderr). If the portal is cancelled meanwhile,
///   the rest of the cleanup goes to the cleanup spawner and the drop returns; the
///   portal's next `await_` raises [`Cancelled`](crate::Cancelled) again;
/// * while a panic unwinds the portal's stack, the cleanup is queued and awaited as
///   soon as the unwind reaches the portal's root, before the [`Portal`](crate::Portal)
///   completes (with the original panic);
/// * while a cancelled portal is torn down (its owner dropped it), the cleanup is
///   handed to the portal's cleanup spawner (see
///   [`Builder::cleanup_spawner`](crate::Builder::cleanup_spawner)); only without one
///   (or when the spawner panics) is it reported on stderr. The same holds for a guard
///   captured by the body of a portal that is dropped before it ever ran: the body is
///   dropped inside that portal, which is being torn down;
/// * outside any portal, the cleanup is polled once and reported on stderr if it did
///   not finish: close guards in async code with [`AsyncGuard::close`].
///
/// [`AsyncGuard::into_inner`] disarms the guard and gives the value back.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let closed = Rc::new(Cell::new(false));
/// let flag = closed.clone();
/// let portal = stackportal::with_portal_run_sync(move || {
///     let conn = stackportal::guard(String::from("connection"), move |conn| async move {
///         // e.g. `conn.close().await`
///         assert_eq!(conn, "connection");
///         flag.set(true);
///     });
///     assert_eq!(conn.len(), 10); // derefs to the value
/// }); // cleanup awaited here
/// futures::executor::block_on(portal);
/// assert!(closed.get());
/// ```
#[must_use = "the cleanup runs when the guard is dropped; an unused guard drops at once"]
pub struct AsyncGuard<T: 'static> {
    armed: Option<(T, MakeCleanup<T>)>,
}

/// Wraps `value` so that `cleanup(value)` is awaited when the guard is dropped.
///
/// `cleanup` is an async closure (`async |v| ..`) or a closure returning a future.
/// See [`AsyncGuard`] for when and where the cleanup runs.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # rt.block_on(stackportal::with_portal_run_sync(|| {
/// let dir = stackportal::guard(std::env::temp_dir().join("stackportal-doc"), async |dir| {
///     let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
/// });
/// std::fs::create_dir_all(&*dir).unwrap();
/// # }));
/// ```
pub fn guard<T, C, Fut>(value: T, cleanup: C) -> AsyncGuard<T>
where
    T: 'static,
    C: FnOnce(T) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    AsyncGuard {
        armed: Some((value, Box::new(move |v| Box::pin(cleanup(v))))),
    }
}

impl<T: 'static> AsyncGuard<T> {
    /// Disarms the guard and returns the value; the cleanup never runs.
    ///
    /// ```
    /// let g = stackportal::guard(5, |_| async { unreachable!() });
    /// assert_eq!(stackportal::AsyncGuard::into_inner(g), 5);
    /// ```
    pub fn into_inner(mut guard: Self) -> T {
        let (value, _) = guard
            .armed
            .take()
            .expect("AsyncGuard holds its value until dropped");
        value
    }

    /// Disarms the guard and returns its cleanup as a future, for async code (or for
    /// sync code that wants the cleanup's panic as a value): awaiting it runs
    /// `cleanup(value)`.
    ///
    /// ```
    /// let g = stackportal::guard(vec![1, 2], |v| async move { assert_eq!(v.len(), 2) });
    /// futures::executor::block_on(stackportal::AsyncGuard::close(g));
    /// ```
    pub fn close(mut guard: Self) -> impl Future<Output = ()> {
        let (value, cleanup) = guard
            .armed
            .take()
            .expect("AsyncGuard holds its value until dropped");
        cleanup(value)
    }
}

impl<T: 'static> Deref for AsyncGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self
            .armed
            .as_ref()
            .expect("AsyncGuard holds its value until dropped")
            .0
    }
}

impl<T: 'static> DerefMut for AsyncGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self
            .armed
            .as_mut()
            .expect("AsyncGuard holds its value until dropped")
            .0
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for AsyncGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncGuard").field(&**self).finish()
    }
}

impl<T: 'static> Drop for AsyncGuard<T> {
    fn drop(&mut self) {
        let Some((value, make)) = self.armed.take() else {
            return;
        };
        let mut cleanup = make(value);
        match engine::whereabouts() {
            Where::Running if engine::unwinding_here() => {
                // A panic unwinds this portal's stack. Suspending mid-unwind would let
                // other tasks see this thread as panicking (poisoning their mutexes);
                // run it after the unwind.
                if let Err(cleanup) = engine::defer(cleanup) {
                    engine::hand_off(cleanup);
                }
            }
            Where::Running => {
                if let Err(payload) =
                    panic::catch_unwind(AssertUnwindSafe(|| await_(cleanup.as_mut())))
                {
                    if payload.is::<Cancelled>() {
                        // Cancelled mid-cleanup: the rest of it runs on the spawner. The
                        // `Cancelled` is not raised again from this `Drop` (a `Drop` that
                        // unwinds aborts the process when it runs during an unwind, as
                        // the next guard in a `Vec` would): the portal's next `await_`
                        // raises it again, and nothing suspends any more.
                        engine::hand_off(cleanup);
                        engine::drop_payload(payload);
                        return;
                    }
                    drop(cleanup);
                    if std::thread::panicking() {
                        // Dropped during some other unwind: a panic here would abort.
                        engine::report(format_args!(
                            "stackportal: an AsyncGuard cleanup panicked while the thread \
                             was unwinding: {}\n",
                            engine::panic_message(&*payload)
                        ));
                        engine::drop_payload(payload);
                        return;
                    }
                    panic::resume_unwind(payload);
                }
            }
            Where::TearingDown => engine::hand_off(cleanup),
            Where::Outside => {
                let mut cx = Context::from_waker(Waker::noop());
                if cleanup.as_mut().poll(&mut cx) == Poll::Pending {
                    engine::report_lost_cleanup("the guard was dropped outside any portal");
                }
            }
        }
    }
}
