//! Which URLs the Worker may fetch: parsing a client's `file_url` and the one policy check
//! that runs before every request to an origin, each redirect hop included.

use url::Url;

use super::error::Error;

/// Longest `file_url` accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: u8 = 5;

/// What the policy allows. Filled in by configuration at the entry point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlPolicy {}

/// Parses the client's `file_url` and applies the policy to it.
pub fn parse_file_url(raw: &str, policy: &UrlPolicy) -> Result<Url, Error> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::MissingField("file_url"));
    }
    if raw.len() > MAX_URL_BYTES {
        return Err(Error::invalid("file_url", "must be at most 2048 bytes"));
    }
    let url = Url::parse(raw).map_err(|e| Error::invalid("file_url", format!("not a valid URL ({e})")))?;
    check(&url, policy)?;
    Ok(url)
}

/// The policy check: every URL the Worker fetches passes through here first.
pub fn check(url: &Url, _policy: &UrlPolicy) -> Result<(), Error> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::UrlRejected(format!("scheme `{}` is not allowed (use http or https)", url.scheme())));
    }
    if url.host().is_none() {
        return Err(Error::UrlRejected("the URL has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::UrlRejected("credentials in the URL are not allowed".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_parsed_and_checked() {
        let policy = UrlPolicy::default();
        let ok = [
            ("https://example.com/images/sample.jpg", "https://example.com/images/sample.jpg"),
            ("  http://example.com/a b.png ", "http://example.com/a%20b.png"),
            ("HTTPS://EXAMPLE.com:8443/x", "https://example.com:8443/x"),
        ];
        for (raw, want) in ok {
            assert_eq!(parse_file_url(raw, &policy).map(String::from), Ok(want.to_owned()), "{raw}");
        }
        let long = format!("https://x.test/{}", "a".repeat(2048));
        let bad: &[(&str, u16, &str)] = &[
            ("", 400, "missing required field `file_url`"),
            ("not a url", 400, "invalid `file_url`: not a valid URL"),
            ("/relative/path.png", 400, "not a valid URL"),
            ("ftp://example.com/a.png", 400, "scheme `ftp` is not allowed"),
            ("file:///etc/passwd", 400, "scheme `file` is not allowed"),
            ("javascript:alert(1)", 400, "scheme `javascript` is not allowed"),
            ("data:image/png;base64,AAAA", 400, "scheme `data` is not allowed"),
            ("https://user:pw@example.com/a.png", 400, "credentials"),
            (long.as_str(), 400, "at most 2048 bytes"),
        ];
        for (raw, status, msg) in bad {
            let err = parse_file_url(raw, &policy).unwrap_err();
            assert_eq!(err.status(), *status, "{raw}");
            assert!(err.public_message().contains(msg), "{raw}: {}", err.public_message());
        }
    }
}
