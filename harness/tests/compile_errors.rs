//! Compile-fail tests: tiny crates written to a temporary directory and built with
//! `cargo build --offline` (target dir `target/compile-errors`, so dependencies build
//! once), checking that each mistake is a compile error pointing at the user's code in
//! the user's terms.

use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;

/// (target, harness = false?, source).
const CASES: &[(&str, bool, &str)] = &[
    (
        "no_harness_false",
        false,
        "#[portaltest::test]\nfn works() {}\n#[portaltest::test]\nfn also() {}\n\nportaltest::main!();\n",
    ),
    (
        "no_harness_false_no_main",
        false,
        "mod inner {\n    #[portaltest::test]\n    fn works() { panic!() }\n}\n#[portaltest::test]\nfn also() {}\n",
    ),
    (
        "main_first_no_harness_false",
        false,
        "portaltest::main!();\n#[portaltest::test]\nfn works() {}\n",
    ),
    (
        "no_main",
        true,
        "#[portaltest::test]\nfn works() {}\n#[portaltest::test]\nfn also() {}\n",
    ),
    (
        "leftovers",
        true,
        LEFTOVERS,
    ),
    (
        "own_main",
        true,
        "#[portaltest::test]\nfn works() {}\n\
         fn main() -> std::process::ExitCode {\n    portaltest::run_main()\n}\n",
    ),
    (
        "teardown_wrong_signature",
        true,
        "#[portaltest::fixture(teardown = stop)]\nasync fn server() -> String { String::new() }\n\
         async fn stop(_: &String, _extra: u8) {}\n\
         #[portaltest::test]\nfn t() { let _ = server(); }\nportaltest::main!();\n",
    ),
    (
        "teardown_not_async",
        true,
        "#[portaltest::fixture(teardown = stop)]\nasync fn server() -> String { String::new() }\n\
         fn stop(_: &String) {}\n\
         #[portaltest::test]\nfn t() { let _ = server(); }\nportaltest::main!();\n",
    ),
    (
        "test_returns_u32",
        true,
        "#[portaltest::test]\nfn answer() -> u32 { 42 }\nportaltest::main!();\n",
    ),
    (
        "test_in_impl",
        true,
        "struct Suite;\nimpl Suite {\n    #[portaltest::test]\n    fn in_impl() {}\n}\nportaltest::main!();\n",
    ),
    (
        "should_panic_result",
        true,
        "#[portaltest::test]\n#[should_panic]\nfn boom() -> Result<(), String> { Err(\"x\".into()) }\nportaltest::main!();\n",
    ),
    (
        "result_alias_not_fallible",
        true,
        "type R = Result<u32, String>;\n#[portaltest::fixture]\nasync fn port() -> R { Ok(1) }\n\
         #[portaltest::test]\nfn t() { let _ = port(); }\nportaltest::main!();\n",
    ),
    (
        "fallible_not_result",
        true,
        "#[portaltest::fixture(fallible)]\nasync fn port() -> u32 { 1 }\n\
         #[portaltest::test]\nfn t() { let _ = port(); }\nportaltest::main!();\n",
    ),
    (
        "bad_retries",
        true,
        "#[portaltest::test(retries = 101)]\nfn too_many() {}\n\
         #[portaltest::test(timeout = \"5s\", retries = \"3\")]\nfn a_string() {}\n\
         #[portaltest::test(retries = -1)]\nfn negative() {}\n\
         #[portaltest::test(retries = 1, retries = 2)]\nfn twice() {}\nportaltest::main!();\n",
    ),
    (
        "bad_blocking_warn",
        true,
        "#[portaltest::test(blocking_warn = \"soon\")]\nfn not_a_duration() {}\n\
         #[portaltest::test(isolated, blocking_warn = \"1s\")]\nfn isolated() {}\n\
         #[portaltest::test(group = \" \")]\nfn unnamed_group() {}\nportaltest::main!();\n",
    ),
    // Everything above done right: must compile without errors.
    (
        "all_right",
        true,
        "type R = Result<u32, String>;\n\
         #[portaltest::fixture(fallible, teardown = stop)]\nasync fn port() -> R { Ok(1) }\n\
         async fn stop(_port: u32) {}\n\
         #[portaltest::fixture(teardown = close)]\nasync fn name() -> String { String::new() }\n\
         async fn close(_name: &String) {}\n\
         #[portaltest::test]\nfn t() { let _ = port(); let _ = name(); }\n\
         #[portaltest::test(retries = 0)]\nfn r0() {}\n\
         #[portaltest::test(blocking_warn = \"500ms\", retries = 1)]\nfn bw() {}\n\
         #[portaltest::test(blocking_warn = \"0ms\")]\nasync fn bw0() {}\n\
         #[portaltest::test(exclusive, group = \"db\", isolated)]\nfn ex() {}\n\
         #[portaltest::test(timeout = \"5s\", retries = 100, isolated)]\nasync fn r100() {}\n\
         mod nested {\n    #[portaltest::test]\n    async fn a() -> Result<(), String> { Ok(()) }\n\
         #[portaltest::test]\n    #[should_panic]\n    fn b() -> () { panic!() }\n}\n\
         // Tests and fixtures that come out of a macro_rules! macro (hygienic locals).\n\
         macro_rules! make { ($($n:ident)*) => { $( #[portaltest::test] fn $n() -> Result<(), String> { Ok(()) } )* } }\n\
         make!(m1 m2);\n\
         macro_rules! fixture { ($n:ident) => { #[portaltest::fixture] async fn $n() -> Result<u32, String> { Ok(3) } } }\n\
         fixture!(three);\n\
         portaltest::main!();\n",
    ),
];

