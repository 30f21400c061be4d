//! A custom `main` that fails in every process but the first (the README allows a
//! custom `main` that calls `run_main`): it takes a lock file, so the supervisor gets
//! it and every worker process ends before it runs a test. The run must end, with the
//! workers' exit status and output (harness/tests/supervisor.rs).

use std::process::ExitCode;

#[portaltest::test]
fn never_runs_in_a_worker() {}

#[portaltest::test]
fn neither() {}

fn main() -> ExitCode {
    let lock = std::env::var_os("PORTALTEST_SAMPLE_LOCK").expect("PORTALTEST_SAMPLE_LOCK");
    let _lock = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
        .expect("cannot take the lock file");
    let code = portaltest::run_main();
    let _ = std::fs::remove_file(&lock);
    code
}
