//! The bookkeeping of the running portal: its [`Frame`] (per-portal state in the root
//! frame of its own stack), the thread-locals `CURRENT` (the frame of the innermost
//! portal whose code runs on this thread) and `LEAVING` (frames whose root is taking
//! them apart), and the guards that keep every set of them paired with its restore.
//!
//! Its `unsafe`: reading the frame that `CURRENT` points at, sound by the invariant
//! that this file's guards maintain (see `running_frame`).

use std::cell::{Cell, RefCell};
use std::ptr;
use std::task::Context;

use corosensei::Yielder;

use super::cleanup::{Cleanup, Spawner};
use super::relay::Relay;
use super::root::Resume;
use super::stack_pointer::stack_pointer;

/// Per-portal state, in the root frame of the portal's own stack (see the `engine` docs).
/// Code on that stack reaches it through `CURRENT`; nothing else holds a pointer to it.
pub(super) struct Frame {
    /// The coroutine's yielder, at the root of the same stack.
    pub(super) yielder: *const Yielder<Resume, ()>,
    /// The `Context` of the `Portal::poll` that resumed us last; null while tearing down.
    /// Valid while code on this stack runs (that poll is on the call stack below it).
    pub(super) cx: Cell<*mut Context<'static>>,
    /// The waker that futures polled by `await_` see.
    pub(super) relay: Relay,
    /// What `CURRENT` was when this portal was last entered (its enclosing portal).
    pub(super) parent: Cell<*const Frame>,
    /// Lowest usable stack address (just above the guard page) and the stack's base.
    pub(super) stack_lo: usize,
    pub(super) stack_hi: usize,
    /// Set once the owner dropped the portal: nothing may suspend any more.
    pub(super) tearing_down: Cell<bool>,
    /// Whether the thread was already panicking when the portal's code was last entered
    /// (a fresh portal run from a `Drop` during an unrelated unwind): a panic unwinding
    /// this portal's own stack is one that started after that (see `Frame::suspend`).
    pub(super) entered_panicking: Cell<bool>,
    /// The builder's extras, owned by the root of the coroutine; null if none. Read only
    /// through `CURRENT` (never after the frame has left it).
    pub(super) extras: *const Extras,
    /// The portal's name (`Builder::name`), for the stack-overflow message: pointer and
    /// length of a string that outlives the frame's time in `CURRENT` and `LEAVING`.
    pub(super) name: (*const u8, usize),
    /// The `LEAVING` entry this frame displaced (see `LEAVING`).
    pub(super) leaving_prev: Cell<*const Frame>,
    /// Guard cleanups dropped while the portal's code was unwinding from a panic; they
    /// run, in order, once the unwind has reached the portal's root.
    pub(super) deferred: RefCell<Vec<Cleanup>>,
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
    pub(super) static LEAVING: Cell<*const Frame> = const { Cell::new(ptr::null()) };
}

/// Holds a portal's frame in `CURRENT` from its entry to its exit, however the code in
/// between ends (a panic from a payload's `Drop`, say): dropping it restores the
/// previous value. The first of the engine's paired steps (`engine` docs).
pub(super) struct Entered<'a>(&'a Frame);

impl<'a> Entered<'a> {
    #[inline(always)]
    pub(super) fn enter(frame: &'a Frame) -> Self {
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
pub(super) struct Away<'a>(&'a Frame);

impl<'a> Away<'a> {
    #[inline(always)]
    pub(super) fn leave(frame: &'a Frame) -> Self {
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
pub(super) struct Leaving<'a>(&'a Frame);

impl<'a> Leaving<'a> {
    pub(super) fn enter(frame: &'a Frame) -> Self {
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
pub(super) fn current() -> *const Frame {
    CURRENT.with(Cell::get)
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
pub(super) fn running_frame<'a>() -> Option<&'a Frame> {
    let frame = current();
    if frame.is_null() {
        return None;
    }
    // SAFETY: `CURRENT` only ever holds null or the frame of a portal whose code is
    // running on this thread: that code set it on entry and restores the previous value
    // before it suspends or finishes (`Entered` and `Away` above, held by `run_root` in
    // root.rs and by `Frame::suspend` in await_.rs), and the frame lives at the root of
    // that code's stack (a local of `run_root`, which outlives both guards). It is only
    // accessed through shared references and `Cell`s.
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

impl Frame {
    /// Whether a panic that started while this portal's code ran is unwinding it.
    #[inline(always)]
    pub(super) fn unwinding(&self) -> bool {
        std::thread::panicking() && !self.entered_panicking.get()
    }
}
