//! What crosses the wire to a key's authority (its Durable Object): a file's row, a
//! reservation, a listing page, the ops the object takes and how it refuses them.

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::idempotency::UploadKey;
use super::jobs::JobStatus;
use super::quota::{ConfigPatch, KeyConfig, Limits, Usage};

/// One live file as the authority records it. Its bytes are the R2 object
/// [`object_key`](super::layout::object_key)`(file_id)`, written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRow {
    pub file_id: String,
    pub upload_path: String,
    pub file_name: String,
    pub size: u64,
    pub mime_type: String,
    pub original_name: String,
    pub upload_ms: i64,
    pub expires_ms: i64,
    /// Hex SHA-256 of the bytes (every commit has it).
    pub sha256: String,
    /// The file's link options (`max_downloads`, private), as JSON.
    #[serde(default)]
    pub options: Option<String>,
    /// When the file took its name: its commit, by the authority's clock (0 before). Later
    /// than `upload_ms` by the transfer, and in the order the name changed hands, which
    /// uploads' own times are not (a slow upload started first may commit last).
    #[serde(default)]
    pub named_ms: i64,
}

/// An upload in flight that reserved quota before storing: where it will land, how much it
/// may take, and since when (a reservation older than
/// [`RESERVATION_TTL_MS`](super::authority::RESERVATION_TTL_MS) is abandoned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub file_id: String,
    pub upload_path: String,
    pub file_name: String,
    pub bytes: u64,
    #[serde(default)]
    pub at_ms: i64,
    /// `bytes` is only the most the upload may grow to (its length is unknown): it holds
    /// what the key's quota leaves it, up to that, and must stop at what it holds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub up_to: bool,
}

/// How a listing is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// By `upload_path`, then `file_name`, ascending.
    #[default]
    Name,
    /// Newest first (ties by `file_id`, descending).
    UploadTime,
}

/// Where a page ends in its order: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    Name { upload_path: String, file_name: String },
    UploadTime { upload_ms: i64, file_id: String },
}

impl SortKey {
    /// The key of `row` in `order`.
    pub fn of(row: &FileRow, order: Order) -> SortKey {
        match order {
            Order::Name => SortKey::Name { upload_path: row.upload_path.clone(), file_name: row.file_name.clone() },
            Order::UploadTime => SortKey::UploadTime { upload_ms: row.upload_ms, file_id: row.file_id.clone() },
        }
    }
}

/// One page of a key's live files: `upload_path` and below when given, in `order`, after
/// `after`, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageQuery {
    pub upload_path: Option<String>,
    pub order: Order,
    pub after: Option<SortKey>,
    pub limit: u32,
}

/// A page of rows and where the next one starts (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub files: Vec<FileRow>,
    pub next: Option<SortKey>,
}

/// A file an operator takes down: by its id, or by the name that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Id { file_id: String },
    Name { upload_path: String, file_name: String },
}

/// What a purge took down: the key's live files when it ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    pub files: u64,
    pub bytes: u64,
    /// Objects the key still has to delete when it answers, after its expiry run (its alarm
    /// goes on with them at once): 0 once every purged file's bytes are gone.
    #[serde(default)]
    pub pending: u64,
}

