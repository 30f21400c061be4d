//! From a worker's events to results on the console: [`Tracker`] follows one worker's
//! slots (which test each holds, what it wrote), [`Report`] prints results as they come
//! and the summary at the end. The same two serve a supervised run (events decoded from
//! a worker's socket) and a run in one process (events handed over directly).

use std::io::Write;
use std::time::{Duration, Instant};

use crate::protocol::events::{Event, Verdict};

mod attempt;
pub(crate) mod format;
mod human;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod messages;
pub(crate) mod printer;
mod timings;
mod writer;

pub(crate) use attempt::{with_note, Attempt};
use format::{Counts, Outcome};
use junit::Junit;
use printer::Printer;

/// Runs shorter than this get no CPU-bound hint: too short to be worth more processes.
const CPU_HINT_MIN_WALL: Duration = Duration::from_secs(1);

type Outputs = Vec<(String, Vec<u8>)>;

/// The heading of what tests' tasks printed after their test ended.
const LATE_HEADING: &str = "output after the test ended (tasks that the test spawned)";

/// The heading of the output that belongs to no test.
const STRAY_HEADING: &str =
    "output of no test (tasks that fixtures or tests spawned, other threads)";

/// A test's result for [`Report::finished`].
pub(crate) struct Finished<'a> {
    pub(crate) id: u32,
    pub(crate) verdict: Verdict,
    /// What it wrote.
    pub(crate) output: Vec<u8>,
    /// Why it failed, shown below its output.
    pub(crate) note: Option<&'a str>,
    pub(crate) took: Option<Duration>,
    /// Its failed tries before this one (retries).
    pub(crate) earlier: Vec<Attempt>,
}

/// The results of the run and where they are printed.
pub(crate) struct Report {
    printer: Printer,
    /// Test names, by id (index in the binary's sorted list).
    names: Vec<String>,
    show_output: bool,
    counts: Counts,
    failures: Outputs,
    successes: Outputs,
    stray: Vec<u8>,
    /// What tests' tasks printed after the test ended, by test, in order of arrival.
    late: Outputs,
    run_errors: Outputs,
    /// Tests cancelled by an interrupt.
    cancelled: Vec<String>,
    /// Tests that passed on a retry: name, tries.
    flaky: Vec<(String, usize)>,
    junit: Option<Junit>,
    /// Ids whose start was reported (a test run again after a worker died starts once).
    started_ids: Vec<bool>,
    /// Tries of a test that ended with their worker (retried in a fresh one).
    prior: std::collections::HashMap<u32, Vec<Attempt>>,
    real_stderr: Box<dyn Write>,
    started: Instant,
    shuffle_seed: Option<u64>,
    /// Worker processes asked for (`PORTALTEST_JOBS`, 1 by default).
    jobs: usize,
    /// Busy time and wall time of the workers' runtime threads, summed over workers
    /// ([`Event::Busy`]).
    busy: (Duration, Duration),
}

impl Report {
    pub(crate) fn new(
        printer: Printer,
        names: Vec<String>,
        show_output: bool,
        real_stderr: Box<dyn Write>,
    ) -> Report {
        Report {
            printer,
            names,
            show_output,
            counts: Counts::default(),
            failures: Vec::new(),
            successes: Vec::new(),
            stray: Vec::new(),
            late: Vec::new(),
            run_errors: Vec::new(),
            cancelled: Vec::new(),
            started_ids: Vec::new(),
            prior: Default::default(),
            flaky: Vec::new(),
            junit: None,
            real_stderr,
            started: Instant::now(),
            shuffle_seed: None,
            jobs: 1,
            busy: (Duration::ZERO, Duration::ZERO),
        }
    }

    /// The number of worker processes of the run (for the CPU-bound hint).
    pub(crate) fn set_jobs(&mut self, jobs: usize) {
        self.jobs = jobs;
    }

    /// A worker's runtime thread was busy for `busy` of its run of `wall`.
    pub(crate) fn busy(&mut self, busy: Duration, wall: Duration) {
        self.busy.0 += busy;
        self.busy.1 += wall;
    }

    /// The hint after the summary of a run with one worker that was mostly CPU-bound:
    /// how busy its runtime thread was, and that more workers would use more cores.
    fn cpu_bound_hint(&self) -> Option<String> {
        let (busy, wall) = self.busy;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if self.jobs != 1 || cores < 2 || wall < CPU_HINT_MIN_WALL || busy * 2 < wall {
            return None;
        }
        Some(messages::cpu_bound(busy, wall, cores))
    }

    /// Also writes a JUnit report at the end.
    pub(crate) fn set_junit(&mut self, junit: Junit) {
        self.junit = Some(junit);
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }

