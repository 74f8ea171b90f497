//! A background job as a Durable Object (`UploadJob`, one per job, named by its id). Its
//! record and stored parts live in its storage; its alarm runs the transfer in invocations
//! of at most [`INVOCATION_MS`] (each records every stored part, so a restart or an evicted
//! object goes on from the last one), then delivers the webhook, and a week after the end
//! forgets the job. `cancel` stops a running transfer and leaves nothing stored or charged.

use std::cell::{Cell, RefCell};

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use web_sys::AbortController;
use worker::{durable_object, DurableObject, Env, Request, Response, ScheduledTime, State};

use super::bindings::Services;
use super::job_run::{give_back, job_file};
use super::job_store::{self, save};
use super::js::{now_ms, object_name};
use super::respond::log_internal;
use super::webhook;
use crate::core::idempotency::{self, Answered};
use crate::core::jobs::{retry_at, JobRecord, JobReply, JobSpec, JobStatus, KEPT_MS};
use crate::core::envelope::FileData;
use crate::core::Error;

mod cancel;
mod invocation;

/// One alarm invocation transfers for at most this long (the platform gives an alarm 15
/// minutes), then hands over to the next.
const INVOCATION_MS: i64 = 12 * 60 * 1000;
/// While a transfer runs, the alarm is kept this far ahead: if the runtime dies, the job goes
/// on from its last stored part then (a status request resumes it sooner).
const WATCHDOG_MS: i64 = 60 * 1000;
/// A job that found another transfer running lanes in its isolate (or its buffers short)
/// tries again this much later, twice as long each time it finds so again, up to
/// [`MAX_TURN_RETRY_MS`]; one that paused after its turn waits past the waiting jobs' next
/// tries ([`TURN_WANTED_UNTIL`]), so a waiting job gets the turn next.
const TURN_RETRY_MS: i64 = 1_000;
const MAX_TURN_RETRY_MS: i64 = 8_000;
/// An alarm that failed (storage, or a configuration broken for a while) runs again this
/// much later, until it succeeds.
const ALARM_RETRY_MS: i64 = 60_000;
/// A transfer waiting for its isolate's turn refreshes its reservation this often.
const WAITING_REFRESH_MS: i64 = 5 * 60 * 1000;

thread_local! {
    /// When the last of this isolate's jobs that found the turn taken tries again.
    static TURN_WANTED_UNTIL: Cell<i64> = const { Cell::new(0) };
}

/// A request to a job's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobOp {
    /// Starts the job, unless it was started (the same request again, by its
    /// `Idempotency-Key`: answered as it stands).
    Start { spec: JobSpec },
    /// The job as it stands if an `Idempotency-Key` started it for the same request
    /// (another request: refused), else not found.
    Replay { spec: JobSpec },
    Status { key_id: String },
    Cancel { key_id: String },
}

#[durable_object]
pub struct UploadJob {
    state: State,
    env: Env,
    /// The job's id (the object's name), for the log.
    job_id: String,
    /// A transfer runs in this instance now (none after a restart).
    running: Cell<bool>,
    /// Cancel asked the running transfer to stop.
    canceled: Cell<bool>,
    /// A cancel is cleaning up and recording the end (its awaits let other requests in).
    ending: Cell<bool>,
    /// The running invocation's commit is under way (`Run::committing`): a cancel waits
    /// for the invocation's end.
    committing: Cell<bool>,
    /// Ends the running transfer's requests at once.
    ender: RefCell<Option<AbortController>>,
    /// Bytes the running invocation read beyond the parts stored before it.
    received: Cell<u64>,
    /// Invocations in a row that had to wait (for their turn, the isolate's buffers, or a
    /// key's authority on the version before): each waits twice as long, up to 8 s.
    waits: Cell<u32>,
    /// When a waiting invocation last refreshed the transfer's reservation.
    refreshed_ms: Cell<i64>,
}

