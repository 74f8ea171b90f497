//! The `file_url` rules any WHATWG URL parser can check: present, at most 2048 characters, a URL,
//! http(s), a host, no credentials. The Worker applies them to the `url` crate's parse
//! (`url_policy.rs`), the browser client to the browser's `URL`; both get the same errors.

use super::error::Error;

/// Longest `file_url` accepted, in characters (as OpenAPI's `maxLength` counts).
pub const MAX_URL_CHARS: usize = 2048;

/// What the rules look at in a parsed URL, filled from any WHATWG parser's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Lowercase, without the `:`.
    pub scheme: &'a str,
    pub has_host: bool,
    /// A username or a password.
    pub has_credentials: bool,
}

/// The client's `file_url`, trimmed, before parsing: refused when empty or too long.
pub fn file_url_input(raw: &str) -> Result<&str, Error> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::MissingField("file_url"));
    }
    // Characters, as OpenAPI's `maxLength` counts (non-ASCII ones are percent-encoded by
    // the parser, so a URL's length is bounded either way).
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(Error::invalid("file_url", "must be at most 2048 characters"));
    }
    Ok(raw)
}

/// The scheme, host and credentials rules, in that order.
pub fn check_syntax(url: &UrlParts) -> Result<(), Error> {
    let reject = |rule: String| Err(Error::UrlRejected(rule));
    if !matches!(url.scheme, "http" | "https") {
        return reject(format!("scheme `{}` is not allowed (use http or https)", url.scheme));
    }
    if !url.has_host {
        return reject("the URL has no host".into());
    }
    if url.has_credentials {
        return reject("credentials in the URL are not allowed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_trimmed_and_bounded() {
        assert_eq!(file_url_input("  https://x.test/a \n"), Ok("https://x.test/a"));
        assert_eq!(file_url_input(" \t "), Err(Error::MissingField("file_url")));
        let long = format!("https://x.test/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(file_url_input(&long).unwrap_err().public_message(), "invalid `file_url`: must be at most 2048 characters");
        // characters, not bytes: 2048 of them fit whatever their UTF-8 length
        let wide = format!("https://x.test/{}", "é".repeat(MAX_URL_CHARS - 15));
        assert_eq!(file_url_input(&wide), Ok(wide.as_str()));
    }

    #[test]
    fn rules_in_order() {
        let parts = |scheme, has_host, has_credentials| UrlParts { scheme, has_host, has_credentials };
        assert_eq!(check_syntax(&parts("https", true, false)), Ok(()));
        assert_eq!(check_syntax(&parts("http", true, false)), Ok(()));
        let cases = [
            (parts("ftp", true, true), "file_url rejected: scheme `ftp` is not allowed (use http or https)"),
            (parts("https", false, true), "file_url rejected: the URL has no host"),
            (parts("http", true, true), "file_url rejected: credentials in the URL are not allowed"),
        ];
        for (url, msg) in cases {
            assert_eq!(check_syntax(&url).unwrap_err().public_message(), msg, "{url:?}");
        }
    }
}
