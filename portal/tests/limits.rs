//! Limits of the stack pool:
//!
//! * Too many portals at once: past the process-wide limit of mapped portal stacks,
//!   derived from `vm.max_map_count`, opening a portal panics with a message that names
//!   the limit and the fixes, and the rest of the process keeps enough memory mappings
//!   to spawn threads. `STACKPORTAL_MAX_STACKS` overrides the limit.
//! * Deep portals: the pool does not keep every page that its stacks' portals touched.
//!
//! Each case runs in a child process (this test binary re-executes itself with an
//! environment variable): the limit is process-wide and read once, and resident memory
//! is measured for the whole process.

#![cfg(target_os = "linux")]

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::process::Command;
use std::task::{Context, Poll};

use futures::task::noop_waker;
use stackportal::{await_, with_portal_run_sync, Portal};

mod test_env;

const CHILD_ENV: &str = "STACKPORTAL_LIMITS_CHILD";
const MAX_STACKS_ENV: &str = "STACKPORTAL_MAX_STACKS";

/// Whether this process is the child that runs `case`.
fn is_child(case: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(case)
}

/// Runs `test` of this binary in a child process with `CHILD_ENV=case` and the given
/// `STACKPORTAL_MAX_STACKS`; returns whether it succeeded and its stdout + stderr.
///
/// Default-sized portals get 64 KiB stacks there: the limit counts stacks whatever
/// their size, and small ones keep tens of thousands of them within any overcommit
/// policy.
fn run_child(case: &str, test: &str, max_stacks: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, case)
        .env("STACKPORTAL_STACK_SIZE", "65536");
    match max_stacks {
        Some(value) => cmd.env(MAX_STACKS_ENV, value),
        None => cmd.env_remove(MAX_STACKS_ENV),
    };
    let out = cmd.output().unwrap();
    let text = format!(
        "--- child stdout:\n{}\n--- child stderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn poll_once<T>(portal: &mut Portal<T>) -> Poll<T> {
    let waker = noop_waker();
    Pin::new(portal).poll(&mut Context::from_waker(&waker))
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "<not a string>".to_owned(), |s| (*s).to_owned()),
    }
}

fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530)
}

/// The documented rule: a quarter of `vm.max_map_count` (at least 16,384 mappings, at
/// most half) is left to the rest of the process; each portal stack is 2 mappings.
fn documented_limit(max_map_count: usize) -> usize {
    let headroom = (max_map_count / 4).max(16_384).min(max_map_count / 2);
    (max_map_count - headroom) / 2
}

/// Opens suspended portals until one is refused; returns how many were opened and the
/// refusal's message.
fn open_until_refused(portals: &mut Vec<Portal<()>>, at_most: usize) -> (usize, String) {
    let before = portals.len();
    let refused = catch_unwind(AssertUnwindSafe(|| {
        for _ in 0..at_most {
            let mut portal = with_portal_run_sync(|| await_(std::future::pending::<()>()));
            assert!(poll_once(&mut portal).is_pending());
            portals.push(portal);
        }
    }));
    let message = match refused {
        Ok(()) => panic!("{at_most} portals at once were all accepted"),
        Err(payload) => panic_text(payload),
    };
    (portals.len() - before, message)
}

fn spawn_a_thread() {
    let answer = std::thread::spawn(|| 6 * 7)
        .join()
        .expect("a thread can be spawned and joined");
    assert_eq!(answer, 42);
}

/// Child: 100,000 portals at once hit the limit; the process survives it.
fn too_many_portals_child() {
    let expected = match std::env::var(MAX_STACKS_ENV) {
        Ok(n) => n.parse().unwrap(),
        Err(_) => documented_limit(max_map_count()),
    };
    let mut portals = Vec::with_capacity(expected);
    let (opened, message) = open_until_refused(&mut portals, 100_000);
    println!("opened {opened} portals, then: {message}");
    assert_eq!(opened, expected, "refused exactly at the limit");
    assert!(
        message.contains(&format!("{expected} portal stacks are mapped")),
        "says how many are mapped: {message}"
    );
    assert!(
        message.contains(&format!("the limit is {expected} portal stacks")),
        "names the limit: {message}"
    );
    assert!(message.contains("vm.max_map_count"), "{message}");
    assert!(message.contains(MAX_STACKS_ENV), "{message}");
    assert!(message.contains("semaphore"), "{message}");
    assert!(message.contains("Smaller stacks do not help"), "{message}");

    // The rest of the process still has memory mappings to spare.
    spawn_a_thread();

    // Dropping the portals gives their stacks back (the pool keeps a few; the rest are
    // unmapped and uncounted): the full limit is available again.
    drop(portals);
    assert!(
        stackportal::__private::pooled_stacks() > 0,
        "the pool keeps stacks again once fewer are mapped"
    );
    let answer = futures::executor::block_on(with_portal_run_sync(|| 6 * 7));
    assert_eq!(answer, 42);
    let mut portals = Vec::with_capacity(expected);
    let (again, _) = open_until_refused(&mut portals, 100_000);
    assert_eq!(again, expected, "every stack was uncounted when unmapped");
    drop(portals);
    spawn_a_thread();
}

