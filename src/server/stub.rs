//! One call to a Durable Object, as the Worker makes them: the op as JSON in a POST, the
//! (small) reply read as text with one native call. The key's authority and a job's object
//! are both called this way (their `fetch` reads only the body).

use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::DurableObject;
use worker::ObjectNamespace;

use super::js::{describe, wait};
use crate::core::gate::Gate;
use crate::core::Error;

/// POSTs `op` to the object named `name` (the call waiting for one of `gate`'s slots) and
/// answers the reply's text; a failure on the way, or a status other than 200, is an
/// internal error naming `what` and `name`. The request and its answer stay the runtime's
/// own objects: the `worker` crate's wrappers would read each one's `cf` and headers
/// and build a second response around the body.
pub(crate) async fn post<O: Serialize>(namespace: &ObjectNamespace, what: &str, name: &str, op: &O, gate: &Gate) -> Result<String, Error> {
    let internal = |step: &str, e: String| Error::internal(format!("{what} {name} {step}: {e}"));
    let stub: DurableObject = namespace.get_by_name(name).map_err(|e| internal("stub", e.to_string()))?.into_rpc();
    let body = serde_json::to_string(op).map_err(|e| internal("encode", e.to_string()))?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    let req = web_sys::Request::new_with_str_and_init("https://object.internal/", &init).map_err(|e| internal("request", describe(&e)))?;
    let res = gate
        .call(|| async { wait(stub.fetch_with_request(&req)?).await })
        .await
        .map_err(|e| internal("fetch", describe(&e)))?;
    let res: web_sys::Response = res.unchecked_into();
    // The reply is small: read it with one native call, not as a stream.
    let text = match res.text() {
        Ok(read) => wait(read).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
        Err(e) => return Err(internal("reply", describe(&e))),
    };
    if res.status() != 200 {
        return Err(internal("status", format!("{} {text}", res.status())));
    }
    Ok(text)
}
