//! The caller's own files and quota: `GET|DELETE /api/v1/files/{file_id}`,
//! `POST /api/v1/files/{file_id}/link`, `GET /api/v1/files` and `GET /api/v1/usage`, each
//! one call to the key's authority.
//! Another key's file is "not found", so ids cannot be probed.

use worker::Response;

use super::auth::authenticate;
use super::bindings::Services;
use super::http::{base_url, borrowed, json_body, query, Incoming};
use super::js::now_ms;
use super::respond;
use crate::core::envelope::{Envelope, FileDeleted};
use crate::core::links::{parse_link_request, MAX_LINK_BODY_BYTES};
use crate::core::listing::{encode_cursor, file_data, minted_links, parse_list_query, FileList};
use crate::core::quota::UsageReport;
use crate::core::serve::if_match_holds;
use crate::core::Error;

pub(crate) async fn info(req: &Incoming, services: &Services, file_id: &str) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let row = services.authority(&owner.id).get(file_id).await?;
    let data = file_data(&base_url(req, &services.config)?, &owner.id, &row, services.link_secret.as_ref());
    respond::json(200, &Envelope::ok("File found", data))
}

/// A fresh signed pair for a private file, valid for the asked lifetime (at most the file's);
/// a public file's plain links (they need no signature).
pub(crate) async fn link(req: Incoming, services: &Services, file_id: &str) -> Result<Response, Error> {
    let owner = authenticate(&req, &services.keys).await?;
    // No body at all means no options (a body without a Content-Type is 415, its
    // expires_in never silently lost).
    let expires_in = parse_link_request(&json_body(&req, MAX_LINK_BODY_BYTES).await?)?;
    let row = services.authority(&owner.id).get(file_id).await?;
    let base = base_url(&req, &services.config)?;
    let data = minted_links(&base, &owner.id, &row, services.link_secret.as_ref(), now_ms(), expires_in)?;
    respond::json(200, &Envelope::ok("Links minted", data))
}

pub(crate) async fn delete(req: &Incoming, services: &Services, file_id: &str) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let authority = services.authority(&owner.id);
    if req.header("If-Match").is_some_and(|tags| !if_match_holds(&tags, None)) {
        // Never performed (RFC 9110 13.1.1); a file that is not there is still a 404.
        authority.get(file_id).await?;
        return Err(Error::NoEntityTag);
    }
    // Row, quota and bytes go before the answer: both URLs are 404 from then on.
    authority.delete(file_id).await?;
    respond::json(200, &Envelope::ok("File deleted", FileDeleted { file_id: file_id.to_owned(), deleted: true }))
}

pub(crate) async fn list(req: &Incoming, services: &Services) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let pairs = query(req);
    let page_query = parse_list_query(borrowed(&pairs))?;
    let base = base_url(req, &services.config)?;
    let page = services.authority(&owner.id).list(page_query.clone()).await?;
    let files = page.files.iter().map(|row| file_data(&base, &owner.id, row, services.link_secret.as_ref())).collect();
    let cursor = page.next.map(|last| encode_cursor(&last, &page_query));
    respond::json(200, &Envelope::ok("Files listed", FileList { files, cursor }))
}

pub(crate) async fn usage(req: &Incoming, services: &Services) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let standing = services.authority(&owner.id).usage().await?;
    respond::json(200, &Envelope::ok("Usage", UsageReport::new(owner.id, owner.name, standing.usage, standing.limits)))
}