impl DurableObject for UploadJob {
    fn new(state: State, env: Env) -> Self {
        let job_id = object_name(&state);
        UploadJob {
            state,
            env,
            job_id,
            running: Cell::new(false),
            canceled: Cell::new(false),
            ending: Cell::new(false),
            committing: Cell::new(false),
            ender: RefCell::new(None),
            received: Cell::new(0),
            waits: Cell::new(0),
            refreshed_ms: Cell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let op = req
            .text()
            .await
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<JobOp>(&t).map_err(|e| e.to_string()));
        let answer = match op {
            Ok(op) => self.handle(op).await,
            Err(e) => Err(Error::internal(format!("job op: {e}"))),
        };
        if let Err(err) = &answer {
            log_internal(&format!("job {}", self.job_id), err);
        }
        Response::ok(serde_json::to_string(&JobReply::of(answer)).unwrap_or_default())
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if let Err(e) = self.wake().await {
            // Not thrown: the platform gives a failing alarm up after a few retries, and the
            // job would then never run again (a status request wakes only a running one): a
            // finished job's webhook would be dropped. It asks again until it succeeds.
            let detail = e.internal_detail().map_or_else(|| e.public_message(), str::to_owned);
            worker::console_error!("job {}: alarm: {detail} (again in {} s)", self.job_id, ALARM_RETRY_MS / 1000);
            // Not set again (storage failing too): thrown after all, for the platform's retries.
            if let Err(e) = self.alarm_at(now_ms() + ALARM_RETRY_MS).await {
                worker::console_error!("job {}: {e:?}", self.job_id);
                return Err(worker::Error::RustError("job alarm failed".into()));
            }
        }
        Response::ok("")
    }
}

impl UploadJob {
    async fn handle(&self, op: JobOp) -> Result<Answered<JobStatus>, Error> {
        match op {
            JobOp::Start { spec } => {
                if let Some(status) = self.replay(&spec).await? {
                    return Ok(Answered::replayed(status));
                }
                let record = JobRecord::new(spec);
                let storage = self.state.storage();
                save(&storage, &record).await?;
                // Without its alarm the job would wait for a status request or a listing to
                // start it: a job its client was told failed (500) would run after all.
                if let Err(err) = self.alarm_at(now_ms()).await {
                    if let Err(e) = job_store::discard(&storage).await {
                        worker::console_error!("job {}: a job that could not start was kept: {e:?}", self.job_id);
                    }
                    return Err(err);
                }
                Ok(Answered::new(record.status(0)))
            }
            JobOp::Status { key_id } => {
                let record = self.owned(&key_id).await?;
                self.current(record).await.map(Answered::new)
            }
            JobOp::Replay { spec } => self.replay(&spec).await?.map(Answered::replayed).ok_or(Error::JobNotFound),
            JobOp::Cancel { key_id } => self.cancel(&key_id).await.map(Answered::new),
        }
    }

    /// The job's status as a client asking for it sees it; a job that is not over and that
    /// nothing runs here is woken.
    async fn current(&self, mut record: JobRecord) -> Result<JobStatus, Error> {
        if !record.state.is_final() && !self.running.get() {
            // Nothing runs it here (the runtime restarted: its alarm is the watchdog's, a
            // minute on; or its first alarm failed and so did forgetting it): go on now. A
            // job paused for its isolate's turn has its alarm a few seconds on: left as it
            // is, so that a poll does not move it ahead of a job waiting for that turn. The
            // parts stored before count, though the record was saved before they were.
            let due = self.state.storage().get_alarm().await.map_err(|e| Error::internal(format!("get alarm: {e}")))?;
            let now = now_ms();
            if due.is_none_or(|at| at > now + MAX_TURN_RETRY_MS + TURN_RETRY_MS) {
                self.alarm_at(now).await?;
            }
            record.stored_bytes = self.stored_bytes(&record).await?;
        }
        Ok(record.status(self.received.get()))
    }

