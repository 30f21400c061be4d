//! Runs the `fixtures_ext` sample target of `harness/samples` (teardowns that take the
//! value, fixtures from spawned tasks, fallible fixtures behind a `Result` alias) and
//! checks its output. Helpers copied from `samples.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the sample once and returns its executable.
fn binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new(cargo())
            .current_dir(workspace_root())
            .args([
                "test",
                "-p",
                "portaltest-samples",
                "--no-run",
                "--message-format=json",
                "--test",
                "fixtures_ext",
            ])
            .output()
            .expect("cannot run cargo");
        assert!(
            out.status.success(),
            "building the sample failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["reason"] == "compiler-artifact")
            .find(|msg| msg["target"]["name"] == "fixtures_ext")
            .and_then(|msg| msg["executable"].as_str().map(PathBuf::from))
            .expect("no executable for `fixtures_ext` in cargo's output")
    })
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    log: Vec<String>,
}

impl Run {
    fn assert_stdout(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn run(tag: &str, args: &[&str]) -> Run {
    let log = std::env::temp_dir().join(format!(
        "portaltest-fixtures-ext-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    let out = Command::new(binary())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("PORTALTEST_SAMPLE_LOG", &log)
        .env_remove("RUST_TEST_THREADS")
        .env_remove("PORTALTEST_TIMEOUT")
        .env_remove("PORTALTEST_BLOCKING_WARN_MS")
        .env_remove("NEXTEST")
        .env_remove("RUST_LOG")
        .output()
        .expect("cannot run sample");
    let lines = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let _ = std::fs::remove_file(&log);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        log: lines,
    }
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
