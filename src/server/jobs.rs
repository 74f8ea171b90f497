//! The job routes: an upload asked to run in the background (`"async": true` or
//! `Prefer: respond-async`) starts a job and is answered 202 with its status and `Location`;
//! `GET /api/v1/jobs/{job_id}`, `DELETE /api/v1/jobs/{job_id}` and `GET /api/v1/jobs` ask
//! the job's object (another key's job is not found).

use futures_util::{stream, StreamExt};
use url::Url;
use worker::{ObjectNamespace, Response};

use super::http::Incoming;
use super::auth::authenticate;
use super::bindings::Services;
use super::job_object::JobOp;
use super::js::now_ms;
use super::respond;
use super::stub;
use crate::core::envelope::{Envelope, JOB_ACCEPTED};
use crate::core::error::Error;
use crate::core::gate::{Gate, SLOTS};
use crate::core::idempotency::{self, Answered};
use crate::core::ids::job_id;
use crate::core::jobs::{JobList, JobReply, JobSpec, JobStatus, MAX_LISTED_JOBS};
use crate::core::keys::KeyRecord;
use crate::core::links::link_controls;
use crate::core::request::UploadRequest;

/// Where a job's status is read.
pub(crate) fn status_path(job_id: &str) -> String {
    format!("/api/v1/jobs/{job_id}")
}

/// Starts a job for `request` (already validated and authenticated): the key must have room
/// for it (a byte, and a file unless it replaces one), and a `callback_url` needs the key's
/// webhook secret. Its calls are counted in the request's `gate` (a batch's items share it).
/// With an `Idempotency-Key` (`idempotency`: the key and the batch item's place), the job
/// is the one that key names: started already for the same request, it is answered as it
/// stands, and nothing else is checked or started (a key's settings changed since, or its
/// webhook secret, or its room, do not refuse the job it started).
pub(crate) async fn start(
    request: UploadRequest,
    owner: &KeyRecord,
    urls: (&Url, &Url),
    idempotency: Option<(&str, Option<usize>)>,
    services: &Services,
    gate: &Gate,
) -> Result<Answered<JobStatus>, Error> {
    let (base, request_url) = urls;
    // A job runs later from what it stored: origin headers (secrets) are never stored.
    if request.origin_headers.is_some() {
        return Err(Error::invalid(
            "origin_headers",
            "cannot be used with a background job: it would have to store them (upload without \"async\")",
        ));
    }
    let checked = link_controls(&request, services.config.ttl_secs, owner.max_ttl_secs, services.link_secret.is_some());
    let now = now_ms();
    let spec = JobSpec {
        job_id: match idempotency {
            Some((key, item)) => idempotency::job_id(&owner.id, key, item),
            None => job_id(),
        },
        key_id: owner.id.clone(),
        file_url: request.file_url.to_string(),
        upload_path: request.upload_path,
        file_name: request.file_name,
        expected_sha256: request.expected_sha256,
        callback_url: request.callback_url.map(|u| u.to_string()),
        base_url: base.to_string(),
        request_url: request_url.to_string(),
        created_ms: now,
        expires_in: request.expires_in,
        key_max_ttl_secs: owner.max_ttl_secs,
        max_downloads: request.max_downloads,
        private: request.private,
    };
    let job_id = spec.job_id.clone();
    if idempotency.is_some() {
        // A job found is one an earlier start began, whatever the object's version says.
        match call(&services.jobs, &job_id, &JobOp::Replay { spec: spec.clone() }, gate).await {
            Err(Error::JobNotFound) => {}
            found => return found.map(Answered::replayed),
        }
    }
    // Link controls are checked now, not when the job runs.
    checked?;
    let authority = services.authority(&owner.id).gated(gate);
    if spec.callback_url.is_some() && authority.webhook_secret().await?.is_none() {
        return Err(Error::invalid(
            "callback_url",
            "this API key has no webhook secret yet: an admin issues one (POST /api/v1/admin/keys/{key_id}/webhook-secret)",
        ));
    }
    // A name is only replaced when the request names both its parts (else one is made).
    let name = spec.upload_path.as_deref().zip(spec.file_name.as_deref());
    authority.room(name).await?;
    authority.job_started(&job_id, now).await?;
    ask(&services.jobs, &job_id, &JobOp::Start { spec }, gate).await
}

