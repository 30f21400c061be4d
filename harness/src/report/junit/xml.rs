//! The JUnit XML report of a run (the format CI servers read: GitLab, Jenkins, GitHub
//! test reporters), written with quick-junit, the serializer cargo-nextest uses, so that
//! a report reads as nextest's does: the same elements for failures, retries and flaky
//! tests.

use std::io::{self, Write};
use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite, XmlString,
};

/// One test's result as the JUnit report shows it.
pub(crate) struct Case {
    /// libtest's name, e.g. "users::creates_user".
    pub(crate) name: String,
    /// From the test's start to its verdict (waits included); None if not run.
    pub(crate) time: Option<Duration>,
    /// The verdict of the final attempt.
    pub(crate) status: Status,
    /// Captured output of the final attempt (stdout and stderr are merged).
    pub(crate) output: Vec<u8>,
    /// Earlier attempts that failed (retries): with a final Passed the test is flaky.
    pub(crate) earlier: Vec<Attempt>,
}

/// The verdict of a test's final attempt.
pub(crate) enum Status {
    /// The test passed (possibly after failed attempts, see [`Case::earlier`]).
    Passed,
    /// `message`: the short reason (first line of the panic / note), e.g. "test timed out after 1s".
    Failed {
        /// The short reason, shown as the failure's `message` attribute.
        message: String,
    },
    /// `#[ignore]`d and not run.
    Ignored {
        /// `#[ignore = "reason"]`'s reason, if it has one.
        reason: Option<String>,
    },
}

/// One failed attempt of a test that was retried.
pub(crate) struct Attempt {
    /// From the attempt's start to its verdict; None if unknown.
    pub(crate) time: Option<Duration>,
    /// The short reason the attempt failed, like [`Status::Failed`]'s `message`.
    pub(crate) message: String,
    /// Captured output of the attempt (stdout and stderr are merged).
    pub(crate) output: Vec<u8>,
}

/// The name of the report's `testsuites` element.
const REPORT_NAME: &str = "portaltest";

/// Writes one report: a `testsuites` named "portaltest" with one `testsuite` named `suite`
/// (the test binary's name, e.g. "api"), one `testcase` per case (classname = the suite,
/// name = test name), failures with message + output as the failure's description/system-out,
/// flaky tests (passed after failed attempts) as successes with `flakyFailure` reruns,
/// failed tests with earlier failed attempts as failures with `rerunFailure`s, ignored as skipped.
/// `errors`: failures of the run that belong to no test (e.g. ("fixture `db` teardown", output)),
/// each as a testcase with an `<error>`. `total`: the run's wall time; `timestamp` optional.
///
/// In detail:
///
/// * a failed test's `<failure message="..">` holds the final attempt's output as its
///   text (where GitLab and Jenkins look for the details of a failure: the panic message,
///   its location, the backtrace); it gets no `<system-out>` of its own, which would
///   repeat the same text;
/// * each earlier attempt is a `<flakyFailure>` (final verdict passed) or
///   `<rerunFailure>` (final verdict failed) with its message, time and `<system-out>`,
///   the layout of Maven Surefire's schema that nextest also writes;
/// * a passed test's output is not written, as libtest and nextest do by default: it is
///   rarely wanted, and a run's passing tests can print a great deal;
/// * `<skipped message="reason">` for an ignored test, without a time (it did not run);
/// * a run-level error's `message` is the first non-empty line of its output (the cause:
///   the testcase's name already says what failed), or the name when there is no output;
/// * captured output goes through [`clean`]: lossy UTF-8, no control characters that
///   XML 1.0 forbids, so the file always parses.
///
/// No `timestamp` attribute is written: the report must not depend on the clock (it is
/// compared in tests), and the CI servers that read it do not need one.
///
/// The report is built in memory and written with one `write_all`, so an error of `out`
/// comes back with its own `io::ErrorKind`, and a report is never cut short by a
/// serialization error halfway through.
pub(crate) fn write(
    suite: &str,
    cases: &[Case],
    errors: &[(String, Vec<u8>)],
    total: Duration,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut test_suite = TestSuite::new(clean(suite.as_bytes()));
    test_suite.set_time(total);
    for case in cases {
        test_suite.add_test_case(test_case(suite, case));
    }
    for (name, output) in errors {
        test_suite.add_test_case(run_error(suite, name, output));
    }
    let mut report = Report::new(REPORT_NAME);
    report.set_time(total);
    report.add_test_suite(test_suite);
    let mut buf = Vec::new();
    report.serialize(&mut buf).map_err(io::Error::other)?;
    out.write_all(&buf)
}

