//! Serving stored files: `GET`/`HEAD` on `download_url` (attachment) and `file_url` (inline
//! when safe), with expiry enforced on every read.

use worker::{Headers, Request, Response};

use super::bindings::Services;
use super::js::now_ms;
use super::r2::{forget, index_entry, object_meta};
use crate::core::clock::is_expired;
use crate::core::serve::{self, content_range, headers, not_modified, parse_range, Mode, Served};
use crate::core::layout::index_key;
use crate::core::store::{IndexEntry, ObjectMeta};
use crate::core::Error;

/// `download_url`: the index names the object; the object must still be that upload.
pub(crate) async fn download(req: &Request, services: &Services, file_id: &str) -> Result<Response, Error> {
    let now = now_ms();
    let entry = live_entry(services, file_id, None, now).await?;
    serve_object(req, services, &entry.object_key, Some(file_id), Mode::Attachment, now).await
}

/// The index entry of `file_id` (of `owner`, when given) while it is live; an expired one is
/// deleted with its file, and its quota given back, on the way to the 404.
pub(crate) async fn live_entry(services: &Services, file_id: &str, owner: Option<&str>, now: i64) -> Result<IndexEntry, Error> {
    let entry = index_entry(&services.bucket, file_id)
        .await?
        .filter(|e| owner.is_none_or(|o| e.owner == o))
        .ok_or(Error::FileNotFound)?;
    if is_expired(entry.expires_ms, now) {
        expire_entry(services, &entry, file_id).await;
        return Err(Error::FileNotFound);
    }
    Ok(entry)
}

/// `file_url`: the path is the object key.
pub(crate) async fn inline(req: &Request, services: &Services, object_key: &str) -> Result<Response, Error> {
    serve_object(req, services, object_key, None, Mode::Inline, now_ms()).await
}

async fn serve_object(
    req: &Request,
    services: &Services,
    key: &str,
    file_id: Option<&str>,
    mode: Mode,
    now: i64,
) -> Result<Response, Error> {
    let bucket = &services.bucket;
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let r2 = |e: worker::Error| Error::internal(format!("r2 read {key}: {e}"));
    let obj = bucket.head(key).await.map_err(r2)?.ok_or(Error::FileNotFound)?;
    let meta = object_meta(&obj).ok_or(Error::FileNotFound)?;
    check(services, key, &meta, file_id, now).await?;

    let etag = obj.http_etag();
    let size = obj.size();
    let served = Served { size, etag: &etag, mime_type: &meta.mime_type, original_name: &meta.original_name, expires_ms: meta.expires_ms };
    let out = Headers::new();
    for (name, value) in headers(&served, mode, now) {
        let _ = out.set(name, &value);
    }
    if not_modified(header("If-None-Match").as_deref(), &etag) {
        return Ok(Response::empty().map_err(r2)?.with_status(304).with_headers(out));
    }
    let range = parse_range(header("Range").as_deref(), size)?;
    let (status, length) = match range {
        Some(r) => {
            let _ = out.set("Content-Range", &content_range(r, size));
            (206, r.end - r.start + 1)
        }
        None => (200, size),
    };
    let _ = out.set("Content-Length", &length.to_string());
    if req.method() == worker::Method::Head {
        return Ok(Response::empty().map_err(r2)?.with_status(status).with_headers(out));
    }

    let mut get = bucket.get(key).only_if(worker::Conditional { etag_matches: Some(obj.etag()), ..Default::default() });
    if let Some(r) = range {
        get = get.range(worker::Range::OffsetWithLength { offset: r.start, length });
    }
    // The etag condition makes the body the same upload the metadata above described.
    let body = get.execute().await.map_err(r2)?.and_then(|o| o.body()?.response_body().ok()).ok_or(Error::FileNotFound)?;
    Ok(Response::from_body(body).map_err(r2)?.with_status(status).with_headers(out))
}

/// Expired: delete and answer 404. Reached by `download_url` after an overwrite: 404.
async fn check(services: &Services, key: &str, meta: &ObjectMeta, file_id: Option<&str>, now: i64) -> Result<(), Error> {
    if file_id.is_some_and(|id| id != meta.file_id) {
        return Err(Error::FileNotFound);
    }
    if serve::check_live(meta.expires_ms, now).is_err() {
        expire(services, key, &meta.file_id, &meta.owner).await;
        return Err(Error::FileNotFound);
    }
    Ok(())
}

/// Deletes an expired file and gives its quota back (once: the ledger's release is
/// idempotent per file_id, so the sweep or a second reader changes nothing).
async fn expire(services: &Services, key: &str, file_id: &str, owner: &str) {
    forget(&services.bucket, key, file_id).await;
    services.ledger(owner).release_logged(file_id).await;
}

/// An expired index entry: its object goes only while it still holds this upload (a newer
/// upload to the same name keeps it); the entry goes; the quota comes back.
async fn expire_entry(services: &Services, entry: &IndexEntry, file_id: &str) {
    let head = services.bucket.head(&entry.object_key).await.ok().flatten();
    let ours = head.and_then(|o| object_meta(&o)).is_some_and(|m| m.file_id == file_id);
    if ours {
        forget(&services.bucket, &entry.object_key, file_id).await;
    } else if let Err(e) = services.bucket.delete(index_key(file_id)).await {
        worker::console_warn!("delete index {file_id}: {e}");
    }
    services.ledger(&entry.owner).release_logged(file_id).await;
}
