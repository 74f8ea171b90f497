//! MIME detection (magic bytes, then the origin's Content-Type, then the extension), the
//! allow-list, storage categories, extensions and which types are safe to show inline.

use super::Error;

/// How many leading bytes the detector wants to see.
pub const SNIFF_BYTES: usize = 4096;
/// A body of known length up to this size is read whole while sniffing and stored with one
/// plain put: for small files that costs less than setting up a stream to R2.
pub const WHOLE_BODY_BYTES: u64 = 64 * 1024;

const UNKNOWN: &str = "application/octet-stream";

/// SVG, the image type whose files start with no signature: believed as its origin or
/// name says when the bytes are markup with an `<svg` element in their first bytes.
const SVG: &str = "image/svg+xml";

/// Whether `prefix` looks like the start of an SVG document (a BOM and white space, then
/// markup; `<svg` within the prefix, after any XML declaration, comments or doctype).
fn looks_like_svg(prefix: &[u8]) -> bool {
    let text = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    start.is_some_and(|at| text[at] == b'<') && text.windows(4).any(|w| w.eq_ignore_ascii_case(b"<svg"))
}

/// The file's type: magic bytes first, then the origin's `Content-Type` (unless it says
/// nothing, like `application/octet-stream`), then the name's extension. Markup the
/// detector names by its first tag (`<?xml` is XML, `<p ` HTML, `#!` a script) gives way
/// only to a claim that keeps it passive or says what kind of markup it is
/// ([`refines_markup`]): an SVG with an XML declaration first, an XML feed sent as
/// `application/atom+xml`, a README starting with a tag sent as `text/plain`; never to one
/// that would make it run (HTML claimed as `application/hta` or named `x.php` stays HTML).
/// An image type is taken from a header or a name only for SVG whose bytes are SVG markup
/// (text, with no signature: [`looks_like_svg`]). The image formats in use start with a
/// signature the detector knows, so bytes that showed none are taken for no image,
/// whatever they claim (a rare format without one, like TGA, is stored as
/// `application/octet-stream`), and an allow-list of images cannot be passed by naming any
/// file `photo.png` or `x.svg`; a type that runs when opened is never taken from a claim
/// ([`runs_when_opened`]). Sound and video keep their claim: some of their formats, like an
/// MP3 without its tag, start with no signature the detector knows (a transport stream's
/// sync byte excepted: [`is_transport_stream_claim`]).
pub fn detect(prefix: &[u8], content_type: Option<&str>, name: &str) -> String {
    let sniffed = infer::get(prefix);
    let markup = match sniffed {
        Some(kind) if kind.matcher_type() != infer::MatcherType::Text => return kind.mime_type().to_owned(),
        Some(kind) => Some(kind.mime_type()),
        None => None,
    };
    let believable = |mime: &str| {
        (!mime.starts_with("image/") || (mime == SVG && looks_like_svg(prefix)))
            && !runs_when_opened(mime)
            && !is_transport_stream_claim(mime, prefix)
            && markup.is_none_or(|sniffed| refines_markup(mime, sniffed))
    };
    if let Some(essence) = content_type.and_then(essence) {
        if essence != UNKNOWN && believable(&essence) {
            return essence;
        }
    }
    mime_guess::from_path(name)
        .first_raw()
        .filter(|mime| believable(mime))
        .or(sniffed.map(|kind| kind.mime_type()))
        .unwrap_or(UNKNOWN)
        .to_owned()
}

/// Whether a claim may name markup the detector found by its first tag (`sniffed`): as
/// plain text, as SVG, markup that starts as XML as an application's XML type
/// (`application/xml`, `application/atom+xml`, ...), HTML as XHTML or Markdown, and a
/// script (`#!`) as any text or script type (`cli.js` starting `#!/usr/bin/env node`).
fn refines_markup(mime: &str, sniffed: &str) -> bool {
    let xml = matches!(mime, "text/xml" | "application/xml") || (mime.starts_with("application/") && mime.ends_with("+xml"));
    let script = mime.starts_with("text/") || matches!(mime, "application/javascript" | "application/x-sh" | "application/x-python");
    matches!(mime, "text/plain" | SVG)
        || (xml && sniffed == "text/xml")
        || (matches!(mime, "application/xhtml+xml" | "text/markdown") && sniffed == "text/html")
        || (script && sniffed == "text/x-shellscript")
}

