//! Background jobs: what a job is on the wire (its status), what its Durable Object is
//! given to run (its spec), how a request asks for one, and how its webhook is signed and
//! retried.

use hmac::Mac;
use serde::{Deserialize, Serialize};
use url::Url;

use super::authority_wire::Reservation;
use super::clock::iso8601;
use super::config::Config;
use super::envelope::FileData;
use super::error::Error;
use super::flow::Prepared;
use super::idempotency::Answered;
use super::mac::hmac_sha256;
use super::ranges::Validator;
use super::url_policy::UrlPolicy;

/// The webhook signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "X-Urlstash-Signature";
/// Deliveries are retried for this long after the job ends.
pub const WEBHOOK_WINDOW_MS: i64 = 60 * 60 * 1000;
/// Jobs a key's listing answers (its most recent).
pub const MAX_LISTED_JOBS: u32 = 100;
/// A job is kept this long after it ends (its status answers until then, its webhook is
/// long done), then forgotten: its object deletes all it stored.
pub const KEPT_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// How long past its deadline a job whose object is whole (every byte in R2: only its
/// digest and commit left) may still be recorded: one more invocation, so that an
/// invocation that died there does not throw the stored file away for the clock.
pub const STORING_GRACE_MS: i64 = 12 * 60 * 1000;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "client", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, not started yet.
    Queued,
    /// Fetching from the origin (and storing the parts that arrived).
    Downloading,
    /// Every byte is in: completing the object and recording the file.
    Storing,
    Succeeded,
    Failed,
    Canceled,
}

impl JobState {
    /// Whether the job is over (nothing will change it but its webhook's delivery).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Canceled
        )
    }
}

/// Why a job failed: the status and message its upload would have been answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "client", derive(tsify::Tsify))]
pub struct JobFailure {
    /// The HTTP status the upload would have had.
    pub code: u16,
    /// Its message.
    pub msg: String,
}

impl From<&Error> for JobFailure {
    fn from(err: &Error) -> Self {
        JobFailure {
            code: err.status(),
            msg: err.public_message(),
        }
    }
}

impl JobFailure {
    /// The error that job `job_id`'s object refused a request with ([`JobReply::Err`]): not
    /// found, ended, or its `Idempotency-Key` sent with another request; anything else is
    /// internal (logged by the object).
    pub fn refusal(self, job_id: &str) -> Error {
        match self.code {
            404 => Error::JobNotFound,
            409 => Error::JobFinished,
            422 => Error::IdempotencyKeyReused,
            _ => Error::internal(format!("job {job_id} refused: {}", self.msg)),
        }
    }
}

/// A job object's answer to the Worker: the job's status (`Replayed`: as a start with the
/// same `Idempotency-Key` left it, not started now), or a refusal. `Ok` and `Err` are the
/// wire of a `Result<JobStatus, JobFailure>`, which Workers before `Replayed` read.
#[derive(Debug, Serialize, Deserialize)]
pub enum JobReply {
    Ok(JobStatus),
    Replayed(JobStatus),
    Err(JobFailure),
}

impl JobReply {
    /// The object's `answer` on the wire.
    pub fn of(answer: Result<Answered<JobStatus>, Error>) -> Self {
        match answer {
            Ok(Answered { data, replayed: false }) => JobReply::Ok(data),
            Ok(Answered { data, replayed: true }) => JobReply::Replayed(data),
            Err(err) => JobReply::Err(JobFailure::from(&err)),
        }
    }

    /// The answer of job `job_id`'s object, read back ([`JobFailure::refusal`]).
    pub fn answer(self, job_id: &str) -> Result<Answered<JobStatus>, Error> {
        match self {
            JobReply::Ok(status) => Ok(Answered::new(status)),
            JobReply::Replayed(status) => Ok(Answered::replayed(status)),
            JobReply::Err(failure) => Err(failure.refusal(job_id)),
        }
    }
}

