//! Property tests of `core::url_errors`: for any string, `verdict` (given the `url` crate's
//! host parser) is the `url` crate's own, reason for reason, and it only asks the host
//! parser about hosts that `http://{host}/` reads back as that host (an IPv6 address in
//! brackets, or a name without forbidden domain code points or escapes), which is how the
//! browser client asks.

#[path = "common/url_cases.rs"]
mod url_cases;

use proptest::prelude::*;
use url::Url;
use urlstash::core::url_errors::{url_crate_reason, verdict, Verdict};

/// The `url` crate's host parser, refusing hosts the browser client could not probe.
fn url_host(name: &str) -> Verdict {
    let bracketed = name.starts_with('[') && name[1..].trim_end_matches(']').bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    let forbidden = |c: char| c <= ' ' || c == '\u{7f}' || "#%/:<>?@[\\]^|".contains(c);
    assert!(!name.is_empty() && (bracketed || !name.contains(forbidden)), "asked about {name:?}");
    match url::Host::parse(name) {
        Ok(_) => Verdict::Parses,
        Err(e) => Verdict::Refuses(url_crate_reason(e).unwrap_or_else(|| panic!("{name:?}: {e}"))),
    }
}

fn same_reason(raw: &str) -> Result<(), TestCaseError> {
    let want = match Url::parse(raw) {
        Ok(_) => Verdict::Parses,
        Err(e) => Verdict::Refuses(url_crate_reason(e).unwrap_or_else(|| panic!("{raw:?}: {e}"))),
    };
    prop_assert_eq!(verdict(raw, &url_host), want, "{:?}", raw);
    Ok(())
}

/// One of the shared pieces of URL syntax.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(url_cases::URL_PIECES)
}

proptest! {
    #[test]
    fn refusal_names_the_url_crates_reason(pieces in prop::collection::vec(piece(), 0..12)) {
        same_reason(&pieces.concat())?;
    }

    #[test]
    fn refusal_names_the_url_crates_reason_for_any_string(raw in any::<String>()) {
        same_reason(&raw)?;
    }

    #[test]
    fn refusal_names_the_url_crates_reason_for_url_shapes(raw in prop_oneof![
        "(https?|HTTP|ftp|file|ws|foo)(:|://|:/|:\\\\\\\\)[a-zA-Z0-9.:@\\[\\]%_~ \\\\-]{0,30}(/[ -~]{0,10})?",
        "(https?|foo)://([a-z]{0,3}(:[a-z]{0,3})?@)?\\[[0-9a-fA-F:.]{0,20}\\]?(:[0-9a-z]{0,7})?(/|\\?|#)?",
        "https?://[0-9xX.]{1,20}(:[0-9]{1,7})?/",
        "https?://[\\u{80}-\\u{2FFF}a-z.%0-9]{1,12}/",
    ]) {
        same_reason(&raw)?;
    }
}
