//! The timers of a transfer: a deadline that aborts its controller, and an idle bound on
//! one step of it.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, WorkerGlobalScope};
use worker::Delay;

use crate::core::Error;

/// The abort reason of a deadline that passed.
pub(crate) const DEADLINE: &str = "deadline";

fn scope() -> WorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// A timer that aborts `ended` with the reason [`DEADLINE`] in `ms`.
pub(crate) fn at_deadline(ended: &AbortController, ms: u64) -> Result<i32, Error> {
    // The controller's own `abort`, bound natively (no closure through wasm), rather than
    // `AbortSignal.any` over it and `AbortSignal.timeout`: three signals per upload, about
    // 3 % of a small upload's profile samples.
    let abort: js_sys::Function = js_sys::Reflect::get(ended, &"abort".into())
        .map_err(|_| Error::internal("AbortController.abort"))?
        .unchecked_into();
    let at_deadline = abort.bind1(ended, &JsValue::from_str(DEADLINE));
    let ms = i32::try_from(ms).unwrap_or(i32::MAX);
    scope()
        .set_timeout_with_callback_and_timeout_and_arguments_0(at_deadline.unchecked_ref(), ms)
        .map_err(|_| Error::internal("setTimeout"))
}

/// Stops the timer `handle` (one [`at_deadline`] set).
pub(crate) fn clear_timer(handle: i32) {
    scope().clear_timeout_with_handle(handle);
}

/// `work`, unless it waits past `ms`: then `cancel` (which must end it) is called, `work`
/// is awaited to its end, and the answer is `None`.
pub(crate) async fn within_idle<T>(ms: u64, work: impl Future<Output = T>, cancel: impl FnOnce()) -> Option<T> {
    cut_after(ms, work, cancel).await.ok()
}

/// `work`'s answer: `Ok` when it came within `ms`; else `cancel` (which must end it) is
/// called, `work` is awaited to its end, and its answer is `Err`.
pub(crate) async fn cut_after<T>(ms: u64, work: impl Future<Output = T>, cancel: impl FnOnce()) -> Result<T, T> {
    let mut working = pin!(work);
    match select(working.as_mut(), pin!(Delay::from(Duration::from_millis(ms)))).await {
        Either::Left((done, _)) => Ok(done),
        Either::Right(((), _)) => {
            cancel();
            Err(working.await)
        }
    }
}
