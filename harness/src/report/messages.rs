//! The notes and errors the harness shows a user, built in one place so that each
//! text is written once and pinned by a snapshot test (a change to one is a reviewed
//! diff of `src/report/snapshots/`).

use std::time::Duration;

use crate::config::{BLOCKING_WARN_ENV, IN_PROCESS_ENV, JOBS_ENV, TEARDOWN_TIMEOUT_ENV};
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

/// Why a fixture cannot be created or waited for here: the accessor is sync, so waiting
/// needs the caller's portal, which a task started with `tokio::spawn` (or
/// `tokio::task::spawn_local`) does not have.
pub(crate) fn fixture_without_portal(name: &str) -> String {
    format!(
        "fixture `{name}` was first used from a task that does not run in a portal (one \
         started with `tokio::spawn` or `tokio::task::spawn_local`?), where its accessor \
         cannot wait for it to be created. Spawn the task with `portaltest::spawn_local` \
         instead, or call `{name}()` in the test before spawning and move what the task \
         needs into it"
    )
}

/// What a teardown that takes the value reports when the value is still shared.
pub(crate) fn fixture_still_shared(name: &str, others: usize) -> String {
    let refs = if others == 1 {
        "1 other reference to it is".to_string()
    } else {
        format!("{others} other references to it are")
    };
    format!(
        "the teardown of fixture `{name}` takes the value, but {refs} still alive (an \
         `Rc` from `{name}()` kept by a static, a task that is still running, or another \
         value), so the teardown did not run. Drop those references before the tests \
         end, or make the teardown borrow the value (`async fn(&T)`)"
    )
}

/// Why a test that uses fixture `name` fails: its setup failed with `cause`.
pub(crate) fn fixture_failed(name: &str, cause: &str) -> String {
    format!("fixture `{name}` failed: {cause}")
}

/// A fixture used after the fixtures were torn down.
pub(crate) fn fixture_used_after_teardown(name: &str) -> String {
    format!(
        "fixture `{name}` was used after the fixtures were torn down (after all tests finished)"
    )
}

/// A fixture used in an isolated test, where fixtures do not exist.
pub(crate) fn fixture_in_isolated_test(fixture: &str, test: &str) -> String {
    format!(
        "fixture `{fixture}` was used in the isolated test `{test}`: fixtures live on the shared \
         runtime's thread (their values are `Rc`s, created and torn down there), and an isolated \
         test (`isolated`, `start_paused = true`) runs on a thread and a runtime of its own; \
         create what the test needs inside it, or let it run on the shared runtime"
    )
}

/// The warning about the shared clock found paused between the polls of tests.
pub(crate) const CLOCK_PAUSED_OUTSIDE_TESTS: &str =
    "portaltest: warning: the shared runtime's clock was found paused outside any \
     test's poll (by a task a test spawned?) and was resumed; tests that need a paused \
     clock take `#[portaltest::test(start_paused = true)]` or `(isolated)`";

/// The note of a test cancelled because `who` paused the shared runtime's clock.
pub(crate) fn clock_paused_by(who: &str) -> String {
    format!(
        "note: {who} paused the clock of the shared runtime (`tokio::time::pause()`); every test \
         of this run shares that clock, so it would stop (and auto-advance) time for all of \
         them. The clock was resumed and the test cancelled (its stack unwound). Give the test \
         a runtime of its own: `#[portaltest::test(start_paused = true)]` (a clock paused \
         from the start, like `#[tokio::test(start_paused = true)]`) or \
         `#[portaltest::test(isolated)]` (then it may pause its clock itself)"
    )
}

/// The warning about a poll that held the runtime thread past the threshold `limit`,
/// set by the test's own `blocking_warn` (`by_attribute`) or the environment.
pub(crate) fn blocking_warning(
    name: &str,
    took: Duration,
    limit: Duration,
    by_attribute: bool,
) -> String {
    let set_by = if by_attribute {
        format!(
            "set by its `#[portaltest::test(blocking_warn = \"{}\")]`",
            crate::config::format_limit(limit)
        )
    } else {
        format!(
            "set by {BLOCKING_WARN_ENV}; `#[portaltest::test(blocking_warn = \"..\")]` \
             sets one test's"
        )
    };
    format!(
        "portaltest: warning: `{name}` blocked the runtime thread for {} without yielding \
         (every other test was stalled meanwhile; warning threshold {} ms, {set_by})",
        fmt_duration(took),
        limit.as_millis()
    )
}

/// The watchdog's warning about a poll that still holds the runtime thread.
pub(crate) fn still_blocking(name: &str, held: Duration) -> String {
    format!(
        "portaltest: warning: `{name}` has held the runtime thread for {} without \
         yielding and still does; no other test can run until it yields",
        fmt_duration(held)
    )
}

/// The note of a test cancelled by an interrupt.
pub(crate) const INTERRUPTED: &str =
    "note: the run was interrupted; the test was cancelled (its stack unwound)";

/// How a cancelled test ended.
pub(crate) const CANCELLED: &str = "it was cancelled and its stack unwound";

