//! A worker's link to its supervisor: events out (a [`Sink`]), commands in, over the
//! Unix socket the supervisor gave the worker as its stdin.
//!
//! Events are buffered and written in batches: when the runtime is about to park, when
//! an event must arrive at once (output, a request for tests, a fixture's setup, a
//! teardown, the end), and every [`FLUSH_EVERY`] from a thread of the link's own, so
//! that a worker whose runtime thread blocks still tells what it started.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::protocol::events::{frames, Command, Event};
use crate::protocol::sink::Sink;

/// How often the link's thread flushes.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Buffered events beyond which a send flushes.
const FLUSH_AT: usize = 64 * 1024;

/// A worker's end of the socket, shared by the runtime thread (events), the watchdog
/// (warnings) and the link's thread (flushes).
pub(crate) struct Link {
    out: Mutex<(Vec<u8>, UnixStream)>,
}

impl Link {
    /// Starts the link on `stream`: commands are read on a thread of their own and
    /// handed to `on_command`; `Run` and `End` go to the returned channel (the run
    /// loop's source of tests). At the end of the stream (the supervisor is gone),
    /// `on_command` gets `Cancel` and the channel `End`.
    #[allow(unsafe_code)]
    pub(crate) fn start(
        stream: UnixStream,
        on_command: impl Fn(&Command) + Send + 'static,
    ) -> std::io::Result<(Arc<Link>, mpsc::UnboundedReceiver<Command>)> {
        let mut reader = stream.try_clone()?;
        let link = Arc::new(Link {
            out: Mutex::new((Vec::new(), stream)),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("portaltest-link".into())
            .spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = match reader.read(&mut chunk) {
                        Ok(0) => break,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    for frame in frames(&mut buf) {
                        let Some(command) = Command::decode(&frame) else {
                            continue;
                        };
                        on_command(&command);
                        if matches!(command, Command::Run { .. } | Command::End) {
                            let _ = tx.send(command);
                        }
                    }
                }
                // The supervisor holds its end until this process has exited: the end
                // of the stream means it died (SIGKILL, a crash). Nobody would stop
                // this worker or report what it does: it ends now, and so does every
                // process it started (its process group, which it leads).
                on_command(&Command::Cancel);
                let _ = tx.send(Command::End);
                if !crate::protocol::board::forked() {
                    // SAFETY: kill() has no memory-safety preconditions; 0 names this
                    // process's own group, which the supervisor made for this worker.
                    unsafe {
                        libc::kill(0, libc::SIGKILL);
                    }
                }
            })?;
        let flusher = Arc::downgrade(&link);
        std::thread::Builder::new()
            .name("portaltest-flush".into())
            .spawn(move || loop {
                std::thread::sleep(FLUSH_EVERY);
                match flusher.upgrade() {
                    Some(link) => link.flush(),
                    None => return,
                }
            })?;
        Ok((link, rx))
    }

    pub(crate) fn send(&self, event: &Event) {
        // Only the worker itself reports (a test's forked child would report twice).
        crate::protocol::board::exit_if_forked();
        let urgent = matches!(
            event,
            Event::Want { .. }
                | Event::Output { .. }
                | Event::FixtureSetup { .. }
                | Event::Teardown { .. }
                | Event::Stopped { .. }
                | Event::Done
        );
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        event.encode(&mut out.0);
        if urgent || out.0.len() >= FLUSH_AT {
            Self::write_out(&mut out);
        }
    }

    pub(crate) fn flush(&self) {
        if crate::protocol::board::forked() {
            return;
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        Self::write_out(&mut out);
    }

    fn write_out(out: &mut (Vec<u8>, UnixStream)) {
        let (buf, stream) = out;
        if !buf.is_empty() {
            // A supervisor that is gone reads nothing: the reader thread notices.
            let _ = stream.write_all(buf);
            buf.clear();
        }
    }
}

impl Sink for Arc<Link> {
    fn send(&self, event: Event) {
        Link::send(self, &event);
    }

    fn flush(&self) {
        Link::flush(self);
    }
}

/// The watchdog's warnings, as [`Event::Warn`]s (one per flushed write).
pub(crate) struct WarnWriter {
    pub(crate) link: Arc<Link>,
    pub(crate) buf: Vec<u8>,
}

impl Write for WarnWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let text = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            Link::send(&self.link, &Event::Warn { text });
            Link::flush(&self.link);
        }
        Ok(())
    }
}
