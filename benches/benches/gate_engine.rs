//! The engine's hot paths in instructions (callgrind, through gungraun): the numbers
//! `.ci/perf-gate` holds against `benches/perf-gate.baseline`. Deterministic where a
//! wall-clock benchmark is not, so CI can fail on a regression of a few percent.
//!
//! Run: `cargo bench -p benches --bench gate_engine` (needs valgrind and the
//! `gungraun-runner` binary of the version in benches/Cargo.toml). Each benchmark does
//! 10,000 iterations on a tokio current-thread runtime built in its setup.
//!
//! The whole benchmark process is counted (`EntryPoint::None`), setup included (the
//! same in every benchmark, about 3% of the smallest): callgrind's default entry point
//! toggles collection on entering and leaving the benchmark function, and a switch to a
//! portal's stack looks to it like leaving, so most of the portal's code went uncounted.

use std::hint::black_box;

use gungraun::{
    library_benchmark, library_benchmark_group, main, Callgrind, EntryPoint, LibraryBenchmarkConfig,
};
use stackportal::{await_, with_portal_run, with_portal_run_sync};
use tokio::runtime::{Builder, Runtime};
use tokio::task::yield_now;

const N: u32 = 10_000;

fn runtime() -> Runtime {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    // Warm up what is built once per thread (the stack pool, the runtime's context),
    // so that each benchmark counts its steady state.
    rt.block_on(with_portal_run_sync(|| await_(yield_now())));
    rt
}

// The floor: the process, the setup and an empty `block_on`, counted in every other
// benchmark too.
#[library_benchmark(setup = runtime)]
fn floor(rt: Runtime) {
    rt.block_on(async {});
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

// `await_` of a ready future: what `await_` itself costs, without a suspension
// (ten times the iterations: a few instructions each).
#[library_benchmark(setup = runtime)]
fn await_ready(rt: Runtime) {
    rt.block_on(with_portal_run_sync(|| {
        for i in 0..10 * N {
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
    config = LibraryBenchmarkConfig::default()
        .tool(Callgrind::default().entry_point(EntryPoint::None));
    benchmarks = floor, checkpoint, checkpoint_in_portal, await_checkpoint, await_ready, empty_portal, new_portal_await
);

main!(library_benchmark_groups = engine);
