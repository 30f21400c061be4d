//! The worker: the run of tests on one thread. One current-thread tokio runtime,
//! every test in its own portal, interleaved, fixtures shared; what happens is sent as
//! [`Event`]s to a [`Sink`]: the supervisor over a socket (the worker is a process of
//! its own), or the report directly (a run in one process).

pub(crate) mod attribution;
pub(crate) mod isolated;
pub(crate) mod link;
pub(crate) mod panic_hook;
pub(crate) mod spawn;
mod task_hooks;
pub(crate) mod watchdog;

use std::any::Any;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use stackportal::Portal;
use tokio::sync::{mpsc, Notify, RwLock, Semaphore};

use crate::config::EnvConfig;
use crate::fixtures::registry::{ShouldPanic, TestDef};
use crate::fixtures::{broken, created};
use crate::protocol::events::{Command, Event, Verdict as Ending};
use crate::protocol::sink::Sink;
use crate::report::messages;
use crate::sys::realtime::{self, Deadline};
use crate::unwind::{__rust_begin_short_backtrace, panic_message, CatchUnwind};
use attribution::{await_cleanups, cleanup_spawner, Attributed, Ctx};
use isolated::Finished;

/// The run was interrupted (Ctrl-C or SIGTERM reached the supervisor, or the
/// supervisor went away): no test starts any more, running ones are cancelled.
pub(crate) struct Interrupt {
    set: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    pub(crate) fn get() -> &'static Interrupt {
        static INTERRUPT: OnceLock<Interrupt> = OnceLock::new();
        INTERRUPT.get_or_init(|| Interrupt {
            set: AtomicBool::new(false),
            notify: Notify::new(),
        })
    }

    /// Interrupts the run (from any thread).
    pub(crate) fn trigger(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Completes when the run is interrupted.
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

/// Tests that had tries in workers that crashed, and how many (their retries left
/// here are fewer).
static TRIED: Mutex<Vec<(u32, u32)>> = Mutex::new(Vec::new());

/// How many tries test `id` had before this worker got it.
fn tries_before(id: u32) -> u32 {
    let tried = TRIED.lock().unwrap_or_else(|e| e.into_inner());
    tried
        .iter()
        .rev()
        .find(|(i, _)| *i == id)
        .map_or(0, |(_, n)| *n)
}

/// What a worker does with a command of its supervisor, on the link's thread.
pub(crate) fn on_command(command: &Command) {
    match command {
        Command::Cancel => Interrupt::get().trigger(),
        Command::Broken { name, cause } => broken::mark(name, cause),
        Command::Tried { id, tries } => TRIED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((*id, *tries)),
        Command::Run { .. } | Command::End => {}
    }
}

/// Where the tests to run come from.
pub(crate) enum Source {
    /// All of them, queued here from the start (a run in one process); how many are in
    /// flight at once is the run's `threads` (`DEFAULT_IN_FLIGHT` unless set).
    Local(VecDeque<u32>),
    /// Asked of the supervisor, a batch at a time.
    Remote {
        rx: mpsc::UnboundedReceiver<Command>,
        queue: VecDeque<u32>,
        ended: bool,
        /// Other workers share the queue: ask for more only when this one's runtime
        /// has nothing to run, so that a worker busy with CPU-bound tests does not take
        /// tests an idle one could run.
        share: bool,
    },
}

/// Woken whenever the worker's runtime is about to park (nothing to run).
static IDLE: Notify = Notify::const_new();

/// The runtime's park hook: buffered events go out, and a worker that waits for idle
/// time to ask for tests gets it.
fn on_park() {
    attribution::flush_sink();
    IDLE.notify_waiters();
}

impl Source {
    /// The next test to start; `want`: how many the worker could start now; `busy`:
    /// whether tests are in flight.
    async fn next(&mut self, sink: &dyn Sink, want: usize, busy: bool) -> Option<u32> {
        match self {
            Source::Local(queue) => queue.pop_front(),
            Source::Remote {
                rx,
                queue,
                ended,
                share,
            } => loop {
                if let Some(id) = queue.pop_front() {
                    return Some(id);
                }
                if *ended {
                    return None;
                }
                if *share && busy {
                    IDLE.notified().await;
                }
                sink.send(Event::Want {
                    n: want.max(1).min(u32::MAX as usize) as u32,
                });
                match rx.recv().await {
                    Some(Command::Run { ids }) => queue.extend(ids),
                    Some(_) | None => *ended = true,
                }
            },
        }
    }
}

/// What a worker's run needs.
pub(crate) struct Setup {
    /// Every test of the binary, in name order: ids index it.
    pub(crate) tests: Vec<(String, &'static TestDef)>,
    pub(crate) env: EnvConfig,
    /// How many tests are in flight at most.
    pub(crate) threads: usize,
    pub(crate) ctx: Rc<Ctx>,
    pub(crate) source: Source,
    /// A worker process: Ctrl-C and SIGTERM reach it through its supervisor (which
    /// gets them too, and tells the worker), not by ending it.
    pub(crate) worker_process: bool,
}

/// Runs the tests the source gives, tears the fixtures down, sends [`Event::Done`].
pub(crate) fn run(setup: Setup) {
    let Setup {
        tests,
        env,
        threads,
        ctx,
        mut source,
        worker_process,
    } = setup;
    let sink = ctx.sink.clone();
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder
        .enable_all()
        // Buffered events go out whenever the runtime has nothing to do. The hook runs
        // on this thread (a current-thread runtime), where the run's state is.
        .on_thread_park(on_park);
    task_hooks::install(&mut builder);
    let rt = builder
        .build()
        .expect("portaltest: cannot build the tokio runtime");
    // Registered, never read: so that the signal does not end the process (its default
    // action); the supervisor's `Cancel` stops the run instead.
    let _signals = worker_process.then(|| {
        let _entered = rt.enter();
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    });
    let local = tokio::task::LocalSet::new();
    let state = Rc::new(RunState {
        ctx: ctx.clone(),
        tests,
        env_timeout: env.timeout.clone(),
        slow_notice: env.slow_notice,
        teardown_limit: env.teardown_timeout,
        retries: env.retries,
        semaphore: Arc::new(Semaphore::new(threads)),
        turns: Arc::default(),
        groups: RefCell::default(),
    });
    let began = Instant::now();
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        local.block_on(&rt, state.clone().run_all(&mut source, threads))
    }));
    let wall = began.elapsed();
    drop(local);
    drop(rt);
    if let Err(payload) = ran {
        // A bug of the harness: its message must reach the user, and the run fails.
        ctx.warn(&messages::runner_panicked(&panic_message(&*payload)));
        ctx.sink.send(Event::Stray {
            bytes: messages::INTERNAL_ERROR_SEE_ABOVE.as_bytes().to_vec(),
        });
    }
    ctx.end_capture();
    sink.send(Event::Busy {
        busy: ctx.busy.get(),
        wall,
    });
    sink.send(Event::Done);
    sink.flush();
}

