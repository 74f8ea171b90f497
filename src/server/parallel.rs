//! Storing a file the origin serves in ranges: the parts of its [`Plan`] are fetched by up to
//! [`LANES`](crate::core::ranges::LANES) connections at once, each range copied into its own
//! part buffer (JS memory, never wasm) and resumed where it breaks ([`Cursor`]), uploaded as
//! an R2 multipart part while it arrives (each piece written on as a view of the buffer),
//! and hashed in file order; a one-part file is one put, and a file whose
//! probe came faster than storage takes bytes one stream ([`put_streamed`]). A lane never waits
//! for its turn to hash: a part that arrives early waits and whoever hashes the part before
//! it hashes it too, and while a part waits no lane takes a new one ([`UNHASHED`]). Memory:
//! each lane holds one part: at most `lanes + 1` parts (48 MiB) at once, and one transfer in an
//! isolate runs lanes at a time ([`parallel_turn`]), its parts counted in the isolate's
//! buffer budget (`buffers`): an isolate has 128 MB for all of its requests (a batch's
//! items included), so an upload that finds the lanes busy, or the budget short, goes up as
//! one streamed put instead (a few MiB). A background job runs the same lanes with a
//! [`Checkpoint`] that records each stored part, so another invocation can go on from there;
//! one that finds the lanes busy tries again in its next invocation.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use std::time::Duration;

use futures_util::future::{join, join_all, ready, select, Either, LocalBoxFuture};
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use web_sys::WritableStreamDefaultWriter;
use worker::worker_sys::R2MultipartUpload;
use worker::Delay;

use super::buffers;
use super::cursor::{Cursor, Source, CHUNK_MIN, SCRATCH};
use super::digest::{sha256_of, Sha256Sink};
use super::ingest::{abort_multipart, fixed_length};
use super::js::{describe, now_ms, wait};
use super::origin::{OriginBody, WorkerOrigin};
use super::r2::{transfer_mib, Target};
use super::streamed::{finish, put_streamed, Stop};
use crate::core::gate::{Gate, Notify, Slot};
use crate::core::ranges::{one_stream_budget_ms, Plan};
use crate::core::seams::StoredObject;
use crate::core::Error;

/// What a background job keeps of its transfer between invocations.
#[allow(async_fn_in_trait)]
pub(crate) trait Checkpoint {
    /// Records that part `index` is stored (`part`: R2's answer, needed to complete).
    async fn part_stored(&self, index: u64, size: u64, part: &JsValue) -> Result<(), Error>;
    /// Whether to stop taking new parts (the job was canceled, or this invocation's time is
    /// up); parts in flight finish.
    fn stop(&self) -> bool;
}

/// An upload's checkpoint: nothing to keep, never stops.
pub(crate) struct Uninterrupted;

impl Checkpoint for Uninterrupted {
    async fn part_stored(&self, _: u64, _: u64, _: &JsValue) -> Result<(), Error> {
        Ok(())
    }

    fn stop(&self) -> bool {
        false
    }
}

/// A lane takes a new part only while fewer parts than this wait to be hashed (for a part
/// before them), or when the part is the next to hash (given back by a lane that ended):
/// so a waiting part holds its lane's place, and the lanes hold at most `lanes + UNHASHED`
/// parts, though up to `lanes - 1` may wait.
const UNHASHED: usize = 1;

thread_local! {
    /// Transfers running lanes at once in this isolate: each holds up to `lanes + 1` parts.
    static PARALLEL: Gate = Gate::new(1);
}

/// A transfer's turn to run lanes in this isolate, and its parts' buffers.
pub(crate) type Turn = (Slot, Slot);

/// This isolate's turn to run `plan`'s lanes, with their parts' share of its buffer budget
/// (`buffers`) beyond the `held` MiB the transfer holds already, held until dropped or
/// `until_ms` (the transfer's lease, see `buffers::lease_end`); `None` when another
/// transfer has the turn or the budget cannot spare them now.
pub(crate) fn parallel_turn(plan: &Plan, held: usize, until_ms: i64) -> Option<Turn> {
    let turn = PARALLEL.with(|gate| gate.try_take_leased(1, until_ms, now_ms()))?;
    Some((turn, buffers::try_take(lanes_mib(plan).saturating_sub(held), until_ms)?))
}

