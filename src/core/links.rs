//! Link controls: a file's own lifetime (`expires_in`), its download limit and count
//! (`max_downloads`, kept in the row's `options`), and private links signed with HMAC-SHA256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use url::Url;

use super::clock::is_expired;
use super::error::Error;
use super::json::{read_object, JsonObject};
use super::layout::canonical_path;
use super::mac::{hmac_sha256, MIN_SECRET_BYTES};
use super::request::UploadRequest;

/// Shortest `expires_in`, in seconds.
pub const MIN_EXPIRES_IN: u64 = 60;
/// Largest `max_downloads`.
pub const MAX_DOWNLOADS: u64 = 1_000_000;
/// What an upload's `expires_in` must be, told when it is not a whole number or under the
/// least (the figure is [`MIN_EXPIRES_IN`]; a test keeps the two together). The key's
/// longest lifetime is known only later, where an `expires_in` past it gets the figure.
pub(crate) const EXPIRES_RULE: &str = "must be a whole number of seconds, from 60 to the key's longest file lifetime";
/// What `max_downloads` must be, told when it is not (the figure is [`MAX_DOWNLOADS`]).
pub(crate) const DOWNLOADS_RULE: &str = "must be a whole number from 1 to 1000000";

/// The link options of a file, as its row's `options` column keeps them (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOptions {
    /// Downloads allowed; the file is deleted when `downloads` reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u64>,
    /// Downloads counted so far (only counted when `max_downloads` is set).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub downloads: u64,
    /// Served only through signed links.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl LinkOptions {
    /// From a row's `options` (absent or unreadable: none).
    pub fn of(options: Option<&str>) -> Self {
        options.and_then(|o| serde_json::from_str(o).ok()).unwrap_or_default()
    }

    /// For the row's `options`: `None` when there is nothing to keep.
    pub fn to_json(&self) -> Option<String> {
        (*self != LinkOptions::default()).then(|| serde_json::to_string(self).unwrap_or_default())
    }
}

/// Checks an upload's link controls against the deployment (`signing`: private links are
/// enabled) and answers the file's lifetime ([`ttl_secs`]).
pub fn link_controls(req: &UploadRequest, deployment_ttl: u64, key_max: Option<u64>, signing: bool) -> Result<u64, Error> {
    let ttl = ttl_secs(req.expires_in, deployment_ttl, key_max)?;
    if req.private && !signing {
        return Err(Error::LinksDisabled);
    }
    Ok(ttl)
}

/// The lifetime of a new file, in seconds: `expires_in` when given, else the longest the
/// key may keep a file (the deployment's `FILE_TTL_SECONDS`, or the key's lower maximum).
pub fn ttl_secs(expires_in: Option<u64>, deployment_ttl: u64, key_max: Option<u64>) -> Result<u64, Error> {
    let max = key_max.map_or(deployment_ttl, |k| k.min(deployment_ttl));
    match expires_in {
        None => Ok(max),
        Some(secs) if (MIN_EXPIRES_IN..=max).contains(&secs) => Ok(secs),
        Some(_) if max < MIN_EXPIRES_IN => {
            Err(Error::invalid("expires_in", format!("this key keeps files at most {max} seconds; leave expires_in out")))
        }
        Some(_) => Err(Error::invalid("expires_in", format!("must be a whole number of seconds from {MIN_EXPIRES_IN} to {max}"))),
    }
}

/// Refuses a file whose lifetime (from `upload_ms` to `expires_ms`) ran out by `now_ms`
/// before it was stored ([`Error::Lapsed`]).
pub fn unexpired(upload_ms: i64, expires_ms: i64, now_ms: i64) -> Result<(), Error> {
    if !is_expired(expires_ms, now_ms) {
        return Ok(());
    }
    // the lifetime as asked (its expiry is counted from the upload's whole second)
    let secs = |ms: i64, up: i64| u64::try_from((ms + up) / 1000).unwrap_or(0);
    Err(Error::Lapsed { ttl_secs: secs(expires_ms - upload_ms, 999), elapsed_secs: secs(now_ms - upload_ms, 0) })
}