/// A job as `GET /api/v1/jobs/{job_id}` answers it (and as its webhook delivers it);
/// TypeScript: `JobStatus`, alias `Job`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "client", derive(tsify::Tsify))]
pub struct JobStatus {
    /// `job_` + 32 hex digits.
    pub job_id: String,
    pub state: JobState,
    /// The URL the job fetches.
    pub file_url: String,
    /// Bytes received from the origin so far (never counted twice when a range resumes;
    /// after a restart of the service it goes on from the parts already stored, so it may
    /// step back by those that were in flight). A failed or canceled job keeps what it had
    /// received when it ended.
    pub bytes_received: u64,
    /// The file's size once the origin told it.
    pub total_bytes: Option<u64>,
    /// ISO 8601, like the other times.
    pub created_at: String,
    pub started_at: Option<String>,
    pub updated_at: String,
    /// The stored file, once `succeeded`.
    pub result: Option<FileData>,
    /// Why it failed (the status and message the upload would have had), once `failed`.
    pub error: Option<JobFailure>,
}

/// What a job's Durable Object is given to run: the checked request and who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub job_id: String,
    pub key_id: String,
    pub file_url: String,
    pub upload_path: Option<String>,
    pub file_name: Option<String>,
    pub expected_sha256: Option<String>,
    pub callback_url: Option<String>,
    /// Where the file's links point.
    pub base_url: String,
    /// The URL the request came in on: its host is refused as a fetch target, as in the
    /// request itself (the Worker never fetches itself).
    pub request_url: String,
    pub created_ms: i64,
    /// Link controls (docs/links.md): the file's own lifetime, checked at start against the
    /// key's maximum (`key_max_ttl_secs`, kept so the job checks it the same way).
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub key_max_ttl_secs: Option<u64>,
    #[serde(default)]
    pub max_downloads: Option<u64>,
    #[serde(default)]
    pub private: bool,
}

impl JobSpec {
    /// The URL policy the job's requests (to its origin, and its webhook's) are checked by:
    /// the configured one, with the host the job was asked at refused.
    pub fn policy(&self, config: &Config) -> Result<UrlPolicy, Error> {
        let request_url = Url::parse(&self.request_url).map_err(Error::internal)?;
        Ok(config.policy_for(&request_url))
    }
}

/// Everything a job's Durable Object keeps about it (one record; each stored part is kept
/// beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub spec: JobSpec,
    pub state: JobState,
    pub total_bytes: Option<u64>,
    /// Bytes of the parts stored by earlier invocations (a restarted job goes on from them).
    pub stored_bytes: u64,
    pub started_ms: Option<i64>,
    pub updated_ms: i64,
    pub ended_ms: Option<i64>,
    pub result: Option<FileData>,
    pub error: Option<JobFailure>,
    /// Decided once the origin answered; `None` before.
    pub transfer: Option<Transfer>,
    /// Runs that fetched from the start (an origin without ranges cannot resume).
    pub runs: u32,
    /// The webhook's delivery, once the job is over and has a `callback_url`.
    pub delivery: Option<Delivery>,
}

/// What a running job decided: the upload's names and id, and how its bytes are fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub prepared: Prepared,
    /// Set when the origin serves ranges: the rest can be fetched by any invocation.
    pub ranged: Option<RangedSource>,
    /// The R2 multipart upload the parts go to: a ranged file's, or one stream's once it
    /// passed a part (recorded so that a stream that dies with its invocation is aborted).
    pub upload_id: Option<String>,
    /// When the reservation was last refreshed (a reservation lapses after 15 minutes).
    pub reserved_ms: i64,
    /// The multipart upload was completed: the object is whole, and what is left is its
    /// digest (`sha256`, when one invocation saw every part) and the commit. R2 refuses a
    /// second `complete`, so a later invocation goes straight there.
    #[serde(default)]
    pub completed: bool,
    #[serde(default)]
    pub sha256: Option<String>,
    /// What the first reservation of a body of unknown length held (what the quota left
    /// it): its stream stops there, and a refresh holds that again.
    #[serde(default)]
    pub held: Option<u64>,
}

