//! The queue of tests not handed out yet: how much of it a worker takes, what goes
//! back to it, and what is left of it when the run ends.

use std::collections::VecDeque;

use super::groups;
use super::Supervisor;
use crate::fixtures::registry::TestDef;
use crate::protocol::events::Verdict;
use crate::report::messages;
use crate::report::Finished;

/// The tests a worker that asks for `asked` takes off `queue`, with `jobs` workers
/// sharing it. One worker takes what it asks for; several share the queue in
/// shrinking chunks, so that none sits idle at the end.
pub(super) fn take(
    queue: &mut VecDeque<u32>,
    jobs: usize,
    asked: u32,
    tests: &[(String, &'static TestDef)],
) -> Vec<u32> {
    let fair = (queue.len() / (2 * jobs)).max(1);
    let n = if jobs == 1 {
        asked as usize
    } else {
        (asked as usize).min(fair)
    };
    groups::take(queue, n, tests)
}

impl Supervisor {
    /// Puts tests back at the front of the queue, in order.
    pub(super) fn requeue(&mut self, ids: Vec<u32>) {
        for id in ids.into_iter().rev() {
            self.queue.push_front(id);
        }
    }

    /// The names of the tests an interrupt kept from starting (none without one).
    pub(super) fn not_run(&self) -> Vec<String> {
        match self.interrupted {
            Some(_) => self
                .queue
                .iter()
                .map(|id| self.tests[*id as usize].0.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Fails every test still queued: no worker process could be started to run it.
    pub(super) fn fail_unstarted(&mut self) {
        for id in std::mem::take(&mut self.queue) {
            self.report.finished(Finished {
                id,
                verdict: Verdict::Failed,
                output: Vec::new(),
                note: Some(messages::NO_WORKER_STARTED),
                took: None,
                earlier: Vec::new(),
            });
        }
    }
}
