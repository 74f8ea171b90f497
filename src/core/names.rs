//! File names: validating a client's `file_name`, deriving `original_name` from the origin,
//! the name a download is saved under, and writing names into `Content-Disposition`.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use std::borrow::Cow;

use super::error::Error;
use super::mime;
use super::pictographs::is_pictographic;

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
/// the control range, or hide in it (zero-width, soft hyphen, BOM).
fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// Characters that show nothing, beyond [`is_deceptive`]'s: the rest of Unicode's
/// default-ignorable code points, blank fillers (Hangul, Braille), format characters that
/// annotate or prefix other text, and noncharacters. The joiners, variation selectors and
/// tags among them are let through where emoji and scripts need them ([`allowed_at`]).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{034F}' | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{0890}' | '\u{0891}' | '\u{08E2}'
            | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{206A}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FDD0}'..='\u{FDEF}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}' | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}'
    ) || u32::from(c) & 0xFFFE == 0xFFFE
}

/// The writing that joiners shape: a script whose letters join (Arabic, Syriac, N'Ko,
/// Mongolian), one Indic script, named by its block (a virama and a joiner choose a
/// conjunct's form), or emoji (sequences such as 👨‍💻). A joiner anywhere else, or between
/// two writings, changes nothing a reader sees.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Joins {
    Cursive,
    Indic(u32),
    Emoji,
}

fn joins(c: char) -> Option<Joins> {
    match c {
        '\u{0600}'..='\u{07FF}' | '\u{0860}'..='\u{08FF}' | '\u{1800}'..='\u{18AF}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFC}' => {
            Some(Joins::Cursive)
        }
        // Devanagari to Sinhala: one script per 128-character block
        '\u{0900}'..='\u{0DFF}' => Some(Joins::Indic(u32::from(c) & !0x7F)),
        '\u{0F00}'..='\u{0FFF}' => Some(Joins::Indic(0x0F00)),
        '\u{1000}'..='\u{109F}' => Some(Joins::Indic(0x1000)),
        '\u{1780}'..='\u{17FF}' => Some(Joins::Indic(0x1780)),
        c if is_pictographic(c) => Some(Joins::Emoji),
        _ => None,
    }
}

/// The viramas of the Indic scripts (the sign that kills a consonant's vowel).
fn is_virama(c: char) -> bool {
    matches!(
        c,
        '\u{094D}' | '\u{09CD}' | '\u{0A4D}' | '\u{0ACD}' | '\u{0B4D}' | '\u{0BCD}' | '\u{0C4D}' | '\u{0CCD}' | '\u{0D4D}' | '\u{0DCA}'
            | '\u{1039}' | '\u{103A}' | '\u{17D2}'
    )
}

/// Whether the character at `i` may stand where it does in `chars`: never a control,
/// deceptive or invisible character, except those that shape what is around them: a
/// zero-width (non-)joiner after a virama or between two characters of one writing it
/// shapes ([`joins`]; for emoji only the joiner), an
/// emoji variation selector after a pictograph (❤️) or in a keycap (1️⃣),
/// an ideographic variation selector after an ideograph, a Mongolian variation selector
/// after a Mongolian letter, and the tags of a subdivision flag (🏴 and up to 7 letters
/// or digits, ended by the cancel tag).
fn allowed_at(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    let prev = i.checked_sub(1).map(|p| chars[p]);
    let next = chars.get(i + 1).copied();
    match c {
        // after a virama a joiner chooses the form of the consonant it ends: before a letter
        // of the same script, a half form (ZWJ) or no conjunct (ZWNJ); at the end of a word,
        // a Malayalam chillu (ZWJ)
        '\u{200C}' | '\u{200D}' if prev.is_some_and(is_virama) => {
            let word_ends = next.is_none_or(|n| n.is_whitespace() || n.is_ascii_punctuation());
            next.and_then(joins) == prev.and_then(joins) || c == '\u{200D}' && word_ends
        }
        '\u{200C}' | '\u{200D}' => {
            // an emoji's presentation selector or skin tone may stand between it and the joiner
            let before = match (prev, i.checked_sub(2).map(|p| chars[p])) {
                (Some('\u{FE0F}' | '\u{1F3FB}'..='\u{1F3FF}'), b) => b,
                (p, _) => p,
            };
            let writing = before.and_then(joins);
            writing.is_some() && next.and_then(joins) == writing && (c == '\u{200D}' || writing != Some(Joins::Emoji))
        }
        '\u{FE0E}' | '\u{FE0F}' => {
            prev.is_some_and(is_pictographic) || prev.is_some_and(|p| p.is_ascii_digit() || p == '#' || p == '*') && next == Some('\u{20E3}')
        }
        '\u{E0100}'..='\u{E01EF}' => {
            matches!(prev, Some('\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}'))
        }
        '\u{180B}'..='\u{180D}' | '\u{180F}' => matches!(prev, Some('\u{1820}'..='\u{18AF}')),
        '\u{E0020}'..='\u{E007F}' => in_flag_tags(chars, i),
        _ => !c.is_control() && !is_deceptive(c) && !is_invisible(c),
    }
}

