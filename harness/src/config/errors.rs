//! What can be wrong with the command line or the environment, and the texts that say
//! so (each names the fix), as `error: ...` lines before anything runs.

use std::ffi::OsString;
use std::fmt;

use super::vars::{PREFIX, VARS};

/// Where a value came from, for the mistakes that both the command line and the
/// environment can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// An environment variable, by name.
    Env(&'static str),
    /// A command-line option, as `--partition`.
    Option(&'static str),
}

/// One mistake in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigError {
    /// A variable whose value is not Unicode.
    NotUnicode { var: &'static str, value: OsString },
    /// Not a duration the harness reads (`500ms`, `5s`, `2m`).
    BadDuration { var: &'static str, value: String },
    /// A duration of zero, which would leave no time at all.
    ZeroDuration { var: &'static str, value: String },
    /// Not a number, or one outside the variable's range; `expected` is the variable's
    /// [`Kind`](super::vars::Kind) text.
    BadNumber {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A value outside the few that a flag knows.
    UnknownValue {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    /// Not a shuffle seed (a `u64`).
    BadSeed { source: Source, value: String },
    /// Not a CI shard; `reason` says what is wrong with it.
    BadPartition {
        source: Source,
        value: String,
        reason: String,
    },
    /// Not a `tracing` filter (`RUST_LOG`); `reason` is tracing-subscriber's.
    BadFilter {
        var: &'static str,
        value: String,
        reason: String,
    },
    /// An option that takes a value, last on the command line.
    MissingValue {
        option: &'static str,
        expected: &'static str,
    },
    /// An option given twice, whose values would conflict.
    RepeatedOption { option: &'static str },
    /// `--test-threads 0`, which would run nothing.
    ZeroTestThreads,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ConfigError::*;
        match self {
            NotUnicode { var, value } => write!(
                f,
                "{var}={value:?} is not valid Unicode; set it to Unicode text or unset it"
            ),
            BadDuration { var, value } => write!(
                f,
                "{var}={value:?} is not a duration; use e.g. 500ms, 5s or 2m"
            ),
            ZeroDuration { var, value } => write!(
                f,
                "{var}={value:?} is zero, which leaves no time; use e.g. 500ms, 5s or 2m, \
                 or unset it for the default"
            ),
            BadNumber {
                var,
                value,
                expected,
            }
            | UnknownValue {
                var,
                value,
                expected,
            } => write!(f, "{var}={value:?} is not {expected}"),
            BadSeed {
                source: Source::Env(var),
                value,
            } => write!(
                f,
                "{var}={value:?} is not a seed (a whole number from 0 to {})",
                u64::MAX
            ),
            BadSeed {
                source: Source::Option(option),
                value,
            } => write!(
                f,
                "invalid {option} {value:?}: a whole number from 0 to {}",
                u64::MAX
            ),
            BadPartition {
                source: Source::Env(var),
                value,
                reason,
            } => write!(f, "{var}={value:?}: {reason}"),
            BadPartition {
                source: Source::Option(option),
                value,
                reason,
            } => write!(f, "invalid {option} {value:?}: {reason}"),
            BadFilter { var, value, reason } => write!(
                f,
                "{var}={value:?} is not a valid filter ({reason}); the syntax is \
                 tracing-subscriber's EnvFilter, e.g. `info,my_crate=debug,hyper[request]=trace`"
            ),
            MissingValue { option, expected } => write!(f, "{option} needs a value: {expected}"),
            RepeatedOption { option } => {
                write!(f, "{option} was given more than once; give it once")
            }
            // libtest's own words, which scripts may look for.
            ZeroTestThreads => f.write_str("argument for --test-threads must not be 0"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every mistake in the environment, reported at once: one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Something odd in the environment that does not stop the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigWarning {
    /// A `PORTALTEST_*` variable the harness does not read (a typo?).
    UnknownVariable { name: String },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarning::UnknownVariable { name } => {
                let known: Vec<&str> = VARS
                    .iter()
                    .map(|v| v.name)
                    .filter(|n| n.starts_with(PREFIX))
                    .collect();
                write!(
                    f,
                    "portaltest: warning: unknown environment variable {name} ignored (known: {})",
                    known.join(", ")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! One snapshot per kind of mistake, each made as a user would make it.

    use super::*;
    use crate::config::{vars, Cli, EnvConfig};

    fn env_errors(vars: &[(&str, &str)]) -> Vec<ConfigError> {
        let owned: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        let names: Vec<String> = owned.iter().map(|(k, _)| k.clone()).collect();
        EnvConfig::parse(
            &|name| {
                owned
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            },
            &names,
        )
        .expect_err("a mistake")
        .0
    }

    /// The one error that `vars` make.
    fn env_error(vars: &[(&str, &str)]) -> ConfigError {
        let mut errors = env_errors(vars);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.remove(0)
    }

    fn cli_error(argv: &[&str]) -> ConfigError {
        Cli::parse(argv.iter().copied()).err().expect("a mistake")
    }

    /// The snapshot's name: the variant's, so that a new variant needs a snapshot of
    /// its own.
    fn variant(error: &ConfigError) -> &'static str {
        match error {
            ConfigError::NotUnicode { .. } => "not_unicode",
            ConfigError::BadDuration { .. } => "bad_duration",
            ConfigError::ZeroDuration { .. } => "zero_duration",
            ConfigError::BadNumber { .. } => "bad_number",
            ConfigError::UnknownValue { .. } => "unknown_value",
            ConfigError::BadSeed {
                source: Source::Env(_),
                ..
            } => "bad_seed_env",
            ConfigError::BadSeed {
                source: Source::Option(_),
                ..
            } => "bad_seed_option",
            ConfigError::BadPartition {
                source: Source::Env(_),
                ..
            } => "bad_partition_env",
            ConfigError::BadPartition {
                source: Source::Option(_),
                ..
            } => "bad_partition_option",
            ConfigError::BadFilter { .. } => "bad_filter",
            ConfigError::MissingValue { .. } => "missing_value",
            ConfigError::RepeatedOption { .. } => "repeated_option",
            ConfigError::ZeroTestThreads => "zero_test_threads",
        }
    }

    fn snapshot(error: ConfigError) {
        insta::assert_snapshot!(variant(&error), error.to_string());
    }

    #[cfg(unix)]
    #[test]
    fn not_unicode() {
        use std::os::unix::ffi::OsStringExt;
        let value = OsString::from_vec(b"5\xffs".to_vec());
        let names = vec![vars::TIMEOUT_ENV.to_string()];
        let errors = EnvConfig::parse(
            &|name| (name == vars::TIMEOUT_ENV).then(|| value.clone()),
            &names,
        )
        .err()
        .unwrap()
        .0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        snapshot(errors[0].clone());
    }

    #[test]
    fn bad_duration() {
        snapshot(env_error(&[(vars::GRACE_ENV, "5 seconds")]));
    }

    #[test]
    fn zero_duration() {
        snapshot(env_error(&[(vars::TIMEOUT_ENV, "0s")]));
    }

    #[test]
    fn bad_number() {
        snapshot(env_error(&[(vars::RETRIES_ENV, "101")]));
    }

    #[test]
    fn unknown_value() {
        snapshot(env_error(&[(vars::TRACING_ENV, "maybe")]));
    }

    #[test]
    fn bad_seed() {
        snapshot(env_error(&[(vars::SHUFFLE_SEED_ENV, "-1")]));
        snapshot(cli_error(&["bin", "--shuffle-seed", "x"]));
    }

    #[test]
    fn bad_partition() {
        snapshot(env_error(&[(vars::PARTITION_ENV, "count:3/2")]));
        snapshot(cli_error(&["bin", "--partition=slice:1/2"]));
    }

    #[test]
    fn bad_filter() {
        snapshot(env_error(&[("RUST_LOG", "a=notalevel")]));
    }

    #[test]
    fn missing_value() {
        snapshot(cli_error(&["bin", "--partition"]));
    }

    #[test]
    fn repeated_option() {
        snapshot(cli_error(&[
            "bin",
            "--partition",
            "hash:1/2",
            "--partition=hash:2/2",
        ]));
    }

    #[test]
    fn zero_test_threads() {
        snapshot(cli_error(&["bin", "--test-threads", "0"]));
    }

    #[test]
    fn every_bad_value_at_once() {
        let errors = ConfigErrors(env_errors(&[
            (vars::TIMEOUT_ENV, "soon"),
            (vars::BLOCKING_WARN_ENV, "lots"),
            (vars::JOBS_ENV, "0"),
            (vars::IN_PROCESS_ENV, "yes"),
        ]));
        insta::assert_snapshot!("every_bad_value_at_once", errors.to_string());
    }

    #[test]
    fn unknown_variable_warning() {
        let warning = ConfigWarning::UnknownVariable {
            name: "PORTALTEST_TIMEOUTS".into(),
        };
        insta::assert_snapshot!("unknown_variable", warning.to_string());
    }
}
