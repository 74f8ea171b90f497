//! One invocation of a job's transfer: the first one fetches (the probe, type, names),
//! reserves and starts the multipart upload; any later one resumes it from the parts its
//! storage records. The same lanes as an upload's fetch the parts (`server::parallel`), with a
//! checkpoint that records each part and keeps the reservation alive; an invocation that
//! runs out of time stops taking parts and hands over to the next. A file from an origin
//! without ranges is one stream, whose multipart upload is recorded as it starts so that
//! the next invocation can abort it if the stream dies with its own.

use std::cell::Cell;
use std::collections::BTreeMap;

use futures_util::future::LocalBoxFuture;
use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::{R2Bucket, R2MultipartUpload};
use worker::{Bucket, Storage};

use super::authority_client::AuthorityClient;
use super::bindings::Services;
use super::blocklist::KvBlocklist;
use super::buffers;
use super::cursor::{Cursor, Source};
use super::digest::sha256_of_stream;
use super::files::forget_name;
use super::ingest::{abort_multipart, put_unknown, UNKNOWN_LENGTH_MIB};
use super::job_store::{forget_parts, load, save, save_part, Parts};
use super::js::{describe, now_ms, wait};
use super::origin::{Ranged, WorkerOrigin};
use super::parallel::{parallel_turn, put_whole, read_probe, Checkpoint, Lanes, Probe, Turn};
use super::r2::{put_options, Target, UploadLog};
use super::respond::log_internal;
use super::timers::cut_after;
use crate::core::authority_wire::FileRow;
use crate::core::envelope::FileData;
use crate::core::flow::{self, Prepared, UploadContext};
use crate::core::jobs::{JobRecord, JobState, RangedSource, Transfer};
use crate::core::links::unexpired;
use crate::core::ranges::Plan;
use crate::core::request::UploadRequest;
use crate::core::seams::{Blocklist, FileAuthority, StoredObject};
use crate::core::url_policy::{self, UrlPolicy};
use crate::core::{layout, listing, Error};

/// A reservation is refreshed this often (it lapses after 15 minutes); the refresh is also
/// where a key disabled or revoked meanwhile stops a job (401), rather than at its commit.
const REFRESH_MS: i64 = 30 * 1000;

/// How an invocation ended.
pub(crate) enum Ran {
    /// Stored and recorded.
    Done(FileData),
    /// Stopped taking parts (time up, or canceled); the next invocation goes on.
    Paused,
    /// Another transfer in this isolate runs lanes, its buffer budget is short, or the key's
    /// authority is on the version before (or could not say whether a commit landed): the
    /// next invocation tries again soon (an alarm handler does not wait: its time is
    /// bounded).
    Waiting,
}

/// Fetches from the start at most this many times (an origin without ranges cannot resume).
const MAX_RUNS: u32 = 3;

/// How long a job's commit waits, in turn, for a blocklist its instance cannot read yet
/// (`Error::BlocklistUnread`) before it tries a last time: 15 s in all.
const BLOCKLIST_WAITS_MS: [u64; 4] = [1_000, 2_000, 4_000, 8_000];

/// How long a job's commit waits, in turn, for a key's authority still on the version
/// before (`Error::Updating`: a deployment reaches the objects in seconds), its bytes kept,
/// before it gives them back and fails 503: 30 s in all.
const UPDATING_WAITS_MS: [u64; 5] = [1_000, 2_000, 4_000, 8_000, 15_000];

/// A stream from an origin without ranges must be stored within this long after its
/// invocation began: it cannot be resumed, and the platform ends an alarm handler after 15
/// minutes (the rest is for completing and committing it). Cut there, the job fails at once
/// with a clear error, rather than being ended by the platform [`MAX_RUNS`] times over.
const STREAM_MS: u64 = 13 * 60 * 1000;

/// Lanes stop taking parts at the invocation's 12 minutes, but a part taken then from a
/// slow origin (8 MiB at 40 KiB/s: 3.5 minutes) would run past the platform's 15: parts
/// still coming this long after the invocation began are ended (the parts stored are kept),
/// and the next invocation takes them again. The last minute is for the lanes to settle.
const LANES_MS: u64 = 14 * 60 * 1000;
/// The abort reason of the lanes' cut at [`LANES_MS`].
const LANES_CUT: &str = "lanes cut";

