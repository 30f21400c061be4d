//! The sizes of each mode (full and `--quick`) and the command-line flags.

use std::time::Duration;

/// Sizes and repeats of one mode (full or quick).
#[derive(Clone, Debug)]
pub struct Config {
    pub quick: bool,
    /// Runs per measured row (medians are taken over these).
    pub repeats: usize,
    /// Runs per chart point (other than the points that are also table rows).
    pub chart_repeats: usize,
    /// A run that takes longer is killed and reported as timed out.
    pub timeout: Duration,
    /// Workload 1: tests that each await a 100 ms timer.
    pub timer_tests: usize,
    /// Its chart: numbers of timer tests (ascending; must include `timer_tests`).
    pub chart_counts: Vec<usize>,
    /// Workloads 2, 5 and 8: trivial tests.
    pub trivial_tests: usize,
    /// Workload 3: tests that each make `http_requests` requests.
    pub http_tests: usize,
    pub http_requests: usize,
    /// Workload 4: tests suspended at the same time.
    pub suspended_tests: usize,
    /// Workload 6: CPU-bound tests.
    pub cpu_tests: usize,
    /// Its chart (ascending; must include `cpu_tests`).
    pub cpu_chart_counts: Vec<usize>,
    /// Rounds of `spin` (the generated support library's hash loop) per CPU-bound
    /// test: 20M is ~34 ms on the machine of `results/`.
    pub cpu_rounds: u64,
    /// Workload 7: tests that do some CPU work, then await a 100 ms timer.
    pub cpu_wait_tests: usize,
    /// Its chart (ascending; must include `cpu_wait_tests`).
    pub cpu_wait_chart_counts: Vec<usize>,
    /// Rounds of `spin` before the timer: 12M is ~20 ms on the machine of `results/`.
    pub cpu_wait_rounds: u64,
    /// Workloads to run (None = all).
    pub only: Option<Vec<String>>,
    /// Only redraw the charts from the CSVs of an earlier run.
    pub replot: bool,
}

impl Config {
    fn full() -> Self {
        Config {
            quick: false,
            repeats: 5,
            chart_repeats: 3,
            timeout: Duration::from_secs(300),
            timer_tests: 1_000,
            chart_counts: vec![10, 100, 500, 1_000, 2_000],
            trivial_tests: 10_000,
            http_tests: 500,
            http_requests: 20,
            suspended_tests: 10_000,
            cpu_tests: 64,
            cpu_chart_counts: vec![8, 16, 32, 64],
            cpu_rounds: 20_000_000,
            cpu_wait_tests: 100,
            cpu_wait_chart_counts: vec![10, 20, 50, 100],
            cpu_wait_rounds: 12_000_000,
            only: None,
            replot: false,
        }
    }

    /// 1/10 of the full sizes, except the CPU-bound workloads (6 and 7): at 1/4, so
    /// that each of two workers still gets several tests; they add ~10 s of runs.
    fn quick() -> Self {
        Config {
            quick: true,
            repeats: 2,
            chart_repeats: 1,
            timeout: Duration::from_secs(120),
            timer_tests: 100,
            chart_counts: vec![10, 50, 100, 200],
            trivial_tests: 1_000,
            http_tests: 50,
            http_requests: 20,
            suspended_tests: 1_000,
            cpu_tests: 16,
            cpu_chart_counts: vec![4, 8, 16],
            cpu_wait_tests: 20,
            cpu_wait_chart_counts: vec![5, 10, 20],
            ..Config::full()
        }
    }

    pub fn mode(&self) -> &'static str {
        if self.quick {
            "quick"
        } else {
            "full"
        }
    }

    /// Whether `--only` (if given) names `workload` (`W1`..`W8`, `chart`, or a
    /// chart's file stem).
    pub fn wants(&self, workload: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|w| w.eq_ignore_ascii_case(workload)))
    }

    /// A partial run (`--only`) prints its rows but leaves the committed results alone.
    pub fn complete(&self) -> bool {
        self.only.is_none()
    }

    pub fn from_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut config = if args.iter().any(|a| a == "--quick") {
            Config::quick()
        } else {
            Config::full()
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .unwrap_or_else(|| panic!("{name} needs a value"))
                    .clone()
            };
            match arg.as_str() {
                "--repeats" => config.repeats = value(arg).parse().expect("--repeats N"),
                "--timeout" => {
                    config.timeout =
                        Duration::from_secs(value(arg).parse().expect("--timeout SECS"))
                }
                "--only" => config.only = Some(value(arg).split(',').map(str::to_string).collect()),
                "--replot" => config.replot = true,
                // `--quick` is handled above; cargo passes `--bench`.
                _ => {}
            }
        }
        config
    }
}