/// Types whose files run when opened: never believed from a header or a name. Programs the
/// detector knows by their signature (PE, ELF, Mach-O, OLE) come from the bytes alone
/// (`tool.bat` of text is no program); those no signature proves (an HTML application, a
/// shortcut, a help file, a scriptlet, VBScript, a ClickOnce, XBAP or Java Web Start
/// launcher, a library description) never.
fn runs_when_opened(mime: &str) -> bool {
    matches!(
        mime,
        "application/x-msdownload" | "application/x-msdos-program" | "application/x-dosexec"
            | "application/vnd.microsoft.portable-executable" | "application/x-executable"
            | "application/x-sharedlib" | "application/x-mach-binary" | "application/x-ole-storage"
            | "application/hta" | "application/x-ms-shortcut" | "application/vnd.ms-htmlhelp"
            | "text/scriptlet" | "text/vbscript" | "application/x-ms-application"
            | "application/x-java-jnlp-file" | "application/windows-library+xml"
            | "application/x-ms-xbap" | "application/winhlp"
    )
}

/// MPEG transport streams start with their sync byte: without it, `x.ts` is TypeScript
/// (mime_guess names `.ts` a stream), never a video to show inline.
fn is_transport_stream_claim(mime: &str, prefix: &[u8]) -> bool {
    matches!(mime, "video/vnd.dlna.mpeg-tts" | "video/mp2t") && prefix.first() != Some(&0x47)
}

/// `text/HTML; charset=utf-8` -> `text/html`; `None` for anything not `type/subtype`.
pub fn essence(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    let (ty, sub) = essence.split_once('/')?;
    // RFC 6838: type and subtype names are at most 127 characters.
    let token = |s: &str| {
        (1..=127).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (token(ty) && token(sub)).then_some(essence)
}

/// The `charset` parameter of a `Content-Type`, as written (trimmed, unquoted).
pub fn charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"'))
    })
}

/// The type a file is served with: `mime` (its essence), with the charset the origin
/// declared when it is text and the origin named this same type (`text/plain;
/// charset=ISO-8859-1` -> `text/plain; charset=iso-8859-1`), so clients decode it as the
/// origin meant. A charset that is no token (RFC 9110) is left out.
pub fn served_type(mime: &str, origin_type: Option<&str>) -> String {
    let charset = origin_type
        .filter(|_| mime.starts_with("text/"))
        .filter(|declared| essence(declared).as_deref() == Some(mime))
        .and_then(charset)
        .map(str::to_ascii_lowercase)
        .filter(|c| (1..=40).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:+".contains(&b)));
    match charset {
        Some(charset) => format!("{mime}; charset={charset}"),
        None => mime.to_owned(),
    }
}

/// `ALLOWED_MIME_TYPES`: `*`, or a comma list of `type/subtype` and `type/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList(Vec<String>);

impl AllowList {
    /// Parses the variable; `None` when an entry is not a MIME pattern.
    pub fn parse(spec: &str) -> Option<Self> {
        let mut patterns = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let entry = entry.to_ascii_lowercase();
            let valid = entry == "*"
                || entry.strip_suffix("/*").is_some_and(|ty| essence(&format!("{ty}/x")).is_some())
                || essence(&entry).as_deref() == Some(entry.as_str());
            if !valid {
                return None;
            }
            patterns.push(entry);
        }
        (!patterns.is_empty()).then_some(AllowList(patterns))
    }

    /// Whether `mime` (an essence) matches one of the patterns.
    pub fn allows(&self, mime: &str) -> bool {
        self.0.iter().any(|p| {
            p == "*"
                || p == mime
                || p.strip_suffix('*').is_some_and(|prefix| mime.starts_with(prefix))
        })
    }

    /// Why `mime` is refused, naming what the list takes (its first [`NAMED`] patterns): a
    /// client can tell a type it could convert from a service that takes nothing like it.
    pub fn refusal(&self, mime: &str) -> Error {
        let named = self.0.iter().take(NAMED).map(String::as_str).collect::<Vec<_>>().join(", ");
        let more = match self.0.len().saturating_sub(NAMED) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        Error::TypeNotAllowed(format!("`{mime}` is not allowed (allowed: {named}{more})"))
    }
}

