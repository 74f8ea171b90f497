//! The `Origin` adapter: one GET per hop with the Worker's `fetch`, under one deadline. The
//! first request asks for the first MiB only ([`PROBE_BYTES`]): an origin that serves
//! ranges says so in its answer (206, the total size, a validator), and the rest of the
//! file is then fetched in ranges ([`Ranged`], `server::parallel`).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::time::Duration;

use js_sys::Uint8Array;
use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, AbortSignal, ReadableStream, ReadableStreamDefaultReader, RequestInit, RequestRedirect};
use worker::Delay;

use super::js::{cancel_body, now_ms, read_chunk, wait};
use super::timers::{at_deadline, clear_timer, within_idle, DEADLINE};
use crate::core::coding::{reaches_decoded, shown_coding};
use crate::core::gate::{Gate, Slot};
use crate::core::mime::{SNIFF_BYTES, WHOLE_BODY_BYTES};
use crate::core::ranges::{backoff_ms, idle_timeout_ms, parse_content_range, passing_status, range_header, Validator, MAX_ATTEMPTS, PROBE_BYTES};
use crate::core::origin_headers::{Forwarded, OriginHeaders};
use crate::core::redirects::{Redirects, GET_REDIRECTS};
use crate::core::url_policy::UrlPolicy;
use crate::core::seams::{Fetched, Origin};
use crate::core::Error;

/// A back-off is waited in steps of this, so the deadline or a cancel ends it soon.
const BACKOFF_STEP_MS: u64 = 100;

/// Sent on every request to an origin.
const USER_AGENT: &str = "urlstash/0.1 (+url-to-temporary-file)";

/// Fetches with `redirect: manual`; every request and body read of one upload shares one
/// signal (its deadline, or the upload's end: whatever it still has open is cancelled when
/// the upload is dropped), and every request waits for a slot of the request's [`Gate`].
pub(crate) struct WorkerOrigin {
    /// `ended`'s signal: aborted at the deadline (its reason then [`DEADLINE`]), by a job's
    /// cancel, or when a failed upload is dropped.
    signal: AbortSignal,
    ended: AbortController,
    /// The timer that aborts `ended` at the deadline (cleared on drop).
    timer: Cell<i32>,
    /// The upload succeeded: nothing is left open, so nothing to abort.
    succeeded: Cell<bool>,
    timeout_ms: Cell<u64>,
    /// When the upload began (its deadline is `timeout_ms` later).
    started_ms: i64,
    /// How long a body read may wait for its bytes where the deadline is far (a job's):
    /// past it the stream has stalled. `None`: the deadline alone bounds a read.
    stall_ms: Option<u64>,
    pub gate: Gate,
    /// The user's `origin_headers`, sent while the URLs keep the first URL's origin.
    forwarded: RefCell<Forwarded>,
    /// Where a ranged file's redirects start, to follow them again (see
    /// [`WorkerOrigin::refetch`]); `None`: never followed again.
    refetch: Option<Refetch>,
}

/// The first URL of an upload, the policy its redirects are checked by, and the user's
/// headers as they were before any request.
struct Refetch {
    first: Url,
    policy: UrlPolicy,
    forwarded: Forwarded,
}

/// Where a refetch's redirects ended: the URL, and the user's headers as that chain sends
/// them there (none once it left the first URL's origin).
#[derive(Clone)]
pub(crate) struct Found {
    pub url: Url,
    pub headers: Option<OriginHeaders>,
}

/// What a URL that redirects led to answers once it no longer serves the file: a signed
/// URL that expired (S3 and CloudFront 403, GCS 400, others 401, 404 or 410).
fn stopped_serving(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 410)
}

impl Drop for WorkerOrigin {
    /// Cancels what a failed upload left open (a lane's request still waiting for its
    /// headers, a body nobody reads); after a success there is nothing left to cancel, and
    /// aborting (listeners run, an `AbortError` is made) cost 5 % of a small upload's time.
    fn drop(&mut self) {
        if !self.succeeded.get() {
            self.ended.abort();
        }
        clear_timer(self.timer.get());
    }
}

