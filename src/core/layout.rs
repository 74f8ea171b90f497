//! Where files live: the R2 key of an upload's bytes, and the public URLs that reach a file
//! by name (`file_url`) and by id (`download_url`).

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use super::names::composed;

/// Every upload's bytes live under `o/{file_id}`, written once.
pub const OBJECT_PREFIX: &str = "o/";
/// Route prefix of `file_url`: `/f/{key id}/{upload_path}/{file_name}`.
pub const FILE_ROUTE: &str = "/f/";
/// Longest `file_url` path accepted (key id, folder and name), in bytes.
pub const MAX_NAME_PATH_BYTES: usize = 1024;
/// Route prefix of `download_url`.
pub const DOWNLOAD_ROUTE: &str = "/api/v1/files/download/";

/// RFC 3986 unreserved characters stay; everything else in a segment is escaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A file's name within its key: what `file_url` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    pub owner: String,
    pub upload_path: String,
    pub file_name: String,
}

/// The R2 key of an upload's bytes.
pub fn object_key(file_id: &str) -> String {
    format!("{OBJECT_PREFIX}{file_id}")
}

/// `base` without a trailing slash, as a string.
fn base_str(base: &Url) -> &str {
    base.as_str().trim_end_matches('/')
}

/// The inline URL of a name: `{base}/f/{owner}/{path}/{name}`, each segment escaped.
pub fn file_url(base: &Url, owner: &str, upload_path: &str, file_name: &str) -> String {
    let path = format!("{owner}/{upload_path}/{file_name}");
    let escaped: Vec<String> = path.split('/').map(escaped_segment).collect();
    format!("{}{FILE_ROUTE}{}", base_str(base), escaped.join("/"))
}

/// One path segment as [`file_url`] writes it.
fn escaped_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// A request path as [`file_url`] would have written it: each segment decoded, composed
/// ([`composed`]) and escaped again, so every spelling of one URL (`%c3%a9`, `é`, `e%CC%81`,
/// `%21` or `!`) has one form. A segment that does not decode to UTF-8 is kept as sent.
pub fn canonical_path(path: &str) -> String {
    let segments: Vec<String> = path
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8().map_or_else(|_| s.to_owned(), |d| escaped_segment(&composed(&d))))
        .collect();
    segments.join("/")
}

/// The attachment URL of a file: `{base}/api/v1/files/download/{file_id}`.
pub fn download_url(base: &Url, file_id: &str) -> String {
    format!("{}{DOWNLOAD_ROUTE}{file_id}", base_str(base))
}

/// The name a request path under `/f/` addresses, or `None` when it addresses none.
pub fn name_from_path(path: &str) -> Option<FileName> {
    let rest = path.strip_prefix(FILE_ROUTE)?;
    let segments: Vec<String> = rest
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8().ok().map(|c| composed(&c)))
        .collect::<Option<_>>()?;
    // owner / at least one folder / name, none empty; an escaped `/` (`%2F`) is not a
    // separator (RFC 3986 §2.2), and no stored name holds one
    let usable = segments.len() >= 3 && segments.iter().all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('/'));
    let joined = segments.join("/");
    if !usable || joined.len() > MAX_NAME_PATH_BYTES {
        return None;
    }
    let (owner, rest) = joined.split_once('/')?;
    let (upload_path, file_name) = rest.rsplit_once('/')?;
    Some(FileName { owner: owner.to_owned(), upload_path: upload_path.to_owned(), file_name: file_name.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_round_trip() {
        let base = Url::parse("https://files.example.com/").unwrap();
        let cases = [
            ("k_dev", "images", "a.png", "https://files.example.com/f/k_dev/images/a.png"),
            ("k_dev", "a/b", "my file.png", "https://files.example.com/f/k_dev/a/b/my%20file.png"),
            ("k_2", "docs", "報告.pdf", "https://files.example.com/f/k_2/docs/%E5%A0%B1%E5%91%8A.pdf"),
            ("k_2", "docs", "a#b?c%d.txt", "https://files.example.com/f/k_2/docs/a%23b%3Fc%25d.txt"),
        ];
        for (owner, path, name, url) in cases {
            assert_eq!(file_url(&base, owner, path, name), url);
            let request_path = Url::parse(url).unwrap().path().to_owned();
            let want = FileName { owner: owner.into(), upload_path: path.into(), file_name: name.into() };
            assert_eq!(name_from_path(&request_path), Some(want));
        }
        // a name typed in another Unicode form (macOS writes é as e and a combining accent)
        // names the same file
        let typed = name_from_path("/f/k_2/docs/Zu%CC%88rich.png").unwrap();
        assert_eq!(typed.file_name, "Zürich.png");
        assert_eq!(canonical_path("/f/k_2/docs/Zu%CC%88rich%2epng"), "/f/k_2/docs/Z%C3%BCrich.png");
        assert_eq!(canonical_path("/f/k_2/a%20b/!.png"), "/f/k_2/a%20b/%21.png");
        assert_eq!(canonical_path("/f/%FF/x"), "/f/%FF/x");
        assert_eq!(download_url(&base, "file_1"), "https://files.example.com/api/v1/files/download/file_1");
        assert_eq!(object_key("file_1"), "o/file_1");
    }

    #[test]
    fn paths_that_name_nothing() {
        for path in ["/f/", "/f/k_dev", "/f/k_dev/a.png", "/f/k_dev//a.png", "/f/k_dev/../a.png", "/x/k/a/b", "/f/k/a/%FF", "/f/k/a%2Fb/c.png", "/f/k%2Fa/b/c.png", "/f/k/a/b%2fc.png"] {
            assert_eq!(name_from_path(path), None, "{path}");
        }
        let longest = format!("/f/k/p/{}", "n".repeat(MAX_NAME_PATH_BYTES - "k/p/".len()));
        assert!(name_from_path(&longest).is_some());
        assert_eq!(name_from_path(&format!("{longest}n")), None);
    }
}
