//! `POST /api/v1/files/upload/urls`: the batch body, validated as a whole and per item.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::envelope::{Envelope, FileData, JOB_ACCEPTED, UPLOADED};
use super::error::Error;
use super::gate::SLOTS;
use super::jobs::JobStatus;
use super::json::{read_object, JsonObject};
use super::request::{FileUrlCheck, Upload, UploadBody, UploadRequest, MAX_BODY_BYTES};
use super::url_policy::{parse_file_url, UrlPolicy};

/// Most items in one batch.
pub const MAX_ITEMS: usize = 20;
/// Uploads of one batch running at once. They share the request's [`SLOTS`] for calls
/// waiting for headers; a call that holds its slot for long while it needs one more (a
/// streamed put resuming a range) takes it as a streaming call, which always leaves a slot
/// free (`Gate::streaming_call`). Five at once: one upload's lanes are five connections too.
pub const CONCURRENCY: usize = SLOTS - 1;
/// Largest batch body, in bytes (20 items of up to ~3 KiB each).
pub const MAX_BATCH_BODY_BYTES: u64 = 64 * 1024;

/// `{"items": [...]}`: each item is kept as its JSON text, to be read on its own like a
/// single upload body (duplicate fields included), so that it may fail alone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody<'a> {
    #[serde(borrow)]
    items: Option<Vec<&'a RawValue>>,
}

impl<'de: 'a, 'a> JsonObject<'de> for BatchBody<'a> {
    const FIELDS: &'static [(&'static str, &'static str)] = &[("items", "must be an array")];
}

/// Parses `{"items": [...]}`. The batch itself must be well formed (an object with 1 to
/// [`MAX_ITEMS`] items); each item is validated on its own, as the single upload body it
/// stands for (its [`MAX_BODY_BYTES`] included), and may fail alone.
pub fn parse_batch(body: &[u8], policy: &UrlPolicy) -> Result<Vec<Result<UploadRequest, Error>>, Error> {
    parse_batch_with(body, &|raw| parse_file_url(raw, policy))
}

/// [`parse_batch`] with each `file_url` checked by `check_url`.
pub fn parse_batch_with<U>(body: &[u8], check_url: FileUrlCheck<U>) -> Result<Vec<Result<Upload<U>, Error>>, Error> {
    let items = read_object::<BatchBody>(body, MAX_BATCH_BODY_BYTES)?.items.ok_or(Error::MissingField("items"))?;
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(Error::invalid("items", format!("must hold 1 to {MAX_ITEMS} uploads (got {})", items.len())));
    }
    Ok(items.into_iter().map(|item| read_object::<UploadBody>(item.get().as_bytes(), MAX_BODY_BYTES)?.check(check_url)).collect())
}

/// The order the batch's items run in: groups of item indexes, each group's items one after
/// another, the groups side by side (at most [`CONCURRENCY`] at once). Items that name the
/// same `file_name` share a group, in request order, so the last of them holds the name, as
/// if they had been sent one by one; racing, any of them could have. Every other item is a
/// group of its own. Groups come in the order of their first items.
pub fn run_order<U>(items: &[Result<Upload<U>, Error>]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = item.as_ref().ok().and_then(|u| u.file_name.as_deref());
        let same = name.and_then(|n| groups.iter_mut().find(|g| items[g[0]].as_ref().ok().and_then(|u| u.file_name.as_deref()) == Some(n)));
        match same {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// One item's answer: the success envelope with its `FileData`, or its error envelope.
pub fn item_envelope(result: Result<FileData, Error>) -> Envelope<FileData> {
    match result {
        Ok(data) => Envelope::ok(UPLOADED, data),
        Err(err) => Envelope::error(&err),
    }
}

/// What an upload request comes to, single or in a batch: its stored file, or (asked to run
/// in the background) its job, answered 202.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ItemData {
    File(FileData),
    Job(JobStatus),
}

impl ItemData {
    /// Its success envelope: 200 with the file, or 202 with the job.
    pub fn envelope(self) -> Envelope<ItemData> {
        match self {
            ItemData::File(_) => Envelope::ok(UPLOADED, self),
            ItemData::Job(_) => Envelope::accepted(JOB_ACCEPTED, self),
        }
    }
}

/// The batch's `data`: the tallies, and every item's envelope in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchData<T = FileData> {
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<Envelope<T>>,
}

