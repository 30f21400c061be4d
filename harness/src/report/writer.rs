//! [`Background`]: the writer that hands the results to a thread of its own, which
//! writes them to stdout, so that a consumer that stops reading never stalls the
//! caller.

use std::io::Write;

/// The most bytes a [`Background`] takes in one write.
const BACKGROUND_CHUNK: usize = 64 * 1024;

/// A writer that hands what it is given to a thread that writes it to stdout.
pub(crate) struct Background {
    tx: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// The writer and its thread; `None` if the thread cannot be started.
    pub(crate) fn start() -> Option<Background> {
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
    /// Everything queued is written before the drop returns.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
