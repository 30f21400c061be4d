//! portaltest's cost per test in instructions (callgrind, through gungraun): whole runs
//! of two test binaries of 1,000 tests each (`src/bin/gate_*_tests.rs`), in one process
//! (`PORTALTEST_IN_PROCESS=1`), the numbers `.ci/perf-gate` holds against
//! `benches/perf-gate.baseline`.
//!
//! Run: `cargo bench -p benches --bench gate_harness` (needs valgrind and the
//! `gungraun-runner` binary of the version in benches/Cargo.toml).

use gungraun::{binary_benchmark, binary_benchmark_group, main};

// 1,000 trivial tests.
#[binary_benchmark]
fn trivial_tests() -> gungraun::Command {
    gungraun::Command::new(env!("CARGO_BIN_EXE_gate_trivial_tests"))
        .env("PORTALTEST_IN_PROCESS", "1")
        .build()
}

// 1,000 tests that each `await_` a checkpoint once.
#[binary_benchmark]
fn awaiting_tests() -> gungraun::Command {
    gungraun::Command::new(env!("CARGO_BIN_EXE_gate_awaiting_tests"))
        .env("PORTALTEST_IN_PROCESS", "1")
        .build()
}

binary_benchmark_group!(
    name = harness;
    benchmarks = trivial_tests, awaiting_tests
);

main!(binary_benchmark_groups = harness);
