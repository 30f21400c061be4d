//! The unsafe core: the portal future, its stack switches, the per-thread record of
//! which portal is running, and `await_`.
//!
//! Everything `unsafe` in stackportal lives in this module and in the ones beside it:
//! `relay` (the portal's waker), `overflow` (the stack-overflow message) and `stacks`
//! (the stack pool and its limits). The model:
//!
//! * A [`Portal`] owns a corosensei coroutine whose stack runs the user's code. Every
//!   `poll` of the portal resumes the coroutine with a pointer to the poll's `Context`;
//!   the coroutine runs until it either finishes or calls [`await_`] on a future that
//!   is not ready, and then suspends.
//! * The portal's [`Frame`] lives in the root frame of the coroutine's own stack, so its
//!   address is stable for as long as any code on that stack runs, however the
//!   `Portal` (which is `Unpin`) is moved between polls. The `Portal` itself holds no
//!   pointer into it.
//! * While a portal's code runs, the thread-local `CURRENT` points at its frame. The
//!   code on the portal's stack maintains it: it sets it on every entry (the first
//!   resume and every return from a suspension) and restores the previous value
//!   before every exit (a suspension or the end). Nested portals form a chain through
//!   `parent`, and a suspended portal is never current.
//! * `await_` never hands the task's `Context` to the futures it polls: a `poll` frame
//!   on a portal stack can outlive its call's turn (sync code inside it suspends the
//!   stack, a later `Portal::poll` resumes it), so it would keep a `Context` that may be
//!   gone. It hands them a `Context` around the frame's [`Relay`], a waker that lives as
//!   long as the frame and forwards to the waker of the latest `Portal::poll`. Another
//!   portal's relay waker is never taken for a task identity (see `relay`).
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
//! | set / restore `CURRENT` at the root | `Entered` |
//! | leave / re-enter `CURRENT` around a suspension | `Away` |
//! | set / clear `LEAVING` while the root drops what it owns | `Leaving` |
//! | coroutine started / done | always started through `Resume` (also to be dropped), always finished at `run_root`, which catches every panic |
//! | stack mapped / counted / unmapped / uncounted | `stacks::PortalStack` (counted while it exists, whoever drops it) |
//! | relay target set / cleared; foreign readers counted | `relay` (swaps under its lock; a failed clone clears) |
//! | owner-thread / foreign reads of the relay counted | `Reading` / `Foreign` guards in `relay` |
//!
//! and every value of user code that the engine drops is dropped inside
//! `catch_unwind` (`drop_quietly`); a panic payload whose own `Drop` panics is dropped
//! with `drop_payload`, which leaks the second payload rather than risk a third. On
//! drop, cancel and teardown paths nothing is written with `eprintln!`, which panics
//! when stderr is closed or full: diagnostics go through `report`, a best-effort write.
//! Under `panic = "abort"`, a suspended portal that is dropped cannot be unwound: its
//! stack is leaked, with one line on stderr.

mod overflow;
mod relay;
pub(crate) mod stacks;

pub(crate) use overflow::page_size;
#[cfg(unix)]
pub use overflow::set_fatal_message_fd;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::ptr;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use corosensei::stack::Stack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use self::relay::Relay;
use self::stacks::PortalStack;

/// A cleanup future handed from an [`AsyncGuard`](crate::AsyncGuard) to the cleanup
/// spawner of a cancelled portal (see
/// [`Builder::cleanup_spawner`](crate::Builder::cleanup_spawner)).
///
/// ```
/// let spawner = |cleanup: stackportal::Cleanup| futures::executor::block_on(cleanup);
/// spawner(Box::pin(async {}));
/// ```
pub type Cleanup = Pin<Box<dyn Future<Output = ()>>>;

/// What a cancelled portal calls with the cleanups it could not await itself.
pub(crate) type Spawner = Rc<dyn Fn(Cleanup)>;

type Payload = Box<dyn Any + Send + 'static>;
type Outcome<T> = Result<T, Payload>;
type Co<T> = Coroutine<Resume, (), Finish<T>, PortalStack>;

