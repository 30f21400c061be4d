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
//!    the process does not advance ([`crate::realtime`]); a worker that finds it was
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
//!    [`BLAMELESS_DEATHS`] times.
//! 5. **Only the worker reports.** A child that a test forks without exec never
//!    reports, never publishes on the board: it ends quietly (`_exit(0)`) when it
//!    reaches the harness.
//! 6. **Early deaths end the run.** A worker that dies before it is handed a test,
//!    [`EARLY_DEATHS`] times in a row, ends the run with its exit status and output.
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

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek};
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};

use crate::config::{
    Cli, EnvConfig, WORKER_CAPTURE_ENV, WORKER_ENV, WORKER_SHARE_ENV, WORKER_THREADS_ENV,
};
use crate::events::{frames, Command, Event, Verdict};
use crate::registry::TestDef;
use crate::report::{with_note, Followup, Holder, Report, Tracker};
use crate::runner::{exit_code, start_report, Plan};
use crate::worker::attribution::fmt_duration;
use crate::worker::board::{self, Polled};
use crate::worker::limit_of;

/// How many times workers may die while no test was being polled before the tests in
/// flight fail instead of running again.
const BLAMELESS_DEATHS: u32 = 3;

/// A wake-up this much past a deadline means the supervisor did not run meanwhile
/// (stopped, or starved): nobody is judged on it.
const STOPPED_GAP: Duration = Duration::from_millis(750);

/// How many workers in a row may end before they are handed a test before the run
/// stops starting them.
const EARLY_DEATHS: u32 = 3;

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

/// Why the supervisor killed a worker.
#[derive(Debug, Clone)]
enum Kill {
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

impl Worker {
    /// Moves every deadline of this worker `by` later (it was stopped that long).
    fn shift(&mut self, by: Duration) {
        self.deadlines = self
            .deadlines
            .iter()
            .map(|(at, id)| (*at + by, *id))
            .collect();
        for at in self.deadline_by_id.values_mut() {
            *at += by;
        }
        if let Some((_, until)) = &mut self.tracker.teardown {
            *until += by;
        }
        if let Some(at) = &mut self.cancelled_at {
            *at += by;
        }
    }

    /// Whether its process is stopped now (SIGSTOP, SIGTSTP): it is then not judged.
    fn is_stopped(&self) -> bool {
        let Some(pid) = self.pid else { return false };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        matches!(state, Some('T') | Some('t'))
    }

