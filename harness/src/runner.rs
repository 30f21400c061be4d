//! The runner: one current-thread runtime, every test in its own portal, interleaved.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Trial};
use stackportal::{Cleanup, Portal};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::capture::Capture;
use crate::config::{Backtraces, Cli, EnvConfig, DEFAULT_IN_FLIGHT};
use crate::isolated::{self, Finished};
use crate::printer::{Counts, Outcome, Printer};
use crate::registry::{ShouldPanic, TestDef, TESTS};
use crate::{BLOCKING_WARN_ENV, TRACING_ENV};

/// The state of a run, reachable from the runtime thread.
struct Ctx {
    capture: RefCell<Option<Capture>>,
    /// Display name per output slot: tests first, then fixture teardowns (shared with
    /// the watchdog thread).
    names: Arc<Mutex<Vec<String>>>,
    /// Captured output per slot.
    buffers: RefCell<Vec<Vec<u8>>>,
    /// Captured output that belongs to no test (tasks a fixture spawned, other
    /// threads between polls): shown after the results, never among them.
    stray: RefCell<Vec<u8>>,
    /// The slot whose future is being polled.
    current: Cell<Option<usize>>,
    /// Guard cleanups handed over by cancelled portals, per slot.
    cleanups: RefCell<Vec<Vec<JoinHandle<()>>>>,
    warn_after: Option<Duration>,
    real_stderr: RefCell<Box<dyn Write>>,
    /// Slots of the isolated tests in flight, oldest first: output that no poll of a
    /// shared test claims goes to them (their threads write to the same fds).
    isolated: RefCell<Vec<usize>>,
    /// Per slot: why it must stop now (it paused the shared clock), and who to wake.
    aborts: RefCell<Vec<Abort>>,
    /// The shared clock's reading when the poll in progress started.
    clock_at_poll: Cell<Option<tokio::time::Instant>>,
    /// Whether the clock was checked during the poll in progress already.
    clock_probed: Cell<bool>,
}

#[derive(Default)]
struct Abort {
    note: Option<String>,
    waker: Option<Waker>,
}

thread_local! {
    static CTX: RefCell<Option<Rc<Ctx>>> = const { RefCell::new(None) };
}

fn ctx() -> Option<Rc<Ctx>> {
    CTX.with(|c| c.borrow().clone())
}

/// Whether this thread is running a portaltest run.
pub(crate) fn in_harness() -> bool {
    CTX.with(|c| c.borrow().is_some())
}

impl Ctx {
    fn new_slot(&self, name: String) -> usize {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.push(name);
        self.buffers.borrow_mut().push(Vec::new());
        self.cleanups.borrow_mut().push(Vec::new());
        self.aborts.borrow_mut().push(Abort::default());
        names.len() - 1
    }

    /// Who gets output that accumulated while no test was being polled: the isolated
    /// test `polling` if it is one, else the oldest isolated test in flight, else
    /// nobody (it goes to the real stderr).
    fn stray_owner(&self, polling: usize) -> Option<usize> {
        let isolated = self.isolated.borrow();
        if isolated.contains(&polling) {
            Some(polling)
        } else {
            isolated.first().copied()
        }
    }

    /// After code ran on behalf of `slot` (a poll): if it left the shared runtime's
    /// clock paused, resumes the clock at once (before the runtime could park and
    /// auto-advance it, so no other test sees it) and marks `slot` to be cancelled.
    ///
    /// A clock that was paused already when the poll started (by a task that no test's
    /// poll covers) is resumed with a warning instead.
    fn check_clock(&self, slot: usize, label: Option<&str>) {
        self.clock_probed.set(true);
        if !clock_paused() {
            return;
        }
        let frozen_at = tokio::time::Instant::now();
        tokio::time::resume();
        if self.clock_at_poll.get() == Some(frozen_at) {
            self.warn(
                "portaltest: warning: the shared runtime's clock was found paused outside any \
                 test's poll (by a task a test spawned?) and was resumed; tests that need a paused \
                 clock take `#[portaltest::test(start_paused = true)]` or `(isolated)`",
            );
            return;
        }
        let who = match label {
            Some(label) => label.to_string(),
            None => {
                let name = slot_name(&self.names, slot);
                if name.contains('`') {
                    name
                } else {
                    format!("`{name}`")
                }
            }
        };
        let note = format!(
            "note: {who} paused the clock of the shared runtime (`tokio::time::pause()`); every test \
             of this run shares that clock, so it would stop (and auto-advance) time for all of \
             them. The clock was resumed and the test cancelled (its stack unwound). Give the test \
             a runtime of its own: `#[portaltest::test(start_paused = true)]` (a clock paused \
             from the start, like `#[tokio::test(start_paused = true)]`) or \
             `#[portaltest::test(isolated)]` (then it may pause its clock itself)"
        );
        let mut aborts = self.aborts.borrow_mut();
        if let Some(abort) = aborts.get_mut(slot) {
            abort.note.get_or_insert(note);
            if let Some(waker) = abort.waker.take() {
                waker.wake();
            }
        }
    }

    fn take_abort(&self, slot: usize) -> Option<String> {
        self.aborts.borrow_mut().get_mut(slot)?.note.take()
    }

    /// Moves captured output to `slot`'s buffer, or to the output of no test when no
    /// test was running.
    fn drain_to(&self, slot: Option<usize>) {
        let capture = self.capture.borrow();
        let Some(capture) = capture.as_ref() else {
            return;
        };
        match slot {
            Some(id) => capture.drain(&mut self.buffers.borrow_mut()[id]),
            None => capture.drain(&mut self.stray.borrow_mut()),
        }
    }

    /// The output of no test so far.
    fn take_stray(&self) -> Vec<u8> {
        self.drain_to(None);
        std::mem::take(&mut *self.stray.borrow_mut())
    }