/// One request to a key's authority. Time is the object's own clock. Externally tagged
/// (`{"commit": {...}}`): read in one pass, without serde's buffering of tagged content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Holds quota for an upload about to be stored.
    Reserve { reservation: Reservation },
    /// The upload is stored: record it, and retire the file its name held. With an
    /// `Idempotency-Key` (`key`), unless the key stored a file already (then that one is
    /// answered, this one dropped).
    Commit {
        file: FileRow,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<UploadKey>,
    },
    /// The file an upload with this `Idempotency-Key` stored already, if any. (Workers before
    /// [`Op::BeginTry`] send it; the object still answers it.)
    Replayed { key: UploadKey },
    /// An upload with this `Idempotency-Key` begins: the file its first try stored, if any;
    /// else this try (`try_id`) runs, for at most `lease_ms`, and another meanwhile is
    /// refused (409) until it ends.
    BeginTry { key: UploadKey, try_id: String, lease_ms: i64 },
    /// The try `try_id` of the `Idempotency-Key` `key` (an [`UploadKey::key`]) failed before
    /// its commit: the next try may run.
    EndTry { key: String, try_id: String },
    /// The running try `try_id` of `key` (an [`UploadKey::key`]) extends its mark to
    /// `lease_ms` from now, if the mark is still its own; answers whether it was.
    RenewTry { key: String, try_id: String, lease_ms: i64 },
    /// The upload failed: drop its reservation and its bytes, unless it was committed.
    Release { file_id: String },
    Delete { file_id: String },
    /// The operator's removal of one live file, whatever the key's status.
    TakeDown { target: Target },
    /// The operator's removal of every live file of the key, whatever its status.
    Purge,
    Get { file_id: String },
    /// Counts one download of a file with `max_downloads` (`count` false: only checks that
    /// it is still live, for `HEAD` and 304; every GET counts, served whole).
    Claim { file_id: String, count: bool },
    /// The live file a name holds.
    Resolve { upload_path: String, file_name: String },
    List { query: PageQuery },
    Usage,
    /// Whether a background job to this name (`upload_path`, `file_name`; `None` when they
    /// are decided later, a name of its own) may start: room for a byte and, unless it
    /// replaces a file, a file.
    Room { name: Option<(String, String)> },
    Configure {
        patch: ConfigPatch,
    },
    /// The key started a background job (kept in the key's job index).
    JobStarted {
        job_id: String,
        at_ms: i64,
    },
    /// A job of the key ended: its final status, kept in the job index.
    JobEnded {
        status: Box<JobStatus>,
    },
    /// The key's most recent jobs, newest first.
    Jobs {
        limit: u32,
    },
    /// Makes `secret` the key's webhook secret (the one before no longer signs).
    SetWebhookSecret {
        secret: String,
    },
    /// The key's webhook secret, if one was issued.
    WebhookSecret,
}

impl Op {
    /// Reads an op. One whose name (or a value's, an [`Order`] say) this version does not
    /// know is a newer Worker's, sent while a deployment reaches the objects:
    /// [`Error::Updating`], sent again once this object runs the new code. Anything else
    /// that does not read is an internal error. (So a new version may add ops and values,
    /// and fields with a default, but never drop or rename one an older Worker sends.)
    pub fn read(text: &str) -> Result<Op, Error> {
        serde_json::from_str(text).map_err(|e| {
            // serde's message for a variant name the enum does not have
            if e.classify() == serde_json::error::Category::Data && e.to_string().starts_with("unknown variant") {
                Error::Updating
            } else {
                Error::internal(format!("authority op: {e}"))
            }
        })
    }

    /// The op's name, as the wire spells it (for the log, and the tests' call records).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Reserve { .. } => "reserve",
            Op::Commit { .. } => "commit",
            Op::Replayed { .. } => "replayed",
            Op::BeginTry { .. } => "begin_try",
            Op::EndTry { .. } => "end_try",
            Op::RenewTry { .. } => "renew_try",
            Op::Release { .. } => "release",
            Op::Delete { .. } => "delete",
            Op::TakeDown { .. } => "take_down",
            Op::Purge => "purge",
            Op::Get { .. } => "get",
            Op::Claim { .. } => "claim",
            Op::Resolve { .. } => "resolve",
            Op::List { .. } => "list",
            Op::Usage => "usage",
            Op::Room { .. } => "room",
            Op::Configure { .. } => "configure",
            Op::JobStarted { .. } => "job_started",
            Op::Jobs { .. } => "jobs",
            Op::JobEnded { .. } => "job_ended",
            Op::SetWebhookSecret { .. } => "set_webhook_secret",
            Op::WebhookSecret => "webhook_secret",
        }
    }
}

