//! Property tests of names, paths and `Content-Disposition`: no input panics, what is
//! accepted is safe, and a built header always parses back to the exact name.

use proptest::prelude::*;
use url::Url;
use urlstash::core::names::{composed, content_disposition, disposition_filename, original_name, validate_file_name, MAX_NAME_BYTES};
use urlstash::core::path::validate_upload_path;

/// Strings rich in the characters that matter here.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("..".to_owned()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just("\"".to_owned()),
        Just(";".to_owned()),
        Just("%".to_owned()),
        Just("'".to_owned()),
        Just("\r\n".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("\u{0}".to_owned()),
        Just("CON".to_owned()),
        Just("filename*=".to_owned()),
        Just("報告".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("\u{301}".to_owned()),
        Just("\u{200D}".to_owned()),
        Just("\u{200C}".to_owned()),
        Just("\u{FE0F}".to_owned()),
        Just("\u{3164}".to_owned()),
        Just("\u{00AD}".to_owned()),
        Just("\u{061C}".to_owned()),
        Just("\u{180E}".to_owned()),
        Just("\u{2029}".to_owned()),
        Just("\u{2060}".to_owned()),
        Just("\u{2063}".to_owned()),
        Just("\u{FEFF}".to_owned()),
        Just("\u{E0041}".to_owned()),
        Just("👨".to_owned()),
        Just("\u{1F3FD}".to_owned()),
        Just("\u{2003}".to_owned()),
        Just("→".to_owned()),
        Just("क्".to_owned()),
        Just(" ".to_owned()),
        "[a-zA-Z0-9 ._-]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

/// Whether `name` holds a character no accepted or derived name may hold where it stands:
/// a control, a separator, a bidi control, a line or paragraph separator, a zero-width
/// space, mark or joiner of words, an invisible operator, a soft hyphen, a BOM, the
/// Mongolian vowel separator, a Hangul filler; a
/// zero-width (non-)joiner or an emoji variation selector first, doubled, or next to ASCII or
/// a space (nothing it could shape), but a selector in a keycap and a joiner ending an Indic
/// word.
fn has_unsafe_char(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    let shaping = |c: char| matches!(c, '\u{200C}' | '\u{200D}' | '\u{FE0E}' | '\u{FE0F}');
    let shapeable = |n: Option<&char>| n.is_some_and(|&n| !n.is_ascii() && !n.is_whitespace() && !shaping(n));
    chars.iter().enumerate().any(|(i, &c)| match c {
        '\u{200C}' | '\u{200D}' => {
            // an emoji's selector may stand between it and the joiner
            let before = match i.checked_sub(1).map(|p| chars[p]) {
                Some('\u{FE0F}') => i.checked_sub(2).map(|p| &chars[p]),
                _ => i.checked_sub(1).map(|p| &chars[p]),
            };
            // a ZWJ may end an Indic word (a Malayalam chillu)
            let after = chars.get(i + 1);
            let word_ends = after.is_none_or(|a| a.is_whitespace() || a.is_ascii_punctuation());
            let indic = before.is_some_and(|b| matches!(b, '\u{0900}'..='\u{0DFF}' | '\u{1000}'..='\u{109F}' | '\u{1780}'..='\u{17FF}'));
            !(shapeable(before) && (shapeable(after) || c == '\u{200D}' && indic && word_ends))
        }
        '\u{FE0E}' | '\u{FE0F}' => {
            let keycap = chars.get(i + 1) == Some(&'\u{20E3}') && i > 0 && matches!(chars[i - 1], '0'..='9' | '#' | '*');
            !keycap && !shapeable(i.checked_sub(1).map(|p| &chars[p]))
        }
        c => {
            c.is_control()
                || matches!(c, '/' | '\\' | '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{3164}' | '\u{FEFF}')
        }
    })
}

proptest! {
    #[test]
    fn accepted_file_names_are_safe(name in prop_oneof![hostile(), any::<String>()]) {
        if let Ok(ok) = validate_file_name(&name) {
            // the name as given, in its composed form; and composed, it is accepted as it is
            prop_assert_eq!(&ok, &composed(&name));
            prop_assert_eq!(validate_file_name(&ok), Ok(ok.clone()));
            prop_assert!(!ok.is_empty() && ok.len() <= MAX_NAME_BYTES);
            prop_assert!(!has_unsafe_char(&ok), "{:?}", ok);
            prop_assert!(!ok.contains(".."));
            prop_assert!(!ok.ends_with('.') && ok.trim() == ok);
        }
    }

    #[test]
    fn accepted_upload_paths_are_plain(path in prop_oneof![hostile(), any::<String>(), "[a-z./]{0,30}"]) {
        if let Ok(Some(p)) = validate_upload_path(&path) {
            prop_assert!(!p.starts_with('/') && !p.ends_with('/'));
            for segment in p.split('/') {
                prop_assert!(!segment.is_empty() && segment != "." && segment != "..", "{:?}", p);
                prop_assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            }
        }
    }

    // the two properties above hold of a validator that refuses everything: plain names and
    // paths are taken as they are (each stem and segment starts with x: no reserved device
    // name, `con`, `nul`, `lpt1`..., does)
    #[test]
    fn plain_names_and_paths_are_accepted(name in "x[A-Za-z0-9 _-]{0,40}[A-Za-z0-9]\\.[a-z0-9]{1,5}", path in "x[a-z0-9]{0,7}(/x[a-z0-9_-]{0,7}){0,4}") {
        prop_assert_eq!(validate_file_name(&name), Ok(name.clone()));
        prop_assert_eq!(validate_upload_path(&path), Ok(Some(path.clone())));
    }

    #[test]
    fn content_disposition_round_trips(name in prop_oneof![hostile(), any::<String>()], attachment in any::<bool>()) {
        let kind = if attachment { "attachment" } else { "inline" };
        let header = content_disposition(kind, &name);
        // a header value that cannot be broken out of: visible ASCII and spaces only
        prop_assert!(header.bytes().all(|b| b == b' ' || b.is_ascii_graphic()), "{:?}", header);
        prop_assert!(header.starts_with(kind));
        prop_assert_eq!(disposition_filename(&header), Some(name));
    }

    #[test]
    fn disposition_parsing_never_panics(header in prop_oneof![hostile(), any::<String>()]) {
        let _ = disposition_filename(&header);
        let _ = disposition_filename(&format!("attachment; filename={header}"));
        let _ = disposition_filename(&format!("attachment; filename*={header}"));
        let _ = disposition_filename(&format!("attachment; filename=\"{header}"));
    }

    #[test]
    fn original_names_are_display_safe(cd in proptest::option::of(prop_oneof![hostile(), any::<String>()]), segment in prop_oneof![hostile(), any::<String>()]) {
        let cd = cd.map(|v| format!("attachment; filename=\"{v}\""));
        let url = Url::parse("https://example.com/dir/").unwrap().join(&segment).unwrap_or_else(|_| Url::parse("https://example.com/").unwrap());
        let name = original_name(cd.as_deref(), &url);
        prop_assert!(!name.is_empty() && name.len() <= MAX_NAME_BYTES);
        prop_assert!(!has_unsafe_char(&name), "{:?}", name);
        prop_assert_eq!(&composed(&name), &name, "composed");
        prop_assert!(name != "." && name != "..");
        prop_assert!(!name.contains(['<', '>', ':', '"', '|', '?', '*']));
        // and it survives the header unchanged
        prop_assert_eq!(disposition_filename(&content_disposition("attachment", &name)), Some(name));
    }
}
