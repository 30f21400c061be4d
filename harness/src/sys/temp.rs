//! Temporary files of this process, created exclusively with mode 0600.

use std::fs::File;
use std::io;

/// A new temporary file of this process (`portaltest-TAG-PID-N`, mode 0600, created
/// exclusively), open for reading and appending, and its path.
fn named_temp_file(tag: &str) -> io::Result<(File, std::path::PathBuf)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = std::env::temp_dir().join(format!(
        "portaltest-{tag}-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.read(true).append(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path)?;
    Ok((file, path))
}

/// A new anonymous temporary file (its name removed at once, so nothing is left in the
/// temp dir whatever ends the run), open for reading and appending: a capture file, a
/// worker's board.
pub(crate) fn temp_file(tag: &str) -> io::Result<File> {
    let (file, path) = named_temp_file(tag)?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}
