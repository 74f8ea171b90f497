//! Background jobs from the client's side: sending a call, and an upload, a batch or a
//! start with an idempotency key again when it failed in passing; `waitForJob`, polling a
//! job until it ends, reporting each poll.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::api::{self, Call, Method};
use super::error::ClientError;
use super::options::{known_only, Settings};

/// Polls no faster than this.
const MIN_INTERVAL_MS: f64 = 100.0;
const DEFAULT_INTERVAL_MS: f64 = 1000.0;
/// The longest wait `setTimeout` takes (a longer one fires at once).
const MAX_INTERVAL_MS: f64 = 2_147_483_647.0;
/// Polls in a row that may fail in passing (no answer, a gateway's page, a 5xx, a 429)
/// before the wait gives up: a blip does not end the wait of a job that goes on.
const POLL_RETRIES: u32 = 5;

/// `waitForJob`'s options: `{ intervalMs?, onProgress? }`.
pub(crate) struct Wait {
    interval_ms: f64,
    on_progress: Option<Function>,
}

/// Reads `{ intervalMs?, onProgress? }` (absent, `undefined` or `null` for none).
pub(crate) fn wait_options(value: JsValue) -> Result<Wait, ClientError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Wait { interval_ms: DEFAULT_INTERVAL_MS, on_progress: None });
    }
    let bad = |what: &str| ClientError::Options(format!("waitForJob: {what}"));
    if !value.is_object() {
        return Err(bad("expected { intervalMs?, onProgress? }"));
    }
    known_only(&value, "waitForJob: expected { intervalMs?, onProgress? }", &["intervalMs", "onProgress"])?;
    let get = |name: &str| Reflect::get(&value, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let interval = get("intervalMs");
    let interval_ms = match interval.as_f64() {
        Some(ms) if ms.is_finite() => ms.clamp(MIN_INTERVAL_MS, MAX_INTERVAL_MS),
        None if interval.is_undefined() || interval.is_null() => DEFAULT_INTERVAL_MS,
        _ => return Err(bad("`intervalMs` must be a number of milliseconds")),
    };
    let progress = get("onProgress");
    let on_progress = match progress.dyn_into::<Function>() {
        Ok(f) => Some(f),
        Err(v) if v.is_undefined() || v.is_null() => None,
        Err(_) => return Err(bad("`onProgress` must be a function")),
    };
    Ok(Wait { interval_ms, on_progress })
}

/// Sends of an upload with an idempotency key that failed in passing, before it gives up.
const KEYED_RETRIES: u32 = 3;
/// The first wait before it is sent again (then twice as long each time).
const KEYED_RETRY_MS: f64 = 1000.0;
/// The longest it waits to be sent again (a `Retry-After` asking for longer ends it).
const MAX_KEYED_WAIT_MS: f64 = 60_000.0;

/// Sends `call` ([`api::send`]). An upload, a batch or a job's start carrying an
/// idempotency key stores or starts nothing new when sent again (the service answers with
/// what the first one did), so one that failed in passing ([`sent_again`]) is sent again,
/// up to [`KEYED_RETRIES`] times, 1 s, 2 s, 4 s later, or as long as `Retry-After` asks (up
/// to a minute). Any other call is sent once (an upload sent again without a key would be
/// stored again).
pub(crate) async fn send_once_or_again(settings: &Settings, authorization: &str, call: Call) -> Result<(serde_json::Value, Option<u32>), ClientError> {
    let retries = if call.idempotency_key.is_some() { KEYED_RETRIES } else { 0 };
    let mut failures = 0;
    loop {
        let err = match api::send(settings, authorization, &call).await {
            Err(err) if failures < retries && sent_again(&err) => err,
            answer => return answer,
        };
        let asked = err.retry_after().map_or(0.0, |secs| f64::from(secs) * 1000.0);
        let wait = (KEYED_RETRY_MS * f64::from(1u32 << failures)).max(asked);
        if wait > MAX_KEYED_WAIT_MS {
            return Err(err);
        }
        sleep(wait).await;
        failures += 1;
    }
}