/// Checks `max_downloads` (1 to [`MAX_DOWNLOADS`]).
pub fn validate_max_downloads(n: u64) -> Result<u64, Error> {
    if (1..=MAX_DOWNLOADS).contains(&n) {
        Ok(n)
    } else {
        Err(Error::invalid("max_downloads", DOWNLOADS_RULE))
    }
}

/// The HMAC key of private links (the `LINK_SECRET` secret).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkSecret(Vec<u8>);

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(..)")
    }
}

impl LinkSecret {
    /// `None` for a secret shorter than [`MIN_SECRET_BYTES`] (private links disabled):
    /// a few characters of key could be found by trying them all against one link.
    pub fn new(secret: &str) -> Option<Self> {
        (secret.len() >= MIN_SECRET_BYTES).then(|| LinkSecret(secret.as_bytes().to_vec()))
    }

    /// The MAC of `path` (in its canonical form: any spelling of one URL signs alike) and `exp`.
    fn mac(&self, path: &str, exp: i64) -> Hmac<Sha256> {
        hmac_sha256(&self.0, &[canonical_path(path).as_bytes(), b"\n", exp.to_string().as_bytes()])
    }

    /// The signature of `path` (percent-encoded as sent; any spelling of it signs alike)
    /// until `exp` (Unix seconds).
    pub fn sign(&self, path: &str, exp: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(path, exp).finalize().into_bytes())
    }

    /// `url` with `?exp=...&sig=...` valid until `exp` (Unix seconds).
    pub fn signed_url(&self, url: &str, exp: i64) -> String {
        let path = Url::parse(url).map(|u| u.path().to_owned()).unwrap_or_default();
        format!("{url}?exp={exp}&sig={}", self.sign(&path, exp))
    }

    /// Whether `query` carries a signature of `path` that has not expired at `now_ms`. The
    /// signature is compared in constant time.
    pub fn check(&self, path: &str, query: Option<&str>, now_ms: i64) -> Result<(), Error> {
        let missing = Error::Forbidden("this file is private: its link needs a valid signature (exp and sig)");
        let (mut exp, mut sig) = (None, None);
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "exp" => exp = value.parse::<i64>().ok(),
                "sig" => sig = URL_SAFE_NO_PAD.decode(value.as_bytes()).ok(),
                _ => {}
            }
        }
        let (Some(exp), Some(sig)) = (exp, sig) else { return Err(missing) };
        self.mac(path, exp).verify_slice(&sig).map_err(|_| missing)?;
        if exp.saturating_mul(1000) <= now_ms {
            return Err(Error::LinkExpired);
        }
        Ok(())
    }
}

/// Largest `POST /api/v1/files/{file_id}/link` body, in bytes.
pub const MAX_LINK_BODY_BYTES: u64 = 1024;

/// `POST /api/v1/files/{file_id}/link`'s body: the links' lifetime in seconds.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    /// Any JSON number: a whole one past `u64` (the contract sets no upper bound) is still a
    /// lifetime, capped at the file's.
    expires_in: Option<f64>,
}

const LINK_EXPIRES_RULE: &str = "must be a whole number of seconds, at least 1";

impl JsonObject<'_> for LinkBody {
    const FIELDS: &'static [(&'static str, &'static str)] = &[("expires_in", LINK_EXPIRES_RULE)];
}

/// The lifetime a link request asks for (an empty body: the file's own).
pub fn parse_link_request(body: &[u8]) -> Result<Option<u64>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    read_object::<LinkBody>(body, MAX_LINK_BODY_BYTES)?.expires_in.map(check_link_lifetime).transpose()
}

/// A link lifetime: whole seconds, at least 1 (the browser client checks its JS number here).
/// A lifetime past `u64::MAX` seconds is `u64::MAX` (the links end with the file either way).
pub fn check_link_lifetime(secs: f64) -> Result<u64, Error> {
    if secs >= 1.0 && secs.fract() == 0.0 {
        Ok(secs as u64) // saturating
    } else {
        Err(Error::invalid("expires_in", LINK_EXPIRES_RULE))
    }
}

