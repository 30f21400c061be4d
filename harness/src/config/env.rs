//! The environment's part of the configuration: every variable of the table read,
//! parsed by its kind and checked, with every mistake collected.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::errors::{ConfigError, ConfigErrors, ConfigWarning, Source};
use super::parse_duration;
use super::vars::{self, Fallback, Kind, Var};
use crate::run::partition::Partition;

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
    /// `RUST_TEST_THREADS`, or its default.
    pub threads: Option<usize>,
    /// Whether the harness installs its `tracing` subscriber.
    pub tracing: bool,
    /// The `RUST_LOG` directives (validated), or its default.
    pub rust_log: Option<String>,
    pub backtraces: Backtraces,
    /// The CI shard [`PARTITION_ENV`](super::PARTITION_ENV) selects (`None` when unset,
    /// and under cargo-nextest, which partitions runs itself).
    pub partition: Option<Partition>,
    /// After how long a test without a time limit gets libtest's "has been running for
    /// over 60 seconds" notice (`None`: never).
    pub slow_notice: Option<Duration>,
    /// How many of the slowest tests to list after the summary (`None`: no list).
    pub slowest: Option<usize>,
    /// [`RETRIES_ENV`](super::RETRIES_ENV): how many more times a failing test runs.
    pub retries: u32,
    /// [`SHUFFLE_SEED_ENV`](super::SHUFFLE_SEED_ENV): shuffle the tests with this seed.
    pub shuffle_seed: Option<u64>,
    /// [`JUNIT_ENV`](super::JUNIT_ENV): where to write the JUnit report.
    pub junit: Option<PathBuf>,
    /// [`JOBS_ENV`](super::JOBS_ENV): how many worker processes, or its default (one).
    pub jobs: Option<usize>,
    /// [`IN_PROCESS_ENV`](super::IN_PROCESS_ENV): run in this process.
    pub in_process: bool,
    /// [`GRACE_ENV`](super::GRACE_ENV).
    pub grace: Duration,
    /// [`TEARDOWN_TIMEOUT_ENV`](super::TEARDOWN_TIMEOUT_ENV).
    pub teardown_timeout: Duration,
    /// Warnings to print (they do not stop the run).
    pub warnings: Vec<ConfigWarning>,
}

