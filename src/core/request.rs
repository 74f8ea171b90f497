//! Parsing and validating the body of `POST /api/v1/files/upload/url`.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use url::Url;

use super::error::Error;
use super::mime::essence;
use super::names::validate_file_name;
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
}

/// The Worker's upload request: `file_url` parsed and checked by its URL policy.
pub type UploadRequest = Upload<Url>;

/// Checks a `file_url` (the Worker: `parse_file_url` with its policy; the browser client:
/// the syntax rules on the browser's URL parser).
pub type FileUrlCheck<'a, U> = &'a dyn Fn(&str) -> Result<U, Error>;

/// Checks that the request declares a JSON body.
pub fn require_json(content_type: Option<&str>) -> Result<(), Error> {
    match content_type.and_then(essence) {
        Some(ct) if ct == "application/json" || ct.ends_with("+json") => Ok(()),
        _ => Err(Error::NotJson),
    }
}

/// Parses a JSON body into an [`UploadRequest`], naming the field that is wrong.
pub fn parse_upload(body: &[u8], policy: &UrlPolicy) -> Result<UploadRequest, Error> {
    parse_upload_with(body, &|raw| parse_file_url(raw, policy))
}

/// [`parse_upload`] with `file_url` checked by `check_url`.
pub fn parse_upload_with<U>(body: &[u8], check_url: FileUrlCheck<U>) -> Result<Upload<U>, Error> {
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(Error::BodyTooLarge { limit: MAX_BODY_BYTES });
    }
    // RFC 8259 lets a parser ignore a UTF-8 byte order mark.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let value: Body = serde_json::from_slice(body).map_err(|e| Error::InvalidJson(e.to_string()))?;
    let Body::Object(pairs) = value else {
        return Err(Error::InvalidJson("expected a JSON object".into()));
    };
    let mut fields = Map::new();
    for (key, value) in pairs {
        if fields.contains_key(&key) {
            return Err(Error::InvalidJson(format!("duplicate field `{}`", key.chars().take(64).collect::<String>())));
        }
        fields.insert(key, value);
    }
    upload_from_fields(fields, check_url)
}

/// Validates one upload already parsed as JSON (one item of a batch).
pub fn upload_from_value<U>(value: Value, check_url: FileUrlCheck<U>) -> Result<Upload<U>, Error> {
    match value {
        Value::Object(fields) => upload_from_fields(fields, check_url),
        _ => Err(Error::InvalidJson("expected a JSON object".into())),
    }
}

/// Validates the fields of one upload, naming the one that is wrong.
fn upload_from_fields<U>(mut fields: Map<String, Value>, check_url: FileUrlCheck<U>) -> Result<Upload<U>, Error> {
    let file_url = optional_string(&mut fields, "file_url")?.ok_or(Error::MissingField("file_url"))?;
    let upload_path = optional_string(&mut fields, "upload_path")?;
    let file_name = optional_string(&mut fields, "file_name")?;
    if let Some(unknown) = fields.keys().next() {
        return Err(Error::unknown_field(unknown));
    }
    Ok(Upload {
        file_url: check_url(&file_url)?,
        upload_path: match upload_path {
            Some(p) => validate_upload_path(&p)?,
            None => None,
        },
        file_name: file_name.filter(|n| !n.is_empty()).map(|n| validate_file_name(&n)).transpose()?,
    })
}

/// A JSON document whose top-level object keeps every key, duplicates included (a map
/// would keep the last silently, and another parser might read the first).
enum Body {
    Object(Vec<(String, Value)>),
    Other,
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BodyVisitor;
        impl<'de> Visitor<'de> for BodyVisitor {
            type Value = Body;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
                let mut pairs = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    pairs.push((key, value));
                }
                Ok(Body::Object(pairs))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Body, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Body::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Body, E> { Ok(Body::Other) }
            fn visit_i64<E>(self, _: i64) -> Result<Body, E> { Ok(Body::Other) }
            fn visit_u64<E>(self, _: u64) -> Result<Body, E> { Ok(Body::Other) }
            fn visit_f64<E>(self, _: f64) -> Result<Body, E> { Ok(Body::Other) }
            fn visit_str<E>(self, _: &str) -> Result<Body, E> { Ok(Body::Other) }
            fn visit_unit<E>(self) -> Result<Body, E> { Ok(Body::Other) }
        }
        deserializer.deserialize_any(BodyVisitor)
    }
}

/// Takes `key` out of `fields`: a string, or `None` when absent or null.
fn optional_string(fields: &mut Map<String, Value>, key: &'static str) -> Result<Option<String>, Error> {
    match fields.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid(key, "must be a string")),
    }
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
        ];
        for (body, path, name) in cases {
            let req = parse(body).unwrap();
            assert_eq!(req.file_url.as_str(), "https://x.test/a.png");
            assert_eq!(req.upload_path.as_deref(), path, "{body}");
            assert_eq!(req.file_name.as_deref(), name, "{body}");
        }
    }

    #[test]
    fn invalid_bodies_name_the_problem() {
        let big = format!(r#"{{"file_url":"https://x.test/{}"}}"#, "a".repeat(17 * 1024));
        let cases: &[(&str, u16, &str)] = &[
            ("", 400, "not valid JSON"),
            ("{", 400, "not valid JSON"),
            ("[1]", 400, "expected a JSON object"),
            ("{}", 400, "missing required field `file_url`"),
            (r#"{"file_url":null}"#, 400, "missing required field `file_url`"),
            (r#"{"file_url":42}"#, 400, "invalid `file_url`: must be a string"),
            (r#"{"file_url":"ftp://x.test/a"}"#, 400, "scheme `ftp`"),
            (r#"{"file_url":"https://x.test/a","file_name":7}"#, 400, "invalid `file_name`: must be a string"),
            (r#"{"file_url":"https://x.test/a","file_name":"a/b"}"#, 400, "invalid `file_name`"),
            (r#"{"file_url":"https://x.test/a","upload_path":["a"]}"#, 400, "invalid `upload_path`: must be a string"),
            (r#"{"file_url":"https://x.test/a","upload_path":"../x"}"#, 400, "invalid `upload_path`"),
            (r#"{"file_url":"https://x.test/a","fileUrl":"x"}"#, 400, "unknown field `fileUrl`"),
            (big.as_str(), 413, "exceeds 16384 bytes"),
            // duplicate keys: refused, whichever copy another parser would read
            (r#"{"file_url":"https://x.test/a","file_url":"http://127.0.0.1/"}"#, 400, "duplicate field `file_url`"),
            (r#"{"file_url":"https://x.test/a","file_name":"a.png","file_name":"b.png"}"#, 400, "duplicate field `file_name`"),
            // unknown-field tricks: case, whitespace, escapes that decode to another key
            (r#"{"file_url":"https://x.test/a","File_url":"x"}"#, 400, "unknown field `File_url`"),
            (r#"{"file_url":"https://x.test/a","file_url ":"x"}"#, 400, "unknown field `file_url `"),
            (r#"{"file_url":"https://x.test/a","file\u005furl":"x"}"#, 400, "duplicate field `file_url`"),
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
            ("null", 400, "expected a JSON object"),
            ("\"https://x.test/a\"", 400, "expected a JSON object"),
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
            (Some("text/plain"), false),
            (Some("multipart/form-data; boundary=x"), false),
            (None, false),
        ];
        for (ct, ok) in cases {
            assert_eq!(require_json(ct).is_ok(), ok, "{ct:?}");
        }
    }
}
