//! The plan of a run (the tests it selected), how its report starts, and its exit code:
//! what the in-process run and the supervisor share.

use std::process::ExitCode;

use crate::fixtures::registry::TestDef;
use crate::report::Report;

/// A test as selected for this run.
pub(crate) struct Selected {
    pub(crate) id: u32,
    pub(crate) def: &'static TestDef,
    pub(crate) name: String,
    pub(crate) ignored: bool,
}

/// What to run.
pub(crate) struct Plan {
    /// Every test of the binary ([`all_tests`](super::all_tests)).
    pub(crate) tests: Vec<(String, &'static TestDef)>,
    /// The tests this run selected, in name order.
    pub(crate) selected: Vec<Selected>,
    /// Tests in flight at most (per worker).
    pub(crate) threads: usize,
    pub(crate) filtered_out: u64,
    /// The seed the tests were shuffled with (`--shuffle`, `--shuffle-seed`).
    pub(crate) shuffle_seed: Option<u64>,
}

/// Reports the ignored tests of `plan` and returns the ids of those to run.
pub(crate) fn start_report(report: &mut Report, plan: &Plan) -> Vec<u32> {
    report.title(plan.selected.len(), plan.shuffle_seed);
    let mut ids = Vec::new();
    for t in &plan.selected {
        if t.ignored {
            report.ignored(t.id, t.def.ignore_reason);
        } else {
            ids.push(t.id);
        }
    }
    ids
}

/// 101 for a failed run, as libtest.
pub(crate) fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(101)
    } else {
        ExitCode::SUCCESS
    }
}