/// A job in the key's index: its id, and its final status once it ended (a listing asks
/// the job's own object only for a job still running, or one whose end was not recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedJob {
    pub job_id: String,
    pub ended: Option<JobStatus>,
}

/// Why the authority refused an op (the wire form of the matching [`Error`]s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Quota(String),
    Disabled,
    Revoked,
    FileNotFound,
    KeyNotFound,
    Lapsed { ttl_secs: u64, elapsed_secs: u64 },
    /// The reservation of the id reserved or committed was given up.
    Gone,
    /// The `Idempotency-Key` stored another upload.
    KeyReused,
    /// An upload with the `Idempotency-Key` is still running, for at most this long.
    KeyInFlight { retry_after_secs: u32 },
    /// A later item of the batch naming the same file stored it already.
    Superseded,
    /// The op is not one this object's version knows (a newer Worker's, while a deployment
    /// reaches the objects): the caller answers 503, to be sent again.
    Updating,
    /// Logged by the object; the caller answers 500.
    Internal,
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Error {
        match refusal {
            Refusal::Quota(msg) => Error::QuotaExceeded(msg),
            Refusal::Disabled => Error::KeyDisabled,
            Refusal::Revoked => Error::KeyRevoked,
            Refusal::FileNotFound => Error::FileNotFound,
            Refusal::KeyNotFound => Error::KeyNotFound,
            Refusal::Lapsed { ttl_secs, elapsed_secs } => Error::Lapsed { ttl_secs, elapsed_secs },
            Refusal::Gone => Error::ReservationGone,
            Refusal::KeyReused => Error::IdempotencyKeyReused,
            Refusal::KeyInFlight { retry_after_secs } => Error::IdempotencyKeyInFlight { retry_after_secs },
            Refusal::Superseded => Error::Superseded,
            Refusal::Updating => Error::Updating,
            Refusal::Internal => Error::internal("key authority failed (see its log)"),
        }
    }
}

impl From<&Error> for Refusal {
    fn from(err: &Error) -> Refusal {
        match err {
            Error::QuotaExceeded(msg) => Refusal::Quota(msg.clone()),
            Error::KeyDisabled => Refusal::Disabled,
            Error::KeyRevoked => Refusal::Revoked,
            Error::FileNotFound => Refusal::FileNotFound,
            Error::KeyNotFound => Refusal::KeyNotFound,
            Error::Lapsed { ttl_secs, elapsed_secs } => Refusal::Lapsed { ttl_secs: *ttl_secs, elapsed_secs: *elapsed_secs },
            Error::ReservationGone => Refusal::Gone,
            Error::IdempotencyKeyReused => Refusal::KeyReused,
            Error::IdempotencyKeyInFlight { retry_after_secs } => Refusal::KeyInFlight { retry_after_secs: *retry_after_secs },
            Error::Superseded => Refusal::Superseded,
            Error::Updating => Refusal::Updating,
            // Named one by one, so that an error the rules learn to return is given a wire
            // form here rather than becoming a 500 on the way.
            Error::Internal(_)
            | Error::InvalidJson(_)
            | Error::NotAnObject(_)
            | Error::MissingField(_)
            | Error::MissingEither(..)
            | Error::InvalidField { .. }
            | Error::UnknownField(_)
            | Error::UnknownParameter(_)
            | Error::BodyNotTaken
            | Error::NotJson
            | Error::NotUtf8(_)
            | Error::EncodedBody
            | Error::NothingToUpdate(_)
            | Error::BodyTooLarge { .. }
            | Error::Unauthorized(_)
            | Error::RouteNotFound
            | Error::MethodNotAllowed { .. }
            | Error::FileTooLarge { .. }
            | Error::TypeNotAllowed(_)
            | Error::UrlRejected(_)
            | Error::RedirectRejected(_)
            | Error::TooManyRedirects(_)
            | Error::OriginStatus(_)
            | Error::OriginUnreachable
            | Error::OriginBroken
            | Error::OriginTimeout { .. }
            | Error::OriginStalled { .. }
            | Error::OriginTooSlow { .. }
            | Error::OriginChanged
            | Error::OriginCoding(_)
            | Error::ChecksumMismatch { .. }
            | Error::Blocked
            | Error::NotBlocked
            | Error::BlocklistFull(_)
            | Error::PreconditionFailed
            | Error::NoEntityTag
            | Error::RangeNotSatisfiable { .. }
            | Error::RateLimited { .. }
            | Error::Forbidden(_)
            | Error::LinkExpired
            | Error::LinksDisabled
            | Error::JobNotFound
            | Error::JobFinished
            | Error::AdminDisabled
            | Error::Busy
            | Error::BlocklistUnread => Refusal::Internal,
        }
    }
}

