//! Listing a key's files: the query (`cursor`, `limit`, `upload_path`), the opaque cursor,
//! and `FileData` rebuilt from a stored object.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use url::Url;

use super::clock::iso8601;
use super::envelope::FileData;
use super::error::Error;
use super::layout::{self, OBJECT_PREFIX};
use super::path::validate_upload_path;
use super::store::ObjectMeta;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;
/// Longest cursor accepted (R2 cursors are a few hundred bytes).
const MAX_CURSOR_BYTES: usize = 2048;

/// A validated `GET /api/v1/files` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The storage cursor to continue from.
    pub cursor: Option<String>,
    pub limit: u32,
    pub upload_path: Option<String>,
}

/// A page of `GET /api/v1/files`: the files and the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileList {
    pub files: Vec<FileData>,
    pub cursor: Option<String>,
}

/// What the opaque cursor carries: the storage cursor, bound to the folder it lists.
#[derive(Serialize, Deserialize)]
struct CursorBody {
    p: String,
    c: String,
}

/// Parses the query pairs of a listing request (unknown parameters are refused).
pub fn parse_list_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<ListQuery, Error> {
    let (mut cursor, mut limit, mut upload_path) = (None, None, None);
    for (name, value) in pairs {
        match name {
            "cursor" => cursor = Some(value).filter(|v| !v.is_empty()),
            "limit" => limit = Some(value),
            "upload_path" => upload_path = Some(value),
            other => return Err(Error::unknown_field(other)),
        }
    }
    let limit = match limit {
        None | Some("") => DEFAULT_LIMIT,
        Some(v) => parse_limit(v, MAX_LIMIT)?,
    };
    let upload_path = match upload_path {
        Some(p) => validate_upload_path(p)?,
        None => None,
    };
    let cursor = cursor.map(|c| decode_cursor(c, upload_path.as_deref())).transpose()?;
    Ok(ListQuery { cursor, limit, upload_path })
}

/// A page size `limit` from 1 to `max`.
pub fn parse_limit(value: &str, max: u32) -> Result<u32, Error> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| Error::invalid("limit", format!("must be an integer from 1 to {max}")))
}

/// The opaque cursor handed to the client for the next page.
pub fn encode_cursor(storage_cursor: &str, upload_path: Option<&str>) -> String {
    let body = CursorBody { p: upload_path.unwrap_or_default().to_owned(), c: storage_cursor.to_owned() };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap_or_default())
}

