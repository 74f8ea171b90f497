//! Reading requests: the request as it came (its URL parsed once), a capped body, the query
//! pairs, and the base of the links we answer.

use js_sys::Uint8Array;
use url::Url;
use wasm_bindgen::JsCast;
use web_sys::ReadableStreamDefaultReader;

use super::js::{describe, read_chunk, wait};
use crate::core::config::Config;
use crate::core::request::{require_identity, require_json};
use crate::core::url_policy::UrlPolicy;
use crate::core::Error;

/// An incoming request: the runtime's own object (not the `worker` crate's wrapper, which
/// reads the `cf` object of every request) and its URL, parsed once.
pub(crate) struct Incoming {
    pub raw: web_sys::Request,
    pub url: Url,
}

impl Incoming {
    pub fn new(raw: web_sys::Request) -> Result<Self, Error> {
        let url = Url::parse(&raw.url()).map_err(|e| Error::internal(format!("request url: {e}")))?;
        Ok(Incoming { raw, url })
    }

    /// The value of header `name`, if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.raw.headers().get(name).ok().flatten()
    }

    /// The body's length as `Content-Length` declares it (`None`: chunked, or no body).
    pub fn declared_length(&self) -> Option<u64> {
        self.header("Content-Length").and_then(|v| v.trim().parse::<u64>().ok())
    }

    pub fn is_head(&self) -> bool {
        self.raw.method() == "HEAD"
    }
}

/// A body without a length that runs past its limit is read on, and dropped, for up to this
/// much more before it is canceled: a client that sent a little too much gets its 413 on a
/// connection left as HTTP expects (a canceled body resets it, and wrangler's dev proxy
/// then held the next request of any client).
const DRAIN_BYTES: u64 = 1024 * 1024;

/// A JSON request body, refusing more than `limit` bytes without keeping more. No body at
/// all, or an empty one however framed, is empty: the body parsers take that as "no
/// options" where a body is optional, and refuse it where one is required. A body of any
/// other kind must be JSON (else 415), never dropped for want of a `Content-Type`.
pub(crate) async fn json_body(req: &Incoming, limit: u64) -> Result<Vec<u8>, Error> {
    let content_type = req.header("Content-Type");
    let declared = req.declared_length();
    match (&content_type, declared) {
        // `curl -d ''` declares a form type for its empty body: still no body
        (_, Some(0)) => return Ok(Vec::new()),
        (Some(ct), Some(_)) => require_json(Some(ct))?,
        (None, Some(_)) => return Err(Error::NotJson),
        // chunked: only its bytes tell an empty body from one of another type
        (_, None) => {}
    }
    require_identity(req.header("Content-Encoding").as_deref())?;
    let body = capped_body(req, declared, limit).await?;
    if !body.is_empty() {
        require_json(content_type.as_deref())?;
    }
    Ok(body)
}

/// Refuses a body sent to a route that reads none ([`Error::BodyNotTaken`]); a body
/// declared or found empty is none. Without a declared length its bytes tell, read as a
/// body capped at nothing (drained as any body past its cap: [`capped_body`]).
pub(crate) async fn no_body(req: &Incoming) -> Result<(), Error> {
    match req.declared_length() {
        Some(0) => Ok(()),
        Some(_) => Err(Error::BodyNotTaken),
        // a body broken before its first byte is none too
        None => match capped_body(req, None, 0).await {
            Err(Error::BodyTooLarge { .. }) => Err(Error::BodyNotTaken),
            _ => Ok(()),
        },
    }
}

/// The request's body, at most `limit` bytes: with a declared length, one native read;
/// without one, read in chunks, and past the limit drained ([`DRAIN_BYTES`]) and refused.
async fn capped_body(req: &Incoming, declared: Option<u64>, limit: u64) -> Result<Vec<u8>, Error> {
    let too_large = Error::BodyTooLarge { limit };
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large);
    }
    // The runtime's words (its "Network connection lost.") are logged, never sent.
    let unreadable = |e: String| {
        worker::console_warn!("request body unreadable: {e}");
        Error::InvalidJson("it could not be read in full (it ended early, or its chunked framing was broken)".into())
    };
    if declared.is_some() {
        // HTTP framing delivers exactly the declared length: one native read.
        let read = req.raw.array_buffer().map_err(|e| unreadable(describe(&e)))?;
        let buffer = wait(read).await.map_err(|e| unreadable(describe(&e)))?;
        return Ok(Uint8Array::new(&buffer).to_vec());
    }
    let Some(stream) = req.raw.body() else { return Ok(Vec::new()) };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = Vec::new();
    while let Some(chunk) = read_chunk(&reader).await.map_err(|e| unreadable(describe(&e)))? {
        if (body.len() + chunk.length() as usize) as u64 > limit {
            let mut dropped = 0;
            while let Ok(Some(chunk)) = read_chunk(&reader).await {
                dropped += u64::from(chunk.length());
                if dropped > DRAIN_BYTES {
                    drop(reader.cancel());
                    break;
                }
            }
            return Err(too_large);
        }
        body.extend(chunk.to_vec());
    }
    Ok(body)
}

/// The decoded query pairs of the request URL.
pub(crate) fn query(req: &Incoming) -> Vec<(String, String)> {
    req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// `pairs` ([`query`]'s) as the core's query parsers read them.
pub(crate) fn borrowed(pairs: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The URL policy of this request ([`Config::policy_for`]).
pub(crate) fn request_policy(req: &Incoming, config: &Config) -> UrlPolicy {
    config.policy_for(&req.url)
}

/// Where links point: `PUBLIC_BASE_URL`, else the request's own origin.
pub(crate) fn base_url(req: &Incoming, config: &Config) -> Result<Url, Error> {
    if let Some(base) = &config.public_base_url {
        return Ok(base.clone());
    }
    Url::parse(&req.url.origin().ascii_serialization()).map_err(Error::internal)
}
