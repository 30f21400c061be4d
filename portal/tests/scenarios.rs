//! The randomized scenario tester: instead of enumerating cases, it generates programs
//! from a seed and checks invariants after each.
//!
//! A program is a tree of futures: nested portals (depth 1-4) whose sync bodies
//! `await_` sub-programs, open guards and panic; combinators (`join`, `select` biased
//! to its first arm, so that later arms are dropped unstarted, `now_or_never` then
//! `.await`, `FuturesUnordered`, timeouts that drop a future at some state); moves of a
//! half-run future between `LocalSet` tasks; wakes from other threads; panics in
//! bodies, in the `Drop` of captures, of outputs and of panic payloads, in guard
//! cleanups and cleanup spawners, and in a waker's `clone`; bodies that swallow
//! `Cancelled`.
//!
//! The oracle, after every case: the process did not crash (each batch runs in a child
//! process) and the case ended within a bound (a watchdog); no value was dropped twice;
//! every guard's cleanup ran at most once and was dropped (run, handed off, or
//! reported); the count of mapped portal stacks equals the stacks idle in the pool
//! (plus those of portals that a container leaked when a `Drop` inside it panicked:
//! `FuturesUnordered` does; then undropped guards are tolerated too);
//! `has_portal()` is false, and `await_` outside says there is no portal (a dangling
//! `CURRENT` says otherwise).
//!
//! Budget: `STACKPORTAL_FUZZ_CASES` cases (default 400) from seed
//! `STACKPORTAL_FUZZ_START` (default 0), and at
//! most ~20 s; `STACKPORTAL_FUZZ_SEED=n` runs that one seed. A failure prints the seed
//! and the command line that reproduces it. Under `.ci/memcheck` (valgrind, ASan) the
//! cases run in the test process itself, so that the checker sees them: 2,000 divided
//! by `STACKPORTAL_TEST_SCALE` (200 in CI) seeds, at most 3 minutes.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::future::{select_all, FutureExt, LocalBoxFuture};
use futures::stream::{FuturesUnordered, StreamExt};
use stackportal::{await_, guard, has_portal, Builder};

mod test_env;

const CHILD_ENV: &str = "STACKPORTAL_FUZZ_CHILD";

// ---- a tiny seeded PRNG (xorshift64*) --------------------------------------------------

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so that neighbouring seeds differ in every bit.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

// ---- the programs ---------------------------------------------------------------------

#[derive(Debug)]
enum Fut {
    Ready,
    Yield(u8),
    Sleep(u8),
    /// Never completes.
    Pending,
    /// Woken from another thread after some milliseconds.
    Thread(u8),
    Portal(Box<PortalSpec>),
    Join(Vec<Fut>),
    /// Biased: the first arm that completes wins, the others are dropped.
    Select(Vec<Fut>),
    NowOrNeverThenAwait(Box<Fut>),
    Unordered(Vec<Fut>),
    Timeout(u8, Box<Fut>),
    /// Polled once in one `LocalSet` task, finished in another.
    Moved(Box<Fut>),
    /// Polled through a waker whose first `clone` panics.
    TouchyWaker(Box<Fut>),
}

#[derive(Debug)]
struct PortalSpec {
    steps: Vec<Step>,
    spawner: SpawnerKind,
    named: bool,
    /// The body captures a value whose `Drop` panics.
    capture_bomb: bool,
    /// The body returns a value whose `Drop` panics.
    output_bomb: bool,
    /// Opened with `Builder::run` (an async body) instead of `run_sync`.
    async_body: bool,
}

#[derive(Debug)]
enum SpawnerKind {
    None,
    SpawnLocal,
    Panics,
}

#[derive(Debug)]
enum Step {
    Await(Fut),
    /// `catch_unwind(await_(..))`, ignoring the result: swallows `Cancelled` too.
    CatchAwait(Fut),
    Guard(CleanupSpec),
    Panic {
        bomb_payload: bool,
    },
}

#[derive(Debug)]
struct CleanupSpec {
    wait: Fut,
    panics: bool,
    bomb_payload: bool,
}

