//! Binding names, and the services built from `Env` (its parsed config, its bindings) once
//! per `env` object.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use worker::{Bucket, Env, KvStore, ObjectNamespace, RateLimiter};

use super::authority_client::AuthorityClient;
use crate::core::config::{unread_names, vars, Config};
use crate::core::keys::KeyRecord;
use crate::core::links::LinkSecret;
use crate::core::mac::MIN_SECRET_BYTES;
use crate::core::rate_limit::{self, TIERS};
use crate::core::Error;

/// The R2 bucket holding every upload's bytes under `o/{file_id}`.
pub(crate) const BUCKET: &str = "FILES";
/// The KV namespace holding API key records under `sha256(key)`, and `id:{key_id}` entries.
pub(crate) const KEYS: &str = "API_KEYS";
/// The Durable Object namespace of the key authorities (one per key, named by its id).
pub(crate) const AUTHORITY: &str = "AUTHORITY";
/// The Durable Object namespace of background jobs (one per job, named by its id).
pub(crate) const JOBS: &str = "JOBS";
/// The secret guarding the admin API (a plain var works too, e.g. `wrangler dev --var`).
pub(crate) const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
/// The secret private links are signed with (rotating it invalidates every signed link).
pub(crate) const LINK_SECRET: &str = "LINK_SECRET";

thread_local! {
    /// The services of the last `env` seen. The runtime passes the same `env` object (equal by
    /// identity) to every request until the environment changes: a deployment that changes
    /// only vars, secrets or bindings may keep this isolate, with a new `env`.
    static SERVICES: RefCell<Option<(JsValue, Rc<Services>)>> = const { RefCell::new(None) };
}

/// What the handlers use; nothing below the entry point reads `Env`.
pub(crate) struct Services {
    pub config: Config,
    pub bucket: Bucket,
    pub keys: KvStore,
    pub authorities: ObjectNamespace,
    pub jobs: ObjectNamespace,
    /// `None`: the admin API is disabled.
    pub admin_token: Option<String>,
    /// `None`: private links are disabled.
    pub link_secret: Option<LinkSecret>,
    /// The rate limit tiers' bindings that exist (`core::rate_limit::TIERS`).
    rate_limiters: Vec<(u32, RateLimiter)>,
}

