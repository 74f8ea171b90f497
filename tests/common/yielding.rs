//! Yield points for the doubles, so concurrent flows interleave, and single-stepping.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Returns `Pending` once (waking itself at once), then `Ready`: whatever else the executor
/// holds runs in between.
pub struct YieldNow(bool);

pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls `fut` once: one step of it, up to its next yield point.
pub fn step<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}
