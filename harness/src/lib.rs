//! # portaltest: run a whole test binary inside one shared async context
//!
//! A custom test harness (`harness = false`) in which every test of a target runs on one
//! tokio current-thread runtime, each in its own [stackportal] portal, so
//! that
//!
//! * plain sync tests can [`await_`] async code, and async tests are just as welcome;
//! * tests run **interleaved**: whenever one waits, the others proceed;
//! * **fixtures** (`#[fixture] async fn server() -> TestServer`) are created once per
//!   process, lazily, inside that runtime, and shared by every test — a pool, a client
//!   or a server started by one test keeps working in the next (the classic
//!   `#[tokio::test]` failure "A Tokio 1.x context was found, but it is being
//!   shutdown" cannot happen);
//! * the command line, the output formats and the exit code are libtest's, so `cargo
//!   test` and `cargo nextest run` work as usual.
//!
//! ## Quick start
//!
//! ```toml
//! [dev-dependencies]
//! portaltest = "0.1"
//!
//! [[test]]
//! name = "api"
//! harness = false
//! ```
//!
//! ```no_run
//! // tests/api.rs
//! use portaltest::{await_, fixture};
//!
//! struct TestServer { users: Vec<String> }
//! impl TestServer {
//!     async fn start() -> TestServer {
//!         tokio::task::yield_now().await;
//!         TestServer { users: Vec::new() }
//!     }
//!     async fn list_users(&self) -> Vec<String> { self.users.clone() }
//! }
//!
//! #[fixture]
//! async fn server() -> TestServer {
//!     TestServer::start().await
//! }
//!
//! #[portaltest::test]
//! fn lists_users() {
//!     let users = await_(server().list_users());
//!     assert!(users.is_empty());
//! }
//!
//! #[portaltest::test(timeout = "5s")]
//! async fn also_async() {
//!     assert!(server().list_users().await.is_empty());
//! }
//!
//! # #[cfg(any())] fn main() {} // rustdoc: do not wrap (tests must be module-level)
//! portaltest::main!();
//! ```
//!
//! ## The model
//!
//! * One tokio current-thread runtime (I/O and time enabled) and one `LocalSet` per test
//!   process. Each test runs in its own portal, spawned as a local task; up to 4,096
//!   selected tests are in flight at once (started in name order as others finish),
//!   unless `--test-threads N` (or `RUST_TEST_THREADS`) sets the cap to `N`;
//!   `--test-threads 1` runs them one after another. The cap counts tests in flight,
//!   not OS threads: everything runs on the main thread. Why 4,096: every test in
//!   flight holds a portal stack (two memory mappings), and Linux allows 65,530
//!   mappings per process by default (stackportal refuses portals beyond 24,573); at
//!   4,096 a binary of any size completes, a suite of up to 4,096 tests runs as if
//!   uncapped, and a bigger I/O-bound one takes `ceil(N / 4096)` rounds of its longest
//!   wait at most. Tests that wait for each other (a barrier of more than 4,096 tests)
//!   need a higher `--test-threads`.
//! * **The one rule: do not block the thread.** A test that calls blocking APIs or
//!   burns CPU without yielding stalls every other test. The harness measures every
//!   poll of every test and prints a warning to stderr naming the test and how long it
//!   held the thread when a poll takes longer than [`BLOCKING_WARN_ENV`]
//!   (`PORTALTEST_BLOCKING_WARN_MS`, default 100 ms, `0` disables);
//!   `#[portaltest::test(blocking_warn = "500ms")]` gives one test a threshold of its
//!   own (`"0ms"`: never), which overrides the variable and which its warnings name
//!   (`warning threshold 500 ms, set by its #[portaltest::test(blocking_warn =
//!   "500ms")]`); it covers the test's own code, not fixtures set up for it. Move such
//!   work to `tokio::task::spawn_blocking` and `await_` it.
//! * **Tests that must not overlap**: `#[portaltest::test(exclusive)]` runs a test
//!   alone in its worker process: it waits for the tests in flight to end, and the
//!   tests after it wait for it (the others in its worker, that is; with
//!   [`JOBS_ENV`] other workers go on, each in a process of its own).
//!   `#[portaltest::test(group = "db")]` runs the tests of group `db` one at a time,
//!   all in one worker process (they share its fixtures), while other tests go on
//!   beside them. A test waiting for its turn has not started (its time and time limit
//!   begin with its turn) but holds its place among the tests in flight. Tests that
//!   wait for each other (a barrier) must not be made to wait for an exclusive test.
//! * `timeout = "500ms" | "5s" | "2m"` limits one test; [`TIMEOUT_ENV`]
//!   (`PORTALTEST_TIMEOUT`) sets a default for the run. A test that runs out of time is
//!   cancelled: its stack unwinds (destructors run, [`AsyncGuard`] cleanups are awaited),
//!   and it fails with a message naming the limit.
//! * Output is captured per test, as libtest does, and shown only for failing tests (or
//!   with `--show-output`); `--nocapture` shows everything live. `println!`,
//!   `eprintln!`, panic messages and `tracing` events (see [Tracing](#tracing)) are all
//!   captured: file descriptors 1 and 2 are redirected to a temporary file during the
//!   run and what accumulates during a poll of a test is attributed to that test.
//!   Output of other threads is attributed to whichever test is being polled when it
//!   arrives.
//! * **Tasks a test spawns** with [`spawn_local`] are the test's: their output, panics
//!   and blocking count as its own. What such a task prints after its test ended is
//!   kept under the test's name, marked `after the test ended` (`---- NAME stdout,
//!   after the test ended ----` under the heading `output after the test ended`), and
//!   shown after the results when the run fails or with `--show-output` (with
//!   `--format json`, on stderr). Tasks started with `tokio::spawn` are attributed the
//!   same way only when the test binary is built with `--cfg tokio_unstable`
//!   (`RUSTFLAGS="--cfg tokio_unstable"`): tokio's task hooks, which tell the harness
//!   when such a task is polled, exist only then. Without it, and for
//!   `tokio::task::spawn_local` tasks always (tokio's `LocalSet` has no hooks), what
//!   they print is output of no test.
//! * **Output of no test** (what tasks that a fixture spawned, or that were started
//!   with `tokio::spawn`, print outside any test's poll, such as a server's `tracing`
//!   logs, and what other threads print between polls) is kept, never printed among the
//!   result lines: it is shown after them under the heading `output of no test (...)`
//!   when the run fails or with `--show-output` (with `--format json`, on stderr), and
//!   live with `--nocapture`.
//! * **Panics** read as libtest's: `thread 'users::creates_user' panicked at
//!   src/..:3:5:` names the test (not `'main'`), and with `RUST_BACKTRACE=1` the
//!   backtrace is trimmed as std trims it for libtest's tests, from the panic to the
//!   test's own frames (each test is entered through a `__rust_begin_short_backtrace`
//!   frame); the frames of the portal, tokio and the harness below it are left out.
//!   `RUST_BACKTRACE=full` prints them all.
//! * Under `cargo nextest run` each test runs in its own process, so each process gets
//!   its own fixtures (created lazily: running one test creates only what it uses).
//! * The tests run in a *worker process* (the test binary started again) that a
//!   supervisor watches, so that a test that aborts, crashes, exits or hangs fails
//!   alone instead of taking the run with it; see [Worker processes](#worker-processes).
//!
//! ## Command line
//!
//! libtest's: filters (several, `cargo test -- users api`: a test runs if any matches;
//! with `--exact`, if its whole name is one of them), `--skip`, `--exact`, `--ignored`,
//! `--include-ignored`, `--list` (`NAME: test` lines, then `N tests, 0 benchmarks`
//! except in the terse format that cargo-nextest reads; with `--format json`,
//! libtest's JSON listing: `discovery`, a `discovered` line per test, `completed`), `--format
//! pretty|terse|json|junit` (see [JUnit reports](#junit-reports)),
//! `-q`, `--color`, `--test-threads N` (`0` is rejected; per worker process),
//! `--nocapture`,
//! `--show-output`, `--logfile PATH` (a line per result: `ok NAME`, `failed NAME`,
//! `ignored NAME`), `--report-time` (see [Timings](#timings); libtest takes it only on
//! nightly with `-Z unstable-options`, portaltest always).
//!
//! Plus cargo-nextest's CI sharding, `--partition count:M/N` or `--partition hash:M/N`
//! (also `--partition=..`; `1 <= M <= N`, anything else is an error, exit code 101),
//! with nextest's exact semantics, so a shard is the same set of tests under `cargo
//! test` as under `cargo nextest run --partition`: `hash:M/N` runs the tests whose
//! name hashes (xxh64, seed 0, of the name alone) to `M - 1` modulo `N`; `count:M/N`
//! deals the tests that the other filters keep out round robin, in name order, and
//! runs every `M`-th of each `N` (tests with `#[ignore]` are dealt separately). It
//! applies to `--list` too; the tests outside the shard count as `filtered out` in
//! the summary line. Since `cargo test` passes its arguments to every target, and
//! libtest's targets reject `--partition`, CI sets [`PARTITION_ENV`] instead
//! (`PORTALTEST_PARTITION=hash:2/3 cargo test`); the command line takes precedence.
//!
//! `--shuffle` and `--shuffle-seed N` (libtest's flags, which it takes only on nightly
//! with `-Z unstable-options`; portaltest always) start the tests in a shuffled order:
//! the order seed `N` draws (SplitMix64 and Fisher-Yates, the same on every platform),
//! or a fresh seed for `--shuffle`. [`SHUFFLE_SEED_ENV`] (`PORTALTEST_SHUFFLE_SEED=N
//! cargo test`) does the same for `cargo test` runs; the command line takes precedence.
//! The seed is printed where libtest prints it, `running 12 tests (shuffle seed: 42)`
//! (`"shuffle_seed": 42` in the JSON start event), and again after the summary of a
//! failed run, with how to repeat the order. Shuffling comes after selection and
//! `--partition`, so a shard is the same set of tests either way; with
//! [`JOBS_ENV`] the workers take tests from the shuffled queue. `--list` stays in name
//! order.
//!
//! A test without a time limit that runs longer than 60 s gets libtest's notice,
//! `test NAME has been running for over 60 seconds`: once, on a line of its own among
//! the results (in the terse format too; not in the JSON stream). Nothing is stopped.
//! [`SLOW_NOTICE_ENV`] changes the 60 s.
//!
//! ## Worker processes
//!
//! A run that executes tests starts the test binary again as a worker process and
//! supervises it. The worker is the run described above (one runtime, tests
//! interleaved, fixtures shared); it streams each test's start, output and result to
//! the supervisor, which prints them as libtest would. Because the supervisor outlives
//! the worker, nothing a test does to its process loses a result:
//!
//! * **A worker that dies** (`abort`, a signal such as SIGSEGV, `process::exit` with
//!   any code, a portal's stack overflow): the test it was running fails with the
//!   cause (`the worker process was killed by signal 6 (SIGABRT) while this test was
//!   running`) and the output it had captured; the tests in flight beside it run again
//!   in a fresh worker and are reported once, normally. A crash while a fixture is
//!   being set up fails the test it was set up for and marks the fixture broken: the
//!   tests that use it later fail naming it, rather than crash worker after worker. A
//!   crash signal on a thread that a test spawned (not the runtime thread) blames no
//!   test: the note names the thread and the tests in flight run again, once. A death
//!   with no test to blame (the OOM killer, a task's crash) is reported and fails the
//!   run; workers that die before they get a test three times in a row end the run
//!   with their exit status and output.
//! * **Forks and leftovers**: a child that a test forks never reports (it ends
//!   quietly when it gets back into the harness); each worker leads a process group,
//!   killed with everything in it when the worker is killed, when it has ended, and
//!   when the supervisor dies. The run ends when the worker has exited, whatever still
//!   holds its pipes. Workers start from the running binary, so rebuilding or deleting
//!   the test binary during a run changes nothing.
//! * **Hangs**: a test past its time limit is cancelled when it next yields; one that
//!   does not yield (it blocks the runtime thread) within the grace period,
//!   [`GRACE_ENV`] (default 5 s), gets its worker killed and is reported as timed out
//!   and blocking; the others go on in a fresh worker. A fixture's teardown has a
//!   limit too ([`TEARDOWN_TIMEOUT_ENV`], default 30 s): past it the teardown is
//!   cancelled, and past it plus the grace the worker is killed; either fails the run.
//! * **Ctrl-C and SIGTERM** (to the whole process group, as a terminal sends them, or
//!   to the test binary alone): no test starts any more, the running ones are cancelled
//!   (their stacks unwind, their `guard`s run), the fixtures are torn down; the results
//!   so far are printed, then the cancelled and never-started tests by name, and the
//!   exit code is 130 (SIGINT) or 143 (SIGTERM). A worker that has not finished within
//!   the grace period is killed, teardowns included; a second Ctrl-C kills at once.
//! * **Ctrl-Z** stops the workers with the run, and `fg` continues them; a stop
//!   (SIGSTOP, a suspended machine) never counts against a test's limit or as a hang.
//! * **All cores**: [`JOBS_ENV`] `=N` (or `auto`: one per core) runs `N` workers that
//!   take tests from one queue as they free up, each on its own runtime with its own
//!   fixtures (created lazily, torn down per worker). The default is one worker: one
//!   shared async context, as the rest of these docs assume. `--test-threads` caps the
//!   tests in flight in each worker. The output is the same as with one worker. A run
//!   of one worker that lasted a second or more and whose tests kept the runtime
//!   thread busy for most of it (the sum of their polls) ends with a note saying how
//!   busy, and that `PORTALTEST_JOBS=auto` would use the other cores (after the summary;
//!   on stderr with `--format json`).
//!
//! What stays in one process: `--list`, a run of a single test selected with
//! `--exact` (what cargo-nextest does for each test, so it starts in milliseconds),
//! and a run under a debugger or tracer (Linux: `TracerPid` in `/proc/self/status`;
//! one line on stderr says so), so that `gdb --args target/debug/deps/api-...` stops
//! at breakpoints in tests. [`IN_PROCESS_ENV`] (`PORTALTEST_IN_PROCESS=1`) asks for it
//! explicitly (profilers, a debugger attached later). In one process a crash ends the
//! run as it does under libtest, and Ctrl-C ends it at once.
//!
//! ## Retries and flaky tests
//!
//! [`RETRIES_ENV`] `=N` runs a failing test up to `N` more times, each time in a fresh
//! portal in the same worker; `#[portaltest::test(retries = N)]` sets it for one test.
//! A test that passes on a retry is *flaky*: `test NAME ... ok (flaky: passed on try
//! 2)`, a list of the flaky tests after the failures, `"flaky": true` in JSON, a
//! `flakyFailure` per failed try in the JUnit report. A test that fails every try
//! fails, with every try's output under a `---- try N of M ----` heading. A try that
//! crashes its worker (abort, signal, `exit`, a kill after a hang) is retried too, in a
//! fresh worker, from the same budget. Cancellations are not retried, nor the users of
//! a fixture whose setup crashed.
//!
//! ## JUnit reports
//!
//! `--format junit` writes a JUnit XML report to stdout instead of the results;
//! [`JUNIT_ENV`] `=path` writes it to a file while the console shows the usual output
//! (what CI wants: `PORTALTEST_JUNIT=target/junit-api.xml cargo test --test api`; with
//! several targets, give each run its own file). One `testcase` per test with its time,
//! the failure message (the panic message or the harness's note), its output, and
//! reruns; ignored tests are `skipped`; a failed teardown is an `error`. It is written
//! with `quick-junit`, cargo-nextest's writer, so it reads as nextest's reports do.
//!
//! ## Timings
//!
//! `--report-time` shows each test's time after its result, as libtest does:
//! `test users::creates_user ... ok <0.153s>` (pretty format; the log file of
//! `--logfile` too), `"exec_time": 0.153` in the test's JSON event; the terse format
//! shows none. [`SLOWEST_ENV`] (`PORTALTEST_SLOWEST=10`, pytest's `--durations 10`)
//! lists the slowest tests after the summary line (pretty and terse formats; in JSON,
//! use `--report-time`'s `exec_time`):
//!
//! ```text
//! slowest 2 tests (each from its start to its verdict, waits included):
//!     0.301s  api::slow_query
//!     0.152s  users::creates_user
//! ```
//!
//! **What a test's time means here.** Tests run interleaved on one thread, so a test's
//! time is wall-clock time from its start (when it gets its place among the tests in
//! flight, its JSON `started` event) to its verdict: its own work plus every wait in it
//! (I/O, timers, a fixture it is the first to use, which it waits to be created) plus
//! the time other tests' polls held the thread while it was ready to go on. It is not
//! CPU time, and the times of a run do not add up to its duration: ten tests that each
//! wait 1 s at the same time each show about `1.000s` in a run of about 1 s. A test's
//! time is inflated by tests that block the thread (the blocking warning names them);
//! `--test-threads 1` gives each test's time alone. Ignored tests have no time.
//!
//! ## Environment
//!
//! Every variable is read and checked before any test runs; a bad value stops the run
//! with `error: ...` on stderr (every bad value at once) and exit code 101. A
//! `PORTALTEST_*` variable the harness does not know gets a warning (a typo?).
//!
//! | variable | meaning |
//! |---|---|
//! | [`PORTALTEST_TIMEOUT`](TIMEOUT_ENV) | default time limit of every test: `500ms`, `5s`, `2m` |
//! | [`PORTALTEST_BLOCKING_WARN_MS`](BLOCKING_WARN_ENV) | warn when one poll holds the thread longer (default 100; `0`: never); `blocking_warn = ".."` overrides it for one test |
//! | [`PORTALTEST_PARTITION`](PARTITION_ENV) | run one CI shard: `count:M/N` or `hash:M/N`, as `--partition` (which takes precedence); ignored under cargo-nextest (`NEXTEST` set), which partitions runs itself |
//! | [`PORTALTEST_SHUFFLE_SEED`](SHUFFLE_SEED_ENV) | start the tests in the order this seed draws, as `--shuffle-seed N` (which takes precedence); see [Command line](#command-line) |
//! | [`PORTALTEST_SLOWEST`](SLOWEST_ENV) | after the summary, list the `N` slowest tests with their times (default `0`: no list); see [Timings](#timings) |
//! | [`PORTALTEST_SLOW_NOTICE_MS`](SLOW_NOTICE_ENV) | after how many ms a test without a time limit gets the "has been running for over .." notice (default 60,000; `0`: never) |
//! | [`PORTALTEST_TRACING`](TRACING_ENV) | `0`: the harness installs no `tracing` subscriber (default `1`) |
//! | [`PORTALTEST_JOBS`](JOBS_ENV) | worker processes at once: `N` or `auto` (one per core); default 1 |
//! | [`PORTALTEST_IN_PROCESS`](IN_PROCESS_ENV) | `1`: run the tests in this process, without a worker (debuggers, profilers) |
//! | [`PORTALTEST_GRACE`](GRACE_ENV) | how long a worker may go on past a test's or teardown's limit, or after Ctrl-C, before it is killed (default `5s`) |
//! | [`PORTALTEST_TEARDOWN_TIMEOUT`](TEARDOWN_TIMEOUT_ENV) | time limit of each fixture's teardown (default `30s`) |
//! | [`PORTALTEST_RETRIES`](RETRIES_ENV) | run a failing test up to `N` more times; passing on a retry is flaky (default 0) |
//! | [`PORTALTEST_JUNIT`](JUNIT_ENV) | also write a JUnit XML report to this file |
//! | `RUST_TEST_THREADS` | tests in flight at once, as `--test-threads` (default 4,096) |
//! | `RUST_LOG` | filter of the harness's `tracing` subscriber: tracing-subscriber's `EnvFilter` syntax (`info,my_crate=debug,my_crate[request]=trace`); default `info` |
//! | `RUST_BACKTRACE` | `1`: panics print a backtrace trimmed to the test; `full`: untrimmed |
//! | `NO_COLOR` | no colors with `--color auto` |
//!
//! ## Tracing
//!
//! Unless the program installed a global `tracing` subscriber before the run (in its
//! own `fn main`, before [`run_main`]) or [`TRACING_ENV`] is `0`, the harness installs
//! one: tracing-subscriber's `fmt` output, filtered by `RUST_LOG` (full `EnvFilter`
//! syntax, spans and fields included; default `info`), written to stdout, so that each
//! event lands in the output of the test that emitted it (an isolated test's exactly).
//!
//! There is one global subscriber per process, so a test or fixture that calls
//! `tracing_subscriber::fmt::init()` (or `.init()` on a builder) panics: the harness's
//! is installed already, and the failure says so. To set tracing up yourself:
//!
//! * use `try_init()` and ignore its error: under the harness its subscriber (which
//!   captures per test) stays in charge, elsewhere yours is installed;
//! * or install yours in your own `main` before the run; a `fmt` subscriber writing to
//!   stdout or stderr is captured per test too, as the harness's is:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     tracing_subscriber::fmt().with_env_filter("debug").init();
//!     portaltest::run_main()
//! }
//! ```
//!
//! * or set `PORTALTEST_TRACING=0` (e.g. in `.cargo/config.toml`'s `[env]`) and call
//!   `init()` where you like.
//!
//! ## Isolated tests and paused clocks
//!
//! A test that needs a runtime of its own says so:
//!
//! * `#[portaltest::test(isolated)]` runs it on a std thread of its own (named after the
//!   test) with a tokio current-thread runtime of its own, still in a portal, so sync
//!   code may [`await_`]; `tokio::spawn` and `tokio::task::spawn_local` work. The test
//!   is driven inside that runtime's `block_on`, as `#[tokio::test]` drives its body,
//!   so tokio treats it exactly as a `#[tokio::test]` (see [Conformance with
//!   `#[tokio::test]`](#conformance-with-tokiotest)). The thread is the test's: it may
//!   block and pause its clock while the shared tests go on interleaving.
//! * `#[portaltest::test(start_paused = true)]` is an isolated test whose clock starts
//!   paused, the port of `#[tokio::test(start_paused = true)]`: when the test waits and
//!   nothing else is to be done, time jumps to the next timer.
//! * Timeouts apply, in real time; a timed-out isolated test is cancelled (its stack
//!   unwinds and its [`AsyncGuard`] cleanups run on its runtime); a thread that blocks
//!   and does not respond within 5 s is reported and left running. An isolated test
//!   counts as one test in flight for `--test-threads`. `#[ignore]` and
//!   `#[should_panic]` work as usual.
//! * **Fixtures are not available there**: they live on the shared runtime's thread
//!   (their values are `Rc`s). Using one panics with "fixture `name` was used in the
//!   isolated test `test`: fixtures live on the shared runtime's thread ..."; create
//!   what the test needs inside it.
//! * **Output**: its panic messages and `tracing` events (through the harness's
//!   subscriber) are attributed to it exactly. Its `println!`, `eprintln!` and other
//!   writes to fd 1 and 2 go to the capture file all tests share: they are attributed
//!   to it when they are collected outside the polls of shared tests (always so when it
//!   runs alone, as with `--test-threads 1`), but what it writes while a shared test
//!   is being polled may land in that test's output. (With `RUST_BACKTRACE` set, its
//!   captured panic messages carry an untrimmed backtrace.)
//!
//! On the shared runtime, the harness's timeouts and its watchdog measure real time,
//! and
//!
//! * a test that pauses the shared clock (`tokio::time::pause()`) is noticed right
//!   after the poll in which it did: the clock is resumed before anything else runs,
//!   and the test is cancelled and fails with a message that points to
//!   `start_paused = true` and `isolated`. The other tests are not affected, except
//!   that a `tokio::time::advance` the culprit made meanwhile cannot be undone. (To
//!   notice it, the harness reads the clock a few times per poll, some 100 ns.) A
//!   task spawned without a portal that pauses the clock is noticed at the next poll
//!   of any test: the clock is resumed with a warning on stderr (a timer may have
//!   fired early meanwhile).
//! * a test that starts, blocks on or drops a runtime on the shared thread (or in an
//!   isolated test, as in a `#[tokio::test]`) fails with tokio's panic message, and a
//!   line above it that says what to do instead: `await_` the future, or build, use and
//!   drop that runtime on a thread of its own (`std::thread::scope`).
//!
//! Pausing needs tokio's `test-util` feature, which portaltest enables.
//!
//! ### Conformance with `#[tokio::test]`
//!
//! An isolated test observes what the same body observes under `#[tokio::test]`, and a
//! `start_paused = true` test what it observes under `#[tokio::test(start_paused =
//! true)]`, in async code and in sync code that `await_`s:
//!
//! * `yield_now()`: the tasks spawned before it run before the test goes on (its
//!   wake-up waits for the scheduler's turn), and the order of spawned tasks is tokio's;
//! * `time::advance(d).await`: the timers it passes have fired when it returns, and the
//!   tasks they woke have run by the test's next yield (tokio rounds a timer's deadline
//!   up to the next millisecond: a 1 s sleep needs `advance` past 1 s + 1 ms);
//! * a paused clock auto-advances only when nothing else is to be done (a test that
//!   only yields does not move it); sleeps, timeouts and intervals end at their exact
//!   times;
//! * `Handle::current()` is the test's current-thread runtime; `consume_budget` makes
//!   the test yield after tokio's budget (128 units);
//! * tokio refuses the same things: `block_in_place` ("can call blocking only when
//!   running on the multi-threaded runtime"), `block_on` of another runtime and dropping
//!   one.
//!
//! One difference remains, on purpose: the test runs in a `LocalSet`, so
//! `tokio::task::spawn_local` works, where `#[tokio::test]` panics. Tests on the shared
//! runtime (a current-thread runtime too) observe the same as under `#[tokio::test]`
//! with the same difference, but without a paused clock (see above), and other tests
//! run between their polls. portaltest's own suite checks all of this by running the
//! same probes under `#[tokio::test]` and under portaltest and comparing what they saw
//! (`harness/tests/conformance.rs`).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! #[portaltest::test(start_paused = true)]
//! async fn retries_back_off() {
//!     let start = tokio::time::Instant::now();
//!     tokio::time::sleep(Duration::from_secs(3600)).await; // at once
//!     assert!(start.elapsed() >= Duration::from_secs(3600));
//! }
//!
//! #[portaltest::test(start_paused = true)]
//! async fn cache_entries_expire() {
//!     let cache = std::sync::Arc::new(std::sync::Mutex::new(Some("value")));
//!     let purged = cache.clone();
//!     tokio::spawn(async move {
//!         tokio::time::sleep(Duration::from_secs(1)).await;
//!         purged.lock().unwrap().take();
//!     });
//!     tokio::task::yield_now().await; // the purging task starts its timer
//!     tokio::time::advance(Duration::from_millis(1001)).await; // the timer fires
//!     tokio::task::yield_now().await; // the task it woke runs
//!     assert_eq!(*cache.lock().unwrap(), None);
//! }
//!
//! #[portaltest::test(isolated)]
//! fn uses_a_library_that_blocks_on_its_own_runtime() {
//!     // As under #[tokio::test]: not inside the test's runtime, on a thread of its own.
//!     std::thread::scope(|s| {
//!         s.spawn(|| {
//!             let rt = tokio::runtime::Builder::new_current_thread()
//!                 .enable_all()
//!                 .build()
//!                 .unwrap();
//!             rt.block_on(async { /* ... */ });
//!         });
//!     });
//! }
//!
//! # #[cfg(any())] fn main() {} // rustdoc: do not wrap (tests must be module-level)
//! portaltest::main!();
//! ```
//!
//! ## Parameterised tests (rstest)
//!
//! [rstest](https://docs.rs/rstest)'s `#[rstest]` with `#[case]` / `#[values]`, written
//! *above* `#[portaltest::test]`, expands a test into one test per case (or per
//! combination of values), each marked `#[portaltest::test]`: sync and `async` tests,
//! any of portaltest's arguments (`timeout`, `isolated`, ...). rstest sees the
//! `#[portaltest::test]` attribute and adds no `#[test]` of its own. The names are
//! rstest's, inside a module named after the fn: `adds::case_1`, `adds::case_3_wrong`
//! (`#[case::wrong(..)]`), `multiplies::x_1_1::y_2_10`; filters, `--exact` and
//! `--list` use them, and a failing case fails by its own name.
//!
//! ```ignore
//! // Not compiled here (portaltest has no rstest dependency); the same code is the
//! // sample target harness/samples/tests/rstest_cases.rs, which the tests run.
//! use rstest::rstest;
//!
//! #[rstest]
//! #[case(1, 2, 3)]
//! #[case::negative(-1, -2, -3)]
//! #[portaltest::test]
//! fn adds(#[case] a: i32, #[case] b: i32, #[case] sum: i32) {
//!     assert_eq!(a + b, sum);
//! }
//!
//! #[rstest]
//! #[portaltest::test(timeout = "5s")]
//! async fn fetches(#[values("/", "/health")] path: &str, #[values(1, 2)] version: u8) {
//!     // 4 tests, one per combination: fetches::path_1___::version_1_1, ...
//!     let _ = (path, version);
//! }
//!
//! # #[cfg(any())] fn main() {} // rustdoc: do not wrap (tests must be module-level)
//! portaltest::main!();
//! ```
//!
//! (`rstest = { version = "0.29", default-features = false }` as a dev-dependency is
//! enough: the default features add `#[timeout]` for rstest's own async tests, which
//! portaltest's `timeout = ".."` replaces.)
//!
//! **rstest's fixtures or portaltest's?** Both work in such tests. An rstest
//! `#[fixture]` argument is built anew for every test that takes it (synchronously,
//! or awaited in an async test, with `#[future]`) and dropped when the test ends:
//! cheap, per-test values (a fresh struct, a temporary directory, test data). A
//! portaltest [`fixture`] is created once per run, on first use, shared by every test
//! of the binary (also across cases) and torn down after all of them: expensive
//! shared async things (a server, a database, a browser). Call it in the body, not
//! as an argument: `server().get(..)`.
//!
//! ## Fixtures
//!
//! See [`fixture`]. A fixture's initialisation runs once, even when many tests ask for
//! it at the same time (the others wait). If it panics or returns `Err`, every test
//! that uses it fails with "fixture `name` failed: cause"; it is not retried.
//! `#[fixture(teardown = path)]` runs `async fn path(&T)` (or `async fn path(T)`, which
//! takes the value) after all tests, in reverse order of creation; then the values are
//! dropped, before the runtime shuts down. A failing teardown is reported and makes the
//! run exit with code 101.

