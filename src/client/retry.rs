//! Calls that fail in passing: which failures may pass, how long to wait after one, and
//! the send of every call but a poll (an upload, a batch or a job's start that carries an
//! idempotency key is sent again after such a failure).

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use super::api::{self, Call};
use super::error::ClientError;
use super::options::Settings;
use crate::core::Error;

/// Sends of an upload with an idempotency key that failed in passing, before it gives up.
const KEYED_RETRIES: u32 = 3;
/// The first wait before it is sent again (then twice as long each time).
const KEYED_RETRY_MS: f64 = 1000.0;
/// The longest it waits to be sent again (a `Retry-After` asking for longer ends it).
const MAX_KEYED_WAIT_MS: f64 = 60_000.0;
/// The longest it waits in all for an earlier send with its key that still runs (409 with
/// `Retry-After`, which does not count among the retries): the longest an upload may run
/// (`FETCH_TIMEOUT_MS` is at most 10 minutes), and more.
const MAX_RUNNING_WAIT_MS: f64 = 15.0 * 60_000.0;

/// Sends `call` ([`api::send`]). An upload, a batch or a job's start carrying an
/// idempotency key stores or starts nothing new when sent again (the service answers with
/// what the first one did), so one that failed in passing ([`sent_again`]) is sent again,
/// up to [`KEYED_RETRIES`] times, 1 s, 2 s, 4 s later, or as long as `Retry-After` asks (up
/// to a minute); after a 409 with `Retry-After` (an earlier send still running), as long
/// as it asks, not counted among the retries, up to 15 minutes in all; so is a keyed
/// batch whose only failures are items such a send still runs ([`batch_item_running`]:
/// the whole batch is sent again, each item then answered with what it did; past the 15
/// minutes, or when a later send fails, the last answer stands). Any other call is
/// sent once (an upload sent again without a key would be stored again). A failure after a
/// send that may have been done (or while an earlier one ran) is `uncertain`, whatever the
/// last send's answer says (a 429 to the second says nothing of the first). An abort of
/// `signal` ends the call at once, in a send or in a wait.
pub(crate) async fn send_once_or_again(settings: &Settings, authorization: &str, call: Call, signal: Option<&AbortSignal>) -> Result<(serde_json::Value, Option<u32>), ClientError> {
    let retries = if call.idempotency_key.is_some() { KEYED_RETRIES } else { 0 };
    let mut failures = 0;
    let mut uncertain = false;
    let mut waited_running = 0.0;
    // A keyed batch's last answer, while an item of it is waited out: it stands if a later
    // send fails.
    let mut answered = None;
    loop {
        let err = match api::send(settings, authorization, &call, signal).await {
            // waited out as a keyed upload's 409 is, but past the waits the answer stands
            Ok(answer) => match batch_item_running(&call, &answer) {
                Some(err) if !gives_up(backoff_ms(&err, 0.0, 0), true, waited_running) => {
                    answered = Some(answer);
                    err
                }
                _ => return Ok(answer),
            },
            Err(err) if retries > 0 && (running(&err) || failures < retries && sent_again(&err)) => err,
            Err(err) => return answered.map_or_else(|| Err(after(uncertain, err)), Ok),
        };
        // An earlier send still running waits as long as it asks (and may store all the
        // same: uncertain); any other failure doubles its wait.
        let running = running(&err);
        let wait = if running { backoff_ms(&err, 0.0, 0) } else { backoff_ms(&err, KEYED_RETRY_MS, failures) };
        uncertain |= running || err.uncertain();
        if gives_up(wait, running, waited_running) {
            return answered.map_or_else(|| Err(after(uncertain, err)), Ok);
        }
        waited_running += if running { wait } else { 0.0 };
        // an abort cuts the wait short; the next send then rejects it
        sleep(wait, signal).await;
        failures += u32::from(!running);
    }
}

/// Whether a keyed send does not wait `wait` ms more (for an earlier send still `running`),
/// having waited `waited_running` for such sends: a wait longer than a minute, or past 15
/// minutes of those.
fn gives_up(wait: f64, running: bool, waited_running: f64) -> bool {
    wait > MAX_KEYED_WAIT_MS || running && waited_running + wait > MAX_RUNNING_WAIT_MS
}

/// Whether `err` says an earlier send with the call's key still runs (409 with
/// `Retry-After`): sent again then, the call is answered with what that send did.
fn running(err: &ClientError) -> bool {
    matches!(err, ClientError::Server { status: 409, retry_after: Some(_), .. })
}

