//! Streaming an origin body into R2 without holding it: a known length goes up as one
//! streamed put (`streamed::put_streamed`), read chunk by chunk into a few buffers; an
//! unknown one as a multipart upload of fixed parts filled in place by the stream. Bytes
//! stay in JS memory throughout, hashed natively on their way ([`Sha256Sink`]); only the
//! sniffed prefix ever entered wasm.

use std::collections::VecDeque;

use js_sys::{BigInt, Uint8Array};
use wasm_bindgen::JsValue;
use worker::worker_sys::{FixedLengthStream, R2MultipartUpload};

use super::buffers;
use super::cursor::CHUNK_MIN;
use super::digest::{sha256_of, Sha256Sink};
use super::js::{byob_reader, describe, read_at_least, wait, ByobReader};
use super::origin::{OriginBody, WorkerOrigin};
use super::r2::Target;
use super::streamed::{put_streamed, Chunks};
use crate::core::ranges::MIN_PART_BYTES;
use crate::core::seams::StoredObject;
use crate::core::Error;

/// Size of every multipart part but the last: the smallest R2 takes (all must be equal).
pub(crate) const PART_BYTES: u32 = MIN_PART_BYTES as u32;

/// MiB of buffers a body of unknown length holds: its two part buffers, taking turns.
pub(crate) const UNKNOWN_LENGTH_MIB: usize = 2 * buffers::mib(PART_BYTES as u64);

/// Stores a body of known `length`; all or nothing.
pub(crate) async fn put_known(target: &Target<'_>, origin: &WorkerOrigin, body: OriginBody, length: u64) -> Result<StoredObject, Error> {
    let mut sniffed = Buffer::default();
    for chunk in &body.prefix {
        sniffed.push(chunk.clone());
    }
    if sniffed.len == length {
        // Sniffing read the whole body: one put of the bytes, no stream to set up (and
        // nothing left to cancel: the origin sent the declared length).
        let bytes = match body.prefix.as_slice() {
            [whole] => whole.clone(),
            _ => sniffed.take(length as u32, None),
        };
        let sha256 = sha256_of(&bytes).await?;
        let stored = target.put(bytes.into()).await;
        return target.settle(stored, sha256, length).await;
    }
    let reader = match body.rest() {
        Some(stream) => Some(byob_reader(&stream)?),
        None => None,
    };
    let left = length.checked_sub(sniffed.len).ok_or(Error::OriginBroken)?;
    let chunks = BodyChunks { pending: body.prefix.into(), reader, origin, left };
    put_streamed(target, origin, chunks, length).await.map_err(|err| origin.failure(err))
}

/// A body of known length from an origin without ranges, chunk by chunk: what sniffing
/// read, then the stream, [`CHUNK_MIN`] or more per read (whatever has come, where the origin
/// times stalls). Read this way rather than piped through a `tee()` into the digest: a tee
/// takes bytes as fast as its faster branch (the digest) and holds them for R2, up to the
/// whole file when the origin is faster than storage.
struct BodyChunks<'a> {
    pending: VecDeque<Uint8Array>,
    reader: Option<ByobReader>,
    origin: &'a WorkerOrigin,
    /// Bytes the stream still owes.
    left: u64,
}

impl Chunks for BodyChunks<'_> {
    async fn next_into(&mut self, buffer: Uint8Array) -> Result<Option<Uint8Array>, Error> {
        if let Some(chunk) = self.pending.pop_front() {
            return Ok(Some(chunk));
        }
        if self.left == 0 {
            return Ok(None);
        }
        // a body that ended short of its length
        let Some(reader) = self.reader.as_ref() else { return Err(Error::OriginBroken) };
        let room = buffer.length().min(u32::try_from(self.left).unwrap_or(u32::MAX));
        let least = if self.origin.stall_ms().is_some() { 1 } else { room.min(CHUNK_MIN) };
        let view = buffer.subarray(0, room);
        let (read, done) = self.origin.body_read(read_at_least(reader, least, &view), || drop(reader.cancel())).await?;
        if read.length() == 0 && done {
            // ended short of its length
            return Err(Error::OriginBroken);
        }
        self.left -= u64::from(read.length());
        Ok(Some(read))
    }
}

impl Drop for BodyChunks<'_> {
    /// A body not read to its end (the upload failed) is canceled: the origin may stop.
    fn drop(&mut self) {
        if let Some(reader) = self.reader.as_ref().filter(|_| self.left > 0) {
            drop(reader.cancel());
        }
    }
}

