//! The service's one error type, with the HTTP status and client message of each error.

use thiserror::Error;

/// The `Retry-After` of [`Error::Busy`] (a few seconds, for other transfers to end), of
/// [`Error::BlocklistUnread`] and of [`Error::Updating`].
pub const BUSY_RETRY_AFTER_SECS: u32 = 5;

/// Everything that can go wrong in a request. User errors carry a message meant for the
/// client; [`Error::Internal`] carries a detail that is logged and never shown.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// Well-formed JSON of another type where an object is read (a body, a batch item).
    #[error("must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    /// Neither of two fields, one of which is required, was given.
    #[error("missing required field: give `{0}` or `{1}`")]
    MissingEither(&'static str, &'static str),
    #[error("invalid `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("unknown field `{0}`")]
    UnknownField(String),
    /// A query parameter the route does not take: its name and those the route does take,
    /// as the message tells them. One `String`, like `UnknownField`: the same variant with
    /// the two as fields of their own measured 30 KB more in the Worker's wasm.
    #[error("unknown query parameter {0}")]
    UnknownParameter(String),
    /// A body sent to a route that reads none (a delete, a revoke, a purge): refused, not
    /// dropped, as a query parameter is, so that no option a client meant is ignored.
    #[error("this route takes no request body: send it without one")]
    BodyNotTaken,
    #[error("request body must be JSON (Content-Type: application/json)")]
    NotJson,
    /// A JSON body declared in UTF-16 or UTF-32 (the `charset`, cut to 40 characters).
    #[error("request body must be JSON in UTF-8, not `{0}`")]
    NotUtf8(String),
    #[error("request body must not be content-coded (send it without Content-Encoding)")]
    EncodedBody,
    /// A change request that names nothing to change; the message lists what it could.
    #[error("nothing to update: the body sets none of {0}")]
    NothingToUpdate(&'static str),
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("API key is disabled")]
    KeyDisabled,
    /// Told as an unknown key is.
    #[error("invalid API key")]
    KeyRevoked,
    #[error("no such route")]
    RouteNotFound,
    #[error("file not found, deleted, expired or past its download limit")]
    FileNotFound,
    #[error("method not allowed (allowed: {allow})")]
    MethodNotAllowed { allow: &'static str },
    #[error("file exceeds the size limit of {limit} bytes")]
    FileTooLarge { limit: u64 },
    /// The type, and what the deployment allows instead (`AllowList::refusal`).
    #[error("file type {0}")]
    TypeNotAllowed(String),
    #[error("file_url rejected: {0}")]
    UrlRejected(String),
    #[error("redirect rejected: {0}")]
    RedirectRejected(String),
    #[error("origin redirected more than {0} times")]
    TooManyRedirects(u8),
    #[error("origin responded with HTTP {0}")]
    OriginStatus(u16),
    #[error("could not connect to the origin, or it sent no valid HTTP response")]
    OriginUnreachable,
    #[error("the origin connection failed during the download")]
    OriginBroken,
    #[error("the origin did not deliver the file within {ms} ms")]
    OriginTimeout { ms: u64 },
    /// A stream sent nothing for `ms` (the idle timeout) and could not be resumed: a job's
    /// without ranges, or a ranged probe's before its type was sniffed (a job's or a
    /// request's) that stalled on every attempt.
    #[error("the origin sent nothing for {ms} ms")]
    OriginStalled { ms: u64 },
    /// A job's stream from an origin without ranges did not end within `ms`: it cannot be
    /// resumed, so it must be fetched within one run of the job (an alarm handler's time is
    /// bounded).
    #[error("the origin, which does not serve ranges, did not deliver the file within {ms} ms: a background job fetches such a file in one run")]
    OriginTooSlow { ms: u64 },
    #[error("the file changed at the origin during the download")]
    OriginChanged,
    /// The body comes in a content coding the runtime does not decode (the Worker asks for
    /// none): stored as it came, it would not be the file.
    #[error("the origin sent the file in a content coding the Worker cannot decode (`{0}`), though it asked for none")]
    OriginCoding(String),
    /// The file's lifetime (`expires_in`, or the default) ran out while it was being
    /// fetched: it is not stored, and the file its name held stays.
    /// Said the same whether or not the request sent `expires_in`.
    #[error("the file's lifetime of {ttl_secs} s (`expires_in`, or the key's default) ran out before it was stored ({elapsed_secs} s after the upload began): send a longer `expires_in`, up to the key's maximum, or use a faster origin")]
    Lapsed { ttl_secs: u64, elapsed_secs: u64 },
    /// The stored bytes are not the ones the request named by `expected_sha256`.
    #[error("sha256 mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch { expected: String, actual: String },
    /// The stored bytes are a file the operator took down and blocked (RFC 7725's 451).
    #[error("this file is on the blocklist (taken down, or blocked in advance) and may not be stored")]
    Blocked,
    /// `If-Match` or `If-Unmodified-Since` names a version the file no longer is.
    #[error("precondition failed: the file is no longer the version If-Match or If-Unmodified-Since names")]
    PreconditionFailed,
    /// `If-Match` with entity tags on a resource that has none (the API's JSON answers: a
    /// private file's signed links differ per answer): only `*` could hold (RFC 9110 13.1.1).
    #[error("precondition failed: this resource has no ETag, so If-Match can only be `*`")]
    NoEntityTag,
    #[error("range not satisfiable (file size {size})")]
    RangeNotSatisfiable { size: u64 },
    /// The key's quota cannot take this upload; the message states the quota and usage.
    #[error("{0}")]
    QuotaExceeded(String),
    /// Over the key's request rate (not its quota): retry after `retry_after_secs`.
    #[error("rate limit exceeded: this key may make at most {limit} upload requests per minute; retry after {retry_after_secs} s")]
    RateLimited { limit: u32, retry_after_secs: u32 },
    /// A private file asked for without a valid link signature.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A genuine link signature past its `exp`.
    #[error("this link has expired: ask its owner for a fresh one")]
    LinkExpired,
    #[error("private links are disabled: the LINK_SECRET secret is not set (or is shorter than 16 bytes)")]
    LinksDisabled,
    #[error("no such API key")]
    KeyNotFound,
    #[error("no such job")]
    JobNotFound,
    #[error("this digest is not blocked")]
    NotBlocked,
    /// The blocklist holds its most digests (`core::blocklist::MAX_BLOCKED`).
    #[error("the blocklist is full ({0} digests): unblock some first")]
    BlocklistFull(usize),
    #[error("the job has already finished")]
    JobFinished,
    /// An `Idempotency-Key` sent again with another upload than its first (a job's start,
    /// or an upload stored now).
    #[error("this Idempotency-Key was sent with another request: a new request needs a new key")]
    IdempotencyKeyReused,
    /// An upload with an `Idempotency-Key` whose first try is still running (the draft
    /// standard's 409): sent after it ends, it is answered with that try's file, or stores
    /// if that try failed. `retry_after_secs`: what that try's hold on the key has left
    /// (it renews it while it runs).
    #[error("an upload with this Idempotency-Key is still running: send it again later, and it is answered with that upload's file")]
    IdempotencyKeyInFlight { retry_after_secs: u32 },
    /// A batch item sent again with the batch's `Idempotency-Key` after a later item of the
    /// batch naming the same file stored it: stored now, it would take the name back.
    #[error("a later item of this batch naming the same file stored it already: this item is not stored over it")]
    Superseded,
    #[error("the admin API is disabled: the ADMIN_TOKEN secret is not set (or is shorter than 16 bytes)")]
    AdminDisabled,
    /// This instance holds as many transfers' buffers as it may (its memory): the upload
    /// waited half its deadline for room.
    #[error("this instance is busy with other transfers: retry in a few seconds")]
    Busy,
    /// The blocklist could not be read and this instance never read it: an upload cannot
    /// be checked against it, so nothing is stored.
    #[error("the blocklist could not be read: retry in a few seconds")]
    BlocklistUnread,
    /// A key's authority was sent an op its version does not know: a newer Worker's, while
    /// a deployment reaches the Durable Objects (they take the new code at their next
    /// start). Logged by the object.
    #[error("the service is being updated: retry in a few seconds")]
    Updating,
    /// An upload's reservation was given up before its commit (released after a failure,
    /// or dropped by the key's authority as abandoned; its bytes are being deleted): what
    /// was stored for it cannot become a file. A job starts its transfer over; anywhere
    /// else it is an internal error (logged with [`Error::internal_detail`]).
    #[error("internal error")]
    ReservationGone,
    #[error("internal error")]
    Internal(String),
}