    /// The run's start; `shuffle_seed`: the seed the tests were shuffled with, shown
    /// now and again when the run fails.
    pub(crate) fn title(&mut self, n: usize, shuffle_seed: Option<u64>) {
        self.started = Instant::now();
        self.shuffle_seed = shuffle_seed;
        self.printer.title(n, shuffle_seed);
    }

    pub(crate) fn ignored(&mut self, id: u32, reason: Option<&'static str>) {
        let name = self.name(id).to_string();
        self.printer.started(&name);
        self.printer
            .outcome(&name, &Outcome::Ignored(reason), &[], None);
        self.counts.ignored += 1;
        if let Some(junit) = &mut self.junit {
            junit.ignored(&name, reason);
        }
    }

    /// A try of test `id` that ended with its worker: shown with the test's result.
    pub(crate) fn crashed_try(&mut self, id: u32, attempt: Attempt) {
        self.prior.entry(id).or_default().push(attempt);
    }

    pub(crate) fn started(&mut self, id: u32) {
        let i = id as usize;
        if self.started_ids.len() <= i {
            self.started_ids.resize(i + 1, false);
        }
        if std::mem::replace(&mut self.started_ids[i], true) {
            return;
        }
        let name = self.name(id).to_string();
        self.printer.started(&name);
    }

    /// A test's result; `note` (why it failed) goes below its output; `earlier`: its
    /// failed attempts before this one (retries).
    pub(crate) fn finished(&mut self, result: Finished<'_>) {
        let Finished {
            id,
            verdict,
            output,
            note,
            took,
            earlier,
        } = result;
        // `started` always precedes a result, in every format: a worker that died in a
        // test's first poll may not have sent its start (it was still buffered).
        self.started(id);
        // Tries that ended in a crash of an earlier worker come first.
        let earlier = match self.prior.remove(&id) {
            Some(mut prior) => {
                prior.extend(earlier);
                prior
            }
            None => earlier,
        };
        let name = self.name(id).to_string();
        let tries = earlier.len() + 1;
        if let Some(junit) = &mut self.junit {
            junit.finished(&name, verdict, &output, note, took, &earlier);
        }
        let shown = if verdict == Verdict::Failed && !earlier.is_empty() {
            // Every try's output, in order.
            let mut shown = Vec::new();
            for (i, a) in earlier.iter().enumerate() {
                shown.extend_from_slice(format!("---- try {} of {tries} ----\n", i + 1).as_bytes());
                shown.extend_from_slice(&a.output);
                shown = with_note(shown, a.note.as_deref());
            }
            shown.extend_from_slice(format!("---- try {tries} of {tries} ----\n").as_bytes());
            shown.extend_from_slice(&output);
            shown
        } else {
            // One try: its output as it is, not a copy (it may be big).
            output
        };
        let output = with_note(shown, note);
        let outcome = match verdict {
            Verdict::Passed if tries > 1 => Outcome::Flaky(tries),
            Verdict::Passed => Outcome::Passed,
            Verdict::Failed => Outcome::Failed,
            Verdict::Interrupted => Outcome::Interrupted,
        };
        self.printer.outcome(&name, &outcome, &output, took);
        match verdict {
            Verdict::Passed => {
                self.counts.passed += 1;
                if tries > 1 {
                    self.flaky.push((name.clone(), tries));
                }
                if self.show_output {
                    self.successes.push((name, output));
                }
            }
            Verdict::Failed => {
                self.counts.failed += 1;
                self.failures.push((name, output));
            }
            Verdict::Interrupted => self.cancelled.push(name),
        }
    }

    pub(crate) fn slow_notice(&mut self, id: u32, after: Duration) {
        let name = self.name(id).to_string();
        self.printer.slow_notice(&name, after);
    }

    pub(crate) fn stray(&mut self, bytes: &[u8]) {
        self.stray.extend_from_slice(bytes);
    }

    /// Output of test `id` (a task it spawned) that arrived after its result.
    pub(crate) fn late_output(&mut self, id: u32, bytes: &[u8]) {
        let name = self.name(id).to_string();
        match self.late.iter_mut().find(|(n, _)| *n == name) {
            Some((_, output)) => output.extend_from_slice(bytes),
            None => self.late.push((name, bytes.to_vec())),
        }
    }

    /// A failure that belongs to no test (a fixture's teardown, a worker's end).
    pub(crate) fn run_error(&mut self, what: String, output: Vec<u8>) {
        self.run_errors.push((what, output));
    }

    pub(crate) fn warn(&mut self, text: &str) {
        let _ = writeln!(self.real_stderr, "{}", text.trim_end());
        let _ = self.real_stderr.flush();
    }

