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
//! portaltest::main!();
//! ```
//!
//! ## The model
//!
//! * One tokio current-thread runtime (I/O and time enabled) and one `LocalSet` per test
//!   process. Each test runs in its own portal, spawned as a local task; all selected
//!   tests are in flight at once unless `--test-threads N` (or `RUST_TEST_THREADS`)
//!   caps them at `N`; `--test-threads 1` runs them one after another. The cap counts
//!   tests in flight, not OS threads: everything runs on the main thread.
//! * **The one rule: do not block the thread.** A test that calls blocking APIs or
//!   burns CPU without yielding stalls every other test. The harness measures every
//!   poll of every test and prints a warning to stderr naming the test and how long it
//!   held the thread when a poll takes longer than [`BLOCKING_WARN_ENV`]
//!   (`PORTALTEST_BLOCKING_WARN_MS`, default 100 ms, `0` disables). Move such work to
//!   `tokio::task::spawn_blocking` and `await_` it.
//! * `timeout = "500ms" | "5s" | "2m"` limits one test; [`TIMEOUT_ENV`]
//!   (`PORTALTEST_TIMEOUT`) sets a default for the run. A test that runs out of time is
//!   cancelled: its stack unwinds (destructors run, [`AsyncGuard`] cleanups are awaited),
//!   and it fails with a message naming the limit.
//! * Output is captured per test, as libtest does, and shown only for failing tests (or
//!   with `--show-output`); `--nocapture` shows everything live. `println!`,
//!   `eprintln!`, panic messages and `tracing` events (the harness installs a `fmt`
//!   subscriber filtered by `RUST_LOG`, default `info`, unless the program installed
//!   one) are all captured: file descriptors 1 and 2 are redirected to a temporary file
//!   during the run and what accumulates during a poll of a test is attributed to that
//!   test. Output of other threads is attributed to whichever test is being polled
//!   when it arrives.
//! * Under `cargo nextest run` each test runs in its own process, so each process gets
//!   its own fixtures (created lazily: running one test creates only what it uses).
//!
//! ## Fixtures
//!
//! See [`fixture`]. A fixture's initialisation runs once, even when many tests ask for
//! it at the same time (the others wait). If it panics or returns `Err`, every test
//! that uses it fails with "fixture `name` failed: cause"; it is not retried.
//! `#[fixture(teardown = path)]` runs `async fn path(&T)` after all tests, in reverse
//! order of creation; then the values are dropped, before the runtime shuts down. A
//! failing teardown is reported and makes the run exit with code 101.

#![warn(missing_docs)]

mod capture;
mod fixture;
mod printer;
mod registry;
mod runner;

use std::process::ExitCode;
use std::time::Duration;

pub use stackportal::{await_, guard, has_portal, iter, AsyncGuard};

/// Marks a test: a sync `fn` or an `async fn` with no arguments, returning `()` or
/// `Result<(), E>` (`E: Debug`).
///
/// Sync tests run in a portal and may [`await_`]. `#[ignore]`, `#[ignore = "reason"]`,
/// `#[should_panic]` and `#[should_panic(expected = "text")]` work as with `#[test]`;
/// `#[portaltest::test(timeout = "500ms")]` (units `ms`, `s`, `m`) limits the run time.
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
/// #[portaltest::test]
/// fn uses_fixtures() {
///     assert_eq!(*seeded(), 1);
///     assert_eq!(db().borrow()[0], "alice");
/// }
///
/// portaltest::main!();
/// ```
pub use portaltest_macros::fixture;

/// The environment variable that sets a default timeout for every test without its
/// own `timeout = ".."`: `500ms`, `5s`, `2m`.
///
/// ```no_run
/// std::env::set_var(portaltest::TIMEOUT_ENV, "30s"); // usually set by CI instead
/// ```
pub const TIMEOUT_ENV: &str = "PORTALTEST_TIMEOUT";

/// The environment variable that sets, in milliseconds, how long one poll of a test
/// may hold the runtime thread before the harness warns that it blocks the others
/// (default 100; `0` disables the warning).
///
/// ```no_run
/// std::env::set_var(portaltest::BLOCKING_WARN_ENV, "250");
/// ```
pub const BLOCKING_WARN_ENV: &str = "PORTALTEST_BLOCKING_WARN_MS";

/// Parses a duration as `timeout = ".."` and [`TIMEOUT_ENV`] accept it: a whole number
/// followed by `ms`, `s` or `m`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(portaltest::parse_duration("500ms"), Some(Duration::from_millis(500)));
/// assert_eq!(portaltest::parse_duration("5s"), Some(Duration::from_secs(5)));
/// assert_eq!(portaltest::parse_duration("2m"), Some(Duration::from_secs(120)));
/// assert_eq!(portaltest::parse_duration("soon"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, factor) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        return None;
    };
    let n: u64 = digits.trim().parse().ok()?;
    Some(Duration::from_millis(n.checked_mul(factor)?))
}

/// Formats a limit the way it is written: `200ms`, `5s`, `2m`.
fn format_limit(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

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
/// portaltest::main!();
/// ```
#[macro_export]
macro_rules! main {
    () => {
        fn main() -> ::std::process::ExitCode {
            $crate::run_main()
        }
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::fixture::{fixture_get, BoxFuture, FixtureCell};
    pub use crate::registry::{IntoTestResult, ShouldPanic, TestDef, TESTS};
    pub use linkme;
    pub use stackportal::await_;
}