/// A keyed batch's answer (200) whose only failures are items an earlier send with the key
/// still runs (409 `IdempotencyKeyInFlight`, the answer carrying `Retry-After`): such an
/// item as the error a single upload's send would have had. Sent again then, the batch
/// answers each item with what it did; sent alone or with another key, the item would be
/// fetched again, so the caller is not left to do it. An answer with any other failure
/// stands (sent again, a failed item would be fetched again on every send).
fn batch_item_running(call: &Call, (data, retry_after): &(serde_json::Value, Option<u32>)) -> Option<ClientError> {
    if call.path != api::BATCH_ROUTE || call.idempotency_key.is_none() {
        return None;
    }
    let retry_after = (*retry_after)?;
    let results = data.get("results")?.as_array()?;
    let in_flight = Error::IdempotencyKeyInFlight { retry_after_secs: retry_after }.public_message();
    let running = |item: &serde_json::Value| item.get("msg").and_then(serde_json::Value::as_str) == Some(in_flight.as_str());
    let succeeded = |item: &serde_json::Value| item.get("success") == Some(&serde_json::Value::Bool(true));
    let waits = results.iter().any(running) && results.iter().all(|item| succeeded(item) || running(item));
    // (its message is never shown: past the waits, the batch's answer stands)
    waits.then(|| ClientError::Server { status: 409, code: 409, msg: String::new(), retry_after: Some(retry_after) })
}

/// `err`, marked uncertain when an earlier send may have been done.
fn after(uncertain: bool, err: ClientError) -> ClientError {
    if uncertain && !err.uncertain() {
        ClientError::Again(Box::new(err))
    } else {
        err
    }
}

/// Whether a failure may pass: no answer, not the service's answer, or one that asks to
/// come back later (a poll goes on after it; [`sent_again`] starts from it).
pub(crate) fn in_passing(err: &ClientError) -> bool {
    match err {
        ClientError::Network(_) => true,
        ClientError::Unexpected { status, .. } | ClientError::Server { status, .. } => *status == 0 || *status >= 500 || *status == 429,
        ClientError::Invalid(_) | ClientError::Options(_) | ClientError::Aborted { .. } => false,
        ClientError::Again(last) => in_passing(last),
    }
}

/// The wait before trying again after `err`: `base_ms` doubled `doublings` times, or as
/// long as the server asked (`Retry-After`) if longer.
pub(crate) fn backoff_ms(err: &ClientError, base_ms: f64, doublings: u32) -> f64 {
    let asked = err.retry_after().map_or(0.0, |secs| f64::from(secs) * 1000.0);
    (base_ms * f64::from(1u32 << doublings)).max(asked)
}

/// Whether an upload, a batch or a start with an idempotency key whose send failed so is
/// sent again: no answer, a page that is not the service's (a gateway's 5xx: the call may
/// have landed behind it), the service's 500, its 503 that says when to come back
/// (`Retry-After`: an instance busy), or its 409 with `Retry-After` (an earlier send with
/// the key still running: sent then, it is answered with that one's file). Not the
/// service's 502 or 504 (the origin's failure: sent again, it would fetch again), nor its
/// 503 without a time (a setting, such as no `LINK_SECRET`), nor a 429: the caller's to
/// handle (the key's quota, or its rate limit, which a page shows and waits out with the
/// rest of its lines).
fn sent_again(err: &ClientError) -> bool {
    match err {
        ClientError::Server { status, .. } => *status == 500 || (*status == 503 && err.retry_after().is_some()) || running(err),
        other => in_passing(other) && other.status() != 429,
    }
}

#[wasm_bindgen(module = "/client/timer.js")]
extern "C" {
    /// `setTimeout` in a promise that an abort of `signal` resolves early (the timer
    /// cleared, so an aborted wait keeps nothing pending).
    #[wasm_bindgen(js_name = sleep)]
    fn timer(ms: f64, signal: Option<&AbortSignal>) -> js_sys::Promise;
}

