//! The blocklist over KV (`blocked:{sha256}` entries, the `BlockEntry` as metadata, and the
//! `blocklist:version` every change rewrites): the isolate's copy the upload flow checks,
//! the writes a take-down makes, and the admin routes `/api/v1/admin/blocklist`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use worker::kv::Key;
use worker::{KvStore, Response};

use super::admin::{authorize, kv_page, kv_write, rate_refused};
use super::auth::kv;
use super::bindings::Services;
use super::http::{json_body, Incoming};
use super::js::now_ms;
use super::respond;
use crate::core::admin::MAX_ADMIN_BODY_BYTES;
use crate::core::blocklist::{entry_key, listed_digest, parse_block, BlockEntry, BlocklistCopy, Check, BLOCKED_PREFIX, MAX_BLOCKED, VERSION_KEY};
use crate::core::clock::iso8601;
use crate::core::envelope::Envelope;
use crate::core::gate::Gate;
use crate::core::seams::Blocklist;
use crate::core::Error;

/// KV lists at most this many names a call.
const LIST_PAGE: usize = 1_000;

thread_local! {
    static COPY: RefCell<BlocklistCopy> = RefCell::new(BlocklistCopy::default());
}

/// The upload flow's blocklist: this isolate's copy of KV's, its reads counted in the
/// upload's `gate` like every other outbound call of the request.
pub(crate) struct KvBlocklist<'a> {
    pub keys: &'a KvStore,
    pub gate: &'a Gate,
}

impl Blocklist for KvBlocklist<'_> {
    fn blocks<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            let digests = match COPY.with_borrow_mut(|copy| copy.check(now_ms())) {
                Check::Use(digests) => digests,
                Check::Read => refresh(self.keys, self.gate).await?,
            };
            Ok(digests.contains(sha256))
        })
    }
}

/// Reads the version, and the entries when it says they may have changed, into this
/// isolate's copy; answers the digests to check against, or `BlocklistUnread` when the
/// read failed and this isolate never read the list.
async fn refresh(keys: &KvStore, gate: &Gate) -> Result<Rc<HashSet<String>>, Error> {
    let listed = match gate.call(|| version(keys)).await {
        Ok(version) => match COPY.with_borrow_mut(|copy| copy.version(&version, now_ms())) {
            Check::Use(digests) => return Ok(digests),
            Check::Read => read_all(keys, gate, None).await.map(|(digests, _)| (version, digests)),
        },
        Err(err) => Err(err),
    };
    if let Err(err) = &listed {
        worker::console_error!("blocklist: the list could not be read, the copy before it serves: {err:?}");
    }
    COPY.with_borrow_mut(|copy| copy.read(listed.ok(), now_ms())).ok_or(Error::BlocklistUnread)
}

/// The list's version as KV shows it here (`None`: no change was made through the API).
async fn version(keys: &KvStore) -> Result<Option<String>, Error> {
    keys.get(VERSION_KEY).text().await.map_err(kv("get blocklist version"))
}

/// Tells every isolate the list changed: they list it again at their next checks. One
/// attempt: KV takes one write a second to a key, and a write that KV refuses for that
/// follows another change's, whose version makes every isolate list after this change
/// too (logged as such). Should it fail otherwise, the change is made all the same and
/// reaches them by their periodic listing ([`RELIST_MS`](crate::core::blocklist::RELIST_MS));
/// the log says so.
async fn changed(keys: &KvStore) {
    let written = async { keys.put(VERSION_KEY, now_ms().to_string())?.execute().await };
    match written.await {
        Ok(()) => {}
        Err(err) if rate_refused(&err) => {
            worker::console_log!("blocklist: the version was written by another change within the second; isolates list after both");
        }
        Err(err) => {
            worker::console_error!("blocklist: the version could not be written, other isolates see the change within 10 minutes: {err:?}");
        }
    }
}

/// Hands `each` every entry KV lists under the blocklist's prefix, with the digest its name
/// holds (at most [`MAX_BLOCKED`] and a page of them); answers whether the list ended there.
async fn each_listed(keys: &KvStore, gate: &Gate, mut each: impl FnMut(String, Key)) -> Result<bool, Error> {
    let mut cursor = None;
    for _ in 0..=MAX_BLOCKED / LIST_PAGE {
        let mut list = keys.list().prefix(BLOCKED_PREFIX.to_owned()).limit(LIST_PAGE as u64);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = gate.call(|| list.execute()).await.map_err(kv("list blocked"))?;
        for key in page.keys {
            if let Some(digest) = key.name.strip_prefix(BLOCKED_PREFIX).and_then(listed_digest) {
                each(digest, key);
            }
        }
        match page.cursor.filter(|c| !page.list_complete && !c.is_empty()) {
            Some(next) => cursor = Some(next),
            None => return Ok(true),
        }
    }
    Ok(false)
}