#![warn(missing_docs)]

mod capture;
mod config;
mod events;
mod exit_guard;
mod fixture;
mod groups;
mod isolated;
mod junit;
mod logging;
mod panics;
mod partition;
mod printer;
mod realtime;
mod registry;
mod report;
mod runner;
mod shuffle;
mod signatures;
mod spawn;
#[cfg(unix)]
mod supervisor;
mod worker;

use std::process::ExitCode;

pub use config::{
    parse_duration, BLOCKING_WARN_ENV, GRACE_ENV, IN_PROCESS_ENV, JOBS_ENV, JUNIT_ENV,
    PARTITION_ENV, RETRIES_ENV, SHUFFLE_SEED_ENV, SLOWEST_ENV, SLOW_NOTICE_ENV,
    TEARDOWN_TIMEOUT_ENV, TIMEOUT_ENV, TRACING_ENV,
};
pub use stackportal::{await_, guard, has_portal, iter, AsyncGuard, AwaitExt};

/// Spawns a task on the run's `LocalSet` that runs inside a portal of its own (as
/// stackportal's `spawn_local`): sync code in it may [`await_`], and fixture
/// accessors work in it, first use included.
///
/// **Its output is the test's.** A task spawned by a test is charged to that test, as
/// its own code is: what it prints, its panics (`thread 'the_test' panicked`), a
/// blocking warning (`a task spawned by `the_test``) and a paused clock. What it prints
/// after the test ended is kept under the test's name, marked `after the test ended`,
/// and shown after the results when the run fails or with `--show-output` (on stderr
/// with `--format json`). A task spawned by a fixture's setup serves the whole run,
/// not the test that used the fixture first: its output is output of no test. Tasks
/// started with `tokio::spawn` are attributed too only with `--cfg tokio_unstable`
/// (tokio's task hooks), and `tokio::task::spawn_local` ones never (tokio's `LocalSet`
/// has no hooks): otherwise their output counts as output of no test (see the crate
/// docs).
///
/// Prefer it to `tokio::spawn` for tasks that use fixtures: fixtures are `Rc`s (not
/// `Send`), and a task started with `tokio::spawn` (or `tokio::task::spawn_local`) has
/// no portal, so a fixture's accessor cannot wait there for the fixture to be created:
/// its first use panics with a message saying so. (A fixture that already exists can
/// be read from anywhere on the runtime thread.)
///
/// ```no_run
/// use portaltest::fixture;
///
/// #[fixture]
/// async fn port() -> u16 {
///     tokio::task::yield_now().await;
///     8080
/// }
///
/// #[portaltest::test]
/// async fn from_a_task() {
///     let handle = portaltest::spawn_local(async { *port() + 1 });
///     assert_eq!(handle.await.unwrap(), 8081);
/// }
///
/// # #[cfg(any())] fn main() {} // rustdoc: do not wrap (tests must be module-level)
/// portaltest::main!();
/// ```
pub use spawn::spawn_local;