/// `may_hang`: whether the future may never complete (it is under a timeout or a
/// select arm after the first, which bound it); otherwise it must complete, so that a
/// lost wake-up shows as a hang.
fn gen_fut(rng: &mut Rng, depth: u32, budget: &mut u32, may_hang: bool) -> Fut {
    if *budget == 0 {
        return Fut::Ready;
    }
    *budget -= 1;
    let leaf = |rng: &mut Rng| match rng.below(10) {
        0 => Fut::Ready,
        1..=3 => Fut::Yield(rng.below(3) as u8 + 1),
        4..=6 => Fut::Sleep(rng.below(8) as u8),
        7 if may_hang => Fut::Pending,
        7 => Fut::Sleep(20),
        _ => Fut::Thread(rng.below(5) as u8),
    };
    let wide = |rng: &mut Rng, budget: &mut u32, select: bool| {
        (0..rng.below(3) + 1)
            .map(|i| gen_fut(rng, depth, budget, may_hang || (select && i > 0)))
            .collect::<Vec<_>>()
    };
    match rng.below(20) {
        0..=5 if depth < 4 => Fut::Portal(Box::new(gen_portal(rng, depth + 1, budget, may_hang))),
        6 => Fut::Join(wide(rng, budget, false)),
        7 => Fut::Select(wide(rng, budget, true)),
        8 => Fut::NowOrNeverThenAwait(Box::new(gen_fut(rng, depth, budget, may_hang))),
        9 => Fut::Unordered(wide(rng, budget, false)),
        10 => Fut::Timeout(
            rng.below(10) as u8,
            Box::new(gen_fut(rng, depth, budget, true)),
        ),
        11 => Fut::Moved(Box::new(gen_fut(rng, depth, budget, may_hang))),
        12 => Fut::TouchyWaker(Box::new(gen_fut(rng, depth, budget, may_hang))),
        _ => leaf(rng),
    }
}

fn gen_portal(rng: &mut Rng, depth: u32, budget: &mut u32, may_hang: bool) -> PortalSpec {
    let steps = (0..rng.below(4) + 1)
        .map(|_| match rng.below(10) {
            0..=4 => Step::Await(gen_fut(rng, depth, budget, may_hang)),
            5 => Step::CatchAwait(gen_fut(rng, depth, budget, may_hang)),
            6..=8 => Step::Guard(CleanupSpec {
                wait: match rng.below(4) {
                    0 => Fut::Ready,
                    1 => Fut::Yield(1),
                    2 => Fut::Sleep(rng.below(4) as u8),
                    _ if may_hang => Fut::Pending,
                    _ => Fut::Thread(1),
                },
                panics: rng.chance(25),
                bomb_payload: rng.chance(50),
            }),
            _ => Step::Panic {
                bomb_payload: rng.chance(50),
            },
        })
        .collect();
    PortalSpec {
        steps,
        spawner: match rng.below(4) {
            0 | 1 => SpawnerKind::None,
            2 => SpawnerKind::SpawnLocal,
            _ => SpawnerKind::Panics,
        },
        named: rng.chance(30),
        capture_bomb: rng.chance(15),
        output_bomb: rng.chance(15),
        async_body: rng.chance(25),
    }
}

fn gen_program(seed: u64) -> Fut {
    let mut rng = Rng::new(seed);
    let mut budget = 6 + rng.below(20) as u32;
    // Always at least one portal at the top.
    Fut::Portal(Box::new(gen_portal(&mut rng, 1, &mut budget, false)))
}

// ---- bookkeeping the oracle reads -------------------------------------------------------

thread_local! {
    /// Per token (one per guard and one per portal body): (cleanup runs, drops, whether
    /// it is a portal body's).
    static GUARDS: RefCell<Vec<(u32, u32, bool)>> = const { RefCell::new(Vec::new()) };
    /// Portals leaked by earlier cases in this process (their stacks stay mapped).
    static LEAKED_BEFORE: Cell<usize> = const { Cell::new(0) };
    /// Values dropped twice (a memory error made visible).
    static DOUBLE_DROPS: Cell<u32> = const { Cell::new(0) };
}

/// Dropped exactly once by a sound engine; records a second drop.
struct Token {
    id: usize,
}

