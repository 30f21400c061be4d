//! Death accounting as data: what a worker process's death means for the tests it had
//! in flight ([`blame`]), decided from what the supervisor knows about it ([`Death`]),
//! without touching the report or the queue (the supervisor applies the [`Blame`]).
//!
//! The test the board names as polled is blamed (or the one whose limit the
//! supervisor enforced, or an isolated test whose thread crashed); the others in
//! flight run again in a fresh worker. A blamed test with retries left runs again too,
//! unless a fixture's setup was running for it: that fixture is then broken for the
//! rest of the run.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::fixtures::registry::TestDef;
use crate::protocol::board::Polled;
use crate::protocol::events::Verdict;
use crate::report::messages::{self, KilledFor};

/// How many worker deaths with no test polled are survived (their tests in flight
/// run again) before the tests in flight fail instead.
pub(crate) const BLAMELESS_DEATHS: u32 = 3;

/// Why the supervisor killed a worker.
#[derive(Debug, Clone)]
pub(crate) enum Kill {
    /// Test `id` passed its limit and the worker did not report it within the grace.
    Hang {
        id: u32,
        limit: Duration,
        why: String,
    },
    /// A teardown passed its limit and did not end within the grace.
    Teardown,
    /// The run was interrupted and the worker did not finish within the grace.
    Interrupt,
    /// A second Ctrl-C.
    Second,
}

impl Kill {
    fn killed_for(killed: Option<&Kill>) -> KilledFor {
        match killed {
            None => KilledFor::Nothing,
            Some(Kill::Hang { .. }) => KilledFor::Hang,
            Some(Kill::Teardown) => KilledFor::Teardown,
            Some(Kill::Interrupt) => KilledFor::Interrupt,
            Some(Kill::Second) => KilledFor::Second,
        }
    }
}

/// A test the dead worker had in flight.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight {
    pub(crate) id: u32,
    /// It started (it has a slot), as opposed to handed out and not started.
    pub(crate) started: bool,
    /// Its tries in this worker that failed before (retries).
    pub(crate) earlier: u32,
    /// The fixture being set up for it, if one was.
    pub(crate) setting_up: Option<String>,
}

/// What the supervisor knows about a worker's death.
pub(crate) struct Death<'a> {
    /// How it ended, as a note says it ("was killed by signal 6 (SIGABRT)").
    pub(crate) cause: String,
    pub(crate) killed: Option<Kill>,
    /// The run was interrupted (Ctrl-C, SIGTERM).
    pub(crate) interrupted: bool,
    /// What its board said was polled.
    pub(crate) polled: Option<Polled>,
    /// A crash signal that hit a thread other than the runtime thread: its id and name.
    pub(crate) foreign: Option<(u64, String)>,
    /// The tests handed to it and not finished, in id order.
    pub(crate) in_flight: Vec<InFlight>,
    /// The tests running in it, in slot order (isolated ones among them).
    pub(crate) running: Vec<u32>,
    /// The slot of the fixture teardown it was running, if any.
    pub(crate) teardown: Option<u32>,
    /// The slot the board named as polled, when that slot is a fixture's teardown.
    pub(crate) polled_teardown: Option<u32>,
    /// Every test of the binary, by id.
    pub(crate) tests: &'a [(String, &'static TestDef)],
    /// The retries of a test that sets none of its own.
    pub(crate) retries: u32,
    /// Tries of tests in workers that died before.
    pub(crate) tries: &'a HashMap<u32, u32>,
    /// Tests that ran again once already after a crash on a foreign thread.
    pub(crate) rerun: &'a HashSet<u32>,
    /// Deaths with no test polled so far, this one not counted.
    pub(crate) blameless_deaths: u32,
    pub(crate) grace: Duration,
}

