//! Reading the target's own source files at compile time (`Span::local_file`, Rust
//! 1.88), for the two checks that name resolution cannot make cheaply:
//!
//! * which `#[..test]` fns sit in an `impl` block ([`in_impl_block`]), so that a test
//!   there is one clear error instead of a glob import per test (which made a module's
//!   compile cost quadratic in its number of tests);
//! * which libtest tests (`#[test]`, `#[tokio::test]`, ...) are left in a
//!   `harness = false` target ([`leftovers`]): rustc drops them before any macro sees
//!   them, so only the source can tell.
//!
//! Files are parsed with syn, so `#[test]` in comments, strings, doc examples and
//! `macro_rules!` bodies is never taken for an attribute. Each file is parsed once per
//! compilation (cached by path, length and modification time). When a file cannot be
//! read (no source on this machine, a remapped path), both checks find nothing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use proc_macro2::Span;
use syn::{Attribute, Item, ItemMod, Meta};

/// What one source file says, kept for the rest of the compilation.
#[derive(Default)]
struct FileFacts {
    /// (name, line) of every fn in an `impl` block that has an attribute `..test`.
    impl_test_fns: HashSet<(String, usize)>,
}

type Cache = HashMap<PathBuf, (u64, Option<SystemTime>, Arc<FileFacts>)>;

fn cache() -> &'static Mutex<Cache> {
    static CACHE: std::sync::OnceLock<Mutex<Cache>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Whether the fn named `name`, whose name is at `span`, is an associated fn in an
/// `impl` block according to its source file. `false` when unknown.
pub(crate) fn in_impl_block(name: &str, span: Span) -> bool {
    let Some(path) = span.local_file() else {
        return false;
    };
    let line = span.start().line;
    facts(&path).is_some_and(|f| f.impl_test_fns.contains(&(name.to_string(), line)))
}