struct RunState {
    ctx: Rc<Ctx>,
    tests: Vec<(String, &'static TestDef)>,
    env_timeout: Option<(Duration, String)>,
    /// After how long a test without a time limit gets libtest's notice.
    slow_notice: Option<Duration>,
    /// How long a fixture's teardown may take.
    teardown_limit: Duration,
    /// How many more times a failing test runs (`retries = N` overrides it).
    retries: u32,
    semaphore: Arc<Semaphore>,
    /// Held shared by every test while it runs, exclusively by an `exclusive` one.
    turns: Arc<RwLock<()>>,
    /// One lock per `group = ".."`: its tests run one at a time.
    groups: RefCell<HashMap<&'static str, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug)]
struct Verdict {
    ending: Ending,
    note: Option<String>,
}

impl Verdict {
    fn failed(note: String) -> Verdict {
        Verdict {
            ending: Ending::Failed,
            note: Some(note),
        }
    }
}

impl RunState {
    async fn run_all(self: Rc<Self>, source: &mut Source, threads: usize) {
        let interrupt = Interrupt::get();
        let mut handles = Vec::new();
        loop {
            // A place among the tests in flight first, then a test to fill it.
            let permit = tokio::select! {
                biased;
                _ = interrupt.wait() => break,
                permit = self.semaphore.clone().acquire_owned() => permit.expect("semaphore closed"),
            };
            let want = self.semaphore.available_permits() + 1;
            let busy = want < threads;
            let id = tokio::select! {
                biased;
                _ = interrupt.wait() => break,
                id = source.next(&*self.ctx.sink, want.min(threads), busy) => match id {
                    Some(id) => id,
                    None => break,
                },
            };
            let Some((name, def)) = self.tests.get(id as usize) else {
                continue;
            };
            let (name, def) = (name.clone(), *def);
            let slot = self.ctx.new_slot(name.clone(), id);
            self.ctx.set_blocking_warn(slot, def.blocking_warn_ms);
            let this = self.clone();
            handles.push((
                slot,
                tokio::task::spawn_local(async move {
                    let _permit = permit;
                    this.run_one(slot, id, def, name).await
                }),
            ));
        }
        for (slot, handle) in handles {
            if let Err(err) = handle.await {
                // A bug of the harness, but the test's result must not be lost: it fails.
                let text = match err.try_into_panic() {
                    Ok(payload) => panic_message(&*payload),
                    Err(err) => err.to_string(),
                };
                self.ctx.sink.send(Event::Finished {
                    slot: slot as u32,
                    verdict: Ending::Failed,
                    note: Some(messages::internal_error_in_test(&text)),
                    took: Duration::ZERO,
                });
            }
        }
        // Cleanups handed over by cancelled portals finish before fixtures go away.
        let slots = self.ctx.cleanups.borrow().len();
        for slot in 0..slots {
            await_cleanups(&self.ctx, slot).await;
        }
        self.teardown().await;
        let slots = self.ctx.cleanups.borrow().len();
        for slot in 0..slots {
            await_cleanups(&self.ctx, slot).await;
        }
    }

    /// Runs test `id` in `slot` and sends its result; a failing test runs again, in a
    /// fresh portal, as many times as its retries allow.
    async fn run_one(&self, slot: usize, id: u32, def: &'static TestDef, name: String) {
        // Its turn first (it has not started until then: no time, no limit yet). A
        // group's tests run one at a time; an `exclusive` test waits for the tests in
        // flight to end, and the tests after it wait for it (tokio's lock is fair).
        // `unconstrained`: taking a turn must not spend the test's task budget (its
        // first poll gets tokio's whole budget, as under `#[tokio::test]`).
        use tokio::task::coop::unconstrained;
        let _group = match def.group {
            Some(group) => {
                let lock = self.groups.borrow_mut().entry(group).or_default().clone();
                Some(unconstrained(lock.lock_owned()).await)
            }
            None => None,
        };
        let _turn = if def.exclusive {
            (
                None,
                Some(unconstrained(self.turns.clone().write_owned()).await),
            )
        } else {
            (
                Some(unconstrained(self.turns.clone().read_owned()).await),
                None,
            )
        };
        self.ctx.sink.send(Event::Started {
            slot: slot as u32,
            id,
        });
        let retries = def.retries.unwrap_or(self.retries);
        // Tries that crashed other workers count (one budget of retries per test).
        let mut tries = tries_before(id);
        loop {
            tries += 1;
            // The test's time (`--report-time`, PORTALTEST_SLOWEST): from here, its
            // start, to its verdict, waits and other tests' polls included.
            let began = Instant::now();
            let verdict = self.attempt(slot, def, &name).await;
            if verdict.ending == Ending::Failed && tries <= retries && !Interrupt::get().is_set() {
                self.ctx.sink.send(Event::Retry {
                    slot: slot as u32,
                    note: verdict.note,
                    took: began.elapsed(),
                });
                continue;
            }
            self.ctx.sink.send(Event::Finished {
                slot: slot as u32,
                verdict: verdict.ending,
                note: verdict.note,
                took: began.elapsed(),
            });
            return;
        }
    }

    /// One attempt of a test.
    async fn attempt(&self, slot: usize, def: &'static TestDef, name: &str) -> Verdict {
        // libtest's "has been running for over 60 seconds", for a test that nothing
        // stops (no time limit).
        let notice_at = match (self.limit_of(def).0, self.slow_notice) {
            (None, Some(after)) => Some(Instant::now() + after),
            _ => None,
        };
        let run = async {
            let fut: Pin<Box<dyn Future<Output = Verdict> + '_>> =
                if def.isolated || def.start_paused {
                    Box::pin(self.run_isolated(slot, def, name))
                } else {
                    Box::pin(self.run_test(slot, def, name))
                };
            Attributed {
                slot,
                fut,
                ctx: self.ctx.clone(),
                label: None,
            }
            .await
        };
        with_slow_notice(run, notice_at, &*self.ctx.sink, slot, self.slow_notice).await
    }

    fn limit_of(&self, def: &TestDef) -> (Option<Duration>, String) {
        crate::fixtures::registry::limit_of(def, &self.env_timeout)
    }

    async fn run_test(&self, slot: usize, def: &'static TestDef, name: &str) -> Verdict {
        let (limit, why) = self.limit_of(def);
        let opened = std::panic::catch_unwind(AssertUnwindSafe(|| {
            stackportal::Builder::new()
                .name(name) // a stack overflow says which test overflowed
                .cleanup_spawner(cleanup_spawner(self.ctx.clone(), Some(slot)))
                .run_sync(move || __rust_begin_short_backtrace(def.run))
        }));
        // No portal for the test (stackportal refuses one past the process's limit on
        // mapped stacks): the test fails with the reason, even if it should panic.
        let portal: Portal<Result<(), String>> = match opened {
            Ok(portal) => portal,
            Err(payload) => {
                return Verdict::failed(messages::could_not_start(&panic_message(&*payload)))
            }
        };
        let ended = supervise(
            &self.ctx,
            slot,
            CatchUnwind(portal),
            limit.map(|l| Instant::now() + l),
        )
        .await;
        // Cleanups of a cancelled portal belong to this test's report.
        await_cleanups(&self.ctx, slot).await;
        let result = match ended {
            Ended::Done(result) => Some(result),
            Ended::TimedOut => None,
            Ended::Aborted(note) => return Verdict::failed(note),
            Ended::Interrupted => {
                return Verdict {
                    ending: Ending::Interrupted,
                    note: Some(messages::INTERRUPTED.into()),
                }
            }
        };
        // Built only for a test that timed out: a passing test formats nothing.
        verdict(def, result, || {
            messages::timed_out(
                &crate::config::format_limit(limit.unwrap_or_default()),
                &why,
                messages::CANCELLED,
            )
        })
    }

    /// Runs an isolated test on a thread and a runtime of its own and waits for it here,
    /// holding its place among the tests in flight (`--test-threads`). Its time limit
    /// is watched here, in real time.
    async fn run_isolated(&self, slot: usize, def: &'static TestDef, name: &str) -> Verdict {
        let (limit, why) = self.limit_of(def);
        let capture = self.ctx.capture.borrow().is_some();
        let running = match isolated::spawn(def, name.to_string(), capture) {
            Ok(running) => running,
            Err(err) => return Verdict::failed(messages::isolated_thread_not_started(&err)),
        };
        self.ctx.isolated.borrow_mut().push(slot);
        let isolated::Running {
            mut finished,
            cancel,
            buffer,
        } = running;
        let deadline = limit.map(|l| Instant::now() + l);
        let first = tokio::select! {
            biased;
            r = wait_until(&mut finished, deadline) => r.map(Some),
            _ = Interrupt::get().wait() => Some(None),
        };
        let (result, stopped) = match first {
            Some(Some(result)) => (result.ok(), None),
            stop => {
                // Cancel: the portal is dropped (its stack unwinds) and its guard
                // cleanups run, if the thread gets to it; a thread that blocks does not.
                let interrupted = stop.is_some();
                let _ = cancel.send(());
                let grace = Instant::now() + ISOLATED_CANCEL_GRACE;
                let late = wait_until(&mut finished, Some(grace)).await;
                (None, Some((interrupted, late.is_some())))
            }
        };
        // Whatever it wrote is in the capture file now (or still comes, if it was left
        // running); then what it said through the harness (panics, tracing).
        self.ctx.drain_to(Some(slot));
        self.ctx.isolated.borrow_mut().retain(|s| *s != slot);
        if let Some(buffer) = buffer {
            let said = std::mem::take(&mut *buffer.lock().unwrap_or_else(|e| e.into_inner()));
            self.ctx.send_output(Some(slot), said);
        }
        let limit_text = crate::config::format_limit(limit.unwrap_or_default());
        let left = |responded: bool| {
            if responded {
                messages::CANCELLED.to_string()
            } else {
                messages::left_running(ISOLATED_CANCEL_GRACE)
            }
        };
        match (stopped, result) {
            (Some((true, responded)), _) => Verdict {
                ending: Ending::Interrupted,
                note: Some(messages::interrupted(&left(responded))),
            },
            (Some((false, responded)), _) => {
                Verdict::failed(messages::timed_out(&limit_text, &why, &left(responded)))
            }
            (None, None) => Verdict::failed(messages::ISOLATED_NO_RESULT.into()),
            (None, Some(Finished::Returned(r))) => verdict(def, Some(Ok(r)), String::new),
            (None, Some(Finished::Panicked(payload))) => {
                verdict(def, Some(Err(payload)), String::new)
            }
            (None, Some(Finished::Cancelled)) => {
                Verdict::failed(messages::ISOLATED_CANCELLED.into())
            }
        }
    }

    /// Tears the fixtures down in reverse order of creation and drops their values, each
    /// within the teardown limit (past it, the teardown is cancelled and fails).
    async fn teardown(&self) {
        while let Some(created) = created::pop() {
            let (fut, value) = (created.take)();
            let Some(fut) = fut else {
                drop(value);
                continue;
            };
            let what = format!("fixture `{}` teardown", created.name);
            let slot = self.ctx.new_slot(what.clone(), TEARDOWN);
            self.ctx.sink.send(Event::Teardown {
                slot: slot as u32,
                name: created.name.to_string(),
                limit: self.teardown_limit,
            });
            let portal = stackportal::Builder::new()
                .name(what.clone())
                .cleanup_spawner(cleanup_spawner(self.ctx.clone(), Some(slot)))
                .run(fut);
            let deadline = Instant::now() + self.teardown_limit;
            let ended = Attributed {
                slot,
                fut: Box::pin(supervise(
                    &self.ctx,
                    slot,
                    CatchUnwind(portal),
                    Some(deadline),
                )),
                ctx: self.ctx.clone(),
                label: None,
            }
            .await;
            await_cleanups(&self.ctx, slot).await;
            // Dropped (a temp dir deleted, a server stopped) right after its teardown,
            // while the runtime still runs.
            Attributed {
                slot,
                fut: Box::pin(async move { drop(value) }),
                ctx: self.ctx.clone(),
                label: None,
            }
            .await;
            let error = match ended {
                Ended::Done(Ok(_)) => None,
                Ended::Done(Err(payload)) => Some(messages::teardown_panicked(
                    &what,
                    &panic_message(&*payload),
                )),
                Ended::TimedOut => Some(messages::teardown_timed_out(
                    &what,
                    &crate::config::format_limit(self.teardown_limit),
                )),
                Ended::Aborted(note) => Some(note),
                // Fixtures are torn down also when the run is interrupted.
                Ended::Interrupted => None,
            };
            self.ctx.sink.send(Event::TeardownEnd {
                slot: slot as u32,
                error,
            });
        }
    }
}

/// Runs `fut` (a test); if it is still running at `at` (real time), prints libtest's
/// notice that it has been running for long, once. Nothing is stopped.
async fn with_slow_notice<F: Future>(
    fut: F,
    at: Option<Instant>,
    sink: &dyn Sink,
    slot: usize,
    after: Option<Duration>,
) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut due = Deadline::new(at);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if due.poll_passed(cx) {
            sink.send(Event::SlowNotice {
                slot: slot as u32,
                after: after.unwrap_or_default(),
            });
            sink.flush();
        }
        Poll::Pending
    })
    .await
}

