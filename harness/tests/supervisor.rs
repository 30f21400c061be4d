//! The supervisor, end to end: tests that abort, raise SIGSEGV, block past their time
//! limit or crash a fixture's setup fail with the cause while the tests beside them run
//! again and pass; Ctrl-C to the process group cancels, runs guards and teardowns, and
//! exits 130; several workers report every test exactly once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;
use common::{log_path, read_log, run_sample, Run};

fn binaries() -> &'static HashMap<String, PathBuf> {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINS.get_or_init(|| common::build_samples(&["crashes", "quickstart", "timings"]))
}

fn crashes(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_sample(&binaries()["crashes"], args, env)
}

#[test]
fn an_abort_fails_its_test_with_its_output_and_the_others_run_again() {
    let log = log_path("supervisor-abort");
    let r = crashes(
        &["abort"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    r.assert_code(101)
        .assert_stdout("test abort::aborts ... FAILED")
        .assert_stdout("test abort::neighbour_1 ... ok")
        .assert_stdout("test abort::neighbour_2 ... ok")
        .assert_stdout("about to abort\nnote: the worker process was killed by signal 6 (SIGABRT) while this test was running; the 2 tests in flight beside it ran again in a fresh worker")
        .assert_stdout("test result: FAILED. 2 passed; 1 failed;");
    // Each neighbour reported once, and ran to the end once (the first run was cut
    // short by the crash before it logged).
    assert_eq!(r.stdout.matches("test abort::neighbour_1 ...").count(), 1);
    let mut ran = read_log(&log);
    ran.sort();
    assert_eq!(ran, ["ran abort::neighbour_1", "ran abort::neighbour_2"]);
}

#[test]
fn a_raised_sigsegv_is_named() {
    crashes(&["segv"], &[])
        .assert_code(101)
        .assert_stdout("raising SIGSEGV\nnote: the worker process was killed by signal 11 (SIGSEGV) while this test was running")
        .assert_stdout("test segv::neighbour ... ok")
        .assert_stdout("test result: FAILED. 1 passed; 1 failed;");
}

#[test]
fn a_test_blocking_past_its_limit_is_killed_after_the_grace_period() {
    // The test sleeps 60 s; "killed" in the note says it did not get to.
    let r = crashes(&["hang"], &[("PORTALTEST_GRACE", "500ms")]);
    r.assert_code(101)
        .assert_stdout("test hang::blocks ... FAILED")
        .assert_stdout("blocking the runtime thread\nnote: test timed out after 300ms (its `timeout = \"300ms\"`) and did not yield within the grace period of 500 ms after that: it blocks the runtime thread")
        .assert_stdout("test hang::neighbour ... ok")
        .assert_stdout("Its worker process was killed")
        .assert_stdout("test result: FAILED. 1 passed; 1 failed;");
}

#[test]
fn a_fixture_whose_setup_crashes_fails_its_users_by_name_once() {
    let r = crashes(&["crashing_fixture"], &[]);
    r.assert_code(101)
        .assert_stdout("setting up explodes\nnote: the worker process was killed by signal 6 (SIGABRT) while fixture `explodes` was being set up for this test")
        .assert_stdout("test crashing_fixture::bystander ... ok")
        .assert_stdout("fixture `explodes` was not set up: its setup (for `crashing_fixture::first_user`) ended the worker process")
        .assert_stdout("test result: FAILED. 1 passed; 2 failed;");
    // The fixture crashed one worker, not one per user.
    assert_eq!(r.stdout.matches("setting up explodes").count(), 1);
}

#[test]
fn a_teardown_past_its_limit_is_cancelled_and_one_that_blocks_is_killed() {
    // Both teardowns would take 60 s: the notes say they were cut short.
    let env = [
        ("PORTALTEST_TEARDOWN_TIMEOUT", "300ms"),
        ("PORTALTEST_GRACE", "500ms"),
    ];
    crashes(&["uses_lingering"], &env)
        .assert_code(101)
        .assert_stdout("test slow_teardown::uses_lingering ... ok")
        .assert_stdout("---- fixture `lingering` teardown ----\ntearing down slowly\nnote: fixture `lingering` teardown did not finish within 300ms (PORTALTEST_TEARDOWN_TIMEOUT); it was cancelled")
        .assert_stdout("test result: FAILED. 1 passed; 0 failed;");
    crashes(&["uses_stubborn"], &env)
        .assert_code(101)
        .assert_stdout("test slow_teardown::uses_stubborn ... ok")
        .assert_stdout("---- fixture `stubborn` teardown ----\ntearing down, blocking\nnote: it did not finish within its limit and the grace period of 500 ms (it blocks?), so the worker process was killed by the supervisor")
        .assert_stdout("test result: FAILED. 1 passed; 0 failed;");
}

#[test]
fn an_isolated_test_that_exits_is_blamed() {
    crashes(&["isolated_exit"], &[])
        .assert_code(101)
        .assert_stdout("test isolated_exit::exits ... FAILED")
        .assert_stdout("note: the worker process exited with code 3 while this test was running")
        .assert_stdout("test isolated_exit::neighbour ... ok");
}

#[test]
fn a_worker_does_not_pass_its_variables_on_to_tests() {
    crashes(&["env_hygiene"], &[])
        .assert_code(0)
        .assert_stdout("test env_hygiene::worker_variables_are_not_visible_to_tests ... ok");
}

#[test]
fn ctrl_c_to_the_process_group_cancels_and_tears_down() {
    interrupt("INT", true, 130);
}

#[test]
fn sigterm_to_the_supervisor_alone_cancels_and_tears_down() {
    interrupt("TERM", false, 143);
}

#[test]
fn a_second_ctrl_c_kills_a_worker_that_does_not_stop() {
    use std::os::unix::process::CommandExt;
    let log = log_path("supervisor-second");
    let mut child = std::process::Command::new(&binaries()["crashes"]);
    child
        .arg("stuck")
        .env("PORTALTEST_SAMPLE_LOG", &log)
        // Long enough that only the second Ctrl-C can end the run in time.
        .env("PORTALTEST_GRACE", "2m")
        .env_remove("PORTALTEST_JOBS")
        .env_remove("PORTALTEST_IN_PROCESS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let child = child.spawn().unwrap();
    let group = format!("-{}", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_log(&log).iter().any(|l| l == "stuck") {
        assert!(Instant::now() < deadline, "the test did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..2 {
        let sent = std::process::Command::new("kill")
            .args(["-s", "INT", "--", &group])
            .status()
            .unwrap();
        assert!(sent.success());
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("portaltest: SIGINT again: killing the worker processes"),
        "{stderr}"
    );
    for needle in [
        "test stuck::blocks_without_a_limit ... interrupted",
        "interrupted by SIGINT: 1 test cancelled, 0 not started",
    ] {
        assert!(stdout.contains(needle), "{needle:?} in\n{stdout}\n{stderr}");
    }
}

/// Sends SIG`signal` once both long tests run, to the run's process group (as a
/// terminal does) or to the supervisor only; checks what was reported and cleaned up.
fn interrupt(signal: &str, group: bool, code: i32) {
    use std::os::unix::process::CommandExt;
    let log = log_path(&format!("supervisor-{signal}"));
    let mut child = std::process::Command::new(&binaries()["crashes"]);
    child
        .arg("interrupt")
        .env("PORTALTEST_SAMPLE_LOG", &log)
        .env_remove("PORTALTEST_JOBS")
        .env_remove("PORTALTEST_IN_PROCESS")
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // A process group of its own, as a terminal's foreground job.
        .process_group(0);
    let child = child.spawn().unwrap();
    let pid = child.id();
    // Wait until both long tests are in their sleep and the quick one has passed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !["started 1", "started 2", "quick done"]
        .iter()
        .all(|line| read_log(&log).iter().any(|l| l == line))
    {
        assert!(Instant::now() < deadline, "the tests did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = if group {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    let sent = std::process::Command::new("kill")
        .args(["-s", signal, "--", &target])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stdout}\n{stderr}");
    let summary = format!("interrupted by SIG{signal}: 2 tests cancelled, 0 not started");
    for needle in [
        "test interrupt::quick ... ok",
        "test interrupt::waits_long_1 ... interrupted",
        "test interrupt::waits_long_2 ... interrupted",
        &summary,
        "    cancelled: interrupt::waits_long_1",
    ] {
        assert!(stdout.contains(needle), "{needle:?} in\n{stdout}\n{stderr}");
    }
    let logged = read_log(&log);
    for line in ["guard 1 ran", "guard 2 ran", "teardown ran"] {
        assert!(logged.iter().any(|l| l == line), "{line:?} in {logged:?}");
    }
    // The fixture's file is gone.
    let scratch = logged
        .iter()
        .find_map(|l| l.strip_prefix("scratch "))
        .expect("the fixture logged its file");
    assert!(!std::path::Path::new(scratch).exists());
}

#[test]
fn several_workers_report_every_test_once_in_valid_json() {
    let json = |env: &[(&str, &str)]| {
        let args = [
            "-Z",
            "unstable-options",
            "--format",
            "json",
            "--report-time",
        ];
        run_sample(&binaries()["timings"], &args, env)
    };
    let r = json(&[("PORTALTEST_JOBS", "3")]);
    let one = json(&[("PORTALTEST_IN_PROCESS", "1")]);
    assert_eq!(r.code, one.code, "{}\n{}", r.stdout, r.stderr);
    let results = |run: &Run| {
        let mut names: Vec<(String, String)> = run
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("each line is JSON"))
            .filter(|v| v["type"] == "test" && v["event"] != "started")
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_string(),
                    v["event"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        names.sort();
        names
    };
    let three = results(&r);
    assert!(!three.is_empty());
    assert_eq!(three, results(&one), "the same results as in one process");
}

#[test]
fn one_test_under_exact_stays_in_one_process() {
    // cargo-nextest runs each test as `--exact NAME`: no worker process.
    let r = run_sample(
        &binaries()["quickstart"],
        &["--exact", "lists_users"],
        &[("PORTALTEST_GRACE", "not a duration")],
    );
    // The environment is read either way (a bad value is an error)...
    r.assert_code(101);
    assert!(r.stderr.contains("PORTALTEST_GRACE"), "{}", r.stderr);
    // ...and a good run passes without a worker (a worker would show in `ps`; here:
    // the run works with worker processes forbidden by an unusable temp dir).
    let r = run_sample(
        &binaries()["quickstart"],
        &["--exact", "lists_users"],
        &[("TMPDIR", "/nonexistent/portaltest")],
    );
    r.assert_code(0).assert_stdout("test lists_users ... ok");
}