/// A file the origin serves in ranges: where, which version, and how big.
#[derive(Debug, Clone)]
pub(crate) struct Ranged {
    pub url: Url,
    pub validator: Validator,
    pub total: u64,
}

/// A response body still at the origin, and what was read of it to sniff its type.
pub(crate) struct OriginBody {
    /// The response: its body is read whole (small) or streamed from here.
    response: web_sys::Response,
    /// The reader sniffing used, still holding the stream's lock (released only when the
    /// rest is wanted: releasing costs more than the read it follows).
    reader: Option<ReadableStreamDefaultReader>,
    /// Chunks already read (they come first when the body is stored).
    pub prefix: Vec<Uint8Array>,
    /// The body ended while sniffing: `prefix` is all of it.
    pub ended: bool,
    /// A trustworthy length of this body: `Content-Length` of an unencoded body, or a 206's
    /// Content-Range (the bytes past it are never read).
    pub length: Option<u64>,
    /// Whether `length` frames the body ([`Head::framed`]).
    framed: bool,
    /// Set when this body is the first part of a file the origin serves in ranges.
    pub ranged: Option<Ranged>,
    /// When it was asked for (ms since the epoch): how fast the origin sends, with the time
    /// its body is read by.
    pub asked_ms: i64,
}

impl OriginBody {
    /// The unread rest of the body as a stream, or `None` when sniffing read all of it.
    pub fn rest(&self) -> Option<ReadableStream> {
        if self.ended {
            return None;
        }
        if let Some(reader) = &self.reader {
            reader.release_lock();
        }
        self.response.body()
    }

    /// Stops reading this body (the origin may stop sending).
    pub fn cancel(&self) {
        if self.ended {
            return;
        }
        match (&self.reader, self.response.body()) {
            (Some(reader), _) => drop(reader.cancel()),
            (None, Some(stream)) => drop(stream.cancel()),
            (None, None) => {}
        }
    }
}

/// One response's headers, read once.
pub(crate) struct Head {
    pub status: u16,
    /// A content coding other than identity: the body is not the file's bytes as they are.
    pub encoded: bool,
    /// That coding, when the runtime does not decode it (the body read is still encoded).
    pub undecoded: Option<String>,
    pub length: Option<u64>,
    /// Whether `length` frames the body (`Content-Length`, not chunked): the runtime ends it
    /// there. Else a 206's length is only what its Content-Range claims, and reads stop
    /// there themselves.
    pub framed: bool,
    pub content_range: Option<(u64, u64, u64)>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Head {
    pub fn of(response: &web_sys::Response) -> Head {
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let coding = header("content-encoding");
        let encoded = coding.as_deref().is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
        // A chunked body's length is its chunks', whatever Content-Length says (RFC 9112
        // 6.3: a message with both is framed by Transfer-Encoding; the runtime reads it so).
        let chunked = header("transfer-encoding").is_some();
        let status = response.status();
        let content_range = header("content-range").and_then(|v| parse_content_range(&v));
        let declared = header("content-length").and_then(|v| v.trim().parse::<u64>().ok()).filter(|_| !chunked);
        // A 206 sent chunked (or without Content-Length) has the length its Content-Range
        // says (RFC 9110 14.4): a range's reader ends there, and checks it got all of it.
        let ranged = content_range.filter(|_| status == 206).map(|(first, last, _)| last - first + 1);
        Head {
            status,
            encoded,
            undecoded: coding.filter(|c| !reaches_decoded(c)),
            length: declared.or(ranged).filter(|_| !encoded),
            framed: declared.is_some() && !encoded,
            content_range,
            etag: header("etag"),
            last_modified: header("last-modified"),
        }
    }

    /// Whether a 206 carries the whole file (`bytes 0-(n-1)/n`, `n` bytes).
    fn whole(&self) -> bool {
        matches!(self.content_range, Some((0, last, total)) if last + 1 == total && self.length == Some(total))
    }

    /// Whether this response is of the version `validator` names.
    pub fn is_version(&self, validator: &Validator) -> bool {
        validator.matches(self.etag.as_deref(), self.last_modified.as_deref())
    }

    /// Whether this response names the very `validator` (see [`Validator::named_by`]).
    pub fn names_version(&self, validator: &Validator) -> bool {
        validator.named_by(self.etag.as_deref(), self.last_modified.as_deref())
    }
}

impl WorkerOrigin {
    pub fn new(timeout_ms: u64, gate: &Gate, forwarded: Forwarded) -> Result<Self, Error> {
        let ended = AbortController::new().map_err(|_| Error::internal("AbortController::new"))?;
        let timer = at_deadline(&ended, timeout_ms)?;
        Ok(WorkerOrigin {
            signal: ended.signal(),
            ended,
            timer: Cell::new(timer),
            succeeded: Cell::new(false),
            timeout_ms: Cell::new(timeout_ms),
            started_ms: now_ms(),
            stall_ms: None,
            gate: gate.clone(),
            forwarded: RefCell::new(forwarded),
            refetch: None,
        })
    }

