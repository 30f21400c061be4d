//! The Markdown report: the machine, the table of rows, and the notes on how to read it.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::config::Config;
use crate::measure::Stats;

/// One row of the table.
pub struct Row {
    pub workload: String,
    pub peer: String,
    pub how: String,
    pub stats: Stats,
    /// Value shown in the "measure" column instead of wall/RSS (workload 4).
    pub derived: Option<String>,
    /// Ratio to the workload's baseline (peer / portaltest unless it says otherwise),
    /// already formatted.
    pub ratio: String,
    pub target: String,
}

pub fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

pub fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// `peer / portaltest` of wall time, pair by pair (runs of the same rounds), and of
/// the median RSS.
pub fn ratio(peer: &Stats, portaltest: &Stats) -> String {
    if !peer.ok() || !portaltest.ok() {
        return "n/a".into();
    }
    let pairs = crate::measure::pair_ratios(peer, portaltest);
    match crate::measure::ratio_summary(&pairs) {
        Some((m, lo, hi)) => format!(
            "{m:.2}x wall ({lo:.2}-{hi:.2}x over {} pairs), {:.2}x RSS",
            pairs.len(),
            peer.rss() / portaltest.rss()
        ),
        None => "n/a".into(),
    }
}

/// The target column: whether `what` was met.
pub fn met(ok: bool, what: String) -> String {
    if ok {
        format!("met: {what}")
    } else {
        format!("**not met**: {what}")
    }
}

/// The machine: CPU model, core count, memory, OS, rustc.
pub fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        })
        .map_or_else(|| "?".into(), |kib| format!("{:.0}", kib / 1024.0 / 1024.0));
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let open_files = fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .unwrap_or_else(|| "?".into());
    format!(
        "{model}, {cores} cores, {mem_gib} GiB RAM, Linux {}, open-file limit {open_files}, {rustc}",
        kernel.trim()
    )
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | peer | how | median wall | median peak RSS | peer / portaltest | runs | target |\n\
         |---|---|---|---:|---:|---|---|---|\n",
    );
    for row in rows {
        let rss = match &row.derived {
            Some(d) => d.clone(),
            None => mib(row.stats.rss()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} x {} | {} |",
            row.workload,
            row.peer,
            row.how,
            secs(row.stats.wall()),
            rss,
            row.ratio,
            row.stats.runs.len(),
            row.stats.verdict(),
            row.target
        );
    }
    out
}

/// The whole report: header, table, notes, and how long the bench took (`total`).
pub fn document(
    config: &Config,
    machine: &str,
    build_time: Duration,
    rows: &[Row],
    total: Duration,
) -> String {
    let command = format!(
        "cargo bench -p benches --bench suites{}",
        if config.quick { " -- --quick" } else { "" }
    );
    let mut md = format!(
        "# portaltest suites vs libtest ({} mode)\n\n\
         Machine: {machine}.  \nCommand: `{command}` (generated suites built with \
         `cargo build --release --tests`, {:.0} s this time{}).  \n\
         Medians of {} runs per row (wall time from spawn to exit, peak RSS = \
         `ru_maxrss` of the child); ratios are peer / portaltest from this session, \
         or against the baseline the cell names (workloads 6-8).\n\n",
        config.mode(),
        build_time.as_secs_f64(),
        if build_time.as_secs() < 5 {
            ", already built"
        } else {
            ""
        },
        config.repeats
    );
    md.push_str(&table(rows));
    md.push_str(NOTES);
    let _ = writeln!(
        md,
        "\nWhole bench run (generation, build, all runs): {:.0} s.",
        total.as_secs_f64()
    );
    md
}

/// How to read the table.
const NOTES: &str = "
Notes:

- **portaltest**: sync `#[portaltest::test]` fns that call `await_(...)`, shared
  `#[portaltest::fixture]`s; all tests in flight at once on one current-thread runtime.
- **libtest + `#[tokio::test]`**: `#[tokio::test] async fn`, a new current-thread runtime per
  test, libtest's default `--test-threads` (the CPU count).
- **libtest + `#[test]` + shared runtime (block_on)**: plain `#[test]` fns that call
  `block_on(fut)`, defined as `tokio::task::block_in_place(|| RT.handle().block_on(fut))` with
  `static RT: LazyLock<Runtime>` (multi-thread, one worker per CPU). On libtest's test threads
  `block_in_place` passes straight through; the wait is `Handle::block_on`, so each test thread
  blocks while its future runs on the shared runtime's I/O and timer drivers.
- **libtest + `#[test]`, no runtime**: the trivial bodies without any async, workload 2's target;
  and workload 6's CPU-bound bodies.
- Workloads 1, 6 and 7 and their charts use one binary per peer holding the chart's largest
  number of tests; smaller counts are selected with `--skip g<k>::` (the rest are filtered out,
  not run).
- Workload 3's reference is one async program without a test harness that makes the same
  requests with the same concurrency (a task per test, its requests in a row on one keep-alive
  connection) against the same server: a raw HTTP/1.1 responder on 127.0.0.1 that answers each
  request after `tokio::time::sleep(1 ms)`.
- Workload 4: every test awaits one `tokio::sync::Barrier` sized to the number of tests, so all
  are suspended at once before any finishes. Per-test RSS = (peak RSS of the whole run - peak
  RSS of the same binary running one test with `--exact` and a barrier of 1) / (n - 1). Every
  harness runs at most `--test-threads` tests at a time (portaltest: 4,096 by default), so all run
  with `--test-threads n`: for the libtest peers an OS thread per test (and for `#[tokio::test]` a
  runtime per test), for portaltest n tests in flight on one thread. A run of workload 4 still going
  after 60 s is stuck and killed: with `#[tokio::test]` every runtime holds 3 file descriptors
  (epoll, eventfd, ...), so once 3 x tests exceed the open-file limit (`ulimit -n`, on the machine
  line above) a test cannot build its runtime and fails, and the tests already in flight wait for
  the barrier forever.
- Workload 5 runs the trivial binaries with `--list --format terse` (nextest's listing) and
  `--exact NAME` (nextest runs every test that way, one process each).
- Workloads 6-8 state their baseline in the ratio column. Workload 6: every test runs the same
  deterministic CPU loop (`spin`, a chain of 64-bit multiply-xorshift steps, `black_box`ed) in
  one binary per harness; portaltest runs once with its default of one worker and once with
  `PORTALTEST_JOBS=auto` (a worker process per available core, tests handed out as workers free
  up); libtest runs its default `--test-threads` (the CPU count). Speed = libtest's wall /
  portaltest's wall.
- Workload 7: each test runs `spin` for ~20 ms, then awaits a 100 ms `tokio::time::sleep`
  (portaltest through `await_`). libtest's test threads sleep through the timers, while
  portaltest's CPU work is serial per worker process: with one worker it can at best be
  ((cpu + wait) x n / threads) / (cpu x n + wait) times faster (beside that row, for a nominal
  20 ms of CPU), under 4x on 2 cores, so the target applies to `PORTALTEST_JOBS=auto`.
- Workload 8 runs workload 2's portaltest binary supervised (the default: a worker process runs
  the tests) and with `PORTALTEST_IN_PROCESS=1` (no worker: everything in one process).
- With worker processes, the peak RSS is the largest of the supervisor's and its workers'
  (`wait4` reports the maximum over the reaped descendants), not their sum.
";