/// A `callback_url` on an upload that is not a job.
pub(crate) fn callback_without_job() -> Error {
    Error::invalid(
        "callback_url",
        "only for background jobs (`\"async\": true`, or `Prefer: respond-async` without `\"async\": false`)",
    )
}

/// The 202 answer of a started job; `preferred`: it was asked for with `Prefer:
/// respond-async`, which the answer says it applied (RFC 7240).
pub(crate) fn accepted(status: &JobStatus, preferred: bool) -> Result<Response, Error> {
    let mut response = respond::json(202, &Envelope::accepted(JOB_ACCEPTED, status))?;
    let headers = response.headers_mut();
    let _ = headers.set("Location", &status_path(&status.job_id));
    if preferred {
        let _ = headers.set("Preference-Applied", "respond-async");
    }
    Ok(response)
}

pub(crate) async fn status(
    req: &Incoming,
    services: &Services,
    job_id: &str,
) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let status = call(&services.jobs, job_id, &JobOp::Status { key_id: owner.id }, &Gate::default()).await?;
    respond::json(200, &Envelope::ok("Job found", status))
}

pub(crate) async fn cancel(
    req: &Incoming,
    services: &Services,
    job_id: &str,
) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let status = call(&services.jobs, job_id, &JobOp::Cancel { key_id: owner.id }, &Gate::default()).await?;
    respond::json(200, &Envelope::ok("Job canceled", status))
}

/// The key's most recent jobs (at most 100, newest first): an ended job as the key's job
/// index keeps it, a running one as its object answers; one whose object fails is logged
/// and named in `unavailable`.
pub(crate) async fn list(req: &Incoming, services: &Services) -> Result<Response, Error> {
    let owner = authenticate(req, &services.keys).await?;
    let indexed = services.authority(&owner.id).jobs(MAX_LISTED_JOBS).await?;
    let key_id = &owner.id;
    let gate = Gate::default();
    let gate = &gate;
    let answers: Vec<(String, Result<JobStatus, Error>)> = stream::iter(indexed)
        .map(|job| async move {
            let answer = match job.ended {
                Some(status) => Ok(status),
                None => call(&services.jobs, &job.job_id, &JobOp::Status { key_id: key_id.clone() }, gate).await,
            };
            (job.job_id, answer)
        })
        .buffered(SLOTS)
        .collect()
        .await;
    // One line per listing: the first job listed as unavailable, and how many were.
    let mut unavailable = answers.iter().filter_map(|(job_id, answer)| answer.as_ref().err().filter(|e| **e != Error::JobNotFound).map(|e| (job_id, e)));
    if let Some((job_id, err)) = unavailable.next() {
        worker::console_warn!("job {job_id}: listed as unavailable: {err:?} ({} more)", unavailable.count());
    }
    respond::json(200, &Envelope::ok("Jobs listed", JobList::from_answers(answers)))
}

/// One op on job `job_id`'s object, counted in `gate`.
async fn call(jobs: &ObjectNamespace, job_id: &str, op: &JobOp, gate: &Gate) -> Result<JobStatus, Error> {
    ask(jobs, job_id, op, gate).await.map(|answered| answered.data)
}

/// [`call`], and whether the job was started by an earlier start with its key.
async fn ask(jobs: &ObjectNamespace, job_id: &str, op: &JobOp, gate: &Gate) -> Result<Answered<JobStatus>, Error> {
    let text = stub::post(jobs, "job", job_id, op, gate).await?;
    let reply: JobReply = serde_json::from_str(&text).map_err(|e| Error::internal(format!("job {job_id} reply: {e}")))?;
    reply.answer(job_id)
}