/// MiB of buffers a job's transfer from the start may hold besides its lanes' parts: two
/// parts of a stream without ranges (the most), or a one-part file (`buffers`).
pub(crate) const JOB_START_MIB: usize = UNKNOWN_LENGTH_MIB;

/// What one invocation works with.
pub(crate) struct Run<'a> {
    pub services: &'a Services,
    pub storage: &'a Storage,
    pub origin: &'a WorkerOrigin,
    pub authority: &'a AuthorityClient,
    /// The job's `file_url` and the URL policy its requests are checked by, read from its
    /// spec once per invocation (its origin follows the same redirects again).
    pub file_url: &'a Url,
    pub policy: &'a UrlPolicy,
    /// Bytes read by this invocation.
    pub received: &'a Cell<u64>,
    /// Whether to stop taking parts.
    pub stop: &'a dyn Fn() -> bool,
    /// Whether the job was canceled: then nothing is committed.
    pub canceled: &'a dyn Fn() -> bool,
    /// Set once the commit is under way (past its check of `canceled`), until the
    /// invocation ends: a cancel then waits for that end, however long it takes.
    pub committing: &'a Cell<bool>,
}

/// Another transfer has this isolate's turn to run lanes (or its buffers are short).
pub(crate) struct TurnTaken;

/// What a later invocation of `record` needs before anything else: a transfer whose lanes
/// go on needs its isolate's turn for them (`Some`), and while another transfer has it, the
/// invocation waits ([`Ran::Waiting`]) without a storage call. `Ok(None)`: no turn needed.
pub(crate) fn turn_to_resume(record: &JobRecord) -> Result<Option<Turn>, TurnTaken> {
    match &record.transfer {
        Some(transfer @ Transfer { ranged: Some(source), completed: false, .. }) if transfer.resumable() => {
            parallel_turn(&Plan::new(source.total), 0, buffers::invocation_lease_end()).map(Some).ok_or(TurnTaken)
        }
        _ => Ok(None),
    }
}

