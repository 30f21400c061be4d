//! The run's configuration from the command line and the environment, read and
//! validated in one place before anything else happens (in particular before output
//! capture starts, so that a bad value is reported on the real stderr).

use std::ffi::OsString;
use std::time::Duration;

use libtest_mimic::{Arguments, FormatSetting};

use crate::run::partition::{Partition, SYNTAX as PARTITION_SYNTAX};
use crate::{
    parse_duration, BLOCKING_WARN_ENV, GRACE_ENV, IN_PROCESS_ENV, JOBS_ENV, JUNIT_ENV,
    PARTITION_ENV, RETRIES_ENV, SHUFFLE_SEED_ENV, SLOWEST_ENV, SLOW_NOTICE_ENV,
    TEARDOWN_TIMEOUT_ENV, TIMEOUT_ENV, TRACING_ENV,
};

/// Default for [`GRACE_ENV`](crate::GRACE_ENV).
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Default for [`TEARDOWN_TIMEOUT_ENV`](crate::TEARDOWN_TIMEOUT_ENV).
pub(crate) const DEFAULT_TEARDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the supervisor tells a worker process it starts (not for users: a worker is
/// the test binary started again with these set).
pub(crate) const WORKER_ENV: &str = "PORTALTEST_WORKER";
pub(crate) const WORKER_CAPTURE_ENV: &str = "PORTALTEST_WORKER_CAPTURE";
pub(crate) const WORKER_THREADS_ENV: &str = "PORTALTEST_WORKER_THREADS";
pub(crate) const WORKER_SHARE_ENV: &str = "PORTALTEST_WORKER_SHARE";

/// Default for [`BLOCKING_WARN_ENV`](crate::BLOCKING_WARN_ENV), in milliseconds.
pub(crate) const DEFAULT_BLOCKING_WARN_MS: u64 = 100;

/// Default for [`SLOW_NOTICE_ENV`](crate::SLOW_NOTICE_ENV), in milliseconds: libtest's
/// `TEST_WARN_TIMEOUT_S` (60 s).
pub(crate) const DEFAULT_SLOW_NOTICE_MS: u64 = 60_000;

/// How many tests are in flight at once unless `--test-threads N` or
/// `RUST_TEST_THREADS` says otherwise.
///
/// Every test in flight holds a portal stack (two memory mappings). 4,096 portals are
/// 8,192 mappings: far below Linux's default `vm.max_map_count` (65,530) and a sixth of
/// stackportal's portal limit (24,573 by default), so a binary of any size completes.
/// A suite of up to 4,096 tests runs exactly as uncapped; a bigger I/O-bound one takes
/// `ceil(N / 4096)` rounds of its longest wait at most (30,000 tests that each wait
/// 200 ms: about 1.6 s).
pub(crate) const DEFAULT_IN_FLIGHT: usize = 4096;

/// Every environment variable the harness reads: name and what it does.
pub(crate) const ENV_VARS: &[(&str, &str)] = &[
    (TIMEOUT_ENV, "default time limit of every test: 500ms, 5s, 2m"),
    (
        BLOCKING_WARN_ENV,
        "warn when one poll holds the runtime thread longer than this many ms (default 100, 0 = never)",
    ),
    (
        PARTITION_ENV,
        "run one CI shard: count:M/N or hash:M/N, as cargo-nextest's --partition (ignored under nextest)",
    ),
    (
        SHUFFLE_SEED_ENV,
        "start the tests in an order drawn from this seed, as --shuffle-seed N (which takes precedence)",
    ),
    (
        SLOW_NOTICE_ENV,
        "notice a test without a time limit still running after this many ms (default 60000, 0 = never)",
    ),
    (
        SLOWEST_ENV,
        "after the summary, list the N slowest tests with their times (default 0 = no list)",
    ),
    (
        RETRIES_ENV,
        "run a failing test up to N more times; one that passes then is reported flaky (default 0)",
    ),
    (
        JUNIT_ENV,
        "also write a JUnit XML report of the run to this file",
    ),
    (
        JOBS_ENV,
        "worker processes that run tests at once: N or auto (one per core); default 1",
    ),
    (
        IN_PROCESS_ENV,
        "1: run the tests in this process, without a worker process (debuggers, profilers)",
    ),
    (
        GRACE_ENV,
        "how long a worker may go on past a test's or teardown's limit, or after Ctrl-C, before it is killed (default 5s)",
    ),
    (
        TEARDOWN_TIMEOUT_ENV,
        "time limit of each fixture's teardown (default 30s)",
    ),
    (
        TRACING_ENV,
        "1 (default): install the harness's capturing `tracing` subscriber; 0: do not",
    ),
    (
        "RUST_TEST_THREADS",
        "how many tests are in flight at once (as --test-threads; default 4096)",
    ),
    (
        "RUST_LOG",
        "filter of the harness's `tracing` subscriber (tracing-subscriber's EnvFilter syntax; default info)",
    ),
    (
        "RUST_BACKTRACE",
        "1: panics of tests print a backtrace trimmed to the test's frames; full: untrimmed",
    ),
    ("NO_COLOR", "no colors with --color auto"),
];

/// Which backtraces panics print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backtraces {
    Off,
    Short,
    Full,
}

