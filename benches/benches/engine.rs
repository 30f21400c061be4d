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

    let md = document(&cases, &ns, &ratios, iters, peer_iters, rounds, quick);
    println!("{md}");
    // The table goes where the command says it went; quick and filtered runs (CI's, a
    // developer's look at one case) never overwrite the committed results.
    let bench_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = if quick || filter.is_some() {
        let exe = std::env::current_exe().expect("current_exe");
        // This binary is <target dir>/release/deps/engine-<hash>.
        let dir = exe
            .ancestors()
            .nth(3)
            .expect("<target>/<profile>/deps")
            .join("bench-engine");
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir.join("engine-quick.md")
    } else {
        bench_dir.join("results").join("engine.md")
    };
    std::fs::write(&out, &md).expect("write the table");
    eprintln!("engine: table written to {}", out.display());
}

/// The ratio targets, by case name: `(case, target)` of `case / baseline`.
const TARGETS: &[(&str, f64)] = &[
    ("checkpoints inside one portal", 1.05),
    ("await_(checkpoint) each, one async portal", 1.10),
    ("await_(checkpoint) each, one sync portal", 1.10),
    ("new sync portal + await_(checkpoint), each", 1.5),
];

/// Min and max of `v`.
fn spread(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)))
}

fn document(
    cases: &[&Case],
    ns: &[Vec<f64>],
    ratios: &[Vec<f64>],
    iters: u64,
    peer_iters: u64,
    rounds: usize,
    quick: bool,
) -> String {
    use std::fmt::Write as _;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# stackportal engine benchmark\n\n\
         `cargo bench -p benches --bench engine{}`, {}. {iters} iterations per case \
         ({peer_iters} for peers) on a tokio current-thread runtime, {rounds} rounds that \
         interleave the cases after a warm-up. `ns/iter`: median over the rounds, with \
         the smallest and largest round. `ratio`: the median over the rounds of each \
         round's ratio to that round's bare checkpoint (so it is not the quotient of the \
         medians beside it), with its smallest and largest. Targets are reported, never \
         enforced: CI's gate counts instructions (`.ci/perf-gate`).\n",
        if quick { " -- --quick" } else { "" },
        machine()
    );
    let _ = writeln!(
        md,
        "| case | ns/iter | ns/iter min-max | ratio | ratio min-max | target |\n|---|---:|---:|---:|---:|---|"
    );
    for (i, case) in cases.iter().enumerate() {
        let (nlo, nhi) = spread(&ns[i]);
        let (rlo, rhi) = spread(&ratios[i]);
        let ratio = median(ratios[i].clone());
        let target = TARGETS
            .iter()
            .find(|(name, _)| *name == case.name)
            .map(|(_, t)| {
                format!(
                    "<= {t:.2}x: {}",
                    if ratio <= *t { "met" } else { "**missed**" }
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {:.1} | {nlo:.1}-{nhi:.1} | {ratio:.2}x | {rlo:.2}-{rhi:.2}x | {target} |",
            case.name,
            median(ns[i].clone())
        );
    }
    // The empty sync portal against its peer, round by round (target: <= 0.5x).
    let find = |name: &str| cases.iter().position(|c| c.name == name);
    if let (Some(portal), Some(spawn)) = (
        find("sync portal creation, empty body"),
        find("peer: tokio::spawn(async {}) + await its JoinHandle, each"),
    ) {
        let per_round: Vec<f64> = ns[portal]
            .iter()
            .zip(&ns[spawn])
            .map(|(p, s)| p / s)
            .collect();
        let (lo, hi) = spread(&per_round);
        let m = median(per_round);
        let _ = writeln!(
            md,
            "\nAn empty sync portal created and run costs {m:.2}x a `tokio::spawn(async {{}})` + \
             awaiting its `JoinHandle` (median of per-round ratios, {lo:.2}-{hi:.2}x; target \
             <= 0.5x: {}).",
            if m <= 0.5 { "met" } else { "**missed**" }
        );
    }
    md
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let out = |cmd: &str, arg: &str| {
        std::process::Command::new(cmd)
            .arg(arg)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{}, {cpus} x {cpu}, {}",
        out("date", "+%Y-%m-%d"),
        out("rustc", "--version")
    )
}