impl Run<'_> {
    /// Runs the job's transfer as far as this invocation goes; `record` is saved on the way
    /// (its `transfer` once decided). `stored`: a resumable transfer's stored parts; `turn`:
    /// its lanes' turn ([`turn_to_resume`]).
    pub async fn go(&self, record: &mut JobRecord, stored: Option<Parts>, turn: Option<Turn>) -> Result<Ran, Error> {
        match record.transfer.clone() {
            Some(transfer) if transfer.resumable() => match self.resume(record, transfer.clone(), stored.unwrap_or_default(), turn).await {
                // Its reservation was given up before its upload was complete (its end given
                // back but not recorded, or left unrefreshed past its lapse): what it stored
                // can never be committed, so the transfer starts over, as a fresh one (a run
                // of its own, `MAX_RUNS`). Not once complete: then its commit may have landed
                // and the file been deleted since, which must not come back.
                Err(Error::ReservationGone) if !transfer.completed => {
                    worker::console_warn!("job {}: its reservation was given up: the transfer starts over", record.spec.job_id);
                    forget_parts(self.storage).await?;
                    record.stored_bytes = 0;
                    self.received.set(0);
                    self.start_over(record, &transfer).await
                }
                other => other,
            },
            Some(transfer) => {
                if let Some(ran) = self.committed_before(record, &transfer.prepared.file_id).await? {
                    return Ok(ran);
                }
                // A single stream died with its invocation: nothing of it can be reused.
                self.start_over(record, &transfer).await
            }
            None => self.fresh(record).await,
        }
    }

    /// Whether `file_id` was committed by an invocation that ended before it recorded so:
    /// then the job is done (`Some(Ran::Done)`). Not known (the key's authority failing, or
    /// on the version before): asked again soon (`Some(Ran::Waiting)`), rather than fetched
    /// or committed again (which would cost a run and the whole download, or fail a job
    /// whose file is stored). `None`: it was not. The key revoked or disabled ends the job.
    async fn committed_before(&self, record: &JobRecord, file_id: &str) -> Result<Option<Ran>, Error> {
        match self.authority.get(file_id).await {
            Ok(row) => self.done(record, &row).map(Some),
            Err(Error::FileNotFound) => Ok(None),
            Err(err @ (Error::Internal(_) | Error::Updating)) => {
                log_internal(&format!("job {}: was it committed", record.spec.job_id), &err);
                Ok(Some(Ran::Waiting))
            }
            Err(err) => Err(err),
        }
    }

    /// Gives back `transfer`, of which nothing can be reused, and starts a fresh one: in the
    /// next invocation when this one's origin was ended (a lane that found the reservation
    /// given up ends it), as a fresh transfer needs an origin of its own.
    async fn start_over(&self, record: &mut JobRecord, transfer: &Transfer) -> Result<Ran, Error> {
        give_back(&self.services.bucket, self.authority, transfer).await;
        record.transfer = None;
        if self.origin.signal().aborted() {
            return Ok(Ran::Paused);
        }
        self.fresh(record).await
    }

    /// The first invocation: fetch, decide, reserve, then store. It holds its buffers' share
    /// of the isolate's budget (lanes take the rest of theirs with their turn); a job does
    /// not wait for it: it tries again soon, which is not one of its [`MAX_RUNS`].
    async fn fresh(&self, record: &mut JobRecord) -> Result<Ran, Error> {
        let Some(_buffers) = buffers::try_take(JOB_START_MIB, buffers::invocation_lease_end()) else { return Ok(Ran::Waiting) };
        record.runs += 1;
        if record.runs > MAX_RUNS {
            return Err(Error::OriginBroken);
        }
        // counted before anything can end the invocation
        self.save(record).await?;
        let config = &self.services.config;
        let spec = &record.spec;
        let now = now_ms();
        let base = Url::parse(&spec.base_url).map_err(Error::internal)?;
        let blocklist = KvBlocklist { keys: &self.services.keys, gate: &self.origin.gate };
        let ctx = UploadContext {
            config,
            blocklist: &blocklist,
            policy: self.policy,
            owner_id: &spec.key_id,
            max_ttl_secs: spec.key_max_ttl_secs,
            base_url: &base,
            now_ms: now,
            link_secret: self.services.link_secret.as_ref(),
            idempotency: None,
            later: &[],
        };
        let request = UploadRequest {
            file_url: self.file_url.clone(),
            upload_path: spec.upload_path.clone(),
            file_name: spec.file_name.clone(),
            expected_sha256: spec.expected_sha256.clone(),
            asynchronous: Some(true),
            callback_url: None,
            expires_in: spec.expires_in,
            max_downloads: spec.max_downloads,
            private: spec.private,
            origin_headers: None,
        };
        let limit = config.async_max_file_bytes;
        let (prepared, body) = flow::prepare(request, &ctx, self.origin, limit).await?;
        record.total_bytes = prepared.content_length;
        let held = match flow::reserve(self.authority, &prepared.reservation(limit, now)).await {
            Ok(held) => prepared.content_length.is_none().then_some(held.min(limit)),
            // The key's authority is on the version before: nothing is held; the job tries
            // again soon (backing off), and this was not one of its runs.
            Err(Error::Updating) => {
                body.cancel();
                record.runs -= 1;
                self.save(record).await?;
                return Ok(Ran::Waiting);
            }
            Err(err) => {
                body.cancel();
                return Err(err);
            }
        };
        let ranged = body.ranged.clone();
        // Recorded at once: whatever happens next, this reservation is given back.
        let mut transfer = Transfer { prepared: prepared.clone(), ranged: None, upload_id: None, reserved_ms: now, completed: false, sha256: None, held };
        record.transfer = Some(transfer.clone());
        self.save(record).await?;
        let key = layout::object_key(&prepared.file_id);
        let expected = record.spec.expected_sha256.clone();
        let target = self.target(&key, &prepared, expected.as_deref());
        match ranged {
            Some(ranged) if !Plan::new(ranged.total).single() => {
                let upload = target.create_multipart().await?;
                transfer.ranged = Some(RangedSource { url: ranged.url.to_string(), validator: ranged.validator.clone(), total: ranged.total });
                let recorded = async {
                    transfer.upload_id = Some(upload.upload_id().map_err(|e| Error::internal(describe(&e)))?);
                    record.transfer = Some(transfer.clone());
                    self.save(record).await
                };
                // An upload the record does not name would be left for R2's cleanup: aborted.
                if let Err(err) = recorded.await {
                    abort_multipart(&target, &upload).await;
                    return Err(err);
                }
                let source = Source::new(self.origin, &ranged, Some(self.received));
                let (_, probe) = read_probe(&source, body)?;
                self.lanes(record, &transfer, &target, &source, &upload, Some(probe), BTreeMap::new(), None).await
            }
            Some(ranged) => {
                let source = Source::new(self.origin, &ranged, Some(self.received));
                let cursor = Cursor::from_probe(&source, body, ranged.total)?;
                let stored = put_whole(&target, cursor, ranged.total).await?;
                self.commit(record, &transfer.prepared, stored).await
            }
            None => {
                // One stream, in parts read into the Worker (a job's progress; the declared
                // length, if any, is the limit): once it passes a part, its multipart
                // upload is recorded before the part goes up.
                let log = StreamLog { storage: self.storage, bucket: &self.services.bucket, authority: self.authority, record: record.clone(), received: self.received };
                let target = Target { log: Some(&log), ..target };
                let length = body.length;
                let cut = self.origin.shorten(STREAM_MS)?;
                let cap = length.or(held).unwrap_or(limit);
                let stored = put_unknown(&target, self.origin, body, cap).await.map_err(|err| match err {
                    Error::OriginTimeout { .. } if cut => Error::OriginTooSlow { ms: STREAM_MS },
                    // past what the quota left it (a declared length is no quota's)
                    err if length.is_none() => flow::past_held(err, cap, limit),
                    err => err,
                })?;
                if length.is_some_and(|n| n != stored.size) {
                    return Err(Error::OriginBroken);
                }
                self.received.set(stored.size);
                self.commit(record, &transfer.prepared, stored).await
            }
        }
    }

    /// A later invocation: the same multipart upload, the parts not in `stored` yet, with
    /// the lanes' `turn` taken before it began.
    async fn resume(&self, record: &mut JobRecord, transfer: Transfer, stored: Parts, turn: Option<Turn>) -> Result<Ran, Error> {
        let (Some(source), Some(upload_id)) = (&transfer.ranged, &transfer.upload_id) else {
            return Err(Error::internal("resume without ranges"));
        };
        let ranged = Ranged {
            url: Url::parse(&source.url).map_err(Error::internal)?,
            validator: source.validator.clone(),
            total: source.total,
        };
        // The reservation may be close to lapsing: refresh it first.
        let limit = self.services.config.async_max_file_bytes;
        refresh(self.authority, &transfer, limit).await?;
        let key = layout::object_key(&transfer.prepared.file_id);
        let expected = record.spec.expected_sha256.clone();
        let target = self.target(&key, &transfer.prepared, expected.as_deref());
        // What R2 holds under the upload's key decides, not only the record: an invocation
        // may have died between completing the upload and recording so (the object is whole),
        // and a completed object may be gone since (committed, then deleted or replaced by
        // the user; or given up by the key's authority as abandoned). Committing a row over
        // bytes that are gone would take the name from a newer file for nothing.
        let whole = match self.services.bucket.head(&key).await {
            Ok(Some(object)) => object.size() == source.total,
            Ok(None) => false,
            Err(e) => return Err(Error::internal(format!("r2 head {key}: {e}"))),
        };
        if transfer.completed && !whole {
            return Err(Error::internal(format!("{key}: the completed object is gone")));
        }
        if whole {
            // No lanes: the turn goes back before the read-back hash and the commit.
            drop(turn);
            // Its commit may have landed with an invocation that ended before recording so:
            // committing again would hash the file back for nothing, and could fail the job
            // (a blocklist unread, say) with its file stored and charged.
            if let Some(ran) = self.committed_before(record, &transfer.prepared.file_id).await? {
                return Ok(ran);
            }
            return self.commit_whole(record, transfer.clone(), &target, source.total).await;
        }
        // The URL the first run was sent to passed the policy then; the configuration may
        // have changed since (an exemption or a port taken away): it is asked for more only
        // if it passes now.
        url_policy::check(&ranged.url, self.policy)?;
        let upload: R2MultipartUpload = target
            .bucket
            .resume_multipart_upload(key.clone(), upload_id.clone())
            .map_err(|e| Error::internal(format!("r2 resume multipart: {}", describe(&e))))?
            .unchecked_into();
        let parts = stored
            .into_iter()
            .map(|(index, (_, part))| (index, part))
            .collect();
        let source = Source::new(self.origin, &ranged, Some(self.received));
        self.lanes(record, &transfer, &target, &source, &upload, None, parts, turn)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn lanes(
        &self,
        record: &mut JobRecord,
        transfer: &Transfer,
        target: &Target<'_>,
        source: &Source<'_>,
        upload: &R2MultipartUpload,
        probe: Option<Probe<'_>>,
        stored: BTreeMap<u64, JsValue>,
        turn: Option<Turn>,
    ) -> Result<Ran, Error> {
        let total = source.ranged.total;
        let checkpoint = JobCheckpoint {
            run: self,
            transfer,
            refreshed: Cell::new(transfer.reserved_ms),
            stored_now: Cell::new(0),
        };
        // One transfer in this isolate runs lanes at a time (their parts' memory), and only
        // while it does: the turn is given back before the read-back hash and the commit.
        let plan = Plan::new(total);
        // a fresh transfer holds JOB_START_MIB already; a resumed one nothing
        let held = if probe.is_some() { JOB_START_MIB } else { 0 };
        let Some(turn) = turn.or_else(|| parallel_turn(&plan, held, buffers::invocation_lease_end())) else {
            return Ok(Ran::Waiting);
        };
        let lanes = Lanes::new(
            plan,
            target,
            source,
            upload,
            probe,
            stored,
            checkpoint,
        );
        let cut_in = (self.origin.started_ms() + LANES_MS as i64 - now_ms()).max(0) as u64;
        let cut = || self.origin.ender().abort_with_reason(&JsValue::from_str(LANES_CUT));
        let ran = match cut_after(cut_in, lanes.run(), cut).await {
            Ok(ran) => ran,
            // The parts still coming were ended, and the lanes settled what they began: a
            // transfer the cut did not complete goes on in the next invocation (an error
            // the cut caused is the cut's, and any verdict on the file comes again there).
            // A lane that failed first ended the origin itself (another reason): its error
            // stands.
            Err(ran) if self.origin.signal().reason().as_string().as_deref() == Some(LANES_CUT) => ran.or(Ok(None)),
            Err(ran) => ran,
        };
        drop(turn);
        let Some(sha256) = ran? else {
            record.stored_bytes += lanes.checkpoint().stored();
            return Ok(Ran::Paused);
        };
        let mut transfer = transfer.clone();
        transfer.sha256 = sha256;
        self.commit_whole(record, transfer, target, total).await
    }

    /// The object of `transfer` is whole: recorded so (an invocation after this one only
    /// hashes and commits it), then committed.
    async fn commit_whole(&self, record: &mut JobRecord, mut transfer: Transfer, target: &Target<'_>, total: u64) -> Result<Ran, Error> {
        transfer.completed = true;
        record.transfer = Some(transfer.clone());
        record.state = JobState::Storing;
        self.save(record).await?;
        self.hash_and_commit(record, &transfer, target, total).await
    }

    /// Commits the whole object of `transfer`, of `size` bytes: with its digest when one
    /// invocation saw every part (`transfer.sha256`), else hashed from R2 first.
    async fn hash_and_commit(
        &self,
        record: &JobRecord,
        transfer: &Transfer,
        target: &Target<'_>,
        size: u64,
    ) -> Result<Ran, Error> {
        let sha256 = match &transfer.sha256 {
            Some(sha256) => sha256.clone(),
            // Parts came from more than one invocation: hash what R2 holds.
            None => target.checked(hash_object(target.bucket, target.key).await?)?,
        };
        self.commit(record, &transfer.prepared, StoredObject { size, sha256 }).await
    }

    async fn commit(
        &self,
        record: &JobRecord,
        prepared: &Prepared,
        stored: StoredObject,
    ) -> Result<Ran, Error> {
        let row = prepared.row(stored);
        // A cancel that gave up waiting for this invocation has given the upload back: its
        // bytes must not become a file. Given back here too: the cancel gave back what the
        // record it read held, which may predate this transfer (a second release changes
        // nothing).
        let canceled = || async {
            let canceled = (self.canceled)();
            if canceled {
                let _ = self.authority.release(&row.file_id).await;
            }
            canceled
        };
        // Waits `ms` before a try again: whether a cancel came meanwhile (given back so).
        let canceled_after = |ms: u64| {
            let canceled = &canceled;
            async move {
                worker::Delay::from(std::time::Duration::from_millis(ms)).await;
                canceled().await
            }
        };
        let gone = || Err(Error::internal("canceled before its commit"));
        if canceled().await {
            return gone();
        }
        // From here a cancel waits for this invocation's end (each wait below checks it).
        self.committing.set(true);
        let blocklist = KvBlocklist { keys: &self.services.keys, gate: &self.origin.gate };
        // A blocklist this instance never read and cannot read now (KV failing) mostly
        // passes in seconds: the job waits for it a while, its bytes kept, before its commit
        // gives them back and fails 503 (a sync upload answers 503 at once; its client sends
        // it again). A cancel meanwhile ends it as above.
        for wait_ms in BLOCKLIST_WAITS_MS {
            if blocklist.blocks(&row.sha256).await != Err(Error::BlocklistUnread) {
                break;
            }
            if canceled_after(wait_ms).await {
                return gone();
            }
        }
        let mut updating = UPDATING_WAITS_MS.iter();
        let committed = loop {
            match (flow::commit(self.authority, &blocklist, &row, None).await, updating.next()) {
                (Err(Error::Updating), Some(&wait_ms)) => {
                    if canceled_after(wait_ms).await {
                        return gone();
                    }
                }
                (committed, _) => break committed,
            }
        };
        match committed {
            Ok(_) => {}
            // Still the version before after every wait: given back, as a request's is.
            Err(Error::Updating) => {
                let _ = self.authority.release(&row.file_id).await;
                return Err(Error::Updating);
            }
            // The commit's answer was lost and the authority could not say whether it
            // landed: asked once more, and still not known, the next invocation asks
            // (`committed_before`) rather than commit again. A job that ended failed
            // over a file it stored and charged would have its owner store it again.
            Err(err @ Error::Internal(_)) => match self.authority.holds(&row.file_id).await {
                Ok(true) => {}
                Ok(false) => return Err(err),
                Err(again) => {
                    log_internal(&format!("job {}: was it committed", record.spec.job_id), &again);
                    return Ok(Ran::Waiting);
                }
            },
            Err(err) => return Err(err),
        }
        // As an upload answered here does: this isolate's entry for the name is stale now.
        forget_name(&record.spec.key_id, &row.upload_path, &row.file_name);
        self.done(record, &row)
    }

    /// Saves `record`, unless the job has ended meanwhile: a cancel that gave up waiting
    /// for this invocation (a call that outlasted its wait) records the end itself, and a
    /// save after it would put the job back to running with nothing left to run it. What
    /// `record`'s transfer holds that the end did not know of is given back here.
    async fn save(&self, record: &JobRecord) -> Result<(), Error> {
        ended_meanwhile(self.storage, record, &self.services.bucket, self.authority).await?;
        save(self.storage, record).await
    }

    /// The job's answer: the file `row` records.
    fn done(&self, record: &JobRecord, row: &FileRow) -> Result<Ran, Error> {
        job_file(record, row, self.services).map(Ran::Done)
    }

    fn target<'t>(
        &'t self,
        key: &'t str,
        prepared: &Prepared,
        expected: Option<&'t str>,
    ) -> Target<'t> {
        Target {
            bucket: self.services.bucket.as_ref().unchecked_ref(),
            key,
            options: put_options(&prepared.meta),
            expected,
            gate: &self.origin.gate,
            log: None,
        }
    }
}

