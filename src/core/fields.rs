//! Which request field an error concerns, so a client can show it beside that field.

use super::error::Error;

/// A field of the upload request (or the API key), named as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ApiKey,
    FileUrl,
    UploadPath,
    FileName,
    ExpectedSha256,
    ExpiresIn,
    MaxDownloads,
    Private,
    OriginHeaders,
    CallbackUrl,
}

impl Field {
    const ALL: [Field; 10] = [
        Field::ApiKey,
        Field::FileUrl,
        Field::UploadPath,
        Field::FileName,
        Field::ExpectedSha256,
        Field::ExpiresIn,
        Field::MaxDownloads,
        Field::Private,
        Field::OriginHeaders,
        Field::CallbackUrl,
    ];

    /// The wire name (`file_url`, ...; `api_key` for the bearer token).
    pub fn wire(self) -> &'static str {
        match self {
            Field::ApiKey => "api_key",
            Field::FileUrl => "file_url",
            Field::UploadPath => "upload_path",
            Field::FileName => "file_name",
            Field::ExpectedSha256 => "expected_sha256",
            Field::ExpiresIn => "expires_in",
            Field::MaxDownloads => "max_downloads",
            Field::Private => "private",
            Field::OriginHeaders => "origin_headers",
            Field::CallbackUrl => "callback_url",
        }
    }

    /// The option name in the JS API (`fileUrl`, ...; `apiKey`).
    pub fn js(self) -> &'static str {
        match self {
            Field::ApiKey => "apiKey",
            Field::FileUrl => "fileUrl",
            Field::UploadPath => "uploadPath",
            Field::FileName => "fileName",
            Field::ExpectedSha256 => "expectedSha256",
            Field::ExpiresIn => "expiresIn",
            Field::MaxDownloads => "maxDownloads",
            Field::Private => "private",
            Field::OriginHeaders => "originHeaders",
            Field::CallbackUrl => "callbackUrl",
        }
    }

    /// The field with this wire name, if it is one of the client's.
    pub fn from_wire(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.wire() == name)
    }
}

/// The field a core [`Error`] is about: the one its variant names ([`Error::field`]).
pub fn field_of_error(err: &Error) -> Option<Field> {
    err.field().and_then(Field::from_wire)
}

