//! URL parsing in the client: the browser's own WHATWG parser (`URL`), so the `url` crate and
//! its IDNA tables stay out of the client's wasm. A URL the browser reads is held to the
//! server's syntax rules (`core::url_syntax`) before sending; one it cannot read is sent as
//! is, and the server's parser answers it: browsers and the `url` crate disagree on a few
//! host names and on Unicode data, so a local "not a URL" could refuse a URL the Worker
//! takes. Host builds (`cargo test` of the client on the host) use the `url` crate instead.

use crate::core::url_syntax::{check_syntax, file_url_input, UrlParts};
use crate::core::Error;

/// A URL as the browser read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedUrl {
    /// Lowercase, without the `:`.
    pub scheme: String,
    pub has_host: bool,
    pub has_credentials: bool,
    /// A query or a fragment (`?...`, `#...`).
    pub has_query_or_fragment: bool,
    /// The serialization (`href`).
    pub href: String,
}

impl ParsedUrl {
    fn parts(&self) -> UrlParts<'_> {
        UrlParts { scheme: &self.scheme, has_host: self.has_host, has_credentials: self.has_credentials }
    }
}

/// `raw` as the browser reads it; `None` when it is not a URL to the browser.
#[cfg(target_arch = "wasm32")]
pub(crate) fn parse(raw: &str) -> Option<ParsedUrl> {
    web_sys::Url::new(raw).ok().map(|url| ParsedUrl {
        scheme: url.protocol().trim_end_matches(':').to_ascii_lowercase(),
        has_host: !url.host().is_empty(),
        has_credentials: !url.username().is_empty() || !url.password().is_empty(),
        // `search` and `hash` are empty for a bare `?` or `#`; the serialization keeps them
        // (and has `?` and `#` nowhere else: they are escaped in every other part).
        has_query_or_fragment: url.href().contains(['?', '#']),
        href: url.href(),
    })
}

/// Host builds: the `url` crate, the browser's stand-in.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn parse(raw: &str) -> Option<ParsedUrl> {
    let url = url::Url::parse(raw).ok()?;
    let parts = crate::core::url_policy::url_parts(&url);
    let (scheme, has_host, has_credentials) = (parts.scheme.to_owned(), parts.has_host, parts.has_credentials);
    let has_query_or_fragment = url.query().is_some() || url.fragment().is_some();
    Some(ParsedUrl { scheme, has_host, has_credentials, has_query_or_fragment, href: url.as_str().to_owned() })
}

/// The server's syntax rules for `file_url`, on what the browser can read (the network
/// rules, and strings that are no URL to the browser, are the server's to answer).
pub(crate) fn check_file_url(raw: &str) -> Result<(), Error> {
    match parse(file_url_input(raw)?) {
        Some(url) => check_syntax(&url.parts()),
        None => Ok(()),
    }
}

/// The API's base URL: an absolute http(s) URL (`Err` is the message's detail).
pub(crate) fn base_url(raw: &str) -> Result<ParsedUrl, String> {
    let url = parse(raw).ok_or("baseUrl is not an absolute URL")?;
    if !matches!(url.scheme.as_str(), "http" | "https") {
        return Err("baseUrl must be an http or https URL".into());
    }
    // Every path is appended to it, and fetch refuses credentials in a URL.
    if url.has_credentials || url.has_query_or_fragment {
        return Err("baseUrl must have no credentials, query or fragment".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_get_the_servers_syntax_errors() {
        assert_eq!(check_file_url(" https://example.com/a.png "), Ok(()));
        assert_eq!(check_file_url("http://127.0.0.1:8788/a.png"), Ok(()), "network rules are the server's");
        assert_eq!(check_file_url("x.test/a.png"), Ok(()), "no URL to the parser: the server answers");
        let cases = [
            ("", "missing required field `file_url`"),
            ("ftp://x.test/a", "file_url rejected: scheme `ftp` is not allowed (use http or https)"),
            ("https://u:p@x.test/", "file_url rejected: credentials in the URL are not allowed"),
        ];
        for (raw, msg) in cases {
            assert_eq!(check_file_url(raw).unwrap_err().public_message(), msg, "{raw:?}");
        }
    }

    #[test]
    fn base_urls_are_absolute_http() {
        assert_eq!(base_url("HTTPS://Files.Example.com/api/").unwrap().href, "https://files.example.com/api/");
        assert_eq!(base_url("files.example.com").unwrap_err(), "baseUrl is not an absolute URL");
        assert_eq!(base_url("ftp://files.example.com").unwrap_err(), "baseUrl must be an http or https URL");
        for bad in ["https://h.test/?x", "https://h.test/#x", "https://h.test/?", "https://u:p@h.test/"] {
            assert_eq!(base_url(bad).unwrap_err(), "baseUrl must have no credentials, query or fragment", "{bad}");
        }
    }
}
