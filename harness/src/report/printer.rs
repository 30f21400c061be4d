//! [`Printer`]: results on the console in the format the command line chose (once, in
//! [`Printer::new`]: [`Human`] or [`Json`]), the `--logfile` lines, and the test times
//! shown ([`Timings`]).
//!
//! Results are written to the *original* stdout (a saved duplicate while capture
//! redirects fd 1), and every result is one whole line written when the test finishes,
//! so interleaved tests never split each other's lines.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use libtest_mimic::{Arguments, ColorSetting, FormatSetting};

use super::format::{Counts, Format, Outcome, Summary};
use super::human::Human;
use super::json::Json;
use super::timings::{self, Timings};
use super::writer::Background;

pub(crate) struct Printer {
    out: Box<dyn Write>,
    format: Box<dyn Format>,
    /// `--logfile`: one line per result, as libtest writes it (`ok NAME`).
    log: Option<Box<dyn Write>>,
    timings: Timings,
}

impl Printer {
    pub(crate) fn new(args: &Arguments, out: Box<dyn Write>, is_terminal: bool) -> Printer {
        let setting = if args.quiet {
            FormatSetting::Terse
        } else {
            args.format.unwrap_or(FormatSetting::Pretty)
        };
        let format: Box<dyn Format> = match setting {
            FormatSetting::Json => Box::new(Json),
            FormatSetting::Pretty | FormatSetting::Terse => {
                let color = match args.color.unwrap_or(ColorSetting::Auto) {
                    ColorSetting::Always => true,
                    ColorSetting::Never => false,
                    ColorSetting::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none(),
                };
                Box::new(Human::new(setting == FormatSetting::Terse, color))
            }
        };
        Printer {
            out,
            format,
            log: None,
            timings: Timings::default(),
        }
    }

    /// `--report-time` and `PORTALTEST_SLOWEST`.
    pub(crate) fn set_timing(&mut self, report_time: bool, slowest: Option<usize>) {
        self.timings = Timings::new(report_time, slowest);
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
        self.format.is_json()
    }

    /// The run's start; `shuffle_seed`: the seed the tests were shuffled with.
    pub(crate) fn title(&mut self, num_tests: usize, shuffle_seed: Option<u64>) {
        self.format.title(&mut *self.out, num_tests, shuffle_seed);
    }

    /// After the summary of a failed shuffled run: how to repeat its order (pretty and
    /// terse; the JSON stream has the seed in its start event).
    pub(crate) fn shuffle_note(&mut self, seed: u64) {
        self.format.shuffle_note(&mut *self.out, seed);
    }

    /// A note after the summary, in the pretty and terse formats; false in JSON, whose
    /// stdout holds events only (the caller puts the note on stderr then).
    pub(crate) fn note(&mut self, text: &str) -> bool {
        self.format.note(&mut *self.out, text)
    }

    /// A test started (JSON only: the pretty line is written whole when it ends).
    pub(crate) fn started(&mut self, name: &str) {
        self.format.started(&mut *self.out, name);
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
        let time = self.timings.record(name, time);
        if let Some(log) = &mut self.log {
            let result = match outcome {
                Outcome::Passed | Outcome::Flaky(_) => "ok".to_string(),
                Outcome::Failed => "failed".to_string(),
                Outcome::Ignored(None) => "ignored".to_string(),
                Outcome::Ignored(Some(reason)) => format!("ignored: {reason}"),
                Outcome::Interrupted => "interrupted".to_string(),
            };
            let suffix = timings::suffix(time);
            let _ = writeln!(log, "{result} {name}{suffix}");
            let _ = log.flush();
        }
        self.format
            .outcome(&mut *self.out, name, outcome, output, time);
    }

    /// libtest's notice for a test still running after `after` (60 s by default):
    /// `test NAME has been running for over 60 seconds`, in the pretty and terse
    /// formats; nothing in the JSON format, whose stream carries results only.
    pub(crate) fn slow_notice(&mut self, name: &str, after: Duration) {
        self.format.slow_notice(&mut *self.out, name, after);
    }

    /// The captured output of tests, libtest style (`failures:` or `successes:`).
    pub(crate) fn outputs(&mut self, heading: &str, list: &[(String, Vec<u8>)]) {
        self.format.outputs(&mut *self.out, heading, list);
    }

    /// Output of tests' tasks after their test ended: under the heading, a section per
    /// test (pretty and terse formats).
    pub(crate) fn late_outputs(&mut self, heading: &str, list: &[(String, Vec<u8>)]) {
        self.format.late_outputs(&mut *self.out, heading, list);
    }

    /// Output that belongs to no test, under its own heading (pretty and terse formats).
    pub(crate) fn stray_output(&mut self, heading: &str, output: &[u8]) {
        self.format.stray_output(&mut *self.out, heading, output);
    }

    /// Problems outside any test (fixture teardown), in the same style.
    pub(crate) fn run_errors(&mut self, errors: &[(String, Vec<u8>)]) {
        self.format.run_errors(&mut *self.out, errors);
    }

    /// The tests that passed only on a retry (pretty and terse formats; JSON marks each
    /// result), after the failures.
    pub(crate) fn flaky(&mut self, flaky: &[(String, usize)]) {
        self.format.flaky(&mut *self.out, flaky);
    }

    /// Sends the results nowhere (`--format junit`: stdout gets the XML report).
    pub(crate) fn silence(&mut self) {
        self.out = Box::new(std::io::sink());
    }

    /// After an interrupt (pretty and terse formats; JSON has the cancelled tests as
    /// failed results): which signal, the tests it cancelled, and those it kept from
    /// starting.
    pub(crate) fn interrupted(&mut self, signal: &str, cancelled: &[String], not_run: &[String]) {
        self.format
            .interrupted(&mut *self.out, signal, cancelled, not_run);
    }

    /// The closing summary line, and in the pretty and terse formats the slowest tests
    /// (`PORTALTEST_SLOWEST`).
    pub(crate) fn summary(&mut self, counts: Counts, failed: bool, elapsed: Duration) {
        let slowest = self.timings.take_slowest();
        let summary = Summary {
            counts,
            failed,
            elapsed,
            slowest: &slowest,
        };
        self.format.summary(&mut *self.out, &summary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
