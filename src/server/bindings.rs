//! Binding names, and the services built from `Env` once per request (the parsed config
//! once per isolate).

use std::cell::RefCell;
use std::rc::Rc;

use worker::{Bucket, Env, KvStore, ObjectNamespace};

use super::authority_client::AuthorityClient;
use crate::core::config::Config;
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

thread_local! {
    /// Vars change only with a new deployment, which starts new isolates: parse them once.
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// The config from `env`'s vars, parsed on the isolate's first request; a config that does
/// not parse is not kept, so every request reports it.
fn config(env: &Env) -> Result<Rc<Config>, Error> {
    if let Some(config) = CONFIG.with_borrow(Clone::clone) {
        return Ok(config);
    }
    let config = Rc::new(Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))?);
    CONFIG.set(Some(Rc::clone(&config)));
    Ok(config)
}

/// What the handlers use; nothing below the entry point reads `Env`.
pub(crate) struct Services {
    pub config: Rc<Config>,
    pub bucket: Bucket,
    pub keys: KvStore,
    pub authorities: ObjectNamespace,
    pub jobs: ObjectNamespace,
    /// `None`: the admin API is disabled.
    pub admin_token: Option<String>,
}

impl Services {
    pub fn from_env(env: &Env) -> Result<Self, Error> {
        let config = config(env)?;
        let admin_token = env
            .secret(ADMIN_TOKEN)
            .map(|s| s.to_string())
            .or_else(|_| env.var(ADMIN_TOKEN).map(|v| v.to_string()))
            .ok()
            .filter(|t| !t.is_empty());
        Ok(Services {
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
            admin_token,
        })
    }

    /// The authority of key `key_id`.
    pub fn authority(&self, key_id: &str) -> AuthorityClient {
        AuthorityClient::new(&self.authorities, key_id)
    }
}
