//! The portal's own waker: valid for the portal's whole life, it forwards to the
//! waker of the latest `Portal::poll`.
//!
//! `Future::poll(cx)` promises `cx` only for the duration of that call. On a portal
//! stack a `poll` frame can outlive its call's turn: sync code inside it suspends the
//! whole stack, and a *later* `Portal::poll` (with another `Context`, perhaps freed by
//! now) resumes it, still holding the first `&mut Context`. So `await_` never hands the
//! task's `Context` to the futures it polls. It hands them a `Context` around the
//! portal's [`Relay`], which lives in the portal's root frame (as long as any frame on
//! its stack) and whose waker:
//!
//! * on `clone`, returns a clone of the *current* task waker (so whatever a future
//!   registers wakes the task directly, at native cost, and never points back here);
//! * on `wake_by_ref`, wakes the current task waker.
//!
//! The current task waker (`target`) is replaced by the portal's owner thread when a
//! resume brings a waker that does not `will_wake` it, which is rare (a portal moved to
//! another task, or polled through `now_or_never`). Readers on the owner thread never
//! overlap that write (it happens at a resume, when no code on the portal's stack is
//! running), except through a waker that suspends inside its own `wake` (counted in
//! `reading`: the old waker is then kept alive until no such read is in flight). Other
//! threads can only reach the relay through a `&Waker` borrowed from a poll on the
//! portal's stack (scoped threads); they take `lock`, which the writer takes too.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::{Mutex, PoisonError};
use std::task::{RawWaker, RawWakerVTable, Waker};

thread_local! {
    /// Its address identifies the thread (unique among live threads).
    static THREAD_MARK: u8 = const { 0 };
}

fn thread_mark() -> usize {
    THREAD_MARK.with(|mark| ptr::from_ref(mark) as usize)
}

/// See the module docs. Lives at a stable address (the portal's root frame) from its
/// first use to the end of the portal's coroutine.
pub(super) struct Relay {
    /// The waker of the latest poll; `None` until the first `await_` needs it.
    target: UnsafeCell<Option<Waker>>,
    /// The thread that owns the portal (the only one that writes `target`).
    owner: usize,
    /// Owner-thread reads of `target` in progress (more than one only if a waker
    /// suspends inside its own `wake`).
    reading: Cell<usize>,
    /// Old targets replaced while an owner-thread read was in progress.
    retired: RefCell<Vec<Waker>>,
    /// Taken by readers on other threads and by the writer.
    lock: Mutex<()>,
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake_by_ref, wake_by_ref, drop_nothing);

impl Relay {
    /// A relay owned by the calling thread.
    pub(super) fn new() -> Self {
        Relay {
            target: UnsafeCell::new(None),
            owner: thread_mark(),
            reading: Cell::new(0),
            retired: RefCell::new(Vec::new()),
            lock: Mutex::new(()),
        }
    }

    /// Whether the first target has been set.
    #[inline(always)]
    pub(super) fn is_set(&self) -> bool {
        // SAFETY: called on the owner thread, the only writer, and not during a write.
        unsafe { (*self.target.get()).is_some() }
    }

    /// The relay's waker. It borrows the relay, so it must not outlive it: callers
    /// keep it in a frame on the portal's stack and only lend it out in a `Context`.
    #[inline(always)]
    pub(super) fn waker(&self) -> ManuallyDrop<Waker> {
        let raw = RawWaker::new(ptr::from_ref(self).cast(), &VTABLE);
        // SAFETY: `VTABLE`'s functions uphold the `RawWaker` contract for `raw`'s data
        // pointer as long as the relay lives: `clone` returns an independent task
        // waker, `drop` does nothing, the wakes are thread-safe (module docs).
        ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
    }

    /// Called by the owner thread at each resume, while no code on the portal's stack
    /// runs: makes `waker` the target unless the current one already wakes the same
    /// task. Before the first target is set (lazily, by `set_first`) it does nothing.
    #[inline(always)]
    pub(super) fn update(&self, waker: &Waker) {
        // SAFETY: the owner thread is the only writer; concurrent readers only read.
        match unsafe { &*self.target.get() } {
            Some(current) if !current.will_wake(waker) => self.replace(waker),
            _ => {}
        }
    }

    /// Sets the first target. Owner thread, before any `Context` of this relay exists.
    #[cold]
    pub(super) fn set_first(&self, waker: &Waker) {
        let waker = waker.clone();
        // SAFETY: no `Context` around this relay has been made yet, so no reader exists.
        unsafe { *self.target.get() = Some(waker) };
    }

    #[cold]
    #[inline(never)]
    fn replace(&self, waker: &Waker) {
        // Cloning and dropping wakers runs foreign code: keep both outside the lock.
        let new = waker.clone();
        let old = {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: the owner thread is the only writer; readers on other threads
            // hold `lock`, and no owner-thread read overlaps (they are counted in
            // `reading`, and their copy of the old waker stays valid: see below).
            unsafe { (*self.target.get()).replace(new) }
        };
        if self.reading.get() == 0 {
            drop(old);
            let retired = std::mem::take(&mut *self.retired.borrow_mut());
            drop(retired);
        } else if let Some(old) = old {
            // An owner-thread read is in progress with a copy of `old`: keep it alive.
            self.retired.borrow_mut().push(old);
        }
    }

    /// Runs `f` with (a bitwise copy of) the current target; `None` before the first.
    fn with_target<R>(&self, f: impl FnOnce(Option<&Waker>) -> R) -> R {
        if thread_mark() == self.owner {
            struct Reading<'a>(&'a Cell<usize>);
            impl Drop for Reading<'_> {
                fn drop(&mut self) {
                    self.0.set(self.0.get() - 1);
                }
            }
            self.reading.set(self.reading.get() + 1);
            let _reading = Reading(&self.reading);
            // SAFETY: owner thread, and the writer never runs during this read except
            // from inside `f`; then it retires the old waker instead of dropping it.
            let copy = unsafe { copy_of(&*self.target.get()) };
            f(copy.as_deref())
        } else {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: the writer holds `lock` while it writes; we hold it now.
            let copy = unsafe { copy_of(&*self.target.get()) };
            f(copy.as_deref())
        }
    }
}

/// A non-owning copy of `waker`, so that no reference into the relay's slot is held
/// while foreign waker code runs. Valid while the original is alive.
///
/// # Safety
///
/// The caller must keep the original waker alive while the copy is used.
unsafe fn copy_of(waker: &Option<Waker>) -> Option<ManuallyDrop<Waker>> {
    waker.as_ref().map(|w| {
        // SAFETY: same data and vtable as a live waker; `ManuallyDrop` keeps the copy
        // from releasing the original's reference.
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(w.data(), w.vtable())) })
    })
}

unsafe fn relay<'a>(data: *const ()) -> &'a Relay {
    // SAFETY: `data` comes from `Relay::waker`, whose waker is only lent out in
    // `Context`s on the portal's stack, all gone before the relay is dropped.
    unsafe { &*data.cast::<Relay>() }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: see `relay`.
    let relay = unsafe { relay(data) };
    let cloned =
        relay.with_target(|target| target.map_or_else(|| Waker::noop().clone(), Waker::clone));
    let cloned = ManuallyDrop::new(cloned);
    // The clone is an ordinary task waker, owned by the caller from now on.
    RawWaker::new(cloned.data(), cloned.vtable())
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: see `relay`.
    let relay = unsafe { relay(data) };
    relay.with_target(|target| {
        if let Some(target) = target {
            target.wake_by_ref();
        }
    });
}

unsafe fn drop_nothing(_: *const ()) {}
