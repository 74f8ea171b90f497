//! Serving a stored file: ranges, conditional requests and response headers.

use super::clock::{http_date, parse_http_date, remaining_secs};
use super::error::Error;
use super::mime::{essence, is_inline_safe};
use super::names::content_disposition;

/// Longest `max-age` sent for a `download_url`, whatever the remaining lifetime.
pub const MAX_AGE_CAP_SECS: u64 = 86_400;
/// ...and its `s-maxage`: how long a shared cache (a proxy, a CDN) may serve its copy, so
/// a file deleted or taken down stops reaching others within minutes, not a day (a
/// browser's own copy is of bytes its user has already).
pub const SHARED_MAX_AGE_SECS: u64 = 300;

/// How the client reached the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `file_url`: inline when the type cannot run script and its downloads are not
    /// counted; the name can be overwritten.
    Inline,
    /// `download_url`: always an attachment; one `file_id` is always the same bytes.
    Attachment,
}

/// What the headers of a served file are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served<'a> {
    pub size: u64,
    /// The quoted HTTP ETag.
    pub etag: &'a str,
    /// Its `Content-Type` (a text file's with its charset).
    pub mime_type: &'a str,
    /// The name `Content-Disposition` gives: on `file_url` the stored name (the URL's last
    /// segment, as a user who chose `file_name` expects), on `download_url` the original one,
    /// as `names::chosen_name` and `names::saved_name` save them (`invoice.hta` of HTML:
    /// `invoice.hta.html`).
    pub file_name: &'a str,
    /// Sent as `Last-Modified`, and what date preconditions compare with: on `download_url`
    /// the upload's time, on `file_url` [`name_modified_ms`]. `None`: no `Last-Modified`,
    /// and `If-Modified-Since` and `If-Unmodified-Since` are ignored (RFC 9110 §13.1.3-4).
    pub modified_ms: Option<i64>,
    pub expires_ms: i64,
    /// Private (signed links): no cache may keep a copy.
    pub private: bool,
    /// Has `max_downloads`: no cache may keep a copy, and each GET serves it whole.
    pub counted: bool,
}

/// An inclusive byte range `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// The request headers that decide a file response's status (RFC 9110 §13.2.2).
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_range: Option<&'a str>,
    pub range: Option<&'a str>,
}

impl Conditions<'_> {
    /// Whether the answer may go without the file's body (a 304, 412, 206 or 416): the
    /// server reads the metadata first. `If-Range` alone changes nothing without `Range`.
    pub fn may_skip_body(&self) -> bool {
        [self.if_match, self.if_unmodified_since, self.if_none_match, self.if_modified_since, self.range].iter().any(Option::is_some)
    }
}

/// What a file request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the whole file.
    Whole,
    /// 206 with one range.
    Part(ByteRange),
    /// 304: the client's copy is current.
    NotModified,
}

/// The answer to a GET (or, `head`, a HEAD) of `file`, its preconditions evaluated in RFC
/// 9110's order: `If-Match` (else `If-Unmodified-Since`) refused is 412; `If-None-Match`
/// (else `If-Modified-Since`) matched is 304; then `Range`, for GET only and when
/// [`range_applies`]. Dates compare in whole seconds, as `Last-Modified` has them.
pub fn answer(file: &Served<'_>, conditions: &Conditions<'_>, head: bool) -> Result<Answer, Error> {
    let modified_secs = file.modified_ms.map(|ms| ms.div_euclid(1000));
    let date = |text: Option<&str>| text.and_then(parse_http_date).zip(modified_secs);
    let unchanged = match (conditions.if_match, date(conditions.if_unmodified_since)) {
        (Some(tags), _) => if_match_holds(tags, Some(file.etag)),
        (None, Some((since, modified))) => modified <= since,
        (None, None) => true,
    };
    if !unchanged {
        return Err(Error::PreconditionFailed);
    }
    let current = match (conditions.if_none_match, date(conditions.if_modified_since)) {
        (Some(tags), _) => not_modified(Some(tags), file.etag),
        (None, Some((since, modified))) => modified <= since,
        (None, None) => false,
    };
    if current {
        return Ok(Answer::NotModified);
    }
    if head || !range_applies(file, conditions.if_range) {
        return Ok(Answer::Whole);
    }
    Ok(parse_range(conditions.range, file.size)?.map_or(Answer::Whole, Answer::Part))
}