fn facts(path: &Path) -> Option<Arc<FileFacts>> {
    let meta = std::fs::metadata(path).ok()?;
    let key = (meta.len(), meta.modified().ok());
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((len, modified, facts)) = cache.get(path) {
        if (*len, *modified) == key {
            return Some(facts.clone());
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    let mut facts = FileFacts::default();
    if let Some(file) = parse_with_lines(&text) {
        collect_impl_test_fns(&file.items, &mut facts.impl_test_fns);
    }
    let facts = Arc::new(facts);
    cache.insert(path.to_path_buf(), (key.0, key.1, facts.clone()));
    Some(facts)
}

/// Parses `text` with proc-macro2's own lexer, whose spans carry lines (the compiler's,
/// inside a macro, would all point at the macro call). The result holds no compiler
/// span, so nothing of it may be returned as tokens.
fn parse_with_lines(text: &str) -> Option<syn::File> {
    struct Unforce;
    impl Drop for Unforce {
        fn drop(&mut self) {
            proc_macro2::fallback::unforce();
        }
    }
    proc_macro2::fallback::force();
    let _unforce = Unforce;
    syn::parse_file(text).ok()
}

fn collect_impl_test_fns(items: &[Item], out: &mut HashSet<(String, usize)>) {
    for item in items {
        match item {
            Item::Mod(ItemMod {
                content: Some((_, items)),
                ..
            }) => collect_impl_test_fns(items, out),
            Item::Impl(imp) => {
                for item in &imp.items {
                    if let syn::ImplItem::Fn(f) = item {
                        if f.attrs.iter().any(|a| last_segment_is(a, "test")) {
                            out.insert((f.sig.ident.to_string(), f.sig.ident.span().start().line));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn last_segment_is(attr: &Attribute, name: &str) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == name)
}

/// A libtest test left in a portaltest target.
pub(crate) struct Leftover {
    /// `tests/api.rs:12`, the file as rustc names it.
    pub(crate) place: String,
    /// The attribute as written, e.g. `#[tokio::test]`.
    pub(crate) attribute: String,
    pub(crate) name: String,
}

/// The libtest tests in the target whose root file holds `span` (the `main!()` call),
/// and in the module files it declares.
pub(crate) fn leftovers(span: Span) -> Vec<Leftover> {
    let Some(path) = span.local_file() else {
        return Vec::new();
    };
    if in_doc_comment(&path, span.start().line) {
        // A doc example (rustdoc points its spans into the documented file): the
        // example is its own crate, and the file around it is not part of it.
        return Vec::new();
    }
    let shown = PathBuf::from(span.file());
    let mut found = Vec::new();
    scan_file(&path, &shown, true, 0, &mut found);
    found
}

/// Whether line `line` (1-based) of the file at `path` is a doc comment (`///`, `//!`).
fn in_doc_comment(path: &Path, line: usize) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    text.lines()
        .nth(line.saturating_sub(1))
        .is_some_and(|l| l.trim_start().starts_with("///") || l.trim_start().starts_with("//!"))
}

fn scan_file(path: &Path, shown: &Path, is_root: bool, depth: usize, found: &mut Vec<Leftover>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let Some(file) = parse_with_lines(&text) else {
        return;
    };
    // Where `mod name;` looks for its file: beside a crate root or a `mod.rs`, else in
    // a directory named after this file.
    let dir = path.parent().unwrap_or(Path::new("."));
    let shown_dir = shown.parent().unwrap_or(Path::new(""));
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let (dir, shown_dir) = if is_root || stem == "mod" {
        (dir.to_path_buf(), shown_dir.to_path_buf())
    } else {
        (dir.join(stem), shown_dir.join(stem))
    };
    let bare_test_is_ours = imports_portaltest_test(&file.items);
    let scope = Scope {
        shown: shown.display().to_string(),
        dir,
        shown_dir,
        bare_test_is_ours,
        depth,
    };
    scan_items(&file.items, &scope, found);
}

struct Scope {
    shown: String,
    dir: PathBuf,
    shown_dir: PathBuf,
    bare_test_is_ours: bool,
    depth: usize,
}

fn scan_items(items: &[Item], scope: &Scope, found: &mut Vec<Leftover>) {
    for item in items {
        match item {
            Item::Fn(f) if !cfg_off(&f.attrs) => {
                for attr in &f.attrs {
                    if is_libtest_attribute(attr, scope.bare_test_is_ours) {
                        found.push(Leftover {
                            place: format!(
                                "{}:{}",
                                scope.shown,
                                attr.pound_token.span.start().line
                            ),
                            attribute: attribute_text(attr),
                            name: f.sig.ident.to_string(),
                        });
                    }
                }
            }
            Item::Mod(m) if !cfg_off(&m.attrs) => {
                let name = m.ident.to_string();
                match &m.content {
                    Some((_, items)) => {
                        let inner = Scope {
                            shown: scope.shown.clone(),
                            dir: scope.dir.join(&name),
                            shown_dir: scope.shown_dir.join(&name),
                            bare_test_is_ours: scope.bare_test_is_ours
                                || imports_portaltest_test(items),
                            depth: scope.depth,
                        };
                        scan_items(items, &inner, found);
                    }
                    None if scope.depth < 8 => {
                        let candidates = match path_attribute(&m.attrs) {
                            Some(p) => vec![p],
                            None => vec![format!("{name}.rs"), format!("{name}/mod.rs")],
                        };
                        if let Some(rel) = candidates.iter().find(|c| scope.dir.join(c).is_file()) {
                            scan_file(
                                &scope.dir.join(rel),
                                &scope.shown_dir.join(rel),
                                false,
                                scope.depth + 1,
                                found,
                            );
                        }
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }
}

/// `#[test]`, `#[tokio::test]`, `#[::tokio::test(..)]`, `#[core::prelude::v1::test]`,
/// `#[async_std::test]`, `#[test_log::test]`...: a path ending in `test` that is not
/// portaltest's own.
fn is_libtest_attribute(attr: &Attribute, bare_test_is_ours: bool) -> bool {
    let path = attr.path();
    if !last_segment_is(attr, "test") {
        return false;
    }
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [only] if only == "test" => !bare_test_is_ours,
        [.., krate, _] => krate != "portaltest",
        _ => true,
    }
}

/// Whether the items `use portaltest::test;` (or `portaltest::{test, ..}`), which makes a
/// bare `#[test]` portaltest's.
fn imports_portaltest_test(items: &[Item]) -> bool {
    fn tree_has_test(tree: &syn::UseTree, under_portaltest: bool) -> bool {
        match tree {
            syn::UseTree::Path(p) => {
                tree_has_test(&p.tree, under_portaltest || p.ident == "portaltest")
            }
            syn::UseTree::Name(n) => under_portaltest && n.ident == "test",
            syn::UseTree::Group(g) => g.items.iter().any(|t| tree_has_test(t, under_portaltest)),
            _ => false,
        }
    }
    items.iter().any(|item| match item {
        Item::Use(u) => tree_has_test(&u.tree, false),
        _ => false,
    })
}

fn attribute_text(attr: &Attribute) -> String {
    let path: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let lead = if attr.path().leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    let args = if matches!(attr.meta, Meta::List(_)) {
        "(..)"
    } else {
        ""
    };
    format!("#[{lead}{}{args}]", path.join("::"))
}

/// `#[path = "x.rs"]` on a `mod x;`.
fn path_attribute(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// Whether a `#[cfg(..)]` among `attrs` is false whatever the configuration
/// (`cfg(any())`, `cfg(not(all()))`, ...): such items are never compiled.
fn cfg_off(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<Meta>()
                .ok()
                .is_some_and(|m| cfg_value(&m) == Some(false))
    })
}

/// The value of a cfg predicate when it does not depend on the configuration.
fn cfg_value(meta: &Meta) -> Option<bool> {
    let Meta::List(list) = meta else { return None };
    let args: Vec<Meta> = list
        .parse_args_with(syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated)
        .ok()?
        .into_iter()
        .collect();
    let values = || args.iter().map(cfg_value);
    if list.path.is_ident("any") {
        // false only when every argument is known to be false (or there is none).
        if values().any(|v| v == Some(true)) {
            Some(true)
        } else if values().all(|v| v == Some(false)) {
            Some(false)
        } else {
            None
        }
    } else if list.path.is_ident("all") {
        if values().any(|v| v == Some(false)) {
            Some(false)
        } else if values().all(|v| v == Some(true)) {
            Some(true)
        } else {
            None
        }
    } else if list.path.is_ident("not") && args.len() == 1 {
        cfg_value(&args[0]).map(|v| !v)
    } else {
        None
    }
}

/// The compile error that lists `leftovers`.
pub(crate) fn leftovers_message(leftovers: &[Leftover]) -> String {
    let mut text = format!(
        "{} libtest test{} in this portaltest target would never run: a `harness = false` target drops `#[test]` and `#[tokio::test]` fns without compiling them, under `cargo test`, `cargo nextest run` and when run directly\n",
        leftovers.len(),
        if leftovers.len() == 1 { "" } else { "s" }
    );
    for l in leftovers {
        text.push_str(&format!("  {} fn {} at {}\n", l.attribute, l.name, l.place));
    }
    text.push_str(
        "mark each `#[portaltest::test]` instead (sync or async fns; `#[tokio::test(start_paused = true)]` becomes `#[portaltest::test(start_paused = true)]`, a `flavor`/`worker_threads` argument is dropped), or move it to a target with libtest's harness",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(source: &str) -> Vec<(String, String)> {
        let file = parse_with_lines(source).expect("parses");
        let scope = Scope {
            shown: "tests/api.rs".into(),
            dir: PathBuf::from("/nonexistent"),
            shown_dir: PathBuf::from("tests"),
            bare_test_is_ours: imports_portaltest_test(&file.items),
            depth: 0,
        };
        let mut found = Vec::new();
        scan_items(&file.items, &scope, &mut found);
        found
            .into_iter()
            .map(|l| (l.place, format!("{} {}", l.attribute, l.name)))
            .collect()
    }

    #[test]
    fn finds_libtest_and_tokio_tests_with_their_lines() {
        let found = scan_text(
            r#"
use portaltest::await_;

#[test]
fn plain() {}

#[tokio::test]
async fn with_tokio() {}

#[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn multi() {}

#[portaltest::test]
fn ours() {}

mod inner {
    #[core::prelude::v1::test] fn one_line() {}
}
"#,
        );
        assert_eq!(
            found,
            [
                ("tests/api.rs:4".into(), "#[test] plain".into()),
                ("tests/api.rs:7".into(), "#[tokio::test] with_tokio".into()),
                (
                    "tests/api.rs:10".into(),
                    "#[::tokio::test(..)] multi".into()
                ),
                (
                    "tests/api.rs:18".into(),
                    "#[core::prelude::v1::test] one_line".into()
                ),
            ]
        );
    }

    #[test]
    fn no_false_positives() {
        let found = scan_text(
            r##"
// #[test] fn in_a_comment() {}
/* #[test]
fn in_a_block_comment() {} */
/// ```
/// #[test]
/// fn in_a_doc_example() {}
/// ```
#[portaltest::test]
fn documented() {}
const S: &str = "#[test] fn in_a_string() {}";
const R: &str = r#"
#[test]
fn in_a_raw_string() {}
"#;
macro_rules! make { () => { #[test] fn in_a_macro() {} } }
#[cfg(any())]
#[test]
fn configured_out() {}
#[cfg(not(all()))]
mod gone { #[test] fn inside() {} }
"##,
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn bare_test_imported_from_portaltest_is_ours() {
        assert!(scan_text("use portaltest::test;\n#[test]\nfn t() {}\n").is_empty());
        assert!(scan_text("use portaltest::{await_, test};\n#[test]\nfn t() {}\n").is_empty());
        assert_eq!(
            scan_text("use tokio::test;\n#[test]\nfn t() {}\n").len(),
            1,
            "tokio's `test` imported is still libtest's in the end"
        );
    }

    #[test]
    fn cfg_predicates_known_without_a_configuration() {
        let value = |s: &str| cfg_value(&syn::parse_str::<Meta>(s).unwrap());
        assert_eq!(value("any()"), Some(false));
        assert_eq!(value("all()"), Some(true));
        assert_eq!(value("not(all())"), Some(false));
        assert_eq!(value("all(unix, any())"), Some(false));
        assert_eq!(value("any(unix, all())"), Some(true));
        assert_eq!(value("unix"), None);
        assert_eq!(value("any(unix)"), None);
        assert_eq!(value("feature = \"x\""), None);
    }

    #[test]
    fn impl_block_tests_are_found_with_their_lines() {
        let file = parse_with_lines(
            "struct S;\nimpl S {\n    #[portaltest::test]\n    fn in_impl() {}\n}\n#[portaltest::test]\nfn free() {}\n",
        )
        .unwrap();
        let mut out = HashSet::new();
        collect_impl_test_fns(&file.items, &mut out);
        assert_eq!(out, HashSet::from([("in_impl".to_string(), 4)]));
    }

    #[test]
    fn the_message_names_each_fn_and_the_fix() {
        let text = leftovers_message(&[Leftover {
            place: "tests/api.rs:7".into(),
            attribute: "#[tokio::test]".into(),
            name: "lists".into(),
        }]);
        assert!(text.starts_with("1 libtest test in this portaltest target would never run"));
        assert!(text.contains("#[tokio::test] fn lists at tests/api.rs:7"));
        assert!(text.contains("`#[portaltest::test]`"));
    }
}