    /// Prints what is left (outputs, failures, the summary); whether the run failed.
    /// `interrupt`: the signal that interrupted the run, and the tests it kept from
    /// starting.
    pub(crate) fn finish(
        mut self,
        filtered_out: u64,
        interrupt: Option<(&str, Vec<String>)>,
    ) -> bool {
        let failed = self.counts.failed > 0 || !self.run_errors.is_empty() || interrupt.is_some();
        let stray = std::mem::take(&mut self.stray);
        let late = std::mem::take(&mut self.late);
        if failed || self.show_output {
            if self.printer.is_json() {
                for (name, output) in &late {
                    let text = format!(
                        "---- {name} stdout, after the test ended ----\n{}",
                        String::from_utf8_lossy(output).trim_end()
                    );
                    self.warn(&text);
                }
            } else {
                self.printer.late_outputs(LATE_HEADING, &late);
            }
            if self.printer.is_json() {
                if !stray.is_empty() {
                    let text = format!(
                        "{STRAY_HEADING}:\n{}",
                        String::from_utf8_lossy(&stray).trim_end()
                    );
                    self.warn(&text);
                }
            } else {
                self.printer.stray_output(STRAY_HEADING, &stray);
            }
        }
        if self.show_output {
            self.printer.outputs("successes", &self.successes);
        }
        self.failures.sort_by(|a, b| a.0.cmp(&b.0));
        self.printer.outputs("failures", &self.failures);
        self.printer.run_errors(&self.run_errors);
        if self.printer.is_json() {
            for (what, output) in self.run_errors.clone() {
                let text = format!("---- {what} ----\n{}", String::from_utf8_lossy(&output));
                self.warn(&text);
            }
        }
        self.printer.flaky(&self.flaky);
        if let Some((signal, mut not_run)) = interrupt {
            self.cancelled.sort();
            not_run.sort();
            self.printer.interrupted(signal, &self.cancelled, &not_run);
        }
        let counts = Counts {
            filtered_out,
            ..self.counts
        };
        let elapsed = self.started.elapsed();
        self.printer.summary(counts, failed, elapsed);
        if let (true, Some(seed)) = (failed, self.shuffle_seed) {
            self.printer.shuffle_note(seed);
        }
        if let Some(hint) = self.cpu_bound_hint() {
            if !self.printer.note(&hint) {
                self.warn(&hint);
            }
        }
        if let Some(junit) = self.junit.take() {
            if let Err(error) = junit.write(&self.run_errors, elapsed) {
                self.warn(&error);
                return true;
            }
        }
        failed
    }
}

/// The sink of a run in one process: events are reported as they come.
pub(crate) struct Direct {
    tracker: std::cell::RefCell<Tracker>,
    report: std::cell::RefCell<Report>,
}

impl Direct {
    pub(crate) fn new(report: Report) -> Direct {
        Direct {
            tracker: Default::default(),
            report: std::cell::RefCell::new(report),
        }
    }

    pub(crate) fn into_report(self) -> Report {
        self.report.into_inner()
    }
}

impl crate::protocol::sink::Sink for Direct {
    fn send(&self, event: Event) {
        // A child that a test forked does not report for the run.
        crate::protocol::board::exit_if_forked();
        let mut report = self.report.borrow_mut();
        self.tracker.borrow_mut().handle(event, &mut report);
    }
}

/// What a worker's slot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holder {
    Test(u32),
    Teardown(String),
}

struct Slot {
    holder: Holder,
    output: Vec<u8>,
    started: Instant,
    finished: bool,
    /// Failed attempts so far (retries).
    earlier: Vec<Attempt>,
}

/// One worker's slots as its events tell them, turning them into results for the
/// [`Report`]. What the supervisor needs when the worker dies or hangs is here too.
#[derive(Default)]
pub(crate) struct Tracker {
    slots: Vec<Option<Slot>>,
    /// Fixtures being set up, and the slot of the test they are set up for.
    in_setup: Vec<(String, u32)>,
    /// The slot of a teardown in progress, and when it must be over.
    pub(crate) teardown: Option<(u32, Instant)>,
    /// The worker sent [`Event::Done`].
    pub(crate) all_done: bool,
}

/// What the caller must do about an event beyond reporting it.
pub(crate) enum Followup {
    None,
    Want(u32),
}