/// Every blocked digest KV lists (at most [`MAX_BLOCKED`] and a page), and the entries
/// among them of `sha256` when one is given.
async fn read_all(keys: &KvStore, gate: &Gate, sha256: Option<&str>) -> Result<(HashSet<String>, Vec<(String, BlockEntry)>), Error> {
    let mut digests = HashSet::new();
    let mut entries = Vec::new();
    if !each_listed(keys, gate, |digest, key| {
        if sha256 == Some(digest.as_str()) {
            entries.push((key.name, BlockEntry::stored(&digest, key.metadata)));
        }
        digests.insert(digest);
    })
    .await?
    {
        // Past the cap (blocks made at once in several places, or entries put by other
        // means): the digests beyond these pages are not checked until the list is back
        // under it.
        worker::console_error!("blocklist: more than {} entries in KV; only the first {} are checked", MAX_BLOCKED, digests.len());
    }
    Ok((digests, entries))
}

/// The entry of `sha256` (lowercase), if blocked (whatever its metadata:
/// `BlockEntry::stored`).
async fn entry(keys: &KvStore, sha256: &str) -> Result<Option<BlockEntry>, Error> {
    Ok(found_all(keys, sha256, false).await?.into_iter().next().map(|(_, entry)| entry))
}

/// The KV names that block `sha256` (lowercase): its lowercase one, and the upper-case one
/// an entry put by hand may have (which blocks it as well, and so must be shown and removed
/// by it).
fn names(sha256: &str) -> [String; 2] {
    [entry_key(sha256), entry_key(&sha256.to_ascii_uppercase())]
}

/// The entry under KV name `name` of `sha256`, if there is one.
async fn read(keys: &KvStore, name: &str, sha256: &str) -> Result<Option<BlockEntry>, Error> {
    let (value, meta) = keys.get(name).text_with_metadata::<serde_json::Value>().await.map_err(kv("get blocked"))?;
    Ok(value.map(|_| BlockEntry::stored(sha256, meta)))
}

/// The KV names and entries of `sha256` (lowercase) under its [`names`], in their order:
/// both when an entry was put by hand beside the other.
async fn named(keys: &KvStore, sha256: &str) -> Result<Vec<(String, BlockEntry)>, Error> {
    let mut all = Vec::new();
    for name in names(sha256) {
        if let Some(entry) = read(keys, &name, sha256).await? {
            all.push((name, entry));
        }
    }
    Ok(all)
}

/// The KV names and entries of `sha256` (lowercase): those [`named`] finds, and, when there
/// are none or `every` asks for all, those the list holds under a name in mixed case put by
/// hand (which blocks it as well: uploads read the list).
async fn found_all(keys: &KvStore, sha256: &str, every: bool) -> Result<Vec<(String, BlockEntry)>, Error> {
    let mut all = named(keys, sha256).await?;
    if all.is_empty() || every {
        let mut listed = Vec::new();
        each_listed(keys, &Gate::default(), |digest, key| {
            if digest == sha256 {
                listed.push((key.name, BlockEntry::stored(sha256, key.metadata)));
            }
        })
        .await?;
        listed.retain(|(name, _)| all.iter().all(|(known, _)| known != name));
        all.extend(listed);
    }
    Ok(all)
}

/// Blocks `entry.sha256` with the reason `reason` sets (`None` keeps one already there):
/// a digest already blocked keeps its first record ([`BlockEntry::over`]). It is refused in
/// this isolate at once, and in the others once they read the version this writes (written
/// every time: KV's read of the entry here may be a minute old, so an entry it shows may be
/// gone elsewhere). Refused when the list is full. An upper-case entry put by hand moves to
/// the lowercase name, so the digest is listed once.
pub(crate) async fn block(keys: &KvStore, entry: BlockEntry, reason: Option<Option<String>>) -> Result<BlockEntry, Error> {
    let mut present = named(keys, &entry.sha256).await?;
    if present.is_empty() {
        // Read whole, once: for an entry of it under a name in mixed case, and to count the
        // list (this isolate's copy takes the read too). One call at a time: a gate of its own.
        let version = version(keys).await?;
        let (listed, found) = read_all(keys, &Gate::default(), Some(&entry.sha256)).await?;
        let count = listed.len();
        COPY.with_borrow_mut(|copy| copy.read(Some((version, listed)), now_ms()));
        present = found;
        if present.is_empty() && count >= MAX_BLOCKED {
            return Err(Error::BlocklistFull(count));
        }
    }
    let first = present.first().map(|(_, e)| e.clone());
    let entry = entry.over(first, reason);
    let name = entry_key(&entry.sha256);
    kv_write("put blocked", || async { keys.put(&name, "")?.metadata(&entry)?.execute().await }).await?;
    for (other, _) in present.iter().filter(|(other, _)| *other != name) {
        kv_write("delete blocked", || async { keys.delete(other).await }).await?;
    }
    COPY.with_borrow_mut(|copy| copy.change(&entry.sha256, true, now_ms()));
    changed(keys).await;
    Ok(entry)
}