/// How many of the allowed patterns a refusal names.
const NAMED: usize = 12;

/// The folder a file goes to when the client names no `upload_path`.
pub fn category(mime: &str) -> &'static str {
    let (ty, sub) = mime.split_once('/').unwrap_or((mime, ""));
    match ty {
        "image" => "images",
        "video" => "videos",
        "audio" => "audio",
        "text" => "documents",
        _ if is_archive(sub) => "archives",
        _ if is_document(sub) => "documents",
        _ => "others",
    }
}

fn is_archive(sub: &str) -> bool {
    matches!(
        sub,
        "zip" | "gzip" | "x-tar" | "x-7z-compressed" | "vnd.rar" | "x-rar-compressed" | "x-bzip2"
            | "x-xz" | "zstd" | "x-compress" | "x-lzip"
    )
}

fn is_document(sub: &str) -> bool {
    matches!(sub, "pdf" | "rtf" | "msword" | "vnd.ms-excel" | "vnd.ms-powerpoint" | "epub+zip" | "json")
        || sub.starts_with("vnd.openxmlformats-officedocument.")
        || sub.starts_with("vnd.oasis.opendocument.")
}

/// The extension a generated name gets for this type (no dot), `bin` when it has none.
pub fn extension(mime: &str) -> &'static str {
    match mime {
        // The usual spelling where the ones below would pick a rarer one.
        "image/jpeg" => "jpg",
        "text/plain" => "txt",
        "application/octet-stream" => "bin",
        "text/javascript" | "application/javascript" | "application/x-javascript" | "application/ecmascript"
        | "text/ecmascript" => "js",
        "text/markdown" => "md",
        "application/xml" => "xml",
        "application/xhtml+xml" => "xhtml",
        "application/java-archive" => "jar",
        "text/x-c" => "c",
        "audio/midi" => "mid",
        // Types the detector names that mime_guess lists under another name, or not at all.
        "audio/x-wav" => "wav",
        "audio/x-flac" => "flac",
        "audio/x-aiff" => "aiff",
        "audio/opus" => "opus",
        "audio/x-m4a" => "m4a",
        "application/vnd.rar" => "rar",
        "application/zstd" => "zst",
        "application/x-lzip" => "lz",
        "image/vnd.microsoft.icon" => "ico",
        "image/vnd.adobe.photoshop" => "psd",
        "application/vnd.sqlite3" => "sqlite",
        "application/vnd.microsoft.portable-executable" => "exe",
        "text/x-shellscript" | "text/x-sh" | "application/x-shellscript" => "sh",
        // mime_guess lists a type's extensions in alphabetical order (`audio/mpeg`: `m2a`
        // before `mp3`; `text/xml`: `addin` before `xml`): the one the byte detector names
        // too is the usual one, else the first.
        _ => {
            let listed = mime_guess::get_mime_extensions_str(mime).unwrap_or_default();
            listed.iter().find(|ext| infer::is_supported(ext)).or(listed.first()).copied().unwrap_or("bin")
        }
    }
}

/// Whether a file of type `mime` may be saved under `ext`, an extension that runs or renders
/// as a page (`names::saved_name`): the type's usual one, mime_guess's others for it, and
/// those the detector's own types come under (a PE's `dll`, an OLE file's `msi`). None for
/// `text/plain` and `application/octet-stream`, which say nothing of what runs, and only
/// the usual one for `application/xml` and `message/rfc822`.
pub fn vouches_for(mime: &str, ext: &str) -> bool {
    let is = |e: &str| e.eq_ignore_ascii_case(ext);
    match mime {
        "text/plain" | UNKNOWN => false,
        // mime_guess lists ASP.NET's `aspx` for the one, `mht` for the other
        "application/xml" | "message/rfc822" => is(extension(mime)),
        _ => {
            let listed = mime_guess::get_mime_extensions_str(mime).unwrap_or_default();
            is(extension(mime)) || listed.iter().any(|e| is(e)) || DETECTED_UNDER.iter().any(|(m, e)| *m == mime && is(e))
        }
    }
}

