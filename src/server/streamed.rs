//! Storing a file as one streamed put of known length, chunk by chunk from a [`Chunks`]
//! source: a file the origin serves in ranges when one connection is already faster than
//! storage (`core::ranges::one_stream_budget_ms`; the [`Cursor`] resumes where it breaks),
//! or a body of known length from an origin without ranges. Each chunk is hashed, then
//! written to the stream R2 reads. Chunks are read straight into a few buffers that take
//! turns (a buffer is read into again once R2 has taken what it held): no copy, and memory
//! stays at a few MiB however fast the origin is next to storage.

use std::collections::VecDeque;

use futures_util::future::join;
use js_sys::{Promise, Uint8Array};
use web_sys::WritableStreamDefaultWriter;

use super::buffers;
use super::cursor::{Cursor, SCRATCH};
use super::digest::Sha256Sink;
use super::ingest::fixed_length;
use super::js::{describe, wait};
use super::origin::WorkerOrigin;
use super::r2::Target;
use crate::core::seams::StoredObject;
use crate::core::Error;

/// Where a streamed put's bytes come from, in order.
pub(crate) trait Chunks {
    /// The next bytes (`None` at the end), read into `buffer` (a [`SCRATCH`] buffer) or in
    /// an array of their own: either way the caller's to keep.
    async fn next_into(&mut self, buffer: Uint8Array) -> Result<Option<Uint8Array>, Error>;
}

impl Chunks for Cursor<'_> {
    async fn next_into(&mut self, buffer: Uint8Array) -> Result<Option<Uint8Array>, Error> {
        Cursor::next_into(self, buffer).await
    }
}

/// Chunks written but not yet taken by R2.
const WRITES_AHEAD: usize = 4;

/// MiB of buffers one streamed put holds at most: the chunks written ahead and the one
/// being read, each a [`SCRATCH`] buffer of 1 MiB.
pub(crate) const STREAM_MIB: usize = (WRITES_AHEAD + 1) * buffers::mib(SCRATCH as u64);

/// Why feeding a stream stopped.
pub(crate) enum Stop {
    /// Reading or hashing failed: the upload fails with this.
    Failed(Error),
    /// R2 stopped taking bytes: its put answers why.
    Sink,
}

/// Stores what `chunks` reads, `total` bytes in all, as one put; all or nothing (an aborted
/// stream leaves no object).
pub(crate) async fn put_streamed(target: &Target<'_>, origin: &WorkerOrigin, mut chunks: impl Chunks, total: u64) -> Result<StoredObject, Error> {
    let fixed = fixed_length(total)?;
    let writer = fixed.writable().get_writer().map_err(|e| Error::internal(describe(&e)))?;
    let mut digest = Sha256Sink::new();
    let (stored, fed) = join(target.put_streaming(fixed.readable().into()), feed(&writer, &mut chunks, &mut digest)).await;
    drop(chunks);
    match (fed, stored) {
        (Ok(()), stored) => match digest.finish(false).await {
            Ok(sha256) => target.settle(stored, sha256, total).await,
            Err(err) => Err(target.failed(stored, err).await),
        },
        (Err(Stop::Failed(err)), _) => Err(origin.failure(err)),
        (Err(Stop::Sink), Err(err)) => Err(err),
        (Err(Stop::Sink), stored) => Err(target.failed(stored, Error::internal("r2 took a stream that failed")).await),
    }
}

/// Hashes and writes every chunk, then closes the stream; on any failure aborts it, so the
/// put stores nothing.
async fn feed(writer: &WritableStreamDefaultWriter, chunks: &mut impl Chunks, digest: &mut Sha256Sink) -> Result<(), Stop> {
    // Each write, and the chunk it holds until R2 has taken it.
    let mut waiting: VecDeque<(Promise, Uint8Array)> = VecDeque::new();
    let mut spare: Vec<Uint8Array> = Vec::new();
    let outcome = loop {
        let chunk = match chunks.next_into(spare.pop().unwrap_or_else(|| Uint8Array::new_with_length(SCRATCH))).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break Ok(()),
            Err(err) => break Err(Stop::Failed(err)),
        };
        if let Err(err) = digest.write(&chunk).await {
            break Err(Stop::Failed(err));
        }
        waiting.push_back((writer.write_with_chunk(&chunk), chunk));
        if waiting.len() > WRITES_AHEAD {
            let (oldest, chunk) = waiting.pop_front().expect("more than WRITES_AHEAD");
            if wait(oldest).await.is_err() {
                break Err(Stop::Sink);
            }
            // Taken: its buffer is free again (unless it was not a scratch buffer).
            let buffer = Uint8Array::new(&chunk.buffer());
            if buffer.length() == SCRATCH {
                spare.push(buffer);
            }
        }
    };
    finish(writer, waiting.into_iter().map(|(write, _)| write), outcome).await
}

/// Ends a stream fed as far as `outcome` says, once its `writes` settled: closed when
/// all went well and R2 took every write, else aborted (the put stores nothing).
pub(crate) async fn finish(writer: &WritableStreamDefaultWriter, writes: impl IntoIterator<Item = Promise>, outcome: Result<(), Stop>) -> Result<(), Stop> {
    let mut writes = writes.into_iter();
    let mut outcome = outcome;
    if outcome.is_ok() {
        // Stops at the first write R2 refused: the stream is errored, the rest fail too.
        for write in writes.by_ref() {
            if wait(write).await.is_err() {
                outcome = Err(Stop::Sink);
                break;
            }
        }
        if outcome.is_ok() {
            outcome = wait(writer.close()).await.map(drop).map_err(|_| Stop::Sink);
        }
    }
    if outcome.is_err() {
        // Aborted first, so the writes still waiting settle at once.
        drop(writer.abort());
        for write in writes {
            let _ = wait(write).await;
        }
    }
    outcome
}