/// The `Last-Modified` of the file a name holds (`file_url`), in ms, from when it took the
/// name (`named_ms`): the whole second after that, so that a copy of any file the name held
/// before, served at the latest in the second the name changed hands, is dated earlier and
/// an `If-Modified-Since` from it is never answered 304 (two changes of a name within one
/// second would otherwise share a date, and an upload's own time says nothing of the order
/// in which uploads took the name). `None` until that second has begun: no date is sent in
/// the future.
pub fn name_modified_ms(named_ms: i64, now_ms: i64) -> Option<i64> {
    let next_second = (named_ms.div_euclid(1000) + 1) * 1000;
    (next_second <= now_ms).then_some(next_second)
}

/// Whether an `If-Match` list holds for a current resource whose ETag is `etag`: `*` (any
/// current representation), or `etag` by strong comparison. A resource without an ETag
/// (`None`: the API's JSON records) meets only `*`.
pub fn if_match_holds(tags: &str, etag: Option<&str>) -> bool {
    tags.split(',').map(str::trim).any(|t| t == "*" || (!t.starts_with("W/") && Some(t) == etag))
}

/// A single `Range: bytes=` range against a file of `size` bytes. `Ok(None)` serves the
/// whole file (no header, a multi-range, another unit, a malformed range, or a suffix
/// range of an empty file, which no 206 can describe); an unsatisfiable range is 416 (one
/// that starts at or past the end, an empty file's `bytes=0-` included, or `bytes=-0` of a
/// file that is not empty). Empty list
/// elements (`bytes=0-9,`) are ignored, as RFC 9110 section 5.6.1 asks of every list.
pub(crate) fn parse_range(header: Option<&str>, size: u64) -> Result<Option<ByteRange>, Error> {
    let Some((unit, set)) = header.and_then(|h| h.trim().split_once('=')) else { return Ok(None) };
    let mut specs = set.split(',').filter(|s| !s.trim().is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else { return Ok(None) };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Ok(None) };
    // `1*DIGIT`; a position past u64 is as good as the end of the file.
    let parse = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().unwrap_or(u64::MAX))
    };
    let unsatisfiable = Err(Error::RangeNotSatisfiable { size });
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => return Ok(None),
        (true, false) => {
            let Some(n) = parse(last) else { return Ok(None) };
            if size == 0 {
                return Ok(None);
            }
            if n == 0 {
                return unsatisfiable;
            }
            ByteRange { start: size.saturating_sub(n), end: size - 1 }
        }
        (false, open_end) => {
            let Some(start) = parse(first) else { return Ok(None) };
            let end = if open_end { u64::MAX } else { match parse(last) { Some(e) => e, None => return Ok(None) } };
            if end < start {
                return Ok(None);
            }
            if start >= size {
                return unsatisfiable;
            }
            ByteRange { start, end: end.min(size - 1) }
        }
    };
    Ok(Some(range))
}

/// Whether a `Range` may be honoured for `file`: never for a file with `max_downloads` (each
/// GET serves it whole and counts: a range from byte 1 would read it uncounted, and a
/// player's 2-byte probe would use a download up); under `If-Range`, only when its entity tag
/// is strongly equal to the file's (with a date, never: two uploads to one name within a
/// second share their `Last-Modified`). Otherwise the whole file is served (200), so a
/// resumed download never splices two versions of a name.
fn range_applies(file: &Served<'_>, if_range: Option<&str>) -> bool {
    match if_range.map(str::trim) {
        _ if file.counted => false,
        None => true,
        Some(tag) => !tag.starts_with("W/") && tag == file.etag,
    }
}

/// Whether `If-None-Match` matches `etag` (weak comparison, `*` matches anything).
fn not_modified(if_none_match: Option<&str>, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match.is_some_and(|h| h.split(',').any(|t| t.trim() == "*" || bare(t) == bare(etag)))
}

/// The headers a 304 keeps of [`headers`]: those that update a cached copy, and `Vary`
/// (RFC 9110 §15.4.5).
pub const NOT_MODIFIED_HEADERS: [&str; 4] = ["ETag", "Last-Modified", "Cache-Control", "Vary"];

/// What a file's answer depends on besides its URL: whether the load was one that
/// [`refuse_own_subresource`] refuses, so a browser never takes a copy it kept from a download
/// for a script of the service's own pages.
const VARY: &str = "Sec-Fetch-Dest, Sec-Fetch-Site";

/// `Sec-Fetch-Dest` of a load that would run code in a page or style it.
const ACTIVE_DESTINATIONS: &[&str] = &["script", "style", "worker", "sharedworker", "serviceworker", "audioworklet", "paintworklet", "xslt"];