/// Marks a test: a sync `fn` or an `async fn` with no arguments, returning `()` or
/// `Result<(), E>` (`E: Debug`), at module level (not in an `impl` block).
///
/// Mistakes are compile errors at the test, naming the fix: another return type, an
/// associated fn in an `impl` block, `#[should_panic]` on a test returning `Result` (as
/// libtest). In a doctest, add the hidden line `# #[cfg(any())] fn main() {}` so that
/// rustdoc does not wrap the code in a `main` of its own. The expansion costs the same
/// for every test, however many share a module.
///
/// Sync tests run in a portal and may [`await_`]. `#[ignore]`, `#[ignore = "reason"]`,
/// `#[should_panic]` and `#[should_panic(expected = "text")]` work as with `#[test]`;
/// `#[portaltest::test(timeout = "500ms")]` (units `ms`, `s`, `m`) limits the run time
/// (real time). `#[portaltest::test(isolated)]` gives the test a thread and a tokio
/// current-thread runtime of its own, driven as `#[tokio::test]` drives its body (it
/// may block its thread and pause its clock; it cannot use fixtures), and
/// `#[portaltest::test(start_paused = true)]` is such a test whose clock starts paused,
/// like `#[tokio::test(start_paused = true)]`; see the crate docs.
/// `#[portaltest::test(retries = 2)]` runs the test up to 2 more times when it fails
/// (overriding [`RETRIES_ENV`]); passing on a retry reports it flaky.
/// `#[portaltest::test(blocking_warn = "500ms")]` is the test's own blocking warning
/// threshold (overriding [`BLOCKING_WARN_ENV`]; `"0ms"`: never warn; a compile error on
/// an isolated test, which may block its own thread). Arguments combine:
/// `#[portaltest::test(start_paused = true, timeout = "5s", retries = 1)]`.
/// Tests register themselves from any module of the target; their names are their path
/// inside the target (`users::creates_user`).
///
/// ```no_run
/// use std::time::Duration;
///
/// #[portaltest::test]
/// fn sync_test() {
///     portaltest::await_(tokio::time::sleep(Duration::from_millis(1)));
/// }
///
/// #[portaltest::test(timeout = "5s")]
/// async fn async_test() -> Result<(), std::num::ParseIntError> {
///     tokio::time::sleep(Duration::from_millis(1)).await;
///     "42".parse::<u32>()?;
///     Ok(())
/// }
///
/// #[portaltest::test]
/// #[should_panic(expected = "boom")]
/// fn panics() {
///     panic!("boom");
/// }
///
/// # #[cfg(any())] fn main() {} // rustdoc: do not wrap (tests must be module-level)
/// portaltest::main!();
/// ```
pub use portaltest_macros::test;

