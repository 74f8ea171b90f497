//! Where files live: R2 object and index keys, and the public URLs that reach them.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

/// Objects live under `f/{key id}/{upload_path}/{file_name}`; the same path serves them.
pub const OBJECT_PREFIX: &str = "f/";
/// The `file_id` index lives under `i/{file_id}`, in R2 (strongly consistent), not KV.
pub const INDEX_PREFIX: &str = "i/";
/// Longest key R2 stores, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Route prefix of `download_url`.
pub const DOWNLOAD_ROUTE: &str = "/api/v1/files/download/";

/// RFC 3986 unreserved characters stay; everything else in a segment is escaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The R2 key of a file: namespaced by the owning key's id.
pub fn object_key(owner: &str, upload_path: &str, file_name: &str) -> String {
    format!("{OBJECT_PREFIX}{owner}/{upload_path}/{file_name}")
}

/// The R2 key of a `file_id`'s index entry.
pub fn index_key(file_id: &str) -> String {
    format!("{INDEX_PREFIX}{file_id}")
}

/// `base` without a trailing slash, as a string.
fn base_str(base: &Url) -> &str {
    base.as_str().trim_end_matches('/')
}

/// The inline URL of an object: `{base}/f/{owner}/{path}/{name}`, each segment escaped.
pub fn file_url(base: &Url, object_key: &str) -> String {
    let path: Vec<String> = object_key.split('/').map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect();
    format!("{}/{}", base_str(base), path.join("/"))
}

/// The attachment URL of a file: `{base}/api/v1/files/download/{file_id}`.
pub fn download_url(base: &Url, file_id: &str) -> String {
    format!("{}{DOWNLOAD_ROUTE}{file_id}", base_str(base))
}

/// The object key a request path under `/f/` names, or `None` when it names none.
pub fn object_key_from_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?.strip_prefix(OBJECT_PREFIX)?;
    let segments: Vec<String> = rest
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned()))
        .collect::<Option<_>>()?;
    // owner / at least one folder / name, none empty
    let usable = segments.len() >= 3 && segments.iter().all(|s| !s.is_empty() && s != "." && s != "..");
    let key = format!("{OBJECT_PREFIX}{}", segments.join("/"));
    // a key R2 would refuse names no object (and must not reach R2 as an error)
    (usable && key.len() <= MAX_KEY_BYTES).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_urls_round_trip() {
        let base = Url::parse("https://files.example.com/").unwrap();
        let cases = [
            ("k_dev", "images", "a.png", "https://files.example.com/f/k_dev/images/a.png"),
            ("k_dev", "a/b", "my file.png", "https://files.example.com/f/k_dev/a/b/my%20file.png"),
            ("k_2", "docs", "報告.pdf", "https://files.example.com/f/k_2/docs/%E5%A0%B1%E5%91%8A.pdf"),
            ("k_2", "docs", "a#b?c%d.txt", "https://files.example.com/f/k_2/docs/a%23b%3Fc%25d.txt"),
        ];
        for (owner, path, name, url) in cases {
            let key = object_key(owner, path, name);
            assert_eq!(file_url(&base, &key), url);
            let request_path = Url::parse(url).unwrap().path().to_owned();
            assert_eq!(object_key_from_path(&request_path), Some(key));
        }
        assert_eq!(download_url(&base, "file_1"), "https://files.example.com/api/v1/files/download/file_1");
        assert_eq!(index_key("file_1"), "i/file_1");
    }

    #[test]
    fn paths_that_name_no_object() {
        for path in ["/f/", "/f/k_dev", "/f/k_dev/a.png", "/f/k_dev//a.png", "/f/k_dev/../a.png", "/x/k/a/b", "/f/k/a/%FF"] {
            assert_eq!(object_key_from_path(path), None, "{path}");
        }
        let longest = format!("/f/k/p/{}", "n".repeat(MAX_KEY_BYTES - "f/k/p/".len()));
        assert!(object_key_from_path(&longest).is_some());
        assert_eq!(object_key_from_path(&format!("{longest}n")), None);
    }
}
