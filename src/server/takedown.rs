//! The operator's removal of files, behind the `ADMIN_TOKEN` secret: one file named by a
//! reported link or its id (`POST /api/v1/admin/takedown`, its digest blocked unless asked
//! not to), or every file of a key (`DELETE /api/v1/admin/keys/{key_id}/files`), whatever
//! the key's status.

use serde::Serialize;
use worker::{Response, ResponseBody};

use super::admin::authorize;
use super::bindings::Services;
use super::blocklist::block;
use super::digest::sha256_of_stream;
use super::http::{json_body, Incoming};
use super::js::now_ms;
use super::r2::object_meta;
use super::respond;
use crate::core::admin::MAX_ADMIN_BODY_BYTES;
use crate::core::authority_wire::{FileRow, Purged, Target};
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
    /// Where the file was named (not known of bytes no row holds any more).
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_name: Option<String>,
    original_name: String,
    file_size: u64,
    mime_type: String,
    sha256: String,
    upload_time: String,
    /// Whether its links still served it (false: bytes no live file held, such as a
    /// used-up one-time download's, kept an hour for its reader).
    served: bool,
    /// Whether uploads of the same bytes are refused from now on.
    blocked: bool,
}

impl TakenDown {
    fn of_row(key_id: String, row: FileRow) -> Self {
        TakenDown {
            key_id,
            file_id: row.file_id,
            upload_path: Some(row.upload_path),
            file_name: Some(row.file_name),
            original_name: row.original_name,
            file_size: row.size,
            mime_type: row.mime_type,
            sha256: row.sha256,
            upload_time: iso8601(row.upload_ms),
            served: true,
            blocked: false,
        }
    }
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
    let mut taken = match authority.take_down(target.clone()).await {
        Ok(row) => TakenDown::of_row(key_id, row),
        // No live file, yet an id's bytes are there (a used-up download's, kept an hour
        // for the reader; left by a take-down whose delete failed; or an upload's, its
        // commit still on its way): they go too, and their digest is blocked as a live
        // file's is. Released first, so the key's authority refuses that commit (nothing
        // stored, nothing charged) rather than recording a file whose bytes are gone.
        Err(Error::FileNotFound) => {
            let Target::Id { file_id } = target else { return Err(Error::FileNotFound) };
            authority.release(&file_id).await?;
            leftover(services, key_id, file_id).await?
        }
        Err(err) => return Err(err),
    };
    // The operator's record, in the Worker's logs too: the file's row is gone already.
    worker::console_log!(
        "take-down: key {}, file {}, {} bytes, sha256 {}, {}",
        taken.key_id,
        taken.file_id,
        taken.file_size,
        taken.sha256,
        reason.as_deref().unwrap_or("no reason given")
    );
    // The row is gone: the digest is blocked before anything else can fail, so a take-down
    // sent again (which finds no file) is never needed for it. A block that fails is told,
    // not a failure.
    let blocked = if blocking {
        let entry = BlockEntry {
            sha256: taken.sha256.clone(),
            reason: None,
            blocked_at: Some(iso8601(now_ms())),
            file_id: Some(taken.file_id.clone()),
            key_id: Some(taken.key_id.clone()),
        };
        // the take-down's reason, when it gives one, is the entry's
        block(&services.keys, entry, reason.map(Some)).await.map(|_| true)
    } else {
        Ok(false)
    };
    // Logged before the delete, which may fail too: the operator's log says what to block.
    if let Err(err) = &blocked {
        worker::console_error!("take-down: file {}: its digest {} was not blocked: {err:?}", taken.file_id, taken.sha256);
    }
    // Deleted already, unless R2 refused the authority's delete (its alarm tries again in a
    // minute) or no row held the bytes: the answer waits for them to be gone.
    delete_object(services, &taken.file_id).await?;
    let done = if taken.served { "File taken down" } else { "File no longer served; its bytes taken down" };
    let msg = match &blocked {
        Ok(_) => done.to_owned(),
        Err(err) => format!("{done}; its digest could not be blocked ({})", err.public_message()),
    };
    taken.blocked = blocked.unwrap_or(false);
    respond::json(200, &Envelope::ok(&msg, taken))
}

/// The bytes of `file_id` that no live file holds, as a record: what their object's
/// metadata says, and their digest read from them (no row holds it any more). 404 when
/// they are gone too.
async fn leftover(services: &Services, key_id: String, file_id: String) -> Result<TakenDown, Error> {
    let r2 = |op: &str, e: worker::Error| Error::internal(format!("take-down: r2 {op} of {file_id}: {e}"));
    let object = services.bucket.get(object_key(&file_id)).execute().await.map_err(|e| r2("get", e))?;
    let Some(object) = object else { return Err(Error::FileNotFound) };
    let meta = object_meta(&object).ok_or(Error::FileNotFound)?;
    let file_size = object.size();
    let Some(body) = object.body() else { return Err(Error::internal("take-down: an r2 get without a body")) };
    let ResponseBody::Stream(stream) = body.response_body().map_err(|e| r2("read", e))? else {
        return Err(Error::internal("take-down: an r2 body that is no stream"));
    };
    let sha256 = sha256_of_stream(&stream).await?;
    Ok(TakenDown {
        key_id,
        file_id,
        upload_path: None,
        file_name: None,
        original_name: meta.original_name,
        file_size,
        mime_type: meta.mime_type,
        sha256,
        upload_time: iso8601(meta.upload_ms),
        served: false,
        blocked: false,
    })
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
