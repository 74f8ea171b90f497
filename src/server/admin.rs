//! `/api/v1/admin/keys`: create, list, show, update and revoke API keys, behind the
//! `ADMIN_TOKEN` secret. KV keeps `sha256(key) -> KeyRecord` (what authentication reads) and
//! `id:{key_id} -> sha256(key)` with the record as metadata (for lookups and listing); the
//! key's authority gets its quotas and status first, and decides: uploads see changes at
//! once everywhere, and a revoked key stays revoked whatever KV still says.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use worker::kv::{Key, KvError};
use worker::{Delay, KvStore, Response};

use super::auth::{forget, hash_by_id, kv, record_by_id};
use super::bindings::Services;
use super::http::{borrowed, json_body, query, Incoming};
use super::js::now_ms;
use super::respond;
use crate::core::admin::{check_admin, MAX_ADMIN_BODY_BYTES, id_entry, parse_create, parse_update, KvListing, CreatedKey, KeyInfo, ID_PREFIX};
use crate::core::authority_wire::Standing;
use crate::core::clock::iso8601;
use crate::core::envelope::Envelope;
use crate::core::ids::webhook_secret;
use crate::core::keys::{generate_key, generate_key_id, key_hash, KeyRecord};
use crate::core::quota::{ConfigPatch, KeyConfig};
use crate::core::Error;

/// The admin token, or 401 (503 when the admin API is disabled).
pub(crate) fn authorize(req: &Incoming, services: &Services) -> Result<(), Error> {
    let header = req.header("Authorization");
    check_admin(header.as_deref(), services.admin_token.as_deref())
}

/// Writes both KV entries of `record`: the `id:` entry first, as [`delete_entries`] deletes
/// it last, so that the record never stands in KV without the entry a revoke finds it by.
async fn save(keys: &KvStore, hash: &str, record: &KeyRecord) -> Result<(), Error> {
    let json = serde_json::to_string(record).map_err(Error::internal)?;
    kv_write("put id", || async { keys.put(&id_entry(&record.id), hash)?.metadata(record)?.execute().await }).await?;
    kv_write("put", || async { keys.put(hash, json.as_str())?.execute().await }).await
}

/// Whether KV refused a write for its rate: one write per second to a key (429).
pub(crate) fn rate_refused(err: &KvError) -> bool {
    err.to_string().contains("429 Too Many Requests")
}

/// Attempts at a KV write that KV refuses for its rate.
const KV_ATTEMPTS: u32 = 3;

/// A KV write, tried again a second later when KV refuses it for its rate (one write per
/// second to a key, answered 429): an admin's second change to a key within a second (a
/// script that creates a key and sets its quota) is not a 500.
pub(crate) async fn kv_write<F: Future<Output = Result<(), KvError>>>(what: &'static str, write: impl Fn() -> F) -> Result<(), Error> {
    let mut attempt = 1;
    loop {
        match write().await {
            Err(e) if attempt < KV_ATTEMPTS && rate_refused(&e) => {
                attempt += 1;
                Delay::from(Duration::from_millis(1_100)).await;
            }
            done => return done.map_err(kv(what)),
        }
    }
}


/// The key's standing from its authority, which decides: a key revoked there (KV may still
/// hold it for a moment) is 404.
async fn live_standing(services: &Services, key_id: &str) -> Result<Standing, Error> {
    services.authority(key_id).usage().await.map_err(revoked_is_gone)
}

/// A revoked key, to the admin API: no longer there (404).
fn revoked_is_gone(err: Error) -> Error {
    match err {
        Error::KeyRevoked => Error::KeyNotFound,
        other => other,
    }
}

/// Times [`save_unrevoked`] writes KV again when the authority changed meanwhile.
const RESAVES: usize = 3;

