//! A worker's end: what it left (its capture file's tail, its board), whom its death
//! blames (decided in [`blame`](super::blame)), and how that is applied to the report
//! and the queue.

use std::fs::File;
use std::io::{Read, Seek};
use std::process::ExitStatus;

use tokio::sync::mpsc;

use super::blame::{self, Blame, Death, InFlight};
use super::{Msg, Supervisor, Worker};
use crate::protocol::board::{self, Polled};
use crate::protocol::events::Verdict;
use crate::report::{messages, with_note, Finished, Holder, Tracker};

/// How many workers in a row may end before they are handed a test before the run
/// stops starting them.
pub(super) const EARLY_DEATHS: u32 = 3;

impl Supervisor {
    /// Once a worker's process and its events are both over: accounts for what it left.
    pub(super) async fn maybe_gone(&mut self, index: usize, msgs: &mpsc::UnboundedSender<Msg>) {
        let ready =
            matches!(self.workers.get(&index), Some(w) if w.events_over && w.status.is_some());
        if !ready {
            return;
        }
        let mut worker = self.workers.remove(&index).expect("checked above");
        let status = worker.status.expect("checked above");
        if worker.tracker.all_done {
            // Handed out but never started: the run was interrupted first.
            let left = std::mem::take(&mut worker.assigned).into_iter().collect();
            self.requeue(left);
            if !status.success() {
                let output = with_note(
                    tail(&mut worker.capture),
                    Some(&messages::worker_failed_at_end(&describe(status))),
                );
                self.report
                    .run_error("a worker process's end".into(), output);
            } else {
                let rest = tail(&mut worker.capture);
                self.report.stray(&rest);
            }
        } else if !worker.took_any && worker.killed.is_none() && self.interrupted.is_none() {
            self.early_death(worker, status);
        } else {
            self.on_death(worker, status);
        }
        self.spawn_workers(msgs).await;
    }

    /// A worker ended before it was handed a test (a custom `main` that fails in a
    /// second process, a bad environment): its tests go back to the queue, and after
    /// [`EARLY_DEATHS`] such ends in a row no worker is started again.
    fn early_death(&mut self, mut worker: Worker, status: ExitStatus) {
        let left = std::mem::take(&mut worker.assigned).into_iter().collect();
        self.requeue(left);
        self.early_deaths += 1;
        let output = tail(&mut worker.capture);
        let cause = describe(status);
        if self.early_deaths >= EARLY_DEATHS {
            self.gave_up = true;
            self.report.warn(&messages::early_deaths_gave_up(
                self.early_deaths,
                &cause,
                String::from_utf8_lossy(&output).trim_end(),
            ));
        }
        self.report.run_error(
            "a worker process's start".into(),
            with_note(
                output,
                Some(&messages::early_death(&cause, self.early_deaths)),
            ),
        );
    }

    /// A worker ended before it finished its tests: blame, re-run, report.
    fn on_death(&mut self, mut worker: Worker, status: ExitStatus) {
        let cause = match &worker.killed {
            Some(_) => "was killed by the supervisor".to_string(),
            None => describe(status),
        };
        let polled = board::read(&worker.board);
        let output_tail = tail(&mut worker.capture);
        // A crash signal that hit another thread than the runtime thread (the worker's
        // main thread, whose id is the process's): what the board says is polled did
        // not do it. Its handler noted the thread.
        let foreign = {
            use std::os::unix::process::ExitStatusExt;
            match (
                status.signal(),
                board::crashed_thread(&worker.board),
                worker.pid,
            ) {
                (Some(_), Some((tid, name)), Some(pid)) if tid != pid as u64 => Some((tid, name)),
                _ => None,
            }
        };
        let tracker = &worker.tracker;
        let in_flight = worker
            .assigned
            .iter()
            .map(|&id| match tracker.slot_of(id) {
                Some((slot, _)) => InFlight {
                    id,
                    started: true,
                    earlier: tracker.earlier_tries(slot),
                    setting_up: tracker.setting_up_for(slot).map(str::to_string),
                },
                None => InFlight {
                    id,
                    ..InFlight::default()
                },
            })
            .collect();
        let polled_teardown = match polled {
            Some(Polled::Slot(slot)) => {
                matches!(tracker.holder(slot), Some(Holder::Teardown(_))).then_some(slot)
            }
            _ => None,
        };
        let blame = blame::blame(&Death {
            cause,
            killed: worker.killed.clone(),
            interrupted: self.interrupted.is_some(),
            polled,
            foreign,
            in_flight,
            running: tracker.running().map(|(_, id, _)| id).collect(),
            teardown: tracker.teardown.map(|(slot, _)| slot),
            polled_teardown,
            tests: &self.tests,
            retries: self.retries,
            tries: &self.tries,
            rerun: &self.rerun,
            blameless_deaths: self.blameless_deaths,
            grace: self.grace,
        });
        self.apply(&mut worker.tracker, blame, output_tail);
    }