fn decode_cursor(raw: &str, upload_path: Option<&str>) -> Result<String, Error> {
    let bad = || Error::invalid("cursor", "not a cursor from this listing");
    if raw.len() > MAX_CURSOR_BYTES {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let body: CursorBody = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if body.p != upload_path.unwrap_or_default() || body.c.is_empty() {
        return Err(bad());
    }
    Ok(body.c)
}

/// The storage prefix listing `owner`'s files, in `upload_path` and below when given.
pub fn list_prefix(owner: &str, upload_path: Option<&str>) -> String {
    match upload_path {
        Some(p) => format!("{OBJECT_PREFIX}{owner}/{p}/"),
        None => format!("{OBJECT_PREFIX}{owner}/"),
    }
}

/// `f/{owner}/{upload_path}/{file_name}` split into its three parts.
pub fn split_object_key(object_key: &str) -> Option<(&str, &str, &str)> {
    let rest = object_key.strip_prefix(OBJECT_PREFIX)?;
    let (owner, rest) = rest.split_once('/')?;
    let (upload_path, file_name) = rest.rsplit_once('/')?;
    (!owner.is_empty() && !upload_path.is_empty() && !file_name.is_empty()).then_some((owner, upload_path, file_name))
}

/// The `FileData` of a stored object, as the upload answered it.
pub fn file_data(base: &Url, object_key: &str, meta: &ObjectMeta, size: u64) -> Option<FileData> {
    let (_, upload_path, file_name) = split_object_key(object_key)?;
    Some(FileData {
        file_id: meta.file_id.clone(),
        file_name: file_name.to_owned(),
        original_name: meta.original_name.clone(),
        file_size: size,
        mime_type: meta.mime_type.clone(),
        upload_path: upload_path.to_owned(),
        file_url: layout::file_url(base, object_key),
        download_url: layout::download_url(base, &meta.file_id),
        upload_time: iso8601(meta.upload_ms),
        expires_at: iso8601(meta.expires_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> Result<ListQuery, Error> {
        parse_list_query(q.iter().copied())
    }

    #[test]
    fn queries() {
        assert_eq!(parse(&[]).unwrap(), ListQuery { cursor: None, limit: DEFAULT_LIMIT, upload_path: None });
        let q = parse(&[("limit", "7"), ("upload_path", "/a/b/"), ("cursor", "")]).unwrap();
        assert_eq!(q, ListQuery { cursor: None, limit: 7, upload_path: Some("a/b".into()) });
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("limit", "0")], "invalid `limit`"),
            (&[("limit", "101")], "invalid `limit`"),
            (&[("limit", "ten")], "invalid `limit`"),
            (&[("upload_path", "../x")], "invalid `upload_path`"),
            (&[("cursor", "not base64!")], "invalid `cursor`"),
            (&[("page", "2")], "unknown field `page`"),
        ];
        for (q, msg) in cases {
            let err = parse(q).unwrap_err();
            assert_eq!(err.status(), 400, "{q:?}");
            assert!(err.public_message().contains(msg), "{q:?}: {err}");
        }
    }

    #[test]
    fn cursors_round_trip_and_stay_bound_to_their_folder() {
        let c = encode_cursor("r2-cursor/+=", Some("a/b"));
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{c}");
        let q = parse(&[("upload_path", "a/b"), ("cursor", &c)]).unwrap();
        assert_eq!(q.cursor.as_deref(), Some("r2-cursor/+="));
        for other in [vec![("cursor", c.as_str())], vec![("upload_path", "a"), ("cursor", c.as_str())]] {
            assert!(parse(&other).unwrap_err().public_message().contains("invalid `cursor`"));
        }
        let root = encode_cursor("x", None);
        assert_eq!(parse(&[("cursor", &root)]).unwrap().cursor.as_deref(), Some("x"));
        let long = "A".repeat(MAX_CURSOR_BYTES + 1);
        assert!(parse(&[("cursor", &long)]).is_err());
        let empty = URL_SAFE_NO_PAD.encode(br#"{"p":"","c":""}"#);
        assert!(parse(&[("cursor", &empty)]).is_err());
    }

    #[test]
    fn prefixes_and_keys() {
        assert_eq!(list_prefix("k_a", None), "f/k_a/");
        assert_eq!(list_prefix("k_a", Some("x/y")), "f/k_a/x/y/");
        assert_eq!(split_object_key("f/k_a/x/y/n.png"), Some(("k_a", "x/y", "n.png")));
        for bad in ["f/k_a/n.png", "i/file_1", "f/k_a//n.png", "f//x/n"] {
            assert_eq!(split_object_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_data_matches_the_upload_answer() {
        let base = Url::parse("https://h.test").unwrap();
        let meta = ObjectMeta {
            file_id: "file_1".into(),
            owner: "k_a".into(),
            original_name: "o.png".into(),
            mime_type: "image/png".into(),
            upload_ms: 1_759_968_000_500,
            expires_ms: 1_760_227_200_000,
        };
        let d = file_data(&base, "f/k_a/img/a b.png", &meta, 9).unwrap();
        assert_eq!(d.file_url, "https://h.test/f/k_a/img/a%20b.png");
        assert_eq!(d.download_url, "https://h.test/api/v1/files/download/file_1");
        assert_eq!((d.file_name.as_str(), d.upload_path.as_str(), d.file_size), ("a b.png", "img", 9));
        assert_eq!((d.upload_time.as_str(), d.expires_at.as_str()), ("2025-10-09T00:00:00+00:00", "2025-10-12T00:00:00+00:00"));
    }
}
