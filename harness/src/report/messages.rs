//! The notes and errors the harness shows a user, built in one place so that each
//! text is written once and pinned by a snapshot test (a change to one is a reviewed
//! diff of `src/report/snapshots/`).

use std::time::Duration;

use crate::fmt::fmt_duration;

/// `1 test` / `3 tests`.
fn tests(n: usize) -> String {
    format!("{n} test{}", if n == 1 { "" } else { "s" })
}

/// How the supervisor came to kill a worker, as far as the notes about its death say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KilledFor {
    /// Not killed by the supervisor (it crashed or exited).
    Nothing,
    /// A test passed its limit and the worker did not report it within the grace.
    Hang,
    /// A teardown passed its limit and did not end within the grace.
    Teardown,
    /// The run was interrupted and the worker did not finish within the grace.
    Interrupt,
    /// A second Ctrl-C.
    Second,
}

/// A test in flight on a worker that died after the run was interrupted.
pub(crate) fn interrupted_in_flight(killed: KilledFor, cause: &str, grace: Duration) -> String {
    match killed {
        KilledFor::Second => format!(
            "note: the run was interrupted twice; the worker process {cause} before it reported \
             this test"
        ),
        KilledFor::Interrupt => format!(
            "note: the run was interrupted and the worker process {cause}: it did not stop \
             within the grace period of {} (a test that blocks?)",
            fmt_duration(grace)
        ),
        _ => format!(
            "note: the run was interrupted and the worker process {cause} before it reported \
             this test"
        ),
    }
}

/// The run error for a crash on a thread other than the runtime thread.
pub(crate) fn foreign_thread_death(cause: &str, thread: &str, tid: u64, again: usize) -> String {
    format!(
        "note: the worker process {cause} on thread `{thread}` (id {tid}), not on the runtime \
         thread while a test was polled: no test is blamed (a thread that a test or fixture \
         spawned?); the {} in flight ran again in a fresh worker",
        tests(again)
    )
}

/// A test in flight for the second time when a thread other than the runtime thread
/// crashed.
pub(crate) fn foreign_thread_death_again(cause: &str, thread: &str) -> String {
    format!(
        "note: the worker process {cause} on thread `{thread}` while this test was in flight, \
         for the second time: it is not run again"
    )
}

/// The run error for a death while no test was polled; `again`: the tests in flight
/// that run again (0: none do).
pub(crate) fn blameless_death(cause: &str, again: usize) -> String {
    let again = if again == 0 {
        String::new()
    } else {
        format!(
            "; the {} in flight ran again in a fresh worker",
            tests(again)
        )
    };
    format!("note: the worker process {cause} while no test was being polled{again}")
}

/// A test in flight when worker processes died once too often with no test polled.
pub(crate) fn blameless_death_limit(cause: &str, deaths: u32) -> String {
    format!(
        "note: the worker process {cause} while this test was in flight, and no test was being \
         polled (a task that a fixture or a test spawned?); worker processes died that way \
         {deaths} times, so it is not run again"
    )
}

/// The test that passed its limit and blocked past the grace, so its worker was killed.
pub(crate) fn hung_test(limit: &str, why: &str, grace: Duration) -> String {
    format!(
        "note: test timed out after {limit} ({why}) and did not yield within the grace period \
         of {} after that: it blocks the runtime thread, so it could not be cancelled. Its \
         worker process was killed",
        fmt_duration(grace)
    )
}

/// The test that held the runtime thread while another (`hung`) passed its limit.
pub(crate) fn held_thread_for(hung: &str) -> String {
    format!(
        "note: this test held the runtime thread without yielding while `{hung}` passed its \
         time limit, which could then not be cancelled; the worker process was killed"
    )
}

/// The test for which fixture `fixture` was being set up when the worker died.
pub(crate) fn died_in_fixture_setup(cause: &str, fixture: &str) -> String {
    format!(
        "note: the worker process {cause} while fixture `{fixture}` was being set up for this \
         test; the fixture is not set up again in this run, and the tests that use it fail"
    )
}

/// The test that was running when the worker died.
pub(crate) fn died_running(cause: &str) -> String {
    format!("note: the worker process {cause} while this test was running")
}

/// Appended to the culprit's note: the other tests in flight ran again.
pub(crate) fn others_ran_again(others: usize) -> String {
    format!(
        "; the {} in flight beside it ran again in a fresh worker",
        tests(others)
    )
}

/// Appended to the note of a try that ended its worker, when the test runs again.
pub(crate) fn runs_again(note: &str) -> String {
    format!("{note}; the test runs again in a fresh worker")
}

/// Why fixture `fixture`'s users fail: its setup (for test `test`) ended the worker.
/// The worker says "fixture `NAME` failed: " before it.
pub(crate) fn fixture_setup_crashed(test: &str, cause: &str) -> String {
    format!(
        "it was not set up: its setup (for `{test}`) ended the worker process, which {cause}; \
         see that test's output"
    )
}

/// The run error of a worker that died during a fixture's teardown.
pub(crate) fn teardown_died(killed: KilledFor, cause: &str, grace: Duration) -> String {
    let why = match killed {
        KilledFor::Teardown => format!(
            "it did not finish within its limit and the grace period of {} (it blocks?), so",
            fmt_duration(grace)
        ),
        KilledFor::Interrupt => format!(
            "the run was interrupted and it did not finish within the grace period of {}, so",
            fmt_duration(grace)
        ),
        _ => "while it ran,".to_string(),
    };
    format!("note: {why} the worker process {cause}; the fixtures after it were not torn down")
}
