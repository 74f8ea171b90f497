//! Reading one byte range of a file the origin serves in ranges, resumed from the byte
//! where it broke: a reset, an early end or an attempt that stalls past the idle timeout
//! (before its headers or in its body) is answered by asking for the rest again (`Range`
//! from the current byte, `If-Range` with the file's validator), at most [`MAX_ATTEMPTS`]
//! attempts in all, with backoff. A response of another version of the file is
//! [`Error::OriginChanged`]: nothing is ever spliced. A lane's cursor may instead give its
//! range up when the origin refuses one more connection. When the URL the file's redirects
//! led to stops serving it (a signed URL that expired), the range is asked for from the
//! first URL again, through its redirects anew, and every lane goes on at the new URL.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use js_sys::Uint8Array;

use super::js::{byob_reader, cancel_body, read_at_least, ByobReader};
use super::origin::{Found, Head, OriginBody, Ranged, WorkerOrigin};
use super::timers::within_idle;
use crate::core::ranges::{idle_timeout_ms, passing_status, range_header, MAX_ATTEMPTS};
use crate::core::Error;

/// By default each read takes whatever has arrived (at least a byte), so when a connection
/// breaks every byte received before it is kept and the range resumes at the exact byte
/// where it broke (measured: no slower than waiting for 64 KiB per read)...
const READ_MIN: u32 = 1;
/// ...but a cursor read chunk by chunk ([`Cursor::next_into`]) waits for this much per read,
/// so a fast stream is not a loop of small reads; a break loses at most this much, and
/// once a read stalls the cursor takes whatever comes again.
pub(crate) const CHUNK_MIN: u32 = 64 * 1024;
/// ...into a scratch buffer of up to this size, then copied into the part. A read that
/// fails loses its buffer with it (the stream keeps it): never the part's bytes.
pub(crate) const SCRATCH: u32 = 1024 * 1024;

/// Where ranges come from: the origin, and the file's URL, version and size.
pub(crate) struct Source<'a> {
    pub origin: &'a WorkerOrigin,
    pub ranged: &'a Ranged,
    /// Where a refetch found the file, asked for there from then on (with the headers its
    /// chain of redirects sends there); `None`: at `ranged`'s URL.
    found: RefCell<Option<Found>>,
    pub idle_ms: u64,
    /// Counts every byte read (a job's live progress).
    received: Option<&'a Cell<u64>>,
}

impl<'a> Source<'a> {
    pub fn new(
        origin: &'a WorkerOrigin,
        ranged: &'a Ranged,
        received: Option<&'a Cell<u64>>,
    ) -> Self {
        Source {
            origin,
            ranged,
            found: RefCell::new(None),
            idle_ms: idle_timeout_ms(origin.timeout_ms()),
            received,
        }
    }

    /// Counts `bytes` read in the source's `received`.
    fn count(&self, bytes: u64) {
        if let Some(received) = self.received {
            received.set(received.get() + bytes);
        }
    }
}

/// The least a 206 shorter than its range must bring for the rest to be asked for at once
/// (a server that caps its ranges), rather than as a failed attempt.
const MIN_CAPPED_BYTES: u64 = 64 * 1024;

/// The bytes `[pos, end)` still to read, and the response they are being read from.
pub(crate) struct Cursor<'a> {
    source: &'a Source<'a>,
    pos: u64,
    end: u64,
    /// Chunks read before (already counted in the source's `received`): they come first.
    pending: VecDeque<Uint8Array>,
    /// The response being read, and where its body ends.
    reader: Option<(ByobReader, u64)>,
    /// Where the response being read (or the last one) began.
    opened_at: u64,
    scratch: Option<Uint8Array>,
    /// The least one read waits for (fewer only where the range ends).
    min_read: u32,
    /// The response ended before its range did: the next step retries.
    ended_early: bool,
    /// Attempts that failed so far, counting those of lanes that gave the range up before.
    failures: u32,
    /// Of them, those of the lanes before (see [`Cursor::giving_way_to`]).
    failed_before: u32,
    /// Where the range starts (nothing of it read while `pos` is here).
    start: u64,
    /// The lanes still running, when this cursor may give its range up to them (see
    /// [`Cursor::giving_way_to`]).
    gives_way: Option<&'a Cell<usize>>,
    /// It did: the origin refused one more connection while other lanes had theirs.
    gave_way: bool,
}

