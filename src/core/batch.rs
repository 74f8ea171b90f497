//! `POST /api/v1/files/upload/urls`: the batch body, validated as a whole and per item.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::envelope::{Envelope, FileData};
use super::error::Error;
use super::request::{upload_from_value, FileUrlCheck, Upload, UploadRequest};
use super::url_policy::{parse_file_url, UrlPolicy};

/// Most items in one batch.
pub const MAX_ITEMS: usize = 20;
/// Uploads of one batch running at once (each holds an origin connection and R2 writes;
/// Workers allow six simultaneous open connections per request).
pub const CONCURRENCY: usize = 6;
/// Largest batch body, in bytes (20 items of up to ~3 KiB each).
pub const MAX_BATCH_BODY_BYTES: u64 = 64 * 1024;

/// Parses `{"items": [...]}`. The batch itself must be well formed (an object with 1 to
/// [`MAX_ITEMS`] items); each item is validated on its own and may fail alone.
pub fn parse_batch(body: &[u8], policy: &UrlPolicy) -> Result<Vec<Result<UploadRequest, Error>>, Error> {
    parse_batch_with(body, &|raw| parse_file_url(raw, policy))
}

/// [`parse_batch`] with each `file_url` checked by `check_url`.
pub fn parse_batch_with<U>(body: &[u8], check_url: FileUrlCheck<U>) -> Result<Vec<Result<Upload<U>, Error>>, Error> {
    if body.len() as u64 > MAX_BATCH_BODY_BYTES {
        return Err(Error::BodyTooLarge { limit: MAX_BATCH_BODY_BYTES });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| Error::InvalidJson(e.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(Error::InvalidJson("expected a JSON object".into()));
    };
    let items = match fields.remove("items") {
        None | Some(Value::Null) => return Err(Error::MissingField("items")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Error::invalid("items", "must be an array")),
    };
    if let Some(unknown) = fields.keys().next() {
        return Err(Error::unknown_field(unknown));
    }
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(Error::invalid("items", format!("must hold 1 to {MAX_ITEMS} uploads (got {})", items.len())));
    }
    Ok(items.into_iter().map(|item| upload_from_value(item, check_url)).collect())
}

/// One item's answer: the success envelope with its `FileData`, or its error envelope.
pub fn item_envelope(result: Result<FileData, Error>) -> Envelope<FileData> {
    match result {
        Ok(data) => Envelope::ok("File uploaded successfully", data),
        Err(err) => Envelope { success: false, code: err.status(), msg: err.public_message(), data: None },
    }
}

/// The batch's `data`: every item's envelope, in request order, and the tallies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchData {
    pub results: Vec<Envelope<FileData>>,
    pub succeeded: usize,
    pub failed: usize,
}

impl BatchData {
    pub fn new(results: Vec<Envelope<FileData>>) -> Self {
        let succeeded = results.iter().filter(|r| r.success).count();
        BatchData { failed: results.len() - succeeded, succeeded, results }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Vec<Result<UploadRequest, Error>>, Error> {
        parse_batch(body.as_bytes(), &UrlPolicy::default())
    }

    #[test]
    fn items_fail_alone() {
        let items = parse(r#"{"items":[{"file_url":"https://x.test/a.png"},{"file_url":"ftp://x"},7,{"file_url":"https://x.test/b","file_name":"b.txt","upload_path":"d"}]}"#).unwrap();
        assert_eq!(items.len(), 4);
        assert!(items[0].is_ok());
        assert!(items[1].as_ref().unwrap_err().public_message().contains("scheme `ftp`"));
        assert!(items[2].as_ref().unwrap_err().public_message().contains("expected a JSON object"));
        assert_eq!(items[3].as_ref().unwrap().file_name.as_deref(), Some("b.txt"));
    }

    #[test]
    fn the_batch_itself_must_be_valid() {
        let item = r#"{"file_url":"https://x.test/a.png"}"#;
        let full = format!(r#"{{"items":[{}]}}"#, vec![item; MAX_ITEMS].join(","));
        assert_eq!(parse(&full).unwrap().len(), MAX_ITEMS);
        let over = format!(r#"{{"items":[{}]}}"#, vec![item; MAX_ITEMS + 1].join(","));
        let cases = [
            (over.as_str(), "must hold 1 to 20 uploads (got 21)"),
            (r#"{"items":[]}"#, "must hold 1 to 20 uploads (got 0)"),
            (r#"{}"#, "missing required field `items`"),
            (r#"{"items":{}}"#, "invalid `items`: must be an array"),
            (r#"{"items":[],"x":1}"#, "unknown field `x`"),
            (r#"[]"#, "expected a JSON object"),
        ];
        for (body, msg) in cases {
            let err = parse(body).unwrap_err();
            assert_eq!(err.status(), 400, "{body}");
            assert!(err.public_message().contains(msg), "{body}: {err}");
        }
    }

    #[test]
    fn answers_keep_order_and_count() {
        let data = BatchData::new(vec![item_envelope(Err(Error::QuotaExceeded("full".into()))), item_envelope(Err(Error::FileNotFound))]);
        assert_eq!((data.succeeded, data.failed), (0, 2));
        let json = serde_json::to_value(&data.results[0]).unwrap();
        assert_eq!(json, serde_json::json!({"success": false, "code": 429, "msg": "full", "data": null}));
    }
}
