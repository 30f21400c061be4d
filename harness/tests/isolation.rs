//! Isolated tests, paused clocks and runtimes of a test's own, end to end: runs the
//! sample targets `isolation` and `isolation_fail` of `harness/samples` as processes and
//! checks their output and exit codes.
//!
//! The samples are built once per run of this file with
//! `cargo test -p portaltest-samples --no-run --message-format=json --test ..`, into the
//! same target directory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

const SAMPLES: &[&str] = &["isolation", "isolation_fail"];

mod common;
use common::{run_sample, Run};

fn binaries() -> &'static HashMap<String, PathBuf> {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINS.get_or_init(|| common::build_samples(SAMPLES))
}

fn run_with_env(sample: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_sample(&binaries()[sample], args, env)
}

fn run(sample: &str, args: &[&str]) -> Run {
    run_with_env(sample, args, &[])
}

#[test]
fn isolated_and_start_paused_tests_pass() {
    let r = run("isolation", &[]);
    r.assert_code(0);
    for line in [
        "test paused::sleeps_an_hour_at_once ... ok",
        "test paused::sync_code_awaits_on_a_paused_clock ... ok",
        "test own::runs_on_a_thread_named_after_it ... ok",
        "test own::pauses_its_own_clock ... ok",
        "test own::builds_blocks_on_and_drops_a_runtime ... ok",
        "test own::async_tests_may_be_isolated ... ok",
        "test own::should_panic_works ... ok",
        "test own::guards_run_their_cleanup ... ok",
        "test meanwhile::blocks_until_a_shared_test_ran ... ok",
        "test meanwhile::shared_test_runs_on_the_main_thread ... ok",
        "test fixtures::shared_test_uses_a_fixture ... ok",
        "test result: ok. 11 passed; 0 failed; 3 ignored;",
    ] {
        r.assert_stdout(line);
    }
    // An hour of paused time took no real time.
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
    // Blocking its own thread is allowed: no warning about the runtime thread.
    assert!(
        !r.stderr.contains("blocked the runtime thread"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_threads_counts_isolated_tests() {
    run(
        "isolation",
        &["--ignored", "exclusive::", "--test-threads", "1"],
    )
    .assert_code(0)
    .assert_stdout("test result: ok. 3 passed; 0 failed;");
    // Without the cap they run at the same time: isolated tests beside shared ones.
    run("isolation", &["--ignored", "exclusive::"])
        .assert_code(101)
        .assert_stdout("another test was in flight");
}

#[test]
fn pausing_the_shared_clock_fails_the_culprit_and_is_undone() {
    let r = run("isolation_fail", &["clock::"]);
    r.assert_code(101)
        .assert_stdout("test clock::pauses_the_shared_clock ... FAILED")
        .assert_stdout("test clock::pauses_it_again ... FAILED")
        .assert_stdout("test clock::timeouts_and_sleeps_take_real_time ... ok")
        .assert_stdout("test result: FAILED. 1 passed; 2 failed;")
        .assert_no_stdout("time is already frozen")
        .assert_no_stdout("not reached");
    for name in ["clock::pauses_the_shared_clock", "clock::pauses_it_again"] {
        let section = r.section(name);
        for needle in [
            &format!("note: `{name}` paused the clock of the shared runtime"),
            "The clock was resumed and the test cancelled",
            "`#[portaltest::test(start_paused = true)]`",
            "`#[portaltest::test(isolated)]`",
        ] {
            assert!(
                section.contains(needle),
                "{name}: lacks {needle:?}:\n{section}"
            );
        }
    }
    assert!(r
        .section("clock::pauses_the_shared_clock")
        .contains("about to pause"));
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
}

#[test]
fn a_clock_paused_by_a_spawned_task_is_resumed_with_a_warning() {
    let r = run("isolation_fail", &["spawned::"]);
    r.assert_code(0)
        .assert_stdout("test spawned::a_task_it_spawned_pauses_the_clock ... ok");
    assert!(
        r.stderr.contains(
            "portaltest: warning: the shared runtime's clock was found paused outside any \
             test's poll"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn a_runtime_on_the_shared_thread_fails_naming_the_fix() {
    let r = run("isolation_fail", &["runtimes::"]);
    r.assert_code(101)
        .assert_stdout("test runtimes::blocks_on_a_runtime_of_its_own ... FAILED")
        .assert_stdout("test runtimes::drops_a_runtime_of_its_own ... FAILED");
    for (name, tokio_says) in [
        (
            "runtimes::blocks_on_a_runtime_of_its_own",
            "Cannot start a runtime from within a runtime",
        ),
        (
            "runtimes::drops_a_runtime_of_its_own",
            "Cannot drop a runtime in a context where blocking is not allowed",
        ),
    ] {
        let section = r.section(name);
        let hint = section
            .find(&format!(
                "portaltest: `{name}` runs on the shared runtime's thread, where tokio does not \
                 allow starting, blocking on or dropping another runtime, nor blocking; `await_` \
                 the future instead of `block_on`, or build, use and drop that runtime on a \
                 thread of its own (`std::thread::scope`), as under `#[tokio::test]`"
            ))
            .unwrap_or_else(|| panic!("{name}: no hint:\n{section}"));
        let tokio = section
            .find(tokio_says)
            .unwrap_or_else(|| panic!("{name}: tokio's text is gone:\n{section}"));
        assert!(
            hint < tokio,
            "{name}: the hint is not above tokio's text:\n{section}"
        );
        assert!(
            section.contains(&format!("thread '{name}' panicked")),
            "{section}"
        );
    }
}

#[test]
fn isolated_tests_fail_like_shared_ones() {
    let r = run("isolation_fail", &["isolated::"]);
    r.assert_code(101)
        .assert_stdout("test isolated::uses_a_fixture ... FAILED")
        .assert_stdout("test isolated::shared_test_uses_the_same_fixture ... ok")
        .assert_stdout("test isolated::panics ... FAILED")
        .assert_stdout("test isolated::times_out_in_real_time ... FAILED")
        .assert_stdout("test isolated::blocks_on_a_runtime_of_its_own ... FAILED")
        .assert_stdout("test isolated::blocks_past_its_timeout ... ignored")
        .assert_stdout("test result: FAILED. 1 passed; 4 failed; 1 ignored;");

    // Inside its own runtime, as a `#[tokio::test]`: tokio refuses, the hint says so.
    let nested = r.section("isolated::blocks_on_a_runtime_of_its_own");
    for needle in [
        "thread 'isolated::blocks_on_a_runtime_of_its_own' panicked at ",
        "portaltest: `isolated::blocks_on_a_runtime_of_its_own` runs inside its own runtime, \
         as a `#[tokio::test]` does, where tokio does not allow starting, blocking on or \
         dropping another runtime",
        "Cannot start a runtime from within a runtime",
    ] {
        assert!(nested.contains(needle), "lacks {needle:?}:\n{nested}");
    }

    let fixture = r.section("isolated::uses_a_fixture");
    assert!(
        fixture.contains(
            "fixture `shared_value` was used in the isolated test `isolated::uses_a_fixture`: \
             fixtures live on the shared runtime's thread"
        ),
        "{fixture}"
    );

    // Panic messages and tracing events of an isolated test are attributed to it
    // exactly, whatever the shared tests do meanwhile.
    let panics = r.section("isolated::panics");
    for needle in [
        "thread 'isolated::panics' panicked at ",
        "isolated boom",
        "tracing event of the isolated test",
    ] {
        assert!(panics.contains(needle), "lacks {needle:?}:\n{panics}");
    }

    let timed_out = r.section("isolated::times_out_in_real_time");
    for needle in [
        "note: test timed out after 300ms (its `timeout = \"300ms\"`); it was cancelled and its stack unwound",
        // The cleanup ran on the test's own paused runtime (its 5 s sleep auto-advanced).
        "guard cleanup of the isolated test ran",
    ] {
        assert!(timed_out.contains(needle), "lacks {needle:?}:\n{timed_out}");
    }
    assert!(r.took < Duration::from_secs(4), "took {:?}", r.took);
}

#[test]
fn isolated_output_is_captured_and_shown_live_with_nocapture() {
    // Alone in the run, its plain `println!` lands in its own section too.
    let r = run("isolation_fail", &["--exact", "isolated::panics"]);
    r.assert_code(101);
    let section = r.section("isolated::panics");
    assert!(
        section.contains("printed by the isolated test"),
        "{section}"
    );
    assert!(section.contains("isolated boom"), "{section}");

    // With backtraces on, the panic is still captured in its own section.
    let traced = run_with_env(
        "isolation_fail",
        &["isolated::"],
        &[("RUST_BACKTRACE", "1")],
    );
    traced.assert_code(101);
    let section = traced.section("isolated::panics");
    assert!(
        section.contains("isolated boom") && section.contains("stack backtrace:"),
        "{section}"
    );

    let live = run(
        "isolation_fail",
        &["--exact", "isolated::panics", "--nocapture"],
    );
    live.assert_code(101)
        .assert_stdout("printed by the isolated test");
    assert!(
        live.stderr.contains("thread 'isolated::panics' panicked")
            && live.stderr.contains("isolated boom"),
        "{}",
        live.stderr
    );
}

#[test]
fn an_isolated_test_blocking_past_its_timeout_is_left_running() {
    let r = run(
        "isolation_fail",
        &["--ignored", "--exact", "isolated::blocks_past_its_timeout"],
    );
    r.assert_code(101)
        .assert_stdout("test isolated::blocks_past_its_timeout ... FAILED")
        .assert_stdout(
            "note: test timed out after 200ms (its `timeout = \"200ms\"`); its thread did not \
             respond to the cancellation within 5.00 s (it blocks?) and was left running",
        );
    // The run ends without waiting for the thread's 30 s.
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
}
