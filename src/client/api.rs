//! The HTTP calls of the client: each one a [`Call`] (method, path, JSON body), sent by the
//! one [`send`] (gloo-net `fetch`) and its answer read from the envelope by [`envelope_data`].

use gloo_net::http::Request;
use serde::de::DeserializeOwned;
use web_sys::AbortSignal;

use super::error::ClientError;
use super::options::Settings;
use crate::core::batch::BatchData;
use crate::core::envelope::{Envelope, FileData};
use crate::core::idempotency;

/// Path of the upload endpoint.
pub(crate) const UPLOAD_ROUTE: &str = "/api/v1/files/upload/url";
/// Path of the batch upload endpoint.
pub(crate) const BATCH_ROUTE: &str = "/api/v1/files/upload/urls";
/// Path of the listing; one file is `{FILES_ROUTE}/{file_id}`.
pub(crate) const FILES_ROUTE: &str = "/api/v1/files";
/// Path of the caller's usage.
pub(crate) const USAGE_ROUTE: &str = "/api/v1/usage";
/// Background jobs.
pub(crate) const JOBS_ROUTE: &str = "/api/v1/jobs";
/// Path of the health endpoint.
pub(crate) const HEALTH_ROUTE: &str = "/api/v1/health";

/// The HTTP methods the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Delete,
}

#[cfg(test)]
impl Method {
    /// The method's name, to look its call up in the server's routing table.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One authenticated API request: method, path (with its query) and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
    /// Sent as `Idempotency-Key` (an upload, a batch or a job's start).
    pub idempotency_key: Option<String>,
}

impl Call {
    /// `POST /api/v1/files/upload/url` with a validated body (`"async": true`: a background
    /// job's start) and its `Idempotency-Key`, if any.
    pub(crate) fn upload((body, idempotency_key): (String, Option<String>)) -> Call {
        Call { method: Method::Post, path: UPLOAD_ROUTE.into(), body: Some(body), idempotency_key }
    }

    /// `POST /api/v1/files/upload/urls` with a validated body and its `Idempotency-Key`.
    pub(crate) fn batch((body, idempotency_key): (String, Option<String>)) -> Call {
        Call { method: Method::Post, path: BATCH_ROUTE.into(), body: Some(body), idempotency_key }
    }

    /// `GET` or `DELETE /api/v1/files/{file_id}` (the id already checked).
    pub(crate) fn file(method: Method, file_id: &str) -> Call {
        Call { method, path: format!("{FILES_ROUTE}/{file_id}"), body: None, idempotency_key: None }
    }

    /// `POST /api/v1/files/{file_id}/link` (the id and body already checked).
    pub(crate) fn link(file_id: &str, body: String) -> Call {
        Call { method: Method::Post, path: format!("{FILES_ROUTE}/{file_id}/link"), body: Some(body), idempotency_key: None }
    }

    /// `GET /api/v1/files{query}` (the query already checked, `""` or `?...`).
    pub(crate) fn list(query: &str) -> Call {
        Call { method: Method::Get, path: format!("{FILES_ROUTE}{query}"), body: None, idempotency_key: None }
    }

    /// `GET` or `DELETE /api/v1/jobs/{job_id}` (the id already checked).
    pub(crate) fn job(method: Method, job_id: &str) -> Call {
        Call { method, path: format!("{JOBS_ROUTE}/{job_id}"), body: None, idempotency_key: None }
    }

    /// `GET /api/v1/usage`.
    pub(crate) fn usage() -> Call {
        Call { method: Method::Get, path: USAGE_ROUTE.into(), body: None, idempotency_key: None }
    }
}

fn network(err: gloo_net::Error) -> ClientError {
    ClientError::Network(err.to_string())
}

/// The envelope's `data` read as `T` (an answer of another shape is `Unexpected`).
pub(crate) fn data_as<T: DeserializeOwned>(data: serde_json::Value) -> Result<T, ClientError> {
    serde_json::from_value(data).map_err(|e| unexpected_shape(&e))
}

