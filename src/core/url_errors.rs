//! What the `url` crate does with a string, worked out without it. The browser client parses
//! with the browser's `URL`, which only says that a string is not a URL, and lets a few
//! host names through that the `url` crate refuses; [`verdict`] names the `url` crate's
//! reason in its own words, so the client's message is the Worker's. It follows the `url`
//! crate's parser (no base URL) down to the host and asks the caller's parser about the
//! host ([`HostCheck`]). Host tests compare it with the `url` crate.

use percent_encoding::percent_decode_str;

/// The `url` crate's `ParseError` messages that a string without a base URL can get.
pub const EMPTY_HOST: &str = "empty host";
pub const INVALID_IDNA: &str = "invalid international domain name";
pub const INVALID_PORT: &str = "invalid port number";
pub const INVALID_IPV4: &str = "invalid IPv4 address";
pub const INVALID_IPV6: &str = "invalid IPv6 address";
pub const INVALID_DOMAIN_CHARACTER: &str = "invalid domain character";
pub const RELATIVE_WITHOUT_BASE: &str = "relative URL without a base";

/// What the `url` crate does with a string (or a host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Parses,
    /// Refuses it, for this reason (one of the constants above).
    Refuses(&'static str),
    /// Depends on Unicode data the caller's parser may not share with the `url` crate (a
    /// name its IDNA refuses: its data can be older or newer).
    Undecided,
}

/// How the host of an `http` URL parses, IDNA checking every label (Punycode ones too):
/// [`Verdict::Refuses`] with [`INVALID_IDNA`], [`EMPTY_HOST`] (a name that maps to
/// nothing), [`INVALID_IPV4`] or [`INVALID_IPV6`]. It is only asked about a bracketed IPv6
/// address (hex digits, `:`, `.`) or a percent-decoded name with no forbidden domain code
/// point, so a WHATWG parser can be asked with `http://{host}/`.
pub type HostCheck<'a> = &'a dyn Fn(&str) -> Verdict;

/// The constant for a `url` crate error; `None` for errors a parse without a base URL
/// does not give (for the `url` crate as a [`HostCheck`] and in host tests).
pub fn url_crate_reason(err: url::ParseError) -> Option<&'static str> {
    use url::ParseError as E;
    Some(match err {
        E::EmptyHost => EMPTY_HOST,
        E::IdnaError => INVALID_IDNA,
        E::InvalidPort => INVALID_PORT,
        E::InvalidIpv4Address => INVALID_IPV4,
        E::InvalidIpv6Address => INVALID_IPV6,
        E::InvalidDomainCharacter => INVALID_DOMAIN_CHARACTER,
        E::RelativeUrlWithoutBase => RELATIVE_WITHOUT_BASE,
        _ => return None,
    })
}

/// What the `url` crate does with `input` as an absolute URL.
pub fn verdict(input: &str, host: HostCheck) -> Verdict {
    let input = as_parsed(input);
    let Some((scheme, rest)) = split_scheme(&input) else {
        return Verdict::Refuses(RELATIVE_WITHOUT_BASE);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => file_host(rest).map_or(Verdict::Parses, |name| special_host(name, host)),
        "http" | "https" | "ws" | "wss" | "ftp" => authority(rest.trim_start_matches(['/', '\\']), true, host),
        _ => rest.strip_prefix("//").map_or(Verdict::Parses, |rest| authority(rest, false, host)),
    }
}

/// The scheme the `url` crate reads in `input` (lowercase), if it starts with one.
pub fn scheme(input: &str) -> Option<String> {
    split_scheme(&as_parsed(input)).map(|(scheme, _)| scheme.to_ascii_lowercase())
}