/// Records a single stream's multipart upload in the job's record as soon as it starts,
/// and counts its bytes as they come.
struct StreamLog<'a> {
    storage: &'a Storage,
    bucket: &'a Bucket,
    authority: &'a AuthorityClient,
    /// The record as saved when the stream began.
    record: JobRecord,
    received: &'a Cell<u64>,
}

impl UploadLog for StreamLog<'_> {
    fn received(&self, bytes: u64) {
        self.received.set(self.received.get() + bytes);
    }

    fn started(&self, upload_id: String) -> LocalBoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let mut record = self.record.clone();
            if let Some(transfer) = record.transfer.as_mut() {
                transfer.upload_id = Some(upload_id);
            }
            ended_meanwhile(self.storage, &record, self.bucket, self.authority).await?;
            save(self.storage, &record).await
        })
    }
}

/// Refuses to go on when the stored record has ended (a cancel recorded it while this
/// invocation ran), after giving back what `record`'s transfer holds: the end cleaned up
/// only what the stored record knew of.
async fn ended_meanwhile(storage: &Storage, record: &JobRecord, bucket: &Bucket, authority: &AuthorityClient) -> Result<(), Error> {
    if !load(storage).await?.is_some_and(|stored| stored.state.is_final()) {
        return Ok(());
    }
    if let Some(transfer) = &record.transfer {
        give_back(bucket, authority, transfer).await;
    }
    Err(Error::internal("the job ended while its invocation ran"))
}

