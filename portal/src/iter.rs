//! [`iter`]: an async `Stream` consumed as a sync `Iterator` (greenback's `async_iter`).

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;

use futures_core::Stream;

use crate::engine::await_;

/// Turns a [`Stream`] into a sync [`Iterator`] whose `next` awaits the stream's next
/// item through the portal the caller runs in.
///
/// Each `next` call must happen inside a portal (see [`await_`](crate::await_)).
///
/// ```
/// use futures::stream;
///
/// let total = futures::executor::block_on(stackportal::with_portal_run_sync(|| {
///     stackportal::iter(stream::iter(1..=4)).map(|x| x * 10).sum::<i32>()
/// }));
/// assert_eq!(total, 100);
/// ```
pub fn iter<S: Stream>(stream: S) -> Iter<S> {
    Iter {
        stream: Box::pin(stream),
    }
}

/// The iterator returned by [`iter`].
///
/// ```
/// let it: stackportal::Iter<futures::stream::Empty<u8>> = stackportal::iter(futures::stream::empty());
/// # drop(it);
/// ```
pub struct Iter<S> {
    stream: Pin<Box<S>>,
}

impl<S> fmt::Debug for Iter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<S: Stream> Iterator for Iter<S> {
    type Item = S::Item;

    fn next(&mut self) -> Option<S::Item> {
        let mut stream = self.stream.as_mut();
        await_(poll_fn(|cx| stream.as_mut().poll_next(cx)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}
