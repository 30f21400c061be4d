//! Procedural macros of [portaltest](https://docs.rs/portaltest): `#[portaltest::test]`
//! and `#[portaltest::fixture]`. Use them through the `portaltest` crate, which
//! re-exports them and provides the runtime they expand to; the generated code names
//! `::portaltest`, so this crate is not useful on its own.

#![deny(unsafe_code)]

mod crate_checks;
mod source;

use proc_macro::TokenStream;
use proc_macro2::{Ident, Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned, ToTokens};
use syn::{
    parse_macro_input, spanned::Spanned, Attribute, Error, Expr, ExprLit, GenericArgument, ItemFn,
    Lit, LitStr, Meta, PathArguments, ReturnType, Type,
};

/// Parses `500ms`, `5s`, `2m` into milliseconds (the syntax of `timeout = ".."` and of
/// `PORTALTEST_TIMEOUT`, kept in sync with `portaltest::__private::parse_duration`).
fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, factor) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        return None;
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(factor)
}

fn lit_str(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        _ => None,
    }
}

/// What `#[ignore]` / `#[should_panic]` on a test said.
#[derive(Default)]
struct TestAttrs {
    ignore: bool,
    ignore_reason: Option<String>,
    should_panic: bool,
    expected: Option<String>,
}

/// Removes libtest's inert attributes from `attrs` and returns what they said.
fn take_test_attrs(attrs: &mut Vec<Attribute>) -> syn::Result<TestAttrs> {
    let mut out = TestAttrs::default();
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        if attr.path().is_ident("ignore") {
            out.ignore = true;
            match &attr.meta {
                Meta::Path(_) => {}
                Meta::NameValue(nv) => match lit_str(&nv.value) {
                    Some(s) => out.ignore_reason = Some(s.value()),
                    None => {
                        return Err(Error::new(
                            nv.value.span(),
                            "expected `#[ignore = \"reason\"]`",
                        ))
                    }
                },
                Meta::List(l) => {
                    return Err(Error::new(
                        l.span(),
                        "expected `#[ignore]` or `#[ignore = \"reason\"]`",
                    ))
                }
            }
        } else if attr.path().is_ident("should_panic") {
            out.should_panic = true;
            match &attr.meta {
                Meta::Path(_) => {}
                Meta::NameValue(nv) => match lit_str(&nv.value) {
                    Some(s) => out.expected = Some(s.value()),
                    None => {
                        return Err(Error::new(
                            nv.value.span(),
                            "expected `#[should_panic = \"text\"]`",
                        ))
                    }
                },
                Meta::List(_) => {
                    attr.parse_nested_meta(|meta| {
                        if meta.path.is_ident("expected") {
                            let s: LitStr = meta.value()?.parse()?;
                            out.expected = Some(s.value());
                            Ok(())
                        } else {
                            Err(meta.error("expected `#[should_panic(expected = \"text\")]`"))
                        }
                    })?;
                }
            }
        } else {
            kept.push(attr);
        }
    }
    *attrs = kept;
    Ok(out)
}

