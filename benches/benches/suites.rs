//! portaltest against what users run today: the same test bodies as whole test
//! suites, timed as whole test-binary runs.
//!
//! Run: `cargo bench -p benches --bench suites` (full size, the numbers in
//! `benches/results/`), or `cargo bench -p benches --bench suites -- --quick` (10x
//! smaller suites, 2 repeats; what CI runs so the bench never rots).
//!
//! What it does:
//!
//! 1. Generates a throwaway Cargo project under `<target dir>/bench-suites/<mode>/`
//!    (its own `[workspace]`, the main workspace's `Cargo.lock` copied in, a path
//!    dependency on `harness/`), with one test target per (peer, workload):
//!    * `portaltest`: sync `#[portaltest::test]` fns that call `await_`, shared
//!      `#[portaltest::fixture]`s, `harness = false`;
//!    * `tokio-test`: libtest with `#[tokio::test] async fn` (a runtime per test);
//!    * `block-on`: libtest with plain `#[test]` fns that call
//!      `block_on(fut) = tokio::task::block_in_place(|| RT.handle().block_on(fut))` on a
//!      `static RT: LazyLock<Runtime>` (multi-thread, one worker per CPU). Called
//!      from libtest's test threads, `block_in_place` passes straight through; the
//!      wait is `Handle::block_on`;
//!    * `libtest-plain`: plain `#[test]` fns with no runtime (workload 2 only, the
//!      target to beat).
//! 2. Builds it once with `cargo build --release --tests` (its own target directory
//!    `<target dir>/bench-suites/target`, kept between runs) and times the build.
//! 3. Runs every binary several times with the default `--test-threads` of its
//!    harness (except where a row says otherwise), measuring wall time from spawn to
//!    exit and the child's peak RSS (`ru_maxrss` from `wait4`). A run that exceeds
//!    the timeout is killed and reported as timed out; a non-zero exit as failed.
//! 4. Prints a Markdown table (medians, ratios peer/portaltest from this session,
//!    targets) and writes it to `benches/results/suites[-quick].md`, with the chart
//!    `benches/results/io_bound_tests[-quick].svg` (wall time against the number of
//!    tests that each await a 100 ms timer).
//!
//! The chart's raw runs are also written to `io_bound_tests[-quick].csv`.
//!
//! How long it takes on the 2-vCPU machine of `results/`: the full mode about 27 min
//! (building the generated project 2-4.5 min, most of the rest is the libtest peers'
//! timer runs: 1,000 x 100 ms on 2 test threads is 50 s a run); the quick mode about
//! 1.5 min from a clean target directory (bench and generated project built from
//! scratch) and under 1 min when already built.
//!
//! Flags (after `--`): `--quick`; `--repeats N`; `--timeout SECS`;
//! `--only W1,W3,...` (workloads to run; `chart` for the chart); `--replot` (only
//! redraw the SVG from the CSV).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use plotters::prelude::*;

// ---------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------

/// Sizes and repeats of one mode (full or quick).
#[derive(Clone, Debug)]
struct Config {
    quick: bool,
    /// Runs per measured row (medians are taken over these).
    repeats: usize,
    /// Runs per chart point.
    chart_repeats: usize,
    /// A run that takes longer is killed and reported as timed out.
    timeout: Duration,
    /// Workload 1: tests that each await a 100 ms timer.
    timer_tests: usize,
    /// Chart: numbers of timer tests (ascending; must include `timer_tests`).
    chart_counts: Vec<usize>,
    /// Workload 2 and 5: trivial tests.
    trivial_tests: usize,
    /// Workload 3: tests that each make `http_requests` requests.
    http_tests: usize,
    http_requests: usize,
    /// Workload 4: tests suspended at the same time.
    suspended_tests: usize,
    /// Workloads to run (None = all).
    only: Option<Vec<String>>,
    /// Only redraw the chart from the CSV of an earlier run.
    replot: bool,
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
            only: None,
            replot: false,
        }
    }

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
            only: None,
            replot: false,
        }
    }

    fn mode(&self) -> &'static str {
        if self.quick {
            "quick"
        } else {
            "full"
        }
    }

    fn wants(&self, workload: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|w| w.eq_ignore_ascii_case(workload)))
    }

    fn from_args() -> Self {
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

// ---------------------------------------------------------------------------------
// The peers and the generated project
// ---------------------------------------------------------------------------------

/// A way to run the same test bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    Portaltest,
    TokioTest,
    BlockOn,
    LibtestPlain,
}