#[test]
fn too_many_portals_at_once_are_refused_and_the_process_survives() {
    const NAME: &str = "too_many_portals_at_once_are_refused_and_the_process_survives";
    if is_child("too-many") {
        return too_many_portals_child();
    }
    // Where the kernel allows many more than 100,000 stacks, test the same rule through
    // the override instead.
    let derived = documented_limit(max_map_count());
    let max_stacks = (derived >= 100_000).then(|| documented_limit(65_530).to_string());
    let (ok, out) = run_child("too-many", NAME, max_stacks.as_deref());
    assert!(ok, "{out}");
    if max_stacks.is_none() {
        let expected = format!("from vm.max_map_count = {}", max_map_count());
        assert!(
            out.contains(&expected),
            "says where the limit comes from: {out}"
        );
    }
}

#[test]
fn the_limit_can_be_set_with_an_environment_variable() {
    const NAME: &str = "the_limit_can_be_set_with_an_environment_variable";
    if is_child("env") {
        let mut portals = Vec::new();
        let (opened, message) = open_until_refused(&mut portals, 1_000);
        assert_eq!(opened, 100);
        assert!(
            message.contains("the limit is 100 portal stacks (set by STACKPORTAL_MAX_STACKS=100)"),
            "{message}"
        );
        return;
    }
    let (ok, out) = run_child("env", NAME, Some("100"));
    assert!(ok, "{out}");
}

#[test]
fn a_bad_limit_in_the_environment_says_what_to_set() {
    const NAME: &str = "a_bad_limit_in_the_environment_says_what_to_set";
    if is_child("bad-env") {
        let refused = catch_unwind(|| with_portal_run_sync(|| ()));
        let message = panic_text(refused.expect_err("a bad limit panics"));
        assert!(
            message.contains("STACKPORTAL_MAX_STACKS=\"lots\" is not a positive number"),
            "{message}"
        );
        assert!(
            message.contains("STACKPORTAL_MAX_STACKS=20000"),
            "{message}"
        );
        return;
    }
    let (ok, out) = run_child("bad-env", NAME, Some("lots"));
    assert!(ok, "{out}");
}

/// Pending on its first poll, ready on the next.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Recursion that writes a 4 KiB local per level, and suspends at the bottom.
#[inline(never)]
fn dig(levels: u32) -> u32 {
    let mut buf = [levels as u8; 4096];
    std::hint::black_box(&mut buf);
    if levels == 0 {
        await_(YieldOnce(false));
        return 0;
    }
    dig(levels - 1) + u32::from(std::hint::black_box(&buf)[levels as usize])
}

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const DEEP_PORTALS: usize = 256;
const DEEP_STACK: usize = 1 << 20;
const LEVELS: u32 = 150;
/// What `dig(LEVELS)` returns: the levels' bytes, read back after the suspension.
const DIG_SUM: u32 = LEVELS * (LEVELS + 1) / 2;

/// What the pool may keep resident (see the module doc of `stacks`): the hot stack,
/// 16 MiB of untrimmed stacks, and of each of at most 256 trimmed ones its top 32 KiB and
/// the 4 KiB marker below.
const POOL_RESIDENT_BOUND_KIB: usize = (DEEP_STACK >> 10) + (16 << 10) + 256 * (32 + 4);

fn deep_portals_child() {
    let open = || {
        stackportal::Builder::new()
            .stack_size(DEEP_STACK)
            .run_sync(|| dig(LEVELS))
    };
    // Warm up whatever is initialised once (and the vector), then measure.
    let mut portals = Vec::with_capacity(DEEP_PORTALS);
    futures::executor::block_on(
        stackportal::Builder::new()
            .stack_size(DEEP_STACK)
            .run_sync(|| 0),
    );
    let before = rss_kib();

    for _ in 0..DEEP_PORTALS {
        let mut portal = open();
        assert!(poll_once(&mut portal).is_pending());
        portals.push(portal);
    }
    let peak = rss_kib();
    for mut portal in portals.drain(..) {
        assert_eq!(poll_once(&mut portal), Poll::Ready(DIG_SUM));
    }
    let after = rss_kib();
    let pooled = stackportal::__private::pooled_stacks();
    println!(
        "rss: before {before} KiB, with {DEEP_PORTALS} deep portals suspended {peak} KiB \
         (+{} KiB), after they finished {after} KiB (+{} KiB); {pooled} stacks pooled; \
         bound +{POOL_RESIDENT_BOUND_KIB} KiB",
        peak - before,
        after.saturating_sub(before),
    );
    assert!(
        peak - before > DEEP_PORTALS * 500,
        "each portal touched 600 KiB of its stack"
    );
    assert_eq!(
        pooled, DEEP_PORTALS,
        "the stacks are kept in the pool, not unmapped"
    );
    // Under a memory checker RSS also counts its shadow memory of the touched stacks.
    if test_env::memcheck().is_none() {
        assert!(
            after.saturating_sub(before) < POOL_RESIDENT_BOUND_KIB,
            "the pool keeps at most {POOL_RESIDENT_BOUND_KIB} KiB resident"
        );
    }

    // The trimmed stacks work as well as fresh ones.
    for _ in 0..DEEP_PORTALS {
        portals.push(open());
    }
    for mut portal in portals.drain(..) {
        assert!(poll_once(&mut portal).is_pending());
        assert_eq!(poll_once(&mut portal), Poll::Ready(DIG_SUM));
    }
}

#[test]
fn the_pool_does_not_keep_deep_stacks_resident() {
    const NAME: &str = "the_pool_does_not_keep_deep_stacks_resident";
    if is_child("deep") {
        return deep_portals_child();
    }
    let (ok, out) = run_child("deep", NAME, None);
    assert!(ok, "{out}");
    // The figures, for `--nocapture`.
    for line in out
        .lines()
        .filter_map(|l| l.find("rss:").map(|at| &l[at..]))
    {
        println!("{line}");
    }
}