/// A stream R2 can take as one put: it must carry exactly `length` bytes.
pub(crate) fn fixed_length(length: u64) -> Result<FixedLengthStream, Error> {
    match u32::try_from(length) {
        Ok(n) => FixedLengthStream::new(n),
        Err(_) => FixedLengthStream::new_big_int(BigInt::from(length)),
    }
    .map_err(|e| Error::internal(describe(&e)))
}

/// Stores a body of unknown length, counting bytes and stopping past `limit`. Up to one
/// part it is a single put; beyond, a multipart upload that is aborted on any failure.
pub(crate) async fn put_unknown(target: &Target<'_>, origin: &WorkerOrigin, body: OriginBody, limit: u64) -> Result<StoredObject, Error> {
    let reader = match body.rest() {
        Some(stream) => Some(byob_reader(&stream)?),
        None => None,
    };
    let mut upload = Multipart { target, started: None, parts: Vec::new(), in_flight: None };
    let mut digest = Sha256Sink::new();
    let reads = Reads { reader: reader.as_ref(), origin };
    let result = pump(&reads, body.prefix, limit, &mut upload, &mut digest).await;
    let result = match result {
        Ok((size, last)) => match digest.finish(false).await {
            Ok(sha256) => upload.finish(last, size, sha256).await,
            Err(err) => Err(err),
        },
        Err(err) => Err(err),
    };
    if result.is_err() {
        if let Some(reader) = &reader {
            let _ = reader.cancel();
        }
        upload.abort().await;
    }
    result.map_err(|err| origin.failure(err))
}

/// The stream of a body without a length, read into part buffers.
struct Reads<'a> {
    reader: Option<&'a ByobReader>,
    origin: &'a WorkerOrigin,
}

impl Reads<'_> {
    /// Reads into `view`: the whole of it in one await, or, where the origin times stalls,
    /// whatever has come (each read then shows progress: a slow origin is not a stalled
    /// one). Answers what was read (in `view`'s memory, moved to a new buffer) and whether
    /// the stream ended.
    async fn fill(&self, reader: &ByobReader, view: &Uint8Array) -> Result<(Uint8Array, bool), Error> {
        let least = if self.origin.stall_ms().is_some() { 1 } else { view.length() };
        self.origin.body_read(read_at_least(reader, least, view), || drop(reader.cancel())).await
    }
}

/// Fills part-sized buffers straight from the stream (`readAtLeast`: one await per part,
/// no per-chunk work; smaller reads where stalls are timed), hashes each and sends each
/// full one; answers the size and the short last part, still to send. Two buffers take
/// turns (one in flight, one filling), so memory stays at two parts.
async fn pump(
    reads: &Reads<'_>,
    prefix: Vec<Uint8Array>,
    limit: u64,
    upload: &mut Multipart<'_>,
    digest: &mut Sha256Sink,
) -> Result<(u64, Uint8Array), Error> {
    let mut pending = Buffer::default();
    for chunk in prefix {
        pending.push(chunk);
    }
    let mut total = pending.len;
    let log = upload.target.log;
    if let Some(log) = log {
        log.received(total);
    }
    let mut ended = reads.reader.is_none();
    // The buffer of the last part R2 finished taking, ready to be filled again.
    let mut spare = None;
    loop {
        if total > limit {
            return Err(Error::FileTooLarge { limit });
        }
        if pending.len >= u64::from(PART_BYTES) {
            let part = pending.take(PART_BYTES, spare.take());
            digest.write(&part).await?;
            spare = upload.send(part).await?;
            continue;
        }
        if ended {
            // All read already (sniffing saw a small body end): exactly its bytes, no part
            // buffer (`r2::buffered_mib` budgets nothing for it).
            let last = pending.take(pending.len as u32, None);
            digest.write(&last).await?;
            return Ok((total, last));
        }
        // A part: what is pending first, then the stream fills the rest in place.
        let mut filled = pending.len as u32;
        let mut part = pending.take(PART_BYTES, spare.take());
        while filled < PART_BYTES && !ended && total <= limit {
            let view = Uint8Array::new_with_byte_offset_and_length(&part.buffer(), filled, PART_BYTES - filled);
            let Some(reader) = reads.reader else { break };
            let (read, done) = reads.fill(reader, &view).await?;
            if let Some(log) = log {
                log.received(u64::from(read.length()));
            }
            // The read transferred the buffer: the part lives in the returned one now.
            part = Uint8Array::new(&read.buffer());
            filled += read.length();
            total += u64::from(read.length());
            ended = done;
        }
        if total > limit {
            return Err(Error::FileTooLarge { limit });
        }
        if filled < PART_BYTES {
            let last = part.subarray(0, filled);
            digest.write(&last).await?;
            return Ok((total, last));
        }
        digest.write(&part).await?;
        spare = upload.send(part).await?;
    }
}

