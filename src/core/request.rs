//! Parsing and validating the body of `POST /api/v1/files/upload/url`.

use serde::Deserialize;
use url::Url;

use super::error::Error;
use super::json::{read_object, whole, JsonObject, BOOLEAN, STRING};
use super::links::{validate_max_downloads, DOWNLOADS_RULE, EXPIRES_RULE, MIN_EXPIRES_IN};
use super::mime::{charset, essence};
use super::names::validate_file_name;
use super::origin_headers::{OriginHeaders, HEADERS_RULE};
use super::path::validate_upload_path;
use super::url_policy::{parse_file_url, UrlPolicy};

/// Largest accepted JSON body, in bytes.
pub const MAX_BODY_BYTES: u64 = 16 * 1024;

/// A validated upload request; `U` is the checked `file_url` (a `url::Url` in the Worker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload<U> {
    pub file_url: U,
    pub upload_path: Option<String>,
    pub file_name: Option<String>,
    /// The SHA-256 the stored bytes must have (lowercase hex); a mismatch stores nothing.
    pub expected_sha256: Option<String>,
    /// The file's own lifetime in seconds (checked against the key's maximum by the flow).
    pub expires_in: Option<u64>,
    /// Downloads allowed before the file is deleted.
    pub max_downloads: Option<u64>,
    /// Served only through signed links.
    pub private: bool,
    /// Headers for the origin (sent only to the first URL's origin; never stored).
    pub origin_headers: Option<OriginHeaders>,
    /// `"async"`: `true` runs it as a background job, `false` stores it now whatever
    /// `Prefer` says; absent, `Prefer: respond-async` decides.
    pub asynchronous: Option<bool>,
    /// Where a job's final status is POSTed (checked like `file_url`); jobs only.
    pub callback_url: Option<U>,
}

/// The Worker's upload request: `file_url` parsed and checked by its URL policy.
pub type UploadRequest = Upload<Url>;

/// Checks a `file_url` (the Worker: `parse_file_url` with its policy; the browser client:
/// the syntax rules on the browser's URL parser).
pub type FileUrlCheck<'a, U> = &'a dyn Fn(&str) -> Result<U, Error>;

/// One upload as sent (alone, or as an item of a batch); `null` is the same as absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadBody {
    file_url: Option<String>,
    upload_path: Option<String>,
    file_name: Option<String>,
    expected_sha256: Option<String>,
    #[serde(default, deserialize_with = "whole")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "whole")]
    max_downloads: Option<u64>,
    private: Option<bool>,
    origin_headers: Option<OriginHeaders>,
    #[serde(rename = "async")]
    asynchronous: Option<bool>,
    callback_url: Option<String>,
}

impl JsonObject<'_> for UploadBody {
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("file_url", STRING),
        ("upload_path", STRING),
        ("file_name", STRING),
        ("expected_sha256", STRING),
        ("expires_in", EXPIRES_RULE),
        ("max_downloads", DOWNLOADS_RULE),
        ("private", BOOLEAN),
        ("origin_headers", HEADERS_RULE),
        ("async", BOOLEAN),
        ("callback_url", STRING),
    ];
}

impl UploadBody {
    /// The validated upload, naming the field that is wrong. An empty `file_name` is none.
    pub(crate) fn check<U>(self, check_url: FileUrlCheck<U>) -> Result<Upload<U>, Error> {
        let file_url = self.file_url.ok_or(Error::MissingField("file_url"))?;
        Ok(Upload {
            file_url: check_url(&file_url)?,
            upload_path: match self.upload_path {
                Some(p) => validate_upload_path(&p)?,
                None => None,
            },
            file_name: self
                .file_name
                .filter(|n| !n.is_empty())
                .map(|n| validate_file_name(&n))
                .transpose()?,
            expected_sha256: self
                .expected_sha256
                .map(|d| validate_sha256(&d, "expected_sha256"))
                .transpose()?,
            asynchronous: self.asynchronous,
            callback_url: self
                .callback_url
                .map(|raw| check_url(&raw).map_err(|err| err.for_field("callback_url")))
                .transpose()?,
            expires_in: self.expires_in.map(check_expires_in).transpose()?,
            max_downloads: self.max_downloads.map(validate_max_downloads).transpose()?,
            private: self.private.unwrap_or(false),
            origin_headers: self.origin_headers.map(OriginHeaders::validate).transpose()?,
        })
    }
}

