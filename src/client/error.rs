//! The client's one error type and its conversion into the JS `Error` a promise rejects with.

use wasm_bindgen::prelude::*;

use crate::core::fields::{field_of, field_of_error, Field};
use crate::core::Error;

#[wasm_bindgen(module = "/client/upload_error.js")]
extern "C" {
    /// The package's exported `UploadError` class (an `Error` subclass), so callers can
    /// test `err instanceof UploadError`.
    type UploadError;
    #[wasm_bindgen(constructor)]
    fn new(message: &str, status: u16, code: u16, field: JsValue, retry_after: Option<u32>, uncertain: bool) -> UploadError;
}

/// Why a client call failed. Every variant becomes an `UploadError` (a JS `Error`) with
/// `status`, `code`, `message`, when one field is at fault `field`, when the server said
/// when to try again `retryAfter`, and whether the call may have been done `uncertain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientError {
    /// Caught before sending by the same core validation the server runs.
    Invalid(Error),
    /// The server's error envelope: `code` and `msg` as sent, and its `Retry-After` in
    /// seconds (a 429 or 503 the caller may send again after that long).
    Server { status: u16, code: u16, msg: String, retry_after: Option<u32> },
    /// A response that is not the JSON envelope (a proxy page, a truncated body...), and
    /// the `Retry-After` it came with (a proxy's or the edge's 429 or 503 page may ask too).
    Unexpected { status: u16, detail: String, retry_after: Option<u32> },
    /// No response at all: DNS, refused connection, CORS, offline.
    Network(String),
    /// The options passed to the constructor or a method are unusable.
    Options(String),
    /// The last failure of a call sent again after a send that may have been done (no
    /// answer, say): as that failure, but `uncertain` whatever it says.
    Again(Box<ClientError>),
    /// The caller's `signal` aborted the call; `sent`: a send that changes something (not
    /// a `GET`) was on its way, so it may have been done.
    Aborted { sent: bool },
}

impl ClientError {
    /// The HTTP status (0: no answer, or refused before sending).
    pub(crate) fn status(&self) -> u16 {
        match self {
            ClientError::Invalid(err) => err.status(),
            ClientError::Server { status, .. } | ClientError::Unexpected { status, .. } => *status,
            ClientError::Network(_) | ClientError::Options(_) | ClientError::Aborted { .. } => 0,
            ClientError::Again(last) => last.status(),
        }
    }

    fn code(&self) -> u16 {
        match self {
            ClientError::Invalid(err) => err.status(),
            ClientError::Server { code, .. } => *code,
            ClientError::Unexpected { status, .. } => *status,
            ClientError::Network(_) | ClientError::Options(_) | ClientError::Aborted { .. } => 0,
            ClientError::Again(last) => last.code(),
        }
    }

    fn message(&self) -> String {
        match self {
            ClientError::Invalid(err) => err.public_message(),
            ClientError::Server { msg, .. } => msg.clone(),
            ClientError::Unexpected { status, detail, .. } => {
                format!("unexpected response from the server (HTTP {status}): {detail}")
            }
            ClientError::Network(detail) => format!("network error: could not reach the server ({detail})"),
            ClientError::Options(detail) => format!("invalid options: {detail}"),
            ClientError::Again(last) => last.message(),
            ClientError::Aborted { .. } => "aborted by the call's signal".into(),
        }
    }

    fn field(&self) -> Option<Field> {
        match self {
            ClientError::Invalid(err) => field_of_error(err),
            // Not the service's answer (a proxy's page, a body of another shape): no field
            // of the request is to blame.
            ClientError::Network(_) | ClientError::Options(_) | ClientError::Unexpected { .. } | ClientError::Aborted { .. } => None,
            // The envelope names no field: its message does.
            ClientError::Server { status, msg, .. } => field_of(*status, msg),
            ClientError::Again(last) => last.field(),
        }
    }
}

impl ClientError {
    /// The server's error envelope, without a `Retry-After`.
    pub(crate) fn server(status: u16, code: u16, msg: impl Into<String>) -> Self {
        ClientError::Server { status, code, msg: msg.into(), retry_after: None }
    }

    /// An answer that is not the envelope, without a `Retry-After`.
    pub(crate) fn unexpected(status: u16, detail: String) -> Self {
        ClientError::Unexpected { status, detail, retry_after: None }
    }

    /// Whether the call may have been done all the same: no answer, a page that is not the
    /// service's, its 500, or a send aborted on its way (or any of these for an earlier
    /// send of it).
    pub(crate) fn uncertain(&self) -> bool {
        match self {
            ClientError::Network(_) | ClientError::Unexpected { .. } | ClientError::Again(_) => true,
            ClientError::Server { status, .. } => *status == 500,
            ClientError::Aborted { sent } => *sent,
            ClientError::Invalid(_) | ClientError::Options(_) => false,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<u32> {
        match self {
            ClientError::Server { retry_after, .. } | ClientError::Unexpected { retry_after, .. } => *retry_after,
            ClientError::Again(last) => last.retry_after(),
            _ => None,
        }
    }
}

impl From<Error> for ClientError {
    fn from(err: Error) -> Self {
        ClientError::Invalid(err)
    }
}

impl From<ClientError> for JsValue {
    fn from(err: ClientError) -> Self {
        let field = err.field().map_or(JsValue::NULL, |f| f.js().into());
        UploadError::new(&err.message(), err.status(), err.code(), field, err.retry_after(), err.uncertain()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_services_answers_name_a_field() {
        let proxy = ClientError::unexpected(502, "not JSON: <html>".into());
        assert_eq!(proxy.field(), None, "a gateway's page blames no field");
        let shape = ClientError::unexpected(200, "missing field `file_name`".into());
        assert_eq!(shape.field(), None);
        let server = ClientError::server(401, 401, "invalid API key");
        assert_eq!(server.field(), Some(Field::ApiKey));
    }

    #[test]
    fn only_a_call_without_the_services_answer_or_with_its_500_may_have_been_done() {
        let page = |status| ClientError::unexpected(status, String::new());
        for err in [ClientError::Network("offline".into()), page(502), page(200), page(0), ClientError::server(500, 500, "internal error")] {
            assert!(err.uncertain(), "{err:?}");
        }
        let busy = ClientError::Server { status: 503, code: 503, msg: String::new(), retry_after: Some(5) };
        for err in [busy, ClientError::server(502, 502, ""), ClientError::server(429, 429, ""), ClientError::Options(String::new()), ClientError::Invalid(Error::NotJson)] {
            assert!(!err.uncertain(), "{err:?}");
        }
        // aborted: uncertain only when a send that changes something was on its way
        assert!(ClientError::Aborted { sent: true }.uncertain());
        assert!(!ClientError::Aborted { sent: false }.uncertain());
        assert_eq!(ClientError::Aborted { sent: true }.status(), 0);
    }
}
