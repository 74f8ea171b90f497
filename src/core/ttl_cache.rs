//! A short-lived, bounded cache by string key, time passed in: the key records the upload
//! routes read through, the names `file_url` resolves, and the sizes of objects served.

use std::collections::HashMap;

use super::keys::KeyRecord;

/// How long a record read from KV is used without reading it again. The key's authority refuses
/// a revoked or disabled key at once whatever this cache holds; what the cache can delay is
/// only that refusal coming after the origin was fetched rather than before.
pub const KEY_CACHE_TTL_MS: i64 = 30_000;
/// At most this many records are held (one isolate serves few keys at a time).
pub const KEY_CACHE_ENTRIES: usize = 256;

/// How long an isolate uses the file a name resolved to. A replaced or deleted file's object
/// is gone before the change is answered (or, kept for a download being read, answers as
/// gone once its authority says so), so a stale entry finds nothing and is resolved again.
/// Only when R2 refuses that delete twice does the old object stay, until the authority's
/// retry a minute later: for this long after the change, an isolate that cached the name
/// serves it. It bounds the authority's calls for a hot name.
pub const NAME_CACHE_TTL_MS: i64 = 10_000;
/// Names held per isolate.
pub const NAME_CACHE_ENTRIES: usize = 1024;
/// How long an isolate remembers the size of an object it served, so that a later GET of
/// one range of it reads only that range (one R2 read, not a head and then the read).
/// Exact at any length (the bytes behind an id never change); the bound is for memory.
pub const SIZE_CACHE_TTL_MS: i64 = 60_000;
/// Sizes held per isolate.
pub const SIZE_CACHE_ENTRIES: usize = 1024;

/// Values with when they were read.
#[derive(Debug)]
pub struct TtlCache<V> {
    entries: HashMap<String, (V, i64)>,
    ttl_ms: i64,
    capacity: usize,
    /// How many times each key was dropped ([`TtlCache::mark`]), at most `capacity` keys...
    removed: HashMap<String, u64>,
    /// ...and how many times that map was emptied (which voids every mark taken before).
    clears: u64,
}

/// Where a key stood when a read of its value began ([`TtlCache::mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark(u64, u64);