fn opt_str(s: &Option<String>) -> TokenStream2 {
    match s {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

/// Marks a function as a portaltest test.
///
/// Works on a sync `fn` (which may call `portaltest::await_`) or an `async fn`, with no
/// arguments, returning `()` or `Result<(), E>` with `E: Debug`. The test registers
/// itself; `portaltest::main!()` in the target runs it. `#[ignore]`,
/// `#[ignore = "reason"]`, `#[should_panic]` and `#[should_panic(expected = "text")]`
/// work as with `#[test]` (`#[should_panic]` only on a test returning `()`); the fn
/// must be a module-level item. `#[portaltest::test(timeout = "5s")]` limits its run time
/// (`ms`, `s` or `m`). `#[portaltest::test(isolated)]` runs it on a thread of its own
/// with a tokio current-thread runtime of its own; `start_paused = true` also starts
/// that runtime's clock paused (like `#[tokio::test(start_paused = true)]`).
/// `#[portaltest::test(retries = 2)]` runs a failing test up to 2 more times (a whole
/// number from 0 to 100; it overrides `PORTALTEST_RETRIES`).
/// `#[portaltest::test(blocking_warn = "500ms")]` sets this test's blocking warning
/// threshold (`"0ms"`: never warn), overriding `PORTALTEST_BLOCKING_WARN_MS`; not on
/// isolated tests, which may block their own thread. `#[portaltest::test(exclusive)]`
/// runs the test alone in its worker process (no other test in flight);
/// `#[portaltest::test(group = "db")]` runs the tests of group `db` one at a time, all in
/// one worker process. Arguments combine:
/// `#[portaltest::test(start_paused = true, timeout = "5s", retries = 2)]`.
///
/// See the `portaltest` crate for examples.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut timeout_ms: Option<u64> = None;
    let mut retries: Option<u32> = None;
    let mut blocking_warn: Option<(u64, Span)> = None;
    let mut exclusive = false;
    let mut group: Option<String> = None;
    let mut runtime = RuntimeArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("isolated") {
            runtime.isolated = true;
            Ok(())
        } else if meta.path.is_ident("start_paused") {
            let b: syn::LitBool = meta.value()?.parse()?;
            runtime.start_paused = b.value;
            Ok(())
        } else if meta.path.is_ident("timeout") {
            let s: LitStr = meta.value()?.parse()?;
            match parse_duration_ms(&s.value()) {
                Some(ms) if ms > 0 => {
                    timeout_ms = Some(ms);
                    Ok(())
                }
                _ => Err(Error::new(
                    s.span(),
                    "expected a duration such as \"500ms\", \"5s\" or \"2m\" (a positive whole number and a unit)",
                )),
            }
        } else if meta.path.is_ident("exclusive") {
            exclusive = true;
            Ok(())
        } else if meta.path.is_ident("group") {
            let s: LitStr = meta.value()?.parse()?;
            if s.value().trim().is_empty() {
                return Err(Error::new(
                    s.span(),
                    "expected `group = \"name\"` with a name: the tests of a group run one at a time, in one worker process",
                ));
            }
            group = Some(s.value());
            Ok(())
        } else if meta.path.is_ident("blocking_warn") {
            let s: LitStr = meta.value()?.parse()?;
            match parse_duration_ms(&s.value()) {
                Some(ms) => {
                    blocking_warn = Some((ms, s.span()));
                    Ok(())
                }
                None => Err(Error::new(
                    s.span(),
                    "expected `blocking_warn = \"500ms\"`: how long one poll of this test may hold the runtime thread before the harness warns (a whole number and `ms`, `s` or `m`; \"0ms\": never warn)",
                )),
            }
        } else if meta.path.is_ident("retries") {
            if retries.is_some() {
                return Err(meta.error("`retries` is given twice"));
            }
            // Any expression, so that `"3"`, `-1` or `2.5` get this message rather than
            // syn's bare "expected integer literal".
            let value: Expr = meta.value()?.parse()?;
            retries = Some(parse_retries(&value)?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown argument; expected `timeout = \"5s\"`, `isolated`, `start_paused = true`, `retries = 3`, `blocking_warn = \"500ms\"`, `exclusive` or `group = \"name\"`",
            ))
        }
    });
    parse_macro_input!(args with parser);
    let mut func = parse_macro_input!(item as ItemFn);
    if let (Some((_, span)), true) = (blocking_warn, runtime.isolated || runtime.start_paused) {
        let mut out = Error::new(
            span,
            "`blocking_warn` is for tests on the shared runtime: an isolated test (`isolated`, `start_paused = true`) has a thread of its own, which it may block, and gets no blocking warning",
        )
        .to_compile_error();
        out.extend(func.into_token_stream());
        return out.into();
    }
    let blocking_warn = blocking_warn.map(|(ms, _)| ms);
    let scheduling = Scheduling { exclusive, group };
    match expand_test(
        &mut func,
        timeout_ms,
        retries,
        blocking_warn,
        scheduling,
        runtime,
    ) {
        Ok(ts) => ts.into(),
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(func.into_token_stream());
            out.into()
        }
    }
}