/// MiB the lanes of `plan` hold at most: a part per lane and the parts waiting to be hashed,
/// and a lane's scratch buffer each.
fn lanes_mib(plan: &Plan) -> usize {
    let lanes = plan.lanes as usize;
    (lanes + UNHASHED) * buffers::mib(plan.part_bytes) + lanes * buffers::mib(u64::from(SCRATCH))
}

/// Stores `body` (the probe's answer, with `ranged` set) and the rest of its file: a file of
/// one part with one put; a larger one as one stream when the probe came faster than storage
/// takes bytes (`one_stream_budget_ms`), else in parallel parts.
pub(crate) async fn put_ranged(target: &Target<'_>, origin: &WorkerOrigin, body: OriginBody, one_stream_mib_s: u64) -> Result<StoredObject, Error> {
    let Some(ranged) = body.ranged.clone() else { return Err(Error::internal("put_ranged without ranges")) };
    let plan = Plan::new(ranged.total);
    let source = Source::new(origin, &ranged, None);
    if plan.single() {
        let whole = Cursor::from_probe(&source, body, plan.total)?;
        return put_whole(target, whole, plan.total).await;
    }
    // The probe's own MiB decides: come within the time one fast connection would take (from
    // the request on), it is one stream; otherwise the lanes start at that time, part 0's
    // with the probe still being read.
    let asked_ms = body.asked_ms;
    let (probe_end, mut probe) = read_probe(&source, body)?;
    // The rest of the file after the probe's bytes (`head`), as one streamed put.
    let stream = |head| {
        let rest = Cursor::starting_with(&source, 0, vec![head], plan.total).reading_at_least(CHUNK_MIN);
        put_streamed(target, origin, rest, plan.total)
    };
    let deadline_ms = one_stream_budget_ms(probe_end, one_stream_mib_s).map(|budget| asked_ms + budget as i64);
    if let Some(deadline_ms) = deadline_ms.filter(|&at| at >= now_ms()) {
        let timer = Delay::from(Duration::from_millis((deadline_ms - now_ms()).max(0) as u64));
        if let Either::Left((head, _)) = select(probe.as_mut(), timer).await {
            let head = head.map_err(|err| origin.failure(err))?;
            // The clock decides, not which event was handled first: an isolate busy past the
            // deadline finds the read done and the timer due at once.
            if now_ms() <= deadline_ms {
                return stream(head).await;
            }
            probe = Box::pin(ready(Ok(head)));
        }
    }
    let Some(_turn) = parallel_turn(&plan, transfer_mib(plan.total), buffers::lease_end(origin)) else {
        // Another transfer in this isolate runs lanes: one stream, in a few MiB.
        return stream(probe.await.map_err(|err| origin.failure(err))?).await;
    };
    let upload = target.create_multipart().await?;
    let lanes = Lanes::new(
        plan,
        target,
        &source,
        &upload,
        Some(probe),
        BTreeMap::new(),
        Uninterrupted,
    );
    let failure = match lanes.run().await {
        Ok(Some(Some(sha256))) => return Ok(StoredObject { size: plan.total, sha256 }),
        Ok(Some(None)) => Error::internal("an upload's parts went unhashed"),
        Ok(None) => Error::internal("an upload's lanes stopped"),
        Err(err) => origin.failure(err),
    };
    // Whatever stopped the lanes, no part they stored is kept.
    abort_multipart(target, &upload).await;
    Err(failure)
}

/// A file of one part: read it whole, hash it, one put (R2 checks an expected digest).
pub(crate) async fn put_whole(
    target: &Target<'_>,
    mut cursor: Cursor<'_>,
    total: u64,
) -> Result<StoredObject, Error> {
    let bytes = cursor.read_all().await?;
    let sha256 = sha256_of(&bytes).await?;
    let stored = target.put(bytes.into()).await;
    target.settle(stored, sha256, total).await
}

/// The probe's bytes, read when first awaited: part 0 starts with them.
pub(crate) type Probe<'a> = LocalBoxFuture<'a, Result<Uint8Array, Error>>;

/// The end of the probe's body (`body`, the probe's answer), and its bytes as a [`Probe`].
pub(crate) fn read_probe<'a>(source: &'a Source<'a>, body: OriginBody) -> Result<(u64, Probe<'a>), Error> {
    let probe_end = body.length.unwrap_or(0);
    let mut cursor = Cursor::from_probe(source, body, probe_end)?;
    Ok((probe_end, Box::pin(async move { cursor.read_all().await })))
}