/// What a portal's coroutine returns.
struct Finish<T> {
    outcome: Outcome<T>,
    /// The body had panicked (not with `Cancelled`) before the portal was cancelled:
    /// the panic was not caused by the teardown.
    panicked_before_cancel: bool,
}

/// What the portal tells its coroutine on each resume.
#[derive(Clone, Copy)]
enum Resume {
    /// Run on, for the `Portal::poll` in progress, whose `Context` this is.
    Poll(*mut Context<'static>),
    /// The portal is being dropped: unwind the stack and finish.
    Cancel,
}

/// The unwind payload that tears down the stack of a portal dropped before it finished.
///
/// When a suspended [`Portal`] is dropped (a timeout fired, a `select!` chose another
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

/// Per-portal state, in the root frame of the portal's own stack (see the module docs).
/// Code on that stack reaches it through `CURRENT`; nothing else holds a pointer to it.
pub(crate) struct Frame {
    /// The coroutine's yielder, at the root of the same stack.
    yielder: *const Yielder<Resume, ()>,
    /// The `Context` of the `Portal::poll` that resumed us last; null while tearing down.
    /// Valid while code on this stack runs (that poll is on the call stack below it).
    cx: Cell<*mut Context<'static>>,
    /// The waker that futures polled by `await_` see.
    relay: Relay,
    /// What `CURRENT` was when this portal was last entered (its enclosing portal).
    parent: Cell<*const Frame>,
    /// Lowest usable stack address (just above the guard page) and the stack's base.
    stack_lo: usize,
    stack_hi: usize,
    /// Set once the owner dropped the portal: nothing may suspend any more.
    tearing_down: Cell<bool>,
    /// Whether the thread was already panicking when the portal's code was last entered
    /// (a fresh portal run from a `Drop` during an unrelated unwind): a panic unwinding
    /// this portal's own stack is one that started after that (see `Frame::suspend`).
    entered_panicking: Cell<bool>,
    /// The builder's extras, owned by the root of the coroutine; null if none. Read only
    /// through `CURRENT` (never after the frame has left it).
    extras: *const Extras,
    /// The portal's name (`Builder::name`), for the stack-overflow message: pointer and
    /// length of a string that outlives the frame's time in `CURRENT` and `LEAVING`.
    name: (*const u8, usize),
    /// The `LEAVING` entry this frame displaced (see `LEAVING`).
    leaving_prev: Cell<*const Frame>,
    /// Guard cleanups dropped while the portal's code was unwinding from a panic; they
    /// run, in order, once the unwind has reached the portal's root.
    deferred: RefCell<Vec<Cleanup>>,
}

/// What a [`Builder`](crate::Builder) may add to a portal.
pub(crate) struct Extras {
    /// For diagnostics (the stack-overflow message); see `Builder::name`.
    pub(crate) name: Option<Box<str>>,
    pub(crate) spawner: Option<Spawner>,
}

thread_local! {
    /// The frame of the innermost portal running on this thread, or null.
    // A const-initialised `Cell` of a raw pointer needs no lazy initialisation or
    // destructor registration, so reading it is also sound from the stack-overflow
    // signal handler.
    static CURRENT: Cell<*const Frame> = const { Cell::new(ptr::null()) };

    /// The innermost portal whose root is taking its frame apart on this thread (after
    /// it left `CURRENT`: dropping its cleanup spawner and its relay's waker), chained
    /// through `leaving_prev`; read only by the stack-overflow handler, so that an
    /// overflow there is named too. Const-initialised like `CURRENT`.
    static LEAVING: Cell<*const Frame> = const { Cell::new(ptr::null()) };
}

/// Holds a portal's frame in `CURRENT` from its entry to its exit, however the code in
/// between ends (a panic from a payload's `Drop`, say): dropping it restores the
/// previous value. The first of the engine's paired steps (module docs).
struct Entered<'a>(&'a Frame);

impl<'a> Entered<'a> {
    #[inline(always)]
    fn enter(frame: &'a Frame) -> Self {
        frame.parent.set(CURRENT.with(|c| c.replace(frame)));
        frame.entered_panicking.set(std::thread::panicking());
        Entered(frame)
    }
}

