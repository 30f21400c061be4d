//! Whose code is running: every poll on the shared runtime is *attributed* to a slot
//! (a test, or a fixture's setup or teardown on behalf of one), so that its captured
//! output, its panics, a paused clock and a blocked thread are charged to it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use stackportal::Cleanup;
use tokio::task::JoinHandle;

use super::board::{self, Polled};
use super::watchdog;
use super::Sink;
use crate::capture::Capture;
use crate::config::BLOCKING_WARN_ENV;
use crate::events::Event;
use crate::panics::{__rust_begin_short_backtrace, IN_PANIC_HOOK};

/// The state of a run, reachable from the runtime thread.
pub(crate) struct Ctx {
    pub(crate) capture: RefCell<Option<Capture>>,
    /// Display name per slot: tests and fixture teardowns, in the order they started
    /// (shared with the watchdog thread).
    pub(crate) names: Arc<Mutex<Vec<String>>>,
    /// Where captured output and warnings go: output as it is drained, per slot;
    /// output of no test (tasks a fixture spawned, other threads between polls) as
    /// stray output, shown after the results, never among them.
    pub(crate) sink: Rc<dyn Sink>,
    /// The slot whose future is being polled.
    pub(crate) current: Cell<Option<usize>>,
    /// Guard cleanups handed over by cancelled portals, per slot.
    pub(crate) cleanups: RefCell<Vec<Vec<JoinHandle<()>>>>,
    pub(crate) warn_after: Option<Duration>,
    /// Per slot, a test's own blocking warning threshold in ms (`blocking_warn = ".."`;
    /// 0: never), which applies to its own polls (not to fixtures set up for it).
    own_warn: RefCell<std::collections::HashMap<usize, u64>>,
    /// Slots of the isolated tests in flight, oldest first: output that no poll of a
    /// shared test claims goes to them (their threads write to the same fds).
    pub(crate) isolated: RefCell<Vec<usize>>,
    /// Per slot: why it must stop now (it paused the shared clock), and who to wake.
    pub(crate) aborts: RefCell<Vec<Abort>>,
    /// Per slot: what the [`board`](super::board) says while it is polled.
    board: RefCell<Vec<u64>>,
    /// The shared clock's reading when the poll in progress started.
    clock_at_poll: Cell<Option<tokio::time::Instant>>,
    /// Whether the clock was checked during the poll in progress already.
    clock_probed: Cell<bool>,
    /// How long the outermost polls of tests, fixtures and their tasks took, in all:
    /// the time the runtime thread was busy with them ([`Event::Busy`]).
    pub(crate) busy: Cell<Duration>,
}

#[derive(Default)]
pub(crate) struct Abort {
    pub(crate) note: Option<String>,
    pub(crate) waker: Option<Waker>,
}

thread_local! {
    static CTX: RefCell<Option<Rc<Ctx>>> = const { RefCell::new(None) };
}

pub(crate) fn ctx() -> Option<Rc<Ctx>> {
    CTX.with(|c| c.borrow().clone())
}

/// Whether this thread is running a portaltest run.
pub(crate) fn in_harness() -> bool {
    CTX.with(|c| c.borrow().is_some())
}

/// The name of the test being polled, if any (for the panic hook).
pub(crate) fn current_test_name() -> Option<String> {
    CTX.with(|c| {
        let c = c.try_borrow().ok()?;
        let ctx = c.as_ref()?;
        let slot = ctx.current.get()?;
        let names = ctx.names.try_lock().ok()?;
        names.get(slot).cloned()
    })
}

/// Makes `ctx` the run of this thread (until [`uninstall`]).
pub(crate) fn install(ctx: Rc<Ctx>) {
    CTX.with(|c| *c.borrow_mut() = Some(ctx));
}

pub(crate) fn uninstall() {
    CTX.with(|c| c.borrow_mut().take());
}

impl Ctx {
    pub(crate) fn new(
        capture: Option<Capture>,
        sink: Rc<dyn Sink>,
        warn_after: Option<Duration>,
    ) -> Ctx {
        Ctx {
            capture: RefCell::new(capture),
            names: Arc::new(Mutex::new(Vec::new())),
            sink,
            current: Cell::new(None),
            cleanups: RefCell::new(Vec::new()),
            warn_after,
            own_warn: RefCell::default(),
            isolated: RefCell::new(Vec::new()),
            aborts: RefCell::new(Vec::new()),
            board: RefCell::new(Vec::new()),
            clock_at_poll: Cell::new(None),
            clock_probed: Cell::new(false),
            busy: Cell::new(Duration::ZERO),
        }
    }