/// A request for a range: its answer, or why the attempt ended without one (`None`: its
/// headers did not come in time).
fn answered(asked: Option<Result<web_sys::Response, Error>>) -> Result<web_sys::Response, Broken> {
    match asked {
        Some(Ok(response)) => Ok(response),
        Some(Err(err)) => Err(broken(err)),
        None => Err(Broken::Retry),
    }
}

/// What a request that got no answer means for the range: the deadline, or a redirect the
/// policy refuses, ends it; anything else is tried again.
fn broken(err: Error) -> Broken {
    match err {
        Error::OriginTimeout { .. } | Error::UrlRejected(_) | Error::RedirectRejected(_) | Error::TooManyRedirects(_) => Broken::Fatal(err),
        _ => Broken::Retry,
    }
}

/// Why an attempt ended without its bytes.
enum Broken {
    /// Reset, ended early or stalled: try again from `pos`.
    Retry,
    /// Refused at once with 429 or 503: the origin takes no more connections now.
    Busy(u16),
    /// Not worth another attempt.
    Fatal(Error),
}

impl<'a> Cursor<'a> {
    /// Bytes `[start, end)`, from new requests.
    pub fn new(source: &'a Source<'a>, start: u64, end: u64) -> Self {
        Cursor::starting_with(source, start, Vec::new(), end)
    }

    /// Bytes `[start, end)`: `prefix` (bytes already read from `start` on, and counted in
    /// the source's `received` by whoever read them) first, then from new requests.
    pub fn starting_with(source: &'a Source<'a>, start: u64, prefix: Vec<Uint8Array>, end: u64) -> Self {
        let pending = prefix.into_iter().collect();
        Cursor { source, pos: start, end, pending, reader: None, opened_at: start, scratch: None, min_read: READ_MIN, ended_early: false, failures: 0, failed_before: 0, start, gives_way: None, gave_way: false }
    }

    /// When the origin refuses this range's first request with 429 or 503 while more than
    /// one of the `alive` lanes runs, the read ends at once (see [`Cursor::gave_way`])
    /// instead of retrying: an origin that caps its connections per client then serves the
    /// file over the connections it allows. The last lane never gives way: it retries.
    /// `failed_before`: the attempts that failed in the lanes that gave the range up
    /// before; they count against the same [`MAX_ATTEMPTS`], so a range handed from lane
    /// to lane is asked for at most that many times, plus once per lane that gave way.
    pub fn giving_way_to(mut self, alive: &'a Cell<usize>, failed_before: u32) -> Self {
        self.gives_way = Some(alive);
        self.failures = failed_before;
        self.failed_before = failed_before;
        self
    }

    /// Whether the read ended because the range was given up to the other lanes (nothing
    /// of it was read).
    pub fn gave_way(&self) -> bool {
        self.gave_way
    }

    /// The attempts that failed, those before this cursor's included.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Each read waits for at least `bytes` (see [`CHUNK_MIN`]).
    pub fn reading_at_least(mut self, bytes: u32) -> Self {
        self.min_read = bytes;
        self
    }

    /// Bytes `[0, end)`: the probe's body first (its sniffed prefix, then its rest).
    pub fn from_probe(source: &'a Source<'a>, body: OriginBody, end: u64) -> Result<Self, Error> {
        let probe_end = body.length.unwrap_or(0);
        let reader = match body.rest() {
            Some(stream) => Some((byob_reader(&stream)?, probe_end)),
            None => None,
        };
        // Sniffing read these and counted them nowhere: count them now. It never reads past
        // the probe's length (a range's reads stop at `end` the same way).
        let pending: VecDeque<Uint8Array> = body.prefix.into_iter().collect();
        let sniffed = pending.iter().map(|chunk| u64::from(chunk.length())).sum();
        if sniffed > end {
            return Err(Error::internal("the probe's bytes run past the range"));
        }
        source.count(sniffed);
        Ok(Cursor { source, pos: 0, end, pending, reader, opened_at: 0, scratch: None, min_read: READ_MIN, ended_early: false, failures: 0, failed_before: 0, start: 0, gives_way: None, gave_way: false })
    }