    /// Writes what is left of the output of no test to the real stderr and points
    /// fd 1 and 2 back at it.
    fn end_capture(&self) {
        let stray = self.take_stray();
        if !stray.is_empty() {
            let mut err = self.real_stderr.borrow_mut();
            let _ = err.write_all(&stray);
            let _ = err.flush();
        }
        self.capture.borrow_mut().take();
    }

    fn take_output(&self, slot: usize) -> Vec<u8> {
        std::mem::take(&mut self.buffers.borrow_mut()[slot])
    }

    fn warn(&self, text: &str) {
        let mut err = self.real_stderr.borrow_mut();
        let _ = writeln!(err, "{text}");
        let _ = err.flush();
    }
}

/// Runs `fut` with its output attributed to `slot` and its poll times watched.
struct Attributed<F> {
    slot: usize,
    fut: Pin<Box<F>>,
    ctx: Rc<Ctx>,
    /// What to call it in blocking warnings when it is not the slot's test itself.
    label: Option<String>,
}

impl<F: Future> Future for Attributed<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let ctx = this.ctx.clone();
        let previous = ctx.current.get();
        // The shared clock as the poll starts (frozen there if it was paused before).
        let outer_clock = ctx.clock_at_poll.replace(Some(tokio::time::Instant::now()));
        let outer_probed = ctx.clock_probed.replace(false);
        ctx.drain_to(previous.or_else(|| ctx.stray_owner(this.slot)));
        ctx.current.set(Some(this.slot));
        struct Restore<'a>(&'a Ctx, Option<usize>, usize);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.drain_to(Some(self.2));
                self.0.current.set(self.1);
            }
        }
        let restore = Restore(&ctx, previous, this.slot);
        let started = Instant::now();
        let hook_before = IN_PANIC_HOOK.with(|t| t.replace(Duration::ZERO));
        let outer = watchdog::enter(this.slot);
        let out = __rust_begin_short_backtrace(|| this.fut.as_mut().poll(cx));
        watchdog::leave(outer);
        // Unless the test's supervisor looked right after the test's own code ran.
        if !ctx.clock_probed.get() {
            ctx.check_clock(this.slot, this.label.as_deref());
        }
        ctx.clock_probed.set(outer_probed);
        ctx.clock_at_poll.set(outer_clock);
        let in_hook = IN_PANIC_HOOK.with(|t| t.replace(hook_before));
        let took = started.elapsed().saturating_sub(in_hook);
        drop(restore);
        if let Some(limit) = ctx.warn_after {
            if took >= limit {
                let name = match &this.label {
                    Some(label) => label.clone(),
                    None => slot_name(&ctx.names, this.slot),
                };
                ctx.warn(&format!(
                    "portaltest: warning: `{name}` blocked the runtime thread for {} without yielding \
                     (every other test was stalled meanwhile; warning threshold {} ms, set by {BLOCKING_WARN_ENV})",
                    fmt_duration(took),
                    limit.as_millis()
                ));
            }
        }
        out
    }
}

fn slot_name(names: &Mutex<Vec<String>>, slot: usize) -> String {
    let names = names.lock().unwrap_or_else(|e| e.into_inner());
    names
        .get(slot)
        .cloned()
        .unwrap_or_else(|| format!("#{slot}"))
}

/// Notices, while it happens, a poll that holds the runtime thread for long (a test
/// that blocks forever would otherwise never be named): a std thread that looks at
/// what the runtime thread publishes around every poll.
mod watchdog {
    use super::*;

    /// Start of the poll in progress, in ms since `BASE` plus one; 0 when idle.
    static STARTED: AtomicU64 = AtomicU64::new(0);
    /// Slot being polled, and a count of polls (to warn once per poll).
    static SLOT: AtomicUsize = AtomicUsize::new(0);
    static POLLS: AtomicU64 = AtomicU64::new(0);
    static STOP: AtomicBool = AtomicBool::new(false);
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

    fn now_ms() -> u64 {
        BASE.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
    }

    /// Marks the start of a poll of `slot`; returns what to restore (nested polls).
    pub(super) fn enter(slot: usize) -> (u64, usize) {
        let outer = (
            STARTED.load(Ordering::Relaxed),
            SLOT.load(Ordering::Relaxed),
        );
        SLOT.store(slot, Ordering::Relaxed);
        POLLS.fetch_add(1, Ordering::Relaxed);
        STARTED.store(now_ms(), Ordering::Release);
        outer
    }

    /// The slot being polled, if a poll is in progress (readable from any thread, and
    /// while the process exits).
    pub(crate) fn polling() -> Option<usize> {
        (STARTED.load(Ordering::Acquire) != 0).then(|| SLOT.load(Ordering::Relaxed))
    }

    pub(super) fn leave((started, slot): (u64, usize)) {
        SLOT.store(slot, Ordering::Relaxed);
        STARTED.store(started, Ordering::Release);
    }

    /// Starts the watchdog: it warns once per poll that has held the thread for
    /// `max(limit, 1 s)`; the runner itself reports the full duration afterwards.
    pub(super) fn start(
        limit: Duration,
        names: Arc<Mutex<Vec<String>>>,
        mut err: Box<dyn Write + Send>,
    ) {
        let live_limit = limit.max(Duration::from_secs(1));
        BASE.get_or_init(Instant::now);
        STOP.store(false, Ordering::Relaxed);
        let tick = (live_limit / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
        let spawned = std::thread::Builder::new()
            .name("portaltest-watchdog".into())
            .spawn(move || {
                let mut warned_poll = u64::MAX;
                while !STOP.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    let started = STARTED.load(Ordering::Acquire);
                    let poll = POLLS.load(Ordering::Relaxed);
                    if started == 0 || poll == warned_poll {
                        continue;
                    }
                    let held = Duration::from_millis(now_ms().saturating_sub(started));
                    if held >= live_limit {
                        warned_poll = poll;
                        let name = slot_name(&names, SLOT.load(Ordering::Relaxed));
                        let _ = writeln!(
                            err,
                            "portaltest: warning: `{name}` has held the runtime thread for {} without \
                             yielding and still does; no other test can run until it yields",
                            fmt_duration(held)
                        );
                        let _ = err.flush();
                    }
                }
            });
        drop(spawned);
    }