/// Refuses (403) a stored file that a page of the service's own origin loads as a script,
/// style sheet, worker or worklet (Fetch Metadata: `Sec-Fetch-Site: same-origin` and one of
/// [`ACTIVE_DESTINATIONS`]). The web app's Content-Security-Policy trusts its own origin's
/// scripts, and an uploaded script lives on that origin: this keeps it from counting as one.
/// Every other load (other sites, documents, downloads, images, media, `fetch`) is served.
pub fn refuse_own_subresource(site: Option<&str>, dest: Option<&str>) -> Result<(), Error> {
    let same_origin = site.is_some_and(|s| s.trim().eq_ignore_ascii_case("same-origin"));
    let active = dest.is_some_and(|d| ACTIVE_DESTINATIONS.iter().any(|a| d.trim().eq_ignore_ascii_case(a)));
    if same_origin && active {
        return Err(Error::Forbidden("a stored file is never a script, style sheet or worker of this service's own pages"));
    }
    Ok(())
}

/// The headers of every file response (200, 206 and HEAD alike; a 304 keeps
/// [`NOT_MODIFIED_HEADERS`]).
pub fn headers(file: &Served<'_>, mode: Mode, now_ms: i64) -> Vec<(&'static str, String)> {
    // A counted file goes as an attachment on both links: shown inline, a player's probes
    // (`Range: bytes=0-1`, each served whole and counted) would use its downloads up.
    let inline = mode == Mode::Inline && !file.counted && essence(file.mime_type).is_some_and(|mime| is_inline_safe(&mime));
    let disposition = if inline { "inline" } else { "attachment" };
    // `no-transform`: the bytes go out as stored, never compressed on the way (Cloudflare
    // compresses text types unless told not to, and a compressed copy under the same strong
    // ETag would break `If-Range` resumes and checksums).
    let cache = match mode {
        // A private or counted file: a kept copy would outlive its signature's expiry, its
        // deletion and its last download.
        _ if file.private || file.counted => "private, no-store, no-transform".to_owned(),
        Mode::Inline => "public, max-age=0, must-revalidate, no-transform".to_owned(),
        Mode::Attachment => {
            let age = remaining_secs(file.expires_ms, now_ms).min(MAX_AGE_CAP_SECS);
            let shared = age.min(SHARED_MAX_AGE_SECS);
            format!("public, max-age={age}, s-maxage={shared}, immutable, no-transform")
        }
    };
    let last_modified = file.modified_ms.map(|ms| ("Last-Modified", http_date(ms)));
    [
        ("Content-Type", file.mime_type.to_owned()),
        ("Content-Disposition", content_disposition(disposition, file.file_name)),
        ("ETag", file.etag.to_owned()),
    ]
    .into_iter()
    .chain(last_modified)
    .chain([
        ("Cache-Control", cache),
        ("Accept-Ranges", if file.counted { "none" } else { "bytes" }.to_owned()),
        ("X-Content-Type-Options", "nosniff".to_owned()),
        ("Content-Security-Policy", "sandbox".to_owned()),
        ("Vary", VARY.to_owned()),
    ])
    .collect()
}

/// A private file's refused link, as `mode` answers it. On `file_url`, whose names can be
/// guessed, a missing or wrong signature is "no such file" (404), so nobody can probe which
/// private files a key holds; a genuine signature past its `exp` (only a link's holder has
/// one) keeps its 403. On `download_url`, whose ids cannot be guessed, every refusal is 403.
pub fn refused_link(err: Error, mode: Mode) -> Error {
    match (mode, err) {
        (Mode::Inline, Error::Forbidden(_)) => Error::FileNotFound,
        (_, err) => err,
    }
}