    /// A slot for test `id` (`u32::MAX`: for a fixture's teardown).
    pub(crate) fn new_slot(&self, name: String, id: u32) -> usize {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let slot = names.len();
        self.board.borrow_mut().push(if id == u32::MAX {
            Polled::Slot(slot as u32).word()
        } else {
            Polled::Test(id).word()
        });
        names.push(name);
        self.cleanups.borrow_mut().push(Vec::new());
        self.aborts.borrow_mut().push(Abort::default());
        names.len() - 1
    }

    /// Gives `slot`'s test its own blocking warning threshold (`blocking_warn = ".."`).
    pub(crate) fn set_blocking_warn(&self, slot: usize, ms: Option<u64>) {
        if let Some(ms) = ms {
            self.own_warn.borrow_mut().insert(slot, ms);
        }
    }

    /// The blocking warning threshold of a poll of `slot` (`own`: the test's own code,
    /// not a fixture's set up for it), and whether the test's attribute set it.
    fn blocking_limit(&self, slot: usize, own: bool) -> (Option<Duration>, bool) {
        let own_warn = self.own_warn.borrow();
        match own.then(|| own_warn.get(&slot)).flatten() {
            Some(0) => (None, true),
            Some(ms) => (Some(Duration::from_millis(*ms)), true),
            None => (self.warn_after, false),
        }
    }

