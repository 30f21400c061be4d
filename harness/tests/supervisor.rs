//! The supervisor, end to end: tests that abort, raise SIGSEGV, block past their time
//! limit or crash a fixture's setup fail with the cause while the tests beside them run
//! again and pass; Ctrl-C to the process group cancels, runs guards and teardowns, and
//! exits 130; several workers report every test exactly once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;
use common::{
    log_path, logged_pids, read_log, run_sample, run_within, sample_command, wait_for_log,
    wait_gone, wait_within, Run,
};

fn binaries() -> &'static HashMap<String, PathBuf> {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINS.get_or_init(|| common::build_samples(&["crashes", "quickstart", "timings", "early_death"]))
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
        .assert_stdout("fixture `explodes` failed: it was not set up: its setup (for `crashing_fixture::first_user`) ended the worker process")
        .assert_stdout("test result: FAILED. 1 passed; 3 failed;");
    // The fixture crashed one worker, not one per user.
    assert_eq!(r.stdout.matches("setting up explodes").count(), 1);
    // Both later users (the first to meet the broken fixture in the fresh worker, and
    // the one after it) say it once, the same way.
    assert_eq!(
        r.stdout
            .matches("fixture `explodes` failed: it was not set up")
            .count(),
        2,
        "{}",
        r.stdout
    );
    r.assert_no_stdout("failed: fixture `explodes`");
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

/// The `timings` sample's tests and what each does (harness/samples/tests/timings.rs):
/// the oracle of the multi-worker run, independent of any other run mode.
const TIMINGS_OUTCOMES: &[(&str, &str)] = &[
    ("fails_after_a_wait", "failed"),
    ("fast", "ok"),
    ("ignored", "ignored"),
    ("medium", "ok"),
    ("slow", "ok"),
];