/// The state the lanes of one file share.
pub(crate) struct Lanes<'a, C> {
    plan: Plan,
    target: &'a Target<'a>,
    source: &'a Source<'a>,
    upload: &'a R2MultipartUpload,
    /// The probe's bytes, part 0's start (taken by the lane that gets part 0; `None` when
    /// an earlier invocation stored part 0).
    probe: RefCell<Option<Probe<'a>>>,
    /// The next part no lane has taken yet.
    next: Cell<u64>,
    /// Parts a lane gave up untouched (the origin refused its connection while others
    /// ran), with the attempts for each that failed so far: taken first, earliest first.
    returned: RefCell<BTreeMap<u64, u32>>,
    /// Lanes still running (a lane gives its part up only while another runs).
    alive: Cell<usize>,
    /// Whether this invocation hashes the parts (not when an earlier one stored some: then
    /// the file is hashed from R2 once complete).
    hashes: bool,
    /// The running digest (`hashes`), out of its cell only while the hashing lane writes.
    digest: RefCell<Option<Sha256Sink>>,
    /// Parts stored, waiting for the parts before them to be hashed.
    unhashed: RefCell<BTreeMap<u64, Uint8Array>>,
    /// The next part to hash.
    hashed: Cell<u64>,
    /// A lane is hashing now (the others leave their parts to it).
    hashing: Cell<bool>,
    /// Lanes waiting for room among the unhashed parts.
    room: Notify,
    /// Each stored part by index: R2's answer.
    parts: RefCell<BTreeMap<u64, JsValue>>,
    /// Part buffers free for the next part (a part's buffer comes back once R2 took the part
    /// and it is hashed): a file's parts reuse a few buffers instead of each leaving one
    /// for the collector, which the isolate's memory would carry until it ran.
    pool: RefCell<Vec<Uint8Array>>,
    /// The buffer of each part taken and not yet back in `pool`.
    held: RefCell<BTreeMap<u64, Uint8Array>>,
    /// The first lane's failure: the others stop taking parts.
    failed: RefCell<Option<Error>>,
    checkpoint: C,
}

impl<'a, C: Checkpoint> Lanes<'a, C> {
    /// Lanes over `plan`'s parts but those in `stored` (by an earlier invocation).
    pub fn new(
        plan: Plan,
        target: &'a Target<'a>,
        source: &'a Source<'a>,
        upload: &'a R2MultipartUpload,
        probe: Option<Probe<'a>>,
        stored: BTreeMap<u64, JsValue>,
        checkpoint: C,
    ) -> Self {
        let hashes = stored.is_empty();
        Lanes {
            hashes,
            digest: RefCell::new(hashes.then(Sha256Sink::new)),
            plan,
            target,
            source,
            upload,
            probe: RefCell::new(probe),
            next: Cell::new(0),
            returned: RefCell::new(BTreeMap::new()),
            alive: Cell::new(plan.lanes as usize),
            unhashed: RefCell::new(BTreeMap::new()),
            hashed: Cell::new(0),
            hashing: Cell::new(false),
            room: Notify::default(),
            parts: RefCell::new(stored),
            pool: RefCell::new(Vec::new()),
            held: RefCell::new(BTreeMap::new()),
            failed: RefCell::new(None),
            checkpoint,
        }
    }

    pub fn checkpoint(&self) -> &C {
        &self.checkpoint
    }

    /// Runs every lane until all parts are stored (and hashed, when this invocation saw
    /// them all), then completes the upload once the digest is the one expected. Answers
    /// the digest (`Some(None)`: not known, hash the object), or `None` when the lanes
    /// stopped before the end (the checkpoint asked).
    pub async fn run(&self) -> Result<Option<Option<String>>, Error> {
        join_all((0..self.plan.lanes).map(|_| self.lane_until_failure())).await;
        if let Some(err) = self.failed.take() {
            return Err(err);
        }
        if self.parts.borrow().len() as u64 != self.plan.parts {
            return Ok(None);
        }
        let sha256 = if self.hashes {
            let digest = self.digest.borrow_mut().take();
            match digest.filter(|_| self.hashed.get() == self.plan.parts) {
                Some(digest) => Some(self.target.checked(digest.finish(false).await?)?),
                None => return Err(Error::internal("a stored part was not hashed")),
            }
        } else {
            None
        };
        let parts: Vec<JsValue> = self.parts.take().into_values().collect();
        self.target
            .gate
            .call(|| async { wait(self.upload.complete(parts)?).await })
            .await
            .map_err(|e| Error::internal(format!("r2 multipart complete: {}", describe(&e))))?;
        Ok(Some(sha256))
    }