    /// Whether `slot` holds a fixture's teardown.
    pub(crate) fn is_teardown(&self, slot: usize) -> bool {
        matches!(
            self.board.borrow().get(slot),
            Some(w) if *w >> 32 != 0
        )
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
    pub(crate) fn check_clock(&self, slot: usize, label: Option<&str>) {
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

    pub(crate) fn take_abort(&self, slot: usize) -> Option<String> {
        self.aborts.borrow_mut().get_mut(slot)?.note.take()
    }

    /// Sends captured output as `slot`'s, or as the output of no test when no test
    /// was running.
    pub(crate) fn drain_to(&self, slot: Option<usize>) {
        // Read and sent a chunk at a time: a test that prints 200 MB in one poll costs
        // the worker one chunk of memory, not 200 MB (events of output flush at once).
        if let Some(capture) = self.capture.borrow().as_ref() {
            capture.drain(crate::events::MAX_CHUNK, |bytes| {
                self.send_output(slot, bytes)
            });
        }
    }

    /// Sends output that `slot` (or no test) wrote, in events of at most
    /// [`crate::events::MAX_CHUNK`] bytes: frames stay small whatever a test prints, and
    /// each end holds a chunk at a time besides the output itself.
    pub(crate) fn send_output(&self, slot: Option<usize>, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let event = |bytes: Vec<u8>| match slot {
            Some(slot) => Event::Output {
                slot: slot as u32,
                bytes,
            },
            None => Event::Stray { bytes },
        };
        if bytes.len() <= crate::events::MAX_CHUNK {
            self.sink.send(event(bytes));
            return;
        }
        for chunk in bytes.chunks(crate::events::MAX_CHUNK) {
            self.sink.send(event(chunk.to_vec()));
        }
    }

    /// Sends the output of no test and points fd 1 and 2 back where they were.
    pub(crate) fn end_capture(&self) {
        self.drain_to(None);
        self.capture.borrow_mut().take();
    }

    pub(crate) fn warn(&self, text: &str) {
        self.sink.send(Event::Warn {
            text: text.to_string(),
        });
    }
}

/// Runs `fut` with its output attributed to `slot` and its poll times watched.
pub(crate) struct Attributed<F: ?Sized> {
    pub(crate) slot: usize,
    pub(crate) fut: Pin<Box<F>>,
    pub(crate) ctx: Rc<Ctx>,
    /// What to call it in blocking warnings when it is not the slot's test itself.
    pub(crate) label: Option<String>,
}

impl<F: Future + ?Sized> Future for Attributed<F> {
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
        let (limit, by_attribute) = ctx.blocking_limit(this.slot, this.label.is_none());
        let outer = watchdog::enter(this.slot, limit);
        let word = ctx.board.borrow().get(this.slot).copied().unwrap_or(0);
        let outer_word = board::publish(word);
        let out = __rust_begin_short_backtrace(|| this.fut.as_mut().poll(cx));
        board::publish(outer_word);
        watchdog::leave(outer);
        // Unless the test's supervisor looked right after the test's own code ran.
        if !ctx.clock_probed.get() {
            ctx.check_clock(this.slot, this.label.as_deref());
        }
        ctx.clock_probed.set(outer_probed);
        ctx.clock_at_poll.set(outer_clock);
        let in_hook = IN_PANIC_HOOK.with(|t| t.replace(hook_before));
        let took = started.elapsed().saturating_sub(in_hook);
        if previous.is_none() {
            ctx.busy.set(ctx.busy.get() + took);
        }
        drop(restore);
        if let Some(limit) = limit {
            if took >= limit {
                let name = match &this.label {
                    Some(label) => label.clone(),
                    None => slot_name(&ctx.names, this.slot),
                };
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
                ctx.warn(&format!(
                    "portaltest: warning: `{name}` blocked the runtime thread for {} without yielding \
                     (every other test was stalled meanwhile; warning threshold {} ms, {set_by})",
                    fmt_duration(took),
                    limit.as_millis()
                ));
            }
        }
        out
    }
}

pub(crate) fn slot_name(names: &Mutex<Vec<String>>, slot: usize) -> String {
    let names = names.lock().unwrap_or_else(|e| e.into_inner());
    names
        .get(slot)
        .cloned()
        .unwrap_or_else(|| format!("#{slot}"))
}

/// A duration in a message: `250 ms`, `1.50 s`.
pub(crate) fn fmt_duration(d: Duration) -> String {
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

/// A cleanup spawner for portals run on behalf of `slot`: handed-over guard cleanups
/// run as local tasks attributed to it, and are awaited before the slot reports.
pub(crate) fn cleanup_spawner(ctx: Rc<Ctx>, slot: Option<usize>) -> impl Fn(Cleanup) + 'static {
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
pub(crate) fn spawn_for_current_test<F, Fut>(fixture: &'static str, make: F)
where
    F: FnOnce(Box<dyn Fn(Cleanup)>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let ctx = ctx().expect("portaltest: no run in progress");
    let slot = ctx.current.get();
    let label = format!("fixture `{fixture}`");
    if let Some(slot) = slot {
        // Flushed at once: a crash during the setup is then charged to the fixture.
        ctx.sink.send(Event::FixtureSetup {
            slot: slot as u32,
            name: fixture.to_string(),
        });
        ctx.sink.flush();
    }
    let fut = SettingUp(Box::pin(make(Box::new(cleanup_spawner(ctx.clone(), slot)))));
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

thread_local! {
    /// How many fixture setups are being polled on this thread (nested: a fixture
    /// that uses a fixture).
    static SETTING_UP: Cell<u32> = const { Cell::new(0) };
}

/// Whether a fixture's setup is being polled: the tasks it spawns serve the whole run,
/// not the test that happened to use the fixture first.
pub(crate) fn in_fixture_setup() -> bool {
    SETTING_UP.with(|s| s.get() > 0)
}

/// A fixture's setup, marked as such while it is polled ([`in_fixture_setup`]).
struct SettingUp<F: ?Sized>(Pin<Box<F>>);

impl<F: Future + ?Sized> Future for SettingUp<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                SETTING_UP.with(|s| s.set(s.get().saturating_sub(1)));
            }
        }
        SETTING_UP.with(|s| s.set(s.get() + 1));
        let _leave = Leave;
        self.0.as_mut().poll(cx)
    }
}

pub(crate) async fn await_cleanups(ctx: &Ctx, slot: usize) {
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

/// Fixture `name` is set up (or failed): a crash from now on is not its setup's.
pub(crate) fn fixture_ready(name: &str) {
    if let Some(ctx) = ctx() {
        ctx.sink.send(Event::FixtureReady {
            name: name.to_string(),
        });
    }
}

/// The message of a fixture used where fixtures do not exist: on the thread of an
/// isolated test (`None` elsewhere).
pub(crate) fn fixture_unavailable_here(fixture: &str) -> Option<String> {
    let test = crate::isolated::current_name()?;
    Some(format!(
        "fixture `{fixture}` was used in the isolated test `{test}`: fixtures live on the shared \
         runtime's thread (their values are `Rc`s, created and torn down there), and an isolated \
         test (`isolated`, `start_paused = true`) runs on a thread and a runtime of its own; \
         create what the test needs inside it, or let it run on the shared runtime"
    ))
}

/// Flushes the events of this thread's run, if it has one (when its runtime parks).
pub(crate) fn flush_sink() {
    let sink = CTX.with(|c| Some(c.try_borrow().ok()?.as_ref()?.sink.clone()));
    if let Some(sink) = sink {
        sink.flush();
    }
}
