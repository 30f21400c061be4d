//! portaltest against what users run today: the same test bodies as whole test
//! suites, timed as whole test-binary runs.
//!
//! Run: `cargo bench -p benches --bench suites` (full size, the numbers in
//! `benches/results/`), or `cargo bench -p benches --bench suites -- --quick` (10x
//! smaller suites, 2 repeats; what CI runs so the bench never rots; its table and
//! charts go to `<target dir>/bench-suites/results-quick/`, not over the results). A
//! generated suite that does not build, or a run that fails or times out, makes the
//! command exit non-zero after the table is written; timing targets are reported,
//! never enforced.
//!
//! What it does, one file per step (data flows down the list):
//!
//! 1. [`config`]: the sizes of the full and the quick mode, and the flags.
//! 2. [`generate`]: writes a throwaway Cargo project under
//!    `<target dir>/bench-suites/<mode>/` (its own `[workspace]`, the main workspace's
//!    `Cargo.lock` copied in, a path dependency on `harness/`, `src/lib.rs` from
//!    `generated/lib.rs`), with one test target per (peer, suite):
//!    * `portaltest`: sync `#[portaltest::test]` fns that call `await_`, shared
//!      `#[portaltest::fixture]`s, `harness = false`;
//!    * `tokio-test`: libtest with `#[tokio::test] async fn` (a runtime per test);
//!    * `block-on`: libtest with plain `#[test]` fns that call
//!      `block_on(fut) = tokio::task::block_in_place(|| RT.handle().block_on(fut))` on a
//!      `static RT: LazyLock<Runtime>` (multi-thread, one worker per CPU). Called
//!      from libtest's test threads, `block_in_place` passes straight through; the
//!      wait is `Handle::block_on`;
//!    * `libtest-plain`: plain `#[test]` fns with no runtime (workload 2, the target
//!      to beat, and workload 6's CPU-bound tests).
//! 3. [`measure`]: builds it once with `cargo build --release --tests` (its own target
//!    directory `<target dir>/bench-suites/target`, kept between runs; every workload's
//!    targets in that one build) and times the build; runs the binaries a comparison
//!    needs as a warm-up run each, then rounds that run each of them in turn (A B A B
//!    ...), measuring wall time from spawn to exit and the child's peak RSS
//!    (`ru_maxrss` from `wait4`). Every ratio is taken pair by pair (runs of the same
//!    round) and shown as the median with its smallest and largest pair. A run that
//!    exceeds the timeout is killed and reported as timed out; a non-zero exit as
//!    failed.
//! 4. [`workloads`]: which binaries run how (the default `--test-threads` of each
//!    harness except where a row says otherwise; portaltest also with
//!    `PORTALTEST_JOBS=auto` or `PORTALTEST_IN_PROCESS=1` where a row says so), and the
//!    rows and chart lines made of the runs:
//!    1. tests that await a 100 ms timer (and the I/O-bound chart);
//!    2. trivial tests;
//!    3. HTTP requests to one in-process server;
//!    4. tests suspended at once (peak RSS per test);
//!    5. `--list` and `--exact` start-up;
//!    6. CPU-bound tests: libtest against portaltest with one worker and with
//!       `PORTALTEST_JOBS=auto` (and the CPU-bound chart);
//!    7. tests that spin ~20 ms, then await a 100 ms timer, against `#[tokio::test]`
//!       (and their chart);
//!    8. the supervisor's cost: workload 2's portaltest binary supervised against
//!       `PORTALTEST_IN_PROCESS=1`.
//! 5. [`report`]: the Markdown table (medians, ratios against each workload's baseline
//!    from this session, targets), printed and written to
//!    `benches/results/suites[-quick].md`.
//! 6. [`chart`]: the charts, `benches/results/<chart>[-quick].svg` (wall time against
//!    the number of tests), with their raw runs in `<chart>[-quick].csv`:
//!    `io_bound_tests`, `cpu_bound_tests`, `cpu_then_timer_tests`.
//!
//! How long it takes on the 2-vCPU machine of `results/`: the full mode about 30 min
//! (building the generated project 2-6 min, most of the rest is the libtest peers'
//! timer runs: 1,000 x 100 ms on 2 test threads is 50 s a run; workloads 6-8 and
//! their charts about 2 min); the quick mode about 2.5 min from a clean target
//! directory (bench and generated project built from scratch) and about 1 min when
//! already built (workloads 6-8 about 10 s of it).
//!
//! Flags (after `--`): `--quick`; `--repeats N`; `--timeout SECS`;
//! `--only W1,W6,...` (workloads to run; `chart` for all the charts' points, or a
//! chart's name for one); `--replot` (only redraw the SVGs from the CSVs).

