//! The deadlines the supervisor keeps: each worker's ordered set of its tests'
//! deadlines, a teardown's and an interrupt's; hang detection; and the rule that a
//! stopped worker is not judged (its deadlines move by the time it stood still, and
//! after a SIGCONT it gets a fresh grace).

use std::time::{Duration, Instant};

use super::blame::Kill;
use super::{Supervisor, Worker};
use crate::fixtures::registry::limit_of;

/// A wake-up this much past a deadline means the supervisor did not run meanwhile
/// (stopped, or starved): nobody is judged on it.
pub(super) const STOPPED_GAP: Duration = Duration::from_millis(750);

impl Worker {
    /// Moves every deadline of this worker `by` later (it was stopped that long).
    pub(super) fn shift(&mut self, by: Duration) {
        self.deadlines = self
            .deadlines
            .iter()
            .map(|(at, id)| (*at + by, *id))
            .collect();
        for at in self.deadline_by_id.values_mut() {
            *at += by;
        }
        if let Some((_, until)) = &mut self.tracker.teardown {
            *until += by;
        }
        if let Some(at) = &mut self.cancelled_at {
            *at += by;
        }
    }

    /// Whether its process is stopped now (SIGSTOP, SIGTSTP): it is then not judged.
    fn is_stopped(&self) -> bool {
        let Some(pid) = self.pid else { return false };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        matches!(state, Some('T') | Some('t'))
    }
}

impl Supervisor {
    /// The next moment a worker must be checked on.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.workers
            .values()
            .filter_map(|w| self.worker_deadline(w).map(|(at, _)| at))
            .min()
    }

    /// When `worker` must have shown progress, and why it is killed if not (never
    /// before its fresh grace after a stop).
    fn worker_deadline(&self, worker: &Worker) -> Option<(Instant, Kill)> {
        let (at, kill) = self.worker_deadline_raw(worker)?;
        Some((worker.not_before.map_or(at, |nb| at.max(nb)), kill))
    }

    /// [`worker_deadline`](Self::worker_deadline) before the fresh grace: during a
    /// teardown, its deadline or the interrupt's, whichever is first; else the
    /// interrupt's; else its first test's.
    fn worker_deadline_raw(&self, worker: &Worker) -> Option<(Instant, Kill)> {
        if worker.killed.is_some() {
            return None;
        }
        // The grace bounds an interrupt in every phase, a teardown's included.
        let interrupt = worker
            .cancelled_at
            .map(|at| (at + self.grace, Kill::Interrupt));
        if let Some((_, until)) = worker.tracker.teardown {
            let teardown = (until + self.grace, Kill::Teardown);
            return match interrupt {
                Some(i) if i.0 < teardown.0 => Some(i),
                _ => Some(teardown),
            };
        }
        if interrupt.is_some() {
            return interrupt;
        }
        let &(at, id) = worker.deadlines.first()?;
        let (limit, why) = limit_of(self.tests[id as usize].1, &self.env_timeout);
        Some((
            at,
            Kill::Hang {
                id,
                limit: limit.unwrap_or_default(),
                why,
            },
        ))
    }

    /// When test `id`, starting now, must have ended at the latest (its limit plus the
    /// grace), if the supervisor watches it: not without a limit, nor an isolated test
    /// (its own thread; the worker reports it in real time).
    pub(super) fn deadline_of(&self, id: u32) -> Option<Instant> {
        let def = self.tests.get(id as usize)?.1;
        if def.isolated || def.start_paused {
            return None;
        }
        let limit = limit_of(def, &self.env_timeout).0?;
        Some(Instant::now() + limit + self.grace)
    }

    /// Kills the workers whose deadline has passed, unless they are stopped.
    pub(super) fn on_deadline(&mut self) {
        let now = Instant::now();
        let due: Vec<(usize, Kill)> = self
            .workers
            .iter()
            .filter_map(|(i, w)| {
                let (at, kill) = self.worker_deadline(w)?;
                (at <= now).then_some((*i, kill))
            })
            .collect();
        for (index, kill) in due {
            if let Some(worker) = self.workers.get_mut(&index) {
                // A stopped worker is not hanging: it is judged a grace after it runs.
                if !matches!(kill, Kill::Interrupt | Kill::Second) && worker.is_stopped() {
                    worker.not_before = Some(now + self.grace);
                    continue;
                }
                worker.killed = Some(kill);
                if let Some(kill) = worker.kill.take() {
                    let _ = kill.send(());
                }
            }
        }
    }
}