/// `input` as the parser reads it: without leading and trailing C0 controls and spaces,
/// and without tabs and newlines anywhere.
fn as_parsed(input: &str) -> String {
    input.trim_matches(|c| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect()
}

/// `scheme:` and the rest; `None` when the input does not start with a scheme.
fn split_scheme(input: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = input.split_once(':')?;
    let mut chars = scheme.chars();
    let scheme_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    (chars.next()?.is_ascii_alphabetic() && chars.all(scheme_char)).then_some((scheme, rest))
}

/// A `file:` URL's host, when it has one to parse (`file://host/...`, not a drive letter).
fn file_host(rest: &str) -> Option<&str> {
    let rest = rest.strip_prefix(['/', '\\'])?.strip_prefix(['/', '\\'])?;
    let host = &rest[..rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len())];
    let drive = host.len() == 2 && host.as_bytes()[0].is_ascii_alphabetic() && matches!(host.as_bytes()[1], b':' | b'|');
    (!host.is_empty() && !drive).then_some(host)
}

/// The authority after `//`: userinfo, host, port.
fn authority(input: &str, special: bool, host: HostCheck) -> Verdict {
    let is_end = |c: char| matches!(c, '/' | '?' | '#') || (special && c == '\\');
    let end = input.find(is_end).unwrap_or(input.len());
    let (has_userinfo, rest) = match input[..end].rfind('@') {
        None => (false, input),
        Some(0) if input[1..].starts_with(is_end) => return Verdict::Refuses(EMPTY_HOST),
        // The userinfo is kept unless it is empty or a lone `:`.
        Some(at) => (at > 0 && &input[..at] != ":", &input[at + 1..]),
    };
    let mut in_brackets = false;
    let host_end = rest
        .find(|c: char| {
            match c {
                '[' => in_brackets = true,
                ']' => in_brackets = false,
                _ => {}
            }
            (c == ':' && !in_brackets) || is_end(c)
        })
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(host_end);
    if special && name.is_empty() {
        return Verdict::Refuses(EMPTY_HOST);
    }
    match if special { special_host(name, host) } else { opaque_host(name, host) } {
        Verdict::Parses => {}
        other => return other,
    }
    if name.is_empty() && after.starts_with(':') {
        return Verdict::Refuses(EMPTY_HOST);
    }
    if let Some(port) = after.strip_prefix(':') {
        let digits = port.find(|c: char| !c.is_ascii_digit()).unwrap_or(port.len());
        let valid_end = port[digits..].chars().next().is_none_or(|c| matches!(c, '/' | '\\' | '?' | '#'));
        let value = port[..digits].trim_start_matches('0');
        let in_range = value.len() <= 5 && value.parse::<u32>().map_or(true, |p| p <= 65535);
        if !valid_end || !in_range {
            return Verdict::Refuses(INVALID_PORT);
        }
    }
    if name.is_empty() && has_userinfo {
        return Verdict::Refuses(EMPTY_HOST);
    }
    Verdict::Parses
}

/// The host of an http-like or `file:` URL (a domain, IPv4 or IPv6 address).
fn special_host(name: &str, host: HostCheck) -> Verdict {
    if name.starts_with('[') {
        return bracketed(name, host);
    }
    // IDNA keeps ASCII as it is (but for case), so a forbidden domain code point in the
    // percent-decoded name fails the check after it, as does a name that is not UTF-8:
    // decided here, whatever the Unicode data (and Chromium escapes a space instead).
    match percent_decode_str(name).decode_utf8() {
        Ok(decoded) if !decoded.contains(forbidden_in_domain) => host(&decoded),
        _ => Verdict::Refuses(INVALID_IDNA),
    }
}

/// The WHATWG URL standard's forbidden domain code points.
fn forbidden_in_domain(c: char) -> bool {
    c <= ' ' || c == '\u{7f}' || matches!(c, '#' | '%' | '/' | ':' | '<' | '>' | '?' | '@' | '[' | '\\' | ']' | '^' | '|')
}

/// The host of another scheme's URL: an IPv6 address, or any string without forbidden
/// host code points.
fn opaque_host(name: &str, host: HostCheck) -> Verdict {
    if name.starts_with('[') {
        return bracketed(name, host);
    }
    let forbidden = |c: char| matches!(c, '\0' | ' ' | '#' | '/' | ':' | '<' | '>' | '?' | '@' | '[' | '\\' | ']' | '^' | '|');
    if name.contains(forbidden) {
        Verdict::Refuses(INVALID_DOMAIN_CHARACTER)
    } else {
        Verdict::Parses
    }
}