/// Extensions the detector's own types come under besides their usual one.
const DETECTED_UNDER: &[(&str, &str)] = &[
    ("application/vnd.microsoft.portable-executable", "dll"),
    ("application/vnd.microsoft.portable-executable", "scr"),
    ("application/vnd.microsoft.portable-executable", "cpl"),
    ("application/vnd.microsoft.portable-executable", "com"),
    ("application/x-ole-storage", "msi"),
    ("application/x-ole-storage", "msp"),
    ("application/x-ole-storage", "mst"),
    ("application/zip", "jar"),
    ("application/gzip", "svgz"),
];

/// Types a browser shows without running script: only these are ever served inline.
/// Everything else (HTML, SVG, XML, JavaScript, unknown) is served as an attachment, and so
/// is any XML type, whatever its top-level type says (`video/x+xml`).
pub fn is_inline_safe(mime: &str) -> bool {
    let passive = matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/avif" | "image/bmp"
            | "image/x-icon" | "image/vnd.microsoft.icon" | "image/tiff" | "image/heic"
            | "image/heif" | "application/pdf" | "text/plain"
    );
    !mime.ends_with("xml") && (passive || mime.starts_with("video/") || mime.starts_with("audio/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";
    const GIF: &[u8] = b"GIF89a\x01\0\x01\0";
    const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 ";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3";

    #[test]
    fn detect_prefers_magic_then_content_type_then_extension() {
        let cases: &[(&[u8], Option<&str>, &str, &str)] = &[
            (PNG, Some("image/png"), "a.png", "image/png"),
            (PNG, Some("text/html"), "a.html", "image/png"),
            (PNG, None, "download", "image/png"),
            (JPEG, Some("image/gif"), "x", "image/jpeg"),
            (GIF, None, "x.bin", "image/gif"),
            (WEBP, Some("application/octet-stream"), "x", "image/webp"),
            (PDF, None, "doc", "application/pdf"),
            (b"hello", Some("text/plain; charset=utf-8"), "x.bin", "text/plain"),
            (b"hello", Some("Text/HTML"), "x", "text/html"),
            (b"hello", Some("application/octet-stream"), "notes.txt", "text/plain"),
            (b"hello", None, "page.html", "text/html"),
            (b"hello", Some("garbage"), "x.json", "application/json"),
            (b"\x00\x01\x02", None, "blob", "application/octet-stream"),
            // a claim the bytes would prove and do not: neither header nor name is believed
            (b"echo hi", Some("image/png"), "x", "application/octet-stream"),
            (b"echo hi", Some("image/jpeg"), "notes.txt", "text/plain"),
            (b"plain words", None, "photo.png", "application/octet-stream"),
            (b"plain words", Some("image/x-anything"), "x", "application/octet-stream"),
            (b"\x00\x01 not markup", Some("image/svg+xml"), "x.svg", "application/octet-stream"),
            (b"<note>markup, no svg</note>", None, "x.svg", "application/octet-stream"),
            (b"\xEF\xBB\xBF\n <?xml version=\"1.0\"?>\n<!-- c -->\n<SVG viewBox=\"0 0 1 1\"/>", None, "x.svg", "image/svg+xml"),
            (b"plain words", None, "favicon.ico", "application/octet-stream"),
            (b"\xff\xf3\x90\xc4", Some("audio/mpeg"), "song.mp3", "audio/mpeg"),
            (b"plain words", Some("application/msword"), "x", "application/msword"),
            (b"<p>no doctype</p>", Some("text/html"), "x", "text/html"),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", Some("image/svg+xml"), "x.svg", "image/svg+xml"),
            (b"", None, "", "application/octet-stream"),
            // markup the detector names by its first tag: what the origin or the name says first
            (b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>", Some("image/svg+xml"), "logo.svg", "image/svg+xml"),
            (b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>", None, "logo.svg", "image/svg+xml"),
            (b"<!-- made by hand -->\n<svg/>", None, "logo.svg", "image/svg+xml"),
            (b"<p align=\"center\">a readme</p>", Some("text/plain"), "README.md", "text/plain"),
            (b"<?xml version=\"1.0\"?>\n<feed/>", None, "download", "text/xml"),
            (b"<html><body>hi</body></html>", None, "download", "text/html"),
            (b"<html><body>hi</body></html>", Some("image/png"), "x.png", "text/html"),
            (b"#!/bin/sh\necho hi", Some("text/plain"), "run", "text/plain"),
            (b"<?xml version=\"1.0\"?>\n<feed/>", Some("application/atom+xml"), "x", "application/atom+xml"),
            (b"<?xml version=\"1.0\"?>\n<urlset/>", Some("application/xml"), "sitemap", "application/xml"),
            // never a claim that would make markup run
            (b"<html><hta:application/><script>run()</script>", Some("application/hta"), "x.hta", "text/html"),
            (b"<html><hta:application/><script>run()</script>", None, "x.hta", "text/html"),
            (b"<!-- x -->\nWScript.Echo(1)", Some("text/javascript"), "x.js", "text/html"),
            (b"<html><body>", None, "index.php", "text/html"),
            (b"<html><body>", None, "x.aspx", "text/html"),
            // markup the detector does not know by its start: an application that runs is
            // still never believed from a name or a header
            (b"hello<script>run()</script>", None, "x.hta", "application/octet-stream"),
            (b"hello<script>run()</script>", Some("application/hta"), "download", "application/octet-stream"),
            (b"plain words", Some("application/x-ole-storage"), "setup.msi", "application/octet-stream"),
            // a script named for what it is, a README that starts with a tag
            (b"#!/usr/bin/env node\nconsole.log(1)", Some("text/javascript"), "cli.js", "text/javascript"),
            (b"<p align=\"center\">a readme</p>", Some("text/markdown"), "README.md", "text/markdown"),
            (b"#!/bin/sh\necho hi", Some("text/x-sh"), "install.sh", "text/x-sh"),
            (b"<?xml version=\"1.0\"?><libraryDescription/>", None, "evil.library-ms", "text/xml"),
            // TypeScript is no transport stream (`.ts`), one that starts with its sync byte is
            (b"export const a = 1;\n", None, "cli.ts", "application/octet-stream"),
            (b"\x47\x40\x00\x10\x00", None, "clip.ts", "video/vnd.dlna.mpeg-tts"),
            (b"<html xmlns=\"http://www.w3.org/1999/xhtml\"><body/></html>", Some("application/xhtml+xml"), "x", "application/xhtml+xml"),
            (b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>", Some("video/x+xml"), "x", "text/xml"),
            // a program is believed only from its signature
            (b"@echo off\r\ndel *", None, "tool.bat", "application/octet-stream"),
            (b"plain words", Some("application/x-msdownload"), "x.exe", "application/octet-stream"),
        ];
        for (prefix, ct, name, want) in cases {
            assert_eq!(detect(prefix, *ct, name), *want, "{ct:?} {name}");
        }
    }

    #[test]
    fn text_keeps_the_charset_its_origin_declared() {
        let cases = [
            ("text/plain", Some("text/plain; charset=UTF-8"), "text/plain; charset=utf-8"),
            ("text/csv", Some("text/csv;charset=\"ISO-8859-1\""), "text/csv; charset=iso-8859-1"),
            ("text/plain", Some("text/plain; format=flowed; Charset=windows-1252"), "text/plain; charset=windows-1252"),
            ("text/plain", Some("text/plain"), "text/plain"),
            ("text/plain", None, "text/plain"),
            // sniffed as another type than the origin said: its charset is not this file's
            ("text/plain", Some("text/html; charset=utf-8"), "text/plain"),
            ("image/png", Some("image/png; charset=utf-8"), "image/png"),
            ("text/plain", Some("text/plain; charset=utf-8\r\nX-Evil: 1"), "text/plain"),
            ("text/plain", Some("text/plain; charset=a b"), "text/plain"),
        ];
        for (mime, origin, want) in cases {
            assert_eq!(served_type(mime, origin), want, "{origin:?}");
        }
    }

    #[test]
    fn essence_normalises_or_refuses() {
        let cases = [
            ("image/PNG", Some("image/png")),
            (" text/plain ; charset=utf-8", Some("text/plain")),
            ("application/vnd.api+json", Some("application/vnd.api+json")),
            ("text", None),
            ("/png", None),
            ("image/", None),
            ("ima ge/png", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(essence(input).as_deref(), want, "{input}");
        }
        let longest = format!("application/{}", "x".repeat(127));
        assert_eq!(essence(&longest).as_deref(), Some(longest.as_str()));
        assert_eq!(essence(&format!("application/{}", "x".repeat(128))), None, "longer than RFC 6838 allows");
    }

    #[test]
    fn allow_list_matches_exact_and_wildcards() {
        let images = AllowList::parse("image/jpeg, image/png,image/gif,image/webp").unwrap();
        let any = AllowList::parse("*").unwrap();
        let wild = AllowList::parse("image/*,application/pdf").unwrap();
        let cases = [
            (&images, "image/png", true),
            (&images, "image/webp", true),
            (&images, "image/svg+xml", false),
            (&images, "application/pdf", false),
            (&any, "application/x-anything", true),
            (&wild, "image/svg+xml", true),
            (&wild, "application/pdf", true),
            (&wild, "imagex/png", false),
            (&wild, "text/plain", false),
        ];
        for (list, mime, want) in cases {
            assert_eq!(list.allows(mime), want, "{list:?} {mime}");
        }
        for bad in ["", " , ", "image", "image/png;x", "*/png", "ima ge/*"] {
            assert_eq!(AllowList::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_refusal_names_what_the_list_takes() {
        let images = AllowList::parse("image/PNG, image/webp,video/*").unwrap();
        assert_eq!(
            images.refusal("application/pdf").to_string(),
            "file type `application/pdf` is not allowed (allowed: image/png, image/webp, video/*)"
        );
        let many = (0..15).map(|i| format!("application/x-{i}")).collect::<Vec<_>>().join(",");
        let named = (0..12).map(|i| format!("application/x-{i}")).collect::<Vec<_>>().join(", ");
        assert_eq!(
            AllowList::parse(&many).unwrap().refusal("text/html").to_string(),
            format!("file type `text/html` is not allowed (allowed: {named} and 3 more)")
        );
    }

    #[test]
    fn category_by_type() {
        let cases = [
            ("image/png", "images"),
            ("video/mp4", "videos"),
            ("audio/mpeg", "audio"),
            ("application/pdf", "documents"),
            ("text/plain", "documents"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "documents"),
            ("application/zip", "archives"),
            ("application/gzip", "archives"),
            ("application/octet-stream", "others"),
            ("font/woff2", "others"),
        ];
        for (mime, want) in cases {
            assert_eq!(category(mime), want, "{mime}");
        }
    }

    #[test]
    fn extension_by_type() {
        let cases = [
            ("image/jpeg", "jpg"),
            ("image/png", "png"),
            ("image/gif", "gif"),
            ("image/webp", "webp"),
            ("application/pdf", "pdf"),
            ("text/plain", "txt"),
            ("application/octet-stream", "bin"),
            ("application/x-made-up", "bin"),
            ("audio/mpeg", "mp3"),
            ("text/xml", "xml"),
            ("application/xml", "xml"),
            ("text/html", "html"),
            ("video/x-matroska", "mkv"),
            ("application/vnd.ms-excel", "xls"),
            ("application/vnd.ms-powerpoint", "ppt"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
            ("audio/ogg", "ogg"),
            ("audio/x-wav", "wav"),
            ("audio/x-flac", "flac"),
            ("application/vnd.rar", "rar"),
            ("image/vnd.microsoft.icon", "ico"),
            ("application/x-bzip2", "bz2"),
            ("text/javascript", "js"),
            ("text/markdown", "md"),
            ("image/svg+xml", "svg"),
            ("application/zip", "zip"),
            ("application/gzip", "gz"),
            ("video/mp4", "mp4"),
            ("text/x-shellscript", "sh"),
        ];
        for (mime, want) in cases {
            assert_eq!(extension(mime), want, "{mime}");
        }
    }

    #[test]
    fn only_passive_types_are_inline() {
        let cases = [
            ("image/png", true),
            ("video/mp4", true),
            ("application/pdf", true),
            ("image/svg+xml", false),
            ("text/html", false),
            ("application/xhtml+xml", false),
            ("text/xml", false),
            ("application/javascript", false),
            ("text/javascript", false),
            ("application/octet-stream", false),
            ("audio/mpeg", true),
            ("text/plain", true),
            ("video/x+xml", false),
            ("audio/vnd.x+xml", false),
        ];
        for (mime, want) in cases {
            assert_eq!(is_inline_safe(mime), want, "{mime}");
        }
    }
}
