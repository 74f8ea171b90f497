//! What crosses the quota ledger's wire: limits, usage and the usage report, a key's own
//! settings, the ops the Durable Object takes and its replies.

use serde::{Deserialize, Serialize};

use super::error::Error;

/// How much a key may keep stored at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_files: u64,
}

/// What a key holds: live (settled) files and bytes, and reservations of uploads in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
    pub reserved_bytes: u64,
    pub reserved_files: u64,
}

/// `GET /api/v1/usage`: who the key is, what it holds and its limits, in one flat object.
/// (Spelled out rather than `#[serde(flatten)]`, which would pull serde's buffering
/// deserializer into the browser client.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub key_id: String,
    pub name: String,
    pub bytes: u64,
    pub files: u64,
    pub reserved_bytes: u64,
    pub reserved_files: u64,
    pub max_bytes: u64,
    pub max_files: u64,
}

impl UsageReport {
    pub fn new(key_id: String, name: String, usage: Usage, limits: Limits) -> Self {
        let Usage { bytes, files, reserved_bytes, reserved_files } = usage;
        let Limits { max_bytes, max_files } = limits;
        UsageReport { key_id, name, bytes, files, reserved_bytes, reserved_files, max_bytes, max_files }
    }
}

/// The key's own settings, authoritative here (KV keeps a copy for listing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyConfig {
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub max_files: Option<u64>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub revoked: bool,
}

/// One request to the ledger (the Durable Object's wire format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LedgerOp {
    Reserve { file_id: String, object_key: String, bytes: u64, defaults: Limits, now_ms: i64 },
    Settle { file_id: String, object_key: String, bytes: u64, defaults: Limits },
    /// Gives back what each file held (the sweep sends one op per key and page).
    Release { file_ids: Vec<String>, defaults: Limits },
    Usage { defaults: Limits, now_ms: i64 },
    Configure { config: KeyConfig, defaults: Limits },
}

/// The ledger's answer: the usage and limits after the op, or why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerReply {
    Ok { usage: Usage, limits: Limits },
    Quota(String),
    Disabled,
    Revoked,
}

impl LedgerReply {
    /// The report, or the refusal as the service's error.
    pub fn into_result(self) -> Result<(Usage, Limits), Error> {
        match self {
            LedgerReply::Ok { usage, limits } => Ok((usage, limits)),
            LedgerReply::Quota(msg) => Err(Error::QuotaExceeded(msg)),
            LedgerReply::Disabled => Err(Error::Unauthorized("API key is disabled")),
            LedgerReply::Revoked => Err(Error::Unauthorized("invalid API key")),
        }
    }
}