impl Drop for Entered<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0.parent.get()));
    }
}

/// The reverse, around a suspension: the frame leaves `CURRENT` for the parent, and
/// dropping this re-enters it, whether the suspension returns or unwinds.
struct Away<'a>(&'a Frame);

impl<'a> Away<'a> {
    #[inline(always)]
    fn leave(frame: &'a Frame) -> Self {
        CURRENT.with(|c| c.set(frame.parent.get()));
        Away(frame)
    }
}

impl Drop for Away<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        let frame = self.0;
        frame.parent.set(CURRENT.with(|c| c.replace(frame)));
        frame.entered_panicking.set(std::thread::panicking());
    }
}

/// Holds a frame in `LEAVING` while its root drops what it owns.
struct Leaving<'a>(&'a Frame);

impl<'a> Leaving<'a> {
    fn enter(frame: &'a Frame) -> Self {
        frame.leaving_prev.set(LEAVING.with(|c| c.replace(frame)));
        Leaving(frame)
    }
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        LEAVING.with(|c| c.set(self.0.leaving_prev.get()));
    }
}

#[inline(always)]
fn current() -> *const Frame {
    CURRENT.with(Cell::get)
}

/// The stack pointer, read from the register: a local's address would do in most
/// builds, but AddressSanitizer moves locals to a "fake stack" on the heap.
#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copies the stack pointer register into a general register; touches no
    // memory, the stack or the flags.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    // SAFETY: as above.
    #[cfg(target_arch = "x86")]
    unsafe {
        std::arch::asm!("mov {}, esp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    // SAFETY: as above.
    #[cfg(any(
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "riscv32",
        target_arch = "loongarch64"
    ))]
    unsafe {
        std::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    // corosensei supports no other architecture; keep building (e.g. for docs).
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "riscv32",
        target_arch = "loongarch64"
    )))]
    {
        let marker = 0u8;
        sp = std::hint::black_box(&marker) as *const u8 as usize;
    }
    sp
}

/// Where the caller stands relative to the portal machinery.
pub(crate) enum Where {
    /// Not on the stack of any running portal.
    Outside,
    /// On the stack of a running portal: `await_` may suspend.
    Running,
    /// On the stack of a portal that is being torn down: nothing may suspend.
    TearingDown,
}

/// The frame of the portal whose stack the caller runs on, if any.
#[inline(always)]
fn running_frame<'a>() -> Option<&'a Frame> {
    let frame = current();
    if frame.is_null() {
        return None;
    }
    // SAFETY: `CURRENT` only ever holds null or the frame of a portal whose code is
    // running on this thread: that code set it on entry and restores the previous value
    // before it suspends or finishes, and the frame lives at the root of that code's
    // stack. It is only accessed through shared references and `Cell`s.
    let frame = unsafe { &*frame };
    // Off that portal's stack: a foreign coroutine, `Yielder::on_parent_stack`, ...
    let sp = stack_pointer();
    (sp >= frame.stack_lo && sp < frame.stack_hi).then_some(frame)
}

/// Whether a panic is unwinding the stack of the portal the caller runs in (not merely
/// some panic on the thread: a fresh portal run from a `Drop` during an unrelated unwind
/// is not unwinding).
pub(crate) fn unwinding_here() -> bool {
    running_frame().is_some_and(Frame::unwinding)
}