/// What the environment says.
#[derive(Debug)]
pub(crate) struct EnvConfig {
    /// The default time limit and what set it.
    pub timeout: Option<(Duration, String)>,
    /// The blocking warning threshold (`None`: disabled).
    pub blocking_warn: Option<Duration>,
    /// `RUST_TEST_THREADS`.
    pub threads: Option<usize>,
    /// Whether the harness installs its `tracing` subscriber.
    pub tracing: bool,
    /// The `RUST_LOG` directives (validated), or `None` for the default.
    pub rust_log: Option<String>,
    pub backtraces: Backtraces,
    /// The CI shard [`PARTITION_ENV`] selects (`None` when unset, and under
    /// cargo-nextest, which partitions runs itself).
    pub partition: Option<Partition>,
    /// After how long a test without a time limit gets libtest's "has been running for
    /// over 60 seconds" notice (`None`: never).
    pub slow_notice: Option<Duration>,
    /// How many of the slowest tests to list after the summary (`None`: no list).
    pub slowest: Option<usize>,
    /// [`RETRIES_ENV`]: how many more times a failing test runs.
    pub retries: u32,
    /// [`SHUFFLE_SEED_ENV`]: shuffle the tests with this seed.
    pub shuffle_seed: Option<u64>,
    /// [`JUNIT_ENV`]: where to write the JUnit report.
    pub junit: Option<std::path::PathBuf>,
    /// [`JOBS_ENV`]: how many worker processes (`None`: one).
    pub jobs: Option<usize>,
    /// [`IN_PROCESS_ENV`]: run in this process.
    pub in_process: bool,
    /// [`GRACE_ENV`].
    pub grace: Duration,
    /// [`TEARDOWN_TIMEOUT_ENV`].
    pub teardown_timeout: Duration,
    /// Warnings to print (they do not stop the run).
    pub warnings: Vec<String>,
}

/// Reads a variable; a value that is not Unicode is an error.
fn var(name: &str, lookup: &dyn Fn(&str) -> Option<OsString>) -> Result<Option<String>, String> {
    match lookup(name) {
        None => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .map_err(|v| format!("{name}={v:?} is not valid Unicode")),
    }
}

/// A duration variable (`500ms`, `5s`, `2m`, not zero); `None` when unset or empty, and
/// when invalid, which is recorded in `errors`.
fn duration_var(name: &str, text: Option<&str>, errors: &mut Vec<String>) -> Option<Duration> {
    let text = text.filter(|t| !t.trim().is_empty())?;
    match parse_duration(text) {
        Some(d) if !d.is_zero() => Some(d),
        _ => {
            errors.push(format!(
                "{name}={text:?} is not a duration; use e.g. 500ms, 5s or 2m"
            ));
            None
        }
    }
}

impl EnvConfig {
    /// Reads the process's environment.
    pub(crate) fn from_env() -> Result<EnvConfig, String> {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect();
        EnvConfig::parse(&|name| std::env::var_os(name), &names)
    }

