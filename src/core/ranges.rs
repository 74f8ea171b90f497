//! Fetching a file in ranges: which origins allow it, how a file splits into parts (the
//! ranges fetched and the R2 multipart parts are the same), and how often a broken range
//! is retried. The Worker's engine (`server::parallel`) runs what this plans.

use crate::core::clock::parse_http_date;

/// The first request to an origin asks for this much (`Range: bytes=0-1048575`): an origin
/// that serves ranges answers 206 with the file's total size and validator, one that does
/// not answers 200 with the whole file, and smaller files are done in that one request.
pub const PROBE_BYTES: u64 = 1024 * 1024;
/// R2's smallest multipart part (all parts but the last are the same size).
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// Parts grow past this only when a file needs more than `LANES` of them.
pub const MAX_PART_BYTES: u64 = 8 * 1024 * 1024;
/// Connections fetching one file at once. With the R2 calls each lane makes one at a time,
/// a file never has more than this many outbound calls waiting for headers.
pub const LANES: u64 = 5;
/// Attempts per range (the first one included) before the upload fails.
pub const MAX_ATTEMPTS: u32 = 5;
/// Part sizes are whole 64 KiB: fine enough that every lane fetches as much as the others
/// (whole MiB made 64 MiB nine parts of 7 MiB and one of 1, so four lanes fetched 14 MiB
/// where 12.8 would do), coarse enough to keep sizes readable.
const PART_UNIT: u64 = 64 * 1024;
/// One connection that brings the probe's first MiB at this rate (MiB/s) or faster, from
/// the request on (so a far-away origin's round trips count), already outruns what one R2
/// put takes (about 120 MiB/s measured in local workerd): parallel ranges cannot gain there,
/// and the file goes up as one streamed put, still resumed where it breaks. A slower
/// connection (an origin more than a few milliseconds away, a throttled CDN) gets parallel
/// ranges. The default of `ONE_STREAM_MIB_S`.
pub const ONE_STREAM_MIB_S: u64 = 64;

/// How a file of `total` bytes is fetched and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub total: u64,
    /// Size of every part but the last.
    pub part_bytes: u64,
    pub parts: u64,
    /// Connections at once: `LANES`, or fewer when there are fewer parts.
    pub lanes: u64,
}

impl Plan {
    /// Splits `total` bytes into rounds of `LANES` equal parts of at most `MAX_PART_BYTES`
    /// (more rounds for larger files), so every lane fetches about as much as the others;
    /// parts are whole 64 KiB and at least R2's minimum. Memory: at most `lanes + 1` parts are
    /// held at once (see `server::parallel`), 48 MiB at most.
    pub fn new(total: u64) -> Plan {
        let rounds = total.div_ceil(LANES * MAX_PART_BYTES).max(1);
        let even = total.div_ceil(LANES * rounds).div_ceil(PART_UNIT) * PART_UNIT;
        let part_bytes = even.max(MIN_PART_BYTES);
        let parts = total.div_ceil(part_bytes).max(1);
        Plan { total, part_bytes, parts, lanes: parts.min(LANES) }
    }

    /// Whether the file is one part: stored with one put, not a multipart upload.
    pub fn single(&self) -> bool {
        self.parts == 1
    }

    /// The byte range `[start, end)` of part `index` (from 0).
    pub fn part(&self, index: u64) -> (u64, u64) {
        let start = index * self.part_bytes;
        (start, (start + self.part_bytes).min(self.total))
    }
}

/// How long the first `bytes` may take, from the request on, for the file to be stored as
/// one stream (their rate at least `mib_s` MiB/s, see [`ONE_STREAM_MIB_S`]) rather than in
/// parallel ranges, in whole milliseconds; `None` when `mib_s` is 0 (never one stream).
pub fn one_stream_budget_ms(bytes: u64, mib_s: u64) -> Option<u64> {
    (mib_s > 0).then(|| bytes.saturating_mul(1000) / mib_s.saturating_mul(1024 * 1024))
}

