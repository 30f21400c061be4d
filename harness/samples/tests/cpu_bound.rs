//! Tests that keep the runtime thread busy (the run's CPU-bound hint), or, with
//! `CPU_SAMPLE_WAIT=1`, that wait as long instead.

use std::time::{Duration, Instant};

fn work(for_how_long: Duration) {
    if std::env::var_os("CPU_SAMPLE_WAIT").is_some() {
        portaltest::await_(tokio::time::sleep(for_how_long));
        return;
    }
    let start = Instant::now();
    let mut x = 1u64;
    while start.elapsed() < for_how_long {
        for _ in 0..10_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
    }
    std::hint::black_box(x);
}

#[portaltest::test(blocking_warn = "0ms")]
fn spins_first() {
    work(Duration::from_millis(700));
}

#[portaltest::test(blocking_warn = "0ms")]
fn spins_second() {
    work(Duration::from_millis(700));
}

portaltest::main!();