    pub(super) fn stop() {
        STOP.store(true, Ordering::Relaxed);
    }
}

fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Whether the clock of the runtime of this thread is paused (`tokio::time::pause`).
///
/// tokio has no query for it, and probing with `pause()`/`resume()` would change the
/// clock; so this reads it: a running clock advances with std's between two reads, a
/// paused one does not (it auto-advances only while the runtime parks, never during
/// this call). Costs three reads of a clock when it runs, about 2 µs when paused.
fn clock_paused() -> bool {
    let first = tokio::time::Instant::now();
    let real = Instant::now();
    loop {
        if tokio::time::Instant::now() != first {
            return false;
        }
        // Read once more after std's clock moved on: a running tokio clock has too.
        if real.elapsed() >= Duration::from_micros(2) {
            return tokio::time::Instant::now() == first;
        }
        std::hint::spin_loop();
    }
}

/// Catches a panic of the wrapped (unpin) future's `poll`.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if payload.is::<stackportal::Cancelled>() {
        "cancelled".to_string()
    } else {
        "Box<dyn Any>".to_string()
    }
}

/// A cleanup spawner for portals run on behalf of `slot`: handed-over guard cleanups
/// run as local tasks attributed to it, and are awaited before the slot reports.
fn cleanup_spawner(ctx: Rc<Ctx>, slot: Option<usize>) -> impl Fn(Cleanup) + 'static {
    move |cleanup: Cleanup| {
        let handle = match slot {
            Some(slot) => tokio::task::spawn_local(Attributed {
                slot,
                fut: Box::pin(cleanup),
                ctx: ctx.clone(),
                label: None,
            }),
            None => tokio::task::spawn_local(cleanup),
        };
        // Unattributed cleanups are awaited at the end of the run (slot 0's list is as
        // good as any: all lists are awaited then).
        let index = slot.unwrap_or(0);
        if let Some(list) = ctx.cleanups.borrow_mut().get_mut(index) {
            list.push(handle);
        }
    }
}

/// Spawns a task (a fixture's initialisation) whose output goes to the test that is
/// running now; `make` gets the cleanup spawner for the portal it opens.
pub(crate) fn spawn_for_current_test<F, Fut>(label: String, make: F)
where
    F: FnOnce(Box<dyn Fn(Cleanup)>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let ctx = ctx().expect("portaltest: no run in progress");
    let slot = ctx.current.get();
    let fut = make(Box::new(cleanup_spawner(ctx.clone(), slot)));
    match slot {
        Some(slot) => {
            let label = Some(format!(
                "{label} (first used by `{}`)",
                slot_name(&ctx.names, slot)
            ));
            drop(tokio::task::spawn_local(Attributed {
                slot,
                fut: Box::pin(fut),
                ctx,
                label,
            }))
        }
        None => drop(tokio::task::spawn_local(fut)),
    }
}

async fn await_cleanups(ctx: &Ctx, slot: usize) {
    loop {
        let list = std::mem::take(&mut ctx.cleanups.borrow_mut()[slot]);
        if list.is_empty() {
            return;
        }
        for handle in list {
            let _ = handle.await;
        }
    }
}

/// A test as selected for this run.
struct Selected {
    def: &'static TestDef,
    name: String,
    ignored: bool,
}

/// The name libtest would print: the module path inside the target plus the fn name.
pub(crate) fn test_name(def: &TestDef) -> String {
    match def.module_path.split_once("::") {
        Some((_crate, rest)) => format!("{rest}::{}", def.name),
        None => def.name.to_string(),
    }
}

/// How many tests are in flight at once: `--test-threads`, else `RUST_TEST_THREADS`,
/// else [`DEFAULT_IN_FLIGHT`].
fn in_flight(args: &Arguments, env: &EnvConfig) -> usize {
    args.test_threads
        .or(env.threads)
        .unwrap_or(DEFAULT_IN_FLIGHT)
        .max(1)
}

