//! The key's index of its background jobs, kept by the key's authority beside its files:
//! which jobs the key started and when, and each ended job's final status, so that
//! `GET /api/v1/jobs` lists them asking only the running jobs' own Durable Objects. A job is
//! listed for a week after it started (its object forgets it a week after it ended), and
//! leaves the index when the key starts a job after that.

use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use crate::core::authority_wire::IndexedJob;
use crate::core::jobs::{JobStatus, MAX_LISTED_JOBS};
use crate::core::Error;

/// How long a job stays listed.
const LISTED_FOR_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The tables, and the started jobs' index newest first (the listing and the prune read
/// it, not the table); created with the authority's own tables (`SqlTables::create`).
pub(crate) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (at_ms, job_id)",
    "CREATE TABLE IF NOT EXISTS job_ends (job_id TEXT PRIMARY KEY, status TEXT NOT NULL)",
];

fn failed(what: &'static str) -> impl Fn(worker::Error) -> Error {
    move |e| Error::internal(format!("sql jobs {what}: {e}"))
}

/// Records that the key started `job_id` at `at_ms`, and forgets jobs older than a week.
/// Forgets first: an `Idempotency-Key`'s job id comes back once its job was forgotten, and
/// is then a new job (not the old one's entry, which is older than a week by then). An id
/// added again (a start retried after one that failed before its job began) takes the later
/// time: that is when its job began.
pub(crate) fn add(sql: &SqlStorage, job_id: &str, at_ms: i64) -> Result<(), Error> {
    let old = || vec![SqlStorageValue::Integer(at_ms - LISTED_FOR_MS)];
    sql.exec("DELETE FROM job_ends WHERE job_id IN (SELECT job_id FROM jobs WHERE at_ms < ?)", old())
        .map_err(failed("prune ends"))?;
    sql.exec("DELETE FROM jobs WHERE at_ms < ?", old()).map_err(failed("prune"))?;
    let args = vec![
        SqlStorageValue::String(job_id.to_owned()),
        SqlStorageValue::Integer(at_ms),
    ];
    sql.exec(
        "INSERT INTO jobs (job_id, at_ms) VALUES (?, ?) ON CONFLICT (job_id) DO UPDATE SET at_ms = max(at_ms, excluded.at_ms)",
        args,
    )
    .map_err(failed("add"))?;
    Ok(())
}

/// Keeps `status`, the final one of a job in the index (a job no longer indexed is not
/// listed, and its status is not kept either).
pub(crate) fn end(sql: &SqlStorage, status: &JobStatus) -> Result<(), Error> {
    let text = serde_json::to_string(status).map_err(Error::internal)?;
    let args = vec![SqlStorageValue::String(status.job_id.clone()), SqlStorageValue::String(text)];
    let query = "INSERT OR REPLACE INTO job_ends (job_id, status) SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM jobs WHERE job_id = ?1)";
    sql.exec(query, args).map_err(failed("end"))?;
    Ok(())
}

/// The key's most recent jobs started in the last week, newest first, with the final
/// status of those that ended.
pub(crate) fn recent(sql: &SqlStorage, limit: u32, now_ms: i64) -> Result<Vec<IndexedJob>, Error> {
    #[derive(Deserialize)]
    struct Row {
        job_id: String,
        status: Option<String>,
    }
    let query = "SELECT j.job_id AS job_id, e.status AS status FROM jobs AS j LEFT JOIN job_ends AS e ON e.job_id = j.job_id \
                 WHERE j.at_ms >= ? ORDER BY j.at_ms DESC, j.job_id DESC LIMIT ?";
    let args = vec![SqlStorageValue::Integer(now_ms - LISTED_FOR_MS), SqlStorageValue::Integer(i64::from(limit.min(MAX_LISTED_JOBS)))];
    let rows: Vec<Row> = sql.exec(query, args).map_err(failed("list"))?.to_array().map_err(failed("list"))?;
    rows.into_iter()
        .map(|row| {
            let ended = row.status.map(|text| serde_json::from_str(&text)).transpose().map_err(|e| Error::internal(format!("sql jobs list: {e}")))?;
            Ok(IndexedJob { job_id: row.job_id, ended })
        })
        .collect()
}
