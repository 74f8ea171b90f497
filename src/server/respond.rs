//! The one place errors become HTTP responses, and JSON response helpers.

use serde::Serialize;
use worker::Response;

use crate::core::envelope::Envelope;
use crate::core::Error;

/// An API answer with `status`: JSON, like every error envelope, and never kept by a cache
/// (answers carry signed links and usage that a copy would outlive).
pub(crate) fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, Error> {
    let text = serde_json::to_string(body).map_err(Error::internal)?;
    let mut response = Response::ok(text).map_err(Error::internal)?.with_status(status);
    let headers = response.headers_mut();
    let _ = headers.set("Content-Type", "application/json; charset=utf-8");
    let _ = headers.set("Cache-Control", "no-store");
    Ok(response)
}

/// A 200 response of JSON text that is already serialised.
pub(crate) fn raw_json(text: &str) -> Result<Response, Error> {
    let mut response = Response::ok(text).map_err(Error::internal)?;
    let _ = response.headers_mut().set("Content-Type", "application/json; charset=utf-8");
    Ok(response)
}

/// Logs `err`'s detail when it is internal (`what` failed); the client sees none of it.
pub(crate) fn log_internal(what: &str, err: &Error) {
    if let Some(detail) = err.internal_detail() {
        worker::console_error!("{what}: internal error: {detail}");
    }
}

/// The envelope of `err`, with the headers its status calls for. Internal details are
/// logged here (`what` failed: the request) and never sent.
pub(crate) fn error(err: &Error, what: &str, head: bool) -> Response {
    log_internal(what, err);
    let body = serde_json::to_string(&Envelope::<()>::error(err)).unwrap_or_default();
    let response = if head { Response::empty() } else { Response::ok(body) };
    let mut response = match response {
        Ok(r) => r.with_status(err.status()),
        Err(_) => return Response::empty().expect("an empty response").with_status(500),
    };
    let headers = response.headers_mut();
    let _ = headers.set("Content-Type", "application/json; charset=utf-8");
    let _ = headers.set("Cache-Control", "no-store");
    match err {
        Error::Unauthorized(_) | Error::KeyDisabled | Error::KeyRevoked => {
            let _ = headers.set("WWW-Authenticate", "Bearer realm=\"urlstash\"");
        }
        Error::MethodNotAllowed { allow } => {
            let _ = headers.set("Allow", allow);
        }
        Error::RangeNotSatisfiable { size } => {
            let _ = headers.set("Content-Range", &format!("bytes */{size}"));
        }
        Error::EncodedBody => {
            // RFC 9110 section 15.5.16: the codings a request body may come in
            let _ = headers.set("Accept-Encoding", "identity");
        }
        Error::Blocked => {
            // RFC 7725: the one that blocks names itself; here, this service (its root).
            let _ = headers.set("Link", "</>; rel=\"blocked-by\"");
        }
        _ => {}
    }
    if let Some(secs) = err.retry_after_secs() {
        let _ = headers.set("Retry-After", &secs.to_string());
    }
    response
}
