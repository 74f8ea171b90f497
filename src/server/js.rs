//! Small helpers for talking to JavaScript: promises, option objects, byte chunks, the clock.

use js_sys::{Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, ReadableStreamDefaultReader};

use crate::core::Error;

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

/// Drops what is left of `response`'s body unread (its connection is freed at once).
pub(crate) fn cancel_body(response: &web_sys::Response) {
    if let Some(body) = response.body() {
        drop(body.cancel());
    }
}

/// Now, in milliseconds since the Unix epoch (the Worker's clock).
pub(crate) fn now_ms() -> i64 {
    // One static call: no Date object to make, read and drop.
    js_sys::Date::now() as i64
}

// Reading a byte stream into buffers of our own (BYOB), still in JS memory.
#[wasm_bindgen]
extern "C" {
    /// `ReadableStreamBYOBReader`, with workerd's `readAtLeast` extension.
    #[wasm_bindgen(extends = js_sys::Object)]
    pub(crate) type ByobReader;
    #[wasm_bindgen(method, js_name = readAtLeast)]
    fn read_at_least_raw(this: &ByobReader, min_bytes: u32, view: &Uint8Array) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    pub(crate) fn cancel(this: &ByobReader) -> js_sys::Promise;
}

/// A BYOB reader of `stream`.
pub(crate) fn byob_reader(stream: &ReadableStream) -> Result<ByobReader, Error> {
    let get_reader: js_sys::Function = Reflect::get(stream, &"getReader".into())
        .and_then(|f| f.dyn_into())
        .map_err(|e| Error::internal(describe(&e)))?;
    get_reader
        .call1(stream, &object([("mode", JsValue::from_str("byob"))]))
        .map(JsCast::unchecked_into)
        .map_err(|e| Error::internal(describe(&e)))
}

/// Reads at least `min` bytes into `view` (fewer only at the end): the bytes read, and
/// whether the stream ended.
pub(crate) async fn read_at_least(reader: &ByobReader, min: u32, view: &Uint8Array) -> Result<(Uint8Array, bool), JsValue> {
    let result = wait(reader.read_at_least_raw(min, view)).await?;
    let done = Reflect::get(&result, &"done".into())?.as_bool().unwrap_or(true);
    let value = Reflect::get(&result, &"value".into())?;
    Ok((value.dyn_into::<Uint8Array>()?, done))
}

/// The name a Durable Object was addressed by (a key's id, a job's id), for its log lines;
/// its hex id where the platform does not pass the name in.
pub(crate) fn object_name(state: &worker::State) -> String {
    let id = state.id();
    id.name().unwrap_or_else(|| id.to_string())
}