fn install_tracing(env: &EnvConfig) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::EnvFilter;
    if !env.tracing {
        return;
    }
    // Validated already (`EnvConfig`): the full EnvFilter syntax, spans and fields too.
    let filter = env
        .rust_log
        .as_deref()
        .and_then(|s| EnvFilter::builder().parse(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Events go to stdout, that is into the capture of the test being polled (those
    // of an isolated test to its own buffer).
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(isolated::make_writer)
        .with_ansi(false)
        .with_target(true);
    // A subscriber that the program installed itself stays in charge.
    if tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init()
        .is_ok()
    {
        HARNESS_SUBSCRIBER.store(true, Ordering::Relaxed);
    }
}

/// The name of the test being polled, if any (for the panic hook).
fn current_test_name() -> Option<String> {
    CTX.with(|c| {
        let c = c.try_borrow().ok()?;
        let ctx = c.as_ref()?;
        let slot = ctx.current.get()?;
        let names = ctx.names.try_lock().ok()?;
        names.get(slot).cloned()
    })
}

/// Panics inside a test are reported the way libtest reports them, with the test's
/// name as the thread name (`thread 'users::creates_user' panicked at ...`): every test
/// runs on the main thread, so the default hook would say `'main'` for all of them.
/// With `RUST_BACKTRACE=1` the backtrace is trimmed as std trims it for libtest's tests:
/// from the panic to the test's entry ([`__rust_begin_short_backtrace`]); with
/// `RUST_BACKTRACE=full` it is whole. Panics outside tests go to the hook that was
/// installed before.
fn install_panic_hook(backtraces: Backtraces) {
    static HINTED: AtomicBool = AtomicBool::new(false);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let started = Instant::now();
        let payload = info.payload();
        let msg = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_string()
        };
        // On the shared thread, a test or a fixture (not the isolated test's thread).
        let shared = current_test_name();
        let isolated = match shared {
            Some(_) => None,
            None => isolated::current_target(),
        };
        let hint = match &shared {
            Some(name) => runtime_hint(name, &msg),
            None => None,
        }
        .or_else(|| tracing_hint(&msg));
        match (shared, isolated) {
            // Live (no capture) on an isolated test's thread, which bears the test's
            // name: std's hook prints it best (and trims the backtrace).
            (None, Some((_, None))) if backtraces != Backtraces::Off => {
                if let Some(hint) = &hint {
                    let _ = writeln!(std::io::stderr(), "{hint}");
                }
                previous(info)
            }
            (Some(name), _) | (None, Some((name, _))) => {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let mut text = format!("\nthread '{name}' panicked{location}:\n");
                if let Some(hint) = &hint {
                    text.push_str(hint);
                    text.push('\n');
                }
                text.push_str(&msg);
                text.push('\n');
                match backtraces {
                    Backtraces::Off => {
                        if !HINTED.swap(true, Ordering::Relaxed) {
                            text.push_str(
                                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
                            );
                        }
                    }
                    Backtraces::Short => {
                        let backtrace = std::backtrace::Backtrace::force_capture();
                        text.push_str("stack backtrace:\n");
                        text.push_str(&trim_backtrace(&backtrace.to_string()));
                        text.push_str(
                            "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n",
                        );
                    }
                    Backtraces::Full => {
                        let backtrace = std::backtrace::Backtrace::force_capture();
                        text.push_str(&format!("stack backtrace:\n{backtrace:#}\n"));
                    }
                }
                match isolated::current_target() {
                    // Attributed exactly, whatever the shared tests print meanwhile.
                    Some((_, Some(buffer))) => buffer
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(text.as_bytes()),
                    _ => {
                        let _ = std::io::stderr().lock().write_all(text.as_bytes());
                    }
                }
            }
            (None, None) => previous(info),
        }
        // Printing a backtrace takes long; it is not the test blocking the thread.
        IN_PANIC_HOOK.with(|t| t.set(t.get() + started.elapsed()));
    }));
}

/// Calls `f`; std's short backtraces (and the harness's) end at this frame, whose
/// name std looks for (as it does for libtest's tests): frames of the portal, tokio
/// and the harness below a test are left out.
#[inline(never)]
pub(crate) fn __rust_begin_short_backtrace<T, F: FnOnce() -> T>(f: F) -> T {
    let result = f();
    // Not a tail call: keeps this frame on the stack while `f` runs.
    std::hint::black_box(());
    result
}