/// Libtest tests left in a portaltest target, and `#[test]` where it is not an attribute.
const LEFTOVERS: &str = r##"//! ```
//! #[test]
//! fn in_a_doc_example() {}
//! ```
mod helpers;

#[portaltest::test]
fn ported() {}

#[test]
fn plain() {}

// #[test] fn in_a_comment() {}
const _S: &str = "#[test] fn in_a_string() {}";
macro_rules! _make { () => { #[test] fn in_a_macro() {} } }

#[tokio::test(flavor = "current_thread")]
#[ignore]
async fn with_tokio() {}

#[cfg(any())]
#[test]
fn configured_out() {}

portaltest::main!();
"##;

/// `mod helpers;` of `LEFTOVERS`, at tests/helpers/mod.rs.
const LEFTOVER_HELPERS: &str =
    "pub fn helper() {}\n\n#[::core::prelude::v1::test]\nfn in_a_module_file() {}\n";

mod common;
use common::{cargo, workspace_root};

/// Builds every case once; the rendered compiler errors per target.
fn errors() -> &'static HashMap<String, String> {
    static ERRORS: OnceLock<HashMap<String, String>> = OnceLock::new();
    ERRORS.get_or_init(|| {
        let root = workspace_root();
        let dir =
            std::env::temp_dir().join(format!("portaltest-compile-errors-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        let mut manifest = format!(
            "[package]\nname = \"compile-errors\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\nautotests = false\n\n[workspace]\n\n[dev-dependencies]\n\
             portaltest = {{ path = {:?} }}\n\
             tokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n",
            root.join("harness")
        );
        for (name, harness_false, source) in CASES {
            std::fs::write(dir.join("tests").join(format!("{name}.rs")), source).unwrap();
            manifest.push_str(&format!("\n[[test]]\nname = \"{name}\"\n"));
            if *harness_false {
                manifest.push_str("harness = false\n");
            }
        }
        std::fs::create_dir_all(dir.join("tests/helpers")).unwrap();
        std::fs::write(dir.join("tests/helpers/mod.rs"), LEFTOVER_HELPERS).unwrap();
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        // The workspace's lock file: the same dependency versions, available offline.
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        let out = Command::new(cargo())
            .current_dir(&dir)
            .env(
                "CARGO_TARGET_DIR",
                root.join("target").join("compile-errors"),
            )
            .args([
                "build",
                "--offline",
                "--tests",
                "--keep-going",
                "--message-format=json",
            ])
            .output()
            .expect("cannot run cargo");
        let mut errors: HashMap<String, String> = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if msg["reason"] != "compiler-message" || msg["message"]["level"] != "error" {
                continue;
            }
            let target = msg["target"]["name"].as_str().unwrap_or("?").to_string();
            let rendered = msg["message"]["rendered"].as_str().unwrap_or("");
            errors.entry(target).or_default().push_str(rendered);
        }
        assert!(
            !errors.is_empty() || out.status.success(),
            "cargo failed without compiler errors:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
        errors
    })
}

/// The errors of `case`, which must contain every needle.
fn assert_errors(case: &str, needles: &[&str]) {
    let text = errors()
        .get(case)
        .unwrap_or_else(|| panic!("`{case}` compiled without errors"));
    for needle in needles {
        assert!(
            text.contains(needle),
            "errors of `{case}` lack {needle:?}:\n{text}"
        );
    }
}

/// `case` has exactly one error.
fn assert_one_error(case: &str) {
    let text = &errors()[case];
    let count = text.lines().filter(|l| l.starts_with("error")).count();
    assert_eq!(count, 1, "one error only:\n{text}");
}

/// The one message for a target built with libtest's harness.
fn assert_needs_harness_false(case: &str, place: &str) {
    assert_errors(
        case,
        &[
            "this target's portaltest tests need `harness = false`",
            "[[test]]",
            &format!("name = \"{case}\""),
            "harness = false",
            "`portaltest::main!();`",
            place,
        ],
    );
    assert_one_error(case);
}

#[test]
fn libtest_harness_is_an_error_with_main() {
    assert_needs_harness_false("no_harness_false", "tests/no_harness_false.rs:1:1");
}

#[test]
fn libtest_harness_is_an_error_without_main() {
    assert_needs_harness_false(
        "no_harness_false_no_main",
        "tests/no_harness_false_no_main.rs:2:5",
    );
}

#[test]
fn libtest_harness_is_an_error_when_main_comes_first() {
    assert_needs_harness_false(
        "main_first_no_harness_false",
        "tests/main_first_no_harness_false.rs:1:1",
    );
}

#[test]
fn harness_false_without_main_names_main() {
    assert_errors(
        "no_main",
        &[
            "this target has portaltest tests but no `main` to run them: add `portaltest::main!();`",
            "tests/no_main.rs:1:1",
            "portaltest::run_main()",
        ],
    );
    let text = &errors()["no_main"];
    assert_eq!(
        text.matches("no `main` to run them").count(),
        1,
        "once, not per test:\n{text}"
    );
    // rustc's own E0601 does not point at anything of portaltest's as a misplaced `main`.
    assert!(!text.contains("here is a function named `main`"), "{text}");
}

#[test]
fn libtest_tests_left_in_the_target_are_named() {
    assert_errors(
        "leftovers",
        &[
            "3 libtest tests in this portaltest target would never run",
            "#[test] fn plain at tests/leftovers.rs:10",
            "#[tokio::test(..)] fn with_tokio at tests/leftovers.rs:17",
            "#[::core::prelude::v1::test] fn in_a_module_file at tests/helpers/mod.rs:3",
            "mark each `#[portaltest::test]` instead",
            "tests/leftovers.rs:25:1",
        ],
    );
    let text = &errors()["leftovers"];
    for not_a_test in [
        "in_a_doc_example",
        "in_a_comment",
        "in_a_string",
        "in_a_macro",
        "configured_out",
    ] {
        assert!(
            !text.contains(not_a_test),
            "{not_a_test} taken for a test:\n{text}"
        );
    }
    assert_one_error("leftovers");
}

#[test]
fn teardown_with_a_wrong_signature() {
    for case in ["teardown_wrong_signature", "teardown_not_async"] {
        assert_errors(
            case,
            &[
                "`teardown = ..` must name an `async fn(&String)` or an `async fn(String)`",
                &format!("tests/{case}.rs:1:34"),
                "async fn stop(value: &String)",
            ],
        );
    }
}

#[test]
fn test_returning_a_value() {
    assert_errors(
        "test_returns_u32",
        &[
            "a `#[portaltest::test]` returns `()` or `Result<(), E>` with `E: Debug`, not `u32`",
            "tests/test_returns_u32.rs:2:16",
        ],
    );
}

#[test]
fn test_in_an_impl_block() {
    assert_errors(
        "test_in_impl",
        &[
            "`#[portaltest::test]` goes on a module-level fn, not on an associated fn in an `impl` block",
            "tests/test_in_impl.rs:4:8",
            "move this fn out of the `impl` block",
        ],
    );
    assert_one_error("test_in_impl");
}

#[test]
fn should_panic_on_a_test_returning_result() {
    assert_errors(
        "should_panic_result",
        &[
            "`#[should_panic]` tests must return `()`",
            "tests/should_panic_result.rs:3:14",
        ],
    );
}

#[test]
fn result_alias_needs_fallible() {
    assert_errors(
        "result_alias_not_fallible",
        &[
            "this fixture returns a `Result` through a type alias: add `#[fixture(fallible)]`",
            "tests/result_alias_not_fallible.rs:3:20",
        ],
    );
}

#[test]
fn fallible_on_a_non_result() {
    assert_errors(
        "fallible_not_result",
        &[
            "a fallible fixture returns `Result<T, E>` with `E: Debug`, not `u32`",
            "tests/fallible_not_result.rs:2:20",
        ],
    );
}

#[test]
fn retries_out_of_range_or_not_a_number() {
    let expected = "expected `retries = N` with N a whole number from 0 to 100";
    assert_errors(
        "bad_retries",
        &[
            expected,
            "tests/bad_retries.rs:1:30",
            "tests/bad_retries.rs:3:46",
            "tests/bad_retries.rs:5:30",
            "`retries` is given twice",
            "tests/bad_retries.rs:7:33",
        ],
    );
    let text = &errors()["bad_retries"];
    assert_eq!(text.matches(expected).count(), 3, "{text}");
    // All of `-1` is underlined, not only the `-`.
    assert!(
        text.contains("retries = -1)]\n  |                              ^^"),
        "{text}"
    );
}

#[test]
fn blocking_warn_not_a_duration_or_on_an_isolated_test() {
    assert_errors(
        "bad_blocking_warn",
        &[
            "expected `blocking_warn = \"500ms\"`: how long one poll of this test may hold the runtime thread",
            "tests/bad_blocking_warn.rs:1:36",
            "`blocking_warn` is for tests on the shared runtime: an isolated test",
            "tests/bad_blocking_warn.rs:3:46",
            "expected `group = \"name\"` with a name",
            "tests/bad_blocking_warn.rs:5:28",
        ],
    );
}

#[test]
fn correct_code_compiles() {
    for case in ["all_right", "own_main"] {
        assert!(!errors().contains_key(case), "{}", errors()[case]);
    }
}