/// What a worker's death does to the run: the supervisor applies it in this order
/// (ended tests, the culprit's crashed try, errors, the queue).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Blame {
    /// The test blamed for the death.
    pub(crate) culprit: Option<u32>,
    /// Tests that end now, with their verdict and note (the culprit's output is
    /// followed by the worker's last output).
    pub(crate) ended: Vec<(u32, Verdict, String)>,
    /// The culprit runs again: the note of the try that ended the worker, and its
    /// tries so far.
    pub(crate) retry: Option<(String, u32)>,
    /// Tests that go back to the front of the queue, in this order.
    pub(crate) requeue: Vec<u32>,
    /// Tests handed out and never started, back to the end of the queue.
    pub(crate) queue_back: Vec<u32>,
    /// A fixture that is not set up again, and why.
    pub(crate) broken_fixture: Option<(String, String)>,
    /// The run error about the death (with the worker's last output).
    pub(crate) run_error: Option<String>,
    /// The fixture teardown in this slot died: the note of its run error (with the
    /// worker's last output).
    pub(crate) teardown: Option<(u32, String)>,
    /// Tests that run again once after a crash on a foreign thread.
    pub(crate) rerun: Vec<u32>,
    /// The death counts as one with no test to blame.
    pub(crate) blameless: bool,
}

impl Blame {
    /// Where the worker's last output goes when no test takes it: to the stray output.
    pub(crate) fn tail_is_stray(&self) -> bool {
        self.culprit.is_none() && self.teardown.is_none() && self.run_error.is_none()
    }
}

