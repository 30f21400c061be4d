//! # portaltest: run a whole test binary inside one shared async context
//!
//! A custom test harness (`harness = false`) in which every test of a target runs on one
//! tokio current-thread runtime, each in its own [stackportal] portal (a stack of its
//! own), so that plain sync tests can [`await_`] async code, async tests are just as
//! welcome, and tests run **interleaved**: whenever one waits, the others proceed, so a
//! thousand I/O-bound tests finish in about the time of the slowest few.
//!
//! **Fixtures** (`#[fixture] async fn server() -> TestServer`) are created once per
//! process, lazily, inside that runtime, and shared by every test: a pool, a client or a
//! server started for one test keeps working in the next (the classic `#[tokio::test]`
//! failure "A Tokio 1.x context was found, but it is being shutdown" cannot happen).
//!
//! **The one rule: do not block the thread.** All tests share it, so a test that calls a
//! blocking API or burns CPU without yielding stalls every other test (and its own
//! timeout); [`await_`] `tokio::task::spawn_blocking(..)` instead. The harness names a
//! test that blocks. See [the concurrency model](guide::concurrency).
//!
//! The tests run in a **worker process** that a supervisor watches, so a test that
//! aborts, crashes, exits or hangs fails alone, with its output, and Ctrl-C tears the
//! fixtures down ([worker processes](guide::workers)). The command line, the output
//! formats and the exit code are libtest's, so `cargo test` and `cargo nextest run`
//! work as usual.
//!
//! ## Quick start
//!
//! ```toml
//! [dev-dependencies]
//! portaltest = "0.1"
//! tokio = { version = "1", features = ["rt", "time"] } # for what your tests await
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
//! `cargo test --test api` runs it.
//!
//! ## The guide
//!
//! 1. [Quick start](guide::quick_start): a target, what you write, the command line,
//!    the mistakes that are compile errors.
//! 2. [The concurrency model](guide::concurrency): one runtime, tests interleaved, the
//!    one rule, tests that must not overlap, time limits.
//! 3. [Fixtures](guide::fixtures): created once, shared, torn down at the end.
//! 4. [Isolated tests and clocks](guide::isolated): a thread, a runtime and a (paused)
//!    clock of the test's own; conformance with `#[tokio::test]`.
//! 5. [Output](guide::output): pretty, terse and JSON results, captured output, tasks a
//!    test spawns, tracing logs, timings.
//! 6. [Worker processes and signals](guide::workers): crashes, hangs, the grace period,
//!    Ctrl-C, `PORTALTEST_JOBS`, one process for debuggers.
//! 7. [Retries, JUnit, timings, partitions, shuffle](guide::retries).
//! 8. [CI and cargo-nextest](guide::ci).
//! 9. [Porting from `#[tokio::test]`](guide::porting): a static pool or server, a
//!    library's own suite, paused clocks, tests that own a runtime, logs.
//! 10. [Cookbook](guide::cookbook): recipes and whole example targets.
//! 11. [Environment variables](guide::environment): the reference.

#![warn(missing_docs)]
#![deny(unsafe_code)]

mod config;
mod fixtures;
mod fmt;
mod here;
mod logging;
mod protocol;
mod report;
mod run;
#[cfg(unix)]
mod supervisor;
mod sys;
mod unwind;
mod worker;

pub mod guide;

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
/// **Its output is the test's**: what a task spawned by a test prints, its panics,
/// blocking warnings and a paused clock are charged to that test; what it prints after
/// the test ended is shown under the test's name, marked `after the test ended`. A task
/// spawned by a fixture's setup serves the whole run: its output is output of no test.
/// Prefer it to `tokio::spawn` for tasks that use fixtures: a task without a portal
/// cannot wait for a fixture to be created, so its first use there panics, saying so.
/// See [output](guide::output) for `tokio::spawn`ed tasks and `--cfg tokio_unstable`.
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
pub use worker::spawn::spawn_local;