    /// This origin, which follows `first`'s redirects again, each hop checked by `policy`,
    /// when the URL a ranged file's redirects led to stops serving it ([`WorkerOrigin::refetch`]).
    pub fn refetching(mut self, first: Url, policy: UrlPolicy) -> Self {
        let forwarded = self.forwarded.borrow().clone();
        self.refetch = Some(Refetch { first, policy, forwarded });
        self
    }

    /// This origin with its body reads timed by the idle timeout (a quarter of the deadline,
    /// at most 15 s): for a job, whose deadline is an hour, a stalled stream without ranges
    /// ends there. (A request's own deadline bounds its reads already.)
    pub fn timing_stalls(mut self) -> Self {
        self.stall_ms = Some(idle_timeout_ms(self.timeout_ms.get()));
        self
    }

    /// Waits for `read`, a read of a body: its failure is the connection's (or the
    /// deadline's); with stalls timed, a read that waits past the idle timeout is ended by
    /// `cancel` (which must end it) and is [`Error::OriginStalled`].
    pub async fn body_read<T>(&self, read: impl Future<Output = Result<T, JsValue>>, cancel: impl FnOnce()) -> Result<T, Error> {
        self.read_within(self.stall_ms, read, cancel).await
    }

    /// [`WorkerOrigin::body_read`] timed by `stall_ms` (`None`: not timed).
    async fn read_within<T>(&self, stall_ms: Option<u64>, read: impl Future<Output = Result<T, JsValue>>, cancel: impl FnOnce()) -> Result<T, Error> {
        let read = async { read.await.map_err(|_| self.failure(Error::OriginBroken)) };
        let Some(ms) = stall_ms else { return read.await };
        within_idle(ms, read, cancel).await.unwrap_or_else(|| Err(self.failure(Error::OriginStalled { ms })))
    }

    /// How long a read of `body`'s first bytes may wait: as any read with stalls timed; a
    /// ranged file's probe is asked for again when it stalls (as a range that stalls is
    /// resumed), so its reads are timed by the idle timeout in a request too.
    fn sniff_stall_ms(&self, body: &OriginBody) -> Option<u64> {
        self.stall_ms.or_else(|| body.ranged.is_some().then(|| idle_timeout_ms(self.timeout_ms.get())))
    }

    /// The upload this origin served is stored: every body was read to its end.
    pub fn succeeded(&self) {
        self.succeeded.set(true);
    }

    pub fn signal(&self) -> &AbortSignal {
        &self.signal
    }

    /// What ends this upload's requests at once (a job's cancel).
    pub fn ender(&self) -> AbortController {
        self.ended.clone()
    }

    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.get()
    }

    /// Brings the deadline forward to `ms` after the upload began, if that is sooner (then
    /// `true`): from then on it is the deadline ([`WorkerOrigin::timeout_ms`],
    /// [`Error::OriginTimeout`]).
    pub fn shorten(&self, ms: u64) -> Result<bool, Error> {
        if ms >= self.timeout_ms.get() {
            return Ok(false);
        }
        let left = (self.started_ms + ms as i64 - now_ms()).max(0) as u64;
        clear_timer(self.timer.get());
        self.timer.set(at_deadline(&self.ended, left)?);
        self.timeout_ms.set(ms);
        Ok(true)
    }

    /// When the upload began.
    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    pub fn stall_ms(&self) -> Option<u64> {
        self.stall_ms
    }