/// `Content-Range` of a partial response.
pub fn content_range(range: ByteRange, size: u64) -> String {
    format!("bytes {}-{}/{size}", range.start, range.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pages_never_load_a_stored_file_as_code_or_style() {
        let refused = |site, dest| refuse_own_subresource(site, dest).is_err();
        for dest in ["script", "style", "worker", "sharedworker", "serviceworker", "audioworklet", "paintworklet", "xslt", "Script"] {
            assert!(refused(Some("same-origin"), Some(dest)), "{dest}");
            // another site may embed what it likes: its own policy decides
            assert!(!refused(Some("cross-site"), Some(dest)), "{dest}");
            assert!(!refused(Some("same-site"), Some(dest)), "{dest}");
            assert!(!refused(None, Some(dest)), "{dest}");
        }
        for dest in ["document", "iframe", "image", "video", "audio", "empty", "font", "embed", "object"] {
            assert!(!refused(Some("same-origin"), Some(dest)), "{dest}");
        }
        assert!(!refused(Some("same-origin"), None), "no Fetch Metadata: curl, older browsers");
        let err = refuse_own_subresource(Some("same-origin"), Some("script")).unwrap_err();
        assert_eq!(err.status(), 403);
    }

    type RangeCase<'a> = (Option<&'a str>, u64, Result<Option<ByteRange>, Error>);

    #[test]
    fn ranges() {
        let r = |start, end| Ok(Some(ByteRange { start, end }));
        let cases: Vec<RangeCase> = vec![
            (None, 100, Ok(None)),
            (Some("bytes=0-9"), 100, r(0, 9)),
            (Some("bytes=10-"), 100, r(10, 99)),
            (Some("bytes=-10"), 100, r(90, 99)),
            (Some("bytes=-500"), 100, r(0, 99)),
            (Some("bytes=90-500"), 100, r(90, 99)),
            (Some("bytes= 5 - 6 "), 100, r(5, 6)),
            (Some("bytes=100-"), 100, Err(Error::RangeNotSatisfiable { size: 100 })),
            (Some("bytes=-0"), 100, Err(Error::RangeNotSatisfiable { size: 100 })),
            (Some("bytes=0-0"), 0, Err(Error::RangeNotSatisfiable { size: 0 })),
            (Some("bytes=0-"), 0, Err(Error::RangeNotSatisfiable { size: 0 })),
            (Some("bytes=-5"), 0, Ok(None)),
            (Some("Bytes=0-9"), 100, r(0, 9)),
            (Some("bytes=10-99999999999999999999"), 100, r(10, 99)),
            (Some("bytes=99999999999999999999-"), 100, Err(Error::RangeNotSatisfiable { size: 100 })),
            (Some("bytes=+5-+9"), 100, Ok(None)),
            (Some("bytes=-+5"), 100, Ok(None)),
            (Some("bytes=0-1,5-6"), 100, Ok(None)),
            (Some("bytes=0-0,"), 100, r(0, 0)),
            (Some("bytes= , 5-6 ,,"), 100, r(5, 6)),
            (Some("bytes=,"), 100, Ok(None)),
            (Some("bytes=9-1"), 100, Ok(None)),
            (Some("items=0-1"), 100, Ok(None)),
            (Some("bytes=a-b"), 100, Ok(None)),
            (Some("bytes=-"), 100, Ok(None)),
        ];
        for (header, size, want) in cases {
            assert_eq!(parse_range(header, size), want, "{header:?}");
        }
        assert_eq!(content_range(ByteRange { start: 90, end: 99 }, 100), "bytes 90-99/100");
    }

    #[test]
    fn if_range_and_counting() {
        let plain = Served { size: 3, etag: "\"a\"", mime_type: "image/png", file_name: "a", modified_ms: Some(0), expires_ms: 0, private: false, counted: false };
        assert!(range_applies(&plain, None));
        assert!(range_applies(&plain, Some(" \"a\" ")));
        assert!(!range_applies(&plain, Some("\"b\"")), "a stale validator gets the whole file");
        assert!(!range_applies(&plain, Some("W/\"a\"")), "weak validators never match");
        assert!(!range_applies(&plain, Some("Sun, 29 Nov 2026 10:00:00 GMT")));
        assert!(range_applies(&Served { private: true, ..plain.clone() }, None), "a private file has ranges");
        let counted = Served { counted: true, ..plain };
        assert!(!range_applies(&counted, None) && !range_applies(&counted, Some("\"a\"")), "a counted file is always whole");
    }

    #[test]
    fn preconditions_in_order() {
        // Uploaded at 2025-10-09T00:00:00.500Z.
        let file = Served { size: 100, etag: "\"a\"", mime_type: "image/png", file_name: "a", modified_ms: Some(1_759_968_000_500), expires_ms: 0, private: false, counted: false };
        let (at, before, after) = ("Thu, 09 Oct 2025 00:00:00 GMT", "Wed, 08 Oct 2025 23:59:59 GMT", "Thu, 09 Oct 2025 00:00:01 GMT");
        let part = Answer::Part(ByteRange { start: 0, end: 9 });
        let c = Conditions::default;
        let cases: Vec<(Conditions, bool, Result<Answer, Error>)> = vec![
            (c(), false, Ok(Answer::Whole)),
            (Conditions { range: Some("bytes=0-9"), ..c() }, false, Ok(part)),
            (Conditions { range: Some("bytes=0-9"), ..c() }, true, Ok(Answer::Whole)),
            (Conditions { range: Some("bytes=200-"), ..c() }, true, Ok(Answer::Whole)),
            (Conditions { if_match: Some("\"a\""), range: Some("bytes=0-9"), ..c() }, false, Ok(part)),
            (Conditions { if_match: Some("\"x\", \"a\""), ..c() }, false, Ok(Answer::Whole)),
            (Conditions { if_match: Some("*"), ..c() }, false, Ok(Answer::Whole)),
            (Conditions { if_match: Some("\"b\""), range: Some("bytes=0-9"), ..c() }, false, Err(Error::PreconditionFailed)),
            (Conditions { if_match: Some("W/\"a\""), ..c() }, true, Err(Error::PreconditionFailed)),
            // If-Match decides alone; then If-Unmodified-Since.
            (Conditions { if_match: Some("\"a\""), if_unmodified_since: Some(before), ..c() }, false, Ok(Answer::Whole)),
            (Conditions { if_unmodified_since: Some(before), ..c() }, false, Err(Error::PreconditionFailed)),
            (Conditions { if_unmodified_since: Some(at), ..c() }, false, Ok(Answer::Whole)),
            (Conditions { if_unmodified_since: Some("not a date"), ..c() }, false, Ok(Answer::Whole)),
            // A failed precondition outranks a matching If-None-Match.
            (Conditions { if_match: Some("\"b\""), if_none_match: Some("\"a\""), ..c() }, false, Err(Error::PreconditionFailed)),
            (Conditions { if_none_match: Some("\"a\""), range: Some("bytes=0-9"), ..c() }, false, Ok(Answer::NotModified)),
            (Conditions { if_none_match: Some("\"b\""), if_modified_since: Some(after), ..c() }, false, Ok(Answer::Whole)),
            (Conditions { if_modified_since: Some(at), ..c() }, true, Ok(Answer::NotModified)),
            (Conditions { if_modified_since: Some(after), ..c() }, false, Ok(Answer::NotModified)),
            (Conditions { if_modified_since: Some(before), range: Some("bytes=0-9"), ..c() }, false, Ok(part)),
            (Conditions { if_range: Some("\"b\""), range: Some("bytes=0-9"), ..c() }, false, Ok(Answer::Whole)),
            (Conditions { range: Some("bytes=100-"), ..c() }, false, Err(Error::RangeNotSatisfiable { size: 100 })),
        ];
        for (conditions, head, want) in cases {
            assert_eq!(answer(&file, &conditions, head), want, "{conditions:?} head {head}");
        }
        // Without a date (a name's file in the second it took the name), dates decide nothing.
        let undated = Served { modified_ms: None, ..file };
        assert_eq!(answer(&undated, &Conditions { if_modified_since: Some(after), ..c() }, false), Ok(Answer::Whole));
        assert_eq!(answer(&undated, &Conditions { if_unmodified_since: Some(before), ..c() }, false), Ok(Answer::Whole));
        assert_eq!(answer(&undated, &Conditions { if_none_match: Some("\"a\""), ..c() }, false), Ok(Answer::NotModified));
        assert!(!headers(&undated, Mode::Inline, 0).iter().any(|(name, _)| *name == "Last-Modified"));
    }

    #[test]
    fn if_match_without_an_etag_holds_only_for_any() {
        for (tags, want) in [("*", true), (r#""x", *"#, true), (r#""x""#, false), (r#"W/"x""#, false), ("", false)] {
            assert_eq!(if_match_holds(tags, None), want, "{tags}");
        }
        assert!(if_match_holds(r#"W/"x", "x""#, Some(r#""x""#)));
        assert!(!if_match_holds(r#"W/"x""#, Some(r#""x""#)));
    }

    #[test]
    fn a_name_is_dated_the_second_after_it_changed_hands() {
        // took the name at 10.250 s: dated 11 s, from 11 s on
        assert_eq!(name_modified_ms(10_250, 10_999), None, "not in the future");
        assert_eq!(name_modified_ms(10_250, 11_000), Some(11_000));
        assert_eq!(name_modified_ms(10_000, 60_000), Some(11_000), "a name taken on the second is dated the next");
        // Whatever the order of two changes of a name, the copy served before the second
        // change is dated earlier than the name's file after it: a copy of the first file,
        // served at `served`, against the second, named at `second` >= `served`.
        for (first, served, second) in [(10_100, 11_000, 11_000), (10_100, 11_200, 11_900), (10_100, 11_999, 12_000), (5_000, 9_000, 9_500)] {
            let old = name_modified_ms(first, served).unwrap();
            let new = name_modified_ms(second, second + 2_000).unwrap();
            assert!(old.div_euclid(1000) < new.div_euclid(1000), "{first} {served} {second}");
        }
    }

    #[test]
    fn conditional() {
        let cases = [
            (Some("\"abc\""), true),
            (Some("W/\"abc\""), true),
            (Some("\"x\", \"abc\""), true),
            (Some("*"), true),
            (Some("\"abd\""), false),
            (None, false),
        ];
        for (header, want) in cases {
            assert_eq!(not_modified(header, "\"abc\""), want, "{header:?}");
        }
    }

    #[test]
    fn headers_by_mode_and_type() {
        let file = |mime| Served { size: 3, etag: "\"e\"", mime_type: mime, file_name: "a b.png", modified_ms: Some(1_759_968_000_500), expires_ms: 100_000, private: false, counted: false };
        let get = |h: &[(&str, String)], name: &str| h.iter().find(|(k, _)| *k == name).unwrap().1.clone();
        let cases = [
            ("image/png", Mode::Inline, "inline;", "public, max-age=0, must-revalidate, no-transform"),
            ("image/png", Mode::Attachment, "attachment;", "public, max-age=90, s-maxage=90, immutable, no-transform"),
            ("image/svg+xml", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("text/html", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("application/octet-stream", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("application/xhtml+xml", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("application/xml", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("text/xml", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("text/javascript", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("application/javascript", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("application/x-unknown", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
            ("text/html", Mode::Attachment, "attachment;", "public, max-age=90, s-maxage=90, immutable, no-transform"),
            ("text/plain; charset=iso-8859-1", Mode::Inline, "inline;", "public, max-age=0, must-revalidate, no-transform"),
            ("text/html; charset=utf-8", Mode::Inline, "attachment;", "public, max-age=0, must-revalidate, no-transform"),
        ];
        for (mime, mode, disposition, cache) in cases {
            let h = headers(&file(mime), mode, 10_000);
            assert!(get(&h, "Content-Disposition").starts_with(disposition), "{mime} {mode:?}");
            assert!(get(&h, "Content-Disposition").ends_with("filename*=UTF-8''a%20b.png"));
            assert_eq!(get(&h, "Cache-Control"), cache);
            assert_eq!(get(&h, "Content-Type"), mime);
            assert_eq!(get(&h, "X-Content-Type-Options"), "nosniff");
            assert_eq!(get(&h, "Content-Security-Policy"), "sandbox");
            assert_eq!(get(&h, "ETag"), "\"e\"");
            assert_eq!(get(&h, "Last-Modified"), "Thu, 09 Oct 2025 00:00:00 GMT");
        }
        let h = headers(&file("image/png"), Mode::Attachment, 100_000 - 10 * 86_400_000);
        assert_eq!(get(&h, "Cache-Control"), "public, max-age=86400, s-maxage=300, immutable, no-transform");
        for (private, counted, ranges) in [(true, false, "bytes"), (false, true, "none"), (true, true, "none")] {
            for mode in [Mode::Inline, Mode::Attachment] {
                let h = headers(&Served { private, counted, ..file("image/png") }, mode, 10_000);
                assert_eq!(get(&h, "Cache-Control"), "private, no-store, no-transform", "private {private}, counted {counted}, {mode:?}");
                assert_eq!(get(&h, "Accept-Ranges"), ranges);
                let inline = mode == Mode::Inline && !counted;
                assert!(get(&h, "Content-Disposition").starts_with(if inline { "inline;" } else { "attachment;" }), "private {private}, counted {counted}, {mode:?}");
            }
        }
        assert_eq!(get(&headers(&file("image/png"), Mode::Inline, 10_000), "Accept-Ranges"), "bytes");
    }

    #[test]
    fn refused_links_hide_private_names() {
        let unsigned = || Error::Forbidden("this file is private: its link needs a valid signature (exp and sig)");
        assert_eq!(refused_link(unsigned(), Mode::Inline), Error::FileNotFound);
        assert_eq!(refused_link(Error::LinkExpired, Mode::Inline), Error::LinkExpired);
        assert_eq!(refused_link(unsigned(), Mode::Attachment), unsigned());
        assert_eq!(refused_link(Error::LinkExpired, Mode::Attachment), Error::LinkExpired);
    }
}