/// `[...]`: an IPv6 address (only hex digits, `:` and `.` can be one).
fn bracketed(name: &str, host: HostCheck) -> Verdict {
    match name[1..].strip_suffix(']') {
        Some(addr) if addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') => host(name),
        _ => Verdict::Refuses(INVALID_IPV6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `url` crate's own host parser as the [`HostCheck`].
    fn url_host(name: &str) -> Verdict {
        let Err(err) = url::Host::parse(name) else { return Verdict::Parses };
        let reason = url_crate_reason(err).unwrap_or_else(|| panic!("{name:?}: unexpected {err}"));
        assert!([EMPTY_HOST, INVALID_IDNA, INVALID_IPV4, INVALID_IPV6].contains(&reason), "{name:?}: {reason}");
        Verdict::Refuses(reason)
    }

    #[test]
    fn the_constants_are_the_url_crates_messages() {
        use url::ParseError as E;
        let errors = [E::EmptyHost, E::IdnaError, E::InvalidPort, E::InvalidIpv4Address, E::InvalidIpv6Address,
            E::InvalidDomainCharacter, E::RelativeUrlWithoutBase];
        for err in errors {
            assert_eq!(url_crate_reason(err), Some(err.to_string().as_str()));
        }
        assert_eq!(url_crate_reason(E::Overflow), None);
    }

    fn url_crate(input: &str) -> Option<String> {
        url::Url::parse(input).err().map(|e| e.to_string())
    }

    #[test]
    fn every_reason_as_the_url_crate_gives_it() {
        let cases = [
            ("https://example.com/a.png", None),
            ("not a url", Some(RELATIVE_WITHOUT_BASE)),
            ("/relative/path.png", Some(RELATIVE_WITHOUT_BASE)),
            ("1http://x", Some(RELATIVE_WITHOUT_BASE)),
            ("http://", Some(EMPTY_HOST)),
            ("http://@/x", Some(EMPTY_HOST)),
            ("http://user@/x", Some(EMPTY_HOST)),
            ("http://:80/", Some(EMPTY_HOST)),
            ("http://\u{AD}/", Some(EMPTY_HOST)),
            ("http://a b/", Some(INVALID_IDNA)),
            ("http://xn--a/", Some(INVALID_IDNA)),
            ("http://xn--abc-/", Some(INVALID_IDNA)),
            ("http://xn--bcher-kva.example/", None),
            ("http://a%20b/", Some(INVALID_IDNA)),
            ("http://a*b/", None),
            ("http://a%00b/", Some(INVALID_IDNA)),
            ("http://x:99999/", Some(INVALID_PORT)),
            ("http://x:8o/", Some(INVALID_PORT)),
            ("http://1.2.3.4.5/", Some(INVALID_IPV4)),
            ("http://999.1.1.1/", Some(INVALID_IPV4)),
            ("http://[::1/", Some(INVALID_IPV6)),
            ("http://[::g]/", Some(INVALID_IPV6)),
            ("http://[::1]:80/", None),
            ("file://a b/", Some(INVALID_IDNA)),
            ("file://a:1/", Some(INVALID_IDNA)),
            ("file://c:/x", None),
            ("foo://a b/", Some(INVALID_DOMAIN_CHARACTER)),
            ("foo://u@/x", Some(EMPTY_HOST)),
            ("foo://:1/", Some(EMPTY_HOST)),
            ("foo://[x]/", Some(INVALID_IPV6)),
            ("foo://h:x/", Some(INVALID_PORT)),
            ("javascript:alert(1)", None),
            ("ftp://example.com/a.png", None),
        ];
        for (input, want) in cases {
            assert_eq!(verdict(input, &url_host), want.map_or(Verdict::Parses, Verdict::Refuses), "{input:?}");
            assert_eq!(url_crate(input).as_deref(), want, "{input:?}: the url crate disagrees with the table");
        }
    }
}
