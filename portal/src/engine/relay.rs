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
//! (scoped threads).
//!
//! # Identity of the task to wake
//!
//! A resume's waker is compared with the one the target was cloned from by its raw
//! parts. That is a task identity for ordinary wakers, but not for another portal's
//! relay (a portal nested in another is polled with the outer portal's relay waker):
//! its parts never change while the task it forwards to does. So a relay waker is never
//! cached: on every resume it is resolved to the outer relay's current target, and that
//! is what the inner relay compares and clones.
//!
//! # The protocol with other threads (no foreign code under the lock)
//!
//! `lock` guards only bitwise copies and swaps of `target`; no waker code runs while it
//! is held. A reader on another thread, under the lock, counts itself in `foreign` and
//! takes a non-owning copy of the target, then releases the lock, calls the waker's
//! `wake_by_ref` or `clone` through the copy, and uncounts itself (`Release`). The
//! writer (the owner thread), under the lock, swaps the target and reads `foreign`
//! (`Acquire`): if a reader is in progress, the old waker may still be in use through a
//! copy, so it is *retired* (kept alive, owner-only list) instead of dropped; retired
//! wakers are dropped by a later swap that sees no reader in progress, or when the
//! portal finishes (no borrowed `&Waker` of the relay outlives the portal's stack).
//! Readers that start after the swap copy the new target, so a waker that no reader
//! counted in `foreign` can use is never kept alive longer than needed. Clones and
//! drops of wakers (foreign code) always run outside the lock; a clone that panics
//! clears the target (the next `await_` takes a fresh one from its poll's `Context`)
//! instead of leaving a stale one.

use std::cell::{Cell, UnsafeCell};
use std::mem::{self, ManuallyDrop};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{RawWaker, RawWakerVTable, Waker};

/// The raw parts of a waker, compared bitwise.
type Parts = (*const (), *const RawWakerVTable);

const NO_PARTS: Parts = (ptr::null(), ptr::null());

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

/// Wakers taken out of a relay, to be dropped by the caller outside the lock (their
/// drops run foreign code, which may panic).
#[must_use]
pub(super) struct Released {
    _old: Option<Waker>,
    _retired: Vec<Waker>,
}

/// See the module docs. Lives at a stable address (the portal's root frame) from its
/// first use to the end of the portal's coroutine.
pub(super) struct Relay {
    /// The waker of the latest poll; `None` until the first `await_` needs it (and
    /// after a clone of a new one panicked).
    target: UnsafeCell<Option<Waker>>,
    /// The raw parts of the waker that `target` was cloned from. A poll whose waker has
    /// the same parts needs no update; comparing with `target` itself would not do, as a
    /// clone may carry another copy of the same vtable (tokio's do), and `will_wake`
    /// then says `false` on every poll. Never the parts of a relay waker.
    seen: Cell<Parts>,
    /// The thread that owns the portal (the only one that writes `target`); set with
    /// the first target, 0 before.
    owner: Cell<usize>,
    /// Owner-thread reads of `target` in progress (nested only if waker code wakes).
    reading: Cell<usize>,
    /// Taken by readers on other threads and by the writer, around copies and swaps of
    /// `target` only.
    lock: Mutex<()>,
    /// Readers on other threads that hold a copy of a target (module docs).
    foreign: AtomicUsize,
    /// Replaced targets that a reader on another thread may still use; owner only.
    retired: UnsafeCell<Vec<Waker>>,
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake_by_ref, wake_by_ref, drop_nothing);

/// Whether `waker` is some portal's relay waker.
#[inline(always)]
fn is_relay(waker: &Waker) -> bool {
    ptr::eq(waker.vtable(), &VTABLE)
}

impl Relay {
    /// A relay without a target yet.
    #[inline(always)]
    pub(super) const fn new() -> Self {
        Relay {
            target: UnsafeCell::new(None),
            seen: Cell::new(NO_PARTS),
            owner: Cell::new(0),
            reading: Cell::new(0),
            lock: Mutex::new(()),
            foreign: AtomicUsize::new(0),
            retired: UnsafeCell::new(Vec::new()),
        }
    }

    /// Whether waker code (a `wake` or `clone` of the target) is running on the owner
    /// thread: the portal must not suspend then, or the target could be replaced under
    /// it.
    #[inline(always)]
    pub(super) fn in_waker_code(&self) -> bool {
        self.reading.get() != 0
    }

    /// Whether a target is set.
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
    /// A panic of the waker's `clone` propagates, with the target cleared.
    #[inline(always)]
    pub(super) fn update(&self, waker: &Waker) {
        if is_relay(waker) {
            self.update_from_relay(waker);
        } else if parts(waker) != self.seen.get() && self.is_set() {
            self.replace(waker);
        }
    }

    /// `update` with another portal's relay waker: resolved to that relay's current
    /// target on every resume (module docs).
    #[cold]
    #[inline(never)]
    fn update_from_relay(&self, waker: &Waker) {
        if !self.is_set() {
            return;
        }
        // SAFETY: `waker` is a relay waker lent out in a `Context` (the only way to get
        // one), borrowed for this call: its relay is alive.
        let outer = unsafe { relay(waker.data()) };
        if ptr::eq(outer, self) {
            return; // polled with its own waker: nothing new to learn
        }
        outer.with_target(|target| {
            let target = target.unwrap_or(Waker::noop());
            if parts(target) != self.seen.get() {
                self.replace(target);
            }
        });
    }

