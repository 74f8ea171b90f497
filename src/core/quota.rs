//! A key's quota: the limits in force, what the key holds, the usage report, the key's own
//! settings, and the message of a refusal.

use serde::{Deserialize, Serialize};

use super::json::present;

/// How much a key may keep stored at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_files: u64,
}

/// What a key holds: live files and bytes, and reservations of uploads in flight.
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
/// (TypeScript: `UsageReport`, alias `Usage`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "client", derive(tsify::Tsify))]
pub struct UsageReport {
    /// The key's id, e.g. `k_08a47fdbd1ac7598a42c8805`.
    pub key_id: String,
    /// The key's name.
    pub name: String,
    /// Bytes of the live files.
    pub bytes: u64,
    /// Number of live files.
    pub files: u64,
    /// Bytes reserved by uploads in progress.
    pub reserved_bytes: u64,
    /// Uploads in progress.
    pub reserved_files: u64,
    /// Most bytes the key may hold at once.
    pub max_bytes: u64,
    /// Most files the key may hold at once.
    pub max_files: u64,
}

impl UsageReport {
    pub fn new(key_id: String, name: String, usage: Usage, limits: Limits) -> Self {
        let Usage { bytes, files, reserved_bytes, reserved_files } = usage;
        let Limits { max_bytes, max_files } = limits;
        UsageReport { key_id, name, bytes, files, reserved_bytes, reserved_files, max_bytes, max_files }
    }
}

/// The key's name and the settings only authentication reads (from KV's copy of the key):
/// kept by its authority too, so that a change made from a stale KV read (an admin `PATCH`)
/// changes only what it gives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySettings {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
}

/// A change to [`KeySettings`]: the fields given, on the authority's own settings, or on
/// `from` (the KV record the change was made from) when it has none yet (a key written to
/// KV by hand, `make dev`'s).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPatch {
    pub from: KeySettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub max_ttl_secs: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub rate_limit: Option<Option<u32>>,
}

/// The key's own settings, authoritative in its Durable Object (KV keeps a copy for listing).
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
    /// `None` until a change gives them (KV's are the key's then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<KeySettings>,
}

/// A change to a key's settings: only the fields given change, so a change made from a stale
/// copy of the key (an admin `PATCH` served from a KV read that missed another change) never
/// undoes the other one. `revoked` only ever turns on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigPatch {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub max_bytes: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub max_files: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<SettingsPatch>,
}

impl ConfigPatch {
    /// Every setting of `config` (a new key's).
    pub fn whole(config: &KeyConfig) -> Self {
        ConfigPatch {
            max_bytes: Some(config.max_bytes),
            max_files: Some(config.max_files),
            disabled: Some(config.disabled),
            revoked: config.revoked,
            settings: config.settings.clone().map(|s| SettingsPatch {
                name: Some(s.name.clone()),
                max_ttl_secs: Some(s.max_ttl_secs),
                rate_limit: Some(s.rate_limit),
                from: s,
            }),
        }
    }

    pub fn apply(&self, config: &mut KeyConfig) {
        if let Some(max_bytes) = self.max_bytes {
            config.max_bytes = max_bytes;
        }
        if let Some(max_files) = self.max_files {
            config.max_files = max_files;
        }
        if let Some(disabled) = self.disabled {
            config.disabled = disabled;
        }
        config.revoked |= self.revoked;
        if let Some(patch) = &self.settings {
            let settings = config.settings.get_or_insert_with(|| patch.from.clone());
            if let Some(name) = &patch.name {
                settings.name.clone_from(name);
            }
            if let Some(t) = patch.max_ttl_secs {
                settings.max_ttl_secs = t;
            }
            if let Some(r) = patch.rate_limit {
                settings.rate_limit = r;
            }
        }
    }
}

impl KeyConfig {
    /// The limits in force: the key's overrides, else `defaults`.
    pub fn limits(&self, defaults: Limits) -> Limits {
        Limits {
            max_bytes: self.max_bytes.unwrap_or(defaults.max_bytes),
            max_files: self.max_files.unwrap_or(defaults.max_files),
        }
    }
}

/// The 429 message: what the upload needs (`bytes`, and one more file unless it replaces
/// one: `new_file`; `None`: a background job, before its size is known), the quota, and
/// the usage.
pub fn exhausted_message(bytes: Option<u64>, new_file: bool, usage: Usage, limits: Limits) -> String {
    let file = if new_file { "1 file" } else { "no new file (it replaces one)" };
    match bytes {
        Some(bytes) => format!("quota exhausted: this upload needs {bytes} bytes and {file}; {}", in_use(usage, limits)),
        None => format!("quota exhausted: {}", in_use(usage, limits)),
    }
}

fn in_use(usage: Usage, limits: Limits) -> String {
    format!(
        "in use {} of {} bytes and {} of {} files (including {} uploads in progress)",
        usage.bytes + usage.reserved_bytes,
        limits.max_bytes,
        usage.files + usage.reserved_files,
        limits.max_files,
        usage.reserved_files,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_the_upload_needs() {
        let limits = Limits { max_bytes: 100, max_files: 3 };
        let usage = Usage { bytes: 1, files: 1, reserved_bytes: 0, reserved_files: 0 };
        let in_use = "in use 1 of 100 bytes and 1 of 3 files (including 0 uploads in progress)";
        assert_eq!(exhausted_message(Some(5), true, usage, limits), format!("quota exhausted: this upload needs 5 bytes and 1 file; {in_use}"));
        assert_eq!(
            exhausted_message(Some(5), false, usage, limits),
            format!("quota exhausted: this upload needs 5 bytes and no new file (it replaces one); {in_use}")
        );
        assert_eq!(exhausted_message(None, true, usage, limits), format!("quota exhausted: {in_use}"));
    }
}
