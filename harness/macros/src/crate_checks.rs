//! Checks of the whole target, emitted once per crate by the first `#[portaltest::test]`
//! (or `portaltest::main!()`) that rustc expands, so that a mistake in Cargo.toml or a
//! missing `main!()` is one error, not one per test:
//!
//! * built with libtest's harness (no `harness = false`): a `#[test]` fn whose body is a
//!   `compile_error!`. libtest's harness keeps `#[test]` items (rustc `--test`); a
//!   `harness = false` target is built without `--test`, which removes them unexpanded.
//! * no `main` (neither `portaltest::main!()` nor a `fn main` of the user's): the name
//!   `main` is looked up in the crate root through one glob import, falling back to a
//!   `const main` of portaltest's that a trait bound rejects with a message naming
//!   `main!()`
//!   (unless the harness check's `#[test]` fn exists: then that is the one error).
//!
//! The once-per-crate state lives in this process: rustc runs one crate per process, and
//! expands macros in source order.

use std::collections::HashSet;
use std::sync::Mutex;

use proc_macro2::TokenStream;
use quote::quote;

/// Who asks for the checks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// `#[portaltest::test]`: both checks.
    Test,
    /// `portaltest::main!()`: only the harness check (it defines `main` itself).
    Main,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Check {
    Harness,
    HasMain,
}

/// Which checks were emitted, per crate (the key matters only where one process expands
/// macros of several crates, as an IDE does).
fn emitted(check: Check) -> bool {
    static DONE: Mutex<Option<HashSet<(String, Check)>>> = Mutex::new(None);
    let krate = format!(
        "{}\u{0}{}",
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default(),
        std::env::var("CARGO_CRATE_NAME").unwrap_or_default()
    );
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    !done.get_or_insert_with(HashSet::new).insert((krate, check))
}

/// The checks `caller` still has to emit for this crate.
pub(crate) fn once_per_crate(caller: Caller) -> TokenStream {
    let mut out = TokenStream::new();
    if !emitted(Check::Harness) {
        out.extend(harness_check());
    }
    if caller == Caller::Test && !emitted(Check::HasMain) {
        out.extend(has_main_check());
    }
    out
}

fn harness_check() -> TokenStream {
    quote! {
        // Kept only by libtest's harness (see the module docs of `crate_checks`).
        #[::core::prelude::v1::test]
        fn __portaltest_target_needs_harness_false() {
            ::core::compile_error!(::core::concat!(
                "this target's portaltest tests need `harness = false`: it is built with ",
                "libtest's harness, which would ignore them and report `running 0 tests` ",
                "(a failing suite would pass). Add to Cargo.toml:\n\n",
                "    [[test]]\n    name = \"",
                ::core::env!("CARGO_CRATE_NAME"),
                "\"\n    harness = false\n\n",
                "and end the target's source file with `portaltest::main!();`, the `main` ",
                "that runs its tests"
            ));
        }
    }
}

fn has_main_check() -> TokenStream {
    quote! {
        const _: () = {
            // The fallbacks live in portaltest, not here: rustc's "`main` function not
            // found" would point at an item named `main` here as the misplaced one.
            #[allow(unused_imports)]
            use ::portaltest::__private::main_fallbacks::*;
            {
                // The crate root's `main`, if there is one, shadows the fallback above;
                // so does the harness check's `#[test]` fn where libtest's harness kept it
                // (libtest's own `main` cannot be named: that mistake has its own error).
                #[allow(unused_imports)]
                use crate::*;
                #[allow(unused_imports)]
                use self::*;
                #[allow(unused_imports)]
                use ::portaltest::__private::MainFallback as _;
                #[allow(dead_code)]
                fn __portaltest_check_main() {
                    ::portaltest::__private::assert_has_main((
                        ::portaltest::__private::MainProbe::of(&main).check(),
                        ::portaltest::__private::MainProbe::of(
                            &__portaltest_target_needs_harness_false,
                        )
                        .check(),
                    ));
                }
            }
        };
    }
}