/// The `testcase` of one test.
fn test_case(suite: &str, case: &Case) -> TestCase {
    let status = match &case.status {
        Status::Passed => {
            // quick-junit writes the reruns of a success as `flakyFailure`s.
            let mut status = TestCaseStatus::success();
            status.add_reruns(case.earlier.iter().map(rerun));
            status
        }
        Status::Failed { message } => {
            // The reruns of a non-success default to `rerunFailure`s (`FlakyOrRerun::Rerun`).
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(clean(message.as_bytes()));
            if !case.output.is_empty() {
                status.set_description(clean(&case.output));
            }
            status.add_reruns(case.earlier.iter().map(rerun));
            status
        }
        Status::Ignored { reason } => {
            let mut status = TestCaseStatus::skipped();
            if let Some(reason) = reason {
                status.set_message(clean(reason.as_bytes()));
            }
            status
        }
    };
    let mut test_case = TestCase::new(clean(case.name.as_bytes()), status);
    test_case.set_classname(clean(suite.as_bytes()));
    if let Some(time) = case.time {
        test_case.set_time(time);
    }
    test_case
}

/// One earlier failed attempt, as a `flakyFailure` or `rerunFailure`.
fn rerun(attempt: &Attempt) -> TestRerun {
    let mut rerun = TestRerun::new(NonSuccessKind::Failure);
    rerun.set_message(clean(attempt.message.as_bytes()));
    if let Some(time) = attempt.time {
        rerun.set_time(time);
    }
    if !attempt.output.is_empty() {
        rerun.set_system_out(clean(&attempt.output));
    }
    rerun
}

/// The `testcase` of a failure of the run that belongs to no test: an `<error>` (not a
/// `<failure>`: nothing asserted it, and CI servers count errors apart from failed tests).
fn run_error(suite: &str, name: &str, output: &[u8]) -> TestCase {
    let text = clean(output);
    let message = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or(name);
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_message(message);
    if !text.is_empty() {
        status.set_description(text.as_str());
    }
    let mut test_case = TestCase::new(clean(name.as_bytes()), status);
    test_case.set_classname(clean(suite.as_bytes()));
    test_case
}

/// Columns between tab stops, as terminals expand tabs.
const TAB_WIDTH: usize = 8;

