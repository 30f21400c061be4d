//! Runs the sample targets of `harness/samples` (real portaltest binaries) and checks
//! their output and exit codes.
//!
//! The samples are built once per run of this file with
//! `cargo test -p portaltest-samples --no-run --message-format=json --test ..`, into the
//! same target directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SAMPLES: &[&str] = &[
    "quickstart",
    "outcomes",
    "fixtures",
    "teardown_fail",
    "concurrency",
    "overflow",
    "parity",
    "stack_limit",
    "timings",
    "rstest_cases",
    "blocking_warn",
    "spawned",
    "cpu_bound",
    "scheduling",
];

mod common;
use common::{cargo, run_sample, workspace_root, Run};

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

use common::{log_path, read_log};

#[test]
fn passing_target_exits_zero() {
    run("quickstart", &[])
        .assert_code(0)
        .assert_stdout("running 4 tests\n")
        .assert_stdout("test lists_users ... ok\n")
        .assert_stdout("test also_async ... ok\n")
        .assert_stdout("test users::creates_user ... ok\n")
        .assert_stdout("test users::slow_one ... ignored, slow\n")
        .assert_stdout("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in ");
}

#[test]
fn list_is_nextest_parsable() {
    let all = run("quickstart", &["--list", "--format", "terse"]);
    all.assert_code(0);
    assert_eq!(
        all.stdout,
        "also_async: test\nlists_users: test\nusers::creates_user: test\nusers::slow_one: test\n"
    );
    let ignored = run("quickstart", &["--list", "--format", "terse", "--ignored"]);
    assert_eq!(ignored.stdout, "users::slow_one: test\n");
}

#[test]
fn filters_exact_skip_and_ignored() {
    run("quickstart", &["users::"])
        .assert_code(0)
        .assert_stdout("running 2 tests\n")
        .assert_stdout("2 filtered out");
    let exact = run("quickstart", &["--exact", "lists_users"]);
    exact
        .assert_code(0)
        .assert_stdout("running 1 test\n")
        .assert_stdout("test lists_users ... ok");
    run("quickstart", &["--exact", "users"]).assert_stdout("running 0 tests\n");
    run("quickstart", &["--skip", "users::"])
        .assert_stdout("running 2 tests\n")
        .assert_no_stdout("creates_user");
    run("quickstart", &["--ignored"])
        .assert_code(0)
        .assert_stdout("running 1 test\n")
        .assert_stdout("test users::slow_one ... ok");
    run("quickstart", &["--include-ignored"]).assert_stdout("4 passed; 0 failed; 0 ignored");
}

#[test]
fn outcomes_are_reported_like_libtest() {
    let r = run("outcomes", &[]);
    r.assert_code(101);
    for line in [
        "test passes ... ok",
        "test fails_assert ... FAILED",
        "test returns_err ... FAILED",
        "test async_panics ... FAILED",
        "test should_panic_ok ... ok",
        "test should_panic_expected_ok ... ok",
        "test should_panic_wrong_message ... FAILED",
        "test should_panic_but_did_not ... FAILED",
        "test ignored_plain ... ignored\n",
        "test ignored_with_reason ... ignored, needs network",
        "test times_out ... FAILED",
        "test nested::deeper::named_by_path ... ok",
        "test result: FAILED. 5 passed; 6 failed; 2 ignored;",
    ] {
        r.assert_stdout(line);
    }
    let failures = r.failure_section();
    for needle in [
        "---- fails_assert stdout ----",
        "arithmetic is broken",
        "---- returns_err stdout ----\nError: \"bad thing happened\"",
        "async boom",
        "note: test did not panic as expected at ",
        "note: panic did not contain expected string\n      panic message: \"boom\"\n expected substring: \"xyz\"",
        "note: test timed out after 200ms",
        "failures:\n    async_panics\n    fails_assert\n    returns_err\n    should_panic_but_did_not\n    should_panic_wrong_message\n    times_out\n",
    ] {
        assert!(failures.contains(needle), "failures lack {needle:?}:\n{failures}");
    }
    // A passing test's output is not shown; should_panic's expected panic neither.
    r.assert_no_stdout("output of a passing test");
    r.assert_no_stdout("a big boom");
}

#[test]
fn output_is_captured_per_test() {
    let r = run("outcomes", &[]);
    let results = r.result_lines();
    // Nothing a test prints lands between the result lines.
    for line in results.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with("test ") || line.starts_with("running "),
            "stray line among results: {line:?}\n{}",
            r.stdout
        );
    }
    let failures = r.failure_section();
    let section = failures
        .split("---- fails_assert stdout ----\n")
        .nth(1)
        .unwrap()
        .split("\n---- ")
        .next()
        .unwrap();
    assert!(section.contains("stdout of the failing test"), "{section}");
    assert!(section.contains("stderr of the failing test"), "{section}");
    assert!(
        section.contains("tracing event of the failing test"),
        "{section}"
    );
    assert!(
        !section.contains("async boom"),
        "another test's panic in this section:\n{section}"
    );

    let shown = run("outcomes", &["--show-output", "--exact", "passes"]);
    shown
        .assert_code(0)
        .assert_stdout("successes:\n\n---- passes stdout ----\noutput of a passing test\n");

    let live = run("outcomes", &["--nocapture", "--exact", "passes"]);
    live.assert_code(0)
        .assert_stdout("output of a passing test\n");
}

