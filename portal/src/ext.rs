//! `.await_()`: [`await_`](crate::await_) as a method, for chains.

use std::future::IntoFuture;

/// [`await_`](crate::await_) as a method of every future, so that a chain reads left to
/// right: `Pool::builder().build(manager).await_()` instead of
/// `await_(Pool::builder().build(manager))`. Same rules: inside a portal only.
///
/// ```
/// use stackportal::{with_portal_run_sync, AwaitExt};
///
/// async fn double(x: u32) -> u32 {
///     x * 2
/// }
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let out = rt.block_on(with_portal_run_sync(|| double(20).await_() + 2));
/// assert_eq!(out, 42);
/// ```
pub trait AwaitExt: IntoFuture + Sized {
    /// Awaits `self` from sync code running in a portal; see [`await_`](crate::await_).
    #[inline(always)]
    #[track_caller]
    fn await_(self) -> Self::Output {
        crate::await_(self)
    }
}

impl<F: IntoFuture> AwaitExt for F {}