impl Token {
    fn new(portal: bool) -> Token {
        let id = GUARDS.with(|g| {
            let mut g = g.borrow_mut();
            g.push((0, 0, portal));
            g.len() - 1
        });
        Token { id }
    }
    fn ran(&self) {
        GUARDS.with(|g| g.borrow_mut()[self.id].0 += 1);
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = GUARDS.try_with(|g| g.borrow_mut()[self.id].1 += 1);
    }
}

/// Panics in its `Drop` (unless the thread is unwinding: that would be the user's
/// abort, not the engine's); counts a second drop.
struct Bomb {
    dropped: Rc<Cell<u32>>,
}

impl Bomb {
    fn new() -> Bomb {
        Bomb {
            dropped: Rc::new(Cell::new(0)),
        }
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        let n = self.dropped.get() + 1;
        self.dropped.set(n);
        if n > 1 {
            DOUBLE_DROPS.with(|d| d.set(d.get() + 1));
            return;
        }
        if !std::thread::panicking() {
            panic!("scenario: Bomb::drop");
        }
    }
}

/// A panic payload whose `Drop` panics (when the thread is not unwinding).
struct BombPayload;

impl Drop for BombPayload {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("scenario: BombPayload::drop");
        }
    }
}

fn scenario_panic(bomb_payload: bool) -> ! {
    if bomb_payload {
        panic::panic_any(BombPayload);
    }
    panic!("scenario: panic");
}

// ---- running a program --------------------------------------------------------------

fn build(fut: Fut) -> LocalBoxFuture<'static, ()> {
    match fut {
        Fut::Ready => async {}.boxed_local(),
        Fut::Yield(n) => async move {
            for _ in 0..n {
                tokio::task::yield_now().await;
            }
        }
        .boxed_local(),
        Fut::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms.into())).boxed_local(),
        Fut::Pending => std::future::pending().boxed_local(),
        Fut::Thread(ms) => {
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(ms.into()));
                let _ = tx.send(());
            });
            async move {
                let _ = rx.await;
            }
            .boxed_local()
        }
        Fut::Portal(spec) => {
            let portal = open(*spec);
            async move {
                let out = portal.await;
                drop(out); // may be a Bomb
            }
            .boxed_local()
        }
        Fut::Join(futs) => {
            let futs: Vec<_> = futs.into_iter().map(build).collect();
            async move {
                futures::future::join_all(futs).await;
            }
            .boxed_local()
        }
        Fut::Select(futs) => {
            let futs: Vec<_> = futs.into_iter().map(build).collect();
            async move {
                if !futs.is_empty() {
                    // Biased: arms are polled in order, so when the first is ready the
                    // others are dropped without ever being polled.
                    let (_, _, rest) = select_all(futs).await;
                    drop(rest);
                }
            }
            .boxed_local()
        }
        Fut::NowOrNeverThenAwait(fut) => {
            let mut fut = build(*fut);
            async move {
                if (&mut fut).now_or_never().is_none() {
                    fut.await;
                }
            }
            .boxed_local()
        }
        Fut::Unordered(futs) => {
            let mut set: FuturesUnordered<_> = futs.into_iter().map(build).collect();
            async move { while set.next().await.is_some() {} }.boxed_local()
        }
        Fut::Timeout(ms, fut) => {
            let fut = build(*fut);
            async move {
                let _ = tokio::time::timeout(Duration::from_millis(ms.into()), fut).await;
            }
            .boxed_local()
        }
        Fut::Moved(fut) => {
            let fut = build(*fut);
            async move {
                let slot = Rc::new(RefCell::new(Some(fut)));
                let a = slot.clone();
                let first = tokio::task::spawn_local(async move {
                    std::future::poll_fn(|cx| {
                        let mut fut = a.borrow_mut();
                        if let Some(f) = fut.as_mut() {
                            if f.as_mut().poll(cx).is_ready() {
                                *fut = None;
                            }
                        }
                        Poll::Ready(())
                    })
                    .await;
                })
                .await;
                if let Err(err) = first {
                    if err.is_panic() {
                        panic::resume_unwind(err.into_panic());
                    }
                }
                let rest = slot.borrow_mut().take();
                if let Some(rest) = rest {
                    if let Err(err) = tokio::task::spawn_local(rest).await {
                        if err.is_panic() {
                            panic::resume_unwind(err.into_panic());
                        }
                    }
                }
            }
            .boxed_local()
        }
        Fut::TouchyWaker(fut) => {
            let mut fut = build(*fut);
            let mut first = true;
            std::future::poll_fn(move |cx| {
                let touchy = Arc::new(Touchy {
                    real: cx.waker().clone(),
                    fail_clone: AtomicBool::new(std::mem::take(&mut first)),
                });
                let waker = touchy_waker(touchy);
                fut.as_mut().poll(&mut Context::from_waker(&waker))
            })
            .boxed_local()
        }
    }
}

