//! The caller's own files and quota: `GET|DELETE /api/v1/files/{file_id}`,
//! `GET /api/v1/files` and `GET /api/v1/usage`. Another key's file is "not found", so ids
//! cannot be probed.

use worker::{Include, Request, Response};

use super::auth::authenticate;
use super::bindings::Services;
use super::http::{base_url, query};
use super::files::live_entry;
use super::js::now_ms;
use super::r2::{object_meta, r2_error as r2};
use super::respond;
use crate::core::clock::is_expired;
use crate::core::envelope::{Envelope, FileDeleted};
use crate::core::keys::KeyRecord;
use crate::core::layout::index_key;
use crate::core::ledger::UsageReport;
use crate::core::listing::{encode_cursor, file_data, list_prefix, parse_list_query, FileList};
use crate::core::store::ObjectMeta;
use crate::core::Error;

/// The live file `file_id` of `owner`: its object key, metadata and size. Expired files
/// are deleted (and their quota given back) on the way.
async fn owned(services: &Services, owner: &KeyRecord, file_id: &str) -> Result<(String, ObjectMeta, u64), Error> {
    let entry = live_entry(services, file_id, Some(&owner.id), now_ms()).await?;
    let obj = services.bucket.head(&entry.object_key).await.map_err(r2("head"))?;
    // Overwritten since (the name now holds another file_id): this id is gone.
    let found = obj.and_then(|o| object_meta(&o).map(|m| (m, o.size()))).filter(|(m, _)| m.file_id == file_id);
    let Some((meta, size)) = found else {
        let _ = services.bucket.delete(index_key(file_id)).await;
        return Err(Error::FileNotFound);
    };
    Ok((entry.object_key, meta, size))
}

pub(crate) async fn info(req: &Request, services: &Services, file_id: &str) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let (key, meta, size) = owned(services, &owner, file_id).await?;
    let data = file_data(&base_url(req, &services.config)?, &key, &meta, size).ok_or_else(|| Error::internal(format!("bad key {key}")))?;
    respond::json(200, &Envelope::ok("File found", data))
}

pub(crate) async fn delete(req: &Request, services: &Services, file_id: &str) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let (key, _, _) = owned(services, &owner, file_id).await?;
    // Object first: once it is gone neither URL serves the file.
    services.bucket.delete(&key).await.map_err(r2("delete"))?;
    services.bucket.delete(index_key(file_id)).await.map_err(r2("delete index"))?;
    services.ledger(&owner.id).release_logged(file_id).await;
    respond::json(200, &Envelope::ok("File deleted", FileDeleted { file_id: file_id.to_owned(), deleted: true }))
}

pub(crate) async fn list(req: &Request, services: &Services) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let pairs = query(req)?;
    let q = parse_list_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let base = base_url(req, &services.config)?;
    let mut list = services
        .bucket
        .list()
        .prefix(list_prefix(&owner.id, q.upload_path.as_deref()))
        .limit(q.limit)
        .include(vec![Include::CustomMetadata, Include::HttpMetadata]);
    if let Some(c) = q.cursor {
        list = list.cursor(c);
    }
    let page = list.execute().await.map_err(r2("list"))?;
    let now = now_ms();
    // Expired files not yet swept are left out (the page may be shorter than `limit`).
    let files = page
        .objects()
        .iter()
        .filter_map(|o| {
            let meta = object_meta(o)?;
            (!is_expired(meta.expires_ms, now)).then(|| file_data(&base, &o.key(), &meta, o.size()))?
        })
        .collect();
    let cursor = page.cursor().filter(|_| page.truncated()).map(|c| encode_cursor(&c, q.upload_path.as_deref()));
    respond::json(200, &Envelope::ok("Files listed", FileList { files, cursor }))
}

pub(crate) async fn usage(req: &Request, services: &Services) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let (usage, limits) = services.ledger(&owner.id).usage().await?;
    respond::json(200, &Envelope::ok("Usage", UsageReport::new(owner.id, owner.name, usage, limits)))
}