/// The usage, the limits in force and the key's settings, as `usage` and `configure` answer
/// them (the admin API copies the settings to KV from here, not from its own read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub usage: Usage,
    pub limits: Limits,
    pub config: KeyConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_comes_out_as_its_own_error() {
        let lapsed = Refusal::Lapsed { ttl_secs: 60, elapsed_secs: 61 };
        let refusals = [Refusal::Quota("full".into()), Refusal::Disabled, Refusal::Revoked, Refusal::FileNotFound, Refusal::KeyNotFound, lapsed, Refusal::Gone, Refusal::KeyReused, Refusal::KeyInFlight { retry_after_secs: 7 }, Refusal::Superseded, Refusal::Updating, Refusal::Internal];
        for refusal in refusals {
            let text = serde_json::to_string(&refusal).unwrap();
            let error = Error::from(serde_json::from_str::<Refusal>(&text).unwrap());
            assert_eq!(Refusal::from(&error), refusal, "{text}");
        }
        assert_eq!(Error::from(Refusal::Gone), Error::ReservationGone);
        assert_eq!(Error::ReservationGone.public_message(), "internal error", "nothing of it reaches a client");
    }

    #[test]
    fn an_op_a_newer_version_sends_is_told_apart_from_a_broken_one() {
        assert_eq!(Op::read(r#"{"get":{"file_id":"f"}}"#), Ok(Op::Get { file_id: "f".into() }));
        assert_eq!(Op::read(r#""usage""#), Ok(Op::Usage));
        // a newer Worker's op, or value
        for newer in [r#"{"get_many":{"ids":["f"]}}"#, r#""usage_by_path""#, r#"{"list":{"query":{"order":"size"}}}"#] {
            assert_eq!(Op::read(newer), Err(Error::Updating), "{newer}");
        }
        // broken, not newer
        for broken in [r#"{"get":{"file_id":7}}"#, r#"{"get":{}}"#, "{", ""] {
            let err = Op::read(broken).unwrap_err();
            assert!(err.internal_detail().is_some_and(|d| d.starts_with("authority op: ")), "{broken}: {err:?}");
        }
    }

    #[test]
    fn an_op_is_named_as_the_wire_spells_it() {
        let key = UploadKey { key: "k".into(), request: "r".into(), later: Vec::new() };
        let ops = [
            Op::BeginTry { key: key.clone(), try_id: "t".into(), lease_ms: 1 },
            Op::EndTry { key: "k".into(), try_id: "t".into() },
            Op::RenewTry { key: "k".into(), try_id: "t".into(), lease_ms: 1 },
            Op::Replayed { key },
            Op::Release { file_id: "f".into() },
            Op::Claim { file_id: "f".into(), count: true },
            Op::Purge,
            Op::Usage,
            Op::WebhookSecret,
        ];
        for op in ops {
            let wire = serde_json::to_value(&op).unwrap();
            let tag = wire.as_str().map(str::to_owned).or_else(|| wire.as_object().and_then(|o| o.keys().next().cloned()));
            assert_eq!(tag.as_deref(), Some(op.name()), "{wire}");
        }
    }
}
