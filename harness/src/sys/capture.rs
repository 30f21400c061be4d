//! Per-test output capture on stable Rust.
//!
//! std's own capture hook (`set_output_capture`) is unstable, and tests interleave on
//! one thread anyway, so capture works one level down: while the tests run, file
//! descriptors 1 and 2 point at one anonymous temporary file (a file, not a pipe, so a
//! chatty test never blocks on a full pipe). Every poll of a test's future is bracketed
//! by [`Capture::drain`]: what accumulated before the poll belongs to whoever ran before
//! (see [`crate::run`]), what accumulated during it belongs to the test. Results are
//! printed to saved duplicates of the original descriptors.
//!
//! Output written by other threads lands in whichever poll is in progress when it is
//! drained; output of code that runs outside any test's poll (a task spawned with
//! `tokio::task::spawn_local` without a portal of its own, for example) is forwarded to
//! the real stderr.

use std::fs::File;
use std::io::{self, Write};

/// The redirection of fd 1 and 2 into a temporary file, undone on drop.
pub(crate) struct Capture {
    #[cfg(unix)]
    imp: unix::Redirect,
}

impl Capture {
    /// Redirects stdout and stderr. Returns `None` when that is not possible here
    /// (non-unix, or a failing syscall), in which case output is simply not captured.
    pub(crate) fn start() -> Option<Capture> {
        #[cfg(unix)]
        {
            unix::Redirect::start().map(|imp| Capture { imp })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// A worker's capture: its fd 1 and 2 point at the file its supervisor made (and
    /// reads what is left in it when the worker dies).
    pub(crate) fn inherited() -> Option<Capture> {
        #[cfg(unix)]
        {
            unix::Redirect::inherited().map(|imp| Capture { imp })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// Hands what was written since the last drain to `each`, in pieces of at most
    /// `chunk` bytes, so that no more than one piece is held at a time however much a
    /// test printed.
    pub(crate) fn drain(&self, chunk: usize, each: impl FnMut(Vec<u8>)) {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        #[cfg(unix)]
        self.imp.drain(chunk, each);
        #[cfg(not(unix))]
        let _ = (chunk, each);
    }

    /// A handle on the original stdout.
    pub(crate) fn real_stdout(&self) -> File {
        #[cfg(unix)]
        {
            self.imp.real_stdout()
        }
        #[cfg(not(unix))]
        unreachable!()
    }

    /// A handle on the original stderr.
    pub(crate) fn real_stderr(&self) -> File {
        #[cfg(unix)]
        {
            self.imp.real_stderr()
        }
        #[cfg(not(unix))]
        unreachable!()
    }
}

/// Takes a worker's stdin, its link to the supervisor, and leaves /dev/null there.
#[cfg(unix)]
pub(crate) fn take_stdin() -> Option<std::os::fd::OwnedFd> {
    unix::Redirect::take_stdin()
}

#[cfg(unix)]
mod unix {
    use std::fs::{File, OpenOptions};
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    pub(super) struct Redirect {
        file: File,
        /// The original fd 1 and 2; `None` in a worker, whose fd 1 and 2 the
        /// supervisor pointed at the capture file when it started the process.
        saved: Option<(OwnedFd, OwnedFd)>,
    }

    fn dup(fd: i32) -> Option<OwnedFd> {
        // SAFETY: dup has no memory-safety preconditions; a valid result is a fresh fd
        // that nothing else owns, so OwnedFd may take it.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if new < 0 {
            None
        } else {
            // SAFETY: see above: `new` is a fresh, owned descriptor.
            Some(unsafe { OwnedFd::from_raw_fd(new) })
        }
    }

    fn dup2(from: i32, to: i32) -> bool {
        // SAFETY: dup2 onto 1 or 2 only replaces what those descriptors refer to; std's
        // stdout/stderr handles keep writing to "fd 1/2", which is exactly the intent.
        unsafe { libc::dup2(from, to) >= 0 }
    }

    impl Redirect {
        pub(super) fn start() -> Option<Redirect> {
            let file = crate::sys::temp::temp_file("capture").ok()?;
            let saved_out = dup(1)?;
            let saved_err = dup(2)?;
            if !dup2(file.as_raw_fd(), 1) {
                return None;
            }
            if !dup2(file.as_raw_fd(), 2) {
                dup2(saved_out.as_raw_fd(), 1);
                return None;
            }
            // What the engine prints right before it aborts the process (a portal stack
            // overflow) must reach the real stderr, not a capture nobody will read.
            stackportal::set_fatal_message_fd(saved_err.as_raw_fd());
            Some(Redirect {
                file,
                saved: Some((saved_out, saved_err)),
            })
        }

        /// A worker's capture: fd 1 (and 2) are the capture file already.
        pub(super) fn inherited() -> Option<Redirect> {
            use std::os::fd::AsFd;
            let file = File::from(std::io::stdout().as_fd().try_clone_to_owned().ok()?);
            Some(Redirect { file, saved: None })
        }

        /// Takes fd 0 (a worker's link to its supervisor) and points fd 0 at /dev/null,
        /// so that a test reading stdin cannot read the supervisor's commands.
        pub(super) fn take_stdin() -> Option<OwnedFd> {
            let link = dup(0)?;
            let null = OpenOptions::new().read(true).open("/dev/null").ok()?;
            dup2(null.as_raw_fd(), 0);
            Some(link)
        }

        pub(super) fn drain(&self, chunk: usize, mut each: impl FnMut(Vec<u8>)) {
            let len = match self.file.metadata() {
                Ok(m) => m.len(),
                Err(_) => return,
            };
            if len == 0 {
                return;
            }
            let mut f = &self.file;
            // Read from the start: the descriptor is O_APPEND, so its offset only
            // matters for reads; rewind it first.
            use std::io::Seek;
            if f.seek(std::io::SeekFrom::Start(0)).is_err() {
                return;
            }
            // To the end, as it is when each piece is read: what other threads append
            // meanwhile is taken too, so that the truncation below loses only what
            // lands between the last read and `set_len`, a window of one system call.
            // Pieces sized to what is there (most drains hold a few bytes), a chunk at
            // most.
            let mut left = len as usize;
            loop {
                let mut piece = vec![0; left.max(4096).min(chunk)];
                match f.read(&mut piece) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        piece.truncate(n);
                        left = left.saturating_sub(n);
                        each(piece);
                    }
                }
            }
            let _ = self.file.set_len(0);
            let _ = f.seek(std::io::SeekFrom::Start(0));
        }

        fn file_of(fd: &OwnedFd) -> File {
            File::from(
                fd.try_clone()
                    .expect("portaltest: cannot duplicate the saved stdout/stderr"),
            )
        }

        fn saved(&self) -> &(OwnedFd, OwnedFd) {
            self.saved
                .as_ref()
                .expect("portaltest: a worker's capture has no original stdout/stderr")
        }

        pub(super) fn real_stdout(&self) -> File {
            Self::file_of(&self.saved().0)
        }

        pub(super) fn real_stderr(&self) -> File {
            Self::file_of(&self.saved().1)
        }
    }

    impl Drop for Redirect {
        fn drop(&mut self) {
            let Some((saved_out, saved_err)) = &self.saved else {
                return;
            };
            stackportal::set_fatal_message_fd(2); // `saved_err` closes with us
            let _ = std::io::Write::flush(&mut std::io::stdout());
            dup2(saved_out.as_raw_fd(), 1);
            dup2(saved_err.as_raw_fd(), 2);
        }
    }
}