/// `PUT /api/v1/admin/blocklist/{sha256}`: blocks a digest known to be bad, with an
/// optional `{"reason": ...}` (given, it replaces an entry's reason; `null` clears it).
pub(crate) async fn put(req: Incoming, services: &Services, sha256: String) -> Result<Response, Error> {
    authorize(&req, services)?;
    let reason = parse_block(&json_body(&req, MAX_ADMIN_BODY_BYTES).await?)?;
    let entry = BlockEntry { sha256, reason: None, blocked_at: Some(iso8601(now_ms())), file_id: None, key_id: None };
    let entry = block(&services.keys, entry, reason).await?;
    worker::console_log!("blocklist: {} blocked ({})", entry.sha256, entry.reason.as_deref().unwrap_or("no reason given"));
    respond::json(200, &Envelope::ok("Digest blocked", entry))
}

/// `DELETE /api/v1/admin/blocklist/{sha256}`: uploads of it are stored again.
pub(crate) async fn delete(req: &Incoming, services: &Services, sha256: &str) -> Result<Response, Error> {
    authorize(req, services)?;
    // Every name that blocks it: one put by hand in another case beside the lowercase one
    // would still block it.
    let present = found_all(&services.keys, sha256, true).await?;
    let (_, entry) = present.first().cloned().ok_or(Error::NotBlocked)?;
    for (name, _) in &present {
        // KV takes one write a second per key: retried as a block's write is.
        kv_write("delete blocked", || async { services.keys.delete(name).await }).await?;
    }
    COPY.with_borrow_mut(|copy| copy.change(sha256, false, now_ms()));
    changed(&services.keys).await;
    worker::console_log!("blocklist: {sha256} unblocked");
    respond::json(200, &Envelope::ok("Digest unblocked", entry))
}

/// `GET /api/v1/admin/blocklist/{sha256}`: 404 when it is not blocked.
pub(crate) async fn show(req: &Incoming, services: &Services, sha256: &str) -> Result<Response, Error> {
    authorize(req, services)?;
    let entry = entry(&services.keys, sha256).await?.ok_or(Error::NotBlocked)?;
    respond::json(200, &Envelope::ok("Digest blocked", entry))
}

#[derive(Serialize)]
struct BlockedPage {
    blocked: Vec<BlockEntry>,
    cursor: Option<String>,
}

/// Whether the digest `sha256` (lowercase) that KV name `name` (not lowercase) holds is
/// listed under one of its [`names`] instead: the lowercase one, or for a name in mixed
/// case, the upper-case one.
async fn listed_under_another(keys: &KvStore, name: &str, sha256: &str) -> Result<bool, Error> {
    for other in names(sha256) {
        if other.strip_prefix(BLOCKED_PREFIX) == Some(name) {
            return Ok(false);
        }
        if read(keys, &other, sha256).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The first KV name (in KV's order) of every digest the list holds: where a digest held
/// only under names in mixed case, several of them, is listed.
async fn first_names(keys: &KvStore) -> Result<HashMap<String, String>, Error> {
    let mut first = HashMap::new();
    each_listed(keys, &Gate::default(), |digest, key| {
        first.entry(digest).or_insert(key.name);
    })
    .await?;
    Ok(first)
}

/// `GET /api/v1/admin/blocklist?cursor=&limit=`: in the order of the KV names. A digest is
/// listed once: an entry put by hand under another case than lowercase is left out when
/// the lowercase or upper-case one is there too, or, among names in mixed case only, when
/// it is not the first KV lists (read for such entries only: they are rare).
pub(crate) async fn list(req: &Incoming, services: &Services) -> Result<Response, Error> {
    authorize(req, services)?;
    let (entries, cursor) = kv_page(req, services, BLOCKED_PREFIX).await?;
    let mut blocked = Vec::with_capacity(entries.len());
    let mut first = None;
    for key in entries {
        let Some(name) = key.name.strip_prefix(BLOCKED_PREFIX) else { continue };
        let Some(sha256) = listed_digest(name) else { continue };
        if name != sha256 {
            if listed_under_another(&services.keys, name, &sha256).await? {
                continue;
            }
            if name != sha256.to_ascii_uppercase() {
                let first = match &mut first {
                    Some(first) => first,
                    none => none.insert(first_names(&services.keys).await?),
                };
                // past the list's cap a digest may be missing: listed, as before
                if first.get(&sha256).is_some_and(|n| *n != key.name) {
                    continue;
                }
            }
        }
        blocked.push(BlockEntry::stored(&sha256, key.metadata));
    }
    respond::json(200, &Envelope::ok("Blocked digests listed", BlockedPage { blocked, cursor }))
}