impl Transfer {
    /// The reservation a refresh renews: the declared size, or the bytes first held.
    pub fn reservation(&self, limit: u64, now_ms: i64) -> Reservation {
        let mut reservation = self.prepared.reservation(limit, now_ms);
        if let Some(held) = self.held {
            reservation.bytes = held;
            reservation.up_to = false;
        }
        reservation
    }

    /// Whether a later invocation can go on from the parts stored: a ranged file whose
    /// multipart upload started. Anything else starts over.
    pub fn resumable(&self) -> bool {
        self.ranged.is_some() && self.upload_id.is_some()
    }
}

/// Where and which version of a file to fetch in ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangedSource {
    pub url: String,
    pub validator: Validator,
    pub total: u64,
}

/// A webhook's delivery: attempts so far, and when the next one is due (`None`: done,
/// delivered or given up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub attempts: u32,
    pub delivered: bool,
    pub next_ms: Option<i64>,
}

/// A key's job listing (`GET /api/v1/jobs`): the statuses read, newest first, and by id
/// the running jobs whose object did not answer, to be asked again one by one (one job in
/// trouble does not hide the others).
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct JobList {
    pub jobs: Vec<JobStatus>,
    pub unavailable: Vec<String>,
}

impl JobList {
    /// From each listed job's id and its answer, in order; a job not found (forgotten
    /// since the index was read) is left out.
    pub fn from_answers(answers: impl IntoIterator<Item = (String, Result<JobStatus, Error>)>) -> Self {
        let mut list = JobList { jobs: Vec::new(), unavailable: Vec::new() };
        for (job_id, answer) in answers {
            match answer {
                Ok(status) => list.jobs.push(status),
                Err(Error::JobNotFound) => {}
                Err(_) => list.unavailable.push(job_id),
            }
        }
        list
    }
}

impl JobRecord {
    /// A job just accepted.
    pub fn new(spec: JobSpec) -> Self {
        let now = spec.created_ms;
        JobRecord {
            spec,
            state: JobState::Queued,
            total_bytes: None,
            stored_bytes: 0,
            started_ms: None,
            updated_ms: now,
            ended_ms: None,
            result: None,
            error: None,
            transfer: None,
            runs: 0,
            delivery: None,
        }
    }

    /// The job as its owner sees it; `received` counts what this invocation read beyond the
    /// stored parts (once every part is stored, the file's size).
    pub fn status(&self, received: u64) -> JobStatus {
        let bytes_received = match (&self.result, self.state, self.total_bytes) {
            (Some(file), _, _) => file.file_size,
            (None, JobState::Storing, Some(total)) => total,
            // Ended: what it had received when it ended, as recorded (the same figure for
            // every reader: its status, its cancel's answer, its webhook).
            (None, state, _) if state.is_final() => self.stored_bytes,
            _ => self.stored_bytes + received,
        };
        JobStatus {
            job_id: self.spec.job_id.clone(),
            state: self.state,
            file_url: self.spec.file_url.clone(),
            bytes_received,
            total_bytes: self
                .total_bytes
                .or(self.result.as_ref().map(|f| f.file_size)),
            created_at: iso8601(self.spec.created_ms),
            started_at: self.started_ms.map(iso8601),
            updated_at: iso8601(self.updated_ms),
            result: self.result.clone(),
            error: self.error.clone(),
        }
    }

    /// When the job is cut: `timeout_ms` after it was accepted, or [`STORING_GRACE_MS`]
    /// later once its object is whole.
    pub fn deadline_ms(&self, timeout_ms: u64) -> i64 {
        let whole = self.transfer.as_ref().is_some_and(|t| t.completed);
        self.spec.created_ms + timeout_ms as i64 + if whole { STORING_GRACE_MS } else { 0 }
    }

