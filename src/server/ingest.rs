//! Streaming an origin body into R2 without holding it: a known length is piped straight
//! through a `FixedLengthStream`; an unknown one goes up as a multipart upload of fixed
//! parts filled in place by the stream. Bytes stay in JS memory throughout; only the
//! sniffed prefix ever entered wasm.

use std::collections::VecDeque;

use futures_util::future::join;
use js_sys::{BigInt, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{ReadableStream, StreamPipeOptions, WritableStream};
use worker::worker_sys::{FixedLengthStream, R2Bucket, R2MultipartUpload};

use super::js::{describe, object, wait};
use super::origin::{OriginBody, WorkerOrigin};
use crate::core::Error;

/// Size of every multipart part but the last (R2 wants at least 5 MiB, all equal).
pub(crate) const PART_BYTES: u32 = 5 * 1024 * 1024;

/// Stores a body of known `length` under `key`; all or nothing.
pub(crate) async fn put_known(
    bucket: &R2Bucket,
    origin: &WorkerOrigin,
    key: &str,
    body: OriginBody,
    length: u64,
    options: &JsValue,
) -> Result<u64, Error> {
    let mut sniffed = Buffer::default();
    for chunk in &body.prefix {
        sniffed.push(chunk.clone());
    }
    if sniffed.len == length {
        // Sniffing read the whole body: one put of the bytes, no stream to set up (and
        // nothing left to cancel: the origin sent the declared length).
        let put = bucket
            .put(key.to_owned(), sniffed.take(length as u32, None).into(), options.clone())
            .map_err(|e| Error::internal(describe(&e)))?;
        wait(put).await.map_err(|e| Error::internal(format!("r2 put: {}", describe(&e))))?;
        return Ok(length);
    }
    let fixed = match u32::try_from(length) {
        Ok(n) => FixedLengthStream::new(n),
        Err(_) => FixedLengthStream::new_big_int(BigInt::from(length)),
    }
    .map_err(|e| Error::internal(describe(&e)))?;
    let put = bucket
        .put(key.to_owned(), fixed.readable().into(), options.clone())
        .map_err(|e| Error::internal(describe(&e)))?;
    let (stored, fed) = join(wait(put), feed(body, &fixed.writable(), origin)).await;
    match (stored, fed) {
        (Ok(_), Ok(())) => Ok(length),
        (_, Err(err)) => Err(origin.failure(err)),
        (Err(e), Ok(())) => Err(origin.failure(Error::internal(format!("r2 put: {}", describe(&e))))),
    }
}

/// Writes the sniffed prefix, then pipes the rest of the body natively.
async fn feed(body: OriginBody, sink: &WritableStream, origin: &WorkerOrigin) -> Result<(), Error> {
    let broken = |_| Error::OriginBroken;
    if !body.prefix.is_empty() {
        let writer = sink.get_writer().map_err(|e| Error::internal(describe(&e)))?;
        for chunk in &body.prefix {
            wait(writer.write_with_chunk(chunk)).await.map_err(broken)?;
        }
        writer.release_lock();
    }
    match body.rest() {
        None => wait(sink.close()).await.map(drop).map_err(broken),
        Some(stream) => {
            let options = StreamPipeOptions::new();
            options.set_signal(origin.signal());
            wait(stream.pipe_to_with_options(sink, &options)).await.map(drop).map_err(broken)
        }
    }
}

/// Stores a body of unknown length, counting bytes and stopping past `limit`. Up to one
/// part it is a single put; beyond, a multipart upload that is aborted on any failure.
pub(crate) async fn put_unknown(
    bucket: &R2Bucket,
    origin: &WorkerOrigin,
    key: &str,
    body: OriginBody,
    limit: u64,
    options: &JsValue,
) -> Result<u64, Error> {
    let reader = match body.rest() {
        Some(stream) => Some(byob_reader(&stream)?),
        None => None,
    };
    let mut upload = Multipart { bucket, key, options, started: None, parts: Vec::new(), in_flight: None };
    let result = pump(reader.as_ref(), body.prefix, limit, origin, &mut upload).await;
    if result.is_err() {
        if let Some(reader) = &reader {
            let _ = reader.cancel();
        }
        upload.abort().await;
    }
    result.map_err(|err| origin.failure(err))
}

/// Fills part-sized buffers straight from the stream (`readAtLeast`: one await per part,
/// no per-chunk work) and sends each full one; the short last one finishes the upload. Two
/// buffers take turns (one in flight, one filling), so memory stays at two parts.
async fn pump(
    reader: Option<&ByobReader>,
    prefix: Vec<Uint8Array>,
    limit: u64,
    origin: &WorkerOrigin,
    upload: &mut Multipart<'_>,
) -> Result<u64, Error> {
    let mut pending = Buffer::default();
    for chunk in prefix {
        pending.push(chunk);
    }
    let mut total = pending.len;
    let mut ended = reader.is_none();
    // The buffer of the last part R2 finished taking, ready to be filled again.
    let mut spare = None;
    loop {
        if total > limit {
            return Err(Error::FileTooLarge { limit });
        }
        if pending.len >= u64::from(PART_BYTES) {
            spare = upload.send(pending.take(PART_BYTES, spare.take())).await?;
            continue;
        }
        // A part: what is pending first, then the stream fills the rest in place.
        let mut filled = pending.len as u32;
        let mut part = pending.take(PART_BYTES, spare.take());
        while filled < PART_BYTES && !ended && total <= limit {
            let view = Uint8Array::new_with_byte_offset_and_length(&part.buffer(), filled, PART_BYTES - filled);
            let Some(reader) = reader else { break };
            let (read, done) = read_at_least(reader, PART_BYTES - filled, &view)
                .await
                .map_err(|_| origin.failure(Error::OriginBroken))?;
            // The read transferred the buffer: the part lives in the returned one now.
            part = Uint8Array::new(&read.buffer());
            filled += read.length();
            total += u64::from(read.length());
            ended = done;
        }
        if total > limit {
            return Err(Error::FileTooLarge { limit });
        }
        if filled == PART_BYTES {
            spare = upload.send(part).await?;
        } else {
            upload.finish(part.subarray(0, filled)).await?;
            return Ok(total);
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// `ReadableStreamBYOBReader`, with workerd's `readAtLeast` extension.
    #[wasm_bindgen(extends = js_sys::Object)]
    type ByobReader;
    #[wasm_bindgen(method, js_name = readAtLeast)]
    fn read_at_least_raw(this: &ByobReader, min_bytes: u32, view: &Uint8Array) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn cancel(this: &ByobReader) -> js_sys::Promise;
}

fn byob_reader(stream: &ReadableStream) -> Result<ByobReader, Error> {
    let get_reader: js_sys::Function = Reflect::get(stream, &"getReader".into())
        .and_then(|f| f.dyn_into())
        .map_err(|e| Error::internal(describe(&e)))?;
    get_reader
        .call1(stream, &object([("mode", JsValue::from_str("byob"))]))
        .map(JsCast::unchecked_into)
        .map_err(|e| Error::internal(describe(&e)))
}

/// Reads at least `min` bytes into `view` (fewer only at the end): the bytes read, and
/// whether the stream ended.
async fn read_at_least(reader: &ByobReader, min: u32, view: &Uint8Array) -> Result<(Uint8Array, bool), JsValue> {
    let result = wait(reader.read_at_least_raw(min, view)).await?;
    let done = Reflect::get(&result, &"done".into())?.as_bool().unwrap_or(true);
    let value = Reflect::get(&result, &"value".into())?;
    Ok((value.dyn_into::<Uint8Array>()?, done))
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

/// A multipart upload started on the first full part, with at most one part in flight.
struct Multipart<'a> {
    bucket: &'a R2Bucket,
    key: &'a str,
    options: &'a JsValue,
    started: Option<R2MultipartUpload>,
    parts: Vec<JsValue>,
    /// The part being sent, and its buffer.
    in_flight: Option<(js_sys::Promise, Uint8Array)>,
}

impl Multipart<'_> {
    fn internal(e: JsValue) -> Error {
        Error::internal(format!("r2 multipart: {}", describe(&e)))
    }

    /// Sends `part` once the part before it landed; returns that one's buffer, free again.
    async fn send(&mut self, part: Uint8Array) -> Result<Option<Uint8Array>, Error> {
        if self.started.is_none() {
            let created = self.bucket.create_multipart_upload(self.key.to_owned(), self.options.clone()).map_err(Self::internal)?;
            self.started = Some(wait(created).await.map_err(Self::internal)?.unchecked_into());
        }
        let free = self.settle().await?;
        let upload = self.started.as_ref().expect("started above");
        let number = u16::try_from(self.parts.len() + 1).map_err(|_| Error::internal("too many parts"))?;
        let sending = upload.upload_part(number, part.clone().into()).map_err(Self::internal)?;
        self.in_flight = Some((sending, part));
        Ok(free)
    }

    /// Waits for the part in flight; returns its buffer.
    async fn settle(&mut self) -> Result<Option<Uint8Array>, Error> {
        let Some((promise, buffer)) = self.in_flight.take() else { return Ok(None) };
        self.parts.push(wait(promise).await.map_err(Self::internal)?);
        Ok(Some(buffer))
    }

    /// Sends the last bytes: one plain put when no part went up, else the last part and
    /// the completion.
    async fn finish(&mut self, rest: Uint8Array) -> Result<(), Error> {
        if self.started.is_none() {
            let put = self.bucket.put(self.key.to_owned(), rest.into(), self.options.clone()).map_err(Self::internal)?;
            wait(put).await.map_err(Self::internal)?;
            return Ok(());
        }
        if rest.length() > 0 {
            self.send(rest).await?;
        }
        self.settle().await?;
        let upload = self.started.as_ref().expect("started");
        wait(upload.complete(std::mem::take(&mut self.parts)).map_err(Self::internal)?)
            .await
            .map_err(Self::internal)?;
        self.started = None;
        Ok(())
    }

    async fn abort(&mut self) {
        if let Some((promise, _)) = self.in_flight.take() {
            let _ = wait(promise).await;
        }
        if let Some(upload) = self.started.take() {
            if let Ok(promise) = upload.abort() {
                let _ = wait(promise).await;
            }
        }
    }
}
