//! A job Durable Object's own storage: its record under `job`, and the parts a ranged or
//! multipart transfer has stored so far under `part:{index}` (so a later invocation resumes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use worker::Storage;

use super::js::describe;
use crate::core::jobs::JobRecord;
use crate::core::Error;

/// Storage key of the job's record.
const RECORD: &str = "job";
/// Storage key prefix of the stored parts.
const PART_PREFIX: &str = "part:";

/// A part as kept in the job's storage.
#[derive(Serialize, Deserialize)]
struct StoredPart {
    size: u64,
    /// R2's answer for the part (`{partNumber, etag}`), as JSON.
    part: String,
}

fn failed(e: worker::Error) -> Error {
    Error::internal(format!("job storage: {e}"))
}

/// The job's record, if it was started.
pub(crate) async fn load(storage: &Storage) -> Result<Option<JobRecord>, Error> {
    storage.get(RECORD).await.map_err(failed)
}

/// Saves the job's record.
pub(crate) async fn save(storage: &Storage, record: &JobRecord) -> Result<(), Error> {
    storage.put(RECORD, record).await.map_err(failed)
}

/// Keeps part `index` (`size` bytes; `part`: R2's answer for it).
pub(crate) async fn save_part(storage: &Storage, index: u64, size: u64, part: &JsValue) -> Result<(), Error> {
    let json = js_sys::JSON::stringify(part).map_err(|e| Error::internal(describe(&e)))?;
    let stored = serde_json::to_string(&StoredPart { size, part: String::from(json) }).map_err(Error::internal)?;
    storage.put(&format!("{PART_PREFIX}{index:06}"), stored).await.map_err(failed)
}

/// Stored parts: index -> (size, R2's answer).
pub(crate) type Parts = BTreeMap<u64, (u64, JsValue)>;

/// The parts an earlier invocation stored.
pub(crate) async fn stored_parts(storage: &Storage) -> Result<Parts, Error> {
    let listed = storage.list_with_options(worker::ListOptions::new().prefix(PART_PREFIX)).await.map_err(failed)?;
    let mut parts = BTreeMap::new();
    for entry in listed.entries() {
        let entry = entry.map_err(|e| Error::internal(describe(&e)))?;
        let pair: js_sys::Array = entry.unchecked_into();
        let key = pair.get(0).as_string().unwrap_or_default();
        let index = key.trim_start_matches(PART_PREFIX).parse::<u64>().map_err(Error::internal)?;
        let stored: StoredPart = serde_json::from_str(&pair.get(1).as_string().unwrap_or_default()).map_err(Error::internal)?;
        let part = js_sys::JSON::parse(&stored.part).map_err(|e| Error::internal(describe(&e)))?;
        parts.insert(index, (stored.size, part));
    }
    Ok(parts)
}

/// The bytes `parts` hold.
pub(crate) fn total(parts: &Parts) -> u64 {
    parts.values().map(|(size, _)| size).sum()
}

/// Most keys one `delete_multiple` takes (Durable Object storage's limit).
const DELETE_AT_ONCE: usize = 128;

/// Forgets every stored part (the transfer ended, or its upload was aborted).
pub(crate) async fn forget_parts(storage: &Storage) -> Result<(), Error> {
    let listed = storage.list_with_options(worker::ListOptions::new().prefix(PART_PREFIX)).await.map_err(failed)?;
    let keys: Vec<String> = listed.keys().into_iter().filter_map(|k| k.ok().and_then(|k| k.as_string())).collect();
    // the storage API deletes at most 128 keys per call (a job of more than 1 GiB has more
    // parts)
    for batch in keys.chunks(DELETE_AT_ONCE) {
        storage.delete_multiple(batch.to_vec()).await.map_err(failed)?;
    }
    Ok(())
}

/// Forgets the job: its alarm and everything its object stored.
pub(crate) async fn forget(storage: &Storage) -> Result<(), Error> {
    storage.delete_alarm().await.map_err(failed)?;
    discard(storage).await
}

/// Deletes everything the job stored, its alarm aside (a job whose alarm could not be set).
pub(crate) async fn discard(storage: &Storage) -> Result<(), Error> {
    storage.delete_all().await.map_err(failed)
}