/// Gives back what a transfer that will not finish holds: its multipart upload and its
/// reservation (the key's authority deletes an uncommitted object with it). Best effort:
/// a reservation not given back lapses after 15 minutes (the failed release is logged).
pub(crate) async fn give_back(bucket: &Bucket, authority: &AuthorityClient, transfer: &Transfer) {
    abort_upload(bucket, transfer).await;
    let _ = authority.release(&transfer.prepared.file_id).await;
}

/// Aborts the transfer's recorded multipart upload, if any (best effort: R2 refuses to abort
/// a completed one, and drops abandoned ones after a week).
async fn abort_upload(bucket: &Bucket, transfer: &Transfer) {
    let Some(upload_id) = &transfer.upload_id else {
        return;
    };
    let bucket: &R2Bucket = bucket.as_ref().unchecked_ref();
    let key = layout::object_key(&transfer.prepared.file_id);
    if let Ok(upload) = bucket.resume_multipart_upload(key, upload_id.clone()) {
        let upload: R2MultipartUpload = upload.unchecked_into();
        if let Ok(promise) = upload.abort() {
            let _ = wait(promise).await;
        }
    }
}

/// Records each part in the job's storage, refreshes the reservation now and then, and
/// stops the lanes when the invocation must end.
struct JobCheckpoint<'a> {
    run: &'a Run<'a>,
    transfer: &'a Transfer,
    refreshed: Cell<i64>,
    /// Bytes of the parts this invocation stored.
    stored_now: Cell<u64>,
}