impl Peer {
    fn label(self) -> &'static str {
        match self {
            Peer::Portaltest => "portaltest",
            Peer::TokioTest => "libtest + #[tokio::test]",
            Peer::BlockOn => "libtest + #[test] + shared runtime (block_on)",
            Peer::LibtestPlain => "libtest + #[test], no runtime",
        }
    }

    fn from_slug(slug: &str) -> Option<Peer> {
        [
            Peer::Portaltest,
            Peer::TokioTest,
            Peer::BlockOn,
            Peer::LibtestPlain,
        ]
        .into_iter()
        .find(|p| p.slug() == slug)
    }

    fn slug(self) -> &'static str {
        match self {
            Peer::Portaltest => "portaltest",
            Peer::TokioTest => "tokio_test",
            Peer::BlockOn => "block_on",
            Peer::LibtestPlain => "plain",
        }
    }

    /// The test attribute and signature in front of `{ body() }`.
    fn test_fn(self, name: &str) -> String {
        match self {
            Peer::Portaltest => format!("#[portaltest::test] fn {name}() {{ body() }}"),
            Peer::TokioTest => format!("#[tokio::test] async fn {name}() {{ body().await }}"),
            Peer::BlockOn | Peer::LibtestPlain => format!("#[test] fn {name}() {{ body() }}"),
        }
    }
}

const ASYNC_PEERS: [Peer; 3] = [Peer::Portaltest, Peer::TokioTest, Peer::BlockOn];

/// The kinds of suite the project holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Suite {
    /// Tests that await a 100 ms timer, in groups so that `--skip` selects a prefix.
    Timer,
    /// Trivial tests.
    Trivial,
    /// Tests that make HTTP requests to one in-process server.
    Http,
    /// Tests that all wait on one barrier.
    Suspended,
}

impl Suite {
    fn slug(self) -> &'static str {
        match self {
            Suite::Timer => "timer",
            Suite::Trivial => "trivial",
            Suite::Http => "http",
            Suite::Suspended => "suspended",
        }
    }
}

/// The test body of each (peer, suite), and the items it needs.
fn body(peer: Peer, suite: Suite, config: &Config) -> String {
    let requests = config.http_requests;
    let gate = config.suspended_tests;
    match (peer, suite) {
        (Peer::Portaltest, Suite::Timer) => {
            "fn body() { await_(tokio::time::sleep(Duration::from_millis(100))) }".into()
        }
        (Peer::TokioTest, Suite::Timer) => {
            "async fn body() { tokio::time::sleep(Duration::from_millis(100)).await }".into()
        }
        (Peer::BlockOn, Suite::Timer) => {
            "fn body() { block_on(async { tokio::time::sleep(Duration::from_millis(100)).await }) }"
                .into()
        }

        (Peer::Portaltest, Suite::Trivial) => {
            "fn body() { assert_eq!(await_(async { black_box(1) }) + 1, 2) }".into()
        }
        (Peer::TokioTest, Suite::Trivial) => {
            "async fn body() { assert_eq!(async { black_box(1) }.await + 1, 2) }".into()
        }
        (Peer::BlockOn, Suite::Trivial) => {
            "fn body() { assert_eq!(block_on(async { black_box(1) }) + 1, 2) }".into()
        }
        (Peer::LibtestPlain, Suite::Trivial) => {
            "fn body() { assert_eq!(black_box(1) + 1, 2) }".into()
        }

        (Peer::Portaltest, Suite::Http) => format!(
            "#[fixture]\nasync fn server() -> SocketAddr {{ start_server().await }}\n\
             fn body() {{\n    let mut client = await_(Client::connect(*server()));\n    \
             for _ in 0..{requests} {{ await_(client.get(\"/slow?ms=1\")); }}\n}}"
        ),
        (Peer::TokioTest, Suite::Http) => format!(
            "// A server per test: one kept in a static would die with the first test's runtime.\n\
             async fn body() {{\n    let mut client = Client::connect(start_server().await).await;\n    \
             for _ in 0..{requests} {{ client.get(\"/slow?ms=1\").await; }}\n}}"
        ),
        (Peer::BlockOn, Suite::Http) => format!(
            "// One server on the shared runtime, started by the first test that needs it.\n\
             static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| block_on(start_server()));\n\
             fn body() {{\n    block_on(async {{\n        \
             let mut client = Client::connect(*SERVER).await;\n        \
             for _ in 0..{requests} {{ client.get(\"/slow?ms=1\").await; }}\n    }})\n}}"
        ),

        (Peer::Portaltest, Suite::Suspended) => format!(
            "#[fixture]\nasync fn gate() -> Barrier {{ Barrier::new(gate_size({gate})) }}\n\
             fn body() {{ await_(gate().wait()); }}"
        ),
        (Peer::TokioTest, Suite::Suspended) => format!(
            "static GATE: LazyLock<Barrier> = LazyLock::new(|| Barrier::new(gate_size({gate})));\n\
             async fn body() {{ GATE.wait().await; }}"
        ),
        (Peer::BlockOn, Suite::Suspended) => format!(
            "static GATE: LazyLock<Barrier> = LazyLock::new(|| Barrier::new(gate_size({gate})));\n\
             fn body() {{ block_on(GATE.wait()); }}"
        ),
        (Peer::LibtestPlain, _) => unreachable!("libtest-plain only has the trivial suite"),
    }
}