/// A secret, or a plain var of the same name (`wrangler dev --var`, the tests), without
/// the blanks around it (a pasted newline; a bearer token never carries them). Blank is
/// unset.
fn secret(env: &Env, name: &str) -> Option<String> {
    let value = env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()?;
    Some(value.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Secret `name` if it has at least [`MIN_SECRET_BYTES`]; a shorter one is logged and counts
/// as unset, so `what` (the feature it guards) is disabled (503).
fn strong_secret(env: &Env, name: &str, what: &str) -> Option<String> {
    let value = secret(env, name)?;
    if value.len() < MIN_SECRET_BYTES {
        worker::console_warn!("config: {name} is shorter than {MIN_SECRET_BYTES} bytes and counts as unset ({what} disabled: 503)");
        return None;
    }
    Some(value)
}

/// The binding tier `limit` needs and `limiters` lack (`None`: no limit, or it is bound).
fn unbound(limiters: &[(u32, RateLimiter)], limit: u32) -> Option<&'static str> {
    rate_limit::binding(limit).filter(|_| !limiters.iter().any(|(n, _)| *n == limit))
}

impl Services {
    /// The services of `env`, built on the first request that brings it (and again for a new
    /// `env`); a config that does not parse, or a missing binding, is not kept, so every
    /// request reports it.
    pub fn from_env(env: &Env) -> Result<Rc<Self>, Error> {
        let env_value: &JsValue = env.as_ref();
        let kept = SERVICES.with_borrow(|kept| kept.as_ref().filter(|(of, _)| Object::is(of, env_value)).map(|(_, s)| Rc::clone(s)));
        if let Some(services) = kept {
            return Ok(services);
        }
        let services = Rc::new(Services::build(env)?);
        warn_unread(env);
        if let Some(tensions) = services.config.tensions() {
            worker::console_warn!("{tensions}");
        }
        SERVICES.set(Some((env_value.clone(), Rc::clone(&services))));
        Ok(services)
    }

    fn build(env: &Env) -> Result<Self, Error> {
        let config = Config::from_vars(|name| var(env, name))?;
        let rate_limiters: Vec<(u32, RateLimiter)> = TIERS.iter().filter_map(|&(limit, name)| Some((limit, env.rate_limiter(name).ok()?))).collect();
        // The default tier applies to every key without its own: its binding must be there.
        let default = config.default_rate_limit;
        if let Some(name) = unbound(&rate_limiters, default) {
            return Err(Error::internal(format!("config: DEFAULT_RATE_LIMIT={default} needs the [[ratelimits]] binding {name}, which is missing")));
        }
        Ok(Services {
            admin_token: strong_secret(env, ADMIN_TOKEN, "the admin API"),
            link_secret: strong_secret(env, LINK_SECRET, "private links").as_deref().and_then(LinkSecret::new),
            rate_limiters,
            config,
            bucket: env
                .bucket(BUCKET)
                .map_err(|e| Error::internal(format!("binding {BUCKET}: {e}")))?,
            keys: env
                .kv(KEYS)
                .map_err(|e| Error::internal(format!("binding {KEYS}: {e}")))?,
            authorities: env
                .durable_object(AUTHORITY)
                .map_err(|e| Error::internal(format!("binding {AUTHORITY}: {e}")))?,
            jobs: env
                .durable_object(JOBS)
                .map_err(|e| Error::internal(format!("binding {JOBS}: {e}")))?,
        })
    }

    /// Counts one request on the upload routes against `owner`'s rate limit (its own, else
    /// `DEFAULT_RATE_LIMIT`; a value that is no tier as [`rate_limit::enforced`] holds it):
    /// 429 with `Retry-After` past it.
    pub async fn rate_limit(&self, owner: &KeyRecord) -> Result<(), Error> {
        let asked = owner.rate_limit.unwrap_or(self.config.default_rate_limit);
        let Some((limit, name)) = rate_limit::enforced(asked) else { return Ok(()) };
        let limiter = self.rate_limiters.iter().find(|(n, _)| *n == limit).map(|(_, l)| l);
        let limiter = limiter.ok_or_else(|| Error::internal(format!("binding {name} is missing")))?;
        let outcome = limiter.limit(owner.id.clone()).await.map_err(|e| Error::internal(format!("{name}: {e}")))?;
        if outcome.success {
            Ok(())
        } else {
            Err(rate_limit::exceeded(limit))
        }
    }

    /// Refuses (400, naming `rate_limit`) a tier given to a key whose binding this
    /// deployment lacks: every upload of that key would fail.
    pub fn check_tier(&self, limit: Option<u32>) -> Result<(), Error> {
        match limit.and_then(|l| unbound(&self.rate_limiters, l).map(|name| (l, name))) {
            Some((l, name)) => Err(Error::invalid(
                "rate_limit",
                format!("this deployment has no binding {name} (wrangler.toml, [[ratelimits]]) to count {l} requests per minute"),
            )),
            None => Ok(()),
        }
    }

    /// The authority of key `key_id`.
    pub fn authority(&self, key_id: &str) -> AuthorityClient {
        AuthorityClient::new(&self.authorities, key_id)
    }
}

/// Logs the names in `env` the Worker does not read (a misspelt variable keeps its
/// setting's default), once per `env`.
fn warn_unread(env: &Env) {
    let env: &JsValue = env.as_ref();
    let present: Vec<String> = Object::keys(env.unchecked_ref::<Object>()).iter().filter_map(|name| name.as_string()).collect();
    let others = [BUCKET, KEYS, AUTHORITY, JOBS, ADMIN_TOKEN, LINK_SECRET];
    let read: Vec<&str> = vars::ALL.into_iter().chain(others).chain(TIERS.iter().map(|(_, name)| *name)).collect();
    if let Some(warning) = unread_names(&present, &read) {
        worker::console_warn!("{warning}");
    }
}

/// The `[vars]` value `name` as text (`None` when unset). wrangler binds a quoted value as a
/// string and an unquoted one (`FILE_TTL_SECONDS = 3600`, `ALLOWED_PORTS = 443`) as JSON;
/// the latter reads as its JSON text, so the config's checks apply to it (a number in range
/// works, anything else is named as wrong) rather than it passing for unset.
pub(crate) fn var(env: &Env, name: &str) -> Option<String> {
    let value = Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if value.is_undefined() || value.is_null() {
        return None;
    }
    Some(value.as_string().unwrap_or_else(|| JSON::stringify(&value).ok().and_then(|t| t.as_string()).unwrap_or_default()))
}