pub(crate) fn whereabouts() -> Where {
    match running_frame() {
        None => Where::Outside,
        Some(frame) if frame.tearing_down.get() => Where::TearingDown,
        Some(_) => Where::Running,
    }
}

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
    fn set_first_waker(&self) {
        // SAFETY: `cx` was set by the resume that is running us now, from the `Context`
        // of a `Portal::poll` that is on the call stack below this coroutine, so it is
        // alive; we only read its waker, which we clone.
        let waker = unsafe { (*self.cx.get()).waker() };
        self.relay.set_first(waker);
    }

    /// Whether a panic that started while this portal's code ran is unwinding it.
    #[inline(always)]
    fn unwinding(&self) -> bool {
        std::thread::panicking() && !self.entered_panicking.get()
    }

    /// Suspends the portal's stack until the next resume: the portal's `poll` returns
    /// `Pending`. Unwinds with `Cancelled` if the resume is the owner dropping it.
    #[inline(always)]
    fn suspend(&self) {
        if self.unwinding() {
            cannot_suspend_while_panicking();
        }
        if self.relay.in_waker_code() {
            cannot_suspend_in_waker_code();
        }
        let resume = {
            let _away = Away::leave(self);
            // SAFETY: the yielder lives at the root of the coroutine stack we run on.
            unsafe { &*self.yielder }.suspend(())
        };
        match resume {
            Resume::Poll(cx) => {
                self.cx.set(cx);
                // SAFETY: `cx` comes from the `Portal::poll` that resumed us, which is
                // on the call stack below us while we run.
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

/// Bodies larger than this are boxed: corosensei moves the coroutine's closure onto the
/// new stack and refuses closures over 1 KiB ("type is too big to transfer").
const INLINE_BODY_MAX: usize = 512;

/// Bodies aligned above this are boxed too: the coroutine's closure (body and extras
/// together) is padded to a multiple of the body's alignment, so a 4 KiB-aligned body
/// makes it at least 4 KiB, whatever the body's size (a zero-sized `[Page; 0]` too).
const INLINE_BODY_ALIGN_MAX: usize = 16;

/// A future that runs code on its own stack, where that code may [`await_`] futures.
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

/// The root of every portal's stack: sets up the frame, runs the body (or, for a portal
/// dropped before its first poll, drops it), awaits the cleanups deferred by a panic,
/// and takes the frame apart in an order in which nothing half-dropped is reachable.
///
/// Nothing escapes it by unwinding from user code: every `Drop` of the body, its
/// output, panic payloads, extras and the relay's wakers runs inside `catch_unwind`,
/// and `CURRENT` / `LEAVING` are held by guards (module docs).
#[inline(always)]
fn run_root<T, F: FnOnce() -> T>(
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
fn merge<T>(outcome: &mut Outcome<T>, payload: Payload) {
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

/// Runs at the root of a portal's stack once its body has returned or unwound: awaits
/// the guard cleanups that were deferred because they were dropped during a panic.
/// Panics of the cleanups, their drops, their payloads and the spawner are caught into
/// `outcome` (the first panic wins).
fn run_deferred<T>(frame: &Frame, outcome: &mut Outcome<T>) {
    loop {
        let next = {
            let mut deferred = frame.deferred.borrow_mut();
            // In the order they were dropped; there are rarely more than a few.
            (!deferred.is_empty()).then(|| deferred.remove(0))
        };
        let Some(cleanup) = next else {
            return;
        };
        let step = panic::catch_unwind(AssertUnwindSafe(move || {
            let mut cleanup = cleanup;
            if frame.tearing_down.get() {
                hand_off(cleanup);
                return;
            }
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| await_(cleanup.as_mut())))
            {
                if payload.is::<Cancelled>() {
                    // Cancelled while awaiting: the rest of this cleanup goes to the spawner.
                    hand_off(cleanup);
                } else {
                    drop(cleanup);
                }
                panic::resume_unwind(payload);
            }
        }));
        if let Err(payload) = step {
            merge(outcome, payload);
        }
    }
}

/// Queues `cleanup` on the running portal, to be awaited once the panic that is
/// unwinding its stack reaches the portal's root. Gives it back outside a portal.
pub(crate) fn defer(cleanup: Cleanup) -> Result<(), Cleanup> {
    match running_frame() {
        Some(frame) => {
            frame.deferred.borrow_mut().push(cleanup);
            Ok(())
        }
        None => Err(cleanup),
    }
}

/// Hands `cleanup` to the nearest cleanup spawner registered on the current portal or
/// the portals around it; reports on stderr when there is none, when the spawner
/// panics, or when it drops it before it finished (its executor shut down, say).
pub(crate) fn hand_off(cleanup: Cleanup) {
    let mut frame = current();
    while !frame.is_null() {
        // SAFETY: `CURRENT` and the `parent` chain hold frames of portals whose code is
        // running on this thread (each `parent` was read from `CURRENT` when its portal
        // was entered, and that portal's poll is below it on the call stack), so all
        // are alive.
        let f = unsafe { &*frame };
        // SAFETY: `extras` is null or points at the extras owned by the root of that
        // frame's coroutine, dropped only after the frame has left `CURRENT`.
        let extras = unsafe { f.extras.as_ref() };
        if let Some(spawner) = extras.and_then(|e| e.spawner.as_ref()) {
            let tracked = Box::pin(Tracked {
                cleanup: Some(cleanup),
            });
            // Often called from a guard's `Drop` during a cancellation's unwind, where
            // a panic would abort the process: a spawner's panic is reported instead
            // (the cleanup it was given is dropped with it, and reports itself).
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| spawner(tracked))) {
                report(format_args!(
                    "stackportal: a portal's cleanup spawner panicked: {}\n",
                    panic_message(&*payload)
                ));
                drop_payload(payload);
            }
            return;
        }
        frame = f.parent.get();
    }
    report_lost_cleanup("its portal was cancelled (dropped before it finished)");
    // Maybe in a `Drop` during an unwind: a panic of the cleanup's own drop would abort.
    if let Some(payload) = drop_quietly(cleanup) {
        drop_payload(payload);
    }
}

/// A handed-off cleanup that reports itself if it is dropped before it finished.
struct Tracked {
    cleanup: Option<Cleanup>,
}

impl Future for Tracked {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(cleanup) = self.cleanup.as_mut() else {
            return Poll::Ready(());
        };
        let done = cleanup.as_mut().poll(cx);
        if done.is_ready() {
            self.cleanup = None;
        }
        done
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.cleanup.is_some() {
            report_lost_cleanup_of_spawner();
        }
    }
}

