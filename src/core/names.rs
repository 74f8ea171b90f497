//! File names: validating a client's `file_name`, deriving `original_name` from the origin,
//! and writing names into `Content-Disposition`.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::Error;

/// Longest stored name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// The name used when neither the origin nor the URL names the file.
pub const FALLBACK_NAME: &str = "download";

const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3",
    "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Characters Windows refuses in a file name (separators are refused on their own).
const WINDOWS_INVALID: &[char] = &['<', '>', ':', '"', '|', '?', '*'];

/// Characters that reorder text (bidi marks, overrides and isolates), break lines outside
/// the control range, or hide in it (zero-width, soft hyphen, BOM). Refused in file names and
/// in API key names alike.
pub fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// Whether `name` is a Windows device name, with or without an extension (`nul.txt`,
/// `COM1 .tar.gz`), in any case. Compared as Unicode lowercase: of the characters outside
/// ASCII only the Kelvin sign lowercases into these names (to `k`), so it is folded by
/// hand, which keeps Unicode's case tables out of the browser client.
fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let folded: String = stem.chars().map(|c| if c == '\u{212A}' { 'k' } else { c }).collect();
    WINDOWS_RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&folded))
}

/// Checks a client-chosen `file_name`.
pub fn validate_file_name(name: &str) -> Result<String, Error> {
    let fail = |reason: &str| Err(Error::invalid("file_name", reason));
    if name.is_empty() {
        return fail("must not be empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return fail("must be at most 255 bytes");
    }
    if name.contains(['/', '\\']) {
        return fail("must not contain path separators");
    }
    if name.chars().any(|c| c.is_control() || is_deceptive(c)) {
        return fail("must not contain control or bidirectional-override characters");
    }
    if name.contains("..") {
        return fail("must not contain `..`");
    }
    if name.trim() != name {
        return fail("must not start or end with whitespace");
    }
    if name.ends_with('.') {
        return fail("must not end with a dot");
    }
    if name.contains(WINDOWS_INVALID) {
        return fail("must not contain any of < > : \" | ? *");
    }
    if is_reserved(name) {
        return fail("must not be a reserved device name");
    }
    Ok(name.to_owned())
}

/// `original_name`: from `Content-Disposition` (`filename*` before `filename`), else the URL's
/// last path segment percent-decoded, else `download`. Made safe to display either way.
pub fn original_name(content_disposition: Option<&str>, url: &url::Url) -> String {
    content_disposition
        .and_then(disposition_filename)
        .and_then(|n| display_safe(&n))
        .or_else(|| {
            let segment = url.path_segments()?.next_back()?;
            display_safe(&percent_decode_str(segment).decode_utf8_lossy())
        })
        .unwrap_or_else(|| FALLBACK_NAME.to_owned())
}

/// The last path component of `name`, without control or bidi characters, Windows-invalid
/// characters as `_`, a device name prefixed with `_`, cut to 255 bytes on a character
/// boundary; `None` when nothing usable remains.
fn display_safe(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut out: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_deceptive(*c))
        .map(|c| if WINDOWS_INVALID.contains(&c) { '_' } else { c })
        .collect();
    if is_reserved(out.trim()) {
        out.insert(0, '_');
    }
    let mut cut = out.len().min(MAX_NAME_BYTES);
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    let out = out.trim().to_owned();
    (!out.is_empty() && out != "." && out != "..").then_some(out)
}

/// The file name a `Content-Disposition` header carries (RFC 6266): `filename*` (RFC 8187,
/// UTF-8 or ISO-8859-1) wins over `filename`.
pub fn disposition_filename(header: &str) -> Option<String> {
    let params = parse_params(header);
    let extended = params.iter().find(|(k, _)| k == "filename*").and_then(|(_, v)| decode_ext_value(v));
    extended.or_else(|| params.into_iter().find(|(k, _)| k == "filename").map(|(_, v)| v))
}