fn open(spec: PortalSpec) -> stackportal::Portal<Option<Bomb>> {
    let PortalSpec {
        steps,
        spawner,
        named,
        capture_bomb,
        output_bomb,
        async_body,
    } = spec;
    let mut builder = Builder::new().stack_size(128 * 1024);
    if named {
        builder = builder.name("scenario");
    }
    match spawner {
        SpawnerKind::None => {}
        SpawnerKind::SpawnLocal => {
            builder = builder.cleanup_spawner(|cleanup| drop(tokio::task::spawn_local(cleanup)))
        }
        SpawnerKind::Panics => {
            builder = builder.cleanup_spawner(|cleanup| {
                drop(cleanup);
                panic!("scenario: spawner")
            })
        }
    }
    let bomb = capture_bomb.then(Bomb::new);
    let token = Token::new(true); // a capture that must be dropped exactly once
    let body = move || {
        let _capture = (&bomb, &token);
        run_steps(steps);
        output_bomb.then(Bomb::new)
    };
    if async_body {
        builder.run(async move { body() })
    } else {
        builder.run_sync(body)
    }
}

fn run_steps(steps: Vec<Step>) {
    let mut guards = Vec::new();
    for step in steps {
        match step {
            Step::Await(fut) => await_(build(fut)),
            Step::CatchAwait(fut) => {
                let fut = build(fut);
                let _ = catch_unwind(AssertUnwindSafe(|| await_(fut)));
            }
            Step::Guard(spec) => {
                let token = Token::new(false);
                let wait = build(spec.wait);
                guards.push(guard((), move |()| async move {
                    let token = token;
                    wait.await;
                    token.ran();
                    if spec.panics {
                        scenario_panic(spec.bomb_payload);
                    }
                }));
            }
            Step::Panic { bomb_payload } => scenario_panic(bomb_payload),
        }
    }
}

/// A waker around the task's waker whose `clone` panics once.
struct Touchy {
    real: Waker,
    fail_clone: AtomicBool,
}

fn touchy_waker(touchy: Arc<Touchy>) -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is an `Arc<Touchy>` reference owned by a waker.
        let arc = unsafe { &*data.cast::<Touchy>() };
        if arc.fail_clone.swap(false, Ordering::SeqCst) {
            panic!("scenario: waker clone");
        }
        // SAFETY: as above; the new reference is owned by the new waker.
        unsafe { Arc::increment_strong_count(data.cast::<Touchy>()) };
        RawWaker::new(data, &VTABLE)
    }
    unsafe fn wake(data: *const ()) {
        // SAFETY: as above; consumes the reference.
        let arc = unsafe { Arc::from_raw(data.cast::<Touchy>()) };
        arc.real.wake_by_ref();
    }
    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: as above; borrows it.
        unsafe { &*data.cast::<Touchy>() }.real.wake_by_ref();
    }
    unsafe fn drop_ref(data: *const ()) {
        // SAFETY: as above; releases the reference.
        drop(unsafe { Arc::from_raw(data.cast::<Touchy>()) });
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_ref);
    // SAFETY: the vtable treats the data pointer as an `Arc<Touchy>` reference.
    unsafe { Waker::from_raw(RawWaker::new(Arc::into_raw(touchy).cast(), &VTABLE)) }
}

