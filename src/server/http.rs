//! Reading requests: a capped body, the query pairs, and the base of the links we answer.

use futures_util::StreamExt;
use url::Url;
use worker::Request;

use crate::core::config::Config;
use crate::core::request::require_json;
use crate::core::url_policy::UrlPolicy;
use crate::core::Error;

/// A JSON request body, refusing more than `limit` bytes without reading past them.
pub(crate) async fn json_body(req: &mut Request, limit: u64) -> Result<Vec<u8>, Error> {
    require_json(req.headers().get("Content-Type").ok().flatten().as_deref())?;
    let too_large = Error::BodyTooLarge { limit };
    let declared = req.headers().get("Content-Length").ok().flatten().and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large);
    }
    let mut body = Vec::new();
    let Ok(mut stream) = req.stream() else { return Ok(body) };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::InvalidJson(format!("request body could not be read ({e})")))?;
        body.extend_from_slice(&chunk);
        if body.len() as u64 > limit {
            return Err(too_large);
        }
    }
    Ok(body)
}

fn request_url(req: &Request) -> Result<Url, Error> {
    req.url().map_err(|e| Error::internal(format!("request url: {e}")))
}

/// The decoded query pairs of the request URL.
pub(crate) fn query(req: &Request) -> Result<Vec<(String, String)>, Error> {
    Ok(request_url(req)?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// The URL policy of this request: the configured one plus the request's own host, so the
/// Worker never fetches itself.
pub(crate) fn request_policy(req: &Request, config: &Config) -> Result<UrlPolicy, Error> {
    Ok(config.url_policy.clone().with_own_host(&request_url(req)?))
}

/// Where links point: `PUBLIC_BASE_URL`, else the request's own origin.
pub(crate) fn base_url(req: &Request, config: &Config) -> Result<Url, Error> {
    if let Some(base) = &config.public_base_url {
        return Ok(base.clone());
    }
    Url::parse(&request_url(req)?.origin().ascii_serialization()).map_err(Error::internal)
}