    /// The job's status ([`current`](Self::current)) if it was started for `spec`'s request;
    /// none if it was not started. Its id is the one `spec`'s `Idempotency-Key` names (or a
    /// random one), so another request found here reused the key.
    async fn replay(&self, spec: &JobSpec) -> Result<Option<JobStatus>, Error> {
        match self.load().await? {
            None => Ok(None),
            Some(record) if idempotency::same_request(&record.spec, spec) => self.current(record).await.map(Some),
            Some(_) => Err(Error::IdempotencyKeyReused),
        }
    }

    /// The job, if it is `key_id`'s (another key's job is not found).
    async fn owned(&self, key_id: &str) -> Result<JobRecord, Error> {
        self.load()
            .await?
            .filter(|r| r.spec.key_id == key_id)
            .ok_or(Error::JobNotFound)
    }

    async fn load(&self) -> Result<Option<JobRecord>, Error> {
        job_store::load(&self.state.storage()).await
    }

    async fn alarm_at(&self, at_ms: i64) -> Result<(), Error> {
        let when = ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(at_ms as f64)));
        self.state
            .storage()
            .set_alarm(when)
            .await
            .map_err(|e| Error::internal(format!("set alarm: {e}")))
    }

    /// The alarm: the transfer's next invocation, the webhook's next attempt, or, a week
    /// after the end, forgetting the job.
    async fn wake(&self) -> Result<(), Error> {
        let Some(record) = self.load().await? else {
            return Ok(());
        };
        if record.forgotten(now_ms()) {
            return job_store::forget(&self.state.storage()).await;
        }
        if record.state.is_final() {
            return self.deliver(record).await;
        }
        if self.running.get() || self.canceled.get() {
            return Ok(());
        }
        // A configuration broken for a while (a malformed var, a binding left out) fails
        // every invocation alike, and is not the job's doing: the alarm tries again in a
        // minute (logged) rather than the job failing for good over an operator's mistake.
        let services = Services::from_env(&self.env)?;
        // Running until the outcome is recorded: a cancel that comes meanwhile waits for it
        // and then finds the job's final state.
        self.running.set(true);
        self.received.set(0);
        let recorded = self.run_and_record(record, &services).await;
        self.running.set(false);
        self.committing.set(false);
        // Whatever the invocation left open (a probe it did not read, waiting for its turn)
        // is closed now.
        if let Some(ender) = self.ender.take() {
            ender.abort();
        }
        recorded
    }

    /// Records the job's end, then what follows it ([`after_end`](Self::after_end)).
    async fn ended(&self, record: JobRecord) -> Result<(), Error> {
        save(&self.state.storage(), &record).await?;
        self.after_end(record).await
    }

    /// After the end is recorded: sets the alarm and forgets the stored parts
    /// ([`settle`](Self::settle)), then keeps the job's final status in the key's job index,
    /// so that listings need not ask this object. If that fails (logged), a listing asks
    /// this object, as for a running job.
    async fn after_end(&self, record: JobRecord) -> Result<(), Error> {
        let status = record.status(0);
        let key_id = record.spec.key_id.clone();
        self.settle(&record).await?;
        let indexed = match Services::from_env(&self.env) {
            Ok(services) => services.authority(&key_id).job_ended(&status).await,
            Err(err) => Err(err),
        };
        if let Err(e) = indexed {
            worker::console_warn!("job {}: its end was not kept in the key's job index: {e:?}", self.job_id);
        }
        Ok(())
    }

    /// Records the ended job ([`settle`](Self::settle) follows).
    async fn finish(&self, record: JobRecord) -> Result<(), Error> {
        save(&self.state.storage(), &record).await?;
        self.settle(&record).await
    }

    /// After an end is recorded: sets the alarm for what is left (the webhook, then
    /// forgetting the job a week on), then forgets the stored parts (a failure there only
    /// leaves a few records behind, until the job is forgotten).
    async fn settle(&self, record: &JobRecord) -> Result<(), Error> {
        let next = record.next_after_end().unwrap_or_else(|| now_ms() + KEPT_MS);
        self.alarm_at(next).await?;
        if let Err(e) = self.forget_parts().await {
            worker::console_warn!("job {}: forgetting its parts: {e:?}", record.spec.job_id);
        }
        Ok(())
    }

    /// The bytes `record`'s transfer has stored: its stored parts, counted (an invocation
    /// that died saved none of its own in the record), or the record's figure.
    async fn stored_bytes(&self, record: &JobRecord) -> Result<u64, Error> {
        if !record.transfer.as_ref().is_some_and(|t| t.resumable()) {
            return Ok(record.stored_bytes);
        }
        Ok(job_store::total(&job_store::stored_parts(&self.state.storage()).await?))
    }

    /// What a job that fails or is canceled had received: what it recorded and this
    /// invocation read, and never less than its stored parts, which a status counts while
    /// nothing runs (a job cut at its deadline, or canceled, before an invocation after a
    /// restart recorded them). If they cannot be counted, the record's figure.
    async fn received_at_end(&self, record: &JobRecord) -> u64 {
        let read = record.stored_bytes + self.received.replace(0);
        match self.stored_bytes(record).await {
            Ok(stored) => read.max(stored),
            Err(e) => {
                worker::console_warn!("job {}: counting its stored parts: {e:?}", self.job_id);
                read
            }
        }
    }

    async fn forget_parts(&self) -> Result<(), Error> {
        job_store::forget_parts(&self.state.storage()).await
    }

    /// The file the job's transfer committed, if the key's authority holds it (`None`
    /// when it does not; an error when it cannot say, or refuses the key: never taken for
    /// "not committed", which would end the job canceled or failed with its file stored).
    async fn committed(&self, record: &JobRecord) -> Result<Option<FileData>, Error> {
        let Some(transfer) = record.transfer.as_ref() else { return Ok(None) };
        let services = Services::from_env(&self.env)?;
        match services.authority(&record.spec.key_id).get(&transfer.prepared.file_id).await {
            Ok(row) => job_file(record, &row, &services).map(Some),
            Err(Error::FileNotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Gives back what the record's transfer holds ([`give_back`]).
    async fn clean_up(&self, record: &JobRecord) {
        let Some(transfer) = &record.transfer else {
            return;
        };
        let Ok(services) = Services::from_env(&self.env) else {
            return;
        };
        give_back(&services.bucket, &services.authority(&record.spec.key_id), transfer).await;
    }

    /// The webhook's next attempt, and the one after it if this one failed. With none due
    /// (an alarm that came early, or after a failed one), the alarm is set for what is left.
    async fn deliver(&self, mut record: JobRecord) -> Result<(), Error> {
        let Some(mut delivery) = record
            .delivery
            .clone()
            .filter(|d| !d.delivered && d.next_ms.is_some())
        else {
            return match record.next_after_end() {
                Some(at) => self.alarm_at(at).await,
                None => Ok(()),
            };
        };
        let services = Services::from_env(&self.env)?;
        let now = now_ms();
        match webhook::deliver(&services, &record, now).await {
            Ok(()) => {
                delivery.delivered = true;
                delivery.next_ms = None;
            }
            // The key was revoked (its authority forgot its webhook secret): nothing can sign
            // a delivery any more, and no retry will.
            Err(Error::KeyRevoked) => {
                delivery.next_ms = None;
                worker::console_warn!("job {}: webhook dropped: the key was revoked", record.spec.job_id);
            }
            Err(err) => {
                delivery.attempts += 1;
                // The backoff runs from when the attempt failed: one that timed out after
                // 10 s is not retried at once.
                delivery.next_ms = retry_at(record.ended_ms.unwrap_or(now), now_ms(), delivery.attempts);
                // The first failure and the last, not each retry (the key holder chooses
                // the receiver).
                let id = &record.spec.job_id;
                log_internal(&format!("job {id}: webhook"), &err);
                let why = webhook::failure(&err);
                if delivery.next_ms.is_none() {
                    worker::console_warn!("job {id}: webhook given up after {} attempts: {why}", delivery.attempts);
                } else if delivery.attempts == 1 {
                    worker::console_warn!("job {id}: webhook failed: {why} (tried again for up to an hour)");
                }
            }
        }
        record.delivery = Some(delivery);
        self.finish(record).await
    }
}