/// The one request path: sends `call` with the `Authorization` header (and its JSON body)
/// and resolves with the envelope's `data` and the answer's `Retry-After` (a batch's, when
/// an item was refused for a reason that passes), or the error the answer reports. An
/// abort of `signal` before the answer is read ends it (`Aborted`; nothing is sent when it
/// came first).
pub(crate) async fn send(settings: &Settings, authorization: &str, call: &Call, signal: Option<&AbortSignal>) -> Result<(serde_json::Value, Option<u32>), ClientError> {
    let aborted = || signal.is_some_and(AbortSignal::aborted);
    if aborted() {
        return Err(ClientError::Aborted { sent: false });
    }
    // A failure after an abort is the abort's (the fetch's own error says less).
    let failed = |err: gloo_net::Error| if aborted() { ClientError::Aborted { sent: call.method != Method::Get } } else { network(err) };
    let url = format!("{}{}", settings.base, call.path);
    let builder = match call.method {
        Method::Get => Request::get(&url),
        Method::Post => Request::post(&url),
        Method::Delete => Request::delete(&url),
    }
    .header("Authorization", authorization)
    .abort_signal(signal);
    let builder = match &call.idempotency_key {
        Some(key) => builder.header(idempotency::HEADER, key),
        None => builder,
    };
    let request = match &call.body {
        Some(body) => builder.header("Content-Type", "application/json").body(body.as_str()),
        None => builder.build(),
    }
    // nothing was sent: a request the runtime would not make (a `signal` that is not its own
    // AbortSignal, in a browser)
    .map_err(|e| ClientError::Options(format!("the request could not be made: {e}")))?;
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    // delta-seconds only (an HTTP-date is not what this service sends)
    let retry_after = response.headers().get("Retry-After").and_then(|v| v.trim().parse().ok());
    // A body cut short (the connection dropped after the headers) is a network failure: no
    // answer was read, and it may pass.
    let text = response.text().await.map_err(failed)?;
    envelope_data(status, &text, retry_after).map(|data| (data, retry_after))
}

fn unexpected_shape(err: &serde_json::Error) -> ClientError {
    ClientError::unexpected(200, format!("data is not of the expected shape ({err})"))
}

/// Turns a response into its `data` (as `T`) or the error it reports.
#[cfg(test)]
pub(crate) fn read_envelope<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, ClientError> {
    data_as(envelope_data(status, text, None)?)
}

/// Turns a response into its envelope's `data` or the error it reports.
fn envelope_data(status: u16, text: &str, retry_after: Option<u32>) -> Result<serde_json::Value, ClientError> {
    let envelope: Envelope<serde_json::Value> = serde_json::from_str(text).map_err(|_| {
        let start: String = text.trim().chars().take(120).collect();
        let detail = if start.is_empty() { "empty body".into() } else { format!("not JSON: {start}") };
        // A proxy's or the edge's page (a 429, a 503) may say when to come back too.
        ClientError::Unexpected { status, detail, retry_after }
    })?;
    if !(200..300).contains(&status) || !envelope.success {
        return Err(ClientError::Server { status, code: envelope.code, msg: envelope.msg, retry_after });
    }
    envelope.data.ok_or_else(|| ClientError::unexpected(status, "success without data".into()))
}

