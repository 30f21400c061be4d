//! The table of environment variables: every variable the harness reads (or documents),
//! with its kind, its default and a line of help. Parsing ([`super::env`]), the
//! unknown-variable warning and the reference in `harness/guide/environment.md`
//! ([`super::reference`]) all come from it.

/// The environment variable that sets a default timeout for every test without its
/// own `timeout = ".."`: `500ms`, `5s`, `2m`.
///
/// ```no_run
/// std::env::set_var(portaltest::TIMEOUT_ENV, "30s"); // usually set by CI instead
/// ```
pub const TIMEOUT_ENV: &str = "PORTALTEST_TIMEOUT";

/// The environment variable that sets, in milliseconds, how long one poll of a test
/// may hold the runtime thread before the harness warns that it blocks the others
/// (default 100; `0` disables the warning). `#[portaltest::test(blocking_warn = "..")]`
/// overrides it for one test.
///
/// ```no_run
/// std::env::set_var(portaltest::BLOCKING_WARN_ENV, "250");
/// ```
pub const BLOCKING_WARN_ENV: &str = "PORTALTEST_BLOCKING_WARN_MS";

/// The environment variable that says whether the harness installs its `tracing`
/// subscriber (the one that captures events per test): `1` (the default) or `0`, for a
/// program that installs its own with `init()` (see [the guide](crate::guide::output#tracing-logs)).
pub const TRACING_ENV: &str = "PORTALTEST_TRACING";

/// The environment variable that selects a CI shard of the tests, in cargo-nextest's
/// `--partition` syntax: `count:M/N` or `hash:M/N` (see [the
/// guide](crate::guide::retries#partitions-ci-sharding)). For `cargo test` runs, where the targets on libtest's harness would reject
/// an unknown `--partition` flag. `--partition` on the command line takes precedence;
/// under cargo-nextest (`NEXTEST` is set) the variable is ignored, since nextest
/// partitions the run itself (`cargo nextest run --partition ..`).
///
/// ```no_run
/// std::env::set_var(portaltest::PARTITION_ENV, "hash:1/3"); // usually set by CI instead
/// ```
pub const PARTITION_ENV: &str = "PORTALTEST_PARTITION";

/// The environment variable that shuffles the order in which the tests start, drawn
/// from this seed (a whole number), as `--shuffle-seed N` does (which takes
/// precedence). For `cargo test` runs, where the targets on libtest's harness would
/// reject the flag on stable Rust. A shuffled run prints its seed at its start
/// (`running 12 tests (shuffle seed: 42)`) and again when it fails.
///
/// ```no_run
/// std::env::set_var(portaltest::SHUFFLE_SEED_ENV, "42"); // repeat a failed run's order
/// ```
pub const SHUFFLE_SEED_ENV: &str = "PORTALTEST_SHUFFLE_SEED";

/// The environment variable that sets, in milliseconds, after how long a test without
/// a time limit gets libtest's notice `test NAME has been running for over 60 seconds`
/// (default 60,000, as libtest; `0`: never). Meant for testing the notice.
///
/// ```no_run
/// std::env::set_var(portaltest::SLOW_NOTICE_ENV, "1000");
/// ```
pub const SLOW_NOTICE_ENV: &str = "PORTALTEST_SLOW_NOTICE_MS";

/// The environment variable that lists the `N` slowest tests after the summary line,
/// with their times (as pytest's `--durations N`; default `0`: no list). A test's time
/// runs from its start to its verdict, waits included (see [the guide](crate::guide::output#timings)).
///
/// ```no_run
/// std::env::set_var(portaltest::SLOWEST_ENV, "10"); // usually set by CI instead
/// ```
pub const SLOWEST_ENV: &str = "PORTALTEST_SLOWEST";

/// The environment variable that runs a failing test up to `N` more times, each time in
/// a fresh portal (default `0`); `#[portaltest::test(retries = N)]` overrides it for one
/// test. A test that passes on a retry is reported as flaky (in every output format and
/// the JUnit report); one that fails every time fails.
///
/// ```no_run
/// std::env::set_var(portaltest::RETRIES_ENV, "2"); // usually set by CI instead
/// ```
pub const RETRIES_ENV: &str = "PORTALTEST_RETRIES";

/// The environment variable that names a file to write a JUnit XML report of the run to,
/// while the console shows the usual output (`--format junit` writes the report to
/// stdout instead). One `testcase` per test, with its time, failure message, captured
/// output and flaky retries, as cargo-nextest writes it.
///
/// ```no_run
/// std::env::set_var(portaltest::JUNIT_ENV, "target/junit.xml"); // usually set by CI
/// ```
pub const JUNIT_ENV: &str = "PORTALTEST_JUNIT";

