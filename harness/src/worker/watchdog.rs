//! Notices, while it happens, a poll that holds the runtime thread for long (a test
//! that blocks forever would otherwise never be named): a std thread that looks at
//! what the runtime thread publishes around every poll.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fmt::slot_name;
use crate::report::messages;

/// Start of the poll in progress, in ms since `BASE` plus one; 0 when idle.
static STARTED: AtomicU64 = AtomicU64::new(0);
/// Slot being polled, and a count of polls (to warn once per poll).
static SLOT: AtomicUsize = AtomicUsize::new(0);
/// The warning threshold of the poll in progress, in ms (0: none).
static LIMIT_MS: AtomicU64 = AtomicU64::new(0);
static POLLS: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn now_ms() -> u64 {
    BASE.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Marks the start of a poll of `slot`, whose blocking warning threshold is `limit`;
/// returns what to restore (nested polls).
pub(crate) fn enter(slot: usize, limit: Option<Duration>) -> (u64, usize, u64) {
    let outer = (
        STARTED.load(Ordering::Relaxed),
        SLOT.load(Ordering::Relaxed),
        LIMIT_MS.load(Ordering::Relaxed),
    );
    SLOT.store(slot, Ordering::Relaxed);
    LIMIT_MS.store(
        limit.map_or(0, |l| (l.as_millis() as u64).max(1)),
        Ordering::Relaxed,
    );
    POLLS.fetch_add(1, Ordering::Relaxed);
    STARTED.store(now_ms(), Ordering::Release);
    outer
}

/// The slot being polled, if a poll is in progress (readable from any thread, and
/// while the process exits).
pub(crate) fn polling() -> Option<usize> {
    (STARTED.load(Ordering::Acquire) != 0).then(|| SLOT.load(Ordering::Relaxed))
}

pub(crate) fn leave((started, slot, limit): (u64, usize, u64)) {
    SLOT.store(slot, Ordering::Relaxed);
    LIMIT_MS.store(limit, Ordering::Relaxed);
    STARTED.store(started, Ordering::Release);
}

/// Starts the watchdog: it warns once per poll that has held the thread for
/// `max(threshold, 1 s)`, where the threshold is the poll's (a test's `blocking_warn`,
/// else the run's; a poll without one is not watched); the runner itself reports the
/// full duration afterwards.
pub(crate) fn start(names: Arc<Mutex<Vec<String>>>, mut err: Box<dyn Write + Send>) {
    BASE.get_or_init(Instant::now);
    STOP.store(false, Ordering::Relaxed);
    let tick = Duration::from_millis(250);
    let spawned = std::thread::Builder::new()
        .name("portaltest-watchdog".into())
        .spawn(move || {
            let mut warned_poll = u64::MAX;
            while !STOP.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                let started = STARTED.load(Ordering::Acquire);
                let poll = POLLS.load(Ordering::Relaxed);
                let limit = LIMIT_MS.load(Ordering::Relaxed);
                if started == 0 || poll == warned_poll || limit == 0 {
                    continue;
                }
                let live_limit = Duration::from_millis(limit).max(Duration::from_secs(1));
                let held = Duration::from_millis(now_ms().saturating_sub(started));
                if held >= live_limit {
                    warned_poll = poll;
                    let name = slot_name(&names, SLOT.load(Ordering::Relaxed));
                    let _ = writeln!(err, "{}", messages::still_blocking(&name, held));
                    let _ = err.flush();
                }
            }
        });
    drop(spawned);
}

pub(crate) fn stop() {
    STOP.store(true, Ordering::Relaxed);
}
