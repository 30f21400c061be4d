//! Procedural macros for [stackportal](https://docs.rs/stackportal). Use them through
//! the `stackportal` crate, which re-exports them.

// Neither the macros nor the code they generate need `unsafe`.
#![deny(unsafe_code)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{parse_macro_input, Error, ImplItemFn, LitStr, Path, Signature, Token};

/// Turns an `async fn` into a sync fn of the same name, arguments and output whose
/// body is awaited through the caller's portal (greenback's `autoawait`).
///
/// `#[autoawait(crate = "path")]` names the stackportal crate when it is re-exported
/// under another path (default `::stackportal`).
#[proc_macro_attribute]
pub fn autoawait(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as Args);
    // A free fn and a method parse alike as `ImplItemFn` (attributes, visibility,
    // defaultness, signature, block).
    let func = parse_macro_input!(item as ImplItemFn);
    match expand(args, func) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

struct Args {
    krate: Path,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut krate: Path = syn::parse_quote!(::stackportal);
        if !input.is_empty() {
            input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            let lit: LitStr = input.parse()?;
            krate = lit.parse()?;
        }
        if !input.is_empty() {
            return Err(input.error("expected nothing or `crate = \"path\"`"));
        }
        Ok(Args { krate })
    }
}

fn expand(args: Args, mut func: ImplItemFn) -> syn::Result<TokenStream2> {
    let sig: &mut Signature = &mut func.sig;
    if sig.asyncness.is_none() {
        return Err(Error::new(
            sig.fn_token.span,
            "#[autoawait] goes on an `async fn`: it makes a sync fn that awaits the body \
             through the portal. A sync fn can call `stackportal::await_` directly.",
        ));
    }
    sig.asyncness = None;
    let krate = &args.krate;
    let block = &func.block;
    let attrs = &func.attrs;
    let vis = &func.vis;
    let defaultness = &func.defaultness;
    let sig = &func.sig;
    Ok(quote! {
        #(#attrs)*
        #vis #defaultness #sig {
            #krate::await_(async move #block)
        }
    })
}