/// When fresh links expire (Unix seconds): at least `expires_in` from now (counted from the
/// next whole second, so a 1-second link minted at x.999 s does not die a millisecond
/// later), never past the file.
pub fn link_exp(now_ms: i64, expires_in: Option<u64>, file_expires_ms: i64) -> i64 {
    let file = exp_secs(file_expires_ms);
    match expires_in {
        Some(secs) => now_ms.saturating_add(999).div_euclid(1000).saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)).min(file),
        None => file,
    }
}

/// A link's expiry in Unix seconds: `expires_ms` rounded down (never past the file's).
pub fn exp_secs(expires_ms: i64) -> i64 {
    expires_ms.div_euclid(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expires_in`, `FILE_TTL_SECONDS`, the key's maximum, and the lifetime (or a refusal).
    type TtlCase = (Option<u64>, u64, Option<u64>, Result<u64, ()>);

    #[test]
    fn ttl_bounds() {
        let cases: &[TtlCase] = &[
            (None, 259_200, None, Ok(259_200)),
            (None, 259_200, Some(3600), Ok(3600)),
            (None, 600, Some(3600), Ok(600)),
            (Some(59), 259_200, None, Err(())),
            (Some(60), 259_200, None, Ok(60)),
            (Some(259_200), 259_200, None, Ok(259_200)),
            (Some(259_201), 259_200, None, Err(())),
            (Some(3600), 259_200, Some(3600), Ok(3600)),
            (Some(3601), 259_200, Some(3600), Err(())),
            (Some(60), 30, None, Err(())),
            (None, 30, None, Ok(30)),
        ];
        for &(given, ttl, key, ref want) in cases {
            let got = ttl_secs(given, ttl, key);
            assert_eq!(got.as_ref().map_err(|_| ()), want.as_ref().map_err(|_| ()), "{given:?} {ttl} {key:?}");
            if let Err(e) = got {
                assert_eq!(e.field(), Some("expires_in"));
            }
        }
        assert!(ttl_secs(Some(0), 100, None).unwrap_err().public_message().contains("from 60 to 100"));
    }

    #[test]
    fn rules_name_the_limits() {
        assert!(EXPIRES_RULE.contains(&format!("from {MIN_EXPIRES_IN} to")));
        assert!(DOWNLOADS_RULE.ends_with(&format!("from 1 to {MAX_DOWNLOADS}")));
    }

    #[test]
    fn download_limits() {
        assert_eq!(validate_max_downloads(1), Ok(1));
        assert_eq!(validate_max_downloads(MAX_DOWNLOADS), Ok(MAX_DOWNLOADS));
        for bad in [0, MAX_DOWNLOADS + 1] {
            assert_eq!(validate_max_downloads(bad).unwrap_err().field(), Some("max_downloads"));
        }
    }

    #[test]
    fn options_round_trip_through_the_row() {
        assert_eq!(LinkOptions::default().to_json(), None);
        assert_eq!(LinkOptions::of(None), LinkOptions::default());
        assert_eq!(LinkOptions::of(Some("not json")), LinkOptions::default());
        let o = LinkOptions { max_downloads: Some(3), downloads: 1, private: true };
        assert_eq!(o.to_json().as_deref(), Some(r#"{"max_downloads":3,"downloads":1,"private":true}"#));
        assert_eq!(LinkOptions::of(o.to_json().as_deref()), o);
    }

    #[test]
    fn signatures() {
        let secret = LinkSecret::new("s3cret-s3cret-s3cret").unwrap();
        assert!(LinkSecret::new("").is_none());
        assert!(LinkSecret::new("fifteen-bytes!!").is_none(), "too short to sign with");
        assert!(LinkSecret::new("sixteen-bytes!!!").is_some());
        let url = secret.signed_url("http://h.test/f/k_a/images/a%20b.png", 2_000);
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, "http://h.test/f/k_a/images/a%20b.png");
        let path = "/f/k_a/images/a%20b.png";
        assert_eq!(secret.check(path, Some(query), 1_999_999), Ok(()));
        let forbidden = |r: Result<(), Error>| matches!(r, Err(Error::Forbidden(_)));
        // expired, tampered path, tampered expiry, another secret, nothing, garbage
        assert_eq!(secret.check(path, Some(query), 2_000_000), Err(Error::LinkExpired));
        assert!(forbidden(secret.check("/f/k_a/images/b.png", Some(query), 0)));
        assert!(forbidden(secret.check(path, Some(&query.replace("exp=2000", "exp=2001")), 0)));
        assert!(forbidden(LinkSecret::new("another-secret-key").unwrap().check(path, Some(query), 0)));
        assert!(forbidden(secret.check(path, None, 0)));
        assert!(forbidden(secret.check(path, Some("exp=x&sig=%%%"), 0)));
        // a forged or cut signature is refused as forged even past its `exp`: "expired"
        // would tell a prober that a private file holds the name
        let forged = format!("exp=1&sig={}", "A".repeat(43));
        assert!(forbidden(secret.check(path, Some(&forged), 2_000_000)));
        let sig = query.split_once("&sig=").unwrap().1;
        let cut = query.replace(sig, &sig[..2]);
        assert!(forbidden(secret.check(path, Some(&cut), 0)), "a prefix of the signature");
        assert!(forbidden(secret.check(path, Some(&cut), 2_000_000)));
        assert_eq!(exp_secs(1_999), 1);
        // every spelling of one URL carries its signature: escapes in either case, characters
        // left unescaped, another Unicode form of the name
        let url = secret.signed_url("http://h.test/f/k_a/docs/caf%C3%A9%21.png", 2_000);
        let query = url.split_once('?').unwrap().1;
        for spelling in ["/f/k_a/docs/caf%c3%a9%21.png", "/f/k_a/docs/café!.png", "/f/k_a/docs/cafe%CC%81!.png"] {
            assert_eq!(secret.check(spelling, Some(query), 0), Ok(()), "{spelling}");
        }
        assert!(forbidden(secret.check("/f/k_a/docs/cafe%21.png", Some(query), 0)));
    }

    #[test]
    fn link_requests() {
        assert_eq!(parse_link_request(b""), Ok(None));
        assert_eq!(parse_link_request(b"{}"), Ok(None));
        assert_eq!(parse_link_request(br#"{"expires_in":600}"#), Ok(Some(600)));
        // no upper bound in the contract: past u64, the longest there is
        assert_eq!(parse_link_request(br#"{"expires_in":18446744073709551615}"#), Ok(Some(u64::MAX)));
        assert_eq!(parse_link_request(br#"{"expires_in":99999999999999999999}"#), Ok(Some(u64::MAX)));
        for bad in [&br#"{"expires_in":0}"#[..], br#"{"expires_in":1.5}"#, br#"{"expires_in":-1}"#, br#"{"expires_in":"60"}"#, br#"{"expires_in":1e400}"#, br#"{"ttl":1}"#, b"nope"] {
            assert_eq!(parse_link_request(bad).unwrap_err().status(), 400, "{}", String::from_utf8_lossy(bad));
        }
        // at most the file's life
        assert_eq!(link_exp(10_000, Some(60), 1_000_000), 70);
        // never shorter than asked: from the next whole second
        assert_eq!(link_exp(10_001, Some(1), 1_000_000), 12);
        assert_eq!(link_exp(10_999, Some(1), 1_000_000), 12);
        assert_eq!(link_exp(10_000, Some(6_000), 1_000_000), 1_000);
        assert_eq!(link_exp(10_000, None, 1_000_000), 1_000);
        assert_eq!(link_exp(10_000, Some(u64::MAX), 1_000_000), 1_000);
    }
}
