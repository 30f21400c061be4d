//! Tests with a clock of their own: `start_paused = true` and `isolated`, next to tests
//! that interleave on the shared runtime.
//!
//! Run with `cargo run -p portaltest --example paused_clock`.

use std::time::Duration;

#[portaltest::test(start_paused = true)]
async fn an_hour_passes_at_once() {
    let start = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(start.elapsed() >= Duration::from_secs(3600));
}

#[portaltest::test(start_paused = true)]
fn sync_code_sees_the_paused_clock_too() {
    let start = tokio::time::Instant::now();
    portaltest::await_(tokio::time::sleep(Duration::from_secs(60)));
    assert!(start.elapsed() >= Duration::from_secs(60));
}

#[portaltest::test(isolated)]
fn may_block_its_own_thread() {
    // An isolated test has a thread of its own: blocking it stalls no other test.
    std::thread::sleep(Duration::from_millis(50));
}

#[portaltest::test]
fn interleaves_on_the_shared_runtime() {
    // Real time, shared with every other non-isolated test.
    portaltest::await_(tokio::time::sleep(Duration::from_millis(50)));
}

portaltest::main!();
