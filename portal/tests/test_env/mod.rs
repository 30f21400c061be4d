//! The environment the engine's tests run in: the tokio runtime they share, and the
//! knobs for running them under a memory checker (`.ci/memcheck`): everything runs
//! 10-50x slower there, and resident memory includes the checker's shadow memory. The
//! tests still run in full; only their iteration counts, their time scales and the RSS
//! bounds adapt.

#![allow(dead_code)] // each test file uses some of these

use std::time::Duration;

/// The memory checker the tests run under (`STACKPORTAL_TEST_MEMCHECK=valgrind|asan`).
pub fn memcheck() -> Option<String> {
    std::env::var("STACKPORTAL_TEST_MEMCHECK")
        .ok()
        .filter(|v| !v.is_empty())
}

/// `n` divided by `STACKPORTAL_TEST_SCALE` (a positive integer, default 1), at least 1:
/// the iteration counts of the heavy tests.
pub fn scaled(n: u32) -> u32 {
    let divisor = match std::env::var("STACKPORTAL_TEST_SCALE") {
        Ok(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| *d > 0)
            .unwrap_or_else(|| {
                panic!("STACKPORTAL_TEST_SCALE={text:?}: expected a positive integer divisor")
            }),
        Err(_) => 1,
    };
    (n / divisor).max(1)
}

/// `n` milliseconds, stretched 20x under a memory checker, for tests that compare
/// timers with each other.
pub fn ms(n: u64) -> Duration {
    let factor = if memcheck().is_some() { 20 } else { 1 };
    Duration::from_millis(n * factor)
}

/// A current-thread tokio runtime with I/O and time, as the tests use it.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
