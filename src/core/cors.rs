//! Cross-origin access: the browser client may call the API from any origin. Keys travel
//! in `Authorization`, never in cookies, so `*` exposes nothing a caller does not hold.

use super::error::Error;
use super::route::route;

/// `Access-Control-Allow-Origin` on every response.
pub const ALLOW_ORIGIN: &str = "*";
/// Request headers a cross-origin caller may send. `Content-Encoding` too, though a coded
/// body is refused: so that a page gets that 415 (and its `Accept-Encoding: identity`),
/// not a failed preflight that reads as a network error.
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Content-Encoding, Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range, Prefer, Idempotency-Key";
/// Response headers a cross-origin caller may read besides the safelisted ones.
pub const EXPOSE_HEADERS: &str =
    "Content-Disposition, Content-Range, Accept-Ranges, ETag, WWW-Authenticate, Retry-After, Location, Preference-Applied, Idempotent-Replayed, Link, Allow, Accept-Encoding";
/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE: &str = "86400";

/// The methods a preflight (`OPTIONS`) for `path` may announce, or the route's 404. No route
/// accepts `OPTIONS`, and every route checks the method before the path's ids, so the table's
/// own 405 names exactly the route's methods.
pub fn preflight(path: &str) -> Result<&'static str, Error> {
    match route("OPTIONS", path) {
        Err(Error::MethodNotAllowed { allow }) => Ok(allow),
        Err(err) => Err(err),
        Ok(_) => Err(Error::internal("a route accepts OPTIONS")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_announces_the_routes_methods() {
        let cases = [
            ("/api/v1/files/upload/url", Ok("POST")),
            ("/api/v1/health", Ok("GET, HEAD")),
            ("/api/v1/files/download/file_0123456789abcdef0123456789abcdef", Ok("GET, HEAD")),
            ("/f/k_dev/images/a.png", Ok("GET, HEAD")),
            ("/api/v1/files/file_0123456789abcdef0123456789abcdef", Ok("GET, HEAD, DELETE")),
            ("/api/v1/files/file_nope", Ok("GET, HEAD, DELETE")),
            ("/api/v1/files", Ok("GET, HEAD")),
            ("/api/v1/usage", Ok("GET, HEAD")),
            ("/api/v1/files/upload/urls", Ok("POST")),
            ("/api/v1/admin/keys", Ok("GET, HEAD, POST")),
            ("/api/v1/admin/keys/k_1", Ok("GET, HEAD, PATCH, DELETE")),
            ("/api/v1/files/a/b", Err(Error::RouteNotFound)),
            // an id's place empty or split: no route, so no methods to announce
            ("/api/v1/jobs/a/b", Err(Error::RouteNotFound)),
            ("/api/v1/admin/keys/", Err(Error::RouteNotFound)),
            ("/api/v1/nope", Err(Error::RouteNotFound)),
        ];
        for (path, want) in cases {
            assert_eq!(preflight(path), want, "{path}");
        }
    }
}