/// Group sizes of a suite: a test is named `g{group}::m{module}::t{index}`.
fn groups(suite: Suite, config: &Config) -> Vec<usize> {
    match suite {
        // Each group tops the previous prefix up to the next chart count.
        Suite::Timer => {
            let mut previous = 0;
            config
                .chart_counts
                .iter()
                .map(|&count| {
                    let size = count - previous;
                    previous = count;
                    size
                })
                .collect()
        }
        Suite::Trivial => vec![config.trivial_tests],
        Suite::Http => vec![config.http_tests],
        Suite::Suspended => vec![config.suspended_tests],
    }
}

/// The name of the last test of a suite (used for `--exact`).
fn last_test_name(suite: Suite, config: &Config) -> String {
    let sizes = groups(suite, config);
    let group = sizes.len() - 1;
    let last = sizes[group] - 1;
    format!("g{group}::m{}::t{}", last / 100, last % 100)
}

/// `--skip` arguments that leave the first `count` tests of the timer suite.
fn timer_prefix_args(count: usize, config: &Config) -> Vec<String> {
    let keep = config
        .chart_counts
        .iter()
        .position(|&c| c == count)
        .expect("count is one of chart_counts");
    (keep + 1..config.chart_counts.len())
        .flat_map(|g| ["--skip".to_string(), format!("g{g}::")])
        .collect()
}

fn test_source(peer: Peer, suite: Suite, config: &Config) -> String {
    let mut src = String::from(
        "// Generated by benches/benches/suites.rs; do not edit.\n\
         #![allow(unused_imports, dead_code)]\n\
         use std::hint::black_box;\nuse std::net::SocketAddr;\nuse std::sync::LazyLock;\n\
         use std::time::Duration;\nuse tokio::sync::Barrier;\nuse support::*;\n",
    );
    if peer == Peer::Portaltest {
        src.push_str("use portaltest::{await_, fixture};\n");
    }
    src.push('\n');
    src.push_str(&body(peer, suite, config));
    src.push_str("\n\n");
    for (g, &size) in groups(suite, config).iter().enumerate() {
        let _ = writeln!(src, "mod g{g} {{\nuse super::*;");
        for m in 0..size.div_ceil(100) {
            let _ = writeln!(src, "mod m{m} {{\nuse super::*;");
            for t in 0..(size - m * 100).min(100) {
                src.push_str(&peer.test_fn(&format!("t{t}")));
                src.push('\n');
            }
            src.push_str("}\n");
        }
        src.push_str("}\n");
    }
    if peer == Peer::Portaltest {
        src.push_str("\nportaltest::main!();\n");
    }
    src
}

/// The library every generated target uses: the shared runtime of the block-on peer,
/// and a minimal HTTP/1.1 server and keep-alive client over loopback TCP.
const SUPPORT_LIB: &str = r#"// Generated by benches/benches/suites.rs; do not edit.
//! Support code of the generated suites.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The shared runtime of the block-on peer (multi-thread, one worker per CPU).
pub static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
});

/// The usual sync-to-async helper of `#[test]` suites that share one runtime.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    tokio::task::block_in_place(|| RT.handle().block_on(fut))
}

/// Number of tests the barrier waits for: `SUITE_GATE` if set (the baseline run of
/// one test sets 1), else the suite's size.
pub fn gate_size(default: usize) -> usize {
    std::env::var("SUITE_GATE").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";

/// Starts an HTTP/1.1 server on 127.0.0.1 on the current runtime; every request
/// is answered after 1 ms of simulated latency. Returns its address.
pub async fn start_server() -> SocketAddr {
    // A backlog large enough for every client to connect at once (`TcpListener::bind`
    // uses 128: SYNs beyond it are dropped and retried a second later).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(4096).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(stream));
        }
    });
    addr
}

async fn serve(mut stream: TcpStream) {
    stream.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(1024);
    loop {
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
        };
        buf.drain(..end);
        tokio::time::sleep(Duration::from_millis(1)).await;
        if stream.write_all(RESPONSE).await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A keep-alive HTTP/1.1 client on one connection.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream, buf: Vec::with_capacity(1024) }
    }

    /// `GET path`; returns the body.
    pub async fn get(&mut self, path: &str) -> Vec<u8> {
        let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await.unwrap();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            assert!(self.stream.read_buf(&mut self.buf).await.unwrap() > 0, "connection closed");
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap();
        while self.buf.len() < head_end + length {
            assert!(self.stream.read_buf(&mut self.buf).await.unwrap() > 0, "connection closed");
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        body
    }
}
"#;