/// How long a timed-out isolated test's thread gets to unwind its stack and finish its
/// guard cleanups before the run stops waiting for it.
const ISOLATED_CANCEL_GRACE: Duration = Duration::from_secs(5);

type Caught = Result<Result<(), String>, Box<dyn Any + Send>>;

/// How a supervised portal ended.
enum Ended<T> {
    Done(Result<T, Box<dyn Any + Send>>),
    TimedOut,
    /// Cancelled by the harness (it paused the shared clock), with the note to show.
    Aborted(String),
    /// Cancelled because the run was interrupted.
    Interrupted,
}

/// The slot value of a fixture's teardown (not a test).
const TEARDOWN: u32 = u32::MAX;

/// Polls a portal (a test's, a teardown's) until it finishes, its real-time `deadline`
/// passes, the harness aborts its slot or (a test's, not a teardown's) the run is
/// interrupted; the portal is dropped (its stack unwound) before this returns.
async fn supervise<F, T>(ctx: &Ctx, slot: usize, mut test: F, deadline: Option<Instant>) -> Ended<T>
where
    F: Future<Output = Result<T, Box<dyn Any + Send>>> + Unpin,
{
    let mut deadline = Deadline::new(deadline);
    let interruptible = !ctx.is_teardown(slot);
    let mut interrupt = std::pin::pin!(Interrupt::get().wait());
    std::future::poll_fn(|cx| {
        if interruptible && interrupt.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ended::Interrupted);
        }
        let polled = Pin::new(&mut test).poll(cx);
        // Checked right after the test's own code ran, also when it just finished.
        ctx.check_clock(slot, None);
        if let Some(note) = ctx.take_abort(slot) {
            return Poll::Ready(Ended::Aborted(note));
        }
        if let Poll::Ready(result) = polled {
            return Poll::Ready(Ended::Done(result));
        }
        if let Some(abort) = ctx.aborts.borrow_mut().get_mut(slot) {
            abort.waker = Some(cx.waker().clone());
        }
        if deadline.poll_passed(cx) {
            return Poll::Ready(Ended::TimedOut);
        }
        Poll::Pending
    })
    .await
}

