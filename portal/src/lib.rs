//! `await_` async code from plain sync code inside an async task.
//!
//! In async Rust, sync code cannot wait for a future while it runs inside an executor:
//! `Handle::block_on` panics ("Cannot start a runtime from within a runtime"),
//! `block_in_place` needs a multi-thread runtime and freezes its task, and
//! `futures::executor::block_on` hangs when the future needs the runtime that the
//! blocked thread is supposed to drive. stackportal brings Python's
//! [greenback](https://greenback.readthedocs.io) to Rust.
//!
//! # The model
//!
//! A **portal** is a future that runs your code on a separate, suspendable stack (a
//! stackful coroutine, via [corosensei](https://docs.rs/corosensei)). Sync code running
//! in a portal may call [`await_`]: it polls the future with the context of the task
//! that polls the portal, and when the future is pending, it *suspends the whole stack*
//! of sync frames and makes the portal return `Pending`. The executor runs other tasks;
//! when the future's waker fires, the task polls the portal again, the stack resumes
//! where it left off, and `await_` polls again. To the executor, the portal is one
//! ordinary future; to the sync code, `await_` is a function call that returns a value.
//!
//! ```text
//!  executor ──poll──▶ Portal ──resume──▶ [portal stack] sync_fn() ──▶ await_(fut)
//!           ◀─Pending─        ◀─suspend─                               fut.poll(cx) = Pending
//! ```
//!
//! Open a portal with [`with_portal_run`] (around a future) or [`with_portal_run_sync`]
//! (around a sync closure), configure one with a [`Builder`], or, with the `tokio`
//! feature, spawn a whole task inside one with `spawn_local`. Around `await_`:
//! [`iter`] consumes a `Stream` as an `Iterator`, [`guard`] gives sync code async
//! cleanup, and [`autoawait`] turns an `async fn` into a sync one.
//!
//! ```
//! use std::time::Duration;
//! use stackportal::{await_, with_portal_run_sync};
//!
//! // A sync API, e.g. a callback of a sync library...
//! fn fetch_config(key: &str) -> String {
//!     // ...that needs async I/O: it waits without blocking the thread.
//!     await_(tokio::time::sleep(Duration::from_millis(5)));
//!     format!("value of {key}")
//! }
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let value = rt.block_on(async {
//!     let ticker = tokio::spawn(async { /* keeps running while the portal waits */ });
//!     let value = with_portal_run_sync(|| fetch_config("port")).await;
//!     ticker.await.unwrap();
//!     value
//! });
//! assert_eq!(value, "value of port");
//! ```
//!
//! # Where portals run
//!
//! A [`Portal`] is `!Send`: a suspended stack may hold thread-local addresses that the
//! compiler cached before the switch, so it must be resumed on the thread that started
//! it. Run portals where futures stay on one thread: `block_on` of a tokio
//! current-thread runtime, tasks of a
//! [`tokio::task::LocalSet`](https://docs.rs/tokio/latest/tokio/task/struct.LocalSet.html)
//! (`spawn_local`), `futures::executor::LocalPool`, or `async_executor::LocalExecutor`.
//! `tokio::spawn` of a portal does not compile, by design.
//!
//! # Semantics
//!
//! * Outside a portal, `await_` panics with a message that says how to open one.
//! * Panics in a portal come out of the portal's `poll` with their original payload.
//! * Portals nest, and `await_` works inside futures that are themselves being awaited
//!   by `await_`, to any depth.
//! * Dropping a suspended portal unwinds its stack: every destructor runs exactly once
//!   (the unwind payload is [`Cancelled`]). Async cleanup that cannot run at that
//!   point goes to the portal's cleanup spawner ([`Builder::cleanup_spawner`]).
//! * Overflowing a portal's stack (default [`DEFAULT_STACK_SIZE`], overridden by the
//!   `STACKPORTAL_STACK_SIZE` environment variable or [`Builder::stack_size`]) aborts
//!   the process with a message naming the portal stack and how to raise its size.
//!
//! # Cost
//!
//! Stacks are pooled per thread, so opening and finishing a portal costs tens of
//! nanoseconds, and an `await_` of a pending future adds a stack switch (a few
//! nanoseconds) to the poll. `cargo bench -p benches --bench engine` prints the table.

#![warn(missing_docs)]

mod builder;
mod engine;
mod guard;
mod iter;
#[cfg(feature = "tokio")]
mod spawn;
mod stacks;

pub use builder::{
    with_portal_run, with_portal_run_sync, Builder, DEFAULT_STACK_SIZE, MIN_STACK_SIZE,
    STACK_SIZE_ENV,
};
#[cfg(unix)]
pub use engine::set_fatal_message_fd;
pub use engine::{await_, has_portal, Cancelled, Cleanup, Portal};
pub use guard::{guard, AsyncGuard};
pub use iter::{iter, Iter};
#[cfg(feature = "tokio")]
pub use spawn::spawn_local;

/// Turns an `async fn` (free function or method) into a sync fn with the same name,
/// arguments and output, whose body is awaited through the caller's portal
/// (greenback's `autoawait`). Callers must run inside a portal.
///
/// ```
/// use std::time::Duration;
///
/// #[stackportal::autoawait]
/// async fn wait_and_add(a: u64, b: u64) -> u64 {
///     tokio::time::sleep(Duration::from_millis(1)).await;
///     a + b
/// }
///
/// struct Counter(u64);
/// impl Counter {
///     #[stackportal::autoawait]
///     async fn bump(&mut self) -> u64 {
///         tokio::task::yield_now().await;
///         self.0 += 1;
///         self.0
///     }
/// }
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// let out = rt.block_on(stackportal::with_portal_run_sync(|| {
///     let mut c = Counter(0);
///     c.bump();
///     wait_and_add(c.bump(), 40) // plain sync calls
/// }));
/// assert_eq!(out, 42);
/// ```
///
/// On a function that is not `async`, it is a compile error that says so:
///
/// ```compile_fail
/// #[stackportal::autoawait]
/// fn already_sync() -> u32 { 1 }
/// ```
///
/// When stackportal is re-exported under another name, say where:
/// `#[autoawait(crate = "my_crate::stackportal")]`.
pub use stackportal_macros::autoawait;

#[doc(hidden)]
pub mod __private {
    /// How many stacks this thread's pool holds (tests and benchmarks).
    pub fn pooled_stacks() -> usize {
        crate::stacks::pooled()
    }
}
