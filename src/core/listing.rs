//! Listing a key's files: the query (`cursor`, `limit`, `upload_path`, `order`), the
//! opaque cursor, and `FileData` from a file's row.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use url::Url;

use super::authority_wire::{FileRow, Order, PageQuery, SortKey};
use super::clock::iso8601;
use super::envelope::{FileData, SignedLinks};
use super::error::Error;
use super::layout;
use super::links::{exp_secs, link_exp, LinkOptions, LinkSecret};
use super::path::validate_upload_path;
use super::query::params;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;
/// Longest cursor accepted (a cursor carries one row's sort key).
const MAX_CURSOR_BYTES: usize = 4096;

/// A page of `GET /api/v1/files`: the files and the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "client", derive(tsify::Tsify))]
pub struct FileList {
    pub files: Vec<FileData>,
    /// Pass to `listFiles({ cursor })` for the next page; `null` on the last one.
    pub cursor: Option<String>,
}

/// What the opaque cursor carries: where the last page ended, bound to the folder and the
/// order it lists.
#[derive(Serialize, Deserialize)]
struct CursorBody {
    p: String,
    o: Order,
    k: SortKey,
}

/// Parses the query pairs of a listing request (unknown or repeated parameters are refused).
pub fn parse_list_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<PageQuery, Error> {
    let [cursor, limit, upload_path, order] = params(pairs, ["cursor", "limit", "upload_path", "order"])?;
    let cursor = cursor.filter(|v| !v.is_empty());
    let limit = match limit {
        None | Some("") => DEFAULT_LIMIT,
        Some(v) => parse_limit(v, MAX_LIMIT)?,
    };
    let upload_path = match upload_path {
        Some(p) => validate_upload_path(p)?,
        None => None,
    };
    let order = match order {
        None | Some("") | Some("name") => Order::Name,
        Some("upload_time") => Order::UploadTime,
        Some(_) => return Err(Error::invalid("order", "must be `name` or `upload_time`")),
    };
    let after = cursor.map(|c| decode_cursor(c, upload_path.as_deref(), order)).transpose()?;
    Ok(PageQuery { upload_path, order, after, limit })
}

/// A page size `limit` from 1 to `max`.
pub fn parse_limit(value: &str, max: u32) -> Result<u32, Error> {
    // digits only: `u32`'s parser also takes a sign (`+7`)
    Some(value)
        .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| Error::invalid("limit", format!("must be an integer from 1 to {max}")))
}

/// The opaque cursor handed to the client for the page after `last`.
pub fn encode_cursor(last: &SortKey, query: &PageQuery) -> String {
    let body = CursorBody { p: query.upload_path.clone().unwrap_or_default(), o: query.order, k: last.clone() };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap_or_default())
}

