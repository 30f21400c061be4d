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
//! * A `Portal` is `Unpin` and may be moved between polls, polled by different tasks,
//!   or through combinators that build a fresh `Context` for every poll
//!   (`now_or_never`, `select!` arms, custom wrappers). Code on a portal's stack never
//!   sees the `Context` of a poll that has returned: `await_` polls with the portal's own
//!   `Context`, whose waker lives as long as the portal and wakes the task of the latest
//!   poll (a `poll` frame on a portal stack can outlive the call that started it).
//! * Dropping a suspended portal unwinds its stack: every destructor runs exactly once
//!   (the unwind payload is [`Cancelled`]). Async cleanup that cannot run at that
//!   point goes to the portal's cleanup spawner ([`Builder::cleanup_spawner`]); a
//!   cleanup that the spawner drops unfinished (its executor shut down) is reported.
//! * Nothing suspends while the thread unwinds from a panic (see [`await_`]).
//! * Overflowing a portal's stack (default [`DEFAULT_STACK_SIZE`], overridden by the
//!   `STACKPORTAL_STACK_SIZE` environment variable or [`Builder::stack_size`]; at least
//!   [`MIN_STACK_SIZE`]) aborts the process with a message naming the portal stack and
//!   how to raise its size, on any thread: a thread without an alternate signal stack
//!   (one started by C code) is given one by its first portal.
//! * Bodies of any size work: futures and closures larger than corosensei's 1 KiB
//!   transfer limit are boxed.
//!
//! # Cancellation is an unwind
//!
//! Dropping an unfinished `async fn` drops its state machine; dropping an unfinished
//! portal cannot do that to a stack of ordinary frames, so it *unwinds* them with the
//! [`Cancelled`] payload (without calling the panic hook). Destructors run as they would
//! on a panic, which differs from a dropped `async fn` in ways to know about:
//!
//! * Destructors see [`std::thread::panicking()`] return `true`: a
//!   [`std::sync::MutexGuard`] held across an `await_` poisons its mutex when the portal
//!   is cancelled, and code that behaves differently while panicking does so.
//! * A destructor that panics during the cancellation aborts the process (a panic
//!   during an unwind), as it would during any panic.
//! * `catch_unwind` on the portal's stack catches `Cancelled`: re-raise it (see
//!   [`Cancelled`]).
//! * Foreign frames between the portal and `await_` (C callbacks calling back into Rust
//!   that awaits) must be `extern "C-unwind"`: unwinding through `extern "C"` aborts.
//!
//! # What stays with the thread
//!
//! A suspended portal's stack is off the thread, but thread-local state is not: other
//! tasks run on the thread while it waits. So thread-local *scopes* opened in sync code
//! must not be held across an `await_`:
//!
//! * tokio's `task_local!`: a value set by `KEY.scope(value, future)` around the portal
//!   (or around the task that polls it) is visible everywhere in the portal, across
//!   every `await_`, exactly as with `.await`. A value set by `KEY.sync_scope(value, f)`
//!   *inside* the portal is visible to other tasks while `f` is suspended in `await_`,
//!   and the task's own value is hidden from it; keep `await_` out of `sync_scope`.
//! * `Handle::enter()` guards, `tracing` span guards (`span.enter()`) and similar RAII
//!   guards of thread-local state: held across an `await_`, they stay in force for the
//!   other tasks that run meanwhile, and guards dropped out of order panic. Enter them
//!   around the portal instead (e.g. `tracing::Instrument` on the portal future).
//! * [`std::thread::current()`], thread ids and plain `thread_local!`s are the polling
//!   thread's, which is always the same one: a `Portal` is `!Send`.
//!
//! # The API
//!
//! ```toml
//! [dependencies]
//! stackportal = { version = "0.1", features = ["tokio"] } # `tokio` adds spawn_local
//! ```
//!
//! | API | what it does (greenback's name) |
//! |---|---|
//! | [`with_portal_run(fut)`](with_portal_run) | a [`Portal`] future that runs `fut` with a portal open, so sync code it calls may `await_` (`with_portal_run`) |
//! | [`with_portal_run_sync(f)`](with_portal_run_sync) | the same for a sync closure; cheaper (`with_portal_run_sync`) |
//! | `Builder::new().stack_size(n).cleanup_spawner(s).run(fut)` / `.run_sync(f)` | configure a portal ([`Builder`]): stack size (default 2 MiB reserved, committed lazily; `STACKPORTAL_STACK_SIZE` bytes overrides), and what runs async cleanups of a cancelled portal |
//! | [`await_(fut)`](await_) | sync; awaits anything `IntoFuture` through the innermost portal, exactly like `.await` in the task would (`await_`) |
//! | [`fut.await_()`](AwaitExt) | the same as a method, for chains that read left to right |
//! | [`has_portal()`](has_portal) | whether `await_` would work here; never panics (`has_portal`) |
//! | [`iter(stream)`](iter) | a `Stream` as a sync `Iterator` (`async_iter`) |
//! | [`#[autoawait]`](autoawait) | turns an `async fn` (free fn or method) into a sync fn with the same signature (`autoawait`) |
//! | [`guard(value, async \|v\| cleanup)`](guard) → [`AsyncGuard<T>`](AsyncGuard) | async cleanup for sync code: derefs to the value, awaits `cleanup(value)` on drop (`async_context`, and the missing async drop) |
//! | `spawn_local(fut)` (feature `tokio`) | spawns a task on the current `LocalSet` inside its own portal (`bestow_portal`) |
//! | [`Cancelled`] | the unwind payload that tears down a dropped portal's stack |
//!
//! Wakers, tokio timers and I/O, channels, `task_local!` scopes around the portal,
//! `Handle::current()` and tokio's cooperative budget all behave as with a native
//! `.await`. The `sanitizer` feature is only for AddressSanitizer builds (nightly
//! `-Zsanitizer=address`); without ASan the program does not link.
//!
//! # Why not `block_on`
//!
//! Inside an async runtime, sync code has no good way to wait for a future. Each of
//! these is checked by the crate's `tests/why.rs` against the tokio version it builds
//! with, for a sync `fn lookup() -> u32` called from inside a task:
//!
//! * `tokio::runtime::Handle::current().block_on(fetch())` panics: *"Cannot start a
//!   runtime from within a runtime. This happens because a function (like `block_on`)
//!   attempted to block the current thread while the thread is being used to drive
//!   asynchronous tasks."*
//! * `tokio::task::block_in_place(lookup)` on a current-thread runtime or in a
//!   `LocalSet` panics: *"can call blocking only when running on the multi-threaded
//!   runtime"*. On a multi-thread runtime it works, but it blocks a worker thread,
//!   freezes the other futures of the same task (a `select!`, a `join!`), and cannot be
//!   cancelled.
//! * `futures::executor::block_on(fetch())` (or `pollster`) on a current-thread runtime
//!   hangs forever as soon as `fetch` needs the runtime (a timer, a socket, a task on
//!   the same thread): the thread that would drive it is the one blocked.
//! * `spawn_blocking` + `Handle::block_on` works, at the price of a thread hop per call
//!   (~20 us) and of `Send + 'static` everything.
//!
//! `await_(fetch())` in the same spot suspends the sync stack instead of blocking the
//! thread: it works on a current-thread runtime, costs a few nanoseconds more than
//! `.await`, and the awaited future needs neither `Send` nor `'static`.
//!
//! # Panics, cancellation and guards in detail
//!
//! * **Nothing suspends while a panic unwinds**: a `Drop` impl that calls `await_`
//!   during a panic gets a ready future's output, and on a pending one the process
//!   aborts with a message naming [`guard`] (suspending mid-unwind would make every
//!   other task on the thread see `thread::panicking()`).
//! * An `await_` reached during a cancellation's unwind cannot suspend either: it polls
//!   its future once and returns the output if ready; otherwise it raises [`Cancelled`]
//!   again, or, inside a destructor (where it can neither wait nor panic), prints why
//!   and aborts.
//! * Use [`guard`] for async cleanup: a guard dropped normally awaits its cleanup in
//!   place; dropped by a panic, its cleanup runs after the unwind and before the portal
//!   completes; dropped by cancellation, its cleanup goes to the portal's cleanup
//!   spawner (`spawn_local` and portaltest register one). Without a spawner, or if the
//!   spawner drops it unfinished (its `LocalSet` shut down), the loss is reported on
//!   stderr.
//! * Under `panic = "abort"` a dropped suspended portal cannot unwind: its stack is
//!   leaked instead, with a line on stderr.
//! * Why `!Send`: a suspended stack may hold thread-local addresses the compiler cached
//!   before the switch (llvm/llvm-project#98479).
//!
//! # How many portals, and their memory
//!
//! * **Stacks are pooled** per thread (at most 256 kept), so a portal costs tens of
//!   nanoseconds, and a million portals in a row keep RSS flat. What the pool keeps
//!   resident is bounded: beyond 16 MiB of idle stacks per thread, idle stacks are
//!   trimmed to their top 32 KiB (256 finished portals that each touched 600 KiB leave
//!   19 MiB, not 155 MiB).
//! * **How many at once.** Each portal stack is two memory mappings, and Linux allows a
//!   process `vm.max_map_count` of them (65,530 by default). stackportal keeps a quarter
//!   (at least 16,384) for the rest of the process and refuses a portal past
//!   `(vm.max_map_count - headroom) / 2` stacks (24,573 by default) with a panic that
//!   says so, instead of starving the process (`thread::spawn` failing with EAGAIN).
//!   Raise it with `sysctl -w vm.max_map_count=262144`; `STACKPORTAL_MAX_STACKS=N`
//!   overrides the computed limit. Smaller stacks do not help: the limit counts
//!   mappings.
//! * **Stack overflow** messages need stackportal's SIGSEGV handler;
//!   `STACKPORTAL_NO_SIGNAL_HANDLER=1` keeps stackportal out of signal handling. The
//!   minimum stack size, 64 KiB, is enough to print a panic's backtrace.
//!
//! # How the engine is checked
//!
//! All `unsafe` code lives under the crate's `src/engine/`, each block with the argument
//! for its soundness. `tests/soundness.rs` drives the engine the way a hostile but safe
//! caller may: a combinator that hands every poll a fresh heap `Context` and `Waker`
//! (and poisons them after the poll), `now_or_never` then `.await`, a portal moved to a
//! new place between polls with a decoy left where it was, nested portals five deep, a
//! cleanup spawner that owns a guard, 64 KiB futures and closures, wakes from another
//! thread; each of these is a way an engine of this kind can hang, crash or call a
//! spawner while it is being dropped. `tests/scenarios.rs` generates random programs of
//! nested portals, combinators, moves, drops at every state and panics in every user
//! hook (seeded; `STACKPORTAL_FUZZ_SEED` replays one), with an oracle of no crash, no
//! hang, every guard cleanup once, no stack left mapped.
//!
//! What CI checks (`.ci/memcheck` in the repository):
//!
//! * valgrind (memcheck), always: every test binary of the engine (unit and integration
//!   tests, release build with debuginfo), and the child processes the tests start
//!   (`--trace-children=yes`), except the two that measure the process itself
//!   (resident size of deep stacks; tens of thousands of mappings, more than valgrind
//!   supports); 200 scenario seeds run in-process.
//! * AddressSanitizer, where a nightly toolchain is installed (`cargo +nightly test -p
//!   stackportal --features sanitizer` with `-Zsanitizer=address`): the same tests. On a
//!   machine without nightly the step prints `AddressSanitizer: SKIPPED, no nightly
//!   toolchain is installed` and CI runs valgrind only.
//!
//! Under a checker the heavy tests divide their counts by `STACKPORTAL_TEST_SCALE` and
//! the RSS bounds are not asserted (the checker's shadow memory counts in RSS). CI's
//! performance gate counts the engine's instructions per step under callgrind and fails
//! on a regression of more than 3% (`benches/results/perf_gate.md` in the repository).
//!
//! # Cost
//!
//! Stacks are pooled per thread, so opening and finishing a portal costs tens of
//! nanoseconds, and an `await_` of a pending future adds a stack switch (a few
//! nanoseconds) to the poll. `cargo bench -p benches --bench engine` prints the table;
//! the repository's `benches/results/` has the last one, next to greenback's figures.

#![warn(missing_docs)]
// `unsafe` is confined to the engine's files that allow it (see `engine`).
#![deny(unsafe_code)]

mod builder;
mod engine;
mod ext;
mod guard;
mod iter;
#[cfg(feature = "tokio")]
mod spawn;

pub use builder::{
    with_portal_run, with_portal_run_sync, Builder, DEFAULT_STACK_SIZE, MAX_STACK_SIZE,
    MIN_STACK_SIZE, STACK_SIZE_ENV,
};
#[cfg(unix)]
pub use engine::set_fatal_message_fd;
pub use engine::{await_, has_portal, Cancelled, Cleanup, Portal};
pub use ext::AwaitExt;
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
        crate::engine::stacks::pooled()
    }

    /// How many portal stacks this process has mapped right now, in live portals and
    /// in every thread's pool (tests).
    pub fn mapped_stacks() -> usize {
        crate::engine::stacks::mapped()
    }
}
