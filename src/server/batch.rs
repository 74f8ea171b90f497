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
    // Items running now, and how many have started: an item overlapped others if any ran
    // when it started or started while it ran. `freed`: an item ended otherwise than
    // refused for the quota (what it held is given back, or its length was less).
    let (running, started, freed) = (Cell::new(0usize), Cell::new(0u64), Cell::new(false));
    let (upload, gate, retry_after) = (&upload, &gate, &retry_after);
    let (running, started, freed) = (&running, &started, &freed);
    let run = |i: usize, item: Result<UploadRequest, Error>| async move {
        let request = match item {
            Ok(request) => request,
            Err(err) => return (Err(err), false),
        };
        let alone = running.get() == 0;
        let start = started.get() + 1;
        started.set(start);
        running.set(running.get() + 1);
        let result = upload.run(request, Some(i), services, gate).await.map(|answered| answered.data.envelope());
        running.set(running.get() - 1);
        if !matches!(result, Err(Error::QuotaExceeded(_))) {
            freed.set(true);
        }
        (result, !alone || started.get() != start)
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
    // in request order, once they ended, if one of them ended otherwise (and so may have
    // left room): an item of unknown length holds what the quota leaves while it runs,
    // which a lone upload would not have met. (Not an item whose name other items share:
    // run later, it would take the name from the last of them.) Background jobs start
    // after the uploads stored now have ended: a job's transfer starts at once and holds
    // the quota for as long as it runs, which a lone upload sent before it would not meet.
    let (now, later): (Vec<_>, Vec<_>) =
        run_order(&items).into_iter().partition(|group| !group.iter().any(|&i| items[i].as_ref().is_ok_and(|r| upload.runs_as_job(r))));
    let mut slots: Vec<Option<Result<UploadRequest, Error>>> = items.into_iter().map(Some).collect();
    let mut answered = Vec::with_capacity(slots.len());
    for phase in [now, later] {
        let runs = phase.into_iter().map(|group| {
            let items: Vec<_> = group.into_iter().filter_map(|i| Some((i, slots[i].take()?))).collect();
            let alone = items.len() == 1;
            async move {
                let mut answers = Vec::with_capacity(items.len());
                // An item of an earlier send with the batch's `Idempotency-Key` still runs:
                // that send runs the group's later items in their turn, so this one leaves
                // them to it (run now, one could take the name before the earlier item).
                let mut running_elsewhere: Option<Error> = None;
                for (i, item) in items {
                    if let Some(err) = &running_elsewhere {
                        answers.push((i, Ok(answer(Err(err.clone())))));
                        continue;
                    }
                    let again = item.as_ref().ok().filter(|_| alone).cloned();
                    match (run(i, item).await, again) {
                        ((Err(err @ Error::QuotaExceeded(_)), true), Some(request)) => answers.push((i, Err((request, err)))),
                        ((result, _), _) => {
                            if let Err(err @ Error::IdempotencyKeyInFlight { .. }) = &result {
                                running_elsewhere = Some(err.clone());
                            }
                            answers.push((i, Ok(answer(result))));
                        }
                    }
                }
                answers
            }
        });
        // Unordered: a group that ends frees its place at once, whatever runs before it (in
        // request order, a slow first item would hold back every group after the fifth).
        let mut ran: Vec<_> = stream::iter(runs).buffer_unordered(CONCURRENCY).collect::<Vec<_>>().await.into_iter().flatten().collect();
        ran.sort_by_key(|(i, _)| *i);
        let retry = freed.get();
        for (i, outcome) in ran {
            let envelope = match outcome {
                Ok(envelope) => envelope,
                Err((request, _)) if retry => answer(run(i, Ok(request)).await.0),
                // nothing beside it ended otherwise: its refusal stands
                Err((_, refused)) => answer(Err(refused)),
            };
            answered.push((i, envelope));
        }
    }
    answered.sort_by_key(|(i, _)| *i);
    let results = answered.into_iter().map(|(_, envelope)| envelope).collect();
    let data = BatchData::new(results);
    let mut response = respond::json(200, &Envelope::ok(&data.summary(), data))?;
    if let Some(secs) = retry_after.get() {
        let _ = response.headers_mut().set("Retry-After", &secs.to_string());
    }
    Ok(response)
}
