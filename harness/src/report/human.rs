//! The human formats: libtest's pretty text (a line per test) and terse text (a
//! character per test), in libtest-mimic 0.8's format strings, which follow libtest;
//! captured output is shown the way libtest shows it: `---- NAME stdout ----`.

use std::io::Write;
use std::time::Duration;

use super::format::{Format, Outcome, Summary};
use super::timings;
use crate::fmt::running_for;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// libtest's pretty (or, `terse`, its terse) text.
pub(crate) struct Human {
    terse: bool,
    color: bool,
    /// Terse format: results (dots) were written on the current line.
    mid_line: bool,
}

impl Human {
    pub(crate) fn new(terse: bool, color: bool) -> Human {
        Human {
            terse,
            color,
            mid_line: false,
        }
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn outcome_text(&self, outcome: &Outcome) -> String {
        match outcome {
            Outcome::Passed => self.paint(GREEN, "ok"),
            Outcome::Flaky(tries) => format!(
                "{} {}",
                self.paint(GREEN, "ok"),
                self.paint(YELLOW, &format!("(flaky: passed on try {tries})"))
            ),
            Outcome::Failed => self.paint(RED, "FAILED"),
            Outcome::Ignored(None) => self.paint(YELLOW, "ignored"),
            Outcome::Ignored(Some(reason)) => self.paint(YELLOW, &format!("ignored, {reason}")),
            Outcome::Interrupted => self.paint(YELLOW, "interrupted"),
        }
    }

    /// Ends the terse line of results, if one was begun.
    fn end_line(&mut self, out: &mut dyn Write) {
        if std::mem::take(&mut self.mid_line) {
            let _ = writeln!(out);
        }
    }
}

impl Format for Human {
    fn is_json(&self) -> bool {
        false
    }

    fn title(&mut self, out: &mut dyn Write, num_tests: usize, shuffle_seed: Option<u64>) {
        let plural_s = if num_tests == 1 { "" } else { "s" };
        let seed = shuffle_seed
            .map(|s| format!(" (shuffle seed: {s})"))
            .unwrap_or_default();
        let _ = writeln!(out);
        let _ = writeln!(out, "running {num_tests} test{plural_s}{seed}");
        let _ = out.flush();
    }

    /// With `time`, it follows the result as in libtest: ` <0.123s>` in the pretty
    /// format; the terse format shows none (neither does libtest's).
    fn outcome(
        &mut self,
        out: &mut dyn Write,
        name: &str,
        outcome: &Outcome,
        _output: &[u8],
        time: Option<Duration>,
    ) {
        if self.terse {
            let (c, color) = match outcome {
                Outcome::Passed | Outcome::Flaky(_) => (".", GREEN),
                Outcome::Failed => ("F", RED),
                Outcome::Ignored(_) => ("i", YELLOW),
                Outcome::Interrupted => ("I", YELLOW),
            };
            let text = self.paint(color, c);
            let _ = write!(out, "{text}");
            self.mid_line = true;
        } else {
            let text = self.outcome_text(outcome);
            let suffix = timings::suffix(time);
            let _ = writeln!(out, "test {name} ... {text}{suffix}");
        }
        let _ = out.flush();
    }

    /// `test NAME has been running for over 60 seconds`, on a line of its own
    /// (libtest's `write_timeout`); in the terse format it starts a new line if
    /// results were written on the current one.
    fn slow_notice(&mut self, out: &mut dyn Write, name: &str, after: Duration) {
        self.end_line(out);
        let how_long = running_for(after);
        let _ = writeln!(out, "test {name} has been running for over {how_long}");
        let _ = out.flush();
    }

