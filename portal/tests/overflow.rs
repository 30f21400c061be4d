//! Overflowing a portal's stack prints a clear message (a portal stack, its size, how
//! to raise it) before the process dies, instead of a bare SIGSEGV. Each case runs in a
//! child process: this test binary re-executes itself with an environment variable.

#![cfg(unix)]

use std::process::Command;

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let buf = std::hint::black_box([depth as u8; 512]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(buf[7])
}

fn child(case: &str) -> Option<()> {
    if std::env::var("STACKPORTAL_OVERFLOW_CHILD").ok()?.as_str() != case {
        return None;
    }
    let portal = stackportal::Builder::new()
        .stack_size(64 * 1024)
        .name("deep::recursion")
        .run_sync(|| recurse(0));
    futures::executor::block_on(portal);
    unreachable!("the recursion never returns");
}

fn run_child(case: &str, test: &str) -> (Option<i32>, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env("STACKPORTAL_OVERFLOW_CHILD", case)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn overflow_in_a_portal_names_the_portal_stack_and_the_fix() {
    if child("portal").is_some() {
        return;
    }
    let (code, stderr) = run_child(
        "portal",
        "overflow_in_a_portal_names_the_portal_stack_and_the_fix",
    );
    assert_eq!(code, None, "killed by a signal, not an exit: {stderr}");
    assert!(
        stderr.contains("stack overflow in a portal `deep::recursion`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("65536-byte stack"),
        "names the size: {stderr}"
    );
    assert!(
        stderr.contains("STACKPORTAL_STACK_SIZE"),
        "names the fix: {stderr}"
    );
    assert!(
        stderr.contains("Builder::stack_size"),
        "names the fix: {stderr}"
    );
}

#[test]
fn overflow_of_a_thread_stack_still_gets_rusts_own_message() {
    if std::env::var("STACKPORTAL_OVERFLOW_CHILD").as_deref() == Ok("thread") {
        // Install the handler (by running a portal), then overflow a plain thread.
        futures::executor::block_on(stackportal::with_portal_run_sync(|| ()));
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| recurse(0))
            .unwrap()
            .join()
            .unwrap();
        unreachable!();
    }
    let (code, stderr) = run_child(
        "thread",
        "overflow_of_a_thread_stack_still_gets_rusts_own_message",
    );
    assert_eq!(code, None, "killed by a signal: {stderr}");
    assert!(
        stderr.contains("has overflowed its stack"),
        "forwarded to Rust's handler: {stderr}"
    );
    assert!(!stderr.contains("in a portal"), "{stderr}");
}
