//! One invocation of a job's transfer (at most [`INVOCATION_MS`](super::INVOCATION_MS)), and
//! what it ended with recorded: succeeded, failed, paused for the next invocation, or
//! waiting for the isolate's turn.

use std::cell::Cell;

use url::Url;

use super::cancel::stopped_by_cancel;
use super::{UploadJob, INVOCATION_MS, MAX_TURN_RETRY_MS, TURN_RETRY_MS, TURN_WANTED_UNTIL, WAITING_REFRESH_MS, WATCHDOG_MS};
use crate::core::gate::Gate;
use crate::core::jobs::{JobFailure, JobRecord, JobState, Transfer};
use crate::core::origin_headers::Forwarded;
use crate::core::Error;
use crate::server::bindings::Services;
use crate::server::job_run::{refresh, turn_to_resume, Ran, Run};
use crate::server::job_store::{self, save};
use crate::server::js::now_ms;
use crate::server::origin::WorkerOrigin;
use crate::server::respond::log_internal;

impl UploadJob {
    /// One invocation, and what it ended with, recorded.
    pub(super) async fn run_and_record(&self, mut record: JobRecord, services: &Services) -> Result<(), Error> {
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
                    // The cancel gave back what the stored record held; this invocation's
                    // may hold a transfer it does not know of (its save failed): given back
                    // too (a second give-back changes nothing).
                    self.clean_up(&record).await;
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
}
