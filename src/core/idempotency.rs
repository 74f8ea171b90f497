//! `Idempotency-Key` on a job's start: the key read from its header, the job id it names for
//! an API key (the same every time, so a retry reaches the job the first try started), and
//! whether a retry asks for the same job.

use sha2::{Digest, Sha256};

use super::error::Error;
use super::jobs::JobSpec;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// The longest key taken, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// The key `header` holds, if any: 1 to [`MAX_KEY_CHARS`] printable ASCII characters, as a
/// token (`Idempotency-Key: 4f1c...`) or a quoted string (`"4f1c..."`, the draft standard's
/// form).
pub fn parse(header: Option<&str>) -> Result<Option<String>, Error> {
    let Some(value) = header.map(str::trim) else { return Ok(None) };
    let key = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if !inner.contains(['"', '\\']) => inner,
        _ => value,
    };
    let printable = key.bytes().all(|b| (b' '..=b'~').contains(&b));
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !printable {
        return Err(Error::invalid(HEADER, format!("must be 1 to {MAX_KEY_CHARS} printable ASCII characters (a UUID, say)")));
    }
    Ok(Some(key.to_owned()))
}

/// The id of the job that `key` starts for API key `key_id`: `job_` and 128 bits of
/// SHA-256 over the two (and a batch item's place, `item`), so another API key's same
/// key names another job.
pub fn job_id(key_id: &str, key: &str, item: Option<usize>) -> String {
    let mut hash = Sha256::new();
    for part in [b"urlstash job".as_slice(), key_id.as_bytes(), key.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    if let Some(item) = item {
        hash.update((item as u64).to_be_bytes());
    }
    format!("job_{}", hex::encode(&hash.finalize()[..16]))
}

/// Whether `retry` asks for the job `first` started: the same API key and the same upload
/// (its URL, name, checksum, callback and link controls); when it was asked, and at which
/// URL, may differ.
pub fn same_request(first: &JobSpec, retry: &JobSpec) -> bool {
    fn asked(s: &JobSpec) -> impl PartialEq + '_ {
        (
            &s.key_id,
            &s.file_url,
            &s.upload_path,
            &s.file_name,
            &s.expected_sha256,
            &s.callback_url,
            s.expires_in,
            s.max_downloads,
            s.private,
        )
    }
    asked(first) == asked(retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::is_job_id;

    fn spec() -> JobSpec {
        JobSpec {
            job_id: "job_0".into(),
            key_id: "k1".into(),
            file_url: "https://x.test/a.bin".into(),
            upload_path: Some("p".into()),
            file_name: Some("a.bin".into()),
            expected_sha256: None,
            callback_url: None,
            base_url: "https://w.test/".into(),
            request_url: "https://w.test/api/v1/files/upload/url".into(),
            created_ms: 1,
            expires_in: Some(60),
            key_max_ttl_secs: None,
            max_downloads: None,
            private: false,
        }
    }

    #[test]
    fn keys_as_tokens_or_quoted_strings() {
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some(" 4f1c-9a ")), Ok(Some("4f1c-9a".into())));
        assert_eq!(parse(Some("\"4f1c 9a\"")), Ok(Some("4f1c 9a".into())));
        assert_eq!(parse(Some(&"k".repeat(MAX_KEY_CHARS))), Ok(Some("k".repeat(MAX_KEY_CHARS))));
        // A quoted string with a quote or an escape inside is taken as it is, quotes and all.
        assert_eq!(parse(Some(r#""a\"b""#)), Ok(Some(r#""a\"b""#.into())));
        for bad in ["", "  ", "\"\"", "caf\u{e9}", "a\tb", &"k".repeat(MAX_KEY_CHARS + 1)] {
            let err = parse(Some(bad)).unwrap_err();
            assert_eq!(err.status(), 400, "{bad:?}");
            assert_eq!(err.public_message(), "invalid `Idempotency-Key`: must be 1 to 255 printable ASCII characters (a UUID, say)");
        }
    }

    #[test]
    fn a_key_names_one_job_per_api_key_and_item() {
        let id = job_id("k1", "abc", None);
        assert!(is_job_id(&id), "{id}");
        assert_eq!(id, job_id("k1", "abc", None));
        let others = [job_id("k2", "abc", None), job_id("k1", "abd", None), job_id("k1", "abc", Some(0)), job_id("k1", "abc", Some(1)), job_id("k1a", "bc", None)];
        for other in &others {
            assert_ne!(&id, other);
        }
        assert_ne!(others[2], others[3]);
    }

    #[test]
    fn a_retry_is_the_same_upload_whenever_it_was_asked() {
        let first = spec();
        let retry = JobSpec { job_id: "job_1".into(), created_ms: 99, request_url: "https://w2.test/api/v1/files/upload/urls".into(), base_url: "https://w2.test/".into(), ..spec() };
        assert!(same_request(&first, &retry));
        let changed = [
            JobSpec { key_id: "k2".into(), ..spec() },
            JobSpec { file_url: "https://x.test/b.bin".into(), ..spec() },
            JobSpec { upload_path: None, ..spec() },
            JobSpec { file_name: Some("b.bin".into()), ..spec() },
            JobSpec { expected_sha256: Some("0".repeat(64)), ..spec() },
            JobSpec { callback_url: Some("https://h.test/".into()), ..spec() },
            JobSpec { expires_in: Some(61), ..spec() },
            JobSpec { max_downloads: Some(1), ..spec() },
            JobSpec { private: true, ..spec() },
        ];
        for retry in &changed {
            assert!(!same_request(&first, retry), "{retry:?}");
        }
    }
}
