//! Per-key request rates on the upload routes: a few fixed tiers, each a Workers Rate
//! Limiting binding (a binding's limit is fixed per namespace), counted per key id.

use super::error::Error;

/// The window every tier counts over, in seconds (also the `Retry-After` of a refusal).
pub const PERIOD_SECS: u32 = 60;

/// Upload requests per minute a key may be given, each with its binding in `wrangler.toml`
/// (`[[ratelimits]]`). `0` means no limit.
pub const TIERS: &[(u32, &str)] = &[(10, "RATE_LIMIT_10"), (100, "RATE_LIMIT_100"), (1000, "RATE_LIMIT_1000")];

/// What a rate limit must be, told when it is not.
pub const RATE_RULE: &str = "must be 0 (no limit), 10, 100 or 1000 upload requests per minute, or null";

/// The binding that enforces `limit` (`None`: no limit).
pub fn binding(limit: u32) -> Option<&'static str> {
    TIERS.iter().find(|(n, _)| *n == limit).map(|(_, name)| *name)
}

/// The tier that enforces `limit`, and its binding (`None`: `0`, no limit). A value that is
/// no tier (a key record written by hand, a tier a later version dropped) is held to the
/// largest tier below it, else the smallest: never to no limit at all.
pub fn enforced(limit: u32) -> Option<(u32, &'static str)> {
    if limit == 0 {
        return None;
    }
    let below = TIERS.iter().filter(|(n, _)| *n <= limit).max_by_key(|(n, _)| *n);
    below.or_else(|| TIERS.iter().min_by_key(|(n, _)| *n)).copied()
}

/// Checks a limit: `0` or one of the [`TIERS`].
pub fn validate(limit: u32, field: &'static str) -> Result<u32, Error> {
    if limit == 0 || binding(limit).is_some() {
        Ok(limit)
    } else {
        Err(Error::invalid(field, RATE_RULE))
    }
}

/// The refusal of a request over `limit`.
pub fn exceeded(limit: u32) -> Error {
    Error::RateLimited { limit, retry_after_secs: PERIOD_SECS }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers() {
        assert_eq!(binding(0), None);
        assert_eq!(binding(100), Some("RATE_LIMIT_100"));
        assert_eq!(enforced(50), Some((10, "RATE_LIMIT_10")));
        for ok in [0, 10, 100, 1000] {
            assert_eq!(validate(ok, "rate_limit"), Ok(ok));
        }
        for bad in [1, 50, 1001] {
            assert_eq!(validate(bad, "rate_limit").unwrap_err().field(), Some("rate_limit"));
        }
        // a value that is no tier is held to the one below it, else the smallest
        let enforced_as = [0, 10, 50, 100, 999, 1000, 5000, 1, 9].map(|l| enforced(l).map(|(n, _)| n));
        assert_eq!(enforced_as, [None, Some(10), Some(10), Some(100), Some(100), Some(1000), Some(1000), Some(10), Some(10)]);
        let err = exceeded(10);
        assert_eq!(err.status(), 429);
        assert!(!err.public_message().contains("quota"), "distinct from the quota's message");
        assert!(err.public_message().contains("at most 10 upload requests per minute"));
    }
}
