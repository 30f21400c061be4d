//! The board: a word of memory that a worker shares with its supervisor, saying which
//! slot the worker is polling. It outlives the worker: when the worker dies (an abort,
//! a signal, `process::exit`, a kill after a hang), the supervisor reads from it which
//! test was running. Events cannot tell that: the last ones may die unsent with the
//! process, and a test that blocks sends none.
//!
//! The supervisor creates the board as a small file; the worker maps it shared and
//! stores to it around every poll (an atomic store, no system call). The supervisor
//! reads the file (`pread`): the mapping and the file are the same page cache.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Bytes in a board file.
pub(crate) const SIZE: u64 = 8;

/// The mapped word of this worker, if it is one.
static WORD: OnceLock<&'static AtomicU64> = OnceLock::new();

/// Maps `file` (made by [`create`]) for this process's life and publishes to it from
/// now on.
#[cfg(unix)]
fn attach(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    if file.metadata()?.len() < SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the board file is too short",
        ));
    }
    // SAFETY: maps `SIZE` bytes of a file that is at least that long, shared and
    // read-write; the kernel chooses the address, so no existing mapping is touched. The
    // mapping is never unmapped (it lives as long as the process, hence `'static`),
    // page-aligned (so suitably aligned for an `AtomicU64`), and only ever accessed
    // through that atomic: the supervisor reads the file with `pread`, which sees the
    // same page but never forms a Rust reference to it.
    let word = unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            SIZE as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        &*(ptr as *const AtomicU64)
    };
    let _ = WORD.set(word);
    Ok(())
}

#[cfg(not(unix))]
fn attach(_file: &File) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "worker processes need unix",
    ))
}

/// What a worker is polling, as the board holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Polled {
    /// The test of this id (index in the sorted list): its own code, or a fixture's
    /// setup on its behalf.
    Test(u32),
    /// The worker's slot of this index, which holds no test (a fixture's teardown).
    Slot(u32),
}

impl Polled {
    /// The word that says it (0: nothing is polled).
    pub(crate) fn word(self) -> u64 {
        match self {
            Polled::Test(id) => id as u64 + 1,
            Polled::Slot(slot) => (1 << 32) | (slot as u64 + 1),
        }
    }

    fn from_word(word: u64) -> Option<Polled> {
        let low = (word & 0xffff_ffff).checked_sub(1)? as u32;
        Some(if word >> 32 == 0 {
            Polled::Test(low)
        } else {
            Polled::Slot(low)
        })
    }
}

/// Publishes what is being polled now (a [`Polled::word`], 0 for nothing); returns
/// what was published before (polls nest).
#[inline]
pub(crate) fn publish(word: u64) -> u64 {
    match WORD.get() {
        Some(w) => w.swap(word, Ordering::Relaxed),
        None => 0,
    }
}

/// A new board, for a worker about to start: a temporary file with nothing published,
/// and its path (the worker opens it, then removes the name).
pub(crate) fn create() -> io::Result<(File, std::path::PathBuf)> {
    let (file, path) = crate::capture::named_temp_file("board")?;
    file.set_len(SIZE)?;
    Ok((file, path))
}

/// Opens the board at `path` (made by [`create`]), removes its name and attaches to it.
pub(crate) fn open(path: &std::path::Path) -> io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let _ = std::fs::remove_file(path);
    attach(&file)
}

/// What the worker of `board` was polling last.
pub(crate) fn read(board: &File) -> Option<Polled> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut word = [0u8; 8];
        board.read_exact_at(&mut word, 0).ok()?;
        Polled::from_word(u64::from_ne_bytes(word))
    }
    #[cfg(not(unix))]
    {
        let _ = board;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for p in [
            Polled::Test(0),
            Polled::Test(70_000),
            Polled::Slot(0),
            Polled::Slot(5),
        ] {
            assert_eq!(Polled::from_word(p.word()), Some(p));
        }
        assert_eq!(Polled::from_word(0), None);
    }

    #[test]
    fn a_board_file_shows_what_its_mapping_holds() {
        let (file, path) = create().unwrap();
        assert_eq!(read(&file), None);
        open(&path).unwrap();
        assert!(!path.exists(), "the worker removes the name");
        publish(Polled::Test(41).word());
        assert_eq!(read(&file), Some(Polled::Test(41)));
        publish(0);
        assert_eq!(read(&file), None);
    }
}