/// Saves `record` to KV, unless its key was revoked meanwhile: then its entries go again (a
/// revoke that ran between this request's authority call and this save deleted them first)
/// and the key is 404. That check runs whether the save succeeded or not (a write that
/// failed may follow one that landed). Another change may have reached the authority after
/// this request's and KV before this save (its write was slower): then `record` takes the
/// authority's settings (`disabled`, quotas) and is saved again, so KV never keeps an
/// older state.
async fn save_unrevoked(services: &Services, hash: &str, record: &mut KeyRecord) -> Result<(), Error> {
    for _ in 0..RESAVES {
        let written = save(&services.keys, hash, record).await;
        forget(hash);
        let standing = match (written, standing_after_save(services, &record.id).await) {
            (_, Err(Error::KeyNotFound)) => {
                delete_entries(services, hash, &record.id).await?;
                return Err(Error::KeyNotFound);
            }
            (Err(err), _) => return Err(err),
            (Ok(()), standing) => standing?,
        };
        let saved = record.clone();
        record.adopt(&standing.config);
        if *record == saved {
            return Ok(());
        }
    }
    Ok(())
}

/// [`live_standing`], asked once more if the authority could not answer: a save that may
/// have put a revoked key back in KV is undone only on its answer.
async fn standing_after_save(services: &Services, key_id: &str) -> Result<Standing, Error> {
    match live_standing(services, key_id).await {
        Err(Error::KeyNotFound) => Err(Error::KeyNotFound),
        Err(_) => live_standing(services, key_id).await,
        standing => standing,
    }
}

/// Deletes both KV entries of a key, the `id:` entry last (see [`save`]).
async fn delete_entries(services: &Services, hash: &str, key_id: &str) -> Result<(), Error> {
    kv_write("delete", || services.keys.delete(hash)).await?;
    forget(hash);
    let id = id_entry(key_id);
    kv_write("delete id", || services.keys.delete(&id)).await
}

pub(crate) async fn create(req: Incoming, services: &Services) -> Result<Response, Error> {
    authorize(&req, services)?;
    let body = json_body(&req, MAX_ADMIN_BODY_BYTES).await?;
    let create = parse_create(&body)?;
    services.check_tier(create.rate_limit)?;
    let key = generate_key();
    let record = KeyRecord {
        id: generate_key_id(),
        name: create.name,
        created: iso8601(now_ms()),
        disabled: false,
        max_bytes: create.max_bytes,
        max_files: create.max_files,
        max_ttl_secs: create.max_ttl_secs,
        rate_limit: create.rate_limit,
    };
    // The authority first: a key never works before its quota is in place.
    let config = KeyConfig { max_bytes: record.max_bytes, max_files: record.max_files, settings: Some(record.settings()), ..KeyConfig::default() };
    services.authority(&record.id).configure(ConfigPatch::whole(&config)).await?;
    let hash = key_hash(&key);
    if let Err(e) = save(&services.keys, &hash, &record).await {
        // Half written (the `id:` entry without the record), the key would be listed and
        // never work; it was never handed out, so both entries go.
        if let Err(cleanup) = delete_entries(services, &hash, &record.id).await {
            worker::console_error!("admin: key {} half created, left in KV: {cleanup:?}", record.id);
        }
        return Err(e);
    }
    worker::console_log!("admin: key {} created ({:?})", record.id, record.name);
    let info = KeyInfo::new(&record, &services.config);
    respond::json(200, &Envelope::ok("API key created; the key is shown only this once", CreatedKey { key, info }))
}

#[derive(Serialize)]
struct KeyList {
    keys: Vec<KeyInfo>,
    cursor: Option<String>,
}

pub(crate) async fn list(req: &Incoming, services: &Services) -> Result<Response, Error> {
    authorize(req, services)?;
    let (entries, cursor) = kv_page(req, services, ID_PREFIX).await?;
    let records = entries.into_iter().filter_map(|k| serde_json::from_value::<KeyRecord>(k.metadata?).ok());
    let keys = records.map(|record| KeyInfo::new(&record, &services.config)).collect();
    respond::json(200, &Envelope::ok("API keys listed", KeyList { keys, cursor }))
}

