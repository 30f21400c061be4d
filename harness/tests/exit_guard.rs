//! A test that calls `std::process::exit` (even with 0) fails the run, naming the test,
//! instead of ending it with the test's exit code and no summary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

mod common;

fn binary() -> &'static PathBuf {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    &BINS.get_or_init(|| common::build_samples(&["exit_guard"]))["exit_guard"]
}

#[test]
fn exit_zero_in_a_supervised_test_fails_it_and_the_others_still_pass() {
    let r = common::run_sample(binary(), &["--skip", "isolated"], common::NO_ENV);
    r.assert_code(101)
        .assert_stdout("test exits_with_zero ... FAILED")
        .assert_stdout("test passes ... ok")
        .assert_stdout("note: the worker process exited with code 0 while this test was running")
        .assert_stdout("test result: FAILED. 1 passed; 1 failed;");
}

#[test]
fn exit_zero_in_a_test_fails_the_run_and_names_the_test() {
    // In one process, the atexit guard turns the exit into a failure.
    let r = common::run_sample(
        binary(),
        &["--skip", "isolated"],
        &[("PORTALTEST_IN_PROCESS", "1")],
    );
    r.assert_code(101);
    assert!(
        r.stderr
            .contains("while test `exits_with_zero` was running")
            && r.stderr.contains("Exiting with 101"),
        "{}",
        r.stderr
    );
}

#[test]
fn exit_in_an_isolated_test_names_it_too() {
    let r = common::run_sample(
        binary(),
        &["--exact", "isolated_exits_with_zero"],
        common::NO_ENV,
    );
    r.assert_code(101);
    assert!(
        r.stderr
            .contains("while test `isolated_exits_with_zero` was running"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_run_without_exits_is_unaffected() {
    common::run_sample(binary(), &["--exact", "passes"], common::NO_ENV)
        .assert_code(0)
        .assert_stdout("test result: ok. 1 passed;");
}