    /// Does what a worker's death means for the run (see [`blame::blame`]); `tail`: the
    /// worker's last output.
    fn apply(&mut self, tracker: &mut Tracker, blame: Blame, mut tail: Vec<u8>) {
        if blame.tail_is_stray() {
            self.report.stray(&tail);
        }
        let (mut culprit_output, culprit_earlier, culprit_took) = match blame.culprit {
            Some(id) => match tracker.slot_of(id) {
                Some((slot, started)) => {
                    let (output, earlier) = tracker.take_output(slot);
                    (output, earlier, Some(started.elapsed()))
                }
                None => (Vec::new(), Vec::new(), None),
            },
            None => (Vec::new(), Vec::new(), None),
        };
        if blame.culprit.is_some() {
            culprit_output.append(&mut tail);
        }
        let mut culprit_output = Some((culprit_output, culprit_earlier));
        for (id, verdict, note) in &blame.ended {
            if Some(*id) == blame.culprit {
                let (output, earlier) = culprit_output.take().unwrap_or_default();
                self.report.finished(Finished {
                    id: *id,
                    verdict: *verdict,
                    output,
                    note: Some(note),
                    took: culprit_took,
                    earlier,
                });
            } else {
                self.end_in_flight(tracker, *id, *verdict, note);
            }
        }
        if let (Some(id), Some((note, used))) = (blame.culprit, blame.retry) {
            let (output, earlier) = culprit_output.take().unwrap_or_default();
            for attempt in earlier {
                self.report.crashed_try(id, attempt);
            }
            self.report.crashed_try(
                id,
                crate::report::Attempt {
                    output,
                    note: Some(note),
                    took: culprit_took,
                },
            );
            self.tries.insert(id, used);
        }
        if let Some(broken) = blame.broken_fixture {
            self.broken.push(broken);
        }
        if let Some((slot, note)) = blame.teardown {
            let name = match tracker.holder(slot) {
                Some(Holder::Teardown(name)) => name,
                _ => "?".to_string(),
            };
            let (mut output, _) = tracker.take_output(slot);
            output.append(&mut tail);
            self.report.run_error(
                format!("fixture `{name}` teardown"),
                with_note(output, Some(&note)),
            );
        }
        if let Some(note) = blame.run_error {
            self.report.run_error(
                "a worker process's death".into(),
                with_note(std::mem::take(&mut tail), Some(&note)),
            );
        }
        if blame.blameless {
            self.blameless_deaths += 1;
        }
        self.rerun.extend(blame.rerun);
        self.requeue(blame.requeue);
        self.queue.extend(blame.queue_back);
    }

    /// Ends test `id`, in flight on a worker that died, with `verdict`, `note` and what
    /// it wrote.
    fn end_in_flight(&mut self, tracker: &mut Tracker, id: u32, verdict: Verdict, note: &str) {
        let ((output, earlier), took) = match tracker.slot_of(id) {
            Some((slot, started)) => (tracker.take_output(slot), Some(started.elapsed())),
            None => ((Vec::new(), Vec::new()), None),
        };
        self.report.finished(Finished {
            id,
            verdict,
            output,
            note: Some(note),
            took,
            earlier,
        });
    }
}

/// What is left in a dead worker's capture file: what it wrote since its last drain.
fn tail(capture: &mut Option<File>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(file) = capture {
        if file.rewind().is_ok() {
            let _ = file.read_to_end(&mut out);
        }
    }
    out
}

/// How a process ended, in words: `was killed by signal 6 (SIGABRT)`, `exited with
/// code 0`.
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        let name = signal_name(signal)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let core = if status.core_dumped() {
            ", core dumped"
        } else {
            ""
        };
        format!("was killed by signal {signal}{name}{core}")
    } else {
        match status.code() {
            Some(code) => format!("exited with code {code}"),
            None => format!("ended ({status})"),
        }
    }
}

/// The names that nextest shows (`helpers.rs::signal_str`), for the signals a test can
/// die of.
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        // 7 on Linux, 10 on macOS and the BSDs.
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn deaths_are_described_like_nextest() {
        assert_eq!(
            describe(ExitStatus::from_raw(6)),
            "was killed by signal 6 (SIGABRT)"
        );
        assert_eq!(describe(ExitStatus::from_raw(0)), "exited with code 0");
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exited with code 3");
        assert_eq!(
            describe(ExitStatus::from_raw(42)),
            "was killed by signal 42"
        );
    }

    #[test]
    fn signal_names_come_from_the_platform() {
        assert_eq!(signal_name(libc::SIGBUS), Some("SIGBUS"));
        assert_eq!(signal_name(libc::SIGSEGV), Some("SIGSEGV"));
        // 7 is SIGBUS on Linux only (SIGEMT on macOS and the BSDs).
        if libc::SIGBUS != 7 {
            assert_eq!(signal_name(7), None);
        }
    }
}