impl Tracker {
    fn slot_mut(&mut self, slot: u32) -> Option<&mut Slot> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Handles one event of the worker.
    pub(crate) fn handle(&mut self, event: Event, report: &mut Report) -> Followup {
        match event {
            Event::Want { n } => return Followup::Want(n),
            Event::Started { slot, id } => {
                self.put(slot, Holder::Test(id));
                report.started(id);
            }
            Event::Output { slot, bytes } => match self.slot_mut(slot) {
                // A task the test spawned, after the test's result.
                Some(Slot {
                    holder: Holder::Test(id),
                    finished: true,
                    ..
                }) => report.late_output(*id, &bytes),
                Some(s) => s.output.extend_from_slice(&bytes),
                None => report.stray(&bytes),
            },
            Event::Finished {
                slot,
                verdict,
                note,
                took,
            } => {
                if let Some(s) = self.slot_mut(slot) {
                    if let (Holder::Test(id), false) = (s.holder.clone(), s.finished) {
                        s.finished = true;
                        let output = std::mem::take(&mut s.output);
                        let earlier = std::mem::take(&mut s.earlier);
                        report.finished(Finished {
                            id,
                            verdict,
                            output,
                            note: note.as_deref(),
                            took: Some(took),
                            earlier,
                        });
                    }
                }
            }
            Event::Retry { slot, note, took } => {
                if let Some(s) = self.slot_mut(slot) {
                    let output = std::mem::take(&mut s.output);
                    s.earlier.push(Attempt {
                        output,
                        note,
                        took: Some(took),
                    });
                }
            }
            Event::SlowNotice { slot, after } => {
                if let Some(Holder::Test(id)) = self.slot_mut(slot).map(|s| s.holder.clone()) {
                    report.slow_notice(id, after);
                }
            }
            Event::FixtureSetup { slot, name } => self.in_setup.push((name, slot)),
            Event::FixtureReady { name } => self.in_setup.retain(|(n, _)| *n != name),
            Event::Teardown { slot, name, limit } => {
                self.put(slot, Holder::Teardown(name));
                self.teardown = Some((slot, Instant::now() + limit));
            }
            Event::TeardownEnd { slot, error } => {
                self.teardown = None;
                if let Some(s) = self.slot_mut(slot) {
                    s.finished = true;
                    let mut output = std::mem::take(&mut s.output);
                    if let (Some(error), Holder::Teardown(name)) = (error, &s.holder) {
                        if !output.is_empty() && !output.ends_with(b"\n") {
                            output.push(b'\n');
                        }
                        output.extend_from_slice(error.as_bytes());
                        output.push(b'\n');
                        report.run_error(format!("fixture `{name}` teardown"), output);
                    }
                }
            }
            Event::Stray { bytes } => report.stray(&bytes),
            Event::Warn { text } => report.warn(&text),
            Event::Done => self.all_done = true,
            // The supervisor's business (its deadlines), not the report's.
            Event::Stopped { .. } => {}
            Event::Busy { busy, wall } => report.busy(busy, wall),
        }
        Followup::None
    }

    fn put(&mut self, slot: u32, holder: Holder) {
        let i = slot as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(Slot {
            holder,
            output: Vec::new(),
            started: Instant::now(),
            finished: false,
            earlier: Vec::new(),
        });
    }

    /// What `slot` holds, if it has not finished.
    pub(crate) fn holder(&self, slot: u32) -> Option<Holder> {
        let s = self.slots.get(slot as usize)?.as_ref()?;
        (!s.finished).then(|| s.holder.clone())
    }

    /// The slot of test `id`, if it started and has not finished, and when it started.
    pub(crate) fn running(&self) -> impl Iterator<Item = (u32, u32, Instant)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let s = s.as_ref()?;
            match (&s.holder, s.finished) {
                (Holder::Test(id), false) => Some((i as u32, *id, s.started)),
                _ => None,
            }
        })
    }

    /// The slot of test `id` while it runs, and when it started.
    pub(crate) fn slot_of(&self, id: u32) -> Option<(u32, Instant)> {
        self.running()
            .find(|(_, i, _)| *i == id)
            .map(|(slot, _, started)| (slot, started))
    }

    /// Takes what `slot` wrote so far (and its failed attempts) and marks it finished.
    pub(crate) fn take_output(&mut self, slot: u32) -> (Vec<u8>, Vec<Attempt>) {
        match self.slot_mut(slot) {
            Some(s) => {
                s.finished = true;
                (
                    std::mem::take(&mut s.output),
                    std::mem::take(&mut s.earlier),
                )
            }
            None => (Vec::new(), Vec::new()),
        }
    }

    /// How many failed tries (retries) test slot `slot` had before the one in progress.
    pub(crate) fn earlier_tries(&self, slot: u32) -> u32 {
        self.slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .map_or(0, |s| s.earlier.len() as u32)
    }

    /// The fixture being set up for `slot`'s test, if any.
    pub(crate) fn setting_up_for(&self, slot: u32) -> Option<&str> {
        self.in_setup
            .iter()
            .find(|(_, s)| *s == slot)
            .map(|(n, _)| n.as_str())
    }
}
