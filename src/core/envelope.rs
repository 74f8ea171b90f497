//! The JSON response envelope and the `FileData` record of the API contract.

use serde::{Deserialize, Serialize};

use super::error::Error;

/// `msg` of a stored upload (the seed's wording).
pub const UPLOADED: &str = "File uploaded successfully";
/// `msg` of an upload accepted as a background job.
pub const JOB_ACCEPTED: &str = "Job accepted";

/// `{"success", "code", "msg", "data"}`: the shape of every JSON response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub success: bool,
    pub code: u16,
    pub msg: String,
    pub data: Option<T>,
}

impl<T> Envelope<T> {
    /// A 200 envelope around `data`.
    pub fn ok(msg: &str, data: T) -> Self {
        Envelope { success: true, code: 200, msg: msg.to_owned(), data: Some(data) }
    }

    /// A 202 envelope around `data`: accepted, to be done in the background.
    pub fn accepted(msg: &str, data: T) -> Self {
        Envelope {
            success: true,
            code: 202,
            msg: msg.to_owned(),
            data: Some(data),
        }
    }
}

impl<T> Envelope<T> {
    /// The error envelope: `code` is the HTTP status, `data` is null.
    pub fn error(err: &Error) -> Self {
        Envelope { success: false, code: err.status(), msg: err.public_message(), data: None }
    }
}

/// The stored file as the API reports it: the seed schema's ten fields, `sha256`, and the
/// link options (`max_downloads`, `downloads`, `private`).
// With the `client` feature, `tsify` generates the package's TypeScript `FileData` from this
// (its doc comments become the JSDoc), like the other answers' types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "client", derive(tsify::Tsify))]
pub struct FileData {
    /// Unique id, `file_` + 32 hex digits.
    pub file_id: String,
    /// Stored name.
    pub file_name: String,
    /// Name the origin gave the file (or the URL's last segment).
    pub original_name: String,
    /// Size in bytes.
    pub file_size: u64,
    /// Detected MIME type, e.g. `image/png`.
    pub mime_type: String,
    /// Folder the file is stored under.
    pub upload_path: String,
    /// Serves the file inline (when its type is safe to show).
    pub file_url: String,
    /// Serves the file as an attachment.
    pub download_url: String,
    /// Upload time, ISO 8601.
    pub upload_time: String,
    /// Expiry time, ISO 8601; the links answer 404 afterwards.
    pub expires_at: String,
    /// SHA-256 of the stored bytes, lowercase hex.
    pub sha256: String,
    /// Downloads allowed before the file is deleted (absent: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u64>,
    /// Downloads counted so far (with `max_downloads` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloads: Option<u64>,
    /// Served only through signed links (`file_url` and `download_url` carry `exp` and `sig`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

/// `POST /api/v1/files/{file_id}/link`'s `data`: a fresh signed pair and when it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "client", derive(tsify::Tsify))]
pub struct SignedLinks {
    pub file_id: String,
    pub file_url: String,
    pub download_url: String,
    /// When the signatures expire, ISO 8601.
    pub expires_at: String,
}

/// `DELETE /api/v1/files/{file_id}`'s `data` (TypeScript: `FileDeleted`, alias `DeletedFile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "client", derive(tsify::Tsify))]
pub struct FileDeleted {
    /// The id that was deleted.
    pub file_id: String,
    /// Always `true` (a file that cannot be deleted is an error instead).
    pub deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_has_status_as_code_and_null_data() {
        let cases = [
            (Error::MissingField("file_url"), 400, "missing required field `file_url`"),
            (Error::Unauthorized("missing API key"), 401, "missing API key"),
            (Error::FileTooLarge { limit: 10 }, 413, "file exceeds the size limit of 10 bytes"),
            (Error::OriginStatus(404), 502, "origin responded with HTTP 404"),
            (Error::OriginTimeout { ms: 30000 }, 504, "the origin did not deliver the file within 30000 ms"),
            (Error::internal("r2 exploded at key f/x"), 500, "internal error"),
        ];
        for (err, code, msg) in cases {
            let json = serde_json::to_value(Envelope::<()>::error(&err)).unwrap();
            assert_eq!(json, serde_json::json!({"success": false, "code": code, "msg": msg, "data": null}));
        }
    }
}
