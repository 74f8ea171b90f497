//! The Worker: entry points, reading `Env` once, and dispatching routes to handlers.

mod auth;
mod bindings;
mod files;
mod ingest;
mod js;
mod origin;
mod r2;
mod respond;
mod sweep;
mod upload;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

use crate::core::route::{route, Route};
use crate::core::Error;
use bindings::Services;

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // The raw method: worker::Method maps every method it does not know (QUERY, PROPFIND) to GET.
    let method = req.inner().method();
    let result = match route(&method, &req.path()) {
        Ok(route) => match Services::from_env(&env) {
            Ok(services) => dispatch(route, req, &services).await,
            Err(err) => Err(err),
        },
        Err(err) => Err(err),
    };
    // Every error becomes a JSON envelope here; an `Err` out of this function would be a bare 500.
    Ok(result.unwrap_or_else(|err| respond::error(&err, method == "HEAD")))
}

async fn dispatch(route: Route, req: Request, services: &Services) -> std::result::Result<Response, Error> {
    match route {
        Route::Health => respond::json(200, &serde_json::json!({ "ok": true })),
        Route::OpenApi => respond::raw_json(crate::core::openapi::JSON),
        Route::Upload => upload::handle(req, services).await,
        Route::Download { file_id } => files::download(&req, services, &file_id).await,
        Route::File { object_key } => files::inline(&req, services, &object_key).await,
    }
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match Services::from_env(&env) {
        Ok(services) => sweep::run(&services).await,
        Err(err) => worker::console_error!("sweep: {err:?}"),
    }
}
