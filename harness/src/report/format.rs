//! The console formats of results behind one trait, [`Format`]: [`super::human`]
//! (libtest's pretty and terse text) and [`super::json`] (libtest's JSON lines), and
//! what they share: how a test ended ([`Outcome`]) and the counts of the summary
//! ([`Counts`]).

use std::io::Write;
use std::time::Duration;

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Ignored(Option<&'static str>),
    /// Passed on a retry, on this try (pretty: `ok (flaky: passed on try 2)`; JSON:
    /// `ok` with `"flaky": true`).
    Flaky(usize),
    /// Cancelled because the run was interrupted (Ctrl-C, SIGTERM): neither passed nor
    /// failed. JSON has no such event: it says `failed`, with the reason as output.
    Interrupted,
}

/// Counts for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub filtered_out: u64,
}

/// The end of the run, for the closing summary.
pub(crate) struct Summary<'a> {
    pub(crate) counts: Counts,
    pub(crate) failed: bool,
    pub(crate) elapsed: Duration,
    /// The slowest tests to list (`PORTALTEST_SLOWEST`), slowest first.
    pub(crate) slowest: &'a [(String, Duration)],
}

/// One console format. Each call writes whole lines to `out` (a test's result is one
/// line written when it ends, so interleaved tests never split each other's lines).
/// The defaults write nothing: the JSON stream carries events only, and the human
/// formats have no event for a test's start.
pub(crate) trait Format {
    /// Whether this is the JSON stream, whose stdout holds events only (texts that
    /// belong to no event go to stderr then).
    fn is_json(&self) -> bool;

    /// "running 3 tests", or the JSON suite start; with the shuffle seed as libtest
    /// shows it (`running 3 tests (shuffle seed: 42)`, `"shuffle_seed": 42`).
    fn title(&mut self, out: &mut dyn Write, num_tests: usize, shuffle_seed: Option<u64>);

    /// A test started.
    fn started(&mut self, _out: &mut dyn Write, _name: &str) {}

    /// A test ended. `output` is its captured output (JSON carries it for failures);
    /// `time` is the time to show with the result (`--report-time`), or `None`.
    fn outcome(
        &mut self,
        out: &mut dyn Write,
        name: &str,
        outcome: &Outcome,
        output: &[u8],
        time: Option<Duration>,
    );

    /// libtest's notice for a test still running after `after`.
    fn slow_notice(&mut self, _out: &mut dyn Write, _name: &str, _after: Duration) {}

    /// The captured output of tests, libtest style (`failures:` or `successes:`).
    fn outputs(&mut self, _out: &mut dyn Write, _heading: &str, _list: &[(String, Vec<u8>)]) {}

    /// Output of tests' tasks after their test ended, under `heading`.
    fn late_outputs(&mut self, _out: &mut dyn Write, _heading: &str, _list: &[(String, Vec<u8>)]) {}

    /// Output that belongs to no test, under `heading`.
    fn stray_output(&mut self, _out: &mut dyn Write, _heading: &str, _output: &[u8]) {}

    /// Problems outside any test (fixture teardown).
    fn run_errors(&mut self, _out: &mut dyn Write, _errors: &[(String, Vec<u8>)]) {}

    /// The tests that passed only on a retry: name, tries.
    fn flaky(&mut self, _out: &mut dyn Write, _flaky: &[(String, usize)]) {}

    /// After an interrupt: which signal, the tests it cancelled, and those it kept from
    /// starting.
    fn interrupted(
        &mut self,
        _out: &mut dyn Write,
        _signal: &str,
        _cancelled: &[String],
        _not_run: &[String],
    ) {
    }

    /// The closing summary.
    fn summary(&mut self, out: &mut dyn Write, summary: &Summary<'_>);

    /// After the summary of a failed shuffled run: how to repeat its order.
    fn shuffle_note(&mut self, _out: &mut dyn Write, _seed: u64) {}

    /// A note after the summary; false if this format has no place for it.
    fn note(&mut self, _out: &mut dyn Write, _text: &str) -> bool {
        false
    }
}
