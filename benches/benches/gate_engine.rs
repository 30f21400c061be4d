//! The engine's hot paths in instructions (callgrind, through gungraun): the numbers
//! `.ci/perf-gate` holds against `benches/perf-gate.baseline`. Deterministic where a
//! wall-clock benchmark is not, so CI can fail on a regression of a few percent.
//!
//! Run: `cargo bench -p benches --bench gate_engine` (needs valgrind and the
//! `gungraun-runner` binary of the version in benches/Cargo.toml). Each benchmark does
//! 1,000 iterations on a tokio current-thread runtime built in its setup (not counted).

use std::hint::black_box;

use gungraun::{library_benchmark, library_benchmark_group, main};
use stackportal::{await_, with_portal_run, with_portal_run_sync};
use tokio::runtime::{Builder, Runtime};
use tokio::task::yield_now;

const N: u32 = 1_000;

fn runtime() -> Runtime {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    // Warm up what is built once per thread (the stack pool, the runtime's context),
    // so that each benchmark counts its steady state.
    rt.block_on(with_portal_run_sync(|| await_(yield_now())));
    rt
}

// The baseline: a bare checkpoint in async code.
#[library_benchmark(setup = runtime)]
fn checkpoint(rt: Runtime) {
    rt.block_on(async {
        for _ in 0..N {
            yield_now().await;
        }
    });
}

// Checkpoints inside one portal.
#[library_benchmark(setup = runtime)]
fn checkpoint_in_portal(rt: Runtime) {
    rt.block_on(with_portal_run(async {
        for _ in 0..N {
            yield_now().await;
        }
    }));
}

// `await_(checkpoint)` from sync code, one portal.
#[library_benchmark(setup = runtime)]
fn await_checkpoint(rt: Runtime) {
    rt.block_on(with_portal_run_sync(|| {
        for _ in 0..N {
            await_(yield_now());
        }
    }));
}

// `await_` of a ready future: what `await_` itself costs, without a suspension.
#[library_benchmark(setup = runtime)]
fn await_ready(rt: Runtime) {
    rt.block_on(with_portal_run_sync(|| {
        for i in 0..N {
            black_box(await_(std::future::ready(black_box(i))));
        }
    }));
}

// An empty sync portal created and run.
#[library_benchmark(setup = runtime)]
fn empty_portal(rt: Runtime) {
    rt.block_on(async {
        for i in 0..N {
            black_box(with_portal_run_sync(move || black_box(i)).await);
        }
    });
}

// A new sync portal + `await_(checkpoint)`.
#[library_benchmark(setup = runtime)]
fn new_portal_await(rt: Runtime) {
    rt.block_on(async {
        for _ in 0..N {
            with_portal_run_sync(|| await_(yield_now())).await;
        }
    });
}

library_benchmark_group!(
    name = engine;
    benchmarks = checkpoint, checkpoint_in_portal, await_checkpoint, await_ready, empty_portal, new_portal_await
);

main!(library_benchmark_groups = engine);