/// Reads variables of the table, each by its [`Kind`], and keeps the mistakes.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<OsString>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    /// The value that applies: the variable's when it is set and not blank, else its
    /// default. `None` when neither applies, or when the value is not Unicode (a
    /// mistake).
    fn text(&mut self, var: &Var) -> Option<String> {
        let set = match (self.lookup)(var.name) {
            None => None,
            Some(value) => match value.into_string() {
                Ok(text) => Some(text).filter(|t| !t.trim().is_empty()),
                Err(value) => {
                    self.errors.push(ConfigError::NotUnicode {
                        var: var.name,
                        value,
                    });
                    return None;
                }
            },
        };
        set.or_else(|| match var.default {
            Fallback::Value(text) => Some(text.to_string()),
            Fallback::Absent(_) => None,
        })
    }

    /// [`Kind::Duration`], with the text it was written as.
    fn duration(&mut self, var: &Var) -> Option<(Duration, String)> {
        debug_assert_eq!(var.kind, Kind::Duration, "{}", var.name);
        let text = self.text(var)?;
        match parse_duration(&text) {
            Some(d) if !d.is_zero() => Some((d, text)),
            Some(_) => self.fail(ConfigError::ZeroDuration {
                var: var.name,
                value: text,
            }),
            None => self.fail(ConfigError::BadDuration {
                var: var.name,
                value: text,
            }),
        }
    }

    /// [`Kind::Millis`]: `None` for `0`, which turns the thing off.
    fn millis(&mut self, var: &Var) -> Option<Duration> {
        let Kind::Millis { expected } = var.kind else {
            unreachable!("{} is not a number of milliseconds", var.name)
        };
        let text = self.text(var)?;
        match text.trim().parse::<u64>() {
            Ok(0) => None,
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => self.fail(ConfigError::BadNumber {
                var: var.name,
                value: text,
                expected,
            }),
        }
    }

    /// [`Kind::Count`].
    fn count(&mut self, var: &Var) -> Option<usize> {
        let Kind::Count { min, max, expected } = var.kind else {
            unreachable!("{} is not a count", var.name)
        };
        let text = self.text(var)?;
        match text.trim().parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => self.fail(ConfigError::BadNumber {
                var: var.name,
                value: text,
                expected,
            }),
        }
    }

    /// [`Kind::Workers`].
    fn workers(&mut self, var: &Var) -> Option<usize> {
        let Kind::Workers { expected } = var.kind else {
            unreachable!("{} is not a number of workers", var.name)
        };
        let text = self.text(var)?;
        match text.trim() {
            "auto" => Some(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
            ),
            number => match number.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => self.fail(ConfigError::BadNumber {
                    var: var.name,
                    value: text,
                    expected,
                }),
            },
        }
    }

    /// [`Kind::Flag`]; `None` when unset without a default, or when it is a mistake.
    fn flag(&mut self, var: &Var) -> Option<bool> {
        let Kind::Flag { expected } = var.kind else {
            unreachable!("{} is not a flag", var.name)
        };
        let text = self.text(var)?;
        match text.trim() {
            "1" | "true" | "on" => Some(true),
            "0" | "false" | "off" => Some(false),
            _ => self.fail(ConfigError::UnknownValue {
                var: var.name,
                value: text,
                expected,
            }),
        }
    }

    /// [`Kind::Partition`].
    fn partition(&mut self, var: &Var) -> Option<Partition> {
        debug_assert_eq!(var.kind, Kind::Partition, "{}", var.name);
        let text = self.text(var)?;
        match Partition::parse(&text) {
            Ok(p) => Some(p),
            Err(reason) => self.fail(ConfigError::BadPartition {
                source: Source::Env(var.name),
                value: text,
                reason,
            }),
        }
    }

    /// [`Kind::Seed`].
    fn seed(&mut self, var: &Var) -> Option<u64> {
        debug_assert_eq!(var.kind, Kind::Seed, "{}", var.name);
        let text = self.text(var)?;
        match text.trim().parse::<u64>() {
            Ok(seed) => Some(seed),
            Err(_) => self.fail(ConfigError::BadSeed {
                source: Source::Env(var.name),
                value: text,
            }),
        }
    }

    /// [`Kind::Path`]: any bytes, Unicode or not; empty is unset.
    fn path(&mut self, var: &Var) -> Option<PathBuf> {
        debug_assert_eq!(var.kind, Kind::Path, "{}", var.name);
        (self.lookup)(var.name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    /// [`Kind::Filter`], checked with the parser that will use it.
    fn filter(&mut self, var: &Var) -> Option<String> {
        debug_assert_eq!(var.kind, Kind::Filter, "{}", var.name);
        let text = self.text(var)?;
        match tracing_subscriber::EnvFilter::builder().parse(&text) {
            Ok(_) => Some(text),
            Err(e) => self.fail(ConfigError::BadFilter {
                var: var.name,
                value: text,
                reason: e.to_string(),
            }),
        }
    }

    /// [`Kind::Backtrace`]: as std reads `RUST_BACKTRACE`, any value but `0` and `full`
    /// asks for short backtraces.
    fn backtraces(&mut self, var: &Var) -> Backtraces {
        debug_assert_eq!(var.kind, Kind::Backtrace, "{}", var.name);
        match self.text(var).as_deref().map(str::trim) {
            None | Some("0") => Backtraces::Off,
            Some("full") => Backtraces::Full,
            Some(_) => Backtraces::Short,
        }
    }

    fn fail<T>(&mut self, error: ConfigError) -> Option<T> {
        self.errors.push(error);
        None
    }
}

impl EnvConfig {
    /// Reads the process's environment.
    pub(crate) fn from_env() -> Result<EnvConfig, ConfigErrors> {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect();
        EnvConfig::parse(&|name| std::env::var_os(name), &names)
    }

    /// Parses the variables `lookup` gives; `names` are all variables set (to notice
    /// misspelt `PORTALTEST_*` ones). Every bad value is reported, not just the first.
    pub(crate) fn parse(
        lookup: &dyn Fn(&str) -> Option<OsString>,
        names: &[String],
    ) -> Result<EnvConfig, ConfigErrors> {
        let mut r = Reader {
            lookup,
            errors: Vec::new(),
        };
        let timeout = r
            .duration(&vars::TIMEOUT)
            .map(|(d, text)| (d, format!("{}={text}", vars::TIMEOUT.name)));
        let blocking_warn = r.millis(&vars::BLOCKING_WARN);
        // Checked under nextest too (a bad value is a mistake wherever it runs), but only
        // applied without it: nextest runs one test per process (`--exact NAME`) and
        // partitions the run itself, so a shard here would silently drop tests.
        let under_nextest = lookup("NEXTEST").is_some();
        let partition = r.partition(&vars::PARTITION).filter(|_| !under_nextest);
        let shuffle_seed = r.seed(&vars::SHUFFLE_SEED);
        let slow_notice = r.millis(&vars::SLOW_NOTICE);
        let slowest = r.count(&vars::SLOWEST).filter(|&n| n > 0);
        let retries = r
            .count(&vars::RETRIES)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
        let junit = r.path(&vars::JUNIT);
        let jobs = r.workers(&vars::JOBS);
        let in_process = r.flag(&vars::IN_PROCESS).unwrap_or(false);
        let grace = r.duration(&vars::GRACE);
        let teardown_timeout = r.duration(&vars::TEARDOWN_TIMEOUT);
        let tracing = r.flag(&vars::TRACING).unwrap_or(true);
        let threads = r.count(&vars::THREADS);
        let rust_log = r.filter(&vars::RUST_LOG);
        let backtraces = r.backtraces(&vars::RUST_BACKTRACE);

        let warnings = names
            .iter()
            .filter(|name| vars::is_unknown(name))
            .map(|name| ConfigWarning::UnknownVariable { name: name.clone() })
            .collect();
        if !r.errors.is_empty() {
            return Err(ConfigErrors(r.errors));
        }
        let (Some((grace, _)), Some((teardown_timeout, _))) = (grace, teardown_timeout) else {
            unreachable!("a default duration of the table does not parse")
        };
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::{
        BLOCKING_WARN_ENV, GRACE_ENV, IN_PROCESS_ENV, JOBS_ENV, JUNIT_ENV, PARTITION_ENV,
        RETRIES_ENV, SHUFFLE_SEED_ENV, SLOWEST_ENV, SLOW_NOTICE_ENV, TEARDOWN_TIMEOUT_ENV,
        TIMEOUT_ENV, TRACING_ENV,
    };

    /// The configuration that these variables, and no others, make.
    pub(crate) fn env(vars: &[(&str, &str)]) -> Result<EnvConfig, String> {
        let owned: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let names: Vec<String> = owned.iter().map(|(k, _)| k.clone()).collect();
        EnvConfig::parse(
            &|name| owned.iter().find(|(k, _)| k == name).map(|(_, v)| v.into()),
            &names,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let c = env(&[]).unwrap();
        assert_eq!(c.timeout, None);
        assert_eq!(c.blocking_warn, Some(Duration::from_millis(100)));
        assert_eq!(c.threads, Some(crate::config::DEFAULT_IN_FLIGHT));
        assert!(c.tracing);
        assert_eq!(c.rust_log.as_deref(), Some("info"));
        assert_eq!(c.backtraces, Backtraces::Off);
        assert_eq!(c.partition, None);
        assert_eq!(c.slow_notice, Some(Duration::from_millis(60_000)));
        assert_eq!(c.slowest, None);
        assert_eq!(c.retries, 0);
        assert_eq!(c.shuffle_seed, None);
        assert_eq!(c.junit, None);
        assert_eq!(c.jobs, Some(1));
        assert!(!c.in_process);
        assert_eq!(c.grace, Duration::from_secs(5));
        assert_eq!(c.teardown_timeout, Duration::from_secs(30));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn empty_is_unset() {
        let all: Vec<(&str, &str)> = vars::VARS.iter().map(|v| (v.name, " ")).collect();
        let c = env(&all).unwrap();
        assert_eq!(c.blocking_warn, Some(Duration::from_millis(100)));
        assert_eq!(c.threads, Some(crate::config::DEFAULT_IN_FLIGHT));
        assert_eq!(c.grace, Duration::from_secs(5));
        assert_eq!(c.junit.as_deref(), Some(std::path::Path::new(" ")));
        assert_eq!(env(&[(JUNIT_ENV, "")]).unwrap().junit, None);
    }

    #[test]
    fn slowest() {
        assert_eq!(env(&[(SLOWEST_ENV, " 5 ")]).unwrap().slowest, Some(5));
        assert_eq!(env(&[(SLOWEST_ENV, "0")]).unwrap().slowest, None);
        let err = env(&[(SLOWEST_ENV, "all")]).unwrap_err();
        assert!(
            err.contains("PORTALTEST_SLOWEST=\"all\" is not a number"),
            "{err}"
        );
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
            "RUST_TEST_THREADS=\"0\" is not a positive number",
            "PORTALTEST_TRACING=\"maybe\"",
            "RUST_LOG=\"a=notalevel\"",
            "PORTALTEST_PARTITION=\"count:3/2\": shard 3 must be",
            "PORTALTEST_SLOW_NOTICE_MS=\"a minute\"",
            "PORTALTEST_SLOWEST=\"-1\"",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
        assert_eq!(err.lines().count(), 8, "{err}");
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
        assert_eq!(
            c.timeout,
            Some((Duration::from_secs(5), "PORTALTEST_TIMEOUT=5s".into()))
        );
        assert_eq!(c.blocking_warn, None);
        assert_eq!(c.threads, Some(3));
        assert!(!c.tracing);
        assert_eq!(
            c.rust_log.as_deref(),
            Some("warn,my_crate[request{id=1}]=debug")
        );
        assert_eq!(c.backtraces, Backtraces::Full);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].to_string().contains("PORTALTEST_TIMEOUTS"));
        assert_eq!(
            env(&[("RUST_BACKTRACE", "1")]).unwrap().backtraces,
            Backtraces::Short
        );
    }

    #[test]
    fn workers_retries_grace_and_flags() {
        let c = env(&[
            (JOBS_ENV, "3"),
            (RETRIES_ENV, "100"),
            (GRACE_ENV, "2m"),
            (TEARDOWN_TIMEOUT_ENV, "500ms"),
            (IN_PROCESS_ENV, "on"),
            (JUNIT_ENV, "target/junit.xml"),
        ])
        .unwrap();
        assert_eq!(c.jobs, Some(3));
        assert_eq!(c.retries, 100);
        assert_eq!(c.grace, Duration::from_secs(120));
        assert_eq!(c.teardown_timeout, Duration::from_millis(500));
        assert!(c.in_process);
        assert_eq!(
            c.junit.as_deref(),
            Some(std::path::Path::new("target/junit.xml"))
        );
        assert!(env(&[(JOBS_ENV, "auto")]).unwrap().jobs.unwrap() >= 1);
        for (name, value) in [
            (JOBS_ENV, "0"),
            (RETRIES_ENV, "101"),
            (GRACE_ENV, "0ms"),
            (IN_PROCESS_ENV, "yes"),
        ] {
            let err = env(&[(name, value)]).unwrap_err();
            assert!(err.starts_with(&format!("{name}={value:?} is ")), "{err}");
        }
    }

    #[test]
    fn internal_variables_are_known() {
        let c = env(&[
            (crate::config::WORKER_ENV, "fd:3"),
            (crate::config::WORKER_THREADS_ENV, "8"),
            (crate::config::WORKER_CAPTURE_ENV, "1"),
            (crate::config::WORKER_SHARE_ENV, "0"),
        ])
        .unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
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
    fn shuffle_seed_from_the_environment() {
        let seeded = env(&[(SHUFFLE_SEED_ENV, " 9 ")]).unwrap();
        assert!(seeded.warnings.is_empty(), "{:?}", seeded.warnings);
        assert_eq!(seeded.shuffle_seed, Some(9));
        let err = env(&[(SHUFFLE_SEED_ENV, "-1")]).unwrap_err();
        assert!(
            err.contains("PORTALTEST_SHUFFLE_SEED=\"-1\" is not a seed"),
            "{err}"
        );
    }
}
