//! The operator's removal of files, behind the `ADMIN_TOKEN` secret: one file named by a
//! reported link or its id (`POST /api/v1/admin/takedown`, its digest blocked unless asked
//! not to), or every file of a key (`DELETE /api/v1/admin/keys/{key_id}/files`), whatever
//! the key's status.

use serde::Serialize;
use worker::Response;

use super::admin::authorize;
use super::bindings::Services;
use super::blocklist::block;
use super::http::{json_body, Incoming};
use super::js::now_ms;
use super::r2::object_meta;
use super::respond;
use crate::core::admin::MAX_ADMIN_BODY_BYTES;
use crate::core::authority_wire::{Purged, Target};
use crate::core::blocklist::BlockEntry;
use crate::core::clock::iso8601;
use crate::core::envelope::Envelope;
use crate::core::layout::object_key;
use crate::core::seams::FileAuthority;
use crate::core::takedown::{parse_takedown, Reported, Takedown};
use crate::core::Error;

/// What was taken down, for the operator's record (the links now answer 404).
#[derive(Serialize)]
struct TakenDown {
    key_id: String,
    file_id: String,
    upload_path: String,
    file_name: String,
    original_name: String,
    file_size: u64,
    mime_type: String,
    sha256: String,
    upload_time: String,
    /// Whether uploads of the same bytes are refused from now on.
    blocked: bool,
}

pub(crate) async fn take_down(req: Incoming, services: &Services) -> Result<Response, Error> {
    authorize(&req, services)?;
    let body = json_body(&req, MAX_ADMIN_BODY_BYTES).await?;
    let Takedown { reported, block: blocking, reason } = parse_takedown(&body)?;
    let (key_id, target) = match reported {
        Reported::Id(file_id) => (owner(services, &file_id).await?, Target::Id { file_id }),
        Reported::Name(name) => (name.owner, Target::Name { upload_path: name.upload_path, file_name: name.file_name }),
    };
    // The key's authority removes the row and its quota, then the bytes, before it answers.
    let authority = services.authority(&key_id);
    let row = match authority.take_down(target.clone()).await {
        Ok(row) => row,
        // No live file, yet an id's bytes are there (a used-up download's, kept an hour
        // for the reader; left by a take-down whose delete failed; or an upload's, its
        // commit still on its way): they go too. Released first, so the key's authority
        // refuses that commit (nothing stored, nothing charged) rather than recording a
        // file whose bytes are gone.
        Err(Error::FileNotFound) => {
            if let Target::Id { file_id } = &target {
                authority.release(file_id).await?;
                delete_object(services, file_id).await?;
            }
            return Err(Error::FileNotFound);
        }
        Err(err) => return Err(err),
    };
    // The operator's record, in the Worker's logs too: the file's row is gone already.
    worker::console_log!("take-down: key {key_id}, file {}, {} bytes, sha256 {}, {}", row.file_id, row.size, row.sha256, reason.as_deref().unwrap_or("no reason given"));
    // The row is gone: the digest is blocked before anything else can fail, so a take-down
    // sent again (which finds no file) is never needed for it. A block that fails is told,
    // not a failure.
    let blocked = if blocking {
        let entry = BlockEntry { sha256: row.sha256.clone(), reason: None, blocked_at: Some(iso8601(now_ms())), file_id: Some(row.file_id.clone()), key_id: Some(key_id.clone()) };
        // the take-down's reason, when it gives one, is the entry's
        block(&services.keys, entry, reason.map(Some)).await.map(|_| true)
    } else {
        Ok(false)
    };
    // Logged before the delete, which may fail too: the operator's log says what to block.
    if let Err(err) = &blocked {
        worker::console_error!("take-down: file {}: its digest {} was not blocked: {err:?}", row.file_id, row.sha256);
    }
    // Deleted already, unless R2 refused the authority's delete (its alarm tries again in a
    // minute): the answer waits for the bytes to be gone.
    delete_object(services, &row.file_id).await?;
    let msg = match &blocked {
        Ok(_) => "File taken down".to_owned(),
        Err(err) => format!("File taken down; its digest could not be blocked ({})", err.public_message()),
    };
    let taken = TakenDown {
        key_id,
        file_id: row.file_id,
        upload_path: row.upload_path,
        file_name: row.file_name,
        original_name: row.original_name,
        file_size: row.size,
        mime_type: row.mime_type,
        sha256: row.sha256,
        upload_time: iso8601(row.upload_ms),
        blocked: blocked.unwrap_or(false),
    };
    respond::json(200, &Envelope::ok(&msg, taken))
}

/// Deletes the object of `file_id` (nothing when it is gone already).
async fn delete_object(services: &Services, file_id: &str) -> Result<(), Error> {
    services.bucket.delete(object_key(file_id)).await.map_err(|e| Error::internal(format!("take-down: r2 delete of {file_id}: {e}")))
}

/// The key whose upload `file_id` is, as its object records it (404 when there is none).
async fn owner(services: &Services, file_id: &str) -> Result<String, Error> {
    let object = services.bucket.head(object_key(file_id)).await.map_err(|e| Error::internal(format!("take-down: r2 head of {file_id}: {e}")))?;
    object.as_ref().and_then(object_meta).map(|meta| meta.owner).ok_or(Error::FileNotFound)
}

#[derive(Serialize)]
struct KeyPurged<'a> {
    key_id: &'a str,
    #[serde(flatten)]
    purged: Purged,
}

pub(crate) async fn purge(req: &Incoming, services: &Services, key_id: &str) -> Result<Response, Error> {
    authorize(req, services)?;
    let purged = services.authority(key_id).purge().await?;
    worker::console_log!("purge: key {key_id}, {} files, {} bytes, {} objects pending", purged.files, purged.bytes, purged.pending);
    respond::json(200, &Envelope::ok("Files of the key deleted", KeyPurged { key_id, purged }))
}
