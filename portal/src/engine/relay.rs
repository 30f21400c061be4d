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
//! overlap that write: it happens at a resume, when no code on the portal's stack is
//! running, and the portal refuses to suspend while an owner-thread read is in progress
//! (`reading`: a waker whose `wake` or `clone` calls `await_`). Other threads can only
//! reach the relay through a `&Waker` borrowed from a poll on the portal's stack
//! (scoped threads); they take `lock`, which the writer takes too.

use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::{Mutex, PoisonError};
use std::task::{RawWaker, RawWakerVTable, Waker};

/// The raw parts of a waker, compared bitwise.
type Parts = (*const (), *const RawWakerVTable);

fn parts(waker: &Waker) -> Parts {
    (waker.data(), ptr::from_ref(waker.vtable()))
}

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
    /// The raw parts of the waker that `target` was cloned from. A poll whose waker has
    /// the same parts needs no update; comparing with `target` itself would not do, as a
    /// clone may carry another copy of the same vtable (tokio's do), and `will_wake`
    /// then says `false` on every poll.
    seen: Cell<Parts>,
    /// The thread that owns the portal (the only one that writes `target`); set with
    /// the first target.
    owner: Cell<usize>,
    /// Owner-thread reads of `target` in progress (nested only if waker code wakes).
    reading: Cell<usize>,
    /// Taken by readers on other threads and by the writer.
    lock: Mutex<()>,
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake_by_ref, wake_by_ref, drop_nothing);

impl Relay {
    /// A relay without a target yet.
    #[inline(always)]
    pub(super) const fn new() -> Self {
        Relay {
            target: UnsafeCell::new(None),
            seen: Cell::new((ptr::null(), ptr::null())),
            owner: Cell::new(0),
            reading: Cell::new(0),
            lock: Mutex::new(()),
        }
    }

    /// Whether waker code (a `wake` or `clone` of the target) is running on the owner
    /// thread: the portal must not suspend then, or the target could be replaced under
    /// it.
    #[inline(always)]
    pub(super) fn in_waker_code(&self) -> bool {
        self.reading.get() != 0
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
        if parts(waker) != self.seen.get() && self.is_set() {
            self.replace(waker);
        }
    }

    /// Sets the first target; the calling thread owns the relay from now on. Called on
    /// the portal's stack before any `Context` of this relay exists.
    #[inline(always)]
    pub(super) fn set_first(&self, waker: &Waker) {
        self.seen.set(parts(waker));
        let waker = waker.clone();
        self.owner.set(thread_mark());
        // SAFETY: no `Context` around this relay has been made yet, so no reader exists.
        unsafe { *self.target.get() = Some(waker) };
    }

    #[cold]
    #[inline(never)]
    fn replace(&self, waker: &Waker) {
        self.seen.set(parts(waker));
        // SAFETY: owner thread, the only writer.
        if unsafe { &*self.target.get() }
            .as_ref()
            .is_some_and(|t| t.will_wake(waker))
        {
            return;
        }
        // Cloning and dropping wakers runs foreign code: keep both outside the lock.
        let new = waker.clone();
        let old = {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: the owner thread is the only writer; readers on other threads
            // hold `lock`, and no owner-thread read is in progress: we run at a resume,
            // and the portal never suspends inside waker code (`in_waker_code`).
            unsafe { (*self.target.get()).replace(new) }
        };
        drop(old);
    }

    /// Runs `f` with (a bitwise copy of) the current target; `None` before the first.
    fn with_target<R>(&self, f: impl FnOnce(Option<&Waker>) -> R) -> R {
        if thread_mark() == self.owner.get() {
            struct Reading<'a>(&'a Cell<usize>);
            impl Drop for Reading<'_> {
                fn drop(&mut self) {
                    self.0.set(self.0.get() - 1);
                }
            }
            self.reading.set(self.reading.get() + 1);
            let _reading = Reading(&self.reading);
            // SAFETY: owner thread, and the writer never runs during this read: it runs
            // at a resume, and the portal does not suspend while `reading` is non-zero.
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
    // `Context`s on the portal's stack, all gone before the relay is dropped. Other
    // threads may hold that `&Waker` (scoped threads): through this reference they read
    // `owner` (written once, before any `Context` exists) and, under `lock`, `target`;
    // the `Cell`s `seen` and `reading` are touched on the owner thread only. So no
    // field is accessed concurrently with a write, although `Relay` is not `Sync`.
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
