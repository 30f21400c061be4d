//! What the supervisor does with a worker's events: arming each try's deadline,
//! handing out tests when the worker asks for them, and noticing the worker's end.

use std::time::Instant;

use tokio::sync::mpsc;

use super::queue::take;
use super::{send, Msg, Supervisor};
use crate::protocol::events::{Command, Event};
use crate::report::{Followup, Holder};

impl Supervisor {
    /// Handles what a worker's tasks report: an event, the end of its events, its exit.
    pub(super) async fn on_msg(&mut self, msg: Msg, msgs: &mpsc::UnboundedSender<Msg>) {
        match msg {
            Msg::Event(index, Event::Stopped { gap }) => {
                // The worker was stopped: what it must do by when moves as much, and it
                // gets a fresh grace.
                if let Some(worker) = self.workers.get_mut(&index) {
                    worker.shift(gap);
                    worker.not_before = Some(Instant::now() + self.grace);
                }
            }
            Msg::Event(index, event) => {
                // One deadline per try: a test's limit counts from its start, and again
                // from each retry (the worker's own clock restarts there too).
                let tried = match &event {
                    Event::Started { id, .. } => Some(*id),
                    Event::Retry { slot, .. } => match self.workers.get(&index) {
                        Some(w) => match w.tracker.holder(*slot) {
                            Some(Holder::Test(id)) => Some(id),
                            _ => None,
                        },
                        None => None,
                    },
                    _ => None,
                };
                let deadline = tried.and_then(|id| self.deadline_of(id).map(|at| (at, id)));
                let Some(worker) = self.workers.get_mut(&index) else {
                    return;
                };
                if let Some(id) = tried {
                    if let Some(old) = worker.deadline_by_id.remove(&id) {
                        worker.deadlines.remove(&(old, id));
                    }
                }
                if let Some((at, id)) = deadline {
                    worker.deadline_by_id.insert(id, at);
                    worker.deadlines.insert((at, id));
                }
                let finished = match &event {
                    Event::Finished { slot, .. } => match worker.tracker.holder(*slot) {
                        Some(Holder::Test(id)) => Some(id),
                        _ => None,
                    },
                    _ => None,
                };
                if let Followup::Want(n) = worker.tracker.handle(event, &mut self.report) {
                    let command = if self.interrupted.is_some() || self.queue.is_empty() {
                        worker.ended = true;
                        Command::End
                    } else {
                        let ids = take(&mut self.queue, self.jobs, n, &self.tests);
                        for id in &ids {
                            if let Some(&tries) = self.tries.get(id) {
                                send(&mut worker.tx, &Command::Tried { id: *id, tries }).await;
                            }
                        }
                        worker.assigned.extend(&ids);
                        worker.took_any = true;
                        self.early_deaths = 0;
                        Command::Run { ids }
                    };
                    send(&mut worker.tx, &command).await;
                }
                if let Some(id) = finished {
                    worker.assigned.remove(&id);
                    if let Some(at) = worker.deadline_by_id.remove(&id) {
                        worker.deadlines.remove(&(at, id));
                    }
                }
            }
            Msg::EventsOver(index) => {
                if let Some(worker) = self.workers.get_mut(&index) {
                    worker.events_over = true;
                }
                self.maybe_gone(index, msgs).await;
            }
            Msg::Exited(index, status) => {
                if let Some(worker) = self.workers.get_mut(&index) {
                    worker.status = Some(status);
                }
                self.maybe_gone(index, msgs).await;
            }
        }
    }
}