/// Runs one generated program; returns what the oracle found wrong.
fn run_case(seed: u64) -> Vec<String> {
    GUARDS.with(|g| g.borrow_mut().clear());
    DOUBLE_DROPS.with(|d| d.set(0));
    let program = gen_program(seed);
    let text = format!("{program:?}");
    *CURRENT_PROGRAM.lock().unwrap() = text.clone();
    {
        let rt = test_env::rt();
        let local = tokio::task::LocalSet::new();
        let _ = catch_unwind(AssertUnwindSafe(|| {
            local.block_on(&rt, async move {
                let top = build(program);
                // The program must end: every `Pending` is under a select, a timeout
                // or a cancelled portal; a lost wake-up hangs here (the watchdog).
                let _ = tokio::task::spawn_local(top).await;
            })
        }));
        // Cleanups handed to spawn_local run on the LocalSet: give them their turn.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            local.block_on(&rt, async {
                tokio::time::sleep(Duration::from_millis(10)).await;
            })
        }));
        let _ = catch_unwind(AssertUnwindSafe(move || drop(local)));
        let _ = catch_unwind(AssertUnwindSafe(move || drop(rt)));
    }
    let mut wrong = Vec::new();
    let doubles = DOUBLE_DROPS.with(Cell::get);
    if doubles > 0 {
        wrong.push(format!("{doubles} values dropped twice"));
    }
    // A container may leak what it holds when a `Drop` inside it panics (futures'
    // `FuturesUnordered` does): a portal leaked that way keeps its stack mapped and its
    // body's captures (and the guards on its stack) undropped. Leaks are tolerated as
    // such, and counted: double drops and double runs never are.
    let leaked_portals = GUARDS.with(|g| {
        let g = g.borrow();
        let leaked = g.iter().filter(|t| t.2 && t.1 == 0).count();
        for (id, &(ran, drops, portal)) in g.iter().enumerate() {
            let what = if portal {
                "portal body"
            } else {
                "guard cleanup"
            };
            if ran > 1 {
                wrong.push(format!("{what} {id} ran {ran} times"));
            }
            if drops > 1 || (drops == 0 && leaked == 0) {
                wrong.push(format!("{what} {id} dropped {drops} times"));
            }
        }
        leaked
    });
    if has_portal() {
        wrong.push("has_portal() is true after the case".into());
    }
    match catch_unwind(|| await_(async {})) {
        Ok(()) => wrong.push("await_ outside any portal returned".into()),
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !text.contains("called outside a portal") {
                wrong.push(format!("CURRENT dangles: await_ outside says: {text}"));
            }
        }
    }
    let (mapped, pooled) = (
        stackportal::__private::mapped_stacks(),
        stackportal::__private::pooled_stacks(),
    );
    let leaked = LEAKED_BEFORE.get() + leaked_portals;
    LEAKED_BEFORE.set(leaked);
    if mapped != pooled + leaked {
        wrong.push(format!(
            "{mapped} portal stacks mapped, but {pooled} idle in the pool and {leaked} \
             in leaked portals"
        ));
    }
    if !wrong.is_empty() {
        wrong.push(format!("program: {text}"));
    }
    wrong
}

// ---- the child: runs a batch of seeds, with a watchdog ------------------------------

static CURRENT_SEED: AtomicU64 = AtomicU64::new(u64::MAX);
static CURRENT_PROGRAM: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
static CASE_STARTED_MS: AtomicU64 = AtomicU64::new(0);

fn child(start: u64, cases: u64, deadline: Duration) {
    // The scenarios panic on purpose, often; `STACKPORTAL_FUZZ_VERBOSE=1` shows them.
    if std::env::var_os("STACKPORTAL_FUZZ_VERBOSE").is_none() {
        panic::set_hook(Box::new(|_| {}));
    }
    let epoch = Instant::now();
    let bound_ms = if test_env::memcheck().is_some() {
        300_000
    } else {
        20_000
    };
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        let seed = CURRENT_SEED.load(Ordering::SeqCst);
        let started = CASE_STARTED_MS.load(Ordering::SeqCst);
        let now = epoch.elapsed().as_millis() as u64;
        if seed != u64::MAX && now.saturating_sub(started) > bound_ms {
            let program = CURRENT_PROGRAM
                .lock()
                .map(|p| p.clone())
                .unwrap_or_default();
            println!("FAIL seed {seed}: hung (no end after {bound_ms} ms); program: {program}");
            let _ = std::io::stdout().flush();
            std::process::exit(3);
        }
    });
    let mut out = std::io::stdout();
    for seed in start..start + cases {
        if epoch.elapsed() > deadline {
            break;
        }
        CASE_STARTED_MS.store(epoch.elapsed().as_millis() as u64, Ordering::SeqCst);
        CURRENT_SEED.store(seed, Ordering::SeqCst);
        let _ = writeln!(out, "case {seed}");
        let _ = out.flush();
        let wrong = run_case(seed);
        CURRENT_SEED.store(u64::MAX, Ordering::SeqCst);
        if !wrong.is_empty() {
            let _ = writeln!(out, "FAIL seed {seed}: {}", wrong.join("; "));
            let _ = out.flush();
            std::process::exit(2);
        }
    }
    let _ = writeln!(out, "done");
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: expected a number"))
    })
}

