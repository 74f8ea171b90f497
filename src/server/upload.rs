//! `POST /api/v1/files/upload/url`: authenticate, parse, run the upload flow, answer; and
//! the one upload every entry point (single or batch) runs.

use futures_util::FutureExt;
use url::Url;
use worker::Response;

use super::auth::authenticate_upload;
use super::bindings::Services;
use super::blocklist::KvBlocklist;
use super::files::forget_name;
use super::http::{base_url, json_body, request_policy, Incoming};
use super::jobs;
use super::js::now_ms;
use super::origin::WorkerOrigin;
use super::r2::R2Store;
use super::respond;
use crate::core::batch::ItemData;
use crate::core::envelope::FileData;
use crate::core::flow::{upload, UploadContext};
use crate::core::gate::Gate;
use crate::core::idempotency::{self, Answered};
use crate::core::jobs::{prefers_async, wants_async};
use crate::core::keys::KeyRecord;
use crate::core::origin_headers::Forwarded;
use crate::core::request::{parse_upload, UploadRequest, MAX_BODY_BYTES};
use crate::core::url_policy::UrlPolicy;
use crate::core::Error;

pub(crate) async fn handle(req: Incoming, services: &Services) -> Result<Response, Error> {
    let owner = authenticate_upload(&req, &services.keys).await?;
    services.rate_limit(&owner).await?;
    let body = json_body(&req, MAX_BODY_BYTES).await?;
    let policy = request_policy(&req, &services.config);
    let request = parse_upload(&body, &policy)?;
    let upload = Upload::of(&req, &owner, &policy, services)?;
    let answered = upload.run(request, None, services, &Gate::default()).await?;
    let mut response = match answered.data {
        ItemData::Job(job) => jobs::accepted(&job, prefers_async(upload.prefer.as_deref()))?,
        file => respond::json(200, &file.envelope())?,
    };
    if answered.replayed {
        let _ = response.headers_mut().set(idempotency::REPLAYED_HEADER, "true");
    }
    Ok(response)
}

/// Where a batch's item is: its place, and the places of the batch's later items that
/// share its file name (with an `Idempotency-Key`, it is not stored over what one of them
/// stored under that name).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub item: usize,
    pub later: &'a [usize],
}

/// What an upload request (single, or a batch's item) is run with besides its body.
pub(crate) struct Upload<'a> {
    /// The request's `Prefer` header (`respond-async` starts a job).
    pub prefer: Option<String>,
    /// The request's `Idempotency-Key`.
    pub idempotency_key: Option<String>,
    pub owner: &'a KeyRecord,
    /// Where the stored files' links point.
    pub base: Url,
    pub request_url: &'a Url,
    pub policy: &'a UrlPolicy,
}

impl<'a> Upload<'a> {
    /// Whether `request` runs as a background job (its `async`, else the `Prefer` header).
    pub(crate) fn runs_as_job(&self, request: &UploadRequest) -> bool {
        wants_async(self.prefer.as_deref(), request.asynchronous)
    }

    /// What `req`'s uploads (its body read and checked by `policy`) run with: its link base,
    /// its `Prefer` and its `Idempotency-Key`.
    pub(crate) fn of(req: &'a Incoming, owner: &'a KeyRecord, policy: &'a UrlPolicy, services: &Services) -> Result<Self, Error> {
        Ok(Upload {
            base: base_url(req, &services.config)?,
            prefer: req.header("Prefer"),
            idempotency_key: idempotency::parse(req.header(idempotency::HEADER).as_deref())?,
            owner,
            request_url: &req.url,
            policy,
        })
    }

    /// Runs `request` (a batch's item, at `place`): as a background job when asked to (`"async"` or
    /// `Prefer`), else stored now, and says whether an earlier try with the request's
    /// `Idempotency-Key` did it. A `callback_url` without a job is refused. An internal
    /// error names the key (and the item), for the log.
    pub(crate) async fn run(&self, request: UploadRequest, place: Option<Place<'_>>, services: &Services, gate: &Gate) -> Result<Answered<ItemData>, Error> {
        let answered = self.run_item(request, place, services, gate).await;
        let item = place.map(|p| p.item);
        answered.map_err(|e| e.context(|| format!("upload of key {}{}", self.owner.id, item.map_or_else(String::new, |i| format!(" item {i}")))))
    }

    /// [`run`](Self::run), its errors as they come.
    async fn run_item(&self, request: UploadRequest, place: Option<Place<'_>>, services: &Services, gate: &Gate) -> Result<Answered<ItemData>, Error> {
        let idempotency = self.idempotency_key.as_deref().map(|key| (key, place.map(|p| p.item)));
        if self.runs_as_job(&request) {
            let started = jobs::start(request, self.owner, (&self.base, self.request_url), idempotency, services, gate).boxed_local().await?;
            return Ok(started.map(ItemData::Job));
        }
        if request.callback_url.is_some() {
            return Err(jobs::callback_without_job());
        }
        let later = place.map_or(&[][..], |p| p.later);
        // boxed, as each path is: only the one taken is in the upload's poll chain (`dispatch`)
        Ok(self.store_now(request, idempotency, later, services, gate).boxed_local().await?.map(ItemData::File))
    }

    /// Stores `request` now (with the request's `Idempotency-Key` and the batch item's
    /// place, `idempotency`): its own origin deadline, R2 store and the key's authority, its
    /// outbound calls counted in the request's `gate`.
    async fn store_now(
        &self,
        mut request: UploadRequest,
        idempotency: Option<(&str, Option<usize>)>,
        later: &[usize],
        services: &Services,
        gate: &Gate,
    ) -> Result<Answered<FileData>, Error> {
        let (owner, policy) = (self.owner, self.policy);
        let blocklist = KvBlocklist { keys: &services.keys, gate };
        let ctx = UploadContext {
            config: &services.config,
            blocklist: &blocklist,
            policy,
            owner_id: &owner.id,
            max_ttl_secs: owner.max_ttl_secs,
            base_url: &self.base,
            now_ms: now_ms(),
            link_secret: services.link_secret.as_ref(),
            idempotency,
            later,
        };
        // The user's origin headers go to the origin adapter only, never into the flow's records.
        let forwarded = Forwarded::new(&request.file_url, request.origin_headers.take());
        let origin = WorkerOrigin::new(services.config.fetch_timeout_ms, gate, forwarded)?.refetching(request.file_url.clone(), policy.clone());
        let store = R2Store { bucket: &services.bucket, origin: &origin, one_stream_mib_s: services.config.one_stream_mib_s };
        let authority = services.authority(&owner.id).gated(gate);
        let answered = upload(request, &ctx, &origin, &store, &authority).await?;
        origin.succeeded();
        // This isolate may have cached the name's previous file: serve the new one at once.
        forget_name(&owner.id, &answered.data.upload_path, &answered.data.file_name);
        Ok(answered)
    }
}