impl JobCheckpoint<'_> {
    fn stored(&self) -> u64 {
        self.stored_now.get()
    }
}

impl Checkpoint for JobCheckpoint<'_> {
    async fn part_stored(&self, index: u64, size: u64, part: &JsValue) -> Result<(), Error> {
        save_part(self.run.storage, index, size, part).await?;
        self.stored_now.set(self.stored_now.get() + size);
        let now = now_ms();
        // a file whose lifetime ran out would be refused at its commit: the job ends now
        let meta = &self.transfer.prepared.meta;
        unexpired(meta.upload_ms, meta.expires_ms, now)?;
        // Not after a cancel: it may have given the reservation back already (it waits for
        // this invocation only so long), and a refresh would hold the key's quota again.
        if now - self.refreshed.get() > REFRESH_MS && !(self.run.canceled)() {
            let limit = self.run.services.config.async_max_file_bytes;
            refresh(self.run.authority, self.transfer, limit).await?;
            self.refreshed.set(now);
        }
        Ok(())
    }

    fn stop(&self) -> bool {
        (self.run.stop)()
    }
}

/// The SHA-256 of a stored object, its body piped natively into a digest.
async fn hash_object(bucket: &R2Bucket, key: &str) -> Result<String, Error> {
    let failed = |e: JsValue| Error::internal(format!("r2 get for digest: {}", describe(&e)));
    let object = wait(
        bucket
            .get(key.to_owned(), JsValue::UNDEFINED)
            .map_err(failed)?,
    )
    .await
    .map_err(failed)?;
    let body: web_sys::ReadableStream = js_sys::Reflect::get(&object, &"body".into())
        .map_err(failed)?
        .unchecked_into();
    sha256_of_stream(&body).await
}

