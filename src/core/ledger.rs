//! The quota ledger of one API key: live files and bytes, reservations in flight, the key's
//! quota overrides and status. Pure state and rules; the Durable Object persists it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::error::Error;
pub use super::ledger_wire::{KeyConfig, LedgerOp, LedgerReply, Limits, Usage, UsageReport};

/// A reservation older than this is presumed abandoned (its Worker died mid-upload) and no
/// longer counted. Far above the longest upload (fetch timeout plus storing).
pub const RESERVATION_TTL_MS: i64 = 15 * 60 * 1000;

/// Storage keys: `f:{file_id}` settled files, `p:{file_id}` reservations, `cfg`.
const SETTLED: &str = "f:";
const PENDING: &str = "p:";
const CONFIG: &str = "cfg";

/// A live file: where it is stored and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Settled {
    object_key: String,
    bytes: u64,
}

/// An upload in flight: where it will be stored, what it reserved, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    object_key: String,
    bytes: u64,
    at_ms: i64,
}

/// A change to persist, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(String, String),
    Delete(String),
}

/// The ledger of one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    settled: BTreeMap<String, Settled>,
    /// object key -> the settled file_id stored there now.
    by_object: HashMap<String, String>,
    pending: BTreeMap<String, Pending>,
    config: KeyConfig,
}

impl Ledger {
    /// Rebuilds the ledger from persisted `(key, json)` pairs; unreadable ones are skipped.
    pub fn load<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Ledger {
        let mut ledger = Ledger::default();
        for (key, json) in entries {
            if key == CONFIG {
                ledger.config = serde_json::from_str(json).unwrap_or_default();
            } else if let Some(id) = key.strip_prefix(SETTLED) {
                if let Ok(s) = serde_json::from_str::<Settled>(json) {
                    ledger.by_object.insert(s.object_key.clone(), id.to_owned());
                    ledger.settled.insert(id.to_owned(), s);
                }
            } else if let Some(id) = key.strip_prefix(PENDING) {
                if let Ok(p) = serde_json::from_str::<Pending>(json) {
                    ledger.pending.insert(id.to_owned(), p);
                }
            }
        }
        ledger
    }

    /// The limits in force: the key's overrides, else `defaults`.
    pub fn limits(&self, defaults: Limits) -> Limits {
        Limits {
            max_bytes: self.config.max_bytes.unwrap_or(defaults.max_bytes),
            max_files: self.config.max_files.unwrap_or(defaults.max_files),
        }
    }

    pub fn usage(&self) -> Usage {
        Usage {
            bytes: self.settled.values().map(|s| s.bytes).sum(),
            files: self.settled.len() as u64,
            reserved_bytes: self.pending.values().map(|p| p.bytes).sum(),
            reserved_files: self.pending.len() as u64,
        }
    }

    /// Applies `op`; returns the answer and what to persist.
    pub fn apply(&mut self, op: LedgerOp) -> (LedgerReply, Vec<Write>) {
        let mut writes = Vec::new();
        let defaults = match op {
            LedgerOp::Reserve { file_id, object_key, bytes, defaults, now_ms } => {
                writes.extend(self.drop_stale(now_ms));
                if let Err(refusal) = self.reserve(&file_id, &object_key, bytes, defaults, now_ms, &mut writes) {
                    return (refusal, writes);
                }
                defaults
            }
            LedgerOp::Settle { file_id, object_key, bytes, defaults } => {
                self.settle(&file_id, &object_key, bytes, &mut writes);
                defaults
            }
            LedgerOp::Release { file_ids, defaults } => {
                for file_id in file_ids {
                    self.release(&file_id, &mut writes);
                }
                defaults
            }
            LedgerOp::Usage { defaults, now_ms } => {
                writes.extend(self.drop_stale(now_ms));
                if let Err(refusal) = self.check_status() {
                    return (refusal, writes);
                }
                defaults
            }
            LedgerOp::Configure { config, defaults } => {
                writes.push(Write::Put(CONFIG.into(), serde_json::to_string(&config).unwrap_or_default()));
                self.config = config;
                defaults
            }
        };
        (LedgerReply::Ok { usage: self.usage(), limits: self.limits(defaults) }, writes)
    }

