//! Runs the `fixtures_ext` sample target of `harness/samples` (teardowns that take the
//! value, fixtures from spawned tasks, fallible fixtures behind a `Result` alias) and
//! checks its output. Helpers copied from `samples.rs`.

use std::path::PathBuf;
use std::sync::OnceLock;

mod common;

fn binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::build_samples(&["fixtures_ext"])["fixtures_ext"].clone())
}

/// A run of the sample, and the lines it appended to its log file.
struct Run {
    run: common::Run,
    log: Vec<String>,
}

impl std::ops::Deref for Run {
    type Target = common::Run;
    fn deref(&self) -> &common::Run {
        &self.run
    }
}

fn run(tag: &str, args: &[&str]) -> Run {
    let log = common::log_path(&format!("fixtures-ext-{tag}"));
    let run = common::run_sample(
        binary(),
        args,
        &[("PORTALTEST_SAMPLE_LOG", log.as_os_str())],
    );
    let lines = common::read_log(&log);
    let _ = std::fs::remove_file(&log);
    Run { run, log: lines }
}

#[test]
fn teardown_takes_the_value() {
    let r = run("by-value", &["--exact", "uses_server"]);
    r.assert_code(0)
        .assert_stdout("test uses_server ... ok\n")
        .assert_stdout("test result: ok. 1 passed;");
    assert_eq!(r.log, ["server stopped cleanly"], "{}", r.stdout);
}

#[test]
fn teardown_by_value_with_a_live_reference_fails_naming_the_fixture() {
    let r = run("leaky", &["--exact", "keeps_a_reference"]);
    r.assert_code(101)
        .assert_stdout("test keeps_a_reference ... ok\n")
        .assert_stdout("fixture `leaky` teardown")
        .assert_stdout(
            "the teardown of fixture `leaky` takes the value, but 1 other reference to it is still alive",
        );
    assert!(
        !r.log.iter().any(|l| l == "teardown leaky ran"),
        "{:?}",
        r.log
    );
}

#[test]
fn fixture_from_tokio_spawn_says_what_to_do() {
    // The test itself checks the panic message of the spawned task.
    run("tokio-spawn", &["--exact", "first_use_from_tokio_spawn"])
        .assert_code(0)
        .assert_stdout("test first_use_from_tokio_spawn ... ok\n");
}

#[test]
fn fixture_from_portaltest_spawn_local_works() {
    run(
        "spawn-local",
        &["--exact", "first_use_from_portaltest_spawn_local"],
    )
    .assert_code(0)
    .assert_stdout("test first_use_from_portaltest_spawn_local ... ok\n");
}

#[test]
fn fallible_fixture_behind_a_result_alias() {
    run("alias", &["alias_"])
        .assert_code(101)
        .assert_stdout("test alias_ok_is_the_value ... ok\n")
        .assert_stdout("test alias_err_fails_the_test ... FAILED\n")
        .assert_stdout("fixture `aliased_err` failed: returned Err: \"no config file\"");
}