/// Marks a test: a sync `fn` or an `async fn` with no arguments, returning `()` or
/// `Result<(), E>` (`E: Debug`), at module level (not in an `impl` block). Tests
/// register themselves from any module of the target; their names are their path inside
/// the target (`users::creates_user`). Sync tests run in a portal and may [`await_`].
///
/// `#[ignore]`, `#[ignore = "reason"]`, `#[should_panic]` and
/// `#[should_panic(expected = "text")]` work as with `#[test]`. Arguments, which
/// combine (`#[portaltest::test(start_paused = true, timeout = "5s", retries = 1)]`):
///
/// * `timeout = "500ms"` (`ms`, `s`, `m`): a limit in real time
///   ([the concurrency model](guide::concurrency#time-limits));
/// * `isolated`, `start_paused = true`: a thread and a current-thread runtime of the
///   test's own, driven as `#[tokio::test]` drives its body, its clock paused with
///   `start_paused`; no fixtures there ([isolated tests](guide::isolated));
/// * `exclusive`, `group = "name"`: tests that must not overlap
///   ([the concurrency model](guide::concurrency#tests-that-must-not-overlap));
/// * `retries = 2`: up to 2 more tries when it fails, overriding `PORTALTEST_RETRIES`;
///   passing on a retry reports it flaky ([retries](guide::retries));
/// * `blocking_warn = "500ms"`: the test's own blocking warning threshold, overriding
///   `PORTALTEST_BLOCKING_WARN_MS` (`"0ms"`: never; a compile error on an isolated test).
///
/// Mistakes are compile errors at the test, naming the fix: another return type, an
/// associated fn in an `impl` block, `#[should_panic]` on a test returning `Result` (as
/// libtest). In a doctest, add the hidden line `# #[cfg(any())] fn main() {}` so that
/// rustdoc does not wrap the code in a `main` of its own. The expansion costs the same
/// for every test, however many share a module.
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
/// The accessor may be called from any test, from other fixtures and from tasks started
/// with [`spawn_local`]. The value is created once per process on first use, inside the
/// shared runtime; concurrent first users wait for the one initialisation, and a failed
/// one fails every test that uses it. The value need not be `Send` or `Sync`.
///
/// * `#[fixture(teardown = path)]`: `async fn path(&T)`, or `async fn path(T)` to take
///   the value (it then runs only if no test kept an `Rc`), awaited after all tests, in
///   reverse order of creation; any other signature is a compile error.
/// * `#[fixture(fallible)]`: for a `Result` behind an alias the macro cannot see
///   (`type R = Result<u32, String>`); a return type written `Result<T, E>` (any path
///   ending in `Result`) is fallible without it.
///
/// See [fixtures](guide::fixtures) for the details.
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
    run::run_main()
}

/// Like [`run_main`], with an explicit command line (libtest-mimic's parsed
/// [`Arguments`]).
///
/// ```no_run
/// let args = portaltest::Arguments::from_iter(["self", "--test-threads", "1"]);
/// let code = portaltest::run_with_args(args);
/// ```
pub fn run_with_args(args: Arguments) -> ExitCode {
    run::run_with_args(args)
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
/// compile errors, each naming the fix: a target built with libtest's harness (no
/// `harness = false`), with or without `main!()`; a `harness = false` target with tests
/// but no `main!()` (nor a `fn main` of its own that calls [`run_main`]); and libtest
/// tests (`#[test]`, `#[tokio::test]`, any attribute path ending in `test` other than
/// portaltest's) left in the file that calls `main!()` or the module files it declares,
/// which `main!()` finds by reading the source (where it is on disk). See
/// [the quick start](guide::quick_start#mistakes-are-compile-errors).
pub use portaltest_macros::main;

#[doc(hidden)]
pub mod __private {
    pub use crate::fixtures::fixture::{fixture_get, FixtureCell};
    pub use crate::fixtures::registry::{IntoTestResult, ShouldPanic, TestDef, TESTS};
    pub use crate::fixtures::signatures::{
        assert_has_main, assert_not_result, teardown, BoxFuture, ByRef, ByValue, FallibleFixture,
        HasMain, MainFallback, MainMissing, MainPresent, MainProbe, NoMain, NotAResult, PlainProbe,
        PlainValue, ResultProbe, ResultThroughAlias, Teardown, TeardownFn,
    };
    pub use linkme;
    /// What the names `main` and `__portaltest_target_needs_harness_false` resolve to,
    /// in the check that a target has a `main`, when the target has neither (see
    /// `portaltest-macros`' `crate_checks`).
    #[allow(non_upper_case_globals)]
    pub mod main_fallbacks {
        use crate::fixtures::signatures::NoMain;
        pub const main: NoMain = NoMain;
        pub const __portaltest_target_needs_harness_false: NoMain = NoMain;
    }
    pub use stackportal::await_;
}
