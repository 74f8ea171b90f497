//! The seams the upload flow is written against, side by side: an [`Origin`] to fetch
//! from, an [`ObjectStore`] for the bytes, the key's [`FileAuthority`] for everything
//! else, and the operator's [`Blocklist`]. The Worker implements them over fetch, R2, the
//! key's Durable Object and KV; host tests over the in-memory doubles in `tests/common`.

use std::collections::HashMap;
use std::convert::Infallible;

use futures_util::future::LocalBoxFuture;
use url::Url;

use super::authority_wire::{FileRow, Reservation};
use super::error::Error;
use super::idempotency::UploadKey;

/// One response of an origin (a single hop: redirects are the flow's business).
#[derive(Debug)]
pub struct Fetched<B> {
    pub status: u16,
    pub location: Option<String>,
    pub content_length: Option<u64>,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    pub body: B,
}

/// Where remote files come from.
#[allow(async_fn_in_trait)]
pub trait Origin {
    /// A response body, still streaming.
    type Body;
    /// Sends one GET to `url`, without following redirects.
    async fn fetch(&self, url: &Url) -> Result<Fetched<Self::Body>, Error>;
    /// Reads the body's first bytes (up to [`SNIFF_BYTES`](super::mime::SNIFF_BYTES), fewer
    /// at its end) and keeps them in the body, so storing it still stores every byte.
    async fn sniff(&self, body: &mut Self::Body) -> Result<Vec<u8>, Error>;
    /// The body's whole length when sniffing read it to its end (a small body sent without
    /// a length, chunked or compressed); `None` while some of it is unread.
    fn length_read(&self, body: &Self::Body) -> Option<u64>;
    /// Gives up on a body that will not be stored.
    fn discard(&self, body: Self::Body);
}

/// Where bytes go: one immutable object per upload.
#[allow(async_fn_in_trait)]
pub trait ObjectStore {
    type Body;
    /// Streams `body` into `key`, all or nothing, and returns its size and SHA-256. A body
    /// longer than `limit` fails with [`Error::FileTooLarge`]; a failing origin with an
    /// origin error; bytes whose SHA-256 is not `expected_sha256` (when given) with
    /// [`Error::ChecksumMismatch`]. A failed put leaves no object.
    async fn put_object(
        &self,
        key: &str,
        body: Self::Body,
        meta: &ObjectMeta,
        limit: u64,
        expected_sha256: Option<&str>,
    ) -> Result<StoredObject, Error>;
}

/// What a put stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub size: u64,
    /// SHA-256 of the stored bytes, lowercase hex.
    pub sha256: String,
}

/// Digests of files taken down, which may not be stored again (`core::blocklist`).
pub trait Blocklist {
    /// Whether `sha256` (lowercase hex) is blocked. The list as last read: a read that
    /// fails keeps the copy before it; with none (never read here), the check fails
    /// ([`Error::BlocklistUnread`]) rather than let a taken-down file through.
    fn blocks<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, Result<bool, Error>>;
}