    fn outputs(&mut self, out: &mut dyn Write, heading: &str, list: &[(String, Vec<u8>)]) {
        if list.is_empty() {
            return;
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{heading}:");
        let _ = writeln!(out);
        for (name, output) in list.iter().filter(|(_, output)| !output.is_empty()) {
            let _ = writeln!(out, "---- {name} stdout ----");
            let _ = out.write_all(output);
            if !output.is_empty() && !output.ends_with(b"\n") {
                let _ = writeln!(out);
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{heading}:");
        for (name, _) in list {
            let _ = writeln!(out, "    {name}");
        }
        let _ = out.flush();
    }

    /// A section per test, `---- NAME stdout, after the test ended ----` (nothing when
    /// empty).
    fn late_outputs(&mut self, out: &mut dyn Write, heading: &str, list: &[(String, Vec<u8>)]) {
        if list.is_empty() {
            return;
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{heading}:");
        for (name, output) in list {
            let _ = writeln!(out);
            let _ = writeln!(out, "---- {name} stdout, after the test ended ----");
            let _ = out.write_all(output);
            if !output.ends_with(b"\n") {
                let _ = writeln!(out);
            }
        }
        let _ = out.flush();
    }

    fn stray_output(&mut self, out: &mut dyn Write, heading: &str, output: &[u8]) {
        if output.is_empty() {
            return;
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{heading}:");
        let _ = writeln!(out);
        let _ = out.write_all(output);
        if !output.ends_with(b"\n") {
            let _ = writeln!(out);
        }
        let _ = out.flush();
    }

    fn run_errors(&mut self, out: &mut dyn Write, errors: &[(String, Vec<u8>)]) {
        if errors.is_empty() {
            return;
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "teardown failures:");
        let _ = writeln!(out);
        for (what, output) in errors {
            let _ = writeln!(out, "---- {what} ----");
            let _ = out.write_all(output);
            if !output.is_empty() && !output.ends_with(b"\n") {
                let _ = writeln!(out);
            }
            let _ = writeln!(out);
        }
        let _ = out.flush();
    }

    /// After the failures (JSON marks each result instead).
    fn flaky(&mut self, out: &mut dyn Write, flaky: &[(String, usize)]) {
        if flaky.is_empty() {
            return;
        }
        self.end_line(out);
        let _ = writeln!(out);
        let _ = writeln!(out, "flaky (passed on a retry):");
        for (name, tries) in flaky {
            let _ = writeln!(out, "    {name} (passed on try {tries})");
        }
        let _ = out.flush();
    }

    fn interrupted(
        &mut self,
        out: &mut dyn Write,
        signal: &str,
        cancelled: &[String],
        not_run: &[String],
    ) {
        self.end_line(out);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            super::messages::interrupted_summary(signal, cancelled.len(), not_run.len())
        );
        for name in cancelled {
            let _ = writeln!(out, "    cancelled: {name}");
        }
        for name in not_run {
            let _ = writeln!(out, "    not started: {name}");
        }
        let _ = out.flush();
    }

    /// The `test result:` line, then the slowest tests.
    fn summary(&mut self, out: &mut dyn Write, summary: &Summary<'_>) {
        let Summary {
            counts,
            failed,
            elapsed,
            slowest,
        } = *summary;
        let text = if failed {
            self.paint(RED, "FAILED")
        } else {
            self.paint(GREEN, "ok")
        };
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "test result: {text}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; finished in {:.2}s",
            counts.passed,
            counts.failed,
            counts.ignored,
            counts.filtered_out,
            elapsed.as_secs_f64()
        );
        let _ = writeln!(out);
        timings::write_slowest(out, slowest);
        let _ = out.flush();
    }

    fn shuffle_note(&mut self, out: &mut dyn Write, seed: u64) {
        let _ = writeln!(
            out,
            "note: the tests ran in shuffled order (shuffle seed: {seed}); to repeat it, run \
             with `--shuffle-seed {seed}` or {}={seed}",
            crate::config::SHUFFLE_SEED_ENV
        );
        let _ = out.flush();
    }

    fn note(&mut self, out: &mut dyn Write, text: &str) -> bool {
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
        true
    }
}
