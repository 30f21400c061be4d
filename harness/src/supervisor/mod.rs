//! The supervisor: runs the tests in worker processes (the test binary started again)
//! and reports them, so that nothing a test does to its process loses a result.
//!
//! A worker asks for tests, runs them interleaved on its runtime and streams
//! [`Event`]s back over a Unix socket (its stdin); its stdout and stderr go to a
//! capture file that the supervisor reads when the worker dies. Around every poll the
//! worker publishes on its [`board`] which test it is polling, and its crash handler
//! notes there which thread a crash signal hit, so that when it dies (an abort, a
//! signal, `process::exit`, a kill after a hang) the supervisor knows whom to blame.
//!
//! # The rules
//!
//! The state machine is a worker's life (started, handed tests, running, told to end
//! or cancelled, exited) times each test's (queued, handed out, started, tried,
//! reported) times the signals (Ctrl-C/SIGTERM once and twice, SIGTSTP/SIGCONT, a kill
//! of a worker or of the supervisor). These rules hold in every combination; each is
//! kept true by an end-to-end test in `harness/tests/supervisor.rs` and by the
//! randomized fault injection in `harness/tests/faults.rs`.
//!
//! 1. **One deadline per try.** A test's deadline (its limit plus the grace) is armed
//!    at its start and again at each retry.
//! 2. **A stop is not a hang.** The worker's deadlines run on a clock that a stop of
//!    the process does not advance ([`crate::sys::realtime`]); a worker that finds it was
//!    stopped tells the supervisor, which moves that worker's deadlines as much; a
//!    worker that is stopped is not judged; Ctrl-Z stops the workers with the
//!    supervisor, and after any SIGCONT every worker gets a fresh grace, as it does
//!    when the supervisor wakes long past a deadline (it was stopped itself); before
//!    judging, the supervisor reads what has arrived.
//! 3. **Retries cover crashes.** A try that ends its worker (crash, `exit`, a kill
//!    after a hang) runs again in a fresh worker while the test has retries left (one
//!    budget per test: the new worker is told the tries used); each try's output comes
//!    under its own `---- try N of M ----` heading, and JUnit gets a rerun entry per
//!    try. A fixture whose setup crashed is not set up again, so its users are not
//!    retried.
//! 4. **Blame needs the thread.** A crash is blamed on a test only when it happened on
//!    the runtime thread while that test was polled (or on an isolated test's own
//!    thread). A crash signal on another thread (a thread a test spawned) blames
//!    nobody: the note names the thread, and the tests in flight run again, once each.
//!    A death with no test polled re-runs the tests in flight at most
//!    [`BLAMELESS_DEATHS`](blame::BLAMELESS_DEATHS) times.
//! 5. **Only the worker reports.** A child that a test forks without exec never
//!    reports, never publishes on the board: it ends quietly (`_exit(0)`) when it
//!    reaches the harness.
//! 6. **Early deaths end the run.** A worker that dies before it is handed a test,
//!    [`EARLY_DEATHS`](deaths::EARLY_DEATHS) times in a row, ends the run with its exit status and output.
//! 7. **A worker ends with its process.** Its end is its exit (reaped by `waitpid`),
//!    whatever holds its socket; what it wrote is then read to the end.
//! 8. **Nothing is left behind.** Each worker leads a process group of its own, which
//!    is SIGKILLed when the worker is killed and when it has ended; a worker whose
//!    supervisor is gone (the end of its link) kills its group, itself included.
//!    Workers start from the running binary (`/proc/self/exe`), so a rebuild or delete
//!    of the test binary changes nothing; the board is an unnamed file.
//! 9. **The grace bounds Ctrl-C.** After Ctrl-C or SIGTERM, a worker that has not
//!    finished within the grace is killed, whatever it runs (a test, a cleanup, a
//!    teardown); a second signal kills at once.
//! 10. **Every death is reported.** A worker's death is a test's failure, a fixture's
//!     teardown error or a run error; never silent, and never an exit code of 0.
//! 11. **`started` before every result**, in every format, also for a test whose
//!     worker died before its start was sent.
//! 12. **Printing never stalls the supervisor.** Results go to stdout from a thread of
//!     their own; output comes in bounded chunks (no frame near the `u32` length).
//!
//! What a death means for the tests in flight:
//!
//! * the test being polled fails with the cause and the output it captured (or runs
//!   again, rule 3);
//! * the tests in flight beside it run again in a fresh worker (nothing is reported
//!   twice: a result is printed when it arrives, and only tests without one run again);
//! * a death while a fixture was being set up fails that test and marks the fixture
//!   broken: the tests that use it later fail naming it, instead of crashing worker
//!   after worker.
//!
//! A test past its time limit that does not yield within the grace period
//! ([`GRACE_ENV`](crate::GRACE_ENV)) gets its worker killed, and so does a teardown past
//! its limit. Ctrl-C or SIGTERM (sent to the whole process group by a terminal, or to
//! the supervisor alone) makes every worker cancel its tests and tear its fixtures
//! down; a worker that has not finished within the grace period is killed, and so is
//! every worker at a second signal.

