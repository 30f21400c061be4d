//! The traits through which the macros check what users wrote, with compile errors in
//! the user's terms: teardown signatures, fallible fixtures, test return types.

use std::fmt::Debug;
use std::future::IntoFuture;
use std::marker::PhantomData;
use std::ops::AsyncFnOnce;
use std::rc::Rc;

use crate::fixture::BoxFuture;

/// A fixture's teardown, as `#[fixture(teardown = path)]` names it: it borrows the value
/// or takes it.
pub struct Teardown<T: 'static>(pub(crate) TeardownKind<T>);

pub(crate) enum TeardownKind<T: 'static> {
    /// `async fn stop(value: &T)`.
    ByRef(Box<dyn FnOnce(Rc<T>) -> BoxFuture<()>>),
    /// `async fn stop(value: T)`.
    ByValue(Box<dyn FnOnce(T) -> BoxFuture<()>>),
}

/// Marker: the teardown borrows the value.
pub struct ByRef;
/// Marker: the teardown takes the value.
pub struct ByValue;

/// What `#[fixture(teardown = path)]` accepts: `async fn(&T)` or `async fn(T)`.
#[diagnostic::on_unimplemented(
    message = "`teardown = ..` must name an `async fn(&{T})` or an `async fn({T})`",
    label = "not a teardown for a fixture of type `{T}`",
    note = "write `async fn stop(value: &{T})` to borrow the value, or `async fn stop(value: {T})` to take it; no other arguments, returning `()`"
)]
pub trait TeardownFn<T: 'static, M> {
    /// The teardown, boxed.
    fn into_teardown(self) -> Teardown<T>;
}

impl<T: 'static, F> TeardownFn<T, ByRef> for F
where
    F: for<'a> AsyncFnOnce(&'a T) + 'static,
{
    fn into_teardown(self) -> Teardown<T> {
        Teardown(TeardownKind::ByRef(Box::new(
            move |value: Rc<T>| -> BoxFuture<()> { Box::pin(async move { self(&*value).await }) },
        )))
    }
}

impl<T: 'static, F> TeardownFn<T, ByValue> for F
where
    F: AsyncFnOnce(T) + 'static,
{
    fn into_teardown(self) -> Teardown<T> {
        Teardown(TeardownKind::ByValue(Box::new(
            move |value: T| -> BoxFuture<()> { Box::pin(async move { self(value).await }) },
        )))
    }
}

/// Boxes the teardown `f` (which borrows or takes the value: `M` is inferred).
pub fn teardown<T: 'static, M, F: TeardownFn<T, M>>(f: F) -> Teardown<T> {
    f.into_teardown()
}

/// What `#[fixture(fallible)]` (or a `-> Result<T, E>` fixture) returns.
#[diagnostic::on_unimplemented(
    message = "a fallible fixture returns `Result<T, E>` with `E: Debug`, not `{Self}`",
    label = "expected `Result<T, E>` with `E: Debug`",
    note = "an `Err` fails every test that uses the fixture, printed with `{{:?}}`; remove `fallible` if the fixture cannot fail"
)]
pub trait FallibleFixture {
    /// The value the accessor hands out (`Rc<Ok>`).
    type Ok;
    /// `Err` carries the `Debug` text of the error.
    fn into_fixture_result(self) -> Result<Self::Ok, String>;
}

impl<T, E: Debug> FallibleFixture for Result<T, E> {
    type Ok = T;
    fn into_fixture_result(self) -> Result<T, String> {
        self.map_err(|e| format!("returned Err: {e:?}"))
    }
}

/// Tells at compile time whether a fixture's declared return type is a `Result` that
/// the macro could not see (a type alias): `ResultProbe::<R>::new().check()` is the
/// inherent method (returning [`ResultThroughAlias`]) for `R = Result<T, E>` and the
/// [`PlainProbe`] method (returning [`PlainValue`]) for every other type.
pub struct ResultProbe<R>(PhantomData<R>);

