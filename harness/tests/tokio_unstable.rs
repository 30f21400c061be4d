//! With `--cfg tokio_unstable` (tokio's task hooks), a task that a test starts with
//! `tokio::spawn` is charged to the test, as `portaltest::spawn_local` tasks always are.
//! Builds the `spawned` sample with `RUSTFLAGS="--cfg tokio_unstable"` into a target
//! directory of its own (a full build of the dependencies, a minute or more), so it is
//! `#[ignore]`d: CI runs it with `cargo test -p portaltest --test tokio_unstable --
//! --ignored`.

mod common;
use common::run_sample;

#[test]
#[ignore = "builds the samples again with --cfg tokio_unstable; run with --ignored"]
fn tokio_spawned_tasks_are_their_tests_with_tokio_unstable() {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| common::workspace_root().join("target"))
        .join("tokio-unstable");
    let bins = common::build_samples_with(
        &["spawned"],
        &[
            ("RUSTFLAGS", "--cfg tokio_unstable"),
            ("CARGO_TARGET_DIR", target.to_str().unwrap()),
        ],
    );
    let r = run_sample(&bins["spawned"], &["--show-output"], common::NO_ENV);
    r.assert_code(0)
        .assert_stdout("test result: ok. 6 passed; 0 failed;");
    // The test's own output now.
    assert!(
        r.section("tokio_task_prints").contains("TOKIO TASK\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "---- tokio_task_outlives_the_test stdout, after the test ended ----\n\
             TOKIO LATE\n"
        ),
        "{}",
        r.stdout
    );
    // Neither is output of no test; a fixture's task still is.
    let stray = r
        .stdout
        .find("output of no test")
        .map(|at| &r.stdout[at..])
        .unwrap_or_default();
    let stray = &stray[..stray.find("\nsuccesses:").unwrap_or(stray.len())];
    assert!(!stray.contains("TOKIO TASK"), "{}", r.stdout);
    assert!(stray.contains("FIXTURE TASK"), "{}", r.stdout);
}