/// Polls `job_id` until it ends: the succeeded job, or the failure it reports.
pub(crate) async fn wait(settings: &Settings, authorization: &str, job_id: &str, wait: &Wait) -> Result<JsValue, ClientError> {
    let mut failures = 0;
    loop {
        let job = match api::send(settings, authorization, &Call::job(Method::Get, job_id)).await {
            Ok((job, _)) => job,
            Err(err) if in_passing(&err) && failures < POLL_RETRIES => {
                failures += 1;
                // as long as the server asked (Retry-After), if longer than the doubling delay
                let asked = err.retry_after().map_or(0.0, |secs| f64::from(secs) * 1000.0);
                sleep((wait.interval_ms * f64::from(1u32 << failures)).max(asked).min(MAX_INTERVAL_MS)).await;
                continue;
            }
            Err(err) => return Err(err),
        };
        failures = 0;
        let js = super::to_js(&job).map_err(|_| ClientError::unexpected(200, "job".into()))?;
        if let Some(report) = &wait.on_progress {
            // A throwing callback does not stop the wait (documented on `WaitOptions`).
            let _ = report.call1(&JsValue::NULL, &js);
        }
        // Read where needed only: the job's types are the server's (`core::jobs`).
        match job["state"].as_str() {
            Some("succeeded") => return Ok(js),
            Some("failed") => {
                let code = job["error"]["code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(500);
                let msg = job["error"]["msg"].as_str().unwrap_or("the job failed").to_owned();
                return Err(ClientError::server(code, code, msg));
            }
            Some("canceled") => return Err(ClientError::server(409, 409, "the job was canceled")),
            Some(_) => sleep(wait.interval_ms).await,
            None => return Err(ClientError::unexpected(200, "data is not a job".into())),
        }
    }
}

/// Whether a poll's failure may pass: no answer, not the service's answer, or one that
/// asks to come back later.
fn in_passing(err: &ClientError) -> bool {
    match err {
        ClientError::Network(_) => true,
        ClientError::Unexpected { status, .. } | ClientError::Server { status, .. } => *status == 0 || *status >= 500 || *status == 429,
        ClientError::Invalid(_) | ClientError::Options(_) => false,
    }
}

/// Whether a keyed upload whose send failed so is sent again: no answer, a page that is not
/// the service's (a gateway's 5xx: the upload may have landed behind it), the service's 500,
/// or its 503 that says when to come back (`Retry-After`: an instance busy). Not the
/// service's 502 or 504 (the origin's failure: sent again, it would fetch again), nor its
/// 503 without a time (a setting, such as no `LINK_SECRET`), nor a 429: the caller's to
/// handle (the key's quota, or its rate limit, which a page shows and waits out with the
/// rest of its lines).
fn sent_again(err: &ClientError) -> bool {
    match err {
        ClientError::Server { status, .. } => *status == 500 || (*status == 503 && err.retry_after().is_some()),
        other => in_passing(other) && other.status() != 429,
    }
}

/// Resolves after `ms` (the global `setTimeout`, in browsers and workers alike).
async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _| {
        let set_timeout = Reflect::get(&js_sys::global(), &"setTimeout".into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
        if let Some(set_timeout) = set_timeout {
            let _ = set_timeout.call2(&JsValue::NULL, &resolve, &JsValue::from_f64(ms));
        }
    });
    let _ = JsFuture::from(promise).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blips_pass_and_answers_do_not() {
        let server = |status| ClientError::server(status, status, "");
        let page = |status| ClientError::unexpected(status, String::new());
        for err in [ClientError::Network("offline".into()), page(502), page(0), page(429), server(500), server(503), server(429)] {
            assert!(in_passing(&err), "{err:?}");
        }
        for err in [server(401), server(404), server(409), page(200), ClientError::Options(String::new())] {
            assert!(!in_passing(&err), "{err:?}");
        }
    }

    #[test]
    fn a_keyed_upload_goes_again_after_what_may_have_landed_only() {
        let server = |status| ClientError::server(status, status, "");
        let page = |status| ClientError::unexpected(status, String::new());
        let busy = ClientError::Server { status: 503, code: 503, msg: String::new(), retry_after: Some(5) };
        for err in [ClientError::Network("offline".into()), page(0), page(502), page(504), page(500), server(500), busy] {
            assert!(sent_again(&err), "{err:?}");
        }
        // the origin's failure, a setting (503 without a time), the key's quota or rate
        for err in [server(502), server(504), server(503), server(429), page(429), server(400), server(422)] {
            assert!(!sent_again(&err), "{err:?}");
        }
    }
}
