//! The JSON format: libtest's JSON lines (`--format json -Z unstable-options`), as
//! libtest-mimic 0.8 writes them. Its stdout holds events only: a suite's start and
//! end, and each test's start and result.

use std::io::Write;
use std::time::Duration;

use super::format::{Format, Outcome, Summary};

/// libtest's JSON lines.
pub(crate) struct Json;

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

impl Format for Json {
    fn is_json(&self) -> bool {
        true
    }

    fn title(&mut self, out: &mut dyn Write, num_tests: usize, shuffle_seed: Option<u64>) {
        let seed = shuffle_seed
            .map(|s| format!(r#", "shuffle_seed": {s}"#))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            r#"{{ "type": "suite", "event": "started", "test_count": {num_tests}{seed} }}"#
        );
        let _ = out.flush();
    }

    fn started(&mut self, out: &mut dyn Write, name: &str) {
        let _ = writeln!(
            out,
            r#"{{ "type": "test", "event": "started", "name": "{}" }}"#,
            json_escape(name)
        );
        let _ = out.flush();
    }

    /// `"exec_time": 0.123` with `time`; a failure carries its output as `stdout`.
    fn outcome(
        &mut self,
        out: &mut dyn Write,
        name: &str,
        outcome: &Outcome,
        output: &[u8],
        time: Option<Duration>,
    ) {
        let exec_time = time
            .map(|t| format!(r#", "exec_time": {}"#, t.as_secs_f64()))
            .unwrap_or_default();
        let (event, extra) = match outcome {
            Outcome::Passed => ("ok", String::new()),
            Outcome::Flaky(tries) => ("ok", format!(r#", "flaky": true, "tries": {tries}"#)),
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
            out,
            r#"{{ "type": "test", "name": "{}", "event": "{event}"{exec_time}{extra} }}"#,
            json_escape(name)
        );
        let _ = out.flush();
    }

    /// The suite's end; the slowest tests are not listed (with `--report-time` each
    /// result has its `exec_time`).
    fn summary(&mut self, out: &mut dyn Write, summary: &Summary<'_>) {
        let Summary {
            counts,
            failed,
            elapsed,
            ..
        } = *summary;
        let _ = writeln!(
            out,
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
        let _ = out.flush();
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
}
