//! One call to a Durable Object, as the Worker makes them: the op as JSON in a POST, the
//! (small) reply read as text with one native call. The key's authority and a job's object
//! are both called this way (their `fetch` reads only the body).

use serde::Serialize;
use wasm_bindgen::JsValue;
use worker::{Method, ObjectNamespace, Request, RequestInit};

use super::js::{describe, wait};
use crate::core::gate::Gate;
use crate::core::Error;

/// POSTs `op` to the object named `name` (the call waiting for one of `gate`'s slots) and
/// answers the reply's text; a failure on the way, or a status other than 200, is an
/// internal error naming `what` and `name`.
pub(crate) async fn post<O: Serialize>(namespace: &ObjectNamespace, what: &str, name: &str, op: &O, gate: &Gate) -> Result<String, Error> {
    let internal = |step: &str, e: String| Error::internal(format!("{what} {name} {step}: {e}"));
    let stub = namespace.get_by_name(name).map_err(|e| internal("stub", e.to_string()))?;
    let body = serde_json::to_string(op).map_err(|e| internal("encode", e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
    let req = Request::new_with_init("https://object.internal/", &init).map_err(|e| internal("request", e.to_string()))?;
    let res = gate.call(|| stub.fetch_with_request(req)).await.map_err(|e| internal("fetch", e.to_string()))?;
    // The reply is small: read it with one native call, not as a stream.
    let res = web_sys::Response::from(res);
    let text = match res.text() {
        Ok(read) => wait(read).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
        Err(e) => return Err(internal("reply", describe(&e))),
    };
    if res.status() != 200 {
        return Err(internal("status", format!("{} {text}", res.status())));
    }
    Ok(text)
}