/// `expires_in`'s lower bound (its upper bound is the key's, checked by the flow).
fn check_expires_in(secs: u64) -> Result<u64, Error> {
    if secs < MIN_EXPIRES_IN {
        return Err(Error::invalid("expires_in", EXPIRES_RULE));
    }
    Ok(secs)
}

/// A SHA-256 digest as 64 hexadecimal digits, either case; answered in lowercase. Else a
/// 400 naming `field`.
pub fn validate_sha256(digest: &str, field: &'static str) -> Result<String, Error> {
    if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(digest.to_ascii_lowercase())
    } else {
        Err(Error::invalid(field, "must be 64 hexadecimal digits (a SHA-256 digest)"))
    }
}

/// Checks that the request declares a JSON body: `application/json`, or a structured
/// syntax suffix (`application/merge-patch+json`; not a bare `application/+json`). JSON is
/// UTF-8 and a `charset` means nothing to it (RFC 8259 8.1, 11), but one naming UTF-16 or
/// UTF-32 says the bytes are not UTF-8: refused by name, not read into a message about
/// JSON syntax.
pub fn require_json(content_type: Option<&str>) -> Result<(), Error> {
    let suffixed = |ct: &str| ct.strip_suffix("+json").and_then(|t| t.split_once('/')).is_some_and(|(_, sub)| !sub.is_empty());
    match content_type.and_then(essence) {
        Some(ct) if ct == "application/json" || suffixed(&ct) => {}
        _ => return Err(Error::NotJson),
    }
    let wide = |v: &str| ["utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs-4"].iter().any(|w| v.to_ascii_lowercase().starts_with(w));
    match content_type.and_then(charset) {
        Some(value) if wide(value) => Err(Error::NotUtf8(value.chars().take(40).collect())),
        _ => Ok(()),
    }
}

/// Checks that the body comes as it is: no `Content-Encoding` but `identity`. Bodies are a
/// few KiB; decoding one would only add a way to make a small request cost more.
pub fn require_identity(content_encoding: Option<&str>) -> Result<(), Error> {
    match content_encoding.map(str::trim) {
        None | Some("") => Ok(()),
        Some(coding) if coding.eq_ignore_ascii_case("identity") => Ok(()),
        Some(_) => Err(Error::EncodedBody),
    }
}

/// Parses a JSON body into an [`UploadRequest`], naming the field that is wrong.
pub fn parse_upload(body: &[u8], policy: &UrlPolicy) -> Result<UploadRequest, Error> {
    parse_upload_with(body, &|raw| parse_file_url(raw, policy))
}

