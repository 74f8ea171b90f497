//! `waitForJob` from the client's side: polling a job until it ends, reporting each poll,
//! and riding out polls that fail in passing.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

use super::api::{self, Call, Method};
use super::error::ClientError;
use super::options::{known_only, signal, Settings};
use super::retry::{backoff_ms, in_passing, sleep};

/// Polls no faster than this.
const MIN_INTERVAL_MS: f64 = 100.0;
const DEFAULT_INTERVAL_MS: f64 = 1000.0;
/// The longest wait `setTimeout` takes (a longer one fires at once).
const MAX_INTERVAL_MS: f64 = 2_147_483_647.0;
/// Polls in a row that may fail in passing (no answer, a gateway's page, a 5xx, a 429)
/// before the wait gives up: a blip does not end the wait of a job that goes on.
const POLL_RETRIES: u32 = 5;

/// `waitForJob`'s options: `{ intervalMs?, onProgress?, signal? }`.
pub(crate) struct Wait {
    interval_ms: f64,
    on_progress: Option<Function>,
    /// Ends the wait (a poll on its way, or the time between two) when it aborts.
    signal: Option<AbortSignal>,
}

/// Reads `{ intervalMs?, onProgress?, signal? }` (absent, `undefined` or `null` for none).
pub(crate) fn wait_options(value: JsValue) -> Result<Wait, ClientError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Wait { interval_ms: DEFAULT_INTERVAL_MS, on_progress: None, signal: None });
    }
    const WHAT: &str = "waitForJob: expected { intervalMs?, onProgress?, signal? }";
    let bad = |what: &str| ClientError::Options(format!("waitForJob: {what}"));
    if !value.is_object() {
        return Err(ClientError::Options(WHAT.into()));
    }
    known_only(&value, WHAT, &["intervalMs", "onProgress", "signal"])?;
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
    Ok(Wait { interval_ms, on_progress, signal: signal(&value)? })
}

/// Polls `job_id` until it ends (the succeeded job, or the failure it reports) or the
/// wait's signal aborts.
pub(crate) async fn wait(settings: &Settings, authorization: &str, job_id: &str, wait: &Wait) -> Result<JsValue, ClientError> {
    let mut failures = 0;
    loop {
        let job = match api::send(settings, authorization, &Call::job(Method::Get, job_id), wait.signal.as_ref()).await {
            Ok((job, _)) => job,
            Err(err) if in_passing(&err) && failures < POLL_RETRIES => {
                failures += 1;
                sleep(backoff_ms(&err, wait.interval_ms, failures).min(MAX_INTERVAL_MS), wait.signal.as_ref()).await;
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
            // an abort cuts the wait short; the next poll then rejects it
            Some(_) => sleep(wait.interval_ms, wait.signal.as_ref()).await,
            None => return Err(ClientError::unexpected(200, "data is not a job".into())),
        }
    }
}
