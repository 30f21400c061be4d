//! The unsafe core: the portal future, its stack switches, the per-thread record of
//! which portal is running, and `await_`.
//!
//! Everything `unsafe` in stackportal lives in this module's files, and only the ones
//! marked so below allow it (the crate root denies `unsafe_code`):
//!
//! | file | what lives in it | `unsafe` |
//! |---|---|---|
//! | `portal.rs` | the [`Portal`] future: creation, `poll`, drop (cancellation) | no |
//! | `root.rs` | the root of a portal's stack: owns its frame, runs the body | no |
//! | `frame.rs` | the [`Frame`](frame::Frame), `CURRENT` / `LEAVING`, their guards | yes |
//! | `stack_pointer.rs` | the stack pointer register, per architecture (`asm!`) | yes |
//! | `await_.rs` | [`await_`](fn@await_), [`has_portal`], suspending a portal's stack | yes |
//! | `cleanup.rs` | guard cleanups: deferred on a panic, handed off on a cancel | yes |
//! | `panics.rs` | [`Cancelled`], drops that catch panics, reports on stderr | no |
//! | `relay.rs` | the portal's own waker, shared with other threads | yes |
//! | `overflow.rs` | the stack-overflow signal handler, alternate signal stacks (unix) | yes |
//! | `stacks/` | the per-thread stack pool, its process-wide limit, trimming (Linux) | yes |
//!
//! The model:
//!
//! * A [`Portal`] owns a corosensei coroutine whose stack runs the user's code. Every
//!   `poll` of the portal resumes the coroutine with a pointer to the poll's `Context`;
//!   the coroutine runs until it either finishes or calls [`await_`](fn@await_) on a
//!   future that is not ready, and then suspends.
//! * The portal's [`Frame`](frame::Frame) lives in the root frame of the coroutine's
//!   own stack, so its address is stable for as long as any code on that stack runs,
//!   however the `Portal` (which is `Unpin`) is moved between polls. The `Portal`
//!   itself holds no pointer into it.
//! * While a portal's code runs, the thread-local `CURRENT` points at its frame. The
//!   code on the portal's stack maintains it: it sets it on every entry (the first
//!   resume and every return from a suspension) and restores the previous value
//!   before every exit (a suspension or the end). Nested portals form a chain through
//!   `parent`, and a suspended portal is never current.
//! * `await_` never hands the task's `Context` to the futures it polls: a `poll` frame
//!   on a portal stack can outlive its call's turn (sync code inside it suspends the
//!   stack, a later `Portal::poll` resumes it), so it would keep a `Context` that may be
//!   gone. It hands them a `Context` around the frame's [`Relay`](relay::Relay), a
//!   waker that lives as long as the frame and forwards to the waker of the latest
//!   `Portal::poll`. Another portal's relay waker is never taken for a task identity
//!   (see `relay`).
//! * Dropping a portal that has not finished resumes its coroutine one last time with
//!   `Resume::Cancel`. If it is suspended, the pending `await_` then unwinds with a
//!   [`Cancelled`] payload, running every destructor on the portal's stack exactly once;
//!   if it never ran, its root drops the body on its own stack. Either way the
//!   coroutine finishes at its root. corosensei's own forced unwind (and its drop of a
//!   never-started closure) is never used: ours always finishes before it is dropped.
//! * Suspending is refused only while a panic unwinds *this* portal's stack (one that
//!   started after the portal's code was last entered): a fresh portal run from a `Drop`
//!   during an unrelated unwind may suspend.
//!
//! # Panic safety: paired steps are owned, not sequenced
//!
//! User code can panic almost anywhere the engine runs: the body, the `Drop` of its
//! captures, of its output, of a panic payload (payloads are values too), guard
//! cleanups and their drops, the cleanup spawner and its drop, and wakers' `clone`,
//! `wake` and `drop`. So every pair of engine steps that must stay paired is held by an
//! RAII guard or owned by a type, never by two statements in a row:
//!
//! | paired steps | held by |
//! |---|---|
//! | set / restore `CURRENT` at the root | `Entered` (frame.rs) |
//! | leave / re-enter `CURRENT` around a suspension | `Away` (frame.rs) |
//! | set / clear `LEAVING` while the root drops what it owns | `Leaving` (frame.rs) |
//! | coroutine started / done | always started through `Resume` (also to be dropped), always finished at `run_root` (root.rs), which catches every panic |
//! | stack mapped / counted / unmapped / uncounted | `stacks::PortalStack` (counted while it exists, whoever drops it) |
//! | relay target set / cleared; foreign readers counted | `relay` (swaps under its lock; a failed clone clears) |
//! | owner-thread / foreign reads of the relay counted | `Reading` / `Foreign` guards in `relay` |
//!
//! and every value of user code that the engine drops is dropped inside
//! `catch_unwind` (`drop_quietly`, panics.rs); a panic payload whose own `Drop` panics is dropped
//! with `drop_payload`, which leaks the second payload rather than risk a third. On
//! drop, cancel and teardown paths nothing is written with `eprintln!`, which panics
//! when stderr is closed or full: diagnostics go through `report`, a best-effort write.
//! Under `panic = "abort"`, a suspended portal that is dropped cannot be unwound: its
//! stack is leaked, with one line on stderr.

// `unsafe` blocks in the files below argue their soundness in `// SAFETY:` comments;
// where an argument rests on an invariant kept by another file, it names that file.
// `#[allow(unsafe_code)]` marks each file that holds any.
#[allow(unsafe_code)] // awaits: reads the resuming poll's `Context` and the yielder
mod await_;
#[allow(unsafe_code)] // walks the chain of running portals' frames for a spawner
mod cleanup;
#[allow(unsafe_code)] // reads the frame that `CURRENT` points at
mod frame;
#[allow(unsafe_code)] // SIGSEGV/SIGBUS handler, sigaltstack and mmap, raw `write`s
mod overflow;
mod panics;
mod portal;
#[allow(unsafe_code)] // the relay waker's vtable and its target shared across threads
mod relay;
mod root;
#[allow(unsafe_code)] // reads the stack pointer register with `asm!`
mod stack_pointer;
// Allows `unsafe` inside, on the `Stack` impl of its stacks and on `trim`.
pub(crate) mod stacks;

pub use self::await_::{await_, has_portal};
pub use self::cleanup::Cleanup;
pub(crate) use self::cleanup::{defer, hand_off, report_lost_cleanup, Spawner};
pub(crate) use self::frame::{unwinding_here, whereabouts, Extras, Where};
pub(crate) use self::overflow::page_size;
#[cfg(unix)]
pub use self::overflow::set_fatal_message_fd;
pub use self::panics::Cancelled;
pub(crate) use self::panics::{drop_payload, drop_quietly, panic_message, report};
pub use self::portal::Portal;
