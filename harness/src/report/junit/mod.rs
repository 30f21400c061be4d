//! The JUnit report: [`Junit`] collects the results the report hands it, as the JUnit
//! report shows them, and writes them at the end of the run with [`xml`].

use std::io::Write;
use std::time::Duration;

use crate::protocol::events::Verdict;
use crate::report::attempt::{with_note, Attempt};

pub(crate) mod xml;

/// Where the JUnit report goes, and what it will hold.
pub(crate) struct Junit {
    /// The test binary's name (the report's suite).
    suite: String,
    /// `None`: stdout (`--format junit`).
    path: Option<std::path::PathBuf>,
    cases: Vec<xml::Case>,
}

impl Junit {
    pub(crate) fn new(suite: String, path: Option<std::path::PathBuf>) -> Junit {
        Junit {
            suite,
            path,
            cases: Vec::new(),
        }
    }

    /// Test `name` was ignored (not run).
    pub(crate) fn ignored(&mut self, name: &str, reason: Option<&str>) {
        self.cases.push(xml::Case {
            name: name.to_string(),
            time: None,
            status: xml::Status::Ignored {
                reason: reason.map(str::to_string),
            },
            output: Vec::new(),
            earlier: Vec::new(),
        });
    }

    /// Test `name`'s result: its final try's verdict, output, note (why it failed) and
    /// time, after its failed tries `earlier` (retries).
    pub(crate) fn finished(
        &mut self,
        name: &str,
        verdict: Verdict,
        output: &[u8],
        note: Option<&str>,
        took: Option<Duration>,
        earlier: &[Attempt],
    ) {
        self.cases.push(xml::Case {
            name: name.to_string(),
            time: took,
            status: match verdict {
                Verdict::Passed => xml::Status::Passed,
                Verdict::Failed | Verdict::Interrupted => xml::Status::Failed {
                    message: failure_message(output, note),
                },
            },
            output: with_note(output.to_vec(), note),
            earlier: earlier
                .iter()
                .map(|a| xml::Attempt {
                    time: a.took,
                    message: failure_message(&a.output, a.note.as_deref()),
                    output: with_note(a.output.clone(), a.note.as_deref()),
                })
                .collect(),
        });
    }

    /// Writes the report, with the run's failures that belong to no test (`errors`) and
    /// its wall time, to its file or stdout; the error to show if it cannot.
    pub(crate) fn write(
        self,
        errors: &[(String, Vec<u8>)],
        elapsed: Duration,
    ) -> Result<(), String> {
        let mut report = Vec::new();
        let written =
            xml::write(&self.suite, &self.cases, errors, elapsed, &mut report).and_then(|()| {
                match &self.path {
                    Some(path) => std::fs::write(path, &report),
                    None => {
                        let mut out = std::io::stdout().lock();
                        out.write_all(&report).and_then(|()| out.flush())
                    }
                }
            });
        written.map_err(|err| {
            let whither = match &self.path {
                Some(p) => p.display().to_string(),
                None => "stdout".into(),
            };
            format!("portaltest: error: cannot write the JUnit report to {whither}: {err}")
        })
    }
}

/// The short reason a test failed, for the JUnit `message`: the note's first line, else
/// the panic message (the line after `thread '..' panicked at ..:`).
fn failure_message(output: &[u8], note: Option<&str>) -> String {
    if let Some(line) = note.and_then(|n| n.lines().find(|l| !l.trim().is_empty())) {
        return line.trim().to_string();
    }
    let text = String::from_utf8_lossy(output);
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("thread '") && line.contains("panicked") {
            if let Some(msg) = lines.find(|l| !l.trim().is_empty()) {
                return msg.trim().to_string();
            }
        }
    }
    "failed".to_string()
}
