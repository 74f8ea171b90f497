//! Binding names, and the services built from `Env` once per request.

use worker::{Bucket, Env, KvStore};

use crate::core::config::Config;
use crate::core::Error;

/// The R2 bucket holding files and the `file_id` index.
pub(crate) const BUCKET: &str = "FILES";
/// The KV namespace holding API key records under `sha256(key)`.
pub(crate) const KEYS: &str = "API_KEYS";

/// What the handlers use; nothing below the entry point reads `Env`.
pub(crate) struct Services {
    pub config: Config,
    pub bucket: Bucket,
    pub keys: KvStore,
}

impl Services {
    pub fn from_env(env: &Env) -> Result<Self, Error> {
        let config = Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))?;
        Ok(Services {
            config,
            bucket: env.bucket(BUCKET).map_err(|e| Error::internal(format!("binding {BUCKET}: {e}")))?,
            keys: env.kv(KEYS).map_err(|e| Error::internal(format!("binding {KEYS}: {e}")))?,
        })
    }
}
