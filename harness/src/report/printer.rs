//! The pretty, terse and JSON result printers, in libtest's formats (the format strings
//! are libtest-mimic 0.8's, which follow libtest; captured output is shown the way
//! libtest shows it: `---- NAME stdout ----`).
//!
//! Results are written to the *original* stdout (a saved duplicate while capture
//! redirects fd 1), and every result is one whole line written when the test finishes,
//! so interleaved tests never split each other's lines.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use libtest_mimic::{Arguments, ColorSetting, FormatSetting};

use crate::fmt::{exec_time, running_for};

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

pub(crate) struct Printer {
    out: Box<dyn Write>,
    format: FormatSetting,
    color: bool,
    /// `--logfile`: one line per result, as libtest writes it (`ok NAME`).
    log: Option<Box<dyn Write>>,
    /// Terse format: results (dots) were written on the current line.
    mid_line: bool,
    /// `--report-time`: results show the test's time (pretty, JSON, log file).
    report_time: bool,
    /// `PORTALTEST_SLOWEST=N`: how many of the slowest tests to list after the summary.
    slowest: Option<usize>,
    /// The tests that ran and their times (kept for the list of the slowest only).
    times: Vec<(String, Duration)>,
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// The most bytes a [`Background`] takes in one write.
const BACKGROUND_CHUNK: usize = 64 * 1024;

/// A writer that hands what it is given to a thread that writes it to stdout.
struct Background {
    tx: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    fn start() -> Option<Background> {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let thread = std::thread::Builder::new()
            .name("portaltest-stdout".into())
            .spawn(move || {
                let mut out = std::io::stdout().lock();
                for chunk in rx {
                    if out.write_all(&chunk).is_err() {
                        // stdout is gone (EPIPE): the rest is dropped, as a direct
                        // write's error would be.
                        return;
                    }
                    // Nothing more queued: what was printed shows now.
                    let _ = out.flush();
                }
            })
            .ok()?;
        Some(Background {
            tx: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Write for Background {
    /// Takes at most [`BACKGROUND_CHUNK`] bytes a call (`write_all` loops): a big
    /// output is queued in pieces that the thread writes and frees as it goes, not
    /// copied whole beside the original.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = bytes.len().min(BACKGROUND_CHUNK);
        if let Some(tx) = &self.tx {
            let _ = tx.send(bytes[..n].to_vec());
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// JSON string escaping as RFC 8259 (and escape8259, which libtest-mimic uses) does it.
pub(crate) fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Counts for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub filtered_out: u64,
}

impl Printer {
    pub(crate) fn new(args: &Arguments, out: Box<dyn Write>, is_terminal: bool) -> Printer {
        let format = if args.quiet {
            FormatSetting::Terse
        } else {
            args.format.unwrap_or(FormatSetting::Pretty)
        };
        let color = match args.color.unwrap_or(ColorSetting::Auto) {
            ColorSetting::Always => true,
            ColorSetting::Never => false,
            ColorSetting::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none(),
        };
        Printer {
            out,
            format,
            color,
            log: None,
            mid_line: false,
            report_time: false,
            slowest: None,
            times: Vec::new(),
        }
    }

    /// `--report-time` and `PORTALTEST_SLOWEST`.
    pub(crate) fn set_timing(&mut self, report_time: bool, slowest: Option<usize>) {
        self.report_time = report_time;
        self.slowest = slowest;
    }

    /// Writes a line per result to `log` too (`--logfile`).
    pub(crate) fn set_log(&mut self, log: Option<std::fs::File>) {
        self.log = log.map(|f| Box::new(f) as Box<dyn Write>);
    }

    /// A printer to the process's stdout (no capture active).
    pub(crate) fn stdout(args: &Arguments) -> Printer {
        let term = std::io::stdout().is_terminal();
        Printer::new(args, Box::new(std::io::stdout()), term)
    }

    /// Prints to stdout from a thread of its own: a consumer that stops reading (a
    /// pager, a full pipe) stalls that thread, never the caller (the supervisor's
    /// handling of events, deadlines and signals). Everything is written by the time
    /// the printer is dropped.
    pub(crate) fn stdout_in_background(args: &Arguments) -> Printer {
        let term = std::io::stdout().is_terminal();
        let out: Box<dyn Write> = match Background::start() {
            Some(background) => Box::new(background),
            None => Box::new(std::io::stdout()),
        };
        Printer::new(args, out, term)
    }

    pub(crate) fn is_json(&self) -> bool {
        self.format == FormatSetting::Json
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// "running 3 tests", or the JSON suite start; with the shuffle seed as libtest
    /// shows it (`running 3 tests (shuffle seed: 42)`, `"shuffle_seed": 42`).
    pub(crate) fn title(&mut self, num_tests: usize, shuffle_seed: Option<u64>) {
        match self.format {
            FormatSetting::Pretty | FormatSetting::Terse => {
                let plural_s = if num_tests == 1 { "" } else { "s" };
                let seed = shuffle_seed
                    .map(|s| format!(" (shuffle seed: {s})"))
                    .unwrap_or_default();
                let _ = writeln!(self.out);
                let _ = writeln!(self.out, "running {num_tests} test{plural_s}{seed}");
            }
            FormatSetting::Json => {
                let seed = shuffle_seed
                    .map(|s| format!(r#", "shuffle_seed": {s}"#))
                    .unwrap_or_default();
                let _ = writeln!(
                    self.out,
                    r#"{{ "type": "suite", "event": "started", "test_count": {num_tests}{seed} }}"#
                );
            }
        }
        let _ = self.out.flush();
    }

    /// After the summary of a failed shuffled run: how to repeat its order (pretty and
    /// terse; the JSON stream has the seed in its start event).
    pub(crate) fn shuffle_note(&mut self, seed: u64) {
        if self.format == FormatSetting::Json {
            return;
        }
        let _ = writeln!(
            self.out,
            "note: the tests ran in shuffled order (shuffle seed: {seed}); to repeat it, run \
             with `--shuffle-seed {seed}` or {}={seed}",
            crate::config::SHUFFLE_SEED_ENV
        );
        let _ = self.out.flush();
    }

    /// A note after the summary, in the pretty and terse formats; false in JSON, whose
    /// stdout holds events only (the caller puts the note on stderr then).
    pub(crate) fn note(&mut self, text: &str) -> bool {
        if self.format == FormatSetting::Json {
            return false;
        }
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
        true
    }

    /// A test started (JSON only: the pretty line is written whole when it ends).
    pub(crate) fn started(&mut self, name: &str) {
        if self.format == FormatSetting::Json {
            let _ = writeln!(
                self.out,
                r#"{{ "type": "test", "event": "started", "name": "{}" }}"#,
                json_escape(name)
            );
            let _ = self.out.flush();
        }
    }

    /// A test ended. `output` is its captured output (JSON carries it for failures);
    /// `time` is how long it took, from its start to its verdict (`None`: it did not
    /// run). With `--report-time` the time follows the result as in libtest: ` <0.123s>`
    /// in the pretty format and the log file, `"exec_time": 0.123` in JSON; the terse
    /// format shows none (neither does libtest's).
    pub(crate) fn outcome(
        &mut self,
        name: &str,
        outcome: &Outcome,
        output: &[u8],
        time: Option<Duration>,
    ) {
        if let (Some(_), Some(time)) = (self.slowest, time) {
            self.times.push((name.to_string(), time));
        }
        let time = time.filter(|_| self.report_time);
        let suffix = time
            .map(|t| format!(" <{}>", exec_time(t)))
            .unwrap_or_default();
        if let Some(log) = &mut self.log {
            let result = match outcome {
                Outcome::Passed | Outcome::Flaky(_) => "ok".to_string(),
                Outcome::Failed => "failed".to_string(),
                Outcome::Ignored(None) => "ignored".to_string(),
                Outcome::Ignored(Some(reason)) => format!("ignored: {reason}"),
                Outcome::Interrupted => "interrupted".to_string(),
            };
            let _ = writeln!(log, "{result} {name}{suffix}");
            let _ = log.flush();
        }
        match self.format {
            FormatSetting::Pretty => {
                let text = self.outcome_text(outcome);
                let _ = writeln!(self.out, "test {name} ... {text}{suffix}");
            }
            FormatSetting::Terse => {
                let (c, color) = match outcome {
                    Outcome::Passed | Outcome::Flaky(_) => (".", GREEN),
                    Outcome::Failed => ("F", RED),
                    Outcome::Ignored(_) => ("i", YELLOW),
                    Outcome::Interrupted => ("I", YELLOW),
                };
                let text = self.paint(color, c);
                let _ = write!(self.out, "{text}");
                self.mid_line = true;
            }
            FormatSetting::Json => {
                let exec_time = time
                    .map(|t| format!(r#", "exec_time": {}"#, t.as_secs_f64()))
                    .unwrap_or_default();
                let (event, extra) = match outcome {
                    Outcome::Passed => ("ok", String::new()),
                    Outcome::Flaky(tries) => {
                        ("ok", format!(r#", "flaky": true, "tries": {tries}"#))
                    }
                    Outcome::Failed | Outcome::Interrupted => (
                        "failed",
                        format!(
                            r#", "stdout": "{}""#,
                            json_escape(&String::from_utf8_lossy(output))
                        ),
                    ),
                    Outcome::Ignored(None) => ("ignored", String::new()),
                    Outcome::Ignored(Some(reason)) => (
                        "ignored",
                        format!(r#", "message": "{}""#, json_escape(reason)),
                    ),
                };
                let _ = writeln!(
                    self.out,
                    r#"{{ "type": "test", "name": "{}", "event": "{event}"{exec_time}{extra} }}"#,
                    json_escape(name)
                );
            }
        }
        let _ = self.out.flush();
    }

    /// libtest's notice for a test still running after `after` (60 s by default):
    /// `test NAME has been running for over 60 seconds`, on a line of its own, in the
    /// pretty and terse formats (libtest's `write_timeout`); in the terse format it
    /// starts a new line if results were written on the current one. Nothing in the
    /// JSON format, whose stream carries results only.
    pub(crate) fn slow_notice(&mut self, name: &str, after: Duration) {
        if self.format == FormatSetting::Json {
            return;
        }
        if std::mem::take(&mut self.mid_line) {
            let _ = writeln!(self.out);
        }
        let how_long = running_for(after);
        let _ = writeln!(self.out, "test {name} has been running for over {how_long}");
        let _ = self.out.flush();
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

    /// The captured output of tests, libtest style (`failures:` or `successes:`).
    pub(crate) fn outputs(&mut self, heading: &str, list: &[(String, Vec<u8>)]) {
        if self.format == FormatSetting::Json || list.is_empty() {
            return;
        }
        let _ = writeln!(self.out);
        let _ = writeln!(self.out, "{heading}:");
        let _ = writeln!(self.out);
        for (name, output) in list.iter().filter(|(_, output)| !output.is_empty()) {
            let _ = writeln!(self.out, "---- {name} stdout ----");
            let _ = self.out.write_all(output);
            if !output.is_empty() && !output.ends_with(b"\n") {
                let _ = writeln!(self.out);
            }
            let _ = writeln!(self.out);
        }
        let _ = writeln!(self.out);
        let _ = writeln!(self.out, "{heading}:");
        for (name, _) in list {
            let _ = writeln!(self.out, "    {name}");
        }
        let _ = self.out.flush();
    }

    /// Output of tests' tasks after their test ended: under the heading, a section per
    /// test, `---- NAME stdout, after the test ended ----` (nothing when empty).
    pub(crate) fn late_outputs(&mut self, heading: &str, list: &[(String, Vec<u8>)]) {
        if self.format == FormatSetting::Json || list.is_empty() {
            return;
        }
        let _ = writeln!(self.out);
        let _ = writeln!(self.out, "{heading}:");
        for (name, output) in list {
            let _ = writeln!(self.out);
            let _ = writeln!(self.out, "---- {name} stdout, after the test ended ----");
            let _ = self.out.write_all(output);
            if !output.ends_with(b"\n") {
                let _ = writeln!(self.out);
            }
        }
        let _ = self.out.flush();
    }

    /// Output that belongs to no test, under its own heading (nothing when empty).
    pub(crate) fn stray_output(&mut self, heading: &str, output: &[u8]) {
        if self.format == FormatSetting::Json || output.is_empty() {
            return;
        }
        let _ = writeln!(self.out);
        let _ = writeln!(self.out, "{heading}:");
        let _ = writeln!(self.out);
        let _ = self.out.write_all(output);
        if !output.ends_with(b"\n") {
            let _ = writeln!(self.out);
        }
        let _ = self.out.flush();
    }

    /// Problems outside any test (fixture teardown), in the same style.
    pub(crate) fn run_errors(&mut self, errors: &[(String, Vec<u8>)]) {
        if self.format == FormatSetting::Json || errors.is_empty() {
            return;
        }
        let _ = writeln!(self.out);
        let _ = writeln!(self.out, "teardown failures:");
        let _ = writeln!(self.out);
        for (what, output) in errors {
            let _ = writeln!(self.out, "---- {what} ----");
            let _ = self.out.write_all(output);
            if !output.is_empty() && !output.ends_with(b"\n") {
                let _ = writeln!(self.out);
            }
            let _ = writeln!(self.out);
        }
        let _ = self.out.flush();
    }

    /// `PORTALTEST_SLOWEST=N`, after the summary (pretty and terse formats; the JSON
    /// stream has `exec_time` with `--report-time` instead): the N slowest tests, slowest
    /// first, ties by name.
    ///
    /// ```text
    /// slowest 2 tests (each from its start to its verdict, waits included):
    ///     0.301s  timings::slow
    ///     0.152s  timings::medium
    /// ```
    fn write_slowest(&mut self) {
        let Some(n) = self.slowest else {
            return;
        };
        let mut times = std::mem::take(&mut self.times);
        if times.is_empty() {
            return;
        }
        times.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        times.truncate(n);
        let plural_s = if times.len() == 1 { "" } else { "s" };
        let _ = writeln!(
            self.out,
            "slowest {} test{plural_s} (each from its start to its verdict, waits included):",
            times.len()
        );
        let width = times
            .iter()
            .map(|(_, t)| exec_time(*t).len())
            .max()
            .unwrap_or(0);
        for (name, time) in &times {
            let _ = writeln!(self.out, "    {:>width$}  {name}", exec_time(*time));
        }
        let _ = writeln!(self.out);
    }

    /// The tests that passed only on a retry (pretty and terse formats; JSON marks each
    /// result), after the failures.
    pub(crate) fn flaky(&mut self, flaky: &[(String, usize)]) {
        if self.format == FormatSetting::Json || flaky.is_empty() {
            return;
        }
        if std::mem::take(&mut self.mid_line) {
            let _ = writeln!(self.out);
        }
        let _ = writeln!(self.out);
        let _ = writeln!(self.out, "flaky (passed on a retry):");
        for (name, tries) in flaky {
            let _ = writeln!(self.out, "    {name} (passed on try {tries})");
        }
        let _ = self.out.flush();
    }

    /// Sends the results nowhere (`--format junit`: stdout gets the XML report).
    pub(crate) fn silence(&mut self) {
        self.out = Box::new(std::io::sink());
    }

    /// After an interrupt (pretty and terse formats; JSON has the cancelled tests as
    /// failed results): which signal, the tests it cancelled, and those it kept from
    /// starting.
    pub(crate) fn interrupted(&mut self, signal: &str, cancelled: &[String], not_run: &[String]) {
        if self.format == FormatSetting::Json {
            return;
        }
        if std::mem::take(&mut self.mid_line) {
            let _ = writeln!(self.out);
        }
        let _ = writeln!(self.out);
        let _ = writeln!(
            self.out,
            "{}",
            super::messages::interrupted_summary(signal, cancelled.len(), not_run.len())
        );
        for name in cancelled {
            let _ = writeln!(self.out, "    cancelled: {name}");
        }
        for name in not_run {
            let _ = writeln!(self.out, "    not started: {name}");
        }
        let _ = self.out.flush();
    }

    /// The closing summary line.
    pub(crate) fn summary(&mut self, counts: Counts, failed: bool, elapsed: Duration) {
        match self.format {
            FormatSetting::Pretty | FormatSetting::Terse => {
                let text = if failed {
                    self.paint(RED, "FAILED")
                } else {
                    self.paint(GREEN, "ok")
                };
                let _ = writeln!(self.out);
                let _ = writeln!(
                    self.out,
                    "test result: {text}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; finished in {:.2}s",
                    counts.passed,
                    counts.failed,
                    counts.ignored,
                    counts.filtered_out,
                    elapsed.as_secs_f64()
                );
                let _ = writeln!(self.out);
                self.write_slowest();
            }
            FormatSetting::Json => {
                let _ = writeln!(
                    self.out,
                    concat!(
                        r#"{{ "type": "suite", "event": "{}", "passed": {}, "failed": {},"#,
                        r#" "ignored": {}, "measured": 0, "filtered_out": {}, "exec_time": {} }}"#,
                    ),
                    if failed { "failed" } else { "ok" },
                    counts.passed,
                    counts.failed,
                    counts.ignored,
                    counts.filtered_out,
                    elapsed.as_secs_f64()
                );
            }
        }
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escape_follows_rfc_8259() {
        assert_eq!(
            json_escape("a\"b\\c\nd\te\u{1}"),
            "a\\\"b\\\\c\\nd\\te\\u0001"
        );
        assert_eq!(json_escape("ünïcode"), "ünïcode");
    }

    #[test]
    fn pretty_lines_match_libtest() {
        let (mut p, buf) = printer_into_buffer(&["bin", "--color", "never"]);
        p.title(2, None);
        p.outcome(
            "a::b",
            &Outcome::Passed,
            b"",
            Some(Duration::from_millis(3)),
        );
        p.outcome("c", &Outcome::Ignored(Some("slow")), b"", None);
        p.summary(
            Counts {
                passed: 1,
                ignored: 1,
                ..Counts::default()
            },
            false,
            Duration::from_millis(10),
        );
        let text = String::from_utf8(buf.borrow().clone()).unwrap();
        assert_eq!(
            text,
            "\nrunning 2 tests\ntest a::b ... ok\ntest c ... ignored, slow\n\n\
             test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\n"
        );
    }

    /// Collects what a printer writes.
    struct Sink(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A printer for the command line `argv`, and the buffer it writes to.
    fn printer_into_buffer(argv: &[&str]) -> (Printer, std::rc::Rc<std::cell::RefCell<Vec<u8>>>) {
        let buf = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let args = Arguments::from_iter(argv.iter().copied());
        (Printer::new(&args, Box::new(Sink(buf.clone())), false), buf)
    }

    #[test]
    fn slow_notice_is_a_line_of_its_own() {
        let sink = |argv: &[&str]| {
            let (mut p, buf) = printer_into_buffer(argv);
            p.outcome("a", &Outcome::Passed, b"", None);
            p.slow_notice("slow::one", Duration::from_secs(60));
            p.outcome("b", &Outcome::Passed, b"", None);
            p.slow_notice("slow::two", Duration::from_millis(1500));
            let text = String::from_utf8(buf.borrow().clone()).unwrap();
            text
        };
        assert_eq!(
            sink(&["bin", "--color", "never"]),
            "test a ... ok\ntest slow::one has been running for over 60 seconds\n\
             test b ... ok\ntest slow::two has been running for over 1500 milliseconds\n"
        );
        assert_eq!(
            sink(&["bin", "--color", "never", "-q"]),
            ".\ntest slow::one has been running for over 60 seconds\n\
             .\ntest slow::two has been running for over 1500 milliseconds\n"
        );
        assert_eq!(
            sink(&["bin", "--format", "json", "-Z", "unstable-options"])
                .lines()
                .count(),
            2
        );
    }

    /// What the printer writes for four results (one failed, one ignored) and the
    /// summary, with `--report-time` or not and `PORTALTEST_SLOWEST`.
    fn timed_run(argv: &[&str], report_time: bool, slowest: Option<usize>) -> String {
        let (mut p, buf) = printer_into_buffer(argv);
        p.set_timing(report_time, slowest);
        let ms = Duration::from_millis;
        p.outcome(
            "fast",
            &Outcome::Passed,
            b"",
            Some(Duration::from_micros(651)),
        );
        p.outcome("bad", &Outcome::Failed, b"hi\n", Some(ms(1500)));
        p.outcome("ign", &Outcome::Ignored(None), b"", None);
        p.outcome("slow", &Outcome::Passed, b"", Some(ms(120)));
        p.summary(Counts::default(), true, ms(10));
        let text = String::from_utf8(buf.borrow().clone()).unwrap();
        text
    }

    #[test]
    fn report_time_and_slowest() {
        // libtest (nightly, `-Z unstable-options --report-time`) prints the same lines.
        assert_eq!(
            timed_run(&["bin", "--color", "never"], true, Some(2)),
            "test fast ... ok <0.001s>\ntest bad ... FAILED <1.500s>\ntest ign ... ignored\n\
             test slow ... ok <0.120s>\n\n\
             test result: FAILED. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\n\
             slowest 2 tests (each from its start to its verdict, waits included):\n\
             \x20   1.500s  bad\n\
             \x20   0.120s  slow\n\n"
        );
        let plain = timed_run(&["bin", "--color", "never"], false, None);
        assert!(
            plain.starts_with("test fast ... ok\ntest bad ... FAILED\n"),
            "{plain}"
        );
        assert!(!plain.contains("slowest"), "{plain}");
        let terse = timed_run(&["bin", "--color", "never", "-q"], true, Some(1));
        assert!(terse.starts_with(".F"), "{terse}");
        assert!(terse.ends_with("slowest 1 test (each from its start to its verdict, waits included):\n    1.500s  bad\n\n"), "{terse}");
        let json = timed_run(
            &["bin", "--format", "json", "-Z", "unstable-options"],
            true,
            Some(2),
        );
        assert!(
            json.contains(
                r#"{ "type": "test", "name": "fast", "event": "ok", "exec_time": 0.000651 }"#
            ),
            "{json}"
        );
        assert!(
            json.contains(r#"{ "type": "test", "name": "bad", "event": "failed", "exec_time": 1.5, "stdout": "hi\n" }"#),
            "{json}"
        );
        assert!(
            json.contains(r#"{ "type": "test", "name": "ign", "event": "ignored" }"#),
            "{json}"
        );
        assert!(!json.contains("slowest"), "{json}");
        let json = timed_run(
            &["bin", "--format", "json", "-Z", "unstable-options"],
            false,
            None,
        );
        assert!(
            !json.contains(r#""name": "fast", "event": "ok", "exec_time""#),
            "{json}"
        );
    }
}