pub(crate) fn report_lost_cleanup(why: &str) {
    report(format_args!(
        "stackportal: an AsyncGuard cleanup could not run: {why}, and no cleanup spawner is \
         registered. Register one with `stackportal::Builder::cleanup_spawner` (the portaltest \
         harness and `stackportal::spawn_local` do), or close the guard explicitly with \
         `AsyncGuard::close(guard).await`.\n"
    ));
}

#[cold]
fn report_lost_cleanup_of_spawner() {
    report(format_args!(
        "stackportal: an AsyncGuard cleanup was handed to a cleanup spawner, which dropped \
         it before it finished (e.g. the tokio LocalSet or runtime that `spawn_local` \
         spawned it on was shut down first). Keep the executor running until cancelled \
         portals' cleanups have finished, or close the guard explicitly with \
         `AsyncGuard::close(guard).await`.\n"
    ));
}

/// Whether `addr` lies in the guard page of a portal stack that is running on this
/// thread, or whose root is taking its frame apart (`LEAVING`); returns that stack's
/// usable size and the portal's name. Called from the SIGSEGV handler: it only reads
/// const thread-locals and the frames they point to, and allocates nothing.
fn overflowed_portal(addr: usize) -> Option<(usize, &'static str)> {
    let in_guard = |f: &Frame| addr >= f.stack_lo - overflow::page_size() && addr < f.stack_lo;
    let found = |f: &Frame| {
        let (ptr, len) = f.name;
        let name = if ptr.is_null() {
            ""
        } else {
            // SAFETY: `name` points at the portal's `Builder::name` string, which lives
            // until its frame has left both `CURRENT` and `LEAVING`; the handler aborts
            // the process before it could be freed, hence `'static`.
            unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len)) }
        };
        Some((f.stack_hi - f.stack_lo, name))
    };
    for (head, next) in [
        (
            current(),
            (|f: &Frame| f.parent.get()) as fn(&Frame) -> *const Frame,
        ),
        (LEAVING.with(Cell::get), |f: &Frame| f.leaving_prev.get()),
    ] {
        let mut frame = head;
        while !frame.is_null() {
            // SAFETY: the `CURRENT` chain holds only live frames of portals running on
            // this thread (see `hand_off`); the `LEAVING` chain only frames whose root
            // is running `take_apart` below us on this thread.
            let f = unsafe { &*frame };
            if in_guard(f) {
                return found(f);
            }
            frame = next(f);
        }
    }
    None
}
