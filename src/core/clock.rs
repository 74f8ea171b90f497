//! Time arithmetic: upload and expiry timestamps, ISO 8601 and HTTP-date text, remaining
//! lifetimes.

use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat};

/// `ms` since the Unix epoch as ISO 8601 with an explicit offset: `2025-10-09T00:00:00+00:00`.
pub fn iso8601(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `ms` since the Unix epoch as an IMF-fixdate (`Last-Modified`): `Thu, 09 Oct 2025 00:00:00 GMT`.
pub fn http_date(ms: i64) -> String {
    let secs = u64::try_from(ms.div_euclid(1000)).unwrap_or(0);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// An HTTP-date in any of the three formats a recipient must accept (RFC 9110 §5.6.7:
/// IMF-fixdate, RFC 850, asctime), as seconds since the Unix epoch; `None` for anything
/// else (a conditional with an invalid date is ignored, RFC 9110 §13.1.3).
pub fn parse_http_date(text: &str) -> Option<i64> {
    let at = httpdate::parse_http_date(text.trim()).ok()?;
    at.duration_since(UNIX_EPOCH).ok().and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// When a file uploaded at `now_ms` expires. Whole seconds, so the two ISO stamps differ
/// by exactly the TTL.
pub fn expires_at_ms(now_ms: i64, ttl_secs: u64) -> i64 {
    let now_secs_ms = now_ms - now_ms.rem_euclid(1000);
    now_secs_ms.saturating_add((ttl_secs as i64).saturating_mul(1000))
}

/// Whole seconds left before `expires_ms`; zero once it has passed.
pub fn remaining_secs(expires_ms: i64, now_ms: i64) -> u64 {
    (expires_ms.saturating_sub(now_ms).max(0) / 1000) as u64
}

/// Whether a file that expires at `expires_ms` is gone at `now_ms`.
pub fn is_expired(expires_ms: i64, now_ms: i64) -> bool {
    now_ms >= expires_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(1_759_968_000_999), "Thu, 09 Oct 2025 00:00:00 GMT");
        let secs = Some(1_759_968_000);
        for text in ["Thu, 09 Oct 2025 00:00:00 GMT", " Thu, 09 Oct 2025 00:00:00 GMT ", "Thursday, 09-Oct-25 00:00:00 GMT", "Thu Oct  9 00:00:00 2025"] {
            assert_eq!(parse_http_date(text), secs, "{text:?}");
        }
        for text in ["", "yesterday", "2025-10-09T00:00:00Z", "Thu, 09 Oct 2025 00:00:00 +0100", "\"etag\""] {
            assert_eq!(parse_http_date(text), None, "{text:?}");
        }
    }

    #[test]
    fn iso_stamps_carry_an_offset() {
        let cases = [
            (0, "1970-01-01T00:00:00+00:00"),
            (1_759_968_000_000, "2025-10-09T00:00:00+00:00"),
            (1_759_968_000_999, "2025-10-09T00:00:00+00:00"),
            (1_760_227_200_000, "2025-10-12T00:00:00+00:00"),
        ];
        for (ms, want) in cases {
            assert_eq!(iso8601(ms), want);
        }
    }

    #[test]
    fn expiry_is_ttl_after_the_upload_second() {
        let cases = [
            (1_759_968_000_000, 259_200, 1_760_227_200_000),
            (1_759_968_000_750, 259_200, 1_760_227_200_000),
            (1_000, 2, 3_000),
        ];
        for (now, ttl, want) in cases {
            assert_eq!(expires_at_ms(now, ttl), want);
            assert_eq!(iso8601(want), iso8601(now + ttl as i64 * 1000 - (now % 1000)));
        }
    }

    #[test]
    fn remaining_and_expired() {
        let cases = [(10_000, 0, 10, false), (10_000, 9_001, 0, false), (10_000, 10_000, 0, true), (10_000, 20_000, 0, true)];
        for (expires, now, left, gone) in cases {
            assert_eq!(remaining_secs(expires, now), left);
            assert_eq!(is_expired(expires, now), gone);
        }
    }
}