    /// Reads the whole range into a new buffer.
    pub async fn read_all(&mut self) -> Result<Uint8Array, Error> {
        let start = self.pos;
        let part = Uint8Array::new_with_length((self.end - start) as u32);
        while let Some(bytes) = self.next_view().await? {
            part.set(&bytes, (self.pos - start) as u32 - bytes.length());
        }
        Ok(part)
    }

    /// The next bytes of the range (`None` at its end), valid until the next read: copy
    /// what is kept.
    pub async fn next_view(&mut self) -> Result<Option<Uint8Array>, Error> {
        Ok(self.step().await?.map(|(bytes, _)| bytes))
    }

    /// The next bytes of the range (`None` at its end), read into `buffer` (a scratch
    /// buffer, [`SCRATCH`] bytes) or, for bytes read before, their own array: either way
    /// the caller's to keep. The cursor keeps one unused buffer for its next read.
    pub async fn next_into(&mut self, buffer: Uint8Array) -> Result<Option<Uint8Array>, Error> {
        if self.scratch.is_none() && buffer.length() == SCRATCH {
            self.scratch = Some(buffer);
        }
        let step = self.step().await?;
        Ok(step.map(|(bytes, scratch)| {
            if scratch {
                self.scratch = None;
            }
            bytes
        }))
    }

    /// The next bytes, opening and resuming responses as needed: a pending chunk, or (`true`)
    /// a view of the scratch buffer, valid until the next step. `None` once the range is read.
    async fn step(&mut self) -> Result<Option<(Uint8Array, bool)>, Error> {
        while self.pos < self.end {
            if let Some(chunk) = self.pending.pop_front() {
                self.pos += u64::from(chunk.length());
                return Ok(Some((chunk, false)));
            }
            if self.ended_early {
                self.ended_early = false;
                self.retry().await?;
            }
            let outcome = match self.reader {
                Some(_) => self.read().await,
                None => self.open().await.map(|()| None),
            };
            match outcome {
                Ok(Some(bytes)) => return Ok(Some((bytes, true))),
                Ok(None) => {}
                Err(Broken::Busy(status)) if self.may_give_way() => {
                    self.gave_way = true;
                    return Err(Error::OriginStatus(status));
                }
                Err(Broken::Retry | Broken::Busy(_)) => self.retry().await?,
                Err(Broken::Fatal(err)) => return Err(self.source.origin.failure(err)),
            }
        }
        self.close();
        Ok(None)
    }

    /// This cursor's first request (nothing of the range read, none of its own attempts
    /// failed), and another lane still running.
    fn may_give_way(&self) -> bool {
        self.failures == self.failed_before && self.pos == self.start && self.pending.is_empty() && self.gives_way.is_some_and(|alive| alive.get() > 1)
    }

    fn advance(&mut self, bytes: u32) {
        self.pos += u64::from(bytes);
        self.source.count(u64::from(bytes));
    }

    /// Reads what the current response has next (up to the scratch buffer's size).
    async fn read(&mut self) -> Result<Option<Uint8Array>, Broken> {
        let Some((reader, reader_end)) = self.reader.take() else { return Err(Broken::Retry) };
        let want = (self.end.min(reader_end) - self.pos).min(u64::from(SCRATCH)) as u32;
        let scratch = self.scratch.take().unwrap_or_else(|| Uint8Array::new_with_length(SCRATCH));
        let view = Uint8Array::new_with_byte_offset_and_length(&scratch.buffer(), 0, want);
        // Stalled: the attempt is canceled (its read then ends) and tried again, from then on
        // taking whatever has come: an origin that slowed to a trickle (less than a chunk
        // per idle timeout) still sends, and is read at its pace rather than failed.
        let reading = read_at_least(&reader, want.min(self.min_read), &view);
        let Some(result) = within_idle(self.source.idle_ms, reading, || drop(reader.cancel())).await else {
            self.min_read = READ_MIN;
            return Err(Broken::Retry);
        };
        let Ok((read, done)) = result else { return Err(Broken::Retry) };
        // The read moved the scratch memory into the returned view's buffer.
        self.scratch = Some(Uint8Array::new(&read.buffer()));
        self.advance(read.length());
        if self.pos >= reader_end {
            drop(reader.cancel());
            // A server that caps its ranges: the rest is asked for at once, unless its
            // answers are too short to count as progress (so small a cap would take more
            // requests than an invocation may make): then it is a failed attempt.
            if reader_end < self.end && reader_end - self.opened_at < MIN_CAPPED_BYTES {
                self.ended_early = true;
            }
        } else if done {
            // Ended early: what it sent counts, the rest is asked for again (a retry).
            self.ended_early = true;
        } else {
            self.reader = Some((reader, reader_end));
        }
        Ok((read.length() > 0).then_some(read))
    }

