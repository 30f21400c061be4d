//! Deadlines in real time, independent of the tokio clock, on a clock that a stop of
//! the process (SIGSTOP, Ctrl-Z, a suspended machine) does not advance.
//!
//! CLOCK_MONOTONIC runs on while a process is stopped, so a test stopped for 12 s under
//! an 8 s limit would time out the moment it is continued. The timer thread wakes at
//! least every [`TICK`] while deadlines wait; a wake-up later than [`STOP_GAP`] past
//! its time means the process did not run: that time is added to [`stopped`], and every
//! deadline moves by it (a thread starved that long by a loaded machine gets the same
//! leniency).
//!
//! The harness's own timeouts must not run on the shared runtime's clock: a test that
//! pauses it (`tokio::time::pause()`) would make every other test's timeout fire at
//! once (auto-advance), and a test with `start_paused = true` has a clock that jumps.
//! A [`Sleep`] here is woken by one std thread that waits on a condition variable
//! until the earliest deadline ([`std::time::Instant`]), then wakes the task that
//! waits (waking a tokio task from another thread unparks the runtime's driver).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often the timer thread looks at the clock while deadlines wait.
const TICK: Duration = Duration::from_millis(100);

/// A wake-up this much later than asked for counts as a stop of the process.
const STOP_GAP: Duration = Duration::from_millis(750);

/// Nanoseconds the process was found stopped, in all.
static STOPPED_NS: AtomicU64 = AtomicU64::new(0);

/// Called with each stop found (how long it was), from the timer thread.
type OnStop = Box<dyn Fn(Duration) + Send + Sync>;
static ON_STOP: OnceLock<OnStop> = OnceLock::new();

/// How long the process was found stopped, in all.
pub(crate) fn stopped() -> Duration {
    Duration::from_nanos(STOPPED_NS.load(Ordering::Relaxed))
}

/// Tells `f` of every stop found after this call (a worker tells its supervisor).
pub(crate) fn on_stop(f: impl Fn(Duration) + Send + Sync + 'static) {
    let _ = ON_STOP.set(Box::new(f));
}

/// The clock of deadlines: real time since the first use, less the stops.
fn clock() -> Duration {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now)
        .elapsed()
        .saturating_sub(stopped())
}

struct Entry {
    /// When it is due, on [`clock`].
    deadline: Duration,
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// A queued entry, ordered by deadline (then by a sequence number).
struct Queued(Duration, u64, Arc<Entry>);

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.0, self.1) == (other.0, other.1)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(other.0, other.1))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Queued>>,
    seq: u64,
}

struct Timers {
    queue: Mutex<Queue>,
    changed: Condvar,
}

fn timers() -> &'static Timers {
    static TIMERS: OnceLock<&'static Timers> = OnceLock::new();
    TIMERS.get_or_init(|| {
        let timers: &'static Timers = Box::leak(Box::new(Timers {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("portaltest-timer".into())
            .spawn(move || fire_loop(timers))
            .expect("portaltest: cannot start the timer thread");
        timers
    })
}

/// The timer thread: fires due entries, sleeps until the next deadline. It lives as
/// long as the process (it holds no resources but its queue).
fn fire_loop(timers: &'static Timers) {
    let mut queue = timers.queue.lock().unwrap_or_else(|e| e.into_inner());
    // When the last wait should have ended.
    let mut expected: Option<Instant> = None;
    loop {
        if let Some(late) = expected.map(|at| at.elapsed()) {
            if late > STOP_GAP {
                STOPPED_NS.fetch_add(late.as_nanos() as u64, Ordering::Relaxed);
                if let Some(f) = ON_STOP.get() {
                    f(late);
                }
            }
        }
        let now = clock();
        while let Some(Reverse(top)) = queue.heap.peek() {
            if top.0 > now {
                break;
            }
            let Some(Reverse(Queued(_, _, entry))) = queue.heap.pop() else {
                break;
            };
            entry.fired.store(true, Ordering::Release);
            let waker = entry.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        queue = match queue.heap.peek() {
            Some(Reverse(top)) => {
                let wait = top.0.saturating_sub(now).min(TICK);
                expected = Some(Instant::now() + wait);
                timers
                    .changed
                    .wait_timeout(queue, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => {
                expected = None;
                timers
                    .changed
                    .wait(queue)
                    .unwrap_or_else(|e| e.into_inner())
            }
        };
    }
}

/// A future that completes at `deadline`, measured in real time.
pub(crate) struct Sleep {
    entry: Arc<Entry>,
}

/// Completes at `deadline` (real time, whatever the tokio clock does), later by as
/// long as the process is found stopped meanwhile.
pub(crate) fn sleep_until(deadline: Instant) -> Sleep {
    let now = clock();
    let deadline = now + deadline.saturating_duration_since(Instant::now());
    let entry = Arc::new(Entry {
        deadline,
        fired: AtomicBool::new(false),
        waker: Mutex::new(None),
    });
    if deadline > now {
        let timers = timers();
        let mut queue = timers.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.seq += 1;
        let seq = queue.seq;
        queue
            .heap
            .push(Reverse(Queued(deadline, seq, entry.clone())));
        drop(queue);
        timers.changed.notify_one();
    }
    Sleep { entry }
}

impl Sleep {
    fn is_due(&self) -> bool {
        self.entry.fired.load(Ordering::Acquire) || clock() >= self.entry.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_due() {
            return Poll::Ready(());
        }
        {
            let mut slot = self.entry.waker.lock().unwrap_or_else(|e| e.into_inner());
            match &mut *slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                other => *other = Some(cx.waker().clone()),
            }
        }
        // The timer thread may have fired between the first check and the store.
        if self.is_due() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        // Release the task's waker now; the entry itself leaves the queue at its
        // deadline.
        self.entry
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

/// An optional real-time deadline polled beside other work (a test, a channel): the
/// one place where the harness races something against real time.
pub(crate) struct Deadline(Option<Sleep>);

impl Deadline {
    /// A deadline at `at` (`None`: one that never passes).
    pub(crate) fn new(at: Option<Instant>) -> Deadline {
        Deadline(at.map(sleep_until))
    }

    /// Whether the deadline passed, once: it is spent then, and never passes again.
    pub(crate) fn poll_passed(&mut self, cx: &mut Context<'_>) -> bool {
        let passed = self
            .0
            .as_mut()
            .is_some_and(|sleep| Pin::new(sleep).poll(cx).is_ready());
        if passed {
            self.0 = None;
        }
        passed
    }
}

/// `fut`'s output, or `None` if `deadline` (real time) passes first.
pub(crate) async fn until<F: Future + Unpin>(
    deadline: Option<Instant>,
    mut fut: F,
) -> Option<F::Output> {
    let mut deadline = Deadline::new(deadline);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(Some(out));
        }
        if deadline.poll_passed(cx) {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_real_time_even_with_a_paused_tokio_clock() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let started = Instant::now();
        rt.block_on(async {
            let late = sleep_until(Instant::now() + Duration::from_secs(3600));
            let soon = sleep_until(Instant::now() + Duration::from_millis(50));
            soon.await;
            drop(late);
        });
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn a_past_deadline_is_ready_at_once() {
        let past = Instant::now();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(sleep_until(past));
    }
}
