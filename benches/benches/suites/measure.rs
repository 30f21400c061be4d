//! Building the generated project and timing its binaries: wall time from spawn to
//! exit, the child's peak RSS (`ru_maxrss` from `wait4`), a timeout, medians.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use benches::wait4;

/// portaltest's number of worker processes (`auto`: one per available core); unset,
/// one worker.
pub const PORTALTEST_JOBS: &str = "PORTALTEST_JOBS";
/// portaltest without a supervisor: every test in the one process (`1`).
pub const PORTALTEST_IN_PROCESS: &str = "PORTALTEST_IN_PROCESS";

/// Settings of the harnesses that rows set themselves: removed from every child's
/// inherited environment, so that a row without them measures the default.
const CLEARED_ENV: [&str; 3] = ["RUST_TEST_THREADS", PORTALTEST_JOBS, PORTALTEST_IN_PROCESS];

/// Builds the project in release mode; returns the build time and the test binaries
/// by target name.
pub fn build(dir: &Path, target_dir: &Path) -> (Duration, BTreeMap<String, PathBuf>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let start = Instant::now();
    let output = Command::new(cargo)
        .current_dir(dir)
        .args(["build", "--release", "--tests", "--message-format=json"])
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo");
    let elapsed = start.elapsed();
    let mut binaries = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(name), Some(exe)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            binaries.insert(name.to_string(), PathBuf::from(exe));
        }
        // The compiler's messages come as JSON too: show them when the build fails.
        if !output.status.success() {
            if let Some(rendered) = message["message"]["rendered"].as_str() {
                eprint!("{rendered}");
            }
        }
    }
    assert!(
        output.status.success(),
        "building the generated suites failed"
    );
    (elapsed, binaries)
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Passed,
    /// Exit code, or 128 + signal number.
    Failed(i32),
    TimedOut,
}

/// One run of a child.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub wall: Duration,
    /// Peak resident set size, KiB.
    pub max_rss_kib: u64,
    pub end: End,
}

/// Runs `command` to completion (or kills it after `timeout`), with its output sent
/// to `log`.
fn run_once(command: &mut Command, log: &Path, timeout: Duration) -> Run {
    let out = fs::File::create(log).expect("create log");
    let err = out.try_clone().expect("clone log");
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    let start = Instant::now();
    let child = command.spawn().expect("spawn test binary");
    let pid = child.id() as libc::pid_t;
    let (done, finished) = mpsc::channel::<()>();
    // The watchdog owns the `Child` only to kill it; it is reaped by `wait4` below.
    let watchdog = thread::spawn(move || {
        let mut child = child;
        if finished.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = child.kill();
            true
        } else {
            false
        }
    });
    let (status, usage) = wait4(pid).expect("wait4");
    let wall = start.elapsed();
    let _ = done.send(());
    let timed_out = watchdog.join().expect("watchdog");
    let end = if timed_out {
        End::TimedOut
    } else if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        End::Passed
    } else if libc::WIFEXITED(status) {
        End::Failed(libc::WEXITSTATUS(status))
    } else {
        End::Failed(128 + libc::WTERMSIG(status))
    };
    Run {
        wall,
        // Linux reports kilobytes; the largest of the child's and of the descendants
        // it reaped (a supervisor's workers), not their sum.
        max_rss_kib: usage.ru_maxrss as u64,
        end,
    }
}

/// The runs of one row, summarised.
#[derive(Clone, Debug)]
pub struct Stats {
    pub runs: Vec<Run>,
}

impl Stats {
    pub fn ok(&self) -> bool {
        self.runs.iter().all(|r| r.end == End::Passed)
    }

    fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        }
    }

    /// Median wall time, seconds.
    pub fn wall(&self) -> f64 {
        Self::median(self.runs.iter().map(|r| r.wall.as_secs_f64()).collect())
    }

    /// Median peak RSS, KiB.
    pub fn rss(&self) -> f64 {
        Self::median(self.runs.iter().map(|r| r.max_rss_kib as f64).collect())
    }

    /// "passed", or what went wrong.
    pub fn verdict(&self) -> String {
        let failed = self.runs.iter().filter(|r| r.end != End::Passed).count();
        if failed == 0 {
            return "passed".into();
        }
        let first = self.runs.iter().find(|r| r.end != End::Passed).unwrap();
        match first.end {
            End::TimedOut => format!("**timed out** ({failed}/{} runs)", self.runs.len()),
            End::Failed(code) => {
                format!(
                    "**failed**, exit {code} ({failed}/{} runs)",
                    self.runs.len()
                )
            }
            End::Passed => unreachable!(),
        }
    }
}