    /// When an ended job's object next has work: its webhook's next attempt, else
    /// forgetting the job ([`KEPT_MS`] after its end). `None` while the job runs.
    pub fn next_after_end(&self) -> Option<i64> {
        let ended = self.ended_ms?;
        Some(self.delivery.as_ref().and_then(|d| d.next_ms).unwrap_or(ended + KEPT_MS))
    }

    /// Whether the job ended [`KEPT_MS`] ago or more, with no webhook attempt left: it is
    /// forgotten.
    pub fn forgotten(&self, now_ms: i64) -> bool {
        let pending = self.delivery.as_ref().is_some_and(|d| d.next_ms.is_some());
        self.ended_ms.is_some_and(|ended| now_ms >= ended + KEPT_MS) && !pending
    }

    /// Ends the job in `state` at `now_ms`; its webhook, if any, is due at once.
    pub fn end(&mut self, state: JobState, now_ms: i64) {
        self.state = state;
        self.updated_ms = now_ms;
        self.ended_ms = Some(now_ms);
        if self.spec.callback_url.is_some() {
            self.delivery = Some(Delivery {
                attempts: 0,
                delivered: false,
                next_ms: Some(now_ms),
            });
        }
    }
}

/// Whether a request asks to run as a job: its `"async"` when given (an explicit `false`
/// outranks the header, as the body names the one upload), else `Prefer: respond-async`
/// (RFC 7240: a preference the server may decline; preferences are comma-separated, names
/// case-insensitive).
pub fn wants_async(prefer: Option<&str>, flag: Option<bool>) -> bool {
    flag.unwrap_or_else(|| prefers_async(prefer))
}

/// Whether a `Prefer` header holds `respond-async` (answered `Preference-Applied` when the
/// job starts).
pub fn prefers_async(prefer: Option<&str>) -> bool {
    prefer.is_some_and(|p| {
        p.split(',').any(|pref| {
            pref.split(';')
                .next()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case("respond-async"))
        })
    })
}