/// Turns `async fn name() -> T` (or `-> Result<T, E>`) into a shared, lazily created
/// fixture with a sync accessor `fn name() -> std::rc::Rc<T>`.
///
/// The accessor may be called from any test and from other fixtures. The value is
/// created once per process on first use, inside the shared runtime; concurrent first
/// users wait for the one initialisation. `#[fixture(teardown = path)]` names an
/// `async fn(&T)` awaited after all tests, in reverse order of creation. The value
/// need not be `Send` or `Sync`.
///
/// * **Teardown taking the value**: the teardown may be `async fn stop(value: T)`
///   instead, to consume it (send on a `oneshot::Sender`, await a `JoinHandle`) without
///   `RefCell<Option<..>>`. Tests hold `Rc<T>` clones, so this works only when none is
///   left at the end of the run; otherwise the teardown does not run and the run fails
///   with "the teardown of fixture `name` takes the value, but N other references to it
///   are still alive". A teardown with any other signature is a compile error at
///   `teardown = path`.
/// * **Fallible fixtures**: a fixture whose return type is written `Result<T, E>` (any
///   path ending in `Result`: `io::Result<T>`, `anyhow::Result<T>`) is fallible: `Ok` is
///   the value, an `Err` fails every test that uses it. A `Result` behind another alias
///   (`type R = Result<u32, String>`) needs `#[fixture(fallible)]`; without it, it is a
///   compile error rather than a fixture whose value is the `Result`.
/// * **Spawned tasks**: the accessor waits for the initialisation through the caller's
///   portal, so the first use must come from a test, a fixture or a task started with
///   [`spawn_local`]; from a `tokio::spawn`ed task it panics, saying so.
///
/// ```no_run
/// use portaltest::{await_, fixture};
/// use std::cell::RefCell;
///
/// #[fixture(teardown = close_db)]
/// async fn db() -> RefCell<Vec<String>> {
///     tokio::task::yield_now().await; // connect, migrate, ...
///     RefCell::new(Vec::new())
/// }
///
/// async fn close_db(db: &RefCell<Vec<String>>) {
///     db.borrow_mut().clear();
/// }
///
/// #[fixture]
/// async fn seeded() -> Result<usize, String> {
///     db().borrow_mut().push("alice".into()); // fixtures may use fixtures
///     Ok(db().borrow().len())
/// }
///
/// struct Worker {
///     stop: tokio::sync::oneshot::Sender<()>,
///     task: tokio::task::JoinHandle<()>,
/// }
///
/// #[fixture(teardown = stop_worker)]
/// async fn worker() -> Worker {
///     let (stop, stopped) = tokio::sync::oneshot::channel();
///     let task = tokio::task::spawn_local(async move { let _ = stopped.await; });
///     Worker { stop, task }
/// }
///
/// async fn stop_worker(worker: Worker) { // takes the value
///     let _ = worker.stop.send(());
///     worker.task.await.unwrap();
/// }
///
/// type Port = Result<u16, std::num::ParseIntError>;
///
/// #[fixture(fallible)] // `Port` is a `Result` the macro cannot see
/// async fn port() -> Port {
///     "8080".parse()
/// }
///
/// #[portaltest::test]
/// fn uses_fixtures() {
///     assert_eq!(*seeded(), 1);
///     assert_eq!(db().borrow()[0], "alice");
///     assert!(!worker().task.is_finished());
///     assert_eq!(*port(), 8080);
/// }
///
/// # #[cfg(any())] fn main() {} // rustdoc: do not wrap (tests must be module-level)
/// portaltest::main!();
/// ```
pub use portaltest_macros::fixture;