    /// Parses the variables `lookup` gives; `names` are all variables set (to notice
    /// misspelt `PORTALTEST_*` ones).
    pub(crate) fn parse(
        lookup: &dyn Fn(&str) -> Option<OsString>,
        names: &[String],
    ) -> Result<EnvConfig, String> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut get = |name: &str| match var(name, lookup) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let timeout_text = get(TIMEOUT_ENV);
        let warn_text = get(BLOCKING_WARN_ENV);
        let threads_text = get("RUST_TEST_THREADS");
        let tracing_text = get(TRACING_ENV);
        let log_text = get("RUST_LOG");
        let backtrace_text = get("RUST_BACKTRACE");
        let partition_text = get(PARTITION_ENV);
        let notice_text = get(SLOW_NOTICE_ENV);
        let slowest_text = get(SLOWEST_ENV);
        let jobs_text = get(JOBS_ENV);
        let retries_text = get(RETRIES_ENV);
        let shuffle_text = get(SHUFFLE_SEED_ENV);
        let junit = lookup(JUNIT_ENV)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from);
        let in_process_text = get(IN_PROCESS_ENV);
        let grace_text = get(GRACE_ENV);
        let teardown_text = get(TEARDOWN_TIMEOUT_ENV);
        let under_nextest = lookup("NEXTEST").is_some();

        let timeout = duration_var(TIMEOUT_ENV, timeout_text.as_deref(), &mut errors).map(|d| {
            (
                d,
                format!("{TIMEOUT_ENV}={}", timeout_text.unwrap_or_default()),
            )
        });
        let blocking_warn = match warn_text {
            None => Some(Duration::from_millis(DEFAULT_BLOCKING_WARN_MS)),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(ms) => Some(Duration::from_millis(ms)),
                Err(_) => {
                    errors.push(format!(
                        "{BLOCKING_WARN_ENV}={text:?} is not a number of milliseconds (0 disables the warning)"
                    ));
                    None
                }
            },
        };
        let threads = match threads_text {
            None => None,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    errors.push(format!(
                        "RUST_TEST_THREADS={text:?} is not a positive number"
                    ));
                    None
                }
            },
        };
        let tracing = match tracing_text.as_deref().map(str::trim) {
            None | Some("") | Some("1") | Some("true") | Some("on") => true,
            Some("0") | Some("false") | Some("off") => false,
            Some(other) => {
                errors.push(format!(
                    "{TRACING_ENV}={other:?} is not 0 or 1 (0: the harness installs no `tracing` subscriber)"
                ));
                true
            }
        };
        let rust_log = match log_text {
            Some(text) if !text.trim().is_empty() => {
                match tracing_subscriber::EnvFilter::builder().parse(&text) {
                    Ok(_) => Some(text),
                    Err(e) => {
                        errors.push(format!(
                            "RUST_LOG={text:?} is not a valid filter ({e}); the syntax is \
                             tracing-subscriber's EnvFilter, e.g. `info,my_crate=debug,hyper[request]=trace`"
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        let backtraces = match backtrace_text.as_deref().map(str::trim) {
            None | Some("0") | Some("") => Backtraces::Off,
            Some("full") => Backtraces::Full,
            Some(_) => Backtraces::Short,
        };
        // Checked under nextest too (a bad value is a mistake wherever it runs), but only
        // applied without it: nextest runs one test per process (`--exact NAME`) and
        // partitions the run itself, so a shard here would silently drop tests.
        let partition = match partition_text {
            Some(text) if !text.trim().is_empty() => match Partition::parse(&text) {
                Ok(p) => (!under_nextest).then_some(p),
                Err(e) => {
                    errors.push(format!("{PARTITION_ENV}={text:?}: {e}"));
                    None
                }
            },
            _ => None,
        };
        let slow_notice = match notice_text {
            None => Some(Duration::from_millis(DEFAULT_SLOW_NOTICE_MS)),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(ms) => Some(Duration::from_millis(ms)),
                Err(_) => {
                    errors.push(format!(
                        "{SLOW_NOTICE_ENV}={text:?} is not a number of milliseconds (0 disables the notice)"
                    ));
                    None
                }
            },
        };
        let slowest = match slowest_text {
            None => None,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(format!(
                        "{SLOWEST_ENV}={text:?} is not a number of tests (0: no list of the slowest)"
                    ));
                    None
                }
            },
        };
        let jobs = match jobs_text.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("auto") => Some(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
            ),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    errors.push(format!(
                        "{JOBS_ENV}={text:?} is not a positive number of worker processes or `auto` (one per core)"
                    ));
                    None
                }
            },
        };
        let retries = match retries_text.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if n <= 100 => n,
                _ => {
                    errors.push(format!(
                        "{RETRIES_ENV}={text:?} is not a number of retries from 0 to 100"
                    ));
                    0
                }
            },
        };
        let shuffle_seed = match shuffle_text.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match text.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(format!(
                        "{SHUFFLE_SEED_ENV}={text:?} is not a seed (a whole number from 0 to {})",
                        u64::MAX
                    ));
                    None
                }
            },
        };
        let in_process = match in_process_text.as_deref().map(str::trim) {
            None | Some("") | Some("0") | Some("false") | Some("off") => false,
            Some("1") | Some("true") | Some("on") => true,
            Some(other) => {
                errors.push(format!(
                    "{IN_PROCESS_ENV}={other:?} is not 0 or 1 (1: run the tests in this process, without a worker)"
                ));
                false
            }
        };
        let grace =
            duration_var(GRACE_ENV, grace_text.as_deref(), &mut errors).unwrap_or(DEFAULT_GRACE);
        let teardown_timeout =
            duration_var(TEARDOWN_TIMEOUT_ENV, teardown_text.as_deref(), &mut errors)
                .unwrap_or(DEFAULT_TEARDOWN_TIMEOUT);
        const INTERNAL: [&str; 4] = [
            WORKER_ENV,
            WORKER_CAPTURE_ENV,
            WORKER_THREADS_ENV,
            WORKER_SHARE_ENV,
        ];
        for name in names {
            if name.starts_with("PORTALTEST_")
                && !ENV_VARS.iter().any(|(known, _)| known == name)
                && !INTERNAL.contains(&name.as_str())
            {
                warnings.push(format!(
                    "portaltest: warning: unknown environment variable {name} ignored (known: {})",
                    ENV_VARS
                        .iter()
                        .filter(|(k, _)| k.starts_with("PORTALTEST_"))
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(EnvConfig {
            timeout,
            blocking_warn,
            threads,
            tracing,
            rust_log,
            backtraces,
            partition,
            slow_notice,
            slowest,
            retries,
            shuffle_seed,
            junit,
            jobs,
            in_process,
            grace,
            teardown_timeout,
            warnings,
        })
    }
}

/// The command line: libtest-mimic's [`Arguments`] plus every positional filter (libtest
/// takes several, and runs the tests that match any of them).
pub(crate) struct Cli {
    pub args: Arguments,
    pub filters: Vec<String>,
    /// `--partition count:M/N | hash:M/N` (cargo-nextest's syntax; libtest has none).
    pub partition: Option<Partition>,
    /// `--report-time`: each result shows the test's time, as libtest's (which takes it
    /// only with `-Z unstable-options`; here it needs no such flag).
    pub report_time: bool,
    /// `--format junit`: the JUnit XML report on stdout, instead of the results.
    pub junit: bool,
    /// `--shuffle`: start the tests in a random order (libtest's flag, which it takes
    /// only with `-Z unstable-options`; here it needs none).
    pub shuffle: bool,
    /// `--shuffle-seed N`: in the order drawn from seed `N`.
    pub shuffle_seed: Option<u64>,
}

/// Options of libtest-mimic's [`Arguments`] that take a value.
const VALUE_OPTIONS: &[&str] = &[
    "--test-threads",
    "--logfile",
    "--skip",
    "--color",
    "--format",
    "-Z",
];

impl Cli {
    /// Parses a command line (the first item is the program). clap's errors (and
    /// `--help`) exit the process, as libtest-mimic does.
    pub(crate) fn parse<I>(argv: I) -> Result<Cli, String>
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        let mut rest = Vec::new();
        let mut filters = Vec::new();
        let mut argv = argv.into_iter().map(Into::into);
        if let Some(program) = argv.next() {
            rest.push(program);
        }
        let mut positional_only = false;
        let mut partition = None;
        let mut report_time = false;
        let mut junit = false;
        let mut shuffle = false;
        let mut shuffle_seed = None;
        while let Some(arg) = argv.next() {
            let text = arg.to_string_lossy().into_owned();
            if positional_only || !text.starts_with('-') || text == "-" {
                filters.push(text);
            } else if text == "--" {
                positional_only = true;
            } else if text == "--format=junit" {
                junit = true;
            } else if text == "--format" {
                // libtest's `junit` is not libtest-mimic's; the others are.
                match argv.next() {
                    Some(value) if value == "junit" => junit = true,
                    Some(value) => {
                        rest.push(arg);
                        rest.push(value);
                    }
                    None => rest.push(arg),
                }
            } else if text == "--report-time" {
                report_time = true;
            } else if text == "--shuffle" {
                shuffle = true;
            } else if text == "--shuffle-seed" || text.starts_with("--shuffle-seed=") {
                let value = match text.strip_prefix("--shuffle-seed=") {
                    Some(value) => value.to_string(),
                    None => match argv.next() {
                        Some(value) => value.to_string_lossy().into_owned(),
                        None => return Err("--shuffle-seed needs a value: a whole number".into()),
                    },
                };
                shuffle_seed = Some(value.trim().parse::<u64>().map_err(|_| {
                    format!(
                        "invalid --shuffle-seed {value:?}: a whole number from 0 to {}",
                        u64::MAX
                    )
                })?);
            } else if text == "--partition" || text.starts_with("--partition=") {
                let value = match text.strip_prefix("--partition=") {
                    Some(value) => value.to_string(),
                    None => match argv.next() {
                        Some(value) => value.to_string_lossy().into_owned(),
                        None => {
                            return Err(format!("--partition needs a value: {PARTITION_SYNTAX}"))
                        }
                    },
                };
                if partition.is_some() {
                    return Err("--partition was given more than once".into());
                }
                partition = Some(
                    Partition::parse(&value)
                        .map_err(|e| format!("invalid --partition {value:?}: {e}"))?,
                );
            } else {
                let takes_value = VALUE_OPTIONS.contains(&text.as_str());
                rest.push(arg);
                if takes_value {
                    if let Some(value) = argv.next() {
                        rest.push(value);
                    }
                }
            }
        }
        let args = Arguments::from_iter(rest);
        if args.test_threads == Some(0) {
            return Err("argument for --test-threads must not be 0".into());
        }
        Ok(Cli {
            args,
            filters,
            partition,
            report_time,
            junit,
            shuffle,
            shuffle_seed,
        })
    }

    /// Whether a test of this name is selected by the positional filters (any of them
    /// matches, as in libtest; `--exact` compares whole names).
    pub(crate) fn matches(&self, name: &str) -> bool {
        self.filters.is_empty()
            || self.filters.iter().any(|f| {
                if self.args.exact {
                    name == f
                } else {
                    name.contains(f.as_str())
                }
            })
    }

    /// The seed to shuffle the tests with, if they are shuffled: `--shuffle-seed`, else
    /// the environment's, else a fresh one for `--shuffle`.
    pub(crate) fn shuffle_seed(&self, env: &EnvConfig) -> Option<u64> {
        self.shuffle_seed
            .or(env.shuffle_seed)
            .or_else(|| self.shuffle.then(crate::run::shuffle::random_seed))
    }

    /// Whether the output format is terse (`--format terse` or `-q`).
    pub(crate) fn is_terse(&self) -> bool {
        self.args.quiet || self.args.format == Some(FormatSetting::Terse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<EnvConfig, String> {
        let owned: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let names: Vec<String> = owned.iter().map(|(k, _)| k.clone()).collect();
        EnvConfig::parse(
            &|name| owned.iter().find(|(k, _)| k == name).map(|(_, v)| v.into()),
            &names,
        )
    }

    #[test]
    fn defaults() {
        let c = env(&[]).unwrap();
        assert_eq!(c.timeout, None);
        assert_eq!(
            c.blocking_warn,
            Some(Duration::from_millis(DEFAULT_BLOCKING_WARN_MS))
        );
        assert_eq!(c.threads, None);
        assert!(c.tracing);
        assert_eq!(c.rust_log, None);
        assert_eq!(c.backtraces, Backtraces::Off);
        assert_eq!(c.partition, None);
        assert_eq!(
            c.slow_notice,
            Some(Duration::from_millis(DEFAULT_SLOW_NOTICE_MS))
        );
        assert_eq!(c.slowest, None);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn slowest_and_report_time() {
        assert_eq!(env(&[(SLOWEST_ENV, " 5 ")]).unwrap().slowest, Some(5));
        assert_eq!(env(&[(SLOWEST_ENV, "0")]).unwrap().slowest, None);
        let err = env(&[(SLOWEST_ENV, "all")]).unwrap_err();
        assert!(
            err.contains("PORTALTEST_SLOWEST=\"all\" is not a number"),
            "{err}"
        );
        let cli = Cli::parse(["bin", "-Z", "unstable-options", "--report-time", "a"]).unwrap();
        assert!(cli.report_time);
        assert_eq!(cli.filters, ["a"]);
        let cli = Cli::parse(["bin", "--report-time"]).unwrap();
        assert!(cli.report_time);
        assert!(
            !Cli::parse(["bin", "--", "--report-time"])
                .unwrap()
                .report_time
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
    fn every_bad_value_is_reported_at_once() {
        let err = env(&[
            (TIMEOUT_ENV, "soon"),
            (BLOCKING_WARN_ENV, "lots"),
            ("RUST_TEST_THREADS", "0"),
            (TRACING_ENV, "maybe"),
            ("RUST_LOG", "a=notalevel"),
            (PARTITION_ENV, "count:3/2"),
            (SLOW_NOTICE_ENV, "a minute"),
            (SLOWEST_ENV, "-1"),
        ])
        .unwrap_err();
        for needle in [
            "PORTALTEST_TIMEOUT=\"soon\"",
            "PORTALTEST_BLOCKING_WARN_MS=\"lots\"",
            "RUST_TEST_THREADS=\"0\"",
            "PORTALTEST_TRACING=\"maybe\"",
            "RUST_LOG=\"a=notalevel\"",
            "PORTALTEST_PARTITION=\"count:3/2\": shard 3 must be",
            "PORTALTEST_SLOW_NOTICE_MS=\"a minute\"",
            "PORTALTEST_SLOWEST=\"-1\"",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
    }

    #[test]
    fn values() {
        let c = env(&[
            (TIMEOUT_ENV, "5s"),
            (BLOCKING_WARN_ENV, "0"),
            ("RUST_TEST_THREADS", "3"),
            (TRACING_ENV, "0"),
            ("RUST_LOG", "warn,my_crate[request{id=1}]=debug"),
            ("RUST_BACKTRACE", "full"),
            ("PORTALTEST_TIMEOUTS", "1s"),
        ])
        .unwrap();
        assert_eq!(c.timeout.unwrap().0, Duration::from_secs(5));
        assert_eq!(c.blocking_warn, None);
        assert_eq!(c.threads, Some(3));
        assert!(!c.tracing);
        assert_eq!(
            c.rust_log.as_deref(),
            Some("warn,my_crate[request{id=1}]=debug")
        );
        assert_eq!(c.backtraces, Backtraces::Full);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("PORTALTEST_TIMEOUTS"));
    }

    #[test]
    fn partition_and_slow_notice_from_the_environment() {
        let c = env(&[(PARTITION_ENV, "hash:2/3"), (SLOW_NOTICE_ENV, "0")]).unwrap();
        assert_eq!(c.partition, Partition::parse("hash:2/3").ok());
        assert_eq!(c.slow_notice, None);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = env(&[(SLOW_NOTICE_ENV, "1500")]).unwrap();
        assert_eq!(c.slow_notice, Some(Duration::from_millis(1500)));
        // nextest partitions the run itself (and runs one test per process).
        let c = env(&[(PARTITION_ENV, "count:1/2"), ("NEXTEST", "1")]).unwrap();
        assert_eq!(c.partition, None);
        // A bad value is an error there too.
        let err = env(&[(PARTITION_ENV, "1/2"), ("NEXTEST", "1")]).unwrap_err();
        assert!(err.contains("count:M/N or hash:M/N"), "{err}");
    }

    #[test]
    fn partition_on_the_command_line() {
        let cli = Cli::parse(["bin", "--partition", "count:1/2", "alpha"]).unwrap();
        assert_eq!(cli.partition, Partition::parse("count:1/2").ok());
        assert_eq!(cli.filters, ["alpha"]);
        let cli = Cli::parse(["bin", "--partition=hash:3/3", "--exact", "a"]).unwrap();
        assert_eq!(cli.partition, Partition::parse("hash:3/3").ok());
        assert!(cli.args.exact);
        let cli = Cli::parse(["bin", "--", "--partition"]).unwrap();
        assert_eq!(cli.partition, None);
        assert_eq!(cli.filters, ["--partition"]);
        for (argv, needle) in [
            (
                &["bin", "--partition", "count:0/2"][..],
                "invalid --partition \"count:0/2\": shard 0 must be a number between 1 and total shards 2",
            ),
            (&["bin", "--partition=slice:1/2"][..], "must begin with `hash:` or `count:`"),
            (&["bin", "--partition"][..], "--partition needs a value"),
            (
                &["bin", "--partition", "hash:1/2", "--partition", "hash:2/2"][..],
                "more than once",
            ),
        ] {
            let err = Cli::parse(argv.iter().copied()).err().unwrap();
            assert!(err.contains(needle), "{argv:?}: {err}");
        }
    }

    #[test]
    fn several_filters_any_matches() {
        let cli = Cli::parse(["bin", "alpha", "--skip", "x", "beta", "--format", "terse"]).unwrap();
        assert_eq!(cli.filters, ["alpha", "beta"]);
        assert_eq!(cli.args.skip, ["x"]);
        assert!(cli.is_terse());
        assert!(cli.matches("a::alpha_1"));
        assert!(cli.matches("beta"));
        assert!(!cli.matches("gamma"));
        let exact = Cli::parse(["bin", "--exact", "a", "b::c"]).unwrap();
        assert!(exact.matches("b::c"));
        assert!(!exact.matches("b::cd"));
        let none = Cli::parse(["bin", "--nocapture"]).unwrap();
        assert!(none.matches("anything"));
    }

    #[test]
    fn shuffle_flags_and_variable() {
        let none = env(&[]).unwrap();
        let cli = Cli::parse(["bin", "a"]).unwrap();
        assert_eq!(cli.shuffle_seed(&none), None);
        let cli = Cli::parse(["bin", "--shuffle-seed", "42", "a"]).unwrap();
        assert_eq!(cli.shuffle_seed(&none), Some(42));
        assert_eq!(cli.filters, ["a"]);
        let cli = Cli::parse(["bin", "--shuffle-seed=7"]).unwrap();
        assert_eq!(cli.shuffle_seed(&none), Some(7));
        // `--shuffle` alone draws a seed.
        let cli = Cli::parse(["bin", "--shuffle"]).unwrap();
        assert!(cli.shuffle && cli.shuffle_seed(&none).is_some());
        // The variable, and the command line over it.
        let seeded = env(&[(SHUFFLE_SEED_ENV, " 9 ")]).unwrap();
        assert!(seeded.warnings.is_empty(), "{:?}", seeded.warnings);
        assert_eq!(Cli::parse(["bin"]).unwrap().shuffle_seed(&seeded), Some(9));
        assert_eq!(
            Cli::parse(["bin", "--shuffle-seed", "3"])
                .unwrap()
                .shuffle_seed(&seeded),
            Some(3)
        );
        let err = env(&[(SHUFFLE_SEED_ENV, "-1")]).unwrap_err();
        assert!(
            err.contains("PORTALTEST_SHUFFLE_SEED=\"-1\" is not a seed"),
            "{err}"
        );
        for (argv, needle) in [
            (
                &["bin", "--shuffle-seed"][..],
                "--shuffle-seed needs a value",
            ),
            (
                &["bin", "--shuffle-seed", "x"][..],
                "invalid --shuffle-seed \"x\"",
            ),
        ] {
            let err = Cli::parse(argv.iter().copied()).err().unwrap();
            assert!(err.contains(needle), "{argv:?}: {err}");
        }
    }

    #[test]
    fn zero_test_threads_is_rejected() {
        let err = Cli::parse(["bin", "--test-threads", "0"]).err().unwrap();
        assert_eq!(err, "argument for --test-threads must not be 0");
        let err = Cli::parse(["bin", "--test-threads=0"]).err().unwrap();
        assert_eq!(err, "argument for --test-threads must not be 0");
    }
}
