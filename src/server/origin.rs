//! The `Origin` adapter: one GET per hop with the Worker's `fetch`, under one deadline, each
//! waiting for a slot of the request's gate, and the refetch of a ranged file through its
//! first URL's redirects. The first request asks for the first MiB only (`probe`): an origin
//! that serves ranges says so in its answer (206, the total size, a validator), and the
//! rest of the file is then fetched in ranges ([`Ranged`], `server::parallel`).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::time::Duration;

use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, AbortSignal, RequestInit, RequestRedirect};
use worker::Delay;

use super::js::{cancel_body, now_ms, wait};
use super::timers::{at_deadline, clear_timer, within_idle, DEADLINE};
use crate::core::gate::{Gate, Slot};
use crate::core::ranges::{backoff_ms, idle_timeout_ms};
use crate::core::origin_headers::{Forwarded, OriginHeaders};
use crate::core::redirects::{Redirects, GET_REDIRECTS};
use crate::core::url_policy::UrlPolicy;
use crate::core::Error;

mod answer;
mod probe;

pub(crate) use answer::{Head, OriginBody, Ranged};

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
}