impl Error {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidJson(_)
            | Error::NotAnObject(_)
            | Error::MissingField(_)
            | Error::MissingEither(..)
            | Error::InvalidField { .. }
            | Error::UnknownField(_)
            | Error::UnknownParameter(_)
            | Error::BodyNotTaken
            | Error::NothingToUpdate(_)
            | Error::UrlRejected(_)
            | Error::RedirectRejected(_)
            | Error::Lapsed { .. } => 400,
            Error::Unauthorized(_) | Error::KeyDisabled | Error::KeyRevoked => 401,
            Error::Forbidden(_) | Error::LinkExpired => 403,
            Error::RouteNotFound
            | Error::FileNotFound
            | Error::KeyNotFound
            | Error::JobNotFound
            | Error::NotBlocked => 404,
            Error::JobFinished | Error::BlocklistFull(_) | Error::IdempotencyKeyInFlight { .. } | Error::Superseded => 409,
            Error::MethodNotAllowed { .. } => 405,
            Error::BodyTooLarge { .. } | Error::FileTooLarge { .. } => 413,
            Error::NotJson | Error::NotUtf8(_) | Error::EncodedBody | Error::TypeNotAllowed(_) => 415,
            Error::PreconditionFailed | Error::NoEntityTag => 412,
            Error::RangeNotSatisfiable { .. } => 416,
            Error::ChecksumMismatch { .. } | Error::IdempotencyKeyReused => 422,
            Error::Blocked => 451,
            Error::QuotaExceeded(_) | Error::RateLimited { .. } => 429,
            Error::TooManyRedirects(_)
            | Error::OriginStatus(_)
            | Error::OriginUnreachable
            | Error::OriginBroken
            | Error::OriginChanged
            | Error::OriginCoding(_) => 502,
            Error::OriginTimeout { .. } | Error::OriginStalled { .. } | Error::OriginTooSlow { .. } => 504,
            Error::Internal(_) | Error::ReservationGone => 500,
            Error::AdminDisabled | Error::LinksDisabled | Error::Busy | Error::BlocklistUnread | Error::Updating => 503,
        }
    }

    /// The request field this error concerns, by its wire name: the field a variant names
    /// (a missing or invalid one; an unknown field is none of the request's), `api_key` for
    /// a refused key, `file_url` for what its origin did or sent. The same field
    /// `fields::field_of` reads from the error's envelope.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::MissingField(field) | Error::MissingEither(field, _) | Error::InvalidField { field, .. } => Some(field),
            Error::Unauthorized(_) | Error::KeyDisabled | Error::KeyRevoked => Some("api_key"),
            Error::UrlRejected(_)
            | Error::FileTooLarge { .. }
            | Error::TypeNotAllowed(_)
            | Error::TooManyRedirects(_)
            | Error::OriginStatus(_)
            | Error::OriginUnreachable
            | Error::OriginBroken
            | Error::OriginChanged
            | Error::OriginCoding(_)
            | Error::OriginTimeout { .. }
            | Error::OriginStalled { .. }
            | Error::OriginTooSlow { .. }
            | Error::Blocked => Some("file_url"),
            Error::ChecksumMismatch { .. } => Some("expected_sha256"),
            Error::Lapsed { .. } => Some("expires_in"),
            Error::LinksDisabled => Some("private"),
            Error::InvalidJson(_)
            | Error::NotAnObject(_)
            | Error::UnknownField(_)
            | Error::UnknownParameter(_)
            | Error::BodyNotTaken
            | Error::NothingToUpdate(_)
            | Error::NotJson
            | Error::NotUtf8(_)
            | Error::EncodedBody
            | Error::BodyTooLarge { .. }
            | Error::RouteNotFound
            | Error::FileNotFound
            | Error::MethodNotAllowed { .. }
            | Error::RedirectRejected(_)
            | Error::RangeNotSatisfiable { .. }
            | Error::PreconditionFailed
            | Error::NoEntityTag
            | Error::QuotaExceeded(_)
            | Error::RateLimited { .. }
            | Error::Forbidden(_)
            | Error::LinkExpired
            | Error::KeyNotFound
            | Error::JobNotFound
            | Error::NotBlocked
            | Error::BlocklistFull(_)
            | Error::JobFinished
            | Error::IdempotencyKeyReused
            | Error::IdempotencyKeyInFlight { .. }
            | Error::Superseded
            | Error::AdminDisabled
            | Error::Busy
            | Error::BlocklistUnread
            | Error::Updating
            | Error::ReservationGone
            | Error::Internal(_) => None,
        }
    }

    /// How long a client should wait before sending the same request again
    /// (`Retry-After`, seconds), for the errors that pass.
    pub fn retry_after_secs(&self) -> Option<u32> {
        match self {
            Error::RateLimited { retry_after_secs, .. } | Error::IdempotencyKeyInFlight { retry_after_secs } => Some(*retry_after_secs),
            Error::Busy | Error::BlocklistUnread | Error::Updating => Some(BUSY_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// What the log says of an error answered as `internal error` (`None`: any other).
    pub fn internal_detail(&self) -> Option<&str> {
        match self {
            Error::Internal(detail) => Some(detail),
            Error::ReservationGone => Some("the upload's reservation was given up before its commit"),
            _ => None,
        }
    }

    /// The message a client sees. Internal details stay out of it.
    pub fn public_message(&self) -> String {
        self.to_string()
    }

    /// Shorthand for an invalid field.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidField { field, reason: reason.into() }
    }

    /// An unknown field, its name cut to 64 characters (it is echoed to the client).
    pub fn unknown_field(name: &str) -> Self {
        Error::UnknownField(name.chars().take(64).collect())
    }

    /// This error of a URL check, told about `field` instead of `file_url` (a callback URL
    /// is checked by the same rules).
    pub fn for_field(self, field: &'static str) -> Self {
        match self {
            Error::InvalidField { reason, .. } | Error::UrlRejected(reason) => {
                Error::InvalidField { field, reason }
            }
            Error::MissingField(_) => Error::invalid(field, "must not be empty"),
            other => other,
        }
    }

    /// An answer about one file as whether the file is there: not found is `false`, any other
    /// error stays an error.
    pub fn found<T>(answer: Result<T, Error>) -> Result<bool, Error> {
        match answer {
            Ok(_) => Ok(true),
            Err(Error::FileNotFound) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Shorthand for an internal fault with a detail for the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    /// This error, its internal detail (if it has one) led by `what` was being done, for
    /// the log; any other error as it is.
    pub fn context(self, what: impl FnOnce() -> String) -> Self {
        match self {
            Error::Internal(detail) => Error::Internal(format!("{}: {detail}", what())),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_leads_an_internal_detail_only() {
        let err = Error::internal("r2 put: 500").context(|| "upload of key k_1".into());
        assert_eq!(err.internal_detail(), Some("upload of key k_1: r2 put: 500"));
        assert_eq!(err.public_message(), "internal error");
        assert_eq!(Error::FileNotFound.context(|| unreachable!()), Error::FileNotFound);
    }
}