pub(crate) mod blame;
mod deadlines;
mod deaths;
mod events;
pub(crate) mod groups;
mod queue;
mod signals;
mod spawn;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::process::{ExitCode, ExitStatus};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};

use crate::config::{Cli, EnvConfig};
use crate::fixtures::registry::TestDef;
use crate::protocol::events::{Command, Event};
use crate::report::{Report, Tracker};
use crate::run::plan::{exit_code, start_report, Plan};
use blame::Kill;
use deadlines::STOPPED_GAP;
use signals::{poll_signal, recv_signal};

/// Runs the plan's tests in worker processes; the exit code of the run.
pub(crate) fn run(cli: &Cli, env: EnvConfig, plan: Plan, mut report: Report) -> ExitCode {
    let ids = start_report(&mut report, &plan);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("portaltest: cannot build the supervisor's runtime");
    let jobs = env.jobs.unwrap_or(1).clamp(1, ids.len().max(1));
    let supervisor = Supervisor {
        tests: plan.tests,
        queue: ids.into(),
        jobs,
        threads: plan.threads,
        capture: !cli.args.nocapture,
        grace: env.grace,
        env_timeout: env.timeout.clone(),
        workers: BTreeMap::new(),
        next_worker: 0,
        report,
        broken: Vec::new(),
        blameless_deaths: 0,
        early_deaths: 0,
        gave_up: false,
        retries: env.retries,
        tries: HashMap::new(),
        rerun: Default::default(),
        interrupted: None,
        killed_all: false,
    };
    let local = tokio::task::LocalSet::new();
    let (report, not_run, signal) = local.block_on(&rt, supervisor.run());
    let failed = report.finish(plan.filtered_out, signal.map(|s| (s, not_run.clone())));
    match signal {
        Some("SIGTERM") => ExitCode::from(143),
        Some(_) => ExitCode::from(130),
        None => exit_code(failed),
    }
}

/// The supervisor's record of one worker process.
struct Worker {
    /// Commands to it.
    tx: OwnedWriteHalf,
    /// Asks the task that waits for the process to kill it.
    kill: Option<oneshot::Sender<()>>,
    board: File,
    /// Its stdout and stderr (`None` with `--nocapture`).
    capture: Option<File>,
    tracker: Tracker,
    /// Tests handed to it and not finished.
    assigned: BTreeSet<u32>,
    /// It was told that no more tests come.
    ended: bool,
    killed: Option<Kill>,
    /// Its events ended (the socket closed) / its process ended.
    events_over: bool,
    status: Option<ExitStatus>,
    /// When it was asked to stop (interrupt).
    cancelled_at: Option<Instant>,
    /// The tests it runs that have a time limit: when each must have ended (ordered,
    /// so the next is the first), and by id.
    deadlines: BTreeSet<(Instant, u32)>,
    deadline_by_id: HashMap<u32, Instant>,
    /// It was handed a test.
    took_any: bool,
    /// Its process id (which is also its runtime thread's).
    pid: Option<i32>,
    /// It is not killed for a deadline before this (a fresh grace after a stop).
    not_before: Option<Instant>,
}

/// What the tasks that watch the workers report to the supervisor's loop.
enum Msg {
    Event(usize, Event),
    EventsOver(usize),
    Exited(usize, ExitStatus),
}