/// Whether the tag at `i` is part of a subdivision flag: the black flag, 1 to 7 tags of
/// lowercase letters or digits, the cancel tag.
fn in_flag_tags(chars: &[char], i: usize) -> bool {
    let tag = |c: &char| matches!(c, '\u{E0020}'..='\u{E007F}');
    let start = (0..=i).rev().take_while(|&j| tag(&chars[j])).last().unwrap_or(i);
    let end = (i..chars.len()).take_while(|&j| tag(&chars[j])).last().unwrap_or(i);
    let run = &chars[start..=end];
    let (last, letters) = run.split_last().expect("the run holds chars[i]");
    start > 0
        && chars[start - 1] == '\u{1F3F4}'
        && *last == '\u{E007F}'
        && (1..=7).contains(&letters.len())
        && letters.iter().all(|c| matches!(c, '\u{E0030}'..='\u{E0039}' | '\u{E0061}'..='\u{E007A}'))
}

/// The positions (in characters) of the characters of `name` that [`allowed_at`] refuses
/// where they stand.
fn misplaced(name: &str) -> Vec<usize> {
    let chars: Vec<char> = name.chars().collect();
    (0..chars.len()).filter(|&i| !allowed_at(&chars, i)).collect()
}

/// Whether `name` holds a control, invisible or bidirectional character where it shapes
/// nothing ([`allowed_at`]): the rule for file names, used for API key names too.
pub(crate) fn hides_text(name: &str) -> bool {
    !misplaced(name).is_empty()
}

/// `name` without the characters [`allowed_at`] refuses, as often as taking some out leaves
/// others out of place (a selector whose base was invisible).
fn cleaned(name: &str) -> String {
    let mut name = name.to_owned();
    loop {
        let refused = misplaced(&name);
        if refused.is_empty() {
            return name;
        }
        name = name.chars().enumerate().filter(|(i, _)| !refused.contains(i)).map(|(_, c)| c).collect();
    }
}

/// `name` in Unicode's composed form (NFC), so that one name typed on any system (macOS
/// writes é as e and a combining accent) is one file and one `file_url`. In the Worker and
/// the browser the JavaScript engine's normalizer (`String.prototype.normalize`) does it,
/// which keeps Unicode's tables (60 KiB gzip) out of both wasm builds; host builds (the
/// tests) use the `unicode-normalization` crate.
#[cfg(all(target_arch = "wasm32", any(feature = "server", feature = "client")))]
pub fn composed(name: &str) -> String {
    js_sys::JsString::from(name).normalize("NFC").into()
}

/// See above.
#[cfg(not(target_arch = "wasm32"))]
pub fn composed(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfc().collect()
}

/// The core alone on wasm (no build of this project): names as given.
#[cfg(all(target_arch = "wasm32", not(any(feature = "server", feature = "client"))))]
pub fn composed(name: &str) -> String {
    name.to_owned()
}

/// Whether `name` is a Windows device name, with or without an extension (`nul.txt`,
/// `COM1 .tar.gz`), in any case. Compared as Unicode lowercase: of the characters outside
/// ASCII only the Kelvin sign lowercases into these names (to `k`), so it is folded by
/// hand, which keeps Unicode's case tables out of the browser client.
pub(crate) fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let folded: String = stem.chars().map(|c| if c == '\u{212A}' { 'k' } else { c }).collect();
    WINDOWS_RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&folded))
}