/// The environment variable that runs the tests in `N` worker processes at once
/// (`auto`: one per available core), each with its own runtime and its own fixtures;
/// tests are handed out from one queue as workers ask for them. Default `1`: one
/// worker, one shared async context for the whole binary (see [the
/// guide](crate::guide::workers)).
///
/// ```no_run
/// std::env::set_var(portaltest::JOBS_ENV, "auto"); // usually set by CI instead
/// ```
pub const JOBS_ENV: &str = "PORTALTEST_JOBS";

/// The environment variable that runs the tests in the test binary's own process, with
/// no worker process (`1`): for debuggers and profilers, which should see
/// the tests' code in the process they started. A crash then ends the run without a
/// report of the remaining tests (see [the guide](crate::guide::workers)).
///
/// ```no_run
/// std::env::set_var(portaltest::IN_PROCESS_ENV, "1"); // e.g. in a debugger's launch config
/// ```
pub const IN_PROCESS_ENV: &str = "PORTALTEST_IN_PROCESS";

/// The environment variable that sets the grace period (`500ms`, `5s`, `2m`; default
/// `5s`): how long a worker may go on after a test passed its time limit without
/// yielding, after a teardown passed its limit, or after Ctrl-C, before the supervisor
/// kills it (see [the guide](crate::guide::workers)).
///
/// ```no_run
/// std::env::set_var(portaltest::GRACE_ENV, "10s");
/// ```
pub const GRACE_ENV: &str = "PORTALTEST_GRACE";

/// The environment variable that limits each fixture's teardown (`500ms`, `5s`, `2m`;
/// default `30s`): past it the teardown is cancelled (its stack unwinds) and reported
/// as a failure of the run.
///
/// ```no_run
/// std::env::set_var(portaltest::TEARDOWN_TIMEOUT_ENV, "1m");
/// ```
pub const TEARDOWN_TIMEOUT_ENV: &str = "PORTALTEST_TEARDOWN_TIMEOUT";

/// What the supervisor tells a worker process it starts (not for users: a worker is
/// the test binary started again with these set).
pub(crate) const WORKER_ENV: &str = "PORTALTEST_WORKER";
pub(crate) const WORKER_CAPTURE_ENV: &str = "PORTALTEST_WORKER_CAPTURE";
pub(crate) const WORKER_THREADS_ENV: &str = "PORTALTEST_WORKER_THREADS";
pub(crate) const WORKER_SHARE_ENV: &str = "PORTALTEST_WORKER_SHARE";

/// The variables between supervisor and worker: known to the unknown-variable check,
/// absent from the user's table.
pub(crate) const INTERNAL: &[&str] = &[
    WORKER_ENV,
    WORKER_CAPTURE_ENV,
    WORKER_THREADS_ENV,
    WORKER_SHARE_ENV,
];

/// How many tests are in flight at once unless `--test-threads N` or
/// `RUST_TEST_THREADS` says otherwise (the default of [`THREADS`], which a test keeps
/// equal to this).
///
/// Every test in flight holds a portal stack (two memory mappings). 4,096 portals are
/// 8,192 mappings: far below Linux's default `vm.max_map_count` (65,530) and a sixth of
/// stackportal's portal limit (24,573 by default), so a binary of any size completes.
/// A suite of up to 4,096 tests runs exactly as uncapped; a bigger I/O-bound one takes
/// `ceil(N / 4096)` rounds of its longest wait at most (30,000 tests that each wait
/// 200 ms: about 1.6 s).
pub(crate) const DEFAULT_IN_FLIGHT: usize = 4096;