/// What identifies one version of the file, sent back as `If-Range` so a file that
/// changes between requests is refused rather than spliced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validator {
    /// The header value for `If-Range`.
    pub if_range: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Validator {
    /// From a response's `ETag`, `Last-Modified` and `Date`: a strong ETag, else a
    /// Last-Modified date that is strong itself, its response's `Date` a second or more
    /// after it (RFC 9110, 8.8.2.2: a file changed again within the second it was modified
    /// has the same date for both versions, and a server comparing `If-Range` dates would
    /// send the other's bytes). A weak ETag alone cannot validate a range (13.1.5), nor can
    /// a date that is not strong, but both are kept: a later response whose ETag it is not,
    /// even weakly, or whose date differs, is another version.
    pub fn from_headers(etag: Option<&str>, last_modified: Option<&str>, date: Option<&str>) -> Option<Validator> {
        let etag = etag.map(str::trim).filter(|e| {
            let tag = opaque(e);
            tag.starts_with('"') && tag.len() >= 2 && tag.ends_with('"')
        });
        let last_modified = last_modified.map(str::trim).filter(|d| !d.is_empty());
        let strong = etag.filter(|e| opaque(e) == *e);
        let sent_later = |modified: &&str| matches!((parse_http_date(modified), date.and_then(parse_http_date)), (Some(at), Some(sent)) if sent > at);
        let if_range = strong.or(last_modified.filter(sent_later))?.to_owned();
        Some(Validator { if_range, etag: etag.map(str::to_owned), last_modified: last_modified.map(str::to_owned) })
    }

    /// The ETag sent as `If-Range`, if it is one (a strong one).
    fn strong_etag(&self) -> Option<&str> {
        self.etag.as_deref().filter(|e| opaque(e) == *e)
    }

    /// Whether a later response can be of the same version: nothing it carries contradicts
    /// the probe's validators ([`compare`](Self::compare); an origin that honoured
    /// `If-Range` may leave them out).
    pub fn matches(&self, etag: Option<&str>, last_modified: Option<&str>) -> bool {
        self.compare(etag, last_modified, true)
    }

    /// Whether a response from a server that was never asked before names this very
    /// validator (nothing shows it honours `If-Range`: leaving it out is no answer).
    pub fn named_by(&self, etag: Option<&str>, last_modified: Option<&str>) -> bool {
        self.compare(etag, last_modified, false)
    }

    /// The validator that decides (a strong ETag, else the date) against the response's
    /// own; `absent`: what a response that leaves it out is taken for. A strong ETag that
    /// matches decides alone; otherwise a date or a (weakly compared) ETag that differs is
    /// another version, whichever half the response carries.
    fn compare(&self, etag: Option<&str>, last_modified: Option<&str>, absent: bool) -> bool {
        let etag = etag.map(str::trim);
        let dates = self.last_modified.as_deref().zip(last_modified.map(str::trim)).map(|(ours, theirs)| ours == theirs);
        match (self.strong_etag(), etag) {
            (Some(ours), Some(theirs)) => ours == theirs,
            // A strong ETag left out: only `absent` can pass it, unless a date contradicts.
            (Some(_), None) => absent && dates != Some(false),
            (None, theirs) => {
                let tags = self.etag.as_deref().zip(theirs).map(|(ours, theirs)| opaque(ours) == opaque(theirs));
                tags != Some(false) && dates.unwrap_or(absent)
            }
        }
    }
}

/// An entity tag without its weakness mark (`W/"x"` is `"x"`): the weak comparison of RFC
/// 9110, 8.8.3.2.
fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// A `Content-Range: bytes first-last/total` header: `(first, last, total)`; `None` for
/// anything else (`*`, an unknown total, other units, `last < first`).
pub fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (first, last, total) = (number(first)?, number(last)?, number(total)?);
    (first <= last && last < total).then_some((first, last, total))
}

/// The `Range` header for bytes `[start, end)`.
pub fn range_header(start: u64, end: u64) -> String {
    format!("bytes={start}-{}", end - 1)
}

/// Whether an origin's answer `status` to a range request is a failed attempt to try again
/// (408, 429, a 5xx: the origin says to come back), rather than a refusal of the file.
pub fn passing_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The wait before attempt `attempt` (2, 3, ...): 250 ms, doubling, at most 4 s.
pub fn backoff_ms(attempt: u32) -> u64 {
    (250u64 << attempt.saturating_sub(2).min(4)).min(4_000)
}

