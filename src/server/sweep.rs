//! The scheduled sweep: deletes expired objects and index entries, a bounded batch per run.

use worker::{Bucket, Date, Include};

use super::bindings::Services;
use crate::core::clock::is_expired;
use crate::core::layout::{INDEX_PREFIX, OBJECT_PREFIX};

/// Listing pages examined per prefix and run (1000 keys each).
const MAX_PAGES: usize = 20;

pub(crate) async fn run(services: &Services) {
    let now = Date::now().as_millis() as i64;
    for prefix in [OBJECT_PREFIX, INDEX_PREFIX] {
        match sweep_prefix(&services.bucket, prefix, now).await {
            Ok(n) => worker::console_log!("sweep {prefix}: deleted {n} expired"),
            Err(e) => worker::console_error!("sweep {prefix}: {e}"),
        }
    }
}

async fn sweep_prefix(bucket: &Bucket, prefix: &str, now: i64) -> worker::Result<usize> {
    let mut deleted = 0;
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut list = bucket.list().prefix(prefix).include(vec![Include::CustomMetadata]);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        let expired: Vec<String> = page
            .objects()
            .into_iter()
            .filter(|o| {
                let expires = o.custom_metadata().ok().and_then(|m| m.get("expires_ms")?.parse::<i64>().ok());
                expires.is_some_and(|ms| is_expired(ms, now))
            })
            .map(|o| o.key())
            .collect();
        if !expired.is_empty() {
            deleted += expired.len();
            bucket.delete_multiple(expired).await?;
        }
        match page.cursor().filter(|_| page.truncated()) {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(deleted)
}