impl<T> BatchData<T> {
    pub fn new(results: Vec<Envelope<T>>) -> Self {
        let succeeded = results.iter().filter(|r| r.success).count();
        BatchData { failed: results.len() - succeeded, succeeded, results }
    }

    /// The batch's `msg`: how many items were stored, and how many were accepted as jobs
    /// (202: nothing of theirs is stored yet), of how many.
    pub fn summary(&self) -> String {
        let jobs = self.results.iter().filter(|r| r.success && r.code == 202).count();
        let stored = self.succeeded - jobs;
        let total = self.results.len();
        match jobs {
            0 => format!("{stored} of {total} uploaded"),
            _ => format!("{stored} of {total} uploaded, {jobs} accepted as jobs"),
        }
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
        assert!(items[2].as_ref().unwrap_err().public_message().contains("must be a JSON object"));
        assert_eq!(items[3].as_ref().unwrap().file_name.as_deref(), Some("b.txt"));
        // each item is read like a single upload body: unknown, repeated and mistyped fields
        let items = parse(r#"{"items":[{"file_url":"https://x.test/a","fileName":"x"},{"file_url":"https://x.test/a","file_url":"https://x.test/b"},{"file_url":"https://x.test/a","file_name":7},{"file_url":null},{"file_url":"https://x.test/c","upload_path":null}]}"#).unwrap();
        let msg = |i: usize| items[i].as_ref().unwrap_err().public_message();
        assert_eq!(msg(0), "unknown field `fileName`");
        assert!(msg(1).contains("duplicate field `file_url`"), "{}", msg(1));
        assert_eq!(msg(2), "invalid `file_name`: must be a string");
        assert_eq!(msg(3), "missing required field `file_url`");
        assert_eq!(items[4].as_ref().unwrap().upload_path, None);
        // an item larger than a single upload body is 413 alone, whitespace included
        let big = |pad: usize| format!(r#"{{"file_url":"https://x.test/a"{}}}"#, " ".repeat(pad));
        let at_cap = big(MAX_BODY_BYTES as usize - big(0).len());
        let items = parse(&format!(r#"{{"items":[{at_cap},{}]}}"#, big(at_cap.len() - big(0).len() + 1))).unwrap();
        assert!(items[0].is_ok());
        assert_eq!(items[1].as_ref().unwrap_err(), &Error::BodyTooLarge { limit: MAX_BODY_BYTES });
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
            (r#"{"items":null}"#, "missing required field `items`"),
            (r#"{"items":[{"file_url":"https://x.test/a.png"}],"items":[]}"#, "duplicate field `items`"),
            (r#"{"items":[{"file_url":"https://x.test/a.png"},{"#, "not valid JSON"),
            (r#"{"items":{}}"#, "invalid `items`: must be an array"),
            (r#"{"items":[],"x":1}"#, "unknown field `x`"),
            (r#"[]"#, "must be a JSON object"),
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

    #[test]
    fn summary_tells_stored_from_accepted() {
        let ok = |code: u16| Envelope { success: true, code, msg: String::new(), data: Some(()) };
        let failed = Envelope::<()>::error(&Error::OriginStatus(404));
        assert_eq!(BatchData::new(vec![ok(200), failed.clone()]).summary(), "1 of 2 uploaded");
        assert_eq!(BatchData::new(vec![ok(202), ok(202)]).summary(), "0 of 2 uploaded, 2 accepted as jobs");
        assert_eq!(BatchData::new(vec![ok(200), ok(202), failed]).summary(), "1 of 3 uploaded, 1 accepted as jobs");
    }

    #[test]
    fn items_naming_one_file_run_in_order() {
        let items = parse(r#"{"items":[
            {"file_url":"https://x.test/1","file_name":"a.png"},
            {"file_url":"https://x.test/2"},
            {"file_url":"ftp://x.test/3","file_name":"a.png"},
            {"file_url":"https://x.test/4","file_name":"b.png","upload_path":"d"},
            {"file_url":"https://x.test/5","file_name":"a.png","upload_path":"other"},
            {"file_url":"https://x.test/6"},
            {"file_url":"https://x.test/7","file_name":"b.png","upload_path":"d"}
        ]}"#).unwrap();
        // a refused item (3) runs alone; unnamed ones (2, 6) too
        assert_eq!(run_order(&items), vec![vec![0, 4], vec![1], vec![2], vec![3, 6], vec![5]]);
    }
}