/// `type; a=b; c="d e"` -> `[("a","b"), ("c","d e")]`, keys lowercased, quotes undone.
fn parse_params(header: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = match header.split_once(';') {
        Some((_, rest)) => rest,
        None => return params,
    };
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.push((key, value));
        rest = next;
    }
    params
}

/// RFC 8187 `charset'lang'pct-encoded` -> text.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?.to_ascii_lowercase();
    let _language = parts.next()?;
    let bytes: Vec<u8> = percent_decode_str(parts.next()?).collect();
    match charset.as_str() {
        "utf-8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" => Some(bytes.iter().map(|&b| b as char).collect()),
        _ => None,
    }
}

/// RFC 8187 attr-char: what `filename*` may leave unescaped.
const ATTR_CHAR_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!').remove(b'#').remove(b'$').remove(b'&').remove(b'+').remove(b'-')
    .remove(b'.').remove(b'^').remove(b'_').remove(b'`').remove(b'|').remove(b'~');

/// `inline` or `attachment` with the name as an ASCII `filename` fallback and an exact
/// UTF-8 `filename*` (RFC 6266), so no name can break out of the header.
pub fn content_disposition(disposition: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR_ESCAPES);
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_validated() {
        let ok = ["a.png", "報告.pdf", "with space.txt", ".env", "x", "CONFIG.txt", "a-b_c.tar.gz"];
        for name in ok {
            assert_eq!(validate_file_name(name).as_deref(), Ok(name), "{name}");
        }
        let long = "a".repeat(256);
        let bad = [
            ("", "must not be empty"),
            (long.as_str(), "at most 255"),
            ("a/b.png", "separators"),
            ("a\\b.png", "separators"),
            ("a\nb.png", "control"),
            ("a\u{7f}.png", "control"),
            ("evil\u{202E}gnp.exe", "bidirectional"),
            ("..", "`..`"),
            ("a..png", "`..`"),
            (" a.png", "whitespace"),
            ("CON", "reserved"),
            ("nul.txt", "reserved"),
            ("com1.tar.gz", "reserved"),
            ("LPT¹.txt", "reserved"),
            ("conin$", "reserved"),
            ("a.txt.", "end with a dot"),
            ("a:b.txt", "any of"),
            ("a<b>.html", "any of"),
            ("what?.png", "any of"),
            ("a\u{0}b.png", "control"),
            ("a\u{1b}[31m.png", "control"),
            ("a\u{2028}b.png", "bidirectional"),
            ("a\u{2066}b.png", "bidirectional"),
            ("a\u{200D}b.png", "bidirectional"),
            ("a\u{61C}b.png", "bidirectional"),
            ("a\u{AD}b.png", "bidirectional"),
        ];
        for (name, reason) in bad {
            match validate_file_name(name) {
                Err(Error::InvalidField { field: "file_name", reason: r }) => {
                    assert!(r.contains(reason), "{name:?}: {r}")
                }
                other => panic!("{name:?} gave {other:?}"),
            }
        }
        assert!(validate_file_name(&"é".repeat(127)).is_ok());
        assert!(validate_file_name(&"é".repeat(128)).is_err());
    }

    #[test]
    fn disposition_filename_prefers_extended() {
        let cases = [
            ("attachment; filename=\"a.png\"", Some("a.png")),
            ("attachment; filename=plain.txt", Some("plain.txt")),
            ("inline; filename=\"q\\\"uote.txt\"; size=3", Some("q\"uote.txt")),
            ("attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf", Some("報告.pdf")),
            ("attachment; filename*=utf-8'en'na%20me.txt; filename=\"x\"", Some("na me.txt")),
            ("attachment; filename*=iso-8859-1''caf%E9.txt", Some("café.txt")),
            ("attachment; filename*=koi8-r''x; filename=y.txt", Some("y.txt")),
            ("attachment; FileName=\"Case.txt\"", Some("Case.txt")),
            ("attachment", None),
            ("inline; name=\"x\"", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(disposition_filename(header).as_deref(), want, "{header}");
        }
    }

    #[test]
    fn original_name_falls_back_in_order() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        let cases = [
            (Some("attachment; filename=\"cd.png\""), "https://x.test/a/url.png", "cd.png"),
            (None, "https://x.test/a/url.png", "url.png"),
            (None, "https://x.test/a/my%20file%E2%9C%93.jpg?x=1", "my file✓.jpg"),
            (None, "https://x.test/", "download"),
            (None, "https://x.test", "download"),
            (Some("attachment; filename=\"../../etc/passwd\""), "https://x.test/y.bin", "passwd"),
            (Some("attachment; filename=\"..\""), "https://x.test/y.bin", "y.bin"),
            (Some("attachment; filename=\"a\u{202E}b.txt\""), "https://x.test/y", "ab.txt"),
            (None, "https://x.test/dir/..%2F..%2Fsecret", "secret"),
            (None, "https://x.test/dir/..%5C..%5Cboot.ini", "boot.ini"),
            (Some("attachment; filename=\"nul.txt\""), "https://x.test/y", "_nul.txt"),
            (Some("attachment; filename*=UTF-8''CON"), "https://x.test/y", "_CON"),
            (Some("attachment; filename=\"a:b?.txt\""), "https://x.test/y", "a_b_.txt"),
            (Some("attachment; filename=\"\u{2066}\u{2069}\""), "https://x.test/y.bin", "y.bin"),
            (Some("attachment; filename*=UTF-8''a%0D%0AX-Evil%3A%201.txt"), "https://x.test/y", "aX-Evil_ 1.txt"),
            (None, "https://x.test/%E2%80%AEgnp.exe", "gnp.exe"),
        ];
        for (cd, u, want) in cases {
            assert_eq!(original_name(cd, &url(u)), want, "{cd:?} {u}");
        }
        let long = format!("https://x.test/{}", "é".repeat(200));
        assert_eq!(original_name(None, &url(&long)).len(), 254);
    }

    #[test]
    fn content_disposition_escapes_everything() {
        let cases = [
            ("inline", "a.png", "inline; filename=\"a.png\"; filename*=UTF-8''a.png"),
            ("attachment", "my file.pdf", "attachment; filename=\"my file.pdf\"; filename*=UTF-8''my%20file.pdf"),
            ("attachment", "報告.pdf", "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf"),
            ("attachment", "a\"b;c.txt", "attachment; filename=\"a_b;c.txt\"; filename*=UTF-8''a%22b%3Bc.txt"),
        ];
        for (disposition, name, want) in cases {
            let header = content_disposition(disposition, name);
            assert_eq!(header, want);
            assert_eq!(disposition_filename(&header).as_deref(), Some(name));
        }
    }
    #[test]
    fn reserved_names_compare_as_unicode_lowercase() {
        // Every character whose lowercase could spell part of a reserved name is ASCII,
        // a superscript digit or the Kelvin sign, so folding the Kelvin sign by hand and
        // comparing ASCII case-insensitively is Unicode lowercase comparison.
        let alphabet: String = WINDOWS_RESERVED.iter().map(|r| r.to_lowercase()).collect();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let lower: String = c.to_lowercase().collect();
            if lower.chars().all(|l| alphabet.contains(l)) {
                assert!(c.is_ascii() || "¹²³\u{212A}".contains(c), "{c:?} lowercases to {lower:?}");
            }
        }
        let unicode = |name: &str| {
            let stem = name.split('.').next().unwrap_or(name).trim_end();
            WINDOWS_RESERVED.iter().any(|r| r.to_lowercase() == stem.to_lowercase())
        };
        let names = ["CLOC\u{212A}$", "cloc\u{212A}$.txt", "Com\u{B9}", "lPt\u{B3} .x", "con", "CONİN$", "\u{212A}", "nul\u{212A}", "AUX ", "a.con"];
        for name in names {
            assert_eq!(is_reserved(name), unicode(name), "{name:?}");
        }
        assert!(is_reserved("cloc\u{212A}$.txt") && !is_reserved("CONİN$"));
    }
}