    /// Waits before attempt `attempt` (2, 3, ...) at a range, in steps, so that the deadline
    /// or a job's cancel ends the wait within a step (then the error they mean).
    pub async fn back_off(&self, attempt: u32) -> Result<(), Error> {
        let mut left = backoff_ms(attempt);
        while left > 0 {
            if self.signal.aborted() {
                return Err(self.failure(Error::OriginBroken));
            }
            let step = left.min(BACKOFF_STEP_MS);
            Delay::from(Duration::from_millis(step)).await;
            left -= step;
        }
        if self.signal.aborted() {
            return Err(self.failure(Error::OriginBroken));
        }
        Ok(())
    }

    /// `fallback`, unless the deadline passed: then the timeout is the real cause. Not of a
    /// verdict on the bytes themselves (a digest that is not the expected one, a file past
    /// its limit or the quota), which stands whenever the deadline came: sent again, the
    /// same file would meet it again.
    pub fn failure(&self, fallback: Error) -> Error {
        let verdict = matches!(fallback, Error::ChecksumMismatch { .. } | Error::FileTooLarge { .. } | Error::QuotaExceeded(_));
        if !verdict && self.signal.aborted() && self.signal.reason().as_string().as_deref() == Some(DEADLINE) {
            Error::OriginTimeout { ms: self.timeout_ms.get() }
        } else {
            fallback
        }
    }

    /// One GET of `url` (redirects not followed), with `range` and `if_range` when given.
    /// With stalls timed, an answer whose headers do not come within the idle timeout is
    /// ended, and is [`Error::OriginStalled`].
    pub async fn get(&self, url: &Url, range: Option<&str>, if_range: Option<&str>) -> Result<web_sys::Response, Error> {
        let Some(ms) = self.stall_ms else {
            let slot = self.gate.slot().await;
            let headers = self.headers_for(url);
            return self.get_until(url, range, if_range, headers, &self.signal, slot).await;
        };
        self.get_within(url, range, if_range, ms).await.unwrap_or_else(|| Err(self.failure(Error::OriginStalled { ms })))
    }

    /// [`WorkerOrigin::get`] whose headers must come within `ms`: `None` when they did not
    /// (the request is then ended alone, and its gate slot freed). The time spent waiting
    /// for a slot of the gate is not the origin's: `ms` starts once the request can go.
    pub async fn get_within(&self, url: &Url, range: Option<&str>, if_range: Option<&str>, ms: u64) -> Option<Result<web_sys::Response, Error>> {
        self.get_within_sending(url, range, if_range, self.headers_for(url), ms).await
    }

    /// [`WorkerOrigin::get_within`], sending the user's `headers` given.
    pub async fn get_within_sending(
        &self,
        url: &Url,
        range: Option<&str>,
        if_range: Option<&str>,
        headers: Option<OriginHeaders>,
        ms: u64,
    ) -> Option<Result<web_sys::Response, Error>> {
        // A signal of this request's own, to end it alone.
        let Ok(attempt) = AbortController::new() else { return Some(Err(Error::internal("AbortController::new"))) };
        let signal = AbortSignal::any(&js_sys::Array::of2(&self.signal, &attempt.signal()));
        let slot = self.gate.slot().await;
        within_idle(ms, self.get_until(url, range, if_range, headers, &signal, slot), || attempt.abort()).await
    }

    /// The user's headers for `url` (none once this upload's requests have left the first
    /// URL's origin).
    fn headers_for(&self, url: &Url) -> Option<OriginHeaders> {
        self.forwarded.borrow_mut().for_url(url).cloned()
    }

    /// Whether `status`, answered by `url` to a range, sends the upload through its first
    /// URL's redirects again: a redirect (an expiry scheme that sends the client back, a
    /// mirror that moves it on; followed from the first URL, every hop checked by the
    /// policy), or, at a URL the redirects led to, a status that may mean it stopped
    /// serving the file (`stopped_serving`).
    pub fn may_refetch(&self, url: &Url, status: u16) -> bool {
        let Some(refetch) = &self.refetch else { return false };
        GET_REDIRECTS.contains(&status) || (stopped_serving(status) && refetch.first != *url)
    }