    /// Asks for the rest of the range, of the same version of the file. An answer whose
    /// headers do not come within the idle timeout is ended (and its gate slot freed) and
    /// counts as a failed attempt, as a body that stalls does.
    async fn open(&mut self) -> Result<(), Broken> {
        let Source { origin, ranged, idle_ms, .. } = self.source;
        let range = range_header(self.pos, self.end);
        let if_range = &ranged.validator.if_range;
        let found = self.source.found.borrow().clone();
        let url = found.as_ref().map_or(&ranged.url, |f| &f.url);
        let asked = match &found {
            Some(Found { url, headers }) => origin.get_within_sending(url, Some(&range), Some(if_range), headers.clone(), *idle_ms).await,
            None => origin.get_within(url, Some(&range), Some(if_range), *idle_ms).await,
        };
        let mut response = answered(asked)?;
        // The URL the redirects led to stopped serving the file: through them again, once
        // per attempt (a URL found there that does not serve it either fails the upload).
        // Every lane asks at a URL found that serves a range from then on (one that failed
        // in passing, even the first URL's own 503, is not where ranges are asked for).
        // What a refetch finds is wherever the redirects lead this time, a server the probe
        // never asked: its answers must name the file's validator themselves, and a 429 or
        // 503 to a refetch is a failed attempt (not a refusal of one more connection).
        let refetched = origin.may_refetch(url, response.status());
        let unprobed = refetched || found.is_some();
        if refetched {
            cancel_body(&response);
            let (to, again) = match origin.refetch(&range, if_range, *idle_ms).await {
                Some(Ok(found)) => found,
                Some(Err(err)) => return Err(broken(err)),
                None => return Err(Broken::Retry),
            };
            if again.status() == 206 {
                *self.source.found.borrow_mut() = Some(to);
            }
            response = again;
        }
        let head = Head::of(&response);
        let refuse = |broken: Broken| {
            cancel_body(&response);
            Err(broken)
        };
        match head.status {
            206 => {}
            // If-Range failed (or ranges stopped): the file is not the one being stored.
            200 | 412 | 416 => return refuse(Broken::Fatal(Error::OriginChanged)),
            429 | 503 if !refetched => return refuse(Broken::Busy(head.status)),
            status if passing_status(status) => return refuse(Broken::Retry),
            status => return refuse(Broken::Fatal(Error::OriginStatus(status))),
        }
        // A range in a content coding is not those bytes of the file (and a coding the
        // runtime does not decode would be stored as it came): never spliced in.
        let same = head.content_range.is_some_and(|(first, _, total)| first == self.pos && total == ranged.total) && !head.encoded;
        let version = if unprobed { head.names_version(&ranged.validator) } else { head.is_version(&ranged.validator) };
        let (Some((_, last, _)), true, true) = (head.content_range, same, version) else {
            return refuse(Broken::Fatal(Error::OriginChanged));
        };
        let Some(stream) = response.body() else { return refuse(Broken::Retry) };
        let reader = byob_reader(&stream).map_err(Broken::Fatal)?;
        self.reader = Some((reader, (last + 1).min(self.end)));
        self.opened_at = self.pos;
        Ok(())
    }

    /// The attempt failed: drop its response, and wait before the next one (or give up).
    async fn retry(&mut self) -> Result<(), Error> {
        self.close();
        self.failures += 1;
        let origin = self.source.origin;
        if origin.signal().aborted() {
            return Err(origin.failure(Error::OriginBroken));
        }
        if self.failures >= MAX_ATTEMPTS {
            return Err(Error::OriginBroken);
        }
        origin.back_off(self.failures + 1).await?;
        Ok(())
    }

    /// Stops reading the current response, if any.
    fn close(&mut self) {
        if let Some((reader, _)) = self.reader.take() {
            drop(reader.cancel());
        }
    }
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        self.close();
    }
}
