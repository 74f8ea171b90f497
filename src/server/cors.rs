//! CORS on the wire: answering preflights and marking every response readable cross-origin.

use worker::Response;

use crate::core::cors::{preflight, ALLOW_HEADERS, ALLOW_ORIGIN, EXPOSE_HEADERS, MAX_AGE};
use crate::core::Error;

/// The answer to `OPTIONS path`: 204 with the route's methods (for CORS, and in `Allow` as
/// RFC 9110 section 9.3.7 asks of any OPTIONS answer), or the route's error.
pub(crate) fn answer_preflight(path: &str) -> Result<Response, Error> {
    let methods = preflight(path)?;
    let mut response = Response::empty().map_err(Error::internal)?.with_status(204);
    let headers = response.headers_mut();
    for (name, value) in [
        ("Allow", methods),
        ("Access-Control-Allow-Methods", methods),
        ("Access-Control-Allow-Headers", ALLOW_HEADERS),
        ("Access-Control-Max-Age", MAX_AGE),
    ] {
        headers.set(name, value).map_err(Error::internal)?;
    }
    Ok(response)
}

/// Adds the headers that let a page on another origin read `response`.
pub(crate) fn allow_cross_origin(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let _ = headers.set("Access-Control-Allow-Origin", ALLOW_ORIGIN);
    let _ = headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
    response
}