    /// Sends `signal` to its process group.
    fn signal_group(&self, signal: i32) {
        if let Some(pid) = self.pid.filter(|p| *p > 0) {
            // SAFETY: kill() has no memory-safety preconditions; the worker leads its
            // own process group and is not reaped yet (it is in `workers`).
            unsafe {
                libc::kill(-pid, signal);
            }
        }
    }
}

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
        let not_run = match self.interrupted {
            Some(_) => self
                .queue
                .iter()
                .map(|id| self.tests[*id as usize].0.clone())
                .collect(),
            None => Vec::new(),
        };
        if self.interrupted.is_none() && !self.queue.is_empty() {
            // No worker could be started: every test left fails rather than vanish.
            for id in std::mem::take(&mut self.queue) {
                self.report.finished(
                    id,
                    Verdict::Failed,
                    Vec::new(),
                    Some("note: no worker process could be started to run this test (see the error above)"),
                    None,
                    Vec::new(),
                );
            }
        }
        (self.report, not_run, self.interrupted)
    }

    /// Starts workers while tests are waiting and fewer than `jobs` take them.
    async fn spawn_workers(&mut self, msgs: &mpsc::UnboundedSender<Msg>) {
        if self.interrupted.is_some() || self.gave_up {
            return;
        }
        loop {
            let taking = self.workers.values().filter(|w| !w.ended).count();
            if self.queue.is_empty() || taking >= self.jobs {
                return;
            }
            match self.spawn_worker(msgs).await {
                Ok(()) => {}
                Err(err) => {
                    self.report.warn(&format!(
                        "portaltest: error: cannot start a worker process ({err}); set \
                         PORTALTEST_IN_PROCESS=1 to run the tests in this process"
                    ));
                    return;
                }
            }
        }
    }

    async fn spawn_worker(&mut self, msgs: &mpsc::UnboundedSender<Msg>) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let index = self.next_worker;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        // Unnamed: nothing is left in the temp dir, whatever ends the run.
        let board_file = board::create()?;
        let board_fd = board_file.as_raw_fd();
        let mut command = tokio::process::Command::new(worker_exe());
        if let Some(arg0) = std::env::args_os().next() {
            command.arg0(arg0);
        }
        command
            .env(WORKER_ENV, format!("fd:{board_fd}"))
            .env(WORKER_THREADS_ENV, self.threads.to_string())
            .env(WORKER_CAPTURE_ENV, if self.capture { "1" } else { "0" })
            .env(WORKER_SHARE_ENV, if self.jobs > 1 { "1" } else { "0" })
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            // A process group of its own: killing the worker kills what it started
            // (a fixture's helper, a forked child) too.
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: runs in the child between fork and exec, where only async-signal-safe
        // calls are allowed: `fcntl` is one. It clears close-on-exec on the board's fd
        // (open in the parent, so valid in the child), which the worker then maps.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(board_fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let capture = if self.capture {
            let file = crate::capture::temp_file("worker")?;
            command
                .stdout(Stdio::from(file.try_clone()?))
                .stderr(Stdio::from(file.try_clone()?));
            Some(file)
        } else {
            None
        };
        let mut child = command.spawn()?;
        let pid = child.id().map(|p| p as i32);
        ours.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(ours)?;
        let (mut rx, mut tx) = stream.into_split();
        for (name, cause) in &self.broken {
            send(
                &mut tx,
                &Command::Broken {
                    name: name.clone(),
                    cause: cause.clone(),
                },
            )
            .await;
        }
        // The process's end, not the socket's, ends the worker: a child it forked may
        // hold the socket open for as long as it likes. Once the process has exited,
        // what it wrote is in the socket's buffer: read until that is empty.
        let (exited_tx, exited_rx) = oneshot::channel::<()>();
        let events = msgs.clone();
        tokio::task::spawn_local(async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            let mut exited = std::pin::pin!(exited_rx);
            let mut draining = false;
            // Far more than a socket buffer holds: what a process that escaped the
            // worker's group (and kept the socket) writes after its end is not read.
            let mut drain_left = 1024;
            loop {
                let n = if draining {
                    drain_left -= 1;
                    match rx.try_read(&mut chunk) {
                        _ if drain_left == 0 => break,
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    }
                } else {
                    tokio::select! {
                        read = rx.read(&mut chunk) => match read {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        },
                        _ = &mut exited => {
                            draining = true;
                            continue;
                        }
                    }
                };
                buf.extend_from_slice(&chunk[..n]);
                for frame in frames(&mut buf) {
                    if let Some(event) = Event::decode(&frame) {
                        let _ = events.send(Msg::Event(index, event));
                    }
                }
            }
            let _ = events.send(Msg::EventsOver(index));
        });
        let (kill_tx, kill_rx) = oneshot::channel();
        let exits = msgs.clone();
        tokio::task::spawn_local(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    kill_group(pid);
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            // What the worker started and left behind (a forked child, a fixture's
            // helper) ends with it.
            kill_group(pid);
            let status = status.unwrap_or_else(|_| {
                use std::os::unix::process::ExitStatusExt;
                ExitStatus::from_raw(libc::SIGKILL)
            });
            let _ = exits.send(Msg::Exited(index, status));
            let _ = exited_tx.send(());
        });
        self.next_worker += 1;
        self.workers.insert(
            index,
            Worker {
                tx,
                kill: Some(kill_tx),
                board: board_file,
                capture,
                tracker: Tracker::default(),
                assigned: BTreeSet::new(),
                ended: false,
                killed: None,
                events_over: false,
                status: None,
                cancelled_at: None,
                deadlines: BTreeSet::new(),
                deadline_by_id: HashMap::new(),
                took_any: false,
                pid,
                not_before: None,
            },
        );
        Ok(())
    }

    async fn on_msg(&mut self, msg: Msg, msgs: &mpsc::UnboundedSender<Msg>) {
        match msg {
            Msg::Event(index, Event::Stopped { gap }) => {
                // The worker was stopped: what it must do by when moves as much, and it
                // gets a fresh grace.
                if let Some(worker) = self.workers.get_mut(&index) {
                    worker.shift(gap);
                    worker.not_before = Some(Instant::now() + self.grace);
                }
            }
            Msg::Event(index, event) => {
                // One deadline per try: a test's limit counts from its start, and again
                // from each retry (the worker's own clock restarts there too).
                let tried = match &event {
                    Event::Started { id, .. } => Some(*id),
                    Event::Retry { slot, .. } => match self.workers.get(&index) {
                        Some(w) => match w.tracker.holder(*slot) {
                            Some(Holder::Test(id)) => Some(id),
                            _ => None,
                        },
                        None => None,
                    },
                    _ => None,
                };
                let deadline = tried.and_then(|id| self.deadline_of(id).map(|at| (at, id)));
                let Some(worker) = self.workers.get_mut(&index) else {
                    return;
                };
                if let Some(id) = tried {
                    if let Some(old) = worker.deadline_by_id.remove(&id) {
                        worker.deadlines.remove(&(old, id));
                    }
                }
                if let Some((at, id)) = deadline {
                    worker.deadline_by_id.insert(id, at);
                    worker.deadlines.insert((at, id));
                }
                let finished = match &event {
                    Event::Finished { slot, .. } => match worker.tracker.holder(*slot) {
                        Some(Holder::Test(id)) => Some(id),
                        _ => None,
                    },
                    _ => None,
                };
                if let Followup::Want(n) = worker.tracker.handle(event, &mut self.report) {
                    let command = if self.interrupted.is_some() || self.queue.is_empty() {
                        worker.ended = true;
                        Command::End
                    } else {
                        // One worker takes what it asks for; several share the queue in
                        // shrinking chunks, so that none sits idle at the end.
                        let fair = (self.queue.len() / (2 * self.jobs)).max(1);
                        let n = if self.jobs == 1 {
                            n as usize
                        } else {
                            (n as usize).min(fair)
                        };
                        let ids = crate::groups::take(&mut self.queue, n, &self.tests);
                        for id in &ids {
                            if let Some(&tries) = self.tries.get(id) {
                                send(&mut worker.tx, &Command::Tried { id: *id, tries }).await;
                            }
                        }
                        worker.assigned.extend(&ids);
                        worker.took_any = true;
                        self.early_deaths = 0;
                        Command::Run { ids }
                    };
                    send(&mut worker.tx, &command).await;
                }
                if let Some(id) = finished {
                    worker.assigned.remove(&id);
                    if let Some(at) = worker.deadline_by_id.remove(&id) {
                        worker.deadlines.remove(&(at, id));
                    }
                }
            }
            Msg::EventsOver(index) => {
                if let Some(worker) = self.workers.get_mut(&index) {
                    worker.events_over = true;
                }
                self.maybe_gone(index, msgs).await;
            }
            Msg::Exited(index, status) => {
                if let Some(worker) = self.workers.get_mut(&index) {
                    worker.status = Some(status);
                }
                self.maybe_gone(index, msgs).await;
            }
        }
    }

    /// Once a worker's process and its events are both over: accounts for what it left.
    async fn maybe_gone(&mut self, index: usize, msgs: &mpsc::UnboundedSender<Msg>) {
        let ready =
            matches!(self.workers.get(&index), Some(w) if w.events_over && w.status.is_some());
        if !ready {
            return;
        }
        let mut worker = self.workers.remove(&index).expect("checked above");
        let status = worker.status.expect("checked above");
        if worker.tracker.all_done {
            // Handed out but never started: the run was interrupted first.
            let left = std::mem::take(&mut worker.assigned).into_iter().collect();
            self.requeue(left);
            if !status.success() {
                let output = with_note(
                    tail(&mut worker.capture),
                    Some(&format!(
                        "note: the worker process {} after all its tests and teardowns had finished",
                        describe(status)
                    )),
                );
                self.report
                    .run_error("a worker process's end".into(), output);
            } else {
                let rest = tail(&mut worker.capture);
                self.report.stray(&rest);
            }
        } else if !worker.took_any && worker.killed.is_none() && self.interrupted.is_none() {
            self.early_death(worker, status);
        } else {
            self.on_death(worker, status);
        }
        self.spawn_workers(msgs).await;
    }

    /// A worker ended before it was handed a test (a custom `main` that fails in a
    /// second process, a bad environment): its tests go back to the queue, and after
    /// [`EARLY_DEATHS`] such ends in a row no worker is started again.
    fn early_death(&mut self, mut worker: Worker, status: ExitStatus) {
        let left = std::mem::take(&mut worker.assigned).into_iter().collect();
        self.requeue(left);
        self.early_deaths += 1;
        let output = tail(&mut worker.capture);
        let cause = describe(status);
        if self.early_deaths >= EARLY_DEATHS {
            self.gave_up = true;
            self.report.warn(&format!(
                "portaltest: error: {} worker processes in a row ended before they ran a test; \
                 no more are started. The last one {cause}; its output:\n{}",
                self.early_deaths,
                String::from_utf8_lossy(&output).trim_end()
            ));
        }
        self.report.run_error(
            "a worker process's start".into(),
            with_note(
                output,
                Some(&format!(
                    "note: the worker process {cause} before it ran a test ({} in a row)",
                    self.early_deaths
                )),
            ),
        );
    }

    /// A worker ended before it finished its tests: blame, re-run, report.
    fn on_death(&mut self, mut worker: Worker, status: ExitStatus) {
        let cause = match &worker.killed {
            Some(_) => "was killed by the supervisor".to_string(),
            None => describe(status),
        };
        let polled = board::read(&worker.board);
        let mut output_tail = tail(&mut worker.capture);
        let in_flight: Vec<u32> = worker.assigned.iter().copied().collect();
        // Interrupted: what was in flight was cancelled, not failed.
        if self.interrupted.is_some() {
            for id in in_flight {
                let ((output, earlier), took) = match worker.tracker.slot_of(id) {
                    Some((slot, started)) => {
                        (worker.tracker.take_output(slot), Some(started.elapsed()))
                    }
                    None => {
                        // Handed out, never started.
                        self.queue.push_back(id);
                        continue;
                    }
                };
                self.report.finished(
                    id,
                    Verdict::Interrupted,
                    output,
                    Some(&match worker.killed {
                        Some(Kill::Second) => format!(
                            "note: the run was interrupted twice; the worker process {cause} \
                             before it reported this test"
                        ),
                        Some(Kill::Interrupt) => format!(
                            "note: the run was interrupted and the worker process {cause}: it \
                             did not stop within the grace period of {} (a test that blocks?)",
                            fmt_duration(self.grace)
                        ),
                        _ => format!(
                            "note: the run was interrupted and the worker process {cause} before \
                             it reported this test"
                        ),
                    }),
                    took,
                    earlier,
                );
            }
            if let Some((slot, _)) = worker.tracker.teardown {
                self.teardown_died(&mut worker, slot, &cause, output_tail);
            } else {
                self.report.stray(&output_tail);
            }
            return;
        }
        // A crash signal that hit another thread than the runtime thread (the worker's
        // main thread, whose id is the process's): what the board says is polled did
        // not do it. Its handler noted the thread.
        let foreign = {
            use std::os::unix::process::ExitStatusExt;
            match (
                status.signal(),
                board::crashed_thread(&worker.board),
                worker.pid,
            ) {
                (Some(_), Some((tid, name)), Some(pid)) if tid != pid as u64 => Some((tid, name)),
                _ => None,
            }
        };
        // Whom the board names.
        let mut culprit = match (polled, &foreign) {
            (Some(Polled::Test(id)), None) if in_flight.contains(&id) => Some(id),
            _ => None,
        };
        if let Some(Kill::Hang { id, .. }) = &worker.killed {
            culprit = culprit.or(Some(*id));
        }
        // An isolated test runs on a thread of its own (named after it), outside the
        // board's view: a crash on its thread is its own; when the thread is unknown
        // and no shared test was polled and it is the only one running, it is the one.
        if culprit.is_none() {
            let mut isolated = worker.tracker.running().filter(|(_, id, _)| {
                let def = self.tests[*id as usize].1;
                def.isolated || def.start_paused
            });
            match &foreign {
                Some((_, thread)) => {
                    culprit = isolated
                        .find(|(_, id, _)| {
                            let name = self.tests[*id as usize].0.as_bytes();
                            !thread.is_empty() && name.starts_with(thread.as_bytes())
                        })
                        .map(|(_, id, _)| id);
                }
                None if polled.is_none() => {
                    if let (Some((_, id, _)), None) = (isolated.next(), isolated.next()) {
                        culprit = Some(id);
                    }
                }
                None => {}
            }
        }
        if let (None, Some(Polled::Slot(slot))) = (culprit, polled) {
            if let Some(Holder::Teardown(_)) = worker.tracker.holder(slot) {
                self.teardown_died(&mut worker, slot, &cause, output_tail);
                return;
            }
        }
        if let (None, Some((slot, _))) = (culprit, worker.tracker.teardown) {
            self.teardown_died(&mut worker, slot, &cause, output_tail);
            return;
        }
        let others: Vec<u32> = in_flight
            .iter()
            .copied()
            .filter(|id| Some(*id) != culprit)
            .collect();
        if let (None, Some((tid, thread))) = (culprit, &foreign) {
            // A thread that a test (or a fixture) spawned crashed: nobody is blamed, the
            // tests in flight run again, once each.
            let (again, failed): (Vec<u32>, Vec<u32>) =
                others.iter().partition(|id| self.rerun.insert(**id));
            let note = format!(
                "note: the worker process {cause} on thread `{thread}` (id {tid}), not on the \
                 runtime thread while a test was polled: no test is blamed (a thread that a \
                 test or fixture spawned?); the {} test{} in flight ran again in a fresh \
                 worker",
                again.len(),
                if again.len() == 1 { "" } else { "s" }
            );
            let again_note = format!(
                "note: the worker process {cause} on thread `{thread}` while this test was in \
                 flight, for the second time: it is not run again"
            );
            for id in failed {
                self.fail_in_flight(&mut worker.tracker, id, &again_note);
            }
            self.report.run_error(
                "a worker process's death".into(),
                with_note(output_tail, Some(&note)),
            );
            self.requeue(again);
            return;
        }
        let Some(culprit) = culprit else {
            // Nobody to blame: a task outside any test, the runtime, the harness, or a
            // kill from outside (the OOM killer). Never silent: the run fails with it.
            self.blameless_deaths += 1;
            let again = if self.blameless_deaths > BLAMELESS_DEATHS || others.is_empty() {
                String::new()
            } else {
                format!(
                    "; the {} test{} in flight ran again in a fresh worker",
                    others.len(),
                    if others.len() == 1 { "" } else { "s" }
                )
            };
            self.report.run_error(
                "a worker process's death".into(),
                with_note(
                    output_tail,
                    Some(&format!(
                        "note: the worker process {cause} while no test was being polled{again}"
                    )),
                ),
            );
            if self.blameless_deaths > BLAMELESS_DEATHS {
                let note = format!(
                    "note: the worker process {cause} while this test was in flight, and no \
                     test was being polled (a task that a fixture or a test spawned?); worker \
                     processes died that way {} times, so it is not run again",
                    self.blameless_deaths
                );
                for id in others {
                    self.fail_in_flight(&mut worker.tracker, id, &note);
                }
            } else {
                self.requeue(others);
            }
            return;
        };
        let ((mut output, earlier), took, fixture) = match worker.tracker.slot_of(culprit) {
            Some((slot, started)) => (
                worker.tracker.take_output(slot),
                Some(started.elapsed()),
                worker.tracker.setting_up_for(slot).map(str::to_string),
            ),
            None => ((Vec::new(), Vec::new()), None, None),
        };
        output.append(&mut output_tail);
        let name = self.tests[culprit as usize].0.clone();
        let mut note = match (&worker.killed, &fixture) {
            (Some(Kill::Hang { id, limit, why }), _) if *id == culprit => format!(
                "note: test timed out after {} ({why}) and did not yield within the grace \
                 period of {} after that: it blocks the runtime thread, so it could not be \
                 cancelled. Its worker process was killed",
                crate::config::format_limit(*limit),
                fmt_duration(self.grace)
            ),
            (Some(Kill::Hang { id, .. }), _) => format!(
                "note: this test held the runtime thread without yielding while `{}` passed its \
                 time limit, which could then not be cancelled; the worker process was killed",
                self.tests[*id as usize].0
            ),
            (_, Some(fixture)) => format!(
                "note: the worker process {cause} while fixture `{fixture}` was being set up \
                 for this test; the fixture is not set up again in this run, and the tests \
                 that use it fail"
            ),
            _ => format!("note: the worker process {cause} while this test was running"),
        };
        if !others.is_empty() {
            note.push_str(&format!(
                "; the {} test{} in flight beside it ran again in a fresh worker",
                others.len(),
                if others.len() == 1 { "" } else { "s" }
            ));
        }
        // Retries cover crashes: a try that ended its worker runs again in a fresh one,
        // while the test has retries left (not a fixture's crashed setup: that fixture
        // is not set up again, so another try could only fail the same way).
        let retries = self.tests[culprit as usize]
            .1
            .retries
            .unwrap_or(self.retries);
        let used = self.tries.get(&culprit).copied().unwrap_or(0) + earlier.len() as u32 + 1;
        if fixture.is_none() && used <= retries {
            for attempt in earlier {
                self.report.crashed_try(culprit, attempt);
            }
            self.report.crashed_try(
                culprit,
                crate::report::Attempt {
                    output,
                    note: Some(format!("{note}; the test runs again in a fresh worker")),
                    took,
                },
            );
            self.tries.insert(culprit, used);
            self.requeue(others);
            self.queue.push_front(culprit);
            return;
        }
        if let Some(fixture) = fixture {
            self.broken.push((
                fixture.clone(),
                // The cause only: the worker says "fixture `NAME` failed: " before it.
                format!(
                    "it was not set up: its setup (for `{name}`) ended the worker process, \
                     which {cause}; see that test's output"
                ),
            ));
        }
        self.report
            .finished(culprit, Verdict::Failed, output, Some(&note), took, earlier);
        // A test that blocked while another passed its limit: that one runs again.
        self.requeue(others);
    }

    /// The worker died during fixture teardown in `slot`.
    fn teardown_died(&mut self, worker: &mut Worker, slot: u32, cause: &str, tail: Vec<u8>) {
        let name = match worker.tracker.holder(slot) {
            Some(Holder::Teardown(name)) => name,
            _ => "?".to_string(),
        };
        let (mut output, _) = worker.tracker.take_output(slot);
        output.extend_from_slice(&tail);
        let why = match worker.killed {
            Some(Kill::Teardown) => format!(
                "it did not finish within its limit and the grace period of {} (it blocks?), so",
                fmt_duration(self.grace)
            ),
            Some(Kill::Interrupt) => format!(
                "the run was interrupted and it did not finish within the grace period of {}, so",
                fmt_duration(self.grace)
            ),
            _ => "while it ran,".to_string(),
        };
        let output = with_note(
            output,
            Some(&format!(
                "note: {why} the worker process {cause}; the fixtures after it were not torn down"
            )),
        );
        self.report
            .run_error(format!("fixture `{name}` teardown"), output);
    }

    /// Puts tests back at the front of the queue, in order.
    /// Fails test `id`, in flight on a worker that died, with `note` and what it wrote.
    fn fail_in_flight(&mut self, tracker: &mut Tracker, id: u32, note: &str) {
        let ((output, earlier), took) = match tracker.slot_of(id) {
            Some((slot, started)) => (tracker.take_output(slot), Some(started.elapsed())),
            None => ((Vec::new(), Vec::new()), None),
        };
        self.report
            .finished(id, Verdict::Failed, output, Some(note), took, earlier);
    }

    fn requeue(&mut self, ids: Vec<u32>) {
        for id in ids.into_iter().rev() {
            self.queue.push_front(id);
        }
    }

    /// The next moment a worker must be checked on.
    fn next_deadline(&self) -> Option<Instant> {
        self.workers
            .values()
            .filter_map(|w| self.worker_deadline(w).map(|(at, _)| at))
            .min()
    }

    /// When `worker` must have shown progress, and why it is killed if not (never
    /// before its fresh grace after a stop).
    fn worker_deadline(&self, worker: &Worker) -> Option<(Instant, Kill)> {
        let (at, kill) = self.worker_deadline_raw(worker)?;
        Some((worker.not_before.map_or(at, |nb| at.max(nb)), kill))
    }

    fn worker_deadline_raw(&self, worker: &Worker) -> Option<(Instant, Kill)> {
        if worker.killed.is_some() {
            return None;
        }
        // The grace bounds an interrupt in every phase, a teardown's included.
        let interrupt = worker
            .cancelled_at
            .map(|at| (at + self.grace, Kill::Interrupt));
        if let Some((_, until)) = worker.tracker.teardown {
            let teardown = (until + self.grace, Kill::Teardown);
            return match interrupt {
                Some(i) if i.0 < teardown.0 => Some(i),
                _ => Some(teardown),
            };
        }
        if interrupt.is_some() {
            return interrupt;
        }
        let &(at, id) = worker.deadlines.first()?;
        let (limit, why) = limit_of(self.tests[id as usize].1, &self.env_timeout);
        Some((
            at,
            Kill::Hang {
                id,
                limit: limit.unwrap_or_default(),
                why,
            },
        ))
    }

    /// When test `id`, starting now, must have ended at the latest (its limit plus the
    /// grace), if the supervisor watches it: not without a limit, nor an isolated test
    /// (its own thread; the worker reports it in real time).
    fn deadline_of(&self, id: u32) -> Option<Instant> {
        let def = self.tests.get(id as usize)?.1;
        if def.isolated || def.start_paused {
            return None;
        }
        let limit = limit_of(def, &self.env_timeout).0?;
        Some(Instant::now() + limit + self.grace)
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        let due: Vec<(usize, Kill)> = self
            .workers
            .iter()
            .filter_map(|(i, w)| {
                let (at, kill) = self.worker_deadline(w)?;
                (at <= now).then_some((*i, kill))
            })
            .collect();
        for (index, kill) in due {
            if let Some(worker) = self.workers.get_mut(&index) {
                // A stopped worker is not hanging: it is judged a grace after it runs.
                if !matches!(kill, Kill::Interrupt | Kill::Second) && worker.is_stopped() {
                    worker.not_before = Some(now + self.grace);
                    continue;
                }
                worker.killed = Some(kill);
                if let Some(kill) = worker.kill.take() {
                    let _ = kill.send(());
                }
            }
        }
    }

    /// Ctrl-Z (SIGTSTP): the workers stop, then the supervisor.
    fn on_stop(&mut self) {
        for worker in self.workers.values() {
            worker.signal_group(libc::SIGSTOP);
        }
        // SAFETY: raise() has no memory-safety preconditions; SIGSTOP stops this
        // process until a SIGCONT (`fg`), and then raise returns.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }

    /// SIGCONT (`fg`, or after any stop of the supervisor): the workers go on too, and
    /// no deadline that passed while the run stood still kills one before a grace.
    fn on_continue(&mut self) {
        let fresh = Instant::now() + self.grace;
        for worker in self.workers.values_mut() {
            worker.signal_group(libc::SIGCONT);
            worker.not_before = Some(fresh);
        }
    }

    async fn on_signal(&mut self, signal: &'static str) {
        if self.interrupted.is_some() {
            if !self.killed_all {
                self.killed_all = true;
                self.report.warn(&format!(
                    "portaltest: {signal} again: killing the worker processes"
                ));
                for worker in self.workers.values_mut() {
                    worker.killed = Some(Kill::Second);
                    if let Some(kill) = worker.kill.take() {
                        let _ = kill.send(());
                    }
                }
            }
            return;
        }
        self.interrupted = Some(signal);
        self.report.warn(&format!(
            "portaltest: {signal}: cancelling the running tests and tearing the fixtures down \
             (within {}; press Ctrl-C again to kill them at once)",
            fmt_duration(self.grace)
        ));
        let now = Instant::now();
        for worker in self.workers.values_mut() {
            worker.cancelled_at = Some(now);
            send(&mut worker.tx, &Command::Cancel).await;
        }
    }
}

