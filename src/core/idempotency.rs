//! `Idempotency-Key`: the key read from its header; on a job's start, the job id it names
//! for an API key (the same every time, so a retry reaches the job the first try started)
//! and whether a retry asks for the same job; on an upload stored now, what the key's
//! authority keeps of it ([`UploadKey`]); and an answer that says whether an earlier try
//! did what it answers ([`Answered`], `Idempotent-Replayed`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::Error;
use super::jobs::JobSpec;
use super::request::UploadRequest;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// The answer's header that says an earlier try with the key did what it answers (`true`).
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// The longest key taken, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// How long a key names what its first try did: a job (its object forgets it this long
/// after its end) or an upload stored now (its authority forgets the key this long after
/// its commit).
pub const KEPT_MS: i64 = super::jobs::KEPT_MS;

/// How long a try of an upload stored now holds its key (another try is refused, 409) past
/// its last word: it renews the mark every [`TRY_RENEW_MS`] while it runs, so a try cut off
/// with its Worker holds its key this long at most.
pub const TRY_LEASE_MS: i64 = 10_000;
/// How often a running try renews its mark: one that waits up to 7 s for a free outbound
/// slot still lands in time. One that waits longer (every slot held by a batch's streaming
/// items and a stalled origin) lets the mark lapse: a retry then fetches too, and the later
/// commit is answered with the first try's file, as before marks.
pub const TRY_RENEW_MS: u64 = 3_000;

/// What a request was answered with, and whether an earlier try with its
/// `Idempotency-Key` had done it (stored the file, started the job) rather than this one.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered<T> {
    pub data: T,
    pub replayed: bool,
}

impl<T> Answered<T> {
    /// `data`, done by this try.
    pub fn new(data: T) -> Self {
        Answered { data, replayed: false }
    }

    /// `data`, done by an earlier try.
    pub fn replayed(data: T) -> Self {
        Answered { data, replayed: true }
    }

    /// The same answer, its data turned by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Answered<U> {
        Answered { data: f(self.data), replayed: self.replayed }
    }
}

/// The key `header` holds, if any: 1 to [`MAX_KEY_CHARS`] printable ASCII characters, as a
/// token (`Idempotency-Key: 4f1c...`) or a quoted string (`"4f1c..."`, the draft standard's
/// form). A comma outside quotes is refused: it is how the runtime joins the header sent
/// twice, and which of two keys was meant cannot be told.
pub fn parse(header: Option<&str>) -> Result<Option<String>, Error> {
    let Some(value) = header.map(str::trim) else { return Ok(None) };
    let key = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if !inner.contains(['"', '\\']) => inner,
        _ if value.contains(',') => return Err(Error::invalid(HEADER, "must be one key (a comma outside quotes separates two)")),
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
    format!("job_{}", hex::encode(&digest(&[b"urlstash job", key_id.as_bytes(), key.as_bytes()], item)[..16]))
}

/// SHA-256 over `parts`, each preceded by its length, and a batch item's place.
fn digest(parts: &[&[u8]], item: Option<usize>) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    if let Some(item) = item {
        hash.update((item as u64).to_be_bytes());
    }
    hash.finalize().into()
}

/// An upload stored now that carries an `Idempotency-Key`, as its key's authority keeps it
/// with the file the first try stored: the key (SHA-256 over it and a batch item's place;
/// the authority is the API key's own) and a digest of what the upload asks, which a retry
/// must ask too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadKey {
    pub key: String,
    pub request: String,
    /// The keys of the batch's later items that share the file name: once one of them
    /// stored its file under the name this one takes, this one's commit is refused
    /// ([`Error::Superseded`]) rather than stored over it (the batch's order says the name
    /// is theirs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later: Vec<String>,
}

impl UploadKey {
    /// The key of `request`, a batch's `item`, sent with `key`. What it asks is its URL,
    /// name, checksum and link controls, as for a job; not its origin headers (a retry may
    /// carry a fresh token), nor when or at which URL it was sent.
    pub fn of(key: &str, item: Option<usize>, request: &UploadRequest) -> UploadKey {
        let r = request;
        let asked = (r.file_url.as_str(), &r.upload_path, &r.file_name, &r.expected_sha256, r.expires_in, r.max_downloads, r.private);
        let asked = serde_json::to_vec(&asked).unwrap_or_default();
        UploadKey { key: item_key(key, item), request: hex::encode(digest(&[&asked], None)), later: Vec::new() }
    }

    /// The same key, sent before the batch's items `later`, which share its file name.
    pub fn before(self, key: &str, later: &[usize]) -> UploadKey {
        UploadKey { later: later.iter().map(|&item| item_key(key, Some(item))).collect(), ..self }
    }
}

/// An [`UploadKey::key`]: SHA-256 over `key` and the batch item's place.
fn item_key(key: &str, item: Option<usize>) -> String {
    hex::encode(&digest(&[b"urlstash upload", key.as_bytes()], item)[..16])
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
        // A comma inside quotes is the key's own; outside, two headers joined.
        assert_eq!(parse(Some("\"a, b\"")), Ok(Some("a, b".into())));
        for joined in ["a, b", "a,b", r#""a", "b""#, "\"a\", b"] {
            let err = parse(Some(joined)).unwrap_err();
            assert_eq!(err.status(), 400, "{joined:?}");
            assert_eq!(err.public_message(), "invalid `Idempotency-Key`: must be one key (a comma outside quotes separates two)");
        }
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

    fn upload() -> UploadRequest {
        UploadRequest {
            file_url: url::Url::parse("https://x.test/a.bin").unwrap(),
            upload_path: Some("p".into()),
            file_name: Some("a.bin".into()),
            expected_sha256: None,
            expires_in: Some(60),
            max_downloads: None,
            private: false,
            origin_headers: None,
            asynchronous: None,
            callback_url: None,
        }
    }

    #[test]
    fn an_upload_key_is_its_key_and_item_and_what_it_asks() {
        let first = UploadKey::of("abc", None, &upload());
        assert_eq!(first.key.len(), 32);
        assert_eq!(first.request.len(), 64);
        assert_eq!(first, UploadKey::of("abc", None, &upload()));
        let headers = serde_json::from_str(r#"{"Authorization": "Bearer fresh"}"#).unwrap();
        let retry = UploadRequest { origin_headers: Some(headers), asynchronous: Some(false), ..upload() };
        assert_eq!(UploadKey::of("abc", None, &retry), first, "origin headers and `async` are not what it asks");
        for (key, item) in [("abd", None), ("abc", Some(0)), ("abc", Some(1))] {
            let other = UploadKey::of(key, item, &upload());
            assert_ne!(other.key, first.key, "{key} {item:?}");
            assert_eq!(other.request, first.request);
        }
        assert_ne!(first.key[..], job_id("k1", "abc", None)[4..], "a job's id is another name");
        let changed = [
            UploadRequest { file_url: url::Url::parse("https://x.test/b.bin").unwrap(), ..upload() },
            UploadRequest { upload_path: None, ..upload() },
            UploadRequest { file_name: Some("b.bin".into()), ..upload() },
            UploadRequest { expected_sha256: Some("0".repeat(64)), ..upload() },
            UploadRequest { expires_in: Some(61), ..upload() },
            UploadRequest { max_downloads: Some(1), ..upload() },
            UploadRequest { private: true, ..upload() },
        ];
        for request in &changed {
            let other = UploadKey::of("abc", None, request);
            assert_eq!(other.key, first.key);
            assert_ne!(other.request, first.request, "{request:?}");
        }
    }
}