/// Checks a client-chosen `file_name`, and answers it in its composed form ([`composed`]).
pub fn validate_file_name(name: &str) -> Result<String, Error> {
    let fail = |reason: &str| Err(Error::invalid("file_name", reason));
    let name = &composed(name);
    if name.is_empty() {
        return fail("must not be empty");
    }
    if name.len() > MAX_NAME_BYTES {
        // counted as kept: composing can lengthen a name (U+0958 is two characters in NFC)
        return fail(&format!("must be at most 255 bytes of UTF-8 as kept, in Unicode's composed form (NFC): this one is {}", name.len()));
    }
    if name.contains(['/', '\\']) {
        return fail("must not contain path separators");
    }
    if let Some(&at) = misplaced(name).first() {
        // which one, since it may not show: "U+200B (character 4)"
        let c = name.chars().nth(at).expect("misplaced gives positions in the name");
        return fail(&format!("must not contain control, invisible or bidirectional characters (U+{:04X}, character {})", u32::from(c), at + 1));
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

/// The last path component of `name`, composed ([`composed`]), without the characters
/// [`allowed_at`] refuses, Windows-invalid characters as `_`, cut to 255 bytes (its
/// extension kept), trimmed, and a device name prefixed with `_`; `None` when nothing usable
/// remains (a name that is not text, U+FFFD where bytes were not UTF-8, is none).
fn display_safe(name: &str) -> Option<String> {
    let base = composed(name.rsplit(['/', '\\']).next().unwrap_or(name));
    if base.contains('\u{FFFD}') {
        return None;
    }
    let kept: String = base.chars().map(|c| if WINDOWS_INVALID.contains(&c) { '_' } else { c }).collect();
    // trimmed and cleaned until neither changes anything: trimming can leave a joiner first
    // (a space, then a joiner), and taking one out can leave a space first
    let mut settled = shortened(&kept);
    loop {
        let next = cleaned(settled.trim());
        if next == settled {
            break;
        }
        settled = next;
    }
    // composed again: taking a character out may leave an accent beside its letter
    let mut out = composed(&settled);
    if is_reserved(&out) {
        out.insert(0, '_');
        out = shortened(&out);
    }
    (!out.is_empty() && out != "." && out != "..").then_some(out)
}

/// `name` cut to [`MAX_NAME_BYTES`] on a character boundary, keeping its extension (up to
/// 16 bytes after the last dot) so the type can still be told from it.
fn shortened(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let ext = name.rfind('.').filter(|&dot| dot > 0 && name.len() - dot <= 16).map_or("", |dot| &name[dot..]);
    let mut cut = MAX_NAME_BYTES - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &name[..cut])
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
        // a parameter without a value (`attachment; x; filename=a`) is skipped
        if let Some((_, later)) = key.split_once(';') {
            rest = &rest[rest.len() - later.len() - after.len() - 1..];
            continue;
        }
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

/// Extensions a desktop runs, or a browser renders as a page, when such a file is opened:
/// a saved file whose bytes are of another type never keeps one of these last.
const ACTIVE_EXTENSIONS: &[&str] = &[
    "exe", "com", "bat", "cmd", "msi", "msp", "mst", "msc", "scr", "pif", "cpl", "dll", "lnk", "url", "website",
    "reg", "inf", "scf", "ps1", "psm1", "ps1xml", "vbs", "vbe", "vb", "js", "jse", "ws", "wsf", "wsh", "wsc",
    "sct", "hta", "chm", "hlp", "jar", "jnlp", "application", "appref-ms", "appinstaller", "xbap", "diagcab",
    "library-ms", "searchconnector-ms", "settingcontent-ms", "rdp", "iqy", "slk", "py", "pyw", "sh", "command",
    "terminal", "desktop", "fileloc", "app",
    "php", "asp", "aspx", "jsp", "html", "htm", "xhtml", "xht", "shtml", "mht", "mhtml", "svg", "svgz",
];

/// The name a file is saved under from its `download_url`: its `original_name`, with the
/// stored type's extension added when the name has no extension (`download`), or ends in
/// one that runs or renders as a page and is not the type's (`page.php` that sent a PNG, an
/// `.exe` name on an image, `invoice.html` of an unknown type: `.bin`), so that what is
/// saved opens as what it is. `text/plain`, what any text is stored as, vouches for none
/// of those (`run.cmd` saves as `run.cmd.txt`), nor does `application/octet-stream` (bytes
/// nothing recognized: `x.svg` whose markup starts too late to be seen saves as
/// `x.svg.bin`). Any other name is kept (`README.md` served as `text/plain`, `pkg.tgz` as
/// gzip), and so is a name without an extension of a type with none of its own (an unknown
/// type, `application/octet-stream`).
pub fn saved_name<'a>(name: &'a str, mime_type: &str) -> Cow<'a, str> {
    let essence = essence(mime_type);
    let (bare, split, ext) = last_extension(name);
    if split.is_some_and(|(stem, _)| !stem.is_empty()) && ext.is_some() {
        return kept_unless_unvouched(name, bare, ext, &essence);
    }
    // no extension (`download`, `.env`): one is added when the type has one, or when the
    // name itself is one that runs
    let extension = mime::extension(&essence);
    if extension == "bin" && !ext.is_some_and(runs) {
        return Cow::Borrowed(name);
    }
    with_extension(bare, extension)
}