/// The key's authority, as the upload flow calls it.
#[allow(async_fn_in_trait)]
pub trait FileAuthority {
    /// Holds quota for an upload about to be stored and answers the bytes held (for an
    /// unknown length, what the quota leaves, up to `bytes`), or refuses with
    /// [`Error::QuotaExceeded`] (or 401 for a key revoked or disabled meanwhile).
    async fn reserve(&self, reservation: &Reservation) -> Result<u64, Error>;
    /// Records the stored upload and moves its name to it. On a refusal the authority has
    /// already dropped the reservation and deleted the object. With an `Idempotency-Key`
    /// (`key`) that stored a file already, that file is answered (`Some`) and this upload
    /// dropped as on a refusal.
    async fn commit(&self, file: &FileRow, key: Option<&UploadKey>) -> Result<Option<FileRow>, Error>;
    /// An upload with `key` begins as try `try_id`, for at most `lease_ms`: the file the key
    /// stored already, if any (422 when it asked for another); else 409 while another try
    /// of the key runs, or this try is marked running until its commit or
    /// [`end_try`](Self::end_try).
    async fn begin_try(&self, key: &UploadKey, try_id: &str, lease_ms: i64) -> Result<Option<FileRow>, Error>;
    /// The try `try_id` of the upload `key` (an [`UploadKey::key`]) failed before its commit.
    async fn end_try(&self, key: &str, try_id: &str) -> Result<(), Error>;
    /// Keeps the try `try_id` of `key` marked running, renewing its lease every
    /// [`TRY_RENEW_MS`](super::idempotency::TRY_RENEW_MS), for as long as it is awaited, or
    /// until its mark is no longer its own; it never ends on its own (a renewal that fails
    /// is passed over: the mark may then lapse).
    async fn keep_try(&self, key: &UploadKey, try_id: &str) -> Infallible;
    /// The upload failed: unless it was committed, its reservation and its object go.
    async fn release(&self, file_id: &str) -> Result<(), Error>;
    /// Whether the file is recorded (live): after a commit whose answer was lost, whether
    /// that commit landed.
    async fn holds(&self, file_id: &str) -> Result<bool, Error>;
}

/// Kept with every object (R2 custom metadata; the type goes in its HTTP metadata), so the
/// bytes can be served from the object alone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    pub owner: String,
    pub original_name: String,
    /// The type the file is served with: its MIME type, with the origin's charset for text
    /// (`mime::served_type`).
    pub mime_type: String,
    pub upload_ms: i64,
    pub expires_ms: i64,
    /// Its downloads are counted by the key's authority (`max_downloads`): absent from the
    /// metadata of every other file, which is served without asking the authority.
    #[serde(default)]
    pub counted: bool,
    /// Served only through signed links.
    #[serde(default)]
    pub private: bool,
}

impl ObjectMeta {
    /// As R2 custom metadata (the type excepted).
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([
            ("owner".into(), self.owner.clone()),
            ("original_name".into(), self.original_name.clone()),
            ("upload_ms".into(), self.upload_ms.to_string()),
            ("expires_ms".into(), self.expires_ms.to_string()),
        ]);
        for (flag, on) in [("counted", self.counted), ("private", self.private)] {
            if on {
                map.insert(flag.into(), "1".into());
            }
        }
        map
    }

    /// Back from R2 custom metadata and the stored type; `None` when incomplete.
    pub fn from_map(map: &HashMap<String, String>, mime_type: String) -> Option<Self> {
        let number = |key: &str| map.get(key)?.parse().ok();
        Some(ObjectMeta {
            owner: map.get("owner")?.clone(),
            original_name: map.get("original_name")?.clone(),
            mime_type,
            upload_ms: number("upload_ms")?,
            expires_ms: number("expires_ms")?,
            counted: map.get("counted").is_some_and(|v| v == "1"),
            private: map.get("private").is_some_and(|v| v == "1"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        let meta = ObjectMeta {
            owner: "k_dev".into(),
            original_name: "報告 1.pdf".into(),
            mime_type: "application/pdf".into(),
            upload_ms: 1_000,
            expires_ms: 2_000,
            counted: false,
            private: false,
        };
        assert_eq!(ObjectMeta::from_map(&meta.to_map(), meta.mime_type.clone()), Some(meta.clone()));
        assert_eq!(meta.to_map().len(), 4, "a plain file's metadata is as before");
        let flagged = ObjectMeta { counted: true, private: true, ..meta.clone() };
        assert_eq!(ObjectMeta::from_map(&flagged.to_map(), meta.mime_type.clone()), Some(flagged));
        let mut partial = meta.to_map();
        partial.remove("expires_ms");
        assert_eq!(ObjectMeta::from_map(&partial, "x/y".into()), None);
    }
}