#[test]
fn timeout_unwinds_the_stack_and_runs_cleanups() {
    let log = log_path("timeout");
    let r = run_with_env(
        "outcomes",
        &["--exact", "times_out"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    r.assert_code(101)
        .assert_stdout("test times_out ... FAILED")
        .assert_stdout("destructor ran on timeout")
        .assert_stdout("note: test timed out after 200ms (its `timeout = \"200ms\"`)");
    let lines = read_log(&log);
    assert!(lines.contains(&"destructor ran".to_string()), "{lines:?}");
    assert!(
        lines.contains(&"guard cleanup ran".to_string()),
        "{lines:?}"
    );
}

#[test]
fn run_wide_timeout_applies_to_tests_without_their_own() {
    let r = run_with_env(
        "concurrency",
        &["--ignored", "forever::"],
        &[("PORTALTEST_TIMEOUT", "200ms")],
    );
    r.assert_code(101)
        .assert_stdout("test forever::waits ... FAILED")
        .assert_stdout("note: test timed out after 200ms (PORTALTEST_TIMEOUT=200ms)")
        .assert_stdout("guard cleanup of a timed-out test");
}

#[test]
fn run_wide_timeout_from_environment() {
    // `passes` has no timeout of its own and finishes at once; `fails_assert` neither.
    let r = run_with_env(
        "outcomes",
        &["--exact", "passes"],
        &[("PORTALTEST_TIMEOUT", "5s")],
    );
    r.assert_code(0);
    let bad = run_with_env(
        "outcomes",
        &["--exact", "passes"],
        &[("PORTALTEST_TIMEOUT", "soon")],
    );
    assert_ne!(bad.code, Some(0));
    assert!(bad.stderr.contains("PORTALTEST_TIMEOUT"), "{}", bad.stderr);
}

#[test]
fn blocking_test_is_named_in_a_warning() {
    let r = run("outcomes", &["--exact", "blocks_the_thread"]);
    r.assert_code(0);
    assert!(
        r.stderr
            .contains("`blocks_the_thread` blocked the runtime thread for"),
        "{}",
        r.stderr
    );
    let quiet = run_with_env(
        "outcomes",
        &["--exact", "blocks_the_thread"],
        &[("PORTALTEST_BLOCKING_WARN_MS", "0")],
    );
    assert!(
        !quiet.stderr.contains("blocked the runtime thread"),
        "{}",
        quiet.stderr
    );
}

#[test]
fn blocking_warn_sets_one_tests_threshold() {
    let warned = |r: &Run, name: &str| {
        r.stderr
            .contains(&format!("`{name}` blocked the runtime thread for"))
    };
    for env in [&[][..], &[("PORTALTEST_BLOCKING_WARN_MS", "0")][..]] {
        let r = run_with_env("blocking_warn", &["--test-threads", "1"], env);
        r.assert_code(0)
            .assert_stdout("test result: ok. 5 passed; 0 failed;");
        // Its own threshold, named in the warning; also when the run's is off.
        assert!(warned(&r, "stricter"), "{env:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(
                "warning threshold 50 ms, set by its `#[portaltest::test(blocking_warn = \"50ms\")]`)"
            ),
            "{}",
            r.stderr
        );
        assert!(!warned(&r, "more_lenient"), "{}", r.stderr);
        assert!(!warned(&r, "never"), "{}", r.stderr);
        assert!(
            !warned(&r, "lenient_with_a_blocking_fixture"),
            "{}",
            r.stderr
        );
        // The run's threshold, and the warning says how to change one test's.
        let fixture =
            "`fixture `slow_to_build` (first used by `lenient_with_a_blocking_fixture`)` blocked";
        if env.is_empty() {
            assert!(warned(&r, "default_threshold"), "{}", r.stderr);
            assert!(
                r.stderr.contains(
                    "warning threshold 100 ms, set by PORTALTEST_BLOCKING_WARN_MS; \
                     `#[portaltest::test(blocking_warn = \"..\")]` sets one test's)"
                ),
                "{}",
                r.stderr
            );
            assert!(r.stderr.contains(fixture), "{}", r.stderr);
        } else {
            assert!(!warned(&r, "default_threshold"), "{}", r.stderr);
            assert!(!r.stderr.contains(fixture), "{}", r.stderr);
        }
    }
}

#[test]
fn output_of_a_spawned_task_is_its_tests() {
    for (args, env) in [
        (&["--show-output"][..], &[][..]),
        (&["--show-output", "--test-threads", "1"][..], &[][..]),
        (
            &["--show-output"][..],
            &[("PORTALTEST_IN_PROCESS", "1")][..],
        ),
    ] {
        let r = run_with_env("spawned", args, env);
        r.assert_code(0)
            .assert_stdout("test result: ok. 6 passed; 0 failed;");
        let during = r.section("task_prints_during_the_test");
        assert!(
            during.contains("TEST BEFORE\nTASK DURING\nTASK DURING on stderr\nTEST AFTER\n"),
            "{args:?} {env:?}:\n{}",
            r.stdout
        );
        let panics = r.section("task_panics");
        assert!(
            panics.contains("thread 'task_panics' panicked at") && panics.contains("TASK PANIC"),
            "{}",
            r.stdout
        );
        // After the test ended: under its name, marked so, not in its result's output.
        let ended = r.section("task_outlives_the_test");
        assert!(
            ended.contains("TEST ENDS") && !ended.contains("TASK AFTER THE END"),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout.contains(
                "output after the test ended (tasks that the test spawned):\n\n\
                 ---- task_outlives_the_test stdout, after the test ended ----\n\
                 TASK AFTER THE END\n"
            ),
            "{}",
            r.stdout
        );
        // tokio::spawn: output of no test, not the test's.
        // (Its own output is empty, so it has no section.)
        assert!(
            !r.stdout.contains("---- tokio_task_prints stdout ----"),
            "{}",
            r.stdout
        );
        let stray = r
            .stdout
            .find("output of no test")
            .unwrap_or_else(|| panic!("{}", r.stdout));
        let stray = &r.stdout[stray..];
        let stray = &stray[..stray.find("\nsuccesses:").unwrap_or(stray.len())];
        assert!(stray.contains("TOKIO TASK\n"), "{}", r.stdout);
        assert!(stray.contains("TOKIO LATE"), "{}", r.stdout);
        // A fixture's task: output of no test, not its first user's.
        assert!(stray.contains("FIXTURE TASK"), "{}", r.stdout);
        assert!(
            !r.stdout.contains("---- uses_a_fixture_with_a_task stdout"),
            "{}",
            r.stdout
        );
        for marker in ["TASK DURING", "TASK AFTER THE END", "TASK PANIC"] {
            assert!(!stray.contains(marker), "{marker}: {}", r.stdout);
        }
    }
    // Without --show-output a passing run shows none of it.
    let quiet = run("spawned", &[]);
    quiet.assert_code(0);
    assert!(!quiet.stdout.contains("TASK"), "{}", quiet.stdout);
    // JSON: the late output goes to stderr, the stream stays clean.
    let json = run("spawned", &["--format", "json", "--show-output"]);
    json.assert_code(0);
    assert!(
        json.stderr.contains(
            "---- task_outlives_the_test stdout, after the test ended ----\nTASK AFTER THE END"
        ),
        "{}",
        json.stderr
    );
    for line in json.stdout.lines() {
        assert!(line.starts_with('{'), "{line}");
    }
}

#[test]
fn an_exclusive_test_runs_alone() {
    for jobs in ["1", "2"] {
        run_with_env("scheduling", &["exclusive::"], &[("PORTALTEST_JOBS", jobs)])
            .assert_code(0)
            .assert_stdout("test exclusive::alone ... ok")
            .assert_stdout("test result: ok. 5 passed; 0 failed;");
    }
}

#[test]
fn a_group_runs_one_at_a_time_in_one_worker() {
    // One worker: the group's tests one at a time, other tests beside them.
    run("scheduling", &["group::"])
        .assert_code(0)
        .assert_stdout("test group::beside_the_group ... ok")
        .assert_stdout("test result: ok. 8 passed; 0 failed;");
    // Several workers: each group in one of them (the workers would take one test at a
    // time otherwise).
    for (jobs, seed) in [("3", "1"), ("3", "2"), ("2", "3")] {
        let log = log_path(&format!("groups-{jobs}-{seed}"));
        let r = run_with_env(
            "scheduling",
            &[
                "group::",
                "--skip",
                "beside_the_group",
                "--shuffle-seed",
                seed,
            ],
            &[
                ("PORTALTEST_JOBS", jobs),
                ("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap()),
            ],
        );
        r.assert_code(0)
            .assert_stdout("test result: ok. 7 passed; 0 failed;");
        let lines = read_log(&log);
        assert_eq!(lines.len(), 5, "{lines:?}");
        for group in ["db", "cache"] {
            let pids: std::collections::BTreeSet<&str> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("{group} ")))
                .collect();
            assert_eq!(
                pids.len(),
                1,
                "group {group} ran in several workers: {lines:?}"
            );
        }
        let _ = std::fs::remove_file(&log);
    }
}

