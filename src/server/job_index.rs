//! The key's index of its background jobs, kept by the key's authority beside its files:
//! which jobs the key started and when, so `GET /api/v1/jobs` can list them (each job's
//! state lives in its own Durable Object). Jobs older than a week leave the index when the
//! key starts its next job.

use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use crate::core::jobs::MAX_LISTED_JOBS;
use crate::core::Error;

/// How long a job stays listed.
const LISTED_FOR_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The table, and its index newest first (the listing and the prune read it, not the table);
/// created with the authority's own tables (`SqlTables::create`).
pub(crate) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (at_ms, job_id)",
];

fn failed(what: &'static str) -> impl Fn(worker::Error) -> Error {
    move |e| Error::internal(format!("sql jobs {what}: {e}"))
}

/// Records that the key started `job_id` at `at_ms`, and forgets jobs older than a week.
pub(crate) fn add(sql: &SqlStorage, job_id: &str, at_ms: i64) -> Result<(), Error> {
    let args = vec![
        SqlStorageValue::String(job_id.to_owned()),
        SqlStorageValue::Integer(at_ms),
    ];
    sql.exec(
        "INSERT OR IGNORE INTO jobs (job_id, at_ms) VALUES (?, ?)",
        args,
    )
    .map_err(failed("add"))?;
    sql.exec(
        "DELETE FROM jobs WHERE at_ms < ?",
        vec![SqlStorageValue::Integer(at_ms - LISTED_FOR_MS)],
    )
    .map_err(failed("prune"))?;
    Ok(())
}

/// The key's most recent jobs, newest first.
pub(crate) fn recent(sql: &SqlStorage, limit: u32) -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct Row {
        job_id: String,
    }
    let query = "SELECT job_id FROM jobs ORDER BY at_ms DESC, job_id DESC LIMIT ?";
    let rows: Vec<Row> = sql
        .exec(
            query,
            vec![SqlStorageValue::Integer(i64::from(
                limit.min(MAX_LISTED_JOBS),
            ))],
        )
        .map_err(failed("list"))?
        .to_array()
        .map_err(failed("list"))?;
    Ok(rows.into_iter().map(|r| r.job_id).collect())
}
