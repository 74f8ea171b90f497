//! The seams the upload flow is written against: an origin to fetch from and an object
//! store to stream into, plus the metadata kept with every stored file.

use std::collections::HashMap;

use url::Url;

use super::error::Error;

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
    /// Gives up on a body that will not be stored.
    fn discard(&self, body: Self::Body);
}

/// Where files go.
#[allow(async_fn_in_trait)]
pub trait ObjectStore {
    type Body;
    /// Streams `body` into `key`, all or nothing, and returns its size. A body longer than
    /// `limit` fails with [`Error::FileTooLarge`]; a failing origin with an origin error.
    async fn put_object(&self, key: &str, body: Self::Body, meta: &ObjectMeta, limit: u64) -> Result<u64, Error>;
    /// Records `file_id` -> object.
    async fn put_index(&self, file_id: &str, entry: &IndexEntry) -> Result<(), Error>;
    async fn delete_object(&self, key: &str) -> Result<(), Error>;
    async fn delete_index(&self, file_id: &str) -> Result<(), Error>;
}

/// Kept with every object (R2 custom metadata; the type goes in its HTTP metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub file_id: String,
    pub owner: String,
    pub original_name: String,
    pub mime_type: String,
    pub upload_ms: i64,
    pub expires_ms: i64,
}

/// Kept under `i/{file_id}`: which object the id names, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub object_key: String,
    pub owner: String,
    pub expires_ms: i64,
}

fn field(map: &HashMap<String, String>, key: &str) -> Option<String> {
    map.get(key).cloned()
}

fn number(map: &HashMap<String, String>, key: &str) -> Option<i64> {
    map.get(key)?.parse().ok()
}

impl ObjectMeta {
    /// As R2 custom metadata (the type excepted).
    pub fn to_map(&self) -> HashMap<String, String> {
        HashMap::from([
            ("file_id".into(), self.file_id.clone()),
            ("owner".into(), self.owner.clone()),
            ("original_name".into(), self.original_name.clone()),
            ("upload_ms".into(), self.upload_ms.to_string()),
            ("expires_ms".into(), self.expires_ms.to_string()),
        ])
    }

    /// Back from R2 custom metadata and the stored type; `None` when incomplete.
    pub fn from_map(map: &HashMap<String, String>, mime_type: String) -> Option<Self> {
        Some(ObjectMeta {
            file_id: field(map, "file_id")?,
            owner: field(map, "owner")?,
            original_name: field(map, "original_name")?,
            mime_type,
            upload_ms: number(map, "upload_ms")?,
            expires_ms: number(map, "expires_ms")?,
        })
    }
}

impl IndexEntry {
    pub fn to_map(&self) -> HashMap<String, String> {
        HashMap::from([
            ("object_key".into(), self.object_key.clone()),
            ("owner".into(), self.owner.clone()),
            ("expires_ms".into(), self.expires_ms.to_string()),
        ])
    }

    pub fn from_map(map: &HashMap<String, String>) -> Option<Self> {
        Some(IndexEntry {
            object_key: field(map, "object_key")?,
            owner: field(map, "owner")?,
            expires_ms: number(map, "expires_ms")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        let meta = ObjectMeta {
            file_id: "file_1".into(),
            owner: "k_dev".into(),
            original_name: "報告 1.pdf".into(),
            mime_type: "application/pdf".into(),
            upload_ms: 1_000,
            expires_ms: 2_000,
        };
        assert_eq!(ObjectMeta::from_map(&meta.to_map(), meta.mime_type.clone()), Some(meta.clone()));
        let mut partial = meta.to_map();
        partial.remove("expires_ms");
        assert_eq!(ObjectMeta::from_map(&partial, "x/y".into()), None);

        let entry = IndexEntry { object_key: "f/k/a/b.png".into(), owner: "k".into(), expires_ms: 5 };
        assert_eq!(IndexEntry::from_map(&entry.to_map()), Some(entry));
        assert_eq!(IndexEntry::from_map(&HashMap::new()), None);
    }
}