/// The signature header's value for `body` sent at `unix_secs`, signed with `secret`.
pub fn sign(secret: &str, unix_secs: i64, body: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), &[unix_secs.to_string().as_bytes(), b".", body.as_bytes()]);
    format!("t={unix_secs},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// When delivery attempt `attempt` (1, 2, ...) after the first failure goes out, for a job
/// that ended at `ended_ms`: 1 s after the first, doubling, at most 5 minutes apart, for an
/// hour; `None` once the hour is over.
pub fn retry_at(ended_ms: i64, failed_at_ms: i64, attempt: u32) -> Option<i64> {
    let delay = (1_000i64 << attempt.saturating_sub(1).min(20)).min(300_000);
    let at = failed_at_ms + delay;
    (at <= ended_ms + WEBHOOK_WINDOW_MS).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_objects_reply_keeps_the_wire_of_a_result() {
        let status = JobRecord::new(spec(None)).status(0);
        let failure = JobFailure { code: 404, msg: "no such job".into() };
        let as_result = |r: Result<&JobStatus, &JobFailure>| serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::to_string(&JobReply::Ok(status.clone())).unwrap(), as_result(Ok(&status)));
        assert_eq!(serde_json::to_string(&JobReply::Err(failure.clone())).unwrap(), as_result(Err(&failure)));
        let replayed = serde_json::to_string(&JobReply::Replayed(status.clone())).unwrap();
        assert!(replayed.starts_with(r#"{"Replayed":{"job_id":"#), "{replayed}");
        assert!(matches!(serde_json::from_str(&replayed).unwrap(), JobReply::Replayed(s) if s == status));
    }

    #[test]
    fn a_job_objects_answers_come_back_as_they_were() {
        let status = JobRecord::new(spec(None)).status(0);
        for answered in [Answered::new(status.clone()), Answered::replayed(status)] {
            let wire = serde_json::to_string(&JobReply::of(Ok(answered.clone()))).unwrap();
            assert_eq!(serde_json::from_str::<JobReply>(&wire).unwrap().answer("job_1"), Ok(answered));
        }
        for err in [Error::JobNotFound, Error::JobFinished, Error::IdempotencyKeyReused] {
            assert_eq!(JobFailure::from(&err).refusal("job_1"), err);
            assert_eq!(JobReply::of(Err(err.clone())).answer("job_1"), Err(err));
        }
        let lost = JobFailure::from(&Error::internal("storage failed")).refusal("job_1");
        assert_eq!((lost.status(), lost.internal_detail()), (500, Some("job job_1 refused: internal error")));
    }

    #[test]
    fn async_is_asked_by_the_body_or_by_prefer() {
        assert!(wants_async(None, Some(true)));
        assert!(!wants_async(None, Some(false)));
        assert!(!wants_async(None, None));
        assert!(!wants_async(Some("respond-async"), Some(false)), "an explicit false outranks the header");
        assert!(wants_async(Some("respond-async"), Some(true)));
        for prefer in [
            "respond-async",
            "Respond-Async",
            "return=minimal, respond-async",
            "respond-async; wait=10",
            " wait=5 ,respond-async ",
        ] {
            assert!(wants_async(Some(prefer), None), "{prefer}");
        }
        for prefer in [
            "",
            "return=minimal",
            "respond-asynchronous",
            "wait=10; respond-async",
        ] {
            assert!(!wants_async(Some(prefer), None), "{prefer}");
        }
    }

    #[test]
    fn signatures_are_hmac_sha256_over_time_and_body() {
        use hmac::Hmac;
        use sha2::Sha256;

        // RFC 4231 test case 2's key and data, in the `t.body` form
        let sig = sign("Jefe", 1, "what do ya want for nothing?");
        assert!(sig.starts_with("t=1,v1="), "{sig}");
        assert_eq!(sig.len(), "t=1,v1=".len() + 64);
        assert_ne!(sign("Jefe", 2, "x"), sign("Jefe", 1, "x"));
        assert_ne!(sign("Jefe", 1, "x"), sign("Jeff", 1, "x"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"7.{}");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sign("key", 7, "{}"), format!("t=7,v1={want}"));
    }

    #[test]
    fn deliveries_back_off_for_an_hour() {
        let end = 1_000_000;
        assert_eq!(retry_at(end, end, 1), Some(end + 1_000));
        assert_eq!(retry_at(end, end + 1_000, 2), Some(end + 3_000));
        assert_eq!(retry_at(end, end, 12), Some(end + 300_000));
        assert_eq!(retry_at(end, end + WEBHOOK_WINDOW_MS - 1_000, 12), None);
    }

    fn spec(callback_url: Option<&str>) -> JobSpec {
        JobSpec {
            job_id: "job_1".into(),
            key_id: "k_1".into(),
            file_url: "https://example.com/f".into(),
            upload_path: None,
            file_name: None,
            expected_sha256: None,
            callback_url: callback_url.map(str::to_owned),
            base_url: "https://stash.example".into(),
            request_url: "https://stash.example/api/v1/upload".into(),
            created_ms: 0,
            expires_in: None,
            key_max_ttl_secs: None,
            max_downloads: None,
            private: false,
        }
    }

    #[test]
    fn an_ended_job_is_kept_a_week_then_forgotten_once_its_webhook_is_done() {
        let mut quiet = JobRecord::new(spec(None));
        assert_eq!(quiet.next_after_end(), None, "running");
        assert!(!quiet.forgotten(KEPT_MS * 2));
        quiet.end(JobState::Succeeded, 5_000);
        assert_eq!(quiet.next_after_end(), Some(5_000 + KEPT_MS));
        assert!(!quiet.forgotten(5_000 + KEPT_MS - 1));
        assert!(quiet.forgotten(5_000 + KEPT_MS));

        let mut hooked = JobRecord::new(spec(Some("https://hooks.example/done")));
        hooked.end(JobState::Failed, 5_000);
        assert_eq!(hooked.next_after_end(), Some(5_000), "its webhook first");
        assert!(!hooked.forgotten(5_000 + KEPT_MS), "an attempt is still due");
        let delivery = hooked.delivery.as_mut().unwrap();
        (delivery.delivered, delivery.next_ms) = (true, None);
        assert_eq!(hooked.next_after_end(), Some(5_000 + KEPT_MS));
        assert!(hooked.forgotten(5_000 + KEPT_MS));
    }

    #[test]
    fn progress_counts_stored_and_received_bytes_until_every_part_is_stored() {
        let mut record = JobRecord::new(spec(None));
        assert_eq!(record.status(0).bytes_received, 0);
        record.state = JobState::Downloading;
        record.total_bytes = Some(100);
        record.stored_bytes = 40;
        assert_eq!(record.status(25).bytes_received, 65);
        // parts fetched again after a restart are counted again while downloading...
        assert_eq!(record.status(70).bytes_received, 110);
        // ...but once every part is stored, it is the file's size
        record.state = JobState::Storing;
        assert_eq!(record.status(70).bytes_received, 100);
        assert_eq!(record.status(70).state, JobState::Storing);
        // ended without a file: what it recorded, whoever asks with whatever count
        for state in [JobState::Failed, JobState::Canceled] {
            record.end(state, 2);
            record.stored_bytes = 65;
            assert_eq!((record.status(0).bytes_received, record.status(25).bytes_received), (65, 65));
        }
    }

    #[test]
    fn a_job_is_cut_at_its_deadline_unless_its_object_is_whole() {
        let mut record = JobRecord::new(JobSpec { created_ms: 1_000, ..spec(None) });
        assert_eq!(record.deadline_ms(60_000), 61_000, "not started");
        let meta = r#"{"owner":"k_1","original_name":"a.bin","mime_type":"application/octet-stream","upload_ms":0,"expires_ms":1}"#;
        let prepared = format!(r#"{{"content_length":8,"file_id":"f","upload_path":"","file_name":"a.bin","original_name":"a.bin","mime_type":"application/octet-stream","meta":{meta}}}"#);
        let prepared = serde_json::from_str(&prepared).unwrap();
        let mut transfer = Transfer { prepared, ranged: None, upload_id: Some("u".into()), reserved_ms: 0, completed: false, sha256: None, held: None };
        record.transfer = Some(transfer.clone());
        assert_eq!(record.deadline_ms(60_000), 61_000, "parts still to fetch");
        transfer.completed = true;
        record.transfer = Some(transfer);
        assert_eq!(record.deadline_ms(60_000), 61_000 + STORING_GRACE_MS, "every byte in R2: its commit may come later");
    }

    #[test]
    fn a_listing_leaves_out_forgotten_jobs_and_names_those_that_did_not_answer() {
        let status = |id: &str| JobStatus { job_id: id.into(), ..JobRecord::new(spec(None)).status(0) };
        let answers = vec![
            ("job_a".to_owned(), Ok(status("job_a"))),
            ("job_b".to_owned(), Err(Error::internal("storage"))),
            ("job_c".to_owned(), Err(Error::JobNotFound)),
            ("job_d".to_owned(), Ok(status("job_d"))),
        ];
        let list = JobList::from_answers(answers);
        assert_eq!(list.jobs, [status("job_a"), status("job_d")], "in order, the one in trouble aside");
        assert_eq!(list.unavailable, ["job_b"]);
        let wire = serde_json::to_value(JobList::from_answers(vec![])).unwrap();
        assert_eq!(wire, serde_json::json!({"jobs": [], "unavailable": []}), "both always there");
    }

    #[test]
    fn final_states() {
        let finals: Vec<_> = [
            JobState::Queued,
            JobState::Downloading,
            JobState::Storing,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Canceled,
        ]
        .into_iter()
        .filter(|s| s.is_final())
        .collect();
        assert_eq!(
            finals,
            [JobState::Succeeded, JobState::Failed, JobState::Canceled]
        );
    }
}
