//! The HTTP calls of the client (gloo-net `fetch`), each answer read into its envelope.

use gloo_net::http::Request;

use super::error::ClientError;
use super::options::Settings;
use crate::core::envelope::{Envelope, FileData};

/// Path of the upload endpoint.
pub(crate) const UPLOAD_ROUTE: &str = "/api/v1/files/upload/url";
/// Path of the health endpoint.
pub(crate) const HEALTH_ROUTE: &str = "/api/v1/health";

fn network(err: gloo_net::Error) -> ClientError {
    ClientError::Network(err.to_string())
}

/// `POST /api/v1/files/upload/url` with an already validated body.
pub(crate) async fn upload(settings: &Settings, authorization: &str, body: String) -> Result<FileData, ClientError> {
    let response = Request::post(&format!("{}{UPLOAD_ROUTE}", settings.base))
        .header("Authorization", authorization)
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    let status = response.status();
    let text = response.text().await.map_err(|e| ClientError::Unexpected { status, detail: e.to_string() })?;
    read_envelope(status, &text)
}

/// Turns a response into `FileData` or the error it reports.
pub(crate) fn read_envelope(status: u16, text: &str) -> Result<FileData, ClientError> {
    let unexpected = |detail: String| ClientError::Unexpected { status, detail };
    let envelope: Envelope<serde_json::Value> = serde_json::from_str(text).map_err(|_| {
        let start: String = text.trim().chars().take(120).collect();
        unexpected(if start.is_empty() { "empty body".into() } else { format!("not JSON: {start}") })
    })?;
    if !(200..300).contains(&status) || !envelope.success {
        return Err(ClientError::Server { status, code: envelope.code, msg: envelope.msg });
    }
    let data = envelope.data.ok_or_else(|| unexpected("success without data".into()))?;
    serde_json::from_value(data).map_err(|e| unexpected(format!("data is not FileData ({e})")))
}

/// `GET /api/v1/health`: true when the service answers `{"ok": true}`.
pub(crate) async fn health(settings: &Settings) -> bool {
    let Ok(response) = Request::get(&format!("{}{HEALTH_ROUTE}", settings.base)).send().await else {
        return false;
    };
    if !response.ok() {
        return false;
    }
    match response.text().await.map(|t| serde_json::from_str::<serde_json::Value>(&t)) {
        Ok(Ok(json)) => json.get("ok") == Some(&serde_json::Value::Bool(true)),
        _ => false,
    }
}