/// Chunks waiting to become a part, still in JS memory.
#[derive(Default)]
struct Buffer {
    chunks: VecDeque<Uint8Array>,
    len: u64,
}

impl Buffer {
    fn push(&mut self, chunk: Uint8Array) {
        self.len += u64::from(chunk.length());
        self.chunks.push_back(chunk);
    }

    /// The first `n` bytes (copied inside JS) at the start of an `n`-byte array, `reuse`
    /// when it is one, leaving the rest.
    fn take(&mut self, n: u32, reuse: Option<Uint8Array>) -> Uint8Array {
        let out = reuse.filter(|b| b.length() == n).unwrap_or_else(|| Uint8Array::new_with_length(n));
        let mut filled = 0;
        while filled < n {
            let Some(chunk) = self.chunks.pop_front() else { break };
            let want = n - filled;
            if chunk.length() > want {
                out.set(&chunk.subarray(0, want), filled);
                self.chunks.push_front(chunk.subarray(want, chunk.length()));
                filled = n;
            } else {
                out.set(&chunk, filled);
                filled += chunk.length();
            }
        }
        self.len -= u64::from(filled);
        out
    }
}

/// A multipart upload started on the first full part, with at most one part in flight
/// (holding one of the request's gate slots until R2 answers it).
struct Multipart<'a> {
    target: &'a Target<'a>,
    started: Option<R2MultipartUpload>,
    parts: Vec<JsValue>,
    /// The part being sent and its buffer.
    in_flight: Option<(js_sys::Promise, Uint8Array)>,
}

impl Multipart<'_> {
    fn internal(e: JsValue) -> Error {
        Error::internal(format!("r2 multipart: {}", describe(&e)))
    }

    /// Sends `part` once the part before it landed; returns that one's buffer, free again.
    async fn send(&mut self, part: Uint8Array) -> Result<Option<Uint8Array>, Error> {
        if self.started.is_none() {
            self.started = Some(self.target.create_multipart().await?);
        }
        let free = self.settle().await?;
        let upload = self.started.as_ref().expect("started above");
        let number = u16::try_from(self.parts.len() + 1).map_err(|_| Error::internal("too many parts"))?;
        let slot = self.target.gate.slot().await;
        let sending = upload.upload_part(number, part.clone().into()).map_err(Self::internal)?;
        // The slot goes back when R2 answers, not when the next part has been read (which,
        // from a slow origin, is far later): other calls of the request may use it meanwhile.
        let answered = sending.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wait(answered).await;
            drop(slot);
        });
        self.in_flight = Some((sending, part));
        Ok(free)
    }

    /// Waits for the part in flight; returns its buffer.
    async fn settle(&mut self) -> Result<Option<Uint8Array>, Error> {
        let Some((promise, buffer)) = self.in_flight.take() else { return Ok(None) };
        self.parts.push(wait(promise).await.map_err(Self::internal)?);
        Ok(Some(buffer))
    }

    /// Sends the last bytes, whose digest is `sha256`: one plain put when no part went up
    /// (R2 checks the digest), else the last part and, once the digest is the one
    /// expected, the completion.
    async fn finish(&mut self, rest: Uint8Array, size: u64, sha256: String) -> Result<StoredObject, Error> {
        if self.started.is_none() {
            let stored = self.target.put(rest.into()).await;
            return self.target.settle(stored, sha256, size).await;
        }
        if rest.length() > 0 {
            self.send(rest).await?;
        }
        self.settle().await?;
        let sha256 = self.target.checked(sha256)?;
        let upload = self.started.as_ref().expect("started");
        let parts = std::mem::take(&mut self.parts);
        self.target.gate.call(|| async { wait(upload.complete(parts).map_err(Self::internal)?).await.map_err(Self::internal) }).await?;
        self.started = None;
        Ok(StoredObject { size, sha256 })
    }

    async fn abort(&mut self) {
        if let Some((promise, _)) = self.in_flight.take() {
            let _ = wait(promise).await;
        }
        if let Some(upload) = self.started.take() {
            abort_multipart(self.target, &upload).await;
        }
    }
}

/// Aborts a multipart upload (best effort: R2 also drops abandoned ones after a week). The
/// call starts once it has a slot of the request's gate, like every other.
pub(crate) async fn abort_multipart(target: &Target<'_>, upload: &R2MultipartUpload) {
    let _ = target.gate.call(|| async { wait(upload.abort()?).await }).await;
}