/// Enabled key records by key hash, for the routes whose every effect the key's authority
/// re-checks (uploads).
pub type KeyCache = TtlCache<KeyRecord>;

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new(KEY_CACHE_TTL_MS, KEY_CACHE_ENTRIES)
    }
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl_ms: i64, capacity: usize) -> Self {
        TtlCache { entries: HashMap::new(), ttl_ms, capacity: capacity.max(1), removed: HashMap::new(), clears: 0 }
    }

    /// Taken before `hash`'s value is read from its source, for
    /// [`insert_since`](Self::insert_since).
    pub fn mark(&self, hash: &str) -> Mark {
        Mark(self.clears, self.removed.get(hash).copied().unwrap_or(0))
    }

    /// [`insert`](Self::insert), unless `hash` was dropped since `mark` was taken: a change
    /// made here while the read was on its way (a revoke, an overwrite) dropped it, and the
    /// value read before that change must not come back.
    pub fn insert_since(&mut self, mark: Mark, hash: &str, record: V, now_ms: i64) {
        if self.mark(hash) == mark {
            self.insert(hash, record, now_ms);
        }
    }

    /// The value read for `hash` less than the TTL before `now_ms`.
    pub fn get(&self, hash: &str, now_ms: i64) -> Option<V> {
        let (record, read_ms) = self.entries.get(hash)?;
        self.fresh(*read_ms, now_ms).then(|| record.clone())
    }

    /// Keeps `record`, read at `now_ms`. When full, expired records go first, then the
    /// oldest one.
    pub fn insert(&mut self, hash: &str, record: V, now_ms: i64) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(hash) {
            let ttl = self.ttl_ms;
            self.entries.retain(|_, (_, read_ms)| now_ms - *read_ms < ttl);
            if self.entries.len() >= self.capacity {
                let oldest = self.entries.iter().min_by_key(|(_, (_, read_ms))| *read_ms).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(hash.to_owned(), (record, now_ms));
    }

    /// Drops `hash` (its key was revoked or changed here).
    pub fn remove(&mut self, hash: &str) {
        self.entries.remove(hash);
        if self.removed.len() >= self.capacity && !self.removed.contains_key(hash) {
            self.removed.clear();
            self.clears += 1;
        }
        *self.removed.entry(hash.to_owned()).or_default() += 1;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn fresh(&self, read_ms: i64, now_ms: i64) -> bool {
        (0..self.ttl_ms).contains(&(now_ms - read_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> KeyRecord {
        KeyRecord { id: id.into(), name: id.into(), created: "2026-01-01T00:00:00+00:00".into(), disabled: false, max_bytes: None, max_files: None, max_ttl_secs: None, rate_limit: None }
    }

    #[test]
    fn a_record_is_served_until_its_ttl_passes() {
        let mut cache = KeyCache::new(1000, 8);
        cache.insert("h1", record("k_1"), 5_000);
        assert_eq!(cache.get("h1", 5_000).map(|r| r.id), Some("k_1".into()));
        assert_eq!(cache.get("h1", 5_999).map(|r| r.id), Some("k_1".into()));
        assert_eq!(cache.get("h1", 6_000), None, "expired at exactly the TTL");
        assert_eq!(cache.get("h2", 5_000), None, "never read");
    }

    #[test]
    fn a_clock_that_went_backwards_is_not_fresh() {
        let mut cache = KeyCache::new(1000, 8);
        cache.insert("h1", record("k_1"), 5_000);
        assert_eq!(cache.get("h1", 4_999), None);
    }

    #[test]
    fn removed_records_are_read_again() {
        let mut cache = KeyCache::new(1000, 8);
        cache.insert("h1", record("k_1"), 0);
        cache.remove("h1");
        assert_eq!(cache.get("h1", 1), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_record_read_while_one_was_removed_is_not_kept() {
        let mut cache = KeyCache::new(1000, 8);
        // read from KV on its way while a revoke here dropped the record: not kept
        let mark = cache.mark("h1");
        let other = cache.mark("h2");
        cache.insert("h1", record("k_1"), 0);
        cache.remove("h1");
        cache.insert_since(mark, "h1", record("k_1"), 10);
        assert_eq!(cache.get("h1", 20), None);
        // another key's read is kept: only its own drop voids it
        cache.insert_since(other, "h2", record("k_2"), 10);
        assert_eq!(cache.get("h2", 20).map(|r| r.id), Some("k_2".into()));
        // read after the drop: kept
        cache.insert_since(cache.mark("h1"), "h1", record("k_1"), 30);
        assert_eq!(cache.get("h1", 40).map(|r| r.id), Some("k_1".into()));
        // the drops remembered are bounded: past `capacity` keys they are forgotten at once,
        // which voids every mark taken before
        let held = cache.mark("h3");
        for i in 0..7 {
            cache.remove(&format!("x{i}"));
        }
        assert_eq!(cache.removed.len(), 8, "h1 and 7 more");
        cache.remove("x7");
        assert_eq!(cache.removed.len(), 1);
        cache.insert_since(held, "h3", record("k_3"), 50);
        assert_eq!(cache.get("h3", 60), None);
    }

    #[test]
    fn a_full_cache_drops_expired_records_then_the_oldest() {
        let mut cache = KeyCache::new(1000, 3);
        cache.insert("old", record("k_old"), 0);
        cache.insert("a", record("k_a"), 1_500);
        cache.insert("b", record("k_b"), 1_600);
        // full: "old" expired by now and goes, the live ones stay
        cache.insert("c", record("k_c"), 1_700);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("old", 1_700), None);
        assert!(cache.get("a", 1_700).is_some() && cache.get("b", 1_700).is_some());
        // full of live records: the oldest ("a") goes
        cache.insert("d", record("k_d"), 1_800);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("a", 1_800), None);
        assert!(cache.get("b", 1_800).is_some() && cache.get("c", 1_800).is_some() && cache.get("d", 1_800).is_some());
    }

    #[test]
    fn reinserting_a_known_hash_refreshes_it_without_evicting_others() {
        let mut cache = KeyCache::new(1000, 2);
        cache.insert("a", record("k_a"), 0);
        cache.insert("b", record("k_b"), 10);
        cache.insert("a", record("k_a"), 900);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a", 1_800).is_some(), "refreshed at 900");
        assert_eq!(cache.get("b", 1_800), None);
    }
}
