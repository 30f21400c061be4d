//! Tests that a portaltest target silently never runs: `#[test]` and `#[tokio::test]`
//! functions left in it. A `harness = false` target is built without libtest, which
//! removes such functions before they are compiled, so the binary cannot see them; we
//! read the target's source instead (the file that calls `portaltest::main!()` and the
//! module files it declares) and name each one when the run starts.

use std::path::{Path, PathBuf};

/// A test function the harness will not run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Leftover {
    /// Where it is, e.g. `tests/api.rs:12`.
    pub(crate) place: String,
    /// The attribute that marks it, e.g. `#[tokio::test]`.
    pub(crate) attribute: String,
    /// The function's name.
    pub(crate) name: String,
}

/// Finds the source file `file` (as `file!()` spells it: relative to the directory
/// cargo ran rustc in, the package or the workspace root) and scans it and the module
/// files it declares. Returns nothing when the source is not there (a binary run on
/// another machine).
pub(crate) fn find(file: &str) -> Vec<Leftover> {
    let Some(path) = locate(Path::new(file)) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    scan_file(&path, file, 0, &mut found);
    found
}

fn locate(file: &Path) -> Option<PathBuf> {
    if file.is_absolute() {
        return file.is_file().then(|| file.to_path_buf());
    }
    // `cargo test` and `cargo nextest` set CARGO_MANIFEST_DIR when they run a test binary;
    // the workspace root, where rustc ran for a workspace member, is one of its
    // ancestors.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")?;
    Path::new(&manifest)
        .ancestors()
        .map(|dir| dir.join(file))
        .find(|candidate| candidate.is_file())
}

fn scan_file(path: &Path, shown: &str, depth: usize, found: &mut Vec<Leftover>) {
    let Ok(source) = std::fs::read_to_string(path) else {
        return;
    };
    found.extend(scan(&source, shown));
    if depth >= 4 {
        return;
    }
    // `mod name;` declarations: name.rs or name/mod.rs beside a mod.rs / main file, or
    // in a directory named after a non-root file.
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let base = if depth == 0 || stem == "mod" {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    for module in declared_modules(&source) {
        for candidate in [
            base.join(format!("{module}.rs")),
            base.join(&module).join("mod.rs"),
        ] {
            if candidate.is_file() {
                let shown_dir = Path::new(shown).parent().unwrap_or(Path::new(""));
                let rel = candidate.strip_prefix(dir).unwrap_or(&candidate);
                let shown = shown_dir.join(rel).display().to_string();
                scan_file(&candidate, &shown, depth + 1, found);
                break;
            }
        }
    }
}

/// `mod name;` lines (not inline modules, which `scan` already covers).
fn declared_modules(source: &str) -> Vec<String> {
    source
        .lines()
        .map(str::trim)
        .filter_map(|line| {
            let line = line.strip_prefix("pub ").unwrap_or(line);
            let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
            let rest = line.strip_prefix("mod ")?.strip_suffix(';')?;
            let name = rest.trim();
            name.chars()
                .all(|c| c.is_alphanumeric() || c == '_')
                .then(|| name.to_string())
        })
        .collect()
}

/// The attributes that mark a test libtest would have run, and the function after each.
fn scan(source: &str, shown: &str) -> Vec<Leftover> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(attribute) = test_attribute(trimmed) else {
            continue;
        };
        // The function is on this line after the attribute, or on one of the next few
        // (other attributes may come between).
        let after = &trimmed[attribute.len()..];
        let name = std::iter::once(after)
            .chain(lines.iter().skip(i + 1).take(8).copied())
            .find_map(fn_name);
        if let Some(name) = name {
            found.push(Leftover {
                place: format!("{shown}:{}", i + 1),
                attribute: attribute.to_string(),
                name,
            });
        }
    }
    found
}

fn test_attribute(line: &str) -> Option<&str> {
    [
        "#[test]",
        "#[tokio::test]",
        "#[::tokio::test]",
        "#[core::prelude::v1::test]",
    ]
    .into_iter()
    .find(|a| line.starts_with(a))
    .or_else(|| {
        // `#[tokio::test(flavor = "multi_thread")]` and the like: up to the `]`
        // that closes the attribute (arguments have no nested brackets in practice).
        let open = ["#[tokio::test(", "#[::tokio::test("]
            .into_iter()
            .find(|a| line.starts_with(a))?;
        let end = line[open.len()..].find(")]")? + open.len() + 2;
        Some(&line[..end])
    })
}

fn fn_name(line: &str) -> Option<String> {
    let at = line.find("fn ")?;
    // Only when `fn` is a keyword here (start of line or after a space/qualifier).
    if at > 0 && !line[..at].ends_with(' ') {
        return None;
    }
    let rest = &line[at + 3..];
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The report printed (to the real stderr) when a run starts.
pub(crate) fn message(leftovers: &[Leftover]) -> String {
    let mut text = String::new();
    for l in leftovers {
        text.push_str(&format!(
            "warning: `{} fn {}` ({}) is never run: this target uses the portaltest harness \
             (`harness = false`), which ignores libtest's `#[test]` and `#[tokio::test]`.\n",
            l.attribute, l.name, l.place
        ));
    }
    if !leftovers.is_empty() {
        text.push_str(
            "         Mark them `#[portaltest::test]` (sync or async fns; see \"Porting from \
             #[tokio::test]\" in portaltest's README), or move them to a target with \
             libtest's harness.\n",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_libtest_and_tokio_tests_with_their_names_and_lines() {
        let source = r#"
use portaltest::await_;

#[test]
fn plain() {}

#[tokio::test]
async fn with_tokio() {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn multi() {}

#[portaltest::test]
fn ours() {}

#[test] fn one_line() {}
"#;
        let found = scan(source, "tests/api.rs");
        let names: Vec<_> = found
            .iter()
            .map(|l| (l.place.as_str(), l.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("tests/api.rs:4", "plain"),
                ("tests/api.rs:7", "with_tokio"),
                ("tests/api.rs:10", "multi"),
                ("tests/api.rs:17", "one_line"),
            ]
        );
        assert_eq!(
            found[2].attribute,
            r#"#[tokio::test(flavor = "multi_thread", worker_threads = 2)]"#
        );
        let text = message(&found);
        assert!(text.contains("`#[tokio::test] fn with_tokio` (tests/api.rs:7) is never run"));
        assert!(text.contains("#[portaltest::test]"));
    }

    #[test]
    fn nothing_to_report_for_a_clean_target() {
        assert!(scan("#[portaltest::test]\nfn t() {}\n", "x.rs").is_empty());
        assert_eq!(message(&[]), "");
    }

    #[test]
    fn declared_modules_are_followed() {
        let mods = declared_modules("mod common;\npub mod helpers;\nmod inline { }\n");
        assert_eq!(mods, ["common", "helpers"]);
    }
}
