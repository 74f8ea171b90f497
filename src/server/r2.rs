//! The `ObjectStore` adapter over the R2 binding, and the reads the serving path needs.

use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::R2Bucket;
use worker::Bucket;

use super::ingest::{put_known, put_unknown};
use super::js::object;
use super::origin::{OriginBody, WorkerOrigin};
use crate::core::layout::index_key;
use crate::core::store::{IndexEntry, ObjectMeta, ObjectStore};
use crate::core::Error;

/// Maps an R2 failure of `op` to an internal error (the detail is logged, never sent).
pub(crate) fn r2_error(op: &str) -> impl Fn(worker::Error) -> Error + '_ {
    move |e| Error::internal(format!("r2 {op}: {e}"))
}

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

    async fn put_index(&self, file_id: &str, entry: &IndexEntry) -> Result<(), Error> {
        self.bucket
            .put(index_key(file_id), String::new())
            .custom_metadata(entry.to_map())
            .execute()
            .await
            .map(drop)
            .map_err(r2_error("put index"))
    }

    async fn delete_object(&self, key: &str) -> Result<(), Error> {
        self.bucket.delete(key).await.map_err(r2_error("delete"))
    }

    async fn delete_index(&self, file_id: &str) -> Result<(), Error> {
        self.bucket.delete(index_key(file_id)).await.map_err(r2_error("delete index"))
    }
}

/// The index entry of `file_id`, if any.
pub(crate) async fn index_entry(bucket: &Bucket, file_id: &str) -> Result<Option<IndexEntry>, Error> {
    let Some(obj) = bucket.head(index_key(file_id)).await.map_err(r2_error("head index"))? else {
        return Ok(None);
    };
    let map = obj.custom_metadata().map_err(r2_error("index metadata"))?;
    Ok(IndexEntry::from_map(&map))
}

/// The metadata of a stored object (`None` when it lacks ours).
pub(crate) fn object_meta(obj: &worker::Object) -> Option<ObjectMeta> {
    let map = obj.custom_metadata().ok()?;
    let mime = obj.http_metadata().content_type.unwrap_or_else(|| "application/octet-stream".into());
    ObjectMeta::from_map(&map, mime)
}

/// Deletes an expired file: its object and its index entry.
pub(crate) async fn forget(bucket: &Bucket, object_key: &str, file_id: &str) {
    for key in [object_key.to_owned(), index_key(file_id)] {
        if let Err(e) = bucket.delete(&key).await {
            worker::console_warn!("delete {key}: {e}");
        }
    }
}