    fn reserve(
        &mut self,
        file_id: &str,
        object_key: &str,
        bytes: u64,
        defaults: Limits,
        now_ms: i64,
        writes: &mut Vec<Write>,
    ) -> Result<(), LedgerReply> {
        self.check_status()?;
        if self.pending.contains_key(file_id) || self.settled.contains_key(file_id) {
            return Ok(());
        }
        let limits = self.limits(defaults);
        let usage = self.usage();
        // Overwriting a name replaces its file: no new file, and its bytes come back, unless
        // another upload to the same name is already counting on that.
        let replaced = self.by_object.get(object_key).map(|id| self.settled[id].bytes);
        let contended = self.pending.values().any(|p| p.object_key == object_key);
        let new_files = u64::from(replaced.is_none());
        let freed = replaced.filter(|_| !contended).unwrap_or(0);
        let files_after = usage.files + usage.reserved_files + new_files;
        let bytes_after = (usage.bytes + usage.reserved_bytes + bytes).saturating_sub(freed);
        if files_after > limits.max_files || bytes_after > limits.max_bytes {
            return Err(LedgerReply::Quota(exhausted_message(bytes, usage, limits)));
        }
        let pending = Pending { object_key: object_key.to_owned(), bytes, at_ms: now_ms };
        writes.push(Write::Put(format!("{PENDING}{file_id}"), serde_json::to_string(&pending).unwrap_or_default()));
        self.pending.insert(file_id.to_owned(), pending);
        Ok(())
    }

    /// A revoked or disabled key is refused here at once, wherever KV still has it.
    fn check_status(&self) -> Result<(), LedgerReply> {
        if self.config.revoked {
            return Err(LedgerReply::Revoked);
        }
        if self.config.disabled {
            return Err(LedgerReply::Disabled);
        }
        Ok(())
    }

    /// The upload landed with `bytes`: the reservation becomes a live file, and the file it
    /// overwrote (same object key) stops counting.
    fn settle(&mut self, file_id: &str, object_key: &str, bytes: u64, writes: &mut Vec<Write>) {
        if self.pending.remove(file_id).is_some() {
            writes.push(Write::Delete(format!("{PENDING}{file_id}")));
        }
        if let Some(old) = self.by_object.get(object_key).filter(|old| *old != file_id).cloned() {
            self.settled.remove(&old);
            writes.push(Write::Delete(format!("{SETTLED}{old}")));
        }
        let settled = Settled { object_key: object_key.to_owned(), bytes };
        writes.push(Write::Put(format!("{SETTLED}{file_id}"), serde_json::to_string(&settled).unwrap_or_default()));
        self.by_object.insert(object_key.to_owned(), file_id.to_owned());
        self.settled.insert(file_id.to_owned(), settled);
    }

    /// Gives back what `file_id` held, reserved or live. Idempotent: a second release, or
    /// one for a file already replaced, changes nothing.
    fn release(&mut self, file_id: &str, writes: &mut Vec<Write>) {
        if self.pending.remove(file_id).is_some() {
            writes.push(Write::Delete(format!("{PENDING}{file_id}")));
        }
        if let Some(s) = self.settled.remove(file_id) {
            if self.by_object.get(&s.object_key).is_some_and(|id| id == file_id) {
                self.by_object.remove(&s.object_key);
            }
            writes.push(Write::Delete(format!("{SETTLED}{file_id}")));
        }
    }

    fn drop_stale(&mut self, now_ms: i64) -> Vec<Write> {
        let stale: Vec<String> =
            self.pending.iter().filter(|(_, p)| now_ms - p.at_ms > RESERVATION_TTL_MS).map(|(id, _)| id.clone()).collect();
        stale
            .into_iter()
            .map(|id| {
                self.pending.remove(&id);
                Write::Delete(format!("{PENDING}{id}"))
            })
            .collect()
    }
}

/// The ledger in memory, behind the upload flow's [`Ledger`](super::flow::Ledger) seam
/// (host tests; the Worker's is a Durable Object).
#[derive(Debug)]
pub struct MemoryLedger {
    pub ledger: RefCell<Ledger>,
    pub defaults: Limits,
}

impl MemoryLedger {
    pub fn new(defaults: Limits) -> Self {
        MemoryLedger { ledger: RefCell::new(Ledger::default()), defaults }
    }

    fn run(&self, op: LedgerOp) -> Result<(), Error> {
        self.ledger.borrow_mut().apply(op).0.into_result().map(drop)
    }
}