/// The reference of workload 3: one async program (no test harness) that makes the
/// same requests, with the same concurrency, to the same kind of server.
fn http_baseline_source(config: &Config) -> String {
    format!(
        r#"// Generated by benches/benches/suites.rs; do not edit.
//! {tests} tasks on one current-thread runtime, each making {requests} requests in a row.
use support::*;

fn main() {{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {{
        let addr = start_server().await;
        let tasks: Vec<_> = (0..{tests})
            .map(|_| {{
                tokio::spawn(async move {{
                    let mut client = Client::connect(addr).await;
                    for _ in 0..{requests} {{
                        client.get("/slow?ms=1").await;
                    }}
                }})
            }})
            .collect();
        for task in tasks {{
            task.await.unwrap();
        }}
    }});
}}
"#,
        tests = config.http_tests,
        requests = config.http_requests,
    )
}

/// All the targets of the generated project: (target name, harness?, source).
fn targets(config: &Config) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    for suite in [Suite::Timer, Suite::Trivial, Suite::Http, Suite::Suspended] {
        for peer in ASYNC_PEERS {
            out.push((
                target_name(peer, suite),
                peer != Peer::Portaltest,
                test_source(peer, suite, config),
            ));
        }
    }
    out.push((
        target_name(Peer::LibtestPlain, Suite::Trivial),
        true,
        test_source(Peer::LibtestPlain, Suite::Trivial, config),
    ));
    out.push(("http_baseline".into(), false, http_baseline_source(config)));
    out
}

fn target_name(peer: Peer, suite: Suite) -> String {
    format!("{}_{}", suite.slug(), peer.slug())
}

/// Writes `contents` unless the file already holds it (keeps cargo's cache fresh).
fn write_if_changed(path: &Path, contents: &str) -> io::Result<()> {
    if fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    fs::create_dir_all(path.parent().unwrap())?;
    fs::write(path, contents)
}

/// Generates the project in `dir`; returns the target names.
fn generate(dir: &Path, workspace: &Path, config: &Config) -> io::Result<Vec<String>> {
    let harness = workspace.join("harness");
    let mut manifest = format!(
        r#"# Generated by benches/benches/suites.rs; do not edit.
[package]
name = "bench-suites-{mode}"
version = "0.0.0"
edition = "2021"
publish = false

# Not a member of the main workspace.
[workspace]

[lib]
name = "support"
path = "src/lib.rs"

[dependencies]
portaltest = {{ path = {harness:?} }}
tokio = {{ version = "1.40", features = ["rt", "rt-multi-thread", "time", "sync", "net", "macros", "io-util"] }}
"#,
        mode = config.mode(),
        harness = harness.display().to_string(),
    );
    let mut names = Vec::new();
    for (name, harness, source) in targets(config) {
        let _ = write!(
            manifest,
            "\n[[test]]\nname = \"{name}\"\npath = \"tests/{name}.rs\"\nharness = {harness}\n"
        );
        write_if_changed(&dir.join("tests").join(format!("{name}.rs")), &source)?;
        names.push(name);
    }
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(&dir.join("src/lib.rs"), SUPPORT_LIB)?;
    // Start from the workspace's versions; cargo prunes what this project does not use.
    if !dir.join("Cargo.lock").exists() {
        fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    }
    Ok(names)
}

/// Builds the project in release mode; returns the build time and the test binaries
/// by target name.
fn build(dir: &Path, target_dir: &Path) -> (Duration, BTreeMap<String, PathBuf>) {
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
    assert!(
        output.status.success(),
        "building the generated suites failed"
    );
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
    }
    (elapsed, binaries)
}

// ---------------------------------------------------------------------------------
// Measuring one run
// ---------------------------------------------------------------------------------

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Passed,
    /// Exit code, or 128 + signal number.
    Failed(i32),
    TimedOut,
}

/// One run of a child.
#[derive(Clone, Copy, Debug)]
struct Run {
    wall: Duration,
    /// Peak resident set size, KiB.
    max_rss_kib: u64,
    end: End,
}

