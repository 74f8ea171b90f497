//! `POST /api/v1/files/upload/urls`: up to 20 uploads, a few at a time, each through the
//! single-upload path (items naming one file one after another), answered in request order.

use std::cell::Cell;

use futures_util::{stream, StreamExt};
use worker::Response;

use super::auth::authenticate_upload;
use super::bindings::Services;
use super::http::{json_body, request_policy, Incoming};
use super::respond;
use super::upload::Upload;
use crate::core::batch::{parse_batch, run_order, BatchData, CONCURRENCY, MAX_BATCH_BODY_BYTES};
use crate::core::envelope::Envelope;
use crate::core::gate::Gate;
use crate::core::request::UploadRequest;
use crate::core::Error;

pub(crate) async fn handle(req: Incoming, services: &Services) -> Result<Response, Error> {
    let owner = authenticate_upload(&req, &services.keys).await?;
    services.rate_limit(&owner).await?;
    let body = json_body(&req, MAX_BATCH_BODY_BYTES).await?;
    let policy = request_policy(&req, &services.config);
    let items = parse_batch(&body, &policy)?;
    let upload = Upload::of(&req, &owner, &policy, services)?;
    // An `Idempotency-Key` names each item by its place: a job, or a file stored now.
    // One gate for the whole request: its items' outbound calls share the six slots.
    let gate = Gate::default();
    // The longest wait an item's error asks for (an item refused for the isolate's
    // buffers or an unread blocklist, 503; one whose earlier try with the key still runs,
    // 409): the answer's `Retry-After`, as a single upload's would have.
    let retry_after = Cell::new(None);
    let (upload, gate, retry_after) = (&upload, &gate, &retry_after);
    let run = |i: usize, item: Result<UploadRequest, Error>| async move {
        match item {
            Ok(request) => upload.run(request, Some(i), services, gate).await.map(|answered| answered.data.envelope()),
            Err(err) => Err(err),
        }
    };
    let answer = |result: Result<_, Error>| {
        result.unwrap_or_else(|err| {
            respond::log_internal("batch item", &err);
            retry_after.set(retry_after.get().max(err.retry_after_secs()));
            Envelope::error(&err)
        })
    };
    // Each group's items one after another (items naming one file, in request order), at
    // most CONCURRENCY groups at once; the answers go back to their items' places. An item
    // refused for the key's quota while others ran beside it is kept to run again alone,
    // in request order, once they ended: an item of unknown length holds what the quota
    // leaves while it runs, which a lone upload would not have met. (Not an item whose name
    // other items share: run later, it would take the name from the last of them.)
    let groups = run_order(&items);
    let several = items.len() > 1;
    let mut slots: Vec<Option<Result<UploadRequest, Error>>> = items.into_iter().map(Some).collect();
    let runs = groups.into_iter().map(|group| {
        let items: Vec<_> = group.into_iter().filter_map(|i| Some((i, slots[i].take()?))).collect();
        let retried = several && items.len() == 1;
        async move {
            let mut answers = Vec::with_capacity(items.len());
            for (i, item) in items {
                let again = item.as_ref().ok().filter(|_| retried).cloned();
                match (run(i, item).await, again) {
                    (Err(Error::QuotaExceeded(_)), Some(request)) => answers.push((i, Err(request))),
                    (result, _) => answers.push((i, Ok(answer(result)))),
                }
            }
            answers
        }
    });
    // Unordered: a group that ends frees its place at once, whatever runs before it (in
    // request order, a slow first item would hold back every group after the fifth).
    let mut ran: Vec<_> = stream::iter(runs).buffer_unordered(CONCURRENCY).collect::<Vec<_>>().await.into_iter().flatten().collect();
    ran.sort_by_key(|(i, _)| *i);
    let mut answered = Vec::with_capacity(ran.len());
    for (i, outcome) in ran {
        let envelope = match outcome {
            Ok(envelope) => envelope,
            Err(request) => answer(run(i, Ok(request)).await),
        };
        answered.push((i, envelope));
    }
    let results = answered.into_iter().map(|(_, envelope)| envelope).collect();
    let data = BatchData::new(results);
    let mut response = respond::json(200, &Envelope::ok(&data.summary(), data))?;
    if let Some(secs) = retry_after.get() {
        let _ = response.headers_mut().set("Retry-After", &secs.to_string());
    }
    Ok(response)
}
