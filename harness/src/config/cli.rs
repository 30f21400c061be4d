//! The command line: libtest-mimic's [`Arguments`], plus what libtest-mimic does not
//! take (several filters, `--partition`, `--report-time`, `--shuffle`,
//! `--shuffle-seed`, `--format junit`).

use std::ffi::OsString;

use libtest_mimic::{Arguments, FormatSetting};

use super::env::EnvConfig;
use super::errors::{ConfigError, Source};
use crate::run::partition::{Partition, SYNTAX as PARTITION_SYNTAX};

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

/// The value of `--NAME VALUE` or `--NAME=VALUE` (`text` is the option as given).
fn option_value(
    text: &str,
    option: &'static str,
    expected: &'static str,
    argv: &mut impl Iterator<Item = OsString>,
) -> Result<String, ConfigError> {
    match text
        .strip_prefix(option)
        .and_then(|rest| rest.strip_prefix('='))
    {
        Some(value) => Ok(value.to_string()),
        None => match argv.next() {
            Some(value) => Ok(value.to_string_lossy().into_owned()),
            None => Err(ConfigError::MissingValue { option, expected }),
        },
    }
}

impl Cli {
    /// Parses a command line (the first item is the program). clap's errors (and
    /// `--help`) exit the process, as libtest-mimic does.
    pub(crate) fn parse<I>(argv: I) -> Result<Cli, ConfigError>
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
                const OPTION: &str = "--shuffle-seed";
                let value = option_value(&text, OPTION, "a whole number", &mut argv)?;
                shuffle_seed =
                    Some(
                        value
                            .trim()
                            .parse::<u64>()
                            .map_err(|_| ConfigError::BadSeed {
                                source: Source::Option(OPTION),
                                value,
                            })?,
                    );
            } else if text == "--partition" || text.starts_with("--partition=") {
                const OPTION: &str = "--partition";
                let value = option_value(&text, OPTION, PARTITION_SYNTAX, &mut argv)?;
                if partition.is_some() {
                    return Err(ConfigError::RepeatedOption { option: OPTION });
                }
                partition =
                    Some(
                        Partition::parse(&value).map_err(|reason| ConfigError::BadPartition {
                            source: Source::Option(OPTION),
                            value,
                            reason,
                        })?,
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
            return Err(ConfigError::ZeroTestThreads);
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
    use crate::config::env::tests::env;
    use crate::config::SHUFFLE_SEED_ENV;

    fn error(argv: &[&str]) -> String {
        Cli::parse(argv.iter().copied()).err().unwrap().to_string()
    }

    #[test]
    fn report_time() {
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
            let err = error(argv);
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
    fn junit_format() {
        assert!(Cli::parse(["bin", "--format", "junit"]).unwrap().junit);
        assert!(Cli::parse(["bin", "--format=junit"]).unwrap().junit);
        let json = Cli::parse(["bin", "--format", "json", "-Z", "unstable-options"]).unwrap();
        assert!(!json.junit);
        assert_eq!(json.args.format, Some(FormatSetting::Json));
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
        assert_eq!(Cli::parse(["bin"]).unwrap().shuffle_seed(&seeded), Some(9));
        assert_eq!(
            Cli::parse(["bin", "--shuffle-seed", "3"])
                .unwrap()
                .shuffle_seed(&seeded),
            Some(3)
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
            let err = error(argv);
            assert!(err.contains(needle), "{argv:?}: {err}");
        }
    }

    #[test]
    fn zero_test_threads_is_rejected() {
        for argv in [
            &["bin", "--test-threads", "0"][..],
            &["bin", "--test-threads=0"][..],
        ] {
            assert_eq!(error(argv), "argument for --test-threads must not be 0");
        }
    }
}