/// Runs the registered tests with the process's command line (libtest's options) and
/// returns the exit code: 101 when a test or a fixture teardown failed. Fixtures are
/// torn down before it returns. [`main!`] expands to a `main` that calls it.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     // set something up before any test runs ...
///     portaltest::run_main()
/// }
/// ```
pub fn run_main() -> ExitCode {
    runner::run_main()
}

/// Like [`run_main`], with an explicit command line (libtest-mimic's parsed
/// [`Arguments`]).
///
/// ```no_run
/// let args = portaltest::Arguments::from_iter(["self", "--test-threads", "1"]);
/// let code = portaltest::run_with_args(args);
/// ```
pub fn run_with_args(args: Arguments) -> ExitCode {
    runner::run_with_args(args)
}

/// The parsed libtest command line (re-exported from libtest-mimic).
pub use libtest_mimic::Arguments;

/// Defines the test binary's `main`, which runs every `#[portaltest::test]` of the
/// target. Put it once in each `harness = false` target.
///
/// ```no_run
/// #[portaltest::test]
/// fn works() {}
///
/// # #[cfg(any())] fn main() {} // rustdoc: do not wrap (tests must be module-level)
/// portaltest::main!();
/// ```
///
/// Three mistakes that would otherwise give a green run with tests that never ran are
/// compile errors, each naming the fix:
///
/// * a target built with libtest's harness (no `harness = false` in its `[[test]]`
///   section of Cargo.toml), with or without `main!()`: libtest would ignore the
///   portaltest tests and report `running 0 tests`;
/// * a `harness = false` target with tests but no `main!()` (nor a `fn main` of its own
///   that calls [`run_main`]);
/// * libtest tests left in the target: `#[test]`, `#[tokio::test]` or any attribute
///   path ending in `test` other than portaltest's, in the file that calls `main!()` and
///   the module files it declares. A `harness = false` target drops them without
///   compiling them, so `main!()` reads the source to find them (where the source is
///   not on disk, as in a package built elsewhere, nothing is checked). `#[test]` in
///   comments, strings, doc examples, `macro_rules!` bodies and `#[cfg(any())]` items is
///   not taken for a test.
pub use portaltest_macros::main;

#[doc(hidden)]
pub mod __private {
    pub use crate::fixture::{fixture_get, BoxFuture, FixtureCell};
    pub use crate::registry::{IntoTestResult, ShouldPanic, TestDef, TESTS};
    pub use crate::signatures::{
        assert_has_main, assert_not_result, teardown, ByRef, ByValue, FallibleFixture, HasMain,
        MainFallback, MainMissing, MainPresent, MainProbe, NoMain, NotAResult, PlainProbe,
        PlainValue, ResultProbe, ResultThroughAlias, Teardown, TeardownFn,
    };
    pub use linkme;
    /// What the names `main` and `__portaltest_target_needs_harness_false` resolve to,
    /// in the check that a target has a `main`, when the target has neither (see
    /// `portaltest-macros`' `crate_checks`).
    #[allow(non_upper_case_globals)]
    pub mod main_fallbacks {
        use crate::signatures::NoMain;
        pub const main: NoMain = NoMain;
        pub const __portaltest_target_needs_harness_false: NoMain = NoMain;
    }
    pub use stackportal::await_;
}
