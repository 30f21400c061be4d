//! The engine microbenchmark: greenback's `microbenchmark.py` cases on a tokio
//! current-thread runtime, plus the sync-to-async bridges Rust users reach for today.
//!
//! Run: `cargo bench -p benches --bench engine` (add `-- --quick` for a short run).
//! Prints ns per iteration (median of several rounds) and the ratio to the bare
//! checkpoint measured in the same run.

use std::hint::black_box;
use std::time::Instant;

use stackportal::{await_, with_portal_run, with_portal_run_sync};
use tokio::runtime::{Builder, Runtime};
use tokio::task::yield_now;

struct Case {
    name: &'static str,
    /// Runs `n` iterations and returns the elapsed nanoseconds.
    run: fn(&Runtime, &Runtime, u64) -> u128,
}

fn timed(f: impl FnOnce()) -> u128 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos()
}

const CASES: &[Case] = &[
    Case {
        name: "bare checkpoint: yield_now().await (baseline)",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(async {
                    for _ in 0..n {
                        yield_now().await;
                    }
                })
            })
        },
    },
    Case {
        name: "checkpoints inside one portal",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(with_portal_run(async move {
                    for _ in 0..n {
                        yield_now().await;
                    }
                }))
            })
        },
    },
    Case {
        name: "await_(checkpoint) each, one async portal",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(with_portal_run(async move {
                    for _ in 0..n {
                        await_(yield_now());
                    }
                }))
            })
        },
    },
    Case {
        name: "await_(checkpoint) each, one sync portal",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(with_portal_run_sync(move || {
                    for _ in 0..n {
                        await_(yield_now());
                    }
                }))
            })
        },
    },
    Case {
        name: "one await_ around the whole checkpoint loop",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(with_portal_run_sync(move || {
                    await_(async move {
                        for _ in 0..n {
                            yield_now().await;
                        }
                    })
                }))
            })
        },
    },
    Case {
        name: "new async portal + await_(checkpoint), each",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(async {
                    for _ in 0..n {
                        with_portal_run(async { await_(yield_now()) }).await;
                    }
                })
            })
        },
    },
    Case {
        name: "new sync portal + await_(checkpoint), each",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(async {
                    for _ in 0..n {
                        with_portal_run_sync(|| await_(yield_now())).await;
                    }
                })
            })
        },
    },
    Case {
        name: "async portal creation, empty body",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(async {
                    for i in 0..n {
                        black_box(with_portal_run(async move { black_box(i) }).await);
                    }
                })
            })
        },
    },
    Case {
        name: "sync portal creation, empty body",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(async {
                    for i in 0..n {
                        black_box(with_portal_run_sync(move || black_box(i)).await);
                    }
                })
            })
        },
    },
    Case {
        // Issue 16: an empty sync portal should cost at most half of this.
        name: "peer: tokio::spawn(async {}) + await its JoinHandle, each",
        run: |rt, _, n| {
            timed(|| {
                rt.block_on(async {
                    for i in 0..n {
                        black_box(tokio::spawn(async move { black_box(i) }).await.unwrap());
                    }
                })
            })
        },
    },
    Case {
        name: "peer: block_in_place + Handle::block_on(checkpoint) [multi-thread rt]",
        run: |_, mt, n| {
            timed(|| {
                mt.block_on(async {
                    tokio::spawn(async move {
                        for _ in 0..n {
                            tokio::task::block_in_place(|| {
                                tokio::runtime::Handle::current().block_on(yield_now())
                            });
                        }
                    })
                    .await
                    .unwrap()
                })
            })
        },
    },
    Case {
        name: "peer: spawn_blocking(Handle::block_on(checkpoint)) round trip [multi-thread rt]",
        run: |_, mt, n| {
            timed(|| {
                mt.block_on(async {
                    let handle = tokio::runtime::Handle::current();
                    for _ in 0..n {
                        let h = handle.clone();
                        tokio::task::spawn_blocking(move || h.block_on(yield_now()))
                            .await
                            .unwrap();
                    }
                })
            })
        },
    },
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `cargo bench` passes `--bench`; other flags are ignored. A plain argument keeps
    // only the cases whose name contains it (the baseline always runs).
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let (iters, peer_iters, rounds) = if quick {
        (20_000, 2_000, 3)
    } else {
        (200_000, 20_000, 7)
    };
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let mt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cases: Vec<&Case> = CASES
        .iter()
        .enumerate()
        .filter(|(i, case)| {
            *i == 0
                || filter
                    .as_ref()
                    .is_none_or(|f| case.name.contains(f.as_str()))
        })
        .map(|(_, case)| case)
        .collect();
    let iterations = |case: &Case| {
        if case.name.starts_with("peer") {
            peer_iters
        } else {
            iters
        }
    };

    // Rounds interleave the cases, and each case's ratio is taken to the baseline of
    // its own round: slow drifts of the machine (other load, frequency) then cancel
    // out of the ratios instead of landing on whichever case ran during them.
    for case in &cases {
        (case.run)(&rt, &mt, iterations(case) / 10); // warm up (stack pool, allocator, caches)
    }
    let mut ns = vec![Vec::new(); cases.len()];
    let mut ratios = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        let per_iter: Vec<f64> = cases
            .iter()
            .map(|case| {
                let n = iterations(case);
                (case.run)(&rt, &mt, n) as f64 / n as f64
            })
            .collect();
        for (i, t) in per_iter.iter().enumerate() {
            ns[i].push(*t);
            ratios[i].push(t / per_iter[0]);
        }
    }

    println!(
        "stackportal engine benchmark: {iters} iterations per case ({peer_iters} for peers), {rounds} rounds"
    );
    println!(
        "tokio current-thread runtime; medians over the rounds; each ratio is to the bare \
         checkpoint of the same round\n"
    );
    println!("| {:<78} | {:>10} | {:>7} |", "case", "ns/iter", "ratio");
    println!("|{:-<80}|{:->12}|{:->9}|", "", "", "");
    for (i, case) in cases.iter().enumerate() {
        println!(
            "| {:<78} | {:>10.1} | {:>6.2}x |",
            case.name,
            median(ns[i].clone()),
            median(ratios[i].clone())
        );
    }
}