/// What values a variable takes, and so how it is parsed. An `expected` text is what an
/// error prints after "is not" (and, but for flags, what the reference shows as the
/// accepted values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A duration above zero: `500ms`, `5s`, `2m` ([`super::parse_duration`]).
    Duration,
    /// A number of milliseconds; `0` turns off what it times.
    Millis { expected: &'static str },
    /// A whole number from `min` to `max`.
    Count {
        min: usize,
        max: usize,
        expected: &'static str,
    },
    /// A positive number, or `auto`: one per available core.
    Workers { expected: &'static str },
    /// `0` or `1` (also `false` / `true`, `off` / `on`).
    Flag { expected: &'static str },
    /// cargo-nextest's `count:M/N` or `hash:M/N`.
    Partition,
    /// A whole number that fits in a `u64`.
    Seed,
    /// A file path (any bytes: it need not be Unicode).
    Path,
    /// tracing-subscriber's `EnvFilter` directives.
    Filter,
    /// `RUST_BACKTRACE`'s `0`, `1`, `full`.
    Backtrace,
    /// Whether it is set at all, whatever its value (read where it is used).
    Presence,
    /// A number of bytes (read by stackportal, not here).
    Bytes,
}

/// What applies when a variable is unset (or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// A value the variable accepts, parsed as if it were set to it.
    Value(&'static str),
    /// Nothing applies; the text says what that means.
    Absent(&'static str),
}

/// One environment variable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Var {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Fallback,
    /// What it does, in a line.
    pub help: &'static str,
}

pub(crate) const TIMEOUT: Var = Var {
    name: TIMEOUT_ENV,
    kind: Kind::Duration,
    default: Fallback::Absent("no limit"),
    help: "default time limit of every test without its own `timeout = \"..\"`",
};

pub(crate) const BLOCKING_WARN: Var = Var {
    name: BLOCKING_WARN_ENV,
    kind: Kind::Millis {
        expected: "a number of milliseconds (0 disables the warning)",
    },
    default: Fallback::Value("100"),
    help: "warn when one poll of a test holds the runtime thread longer than this; \
           `#[portaltest::test(blocking_warn = \"..\")]` overrides it for one test",
};

pub(crate) const PARTITION: Var = Var {
    name: PARTITION_ENV,
    kind: Kind::Partition,
    default: Fallback::Absent("every test"),
    help: "run one CI shard with cargo-nextest's semantics, as `--partition` (which takes \
           precedence); ignored under cargo-nextest (`NEXTEST` set), which partitions runs \
           itself",
};

pub(crate) const SHUFFLE_SEED: Var = Var {
    name: SHUFFLE_SEED_ENV,
    kind: Kind::Seed,
    default: Fallback::Absent("name order"),
    help: "start the tests in the order this seed draws, as `--shuffle-seed N` (which takes \
           precedence); a shuffled run prints its seed at its start and after a failed run's \
           summary",
};

pub(crate) const SLOW_NOTICE: Var = Var {
    name: SLOW_NOTICE_ENV,
    kind: Kind::Millis {
        expected: "a number of milliseconds (0 disables the notice)",
    },
    default: Fallback::Value("60000"),
    help: "after how long a test without a time limit gets libtest's \"has been running for \
           over 60 seconds\" notice",
};

pub(crate) const SLOWEST: Var = Var {
    name: SLOWEST_ENV,
    kind: Kind::Count {
        min: 0,
        max: usize::MAX,
        expected: "a number of tests (0: no list of the slowest)",
    },
    default: Fallback::Value("0"),
    help: "after the summary, list the N slowest tests with their times",
};

pub(crate) const RETRIES: Var = Var {
    name: RETRIES_ENV,
    kind: Kind::Count {
        min: 0,
        max: 100,
        expected: "a number of retries from 0 to 100",
    },
    default: Fallback::Value("0"),
    help: "run a failing test up to N more times; one that passes on a retry is reported \
           flaky; `#[portaltest::test(retries = N)]` overrides it for one test",
};

pub(crate) const JUNIT: Var = Var {
    name: JUNIT_ENV,
    kind: Kind::Path,
    default: Fallback::Absent("no report"),
    help: "also write a JUnit XML report of the run to this file",
};

pub(crate) const JOBS: Var = Var {
    name: JOBS_ENV,
    kind: Kind::Workers {
        expected: "a positive number of worker processes or `auto` (one per core)",
    },
    default: Fallback::Value("1"),
    help: "worker processes that run tests at once, each with its own runtime and fixtures",
};

pub(crate) const IN_PROCESS: Var = Var {
    name: IN_PROCESS_ENV,
    kind: Kind::Flag {
        expected: "0 or 1 (1: run the tests in this process, without a worker)",
    },
    default: Fallback::Value("0"),
    help: "`1`: run the tests in the test binary's own process, without a worker process \
           (debuggers, profilers)",
};

pub(crate) const GRACE: Var = Var {
    name: GRACE_ENV,
    kind: Kind::Duration,
    default: Fallback::Value("5s"),
    help: "how long a worker may go on past a test's or teardown's limit, or after Ctrl-C, \
           before it is killed",
};

pub(crate) const TEARDOWN_TIMEOUT: Var = Var {
    name: TEARDOWN_TIMEOUT_ENV,
    kind: Kind::Duration,
    default: Fallback::Value("30s"),
    help: "time limit of each fixture's teardown",
};

pub(crate) const TRACING: Var = Var {
    name: TRACING_ENV,
    kind: Kind::Flag {
        expected: "0 or 1 (0: the harness installs no `tracing` subscriber)",
    },
    default: Fallback::Value("1"),
    help: "`0`: the harness installs no `tracing` subscriber of its own (your own `init()` \
           then works)",
};

pub(crate) const THREADS: Var = Var {
    name: "RUST_TEST_THREADS",
    kind: Kind::Count {
        min: 1,
        max: usize::MAX,
        expected: "a positive number",
    },
    default: Fallback::Value("4096"),
    help: "tests in flight at once in each worker process, as `--test-threads` (which takes \
           precedence)",
};

pub(crate) const RUST_LOG: Var = Var {
    name: "RUST_LOG",
    kind: Kind::Filter,
    default: Fallback::Value("info"),
    help: "filter of the harness's `tracing` subscriber",
};

pub(crate) const RUST_BACKTRACE: Var = Var {
    name: "RUST_BACKTRACE",
    kind: Kind::Backtrace,
    default: Fallback::Value("0"),
    help: "`1`: panics of tests print a backtrace trimmed to the test's frames; `full`: \
           untrimmed",
};

pub(crate) const NO_COLOR: Var = Var {
    name: "NO_COLOR",
    kind: Kind::Presence,
    default: Fallback::Absent("unset"),
    help: "no colors with `--color auto`",
};

pub(crate) const STACK_SIZE: Var = Var {
    name: stackportal::STACK_SIZE_ENV,
    kind: Kind::Bytes,
    default: Fallback::Value("2097152"),
    help: "size of each portal stack (2 MiB by default; read by stackportal)",
};

/// Every variable, in the order of the reference (and of the unknown-variable
/// warning's list).
pub(crate) const VARS: &[Var] = &[
    TIMEOUT,
    BLOCKING_WARN,
    PARTITION,
    SHUFFLE_SEED,
    SLOW_NOTICE,
    SLOWEST,
    RETRIES,
    JUNIT,
    JOBS,
    IN_PROCESS,
    GRACE,
    TEARDOWN_TIMEOUT,
    TRACING,
    THREADS,
    RUST_LOG,
    RUST_BACKTRACE,
    NO_COLOR,
    STACK_SIZE,
];

/// The prefix of the harness's own variables; a variable with it that is neither in
/// [`VARS`] nor [`INTERNAL`] is probably misspelt.
pub(crate) const PREFIX: &str = "PORTALTEST_";

/// Whether `name` is a `PORTALTEST_*` variable the harness does not know.
pub(crate) fn is_unknown(name: &str) -> bool {
    name.starts_with(PREFIX) && !VARS.iter().any(|v| v.name == name) && !INTERNAL.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = VARS
            .iter()
            .map(|v| v.name)
            .chain(INTERNAL.iter().copied())
            .collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "{names:?}");
    }

    #[test]
    fn defaults_kept_elsewhere_agree_with_the_table() {
        let value = |var: Var| match var.default {
            Fallback::Value(text) => text,
            Fallback::Absent(_) => panic!("{} has no default value", var.name),
        };
        assert_eq!(value(THREADS), DEFAULT_IN_FLIGHT.to_string());
        assert_eq!(
            value(STACK_SIZE),
            stackportal::DEFAULT_STACK_SIZE.to_string()
        );
    }

    #[test]
    fn in_flight_default_is_far_below_the_mapping_limits() {
        // Two mappings per portal; Linux's default vm.max_map_count is 65,530 and
        // stackportal refuses portals beyond 24,573 by default.
        const _: () = assert!(DEFAULT_IN_FLIGHT * 2 <= 65_530 / 4);
        const _: () = assert!(DEFAULT_IN_FLIGHT <= 24_573 / 4);
        assert_eq!(DEFAULT_IN_FLIGHT, 4096);
    }

    #[test]
    fn unknown_variables() {
        assert!(is_unknown("PORTALTEST_TIMEOUTS"));
        assert!(!is_unknown(TIMEOUT_ENV));
        assert!(!is_unknown(WORKER_THREADS_ENV));
        assert!(!is_unknown("RUST_LOG_STYLE"));
    }
}