/// One page of the KV entries under `prefix` that the request's `cursor` and `limit` ask
/// for (their names and metadata), and the next page's cursor (signed with the admin
/// token, which [`authorize`] found set).
pub(crate) async fn kv_page(req: &Incoming, services: &Services, prefix: &str) -> Result<(Vec<Key>, Option<String>), Error> {
    let listing = KvListing { secret: services.admin_token.as_deref().unwrap_or_default(), prefix };
    let pairs = query(req);
    let (cursor, limit) = listing.parse_query(borrowed(&pairs))?;
    let mut list = services.keys.list().prefix(prefix.to_owned()).limit(u64::from(limit));
    if let Some(c) = cursor {
        list = list.cursor(c);
    }
    // A cursor that got here is one this listing gave (its tag says so): a failure is KV's.
    let page = list.execute().await.map_err(kv("list"))?;
    let cursor = page.cursor.filter(|c| !page.list_complete && !c.is_empty()).map(|c| listing.cursor(&c));
    Ok((page.keys, cursor))
}

pub(crate) async fn show(req: &Incoming, services: &Services, key_id: &str) -> Result<Response, Error> {
    authorize(req, services)?;
    let (_, mut record) = record_by_id(&services.keys, key_id).await?;
    // KV may still hold a key revoked moments ago, or an older state: the authority decides.
    record.adopt(&live_standing(services, key_id).await?.config);
    respond::json(200, &Envelope::ok("API key found", KeyInfo::new(&record, &services.config)))
}

pub(crate) async fn update(req: Incoming, services: &Services, key_id: &str) -> Result<Response, Error> {
    authorize(&req, services)?;
    let body = json_body(&req, MAX_ADMIN_BODY_BYTES).await?;
    let update = parse_update(&body)?;
    services.check_tier(update.rate_limit.flatten())?;
    let (hash, mut record) = record_by_id(&services.keys, key_id).await?;
    // Only the settings given change in the authority, and KV gets the authority's (this KV
    // read may be stale: it must not undo another change). Refused (404) when the key was
    // revoked, even if this KV read was stale.
    let standing = services.authority(key_id).configure(update.patch(&record)).await?;
    update.apply(&mut record, &standing.config);
    save_unrevoked(services, &hash, &mut record).await?;
    let info = KeyInfo::new(&record, &services.config);
    worker::console_log!("admin: key {key_id} updated: {}", serde_json::to_string(&info).unwrap_or_default());
    respond::json(200, &Envelope::ok("API key updated", info))
}

#[derive(Serialize)]
struct WebhookSecret<'a> {
    key_id: &'a str,
    /// Shown once: it signs every delivery of the key's webhooks from now on.
    webhook_secret: String,
}

/// `POST /api/v1/admin/keys/{key_id}/webhook-secret`: issues the key's webhook secret, or
/// rotates it.
pub(crate) async fn rotate_webhook_secret(
    req: &Incoming,
    services: &Services,
    key_id: &str,
) -> Result<Response, Error> {
    authorize(req, services)?;
    // A key KV does not know is 404 (no authority is made for it); the secret is the
    // authority's alone, which refuses a key revoked moments ago (and still in KV).
    hash_by_id(&services.keys, key_id).await?;
    let secret = webhook_secret();
    services.authority(key_id).set_webhook_secret(&secret).await.map_err(revoked_is_gone)?;
    worker::console_log!("admin: key {key_id}: webhook secret issued");
    respond::json(
        200,
        &Envelope::ok(
            "Webhook secret issued",
            WebhookSecret {
                key_id,
                webhook_secret: secret,
            },
        ),
    )
}

#[derive(Serialize)]
struct Revoked<'a> {
    key_id: &'a str,
    revoked: bool,
}

pub(crate) async fn revoke(req: &Incoming, services: &Services, key_id: &str) -> Result<Response, Error> {
    authorize(req, services)?;
    // The id entry alone: a revoke whose second KV delete failed left it without its record,
    // and a revoke sent again must still finish.
    let hash = hash_by_id(&services.keys, key_id).await?;
    // The authority refuses the key at once, everywhere, for good; KV follows. Revoked
    // already (a revoke whose KV deletes failed, or a PATCH that wrote KV back): the deletes
    // run again.
    let revoke = ConfigPatch { revoked: true, ..ConfigPatch::default() };
    match services.authority(key_id).configure(revoke).await {
        Ok(_) | Err(Error::KeyNotFound) => {}
        Err(err) => return Err(err),
    }
    delete_entries(services, &hash, key_id).await?;
    worker::console_log!("admin: key {key_id} revoked");
    respond::json(200, &Envelope::ok("API key revoked", Revoked { key_id, revoked: true }))
}