/// Runs seeds `start..start + cases` in a child; returns `Err(seed, why)` for the first
/// that failed.
fn run_batch(start: u64, cases: u64, deadline: Duration) -> Result<u64, (u64, String)> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "randomized_scenarios", "--nocapture"])
        .env(
            CHILD_ENV,
            format!("{start} {cases} {}", deadline.as_millis()),
        )
        .env_remove("STACKPORTAL_MAX_STACKS")
        .env_remove("STACKPORTAL_STACK_SIZE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("case "))
        .filter_map(|s| s.trim().parse::<u64>().ok())
        .next_back();
    if let Some(line) = stdout.lines().find(|l| l.starts_with("FAIL seed ")) {
        let seed = line["FAIL seed ".len()..]
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(start);
        return Err((seed, line.to_string()));
    }
    if out.status.success() && stdout.contains("done") {
        return Ok(last.map_or(start, |l| l + 1));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = stderr
        .lines()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    let seed = last.unwrap_or(start);
    Err((
        seed,
        format!(
            "FAIL seed {seed}: the process died ({}):\n{tail}\nprogram: {:?}",
            out.status,
            gen_program(seed)
        ),
    ))
}

#[test]
fn randomized_scenarios() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut it = spec.split(' ').map(|s| s.parse::<u64>().unwrap());
        let (start, cases, ms) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        child(start, cases, Duration::from_millis(ms));
        return;
    }
    let memcheck = test_env::memcheck().is_some();
    let (start, cases) = match env_u64("STACKPORTAL_FUZZ_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_u64("STACKPORTAL_FUZZ_START").unwrap_or(0),
            // 400 natively (~8 s); under a memory checker the cases run in-process and
            // are cheap (~30 ms each under valgrind), so 200 (`TEST_SCALE=10`).
            env_u64("STACKPORTAL_FUZZ_CASES").unwrap_or_else(|| {
                if memcheck {
                    u64::from(test_env::scaled(2000))
                } else {
                    400
                }
            }),
        ),
    };
    let budget = if std::env::var_os("STACKPORTAL_FUZZ_CASES").is_some() {
        Duration::from_secs(24 * 3600)
    } else {
        Duration::from_secs(20)
    };
    if memcheck {
        // Under a memory checker (`.ci/memcheck`) the cases run in this process, which
        // the checker watches (it does not follow children): a memory error fails the
        // binary, a failed oracle exits it with the seed printed, as a child would.
        child(start, cases, Duration::from_secs(180));
        return;
    }
    // `STACKPORTAL_FUZZ_KEEP_GOING=1`: report every failing seed instead of the first
    // (for surveys of an engine version).
    let keep_going = std::env::var_os("STACKPORTAL_FUZZ_KEEP_GOING").is_some();
    let began = Instant::now();
    let end = start + cases;
    let mut next = start;
    let mut failures = Vec::new();
    while next < end {
        let left = budget.saturating_sub(began.elapsed());
        if left.is_zero() {
            break;
        }
        match run_batch(next, end - next, left) {
            Ok(reached) if reached <= next => break, // out of time in the child
            Ok(reached) => next = reached,
            Err((seed, why)) => {
                println!("{why}");
                failures.push(seed);
                if !keep_going {
                    break;
                }
                next = seed + 1;
            }
        }
    }
    println!(
        "randomized scenarios: seeds {start}..{next} run in {:?}",
        began.elapsed()
    );
    assert!(
        failures.is_empty(),
        "randomized scenarios failed for seeds {failures:?}; reproduce one with \
         STACKPORTAL_FUZZ_SEED=<seed> cargo test -p stackportal --test scenarios -- --nocapture"
    );
}