impl<R> ResultProbe<R> {
    /// A probe for `R`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        ResultProbe(PhantomData)
    }
}

impl<T, E> ResultProbe<Result<T, E>> {
    /// `R` is a `Result`.
    pub fn check(&self) -> ResultThroughAlias {
        ResultThroughAlias
    }
}

/// The fallback of [`ResultProbe::check`] for types that are not a `Result`.
pub trait PlainProbe {
    /// `R` is not a `Result`.
    fn check(&self) -> PlainValue {
        PlainValue
    }
}

impl<R> PlainProbe for ResultProbe<R> {}

/// The fixture's return type is not a `Result`.
pub struct PlainValue;
/// The fixture's return type is a `Result` behind an alias.
pub struct ResultThroughAlias;

/// Implemented only for [`PlainValue`]: a fixture returning a `Result` through an alias
/// must say `#[fixture(fallible)]`.
#[diagnostic::on_unimplemented(
    message = "this fixture returns a `Result` through a type alias: add `#[fixture(fallible)]`",
    label = "a `Result` behind an alias",
    note = "with `#[fixture(fallible)]` an `Err` fails every test that uses the fixture and `Ok(value)` is the value; the macro only recognises a `Result` written as `Result<..>`",
    note = "if the `Result` itself is meant to be the value, wrap it in a struct"
)]
pub trait NotAResult {}

impl NotAResult for PlainValue {}

/// Fails to compile for [`ResultThroughAlias`].
pub fn assert_not_result<P: NotAResult>(_: P) {}

/// What the name of a `#[portaltest::test]` fn resolves to, in the macro's expansion,
/// when the fn is not a module-level item (an associated fn in an `impl` block, or a fn
/// inside a function body): a fallback the macro defines, returning this type.
pub struct InImplBlock;

impl IntoFuture for InImplBlock {
    type Output = InImplBlock;
    type IntoFuture = std::future::Ready<InImplBlock>;
    fn into_future(self) -> Self::IntoFuture {
        std::future::ready(self)
    }
}

impl crate::registry::IntoTestResult for InImplBlock {
    fn into_test_result(self) -> Result<(), String> {
        Err("not a module-level fn".into())
    }
}

/// Tells whether a test's name resolved to the user's fn or to the macro's fallback
/// (see [`InImplBlock`]), like [`ResultProbe`].
pub struct FreeFnProbe<R>(PhantomData<R>);

impl<R> FreeFnProbe<R> {
    /// The probe for the fn `_f`.
    pub fn of<F: FnOnce() -> R>(_f: &F) -> Self {
        FreeFnProbe(PhantomData)
    }
}

impl FreeFnProbe<InImplBlock> {
    /// The name resolved to the fallback.
    pub fn check(&self) -> NotAFreeFn {
        NotAFreeFn
    }
}

/// The fallback of [`FreeFnProbe::check`]: the name is the user's module-level fn.
pub trait FreeFnFallback {
    /// The name resolved to the user's fn.
    fn check(&self) -> FreeFn {
        FreeFn
    }
}

impl<R> FreeFnFallback for FreeFnProbe<R> {}

/// The test is a module-level fn.
pub struct FreeFn;
/// The test is not a module-level fn.
pub struct NotAFreeFn;

/// Implemented only for [`FreeFn`].
#[diagnostic::on_unimplemented(
    message = "`#[portaltest::test]` goes on a module-level fn, not on an associated fn in an `impl` block (or a fn inside a function body)",
    label = "move this fn out of the `impl` block, to module level",
    note = "tests register themselves by path and are called without `Self`; a test that needs a type's helpers calls them as `Type::helper()`",
    note = "in a doctest, which rustdoc wraps in a `fn main` unless it has one, add the hidden line `# #[cfg(any())] fn main() {{}}`"
)]
pub trait IsFreeFn {}

impl IsFreeFn for FreeFn {}

/// Fails to compile for [`NotAFreeFn`].
pub fn assert_free_fn<P: IsFreeFn>(_: P) {}