/// What `death` means for the tests and the run.
pub(crate) fn blame(death: &Death) -> Blame {
    let cause = death.cause.as_str();
    let killed = Kill::killed_for(death.killed.as_ref());
    let mut blame = Blame::default();
    let in_flight: Vec<u32> = death.in_flight.iter().map(|t| t.id).collect();
    let name = |id: u32| death.tests[id as usize].0.as_str();
    if death.interrupted {
        // What was in flight was cancelled, not failed.
        let note = messages::interrupted_in_flight(killed, cause, death.grace);
        for t in &death.in_flight {
            if t.started {
                blame.ended.push((t.id, Verdict::Interrupted, note.clone()));
            } else {
                blame.queue_back.push(t.id);
            }
        }
        if let Some(slot) = death.teardown {
            blame.teardown = Some((slot, messages::teardown_died(killed, cause, death.grace)));
        }
        return blame;
    }
    // Whom the board names.
    let mut culprit = match (death.polled, &death.foreign) {
        (Some(Polled::Test(id)), None) if in_flight.contains(&id) => Some(id),
        _ => None,
    };
    if let Some(Kill::Hang { id, .. }) = &death.killed {
        culprit = culprit.or(Some(*id));
    }
    // An isolated test runs on a thread of its own (named after it), outside the
    // board's view: a crash on its thread is its own; when the thread is unknown and
    // no shared test was polled and it is the only one running, it is the one.
    if culprit.is_none() {
        let mut isolated = death.running.iter().copied().filter(|id| {
            let def = death.tests[*id as usize].1;
            def.isolated || def.start_paused
        });
        match &death.foreign {
            Some((_, thread)) => {
                culprit = isolated
                    .find(|id| !thread.is_empty() && name(*id).starts_with(thread.as_str()));
            }
            None if death.polled.is_none() => {
                if let (Some(id), None) = (isolated.next(), isolated.next()) {
                    culprit = Some(id);
                }
            }
            None => {}
        }
    }
    if culprit.is_none() {
        if let Some(slot) = death.polled_teardown.or(death.teardown) {
            blame.teardown = Some((slot, messages::teardown_died(killed, cause, death.grace)));
            return blame;
        }
    }
    let others: Vec<u32> = in_flight
        .iter()
        .copied()
        .filter(|id| Some(*id) != culprit)
        .collect();
    let Some(culprit) = culprit else {
        if let Some((tid, thread)) = &death.foreign {
            // A thread that a test (or a fixture) spawned crashed: nobody is blamed, the
            // tests in flight run again, once each.
            let (again, failed): (Vec<u32>, Vec<u32>) =
                others.iter().partition(|id| !death.rerun.contains(id));
            let note = messages::foreign_thread_death_again(cause, thread);
            for id in failed {
                blame.ended.push((id, Verdict::Failed, note.clone()));
            }
            blame.run_error = Some(messages::foreign_thread_death(
                cause,
                thread,
                *tid,
                again.len(),
            ));
            blame.rerun = again.clone();
            blame.requeue = again;
            return blame;
        }
        // Nobody to blame: a task outside any test, the runtime, the harness, or a kill
        // from outside (the OOM killer). Never silent: the run fails with it.
        blame.blameless = true;
        let deaths = death.blameless_deaths + 1;
        let over = deaths > BLAMELESS_DEATHS;
        blame.run_error = Some(messages::blameless_death(
            cause,
            if over { 0 } else { others.len() },
        ));
        if over {
            let note = messages::blameless_death_limit(cause, deaths);
            for id in others {
                blame.ended.push((id, Verdict::Failed, note.clone()));
            }
        } else {
            blame.requeue = others;
        }
        return blame;
    };
    blame.culprit = Some(culprit);
    let (earlier, fixture) = death
        .in_flight
        .iter()
        .find(|t| t.id == culprit && t.started)
        .map_or((0, None), |t| (t.earlier, t.setting_up.clone()));
    let mut note = match (&death.killed, &fixture) {
        (Some(Kill::Hang { id, limit, why }), _) if *id == culprit => {
            messages::hung_test(&crate::config::format_limit(*limit), why, death.grace)
        }
        (Some(Kill::Hang { id, .. }), _) => messages::held_thread_for(name(*id)),
        (_, Some(fixture)) => messages::died_in_fixture_setup(cause, fixture),
        _ => messages::died_running(cause),
    };
    if !others.is_empty() {
        note.push_str(&messages::others_ran_again(others.len()));
    }
    // Retries cover crashes: a try that ended its worker runs again in a fresh one,
    // while the test has retries left (not a fixture's crashed setup: that fixture is
    // not set up again, so another try could only fail the same way).
    let retries = death.tests[culprit as usize]
        .1
        .retries
        .unwrap_or(death.retries);
    let used = death.tries.get(&culprit).copied().unwrap_or(0) + earlier + 1;
    if fixture.is_none() && used <= retries {
        blame.retry = Some((messages::runs_again(&note), used));
        blame.requeue = std::iter::once(culprit).chain(others).collect();
        return blame;
    }
    if let Some(fixture) = fixture {
        blame.broken_fixture = Some((
            fixture,
            messages::fixture_setup_crashed(name(culprit), cause),
        ));
    }
    blame.ended.push((culprit, Verdict::Failed, note));
    // A test that blocked while another passed its limit: that one runs again.
    blame.requeue = others;
    blame
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABORT: &str = "was killed by signal 6 (SIGABRT)";

    fn defs() -> Vec<(String, &'static TestDef)> {
        let mut isolated = TestDef::sample("t::m", "isolated_one");
        isolated.isolated = true;
        let mut retried = TestDef::sample("t::m", "retried");
        retried.retries = Some(1);
        [
            TestDef::sample("t::m", "a"),
            TestDef::sample("t::m", "b"),
            TestDef::sample("t::m", "c"),
            isolated,
            retried,
        ]
        .into_iter()
        .map(|def| {
            let def: &'static TestDef = Box::leak(Box::new(def));
            (format!("m::{}", def.name), def)
        })
        .collect()
    }

    fn started(id: u32) -> InFlight {
        InFlight {
            id,
            started: true,
            ..InFlight::default()
        }
    }

    struct Case {
        tests: Vec<(String, &'static TestDef)>,
        tries: HashMap<u32, u32>,
        rerun: HashSet<u32>,
    }

    impl Case {
        fn new() -> Case {
            Case {
                tests: defs(),
                tries: HashMap::new(),
                rerun: HashSet::new(),
            }
        }

        fn death(&self, in_flight: Vec<InFlight>) -> Death<'_> {
            Death {
                cause: ABORT.into(),
                killed: None,
                interrupted: false,
                polled: None,
                foreign: None,
                running: in_flight
                    .iter()
                    .filter(|t| t.started)
                    .map(|t| t.id)
                    .collect(),
                in_flight,
                teardown: None,
                polled_teardown: None,
                tests: &self.tests,
                retries: 0,
                tries: &self.tries,
                rerun: &self.rerun,
                blameless_deaths: 0,
                grace: Duration::from_secs(5),
            }
        }
    }

    #[test]
    fn an_abort_while_a_test_runs_blames_it_and_reruns_the_others() {
        let case = Case::new();
        let mut death = case.death(vec![started(0), started(1), started(2)]);
        death.polled = Some(Polled::Test(1));
        let blame = super::blame(&death);
        assert_eq!(blame.culprit, Some(1));
        assert_eq!(
            blame.ended,
            vec![(
                1,
                Verdict::Failed,
                format!(
                    "note: the worker process {ABORT} while this test was running; the 2 tests \
                     in flight beside it ran again in a fresh worker"
                )
            )]
        );
        assert_eq!(blame.requeue, vec![0, 2]);
        assert!(blame.run_error.is_none() && blame.broken_fixture.is_none());
    }

    #[test]
    fn a_death_during_a_fixture_setup_breaks_the_fixture() {
        let case = Case::new();
        let mut user = started(0);
        user.setting_up = Some("db".into());
        let mut death = case.death(vec![user]);
        death.polled = Some(Polled::Test(0));
        let blame = super::blame(&death);
        assert_eq!(blame.culprit, Some(0));
        let (fixture, why) = blame.broken_fixture.expect("the fixture is broken");
        assert_eq!(fixture, "db");
        assert!(
            why.contains("its setup (for `m::a`) ended the worker process"),
            "{why}"
        );
        assert!(blame.ended[0]
            .2
            .contains("while fixture `db` was being set up"));
        assert!(blame.retry.is_none());
    }

    #[test]
    fn a_death_with_nothing_polled_blames_nobody_and_reruns_the_tests_in_flight() {
        let case = Case::new();
        let death = case.death(vec![started(0), started(1)]);
        let blame = super::blame(&death);
        assert_eq!(blame.culprit, None);
        assert!(blame.blameless);
        assert!(blame.ended.is_empty());
        assert_eq!(blame.requeue, vec![0, 1]);
        assert_eq!(
            blame.run_error.as_deref(),
            Some(
                "note: the worker process was killed by signal 6 (SIGABRT) while no test was \
                 being polled; the 2 tests in flight ran again in a fresh worker"
            )
        );
    }

    #[test]
    fn too_many_blameless_deaths_fail_the_tests_in_flight() {
        let case = Case::new();
        let mut death = case.death(vec![started(0)]);
        death.blameless_deaths = BLAMELESS_DEATHS;
        let blame = super::blame(&death);
        assert!(blame.requeue.is_empty());
        assert_eq!(blame.ended.len(), 1);
        assert!(blame.ended[0].2.contains("died that way 4 times"));
        assert!(!blame.run_error.unwrap().contains("ran again"));
    }

    #[test]
    fn a_crash_runs_the_test_again_while_it_has_retries_left() {
        let mut case = Case::new();
        let mut death = case.death(vec![started(4), started(0)]);
        death.polled = Some(Polled::Test(4));
        let first = blame(&death);
        assert_eq!(first.culprit, Some(4));
        assert!(first.ended.is_empty());
        let (note, used) = first.retry.expect("a retry");
        assert_eq!(used, 1);
        assert!(
            note.ends_with("; the test runs again in a fresh worker"),
            "{note}"
        );
        assert_eq!(first.requeue, vec![4, 0]);
        // The retry limit reached: the next crash fails it.
        case.tries.insert(4, used);
        let mut death = case.death(vec![started(4)]);
        death.polled = Some(Polled::Test(4));
        let second = blame(&death);
        assert!(second.retry.is_none());
        assert_eq!(second.ended[0].0, 4);
        assert_eq!(second.ended[0].1, Verdict::Failed);
    }

    #[test]
    fn a_test_blocking_past_its_deadline_is_blamed_and_the_others_run_again() {
        let case = Case::new();
        let mut death = case.death(vec![started(0), started(1)]);
        death.cause = "was killed by the supervisor".into();
        death.killed = Some(Kill::Hang {
            id: 0,
            limit: Duration::from_millis(300),
            why: "its `timeout = \"300ms\"`".into(),
        });
        let blame = super::blame(&death);
        assert_eq!(blame.culprit, Some(0));
        let note = &blame.ended[0].2;
        assert!(
            note.starts_with("note: test timed out after 300ms (its `timeout = \"300ms\"`)"),
            "{note}"
        );
        assert!(note.contains("grace period of 5.00 s"), "{note}");
        assert_eq!(blame.requeue, vec![1]);
        // The test that held the thread while another one's limit passed.
        let mut death = case.death(vec![started(0), started(1)]);
        death.polled = Some(Polled::Test(1));
        death.killed = Some(Kill::Hang {
            id: 0,
            limit: Duration::from_secs(1),
            why: String::new(),
        });
        let blame = super::blame(&death);
        assert_eq!(blame.culprit, Some(1));
        assert!(blame.ended[0]
            .2
            .contains("while `m::a` passed its time limit"));
    }

    #[test]
    fn an_isolated_test_whose_thread_crashed_is_blamed() {
        let case = Case::new();
        let mut death = case.death(vec![started(0), started(3)]);
        death.foreign = Some((77, "m::isolated_one".into()));
        let blame = super::blame(&death);
        assert_eq!(blame.culprit, Some(3));
        assert_eq!(blame.requeue, vec![0]);
        // The only test running and nothing polled: the isolated one.
        let death = case.death(vec![started(3)]);
        assert_eq!(super::blame(&death).culprit, Some(3));
    }

    #[test]
    fn a_crash_on_a_spawned_thread_reruns_the_tests_in_flight_once() {
        let mut case = Case::new();
        case.rerun.insert(1);
        let mut death = case.death(vec![started(0), started(1)]);
        death.foreign = Some((77, "helper".into()));
        let blame = super::blame(&death);
        assert_eq!(blame.culprit, None);
        assert_eq!(blame.requeue, vec![0]);
        assert_eq!(blame.rerun, vec![0]);
        assert_eq!(blame.ended.len(), 1);
        assert_eq!(blame.ended[0].0, 1);
        assert!(blame
            .run_error
            .unwrap()
            .contains("the 1 test in flight ran again"));
    }

    #[test]
    fn an_interrupted_run_cancels_what_was_in_flight() {
        let case = Case::new();
        let mut not_started = started(1);
        not_started.started = false;
        let mut death = case.death(vec![started(0), not_started]);
        death.interrupted = true;
        death.killed = Some(Kill::Second);
        let blame = super::blame(&death);
        assert_eq!(blame.ended.len(), 1);
        assert_eq!(blame.ended[0].1, Verdict::Interrupted);
        assert!(blame.ended[0].2.contains("interrupted twice"));
        assert_eq!(blame.queue_back, vec![1]);
        assert!(blame.tail_is_stray());
    }

    #[test]
    fn a_death_in_a_teardown_is_the_teardown_s() {
        let case = Case::new();
        let mut death = case.death(vec![]);
        death.teardown = Some(7);
        death.killed = Some(Kill::Teardown);
        let blame = super::blame(&death);
        let (slot, note) = blame.teardown.expect("the teardown died");
        assert_eq!(slot, 7);
        assert!(
            note.starts_with("note: it did not finish within its limit"),
            "{note}"
        );
    }
}