/// Blocks until process `pid` (a child of ours) exits and reaps it; returns its raw
/// wait status and resource usage.
fn wait4(pid: libc::pid_t) -> io::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    loop {
        // SAFETY: `status` and `usage` are valid, writable and live for the call;
        // `usage` is zero-initialised (a valid `rusage`: plain integers), so
        // `assume_init` is sound whether or not the kernel filled it in. `pid` is a
        // child of this process that nothing else waits for (std's `Child` is never
        // waited on), so reaping it here cannot disturb other code.
        let (ret, usage) = unsafe {
            (
                libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()),
                usage.assume_init(),
            )
        };
        if ret == pid {
            return Ok((status, usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
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
        // Linux reports kilobytes.
        max_rss_kib: usage.ru_maxrss as u64,
        end,
    }
}

/// The runs of one row, summarised.
#[derive(Clone, Debug)]
struct Stats {
    runs: Vec<Run>,
}

impl Stats {
    fn ok(&self) -> bool {
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
    fn wall(&self) -> f64 {
        Self::median(self.runs.iter().map(|r| r.wall.as_secs_f64()).collect())
    }

    /// Median peak RSS, KiB.
    fn rss(&self) -> f64 {
        Self::median(self.runs.iter().map(|r| r.max_rss_kib as f64).collect())
    }

    /// "passed", or what went wrong.
    fn verdict(&self) -> String {
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
struct Runner {
    binaries: BTreeMap<String, PathBuf>,
    logs: PathBuf,
    timeout: Duration,
}

impl Runner {
    /// Runs target `name` with `args` and `env` `repeats` times, stopping early if
    /// it times out (one hung run is enough to know).
    fn measure(&self, name: &str, args: &[String], env: &[(&str, &str)], repeats: usize) -> Stats {
        let binary = &self.binaries[name];
        let log = self.logs.join(format!("{name}.log"));
        let mut runs = Vec::new();
        for _ in 0..repeats {
            let mut command = Command::new(binary);
            command.args(args).env_remove("RUST_TEST_THREADS");
            for (key, value) in env {
                command.env(key, value);
            }
            let run = run_once(&mut command, &log, self.timeout);
            runs.push(run);
            if run.end == End::TimedOut {
                break;
            }
        }
        let stats = Stats { runs };
        eprintln!(
            "  {name} {}: {:.3} s, {:.1} MiB, {}",
            args.join(" "),
            stats.wall(),
            stats.rss() / 1024.0,
            stats.verdict()
        );
        if !stats.ok() {
            eprintln!("    (output of the last run: {})", log.display());
        }
        stats
    }
}

// ---------------------------------------------------------------------------------
// The workloads and the table
// ---------------------------------------------------------------------------------

/// One row of the table.
struct Row {
    workload: String,
    peer: String,
    how: String,
    stats: Stats,
    /// Value shown in the "measure" column instead of wall/RSS (workload 4).
    derived: Option<String>,
    /// Ratio peer / portaltest, already formatted.
    ratio: String,
    target: String,
}

impl Row {
    /// A row of a timed run of `peer`, with its ratio to portaltest's run `base`.
    fn timed(
        workload: String,
        peer: Peer,
        how: String,
        stats: Stats,
        base: &Stats,
        target: String,
    ) -> Row {
        let ratio = if peer == Peer::Portaltest {
            "1".into()
        } else {
            ratio(&stats, base)
        };
        Row {
            workload,
            peer: peer.label().into(),
            how,
            stats,
            derived: None,
            ratio,
            target,
        }
    }
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

fn ratio(peer: &Stats, portaltest: &Stats) -> String {
    if !peer.ok() || !portaltest.ok() {
        return "n/a".into();
    }
    format!(
        "{:.2}x wall, {:.2}x RSS",
        peer.wall() / portaltest.wall(),
        peer.rss() / portaltest.rss()
    )
}

fn met(ok: bool, what: String) -> String {
    if ok {
        format!("met: {what}")
    } else {
        format!("**not met**: {what}")
    }
}

/// The chart's data: per peer, (number of tests, runs).
type Chart = Vec<(Peer, Vec<(usize, Stats)>)>;

fn run_workloads(runner: &Runner, config: &Config) -> (Vec<Row>, Chart) {
    let mut rows = Vec::new();
    let reps = config.repeats;

    // Chart (and workload 1): timer tests, prefix selected with --skip.
    let mut chart: Chart = Vec::new();
    if config.wants("W1") || config.wants("chart") {
        eprintln!("workload 1 and chart: tests that await a 100 ms timer");
        for peer in ASYNC_PEERS {
            let mut points = Vec::new();
            for &count in &config.chart_counts {
                let is_w1 = count == config.timer_tests;
                if !(is_w1 && config.wants("W1") || config.wants("chart")) {
                    continue;
                }
                let repeats = if is_w1 { reps } else { config.chart_repeats };
                let args = timer_prefix_args(count, config);
                let stats = runner.measure(&target_name(peer, Suite::Timer), &args, &[], repeats);
                points.push((count, stats));
            }
            chart.push((peer, points));
        }
        if config.wants("W1") {
            let w1 = |peer: Peer| {
                chart
                    .iter()
                    .find(|(p, _)| *p == peer)
                    .and_then(|(_, pts)| pts.iter().find(|(c, _)| *c == config.timer_tests))
                    .map(|(_, s)| s.clone())
                    .unwrap()
            };
            let base = w1(Peer::Portaltest);
            for peer in ASYNC_PEERS {
                let stats = w1(peer);
                let target = if peer == Peer::Portaltest {
                    met(stats.ok() && stats.wall() < 0.5, "< 0.5 s wall".into())
                } else {
                    String::new()
                };
                rows.push(Row::timed(
                    format!("1. {} tests await a 100 ms timer", config.timer_tests),
                    peer,
                    "default --test-threads".into(),
                    stats,
                    &base,
                    target,
                ));
            }
        }
    }

    // Workload 2: trivial tests.
    if config.wants("W2") {
        eprintln!("workload 2: trivial tests");
        let mut all = Vec::new();
        for peer in [
            Peer::Portaltest,
            Peer::TokioTest,
            Peer::BlockOn,
            Peer::LibtestPlain,
        ] {
            let stats = runner.measure(&target_name(peer, Suite::Trivial), &[], &[], reps);
            all.push((peer, stats));
        }
        let base = all[0].1.clone();
        let plain = all[3].1.clone();
        for (peer, stats) in all {
            let target = if peer == Peer::Portaltest {
                met(
                    stats.ok() && plain.ok() && stats.wall() <= plain.wall(),
                    format!("wall <= libtest #[test] ({})", secs(plain.wall())),
                )
            } else {
                String::new()
            };
            rows.push(Row::timed(
                format!("2. {} trivial tests", config.trivial_tests),
                peer,
                "default --test-threads".into(),
                stats,
                &base,
                target,
            ));
        }
    }

    // Workload 3: HTTP.
    if config.wants("W3") {
        eprintln!("workload 3: HTTP requests to one in-process server");
        let reference = runner.measure("http_baseline", &[], &[], reps);
        let mut all = Vec::new();
        for peer in ASYNC_PEERS {
            all.push((
                peer,
                runner.measure(&target_name(peer, Suite::Http), &[], &[], reps),
            ));
        }
        let base = all[0].1.clone();
        let total = config.http_tests * config.http_requests;
        let workload = format!(
            "3. {} tests x {} HTTP requests (1 ms each)",
            config.http_tests, config.http_requests
        );
        for (peer, stats) in all {
            let (how, target) = match peer {
                Peer::Portaltest => (
                    "one server (shared fixture), a keep-alive connection per test".to_string(),
                    met(
                        stats.ok() && reference.ok() && stats.wall() <= 2.0 * reference.wall(),
                        format!("<= 2x one async client ({})", secs(2.0 * reference.wall())),
                    ),
                ),
                Peer::TokioTest => (
                    "a server per test (a static one dies with the first test's runtime)".into(),
                    String::new(),
                ),
                _ => (
                    "one server on the shared runtime (static), a connection per test".into(),
                    String::new(),
                ),
            };
            rows.push(Row::timed(
                workload.clone(),
                peer,
                how,
                stats,
                &base,
                target,
            ));
        }
        rows.push(Row {
            workload,
            peer: "reference: one async client, no harness".into(),
            how: format!(
                "{} tasks x {} requests in a row, one current-thread runtime ({total} requests)",
                config.http_tests, config.http_requests
            ),
            ratio: ratio(&reference, &base),
            stats: reference,
            derived: None,
            target: String::new(),
        });
    }

    // Workload 4: all tests suspended at once on one barrier.
    if config.wants("W4") {
        eprintln!("workload 4: tests suspended at the same time");
        let n = config.suspended_tests;
        let one = last_test_name(Suite::Suspended, config);
        let mut base_per_test = None;
        for peer in ASYNC_PEERS {
            let name = target_name(peer, Suite::Suspended);
            // Every harness runs at most --test-threads tests at once (libtest: one OS
            // thread each; portaltest: 4,096 in flight by default), and the barrier opens
            // only when all n are in: so each runs with --test-threads n.
            let args: Vec<String> = vec!["--test-threads".into(), n.to_string()];
            let how = if peer == Peer::Portaltest {
                format!("--test-threads {n} (all in flight, one thread)")
            } else {
                format!("--test-threads {n} (an OS thread per test)")
            };
            // Every test is suspended within a second or two; a run still going after
            // a minute is stuck (a test that could not start never reaches the barrier).
            let short = Runner {
                timeout: runner.timeout.min(Duration::from_secs(60)),
                ..runner.clone()
            };
            let all = short.measure(&name, &args, &[], reps);
            let single_args = vec!["--exact".to_string(), one.clone()];
            let single = runner.measure(&name, &single_args, &[("SUITE_GATE", "1")], reps);
            let per_test =
                (all.ok() && single.ok()).then(|| (all.rss() - single.rss()) / (n as f64 - 1.0));
            let derived = per_test.map_or_else(
                || "n/a".into(),
                |kib| {
                    format!(
                        "{kib:.1} KiB/test = ({} - {} for 1 test) / {}",
                        mib(all.rss()),
                        mib(single.rss()),
                        n - 1
                    )
                },
            );
            if peer == Peer::Portaltest {
                base_per_test = per_test;
            }
            let target = if peer == Peer::Portaltest {
                met(
                    per_test.is_some_and(|k| k < 32.0),
                    "< 32 KiB per suspended test".into(),
                )
            } else {
                String::new()
            };
            let ratio = match (peer, per_test, base_per_test) {
                (Peer::Portaltest, _, _) => "1".into(),
                (_, Some(p), Some(b)) => format!("{:.2}x RSS per test", p / b),
                _ => "n/a".into(),
            };
            rows.push(Row {
                workload: format!("4. {n} tests suspended at once (peak RSS per test)"),
                peer: peer.label().into(),
                how,
                stats: all,
                derived: Some(derived),
                ratio,
                target,
            });
        }
    }

    // Workload 5: start-up of --list and --exact on the trivial binaries.
    if config.wants("W5") {
        eprintln!("workload 5: --list and --exact start-up");
        let one = last_test_name(Suite::Trivial, config);
        let list: Vec<String> = ["--list", "--format", "terse"].map(String::from).into();
        let exact: Vec<String> = vec!["--exact".into(), one.clone()];
        for (what, args) in [
            ("--list --format terse", list),
            (&*format!("--exact {one}"), exact),
        ] {
            let mut all = Vec::new();
            for peer in [
                Peer::Portaltest,
                Peer::TokioTest,
                Peer::BlockOn,
                Peer::LibtestPlain,
            ] {
                let stats = runner.measure(&target_name(peer, Suite::Trivial), &args, &[], reps);
                all.push((peer, stats));
            }
            let base = all[0].1.clone();
            for (peer, stats) in all {
                let target = if peer == Peer::Portaltest && what.starts_with("--exact") {
                    met(
                        stats.ok() && stats.wall() < 0.020,
                        "< 20 ms per --exact run".into(),
                    )
                } else {
                    String::new()
                };
                rows.push(Row::timed(
                    format!("5. `{what}` on a {}-test binary", config.trivial_tests),
                    peer,
                    String::new(),
                    stats,
                    &base,
                    target,
                ));
            }
        }
    }

    (rows, chart)
}

/// The machine: CPU model, core count, memory, OS, rustc.
fn machine() -> String {
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

fn chart_svg(path: &Path, chart: &Chart, subtitle: &str) {
    let points: Vec<(Peer, Vec<(f64, f64)>)> = chart
        .iter()
        .map(|(peer, pts)| {
            let ok = pts
                .iter()
                .filter(|(_, s)| s.ok())
                .map(|(c, s)| (*c as f64, s.wall()))
                .collect();
            (*peer, ok)
        })
        .collect();
    let all: Vec<(f64, f64)> = points.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    if all.is_empty() {
        return;
    }
    let (x_min, x_max) = all.iter().fold((f64::MAX, 0f64), |(lo, hi), (x, _)| {
        (lo.min(*x), hi.max(*x))
    });
    let (y_min, y_max) = all.iter().fold((f64::MAX, 0f64), |(lo, hi), (_, y)| {
        (lo.min(*y), hi.max(*y))
    });
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    let mut ctx = ChartBuilder::on(&root)
        .caption(
            "Wall time of a test binary vs number of I/O-bound tests (each awaits a 100 ms timer)",
            ("sans-serif", 17),
        )
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min * 0.8..x_max * 1.25).log_scale(),
            (y_min * 0.7..y_max * 1.5).log_scale(),
        )
        .unwrap();
    ctx.configure_mesh()
        .x_desc(format!("number of tests (log scale); {subtitle}"))
        .y_desc("wall time, s (log scale)")
        .x_labels(20)
        .y_labels(20)
        // Only the 1-2-5 values: plotters' log axis also labels 30, 40, ... 900, which
        // crowd into each other.
        .x_label_formatter(&|x| {
            let v = x.round();
            let nice = [1.0, 2.0, 5.0].iter().any(|m| {
                let decade = v / m;
                decade >= 1.0 && (decade.log10() - decade.log10().round()).abs() < 1e-9
            });
            if nice && (x - v).abs() < 1e-6 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| {
            if *y < 1.0 {
                format!("{y:.2}")
            } else {
                format!("{y:.0}")
            }
        })
        .draw()
        .unwrap();
    let colors = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
    ];
    for ((peer, pts), color) in points.iter().zip(colors) {
        // The two libtest peers nearly coincide: #[tokio::test] is drawn wide and the
        // block-on peer dashed on top of it, so both stay visible.
        let width = if *peer == Peer::TokioTest { 6 } else { 2 };
        let style = ShapeStyle::from(&color).stroke_width(width);
        let series = if *peer == Peer::BlockOn {
            ctx.draw_series(DashedLineSeries::new(pts.iter().copied(), 10, 6, style))
        } else {
            ctx.draw_series(LineSeries::new(pts.iter().copied(), style))
        };
        series
            .unwrap()
            .label(peer.label())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        ctx.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .unwrap();
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .unwrap();
    root.present().unwrap();
}

/// The chart's runs as CSV: `peer,tests,run,wall_s,max_rss_kib,end`.
fn chart_csv(chart: &Chart) -> String {
    let mut out = String::from("peer,tests,run,wall_s,max_rss_kib,end\n");
    for (peer, points) in chart {
        for (count, stats) in points {
            for (i, run) in stats.runs.iter().enumerate() {
                let end = match run.end {
                    End::Passed => "passed".to_string(),
                    End::Failed(code) => format!("failed:{code}"),
                    End::TimedOut => "timed-out".to_string(),
                };
                let _ = writeln!(
                    out,
                    "{},{count},{i},{:.6},{},{end}",
                    peer.slug(),
                    run.wall.as_secs_f64(),
                    run.max_rss_kib
                );
            }
        }
    }
    out
}

/// Reads what [`chart_csv`] wrote.
fn parse_chart_csv(text: &str) -> Chart {
    let mut chart: Chart = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(peer), [_, count, _, wall, rss, end]) = (Peer::from_slug(f[0]), f.as_slice())
        else {
            continue;
        };
        let run = Run {
            wall: Duration::from_secs_f64(wall.parse().unwrap()),
            max_rss_kib: rss.parse().unwrap(),
            end: match *end {
                "passed" => End::Passed,
                "timed-out" => End::TimedOut,
                other => End::Failed(other.trim_start_matches("failed:").parse().unwrap_or(-1)),
            },
        };
        let count: usize = count.parse().unwrap();
        if chart.last().is_none_or(|(p, _)| *p != peer) {
            chart.push((peer, Vec::new()));
        }
        let points = &mut chart.last_mut().unwrap().1;
        match points.last_mut() {
            Some((c, stats)) if *c == count => stats.runs.push(run),
            _ => points.push((count, Stats { runs: vec![run] })),
        }
    }
    chart
}

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
    let results = bench_dir.join("results");
    let suffix = if config.quick { "-quick" } else { "" };
    let svg = results.join(format!("io_bound_tests{suffix}.svg"));
    let csv = results.join(format!("io_bound_tests{suffix}.csv"));
    if config.replot {
        let chart = parse_chart_csv(&fs::read_to_string(&csv).expect("read the chart's CSV"));
        chart_svg(&svg, &chart, &machine());
        eprintln!("chart: {}", svg.display());
        return;
    }
    let root = target_dir.join("bench-suites");
    let project = root.join(config.mode());
    eprintln!(
        "suites ({} mode): generating {}",
        config.mode(),
        project.display()
    );
    generate(&project, &workspace, &config).expect("generate the suites");
    eprintln!("building (cargo build --release --tests) ...");
    let (build_time, binaries) = build(&project, &root.join("target"));
    eprintln!("built in {:.1} s", build_time.as_secs_f64());
    let logs = project.join("logs");
    fs::create_dir_all(&logs).expect("logs dir");
    let runner = Runner {
        binaries,
        logs,
        timeout: config.timeout,
    };
    let (rows, chart) = run_workloads(&runner, &config);

    let machine = machine();
    let command = format!(
        "cargo bench -p benches --bench suites{}",
        if config.quick { " -- --quick" } else { "" }
    );
    let mut md = format!(
        "# portaltest suites vs libtest ({} mode)\n\n\
         Machine: {machine}.  \nCommand: `{command}` (generated suites built with \
         `cargo build --release --tests`, {:.0} s this time{}).  \n\
         Medians of {} runs per row (wall time from spawn to exit, peak RSS = \
         `ru_maxrss` of the child); ratios are peer / portaltest from this session.\n\n",
        config.mode(),
        build_time.as_secs_f64(),
        if build_time.as_secs() < 5 {
            ", already built"
        } else {
            ""
        },
        config.repeats
    );
    md.push_str(&table(&rows));
    md.push_str(NOTES);
    let _ = writeln!(
        md,
        "\nWhole bench run (generation, build, all runs): {:.0} s.",
        total.elapsed().as_secs_f64()
    );
    println!("{md}");
    fs::create_dir_all(&results).expect("results dir");
    // A partial run (`--only`) prints its rows but leaves the committed results alone.
    let complete = config.only.is_none();
    if complete {
        fs::write(results.join(format!("suites{suffix}.md")), &md).expect("write table");
    }
    if complete {
        fs::write(&csv, chart_csv(&chart)).expect("write the chart's CSV");
        chart_svg(&svg, &chart, &machine);
        eprintln!("chart: {}", svg.display());
    }
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
- **libtest + `#[test]`, no runtime**: the trivial bodies without any async, workload 2's target.
- Workload 1 and the chart use one binary per peer holding the chart's largest number of timer
  tests; smaller counts are selected with `--skip g<k>::` (the rest are filtered out, not run).
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
";