#[test]
fn several_workers_report_every_test_once_in_valid_json() {
    let args = [
        "-Z",
        "unstable-options",
        "--format",
        "json",
        "--report-time",
    ];
    let binary = &binaries()["timings"];
    let r = run_sample(binary, &args, &[("PORTALTEST_JOBS", "3")]);
    r.assert_code(101); // one test fails on purpose
                        // The sample's own list is the set of tests: the oracle must cover all of them.
    let listed = run_sample::<&str>(binary, &["--list", "--format", "terse"], &[]);
    let mut listed: Vec<&str> = listed
        .stdout
        .lines()
        .map(|l| l.strip_suffix(": test").expect(l))
        .collect();
    listed.sort();
    let known: Vec<&str> = TIMINGS_OUTCOMES.iter().map(|(name, _)| *name).collect();
    assert_eq!(listed, known, "the oracle names every test of the sample");
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let mut results: Vec<(String, String)> = events
        .iter()
        .filter(|v| v["type"] == "test" && v["event"] != "started")
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["event"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    results.sort();
    let expected: Vec<(String, String)> = TIMINGS_OUTCOMES
        .iter()
        .map(|(name, outcome)| (name.to_string(), outcome.to_string()))
        .collect();
    assert_eq!(
        results, expected,
        "each test once, with its own outcome:\n{}",
        r.stdout
    );
    // Every test that ran was started first, once.
    for (name, outcome) in &expected {
        let started = events
            .iter()
            .filter(|v| {
                v["type"] == "test" && v["event"] == "started" && v["name"] == name.as_str()
            })
            .count();
        let want = usize::from(outcome != "ignored");
        assert!(
            started <= 1 && started >= want,
            "{name}: started {started} times\n{}",
            r.stdout
        );
    }
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

/// A run of the crashes sample, bounded: it must end within a minute.
fn crashes_within(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_within(
        sample_command(&binaries()["crashes"], args, env),
        Duration::from_secs(60),
    )
}

#[test]
fn every_try_has_its_own_deadline() {
    // Finding 1: try 2 was killed against try 1's deadline, try 3 never ran.
    let log = log_path("supervisor-retry-deadline");
    let r = crashes_within(
        &["retry_deadline"],
        &[
            ("PORTALTEST_GRACE", "200ms"),
            ("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap()),
        ],
    );
    r.assert_code(101)
        .assert_stdout("---- try 3 of 3 ----")
        .assert_stdout("note: test timed out after 300ms (its `timeout = \"300ms\"`); it was cancelled and its stack unwound")
        .assert_no_stdout("blocks the runtime thread")
        .assert_no_stdout("worker process was killed");
    assert_eq!(read_log(&log), ["try", "try", "try"]);
}

#[test]
fn started_always_precedes_a_result() {
    // Finding 13: a test that ended its worker in its first poll had no `started`.
    let r = crashes_within(
        &["at_once", "-Z", "unstable-options", "--format", "json"],
        &[],
    );
    r.assert_code(101);
    let mut started = Vec::new();
    let mut results = 0;
    for line in r.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        if v["type"] != "test" {
            continue;
        }
        let name = v["name"].as_str().unwrap().to_string();
        if v["event"] == "started" {
            started.push(name);
        } else {
            results += 1;
            assert!(
                started.contains(&name),
                "{name} has a result before its start:\n{}",
                r.stdout
            );
        }
    }
    assert_eq!(results, 2, "{}", r.stdout);
}

#[test]
fn a_worker_killed_while_no_test_is_polled_is_reported() {
    // Finding 12: a worker SIGKILLed (as by the OOM killer) between polls: exit 0, and
    // nothing said, though the test ran twice.
    let log = log_path("supervisor-silent");
    let mut cmd = sample_command(
        &binaries()["crashes"],
        &["silent"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    cmd.stdout(std::process::Stdio::piped());
    let runner = std::thread::spawn(move || run_within(cmd, Duration::from_secs(60)));
    let pid = wait_for_log(&log, "awaiting ", Duration::from_secs(30));
    let sent = std::process::Command::new("kill")
        .args(["-s", "KILL", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let r = runner.join().unwrap();
    r.assert_code(101)
        .assert_stdout("test silent::awaits ... ok")
        .assert_stdout("note: the worker process was killed by signal 9 (SIGKILL) while no test was being polled; the 1 test in flight ran again in a fresh worker");
    assert_eq!(logged_pids(&log, "awaiting ").len(), 2);
}

#[test]
fn a_forked_child_never_reports() {
    // Finding 5: the child of a fork() returned into the harness and reported too.
    let log = log_path("supervisor-fork");
    let r = crashes_within(
        &["forks::returns_twice"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    r.assert_code(0)
        .assert_stdout("running 1 test")
        .assert_stdout("test result: ok. 1 passed; 0 failed;");
    assert_eq!(r.stdout.matches("test forks::returns_twice ...").count(), 1);
    assert_eq!(logged_pids(&log, "child ").len(), 1, "the child ran");
    assert!(read_log(&log).iter().any(|l| l == "child ended with 0"));
}

#[test]
fn the_run_ends_when_its_worker_has_whatever_holds_its_socket() {
    // Finding 7: a forked child that sleeps 40 s kept the run open (and two Ctrl-Cs
    // did not end it): the supervisor waited for the socket's end, not the worker's.
    let log = log_path("supervisor-linger");
    // The child sleeps 120 s: a run that waits for it does not end in time.
    let r = run_within(
        sample_command(
            &binaries()["crashes"],
            &["forks::leaves_a_child"],
            &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
        ),
        Duration::from_secs(30),
    );
    r.assert_code(0)
        .assert_stdout("test result: ok. 1 passed; 0 failed;");
    // ...and the child, in the worker's process group, ended with it.
    for pid in logged_pids(&log, "lingering ") {
        assert!(
            wait_gone(pid, Duration::from_secs(10)),
            "the forked child {pid} lives on"
        );
    }
}

#[test]
fn a_worker_dies_with_its_supervisor() {
    // Finding 8: the supervisor SIGKILLed while a test blocks: the worker lived on.
    let log = log_path("supervisor-orphan");
    let mut cmd = sample_command(
        &binaries()["crashes"],
        &["orphan"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut supervisor = cmd.spawn().unwrap();
    let worker: u32 = wait_for_log(&log, "worker ", Duration::from_secs(30))
        .parse()
        .unwrap();
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();
    assert!(
        wait_gone(worker, Duration::from_secs(10)),
        "the worker {worker} outlived its supervisor"
    );
}

#[test]
fn a_hang_kill_ends_the_processes_a_fixture_started() {
    // Finding 9: a fixture's `sleep 300` outlived the worker killed for a hang.
    let log = log_path("supervisor-helper");
    let r = crashes_within(
        &["helper"],
        &[
            ("PORTALTEST_GRACE", "300ms"),
            ("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap()),
        ],
    );
    r.assert_code(101)
        .assert_stdout("test helper::blocks_with_a_helper ... FAILED")
        .assert_stdout("Its worker process was killed");
    let helpers = logged_pids(&log, "helper ");
    assert_eq!(helpers.len(), 1);
    assert!(
        wait_gone(helpers[0], Duration::from_secs(10)),
        "the fixture's helper {} outlived the run",
        helpers[0]
    );
}

#[test]
fn workers_that_die_before_their_first_test_end_the_run() {
    // Finding 6: a custom main that fails in every process but the first: workers were
    // restarted forever.
    let dir = std::env::temp_dir().join(format!("portaltest-early-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let lock = dir.join("lock");
    let r = run_within(
        sample_command(
            &binaries()["early_death"],
            &[],
            &[("PORTALTEST_SAMPLE_LOCK", lock.to_str().unwrap())],
        ),
        Duration::from_secs(60),
    );
    r.assert_code(101);
    assert!(
        r.stderr
            .contains("portaltest: error: 3 worker processes in a row ended before they ran a test; no more are started. The last one exited with code 101"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("cannot take the lock file"),
        "{}",
        r.stderr
    );
    r.assert_stdout("test never_runs_in_a_worker ... FAILED")
        .assert_stdout("test result: FAILED. 0 passed; 2 failed;");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_huge_rust_test_threads_runs_as_the_most_tokio_allows() {
    // Finding 6's other trigger: tokio's semaphore panicked in every worker.
    for in_process in ["0", "1"] {
        run_within(
            sample_command(
                &binaries()["quickstart"],
                &[],
                &[
                    ("RUST_TEST_THREADS", "3000000000000000000"),
                    ("PORTALTEST_IN_PROCESS", in_process),
                ],
            ),
            Duration::from_secs(60),
        )
        .assert_code(0);
    }
}

#[test]
fn workers_start_from_the_running_binary_and_leave_no_board_file() {
    // Finding 11: the binary deleted mid-run: no worker could restart after a crash,
    // and a board file stayed in TMPDIR.
    let dir = std::env::temp_dir().join(format!("portaltest-deleted-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("crashes-copy");
    std::fs::copy(&binaries()["crashes"], &exe).unwrap();
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = sample_command(&exe, &["abort"], &[("TMPDIR", tmp.to_str().unwrap())]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let runner = std::thread::spawn(move || wait_within(child, Duration::from_secs(60)));
    // Once the first worker runs, the file goes away: the abort then makes the
    // supervisor start a second worker from a binary that is gone.
    let children = format!("/proc/{pid}/task/{pid}/children");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&children)
        .unwrap_or_default()
        .trim()
        .is_empty()
        && !runner.is_finished()
    {
        assert!(Instant::now() < deadline, "no worker started");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::fs::remove_file(&exe).unwrap();
    let r = runner.join().unwrap();
    r.assert_code(101)
        .assert_stdout("test abort::neighbour_1 ... ok")
        .assert_stdout("test abort::neighbour_2 ... ok")
        .assert_stdout("test result: FAILED. 2 passed; 1 failed;")
        .assert_no_stdout("no worker process could be started");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tracer_keeps_the_run_in_one_process() {
    // Finding 15: under a debugger the tests ran in a worker, out of its sight.
    // CI installs strace (.ci/run); elsewhere its absence skips the test, loudly.
    let Ok(strace) = which("strace") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "strace is not installed: .ci/run installs it"
        );
        eprintln!("strace is not installed: skipped");
        return;
    };
    let mut cmd = std::process::Command::new(strace);
    cmd.args(["-o", "/dev/null", "--"])
        .arg(&binaries()["quickstart"])
        .env_remove("PORTALTEST_IN_PROCESS")
        .env_remove("PORTALTEST_JOBS");
    let r = run_within(cmd, Duration::from_secs(60));
    if r.stderr.contains("ptrace") && r.code != Some(0) {
        eprintln!("ptrace is not allowed here: skipped\n{}", r.stderr);
        return;
    }
    r.assert_code(0);
    assert_eq!(
        r.stderr
            .matches("portaltest: a debugger or tracer is attached")
            .count(),
        1,
        "{}",
        r.stderr
    );
}

fn which(program: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}

#[test]
fn list_in_json_is_libtests_listing() {
    let r = run_sample(
        &binaries()["quickstart"],
        &["--list", "--format", "json", "-Z", "unstable-options"],
        common::NO_ENV,
    );
    r.assert_code(0);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines[0]["type"], "suite");
    assert_eq!(lines[0]["event"], "discovery");
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "completed");
    let discovered: Vec<_> = lines[1..lines.len() - 1].iter().collect();
    assert!(!discovered.is_empty());
    for d in &discovered {
        assert_eq!(d["type"], "test");
        assert_eq!(d["event"], "discovered");
        assert!(d["name"].is_string() && d["ignore"].is_boolean());
        assert!(d["source_path"].as_str().unwrap().ends_with(".rs"));
        assert!(d["start_line"].as_u64().unwrap() > 0);
    }
    assert_eq!(last["tests"].as_u64().unwrap() as usize, discovered.len());
    assert_eq!(last["total"], last["tests"]);
}

#[test]
fn a_crashed_try_is_retried_in_a_fresh_worker_under_its_own_heading() {
    // Finding 3a: try 1 panics, try 2 aborts: one merged block, no third try, no
    // rerun entry in JUnit.
    let log = log_path("supervisor-crash-retries");
    let env = [("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())];
    let r = crashes_within(&["crash_retries::panics_crashes_panics"], &env);
    r.assert_code(101)
        .assert_stdout("test crash_retries::panics_crashes_panics ... FAILED");
    let section = r.failure_section();
    let at = |needle: &str| {
        section
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} in\n{section}"))
    };
    // In order: each try's output under its heading, the crash note in try 2's.
    let order = [
        at("---- try 1 of 3 ----\ntry 1 here"),
        at("try 1 fails"),
        at("---- try 2 of 3 ----\ntry 2 here\nnote: the worker process was killed by signal 6 (SIGABRT) while this test was running; the test runs again in a fresh worker"),
        at("---- try 3 of 3 ----\ntry 3 here"),
        at("try 3 fails"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{section}");
    // JUnit: the failure and two reruns.
    let _ = std::fs::remove_file(&log);
    let junit = crashes_within(
        &["crash_retries::panics_crashes_panics", "--format", "junit"],
        &env,
    );
    assert_eq!(
        junit.stdout.matches("<rerunFailure").count(),
        2,
        "{}",
        junit.stdout
    );
    assert_eq!(
        junit.stdout.matches("<failure").count(),
        1,
        "{}",
        junit.stdout
    );
}

#[test]
fn a_test_that_exits_is_retried_with_portaltest_retries() {
    // Finding 3b: `PORTALTEST_RETRIES=2` on a test calling `exit(0)`: no retry.
    let log = log_path("supervisor-exit-retries");
    let r = crashes_within(
        &["crash_retries::exits_zero"],
        &[
            ("PORTALTEST_RETRIES", "2"),
            ("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap()),
        ],
    );
    r.assert_code(101)
        .assert_stdout("---- try 1 of 3 ----\nexit try 1\nnote: the worker process exited with code 0 while this test was running")
        .assert_stdout("---- try 3 of 3 ----\nexit try 3\nnote: the worker process exited with code 0 while this test was running")
        .assert_stdout("test result: FAILED. 0 passed; 1 failed;");
    assert_eq!(read_log(&log).len(), 3);
}

#[test]
fn a_crash_on_a_spawned_thread_blames_nobody_and_reruns_the_tests_in_flight() {
    // Finding 4: a thread that a passing test spawned aborted; the test being polled at
    // that moment failed with the SIGABRT note and was not run again.
    let log = log_path("supervisor-thread-crash");
    let r = crashes_within(
        &["thread_crash"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    r.assert_code(101)
        .assert_stdout("test thread_crash::spawns_a_crashing_thread ... ok")
        .assert_stdout("test thread_crash::innocent_poller ... ok")
        .assert_stdout(
            "note: the worker process was killed by signal 6 (SIGABRT) on thread `aborter`",
        )
        .assert_stdout("no test is blamed")
        .assert_stdout("test result: FAILED. 2 passed; 0 failed;");
    assert_eq!(
        read_log(&log)
            .iter()
            .filter(|l| *l == "innocent polled")
            .count(),
        2,
        "run again once"
    );
}

#[test]
fn the_grace_bounds_ctrl_c_during_a_teardown() {
    // Finding 10: Ctrl-C during a 3 s teardown under a 1 s grace: the run ended when
    // the teardown did, though the message said "within 1.00 s". Here the teardown
    // would take 60 s (its limit 120 s): only the grace can end the run in time.
    let log = log_path("supervisor-teardown-interrupt");
    let mut cmd = sample_command(
        &binaries()["crashes"],
        &["uses_lingering"],
        &[
            ("PORTALTEST_GRACE", "500ms"),
            ("PORTALTEST_TEARDOWN_TIMEOUT", "120s"),
            ("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap()),
        ],
    );
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id().to_string();
    let runner = std::thread::spawn(move || wait_within(child, Duration::from_secs(30)));
    wait_for_log(&log, "tearing down slowly", Duration::from_secs(30));
    let sent = std::process::Command::new("kill")
        .args(["-s", "INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let r = runner.join().unwrap();
    r.assert_code(130)
        .assert_stdout("test slow_teardown::uses_lingering ... ok")
        .assert_stdout("note: the run was interrupted and it did not finish within the grace period of 500 ms, so the worker process was killed by the supervisor");
}

/// Runs `stop::awaits_under_its_limit` in a process group of its own, stops what
/// `target` picks (given the group's and the worker's pids) with `stop` for 3 s, then
/// continues it with SIGCONT: the test passes.
fn stopped_for_a_while(tag: &str, stop: &str, target: fn(u32, u32) -> String) {
    use std::os::unix::process::CommandExt;
    let log = log_path(tag);
    let mut cmd = sample_command(
        &binaries()["crashes"],
        &["stop::"],
        &[
            ("PORTALTEST_GRACE", "500ms"),
            ("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap()),
        ],
    );
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().unwrap();
    let group = child.id();
    let runner = std::thread::spawn(move || wait_within(child, Duration::from_secs(60)));
    let worker: u32 = wait_for_log(&log, "stop me ", Duration::from_secs(30))
        .parse()
        .unwrap();
    let kill = |signal: &str| {
        let sent = std::process::Command::new("kill")
            .args(["-s", signal, "--", &target(group, worker)])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    kill(stop);
    // Longer than the test's limit plus the grace: the stop, not a timed assertion.
    std::thread::sleep(Duration::from_secs(3));
    kill("CONT");
    let r = runner.join().unwrap();
    r.assert_code(0)
        .assert_stdout("test stop::awaits_under_its_limit ... ok");
}

#[test]
fn ctrl_z_then_fg_is_not_a_hang() {
    // Finding 2: the group stopped past the limit: on resume the test failed as
    // "blocks the runtime thread" and its worker was killed.
    stopped_for_a_while("supervisor-ctrl-z", "TSTP", |group, _| format!("-{group}"));
}

#[test]
fn a_stopped_worker_is_not_a_hang() {
    stopped_for_a_while("supervisor-stop-worker", "STOP", |_, worker| {
        worker.to_string()
    });
}

#[test]
fn big_output_arrives_whole_and_in_order() {
    // Item 5: output goes in bounded chunks (no `as u32` length can wrap).
    let r = crashes_within(&["loud::fails_loudly"], &[]);
    r.assert_code(101)
        .assert_stdout("line 000000 ....")
        .assert_stdout("line 099999 ....")
        .assert_stdout("loud failure");
    let section = r.failure_section();
    let numbers: Vec<u32> = section
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.get(..6)?.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 100_000);
    assert!(numbers.windows(2).all(|w| w[0] + 1 == w[1]), "out of order");
}

#[test]
fn a_stalled_stdout_does_not_stall_ctrl_c() {
    // Item 5: the supervisor printed with blocking writes in its event loop, so a
    // consumer that stopped reading also stopped Ctrl-C from reaching the workers.
    let log = log_path("supervisor-stalled-stdout");
    let mut cmd = sample_command(
        &binaries()["crashes"],
        &["loud::", "-Z", "unstable-options", "--format", "json"],
        &[("PORTALTEST_SAMPLE_LOG", log.to_str().unwrap())],
    );
    // stdout is a pipe that nobody reads until the end.
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let worker: u32 = wait_for_log(&log, "loud waiting ", Duration::from_secs(30))
        .parse()
        .unwrap();
    wait_for_log(&log, "printed", Duration::from_secs(30));
    let sent = std::process::Command::new("kill")
        .args(["-s", "INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // The worker gets the Ctrl-C, cancels its test and ends: while stdout is stalled.
    let ended = wait_gone(worker, Duration::from_secs(30));
    // Read stdout only now (the run can then finish either way).
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut b);
        b
    });
    let status = child.wait().unwrap();
    let stdout = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert!(
        ended,
        "the worker was not told of the Ctrl-C while stdout was stalled"
    );
    assert_eq!(status.code(), Some(130));
    assert!(stdout.contains(r#""name": "loud::fails_loudly", "event": "failed""#));
}