struct Supervisor {
    tests: Vec<(String, &'static TestDef)>,
    /// Tests not handed out yet, in order.
    queue: VecDeque<u32>,
    jobs: usize,
    threads: usize,
    capture: bool,
    grace: Duration,
    env_timeout: Option<(Duration, String)>,
    workers: BTreeMap<usize, Worker>,
    next_worker: usize,
    report: Report,
    /// Fixtures whose setup killed a worker, and why.
    broken: Vec<(String, String)>,
    blameless_deaths: u32,
    /// Workers that ended before they started a test, in a row.
    early_deaths: u32,
    /// No more workers are started ([`EARLY_DEATHS`]).
    gave_up: bool,
    /// PORTALTEST_RETRIES (a test's `retries = N` overrides it).
    retries: u32,
    /// Tests whose tries ended with their worker, and how many tries they had.
    tries: HashMap<u32, u32>,
    /// Tests run again after a crash on a thread that was not the runtime thread.
    rerun: std::collections::HashSet<u32>,
    /// The signal that interrupted the run.
    interrupted: Option<&'static str>,
    killed_all: bool,
}

impl Supervisor {
    async fn run(mut self) -> (Report, Vec<String>, Option<&'static str>) {
        use tokio::signal::unix::{signal, SignalKind};
        let (msgs_tx, mut msgs) = mpsc::unbounded_channel();
        let mut sigint = signal(SignalKind::interrupt()).ok();
        let mut sigterm = signal(SignalKind::terminate()).ok();
        // Ctrl-Z stops the workers too (they lead process groups of their own, which
        // the terminal does not stop), and `fg` continues them with a fresh grace.
        let mut sigtstp = signal(SignalKind::from_raw(libc::SIGTSTP)).ok();
        let mut sigcont = signal(SignalKind::from_raw(libc::SIGCONT)).ok();
        self.spawn_workers(&msgs_tx).await;
        loop {
            // Done; or interrupted; or tests are left that no worker could start (the
            // warning says why; they fail below).
            if self.workers.is_empty() {
                break;
            }
            let deadline = self.next_deadline();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // Events and signals before deadlines: after a stop, whatever arrived
                // meanwhile and the SIGCONT are seen before a deadline that passed.
                biased;
                msg = msgs.recv() => {
                    if let Some(msg) = msg {
                        self.on_msg(msg, &msgs_tx).await;
                        // What else has arrived, before deadlines are looked at again.
                        while let Ok(msg) = msgs.try_recv() {
                            self.on_msg(msg, &msgs_tx).await;
                        }
                    }
                }
                Some(()) = recv_signal(&mut sigint) => self.on_signal("SIGINT").await,
                Some(()) = recv_signal(&mut sigterm) => self.on_signal("SIGTERM").await,
                Some(()) = recv_signal(&mut sigtstp) => self.on_stop(),
                Some(()) = recv_signal(&mut sigcont) => self.on_continue(),
                () = sleep => {
                    // Woken long after the deadline: this process did not run (it was
                    // stopped, or starved); what the workers did meanwhile is unread.
                    // Judge nobody now: every worker gets a fresh grace.
                    let late = deadline.map_or(Duration::ZERO, |at| at.elapsed());
                    if late > STOPPED_GAP {
                        self.on_continue();
                        continue;
                    }
                    // Before judging, let the readers and the signal driver catch up
                    // (each yield lets the runtime poll its sockets and signals once):
                    // an event or a SIGCONT that is there must count first.
                    for _ in 0..3 {
                        tokio::task::yield_now().await;
                    }
                    while let Ok(msg) = msgs.try_recv() {
                        self.on_msg(msg, &msgs_tx).await;
                    }
                    if poll_signal(&mut sigcont) {
                        self.on_continue();
                        continue;
                    }
                    self.on_deadline();
                }
            }
        }
        let not_run = self.not_run();
        if self.interrupted.is_none() {
            // No worker could be started: every test left fails rather than vanish.
            self.fail_unstarted();
        }
        (self.report, not_run, self.interrupted)
    }
}

/// Sends `command` to a worker.
async fn send(tx: &mut OwnedWriteHalf, command: &Command) {
    let mut buf = Vec::new();
    command.encode(&mut buf);
    // A worker that is gone reads nothing; its end is reported when it is noticed.
    let _ = tx.write_all(&buf).await;
}
