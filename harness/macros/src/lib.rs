//! Procedural macros of [portaltest](https://docs.rs/portaltest): `#[portaltest::test]`
//! and `#[portaltest::fixture]`. Use them through the `portaltest` crate, which
//! re-exports them and provides the runtime they expand to; the generated code names
//! `::portaltest`, so this crate is not useful on its own.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, ToTokens};
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
/// work as with `#[test]`. `#[portaltest::test(timeout = "5s")]` limits its run time
/// (`ms`, `s` or `m`).
///
/// See the `portaltest` crate for examples.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut timeout_ms: Option<u64> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("timeout") {
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
        } else {
            Err(meta.error("unknown argument; the only one is `timeout = \"5s\"`"))
        }
    });
    parse_macro_input!(args with parser);
    let mut func = parse_macro_input!(item as ItemFn);
    match expand_test(&mut func, timeout_ms) {
        Ok(ts) => ts.into(),
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(func.into_token_stream());
            out.into()
        }
    }
}

fn expand_test(func: &mut ItemFn, timeout_ms: Option<u64>) -> syn::Result<TokenStream2> {
    let attrs = take_test_attrs(&mut func.attrs)?;
    let sig = &func.sig;
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
    let ident = &sig.ident;
    let name = ident.to_string();
    let call = if sig.asyncness.is_some() {
        quote!(::portaltest::__private::await_(#ident()))
    } else {
        quote!(#ident())
    };
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
    let static_ident = format_ident!(
        "__PORTALTEST_TEST_{}",
        name.to_uppercase(),
        span = Span::call_site()
    );
    Ok(quote! {
        #func

        #[doc(hidden)]
        const _: () = {
            fn __portaltest_run() -> ::core::result::Result<(), ::std::string::String> {
                ::portaltest::__private::IntoTestResult::into_test_result(#call)
            }
            #[::portaltest::__private::linkme::distributed_slice(::portaltest::__private::TESTS)]
            #[linkme(crate = ::portaltest::__private::linkme)]
            #[allow(non_upper_case_globals)]
            static #static_ident: ::portaltest::__private::TestDef = ::portaltest::__private::TestDef {
                module_path: ::core::module_path!(),
                name: #name,
                file: ::core::file!(),
                line: ::core::line!(),
                ignore: #ignore,
                ignore_reason: #ignore_reason,
                should_panic: #should_panic,
                timeout_ms: #timeout,
                run: __portaltest_run,
            };
        };
    })
}

/// Turns `async fn name() -> T` into a run-wide fixture: a sync accessor
/// `fn name() -> std::rc::Rc<T>` that creates the value once per test process, lazily,
/// on first use, inside the shared runtime, and shares it with every caller.
///
/// The async fn may also return `Result<T, E>` with `E: Debug`; an `Err` (like a
/// panic) fails every test that uses the fixture. `#[fixture(teardown = path)]` names
/// an `async fn(&T)` awaited after all tests finished, in reverse order of creation.
///
/// See the `portaltest` crate for examples.
#[proc_macro_attribute]
pub fn fixture(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut teardown: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("teardown") {
            teardown = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("unknown argument; the only one is `teardown = path::to::async_fn`"))
        }
    });
    parse_macro_input!(args with parser);
    let func = parse_macro_input!(item as ItemFn);
    match expand_fixture(func, teardown) {
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

fn expand_fixture(func: ItemFn, teardown: Option<syn::Path>) -> syn::Result<TokenStream2> {
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
    let (value_ty, into_result) = match result_ok_type(&declared) {
        Some(ok) => (
            ok.clone(),
            quote!(out.map_err(|e| ::std::format!("returned Err: {:?}", e))),
        ),
        None => (declared.clone(), quote!(::core::result::Result::Ok(out))),
    };
    let teardown_fn = match &teardown {
        Some(path) => quote! {
            ::core::option::Option::Some(|value: ::std::rc::Rc<#value_ty>| -> ::portaltest::__private::BoxFuture<()> {
                ::std::boxed::Box::pin(async move { #path(&*value).await })
            })
        },
        None => quote!(::core::option::Option::None),
    };
    Ok(quote! {
        #(#attrs)*
        #[track_caller]
        #vis fn #ident() -> ::std::rc::Rc<#value_ty> {
            async fn __portaltest_init() -> #declared #block
            ::std::thread_local! {
                static __PORTALTEST_CELL: ::portaltest::__private::FixtureCell<#value_ty> =
                    ::portaltest::__private::FixtureCell::new();
            }
            ::portaltest::__private::fixture_get(
                &__PORTALTEST_CELL,
                #name,
                || -> ::portaltest::__private::BoxFuture<::core::result::Result<#value_ty, ::std::string::String>> {
                    ::std::boxed::Box::pin(async {
                        let out = __portaltest_init().await;
                        #into_result
                    })
                },
                #teardown_fn,
            )
        }
    })
}
