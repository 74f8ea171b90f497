//! Content codings of origin bodies: which the runtime decodes on its own, so that the
//! body read is the file; any other is refused rather than stored as it came.

/// Whether a body sent with `Content-Encoding: coding` reaches the Worker as the file's own
/// bytes: no coding (`identity`), or exactly `gzip` or `br`, the codings the runtime's
/// `fetch` decodes (it compares them as sent: `GZIP`, `x-gzip` or `gzip, gzip` reach the
/// Worker still encoded, and `deflate` too).
pub fn reaches_decoded(coding: &str) -> bool {
    let coding = coding.trim();
    coding.is_empty() || coding.eq_ignore_ascii_case("identity") || coding == "gzip" || coding == "br"
}

/// The coding as a client's message may show it: the origin wrote it, so at most 40 of its
/// visible ASCII characters.
pub fn shown_coding(coding: &str) -> String {
    coding.trim().chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_runtime_decodes_is_the_file() {
        for decoded in ["", "identity", "IDENTITY", " gzip ", "gzip", "br"] {
            assert!(reaches_decoded(decoded), "{decoded:?}");
        }
        for encoded in ["deflate", "GZIP", "x-gzip", "gzip, gzip", "identity, gzip", "compress", "zstd", "x-inverted", "Br"] {
            assert!(!reaches_decoded(encoded), "{encoded:?}");
        }
        assert_eq!(shown_coding(" x-\u{202e}gzip\n "), "x-gzip");
        assert_eq!(shown_coding(&"z".repeat(100)).len(), 40);
    }
}
