//! Authenticating a request: bearer token -> KV record under its SHA-256.

use worker::{KvStore, Request};

use crate::core::keys::{bearer_token, check_record, key_hash, KeyRecord};
use crate::core::Error;

/// The enabled key record the request's bearer token names.
pub(crate) async fn authenticate(req: &Request, keys: &KvStore) -> Result<KeyRecord, Error> {
    let header = req.headers().get("Authorization").ok().flatten();
    let token = bearer_token(header.as_deref())?;
    let record = keys
        .get(&key_hash(token))
        .json::<KeyRecord>()
        .await
        .map_err(|e| Error::internal(format!("kv lookup: {e}")))?;
    check_record(record)
}
