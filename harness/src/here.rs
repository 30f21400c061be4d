//! What runs here, on this thread, for the code that reports it (the panic hook, the
//! `tracing` writer, fixtures): the isolated test whose thread this is and where its
//! output goes, and the time the current poll spent in the panic hook.

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Output of an isolated test that the harness can attribute exactly (its panic
/// messages and `tracing` events), collected while it runs.
pub(crate) type Buffer = Arc<Mutex<Vec<u8>>>;

struct Current {
    name: String,
    /// `None` with `--nocapture` (or when capture is unavailable): write live.
    buffer: Option<Buffer>,
}

thread_local! {
    /// Set on the thread of an isolated test.
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// The name of the isolated test this thread runs, if it is one.
pub(crate) fn current_name() -> Option<String> {
    CURRENT
        .try_with(|c| c.try_borrow().ok()?.as_ref().map(|c| c.name.clone()))
        .ok()
        .flatten()
}

/// On an isolated test's thread: its name and where its panic messages go.
pub(crate) fn current_target() -> Option<(String, Option<Buffer>)> {
    CURRENT
        .try_with(|c| {
            c.try_borrow()
                .ok()?
                .as_ref()
                .map(|c| (c.name.clone(), c.buffer.clone()))
        })
        .ok()
        .flatten()
}

/// Makes this thread the thread of isolated test `name`, whose panic messages and
/// `tracing` events go to `buffer` (`None`: live).
pub(crate) fn enter_isolated(name: String, buffer: Option<Buffer>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(Current { name, buffer }));
}

/// The writer of the harness's `tracing` subscriber: an isolated test's events go to
/// its buffer, everything else to stdout (that is, into the capture of the test being
/// polled).
pub(crate) enum TestWriter {
    Stdout(io::Stdout),
    Buffer(Buffer),
}

pub(crate) fn make_writer() -> TestWriter {
    match current_target() {
        Some((_, Some(buffer))) => TestWriter::Buffer(buffer),
        _ => TestWriter::Stdout(io::stdout()),
    }
}

impl Write for TestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            TestWriter::Stdout(out) => out.write(buf),
            TestWriter::Buffer(b) => {
                b.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            TestWriter::Stdout(out) => out.flush(),
            TestWriter::Buffer(_) => Ok(()),
        }
    }
}

thread_local! {
    /// Time spent in the panic hook during the current poll.
    pub(crate) static IN_PANIC_HOOK: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}