/// The file `row` records, as `record`'s job answers it (its links on the job's base URL).
pub(crate) fn job_file(record: &JobRecord, row: &FileRow, services: &Services) -> Result<FileData, Error> {
    let base = Url::parse(&record.spec.base_url).map_err(Error::internal)?;
    Ok(listing::file_data(&base, &record.spec.key_id, row, services.link_secret.as_ref()))
}

/// Refreshes `transfer`'s reservation. A lost answer (an internal error) passes, as does an
/// authority on the version before: the hold is there from before, lapses only after 15
/// minutes, and the next refresh (the next part, or the next invocation) asks again; a
/// refusal ends the transfer (the key revoked or
/// disabled), or has it start over (the id given up: [`Run::go`]).
pub(crate) async fn refresh<A: FileAuthority>(authority: &A, transfer: &Transfer, limit: u64) -> Result<(), Error> {
    // Not `flow::reserve`: its release on a lost answer would give this hold back.
    match authority.reserve(&transfer.reservation(limit, now_ms())).await {
        Ok(_) => Ok(()),
        Err(err @ (Error::Internal(_) | Error::Updating)) => {
            log_internal(&format!("job: refreshing the reservation of {}", transfer.prepared.file_id), &err);
            Ok(())
        }
        Err(err) => Err(err),
    }
}
