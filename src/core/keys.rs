//! API keys: reading the bearer token, hashing it, generating keys, and the record KV
//! keeps per key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::Error;
use super::quota::{KeyConfig, KeySettings};

/// Prefix of generated keys, so they are recognisable in logs and secret scanners.
pub const KEY_PREFIX: &str = "us_";

/// What KV stores under `sha256(key)`. The plaintext key is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Stable id; also the key's namespace in storage and in `file_url`.
    pub id: String,
    pub name: String,
    pub created: String,
    #[serde(default)]
    pub disabled: bool,
    /// Per-key quota overrides; `None` takes the deployment default (`[vars]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<u64>,
    /// The longest a file of this key lives, in seconds, when lower than `FILE_TTL_SECONDS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl_secs: Option<u64>,
    /// Upload requests per minute (a tier of `core::rate_limit`; 0: none); `None` takes
    /// `DEFAULT_RATE_LIMIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
}

impl KeyRecord {
    /// Takes the settings the key's authority keeps (quotas, disabled; name, lifetime and
    /// rate once a change gave them) from its answer.
    pub fn adopt(&mut self, config: &KeyConfig) {
        self.max_bytes = config.max_bytes;
        self.max_files = config.max_files;
        self.disabled = config.disabled;
        if let Some(s) = &config.settings {
            self.name.clone_from(&s.name);
            self.max_ttl_secs = s.max_ttl_secs;
            self.rate_limit = s.rate_limit;
        }
    }

    /// This record's name, lifetime and rate.
    pub fn settings(&self) -> KeySettings {
        KeySettings { name: self.name.clone(), max_ttl_secs: self.max_ttl_secs, rate_limit: self.rate_limit }
    }
}

/// A new API key: [`KEY_PREFIX`] and 32 random bytes, URL-safe base64 (46 characters).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the platform has a random source");
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new key id: `k_` and 96 random bits in hex.
pub fn generate_key_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::getrandom(&mut bytes).expect("the platform has a random source");
    format!("k_{}", hex::encode(bytes))
}

/// Whether `id` is usable as a key id: 1 to 64 of `[A-Za-z0-9_-]` (it is a path segment).
pub fn is_key_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The token of an `Authorization: Bearer TOKEN` header.
pub fn bearer_token(header: Option<&str>) -> Result<&str, Error> {
    let header = header.ok_or(Error::Unauthorized("missing API key (Authorization: Bearer KEY)"))?;
    let (scheme, token) = header.trim().split_once(' ').unwrap_or((header, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Error::Unauthorized("malformed Authorization header (expected: Bearer KEY)"));
    }
    // Two headers reach us joined by ", " (RFC 9110 5.3); no key or token holds ", Bearer ".
    if token.to_ascii_lowercase().contains(", bearer ") {
        return Err(Error::Unauthorized("Authorization header sent more than once (send one: Bearer KEY)"));
    }
    Ok(token)
}

/// The API key of an `Authorization: Bearer KEY` header: one word, as every key the service
/// issues is (RFC 6750 2.1), so `Bearer KEY extra` is malformed, not a key that fails.
/// (The admin token, an operator's secret, may be a passphrase: [`bearer_token`].)
pub fn api_key(header: Option<&str>) -> Result<&str, Error> {
    let token = bearer_token(header)?;
    if token.contains(char::is_whitespace) {
        return Err(Error::Unauthorized("malformed Authorization header (expected: Bearer KEY, a key without spaces)"));
    }
    Ok(token)
}

