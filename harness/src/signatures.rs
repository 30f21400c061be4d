//! The traits through which the macros check what users wrote, with compile errors in
//! the user's terms: teardown signatures, fallible fixtures, test return types.

use std::fmt::Debug;
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

/// What `main` resolves to, in the check that the first `#[portaltest::test]` of a
/// target emits, when the crate root has no `main`: a fallback `const` of this type
/// (`__private::main_fallbacks::main`).
pub struct NoMain;

/// Tells whether `main` resolved to a `main` of the crate root or to the macro's
/// fallback (see [`NoMain`]), like [`ResultProbe`].
pub struct MainProbe<T>(PhantomData<T>);

impl<T> MainProbe<T> {
    /// The probe for the item `_main`.
    pub fn of(_main: &T) -> Self {
        MainProbe(PhantomData)
    }
}

impl MainProbe<NoMain> {
    /// The name resolved to the fallback.
    pub fn check(&self) -> MainMissing {
        MainMissing
    }
}

/// The fallback of [`MainProbe::check`]: the crate root has a `main`.
pub trait MainFallback {
    /// The name resolved to the crate root's `main`.
    fn check(&self) -> MainPresent {
        MainPresent
    }
}

impl<T> MainFallback for MainProbe<T> {}

/// The crate root has a `main`.
pub struct MainPresent;
/// The crate root has no `main`.
pub struct MainMissing;

/// Implemented for (`main` found, anything) and (`main` not found, the harness check's
/// `#[test]` fn found: libtest's harness, whose `main` cannot be named and which has an
/// error of its own).
#[diagnostic::on_unimplemented(
    message = "this target has portaltest tests but no `main` to run them: add `portaltest::main!();` at the end of the target's source file",
    label = "this test would never run",
    note = "a `harness = false` target needs a `main`; `portaltest::main!()` defines one that runs every `#[portaltest::test]`",
    note = "to do something before the run, write your own instead: `fn main() -> std::process::ExitCode {{ /* ... */ portaltest::run_main() }}`"
)]
pub trait HasMain {}

#[diagnostic::do_not_recommend]
impl<T> HasMain for (MainPresent, T) {}
#[diagnostic::do_not_recommend]
impl HasMain for (MainMissing, MainPresent) {}

/// Fails to compile for (`MainMissing`, `MainMissing`).
pub fn assert_has_main<P: HasMain>(_: P) {}