/// The name a file is saved under from its `file_url`: the `file_name` its uploader chose,
/// as chosen (`notes`, `LICENSE` of text), unless it ends in an extension that runs or
/// renders as a page that the stored type does not vouch for: then with the type's own
/// added, as [`saved_name`] adds it (`invoice.hta` of HTML: `invoice.hta.html`).
pub fn chosen_name<'a>(name: &'a str, mime_type: &str) -> Cow<'a, str> {
    let (bare, _, ext) = last_extension(name);
    kept_unless_unvouched(name, bare, ext, &essence(mime_type))
}

/// `name` (`bare` as a file system keeps it, `ext` its last extension) as it is, unless
/// `ext` runs or renders as a page and the type `essence` does not vouch for it: then with
/// the type's own extension added. The rule both links share for a name with an extension.
fn kept_unless_unvouched<'a>(name: &'a str, bare: &str, ext: Option<&str>, essence: &str) -> Cow<'a, str> {
    match ext {
        Some(ext) if runs(ext) && !mime::vouches_for(essence, ext) => with_extension(bare, mime::extension(essence)),
        _ => Cow::Borrowed(name),
    }
}

/// A stored type's essence (an unreadable one: `application/octet-stream`).
fn essence(mime_type: &str) -> String {
    mime::essence(mime_type).unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// Whether `ext` is one a desktop runs or a browser renders as a page.
fn runs(ext: &str) -> bool {
    ACTIVE_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(ext))
}

/// `name` as a file system keeps it (trailing dots and spaces dropped: `x.hta.` is `x.hta`),
/// split at its last dot, and its last extension, a dot file's included (`.hta`).
fn last_extension(name: &str) -> (&str, Option<(&str, &str)>, Option<&str>) {
    let bare = name.trim_end_matches(['.', ' ']);
    let split = bare.rsplit_once('.');
    let ext = split.map(|(_, ext)| ext).filter(|ext| !ext.is_empty());
    (bare, split, ext)
}

/// `bare` with `extension` added: no dot doubled (`report.` saves as `report.pdf`), and
/// within MAX_NAME_BYTES (cut at a character's boundary), as a file system keeps it.
fn with_extension(bare: &str, extension: &str) -> Cow<'static, str> {
    let mut stem = bare;
    let room = MAX_NAME_BYTES - extension.len() - 1;
    if stem.len() > room {
        let cut = (0..=room).rev().find(|&i| stem.is_char_boundary(i)).unwrap_or(0);
        stem = &stem[..cut];
    }
    Cow::Owned(format!("{stem}.{extension}"))
}

/// RFC 8187 attr-char: what `filename*` may leave unescaped.
const ATTR_CHAR_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!').remove(b'#').remove(b'$').remove(b'&').remove(b'+').remove(b'-')
    .remove(b'.').remove(b'^').remove(b'_').remove(b'`').remove(b'|').remove(b'~');

