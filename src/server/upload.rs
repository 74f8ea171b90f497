//! `POST /api/v1/files/upload/url`: authenticate, parse, run the upload flow, answer.

use futures_util::StreamExt;
use url::Url;
use worker::{Date, Request, Response};

use super::auth::authenticate;
use super::bindings::Services;
use super::origin::WorkerOrigin;
use super::r2::R2Store;
use super::respond;
use crate::core::config::Config;
use crate::core::envelope::Envelope;
use crate::core::flow::{upload, UploadContext};
use crate::core::request::{parse_upload, require_json, MAX_BODY_BYTES};
use crate::core::Error;

pub(crate) async fn handle(mut req: Request, services: &Services) -> Result<Response, Error> {
    let owner = authenticate(&req, &services.keys).await?;
    require_json(req.headers().get("Content-Type").ok().flatten().as_deref())?;
    let body = read_capped(&mut req).await?;
    let own = req.url().map_err(|e| Error::internal(format!("request url: {e}")))?;
    let policy = services.config.url_policy.clone().with_own_host(&own);
    let request = parse_upload(&body, &policy)?;

    let base = base_url(&own, &services.config)?;
    let ctx = UploadContext {
        config: &services.config,
        policy: &policy,
        owner: &owner,
        base_url: &base,
        now_ms: Date::now().as_millis() as i64,
    };
    let origin = WorkerOrigin::new(services.config.fetch_timeout_ms);
    let store = R2Store { bucket: &services.bucket, origin: &origin };
    let data = upload(request, &ctx, &origin, &store).await?;
    respond::json(200, &Envelope::ok("File uploaded successfully", data))
}

/// The request body, refusing more than [`MAX_BODY_BYTES`] without reading past them.
async fn read_capped(req: &mut Request) -> Result<Vec<u8>, Error> {
    let too_large = Error::BodyTooLarge { limit: MAX_BODY_BYTES };
    let declared = req.headers().get("Content-Length").ok().flatten().and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(too_large);
    }
    let mut body = Vec::new();
    let Ok(mut stream) = req.stream() else { return Ok(body) };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::InvalidJson(format!("request body could not be read ({e})")))?;
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_BODY_BYTES {
            return Err(too_large);
        }
    }
    Ok(body)
}

/// Where links point: `PUBLIC_BASE_URL`, else the request's own origin.
fn base_url(own: &Url, config: &Config) -> Result<Url, Error> {
    if let Some(base) = &config.public_base_url {
        return Ok(base.clone());
    }
    Url::parse(&own.origin().ascii_serialization()).map_err(Error::internal)
}
