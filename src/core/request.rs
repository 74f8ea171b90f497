//! Parsing and validating the body of `POST /api/v1/files/upload/url`.

use serde_json::{Map, Value};
use url::Url;

use super::error::Error;
use super::mime::essence;
use super::names::validate_file_name;
use super::path::validate_upload_path;
use super::url_policy::{parse_file_url, UrlPolicy};

/// Largest accepted JSON body, in bytes.
pub const MAX_BODY_BYTES: u64 = 16 * 1024;

/// A validated upload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    pub file_url: Url,
    pub upload_path: Option<String>,
    pub file_name: Option<String>,
}

/// Checks that the request declares a JSON body.
pub fn require_json(content_type: Option<&str>) -> Result<(), Error> {
    match content_type.and_then(essence) {
        Some(ct) if ct == "application/json" || ct.ends_with("+json") => Ok(()),
        _ => Err(Error::NotJson),
    }
}

/// Parses a JSON body into an [`UploadRequest`], naming the field that is wrong.
pub fn parse_upload(body: &[u8], policy: &UrlPolicy) -> Result<UploadRequest, Error> {
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(Error::BodyTooLarge { limit: MAX_BODY_BYTES });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| Error::InvalidJson(e.to_string()))?;
    upload_from_value(value, policy)
}

/// Validates one upload already parsed as JSON (a single body, or one item of a batch).
pub fn upload_from_value(value: Value, policy: &UrlPolicy) -> Result<UploadRequest, Error> {
    let Value::Object(mut fields) = value else {
        return Err(Error::InvalidJson("expected a JSON object".into()));
    };
    let file_url = optional_string(&mut fields, "file_url")?.ok_or(Error::MissingField("file_url"))?;
    let upload_path = optional_string(&mut fields, "upload_path")?;
    let file_name = optional_string(&mut fields, "file_name")?;
    if let Some(unknown) = fields.keys().next() {
        return Err(Error::UnknownField(unknown.chars().take(64).collect()));
    }
    Ok(UploadRequest {
        file_url: parse_file_url(&file_url, policy)?,
        upload_path: match upload_path {
            Some(p) => validate_upload_path(&p)?,
            None => None,
        },
        file_name: file_name.filter(|n| !n.is_empty()).map(|n| validate_file_name(&n)).transpose()?,
    })
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
        ];
        for (body, status, msg) in cases {
            let err = parse(body).unwrap_err();
            assert_eq!(err.status(), *status, "{body}");
            assert!(err.public_message().contains(msg), "{body}: {}", err.public_message());
        }
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
