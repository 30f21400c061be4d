//! Test times on the console: `--report-time` (each result shows its test's time) and
//! `PORTALTEST_SLOWEST=N` (the N slowest tests listed after the summary).

use std::io::Write;
use std::time::Duration;

use crate::fmt::exec_time;

/// What the run's settings ask to show of test times, and the times kept for the list
/// of the slowest.
#[derive(Default)]
pub(crate) struct Timings {
    /// `--report-time`: results show the test's time (pretty, JSON, log file).
    report_time: bool,
    /// `PORTALTEST_SLOWEST=N`: how many of the slowest tests to list after the summary.
    slowest: Option<usize>,
    /// The tests that ran and their times (kept for the list of the slowest only).
    times: Vec<(String, Duration)>,
}

impl Timings {
    pub(crate) fn new(report_time: bool, slowest: Option<usize>) -> Timings {
        Timings {
            report_time,
            slowest,
            times: Vec::new(),
        }
    }

    /// Test `name` ended after `time` (`None`: it did not run); the time its result
    /// shows (`None` without `--report-time`).
    pub(crate) fn record(&mut self, name: &str, time: Option<Duration>) -> Option<Duration> {
        if let (Some(_), Some(time)) = (self.slowest, time) {
            self.times.push((name.to_string(), time));
        }
        time.filter(|_| self.report_time)
    }

    /// The N slowest tests of `PORTALTEST_SLOWEST=N`, slowest first, ties by name
    /// (empty when it is not set).
    pub(crate) fn take_slowest(&mut self) -> Vec<(String, Duration)> {
        let Some(n) = self.slowest else {
            return Vec::new();
        };
        let mut times = std::mem::take(&mut self.times);
        times.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        times.truncate(n);
        times
    }
}

/// A result's time as libtest shows it after the result (` <0.123s>`), in the pretty
/// format and the log file; empty for `None`.
pub(crate) fn suffix(time: Option<Duration>) -> String {
    time.map(|t| format!(" <{}>", exec_time(t)))
        .unwrap_or_default()
}

/// The list of the slowest tests (from [`Timings::take_slowest`]), after the summary
/// of the pretty and terse formats; nothing when it is empty.
///
/// ```text
/// slowest 2 tests (each from its start to its verdict, waits included):
///     0.301s  timings::slow
///     0.152s  timings::medium
/// ```
pub(crate) fn write_slowest(out: &mut dyn Write, times: &[(String, Duration)]) {
    if times.is_empty() {
        return;
    }
    let plural_s = if times.len() == 1 { "" } else { "s" };
    let _ = writeln!(
        out,
        "slowest {} test{plural_s} (each from its start to its verdict, waits included):",
        times.len()
    );
    let width = times
        .iter()
        .map(|(_, t)| exec_time(*t).len())
        .max()
        .unwrap_or(0);
    for (name, time) in times {
        let _ = writeln!(out, "    {:>width$}  {name}", exec_time(*time));
    }
    let _ = writeln!(out);
}