/// How an isolated test whose thread blocked past the cancellation ended.
pub(crate) fn left_running(grace: Duration) -> String {
    format!(
        "its thread did not respond to the cancellation within {} (it blocks?) and \
         was left running",
        fmt_duration(grace)
    )
}

/// The note of a test cancelled by an interrupt, and how it ended (`ended`).
pub(crate) fn interrupted(ended: &str) -> String {
    format!("note: the run was interrupted; {ended}")
}

/// The note of a test that passed its time limit `limit` (set by `why`), and how it
/// ended (`ended`).
pub(crate) fn timed_out(limit: &str, why: &str, ended: &str) -> String {
    format!("note: test timed out after {limit} ({why}); {ended}")
}

/// A fixture teardown (`what`: "fixture `NAME` teardown") that panicked.
pub(crate) fn teardown_panicked(what: &str, message: &str) -> String {
    format!("note: {what} panicked: {message}")
}

/// A fixture teardown that passed its time limit.
pub(crate) fn teardown_timed_out(what: &str, limit: &str) -> String {
    format!(
        "note: {what} did not finish within {limit} ({TEARDOWN_TIMEOUT_ENV}); it was cancelled \
         and its stack unwound"
    )
}

/// The hint after the summary of a CPU-bound run in one worker process (`busy` of
/// `wall`), on a machine with `cores` cores.
pub(crate) fn cpu_bound(busy: Duration, wall: Duration, cores: usize) -> String {
    format!(
        "note: the tests kept the runtime thread busy for {:.0}% of the run ({} of {}): \
         they are CPU-bound, and one worker process uses one core. \
         {JOBS_ENV}=auto runs them in {cores} worker processes, one per core (each with \
         its own fixtures).",
        100.0 * busy.as_secs_f64() / wall.as_secs_f64(),
        fmt_duration(busy),
        fmt_duration(wall),
    )
}

/// The note of a test whose portal could not be opened (`reason`: the engine's panic
/// message, such as the limit on mapped stacks).
pub(crate) fn could_not_start(reason: &str) -> String {
    format!("note: the test could not start: {reason}")
}

/// The note of an isolated test whose thread could not be spawned.
pub(crate) fn isolated_thread_not_started(err: &std::io::Error) -> String {
    format!("note: cannot start a thread for the isolated test: {err}")
}

/// The note of an isolated test whose thread ended without sending its result.
pub(crate) const ISOLATED_NO_RESULT: &str =
    "note: the isolated test's thread ended without reporting a result";

/// The note of an isolated test that its own thread reports as cancelled.
pub(crate) const ISOLATED_CANCELLED: &str = "note: the isolated test was cancelled";

/// The note of a `#[should_panic]` test (declared at `file:line`) that returned.
pub(crate) fn did_not_panic(file: &str, line: u32) -> String {
    format!("note: test did not panic as expected at {file}:{line}")
}

/// The note of a `#[should_panic(expected = ..)]` test whose panic message `message`
/// lacks `expected` (libtest's wording).
pub(crate) fn panic_without_expected(message: &str, expected: &str) -> String {
    format!(
        "note: panic did not contain expected string\n      panic message: {message:?}\n expected substring: {expected:?}"
    )
}

/// The warning of a worker whose runner panicked (`message`): a bug of the harness.
pub(crate) fn runner_panicked(message: &str) -> String {
    format!("portaltest: internal error: the runner panicked: {message}; please report this")
}

/// The run error's output after [`runner_panicked`].
pub(crate) const INTERNAL_ERROR_SEE_ABOVE: &str = "portaltest: internal error (see above)\n";

/// The note of a test whose task failed inside the harness (`text`: why).
pub(crate) fn internal_error_in_test(text: &str) -> String {
    format!("portaltest: internal error while running this test: {text}")
}

/// The error when a worker process cannot be spawned (`err`).
pub(crate) fn cannot_start_worker(err: &std::io::Error) -> String {
    format!(
        "portaltest: error: cannot start a worker process ({err}); set {IN_PROCESS_ENV}=1 to \
         run the tests in this process"
    )
}

/// The note of a test left in the queue because no worker process could be started.
pub(crate) const NO_WORKER_STARTED: &str =
    "note: no worker process could be started to run this test (see the error above)";

/// The error when `deaths` workers in a row ended before they ran a test; the last
/// one `cause` after writing `output`.
pub(crate) fn early_deaths_gave_up(deaths: u32, cause: &str, output: &str) -> String {
    format!(
        "portaltest: error: {deaths} worker processes in a row ended before they ran a test; \
         no more are started. The last one {cause}; its output:\n{output}"
    )
}

/// The run error of a worker that ended before it ran a test (the `in_a_row`th).
pub(crate) fn early_death(cause: &str, in_a_row: u32) -> String {
    format!("note: the worker process {cause} before it ran a test ({in_a_row} in a row)")
}

/// The run error of a worker that failed after all its tests and teardowns finished.
pub(crate) fn worker_failed_at_end(cause: &str) -> String {
    format!("note: the worker process {cause} after all its tests and teardowns had finished")
}

