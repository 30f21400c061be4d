//! The performance gate: compares the instruction counts of the last runs of
//! `benches/gate_engine.rs` and `benches/gate_harness.rs` (their gungraun summaries)
//! with the committed baseline `benches/perf-gate.baseline`.
//!
//! ```text
//! cargo run -p benches --bin perf_gate            # check: exit 1 on a regression
//! cargo run -p benches --bin perf_gate -- update  # write the current counts
//! ```
//!
//! `.ci/perf-gate` runs both benchmarks with `GUNGRAUN_SAVE_SUMMARY=json`, then this.
//! A count more than [`MARGIN`] above its baseline fails; one more than `MARGIN` below
//! passes with a note to update the baseline (so that the gain is kept). Update the
//! baseline deliberately, in a commit that says why the counts moved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How far above its baseline a count may go: instruction counts of the engine's
/// benchmarks repeat exactly, the harness's (whole processes with a watchdog thread)
/// within about 0.3%.
const MARGIN: f64 = 0.03;

const HEADER: &str = "\
# Instruction counts (callgrind `Ir`) of the performance gate's benchmarks, which
# `.ci/perf-gate` holds CI to (a count more than 3% above its line fails the run).
# Written by `cargo run -p benches --bin perf_gate -- update` after `.ci/perf-gate`;
# update it on purpose, in a commit that says why the counts moved. Counts depend on
# the toolchain and the processor's instruction set: update it when either changes.
";

fn main() -> ExitCode {
    let update = match std::env::args().nth(1).as_deref() {
        None | Some("check") => false,
        Some("update") => true,
        Some(other) => {
            eprintln!("perf_gate: unknown command `{other}`; expected `check` or `update`");
            return ExitCode::from(2);
        }
    };
    let bench_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let baseline_path = bench_dir.join("perf-gate.baseline");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| bench_dir.parent().unwrap().join("target"));
    let summaries = target.join("gungraun").join("benches");
    let now = match read_summaries(&summaries) {
        Ok(now) if !now.is_empty() => now,
        Ok(_) => {
            eprintln!(
                "perf_gate: no gungraun summaries under {}: run .ci/perf-gate (or the gate \
                 benches with GUNGRAUN_SAVE_SUMMARY=json) first",
                summaries.display()
            );
            return ExitCode::FAILURE;
        }
        Err(err) => {
            eprintln!("perf_gate: {err}");
            return ExitCode::FAILURE;
        }
    };
    if update {
        let mut text = HEADER.to_string();
        for (name, count) in &now {
            text.push_str(&format!("{name} {count}\n"));
        }
        std::fs::write(&baseline_path, text).expect("write the baseline");
        println!(
            "perf_gate: wrote {} counts to {}",
            now.len(),
            baseline_path.display()
        );
        return ExitCode::SUCCESS;
    }
    let baseline = match std::fs::read_to_string(&baseline_path) {
        Ok(text) => parse_baseline(&text),
        Err(err) => {
            eprintln!("perf_gate: cannot read {}: {err}", baseline_path.display());
            return ExitCode::FAILURE;
        }
    };
    let (table, failures) = compare(&baseline, &now);
    println!("{table}");
    if failures.is_empty() {
        println!(
            "perf_gate: ok, {} counts within +{:.0}% of the baseline",
            now.len(),
            MARGIN * 100.0
        );
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("perf_gate: {f}");
        }
        ExitCode::FAILURE
    }
}

/// `module_path -> Ir` of every gungraun summary under `dir`.
fn read_summaries(dir: &Path) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "summary.json") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let name = json["module_path"]
                    .as_str()
                    .ok_or_else(|| format!("{}: no module_path", path.display()))?;
                let ir = json["profiles"][0]["data"]["total"]["metrics"]["Ir"]["values"]["new"]
                    .as_u64()
                    .ok_or_else(|| format!("{}: no callgrind Ir count", path.display()))?;
                out.insert(name.to_string(), ir);
            }
        }
    }
    Ok(out)
}

fn parse_baseline(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (name, count) = l.rsplit_once(' ')?;
            Some((name.trim().to_string(), count.parse().ok()?))
        })
        .collect()
}

/// The table, and what fails the gate.
fn compare(baseline: &BTreeMap<String, u64>, now: &BTreeMap<String, u64>) -> (String, Vec<String>) {
    let mut table = String::from(
        "| benchmark | baseline Ir | now Ir | now / baseline |\n|---|---:|---:|---:|\n",
    );
    let mut failures = Vec::new();
    for (name, &count) in now {
        match baseline.get(name) {
            Some(&base) => {
                let ratio = count as f64 / base as f64;
                let verdict = if ratio > 1.0 + MARGIN {
                    failures.push(format!(
                        "{name}: {count} instructions, {:+.1}% over its baseline {base} (margin +{:.0}%): \
                         find the regression, or update the baseline in a commit that says why",
                        (ratio - 1.0) * 100.0,
                        MARGIN * 100.0
                    ));
                    " **regressed**"
                } else if ratio < 1.0 - MARGIN {
                    " (faster: update the baseline to keep the gain)"
                } else {
                    ""
                };
                table.push_str(&format!(
                    "| {name} | {base} | {count} | {ratio:.4}x{verdict} |\n"
                ));
            }
            None => {
                failures.push(format!(
                    "{name} has no baseline: add it with `cargo run -p benches --bin perf_gate -- update`"
                ));
                table.push_str(&format!("| {name} | none | {count} | |\n"));
            }
        }
    }
    for name in baseline.keys().filter(|n| !now.contains_key(*n)) {
        failures.push(format!("{name} is in the baseline but did not run"));
    }
    (table, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(items: &[(&str, u64)]) -> BTreeMap<String, u64> {
        items.iter().map(|(n, c)| (n.to_string(), *c)).collect()
    }

    #[test]
    fn a_count_over_the_margin_fails_and_one_within_passes() {
        let base = map(&[("a", 1000), ("b", 1000)]);
        let (_, failures) = compare(&base, &map(&[("a", 1030), ("b", 970)]));
        assert!(failures.is_empty(), "{failures:?}");
        let (table, failures) = compare(&base, &map(&[("a", 1031), ("b", 1000)]));
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].starts_with("a: 1031 instructions, +3.1% over"));
        assert!(table.contains("**regressed**"));
    }

    #[test]
    fn missing_and_new_benchmarks_fail() {
        let (_, failures) = compare(
            &map(&[("a", 1), ("gone", 1)]),
            &map(&[("a", 1), ("new", 1)]),
        );
        assert_eq!(failures.len(), 2, "{failures:?}");
    }

    #[test]
    fn the_baseline_file_round_trips() {
        let text = format!("{HEADER}x::y 12\nz 3\n");
        assert_eq!(parse_baseline(&text), map(&[("x::y", 12), ("z", 3)]));
    }
}
