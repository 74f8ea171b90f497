//! Key records in KV: authenticating a request (bearer token -> the record under its
//! SHA-256; the upload routes read through this isolate's key cache), and a record by its id.

use std::cell::RefCell;

use worker::KvStore;

use super::http::Incoming;
use super::js::now_ms;
use crate::core::ttl_cache::KeyCache;
use crate::core::admin::id_entry;
use crate::core::keys::{api_key, check_record, key_hash, KeyRecord};
use crate::core::Error;

thread_local! {
    static KEYS: RefCell<KeyCache> = RefCell::new(KeyCache::default());
}

/// The enabled key record the request's bearer token names, read from KV.
pub(crate) async fn authenticate(req: &Incoming, keys: &KvStore) -> Result<KeyRecord, Error> {
    let token = token(req)?;
    lookup(keys, &key_hash(&token)).await
}

/// [`authenticate`] for uploads: a record this isolate read from KV in the last
/// `KEY_CACHE_TTL_MS` is used as is. Safe because no upload is recorded before the key's
/// authority admitted it, and the authority refuses a revoked or disabled key at once.
pub(crate) async fn authenticate_upload(req: &Incoming, keys: &KvStore) -> Result<KeyRecord, Error> {
    let hash = key_hash(&token(req)?);
    if let Some(record) = KEYS.with(|cache| cache.borrow().get(&hash, now_ms())) {
        return Ok(record);
    }
    // A revoke or change made here while the read is on its way drops the record it read.
    let mark = KEYS.with(|cache| cache.borrow().mark(&hash));
    let record = lookup(keys, &hash).await?;
    KEYS.with(|cache| cache.borrow_mut().insert_since(mark, &hash, record.clone(), now_ms()));
    Ok(record)
}

/// Forgets the cached record under `hash` (its key was changed or revoked here).
pub(crate) fn forget(hash: &str) {
    KEYS.with(|cache| cache.borrow_mut().remove(hash));
}

fn token(req: &Incoming) -> Result<String, Error> {
    let header = req.header("Authorization");
    api_key(header.as_deref()).map(str::to_owned)
}

async fn lookup(keys: &KvStore, hash: &str) -> Result<KeyRecord, Error> {
    let record = keys.get(hash).json::<KeyRecord>().await.map_err(kv("lookup"))?;
    check_record(record)
}

/// The hash and record of `key_id`, read from the record itself (not the listing copy).
pub(crate) async fn record_by_id(keys: &KvStore, key_id: &str) -> Result<(String, KeyRecord), Error> {
    let hash = hash_by_id(keys, key_id).await?;
    let record = keys
        .get(&hash)
        .json::<KeyRecord>()
        .await
        .map_err(kv("get"))?
        .ok_or(Error::KeyNotFound)?;
    Ok((hash, record))
}

/// The hash a key's `id:` entry names (404 when there is none).
pub(crate) async fn hash_by_id(keys: &KvStore, key_id: &str) -> Result<String, Error> {
    keys.get(&id_entry(key_id)).text().await.map_err(kv("get id"))?.ok_or(Error::KeyNotFound)
}

/// A failed KV call, for the log.
pub(crate) fn kv(op: &'static str) -> impl Fn(worker::kv::KvError) -> Error {
    move |e| Error::internal(format!("kv {op}: {e}"))
}
