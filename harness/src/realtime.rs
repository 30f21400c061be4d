//! Deadlines in real time, independent of the tokio clock.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

struct Entry {
    deadline: Instant,
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// A queued entry, ordered by deadline (then by a sequence number).
struct Queued(Instant, u64, Arc<Entry>);

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
    loop {
        let now = Instant::now();
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
                let wait = top.0.saturating_duration_since(now);
                timers
                    .changed
                    .wait_timeout(queue, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => timers
                .changed
                .wait(queue)
                .unwrap_or_else(|e| e.into_inner()),
        };
    }
}

/// A future that completes at `deadline`, measured in real time.
pub(crate) struct Sleep {
    entry: Arc<Entry>,
}

/// Completes at `deadline` (real time, whatever the tokio clock does).
pub(crate) fn sleep_until(deadline: Instant) -> Sleep {
    let entry = Arc::new(Entry {
        deadline,
        fired: AtomicBool::new(false),
        waker: Mutex::new(None),
    });
    if deadline > Instant::now() {
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
        self.entry.fired.load(Ordering::Acquire) || Instant::now() >= self.entry.deadline
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