    /// Asks for `range` of the file again from the upload's first URL, following its
    /// redirects anew (every hop checked by the policy, the user's headers sent again until
    /// the chain leaves the first URL's origin), each request within `ms` as
    /// [`WorkerOrigin::get_within`]'s. Answers where the chain ended and its answer, which
    /// the caller checks as any range's; `None` when a request's headers did not come
    /// within `ms`.
    pub async fn refetch(&self, range: &str, if_range: &str, ms: u64) -> Option<Result<(Found, web_sys::Response), Error>> {
        let Some(refetch) = &self.refetch else { return Some(Err(Error::internal("refetch without a first URL"))) };
        let mut forwarded = refetch.forwarded.clone();
        let mut chain = Redirects::from(refetch.first.clone(), &refetch.policy);
        loop {
            let url = match chain.next() {
                Ok(url) => url.clone(),
                Err(err) => return Some(Err(err)),
            };
            let headers = forwarded.for_url(&url).cloned();
            let response = match self.get_within_sending(&url, Some(range), Some(if_range), headers.clone(), ms).await? {
                Ok(response) => response,
                Err(err) => return Some(Err(err)),
            };
            let location = response.headers().get("location").ok().flatten();
            match chain.follow(response.status(), location.as_deref()) {
                Ok(false) => return Some(Ok((Found { url: chain.into_url(), headers }, response))),
                moved => {
                    cancel_body(&response);
                    if let Err(err) = moved {
                        return Some(Err(err));
                    }
                }
            }
        }
    }

    /// [`WorkerOrigin::get`], ended by `signal` (one that follows the upload's own), sent
    /// with `slot` of the request's gate (held until its headers come).
    async fn get_until(
        &self,
        url: &Url,
        range: Option<&str>,
        if_range: Option<&str>,
        given: Option<OriginHeaders>,
        signal: &AbortSignal,
        slot: Slot,
    ) -> Result<web_sys::Response, Error> {
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_redirect(RequestRedirect::Manual);
        init.set_signal(Some(signal));
        let headers = web_sys::Headers::new().map_err(|_| Error::internal("Headers::new"))?;
        let _ = headers.set("Accept-Encoding", "identity");
        let _ = headers.set("User-Agent", USER_AGENT);
        // The user's headers (never logged: a refused one is not echoed either), only to the
        // first URL's origin; a user's User-Agent replaces ours.
        if let Some(given) = given {
            for (name, value) in given.iter() {
                let _ = headers.set(name, value);
            }
        }
        if let Some(range) = range {
            let _ = headers.set("Range", range);
        }
        if let Some(if_range) = if_range {
            let _ = headers.set("If-Range", if_range);
        }
        init.set_headers(&headers);
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let response = wait(global.fetch_with_str_and_init(url.as_str(), &init)).await;
        drop(slot);
        let response = response.map_err(|_| self.failure(Error::OriginUnreachable))?;
        Ok(response.unchecked_into())
    }

    /// [`WorkerOrigin::get`], asked once more after a pause when it failed before any answer
    /// (a kept-alive connection the origin closed as it was reused, a refusal that passes):
    /// an idempotent GET, as HTTP clients retry it. A ranged file's later requests have
    /// their own retries (`server::cursor`).
    async fn get_again_once(&self, url: &Url, range: Option<&str>, if_range: Option<&str>) -> Result<web_sys::Response, Error> {
        match self.get(url, range, if_range).await {
            Err(Error::OriginUnreachable) => {
                self.back_off(2).await?;
                self.get(url, range, if_range).await
            }
            answered => answered,
        }
    }

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
/// plan parts around it), or a file that cannot be continued safely for want of a validator).
fn probe_answer(url: &Url, head: &Head) -> Result<Option<Ranged>, ()> {
    if head.whole() {
        return Ok(None);
    }
    let (first, last, total) = head.content_range.ok_or(())?;
    if first != 0 || head.length != Some(last + 1) || last + 1 > PROBE_BYTES {
        return Err(());
    }
    let validator = Validator::from_headers(head.etag.as_deref(), head.last_modified.as_deref()).ok_or(())?;
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