/// The KV key a plaintext API key is stored under: lowercase hex SHA-256.
pub fn key_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a record from storage may be used: enabled, with an id safe as a path segment.
pub fn check_record(record: Option<KeyRecord>) -> Result<KeyRecord, Error> {
    let record = record.ok_or(Error::Unauthorized("invalid API key"))?;
    if record.disabled {
        return Err(Error::KeyDisabled);
    }
    if !is_key_id(&record.id) {
        return Err(Error::internal(format!("key record has an unusable id {:?}", record.id)));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let cases = [
            (Some("Bearer abc"), Ok("abc")),
            (Some("bearer   abc "), Ok("abc")),
            (Some("BEARER abc"), Ok("abc")),
            (None, Err("missing API key")),
            (Some("Basic abc"), Err("malformed")),
            (Some("Bearer"), Err("malformed")),
            (Some("Bearer "), Err("malformed")),
            (Some("abc"), Err("malformed")),
            (Some("Bearer abc, Bearer def"), Err("sent more than once")),
            (Some("Bearer abc, bearer  def"), Err("sent more than once")),
            (Some("Bearer a,b"), Ok("a,b")),
            (Some("Bearer abc def"), Ok("abc def")),
        ];
        for (header, want) in cases {
            match (bearer_token(header), want) {
                (Ok(t), Ok(w)) => assert_eq!(t, w),
                (Err(e), Err(w)) => {
                    assert_eq!(e.status(), 401);
                    assert!(e.public_message().contains(w), "{header:?}: {e}");
                }
                (got, _) => panic!("{header:?} gave {got:?}"),
            }
        }
    }

    #[test]
    fn api_keys_are_one_word() {
        assert_eq!(api_key(Some("Bearer abc")), Ok("abc"));
        for header in ["Bearer abc def", "Bearer abc\tdef"] {
            let err = api_key(Some(header)).unwrap_err();
            assert_eq!(err.status(), 401);
            assert!(err.public_message().contains("a key without spaces"), "{header}: {err}");
        }
        assert!(api_key(Some("Basic abc")).unwrap_err().public_message().contains("malformed"));
    }

    #[test]
    fn key_hash_is_sha256_hex() {
        assert_eq!(key_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(key_hash("").len(), 64);
    }

    #[test]
    fn records_are_checked() {
        let rec = |id: &str, disabled| KeyRecord {
            id: id.into(),
            name: "n".into(),
            created: "c".into(),
            disabled,
            max_bytes: None,
            max_files: None,
            max_ttl_secs: None,
            rate_limit: None,
        };
        assert_eq!(check_record(Some(rec("k_1", false))).unwrap().id, "k_1");
        let cases = [
            (None, 401, "invalid API key"),
            (Some(rec("k_1", true)), 401, "API key is disabled"),
            (Some(rec("../x", false)), 500, "internal error"),
            (Some(rec("", false)), 500, "internal error"),
        ];
        for (record, status, msg) in cases {
            let err = check_record(record).unwrap_err();
            assert_eq!((err.status(), err.public_message().as_str()), (status, msg));
        }
        let json = r#"{"id":"k_dev","name":"dev","created":"2026-01-01T00:00:00+00:00"}"#;
        let old = serde_json::from_str::<KeyRecord>(json).unwrap();
        assert!(!old.disabled);
        assert_eq!((old.max_bytes, old.max_files), (None, None), "records without quotas still parse");
        let with = r#"{"id":"k_1","name":"n","created":"c","disabled":false,"max_bytes":5,"max_files":2}"#;
        let rec = serde_json::from_str::<KeyRecord>(with).unwrap();
        assert_eq!((rec.max_bytes, rec.max_files), (Some(5), Some(2)));
        assert_eq!(serde_json::to_string(&rec).unwrap(), with);
    }

    #[test]
    fn generated_keys_and_ids() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with("us_") && a.len() == 46, "{a}");
        assert!(a[3..].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{a}");
        let id = generate_key_id();
        assert!(is_key_id(&id) && id.len() == 26, "{id}");
        for (id, ok) in [("k_dev", true), ("k-1", true), ("", false), ("a/b", false), ("k.1", false)] {
            assert_eq!(is_key_id(id), ok, "{id}");
        }
        assert!(!is_key_id(&"k".repeat(65)));
    }
}
