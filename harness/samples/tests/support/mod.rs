//! What several sample targets share.

/// Appends `line` to the file named by `PORTALTEST_SAMPLE_LOG`, for the end-to-end tests
/// to read (what ran, in which order); does nothing when it is unset.
pub fn log(line: &str) {
    if let Ok(path) = std::env::var("PORTALTEST_SAMPLE_LOG") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        // One write of the whole line: with O_APPEND it lands whole even when several
        // worker processes log at once (`writeln!` may write the text and the newline
        // apart, and another process's line can land between them).
        f.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}
