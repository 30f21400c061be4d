//! A failed try of a test that ran again ([`Attempt`]), and how a failure's note is
//! shown below the output it explains ([`with_note`]).

use std::time::Duration;

/// A failed attempt of a test that ran again (retries).
pub(crate) struct Attempt {
    pub(crate) output: Vec<u8>,
    pub(crate) note: Option<String>,
    pub(crate) took: Option<Duration>,
}

/// `output` with `note` on a line of its own below it.
pub(crate) fn with_note(mut output: Vec<u8>, note: Option<&str>) -> Vec<u8> {
    if let Some(note) = note {
        if !output.is_empty() && !output.ends_with(b"\n") {
            output.push(b'\n');
        }
        output.extend_from_slice(note.as_bytes());
        output.push(b'\n');
    }
    output
}