impl super::flow::Ledger for MemoryLedger {
    async fn reserve(&self, file_id: &str, object_key: &str, bytes: u64) -> Result<(), Error> {
        let op = LedgerOp::Reserve { file_id: file_id.into(), object_key: object_key.into(), bytes, defaults: self.defaults, now_ms: 0 };
        self.run(op)
    }
    async fn settle(&self, file_id: &str, object_key: &str, bytes: u64) -> Result<(), Error> {
        self.run(LedgerOp::Settle { file_id: file_id.into(), object_key: object_key.into(), bytes, defaults: self.defaults })
    }
    async fn release(&self, file_id: &str) -> Result<(), Error> {
        self.run(LedgerOp::Release { file_ids: vec![file_id.into()], defaults: self.defaults })
    }
}

/// The 429 message: what the upload needs, the quota, and the usage.
fn exhausted_message(bytes: u64, usage: Usage, limits: Limits) -> String {
    format!(
        "quota exhausted: this upload needs {bytes} bytes and 1 file; in use {} of {} bytes and {} of {} files \
         (including {} uploads in progress)",
        usage.bytes + usage.reserved_bytes,
        limits.max_bytes,
        usage.files + usage.reserved_files,
        limits.max_files,
        usage.reserved_files,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_bytes: 100, max_files: 3 };

    fn reserve(l: &mut Ledger, id: &str, key: &str, bytes: u64) -> LedgerReply {
        l.apply(LedgerOp::Reserve { file_id: id.into(), object_key: key.into(), bytes, defaults: LIMITS, now_ms: 1_000 }).0
    }
    fn settle(l: &mut Ledger, id: &str, key: &str, bytes: u64) {
        l.apply(LedgerOp::Settle { file_id: id.into(), object_key: key.into(), bytes, defaults: LIMITS });
    }
    fn release(l: &mut Ledger, id: &str) -> Vec<Write> {
        l.apply(LedgerOp::Release { file_ids: vec![id.into()], defaults: LIMITS }).1
    }
    fn ok(reply: LedgerReply) -> bool {
        matches!(reply, LedgerReply::Ok { .. })
    }

    #[test]
    fn reservations_count_until_settled_or_released() {
        let mut l = Ledger::default();
        assert!(ok(reserve(&mut l, "a", "f/k/x/a", 40)));
        assert!(ok(reserve(&mut l, "b", "f/k/x/b", 40)));
        assert_eq!(l.usage(), Usage { bytes: 0, files: 0, reserved_bytes: 80, reserved_files: 2 });
        let refused = reserve(&mut l, "c", "f/k/x/c", 40);
        let LedgerReply::Quota(msg) = refused else { panic!("{refused:?}") };
        assert!(msg.contains("needs 40 bytes") && msg.contains("80 of 100 bytes") && msg.contains("2 of 3 files"), "{msg}");
        settle(&mut l, "a", "f/k/x/a", 25); // the real size was smaller
        release(&mut l, "b"); // failed upload
        assert_eq!(l.usage(), Usage { bytes: 25, files: 1, reserved_bytes: 0, reserved_files: 0 });
        assert!(ok(reserve(&mut l, "c", "f/k/x/c", 75)));
        assert!(!ok(reserve(&mut l, "d", "f/k/x/d", 1)), "bytes full");
    }

    #[test]
    fn file_count_limit() {
        let mut l = Ledger::default();
        for id in ["a", "b", "c"] {
            assert!(ok(reserve(&mut l, id, &format!("f/k/{id}"), 1)));
            settle(&mut l, id, &format!("f/k/{id}"), 1);
        }
        let LedgerReply::Quota(msg) = reserve(&mut l, "d", "f/k/d", 1) else { panic!() };
        assert!(msg.contains("3 of 3 files"), "{msg}");
    }

    #[test]
    fn release_is_idempotent_per_file_id() {
        let mut l = Ledger::default();
        reserve(&mut l, "a", "f/k/a", 10);
        settle(&mut l, "a", "f/k/a", 10);
        assert_eq!(release(&mut l, "a"), vec![Write::Delete("f:a".into())]);
        assert_eq!(release(&mut l, "a"), vec![], "second release changes nothing");
        assert_eq!(l.usage(), Usage::default());
        assert_eq!(release(&mut l, "never"), vec![]);
        for id in ["b", "c"] {
            reserve(&mut l, id, &format!("f/k/{id}"), 1);
            settle(&mut l, id, &format!("f/k/{id}"), 1);
        }
        let (_, writes) = l.apply(LedgerOp::Release { file_ids: vec!["b".into(), "c".into(), "b".into()], defaults: LIMITS });
        assert_eq!(writes.len(), 2, "each file once");
        assert_eq!(l.usage(), Usage::default());
    }

    #[test]
    fn overwrite_replaces_instead_of_double_counting() {
        let mut l = Ledger::default();
        reserve(&mut l, "a", "f/k/same", 60);
        settle(&mut l, "a", "f/k/same", 60);
        // 60 + 60 > 100, but the old 60 goes away: admitted.
        assert!(ok(reserve(&mut l, "b", "f/k/same", 60)));
        settle(&mut l, "b", "f/k/same", 60);
        assert_eq!(l.usage(), Usage { bytes: 60, files: 1, reserved_bytes: 0, reserved_files: 0 });
        // The replaced file's later expiry gives nothing back twice.
        assert_eq!(release(&mut l, "a"), vec![]);
        assert_eq!(l.usage().bytes, 60);
        release(&mut l, "b");
        assert_eq!(l.usage(), Usage::default());
    }

    #[test]
    fn two_uploads_to_one_name_share_the_discount_once() {
        let mut l = Ledger::default();
        reserve(&mut l, "a", "f/k/same", 60);
        settle(&mut l, "a", "f/k/same", 60);
        assert!(ok(reserve(&mut l, "b", "f/k/same", 60)));
        assert!(!ok(reserve(&mut l, "c", "f/k/same", 60)), "the discount is already taken");
    }

    #[test]
    fn status_and_overrides() {
        let mut l = Ledger::default();
        let config = KeyConfig { max_bytes: Some(5), max_files: None, disabled: false, revoked: false };
        let (reply, writes) = l.apply(LedgerOp::Configure { config: config.clone(), defaults: LIMITS });
        assert_eq!(reply, LedgerReply::Ok { usage: Usage::default(), limits: Limits { max_bytes: 5, max_files: 3 } });
        assert_eq!(writes.len(), 1);
        assert!(!ok(reserve(&mut l, "a", "f/k/a", 6)));
        l.apply(LedgerOp::Configure { config: KeyConfig { disabled: true, ..config.clone() }, defaults: LIMITS });
        assert_eq!(reserve(&mut l, "a", "f/k/a", 1), LedgerReply::Disabled);
        l.apply(LedgerOp::Configure { config: KeyConfig { revoked: true, ..config }, defaults: LIMITS });
        assert_eq!(reserve(&mut l, "a", "f/k/a", 1), LedgerReply::Revoked);
        assert_eq!(l.apply(LedgerOp::Usage { defaults: LIMITS, now_ms: 0 }).0, LedgerReply::Revoked);
        assert_eq!(LedgerReply::Revoked.into_result().unwrap_err().status(), 401);
        assert_eq!(LedgerReply::Quota("q".into()).into_result().unwrap_err().status(), 429);
    }

    #[test]
    fn stale_reservations_stop_counting() {
        let mut l = Ledger::default();
        reserve(&mut l, "a", "f/k/a", 100);
        let (reply, writes) = l.apply(LedgerOp::Usage { defaults: LIMITS, now_ms: 1_000 + RESERVATION_TTL_MS + 1 });
        assert_eq!(writes, vec![Write::Delete("p:a".into())]);
        assert!(matches!(reply, LedgerReply::Ok { usage, .. } if usage == Usage::default()));
    }

    #[test]
    fn persisted_writes_rebuild_the_same_ledger() {
        let mut l = Ledger::default();
        let mut store: BTreeMap<String, String> = BTreeMap::new();
        let mut run = |l: &mut Ledger, op| {
            for w in l.apply(op).1 {
                match w {
                    Write::Put(k, v) => store.insert(k, v),
                    Write::Delete(k) => store.remove(&k),
                };
            }
            Ledger::load(store.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        };
        let d = LIMITS;
        run(&mut l, LedgerOp::Configure { config: KeyConfig { max_files: Some(9), ..Default::default() }, defaults: d });
        run(&mut l, LedgerOp::Reserve { file_id: "a".into(), object_key: "f/k/a".into(), bytes: 9, defaults: d, now_ms: 0 });
        run(&mut l, LedgerOp::Reserve { file_id: "b".into(), object_key: "f/k/a".into(), bytes: 9, defaults: d, now_ms: 0 });
        run(&mut l, LedgerOp::Settle { file_id: "a".into(), object_key: "f/k/a".into(), bytes: 7, defaults: d });
        let loaded = run(&mut l, LedgerOp::Settle { file_id: "b".into(), object_key: "f/k/a".into(), bytes: 8, defaults: d });
        assert_eq!(loaded, l);
        assert_eq!(l.usage(), Usage { bytes: 8, files: 1, reserved_bytes: 0, reserved_files: 0 });
    }
}