/// How long one attempt may go without receiving a byte before it is abandoned and the
/// range retried: a quarter of the upload's deadline, between 1 and 15 seconds.
pub fn idle_timeout_ms(deadline_ms: u64) -> u64 {
    (deadline_ms / 4).clamp(1_000, 15_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;
    /// A response's `Date`, well after the dates the tests' files were modified.
    const SENT: &str = "Fri, 23 Oct 2015 07:28:00 GMT";

    #[test]
    fn only_answers_that_say_come_back_are_tried_again() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert!(passing_status(status), "{status}");
        }
        for status in [200, 206, 301, 400, 401, 403, 404, 410, 412, 416, 451] {
            assert!(!passing_status(status), "{status}");
        }
    }

    #[test]
    fn plans_split_evenly_in_parts_of_r2_size() {
        let cases = [
            // total, part, parts, lanes
            (2 * MIB, 5 * MIB, 1, 1),
            (5 * MIB, 5 * MIB, 1, 1),
            (5 * MIB + 1, 5 * MIB, 2, 2),
            (16 * MIB, 5 * MIB, 4, 4),
            (20 * MIB, 5 * MIB, 4, 4),
            (20 * MIB + 1, 5 * MIB, 5, 5),
            (40 * MIB, 8 * MIB, 5, 5),
            // Two rounds of five parts of 6.4 MiB, rounded up to 64 KiB: the last 6.06 MiB.
            (64 * MIB, 103 * 64 * 1024, 10, 5),
            // Three rounds of 6.67 MiB, rounded up to 6.69: the last 6.38 MiB.
            (100 * MIB, 107 * 64 * 1024, 15, 5),
            (66 * MIB, 106 * 64 * 1024, 10, 5),
            (5 * 1024 * MIB, 8 * MIB, 640, 5),
        ];
        for (total, part, parts, lanes) in cases {
            let plan = Plan::new(total);
            assert_eq!((plan.part_bytes, plan.parts, plan.lanes), (part, parts, lanes), "{total}");
            assert_eq!(plan.part(plan.parts - 1).1, total);
            assert!(plan.part(plan.parts - 1).1 - plan.part(plan.parts - 1).0 <= plan.part_bytes);
            assert!(plan.part_bytes % PART_UNIT == 0 && plan.part_bytes <= MAX_PART_BYTES);
        }
    }

    #[test]
    fn parts_tile_the_file() {
        for total in [1, MIB, 5 * MIB + 1, 33 * MIB + 7, 64 * MIB, 101 * MIB + 3] {
            let plan = Plan::new(total);
            let mut next = 0;
            for i in 0..plan.parts {
                let (start, end) = plan.part(i);
                assert_eq!(start, next);
                assert!(end > start);
                assert!(i + 1 == plan.parts || end - start == plan.part_bytes);
                next = end;
            }
            assert_eq!(next, total);
        }
    }

    #[test]
    fn one_stream_only_from_a_connection_faster_than_storage() {
        // Within the budget: one stream.
        let one_stream = |bytes, ms, mib_s| one_stream_budget_ms(bytes, mib_s).is_some_and(|budget| ms <= budget);
        let fast = |bytes, ms| one_stream(bytes, ms, ONE_STREAM_MIB_S);
        // The probe's MiB: 15.6 ms is 64 MiB/s, the edge.
        assert_eq!(one_stream_budget_ms(MIB, ONE_STREAM_MIB_S), Some(15));
        assert!(fast(MIB, 0));
        assert!(fast(MIB, 3));
        assert!(fast(MIB, 15));
        assert!(!fast(MIB, 16), "just under 64 MiB/s");
        assert!(!fast(MIB, 31), "the tests' 32 MiB/s throttle");
        assert!(!fast(MIB, 250), "the bench's 4 MiB/s throttle");
        assert!(!fast(MIB, u64::MAX), "no overflow");
        assert!(fast(4 * MIB, 62) && !fast(4 * MIB, 63));
        // ONE_STREAM_MIB_S: 0 turns it off; 1 takes anything that came within a second.
        assert_eq!(one_stream_budget_ms(MIB, 0), None);
        assert!(one_stream(MIB, 1000, 1) && !one_stream(MIB, 1001, 1));
        assert_eq!(one_stream_budget_ms(MIB, 1_000_000), Some(0));
        assert!(one_stream_budget_ms(u64::MAX, u64::MAX).is_some(), "no overflow");
    }

    #[test]
    fn validators_are_strong_etags_or_dates() {
        let v = Validator::from_headers(Some("\"abc\""), None, None).unwrap();
        assert_eq!(v.if_range, "\"abc\"");
        assert!(v.matches(Some(" \"abc\""), None));
        assert!(!v.matches(Some("\"abd\""), None));
        assert!(v.matches(None, Some("Thu, 22 Oct 2015 07:28:00 GMT")), "the ETag decides, and may be left out");
        assert_eq!(Validator::from_headers(Some("W/\"abc\""), None, None), None);
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let v = Validator::from_headers(Some("W/\"abc\""), Some(date), Some(SENT)).unwrap();
        assert_eq!(v.if_range, date);
        assert!(v.matches(None, Some(date)) && !v.matches(None, Some("Thu, 22 Oct 2015 07:28:00 GMT")));
        assert!(v.matches(Some("W/\"abc\""), Some(date)) && v.matches(Some("\"abc\""), Some(date)), "weakly the same");
        assert!(!v.matches(Some("\"other\""), Some(date)), "the same date, another ETag: another version");
        assert!(!v.matches(Some("\"other\""), None), "whichever half the response carries");
        assert!(v.matches(None, None) && !v.named_by(None, None));
        // a strong ETag that matches decides alone; left out, a date that differs tells
        let v = Validator::from_headers(Some("\"abc\""), Some(date), Some(SENT)).unwrap();
        assert!(v.matches(Some("\"abc\""), Some("Thu, 22 Oct 2015 07:28:00 GMT")));
        assert!(!v.matches(None, Some("Thu, 22 Oct 2015 07:28:00 GMT")) && v.matches(None, Some(date)));
        assert!(!v.named_by(None, Some(date)), "a server never asked before must name the strong ETag");
        assert_eq!(Validator::from_headers(None, None, None), None);
    }

    #[test]
    fn a_date_validates_ranges_only_when_its_response_was_sent_a_second_or_more_later() {
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let v = Validator::from_headers(None, Some(date), Some("Wed, 21 Oct 2015 07:28:01 GMT")).unwrap();
        assert_eq!(v.if_range, date, "a second later: strong");
        for weak in [Some(date), None, Some("not a date")] {
            assert_eq!(Validator::from_headers(None, Some(date), weak), None, "sent {weak:?}");
            assert_eq!(Validator::from_headers(Some("W/\"abc\""), Some(date), weak), None, "sent {weak:?}, a weak ETag beside");
        }
        assert_eq!(Validator::from_headers(None, Some("yesterday"), Some(SENT)), None, "a date that is none");
        let v = Validator::from_headers(Some("\"abc\""), Some(date), Some(date)).unwrap();
        assert_eq!(v.if_range, "\"abc\"", "a strong ETag needs no date");
        assert!(!v.matches(None, Some("Thu, 22 Oct 2015 07:28:00 GMT")), "the date still tells another version");
    }

    #[test]
    fn a_server_never_asked_before_must_name_the_validator() {
        let v = Validator::from_headers(Some("\"abc\""), None, None).unwrap();
        assert!(v.named_by(Some("\"abc\""), None));
        assert!(!v.named_by(None, None) && !v.named_by(None, Some("Thu, 22 Oct 2015 07:28:00 GMT")));
        assert!(!v.named_by(Some("\"abd\""), None));
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let v = Validator::from_headers(None, Some(date), Some(SENT)).unwrap();
        assert!(v.named_by(None, Some(date)) && v.named_by(Some("\"any\""), Some(date)));
        assert!(!v.named_by(Some("\"any\""), None) && !v.named_by(None, Some("Thu, 22 Oct 2015 07:28:00 GMT")));
    }

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("bytes 0-1048575/5000000"), Some((0, 1048575, 5000000)));
        assert_eq!(parse_content_range(" bytes 7-7/8"), Some((7, 7, 8)));
        for bad in ["bytes */100", "bytes 0-9/*", "items 0-9/10", "bytes 5-4/10", "bytes 0-10/10", "bytes 0-9"] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
        assert_eq!(range_header(0, PROBE_BYTES), "bytes=0-1048575");
    }

    #[test]
    fn retries_back_off_and_idle_timeouts_follow_the_deadline() {
        assert_eq!([2, 3, 4, 5, 6, 9].map(backoff_ms), [250, 500, 1000, 2000, 4000, 4000]);
        assert_eq!(idle_timeout_ms(30_000), 7_500);
        assert_eq!(idle_timeout_ms(2_000), 1_000);
        assert_eq!(idle_timeout_ms(600_000), 15_000);
    }
}