/// `inline` or `attachment` with the name as an ASCII `filename` fallback and an exact
/// UTF-8 `filename*` (RFC 6266), so no name can break out of the header. The fallback has
/// no `%` either: some user agents percent-decode it (RFC 6266, appendix D).
pub fn content_disposition(disposition: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%') || c == ' ' { c } else { '_' })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR_ESCAPES);
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_is_saved_with_its_types_extension() {
        for (name, mime, want) in [
            ("photo.png", "image/png", "photo.png"),
            ("PHOTO.PNG", "image/png", "PHOTO.PNG"),
            ("photo.jpeg", "image/jpeg", "photo.jpeg"),
            ("photo.jfif", "image/jpeg", "photo.jfif"),
            ("download", "image/png", "download.png"),
            ("img.php", "image/png", "img.php.png"),
            ("cod.exe", "image/png", "cod.exe.png"),
            ("page.HTML", "image/png", "page.HTML.png"),
            ("index.html", "text/html", "index.html"),
            ("photo.jpg", "image/png", "photo.jpg"),
            ("README.md", "text/plain", "README.md"),
            ("data.csv", "text/plain; charset=utf-8", "data.csv"),
            ("pkg.tgz", "application/gzip", "pkg.tgz"),
            ("wheel.whl", "application/zip", "wheel.whl"),
            (".png", "image/png", ".png.png"),
            ("scan", "image/jpeg", "scan.jpg"),
            ("notes", "text/plain; charset=utf-8", "notes.txt"),
            ("report.pdf", "application/pdf", "report.pdf"),
            ("data", "application/octet-stream", "data"),
            ("setup.exe", "application/octet-stream", "setup.exe.bin"),
            ("evil.svg", "application/octet-stream", "evil.svg.bin"),
            ("archive.dat", "application/octet-stream", "archive.dat"),
            ("thing", "application/x-made-up", "thing"),
            ("report.", "application/pdf", "report.pdf"),
            // an unknown type vouches for no extension that runs; text/plain neither
            ("invoice.html", "application/x-made-up", "invoice.html.bin"),
            ("notes.dat", "application/x-made-up", "notes.dat"),
            ("run.cmd", "text/plain", "run.cmd.txt"),
            ("fix.reg", "text/plain", "fix.reg.txt"),
            ("run.py", "text/plain", "run.py.txt"),
            ("work.rdp", "text/plain", "work.rdp.txt"),
            ("invoice.hta", "text/html", "invoice.hta.html"),
            ("app.js", "text/javascript", "app.js"),
            ("song", "audio/mpeg", "song.mp3"),
            ("feed", "text/xml", "feed.xml"),
            ("take.wav", "audio/x-wav", "take.wav"),
            ("take", "audio/x-wav", "take.wav"),
            ("setup.exe", "application/vnd.microsoft.portable-executable", "setup.exe"),
            ("lib.dll", "application/vnd.microsoft.portable-executable", "lib.dll"),
            ("setup.msi", "application/x-ole-storage", "setup.msi"),
            ("mail", "application/x-ole-storage", "mail"),
            ("run.sh", "text/x-shellscript", "run.sh"),
            ("x.aspx", "application/xml", "x.aspx.xml"),
            ("feed.xml", "application/xml", "feed.xml"),
            ("page.htm", "text/html", "page.htm"),
            ("x.hta.", "application/octet-stream", "x.hta.bin"),
            ("x.svg. ", "application/x-made-up", "x.svg.bin"),
            (".hta", "application/octet-stream", ".hta.bin"),
            (".env", "application/octet-stream", ".env"),
            ("pom.xml", "text/plain", "pom.xml"),
            ("logo.svgz", "application/gzip", "logo.svgz"),
            ("app.jar", "application/zip", "app.jar"),
            ("saver.scr", "application/vnd.microsoft.portable-executable", "saver.scr"),
            ("app.js", "application/x-javascript", "app.js"),
            ("x.msc", "text/plain", "x.msc.txt"),
            ("install.sh", "text/x-sh", "install.sh"),
            ("page.mht", "message/rfc822", "page.mht.eml"),
            ("mail.eml", "message/rfc822", "mail.eml"),
            ("page.html", "application/vnd.microsoft.portable-executable", "page.html.exe"),
        ] {
            assert_eq!(saved_name(name, mime), want, "{name} as {mime}");
        }
        // every extension that runs or renders as a page, written out here (not read from the
        // list): text, which vouches for none, is saved as text
        for ext in [
            "exe", "com", "bat", "cmd", "msi", "msp", "mst", "msc", "scr", "pif", "cpl", "dll", "lnk", "url", "website",
            "reg", "inf", "scf", "ps1", "psm1", "ps1xml", "vbs", "vbe", "vb", "js", "jse", "ws", "wsf", "wsh", "wsc",
            "sct", "hta", "chm", "hlp", "jar", "jnlp", "application", "appref-ms", "appinstaller", "xbap", "diagcab",
            "library-ms", "searchconnector-ms", "settingcontent-ms", "rdp", "iqy", "slk", "py", "pyw", "sh", "command",
            "terminal", "desktop", "fileloc", "app", "php", "asp", "aspx", "jsp", "html", "htm", "xhtml", "xht",
            "shtml", "mht", "mhtml", "svg", "svgz", "VBS", "Lnk",
        ] {
            assert_eq!(saved_name(&format!("x.{ext}"), "text/plain"), format!("x.{ext}.txt"), "{ext}");
        }
        // a name at the limit keeps it with the extension, cut at a character's boundary
        // (below)
        let long = format!("{}x", "\u{e9}".repeat(127));
        let saved = saved_name(&long, "image/png");
        assert_eq!(saved.len(), 254, "{saved}");
        assert!(saved.ends_with("\u{e9}.png") && saved.len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn a_chosen_name_is_kept_unless_it_ends_in_one_that_runs_the_type_does_not_vouch_for() {
        for (name, mime, want) in [
            ("notes", "text/plain", "notes"),
            ("LICENSE", "text/plain", "LICENSE"),
            ("report", "application/pdf", "report"),
            ("photo.jpg", "image/png", "photo.jpg"),
            ("page.html", "text/html", "page.html"),
            ("invoice.hta", "text/html", "invoice.hta.html"),
            ("pic.hta", "image/png", "pic.hta.png"),
            ("run.PY", "text/plain", "run.PY.txt"),
            (".hta", "text/plain", ".hta.txt"),
            ("setup.exe", "application/vnd.microsoft.portable-executable", "setup.exe"),
        ] {
            assert_eq!(chosen_name(name, mime), want, "{name} as {mime}");
        }
    }

    #[test]
    fn file_names_are_validated() {
        let ok = ["a.png", "報告.pdf", "with space.txt", ".env", "x", "CONFIG.txt", "a-b_c.tar.gz"];
        for name in ok {
            assert_eq!(validate_file_name(name).as_deref(), Ok(name), "{name}");
        }
        let long = "a".repeat(256);
        // 253 bytes as sent, 502 once composed
        let longer_composed = format!("{}.txt", "\u{0958}".repeat(83));
        let bad = [
            ("", "must not be empty"),
            (long.as_str(), "at most 255 bytes of UTF-8 as kept, in Unicode's composed form (NFC): this one is 256"),
            (longer_composed.as_str(), "this one is 502"),
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
        // composed (NFC): one name, whatever the system that typed it
        assert_eq!(validate_file_name("re\u{301}sume\u{301}.txt").as_deref(), Ok("résumé.txt"));
        // joiners, selectors and tags where scripts and emoji need them
        let shaped = ["نامه\u{200C}ها.png", "क्\u{200D}ष.png", "👨\u{200D}💻.png", "🏳\u{FE0F}\u{200D}🌈.png", "❤\u{FE0F}.txt",
            "1\u{FE0F}\u{20E3}.png", "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}.png", "ᠮᠣᠩ\u{180B}.png", "葛\u{E0100}.png", "അവന്\u{200D}.png",
            "👨🏽\u{200D}💻.png", "🏴\u{200D}☠\u{FE0F}.png", "क्\u{200C}ष.png", "അവന്\u{200D} x.png", "©\u{FE0F}.txt"];
        for name in shaped {
            assert_eq!(validate_file_name(name).as_deref(), Ok(name), "{name:?}");
        }
        let hidden = ["\u{3164}", "a\u{3164}b.png", "\u{2800}.png", "a\u{34F}.png", "a\u{E0041}.png", "a\u{FE0F}.png", "é\u{FE0F}\u{FE0F}.png",
            "\u{200D}é.png", "é\u{200D}.png", "é\u{200D}\u{200D}é.png", "a\u{FFFE}.png", "a\u{FDD0}.png", "a\u{FFF9}.png", "a\u{1D173}.png",
            // look-alikes: a joiner or a selector where it shapes nothing, tags that are not a flag
            "é\u{200D}é.png", "報\u{200C}告.pdf", "👨\u{200D}क.png", "é\u{FE0F}.png", "a\u{180B}.png", "a\u{E0100}.png",
            // found by review: selectors and joiners after spaces or arrows, a doubled joiner,
            // a joiner after a virama before another script, a ZWNJ between emoji
            "a\u{2003}\u{FE0F}b.png", "x→\u{200D}→.png", "👨\u{200D}\u{200D}💻.png", "क्\u{200C}a.png", "क्\u{200D}ক.png",
            "क\u{200D}ক.png", "👨\u{200C}💻.png", "क्\u{200C}.png", "a\u{1F3FD}\u{200D}💻.png",
            "🏴\u{E0041}\u{E007F}.png", "🏴\u{E0067}\u{E0062}.png", "🏴\u{E007F}.png", "🏴\u{E0061}\u{E0062}\u{E0063}\u{E0064}\u{E0065}\u{E0066}\u{E0067}\u{E0068}\u{E007F}.png"];
        for name in hidden {
            match validate_file_name(name) {
                Err(Error::InvalidField { field: "file_name", reason }) => assert!(reason.contains("invisible") && reason.contains("(U+"), "{name:?}: {reason}"),
                other => panic!("{name:?} gave {other:?}"),
            }
        }
        // the refused character is named, since it may not show
        let hidden = validate_file_name("pay\u{200B}pal.png").unwrap_err().public_message();
        assert_eq!(hidden, "invalid `file_name`: must not contain control, invisible or bidirectional characters (U+200B, character 4)");
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
            ("attachment; x; filename=good.png", Some("good.png")),
            ("attachment; x=\"a;b\"; y; filename=\"c.png\"", Some("c.png")),
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
        // a long name keeps its extension; the device-name check sees the name as cut
        let emoji = format!("attachment; filename*=UTF-8''{}.png", "%F0%9F%98%80".repeat(70));
        let kept = original_name(Some(&emoji), &url("https://x.test/y"));
        assert!(kept.ends_with("😀.png") && kept.len() <= MAX_NAME_BYTES, "{kept}");
        let device = format!("attachment; filename*=UTF-8''CON{}x", "%20".repeat(260));
        assert_eq!(original_name(Some(&device), &url("https://x.test/y")), "_CON");
        let more = [
            // composed; joiners kept where they join; hidden characters dropped
            (Some("attachment; filename*=UTF-8''cafe%CC%81.png"), "https://x.test/y", "café.png"),
            (Some("attachment; filename*=UTF-8''%D9%86%D8%A7%D9%85%D9%87%E2%80%8C%D9%87%D8%A7.png"), "https://x.test/y", "نامه\u{200C}ها.png"),
            (Some("attachment; filename*=UTF-8''a%E2%80%8Db%E3%85%A4c.png"), "https://x.test/y", "abc.png"),
            (Some("attachment; filename*=UTF-8''e%E2%80%8D%CC%81.png"), "https://x.test/y", "\u{e9}.png"),
            // a space, a joiner, an emoji: trimmed, the joiner would lead
            (Some("attachment; filename*=UTF-8''%E2%80%83%E2%80%8D%F0%9F%91%A8.png"), "https://x.test/y", "👨.png"),
            (Some("attachment; filename*=UTF-8''%E3%85%A4%20%E2%80%8D%F0%9F%91%A8%20.png"), "https://x.test/y", "👨 .png"),
            // bytes that were not text name nothing: the URL names the file
            (Some("attachment; filename=\"caf\u{FFFD}.png\""), "https://x.test/from-url.png", "from-url.png"),
        ];
        for (cd, u, want) in more {
            assert_eq!(original_name(cd, &url(u)), want, "{cd:?} {u}");
        }
    }

    #[test]
    fn content_disposition_escapes_everything() {
        let cases = [
            ("inline", "a.png", "inline; filename=\"a.png\"; filename*=UTF-8''a.png"),
            ("attachment", "my file.pdf", "attachment; filename=\"my file.pdf\"; filename*=UTF-8''my%20file.pdf"),
            ("attachment", "報告.pdf", "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf"),
            ("attachment", "a\"b;c.txt", "attachment; filename=\"a_b;c.txt\"; filename*=UTF-8''a%22b%3Bc.txt"),
            ("attachment", "%2F%41.png", "attachment; filename=\"_2F_41.png\"; filename*=UTF-8''%252F%2541.png"),
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