/// Runs the binaries of the generated project.
#[derive(Clone)]
pub struct Runner {
    pub binaries: BTreeMap<String, PathBuf>,
    pub logs: PathBuf,
    pub timeout: Duration,
    /// Every row whose runs did not all pass: the bench exits non-zero at the end.
    pub failures: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// One way to run a binary: target name, arguments, environment.
pub struct Spec<'a> {
    pub name: String,
    pub args: Vec<String>,
    pub env: &'a [(&'a str, &'a str)],
}

impl Spec<'_> {
    fn label(&self) -> String {
        let env_text: String = self.env.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        format!("{} {}{env_text}", self.name, self.args.join(" "))
    }
}

impl Runner {
    /// Runs target `name` with `args` and `env`: one warm-up run, then `repeats`
    /// counted runs.
    pub fn measure(
        &self,
        name: &str,
        args: &[String],
        env: &[(&str, &str)],
        repeats: usize,
    ) -> Stats {
        let spec = Spec {
            name: name.to_string(),
            args: args.to_vec(),
            env,
        };
        self.measure_interleaved(&[spec], repeats)
            .pop()
            .expect("one spec, one result")
    }

    /// Runs each of `specs` once as a warm-up (not counted), then `repeats` rounds that
    /// run each of them in turn (A B A B ...), so that run `i` of every spec comes from
    /// the same round and ratios can be taken pair by pair ([`pair_ratios`]): a drift of
    /// the machine's speed then lands on both sides of a ratio. A spec that times out is
    /// not run again (one hung run is enough to know).
    pub fn measure_interleaved(&self, specs: &[Spec], repeats: usize) -> Vec<Stats> {
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); specs.len()];
        let mut hung = vec![false; specs.len()];
        for round in 0..=repeats {
            for (i, spec) in specs.iter().enumerate() {
                if hung[i] {
                    continue;
                }
                let run = self.run_spec(spec);
                if run.end == End::TimedOut {
                    hung[i] = true;
                }
                // Round 0 warms up (page cache, allocator, CPU frequency), unless it
                // hung: then that is the only run there is.
                if round > 0 || run.end == End::TimedOut {
                    runs[i].push(run);
                }
            }
        }
        specs
            .iter()
            .zip(runs)
            .map(|(spec, runs)| {
                let stats = Stats { runs };
                self.report(spec, &stats);
                stats
            })
            .collect()
    }

    fn run_spec(&self, spec: &Spec) -> Run {
        let binary = &self.binaries[&spec.name];
        let log = self.logs.join(format!("{}.log", spec.name));
        let mut command = Command::new(binary);
        command.args(&spec.args);
        for key in CLEARED_ENV {
            command.env_remove(key);
        }
        for (key, value) in spec.env {
            command.env(key, value);
        }
        run_once(&mut command, &log, self.timeout)
    }

    fn report(&self, spec: &Spec, stats: &Stats) {
        eprintln!(
            "  {}: {:.3} s, {:.1} MiB, {}",
            spec.label(),
            stats.wall(),
            stats.rss() / 1024.0,
            stats.verdict()
        );
        if !stats.ok() {
            let log = self.logs.join(format!("{}.log", spec.name));
            eprintln!("    (output of the last run: {})", log.display());
            self.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{}: {}", spec.label(), stats.verdict()));
        }
    }
}

/// The wall-time ratios `a / b` of runs from the same rounds of
/// [`Runner::measure_interleaved`], for the rounds where both passed.
pub fn pair_ratios(a: &Stats, b: &Stats) -> Vec<f64> {
    a.runs
        .iter()
        .zip(&b.runs)
        .filter(|(x, y)| x.end == End::Passed && y.end == End::Passed)
        .map(|(x, y)| x.wall.as_secs_f64() / y.wall.as_secs_f64())
        .collect()
}

/// Median, smallest and largest of `ratios` (None when empty).
pub fn ratio_summary(ratios: &[f64]) -> Option<(f64, f64, f64)> {
    let lo = ratios.iter().copied().reduce(f64::min)?;
    let hi = ratios.iter().copied().reduce(f64::max)?;
    Some((Stats::median(ratios.to_vec()), lo, hi))
}
