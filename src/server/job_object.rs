//! A background job as a Durable Object (`UploadJob`, one per job, named by its id). Its
//! record and stored parts live in its storage; its alarm runs the transfer in invocations
//! of at most [`INVOCATION_MS`] (each records every stored part, so a restart or an evicted
//! object goes on from the last one), then delivers the webhook, and a week after the end
//! forgets the job. `cancel` stops a running transfer and leaves nothing stored or charged.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;
use wasm_bindgen::JsValue;
use web_sys::AbortController;
use worker::{durable_object, DurableObject, Env, Request, Response, ScheduledTime, State};

use super::bindings::Services;
use super::job_run::{give_back, job_file, refresh, turn_to_resume, Ran, Run};
use super::job_store::{self, save};
use super::js::{now_ms, object_name};
use super::origin::WorkerOrigin;
use super::respond::log_internal;
use super::webhook;
use crate::core::idempotency::{self, Answered};
use crate::core::origin_headers::Forwarded;
use crate::core::gate::Gate;
use crate::core::jobs::{retry_at, JobFailure, JobRecord, JobReply, JobSpec, JobState, JobStatus, Transfer, KEPT_MS};
use crate::core::envelope::FileData;
use crate::core::Error;

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

    /// One invocation, and what it ended with, recorded.
    async fn run_and_record(&self, mut record: JobRecord, services: &Services) -> Result<(), Error> {
        let outcome = self.run(&mut record, services).await;
        let now = now_ms();
        match outcome {
            // Committed: the file is stored and charged, canceled or not (a cancel that
            // waited for this answers 409).
            Ok(Ran::Done(file)) => {
                // A cancel waits for a commit under way (`committing`), and one recorded
                // before it stops it: should one still have recorded the job canceled and
                // told its client nothing is stored, that stays true (the file goes), and
                // its end is never written over.
                if self.recorded_canceled().await {
                    let delete = async { Services::from_env(&self.env)?.authority(&record.spec.key_id).delete(&file.file_id).await };
                    if let Err(e) = delete.await {
                        worker::console_error!("job {}: canceled, its late commit's file {} not deleted: {e:?}", self.job_id, file.file_id);
                    }
                    return Ok(());
                }
                record.result = Some(file);
                record.end(JobState::Succeeded, now);
                self.ended(record).await
            }
            // Cancel ends the job and cleans up; this run only had to stop. A verdict on the
            // file (its digest, type, size, the quota, the blocklist, the key) is the job's
            // own end, recorded below: the cancel that waited for it then answers 409.
            Ok(_) if self.canceled.get() => Ok(()),
            Err(err) if self.canceled.get() && stopped_by_cancel(&err) => Ok(()),
            // Nothing changed that is not saved: only the next try is set.
            Ok(Ran::Waiting) => {
                self.received.set(0);
                let waits = self.waits.replace(self.waits.get().saturating_add(1));
                let at = now + (TURN_RETRY_MS << waits.min(8)).min(MAX_TURN_RETRY_MS);
                TURN_WANTED_UNTIL.with(|until| until.set(until.get().max(at)));
                self.alarm_at(at).await
            }
            Ok(Ran::Paused) => {
                self.waits.set(0);
                record.updated_ms = now;
                // The record's stored bytes now count what this invocation stored: its own
                // count goes in the same step, or a status before the next invocation would
                // count those bytes twice.
                self.received.set(0);
                save(&self.state.storage(), &record).await?;
                let wanted = TURN_WANTED_UNTIL.with(Cell::get);
                self.alarm_at((now + 2 * TURN_RETRY_MS).max(wanted + TURN_RETRY_MS)).await
            }
            Err(err) => {
                if !self.may_record_end().await {
                    return Ok(());
                }
                // The record keeps only what a client may see ("internal error"): the log
                // keeps the rest. No one waits on a job's answer: the log says it failed.
                log_internal(&format!("job {}", record.spec.job_id), &err);
                worker::console_log!("job {}: key {}: failed: {} {}", record.spec.job_id, record.spec.key_id, err.status(), err.public_message());
                record.stored_bytes = self.received_at_end(&record).await;
                // Given back before the end is recorded: this invocation's record may hold a
                // transfer the stored one does not know of (its save failed), which nothing
                // would give back if this save failed too.
                self.clean_up(&record).await;
                record.error = Some(JobFailure::from(&err));
                record.end(JobState::Failed, now);
                self.ended(record).await
            }
        }
    }

    /// Whether a cancel of this run recorded the job canceled already.
    async fn recorded_canceled(&self) -> bool {
        self.canceled.get() && matches!(self.load().await, Ok(Some(r)) if r.state == JobState::Canceled)
    }

    /// Whether this invocation may record the failure it ended with: not when a cancel that
    /// stopped waiting for it (30 s with no commit under way: say, its file hashed back from
    /// R2 for longer) recorded the job canceled and gave everything back (one recording it
    /// now is waited for): that end stands. When it may, a cancel from now on waits for
    /// its end (`committing`), then finds it (409).
    async fn may_record_end(&self) -> bool {
        loop {
            while self.ending.get() {
                worker::Delay::from(Duration::from_millis(50)).await;
            }
            if self.recorded_canceled().await {
                return false;
            }
            // no cancel began recording while the record was read
            if !self.ending.get() {
                self.committing.set(true);
                return true;
            }
        }
    }

    /// One invocation of the transfer.
    async fn run(&self, record: &mut JobRecord, services: &Services) -> Result<Ran, Error> {
        let now = now_ms();
        let timeout_ms = services.config.async_timeout_secs * 1000;
        let past_deadline = || Error::OriginTimeout { ms: timeout_ms };
        let deadline = record.deadline_ms(timeout_ms);
        if now >= deadline {
            // A commit may have landed with no one left to record it (its invocation died
            // right after, and this one comes past the deadline): the job succeeded. Not
            // known (the authority did not answer): the job fails with the internal error,
            // which says it may have been stored, never with the 504 that says it was not.
            return match self.committed(record).await {
                Ok(Some(file)) => Ok(Ran::Done(file)),
                Ok(None) => Err(past_deadline()),
                // The key's authority is on the version before: asked again soon.
                Err(Error::Updating) => Ok(Ran::Waiting),
                Err(err) => Err(err),
            };
        }
        // Lanes that go on wait for their turn first, before any storage call; their
        // reservation is kept meanwhile (the key's authority drops one left 15 minutes
        // without news, and the next transfer may hold the turn 12).
        let Ok(turn) = turn_to_resume(record) else {
            let last = |t: &Transfer| self.refreshed_ms.get().max(t.reserved_ms);
            if let Some(transfer) = record.transfer.as_ref().filter(|t| now - last(t) > WAITING_REFRESH_MS) {
                let authority = services.authority(&record.spec.key_id);
                match refresh(&authority, transfer, services.config.async_max_file_bytes).await {
                    // Given up already: the transfer starts over when its turn comes (`go`).
                    Ok(()) | Err(Error::ReservationGone) => self.refreshed_ms.set(now),
                    Err(err) => return Err(err),
                }
            }
            return Ok(Ran::Waiting);
        };
        let invocation_end = now + INVOCATION_MS;
        let gate = Gate::default();
        // A job sends no origin headers: it would have had to store them.
        let file_url = Url::parse(&record.spec.file_url).map_err(Error::internal)?;
        let policy = record.spec.policy(&services.config)?;
        let origin = WorkerOrigin::new((deadline - now) as u64, &gate, Forwarded::none())?
            .timing_stalls()
            .refetching(file_url.clone(), policy.clone());
        *self.ender.borrow_mut() = Some(origin.ender());
        // A job found storing (its invocation died while hashing or committing) stays so:
        // its states only move forward.
        if record.state != JobState::Storing {
            record.state = JobState::Downloading;
        }
        // A resumed transfer's stored parts, read once: what they hold goes in the record
        // saved below (an invocation that died saved none of them in it), so a status
        // meanwhile counts them; the transfer goes on from them.
        let stored = match &record.transfer {
            Some(transfer) if transfer.resumable() => Some(job_store::stored_parts(&self.state.storage()).await?),
            _ => None,
        };
        if let Some(parts) = &stored {
            record.stored_bytes = job_store::total(parts);
        }
        record.started_ms.get_or_insert(now);
        record.updated_ms = now;
        let storage = self.state.storage();
        save(&storage, record).await?;
        self.alarm_at(now + WATCHDOG_MS).await?;
        let authority = services.authority(&record.spec.key_id).gated(&gate);
        let stop = || self.canceled.get() || now_ms() > invocation_end;
        let canceled = || self.canceled.get();
        let run = Run {
            services,
            storage: &storage,
            origin: &origin,
            authority: &authority,
            file_url: &file_url,
            policy: &policy,
            received: &self.received,
            stop: &stop,
            canceled: &canceled,
            committing: &self.committing,
        };
        // The origin times out with what this invocation had left: the job's deadline is
        // the whole one.
        run.go(record, stored, turn).await.map_err(|err| match err {
            Error::OriginTimeout { .. } => past_deadline(),
            err => err,
        })
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

    /// Cancels the job: stops its transfer, and leaves nothing stored or charged.
    async fn cancel(&self, key_id: &str) -> Result<JobStatus, Error> {
        let record = self.owned(key_id).await?;
        match record.state {
            JobState::Canceled => return Ok(record.status(0)),
            JobState::Succeeded | JobState::Failed => return Err(Error::JobFinished),
            _ => {}
        }
        self.canceled.set(true);
        if let Some(ender) = self.ender.borrow().as_ref() {
            ender.abort();
        }
        // The running invocation ends at its next await, and another cancel may be recording
        // the end already: wait for both (30 s; an invocation whose commit is under way,
        // however long it takes: a cancel recorded before a commit that lands after it
        // would say nothing is stored, over a file stored and charged, and the file the
        // name held retired). Then this one records it (the flag is set in the same turn
        // as the check), from what they left. A commit still under way after 5 minutes (its
        // calls have timed out long before) leaves the cancel not known: 500, nothing
        // recorded, and the job goes on (the client may cancel again).
        for tick in 0.. {
            let idle = !self.running.get() && !self.ending.get();
            if idle || (tick >= 600 && !self.committing.get()) {
                break;
            }
            if tick >= 6_000 {
                self.canceled.set(false);
                return Err(Error::internal("job cancel: the commit under way did not end in 5 minutes"));
            }
            worker::Delay::from(Duration::from_millis(50)).await;
        }
        self.ending.set(true);
        let ended = self.end_canceled(key_id).await;
        self.ending.set(false);
        if matches!(&ended, Err(err) if *err != Error::JobFinished) {
            // In a second: the job's next invocation, or the alarm its end needs.
            if let Err(e) = self.alarm_at(now_ms() + TURN_RETRY_MS).await {
                worker::console_error!("job {}: a failed cancel could not set the alarm: {e:?}", self.job_id);
            }
            match self.load().await {
                // Recorded, and what came after failed (the alarm for its webhook): the
                // cancel stands, and so does the flag, or an invocation that outlived the
                // wait would record its own end over it.
                Ok(Some(record)) if record.state == JobState::Canceled => return Ok(record.status(0)),
                Ok(_) => {}
                Err(e) => worker::console_warn!("job {}: reading a failed cancel's record: {e:?}", self.job_id),
            }
            // Not recorded (storage failed; the client is told so and may cancel again):
            // nothing was given back, and the job goes on from its record at that alarm (its
            // transfer was stopped), rather than stay "downloading" with every alarm turned
            // away by the flag.
            self.canceled.set(false);
        }
        ended
    }

    /// The end of a cancel: the job as the invocation left it, cleaned up and recorded as
    /// canceled, unless it ended otherwise meanwhile.
    async fn end_canceled(&self, key_id: &str) -> Result<JobStatus, Error> {
        let mut record = self.owned(key_id).await?;
        match record.state {
            // The invocation it waited for ended the job.
            JobState::Succeeded | JobState::Failed => {
                self.canceled.set(false);
                return Err(Error::JobFinished);
            }
            JobState::Canceled => return Ok(record.status(0)),
            _ => {}
        }
        // A commit may have landed with no one left to record it (its invocation died right
        // after): the job succeeded, and the cancel comes too late (409), as for a commit
        // under way.
        // Not known: the cancel fails (500) with nothing recorded, and the job goes on.
        if let Some(file) = self.committed(&record).await? {
            record.result = Some(file);
            record.end(JobState::Succeeded, now_ms());
            self.canceled.set(false);
            self.ended(record).await?;
            return Err(Error::JobFinished);
        }
        record.stored_bytes = self.received_at_end(&record).await;
        record.end(JobState::Canceled, now_ms());
        let status = record.status(0);
        // Recorded before anything is given back (unlike a failure's end: what this gives
        // back is what the stored record holds): a cancel that cannot be recorded (storage
        // failed) leaves the job holding what it held, to go on from its record, never to
        // resume with its reservation and upload gone.
        save(&self.state.storage(), &record).await?;
        self.clean_up(&record).await;
        self.after_end(record).await?;
        Ok(status)
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

/// Whether `err` may be what a cancel's abort made of the invocation's calls (an origin call
/// or wait ended, a commit not made), or a failure in passing (a busy isolate, an unread
/// blocklist, a key being updated), rather than a verdict on the file.
fn stopped_by_cancel(err: &Error) -> bool {
    matches!(
        err,
        Error::OriginBroken
            | Error::OriginUnreachable
            | Error::OriginStalled { .. }
            | Error::OriginTimeout { .. }
            | Error::Internal(_)
            | Error::Busy
            | Error::BlocklistUnread
            | Error::Updating
    )
}