/// The batch's answer with the items refused before sending put back in their places:
/// `refused` has one slot per item (`None` = sent), `answered` the server's results for the
/// sent ones, in order. The tallies are recounted over all items.
pub(crate) fn merge_batch(refused: Vec<Option<Envelope<FileData>>>, answered: Option<BatchData>) -> Result<BatchData, ClientError> {
    let sent = refused.iter().filter(|r| r.is_none()).count();
    let mut answers = answered.map(|a| a.results).unwrap_or_default().into_iter();
    if answers.len() != sent {
        let detail = format!("{} results for {sent} items", answers.len());
        return Err(ClientError::unexpected(200, detail));
    }
    let results = refused.into_iter().map(|slot| slot.or_else(|| answers.next())).collect::<Option<Vec<_>>>();
    results.map(BatchData::new).ok_or_else(|| ClientError::unexpected(200, "missing result".into()))
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
    use crate::core::batch::item_envelope;
    use crate::core::envelope::{FileDeleted, SignedLinks};
    use crate::core::quota::UsageReport;
    use crate::core::listing::FileList;
    use crate::core::route::{route, Route};
    use crate::core::Error;

    const ID: &str = "file_0123456789abcdef0123456789abcdef";
    const JOB: &str = "job_0123456789abcdef0123456789abcdef";
    const DATA: &str = r#"{"file_id":"file_0123456789abcdef0123456789abcdef","file_name":"a.png","original_name":"a.png","file_size":3,"mime_type":"image/png","upload_path":"images","file_url":"http://h/f/k/images/a.png","download_url":"http://h/api/v1/files/download/file_0123456789abcdef0123456789abcdef","upload_time":"2026-01-01T00:00:00+00:00","expires_at":"2026-01-04T00:00:00+00:00","sha256":"039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81"}"#;

    fn ok(data: &str) -> String {
        format!(r#"{{"success":true,"code":200,"msg":"ok","data":{data}}}"#)
    }

    fn file_data() -> FileData {
        serde_json::from_str(DATA).unwrap()
    }

    #[test]
    fn every_call_reaches_its_route_in_the_servers_table() {
        let cases = [
            (Call::upload(("{}".into(), None)), Route::Upload),
            (Call::batch(("{}".into(), None)), Route::UploadBatch),
            (Call::file(Method::Get, ID), Route::FileInfo { file_id: ID.into() }),
            (Call::file(Method::Delete, ID), Route::DeleteFile { file_id: ID.into() }),
            (Call::list(""), Route::ListFiles),
            (Call::list("?limit=2"), Route::ListFiles),
            (Call::usage(), Route::Usage),
            (Call::link(ID, "{}".into()), Route::Link { file_id: ID.into() }),
            (Call::job(Method::Get, JOB), Route::JobStatus { job_id: JOB.into() }),
            (Call::job(Method::Delete, JOB), Route::CancelJob { job_id: JOB.into() }),
        ];
        for (call, want) in cases {
            let path = call.path.split('?').next().unwrap();
            assert_eq!(route(call.method.as_str(), path), Ok(want), "{call:?}");
            assert_eq!(call.body.is_some(), call.method == Method::Post, "{call:?}");
        }
        assert_eq!(Call::list("?limit=2").path, "/api/v1/files?limit=2");
        assert_eq!(route("GET", HEALTH_ROUTE), Ok(Route::Health));
    }

    #[test]
    fn answers_become_file_data_or_the_error_they_report() {
        assert_eq!(read_envelope::<FileData>(200, &ok(DATA)).unwrap().file_size, 3);

        let cases: Vec<(u16, String, ClientError)> = vec![
            (401, r#"{"success":false,"code":401,"msg":"invalid API key","data":null}"#.into(),
             ClientError::server(401, 401, "invalid API key")),
            (404, r#"{"success":false,"code":404,"msg":"file not found, deleted, expired or past its download limit","data":null}"#.into(),
             ClientError::server(404, 404, "file not found, deleted, expired or past its download limit")),
            (502, "<html>Bad gateway</html>".into(),
             ClientError::unexpected(502, "not JSON: <html>Bad gateway</html>".into())),
            (200, "".into(), ClientError::unexpected(200, "empty body".into())),
            (200, r#"{"success":true,"code":200,"msg":"ok","data":null}"#.into(),
             ClientError::unexpected(200, "success without data".into())),
            (500, r#"{"success":true,"code":200,"msg":"ok","data":{}}"#.into(),
             ClientError::server(500, 200, "ok")),
        ];
        for (status, body, want) in cases {
            assert_eq!(read_envelope::<FileData>(status, &body).unwrap_err(), want, "{body}");
        }
        assert!(matches!(read_envelope::<FileData>(200, &ok(r#"{"file_id":1}"#)),
            Err(ClientError::Unexpected { status: 200, .. })));
        // The edge's own rate-limit page: not the envelope, but its Retry-After is kept.
        let page = envelope_data(429, "<html>Too many requests</html>", Some(7)).unwrap_err();
        assert_eq!(page.retry_after(), Some(7));
        assert_eq!(page, ClientError::Unexpected { status: 429, detail: "not JSON: <html>Too many requests</html>".into(), retry_after: Some(7) });
    }

    #[test]
    fn the_new_answers_read_into_the_servers_own_types() {
        let deleted: FileDeleted = read_envelope(200, &ok(&format!(r#"{{"file_id":"{ID}","deleted":true}}"#))).unwrap();
        assert_eq!(deleted, FileDeleted { file_id: ID.into(), deleted: true });

        let list: FileList = read_envelope(200, &ok(&format!(r#"{{"files":[{DATA}],"cursor":null}}"#))).unwrap();
        assert_eq!(list, FileList { files: vec![file_data()], cursor: None });
        let next: FileList = read_envelope(200, &ok(r#"{"files":[],"cursor":"eyJwIjoiIn0"}"#)).unwrap();
        assert_eq!(next.cursor.as_deref(), Some("eyJwIjoiIn0"));

        let usage = r#"{"key_id":"k_a","name":"a","bytes":5,"files":1,"reserved_bytes":0,"reserved_files":0,"max_bytes":100,"max_files":10}"#;
        let report: UsageReport = read_envelope(200, &ok(usage)).unwrap();
        assert_eq!((report.bytes, report.files, report.max_files), (5, 1, 10));
        assert_eq!(serde_json::to_value(&report).unwrap(), serde_json::from_str::<serde_json::Value>(usage).unwrap());

        let batch = format!(r#"{{"succeeded":1,"failed":1,"results":[{},{{"success":false,"code":502,"msg":"origin responded with HTTP 404","data":null}}]}}"#, ok(DATA));
        let data: BatchData = read_envelope(200, &ok(&batch)).unwrap();
        assert_eq!((data.succeeded, data.failed, data.results.len()), (1, 1, 2));
        assert_eq!(data.results[0].data, Some(file_data()));

        let links = format!(r#"{{"file_id":"{ID}","file_url":"http://h/f/k/a.png?exp=1&sig=s","download_url":"http://h/api/v1/files/download/{ID}?exp=1&sig=s","expires_at":"2026-01-01T00:10:00+00:00"}}"#);
        let signed: SignedLinks = read_envelope(200, &ok(&links)).unwrap();
        assert_eq!(signed.expires_at, "2026-01-01T00:10:00+00:00");
        assert_eq!(serde_json::to_value(&signed).unwrap(), serde_json::from_str::<serde_json::Value>(&links).unwrap());

        assert!(matches!(read_envelope::<FileList>(200, &ok(r#"{"files":{}}"#)), Err(ClientError::Unexpected { .. })));
    }

    #[test]
    fn refused_items_go_back_in_their_places() {
        let refused = || Some(item_envelope(Err(Error::MissingField("file_url"))));
        let answered = BatchData::new(vec![item_envelope(Ok(file_data())), item_envelope(Err(Error::OriginStatus(404)))]);
        let merged = merge_batch(vec![None, refused(), None], Some(answered.clone())).unwrap();
        assert_eq!((merged.succeeded, merged.failed), (1, 2));
        assert_eq!(merged.results.iter().map(|r| r.code).collect::<Vec<_>>(), [200, 400, 502]);

        let none_sent = merge_batch(vec![refused(), refused()], None).unwrap();
        assert_eq!((none_sent.succeeded, none_sent.failed), (0, 2));

        for (slots, answer) in [(vec![None], Some(answered.clone())), (vec![None, None, None], Some(answered)), (vec![None], None)] {
            assert!(matches!(merge_batch(slots, answer), Err(ClientError::Unexpected { status: 200, .. })));
        }
    }
}