/// The field a server's error envelope (`code` = HTTP status, `msg`) is about, if any. The
/// envelope carries no field, so this reads the message; it gives the answer
/// [`field_of_error`] gives for the error the envelope was made from (tested below).
pub fn field_of(status: u16, msg: &str) -> Option<Field> {
    if status == 401 {
        return Some(Field::ApiKey);
    }
    // The body as a whole: not JSON, too large, unreadable, a repeated field.
    if msg.starts_with("request body") {
        return None;
    }
    // The field named first: `invalid `origin_headers`: header `file_name` ...` is about
    // `origin_headers`, whatever the header it names is called.
    let named = Field::ALL[1..]
        .iter()
        .copied()
        .filter_map(|f| {
            let at = if msg.starts_with(&format!("{} ", f.wire())) {
                Some(0)
            } else {
                msg.find(&format!("`{}`", f.wire()))
            };
            at.map(|at| (at, f))
        })
        .min_by_key(|&(at, _)| at)
        .map(|(_, f)| f);
    match status {
        // The origin behind `file_url` failed, or what it sent is refused (451: its bytes
        // are on the blocklist).
        413 | 415 | 451 | 502 | 504 => named.or(Some(Field::FileUrl)),
        // The stored bytes are not the ones `expected_sha256` named (the other 422, an
        // `Idempotency-Key` sent with another request, is the request's header: no field).
        422 if msg == Error::IdempotencyKeyReused.public_message() => None,
        422 => Some(Field::ExpectedSha256),
        _ => named,
    }
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
            (400, "invalid `file_url`: not a valid URL (it must be absolute, like https://example.com/file.png)", Some(Field::FileUrl)),
            (400, "file_url rejected: scheme `ftp` is not allowed (use http or https)", Some(Field::FileUrl)),
            (400, "invalid `upload_path`: must not contain `.` or `..` segments", Some(Field::UploadPath)),
            (400, "invalid `file_name`: must not contain path separators", Some(Field::FileName)),
            (400, "invalid `expires_in`: must be a whole number of seconds from 60 to 3600", Some(Field::ExpiresIn)),
            (400, "invalid `max_downloads`: must be a whole number from 1 to 1000000", Some(Field::MaxDownloads)),
            (400, "invalid `origin_headers`: at most 8 headers", Some(Field::OriginHeaders)),
            (400, "invalid `origin_headers`: header `file_name` may not be sent (allowed: X-*)", Some(Field::OriginHeaders)),
            (400, "invalid `origin_headers`: header `expires_in` is given twice", Some(Field::OriginHeaders)),
            (400, "invalid `callback_url`: must not be empty", Some(Field::CallbackUrl)),
            (400, "invalid `callback_url`: only for background jobs (`\"async\": true`, or `Prefer: respond-async` without `\"async\": false`)", Some(Field::CallbackUrl)),
            (503, "private links are disabled: the LINK_SECRET secret is not set", Some(Field::Private)),
            (429, "rate limit exceeded: this key may make at most 10 upload requests per minute; retry after 60 s", None),
            (400, "request body is not valid JSON: EOF", None),
            (400, "request body is not valid JSON: duplicate field `file_url` at line 1 column 40", None),
            (400, "unknown field `fileUrl`", None),
            (413, "file exceeds the size limit of 10 bytes", Some(Field::FileUrl)),
            (413, "request body exceeds 16384 bytes", None),
            (415, "file type `text/html` is not allowed", Some(Field::FileUrl)),
            (502, "origin responded with HTTP 404", Some(Field::FileUrl)),
            (504, "the origin did not deliver the file within 30000 ms", Some(Field::FileUrl)),
            (500, "internal error", None),
            (400, "invalid `expected_sha256`: must be 64 hexadecimal digits", Some(Field::ExpectedSha256)),
            (422, "sha256 mismatch: expected 00, got 11", Some(Field::ExpectedSha256)),
            (422, &Error::IdempotencyKeyReused.public_message(), None),
            (502, "the file changed at the origin during the download", Some(Field::FileUrl)),
            (451, "this file is on the blocklist (taken down, or blocked in advance) and may not be stored", Some(Field::FileUrl)),
            (404, "no such route", None),
        ];
        for (status, msg, want) in cases {
            assert_eq!(field_of(*status, msg), *want, "{status} {msg}");
        }
    }

    #[test]
    fn core_errors_name_their_field_and_their_envelopes_agree() {
        let cases = [
            (Error::MissingField("file_url"), Some("fileUrl")),
            (Error::invalid("file_url", "must be at most 2048 characters"), Some("fileUrl")),
            (Error::invalid("upload_path", "bad"), Some("uploadPath")),
            (Error::invalid("file_name", "bad"), Some("fileName")),
            (Error::invalid("name", "must be a string"), None),
            (Error::MissingField("items"), None),
            (Error::unknown_field("fileUrl"), None),
            (Error::InvalidJson("duplicate field `file_name` at line 1 column 9".into()), None),
            (Error::NotJson, None),
            (Error::NotUtf8("utf-16".into()), None),
            (Error::EncodedBody, None),
            (Error::NothingToUpdate("name, disabled"), None),
            (Error::BodyTooLarge { limit: 16384 }, None),
            (Error::Unauthorized("missing API key"), Some("apiKey")),
            (Error::UrlRejected("the URL has no host".into()), Some("fileUrl")),
            (Error::RedirectRejected("the address 10.0.0.1 is private".into()), None),
            (Error::FileTooLarge { limit: 10 }, Some("fileUrl")),
            (Error::TypeNotAllowed("`text/html` is not allowed (allowed: image/*)".into()), Some("fileUrl")),
            (Error::TooManyRedirects(5), Some("fileUrl")),
            (Error::OriginStatus(404), Some("fileUrl")),
            (Error::OriginUnreachable, Some("fileUrl")),
            (Error::OriginBroken, Some("fileUrl")),
            (Error::OriginTimeout { ms: 30000 }, Some("fileUrl")),
            (Error::OriginStalled { ms: 15000 }, Some("fileUrl")),
            (Error::OriginTooSlow { ms: 780000 }, Some("fileUrl")),
            (Error::OriginChanged, Some("fileUrl")),
            (Error::OriginCoding("deflate".into()), Some("fileUrl")),
            (Error::Blocked, Some("fileUrl")),
            (Error::ChecksumMismatch { expected: "0".repeat(64), actual: "1".repeat(64) }, Some("expectedSha256")),
            (Error::invalid("expected_sha256", "bad"), Some("expectedSha256")),
            (Error::invalid("expires_in", "bad"), Some("expiresIn")),
            (Error::invalid("max_downloads", "bad"), Some("maxDownloads")),
            (Error::invalid("origin_headers", "bad"), Some("originHeaders")),
            (Error::invalid("origin_headers", "header `file_url` may not be sent"), Some("originHeaders")),
            (Error::invalid("callback_url", "bad"), Some("callbackUrl")),
            (Error::LinksDisabled, Some("private")),
            (Error::RateLimited { limit: 10, retry_after_secs: 60 }, None),
            (Error::Busy, None),
            (Error::BlocklistUnread, None),
            (Error::Updating, None),
            (Error::Forbidden("this file is private: its link needs a valid signature (exp and sig)"), None),
            (Error::FileNotFound, None),
            (Error::RangeNotSatisfiable { size: 3 }, None),
            (Error::QuotaExceeded("quota exceeded".into()), None),
            (Error::internal("x"), None),
        ];
        for (err, want) in cases {
            assert_eq!(field_of_error(&err).map(Field::js), want, "{err:?}");
            assert_eq!(field_of(err.status(), &err.public_message()), field_of_error(&err), "{err:?}");
        }
    }
}
