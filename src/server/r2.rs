//! The `ObjectStore` adapter over the R2 binding, and reading an object's metadata back.

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use js_sys::Object;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::{R2Bucket, R2MultipartUpload};
use worker::Bucket;

use super::buffers;
use super::cursor::SCRATCH;
use super::ingest::{abort_multipart, put_known, put_unknown, PART_BYTES, UNKNOWN_LENGTH_MIB};
use super::js::{describe, object, wait};
use super::origin::{OriginBody, WorkerOrigin};
use super::parallel::put_ranged;
use super::streamed::STREAM_MIB;
use crate::core::gate::Gate;
use crate::core::ranges::Plan;
use crate::core::seams::{ObjectMeta, ObjectStore, StoredObject};
use crate::core::Error;

/// R2 through the Worker binding; writes stream from `origin`.
pub(crate) struct R2Store<'a> {
    pub bucket: &'a Bucket,
    pub origin: &'a WorkerOrigin,
    /// `Config::one_stream_mib_s`: when a ranged file goes up as one stream.
    pub one_stream_mib_s: u64,
}

/// What a background job hears of a stream it stores as a multipart upload.
pub(crate) trait UploadLog {
    /// The upload's id, as soon as it is created and before any part goes up: recorded, a
    /// stream that dies with its invocation is aborted by the next one.
    fn started(&self, upload_id: String) -> LocalBoxFuture<'_, Result<(), Error>>;
    /// `bytes` more of the stream came from the origin (the job's progress).
    fn received(&self, bytes: u64);
}

/// Where one upload's bytes go: the object, its put options, the digest its bytes must
/// have, the request's gate every R2 call passes through, and who is told of a multipart
/// upload.
pub(crate) struct Target<'a> {
    pub bucket: &'a R2Bucket,
    pub key: &'a str,
    /// `{ httpMetadata: { contentType }, customMetadata: {...} }`.
    pub options: JsValue,
    pub expected: Option<&'a str>,
    pub gate: &'a Gate,
    pub log: Option<&'a dyn UploadLog>,
}

fn r2_error(what: &str, e: &JsValue) -> Error {
    Error::internal(format!("r2 {what}: {}", describe(e)))
}

impl Target<'_> {
    /// One put of `value` (bytes, or a stream of known length). With an expected digest,
    /// R2 checks it and refuses different bytes.
    pub async fn put(&self, value: JsValue) -> Result<(), Error> {
        self.put_as(value, false).await
    }

    /// [`Target::put`] of a stream fed, while the put runs, from ranges it may open and
    /// resume: a streaming call ([`Gate::streaming_call`]).
    pub async fn put_streaming(&self, stream: JsValue) -> Result<(), Error> {
        self.put_as(stream, true).await
    }

    async fn put_as(&self, value: JsValue, streaming: bool) -> Result<(), Error> {
        let options = match self.expected {
            Some(hex) => {
                let copy = Object::assign(&Object::new(), self.options.unchecked_ref());
                let _ = js_sys::Reflect::set(&copy, &"sha256".into(), &JsValue::from_str(hex));
                copy.into()
            }
            None => self.options.clone(),
        };
        let put = || async { wait(self.bucket.put(self.key.to_owned(), value, options)?).await };
        let stored = match streaming {
            true => self.gate.streaming_call(put).await,
            false => self.gate.call(put).await,
        };
        stored.map(drop).map_err(|e| r2_error("put", &e))
    }

    /// `sha256` if it is the digest expected (or none was), else the mismatch.
    pub fn checked(&self, sha256: String) -> Result<String, Error> {
        match self.expected {
            Some(expected) if expected != sha256 => Err(Error::ChecksumMismatch { expected: expected.to_owned(), actual: sha256 }),
            _ => Ok(sha256),
        }
    }

    /// The answer of a put of `size` bytes hashed to `sha256`: a digest other than the one
    /// expected is the mismatch whatever the put did (and an object it stored goes).
    pub async fn settle(&self, stored: Result<(), Error>, sha256: String, size: u64) -> Result<StoredObject, Error> {
        match (self.checked(sha256), stored) {
            (Ok(sha256), Ok(())) => Ok(StoredObject { size, sha256 }),
            (Ok(_), Err(err)) => Err(err),
            (Err(mismatch), stored) => Err(self.failed(stored, mismatch).await),
        }
    }

    /// `err`, once the object a put `stored` is deleted: an upload that fails leaves none.
    pub async fn failed(&self, stored: Result<(), Error>, err: Error) -> Error {
        if stored.is_ok() {
            self.delete().await;
        }
        err
    }

    /// Starts a multipart upload of the object, and tells the log. When the log fails, the
    /// upload is aborted at once.
    pub async fn create_multipart(&self) -> Result<R2MultipartUpload, Error> {
        let upload: R2MultipartUpload = self
            .gate
            .call(|| async { wait(self.bucket.create_multipart_upload(self.key.to_owned(), self.options.clone())?).await })
            .await
            .map(JsCast::unchecked_into)
            .map_err(|e| r2_error("create multipart", &e))?;
        if let Some(log) = self.log {
            let logged = match upload.upload_id() {
                Ok(id) => log.started(id).await,
                Err(e) => Err(r2_error("multipart upload id", &e)),
            };
            if let Err(err) = logged {
                abort_multipart(self, &upload).await;
                return Err(err);
            }
        }
        Ok(upload)
    }

    /// Deletes the object (best effort: it was never committed, so nothing points at it).
    pub async fn delete(&self) {
        let _ = self.gate.call(|| async { wait(self.bucket.delete(self.key.to_owned())?).await }).await;
    }
}