    /// A lane, until it ends or one fails. The first failure is kept, the origin calls still
    /// waiting are aborted, and every other lane settles what it started (a part upload in
    /// flight keeps its slot until R2 answers) before it stops: no call outlives its slot.
    async fn lane_until_failure(&self) {
        let ran = self.lane().await;
        self.alive.set(self.alive.get() - 1);
        if let Err(err) = ran {
            if self.failed.borrow().is_none() {
                *self.failed.borrow_mut() = Some(err);
                self.source.origin.ender().abort();
                self.room.notify();
            }
        }
    }

    /// The part to take next, and the attempts for it that failed before: one given back
    /// (the earliest), else the next no lane took.
    fn take_part(&self) -> Option<(u64, u32)> {
        if let Some(returned) = self.returned.borrow_mut().pop_first() {
            return Some(returned);
        }
        let index = self.next.get();
        (index < self.plan.parts).then(|| {
            self.next.set(index + 1);
            (index, 0)
        })
    }

    /// One connection's work: take the next part, read it, store it, hash it (or leave it
    /// to the lane hashing the part before it).
    async fn lane(&self) -> Result<(), Error> {
        loop {
            let failed = || self.failed.borrow().is_some();
            // Room among the unhashed parts, unless the part to take is the next to hash (a
            // part given back after later ones were stored): taking it makes room.
            let next_to_hash = || self.returned.borrow().first_key_value().map(|(&index, _)| index) == Some(self.hashed.get());
            self.room.until(|| failed() || self.unhashed.borrow().len() < UNHASHED || next_to_hash()).await;
            if self.checkpoint.stop() || failed() {
                return Ok(());
            }
            let Some((index, failed_before)) = self.take_part() else { return Ok(()) };
            if self.parts.borrow().contains_key(&index) {
                continue;
            }
            let (start, end) = self.plan.part(index);
            let probe = if index == 0 { self.probe.borrow_mut().take() } else { None };
            let mut cursor = match probe {
                Some(probe) => Cursor::starting_with(self.source, 0, vec![probe.await?], end),
                None => Cursor::new(self.source, start, end).giving_way_to(&self.alive, failed_before),
            };
            // The part's upload starts with its first bytes: a lane that gives its part up
            // has started nothing.
            let first = match cursor.next_view().await {
                Ok(first) => first,
                // The origin takes no more connections: this lane ends, and its part goes
                // to one still running.
                Err(_) if cursor.gave_way() => {
                    self.returned.borrow_mut().insert(index, cursor.failures());
                    self.room.notify();
                    return Ok(());
                }
                Err(err) => return Err(err),
            };
            self.stream_part(index, end - start, first, &mut cursor).await?;
        }
    }