/// Makes captured bytes fit for XML 1.0 text or an attribute, keeping what a reader of
/// the report needs.
///
/// Invalid UTF-8 becomes U+FFFD (lossy conversion). quick-junit's `XmlString`, which
/// every string of the report passes through, then removes ANSI escape sequences (colors)
/// and every C0 control character except `\n` (`\0`, BEL, backspace, a lone ESC ...),
/// which XML 1.0 forbids. Two things are done here first:
///
/// * `XmlString` would also remove tabs and `\r`, gluing words together (`a\tb` becomes
///   `ab`; a progress line redrawn with `\r` runs into the next one): tabs are expanded
///   to spaces up to the next tab stop (color sequences take no column), `\r\n` becomes
///   `\n` and a lone `\r` a `\n`;
/// * `XmlString` keeps U+FFFE and U+FFFF, which XML 1.0 forbids too (a parser rejects
///   the whole file): they become U+FFFD, the mark of the lossy conversion.
///
/// Every other char a Rust string can hold is allowed by XML 1.0 (surrogates cannot
/// occur in a `str`), and quick-xml escapes `<`, `>`, `&` and quotes.
fn clean(bytes: &[u8]) -> XmlString {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut column = 0;
    // Inside an escape sequence (after ESC) or a CSI sequence (after `ESC [`, up to its
    // final byte `@`..=`~`): what `XmlString` removes takes no column.
    let mut escape = false;
    let mut csi = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                // `\r\n`: the `\n` comes next.
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                    column = 0;
                }
            }
            '\n' => {
                out.push('\n');
                column = 0;
            }
            '\t' => {
                let spaces = TAB_WIDTH - column % TAB_WIDTH;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\u{FFFE}' | '\u{FFFF}' => {
                out.push('\u{FFFD}');
                column += 1;
            }
            _ => {
                out.push(c);
                if csi {
                    csi = !('@'..='~').contains(&c);
                } else if escape {
                    escape = false;
                    csi = c == '[';
                } else if c == '\x1b' {
                    escape = true;
                } else if !c.is_control() {
                    column += 1;
                }
            }
        }
    }
    XmlString::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_junit::FlakyOrRerun;

    fn case(name: &str, status: Status, output: &[u8], earlier: Vec<Attempt>) -> Case {
        Case {
            name: name.to_string(),
            time: Some(Duration::from_millis(250)),
            status,
            output: output.to_vec(),
            earlier,
        }
    }

    fn failed(message: &str) -> Status {
        Status::Failed {
            message: message.to_string(),
        }
    }

    fn attempt(message: &str, output: &[u8]) -> Attempt {
        Attempt {
            time: Some(Duration::from_millis(100)),
            message: message.to_string(),
            output: output.to_vec(),
        }
    }

    /// The report as text; it must parse back (well-formed) and hold only chars that
    /// XML 1.0 allows.
    fn render(cases: &[Case], errors: &[(String, Vec<u8>)]) -> (String, Report) {
        let mut out = Vec::new();
        write("api", cases, errors, Duration::from_millis(1500), &mut out).unwrap();
        let xml = String::from_utf8(out).expect("the report is UTF-8");
        // XML 1.0's `Char` production (a `char` is never a surrogate).
        let bad: Vec<char> = xml
            .chars()
            .filter(|&c| {
                !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
                    && c < '\u{10000}'
            })
            .collect();
        assert!(bad.is_empty(), "chars XML 1.0 forbids: {bad:?} in\n{xml}");
        let report = Report::deserialize_from_str(&xml)
            .unwrap_or_else(|e| panic!("the report does not parse: {e}\n{xml}"));
        (xml, report)
    }

    fn find<'a>(report: &'a Report, name: &str) -> &'a TestCase {
        report.test_suites[0]
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap_or_else(|| panic!("no testcase {name}"))
    }

    #[test]
    fn every_kind_of_result() {
        let cases = [
            case(
                "users::creates_user",
                Status::Passed,
                b"not written",
                vec![],
            ),
            case(
                "users::deletes_user",
                failed("assertion `left == right` failed"),
                b"thread 'users::deletes_user' panicked at tests/api.rs:9:5:\nassertion failed\n",
                vec![],
            ),
            Case {
                time: None,
                ..case(
                    "slow",
                    Status::Ignored {
                        reason: Some("needs a database".into()),
                    },
                    b"",
                    vec![],
                )
            },
            case(
                "flaky",
                Status::Passed,
                b"fine now",
                vec![attempt("connection refused", b"first try\n")],
            ),
            case(
                "always_fails",
                failed("test timed out after 1s"),
                b"third",
                vec![attempt("boom 1", b"first"), attempt("boom 2", b"second")],
            ),
        ];
        let errors = [(
            "fixture `db` teardown".to_string(),
            b"\nfixture `db` teardown failed: disk full\nmore\n".to_vec(),
        )];
        let (xml, report) = render(&cases, &errors);

        assert_eq!(report.name.as_deref(), Some("portaltest"));
        assert_eq!(report.test_suites.len(), 1);
        let suite = &report.test_suites[0];
        assert_eq!(suite.name.as_str(), "api");
        for (r, s) in [
            (report.tests, suite.tests),
            (report.failures, suite.failures),
            (report.errors, suite.errors),
            (report.skipped, suite.skipped),
        ] {
            assert_eq!(r, s);
        }
        assert_eq!(
            (suite.tests, suite.failures, suite.errors, suite.skipped),
            (6, 2, 1, 1)
        );
        assert_eq!(report.time, Some(Duration::from_millis(1500)));
        assert!(xml.contains(r#"time="1.500""#), "{xml}");
        assert!(suite
            .test_cases
            .iter()
            .all(|c| c.classname.as_deref() == Some("api")));

        let passed = find(&report, "users::creates_user");
        assert_eq!(passed.status, TestCaseStatus::success());
        assert_eq!(passed.time, Some(Duration::from_millis(250)));
        assert!(passed.system_out.is_none() && !xml.contains("not written"));

        match &find(&report, "users::deletes_user").status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                description,
                reruns,
                ..
            } => {
                assert_eq!(message.as_deref(), Some("assertion `left == right` failed"));
                assert!(description
                    .as_deref()
                    .unwrap()
                    .starts_with("thread 'users::deletes_user' panicked at tests/api.rs:9:5:"));
                assert!(reruns.runs.is_empty());
            }
            other => panic!("not a failure: {other:?}"),
        }

        let ignored = find(&report, "slow");
        assert_eq!(ignored.time, None);
        match &ignored.status {
            TestCaseStatus::Skipped { message, .. } => {
                assert_eq!(message.as_deref(), Some("needs a database"))
            }
            other => panic!("not skipped: {other:?}"),
        }

        // Flaky: a success whose failed attempt is a `flakyFailure`.
        assert!(xml.contains("<flakyFailure"), "{xml}");
        match &find(&report, "flaky").status {
            TestCaseStatus::Success { flaky_runs } => {
                assert_eq!(flaky_runs.len(), 1);
                let run = &flaky_runs[0];
                assert_eq!(run.kind, NonSuccessKind::Failure);
                assert_eq!(run.message.as_deref(), Some("connection refused"));
                // quick-junit's deserializer trims text; the report keeps it as it was.
                assert_eq!(run.system_out.as_deref(), Some("first try"));
                assert!(
                    xml.contains("<system-out>first try\n</system-out>"),
                    "{xml}"
                );
                assert_eq!(run.time, Some(Duration::from_millis(100)));
            }
            other => panic!("not a success: {other:?}"),
        }

        // Failed after retries: a failure with a `rerunFailure` per earlier attempt.
        assert_eq!(xml.matches("<rerunFailure").count(), 2, "{xml}");
        match &find(&report, "always_fails").status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                description,
                reruns,
                ..
            } => {
                assert_eq!(message.as_deref(), Some("test timed out after 1s"));
                assert_eq!(description.as_deref(), Some("third"));
                assert_eq!(reruns.kind, FlakyOrRerun::Rerun);
                let messages: Vec<_> = reruns
                    .runs
                    .iter()
                    .map(|r| (r.message.as_deref(), r.system_out.as_deref()))
                    .collect();
                assert_eq!(
                    messages,
                    [
                        (Some("boom 1"), Some("first")),
                        (Some("boom 2"), Some("second"))
                    ]
                );
            }
            other => panic!("not a failure: {other:?}"),
        }

        // A failure of the run: an `<error>` whose message is the cause.
        match &find(&report, "fixture `db` teardown").status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                message,
                description,
                ..
            } => {
                assert_eq!(
                    message.as_deref(),
                    Some("fixture `db` teardown failed: disk full")
                );
                assert!(description.as_deref().unwrap().contains("more"));
            }
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn a_run_error_without_output_is_named_by_its_name() {
        let (_, report) = render(&[], &[("fixture `db` teardown".into(), Vec::new())]);
        match &find(&report, "fixture `db` teardown").status {
            TestCaseStatus::NonSuccess {
                message,
                description,
                ..
            } => {
                assert_eq!(message.as_deref(), Some("fixture `db` teardown"));
                assert_eq!(description.as_deref(), None);
            }
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn an_empty_run() {
        let (_, report) = render(&[], &[]);
        assert_eq!(
            (report.tests, report.failures, report.errors, report.skipped),
            (0, 0, 0, 0)
        );
        assert_eq!(report.test_suites[0].name.as_str(), "api");
    }

    #[test]
    fn control_characters_and_invalid_utf8() {
        let output = b"\x1b[31mred\x1b[0m nul\0 bell\x07 bs\x08 del\x7f \
                       bad\xff\xfe utf8 nonchar\xef\xbf\xbe\xef\xbf\xbf <&>\"' ]]>\n\
                       a\tb\x1b[1m\x1b[0m\tc\n50%\r100%\r\nend\x1b"
            .to_vec();
        let (xml, report) = render(
            &[case(
                "dirty",
                failed("\x1b[1mpanicked\x1b[0m\0 at \"x\" <y>"),
                &output,
                vec![attempt("earlier\x07", &output)],
            )],
            &[("run\0error".into(), output.clone())],
        );
        let expected = "red nul bell bs del\u{7f} bad\u{FFFD}\u{FFFD} utf8 \
                        nonchar\u{FFFD}\u{FFFD} <&>\"' ]]>\n\
                        a       b       c\n50%\n100%\nend";
        match &find(&report, "dirty").status {
            TestCaseStatus::NonSuccess {
                message,
                description,
                reruns,
                ..
            } => {
                assert_eq!(message.as_deref(), Some("panicked at \"x\" <y>"));
                assert_eq!(description.as_deref(), Some(expected));
                assert_eq!(reruns.runs[0].message.as_deref(), Some("earlier"));
                assert_eq!(reruns.runs[0].system_out.as_deref(), Some(expected));
            }
            other => panic!("not a failure: {other:?}"),
        }
        let error = find(&report, "runerror");
        assert!(matches!(
            &error.status,
            TestCaseStatus::NonSuccess { description: Some(d), .. } if d.as_str() == expected
        ));
        // Escaped, not raw: `<y>` in an attribute, `]]>` in text.
        assert!(xml.contains("&lt;y&gt;") && xml.contains("]]&gt;"), "{xml}");
    }

    #[test]
    fn tabs_expand_to_tab_stops() {
        assert_eq!(clean(b"\tx").as_str(), "        x");
        assert_eq!(
            clean(b"abc\tx\n1234567\ty\n12345678\tz").as_str(),
            "abc     x\n1234567 y\n12345678        z"
        );
        // Color sequences take no column.
        assert_eq!(clean(b"\x1b[32mok\x1b[0m\tx").as_str(), "ok      x");
    }

    #[test]
    fn an_error_of_the_writer_is_returned() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = write("api", &[], &[], Duration::ZERO, &mut Full).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
