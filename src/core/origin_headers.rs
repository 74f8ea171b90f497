//! `origin_headers`: the request headers a user may have sent to the origin (an allow-list,
//! at most 8), and the rule that sends them only while the URL keeps the first URL's origin.
//! Their values are never stored, logged or echoed (`Debug` hides them).

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use url::{Origin, Url};

use super::error::Error;

/// Most headers one upload may send.
pub const MAX_ORIGIN_HEADERS: usize = 8;
/// Longest header value, in bytes.
pub const MAX_HEADER_VALUE: usize = 4096;
/// Headers that may be sent, besides any `X-` header (lowercase).
pub const ALLOWED_HEADERS: &[&str] = &["authorization", "cookie", "referer", "accept", "accept-language", "user-agent"];
/// What `origin_headers` must be, told when it is not.
pub(crate) const HEADERS_RULE: &str = "must be an object of header names to string values";

/// Header names and values, in the order given.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OriginHeaders(Vec<(String, String)>);

impl std::fmt::Debug for OriginHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(name, _)| name)).finish()
    }
}

impl OriginHeaders {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Checks the count, each name (allow-list, once each whatever its case) and each value.
    pub fn validate(self) -> Result<Self, Error> {
        let bad = |reason: String| Err(Error::invalid("origin_headers", reason));
        if self.0.len() > MAX_ORIGIN_HEADERS {
            return bad(format!("at most {MAX_ORIGIN_HEADERS} headers"));
        }
        for (i, (name, value)) in self.0.iter().enumerate() {
            let lower = name.to_ascii_lowercase();
            // a name is echoed in at most 64 characters: the body's limit allows 16 KiB
            let shown: String = name.chars().take(64).collect();
            let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token || !(ALLOWED_HEADERS.contains(&lower.as_str()) || (lower.starts_with("x-") && lower.len() > 2)) {
                return bad(format!("header `{shown}` may not be sent (allowed: Authorization, Cookie, Referer, Accept, Accept-Language, User-Agent, X-*)"));
            }
            if self.0[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return bad(format!("header `{shown}` is given twice"));
            }
            if value.len() > MAX_HEADER_VALUE || !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                return bad(format!("the value of `{shown}` must be at most {MAX_HEADER_VALUE} printable ASCII characters"));
            }
        }
        Ok(self)
    }

    /// Whether a header of this name was given (any case).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// Read as a JSON object, keeping every entry (a repeated name is refused by `validate`,
/// not silently merged).
impl<'de> Deserialize<'de> for OriginHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = OriginHeaders;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(HEADERS_RULE)
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<OriginHeaders, M::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    entries.push(entry);
                }
                Ok(OriginHeaders(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// The user's headers for one upload, sent while every URL so far had the first URL's
/// origin (scheme, host, port); dropped for good at the first that did not.
#[derive(Debug, Clone)]
pub struct Forwarded {
    origin: Origin,
    headers: Option<OriginHeaders>,
}

impl Forwarded {
    pub fn new(first: &Url, headers: Option<OriginHeaders>) -> Self {
        Forwarded { origin: first.origin(), headers: headers.filter(|h| !h.0.is_empty()) }
    }

    /// No headers (a background job: it never stores any).
    pub fn none() -> Self {
        Forwarded { origin: Origin::new_opaque(), headers: None }
    }

    /// The headers to send to `url` (none once the upload has left the first origin).
    pub fn for_url(&mut self, url: &Url) -> Option<&OriginHeaders> {
        if url.origin() != self.origin {
            self.headers = None;
        }
        self.headers.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> OriginHeaders {
        OriginHeaders(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
    }

    #[test]
    fn names_and_values() {
        let ok = headers(&[("Authorization", "Bearer t"), ("cookie", "a=b"), ("X-Token", "1"), ("Accept-Language", "de"), ("User-Agent", "me")]);
        assert_eq!(ok.clone().validate(), Ok(ok));
        let nine: Vec<(String, String)> = (0..9).map(|i| (format!("X-H{i}"), "v".into())).collect();
        let cases = [
            (headers(&[("Host", "evil")]), "`Host` may not be sent"),
            (headers(&[("X-", "v")]), "`X-` may not be sent"),
            (headers(&[("Content-Length", "1")]), "may not be sent"),
            (headers(&[("Bad Name", "v")]), "may not be sent"),
            (headers(&[("X-A", "1"), ("x-a", "2")]), "given twice"),
            (headers(&[("X-A", "a\r\nHost: evil")]), "printable ASCII"),
            (headers(&[("X-A", "é")]), "printable ASCII"),
            (headers(&[("X-A", "a\tb")]), "printable ASCII"),
            (OriginHeaders(nine), "at most 8"),
        ];
        for (h, msg) in cases {
            let err = h.validate().unwrap_err();
            assert_eq!(err.field(), Some("origin_headers"));
            assert!(err.public_message().contains(msg), "{err}");
        }
        assert_eq!(format!("{:?}", headers(&[("Authorization", "secret")])), r#"["Authorization"]"#);
        // a long name is echoed cut to 64 characters, whatever refuses it
        let long = format!("X-{}", "n".repeat(4000));
        let shown = format!("`{}`", &long[..64]);
        for h in [headers(&[(&long, "1"), (&long, "2")]), headers(&[(&long, "\n")])] {
            let msg = h.validate().unwrap_err().public_message();
            assert!(msg.contains(&shown) && msg.len() < 200, "{msg}");
        }
    }

    #[test]
    fn sent_only_while_the_origin_stays_the_first() {
        let u = |s: &str| Url::parse(s).unwrap();
        let mut f = Forwarded::new(&u("http://a.test/x"), Some(headers(&[("X-T", "1")])));
        assert!(f.for_url(&u("http://a.test/x")).is_some());
        assert!(f.for_url(&u("http://a.test:80/y")).is_some(), "the default port is the same origin");
        assert!(f.for_url(&u("http://a.test:8080/y")).is_none(), "another port");
        assert!(f.for_url(&u("http://a.test/z")).is_none(), "dropped for good");
        for other in ["https://a.test/x", "http://b.test/x", "http://sub.a.test/x"] {
            let mut f = Forwarded::new(&u("http://a.test/x"), Some(headers(&[("X-T", "1")])));
            assert!(f.for_url(&u(other)).is_none(), "{other}");
        }
        assert!(Forwarded::new(&u("http://a.test/"), Some(headers(&[]))).for_url(&u("http://a.test/")).is_none());
    }
}
