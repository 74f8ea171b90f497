//! The probe, an upload's first request (the first MiB, asked for as a range): what its
//! answer means, reading just enough of it to sniff the type, asking for it again when it
//! breaks first; and the `Origin` seam's implementation on top.

use js_sys::Uint8Array;
use url::Url;
use wasm_bindgen::JsCast;
use web_sys::ReadableStreamDefaultReader;

use super::{Head, OriginBody, Ranged, WorkerOrigin};
use crate::server::js::{cancel_body, now_ms, read_chunk, wait};
use crate::core::coding::shown_coding;
use crate::core::mime::{SNIFF_BYTES, WHOLE_BODY_BYTES};
use crate::core::ranges::{idle_timeout_ms, passing_status, range_header, Validator, MAX_ATTEMPTS, PROBE_BYTES};
use crate::core::seams::{Fetched, Origin};
use crate::core::Error;

impl WorkerOrigin {
    async fn sniff_once(&self, body: &mut OriginBody) -> Result<Vec<u8>, Error> {
        if body.ended {
            return Ok(Vec::new());
        }
        match body.length {
            // Small bodies are read whole (see WHOLE_BODY_BYTES), in one native call (which
            // shows no progress, so not where stalls are timed): only when Content-Length
            // frames them, so the call cannot read more (a 206 sent chunked may send any
            // number of bytes past what its Content-Range claims).
            Some(length) if length <= WHOLE_BODY_BYTES && body.framed && self.sniff_stall_ms(body).is_none() => self.read_whole(body).await,
            _ => self.read_prefix(body).await,
        }
    }

    /// Asks again for the first range of a ranged file whose body broke, of the same
    /// version: the same 206 as the first answer, however long the origin makes its ranges
    /// (else the file changed, 502), into `body` afresh. An answer that failed in passing
    /// (408, 429, a 5xx) is [`Error::OriginStatus`], to be asked again ([`probe_passing`]).
    /// A URL the redirects led to that stopped serving the file is refetched through them,
    /// as a range's is (`Cursor`): the answer found there must name the file's validator.
    async fn probe_again(&self, body: &mut OriginBody) -> Result<(), Error> {
        let (Some(ranged), Some(length)) = (body.ranged.clone(), body.length) else { return Err(Error::OriginBroken) };
        body.cancel();
        // the probe's rate (one stream or parallel ranges) is timed from this request
        body.asked_ms = now_ms();
        // its headers timed as its body's reads are (`sniff_stall_ms`): a stall is one attempt
        let idle = idle_timeout_ms(self.timeout_ms.get());
        let stalled = || self.failure(Error::OriginStalled { ms: idle });
        let (range, if_range) = (range_header(0, PROBE_BYTES), &ranged.validator.if_range);
        let mut response = self.get_within(&ranged.url, Some(&range), Some(if_range), idle).await.unwrap_or_else(|| Err(stalled()))?;
        let refetched = self.may_refetch(&ranged.url, response.status());
        if refetched {
            cancel_body(&response);
            let (_, found) = self.refetch(&range, if_range, idle).await.unwrap_or_else(|| Err(stalled()))?;
            response = found;
        }
        let head = Head::of(&response);
        let refuse = |err| {
            if let Some(stream) = response.body() {
                drop(stream.cancel());
            }
            Err(err)
        };
        // As a range's answer (`Cursor`): anything but a 206, 200, 412 or 416 (the last
        // three its word that the file changed) is the origin's refusal.
        if passing_status(head.status) || !matches!(head.status, 200 | 206 | 412 | 416) {
            return refuse(Error::OriginStatus(head.status));
        }
        let version = if refetched { head.names_version(&ranged.validator) } else { head.is_version(&ranged.validator) };
        if head.status != 206 || head.content_range != Some((0, length - 1, ranged.total)) || head.length != Some(length) || head.encoded || !version {
            return refuse(Error::OriginChanged);
        }
        body.ended = response.body().is_none();
        // this answer's own framing: a chunked one must not be read whole (`sniff_once`)
        body.framed = head.framed;
        body.response = response;
        body.reader = None;
        body.prefix.clear();
        Ok(())
    }

    /// Reads all of a body whose declared length is small; it is then all in `prefix`.
    async fn read_whole(&self, body: &mut OriginBody) -> Result<Vec<u8>, Error> {
        let read = body.response.array_buffer().map_err(|_| Error::OriginBroken)?;
        let buffer = wait(read).await.map_err(|_| self.failure(Error::OriginBroken))?;
        let bytes = Uint8Array::new(&buffer);
        let sniffed = bytes.subarray(0, bytes.length().min(SNIFF_BYTES as u32)).to_vec();
        if bytes.length() > 0 {
            body.prefix.push(bytes);
        }
        body.ended = true;
        Ok(sniffed)
    }

