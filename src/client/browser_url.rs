//! URL parsing in the client: the browser's own WHATWG parser (`URL`), so the `url` crate and
//! its IDNA tables stay out of the client's wasm, with the `url` crate's verdict worked out
//! by `core::url_errors` (the server's messages, and the host names Chromium lets through).
//! What depends on IDNA data the browser may not share is left to the server. Host builds
//! (`cargo test` of the client on the host) use the `url` crate itself.

use crate::core::url_errors::{scheme, Verdict};
use crate::core::url_syntax::{check_syntax, file_url_input, not_a_url, UrlParts};
use crate::core::Error;

/// A URL as the browser read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedUrl {
    /// Lowercase, without the `:`.
    pub scheme: String,
    pub has_host: bool,
    pub has_credentials: bool,
    /// The serialization (`href`).
    pub href: String,
}

impl ParsedUrl {
    fn parts(&self) -> UrlParts<'_> {
        UrlParts { scheme: &self.scheme, has_host: self.has_host, has_credentials: self.has_credentials }
    }
}

/// `raw` as the browser reads it (`None`: not a URL to it) and the `url` crate's verdict.
#[cfg(target_arch = "wasm32")]
pub(crate) fn parse(raw: &str) -> (Option<ParsedUrl>, Verdict) {
    let url = web_sys::Url::new(raw).ok().map(|url| ParsedUrl {
        scheme: url.protocol().trim_end_matches(':').to_owned(),
        has_host: !url.host().is_empty(),
        has_credentials: !url.username().is_empty() || !url.password().is_empty(),
        href: url.href(),
    });
    (url, crate::core::url_errors::verdict(raw, &browser_host))
}

/// The browser's answer for the host of an `http` URL (`core::url_errors::HostCheck`).
/// Names are asked with U+00AD first, which IDNA drops: Chromium checks `xn--` labels
/// only in a name that is not all ASCII. And with `+` for `*`, which IDNA treats alike:
/// Chromium escapes `*` in host names (`%2A`), and misreads Punycode labels holding one.
#[cfg(target_arch = "wasm32")]
fn browser_host(name: &str) -> Verdict {
    use crate::core::url_errors::{EMPTY_HOST, INVALID_IPV4, INVALID_IPV6};
    use web_sys::Url;
    if name.starts_with('[') {
        return if Url::new(&format!("http://{name}/")).is_ok() { Verdict::Parses } else { Verdict::Refuses(INVALID_IPV6) };
    }
    let name = name.replace('*', "+");
    if Url::new(&format!("http://\u{AD}{name}/")).is_ok() {
        return Verdict::Parses;
    }
    // With a last label that is no number, only IDNA can fail; a name that passes it
    // failed as an IPv4 address, or mapped to nothing.
    match Url::new(&format!("http://\u{AD}{name}.x/")) {
        Err(_) => Verdict::Undecided,
        Ok(url) if url.hostname() == ".x" => Verdict::Refuses(EMPTY_HOST),
        Ok(_) => Verdict::Refuses(INVALID_IPV4),
    }
}

/// Host builds: the `url` crate, the browser's stand-in.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn parse(raw: &str) -> (Option<ParsedUrl>, Verdict) {
    match url::Url::parse(raw) {
        Ok(url) => {
            let parts = crate::core::url_policy::url_parts(&url);
            let (scheme, has_host, has_credentials) = (parts.scheme.to_owned(), parts.has_host, parts.has_credentials);
            (Some(ParsedUrl { scheme, has_host, has_credentials, href: url.as_str().to_owned() }), Verdict::Parses)
        }
        Err(err) => (None, crate::core::url_errors::url_crate_reason(err).map_or(Verdict::Undecided, Verdict::Refuses)),
    }
}

/// The server's syntax rules for `file_url` (the network rules are the server's to apply).
pub(crate) fn check_file_url(raw: &str) -> Result<(), Error> {
    let raw = file_url_input(raw)?;
    match parse(raw) {
        (Some(url), Verdict::Parses) => check_syntax(&url.parts()),
        (_, Verdict::Refuses(reason)) => Err(not_a_url(reason)),
        // Only the browser refuses it (Chromium: some opaque hosts). The server applies the
        // scheme rule first; with http(s) it decides.
        (None, Verdict::Parses) => match scheme(raw) {
            Some(scheme) if !matches!(scheme.as_str(), "http" | "https") => {
                check_syntax(&UrlParts { scheme: &scheme, has_host: true, has_credentials: false })
            }
            _ => Ok(()),
        },
        // A name the browser's IDNA refuses: the server's IDNA decides.
        (_, Verdict::Undecided) => Ok(()),
    }
}

/// The API's base URL: an absolute http(s) URL the browser can fetch and the `url` crate
/// does not refuse (`Err` is the message's detail).
pub(crate) fn base_url(raw: &str) -> Result<ParsedUrl, String> {
    let not_absolute = |reason: &str| format!("baseUrl is not an absolute URL ({reason})");
    let url = match parse(raw) {
        (_, Verdict::Refuses(reason)) => return Err(not_absolute(reason)),
        (None, _) => return Err(not_absolute("this browser cannot parse it")),
        (Some(url), _) => url,
    };
    if !matches!(url.scheme.as_str(), "http" | "https") {
        return Err("baseUrl must be an http or https URL".into());
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
        let cases = [
            ("", "missing required field `file_url`"),
            ("x.test/a.png", "invalid `file_url`: not a valid URL (relative URL without a base)"),
            ("https://x.test:99999/", "invalid `file_url`: not a valid URL (invalid port number)"),
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
        assert_eq!(base_url("files.example.com").unwrap_err(), "baseUrl is not an absolute URL (relative URL without a base)");
        assert_eq!(base_url("ftp://files.example.com").unwrap_err(), "baseUrl must be an http or https URL");
    }
}
