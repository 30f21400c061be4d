//! The unsafe core: the portal future, its stack switches, the per-thread record of
//! which portal is running, and `await_`.
//!
//! Everything `unsafe` in stackportal lives in this module and in `overflow` beside
//! it. The model:
//!
//! * A [`Portal`] owns a corosensei coroutine whose stack runs the user's code. Every
//!   `poll` of the portal resumes the coroutine; the coroutine runs until it either
//!   finishes or calls [`await_`] on a future that is not ready.
//! * While a portal's coroutine runs, the thread-local `CURRENT` points at the
//!   portal's [`Frame`], which holds the `Context` of the poll in progress and the
//!   coroutine's `Yielder`. `await_` polls its future with that context and, on
//!   `Pending`, suspends the coroutine: the portal's `poll` returns `Pending` and the
//!   executor runs other tasks. The next `poll` of the portal hands a fresh context in.
//! * `CURRENT` is set by `poll` (and `drop`) before each resume and restored after, so
//!   nested portals form a chain and a suspended portal is never "current".
//! * Dropping a suspended portal resumes its coroutine one last time with
//!   `Resume::Cancel`; the pending `await_` then unwinds with a [`Cancelled`] payload,
//!   running every destructor on the portal's stack exactly once, and the coroutine
//!   finishes at its root. corosensei's own forced unwind is never used: our coroutine
//!   always finishes before it is dropped.

mod overflow;

pub(crate) use overflow::page_size;
#[cfg(unix)]
pub use overflow::set_fatal_message_fd;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::ptr;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use corosensei::stack::{DefaultStack, Stack};
use corosensei::{Coroutine, CoroutineResult, Yielder};

use crate::stacks;

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
type Co<T> = Coroutine<Resume, (), Outcome<T>, DefaultStack>;