#[test]
fn watchdog_names_a_test_while_it_blocks() {
    let r = run("concurrency", &["--ignored", "blocking::"]);
    r.assert_code(0);
    assert!(
        r.stderr
            .contains("`blocking::holds_the_thread` has held the runtime thread for")
            && r.stderr.contains("and still does"),
        "{}",
        r.stderr
    );
    // and afterwards with the whole duration
    assert!(
        r.stderr
            .contains("`blocking::holds_the_thread` blocked the runtime thread for 2."),
        "{}",
        r.stderr
    );
}

#[test]
fn json_stream_is_clean() {
    let r = run("outcomes", &["--format", "json"]);
    r.assert_code(101);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    assert_eq!(events[0]["type"], "suite");
    assert_eq!(events[0]["event"], "started");
    assert_eq!(events[0]["test_count"], 13);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "failed");
    assert_eq!(last["passed"], 5);
    assert_eq!(last["failed"], 6);
    assert_eq!(last["ignored"], 2);
    let failed = events
        .iter()
        .find(|e| e["name"] == "fails_assert" && e["event"] == "failed")
        .expect("failed event");
    let stdout = failed["stdout"].as_str().unwrap();
    assert!(stdout.contains("stdout of the failing test"), "{stdout}");
    assert!(stdout.contains("arithmetic is broken"), "{stdout}");
    let ignored = events
        .iter()
        .find(|e| e["name"] == "ignored_with_reason" && e["event"] == "ignored")
        .unwrap();
    assert_eq!(ignored["message"], "needs network");
}