    /// Stores part `index`, `size` bytes (`first`, then the rest of `cursor`'s range), while
    /// they come: each piece is copied into the part's buffer and written to the part's
    /// upload at once, as a view of that buffer, so R2 takes the part while the range
    /// arrives. Once all of it came, the part is hashed in file order (or left to the lane
    /// hashing the part before it) while R2 takes its last bytes. R2 numbers parts from 1.
    async fn stream_part(&self, index: u64, size: u64, first: Option<Uint8Array>, cursor: &mut Cursor<'_>) -> Result<(), Error> {
        let number = u16::try_from(index + 1).map_err(|_| Error::internal("too many parts"))?;
        let buffer = self.pool.borrow_mut().pop().unwrap_or_else(|| Uint8Array::new_with_length(self.plan.part_bytes as u32));
        let part = buffer.subarray(0, size as u32);
        self.held.borrow_mut().insert(index, buffer);
        let fixed = fixed_length(size)?;
        let writer = fixed.writable().get_writer().map_err(|e| Error::internal(describe(&e)))?;
        let sink_failed = Cell::new(false);
        // The range's requests (a resume) need a slot of their own while the upload holds
        // one: a streaming call.
        let upload = async {
            let stored = self
                .target
                .gate
                .streaming_call(|| async { wait(self.upload.upload_part(number, fixed.readable().into())?).await })
                .await;
            sink_failed.set(stored.is_err());
            stored
        };
        let fill = async {
            fill_part(&writer, &part, first, cursor, &sink_failed).await?;
            if self.hashes {
                self.unhashed.borrow_mut().insert(index, part.clone());
                self.hash_in_order().await.map_err(Stop::Failed)?;
            }
            Ok(())
        };
        let (stored, filled) = join(upload, fill).await;
        let stored = match (filled, stored) {
            (Ok(()), Ok(stored)) => stored,
            (Err(Stop::Failed(err)), _) => return Err(err),
            (_, Err(e)) => return Err(Error::internal(format!("r2 upload part: {}", describe(&e)))),
            (Err(Stop::Sink), Ok(_)) => return Err(Error::internal("r2 took a part whose stream failed")),
        };
        self.checkpoint.part_stored(index, size, &stored).await?;
        self.parts.borrow_mut().insert(index, stored);
        self.give_back(index);
        Ok(())
    }

    /// Puts part `index`'s buffer back in the pool once R2 took the part and (when this
    /// invocation hashes) the digest has it: until both, its bytes are still read.
    fn give_back(&self, index: u64) {
        let taken = self.parts.borrow().contains_key(&index);
        if taken && (!self.hashes || self.hashed.get() > index) {
            if let Some(buffer) = self.held.borrow_mut().remove(&index) {
                self.pool.borrow_mut().push(buffer);
            }
        }
    }

    /// Hashes the parts waiting, in file order, as far as they go (unless a lane does so
    /// already: it will reach them).
    async fn hash_in_order(&self) -> Result<(), Error> {
        if self.hashing.replace(true) {
            return Ok(());
        }
        let mut result = Ok(());
        loop {
            let next = self.hashed.get();
            if !self.unhashed.borrow().contains_key(&next) {
                break;
            }
            // Only this lane hashes (`hashing`), so the digest is in its cell.
            let Some(mut digest) = self.digest.borrow_mut().take() else {
                result = Err(Error::internal("the digest is out"));
                break;
            };
            let part = self.unhashed.borrow_mut().remove(&next).expect("checked above");
            result = digest.write(&part).await;
            *self.digest.borrow_mut() = Some(digest);
            self.hashed.set(next + 1);
            self.give_back(next);
            self.room.notify();
            if result.is_err() {
                break;
            }
        }
        self.hashing.set(false);
        result
    }
}

/// A part's bytes are written to its upload this many at a time (and its last ones when
/// the range ends): a lane's reads take whatever has come, which from a slow origin is a
/// few KiB at a time, and each write is a promise and a call across to JS.
const PART_WRITE_BYTES: u32 = 256 * 1024;

/// Copies `first` and the rest of `cursor`'s range into `part`, writing what came to
/// `writer` every [`PART_WRITE_BYTES`] (a view of `part`, whose bytes stay put until R2 has
/// taken them), then closes the stream; on any failure aborts it, so the part's upload
/// stores nothing. Stops at the next piece once R2 failed (`sink_failed`).
async fn fill_part(
    writer: &WritableStreamDefaultWriter,
    part: &Uint8Array,
    first: Option<Uint8Array>,
    cursor: &mut Cursor<'_>,
    sink_failed: &Cell<bool>,
) -> Result<(), Stop> {
    let mut writes = Vec::new();
    let (mut at, mut written) = (0, 0);
    let mut next = first;
    let outcome = loop {
        let Some(bytes) = next else { break Ok(()) };
        part.set(&bytes, at);
        at += bytes.length();
        if at - written >= PART_WRITE_BYTES || at == part.length() {
            writes.push(writer.write_with_chunk(&part.subarray(written, at)));
            written = at;
        }
        if sink_failed.get() {
            break Err(Stop::Sink);
        }
        next = match cursor.next_view().await {
            Ok(next) => next,
            Err(err) => break Err(Stop::Failed(err)),
        };
    };
    finish(writer, writes, outcome).await
}
