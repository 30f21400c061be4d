//! The randomized fault-injection test's sample (harness/tests/faults.rs): twelve tests
//! whose behaviour the environment picks. `PORTALTEST_FAULT_PLAN` is `NAME=BEHAVIOUR`
//! pairs separated by `;` (a test not named passes), made from a seed by the test; see
//! `behave` for the behaviours.

use std::time::Duration;

use portaltest::{await_, fixture};

fn nap(ms: u64) {
    await_(tokio::time::sleep(Duration::from_millis(ms)));
}

/// This test's behaviour in the plan.
fn plan_of(name: &str) -> String {
    let plan = std::env::var("PORTALTEST_FAULT_PLAN").unwrap_or_default();
    plan.split(';')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or("pass")
        .to_string()
}

/// Whether this is the first time `tag` is asked for in this run (a file in
/// `PORTALTEST_FAULT_STATE` says it was): a crash from a spawned thread happens once
/// even when its test runs again.
fn first_time(tag: &str) -> bool {
    let Some(dir) = std::env::var_os("PORTALTEST_FAULT_STATE") else {
        return true;
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(std::path::Path::new(&dir).join(tag))
        .is_ok()
}

/// Crashes in its setup.
#[fixture]
async fn crashes_in_setup() -> u32 {
    println!("fixture setup crashing");
    std::process::abort();
}

/// Crashes in its teardown.
#[fixture(teardown = crash)]
async fn crashes_in_teardown() -> u32 {
    7
}

async fn crash(_: u32) {
    println!("fixture teardown crashing");
    std::process::abort();
}

fn fork() -> i32 {
    // SAFETY: fork() in a test is what is tested; the callers' children only sleep
    // and `_exit`, or `_exit` at once.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    pid
}

fn behave(name: &str) {
    let behaviour = plan_of(name);
    println!("{name} does {behaviour}");
    match behaviour.as_str() {
        "pass" => nap(50),
        // Holds the runtime thread for a while, within the limit, then passes.
        "busy" => {
            nap(20);
            std::thread::sleep(Duration::from_millis(600));
        }
        "fail" => {
            nap(30);
            assert_eq!(1 + 1, 3, "fails on purpose");
        }
        "panic" => panic!("panics on purpose"),
        "abort" => {
            nap(40);
            std::process::abort();
        }
        "segv" => {
            nap(40);
            // SAFETY: raise() has no memory-safety preconditions; the process dies.
            unsafe {
                libc::raise(libc::SIGSEGV);
            }
        }
        // Blocks the runtime thread past the limit: its worker is killed.
        "block" => std::thread::sleep(Duration::from_secs(60)),
        // Awaits past the limit: cancelled.
        "long_await" => nap(60_000),
        "fork_exit" => {
            if fork() == 0 {
                // SAFETY: ends the child at once, running nothing of the parent's.
                unsafe { libc::_exit(0) };
            }
            nap(30);
        }
        "fork_linger" => {
            if fork() == 0 {
                std::thread::sleep(Duration::from_secs(120));
                // SAFETY: as above.
                unsafe { libc::_exit(0) };
            }
            nap(30);
        }
        "thread_panic" => {
            std::thread::spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                panic!("a spawned thread panics");
            });
        }
        "thread_abort" => {
            if first_time(name) {
                std::thread::Builder::new()
                    .name("fault-aborter".into())
                    .spawn(|| {
                        std::thread::sleep(Duration::from_millis(200));
                        std::process::abort();
                    })
                    .unwrap();
            }
            // In flight when its thread aborts: the worker is then certainly alive, even
            // in a run whose other tests all end sooner.
            nap(400);
        }
        "big_output" => {
            let line = "x".repeat(1023);
            for _ in 0..2048 {
                println!("{line}");
            }
        }
        "setup_crash" => {
            nap(10);
            let _ = crashes_in_setup();
        }
        "teardown_crash" => {
            nap(10);
            assert_eq!(*crashes_in_teardown(), 7);
        }
        exit if exit.starts_with("exit") => {
            nap(20);
            std::process::exit(exit[4..].parse().unwrap_or(1));
        }
        other => panic!("unknown behaviour {other}"),
    }
}

macro_rules! tests {
    ($($name:ident)*) => {
        $(
            #[portaltest::test]
            fn $name() {
                behave(stringify!($name));
            }
        )*
    };
}

tests!(t00 t01 t02 t03 t04 t05 t06 t07 t08 t09 t10 t11);

portaltest::main!();