    /// Reads just far enough to sniff; the reader keeps the rest for storing. Never past
    /// the body's length: bytes a 206 sends beyond its Content-Range are not the file's.
    async fn read_prefix(&self, body: &mut OriginBody) -> Result<Vec<u8>, Error> {
        let Some(stream) = body.response.body() else { return Ok(Vec::new()) };
        let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
        let mut sniffed = Vec::new();
        let mut read = 0;
        let length = body.length.unwrap_or(u64::MAX);
        let stall_ms = self.sniff_stall_ms(body);
        while sniffed.len() < SNIFF_BYTES {
            match self.read_within(stall_ms, read_chunk(&reader), || drop(reader.cancel())).await {
                Ok(Some(chunk)) => {
                    let chunk = match u32::try_from(length - read) {
                        Ok(left) if left <= chunk.length() => {
                            // its length reached: the rest is not read
                            drop(reader.cancel());
                            body.ended = true;
                            chunk.subarray(0, left)
                        }
                        _ => chunk,
                    };
                    read += u64::from(chunk.length());
                    let take = (chunk.length() as usize).min(SNIFF_BYTES - sniffed.len());
                    sniffed.extend(chunk.subarray(0, take as u32).to_vec());
                    if chunk.length() > 0 {
                        body.prefix.push(chunk);
                    }
                    if body.ended {
                        break;
                    }
                }
                // A range's body that ends short of its Content-Range (sent chunked, or closed)
                // is broken, not the file: asked for again before anything is sniffed.
                Ok(None) if body.ranged.is_some() && read < length => return Err(self.failure(Error::OriginBroken)),
                Ok(None) => {
                    body.ended = true;
                    break;
                }
                Err(err) => return Err(err),
            }
        }
        body.reader = Some(reader);
        Ok(sniffed)
    }
}

/// Whether asking for the probe again failed in passing, as a range's attempt may
/// (`server::cursor`): no answer, or one that says to come back.
fn probe_passing(err: &Error) -> bool {
    match err {
        Error::OriginUnreachable | Error::OriginStalled { .. } => true,
        Error::OriginStatus(status) => passing_status(*status),
        _ => false,
    }
}

/// What a 206 answer to the probe means: the whole file (`None`: store it as it is), or
/// its first part of a file to fetch in ranges. `Err(())`: unusable (a range that does not
/// start at 0, more than the probe asked for (the ranged paths hold the probe in memory and
/// plan parts around it), or a file that cannot be continued safely for want of a strong
/// validator: `Validator::from_headers`).
fn probe_answer(url: &Url, head: &Head) -> Result<Option<Ranged>, ()> {
    if head.whole() {
        return Ok(None);
    }
    let (first, last, total) = head.content_range.ok_or(())?;
    if first != 0 || head.length != Some(last + 1) || last + 1 > PROBE_BYTES {
        return Err(());
    }
    let validator = Validator::from_headers(head.etag.as_deref(), head.last_modified.as_deref(), head.date.as_deref()).ok_or(())?;
    Ok(Some(Ranged { url: url.clone(), validator, total }))
}

impl Origin for WorkerOrigin {
    type Body = OriginBody;

    async fn fetch(&self, url: &Url) -> Result<Fetched<OriginBody>, Error> {
        let probe = range_header(0, PROBE_BYTES);
        let asked_ms = now_ms();
        let mut response = self.get_again_once(url, Some(&probe), None).await?;
        let mut head = Head::of(&response);
        let mut ranged = None;
        if head.status == 206 || head.status == 416 {
            match probe_answer(url, &head) {
                Ok(answer) => ranged = answer,
                // An empty file (416), or a 206 that cannot be used: ask for all of it.
                Err(()) => {
                    cancel_body(&response);
                    response = self.get_again_once(url, None, None).await?;
                    head = Head::of(&response);
                    // Asked for all of it, a part is not the file.
                    if head.status == 206 && !head.whole() {
                        cancel_body(&response);
                        return Err(Error::OriginStatus(206));
                    }
                }
            }
        }
        if let (200 | 203 | 206, Some(coding)) = (head.status, head.undecoded.as_deref()) {
            cancel_body(&response);
            return Err(Error::OriginCoding(shown_coding(coding)));
        }
        let header = |name: &str| response.headers().get(name).ok().flatten();
        Ok(Fetched {
            status: head.status,
            location: header("location"),
            // The file's size: a 206's total, else this body's length.
            content_length: ranged.as_ref().map(|r| r.total).or(head.length),
            content_type: header("content-type"),
            content_disposition: header("content-disposition"),
            body: OriginBody {
                ended: response.body().is_none(),
                reader: None,
                prefix: Vec::new(),
                length: head.length,
                framed: head.framed,
                ranged,
                response,
                asked_ms,
            },
        })
    }

    async fn sniff(&self, body: &mut OriginBody) -> Result<Vec<u8>, Error> {
        // The first range breaking before its type is known is asked for again, like any
        // range that breaks, within the same attempts: a request that fails in passing
        // counts as one (the cursor resumes the range once sniffing is done).
        let mut attempt = 1;
        loop {
            match self.sniff_once(body).await {
                Err(Error::OriginBroken | Error::OriginStalled { .. }) if body.ranged.is_some() && attempt < MAX_ATTEMPTS => {}
                read => return read,
            }
            loop {
                attempt += 1;
                self.back_off(attempt).await?;
                match self.probe_again(body).await {
                    Err(err) if probe_passing(&err) && attempt < MAX_ATTEMPTS => {}
                    asked => break asked?,
                }
            }
        }
    }

    fn length_read(&self, body: &OriginBody) -> Option<u64> {
        body.ended.then(|| body.prefix.iter().map(|chunk| u64::from(chunk.length())).sum())
    }

    fn discard(&self, body: OriginBody) {
        body.cancel();
    }
}