/// The most `retries = N` accepts: enough for any flaky test, and a bound on how long
/// one always-failing test can keep a run going (a typo like `retries = 1000` is caught).
const MAX_RETRIES: u32 = 100;

/// `retries = N`'s value: an integer literal from 0 to [`MAX_RETRIES`]; anything else is
/// an error at the value that names the accepted form.
fn parse_retries(value: &Expr) -> syn::Result<u32> {
    let n = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u32>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n <= MAX_RETRIES => Ok(n),
        // `new_spanned`: the whole value (`-1` is two tokens) is underlined.
        _ => Err(Error::new_spanned(
            value,
            format!(
                "expected `retries = N` with N a whole number from 0 to {MAX_RETRIES} (how many more times a failing test runs), such as `retries = 3`"
            ),
        )),
    }
}

/// `exclusive` and `group = "name"` of `#[portaltest::test(..)]`.
struct Scheduling {
    exclusive: bool,
    group: Option<String>,
}

/// `isolated` and `start_paused = true` of `#[portaltest::test(..)]`.
#[derive(Default, Clone, Copy)]
struct RuntimeArgs {
    isolated: bool,
    start_paused: bool,
}

fn expand_test(
    func: &mut ItemFn,
    timeout_ms: Option<u64>,
    retries: Option<u32>,
    blocking_warn: Option<u64>,
    scheduling: Scheduling,
    runtime: RuntimeArgs,
) -> syn::Result<TokenStream2> {
    let attrs = take_test_attrs(&mut func.attrs)?;
    let sig = &func.sig;
    if let Some(receiver) = sig.receiver() {
        return Err(Error::new(
            receiver.span(),
            format!(
                "portaltest tests are free functions, not methods: move `{}` out of the `impl` block (to module level) and drop `self`",
                sig.ident
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(Error::new(
            sig.inputs.span(),
            "portaltest tests take no arguments; call fixtures (`#[portaltest::fixture]`) from the body instead",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(Error::new(
            sig.generics.span(),
            "portaltest tests cannot be generic",
        ));
    }
    if sig.unsafety.is_some() || sig.variadic.is_some() || sig.abi.is_some() {
        return Err(Error::new(
            sig.span(),
            "portaltest tests must be plain `fn` or `async fn` items",
        ));
    }
    // libtest rejects `#[should_panic]` on a test that returns anything but `()`.
    if attrs.should_panic {
        if let ReturnType::Type(_, ty) = &sig.output {
            if !matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()) {
                return Err(Error::new(
                    ty.span(),
                    "`#[should_panic]` tests must return `()`, as with `#[test]`: an `Err` would not be a panic. Return `()` and `.unwrap()` the `Result` inside the test",
                ));
            }
        }
    }
    let ident = &sig.ident;
    let name = ident.to_string();
    let call = if sig.asyncness.is_some() {
        quote!(::portaltest::__private::await_(#ident()))
    } else {
        quote!(#ident())
    };
    // Spanned at the return type: a type that is neither `()` nor `Result<(), E: Debug>`
    // is reported there (by `IntoTestResult`'s `on_unimplemented` message).
    let ret_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => ident.span(),
    };
    // One ident for the local, at the return type, in the `let` below and here: spans
    // carry hygiene, and a test that comes out of a `macro_rules!` macro would otherwise
    // declare and use two different locals.
    let out = Ident::new("__portaltest_out", ret_span);
    let into_result = quote_spanned! {ret_span=>
        ::portaltest::__private::IntoTestResult::into_test_result(#out)
    };
    // A test in an `impl` block cannot be named from the registration below: say so
    // instead of rustc's "cannot find function". The source file tells (a name-based
    // fallback would need a glob import of the whole module per test, whose cost grows
    // with the square of the number of tests in a module).
    if source::in_impl_block(&name, ident.span()) {
        return Err(Error::new(
            ident.span(),
            "`#[portaltest::test]` goes on a module-level fn, not on an associated fn in an `impl` block: move this fn out of the `impl` block, to module level (tests register themselves by path and are called without `Self`; a test that needs a type's helpers calls them as `Type::helper()`)",
        ));
    }
    let TestAttrs {
        ignore,
        ignore_reason,
        should_panic,
        expected,
    } = attrs;
    let ignore_reason = opt_str(&ignore_reason);
    let should_panic = match (should_panic, expected) {
        (false, _) => quote!(::portaltest::__private::ShouldPanic::No),
        (true, None) => quote!(::portaltest::__private::ShouldPanic::Yes),
        (true, Some(text)) => quote!(::portaltest::__private::ShouldPanic::YesWithMessage(#text)),
    };
    let timeout = match timeout_ms {
        Some(ms) => quote!(::core::option::Option::Some(#ms)),
        None => quote!(::core::option::Option::None),
    };
    let retries = match retries {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let blocking_warn = match blocking_warn {
        Some(ms) => quote!(::core::option::Option::Some(#ms)),
        None => quote!(::core::option::Option::None),
    };
    let exclusive = scheduling.exclusive;
    let group = opt_str(&scheduling.group);
    // `start_paused = true` implies a runtime of the test's own.
    let start_paused = runtime.start_paused;
    let isolated = runtime.isolated || start_paused;
    let crate_checks = crate_checks::once_per_crate(crate_checks::Caller::Test);
    Ok(quote! {
        #func

        #crate_checks

        const _: () = {
            fn __portaltest_run() -> ::core::result::Result<(), ::std::string::String> {
                let #out = #call;
                #into_result
            }
            #[::portaltest::__private::linkme::distributed_slice(::portaltest::__private::TESTS)]
            #[linkme(crate = ::portaltest::__private::linkme)]
            static __PORTALTEST_TEST: ::portaltest::__private::TestDef = ::portaltest::__private::TestDef {
                module_path: ::core::module_path!(),
                name: #name,
                file: ::core::file!(),
                line: ::core::line!(),
                ignore: #ignore,
                ignore_reason: #ignore_reason,
                should_panic: #should_panic,
                timeout_ms: #timeout,
                isolated: #isolated,
                start_paused: #start_paused,
                retries: #retries,
                blocking_warn_ms: #blocking_warn,
                exclusive: #exclusive,
                group: #group,
                run: __portaltest_run,
            };
        };
    })
}

/// Defines the test binary's `main`, which runs every `#[portaltest::test]` of the
/// target; see `portaltest::main!`.
///
/// It also reads the target's source files for libtest tests (`#[test]`,
/// `#[tokio::test]`, ...) that a `harness = false` target would silently drop, and
/// makes each one a compile error.
#[proc_macro]
pub fn main(input: TokenStream) -> TokenStream {
    let input = TokenStream2::from(input);
    if !input.is_empty() {
        return Error::new_spanned(input, "`portaltest::main!()` takes no arguments")
            .to_compile_error()
            .into();
    }
    let checks = crate_checks::once_per_crate(crate_checks::Caller::Main);
    let leftovers = source::leftovers(Span::call_site());
    let leftovers = if leftovers.is_empty() {
        TokenStream2::new()
    } else {
        let message = source::leftovers_message(&leftovers);
        quote!(::core::compile_error!(#message);)
    };
    quote! {
        #checks
        #leftovers
        fn main() -> ::std::process::ExitCode {
            ::portaltest::run_main()
        }
    }
    .into()
}

/// Turns `async fn name() -> T` into a run-wide fixture: a sync accessor
/// `fn name() -> std::rc::Rc<T>` that creates the value once per test process, lazily,
/// on first use, inside the shared runtime, and shares it with every caller.
///
/// The async fn may also return `Result<T, E>` with `E: Debug`; an `Err` (like a
/// panic) fails every test that uses the fixture. A `Result` behind an alias the macro
/// cannot see through needs `#[fixture(fallible)]` (without it, a compile error).
/// `#[fixture(teardown = path)]` names an `async fn(&T)`, or an `async fn(T)` that
/// takes the value, awaited after all tests finished, in reverse order of creation.
///
/// See the `portaltest` crate for examples.
#[proc_macro_attribute]
pub fn fixture(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut teardown: Option<syn::Path> = None;
    let mut fallible = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("teardown") {
            teardown = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("fallible") {
            fallible = true;
            Ok(())
        } else {
            Err(meta
                .error("unknown argument; expected `teardown = path::to::async_fn` or `fallible`"))
        }
    });
    parse_macro_input!(args with parser);
    let func = parse_macro_input!(item as ItemFn);
    match expand_fixture(func, teardown, fallible) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// `Result<T, E>` (any path ending in `Result` with type arguments) gives `T`.
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn expand_fixture(
    func: ItemFn,
    teardown: Option<syn::Path>,
    fallible: bool,
) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(Error::new(
            sig.fn_token.span(),
            "#[portaltest::fixture] goes on an `async fn` (its accessor is the sync fn)",
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(Error::new(
            sig.inputs.span(),
            "fixtures take no arguments; call other fixtures from the body",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(Error::new(
            sig.generics.span(),
            "fixtures cannot be generic",
        ));
    }
    let ident = &sig.ident;
    let name = ident.to_string();
    let vis = &func.vis;
    let attrs = &func.attrs;
    let block = &func.block;
    let declared: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    let declared_span = match &sig.output {
        ReturnType::Default => sig.ident.span(),
        ReturnType::Type(_, t) => t.span(),
    };
    // Fallible: written `Result<T, E>` (any path ending in `Result`), or said with
    // `fallible` (a `Result` behind an alias). Otherwise a probe rejects, at compile
    // time, a `Result` behind an alias, which would silently become the value.
    // See `out` in `expand_test`: one ident, so that macro hygiene cannot split it.
    let out = Ident::new("out", declared_span);
    let into_fallible = quote_spanned! {declared_span=>
        ::portaltest::__private::FallibleFixture::into_fixture_result(#out)
    };
    let (value_ty, into_result, alias_check) = match result_ok_type(&declared) {
        Some(ok) => (ok.to_token_stream(), into_fallible, TokenStream2::new()),
        None if fallible => (
            quote_spanned!(declared_span=> <#declared as ::portaltest::__private::FallibleFixture>::Ok),
            into_fallible,
            TokenStream2::new(),
        ),
        None => (
            declared.to_token_stream(),
            quote!(::core::result::Result::Ok(#out)),
            quote_spanned! {declared_span=>
                #[allow(unused_imports)]
                use ::portaltest::__private::PlainProbe as _;
                ::portaltest::__private::assert_not_result(
                    ::portaltest::__private::ResultProbe::<#declared>::new().check(),
                );
            },
        ),
    };
    let value_ty = &value_ty;
    // Borrows (`async fn(&T)`) or takes (`async fn(T)`) the value, chosen by type; a
    // wrong signature is reported at the path, in `TeardownFn`'s terms.
    let teardown_fn = match &teardown {
        Some(path) => {
            let boxed = quote_spanned! {path.span()=>
                ::portaltest::__private::teardown::<#value_ty, _, _>(#path)
            };
            quote! {
                ::core::option::Option::Some(|| -> ::portaltest::__private::Teardown<#value_ty> {
                    #boxed
                })
            }
        }
        None => quote!(::core::option::Option::None),
    };
    Ok(quote! {
        #(#attrs)*
        #[track_caller]
        #vis fn #ident() -> ::std::rc::Rc<#value_ty> {
            async fn __portaltest_init() -> #declared #block
            #alias_check
            ::std::thread_local! {
                static __PORTALTEST_CELL: ::portaltest::__private::FixtureCell<#value_ty> =
                    ::portaltest::__private::FixtureCell::new();
            }
            ::portaltest::__private::fixture_get(
                &__PORTALTEST_CELL,
                #name,
                || -> ::portaltest::__private::BoxFuture<::core::result::Result<#value_ty, ::std::string::String>> {
                    ::std::boxed::Box::pin(async {
                        let #out = __portaltest_init().await;
                        #into_result
                    })
                },
                #teardown_fn,
            )
        }
    })
}
