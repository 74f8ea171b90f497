//! `upload_path`: the client's folder, validated, or a category chosen by file type.

use super::error::Error;
use super::names::is_reserved;

/// Most folders in an `upload_path`.
pub const MAX_DEPTH: usize = 8;
/// Longest `upload_path`, in bytes.
pub const MAX_PATH_BYTES: usize = 256;

/// Validates a client's `upload_path`: slashes trimmed from both ends, segments of
/// `[A-Za-z0-9._-]`, no `.` or `..`, and, as for a `file_name`, none that ends with a dot or
/// is a Windows device name. `None` when nothing is left (use the category).
pub fn validate_upload_path(raw: &str) -> Result<Option<String>, Error> {
    let fail = |reason: &str| Err(Error::invalid("upload_path", reason));
    let path = raw.trim_matches('/');
    if path.is_empty() {
        return Ok(None);
    }
    if path.len() > MAX_PATH_BYTES {
        return fail("must be at most 256 bytes");
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() > MAX_DEPTH {
        return fail("must have at most 8 segments");
    }
    for segment in segments {
        if segment.is_empty() {
            return fail("must not contain empty segments (`//`)");
        }
        if segment == "." || segment == ".." {
            return fail("must not contain `.` or `..` segments");
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return fail("segments may only use letters, digits, `.`, `_` and `-`");
        }
        // as for a file_name: a folder a script mirrors to a Windows disk must exist there
        if segment.ends_with('.') {
            return fail("segments must not end with a dot");
        }
        if is_reserved(segment) {
            return fail("segments must not be reserved device names (`CON`, `nul.txt`, ...)");
        }
    }
    Ok(Some(path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_paths_are_validated() {
        let ok = [
            ("images/downloaded", Some("images/downloaded")),
            ("/downloads/", Some("downloads")),
            ("a/b.c/d_e-f", Some("a/b.c/d_e-f")),
            ("..a/.env/CONFIG/com10", Some("..a/.env/CONFIG/com10")),
            ("", None),
            ("///", None),
            ("1/2/3/4/5/6/7/8", Some("1/2/3/4/5/6/7/8")),
        ];
        for (raw, want) in ok {
            assert_eq!(validate_upload_path(raw), Ok(want.map(str::to_owned)), "{raw}");
        }
        let long = "a".repeat(257);
        let bad = [
            ("a//b", "empty segments"),
            ("a/../b", "`..`"),
            ("./a", "`.`"),
            ("..", "`..`"),
            ("a b", "letters"),
            ("a\\b", "letters"),
            ("a/%2e%2e", "letters"),
            ("a./b", "end with a dot"),
            ("...", "end with a dot"),
            ("CON", "device names"),
            ("docs/nul.txt", "device names"),
            ("x/Com1.tar", "device names"),
            ("ünï", "letters"),
            ("1/2/3/4/5/6/7/8/9", "8 segments"),
            (long.as_str(), "256 bytes"),
        ];
        for (raw, reason) in bad {
            match validate_upload_path(raw) {
                Err(Error::InvalidField { field: "upload_path", reason: r }) => {
                    assert!(r.contains(reason), "{raw:?}: {r}")
                }
                other => panic!("{raw:?} gave {other:?}"),
            }
        }
    }
}
