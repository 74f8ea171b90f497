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

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = r#"{"file_id":"file_0123456789abcdef0123456789abcdef","file_name":"a.png","original_name":"a.png","file_size":3,"mime_type":"image/png","upload_path":"images","file_url":"http://h/f/k/images/a.png","download_url":"http://h/api/v1/files/download/file_0123456789abcdef0123456789abcdef","upload_time":"2026-01-01T00:00:00+00:00","expires_at":"2026-01-04T00:00:00+00:00"}"#;

    #[test]
    fn answers_become_file_data_or_the_error_they_report() {
        let ok = format!(r#"{{"success":true,"code":200,"msg":"File uploaded successfully","data":{DATA}}}"#);
        assert_eq!(read_envelope(200, &ok).unwrap().file_size, 3);

        let cases: Vec<(u16, String, ClientError)> = vec![
            (401, r#"{"success":false,"code":401,"msg":"invalid API key","data":null}"#.into(),
             ClientError::Server { status: 401, code: 401, msg: "invalid API key".into() }),
            (502, "<html>Bad gateway</html>".into(),
             ClientError::Unexpected { status: 502, detail: "not JSON: <html>Bad gateway</html>".into() }),
            (200, "".into(), ClientError::Unexpected { status: 200, detail: "empty body".into() }),
            (200, r#"{"success":true,"code":200,"msg":"ok","data":null}"#.into(),
             ClientError::Unexpected { status: 200, detail: "success without data".into() }),
            (500, r#"{"success":true,"code":200,"msg":"ok","data":{}}"#.into(),
             ClientError::Server { status: 500, code: 200, msg: "ok".into() }),
        ];
        for (status, body, want) in cases {
            assert_eq!(read_envelope(status, &body).unwrap_err(), want, "{body}");
        }
        assert!(matches!(read_envelope(200, r#"{"success":true,"code":200,"msg":"ok","data":{"file_id":1}}"#),
            Err(ClientError::Unexpected { status: 200, .. })));
    }
}
