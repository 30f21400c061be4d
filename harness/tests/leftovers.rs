//! `#[test]` fns left in a portaltest target are never compiled; the run names each.

use std::path::Path;
use std::process::Command;

#[test]
fn tests_left_for_libtest_are_named_when_the_run_starts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args([
            "test",
            "-q",
            "-p",
            "portaltest-samples",
            "--test",
            "leftovers",
        ])
        .output()
        .expect("cannot run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    for (name, line) in [("left_behind", 7), ("also_left_behind", 12)] {
        let needle =
            format!("`#[test] fn {name}` (harness/samples/tests/leftovers.rs:{line}) is never run");
        assert!(stderr.contains(&needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(stderr.contains("#[portaltest::test]"), "{stderr}");
}
