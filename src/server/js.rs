//! Small helpers for talking to JavaScript: promises, option objects, byte chunks, the clock.

use js_sys::{Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

/// Awaits a JS promise.
pub(crate) async fn wait(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

/// `{ key: value, ... }`.
pub(crate) fn object<'a>(entries: impl IntoIterator<Item = (&'a str, JsValue)>) -> JsValue {
    let obj = Object::new();
    for (key, value) in entries {
        let _ = Reflect::set(&obj, &JsValue::from_str(key), &value);
    }
    obj.into()
}

/// The next chunk of a byte stream, still in JS memory; `None` at its end.
pub(crate) async fn read_chunk(reader: &ReadableStreamDefaultReader) -> Result<Option<Uint8Array>, JsValue> {
    let result = wait(reader.read()).await?;
    let done = Reflect::get(&result, &JsValue::from_str("done"))?.as_bool().unwrap_or(true);
    if done {
        return Ok(None);
    }
    let value = Reflect::get(&result, &JsValue::from_str("value"))?;
    Ok(Some(value.dyn_into::<Uint8Array>()?))
}

/// A short text for the log from a JS error value.
pub(crate) fn describe(err: &JsValue) -> String {
    err.as_string()
        .or_else(|| err.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| format!("{err:?}"))
}

/// Now, in milliseconds since the Unix epoch (the Worker's clock).
pub(crate) fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}
