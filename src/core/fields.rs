//! Which request field an error concerns, so a client can show it beside that field.

use super::error::Error;

/// A field of the upload request (or the API key), named as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ApiKey,
    FileUrl,
    UploadPath,
    FileName,
}

impl Field {
    /// The wire name (`file_url`, ...; `api_key` for the bearer token).
    pub fn wire(self) -> &'static str {
        match self {
            Field::ApiKey => "api_key",
            Field::FileUrl => "file_url",
            Field::UploadPath => "upload_path",
            Field::FileName => "file_name",
        }
    }

    /// The option name in the JS API (`fileUrl`, ...; `apiKey`).
    pub fn js(self) -> &'static str {
        match self {
            Field::ApiKey => "apiKey",
            Field::FileUrl => "fileUrl",
            Field::UploadPath => "uploadPath",
            Field::FileName => "fileName",
        }
    }
}

/// The field an error envelope (`code` = HTTP status, `msg`) is about, if any. Works on
/// the envelope alone, so a client can place a server's message as well as its own.
pub fn field_of(status: u16, msg: &str) -> Option<Field> {
    let named = [Field::FileUrl, Field::UploadPath, Field::FileName]
        .into_iter()
        .find(|f| msg.contains(&format!("`{}`", f.wire())) || msg.starts_with(&format!("{} ", f.wire())));
    match status {
        401 => Some(Field::ApiKey),
        400 | 422 => named,
        // The origin behind `file_url` failed, or what it sent is refused.
        413 | 415 | 502 | 504 if !msg.starts_with("request body") => named.or(Some(Field::FileUrl)),
        _ => named,
    }
}

/// The field a core [`Error`] is about (the same answer as its envelope would give).
pub fn field_of_error(err: &Error) -> Option<Field> {
    field_of(err.status(), &err.public_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_name_their_field() {
        let cases: &[(u16, &str, Option<Field>)] = &[
            (401, "invalid API key", Some(Field::ApiKey)),
            (401, "missing API key (Authorization: Bearer KEY)", Some(Field::ApiKey)),
            (400, "missing required field `file_url`", Some(Field::FileUrl)),
            (400, "invalid `file_url`: not a valid URL (relative URL without a base)", Some(Field::FileUrl)),
            (400, "file_url rejected: scheme `ftp` is not allowed (use http or https)", Some(Field::FileUrl)),
            (400, "invalid `upload_path`: must not contain `.` or `..` segments", Some(Field::UploadPath)),
            (400, "invalid `file_name`: must not contain path separators", Some(Field::FileName)),
            (400, "request body is not valid JSON: EOF", None),
            (400, "unknown field `fileUrl`", None),
            (413, "file exceeds the size limit of 10 bytes", Some(Field::FileUrl)),
            (413, "request body exceeds 16384 bytes", None),
            (415, "file type `text/html` is not allowed", Some(Field::FileUrl)),
            (502, "origin responded with HTTP 404", Some(Field::FileUrl)),
            (504, "the origin did not deliver the file within 30000 ms", Some(Field::FileUrl)),
            (500, "internal error", None),
            (404, "no such route", None),
        ];
        for (status, msg, want) in cases {
            assert_eq!(field_of(*status, msg), *want, "{status} {msg}");
        }
    }

    #[test]
    fn core_errors_name_their_field() {
        let cases = [
            (Error::MissingField("file_url"), Some("fileUrl")),
            (Error::invalid("upload_path", "bad"), Some("uploadPath")),
            (Error::invalid("file_name", "bad"), Some("fileName")),
            (Error::Unauthorized("missing API key"), Some("apiKey")),
            (Error::UrlRejected("the URL has no host".into()), Some("fileUrl")),
            (Error::internal("x"), None),
        ];
        for (err, want) in cases {
            assert_eq!(field_of_error(&err).map(Field::js), want, "{err:?}");
        }
    }
}
