//! The Worker: the fetch entry point, reading `Env` once, and dispatching routes to
//! handlers (the Durable Object classes live in `authority` and `job_object`).

mod admin;
mod auth;
mod authority;
mod authority_client;
mod buffers;
mod batch;
mod bindings;
mod blocklist;
mod cors;
mod cursor;
mod digest;
mod files;
mod http;
mod ingest;
mod job_index;
mod job_object;
mod job_run;
mod job_store;
mod jobs;
mod js;
mod key_secret;
mod manage;
mod origin;
mod parallel;
mod r2;
mod respond;
mod sql;
mod streamed;
mod stub;
mod takedown;
mod timers;
mod upload;
mod webhook;

use futures_util::FutureExt;
use worker::{event, Context, Env, Response, Result};

use crate::core::query::params;
use crate::core::route::{route, Route};
use crate::core::Error;
use bindings::Services;
use http::Incoming;

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(raw: web_sys::Request, env: Env, _ctx: Context) -> Result<Response> {
    // The raw method: worker::Method maps every method it does not know (QUERY, PROPFIND) to GET.
    let method = raw.method();
    // a second handle to the request (not the Fetch API's `clone()`, which tees its body),
    // whose URL is read only for an error's log line
    let request = Clone::clone(&raw);
    // Every error becomes a JSON envelope here; an `Err` out of this function would be a bare 500.
    let response = answer(&method, raw, &env).await.unwrap_or_else(|err| {
        // what failed, for the log: the URL without its query (a signed link's signature)
        let url = request.url();
        let what = format!("{method} {}", url.split(['?', '#']).next().unwrap_or_default());
        respond::error(&err, &what, method == "HEAD")
    });
    Ok(cors::allow_cross_origin(response))
}

/// The answer to `raw` (whose method is `method`): a preflight, or its route's handler.
async fn answer(method: &str, raw: web_sys::Request, env: &Env) -> std::result::Result<Response, Error> {
    let req = Incoming::new(raw)?;
    if method == "OPTIONS" {
        return cors::answer_preflight(req.url.path());
    }
    let route = route(method, req.url.path())?;
    if !route.takes_query() {
        params(http::borrowed(&http::query(&req)), [])?;
    }
    // a GET's or HEAD's content has no meaning (RFC 9110 9.3.1): left unread, as ever
    if !route.takes_body() && !matches!(method, "GET" | "HEAD") {
        http::no_body(&req).await?;
    }
    let services = Services::from_env(env)?;
    dispatch(route, req, &services).await
}

/// Each route's handler is awaited boxed (`boxed_local`, a `dyn Future`), so its `poll` is
/// a function of its own, never inlined into one state machine of every route: V8 compiles
/// the hot functions of an upload's poll chain once per isolate, at a cost in memory that
/// grows with their size (BENCHMARKS.md, "The first large upload's memory").
async fn dispatch(
    route: Route,
    req: Incoming,
    services: &Services,
) -> std::result::Result<Response, Error> {
    match route {
        Route::Health => respond::json(200, &serde_json::json!({ "ok": true })),
        Route::OpenApi => respond::raw_json(crate::core::openapi::JSON),
        Route::Upload => upload::handle(req, services).boxed_local().await,
        Route::Download { file_id } => files::download(&req, services, &file_id).boxed_local().await,
        Route::File { name } => files::inline(&req, services, &name).boxed_local().await,
        Route::UploadBatch => batch::handle(req, services).boxed_local().await,
        Route::Usage => manage::usage(&req, services).boxed_local().await,
        Route::ListFiles => manage::list(&req, services).boxed_local().await,
        Route::FileInfo { file_id } => manage::info(&req, services, &file_id).boxed_local().await,
        Route::DeleteFile { file_id } => manage::delete(&req, services, &file_id).boxed_local().await,
        Route::Link { file_id } => manage::link(req, services, &file_id).boxed_local().await,
        Route::ListKeys => admin::list(&req, services).boxed_local().await,
        Route::CreateKey => admin::create(req, services).boxed_local().await,
        Route::GetKey { key_id } => admin::show(&req, services, &key_id).boxed_local().await,
        Route::UpdateKey { key_id } => admin::update(req, services, &key_id).boxed_local().await,
        Route::RevokeKey { key_id } => admin::revoke(&req, services, &key_id).boxed_local().await,
        Route::RotateWebhookSecret { key_id } => {
            admin::rotate_webhook_secret(&req, services, &key_id).boxed_local().await
        }
        Route::PurgeKeyFiles { key_id } => takedown::purge(&req, services, &key_id).boxed_local().await,
        Route::TakeDown => takedown::take_down(req, services).boxed_local().await,
        Route::ListBlocked => blocklist::list(&req, services).boxed_local().await,
        Route::ShowBlocked { sha256 } => blocklist::show(&req, services, &sha256).boxed_local().await,
        Route::Block { sha256 } => blocklist::put(req, services, sha256).boxed_local().await,
        Route::Unblock { sha256 } => blocklist::delete(&req, services, &sha256).boxed_local().await,
        Route::ListJobs => jobs::list(&req, services).boxed_local().await,
        Route::JobStatus { job_id } => jobs::status(&req, services, &job_id).boxed_local().await,
        Route::CancelJob { job_id } => jobs::cancel(&req, services, &job_id).boxed_local().await,
    }
}