/// What the portal tells its coroutine on each resume.
#[derive(Clone, Copy)]
enum Resume {
    /// Run on: the portal's frame (where it is now; it may move between polls), whose
    /// `cx` holds the context of the poll in progress.
    Poll(*const Frame),
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

/// Per-portal state that code running on the portal's stack reaches through `CURRENT`.
///
/// It lives inside the [`Portal`], which may move between polls (it is `Unpin`), so
/// nothing keeps a reference to it across a suspension: `CURRENT` is refreshed on every
/// resume and read again after every suspend. It is kept small because every portal
/// future is moved around by the code that awaits it.
pub(crate) struct Frame {
    /// The coroutine's yielder; set by the coroutine on its first resume.
    yielder: Cell<*const Yielder<Resume, ()>>,
    /// The `Context` of the poll in progress; null outside a poll.
    cx: Cell<*mut Context<'static>>,
    /// The portal that was current when this one was last entered (its enclosing one).
    parent: Cell<*const Frame>,
    /// State at the root of the coroutine's stack; set on the first resume.
    root: Cell<*const Root>,
    /// Lowest usable stack address (just above the guard page) and the stack's base.
    stack_lo: usize,
    stack_hi: usize,
    /// Set once the owner dropped the portal: nothing may suspend any more.
    tearing_down: Cell<bool>,
}

/// What a [`Builder`](crate::Builder) may add to a portal.
pub(crate) struct Extras {
    /// For diagnostics (the stack-overflow message); see `Builder::name`.
    pub(crate) name: Option<Box<str>>,
    pub(crate) spawner: Option<Spawner>,
}

/// State that lives in the root frame of the portal's own stack while its code runs.
struct Root {
    /// Rarely set, so kept behind one pointer: creating and dropping `None` is free.
    extras: Option<Box<Extras>>,
    /// Guard cleanups dropped while the portal's code was unwinding from a panic; they
    /// run, in order, once the unwind has reached the portal's root.
    deferred: RefCell<Vec<Cleanup>>,
}

thread_local! {
    /// The frame of the innermost portal running on this thread, or null.
    // A const-initialised `Cell` of a raw pointer needs no lazy initialisation or
    // destructor registration, so reading it is also sound from the stack-overflow
    // signal handler.
    static CURRENT: Cell<*const Frame> = const { Cell::new(ptr::null()) };
}

fn current() -> *const Frame {
    CURRENT.try_with(Cell::get).unwrap_or(ptr::null())
}

/// Address of a local: a cheap reading of where the stack pointer is.
#[inline(always)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
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

pub(crate) fn whereabouts() -> Where {
    let frame = current();
    // Off a portal's stack: none running, or a foreign coroutine, `on_parent_stack`, ...
    if frame.is_null() || !runs_on(frame) {
        return Where::Outside;
    }
    // SAFETY: `CURRENT` only ever holds null or the frame of a portal whose `poll` or
    // `drop` is on this thread's call stack below us (`enter` restores the previous
    // value before that call returns, also on unwind), so the frame is alive and is
    // only accessed through shared references and `Cell`s.
    let frame = unsafe { &*frame };
    if frame.tearing_down.get() {
        Where::TearingDown
    } else {
        Where::Running
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
/// The future is polled with the `Context` of the task that polls the portal, exactly
/// as `.await` in that task would poll it: wakers, tokio timers and I/O, channels,
/// `task_local!` values and the cooperative budget all work. While the future is
/// pending, the portal's stack is suspended and the executor runs other tasks.
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
    let mut frame = current();
    if frame.is_null() || !runs_on(frame) {
        misuse(frame, future);
    }
    let mut future = pin!(future.into_future());
    loop {
        // SAFETY: `frame` is `CURRENT`, read at the start or passed by the resume that
        // woke us, and we are on its stack: it is alive for the duration of this poll.
        let f = unsafe { &*frame };
        if f.tearing_down.get() {
            return poll_once_while_tearing_down(future);
        }
        // SAFETY: `cx` was stored by the `Portal::poll` that resumed us; that poll is
        // on the call stack below this coroutine (we are running, not suspended), so
        // the `Context` it borrowed is alive, and nothing else uses it until we
        // suspend or return. Erasing its lifetime is sound because the reference does
        // not outlive this loop iteration.
        let cx = unsafe { &mut *f.cx.get() };
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return out;
        }
        // SAFETY: the yielder was stored by this frame's coroutine on its first resume
        // and lives at the root of the coroutine stack we are running on.
        let yielder = unsafe { &*f.yielder.get() };
        // The portal may have moved between polls: each resume says where it is now.
        frame = match yielder.suspend(()) {
            Resume::Poll(frame) => frame,
            Resume::Cancel => cancelled(),
        };
    }
}

/// Whether the caller runs on the stack of the portal whose frame is `frame`.
#[inline(always)]
fn runs_on(frame: *const Frame) -> bool {
    let sp = stack_pointer();
    // SAFETY: see `whereabouts`: a non-null `CURRENT` is a live frame.
    let f = unsafe { &*frame };
    sp >= f.stack_lo && sp < f.stack_hi
}

/// `await_` outside a portal, or on a stack that is not the running portal's: drops
/// the future and panics with what to do.
#[cold]
#[inline(never)]
#[track_caller]
fn misuse<F>(frame: *const Frame, future: F) -> ! {
    drop(future);
    if frame.is_null() {
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
fn poll_once_while_tearing_down<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
        return out;
    }
    if !std::thread::panicking() {
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
/// runs exactly once (see [`Cancelled`]).
#[must_use = "a portal does nothing unless it is awaited"]
pub struct Portal<T> {
    co: Option<Co<T>>,
    frame: Frame,
}

impl<T> fmt::Debug for Portal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.co {
            None => "finished",
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
    pub(crate) fn new<F>(body: F, stack_size: usize, extras: Option<Box<Extras>>) -> Self
    where
        F: FnOnce() -> T + 'static,
    {
        overflow::install();
        let stack = stacks::take(stack_size);
        let stack_hi = stack.base().get();
        let co = Coroutine::with_stack(
            stack,
            move |yielder: &Yielder<Resume, ()>, first: Resume| {
                let root = Root {
                    extras,
                    deferred: RefCell::new(Vec::new()),
                };
                // The first resume is always a poll: a portal dropped before its first poll
                // is never resumed.
                let Resume::Poll(frame) = first else {
                    unreachable!("a portal's first resume is a poll");
                };
                // SAFETY: `Portal::poll` passes its own frame, alive for the whole poll.
                let frame = unsafe { &*frame };
                frame.yielder.set(yielder);
                frame.root.set(&root);
                let outcome = panic::catch_unwind(AssertUnwindSafe(body));
                if root.deferred.borrow().is_empty() {
                    outcome
                } else {
                    run_deferred(&root, outcome)
                }
                // `root` is dropped here, when nothing on this stack can reach it any more.
            },
        );
        Portal {
            co: Some(co),
            frame: Frame {
                yielder: Cell::new(ptr::null()),
                cx: Cell::new(ptr::null_mut()),
                parent: Cell::new(ptr::null()),
                root: Cell::new(ptr::null()),
                stack_lo: stack_hi - stack_size,
                stack_hi,
                tearing_down: Cell::new(false),
            },
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
        self.frame.stack_hi - self.frame.stack_lo
    }

    fn recycle(&mut self, co: Co<T>) {
        stacks::give(self.stack_size(), co.into_stack());
    }
}

/// Makes `frame` current for the duration of `f` and restores the previous one after,
/// also when `f` unwinds.
#[inline(always)]
fn enter<R>(frame: &Frame, f: impl FnOnce() -> R) -> R {
    struct Restore(*const Frame);
    impl Drop for Restore {
        #[inline(always)]
        fn drop(&mut self) {
            let _ = CURRENT.try_with(|c| c.set(self.0));
        }
    }
    let prev = CURRENT.with(|c| c.replace(frame));
    frame.parent.set(prev);
    let _restore = Restore(prev);
    f()
}

impl<T> Future for Portal<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let Some(co) = this.co.as_mut() else {
            panic!("`stackportal::Portal` polled after it completed");
        };
        // Lifetime erased; the pointer is cleared below and only dereferenced by
        // `await_` while this call is on the stack (see the SAFETY note there).
        this.frame
            .cx
            .set(ptr::from_mut(cx).cast::<Context<'static>>());
        let frame: *const Frame = &this.frame;
        let result = enter(&this.frame, || co.resume(Resume::Poll(frame)));
        this.frame.cx.set(ptr::null_mut());
        match result {
            CoroutineResult::Yield(()) => Poll::Pending,
            CoroutineResult::Return(outcome) => {
                if let Some(co) = this.co.take() {
                    this.recycle(co);
                }
                match outcome {
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
        if !co.started() {
            // Never polled: the body never ran. This drops the closure (and the future
            // it owns) on the current stack.
            co.force_unwind();
            self.recycle(co);
            return;
        }
        self.frame.tearing_down.set(true);
        match enter(&self.frame, || co.resume(Resume::Cancel)) {
            CoroutineResult::Return(Ok(out)) => drop(out),
            CoroutineResult::Return(Err(payload)) if payload.is::<Cancelled>() => {}
            CoroutineResult::Return(Err(payload)) => {
                eprintln!(
                    "stackportal: a cancelled portal's code panicked while its stack was \
                     being unwound: {}",
                    panic_message(&*payload)
                );
            }
            CoroutineResult::Yield(()) => {
                // `await_` never suspends once `tearing_down` is set and the yielder is
                // private, so this cannot happen. Leaking is the only sound option left:
                // dropping `co` would start corosensei's forced unwind.
                std::mem::forget(co);
                eprintln!("stackportal: bug: a cancelled portal suspended again; its stack leaks");
                return;
            }
        }
        self.recycle(co);
    }
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
fn run_deferred<T>(root: &Root, mut outcome: Outcome<T>) -> Outcome<T> {
    loop {
        // SAFETY: we are at the root of the coroutine stack of the frame in `CURRENT`
        // (refreshed by the resume that brought us here, after any `await_` below).
        let frame = unsafe { &*current() };
        let next = {
            let mut deferred = root.deferred.borrow_mut();
            // In the order they were dropped; there are rarely more than a few.
            (!deferred.is_empty()).then(|| deferred.remove(0))
        };
        let Some(mut cleanup) = next else {
            return outcome;
        };
        if frame.tearing_down.get() {
            hand_off(cleanup);
            continue;
        }
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| await_(cleanup.as_mut()))) {
            if payload.is::<Cancelled>() {
                // Cancelled while awaiting: the rest of this cleanup goes to the spawner.
                hand_off(cleanup);
            }
            if outcome.is_ok() {
                outcome = Err(payload);
            }
        }
    }
}

/// Queues `cleanup` on the running portal, to be awaited once the panic that is
/// unwinding its stack reaches the portal's root. Gives it back outside a portal.
pub(crate) fn defer(cleanup: Cleanup) -> Result<(), Cleanup> {
    let frame = current();
    if frame.is_null() {
        return Err(cleanup);
    }
    // SAFETY: see `whereabouts`: a non-null `CURRENT` is a live frame of a running
    // portal, so its coroutine has started and `root` points into its live root frame.
    let root = unsafe { &*(*frame).root.get() };
    root.deferred.borrow_mut().push(cleanup);
    Ok(())
}

/// Hands `cleanup` to the nearest cleanup spawner registered on the current portal or
/// the portals around it; reports on stderr when there is none.
pub(crate) fn hand_off(cleanup: Cleanup) {
    let mut frame = current();
    while !frame.is_null() {
        // SAFETY: `CURRENT` and the `parent` chain hold frames of portals whose `poll`
        // or `drop` calls are on this thread's call stack (each `parent` was set when
        // its portal was entered, from the `CURRENT` of that moment), so all are alive.
        let f = unsafe { &*frame };
        // SAFETY: every frame in the chain belongs to a portal whose coroutine is
        // running (it was entered and has not returned), so its root frame is alive.
        let extras = unsafe { f.root.get().as_ref() }.and_then(|r| r.extras.as_deref());
        if let Some(spawner) = extras.and_then(|e| e.spawner.as_ref()) {
            spawner(cleanup);
            return;
        }
        frame = f.parent.get();
    }
    report_lost_cleanup("its portal was cancelled (dropped before it finished)");
    drop(cleanup);
}

pub(crate) fn report_lost_cleanup(why: &str) {
    eprintln!(
        "stackportal: an AsyncGuard cleanup could not run: {why}, and no cleanup spawner is \
         registered. Register one with `stackportal::Builder::cleanup_spawner` (the portaltest \
         harness and `stackportal::spawn_local` do), or close the guard explicitly with \
         `AsyncGuard::close(guard).await`."
    );
}

/// Whether `addr` lies in the guard page of a portal stack that is running on this
/// thread; returns that stack's usable size and the portal's name. Called from the
/// SIGSEGV handler: it only reads a const thread-local and the frames it points to,
/// and allocates nothing.
fn overflowed_portal(addr: usize) -> Option<(usize, &'static str)> {
    let mut frame = current();
    while !frame.is_null() {
        // SAFETY: as in `hand_off`: the chain holds only live frames of this thread,
        // each of a running portal, whose root frame is alive; the handler aborts the
        // process before the borrowed name could be freed, hence `'static`.
        let f = unsafe { &*frame };
        if addr >= f.stack_lo - overflow::page_size() && addr < f.stack_lo {
            // SAFETY: a frame in the chain is of a running portal: its root is alive.
            let root = unsafe { f.root.get().as_ref() };
            let extras = root.and_then(|r| r.extras.as_deref());
            let name = extras.and_then(|e| e.name.as_deref()).unwrap_or("");
            // SAFETY: see above; the process never returns to code that could drop it.
            let name: &'static str = unsafe { &*(name as *const str) };
            return Some((f.stack_hi - f.stack_lo, name));
        }
        frame = f.parent.get();
    }
    None
}