#[test]
fn fixture_initialises_once_under_concurrency() {
    let log = log_path("once");
    let r = run_with_env(
        "fixtures",
        &["counted_users"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    r.assert_code(0).assert_stdout("4 passed; 0 failed");
    let lines = read_log(&log);
    assert_eq!(
        lines.iter().filter(|l| *l == "init counted").count(),
        1,
        "{lines:?}"
    );
}

#[test]
fn fixture_failure_fails_every_user_once() {
    let log = log_path("broken");
    let r = run_with_env(
        "fixtures",
        &["--skip", "counted", "--skip", "uses_derived"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    r.assert_code(101)
        .assert_stdout("test broken_user_1 ... FAILED")
        .assert_stdout("test broken_user_2 ... FAILED")
        .assert_stdout("test err_user ... FAILED");
    let failures = r.failure_section();
    assert_eq!(
        failures
            .matches("fixture `broken` failed: panicked: database unreachable")
            .count(),
        2,
        "{failures}"
    );
    assert!(failures.contains("fixture `err_fixture` failed: returned Err: \"no config file\""));
    let lines = read_log(&log);
    assert_eq!(
        lines.iter().filter(|l| *l == "init broken").count(),
        1,
        "{lines:?}"
    );
}

#[test]
fn fixture_cycle_is_reported_not_hung() {
    let r = run("fixtures", &["cycle_user"]);
    r.assert_code(101)
        .assert_stdout("test cycle_user ... FAILED");
    assert!(
        r.failure_section()
            .contains("fixtures use each other in a cycle: `egg` uses `chicken` uses `egg`"),
        "{}",
        r.stdout
    );
}

#[test]
fn teardown_runs_in_reverse_creation_order_then_values_drop() {
    let log = log_path("teardown");
    let r = run_with_env(
        "fixtures",
        &["uses_derived_and_tempdir"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    r.assert_code(0);
    let lines = read_log(&log);
    let events: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("tempdir "))
        .collect();
    assert_eq!(
        events,
        [
            "init base",
            "init derived",
            "teardown base+derived",
            "teardown base",
            "teardown tempdir",
            "drop tempdir"
        ],
        "tempdir is created first (the test asks for it first), so it is torn down last"
    );
    let dir = lines
        .iter()
        .find_map(|l| l.strip_prefix("tempdir "))
        .unwrap();
    assert!(
        !Path::new(dir).exists(),
        "the temp dir fixture was not dropped"
    );
}

#[test]
fn nextest_style_single_test_touches_only_its_fixtures() {
    let log = log_path("single");
    let r = run_with_env(
        "fixtures",
        &["--exact", "counted_users::a", "--nocapture"],
        &[
            ("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap()),
            ("NEXTEST", "1"),
        ],
    );
    r.assert_code(0).assert_stdout("running 1 test\n");
    assert_eq!(read_log(&log), ["init counted"]);
}

#[test]
fn failing_teardown_fails_the_run() {
    let r = run("teardown_fail", &[]);
    r.assert_code(101)
        .assert_stdout("test uses_fragile ... ok")
        .assert_stdout("---- fixture `fragile` teardown ----")
        .assert_stdout("teardown exploded")
        .assert_stdout("test result: FAILED. 1 passed; 0 failed;");
}

#[test]
fn a_stack_overflow_fails_the_test_with_the_engines_message() {
    // Supervised: the worker dies, the test fails with what it and the engine wrote.
    let r = run("overflow", &[]);
    r.assert_code(101)
        .assert_stdout("test deep::recursion ... FAILED")
        .assert_stdout("captured output of the dying test")
        .assert_stdout("stack overflow in a portal `deep::recursion`")
        .assert_stdout("STACKPORTAL_STACK_SIZE")
        .assert_stdout(
            "the worker process was killed by signal 6 (SIGABRT) while this test was running",
        )
        .assert_stdout("test result: FAILED. 0 passed; 1 failed;");
}

#[test]
fn a_stack_overflow_names_the_test_on_the_real_stderr() {
    // In one process (as under cargo-nextest, or PORTALTEST_IN_PROCESS=1) the process
    // dies; the engine's message reaches the real stderr, not the capture.
    let r = run_with_env("overflow", &[], &[("PORTALTEST_IN_PROCESS", "1")]);
    assert_eq!(r.code, None, "killed by a signal\n{}", r.stderr);
    assert!(
        r.stderr
            .contains("stack overflow in a portal `deep::recursion`"),
        "the engine's message names the test, on the real stderr (not the capture):\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("STACKPORTAL_STACK_SIZE"), "{}", r.stderr);
}

#[test]
fn tests_interleave_on_one_thread() {
    // Each of the two passes only if the other is at the barrier at the same time.
    run("concurrency", &["rendezvous"])
        .assert_code(0)
        .assert_stdout("2 passed; 0 failed");
}

#[test]
fn test_threads_caps_tests_in_flight() {
    run("concurrency", &["exclusive", "--test-threads", "1"])
        .assert_code(0)
        .assert_stdout("3 passed; 0 failed");
    run_with_env("concurrency", &["exclusive"], &[("RUST_TEST_THREADS", "1")])
        .assert_code(0)
        .assert_stdout("3 passed; 0 failed");
    // Without a cap all three are in flight at once.
    run("concurrency", &["exclusive"])
        .assert_code(101)
        .assert_stdout("another test was in flight");
}

#[test]
fn terse_and_quiet_formats() {
    let r = run("quickstart", &["-q"]);
    r.assert_code(0)
        .assert_stdout("running 4 tests\n")
        .assert_stdout("test result: ok.");
    let dots: String = r.stdout.lines().nth(2).unwrap().to_string();
    assert_eq!(
        dots.chars().filter(|c| *c == '.').count(),
        3,
        "{}",
        r.stdout
    );
    assert_eq!(
        dots.chars().filter(|c| *c == 'i').count(),
        1,
        "{}",
        r.stdout
    );
}

#[test]
fn color_follows_the_color_option() {
    run(
        "quickstart",
        &["--exact", "lists_users", "--color", "always"],
    )
    .assert_stdout("test lists_users ... \x1b[32mok\x1b[0m\n")
    .assert_stdout("test result: \x1b[32mok\x1b[0m. 1 passed");
    // Output to a pipe is not colored by default.
    run("quickstart", &["--exact", "lists_users"]).assert_no_stdout("\x1b[");
}

#[test]
fn cargo_nextest_runs_a_sample_target() {
    let has_nextest = Command::new(cargo())
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_nextest {
        eprintln!("SKIPPED: cargo-nextest is not installed (`cargo install cargo-nextest`)");
        return;
    }
    binaries();
    let out = Command::new(cargo())
        .current_dir(workspace_root())
        .args([
            "nextest",
            "run",
            "-p",
            "portaltest-samples",
            "--test",
            "quickstart",
            "--run-ignored",
            "all",
            "--no-fail-fast",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("cannot run cargo nextest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("4 tests run: 4 passed"), "{text}");
    for name in [
        "lists_users",
        "also_async",
        "users::creates_user",
        "users::slow_one",
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains("PASS") && l.trim_end().ends_with(name)),
            "{name} did not pass:\n{text}"
        );
    }
}

#[test]
fn several_filters_select_any_match_as_libtest() {
    run("parity", &["alpha", "beta"])
        .assert_code(0)
        .assert_stdout("running 3 tests")
        .assert_stdout("test beta ... ok")
        .assert_stdout("test alpha::two ... ok")
        .assert_stdout("4 filtered out");
    run("parity", &["--exact", "beta", "alpha::one"])
        .assert_code(0)
        .assert_stdout("running 2 tests");
}

#[test]
fn list_ends_like_libtest() {
    let pretty = run("parity", &["--list"]);
    pretty.assert_code(0);
    assert!(
        pretty
            .stdout
            .ends_with("tracing_setup::user_init: test\n\n7 tests, 0 benchmarks\n"),
        "{}",
        pretty.stdout
    );
    let one = run("parity", &["--list", "--exact", "beta"]);
    assert_eq!(one.stdout, "beta: test\n\n1 test, 0 benchmarks\n");
    let none = run("parity", &["--list", "nothing_matches"]);
    assert_eq!(none.stdout, "0 tests, 0 benchmarks\n");
    // cargo-nextest reads the terse list: `NAME: test` lines only.
    for args in [&["--list", "--format", "terse"][..], &["--list", "-q"][..]] {
        let terse = run("parity", args);
        assert!(
            terse.stdout.lines().all(|l| l.ends_with(": test")),
            "{}",
            terse.stdout
        );
        assert_eq!(terse.stdout.lines().count(), 7);
    }
}

#[test]
fn test_threads_zero_is_rejected() {
    let r = run("parity", &["--test-threads", "0"]);
    r.assert_code(101);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "error: argument for --test-threads must not be 0\n"
    );
}

#[test]
fn logfile_gets_a_line_per_result() {
    let log = log_path("logfile");
    let path = log.to_str().unwrap();
    run(
        "parity",
        &["--logfile", path, "alpha", "beta", "panics::deep"],
    )
    .assert_code(101);
    let mut lines = read_log(&log);
    lines.sort();
    assert_eq!(
        lines,
        [
            "failed panics::deep",
            "failed panics::deep_async",
            "ok alpha::one",
            "ok alpha::two",
            "ok beta"
        ]
    );
    run("parity", &["--list", "--logfile", path, "beta"]).assert_code(0);
    assert_eq!(read_log(&log), ["test beta"]);
}

#[test]
fn bad_environment_is_a_clear_error_before_capture() {
    let r = run_with_env(
        "parity",
        &[],
        &[
            ("PORTALTEST_BLOCKING_WARN_MS", "lots"),
            ("PORTALTEST_TIMEOUT", "soon"),
            ("RUST_TEST_THREADS", "0"),
            ("PORTALTEST_TRACING", "maybe"),
            ("RUST_LOG", "parity=loud"),
        ],
    );
    r.assert_code(101);
    assert_eq!(r.stdout, "", "nothing runs");
    for needle in [
        "error: PORTALTEST_BLOCKING_WARN_MS=\"lots\" is not a number of milliseconds",
        "error: PORTALTEST_TIMEOUT=\"soon\" is not a duration",
        "error: RUST_TEST_THREADS=\"0\" is not a positive number",
        "error: PORTALTEST_TRACING=\"maybe\" is not 0 or 1",
        "error: RUST_LOG=\"parity=loud\" is not a valid filter",
    ] {
        assert!(r.stderr.contains(needle), "{needle}:\n{}", r.stderr);
    }
    let typo = run_with_env("parity", &["beta"], &[("PORTALTEST_TIMEOUTS", "5s")]);
    typo.assert_code(0);
    assert!(
        typo.stderr
            .contains("unknown environment variable PORTALTEST_TIMEOUTS"),
        "{}",
        typo.stderr
    );
}

#[test]
fn backtraces_name_the_test_and_are_trimmed_to_it() {
    let r = run_with_env("parity", &["panics::"], &[("RUST_BACKTRACE", "1")]);
    r.assert_code(101);
    let section = r.failure_section();
    for (test, caller) in [
        ("panics::deep", "parity::panics::deep\n"),
        (
            "panics::deep_async",
            "parity::panics::deep_async::{{closure}}",
        ),
    ] {
        let start = section
            .find(&format!("---- {test} stdout ----"))
            .expect("section");
        let text = &section[start..];
        let text = &text[..text.find("\n\n----").unwrap_or(text.len())];
        let text = &text[..text.find("\n\n\nfailures:").unwrap_or(text.len())];
        assert!(
            text.contains(&format!("thread '{test}' panicked at")),
            "{text}"
        );
        assert!(text.contains("stack backtrace:"), "{text}");
        assert!(
            text.contains("parity::panics::helper_that_panics"),
            "{text}"
        );
        assert!(text.contains(caller), "{text}");
        assert!(text.contains("RUST_BACKTRACE=full"), "{text}");
        for hidden in [
            "corosensei",
            "tokio::",
            "portaltest::runner",
            "std::panicking",
        ] {
            assert!(!text.contains(hidden), "{hidden} in:\n{text}");
        }
        assert!(text.lines().count() < 30, "{text}");
    }
}

#[test]
fn output_of_no_test_is_shown_after_the_results() {
    // Passing, no --show-output: kept out of sight.
    let quiet = run("parity", &["alpha"]);
    quiet.assert_code(0).assert_no_stdout("STRAY");
    assert!(!quiet.stderr.contains("STRAY"), "{}", quiet.stderr);
    // --show-output: under its own heading, after every result line.
    let shown = run("parity", &["alpha", "--show-output"]);
    shown.assert_code(0);
    let heading = shown.stdout.find("output of no test").expect("the heading");
    let last_result = shown.stdout.rfind("test alpha::").unwrap();
    assert!(last_result < heading, "{}", shown.stdout);
    assert!(shown.stdout[heading..].contains("STRAY server tick 2"));
    assert!(shown.stdout[heading..].contains("STRAY server log 2"));
    // A failing run shows it too; the terse dots stay one clean line.
    let terse = run("parity", &["alpha", "panics::deep", "--format", "terse"]);
    terse.assert_code(101);
    let dots = terse
        .stdout
        .lines()
        .find(|l| l.starts_with('.') || l.starts_with('F'))
        .unwrap();
    assert!(
        dots.chars().all(|c| c == '.' || c == 'F'),
        "{}",
        terse.stdout
    );
    let at = terse.stdout.find("output of no test").expect("the heading");
    assert!(!terse.stdout[..at].contains("STRAY"), "{}", terse.stdout);
    // --nocapture: shown live, as libtest shows it.
    let live = run("parity", &["alpha", "--nocapture"]);
    live.assert_code(0);
    assert!(
        live.stdout.contains("STRAY server tick 0"),
        "{}",
        live.stdout
    );
    live.assert_no_stdout("output of no test");
}

#[test]
fn tracing_full_env_filter_syntax_and_user_subscribers() {
    // A span directive (`target[span]=level`) works instead of switching all off.
    run_with_env(
        "parity",
        &["tracing_setup::traced", "--show-output"],
        &[("RUST_LOG", "warn,parity[work]=debug")],
    )
    .assert_code(0)
    .assert_stdout("DEBUG IN SPAN");
    run_with_env(
        "parity",
        &["tracing_setup::traced", "--show-output"],
        &[("RUST_LOG", "warn")],
    )
    .assert_code(0)
    .assert_no_stdout("DEBUG IN SPAN");
    // `init()` in user code: a failure that says why and what to do ...
    let r = run("parity", &["tracing_setup::user_init"]);
    r.assert_code(101);
    assert!(
        r.failure_section()
            .contains("the harness installed a global `tracing` subscriber already")
            && r.failure_section().contains("PORTALTEST_TRACING=0"),
        "{}",
        r.stdout
    );
    // ... and with PORTALTEST_TRACING=0 the program's own subscriber is in charge (and
    // its output, written to stdout, captured per test).
    run_with_env(
        "parity",
        &["tracing_setup::user_init", "--show-output"],
        &[("PORTALTEST_TRACING", "0")],
    )
    .assert_code(0)
    .assert_stdout("USER SUBSCRIBER");
}

/// Tests that cannot get a portal stack (stackportal's process limit) fail with the
/// reason; none is lost.
#[test]
fn a_test_refused_a_portal_stack_fails_and_is_counted() {
    let r = run_with_env(
        "stack_limit",
        &["--test-threads", "6"],
        &[("STACKPORTAL_MAX_STACKS", "3")],
    );
    r.assert_code(101)
        .assert_stdout("test result: FAILED. 3 passed; 3 failed;")
        .assert_stdout("note: the test could not start: stackportal: cannot open another portal");
}

/// The time `--report-time` shows after `test NAME ... RESULT`, in seconds.
fn reported_time(run: &Run, name: &str, result: &str) -> f64 {
    let prefix = format!("test {name} ... {result} <");
    let line = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {prefix:?} line:\n{}", run.stdout));
    line.strip_suffix("s>")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {line:?}"))
}

#[test]
fn report_time_shows_each_tests_time_from_start_to_finish() {
    // The three tests wait 50, 150 and 300 ms at the same time: each one's time covers
    // its own wait (and the run takes about the longest, not the sum).
    let r = run("timings", &["-Z", "unstable-options", "--report-time"]);
    r.assert_code(101)
        .assert_stdout("test ignored ... ignored\n")
        .assert_stdout("test fails_after_a_wait ... FAILED <");
    for (name, at_least) in [("fast", 0.05), ("medium", 0.15), ("slow", 0.3)] {
        let t = reported_time(&r, name, "ok");
        assert!(
            t >= at_least && t < at_least + 5.0,
            "{name}: {t}\n{}",
            r.stdout
        );
    }
    assert!(reported_time(&r, "fails_after_a_wait", "FAILED") >= 0.01);
    // libtest takes it without `-Z unstable-options` only on nightly; here always.
    run("timings", &["--report-time", "--exact", "slow"]).assert_stdout("test slow ... ok <0.");
    // Not asked for: libtest's plain lines.
    run("timings", &["--exact", "slow"]).assert_stdout("test slow ... ok\n");
    // JSON: libtest's `exec_time` on the test's event; the log file as libtest writes it.
    let log = log_path("report-time");
    let json = run(
        "timings",
        &[
            "--format",
            "json",
            "-Z",
            "unstable-options",
            "--report-time",
            "--logfile",
            log.to_str().unwrap(),
            "--exact",
            "medium",
        ],
    );
    json.assert_code(0)
        .assert_stdout(r#"{ "type": "test", "name": "medium", "event": "ok", "exec_time": 0.1"#);
    let lines = read_log(&log);
    assert!(
        lines.len() == 1 && lines[0].starts_with("ok medium <0.1") && lines[0].ends_with("s>"),
        "{lines:?}"
    );
    let _ = std::fs::remove_file(&log);
}

#[test]
fn slowest_lists_the_slowest_tests_after_the_summary() {
    let r = run_with_env(
        "timings",
        &["--skip", "fails"],
        &[("PORTALTEST_SLOWEST", "2")],
    );
    r.assert_code(0);
    let heading = "slowest 2 tests (each from its start to its verdict, waits included):\n";
    let at = r
        .stdout
        .find(heading)
        .unwrap_or_else(|| panic!("no list of the slowest:\n{}", r.stdout));
    assert!(
        r.stdout[..at].contains("\ntest result: ok. 3 passed;"),
        "the list comes after the summary:\n{}",
        r.stdout
    );
    let listed: Vec<(&str, f64)> = r.stdout[at + heading.len()..]
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let (time, name) = l.trim().split_once("  ").expect("TIME  NAME");
            (name, time.trim_end_matches('s').parse().expect("a time"))
        })
        .collect();
    assert_eq!(
        listed.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        ["slow", "medium"],
        "{}",
        r.stdout
    );
    assert!(listed[0].1 >= 0.3 && listed[1].1 >= 0.15, "{listed:?}");
    // Off by default and with 0; a bad value stops the run before any test.
    run("timings", &["--skip", "fails"]).assert_no_stdout("slowest");
    run_with_env(
        "timings",
        &["--skip", "fails"],
        &[("PORTALTEST_SLOWEST", "0")],
    )
    .assert_no_stdout("slowest");
    let bad = run_with_env("timings", &[], &[("PORTALTEST_SLOWEST", "some")]);
    bad.assert_code(101).assert_no_stdout("running");
    assert!(
        bad.stderr
            .contains("error: PORTALTEST_SLOWEST=\"some\" is not a number"),
        "{}",
        bad.stderr
    );
}

#[test]
fn rstest_cases_and_values_are_portaltest_tests() {
    let list = run("rstest_cases", &["--list", "--format", "terse"]);
    list.assert_code(0);
    assert_eq!(
        list.stdout,
        "adds::case_1: test\nadds::case_2: test\nadds::case_3_wrong: test\n\
         async_adds::case_1_small: test\nasync_adds::case_2_large: test\n\
         multiplies::x_1_1::y_1_1: test\nmultiplies::x_1_1::y_2_10: test\n\
         multiplies::x_2_2::y_1_1: test\nmultiplies::x_2_2::y_2_10: test\n\
         waits::ms_1_1: test\nwaits::ms_2_5: test\n"
    );
    let r = run("rstest_cases", &[]);
    r.assert_code(101)
        .assert_stdout("test adds::case_3_wrong ... FAILED\n")
        .assert_stdout("test adds::case_1 ... ok\n")
        .assert_stdout("test async_adds::case_2_large ... ok\n")
        .assert_stdout("test multiplies::x_2_2::y_2_10 ... ok\n")
        .assert_stdout("test waits::ms_2_5 ... ok\n")
        .assert_stdout("\nfailures:\n    adds::case_3_wrong\n")
        .assert_stdout("test result: FAILED. 10 passed; 1 failed; 0 ignored;");
    assert!(
        r.section("adds::case_3_wrong")
            .contains("left: 4\n right: 5"),
        "{}",
        r.stdout
    );
    // One case alone, by its name.
    run("rstest_cases", &["--exact", "adds::case_2"])
        .assert_code(0)
        .assert_stdout("running 1 test\n");
}

/// A run with one worker whose tests kept the runtime thread busy says so after its
/// summary, and that `PORTALTEST_JOBS=auto` would use the other cores; not with several
/// workers, and not when the tests wait as long instead.
#[test]
fn a_cpu_bound_run_with_one_worker_gets_a_hint() {
    let hint = "note: the tests kept the runtime thread busy for";
    let r = run("cpu_bound", &[]);
    r.assert_code(0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores >= 2 {
        let at = r
            .stdout
            .find(hint)
            .unwrap_or_else(|| panic!("{}", r.stdout));
        assert!(r.stdout[..at].contains("test result: ok."), "{}", r.stdout);
        let auto = "PORTALTEST_JOBS=auto runs them in";
        assert!(r.stdout.contains(auto), "{}", r.stdout);
    } else {
        let stdout = &r.stdout;
        assert!(
            !stdout.contains(hint),
            "one core, nothing to gain: {stdout}"
        );
    }
    let two = run_with_env("cpu_bound", &[], &[("PORTALTEST_JOBS", "2")]);
    two.assert_code(0);
    assert!(!two.stdout.contains(hint), "{}", two.stdout);
    let waiting = run_with_env("cpu_bound", &[], &[("CPU_SAMPLE_WAIT", "1")]);
    waiting.assert_code(0);
    assert!(!waiting.stdout.contains(hint), "{}", waiting.stdout);
}