/// The warning at the first Ctrl-C or SIGTERM (`signal`).
pub(crate) fn interrupt_cancelling(signal: &str, grace: Duration) -> String {
    format!(
        "portaltest: {signal}: cancelling the running tests and tearing the fixtures down \
         (within {}; press Ctrl-C again to kill them at once)",
        fmt_duration(grace)
    )
}

/// The warning at a second Ctrl-C or SIGTERM (`signal`).
pub(crate) fn interrupt_again(signal: &str) -> String {
    format!("portaltest: {signal} again: killing the worker processes")
}

/// The line after an interrupted run: which signal, how many tests it cancelled and
/// how many it kept from starting (listed below it).
pub(crate) fn interrupted_summary(signal: &str, cancelled: usize, not_run: usize) -> String {
    format!(
        "interrupted by {signal}: {} cancelled, {not_run} not started",
        tests(cancelled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABORT: &str = "was killed by signal 6 (SIGABRT)";
    const GRACE: Duration = Duration::from_secs(5);

    #[test]
    fn death_notes() {
        let notes = [
            interrupted_in_flight(KilledFor::Nothing, ABORT, GRACE),
            interrupted_in_flight(KilledFor::Interrupt, "was killed by the supervisor", GRACE),
            interrupted_in_flight(KilledFor::Second, "was killed by the supervisor", GRACE),
            foreign_thread_death(ABORT, "helper", 4242, 2),
            foreign_thread_death(ABORT, "helper", 4242, 1),
            foreign_thread_death_again(ABORT, "helper"),
            blameless_death(ABORT, 0),
            blameless_death(ABORT, 3),
            blameless_death_limit(ABORT, 4),
            died_running(ABORT) + &others_ran_again(1),
            died_running(ABORT) + &others_ran_again(2),
            runs_again(&died_running(ABORT)),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }

    #[test]
    fn timeout_and_grace_notes() {
        let notes = [
            hung_test("300ms", "its `timeout = \"300ms\"`", GRACE),
            held_thread_for("m::slow"),
            timed_out("2s", "set by PORTALTEST_TIMEOUT", CANCELLED),
            timed_out("2s", "its `timeout = \"2s\"`", &left_running(GRACE)),
            interrupted(CANCELLED),
            INTERRUPTED.to_string(),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }

    #[test]
    fn fixture_notes() {
        let notes = [
            died_in_fixture_setup(ABORT, "db"),
            fixture_setup_crashed("m::uses_db", ABORT),
            fixture_failed("db", "connection refused"),
            fixture_used_after_teardown("db"),
            fixture_without_portal("db"),
            fixture_still_shared("db", 1),
            fixture_still_shared("db", 2),
            fixture_in_isolated_test("db", "m::isolated"),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }

    #[test]
    fn teardown_failures() {
        let notes = [
            teardown_panicked("fixture `db` teardown", "boom"),
            teardown_timed_out("fixture `db` teardown", "30s"),
            teardown_died(KilledFor::Nothing, ABORT, GRACE),
            teardown_died(KilledFor::Teardown, "was killed by the supervisor", GRACE),
            teardown_died(KilledFor::Interrupt, "was killed by the supervisor", GRACE),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }

    #[test]
    fn run_notes() {
        let notes = [
            interrupted_summary("SIGINT", 1, 0),
            interrupted_summary("SIGTERM", 3, 12),
            cpu_bound(Duration::from_millis(9_000), Duration::from_secs(10), 8),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }

    #[test]
    fn blocking_and_clock_warnings() {
        let notes = [
            blocking_warning(
                "m::spins",
                Duration::from_millis(250),
                Duration::from_millis(100),
                false,
            ),
            blocking_warning(
                "m::spins",
                Duration::from_millis(1500),
                Duration::from_millis(500),
                true,
            ),
            still_blocking("m::spins", Duration::from_secs(2)),
            CLOCK_PAUSED_OUTSIDE_TESTS.to_string(),
            clock_paused_by("`m::pauses`"),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }

    #[test]
    fn start_failures() {
        let notes = [
            could_not_start("stackportal: the process's limit on mapped stacks is reached"),
            isolated_thread_not_started(&std::io::Error::other("no threads left")),
            cannot_start_worker(&std::io::Error::other("no file descriptors left")),
            NO_WORKER_STARTED.to_string(),
            early_death(ABORT, 1),
            early_deaths_gave_up(3, ABORT, "boom"),
            worker_failed_at_end("exited with code 1"),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }

    #[test]
    fn isolated_and_should_panic_notes() {
        let notes = [
            ISOLATED_NO_RESULT.to_string(),
            ISOLATED_CANCELLED.to_string(),
            did_not_panic("tests/m.rs", 12),
            panic_without_expected("boom", "bang"),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }

    #[test]
    fn internal_errors_and_interrupt_warnings() {
        let notes = [
            runner_panicked("oops"),
            INTERNAL_ERROR_SEE_ABOVE.to_string(),
            internal_error_in_test("task was cancelled"),
            interrupt_cancelling("SIGINT", GRACE),
            interrupt_again("SIGTERM"),
        ];
        insta::assert_snapshot!(notes.join("\n"));
    }
}
