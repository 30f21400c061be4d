//! The relay's cross-thread protocol. Other threads reach a portal's relay only through
//! a `&Waker` borrowed from a poll on the portal's stack (scoped threads), possibly
//! while the portal is suspended and its owner swaps the target. The protocol (see `engine/relay.rs`): readers on other threads copy the
//! target under the relay's lock and call the waker *outside* it, counted; the owner
//! swaps under the lock and retires, rather than drops, a target that a counted reader
//! may still be using.
//!
//! Why no loom model: the relay lives in the root frame of a corosensei stack and its
//! writer runs at stack switches, which loom cannot model; and loom would need the
//! engine's `Mutex`/atomics swapped for loom's under `cfg(loom)` for a protocol of one
//! lock, one counter and a list. Instead: the argument in `relay.rs`, a deterministic
//! test of the one interleaving that matters (a foreign reader inside the old target's
//! `wake` while the owner swaps), and a stress test, both run under valgrind and ASan
//! by `.ci/memcheck`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use stackportal::{await_, with_portal_run_sync};

mod test_env;

/// A waker with hooks: counts wakes, records whether its data was dropped, and can make
/// `wake_by_ref` wait (on another thread) until the owner has swapped targets.
struct Probe {
    refs: AtomicUsize,
    wakes: AtomicUsize,
    dropped: AtomicBool,
    /// `wake_by_ref` sets `entered`, then waits for `release` (at most 10 s).
    hold: AtomicBool,
    entered: AtomicBool,
    release: AtomicBool,
    /// Set when a held `wake_by_ref` found the waker dropped under it, or timed out.
    fault: AtomicUsize,
}

static PROBE_VTABLE: RawWakerVTable =
    RawWakerVTable::new(probe_clone, probe_wake, probe_wake_by_ref, probe_drop);

fn probe_ref<'a>(data: *const ()) -> &'a Probe {
    // SAFETY: the probes are leaked (`'static`), so the data pointer stays valid; a
    // dropped probe is only marked `dropped`, which the test checks.
    unsafe { &*data.cast::<Probe>() }
}

unsafe fn probe_clone(data: *const ()) -> RawWaker {
    probe_ref(data).refs.fetch_add(1, Ordering::SeqCst);
    RawWaker::new(data, &PROBE_VTABLE)
}

unsafe fn probe_wake(data: *const ()) {
    // SAFETY: the same contract as `wake_by_ref`, then the reference is released.
    unsafe {
        probe_wake_by_ref(data);
        probe_drop(data);
    }
}

unsafe fn probe_wake_by_ref(data: *const ()) {
    let probe = probe_ref(data);
    if probe.dropped.load(Ordering::SeqCst) {
        probe.fault.fetch_add(1, Ordering::SeqCst);
    }
    if probe.hold.swap(false, Ordering::SeqCst) {
        probe.entered.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !probe.release.load(Ordering::SeqCst) {
            if Instant::now() > deadline {
                // The owner could not swap while this wake ran: it held the lock.
                probe.fault.fetch_add(100, Ordering::SeqCst);
                break;
            }
            std::thread::yield_now();
        }
        if probe.dropped.load(Ordering::SeqCst) {
            // The owner dropped the target while this wake was using it.
            probe.fault.fetch_add(1, Ordering::SeqCst);
        }
    }
    probe.wakes.fetch_add(1, Ordering::SeqCst);
}

unsafe fn probe_drop(data: *const ()) {
    let probe = probe_ref(data);
    if probe.refs.fetch_sub(1, Ordering::SeqCst) == 1 {
        probe.dropped.store(true, Ordering::SeqCst);
    }
}

fn probe() -> (&'static Probe, Waker) {
    let probe: &'static Probe = Box::leak(Box::new(Probe {
        refs: AtomicUsize::new(1),
        wakes: AtomicUsize::new(0),
        dropped: AtomicBool::new(false),
        hold: AtomicBool::new(false),
        entered: AtomicBool::new(false),
        release: AtomicBool::new(false),
        fault: AtomicUsize::new(0),
    }));
    let raw = RawWaker::new(std::ptr::from_ref(probe).cast(), &PROBE_VTABLE);
    // SAFETY: `PROBE_VTABLE` counts references to a leaked `Probe`, thread-safely.
    (probe, unsafe { Waker::from_raw(raw) })
}

/// Pending the first time it is polled, ready after.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

#[test]
fn a_target_in_use_by_another_thread_is_retired_not_dropped_and_not_locked() {
    let (a, wa) = probe();
    let (b, wb) = probe();
    a.hold.store(true, Ordering::SeqCst);
    let mut portal = with_portal_run_sync(move || {
        await_(std::future::poll_fn(|cx| {
            let relay = cx.waker();
            std::thread::scope(|s| {
                // Wakes through the relay: reaches A, whose wake holds until released.
                s.spawn(|| relay.wake_by_ref());
                // Suspends the portal while that thread is inside A's wake; the owner
                // then swaps the target to B (see below).
                await_(YieldOnce(false));
                a.release.store(true, Ordering::SeqCst);
            });
            Poll::Ready(())
        }));
    });
    assert!(Pin::new(&mut portal)
        .poll(&mut Context::from_waker(&wa))
        .is_pending());
    drop(wa); // the relay's clone is now A's only reference
    let deadline = Instant::now() + Duration::from_secs(10);
    while !a.entered.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the scoped thread never woke");
        std::thread::yield_now();
    }
    // The swap: A is replaced by B while the other thread is inside A's wake.
    let done = Pin::new(&mut portal).poll(&mut Context::from_waker(&wb));
    assert_eq!(done, Poll::Ready(()));
    assert_eq!(
        a.fault.load(Ordering::SeqCst),
        0,
        "A was dropped under its wake (1) or its wake held the relay's lock (100)"
    );
    assert_eq!(a.wakes.load(Ordering::SeqCst), 1);
    drop(portal);
    assert!(a.dropped.load(Ordering::SeqCst), "A is released in the end");
    drop(wb);
    assert!(b.dropped.load(Ordering::SeqCst), "B is released in the end");
}

#[test]
fn the_relay_hammered_from_scoped_threads_while_the_owner_swaps_wakers() {
    let rounds = test_env::scaled(2_000) as usize;
    let probes: Vec<_> = (0..4).map(|_| probe()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let mut portal = with_portal_run_sync(move || {
        await_(std::future::poll_fn(|cx| {
            let relay = cx.waker();
            std::thread::scope(|s| {
                for _ in 0..3 {
                    s.spawn(|| {
                        while !stop2.load(Ordering::SeqCst) {
                            relay.wake_by_ref();
                            drop(relay.clone());
                        }
                    });
                }
                for _ in 0..rounds {
                    await_(YieldOnce(false)); // the owner swaps the target here
                }
                stop2.store(true, Ordering::SeqCst);
            });
            Poll::Ready(())
        }));
    });
    for i in 0..=rounds {
        let waker = &probes[i % probes.len()].1;
        let out = Pin::new(&mut portal).poll(&mut Context::from_waker(waker));
        assert_eq!(out.is_ready(), i == rounds);
    }
    assert!(stop.load(Ordering::SeqCst));
    drop(portal);
    for (probe, waker) in probes {
        assert_eq!(probe.fault.load(Ordering::SeqCst), 0);
        drop(waker);
        assert!(probe.dropped.load(Ordering::SeqCst), "every clone released");
    }
}
