//! The key's webhook secret, kept by the key's authority beside its settings: issued and
//! rotated by the admin API, read by every webhook delivery and by the start of a job with a
//! `callback_url`. Kept here only, so a rotation is one write, in order with every other
//! change to the key (a stale copy of the key elsewhere cannot undo it), and a revoked key
//! has none.

use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use crate::core::Error;

/// The table, created with the authority's own (`SqlTables::create`).
pub(crate) const SCHEMA: &[&str] = &["CREATE TABLE IF NOT EXISTS webhook_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret TEXT NOT NULL)"];

fn failed(what: &'static str) -> impl Fn(worker::Error) -> Error {
    move |e| Error::internal(format!("sql webhook secret {what}: {e}"))
}

/// Makes `secret` the key's, replacing the one before.
pub(crate) fn set(sql: &SqlStorage, secret: &str) -> Result<(), Error> {
    let args = vec![SqlStorageValue::String(secret.to_owned())];
    sql.exec("INSERT OR REPLACE INTO webhook_secret (id, secret) VALUES (1, ?)", args).map_err(failed("set"))?;
    Ok(())
}

/// The key's secret, if one was issued.
pub(crate) fn get(sql: &SqlStorage) -> Result<Option<String>, Error> {
    #[derive(Deserialize)]
    struct Row {
        secret: String,
    }
    let rows: Vec<Row> = sql.exec("SELECT secret FROM webhook_secret WHERE id = 1", None).map_err(failed("get"))?.to_array().map_err(failed("get"))?;
    Ok(rows.into_iter().next().map(|row| row.secret))
}

/// Forgets the key's secret (its key was revoked).
pub(crate) fn forget(sql: &SqlStorage) -> Result<(), Error> {
    sql.exec("DELETE FROM webhook_secret", None).map_err(failed("forget"))?;
    Ok(())
}