mod chart;
mod config;
mod generate;
mod measure;
mod report;
mod workloads;

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use config::Config;

fn main() {
    let config = Config::from_args();
    let total = Instant::now();
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = bench_dir
        .parent()
        .expect("benches/ is in the workspace")
        .to_path_buf();
    // This binary is <target dir>/release/deps/suites-<hash>.
    let exe = std::env::current_exe().expect("current_exe");
    let target_dir = exe
        .ancestors()
        .nth(3)
        .expect("bench binary lives in <target>/<profile>/deps")
        .to_path_buf();
    // Quick runs (CI's) write under the target directory, never over the results.
    let results = if config.quick {
        target_dir.join("bench-suites").join("results-quick")
    } else {
        bench_dir.join("results")
    };
    let suffix = if config.quick { "-quick" } else { "" };
    let svg = |stem: &str| results.join(format!("{stem}{suffix}.svg"));
    let csv = |stem: &str| results.join(format!("{stem}{suffix}.csv"));
    if config.replot {
        let machine = report::machine();
        for mut chart in workloads::charts(&config) {
            let Ok(text) = fs::read_to_string(csv(chart.stem)) else {
                eprintln!(
                    "no {}: {} not redrawn",
                    csv(chart.stem).display(),
                    chart.stem
                );
                continue;
            };
            if chart::parse_csv(&mut chart, &text) {
                chart::svg(&svg(chart.stem), &chart, &machine);
                eprintln!("chart: {}", svg(chart.stem).display());
            }
        }
        return;
    }

    let root = target_dir.join("bench-suites");
    let project = root.join(config.mode());
    eprintln!(
        "suites ({} mode): generating {}",
        config.mode(),
        project.display()
    );
    generate::generate(&project, &workspace, &config).expect("generate the suites");
    eprintln!("building (cargo build --release --tests) ...");
    let (build_time, binaries) = measure::build(&project, &root.join("target"));
    eprintln!("built in {:.1} s", build_time.as_secs_f64());
    let logs = project.join("logs");
    fs::create_dir_all(&logs).expect("logs dir");
    let runner = measure::Runner {
        binaries,
        logs,
        timeout: config.timeout,
        failures: Default::default(),
    };

    let (rows, charts) = workloads::run(&runner, &config);

    let machine = report::machine();
    let md = report::document(&config, &machine, build_time, &rows, total.elapsed());
    println!("{md}");
    fs::create_dir_all(&results).expect("results dir");
    // A partial run (`--only`) prints its rows but leaves the committed results alone.
    if config.complete() {
        fs::write(results.join(format!("suites{suffix}.md")), &md).expect("write table");
        for chart in &charts {
            fs::write(csv(chart.stem), chart::csv(chart)).expect("write the chart's CSV");
            chart::svg(&svg(chart.stem), chart, &machine);
            eprintln!("chart: {}", svg(chart.stem).display());
        }
    }
    let failures = runner.failures.lock().unwrap_or_else(|e| e.into_inner());
    if !failures.is_empty() {
        eprintln!(
            "suites: {} rows had runs that failed or timed out:",
            failures.len()
        );
        for f in failures.iter() {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}
