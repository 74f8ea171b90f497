//! Content codings of origin bodies: which the runtime decodes on its own, so that the
//! body read is the file; any other is refused rather than stored as it came.

/// Codings that leave the bytes as they are: `identity`; `aws-chunked`, which S3 strips
/// when storing but some S3-compatible stores keep and send back with the plain object;
/// `none`, a common misspelling of no coding.
const NOT_TRANSFORMING: [&str; 3] = ["identity", "aws-chunked", "none"];

/// Whether a body sent with `Content-Encoding: coding` reaches the Worker as the file's own
/// bytes: exactly `gzip` or `br`, the codings the runtime's `fetch` decodes (it compares
/// them as sent: `GZIP`, `x-gzip` or `gzip, gzip` reach the Worker still encoded, and
/// `deflate` too), or only codings that change nothing.
pub fn reaches_decoded(coding: &str) -> bool {
    let coding = coding.trim();
    coding == "gzip"
        || coding == "br"
        || coding.split(',').map(str::trim).filter(|c| !c.is_empty()).all(|c| NOT_TRANSFORMING.iter().any(|n| c.eq_ignore_ascii_case(n)))
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
        for decoded in ["", "identity", "IDENTITY", " gzip ", "gzip", "br", "aws-chunked", "aws-chunked, identity", "none"] {
            assert!(reaches_decoded(decoded), "{decoded:?}");
        }
        for encoded in ["deflate", "GZIP", "x-gzip", "gzip, gzip", "identity, gzip", "aws-chunked, gzip", "compress", "zstd", "x-inverted", "Br"] {
            assert!(!reaches_decoded(encoded), "{encoded:?}");
        }
        assert_eq!(shown_coding(" x-\u{202e}gzip\n "), "x-gzip");
        assert_eq!(shown_coding(&"z".repeat(100)).len(), 40);
    }
}