/// What a worker runs: this very executable, as the kernel has it open (Linux's
/// `/proc/self/exe`), so that a test binary rebuilt or deleted during the run changes
/// nothing; elsewhere, its path.
fn worker_exe() -> PathBuf {
    let proc_exe = std::path::Path::new("/proc/self/exe");
    if cfg!(target_os = "linux") && proc_exe.exists() {
        return proc_exe.to_path_buf();
    }
    std::env::current_exe().unwrap_or_else(|_| proc_exe.to_path_buf())
}

/// SIGKILLs the process group of the worker `pid` (its own group: it leads it).
fn kill_group(pid: Option<i32>) {
    if let Some(pid) = pid.filter(|p| *p > 0) {
        // SAFETY: kill() has no memory-safety preconditions. A negative pid names the
        // process group that the worker leads (it was started with `process_group(0)`);
        // the worker is not reaped yet or was just reaped by us, so the group id is not
        // reused by an unrelated group while members of this one live.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Whether `signal` has arrived (without waiting).
fn poll_signal(signal: &mut Option<tokio::signal::unix::Signal>) -> bool {
    let Some(signal) = signal else {
        return false;
    };
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    matches!(signal.poll_recv(&mut cx), std::task::Poll::Ready(Some(())))
}

/// Waits for a signal, or forever if it could not be registered.
async fn recv_signal(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn send(tx: &mut OwnedWriteHalf, command: &Command) {
    let mut buf = Vec::new();
    command.encode(&mut buf);
    // A worker that is gone reads nothing; its end is reported when it is noticed.
    let _ = tx.write_all(&buf).await;
}

/// What is left in a dead worker's capture file: what it wrote since its last drain.
fn tail(capture: &mut Option<File>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(file) = capture {
        if file.rewind().is_ok() {
            let _ = file.read_to_end(&mut out);
        }
    }
    out
}

/// How a process ended, in words: `was killed by signal 6 (SIGABRT)`, `exited with
/// code 0`.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        let name = signal_name(signal)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let core = if status.core_dumped() {
            ", core dumped"
        } else {
            ""
        };
        format!("was killed by signal {signal}{name}{core}")
    } else {
        match status.code() {
            Some(code) => format!("exited with code {code}"),
            None => format!("ended ({status})"),
        }
    }
}

/// The names that nextest shows (`helpers.rs::signal_str`), for the signals a test can
/// die of.
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        // 7 on Linux, 10 on macOS and the BSDs.
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn deaths_are_described_like_nextest() {
        assert_eq!(
            describe(ExitStatus::from_raw(6)),
            "was killed by signal 6 (SIGABRT)"
        );
        assert_eq!(describe(ExitStatus::from_raw(0)), "exited with code 0");
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exited with code 3");
        assert_eq!(
            describe(ExitStatus::from_raw(42)),
            "was killed by signal 42"
        );
    }

    #[test]
    fn signal_names_come_from_the_platform() {
        assert_eq!(signal_name(libc::SIGBUS), Some("SIGBUS"));
        assert_eq!(signal_name(libc::SIGSEGV), Some("SIGSEGV"));
        // 7 is SIGBUS on Linux only (SIGEMT on macOS and the BSDs).
        if libc::SIGBUS != 7 {
            assert_eq!(signal_name(7), None);
        }
    }
}
