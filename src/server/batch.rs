//! `POST /api/v1/files/upload/urls`: up to 20 uploads, a few at a time, each through the
//! single-upload path (items naming one file one after another), answered in request order.

use std::cell::Cell;

use futures_util::{stream, StreamExt};
use worker::Response;

use super::auth::authenticate_upload;
use super::bindings::Services;
use super::http::{json_body, request_policy, Incoming};
use super::respond;
use super::upload::{Place, Upload};
use crate::core::batch::{parse_batch, run_order, BatchData, ItemData, CONCURRENCY, MAX_BATCH_BODY_BYTES};
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
    // An `Idempotency-Key` names each item by its place: a job, or a file stored now.
    let upload = Upload::of(&req, &owner, &policy, services)?;
    let batch = Batch::new(&upload, services);
    let data = BatchData::new(batch.run(items).await);
    let mut response = respond::json(200, &Envelope::ok(&data.summary(), data))?;
    if let Some(secs) = batch.retry_after.get() {
        let _ = response.headers_mut().set("Retry-After", &secs.to_string());
    }
    Ok(response)
}

/// An item as parsed: its upload, or why it is not one.
type Item = Result<UploadRequest, Error>;
/// An item's envelope, or (refused for the quota while others ran beside it) its upload
/// kept to run again alone, with that refusal.
type Ran = Result<Envelope<ItemData>, (UploadRequest, Error)>;

/// One batch's items as they run.
struct Batch<'a> {
    upload: &'a Upload<'a>,
    services: &'a Services,
    /// One gate for the whole request: its items' outbound calls share the six slots.
    gate: Gate,
    /// The longest wait an item's error asks for (an item refused for the isolate's
    /// buffers or an unread blocklist, 503; one whose earlier try with the key still runs,
    /// 409): the answer's `Retry-After`, as a single upload's would have.
    retry_after: Cell<Option<u32>>,
    /// Items running now, and how many have started: an item overlapped others if any ran
    /// when it started or started while it ran.
    running: Cell<usize>,
    started: Cell<u64>,
    /// An item ended otherwise than refused for the quota (what it held is given back, or
    /// its length was less).
    freed: Cell<bool>,
}

impl<'a> Batch<'a> {
    fn new(upload: &'a Upload<'a>, services: &'a Services) -> Self {
        Batch {
            upload,
            services,
            gate: Gate::default(),
            retry_after: Cell::new(None),
            running: Cell::new(0),
            started: Cell::new(0),
            freed: Cell::new(false),
        }
    }

    /// Every item's envelope, in request order. Each group's items run one after another
    /// (items naming one file, in request order), at most CONCURRENCY groups at once.
    /// Background jobs start after the uploads stored now have ended: a job's transfer
    /// starts at once and holds the quota for as long as it runs, which a lone upload sent
    /// before it would not meet.
    async fn run(&self, items: Vec<Item>) -> Vec<Envelope<ItemData>> {
        let (now, later): (Vec<_>, Vec<_>) =
            run_order(&items).into_iter().partition(|group| !group.iter().any(|&i| items[i].as_ref().is_ok_and(|r| self.upload.runs_as_job(r))));
        let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
        let mut answered = Vec::with_capacity(slots.len());
        for phase in [now, later] {
            let groups = phase.into_iter().map(|group| group.into_iter().filter_map(|i| Some((i, slots[i].take()?))).collect());
            answered.extend(self.run_phase(groups.collect()).await);
        }
        answered.sort_by_key(|(i, _)| *i);
        answered.into_iter().map(|(_, envelope)| envelope).collect()
    }

    /// `groups` side by side, then, in request order, each item refused for the key's
    /// quota while others ran beside it, alone, if one of them ended otherwise (and so may
    /// have left room): an item of unknown length holds what the quota leaves while it
    /// runs, which a lone upload would not have met.
    async fn run_phase(&self, groups: Vec<Vec<(usize, Item)>>) -> Vec<(usize, Envelope<ItemData>)> {
        // Unordered: a group that ends frees its place at once, whatever runs before it (in
        // request order, a slow first item would hold back every group after the fifth).
        let runs = groups.into_iter().map(|group| self.run_group(group));
        let mut ran: Vec<_> = stream::iter(runs).buffer_unordered(CONCURRENCY).collect::<Vec<_>>().await.into_iter().flatten().collect();
        ran.sort_by_key(|(i, _)| *i);
        let retry = self.freed.get();
        let mut answered = Vec::with_capacity(ran.len());
        for (i, outcome) in ran {
            let envelope = match outcome {
                Ok(envelope) => envelope,
                Err((request, _)) if retry => self.answer(self.run_item(i, &[], Ok(request)).await.0),
                // nothing beside it ended otherwise: its refusal stands
                Err((_, refused)) => self.answer(Err(refused)),
            };
            answered.push((i, envelope));
        }
        answered
    }

    /// A group's items, one after another. An item alone in its group refused for the
    /// quota while others ran is kept to run again (not an item whose name other items
    /// share: run later, it would take the name from the last of them). With an
    /// `Idempotency-Key`, each item carries its later items' places: an earlier item that
    /// failed is not stored over one of them that stored (409), when the batch is sent again.
    async fn run_group(&self, items: Vec<(usize, Item)>) -> Vec<(usize, Ran)> {
        let alone = items.len() == 1;
        let places: Vec<usize> = items.iter().map(|(i, _)| *i).collect();
        let mut answers = Vec::with_capacity(items.len());
        // An item of an earlier send with the batch's `Idempotency-Key` still runs: that
        // send runs the group's later items in their turn, so this one leaves them to it
        // (run now, one could take the name before the earlier item).
        let mut running_elsewhere: Option<Error> = None;
        for (at, (i, item)) in items.into_iter().enumerate() {
            if let Some(err) = &running_elsewhere {
                answers.push((i, Ok(self.answer(Err(err.clone())))));
                continue;
            }
            let again = item.as_ref().ok().filter(|_| alone).cloned();
            match (self.run_item(i, &places[at + 1..], item).await, again) {
                ((Err(err @ Error::QuotaExceeded(_)), true), Some(request)) => answers.push((i, Err((request, err)))),
                ((result, _), _) => {
                    if let Err(err @ Error::IdempotencyKeyInFlight { .. }) = &result {
                        running_elsewhere = Some(err.clone());
                    }
                    answers.push((i, Ok(self.answer(result))));
                }
            }
        }
        answers
    }

    /// Item `i` run (before the items `later` of its group), and whether another item ran
    /// beside it.
    async fn run_item(&self, i: usize, later: &[usize], item: Item) -> (Result<Envelope<ItemData>, Error>, bool) {
        let request = match item {
            Ok(request) => request,
            Err(err) => return (Err(err), false),
        };
        let alone = self.running.get() == 0;
        let start = self.started.get() + 1;
        self.started.set(start);
        self.running.set(self.running.get() + 1);
        let result = self.upload.run(request, Some(Place { item: i, later }), self.services, &self.gate).await.map(|answered| answered.data.envelope());
        self.running.set(self.running.get() - 1);
        if !matches!(result, Err(Error::QuotaExceeded(_))) {
            self.freed.set(true);
        }
        (result, !alone || self.started.get() != start)
    }

    /// An item's envelope; an error's is logged as a batch item's, and its wait counted.
    fn answer(&self, result: Result<Envelope<ItemData>, Error>) -> Envelope<ItemData> {
        result.unwrap_or_else(|err| {
            respond::log_internal("batch item", &err);
            self.retry_after.set(self.retry_after.get().max(err.retry_after_secs()));
            Envelope::error(&err)
        })
    }
}