/// [`parse_upload`] with `file_url` checked by `check_url`.
pub fn parse_upload_with<U>(body: &[u8], check_url: FileUrlCheck<U>) -> Result<Upload<U>, Error> {
    read_object::<UploadBody>(body, MAX_BODY_BYTES)?.check(check_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<UploadRequest, Error> {
        parse_upload(body.as_bytes(), &UrlPolicy::default())
    }

    #[test]
    fn valid_bodies() {
        let cases = [
            (r#"{"file_url":"https://x.test/a.png"}"#, None, None),
            (r#"{"file_url":"https://x.test/a.png","upload_path":"/a/b/","file_name":"c.png"}"#, Some("a/b"), Some("c.png")),
            (r#"{"file_url":"https://x.test/a.png","upload_path":null,"file_name":""}"#, None, None),
            (r#"{"file_url":"https://x.test/a.png","upload_path":"/"}"#, None, None),
            (r#"{"file_name":null,"file_url":"https://x.test/a.png"}"#, None, None),
        ];
        for (body, path, name) in cases {
            let req = parse(body).unwrap();
            assert_eq!(req.file_url.as_str(), "https://x.test/a.png");
            assert_eq!(req.upload_path.as_deref(), path, "{body}");
            assert_eq!(req.file_name.as_deref(), name, "{body}");
        }
    }

    #[test]
    fn link_and_origin_fields() {
        let req = parse(r#"{"file_url":"https://x.test/a","expires_in":60,"max_downloads":1,"private":true,
            "origin_headers":{"Authorization":"Bearer t","X-Api-Key":"k"}}"#).unwrap();
        assert_eq!((req.expires_in, req.max_downloads, req.private), (Some(60), Some(1), true));
        let names: Vec<_> = req.origin_headers.as_ref().unwrap().iter().map(|(n, _)| n.to_owned()).collect();
        assert_eq!(names, ["Authorization", "X-Api-Key"]);
        assert!(!format!("{req:?}").contains("Bearer t"), "values never reach a log");
        // JSON Schema's integer: a number whose fraction is zero, however it is written
        let written = parse(r#"{"file_url":"https://x.test/a","expires_in":3600.0,"max_downloads":1e2}"#).unwrap();
        assert_eq!((written.expires_in, written.max_downloads), (Some(3600), Some(100)));
        let plain = parse(r#"{"file_url":"https://x.test/a","private":null}"#).unwrap();
        assert_eq!((plain.expires_in, plain.max_downloads, plain.private, plain.origin_headers), (None, None, false, None));
        let cases: &[(&str, &str, &str)] = &[
            (r#""expires_in":59"#, "expires_in", "from 60 to the key's longest file lifetime"),
            (r#""expires_in":99999999999999999999999"#, "expires_in", "from 60 to the key's longest file lifetime"),
            (r#""expires_in":60.5"#, "expires_in", "whole number"),
            (r#""expires_in":"60""#, "expires_in", "whole number"),
            (r#""expires_in":-1"#, "expires_in", "whole number"),
            (r#""expires_in":-60.0"#, "expires_in", "whole number"),
            (r#""expires_in":1e20"#, "expires_in", "whole number"),
            (r#""max_downloads":0"#, "max_downloads", "from 1 to 1000000"),
            (r#""max_downloads":1000001"#, "max_downloads", "from 1 to 1000000"),
            (r#""max_downloads":1.5"#, "max_downloads", "from 1 to 1000000"),
            (r#""private":"yes""#, "private", "true or false"),
            (r#""origin_headers":["a"]"#, "origin_headers", "object of header names"),
            (r#""origin_headers":{"X-A":1}"#, "origin_headers", "object of header names"),
            (r#""origin_headers":{"Host":"x"}"#, "origin_headers", "may not be sent"),
            (r#""origin_headers":{"X-A":"1","x-a":"2"}"#, "origin_headers", "given twice"),
        ];
        for (field, name, msg) in cases {
            let err = parse(&format!(r#"{{"file_url":"https://x.test/a",{field}}}"#)).unwrap_err();
            assert_eq!((err.status(), err.field()), (400, Some(*name)), "{field}");
            assert!(err.public_message().contains(msg), "{field}: {err}");
        }
    }

    #[test]
    fn expected_sha256_is_64_hex_digits_in_either_case() {
        let upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        let body = format!(r#"{{"file_url":"https://x.test/a","expected_sha256":"{upper}"}}"#);
        assert_eq!(parse(&body).unwrap().expected_sha256.as_deref(), Some(upper.to_ascii_lowercase().as_str()));
        for bad in ["", &upper[1..], &format!("{upper}0"), &upper.replace('E', "g"), &format!(" {}", &upper[1..])] {
            let err = validate_sha256(bad, "expected_sha256").unwrap_err();
            assert_eq!(err.field(), Some("expected_sha256"), "{bad:?}");
        }
    }

    #[test]
    fn invalid_bodies_name_the_problem() {
        let big = format!(r#"{{"file_url":"https://x.test/{}"}}"#, "a".repeat(17 * 1024));
        let cases: &[(&str, u16, &str)] = &[
            ("", 400, "not valid JSON"),
            ("{", 400, "not valid JSON"),
            ("[1]", 400, "must be a JSON object"),
            ("{}", 400, "missing required field `file_url`"),
            (r#"{"file_url":null}"#, 400, "missing required field `file_url`"),
            (r#"{"file_url":42}"#, 400, "invalid `file_url`: must be a string"),
            (r#"{"file_url":"ftp://x.test/a"}"#, 400, "scheme `ftp`"),
            (r#"{"file_url":"https://x.test/a","file_name":7}"#, 400, "invalid `file_name`: must be a string"),
            (r#"{"file_url":"https://x.test/a","file_name":"a/b"}"#, 400, "invalid `file_name`"),
            (r#"{"file_url":"https://x.test/a","upload_path":["a"]}"#, 400, "invalid `upload_path`: must be a string"),
            (r#"{"file_url":"https://x.test/a","upload_path":"../x"}"#, 400, "invalid `upload_path`"),
            (r#"{"file_url":"https://x.test/a","expected_sha256":"abc"}"#, 400, "invalid `expected_sha256`: must be 64 hexadecimal digits"),
            (r#"{"file_url":"https://x.test/a","expected_sha256":7}"#, 400, "invalid `expected_sha256`: must be a string"),
            (r#"{"file_url":"https://x.test/a","fileUrl":"x"}"#, 400, "unknown field `fileUrl`"),
            // a callback URL is checked like file_url, each error naming callback_url
            (r#"{"file_url":"https://x.test/a","async":true,"callback_url":""}"#, 400, "invalid `callback_url`: must not be empty"),
            (r#"{"file_url":"https://x.test/a","async":true,"callback_url":"ftp://x.test/h"}"#, 400, "invalid `callback_url`: scheme `ftp`"),
            (big.as_str(), 413, "exceeds 16384 bytes"),
            // duplicate keys: refused, whichever copy another parser would read
            (r#"{"file_url":"https://x.test/a","file_url":"http://127.0.0.1/"}"#, 400, "duplicate field `file_url`"),
            (r#"{"file_url":"https://x.test/a","file_name":"a.png","file_name":"b.png"}"#, 400, "duplicate field `file_name`"),
            // unknown-field tricks: case, whitespace, escapes that decode to another key
            (r#"{"file_url":"https://x.test/a","File_url":"x"}"#, 400, "unknown field `File_url`"),
            (r#"{"file_url":"https://x.test/a","file_url ":"x"}"#, 400, "unknown field `file_url `"),
            (r#"{"file_url":"https://x.test/a","file\u005furl":"x"}"#, 400, "duplicate field `file_url`"),
            (r#"{"file_url":"https://x.test/a","upload_path":null,"upload_path":"a"}"#, 400, "duplicate field `upload_path`"),
            (r#"{"file_url":"https://x.test/a","__proto__":{}}"#, 400, "unknown field `__proto__`"),
            // wrong types, each naming its field
            (r#"{"file_url":["https://x.test/a"]}"#, 400, "invalid `file_url`: must be a string"),
            (r#"{"file_url":{"href":"https://x.test/a"}}"#, 400, "invalid `file_url`: must be a string"),
            (r#"{"file_url":true}"#, 400, "invalid `file_url`: must be a string"),
            (r#"{"file_url":"https://x.test/a","upload_path":1}"#, 400, "invalid `upload_path`: must be a string"),
            (r#"{"file_url":"https://x.test/a","file_name":false}"#, 400, "invalid `file_name`: must be a string"),
            // huge numbers and deep nesting are parse errors, not crashes
            (r#"{"file_url":1e999999}"#, 400, "not valid JSON"),
            (r#"{"file_url":123456789012345678901234567890}"#, 400, "invalid `file_url`: must be a string"),
            (r#"{"file_url":-0.0}"#, 400, "invalid `file_url`: must be a string"),
            // NUL bytes
            ("{\"file_url\":\"https://x.test/a\",\"file_name\":\"a\u{0}.png\"}", 400, "not valid JSON"),
            (r#"{"file_url":"https://x.test/a","file_name":"a\u0000.png"}"#, 400, "invalid `file_name`"),
            (r#"{"file_url":"https://x\u0000.test/a"}"#, 400, "invalid `file_url`"),
            (r#"{"file_url":"https://x.test/a","upload_path":"a\u0000b"}"#, 400, "invalid `upload_path`"),
            ("{\"file_url\":\"https://x.test/a\"}\u{0}", 400, "not valid JSON"),
            // lone surrogates, trailing garbage, comments, single quotes
            (r#"{"file_url":"https://x.test/\ud800"}"#, 400, "not valid JSON"),
            (r#"{"file_url":"https://x.test/a"} x"#, 400, "not valid JSON"),
            (r#"{"file_url":"https://x.test/a"/*c*/}"#, 400, "not valid JSON"),
            ("{'file_url':'https://x.test/a'}", 400, "not valid JSON"),
            ("null", 400, "must be a JSON object"),
            ("\"https://x.test/a\"", 400, "must be a JSON object"),
        ];
        for (body, status, msg) in cases {
            let err = parse(body).unwrap_err();
            assert_eq!(err.status(), *status, "{body}");
            assert!(err.public_message().contains(msg), "{body}: {}", err.public_message());
        }
    }

    #[test]
    fn hostile_bytes_are_400() {
        let deep = format!("{}{}", "[".repeat(8_000), "]".repeat(8_000));
        let deep_obj = format!(r#"{{"file_url":"https://x.test/a","x":{}1{}}}"#, "[".repeat(200), "]".repeat(200));
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (deep.into_bytes(), "not valid JSON"),
            (deep_obj.into_bytes(), "not valid JSON"),
            (b"{\"file_url\":\"https://x.test/\xff\xfe\"}".to_vec(), "not valid JSON"),
            (vec![0xff, 0xfe, b'{', 0, b'}', 0], "not valid JSON"),
            (vec![0; 100], "not valid JSON"),
            (b"\xEF\xBB\xBF\xEF\xBB\xBF{}".to_vec(), "not valid JSON"),
        ];
        for (body, msg) in cases {
            let err = parse_upload(&body, &UrlPolicy::default()).unwrap_err();
            assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(&body[..body.len().min(80)]));
            assert!(err.public_message().contains(msg), "{}", err.public_message());
        }
        // one UTF-8 byte order mark is allowed (RFC 8259 section 8.1)
        let bom = b"\xEF\xBB\xBF{\"file_url\":\"https://x.test/a.png\"}";
        assert_eq!(parse_upload(bom, &UrlPolicy::default()).unwrap().file_url.as_str(), "https://x.test/a.png");
    }

    #[test]
    fn only_json_content_types() {
        let cases = [
            (Some("application/json"), true),
            (Some("application/json; charset=utf-8"), true),
            (Some("Application/JSON"), true),
            (Some("application/merge-patch+json"), true),
            (Some("application/+json"), false),
            (Some("text/+json"), false),
            (Some("text/plain"), false),
            (Some("multipart/form-data; boundary=x"), false),
            (None, false),
            (Some("application/json; CHARSET=\"UTF-8\""), true),
            (Some("application/json;charset=us-ascii"), true),
            (Some("application/json; foo=bar"), true),
            // a charset means nothing to JSON: an ASCII-compatible one is let be
            (Some("application/json; charset=iso-8859-1"), true),
            (Some("application/json; charset="), true),
        ];
        for (ct, ok) in cases {
            assert_eq!(require_json(ct).is_ok(), ok, "{ct:?}");
        }
        // another charset is named (415), never read as UTF-8 into a syntax error
        for (ct, named) in [("application/json; charset=utf-16", "utf-16"), ("application/json; charset=\"UTF-32LE\"", "UTF-32LE"), ("application/json;charset=utf-16be", "utf-16be")] {
            let err = require_json(Some(ct)).unwrap_err();
            assert_eq!((err.status(), err.to_string()), (415, format!("request body must be JSON in UTF-8, not `{named}`")), "{ct}");
        }
    }

    #[test]
    fn only_bodies_as_they_are() {
        for ok in [None, Some(""), Some("identity"), Some(" Identity ")] {
            assert_eq!(require_identity(ok), Ok(()), "{ok:?}");
        }
        for coded in ["gzip", "br", "x-unknown", "gzip, identity"] {
            assert_eq!(require_identity(Some(coded)), Err(Error::EncodedBody), "{coded}");
        }
    }
}