/// Waits for `rx` until `deadline` (real time); `None` when the deadline passed first.
async fn wait_until<T>(
    rx: &mut tokio::sync::oneshot::Receiver<T>,
    deadline: Option<Instant>,
) -> Option<Result<T, tokio::sync::oneshot::error::RecvError>> {
    realtime::until(deadline, rx).await
}

/// The verdict on a test's result (`None`: it timed out, and `timed_out` says so).
fn verdict(def: &TestDef, result: Option<Caught>, timed_out: impl FnOnce() -> String) -> Verdict {
    match (result, def.should_panic) {
        (None, _) => Verdict::failed(timed_out()),
        (Some(Ok(Err(err))), _) => Verdict::failed(format!("Error: {err}")),
        (Some(Ok(Ok(()))), ShouldPanic::No) => PASSED,
        (Some(Ok(Ok(()))), _) => Verdict::failed(messages::did_not_panic(def.file, def.line)),
        (Some(Err(_)), ShouldPanic::No) => Verdict {
            ending: Ending::Failed,
            note: None,
        },
        (Some(Err(_)), ShouldPanic::Yes) => PASSED,
        (Some(Err(payload)), ShouldPanic::YesWithMessage(expected)) => {
            let msg = panic_message(&*payload);
            if msg.contains(expected) {
                PASSED
            } else {
                Verdict::failed(messages::panic_without_expected(&msg, expected))
            }
        }
    }
}

const PASSED: Verdict = Verdict {
    ending: Ending::Passed,
    note: None,
};