/// A backtrace (std's `Display` text) trimmed the way std trims short backtraces: the
/// frames after `__rust_end_short_backtrace` (the panic machinery) up to the first
/// `__rust_begin_short_backtrace` (the test's entry), renumbered from 0.
fn trim_backtrace(text: &str) -> String {
    fn is_frame_start(line: &str) -> bool {
        let t = line.trim_start();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && t[digits..].starts_with(": ")
    }
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if is_frame_start(line) || frames.is_empty() {
            frames.push(vec![line]);
        } else if let Some(last) = frames.last_mut() {
            last.push(line);
        }
    }
    let has = |frame: &Vec<&str>, marker: &str| frame.iter().any(|l| l.contains(marker));
    let start = frames
        .iter()
        .position(|f| has(f, "__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let end = frames[start..]
        .iter()
        .position(|f| has(f, "__rust_begin_short_backtrace"))
        .map_or(frames.len(), |i| start + i);
    let mut out = String::new();
    for (index, frame) in frames[start..end].iter().enumerate() {
        for (i, line) in frame.iter().enumerate() {
            if i == 0 && is_frame_start(line) {
                let rest = line.trim_start();
                let rest = &rest[rest.find(':').unwrap_or(0)..];
                out.push_str(&format!("{index:4}{rest}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Whether the harness installed its `tracing` subscriber (for [`tracing_hint`]).
static HARNESS_SUBSCRIBER: AtomicBool = AtomicBool::new(false);

/// tracing-subscriber's panic when `init()` finds a global subscriber installed
/// already, and what to do (printed above its text) when that one is the harness's.
fn tracing_hint(msg: &str) -> Option<String> {
    const TEXTS: [&str; 2] = [
        "Unable to install global subscriber",
        "failed to set global default subscriber",
    ];
    if !HARNESS_SUBSCRIBER.load(Ordering::Relaxed) || !TEXTS.iter().any(|t| msg.contains(t)) {
        return None;
    }
    Some(format!(
        "portaltest: the harness installed a global `tracing` subscriber already (it captures \
         events per test; RUST_LOG filters it). Use `try_init()` and ignore its error, install \
         yours in your own `fn main` before `portaltest::run_main()`, or set {TRACING_ENV}=0 \
         to keep the harness from installing one. tracing-subscriber says:"
    ))
}

/// tokio's panics for what a test on the shared runtime's thread cannot do, and the
/// line that says what to do instead (printed above tokio's own text).
fn runtime_hint(test: &str, msg: &str) -> Option<String> {
    const TOKIO_TEXTS: [&str; 3] = [
        "Cannot start a runtime from within a runtime",
        "Cannot drop a runtime in a context where blocking is not allowed",
        "Cannot block the current thread from within a runtime",
    ];
    if !TOKIO_TEXTS.iter().any(|t| msg.contains(t)) {
        return None;
    }
    Some(format!(
        "portaltest: `{test}` runs on the shared runtime's thread, where tokio does not allow \
         starting, blocking on or dropping another runtime, nor blocking; mark it \
         `#[portaltest::test(isolated)]` to give it a thread and a tokio runtime of its own \
         (or `await_` the future instead of `block_on`). tokio says:"
    ))
}

/// The message of a fixture used where fixtures do not exist: on the thread of an
/// isolated test (`None` elsewhere).
pub(crate) fn fixture_unavailable_here(fixture: &str) -> Option<String> {
    let test = isolated::current_name()?;
    Some(format!(
        "fixture `{fixture}` was used in the isolated test `{test}`: fixtures live on the shared \
         runtime's thread (their values are `Rc`s, created and torn down there), and an isolated \
         test (`isolated`, `start_paused = true`) runs on a thread and a runtime of its own; \
         create what the test needs inside it, or let it run on the shared runtime"
    ))
}

thread_local! {
    /// Time spent in the panic hook during the current poll.
    static IN_PANIC_HOOK: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// Runs the tests of this binary with the command line of the process; see
/// [`crate::main!`].
pub(crate) fn run_main() -> ExitCode {
    match Cli::parse(std::env::args_os()) {
        Ok(cli) => run_cli(cli),
        Err(err) => usage_error(&err),
    }
}

/// libtest's way to reject a command line or an environment: `error: ...` on stderr,
/// exit code 101.
fn usage_error(err: &str) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    for line in err.lines() {
        let _ = writeln!(stderr, "error: {line}");
    }
    ExitCode::from(101)
}

/// The source file of the target (`main!()` passes `file!()`).
static SOURCE_FILE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

pub(crate) fn run_main_in(file: &'static str) -> ExitCode {
    let _ = SOURCE_FILE.set(file);
    run_main()
}

/// `--list`, as libtest prints it: `NAME: test` lines, then (not in the terse format,
/// which cargo-nextest reads) a blank line and `N tests, 0 benchmarks`. With
/// `--logfile`, the log gets `test NAME` lines.
fn list(cli: &Cli, selected: &[Selected], logfile: Option<std::fs::File>) {
    let mut out = std::io::stdout().lock();
    for t in selected {
        let _ = writeln!(out, "{}: test", t.name);
    }
    if !cli.is_terse() {
        let n = selected.len();
        if n != 0 {
            let _ = writeln!(out);
        }
        let plural = if n == 1 { "" } else { "s" };
        let _ = writeln!(out, "{n} test{plural}, 0 benchmarks");
    }
    let _ = out.flush();
    if let Some(mut log) = logfile {
        for t in selected {
            let _ = writeln!(log, "test {}", t.name);
        }
    }
}

/// Names the `#[test]` / `#[tokio::test]` fns left in the target, which nothing runs.
/// Not for the single-test `--exact` runs that cargo-nextest makes (one per test).
fn report_leftover_tests(args: &Arguments) {
    if args.exact {
        return;
    }
    if let Some(file) = SOURCE_FILE.get() {
        let found = crate::leftovers::find(file);
        if !found.is_empty() {
            eprint!("{}", crate::leftovers::message(&found));
        }
    }
}

pub(crate) fn run_with_args(mut args: Arguments) -> ExitCode {
    if args.test_threads == Some(0) {
        return usage_error("argument for --test-threads must not be 0");
    }
    let filters = args.filter.take().into_iter().collect();
    run_cli(Cli {
        args,
        filters,
        partition: None,
        report_time: false,
    })
}

fn run_cli(cli: Cli) -> ExitCode {
    // Everything the environment says is read and checked before anything else (and
    // long before capture starts): a bad value is an error on the real stderr.
    let env = match EnvConfig::from_env() {
        Ok(env) => env,
        Err(err) => return usage_error(&err),
    };
    let logfile = match &cli.args.logfile {
        None => None,
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(f),
            Err(err) => return usage_error(&format!("cannot create the log file {path}: {err}")),
        },
    };
    for warning in &env.warnings {
        eprintln!("{warning}");
    }
    let args = &cli.args;
    // Names are computed once: a 10,000-test binary pays this on every `--exact` run.
    let mut all: Vec<(String, &'static TestDef)> =
        TESTS.iter().map(|d| (test_name(d), d)).collect();
    all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let total = all.len();
    let mut selected = Vec::new();
    // The CI shard: `--partition`, else PORTALTEST_PARTITION. As in cargo-nextest it
    // applies after the other filters (only tests they keep advance `count:`), in name
    // order; the tests it leaves out count as filtered out.
    let mut partitioner = cli.partition.or(env.partition).map(|p| p.partitioner());
    for (name, def) in all {
        let trial = Trial::test(name.clone(), || Ok(())).with_ignored_flag(def.ignore);
        if !cli.matches(&name) || args.is_filtered_out(&trial) {
            continue;
        }
        if let Some(partitioner) = &mut partitioner {
            if !partitioner.keeps(&name, def.ignore) {
                continue;
            }
        }
        let ignored = args.is_ignored(&trial);
        selected.push(Selected { def, name, ignored });
    }
    let filtered_out = (total - selected.len()) as u64;

    if args.list {
        list(&cli, &selected, logfile);
        return ExitCode::SUCCESS;
    }

    report_leftover_tests(args);
    let env_timeout = env.timeout.clone();
    let threads = in_flight(args, &env);
    install_tracing(&env);
    install_panic_hook(env.backtraces);

    let capture = if args.nocapture {
        None
    } else {
        let capture = Capture::start();
        if capture.is_none() && cfg!(unix) {
            eprintln!(
                "portaltest: warning: cannot redirect stdout/stderr to a temporary file in {}; \
                 test output is not captured (as with --nocapture)",
                std::env::temp_dir().display()
            );
        }
        capture
    };
    let (mut printer, real_stderr, watchdog_err): (Printer, Box<dyn Write>, Box<dyn Write + Send>) =
        match &capture {
            Some(c) => {
                let out = c.real_stdout();
                let term = out.is_terminal();
                (
                    Printer::new(args, Box::new(out), term),
                    Box::new(c.real_stderr()),
                    Box::new(c.real_stderr()),
                )
            }
            None => (
                Printer::stdout(args),
                Box::new(std::io::stderr()),
                Box::new(std::io::stderr()),
            ),
        };
    let ctx = Rc::new(Ctx {
        capture: RefCell::new(capture),
        names: Arc::new(Mutex::new(Vec::new())),
        buffers: RefCell::new(Vec::new()),
        stray: RefCell::new(Vec::new()),
        current: Cell::new(None),
        cleanups: RefCell::new(Vec::new()),
        warn_after: env.blocking_warn,
        real_stderr: RefCell::new(real_stderr),
        isolated: RefCell::new(Vec::new()),
        aborts: RefCell::new(Vec::new()),
        clock_at_poll: Cell::new(None),
        clock_probed: Cell::new(false),
    });
    for t in &selected {
        ctx.new_slot(t.name.clone());
    }
    if selected.is_empty() {
        // Keep slot 0 valid for unattributed cleanups.
        ctx.new_slot("(run)".into());
    }
    CTX.with(|c| *c.borrow_mut() = Some(ctx.clone()));
    if let Some(limit) = ctx.warn_after {
        watchdog::start(limit, ctx.names.clone(), watchdog_err);
    }

    printer.set_log(logfile);
    printer.set_timing(cli.report_time, env.slowest);
    printer.title(selected.len());
    let printer = Rc::new(RefCell::new(printer));
    let started = Instant::now();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("portaltest: cannot build the tokio runtime");
    let local = tokio::task::LocalSet::new();
    let run = RunState {
        ctx: ctx.clone(),
        printer: printer.clone(),
        show_output: args.show_output,
        env_timeout,
        slow_notice: env.slow_notice,
        semaphore: Arc::new(Semaphore::new(threads)),
    };
    // An exit of the process from here on (a test calling `std::process::exit`) fails.
    #[cfg(unix)]
    {
        use std::os::fd::IntoRawFd;
        let fd = match ctx.capture.borrow().as_ref() {
            // Kept open until the process ends.
            Some(c) => c.real_stderr().into_raw_fd(),
            None => 2,
        };
        crate::exit_guard::arm(fd, watchdog::polling, ctx.names.clone());
    }
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        local.block_on(&rt, run.run_all(selected))
    }));
    crate::exit_guard::disarm();
    drop(local);
    drop(rt);
    watchdog::stop();
    let (counts, failures, successes, teardown_errors) = match ran {
        Ok(results) => results,
        Err(payload) => {
            // A bug of the harness: make sure its message reaches the real stderr.
            CTX.with(|c| c.borrow_mut().take());
            ctx.end_capture();
            eprintln!("portaltest: internal error: the runner panicked; please report this");
            std::panic::resume_unwind(payload);
        }
    };

    let failed = counts.failed > 0 || !teardown_errors.is_empty();
    let stray = ctx.take_stray();
    {
        let mut printer = printer.borrow_mut();
        if failed || args.show_output {
            if printer.is_json() {
                if !stray.is_empty() {
                    ctx.warn(&format!(
                        "{STRAY_HEADING}:\n{}",
                        String::from_utf8_lossy(&stray).trim_end()
                    ));
                }
            } else {
                printer.stray_output(STRAY_HEADING, &stray);
            }
        }
        if args.show_output {
            printer.outputs("successes", &successes);
        }
        printer.outputs("failures", &failures);
        printer.run_errors(&teardown_errors);
        if printer.is_json() && !teardown_errors.is_empty() {
            for (what, output) in &teardown_errors {
                ctx.warn(&format!(
                    "---- {what} ----\n{}",
                    String::from_utf8_lossy(output)
                ));
            }
        }
        printer.summary(
            Counts {
                filtered_out,
                ..counts
            },
            failed,
            started.elapsed(),
        );
    }
    drop(printer);
    CTX.with(|c| c.borrow_mut().take());
    ctx.end_capture();
    if failed {
        ExitCode::from(101)
    } else {
        ExitCode::SUCCESS
    }
}

type Outputs = Vec<(String, Vec<u8>)>;

/// The heading of the output that belongs to no test.
const STRAY_HEADING: &str =
    "output of no test (tasks that fixtures or tests spawned, other threads)";

struct RunState {
    ctx: Rc<Ctx>,
    printer: Rc<RefCell<Printer>>,
    show_output: bool,
    env_timeout: Option<(Duration, String)>,
    /// After how long a test without a time limit gets libtest's notice.
    slow_notice: Option<Duration>,
    semaphore: Arc<Semaphore>,
}

struct Verdict {
    passed: bool,
    note: Option<String>,
}

impl RunState {
    async fn run_all(self, selected: Vec<Selected>) -> (Counts, Outputs, Outputs, Outputs) {
        let this = Rc::new(self);
        let results: Rc<RefCell<(Counts, Outputs, Outputs)>> = Rc::default();
        let mut handles = Vec::new();
        for (slot, test) in selected.into_iter().enumerate() {
            if test.ignored {
                let mut p = this.printer.borrow_mut();
                p.started(&test.name);
                p.outcome(
                    &test.name,
                    &Outcome::Ignored(test.def.ignore_reason),
                    &[],
                    None,
                );
                results.borrow_mut().0.ignored += 1;
                continue;
            }
            let this = this.clone();
            let results = results.clone();
            let name = test.name.clone();
            handles.push((
                name,
                tokio::task::spawn_local(async move {
                    let _permit = this
                        .semaphore
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("semaphore closed");
                    this.printer.borrow_mut().started(&test.name);
                    // The test's time (`--report-time`, PORTALTEST_SLOWEST): from here,
                    // its start, to its verdict, waits and other tests' polls included.
                    let began = Instant::now();
                    // libtest's "has been running for over 60 seconds", for a test that
                    // nothing stops (no time limit).
                    let notice_at = match (this.limit_of(test.def).0, this.slow_notice) {
                        (None, Some(after)) => Some(Instant::now() + after),
                        _ => None,
                    };
                    let run = async {
                        if test.def.isolated || test.def.start_paused {
                            Attributed {
                                slot,
                                fut: Box::pin(this.run_isolated(slot, test.def, &test.name)),
                                ctx: this.ctx.clone(),
                                label: None,
                            }
                            .await
                        } else {
                            Attributed {
                                slot,
                                fut: Box::pin(this.run_test(slot, test.def, &test.name)),
                                ctx: this.ctx.clone(),
                                label: None,
                            }
                            .await
                        }
                    };
                    let verdict = with_slow_notice(
                        run,
                        notice_at,
                        &this.printer,
                        &test.name,
                        this.slow_notice,
                    )
                    .await;
                    let took = began.elapsed();
                    let mut output = this.ctx.take_output(slot);
                    if let Some(note) = verdict.note {
                        if !output.is_empty() && !output.ends_with(b"\n") {
                            output.push(b'\n');
                        }
                        output.extend_from_slice(note.as_bytes());
                        output.push(b'\n');
                    }
                    let outcome = if verdict.passed {
                        Outcome::Passed
                    } else {
                        Outcome::Failed
                    };
                    this.printer
                        .borrow_mut()
                        .outcome(&test.name, &outcome, &output, Some(took));
                    let mut r = results.borrow_mut();
                    if verdict.passed {
                        r.0.passed += 1;
                        if this.show_output {
                            r.2.push((test.name, output));
                        }
                    } else {
                        r.0.failed += 1;
                        r.1.push((test.name, output));
                    }
                }),
            ));
        }
        for (name, handle) in handles {
            if let Err(err) = handle.await {
                // A bug of the harness, but the test's result must not be lost: it fails.
                let text = match err.try_into_panic() {
                    Ok(payload) => panic_message(&*payload),
                    Err(err) => err.to_string(),
                };
                let output =
                    format!("portaltest: internal error while running this test: {text}\n");
                this.printer
                    .borrow_mut()
                    .outcome(&name, &Outcome::Failed, output.as_bytes(), None);
                let mut r = results.borrow_mut();
                r.0.failed += 1;
                r.1.push((name, output.into_bytes()));
            }
        }
        // Cleanups handed over by cancelled portals finish before fixtures go away.
        let slots = this.ctx.cleanups.borrow().len();
        for slot in 0..slots {
            await_cleanups(&this.ctx, slot).await;
        }
        let teardown_errors = this.teardown().await;
        let slots = this.ctx.cleanups.borrow().len();
        for slot in 0..slots {
            await_cleanups(&this.ctx, slot).await;
        }
        let (counts, mut failures, successes) = std::mem::take(&mut *results.borrow_mut());
        failures.sort_by(|a, b| a.0.cmp(&b.0));
        (counts, failures, successes, teardown_errors)
    }

    /// The test's time limit and what set it.
    fn limit_of(&self, def: &TestDef) -> (Option<Duration>, String) {
        match (def.timeout_ms, &self.env_timeout) {
            (Some(ms), _) => {
                let d = Duration::from_millis(ms);
                (
                    Some(d),
                    format!("its `timeout = \"{}\"`", crate::format_limit(d)),
                )
            }
            (None, Some((d, why))) => (Some(*d), why.clone()),
            (None, None) => (None, String::new()),
        }
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
                return Verdict {
                    passed: false,
                    note: Some(format!(
                        "note: the test could not start: {}",
                        panic_message(&*payload)
                    )),
                }
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
            Ended::Aborted(note) => {
                return Verdict {
                    passed: false,
                    note: Some(note),
                }
            }
        };
        let timed_out = format!(
            "note: test timed out after {} ({why}); it was cancelled and its stack unwound",
            crate::format_limit(limit.unwrap_or_default())
        );
        verdict(def, result, timed_out)
    }

    /// Runs an isolated test on a thread and a runtime of its own and waits for it here,
    /// holding its place among the tests in flight (`--test-threads`). Its time limit
    /// is watched here, in real time.
    async fn run_isolated(&self, slot: usize, def: &'static TestDef, name: &str) -> Verdict {
        let (limit, why) = self.limit_of(def);
        let capture = self.ctx.capture.borrow().is_some();
        let running = match isolated::spawn(def, name.to_string(), capture) {
            Ok(running) => running,
            Err(err) => {
                return Verdict {
                    passed: false,
                    note: Some(format!(
                        "note: cannot start a thread for the isolated test: {err}"
                    )),
                }
            }
        };
        self.ctx.isolated.borrow_mut().push(slot);
        let isolated::Running {
            mut finished,
            cancel,
            buffer,
        } = running;
        let first = wait_until(&mut finished, limit.map(|l| Instant::now() + l)).await;
        let (result, timed_out) = match first {
            Some(result) => (result.ok(), None),
            None => {
                // Cancel: the portal is dropped (its stack unwinds) and its guard
                // cleanups run, if the thread gets to it; a thread that blocks does not.
                let _ = cancel.send(());
                let grace = Instant::now() + ISOLATED_CANCEL_GRACE;
                let late = wait_until(&mut finished, Some(grace)).await;
                (None, Some(late.is_some()))
            }
        };
        // Whatever it wrote is in the capture file now (or still comes, if it was left
        // running); then what it said through the harness (panics, tracing).
        self.ctx.drain_to(Some(slot));
        self.ctx.isolated.borrow_mut().retain(|s| *s != slot);
        if let Some(buffer) = buffer {
            let said = std::mem::take(&mut *buffer.lock().unwrap_or_else(|e| e.into_inner()));
            self.ctx.buffers.borrow_mut()[slot].extend_from_slice(&said);
        }
        let limit_text = crate::format_limit(limit.unwrap_or_default());
        match (timed_out, result) {
            (Some(responded), _) => Verdict {
                passed: false,
                note: Some(if responded {
                    format!(
                        "note: test timed out after {limit_text} ({why}); it was cancelled and its stack unwound"
                    )
                } else {
                    format!(
                        "note: test timed out after {limit_text} ({why}); its thread did not respond to the \
                         cancellation within {} (it blocks?) and was left running",
                        fmt_duration(ISOLATED_CANCEL_GRACE)
                    )
                }),
            },
            (None, None) => Verdict {
                passed: false,
                note: Some(
                    "note: the isolated test's thread ended without reporting a result".into(),
                ),
            },
            (None, Some(Finished::Returned(r))) => verdict(def, Some(Ok(r)), String::new()),
            (None, Some(Finished::Panicked(payload))) => {
                verdict(def, Some(Err(payload)), String::new())
            }
            (None, Some(Finished::Cancelled)) => Verdict {
                passed: false,
                note: Some("note: the isolated test was cancelled".into()),
            },
        }
    }

    /// Tears the fixtures down in reverse order of creation and drops their values.
    async fn teardown(&self) -> Outputs {
        let mut errors = Vec::new();
        while let Some(created) = crate::fixture::pop_created() {
            let (fut, value) = (created.take)();
            let Some(fut) = fut else {
                drop(value);
                continue;
            };
            let what = format!("fixture `{}` teardown", created.name);
            let slot = self.ctx.new_slot(what.clone());
            let portal = stackportal::Builder::new()
                .name(what.clone())
                .cleanup_spawner(cleanup_spawner(self.ctx.clone(), Some(slot)))
                .run(fut);
            let result = Attributed {
                slot,
                fut: Box::pin(CatchUnwind(portal)),
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
            let mut output = self.ctx.take_output(slot);
            let mut failed = false;
            if let Err(payload) = result {
                if !output.is_empty() && !output.ends_with(b"\n") {
                    output.push(b'\n');
                }
                output.extend_from_slice(
                    format!("note: {what} panicked: {}\n", panic_message(&*payload)).as_bytes(),
                );
                failed = true;
            }
            if let Some(note) = self.ctx.take_abort(slot) {
                if !output.is_empty() && !output.ends_with(b"\n") {
                    output.push(b'\n');
                }
                output.extend_from_slice(note.as_bytes());
                output.push(b'\n');
                failed = true;
            }
            if failed {
                errors.push((what, output));
            }
        }
        errors
    }
}

/// Runs `fut` (a test); if it is still running at `at` (real time), prints libtest's
/// notice that it has been running for long, once. Nothing is stopped.
async fn with_slow_notice<F: Future>(
    fut: F,
    at: Option<Instant>,
    printer: &RefCell<Printer>,
    name: &str,
    after: Option<Duration>,
) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut sleep = at.map(crate::realtime::sleep_until);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if let Some(due) = &mut sleep {
            if Pin::new(due).poll(cx).is_ready() {
                sleep = None;
                printer
                    .borrow_mut()
                    .slow_notice(name, after.unwrap_or_default());
            }
        }
        Poll::Pending
    })
    .await
}

/// How long a timed-out isolated test's thread gets to unwind its stack and finish its
/// guard cleanups before the run stops waiting for it.
const ISOLATED_CANCEL_GRACE: Duration = Duration::from_secs(5);

type Caught = Result<Result<(), String>, Box<dyn Any + Send>>;

/// How a supervised test ended.
enum Ended {
    Done(Caught),
    TimedOut,
    /// Cancelled by the harness (it paused the shared clock), with the note to show.
    Aborted(String),
}

/// Polls a shared test's portal until it finishes, its real-time `deadline` passes or
/// the harness aborts its slot; the portal is dropped (its stack unwound) before this
/// returns.
async fn supervise<F>(ctx: &Ctx, slot: usize, mut test: F, deadline: Option<Instant>) -> Ended
where
    F: Future<Output = Caught> + Unpin,
{
    let mut sleep = deadline.map(crate::realtime::sleep_until);
    std::future::poll_fn(|cx| {
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
        if let Some(sleep) = &mut sleep {
            if Pin::new(sleep).poll(cx).is_ready() {
                return Poll::Ready(Ended::TimedOut);
            }
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
    let mut sleep = deadline.map(crate::realtime::sleep_until);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = Pin::new(&mut *rx).poll(cx) {
            return Poll::Ready(Some(r));
        }
        if let Some(sleep) = &mut sleep {
            if Pin::new(sleep).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
        }
        Poll::Pending
    })
    .await
}

/// The verdict on a test's result (`None`: it timed out, and `timed_out` says so).
fn verdict(def: &TestDef, result: Option<Caught>, timed_out: String) -> Verdict {
    let location = format!("{}:{}", def.file, def.line);
    match (result, def.should_panic) {
        (None, _) => Verdict {
            passed: false,
            note: Some(timed_out),
        },
        (Some(Ok(Err(err))), _) => Verdict {
            passed: false,
            note: Some(format!("Error: {err}")),
        },
        (Some(Ok(Ok(()))), ShouldPanic::No) => Verdict {
            passed: true,
            note: None,
        },
        (Some(Ok(Ok(()))), _) => Verdict {
            passed: false,
            note: Some(format!(
                "note: test did not panic as expected at {location}"
            )),
        },
        (Some(Err(_)), ShouldPanic::No) => Verdict {
            passed: false,
            note: None,
        },
        (Some(Err(_)), ShouldPanic::Yes) => Verdict {
            passed: true,
            note: None,
        },
        (Some(Err(payload)), ShouldPanic::YesWithMessage(expected)) => {
            let msg = panic_message(&*payload);
            if msg.contains(expected) {
                Verdict {
                    passed: true,
                    note: None,
                }
            } else {
                Verdict {
                    passed: false,
                    note: Some(format!(
                        "note: panic did not contain expected string\n      panic message: {msg:?}\n expected substring: {expected:?}"
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(module_path: &'static str, name: &'static str) -> TestDef {
        TestDef {
            module_path,
            name,
            file: "x.rs",
            line: 1,
            ignore: false,
            ignore_reason: None,
            should_panic: ShouldPanic::No,
            timeout_ms: None,
            isolated: false,
            start_paused: false,
            run: || Ok(()),
        }
    }

    #[test]
    fn names_are_paths_inside_the_target() {
        assert_eq!(test_name(&def("api", "lists_users")), "lists_users");
        assert_eq!(
            test_name(&def("api::users", "creates_user")),
            "users::creates_user"
        );
        assert_eq!(test_name(&def("api::a::b", "c")), "a::b::c");
    }

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&5u8), "Box<dyn Any>");
    }
}
