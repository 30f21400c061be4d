//! Unwinding helpers: catching a future's panic, a panic payload's text, and the frame
//! that short backtraces end at.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Catches a panic of the wrapped (unpin) future's `poll`.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if payload.is::<stackportal::Cancelled>() {
        "cancelled".to_string()
    } else {
        "Box<dyn Any>".to_string()
    }
}

/// Calls `f`; std's short backtraces (and the harness's) end at this frame, whose
/// name std looks for (as it does for libtest's tests): frames of the portal, tokio
/// and the harness below a test are left out.
#[inline(never)]
pub(crate) fn __rust_begin_short_backtrace<T, F: FnOnce() -> T>(f: F) -> T {
    let result = f();
    // Not a tail call: keeps this frame on the stack while `f` runs.
    std::hint::black_box(());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&5u8), "Box<dyn Any>");
    }

    #[test]
    fn short_backtraces_end_at_the_marker_and_return_its_value() {
        assert_eq!(__rust_begin_short_backtrace(|| 7), 7);
    }
}