/// `{ httpMetadata: { contentType }, customMetadata: {...} }` for a put.
pub(crate) fn put_options(meta: &ObjectMeta) -> JsValue {
    let custom = meta.to_map();
    object([
        ("httpMetadata", object([("contentType", JsValue::from_str(&meta.mime_type))])),
        ("customMetadata", object(custom.iter().map(|(k, v)| (k.as_str(), JsValue::from_str(v))))),
    ])
}

impl ObjectStore for R2Store<'_> {
    type Body = OriginBody;

    async fn put_object(
        &self,
        key: &str,
        body: OriginBody,
        meta: &ObjectMeta,
        limit: u64,
        expected_sha256: Option<&str>,
    ) -> Result<StoredObject, Error> {
        let target = Target {
            bucket: self.bucket.as_ref().unchecked_ref(),
            key,
            options: put_options(meta),
            expected: expected_sha256,
            gate: &self.origin.gate,
            log: None,
        };
        // A body read whole already (small) holds its bytes; any other takes its buffers'
        // share of the isolate's budget first (parallel lanes take more for their parts).
        let _buffers = match buffered_mib(&body) {
            0 => None,
            mib => Some(buffers::take(mib, self.origin).await?),
        };
        // Each path boxed: only the one taken is in the upload's poll chain (see `dispatch`).
        let stored = match (&body.ranged, body.length) {
            (Some(_), _) => put_ranged(&target, self.origin, body, self.one_stream_mib_s).boxed_local().await,
            (None, Some(length)) => put_known(&target, self.origin, body, length).boxed_local().await,
            (None, None) => put_unknown(&target, self.origin, body, limit).boxed_local().await,
        };
        // An internal error names the object, for the log.
        stored.map_err(|e| e.context(|| format!("storing {key}")))
    }
}

/// MiB of buffers storing `body` holds: none when it is all read already (a small body),
/// [`transfer_mib`] for a known length (a ranged file's or the body's), a one-part ranged
/// file whole and the scratch buffer it is read through (`parallel::put_whole`), two part
/// buffers for an unknown one (`ingest::put_unknown`).
fn buffered_mib(body: &OriginBody) -> usize {
    let prefix: u64 = body.prefix.iter().map(|c| u64::from(c.length())).sum();
    match body.ranged.as_ref().map(|r| r.total).or(body.length) {
        Some(total) if total <= prefix => 0,
        Some(total) if body.ranged.is_some() && Plan::new(total).single() => buffers::mib(total) + buffers::mib(u64::from(SCRATCH)),
        Some(total) => transfer_mib(total),
        None if body.ended => 0,
        None => UNKNOWN_LENGTH_MIB,
    }
}

/// MiB of buffers a file of known length `total` holds on its way to R2 as a stream
/// (besides parallel lanes' parts): its 1 MiB chunks written ahead, [`STREAM_MIB`] at most.
pub(crate) fn transfer_mib(total: u64) -> usize {
    buffers::mib(total).min(STREAM_MIB)
}
const _: () = assert!(STREAM_MIB >= buffers::mib(PART_BYTES as u64));

/// The metadata of a stored object (`None` when it lacks ours).
pub(crate) fn object_meta(obj: &worker::Object) -> Option<ObjectMeta> {
    let map = obj.custom_metadata().ok()?;
    let mime = obj.http_metadata().content_type.unwrap_or_else(|| "application/octet-stream".into());
    ObjectMeta::from_map(&map, mime)
}
