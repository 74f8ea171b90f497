//! The `ObjectStore` adapter over the R2 binding, and reading an object's metadata back.

use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::R2Bucket;
use worker::Bucket;

use super::ingest::{put_known, put_unknown};
use super::js::object;
use super::origin::{OriginBody, WorkerOrigin};
use crate::core::seams::{ObjectMeta, ObjectStore};
use crate::core::Error;

/// R2 through the Worker binding; writes stream from `origin`.
pub(crate) struct R2Store<'a> {
    pub bucket: &'a Bucket,
    pub origin: &'a WorkerOrigin,
}

/// `{ httpMetadata: { contentType }, customMetadata: {...} }` for a put.
fn put_options(meta: &ObjectMeta) -> JsValue {
    let custom = meta.to_map();
    object([
        ("httpMetadata", object([("contentType", JsValue::from_str(&meta.mime_type))])),
        ("customMetadata", object(custom.iter().map(|(k, v)| (k.as_str(), JsValue::from_str(v))))),
    ])
}

impl ObjectStore for R2Store<'_> {
    type Body = OriginBody;

    async fn put_object(&self, key: &str, body: OriginBody, meta: &ObjectMeta, limit: u64) -> Result<u64, Error> {
        let raw: &R2Bucket = self.bucket.as_ref().unchecked_ref();
        let options = put_options(meta);
        match body.length {
            Some(length) => put_known(raw, self.origin, key, body, length, &options).await,
            None => put_unknown(raw, self.origin, key, body, limit, &options).await,
        }
    }
}

/// The metadata of a stored object (`None` when it lacks ours).
pub(crate) fn object_meta(obj: &worker::Object) -> Option<ObjectMeta> {
    let map = obj.custom_metadata().ok()?;
    let mime = obj.http_metadata().content_type.unwrap_or_else(|| "application/octet-stream".into());
    ObjectMeta::from_map(&map, mime)
}
