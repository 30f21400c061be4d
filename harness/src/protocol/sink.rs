//! Where the events of a run go.

use super::events::Event;

/// Where the events of a run go: to the supervisor, or (in one process) straight to
/// the report.
pub(crate) trait Sink {
    fn send(&self, event: Event);
    /// Sends what is buffered.
    fn flush(&self) {}
}
