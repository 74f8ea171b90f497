//! Delivering a job's webhook: its final status as JSON, POSTed to its `callback_url` with a
//! signature (`X-Urlstash-Signature: t=...,v1=...`, HMAC-SHA256 with the key's webhook
//! secret over `t.body`). Redirects are followed only when they keep the method (307, 308),
//! every hop checked by the URL policy like `file_url`'s.

use url::Url;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, RequestInit, RequestRedirect};

use super::bindings::Services;
use super::js::{cancel_body, wait};
use crate::core::jobs::{sign, JobRecord, SIGNATURE_HEADER};
use crate::core::redirects::Redirects;
use crate::core::Error;

/// How long one delivery attempt may take.
const ATTEMPT_MS: u32 = 10_000;

/// One attempt to deliver `record`'s final status; `Ok(())` once the receiver answered 2xx.
pub(crate) async fn deliver(
    services: &Services,
    record: &JobRecord,
    now_ms: i64,
) -> Result<(), Error> {
    let Some(callback) = &record.spec.callback_url else {
        return Ok(());
    };
    // The secret as it is now (a rotation applies to every delivery after it); refused once
    // the key is revoked.
    let secret = services
        .authority(&record.spec.key_id)
        .webhook_secret()
        .await?
        .ok_or_else(|| Error::internal("the key has no webhook secret"))?;
    let body = serde_json::to_string(&record.status(0)).map_err(Error::internal)?;
    let signature = sign(&secret, now_ms / 1000, &body);
    let policy = record.spec.policy(&services.config)?;
    let mut chain = Redirects::keeping_method(Url::parse(callback).map_err(Error::internal)?, &policy);
    loop {
        let response = post(chain.next()?, &body, &signature).await?;
        let status = response.status();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let location = response.headers().get("location").ok().flatten();
        if !chain.follow(status, location.as_deref())? {
            return Err(Error::OriginStatus(status));
        }
    }
}

/// What went wrong with an attempt, for the log: the receiver's side, in its own words (the
/// errors are the ones a fetch from an origin gives, named here for the callback_url).
pub(crate) fn failure(err: &Error) -> String {
    match err {
        Error::OriginStatus(status) => format!("the callback_url answered HTTP {status}"),
        Error::OriginUnreachable => "the callback_url could not be reached".to_owned(),
        Error::OriginTimeout { ms } => format!("the callback_url did not answer within {ms} ms"),
        Error::UrlRejected(rule) => format!("the callback_url was refused: {rule}"),
        Error::RedirectRejected(why) => format!("a redirect of the callback_url was refused: {why}"),
        Error::TooManyRedirects(n) => format!("the callback_url redirected more than {n} times"),
        err => err.public_message(),
    }
}

async fn post(url: &Url, body: &str, signature: &str) -> Result<web_sys::Response, Error> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_redirect(RequestRedirect::Manual);
    init.set_signal(Some(&AbortSignal::timeout_with_u32(ATTEMPT_MS)));
    init.set_body(&body.into());
    let headers = web_sys::Headers::new().map_err(|_| Error::internal("Headers::new"))?;
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set(
        "User-Agent",
        "urlstash/0.1 (+url-to-temporary-file) webhook",
    );
    let _ = headers.set(SIGNATURE_HEADER, signature);
    init.set_headers(&headers);
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = wait(global.fetch_with_str_and_init(url.as_str(), &init)).await.map_err(|e| {
        // the attempt's own deadline (the signal's TimeoutError), else no connection
        let timed_out = js_sys::Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string()).is_some_and(|n| n == "TimeoutError");
        if timed_out { Error::OriginTimeout { ms: u64::from(ATTEMPT_MS) } } else { Error::OriginUnreachable }
    })?;
    let response: web_sys::Response = response.unchecked_into();
    cancel_body(&response);
    Ok(response)
}
