//! Authenticating a request: bearer token -> KV record under its SHA-256; the upload routes
//! read through this isolate's key cache.

use std::cell::RefCell;

use worker::KvStore;

use super::http::Incoming;
use super::js::now_ms;
use crate::core::ttl_cache::KeyCache;
use crate::core::keys::{bearer_token, check_record, key_hash, KeyRecord};
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
    let record = lookup(keys, &hash).await?;
    KEYS.with(|cache| cache.borrow_mut().insert(&hash, record.clone(), now_ms()));
    Ok(record)
}

/// Forgets the cached record under `hash` (its key was changed or revoked here).
pub(crate) fn forget(hash: &str) {
    KEYS.with(|cache| cache.borrow_mut().remove(hash));
}

fn token(req: &Incoming) -> Result<String, Error> {
    let header = req.header("Authorization");
    bearer_token(header.as_deref()).map(str::to_owned)
}

async fn lookup(keys: &KvStore, hash: &str) -> Result<KeyRecord, Error> {
    let record = keys
        .get(hash)
        .json::<KeyRecord>()
        .await
        .map_err(|e| Error::internal(format!("kv lookup: {e}")))?;
    check_record(record)
}