/// Resolves after `ms`, or as soon as `signal` aborts (the caller checks which).
pub(crate) async fn sleep(ms: f64, signal: Option<&AbortSignal>) {
    let _ = JsFuture::from(timer(ms, signal)).await;
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
    fn the_wait_doubles_unless_the_server_asks_for_longer() {
        let failed = ClientError::server(500, 500, "");
        assert_eq!([0, 1, 2].map(|n| backoff_ms(&failed, 1000.0, n)), [1000.0, 2000.0, 4000.0]);
        let busy = ClientError::Server { status: 503, code: 503, msg: String::new(), retry_after: Some(3) };
        assert_eq!([0, 2].map(|n| backoff_ms(&busy, 1000.0, n)), [3000.0, 4000.0]);
    }

    #[test]
    fn a_failure_after_a_send_that_may_have_landed_is_uncertain() {
        let limited = ClientError::Server { status: 429, code: 429, msg: "slow down".into(), retry_after: Some(60) };
        assert!(!limited.uncertain());
        let again = after(true, limited.clone());
        assert!(again.uncertain());
        assert_eq!((again.status(), again.retry_after()), (429, Some(60)), "otherwise the last answer's");
        assert!(!in_passing(&ClientError::Again(Box::new(ClientError::server(404, 404, "")))));
        assert_eq!(after(false, limited.clone()), limited);
        let lost = ClientError::Network("offline".into());
        assert_eq!(after(true, lost.clone()), lost, "uncertain already");
    }

    #[test]
    fn a_keyed_upload_goes_again_after_what_may_have_landed_only() {
        let server = |status| ClientError::server(status, status, "");
        let page = |status| ClientError::unexpected(status, String::new());
        let busy_err = || ClientError::Server { status: 503, code: 503, msg: String::new(), retry_after: Some(5) };
        let running_err = || ClientError::Server { status: 409, code: 409, msg: String::new(), retry_after: Some(7) };
        for err in [ClientError::Network("offline".into()), page(0), page(502), page(504), page(500), server(500), busy_err(), running_err()] {
            assert!(sent_again(&err), "{err:?}");
        }
        // the origin's failure, a setting (503 without a time), the key's quota or rate, a
        // conflict that does not pass (409 without a time: a job ended)
        for err in [server(502), server(504), server(503), server(429), page(429), server(400), server(422), server(409)] {
            assert!(!sent_again(&err), "{err:?}");
        }
        // an earlier send still running: waited out, not counted among the retries
        assert!(running(&running_err()) && !running(&server(409)) && !running(&busy_err()));
    }

    #[test]
    fn a_keyed_batch_with_an_item_still_running_goes_again() {
        let batch = |key: Option<&str>| Call::batch((String::new(), key.map(str::to_owned)));
        // items by what they answered: stored, still running (in flight), another 409
        // (a later item of the batch stored the name), busy
        let item = |what: &str| {
            let (code, err) = match what {
                "stored" => return serde_json::json!({ "success": true, "code": 200, "msg": "File uploaded successfully", "data": {} }),
                "in flight" => (409, Error::IdempotencyKeyInFlight { retry_after_secs: 4 }),
                "superseded" => (409, Error::Superseded),
                _ => (503, Error::Busy),
            };
            serde_json::json!({ "success": false, "code": code, "msg": err.public_message(), "data": null })
        };
        let answer = |items: &[&str], retry_after| (serde_json::json!({ "succeeded": 0, "failed": 0, "results": items.iter().map(|w| item(w)).collect::<Vec<_>>() }), retry_after);
        let running_item = batch_item_running(&batch(Some("k")), &answer(&["stored", "in flight"], Some(4))).expect("an item still running");
        assert_eq!((running_item.status(), running_item.retry_after()), (409, Some(4)));
        // not without a key (nothing runs for it), nor without a time, nor a 409 that is not
        // an item still running, nor beside another failure (sent again, it would be
        // fetched again), nor a busy item alone (the caller's to send again), nor a
        // single upload
        assert!(batch_item_running(&batch(None), &answer(&["in flight"], Some(4))).is_none());
        assert!(batch_item_running(&batch(Some("k")), &answer(&["in flight"], None)).is_none());
        assert!(batch_item_running(&batch(Some("k")), &answer(&["superseded"], Some(4))).is_none());
        assert!(batch_item_running(&batch(Some("k")), &answer(&["in flight", "superseded"], Some(4))).is_none());
        assert!(batch_item_running(&batch(Some("k")), &answer(&["in flight", "busy"], Some(5))).is_none());
        assert!(batch_item_running(&batch(Some("k")), &answer(&["busy"], Some(5))).is_none());
        assert!(batch_item_running(&Call::upload((String::new(), Some("k".into()))), &answer(&["in flight"], Some(4))).is_none());
    }
}