    /// Sets a target when there is none (the first `await_`, or after a clone panicked);
    /// the calling thread owns the relay from now on. `waker` is the `Context`'s waker
    /// of the poll in progress.
    #[inline(always)]
    pub(super) fn set_first(&self, waker: &Waker) {
        if is_relay(waker) || self.owner.get() != 0 {
            self.set_again(waker);
            return;
        }
        let new = waker.clone();
        self.owner.set(thread_mark());
        // SAFETY: the relay never had a target, so no `Context` around it has been made
        // yet (`await_` sets the first target before it makes one): no reader exists.
        unsafe { *self.target.get() = Some(new) };
        self.seen.set(parts(waker));
    }

    #[cold]
    #[inline(never)]
    fn set_again(&self, waker: &Waker) {
        // Written once: a portal never changes threads (it is not `Send`).
        if self.owner.get() == 0 {
            self.owner.set(thread_mark());
        }
        if is_relay(waker) {
            // SAFETY: as in `update_from_relay`.
            let outer = unsafe { relay(waker.data()) };
            if !ptr::eq(outer, self) {
                outer.with_target(|target| self.replace(target.unwrap_or(Waker::noop())));
            }
        } else {
            self.replace(waker);
        }
    }

    /// Makes a clone of `waker` the target (owner thread, at a resume or before the
    /// first `Context` is lent out). A panic of the clone clears the target.
    #[cold]
    #[inline(never)]
    fn replace(&self, waker: &Waker) {
        // SAFETY: owner thread, the only writer; `will_wake` runs no waker code.
        if unsafe { &*self.target.get() }
            .as_ref()
            .is_some_and(|t| t.will_wake(waker))
        {
            self.seen.set(parts(waker));
            return;
        }
        // Cloning and dropping wakers runs foreign code: keep both outside the lock.
        let new = match panic::catch_unwind(AssertUnwindSafe(|| waker.clone())) {
            Ok(new) => new,
            Err(payload) => {
                self.seen.set(NO_PARTS);
                let released = self.store(None);
                super::drop_quietly(released);
                panic::resume_unwind(payload);
            }
        };
        let released = self.store(Some(new));
        self.seen.set(parts(waker));
        drop(released);
    }

    /// Swaps the target under the lock (module docs); returns what the caller must drop
    /// outside it.
    fn store(&self, new: Option<Waker>) -> Released {
        let (old, busy) = {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: the owner thread is the only writer; readers on other threads
            // copy under `lock`, which we hold; no owner-thread read is in progress: we
            // run at a resume or before any `Context` exists, and the portal never
            // suspends inside waker code (`in_waker_code`).
            let old = mem::replace(unsafe { &mut *self.target.get() }, new);
            (old, self.foreign.load(Ordering::Acquire) != 0)
        };
        // SAFETY: `retired` is touched by the owner thread only, and not reentrantly.
        let retired = unsafe { &mut *self.retired.get() };
        if busy {
            // A reader on another thread may be using `old` through a copy.
            retired.extend(old);
            Released {
                _old: None,
                _retired: Vec::new(),
            }
        } else {
            Released {
                _old: old,
                _retired: mem::take(retired),
            }
        }
    }

    /// Whether the relay holds a waker (a target, or retired ones), once the portal's
    /// code has finished (see `take_all`).
    #[inline(always)]
    pub(super) fn holds_wakers(&self) -> bool {
        // SAFETY: as in `take_all`: owner thread, no reader left.
        unsafe { (*self.target.get()).is_some() || !(*self.retired.get()).is_empty() }
    }

    /// Takes every waker out of the relay, once the portal's code has finished: no
    /// `Context` around the relay is left (its borrows ended with the frames that lent
    /// them, and scoped threads that held one were joined before those returned).
    pub(super) fn take_all(&self) -> Released {
        // SAFETY: owner thread, no reader left (see above).
        unsafe {
            Released {
                _old: (*self.target.get()).take(),
                _retired: mem::take(&mut *self.retired.get()),
            }
        }
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
            struct Foreign<'a>(&'a AtomicUsize);
            impl Drop for Foreign<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::Release);
                }
            }
            let (copy, _foreign) = {
                let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                self.foreign.fetch_add(1, Ordering::Relaxed);
                let foreign = Foreign(&self.foreign);
                // SAFETY: the writer holds `lock` while it swaps; we hold it now. The
                // original stays alive until we uncount ourselves (`_foreign`, dropped
                // after `f`): the writer retires instead of dropping it meanwhile.
                (unsafe { copy_of(&*self.target.get()) }, foreign)
            };
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
    // `foreign` is atomic; the `Cell`s `seen` and `reading` and `retired` are touched on
    // the owner thread only. So no field is accessed concurrently with a write, although
    // `Relay` is not `Sync`.
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