fn decode_cursor(raw: &str, upload_path: Option<&str>, order: Order) -> Result<SortKey, Error> {
    let bad = || Error::invalid("cursor", "not a cursor from this listing");
    if raw.len() > MAX_CURSOR_BYTES {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let body: CursorBody = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let fits = matches!((&body.k, order), (SortKey::Name { .. }, Order::Name) | (SortKey::UploadTime { .. }, Order::UploadTime));
    if body.p != upload_path.unwrap_or_default() || body.o != order || !fits {
        return Err(bad());
    }
    Ok(body.k)
}

/// The `FileData` of `owner`'s file `row`, as the upload answered it. A private file's links
/// are signed with `secret` until the file expires.
pub fn file_data(base: &Url, owner: &str, row: &FileRow, secret: Option<&LinkSecret>) -> FileData {
    let options = LinkOptions::of(row.options.as_deref());
    let (file_url, download_url) = links(base, owner, row, secret, exp_secs(row.expires_ms));
    FileData {
        file_id: row.file_id.clone(),
        file_name: row.file_name.clone(),
        original_name: row.original_name.clone(),
        file_size: row.size,
        mime_type: row.mime_type.clone(),
        upload_path: row.upload_path.clone(),
        file_url,
        download_url,
        upload_time: iso8601(row.upload_ms),
        expires_at: iso8601(row.expires_ms),
        sha256: row.sha256.clone(),
        max_downloads: options.max_downloads,
        downloads: options.max_downloads.map(|_| options.downloads),
        private: options.private,
    }
}

/// `POST /api/v1/files/{file_id}/link`'s answer at `now_ms`: a private file's links signed
/// for `expires_in` seconds (at most the file's remaining life; 503 without a `secret`), a
/// public file's plain links, which live as long as the file.
pub fn minted_links(base: &Url, owner: &str, row: &FileRow, secret: Option<&LinkSecret>, now_ms: i64, expires_in: Option<u64>) -> Result<SignedLinks, Error> {
    let private = LinkOptions::of(row.options.as_deref()).private;
    if private && secret.is_none() {
        return Err(Error::LinksDisabled);
    }
    let exp_ms = if private { link_exp(now_ms, expires_in, row.expires_ms) * 1000 } else { row.expires_ms };
    let (file_url, download_url) = links(base, owner, row, secret, exp_ms / 1000);
    Ok(SignedLinks { file_id: row.file_id.clone(), file_url, download_url, expires_at: iso8601(exp_ms) })
}

/// `file_url` and `download_url` of `row`; a private file's signed until `exp` (Unix
/// seconds) when there is a `secret`.
pub fn links(base: &Url, owner: &str, row: &FileRow, secret: Option<&LinkSecret>, exp: i64) -> (String, String) {
    let file_url = layout::file_url(base, owner, &row.upload_path, &row.file_name);
    let download_url = layout::download_url(base, &row.file_id);
    match secret.filter(|_| LinkOptions::of(row.options.as_deref()).private) {
        Some(secret) => (secret.signed_url(&file_url, exp), secret.signed_url(&download_url, exp)),
        None => (file_url, download_url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> Result<PageQuery, Error> {
        parse_list_query(q.iter().copied())
    }

    #[test]
    fn queries() {
        assert_eq!(parse(&[]).unwrap(), PageQuery { upload_path: None, order: Order::Name, after: None, limit: DEFAULT_LIMIT });
        let q = parse(&[("limit", "7"), ("upload_path", "/a/b/"), ("cursor", ""), ("order", "upload_time")]).unwrap();
        assert_eq!(q, PageQuery { upload_path: Some("a/b".into()), order: Order::UploadTime, after: None, limit: 7 });
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("limit", "0")], "invalid `limit`"),
            (&[("limit", "101")], "invalid `limit`"),
            (&[("limit", "ten")], "invalid `limit`"),
            (&[("limit", "+7")], "invalid `limit`"),
            (&[("limit", " 7")], "invalid `limit`"),
            (&[("upload_path", "../x")], "invalid `upload_path`"),
            (&[("cursor", "not base64!")], "invalid `cursor`"),
            (&[("order", "size")], "invalid `order`"),
            (&[("page", "2")], "unknown query parameter `page` (this route takes `cursor`, `limit`, `upload_path`, `order`)"),
        ];
        for (q, msg) in cases {
            let err = parse(q).unwrap_err();
            assert_eq!(err.status(), 400, "{q:?}");
            assert!(err.public_message().contains(msg), "{q:?}: {err}");
        }
    }

    #[test]
    fn cursors_round_trip_and_stay_bound_to_their_folder_and_order() {
        let key = SortKey::Name { upload_path: "a/b".into(), file_name: "n.png".into() };
        let query = PageQuery { upload_path: Some("a/b".into()), order: Order::Name, after: None, limit: 5 };
        let c = encode_cursor(&key, &query);
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{c}");
        let q = parse(&[("upload_path", "a/b"), ("cursor", &c)]).unwrap();
        assert_eq!(q.after, Some(key));
        for other in [
            vec![("cursor", c.as_str())],
            vec![("upload_path", "a"), ("cursor", c.as_str())],
            vec![("upload_path", "a/b"), ("order", "upload_time"), ("cursor", c.as_str())],
        ] {
            assert!(parse(&other).unwrap_err().public_message().contains("invalid `cursor`"), "{other:?}");
        }
        let long = "A".repeat(MAX_CURSOR_BYTES + 1);
        assert!(parse(&[("cursor", &long)]).is_err());
        let mismatched = URL_SAFE_NO_PAD.encode(br#"{"p":"","o":"name","k":{"upload_time":{"upload_ms":1,"file_id":"x"}}}"#);
        assert!(parse(&[("cursor", &mismatched)]).is_err());
    }

    #[test]
    fn file_data_matches_the_upload_answer() {
        let base = Url::parse("https://h.test").unwrap();
        let row = FileRow {
            file_id: "file_1".into(),
            upload_path: "img".into(),
            file_name: "a b.png".into(),
            size: 9,
            mime_type: "image/png".into(),
            original_name: "o.png".into(),
            upload_ms: 1_759_968_000_500,
            expires_ms: 1_760_227_200_000,
            sha256: "0".repeat(64),
            options: None,
            named_ms: 0,
        };
        let d = file_data(&base, "k_a", &row, None);
        assert_eq!(d.file_url, "https://h.test/f/k_a/img/a%20b.png");
        assert_eq!(d.download_url, "https://h.test/api/v1/files/download/file_1");
        assert_eq!((d.file_name.as_str(), d.upload_path.as_str(), d.file_size), ("a b.png", "img", 9));
        assert_eq!((d.upload_time.as_str(), d.expires_at.as_str()), ("2025-10-09T00:00:00+00:00", "2025-10-12T00:00:00+00:00"));
        assert_eq!((d.max_downloads, d.downloads, d.private), (None, None, false));

        // a private file's links are signed until the file expires; a public one's never are
        let secret = LinkSecret::new("a-link-secret-key").unwrap();
        let private = FileRow { options: Some(r#"{"max_downloads":2,"downloads":1,"private":true}"#.into()), ..row.clone() };
        let d = file_data(&base, "k_a", &private, Some(&secret));
        let sig = secret.sign("/api/v1/files/download/file_1", 1_760_227_200);
        assert_eq!(d.download_url, format!("https://h.test/api/v1/files/download/file_1?exp=1760227200&sig={sig}"));
        assert!(d.file_url.starts_with("https://h.test/f/k_a/img/a%20b.png?exp=1760227200&sig="));
        assert_eq!((d.max_downloads, d.downloads, d.private), (Some(2), Some(1), true));
        assert_eq!(file_data(&base, "k_a", &row, Some(&secret)).file_url, "https://h.test/f/k_a/img/a%20b.png");

        // minted links: a public file's plain pair lives as long as the file; a private one's
        // is signed for what was asked (never past the file), and needs the secret
        let now = 1_760_000_000_000;
        let public = minted_links(&base, "k_a", &row, Some(&secret), now, Some(60)).unwrap();
        assert_eq!((public.file_url.as_str(), public.expires_at.as_str()), ("https://h.test/f/k_a/img/a%20b.png", "2025-10-12T00:00:00+00:00"));
        let minted = minted_links(&base, "k_a", &private, Some(&secret), now, Some(60)).unwrap();
        assert_eq!(minted.expires_at, iso8601(now + 60_000));
        assert!(minted.download_url.ends_with(&format!("?exp=1760000060&sig={}", secret.sign("/api/v1/files/download/file_1", 1_760_000_060))));
        let whole = minted_links(&base, "k_a", &private, Some(&secret), now, Some(10_000_000)).unwrap();
        assert_eq!(whole.expires_at, "2025-10-12T00:00:00+00:00");
        assert_eq!(minted_links(&base, "k_a", &private, None, now, None).unwrap_err(), Error::LinksDisabled);
    }
}
