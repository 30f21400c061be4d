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
        writeln!(f, "{line}").unwrap();
    }
}
