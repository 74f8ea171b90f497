//! The scheduled sweep: deletes expired objects and index entries, a bounded batch per run,
//! and gives their quota back.

use std::collections::BTreeMap;

use worker::Include;

use super::bindings::Services;
use super::js::now_ms;
use crate::core::clock::is_expired;
use crate::core::layout::{INDEX_PREFIX, OBJECT_PREFIX};

/// Listing pages examined per prefix and run (1000 keys each).
const MAX_PAGES: usize = 20;

pub(crate) async fn run(services: &Services) {
    let now = now_ms();
    for prefix in [OBJECT_PREFIX, INDEX_PREFIX] {
        match sweep_prefix(services, prefix, now).await {
            Ok(n) => worker::console_log!("sweep {prefix}: deleted {n} expired"),
            Err(e) => worker::console_error!("sweep {prefix}: {e}"),
        }
    }
}

async fn sweep_prefix(services: &Services, prefix: &str, now: i64) -> worker::Result<usize> {
    let bucket = &services.bucket;
    let mut deleted = 0;
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut list = bucket.list().prefix(prefix).include(vec![Include::CustomMetadata]);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        // (key, owner, file_id) of each expired entry
        let expired: Vec<(String, Option<String>, Option<String>)> = page
            .objects()
            .into_iter()
            .filter_map(|o| {
                let meta = o.custom_metadata().ok()?;
                let expires = meta.get("expires_ms")?.parse::<i64>().ok()?;
                is_expired(expires, now).then(|| (o.key(), meta.get("owner").cloned(), meta.get("file_id").cloned()))
            })
            .collect();
        if !expired.is_empty() {
            deleted += expired.len();
            bucket.delete_multiple(expired.iter().map(|(k, _, _)| k.clone()).collect()).await?;
            release(services, &expired).await;
        }
        match page.cursor().filter(|_| page.truncated()) {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(deleted)
}

/// Gives back the quota of expired objects, one ledger call per key. Only objects carry a
/// `file_id`: an expired index entry's object expired with it (released here, or by the
/// read that deleted it), or was replaced (released when the new upload settled).
async fn release(services: &Services, expired: &[(String, Option<String>, Option<String>)]) {
    let mut by_owner: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (_, owner, file_id) in expired {
        if let (Some(owner), Some(file_id)) = (owner, file_id) {
            by_owner.entry(owner).or_default().push(file_id.clone());
        }
    }
    for (owner, file_ids) in by_owner {
        services.ledger(owner).release_many(file_ids).await;
    }
}
