//! Canceling a job: stopping its running invocation, waiting for it (and for a commit or
//! a failure it is recording), then recording the job canceled and giving back what it held,
//! unless it ended otherwise meanwhile.

use std::time::Duration;

use super::{UploadJob, TURN_RETRY_MS};
use crate::core::jobs::{JobState, JobStatus};
use crate::core::Error;
use crate::server::job_store::save;
use crate::server::js::now_ms;

impl UploadJob {
    /// Whether a cancel of this run recorded the job canceled already.
    pub(super) async fn recorded_canceled(&self) -> bool {
        self.canceled.get() && matches!(self.load().await, Ok(Some(r)) if r.state == JobState::Canceled)
    }

    /// Whether this invocation may record the failure it ended with: not when a cancel that
    /// stopped waiting for it (30 s with no commit under way: say, its file hashed back from
    /// R2 for longer) recorded the job canceled and gave everything back (one recording it
    /// now is waited for): that end stands. When it may, a cancel from now on waits for
    /// its end (`committing`), then finds it (409).
    pub(super) async fn may_record_end(&self) -> bool {
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

    /// Cancels the job: stops its transfer, and leaves nothing stored or charged.
    pub(super) async fn cancel(&self, key_id: &str) -> Result<JobStatus, Error> {
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
}

/// Whether `err` may be what a cancel's abort made of the invocation's calls (an origin call
/// or wait ended, a commit not made), or a failure in passing (a busy isolate, an unread
/// blocklist, a key being updated), rather than a verdict on the file.
pub(super) fn stopped_by_cancel(err: &Error) -> bool {
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
