//! The admin API's rules: the `ADMIN_TOKEN` check, create/update bodies, the public view of
//! a key, and where KV keeps the id -> hash mapping.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::error::Error;
use super::json::{present, present_whole, read_object, whole, JsonObject, BOOLEAN, STRING};
use super::keys::{bearer_token, KeyRecord};
use super::config::Config;
use super::links::MIN_EXPIRES_IN;
use super::quota::{ConfigPatch, KeyConfig, SettingsPatch};
use super::listing::parse_limit;
use super::mac::{hmac_sha256, MIN_SECRET_BYTES};
use super::names::hides_text;
use super::query::params;
use super::rate_limit::{self, RATE_RULE};

/// KV key of a key id's entry: value = the key's hash, metadata = its [`KeyRecord`].
pub const ID_PREFIX: &str = "id:";
/// Longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_LIST_LIMIT: u32 = 100;
/// Largest quota a key may be given: 2^53 - 1, the largest integer the key's authority (a
/// Durable Object, whose messages pass through JavaScript numbers) carries exactly.
pub const MAX_QUOTA: u64 = (1 << 53) - 1;

pub fn id_entry(key_id: &str) -> String {
    format!("{ID_PREFIX}{key_id}")
}

/// Checks `Authorization: Bearer TOKEN` against the `ADMIN_TOKEN` secret, in constant time
/// (both sides are hashed first, so neither length nor content leaks through timing). A
/// secret shorter than [`MIN_SECRET_BYTES`] counts as unset: the admin API stays disabled.
pub fn check_admin(header: Option<&str>, secret: Option<&str>) -> Result<(), Error> {
    let secret = secret.filter(|s| s.len() >= MIN_SECRET_BYTES).ok_or(Error::AdminDisabled)?;
    let token = bearer_token(header).map_err(|_| Error::Unauthorized("missing or malformed admin token (Authorization: Bearer ADMIN_TOKEN)"))?;
    let (a, b) = (Sha256::digest(token.as_bytes()), Sha256::digest(secret.as_bytes()));
    let diff = a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    if diff != 0 {
        return Err(Error::Unauthorized("invalid admin token"));
    }
    Ok(())
}

/// Largest admin request body, in bytes.
pub const MAX_ADMIN_BODY_BYTES: u64 = 4096;
/// What a quota must be, told when it is not.
const QUOTA_RULE: &str = "must be a whole number from 0 to 9007199254740991, or null";
/// What a key's longest file lifetime must be, told when it is not.
const TTL_RULE: &str = "must be a whole number of seconds, at least 60, or null (the deployment's FILE_TTL_SECONDS caps it)";

/// `POST /api/v1/admin/keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKey {
    pub name: String,
    pub max_bytes: Option<u64>,
    pub max_files: Option<u64>,
    pub max_ttl_secs: Option<u64>,
    pub rate_limit: Option<u32>,
}

/// The create body as sent: a `null` field is the same as an absent one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "whole")]
    max_bytes: Option<u64>,
    #[serde(default, deserialize_with = "whole")]
    max_files: Option<u64>,
    #[serde(default, deserialize_with = "whole")]
    max_ttl_secs: Option<u64>,
    #[serde(default, deserialize_with = "whole")]
    rate_limit: Option<u32>,
}

impl JsonObject<'_> for CreateBody {
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("name", STRING),
        ("max_bytes", QUOTA_RULE),
        ("max_files", QUOTA_RULE),
        ("max_ttl_secs", TTL_RULE),
        ("rate_limit", RATE_RULE),
    ];
}

/// `PATCH /api/v1/admin/keys/{key_id}`: each field `None` = unchanged; a quota of
/// `Some(None)` = back to the deployment default. On the wire, a present field is `Some`:
/// `null` is the default for a quota and wrong for `name` and `disabled`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present_whole")]
    pub max_bytes: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present_whole")]
    pub max_files: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present_whole")]
    pub max_ttl_secs: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present_whole")]
    pub rate_limit: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    pub disabled: Option<bool>,
}

impl JsonObject<'_> for UpdateKey {
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("name", STRING),
        ("max_bytes", QUOTA_RULE),
        ("max_files", QUOTA_RULE),
        ("max_ttl_secs", TTL_RULE),
        ("rate_limit", RATE_RULE),
        ("disabled", BOOLEAN),
    ];
}

/// A key's name, trimmed: 1 to [`MAX_NAME_CHARS`] characters, no control, invisible or
/// bidirectional characters.
fn name(s: String) -> Result<String, Error> {
    let s = s.trim().to_owned();
    // Shown in the admin views and usage answers: nothing that hides or reorders text there.
    if s.is_empty() || s.chars().count() > MAX_NAME_CHARS || hides_text(&s) {
        return Err(Error::invalid("name", format!("must be 1 to {MAX_NAME_CHARS} characters, no control, invisible or bidirectional characters")));
    }
    Ok(s)
}

/// A quota within what the key's authority carries exactly ([`MAX_QUOTA`]).
fn quota(value: Option<u64>, field: &'static str) -> Result<Option<u64>, Error> {
    match value {
        Some(n) if n > MAX_QUOTA => Err(Error::invalid(field, QUOTA_RULE)),
        _ => Ok(value),
    }
}

/// A key's longest file lifetime: at least a minute (the shortest `expires_in`).
fn max_ttl(value: Option<u64>) -> Result<Option<u64>, Error> {
    match value {
        Some(n) if !(MIN_EXPIRES_IN..=MAX_QUOTA).contains(&n) => Err(Error::invalid("max_ttl_secs", TTL_RULE)),
        _ => Ok(value),
    }
}

fn rate(value: Option<u32>) -> Result<Option<u32>, Error> {
    value.map(|n| rate_limit::validate(n, "rate_limit")).transpose()
}

pub fn parse_create(body: &[u8]) -> Result<CreateKey, Error> {
    let body: CreateBody = read_object(body, MAX_ADMIN_BODY_BYTES)?;
    Ok(CreateKey {
        name: name(body.name.ok_or(Error::MissingField("name"))?)?,
        max_bytes: quota(body.max_bytes, "max_bytes")?,
        max_files: quota(body.max_files, "max_files")?,
        max_ttl_secs: max_ttl(body.max_ttl_secs)?,
        rate_limit: rate(body.rate_limit)?,
    })
}

pub fn parse_update(body: &[u8]) -> Result<UpdateKey, Error> {
    let body: UpdateKey = read_object(body, MAX_ADMIN_BODY_BYTES)?;
    if body == UpdateKey::default() {
        return Err(Error::NothingToUpdate("name, max_bytes, max_files, max_ttl_secs, rate_limit, disabled"));
    }
    Ok(UpdateKey {
        name: body.name.map(name).transpose()?,
        max_bytes: body.max_bytes.map(|q| quota(q, "max_bytes")).transpose()?,
        max_files: body.max_files.map(|q| quota(q, "max_files")).transpose()?,
        max_ttl_secs: body.max_ttl_secs.map(max_ttl).transpose()?,
        rate_limit: body.rate_limit.map(rate).transpose()?,
        disabled: body.disabled,
    })
}

impl UpdateKey {
    /// The settings the key's authority keeps, as far as this update changes them; `kv`:
    /// the record it was made from, whose name, lifetime and rate the authority takes if it
    /// has none of its own yet.
    pub fn patch(&self, kv: &KeyRecord) -> ConfigPatch {
        let settings = SettingsPatch { from: kv.settings(), name: self.name.clone(), max_ttl_secs: self.max_ttl_secs, rate_limit: self.rate_limit };
        ConfigPatch { max_bytes: self.max_bytes, max_files: self.max_files, disabled: self.disabled, revoked: false, settings: Some(settings) }
    }

    /// The KV record after this update: the settings only KV keeps as given, the ones the
    /// key's authority keeps as it answered (`standing`, after [`UpdateKey::patch`]).
    pub fn apply(self, record: &mut KeyRecord, standing: &KeyConfig) {
        if let Some(name) = self.name {
            record.name = name;
        }
        if let Some(t) = self.max_ttl_secs {
            record.max_ttl_secs = t;
        }
        if let Some(r) = self.rate_limit {
            record.rate_limit = r;
        }
        record.adopt(standing);
    }
}

/// A key as the admin API shows it: never the key or its hash. Quotas are the limits in
/// force; `*_default` says whether they come from `[vars]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub key_id: String,
    pub name: String,
    pub created: String,
    pub disabled: bool,
    pub max_bytes: u64,
    pub max_files: u64,
    pub max_bytes_default: bool,
    pub max_files_default: bool,
    /// The longest a new file of this key may live, in seconds.
    pub max_ttl_secs: u64,
    /// Upload requests per minute (0: no limit).
    pub rate_limit: u32,
}

impl KeyInfo {
    pub fn new(record: &KeyRecord, config: &Config) -> Self {
        let defaults = config.default_limits;
        KeyInfo {
            max_ttl_secs: record.max_ttl_secs.map_or(config.ttl_secs, |t| t.min(config.ttl_secs)),
            // in force: a value that is no tier (a record written by hand) is held to one
            rate_limit: rate_limit::enforced(record.rate_limit.unwrap_or(config.default_rate_limit)).map_or(0, |(n, _)| n),
            key_id: record.id.clone(),
            name: record.name.clone(),
            created: record.created.clone(),
            disabled: record.disabled,
            max_bytes: record.max_bytes.unwrap_or(defaults.max_bytes),
            max_files: record.max_files.unwrap_or(defaults.max_files),
            max_bytes_default: record.max_bytes.is_none(),
            max_files_default: record.max_files.is_none(),
        }
    }
}

/// The answer to a create: the plaintext key, shown this once, and the key's view.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// What marks KV's cursor inside an admin listing's own (see [`KvListing::cursor`]).
const KV_CURSOR_MARK: &str = "kv2:";
/// Bytes of the HMAC-SHA256 tag an admin listing's cursor carries.
const CURSOR_TAG_BYTES: usize = 12;

/// An admin listing over KV (the keys, the blocklist): the names under `prefix`, its cursors
/// signed with `secret` (the admin token).
pub struct KvListing<'a> {
    pub secret: &'a str,
    pub prefix: &'a str,
}

impl KvListing<'_> {
    /// The listing's cursor for KV's own, opaque to clients: KV's cursor with a tag over it
    /// and the listing's prefix, encoded, so that a cursor this listing never gave (made up,
    /// cut short, or another listing's) is a 400 (local KV answers any string with a page:
    /// an empty "last page" for such a cursor).
    pub fn cursor(&self, kv_cursor: &str) -> String {
        let tag = hex::encode(&self.mac(kv_cursor).finalize().into_bytes()[..CURSOR_TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(format!("{KV_CURSOR_MARK}{tag}:{kv_cursor}"))
    }

    fn mac(&self, kv_cursor: &str) -> Hmac<Sha256> {
        hmac_sha256(self.secret.as_bytes(), &[self.prefix.as_bytes(), b"\n", kv_cursor.as_bytes()])
    }

    /// `?cursor=&limit=`: KV's cursor out of [`cursor`](Self::cursor)'s, and the page size;
    /// an empty `limit` or `cursor`, like an absent one, is the default page (as for the
    /// file list).
    pub fn parse_query<'q>(&self, pairs: impl IntoIterator<Item = (&'q str, &'q str)>) -> Result<(Option<String>, u32), Error> {
        let [cursor, limit] = params(pairs, ["cursor", "limit"])?;
        let limit = match limit {
            None | Some("") => 50,
            Some(v) => parse_limit(v, MAX_LIST_LIMIT)?,
        };
        let not_ours = || Error::invalid("cursor", "not a cursor from this listing");
        let cursor = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) if c.len() > 2048 => return Err(Error::invalid("cursor", "too long")),
            Some(c) => {
                let text = URL_SAFE_NO_PAD.decode(c).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(not_ours)?;
                let (tag, kv) = text.strip_prefix(KV_CURSOR_MARK).and_then(|t| t.split_once(':')).ok_or_else(not_ours)?;
                let tag = hex::decode(tag).ok().filter(|t| t.len() == CURSOR_TAG_BYTES).ok_or_else(not_ours)?;
                if kv.is_empty() || self.mac(kv).verify_truncated_left(&tag).is_err() {
                    return Err(not_ours());
                }
                Some(kv.to_owned())
            }
        };
        Ok((cursor, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::quota::KeySettings;

    #[test]
    fn admin_token() {
        const SECRET: &str = "s3cret-of-16-byte";
        let ok = check_admin(Some("Bearer s3cret-of-16-byte"), Some(SECRET));
        assert_eq!(ok, Ok(()));
        // an operator's passphrase
        let phrase = "correct horse battery staple";
        assert_eq!(check_admin(Some(&format!("Bearer {phrase}")), Some(phrase)), Ok(()));
        let cases = [
            (Some("Bearer s3cret-of-16-byte"), None, 503, "admin API is disabled"),
            (Some("Bearer "), Some(""), 503, "admin API is disabled"),
            (Some("Bearer fifteen-bytes!!"), Some("fifteen-bytes!!"), 503, "not set (or is shorter than 16 bytes)"),
            (None, Some(SECRET), 401, "missing or malformed admin token"),
            (Some("Basic s3cret-of-16-byte"), Some(SECRET), 401, "missing or malformed"),
            (Some("Bearer s3cret-of-16-byt"), Some(SECRET), 401, "invalid admin token"),
            (Some("Bearer s3cret-of-16-bytes"), Some(SECRET), 401, "invalid admin token"),
        ];
        for (header, secret, status, msg) in cases {
            let err = check_admin(header, secret).unwrap_err();
            assert_eq!(err.status(), status, "{header:?} {secret:?}");
            assert!(err.public_message().contains(msg), "{err}");
        }
    }

    #[test]
    fn create_bodies() {
        assert_eq!(parse_create(br#"{"name":" alice "}"#).unwrap(), CreateKey { name: "alice".into(), max_bytes: None, max_files: None, max_ttl_secs: None, rate_limit: None });
        assert_eq!(
            parse_create(br#"{"name":"b","max_bytes":10,"max_files":null,"max_ttl_secs":3600,"rate_limit":10}"#).unwrap(),
            CreateKey { name: "b".into(), max_bytes: Some(10), max_files: None, max_ttl_secs: Some(3600), rate_limit: Some(10) }
        );
        let long = format!(r#"{{"name":"{}"}}"#, "x".repeat(65));
        let cases: &[(&[u8], &str)] = &[
            (b"{}", "missing required field `name`"),
            (br#"{"name":null}"#, "missing required field `name`"),
            (br#"{"name":""}"#, "invalid `name`"),
            (br#"{"name":"a\u0007"}"#, "invalid `name`"),
            (long.as_bytes(), "invalid `name`"),
            (br#"{"name":"a","max_bytes":-1}"#, "invalid `max_bytes`"),
            (br#"{"name":"a","max_files":1.5}"#, "invalid `max_files`"),
            (br#"{"name":"a","max_files":9007199254740992}"#, "invalid `max_files`"),
            (br#"{"name":"a","max_bytes":37771658315661304}"#, "invalid `max_bytes`"),
            (br#"{"name":"a","max_files":"3"}"#, "invalid `max_files`"),
            (br#"{"name":"a","admin":true}"#, "unknown field `admin`"),
            (br#"{"name":"a","max_ttl_secs":59}"#, "invalid `max_ttl_secs`: must be a whole number of seconds, at least 60, or null (the deployment's FILE_TTL_SECONDS caps it)"),
            (br#"{"name":"a","rate_limit":50}"#, "invalid `rate_limit`: must be 0 (no limit), 10, 100 or 1000"),
            (br#"{"name":"a","rate_limit":-1}"#, "invalid `rate_limit`"),
            (br#"{"name":"a","rate_limit":4294967306.0}"#, "invalid `rate_limit`"),
            (br#"{"name":"a","max_ttl_secs":60.5}"#, "invalid `max_ttl_secs`"),
            (br#"{"name":5}"#, "invalid `name`: must be a string"),
            (br#"{"name":"a","name":"b"}"#, "duplicate field `name`"),
            (br#"{"name":"a","max_bytes":null,"max_bytes":3}"#, "duplicate field `max_bytes`"),
            (b"[]", "must be a JSON object"),
            (b"nope", "not valid JSON"),
        ];
        for (body, msg) in cases {
            let err = parse_create(body).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(err.public_message().contains(msg), "{}: {err}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn update_bodies_and_their_effect() {
        let mut rec = KeyRecord { id: "k_1".into(), name: "a".into(), created: "c".into(), disabled: false, max_bytes: Some(5), max_files: None, max_ttl_secs: None, rate_limit: None };
        // The authority's settings: only those given go to it...
        let update = parse_update(br#"{"max_bytes":null,"max_files":3,"disabled":true}"#).unwrap();
        let from = rec.settings();
        let unchanged = SettingsPatch { from: from.clone(), ..SettingsPatch::default() };
        let patch = ConfigPatch { max_bytes: Some(None), max_files: Some(Some(3)), disabled: Some(true), revoked: false, settings: Some(unchanged) };
        assert_eq!(update.patch(&rec), patch);
        // ...and KV takes them as the authority answered, whatever this (maybe stale) record
        // held (an authority without settings of its own: a key written to KV by hand)
        let standing = KeyConfig { max_bytes: Some(7), max_files: Some(3), disabled: true, revoked: false, settings: None };
        update.apply(&mut rec, &standing);
        assert_eq!((rec.max_bytes, rec.max_files, rec.disabled, rec.name.as_str()), (Some(7), Some(3), true, "a"));
        let update = parse_update(br#"{"name":"b"}"#).unwrap();
        let renamed = SettingsPatch { from: rec.settings(), name: Some("b".into()), ..SettingsPatch::default() };
        assert_eq!(update.patch(&rec), ConfigPatch { settings: Some(renamed), ..ConfigPatch::default() }, "the name alone");
        update.apply(&mut rec, &standing);
        assert_eq!((rec.name.as_str(), rec.max_files), ("b", Some(3)));
        // The authority's settings, once it has them, are what KV takes: a PATCH made from a
        // stale record (rate_limit 10 set since, elsewhere) changes only what it gives.
        let mut authority = KeyConfig { settings: Some(KeySettings { name: "b".into(), max_ttl_secs: None, rate_limit: Some(10) }), ..standing.clone() };
        let stale = KeyRecord { rate_limit: None, ..rec.clone() };
        let update = parse_update(br#"{"max_ttl_secs":600}"#).unwrap();
        update.patch(&stale).apply(&mut authority);
        assert_eq!(authority.settings, Some(KeySettings { name: "b".into(), max_ttl_secs: Some(600), rate_limit: Some(10) }));
        let mut saved = stale.clone();
        update.apply(&mut saved, &authority);
        assert_eq!((saved.max_ttl_secs, saved.rate_limit, saved.name.as_str()), (Some(600), Some(10), "b"));
        // an authority without settings takes the record's, then the change
        let mut bare = KeyConfig::default();
        parse_update(br#"{"rate_limit":100}"#).unwrap().patch(&stale).apply(&mut bare);
        assert_eq!(bare.settings, Some(KeySettings { rate_limit: Some(100), ..stale.settings() }));
        let update = parse_update(br#"{"max_bytes":9007199254740991}"#).unwrap();
        assert_eq!(update.patch(&rec).max_bytes, Some(Some(MAX_QUOTA)));
        assert!(QUOTA_RULE.contains(&format!(" {MAX_QUOTA},")), "{QUOTA_RULE}");
        parse_update(br#"{"max_ttl_secs":60,"rate_limit":1000}"#).unwrap().apply(&mut rec, &standing);
        assert_eq!((rec.max_ttl_secs, rec.rate_limit), (Some(60), Some(1000)));
        // whole numbers however written (JSON Schema's integer)
        parse_update(br#"{"max_ttl_secs":120.0,"rate_limit":1e2}"#).unwrap().apply(&mut rec, &standing);
        assert_eq!((rec.max_ttl_secs, rec.rate_limit), (Some(120), Some(100)));
        parse_update(br#"{"max_ttl_secs":null,"rate_limit":null}"#).unwrap().apply(&mut rec, &standing);
        assert_eq!((rec.max_ttl_secs, rec.rate_limit), (None, None));
        let update = parse_update(br#"{"name":" c ","disabled":false}"#).unwrap();
        assert_eq!(update.patch(&rec).disabled, Some(false));
        update.apply(&mut rec, &KeyConfig { disabled: false, ..standing.clone() });
        assert_eq!((rec.name.as_str(), rec.disabled), ("c", false));
        for (body, msg) in [
            (&b"{}"[..], "nothing to update: the body sets none of name, max_bytes, max_files, max_ttl_secs, rate_limit, disabled"),
            (br#"{"disabled":"yes"}"#, "invalid `disabled`"),
            (br#"{"id":"x"}"#, "unknown field `id`"),
            (br#"{"max_files":9007199254740992}"#, "invalid `max_files`: must be a whole number from 0 to 9007199254740991, or null"),
            (br#"{"max_bytes":"1"}"#, "invalid `max_bytes`: must be a whole number from 0 to 9007199254740991, or null"),
            (br#"{"name":null}"#, "invalid `name`: must be a string"),
            (br#"{"name":" "}"#, "invalid `name`: must be 1 to 64 characters"),
            ("{\"name\":\"\u{202E}x\"}".as_bytes(), "invalid `name`: must be 1 to 64 characters, no control, invisible or bidirectional characters"),
            ("{\"name\":\"a\u{200B}\"}".as_bytes(), "invalid `name`: must be 1 to 64 characters, no control, invisible or bidirectional characters"),
            // blank fillers and selectors that shape nothing: the file-name rule
            ("{\"name\":\"\u{3164}\"}".as_bytes(), "no control, invisible or bidirectional characters"),
            ("{\"name\":\"ops\u{FE0F}\"}".as_bytes(), "no control, invisible or bidirectional characters"),
            ("{\"name\":\"a\u{2800}b\"}".as_bytes(), "no control, invisible or bidirectional characters"),
            (br#"{"disabled":null}"#, "invalid `disabled`: must be true or false"),
            (br#"{"disabled":true,"disabled":false}"#, "duplicate field `disabled`"),
        ] {
            let err = parse_update(body).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(err.public_message().contains(msg), "{err}");
        }
    }

    #[test]
    fn views_show_no_secret_and_effective_quotas() {
        let rec = KeyRecord { id: "k_1".into(), name: "a".into(), created: "c".into(), disabled: false, max_bytes: Some(5), max_files: None, max_ttl_secs: None, rate_limit: None };
        let pairs = [("DEFAULT_MAX_BYTES", "100"), ("DEFAULT_MAX_FILES", "7"), ("FILE_TTL_SECONDS", "600")];
        let config = Config::from_vars(|n| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())).unwrap();
        let info = KeyInfo::new(&rec, &config);
        let json = serde_json::to_value(CreatedKey { key: "us_x".into(), info }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"key":"us_x","key_id":"k_1","name":"a","created":"c","disabled":false,
                "max_bytes":5,"max_files":7,"max_bytes_default":false,"max_files_default":true,
                "max_ttl_secs":600,"rate_limit":0})
        );
        let lower = KeyRecord { max_ttl_secs: Some(120), rate_limit: Some(10), ..rec.clone() };
        let info = KeyInfo::new(&lower, &config);
        assert_eq!((info.max_ttl_secs, info.rate_limit), (120, 10));
        let higher = KeyRecord { max_ttl_secs: Some(6000), ..rec };
        assert_eq!(KeyInfo::new(&higher, &config).max_ttl_secs, 600, "never past FILE_TTL_SECONDS");
    }

    #[test]
    fn key_list_queries() {
        let keys = KvListing { secret: "admin-token", prefix: ID_PREFIX };
        assert_eq!(keys.parse_query([]).unwrap(), (None, 50));
        let given = keys.cursor("AAAA-kv's-own");
        assert_eq!(keys.parse_query([("cursor", given.as_str()), ("limit", "2")]).unwrap(), (Some("AAAA-kv's-own".into()), 2));
        // a cursor this listing never gave: made up, KV's own passed as is, cut short, another
        // listing's, one signed with another token, one in the right shape with a made-up tag
        let blocked = KvListing { secret: "admin-token", prefix: "blocked:" };
        let other = blocked.cursor("AAAA-kv's-own");
        let old_token = KvListing { secret: "rotated", prefix: ID_PREFIX }.cursor("AAAA-kv's-own");
        let forged = URL_SAFE_NO_PAD.encode(format!("{KV_CURSOR_MARK}{}:abc", "0".repeat(2 * CURSOR_TAG_BYTES)));
        for made_up in ["abc", "not-a-cursor", &URL_SAFE_NO_PAD.encode("kv2:x"), &given[..given.len() / 2], &other, &old_token, &forged] {
            assert_eq!(keys.parse_query([("cursor", made_up)]), Err(Error::invalid("cursor", "not a cursor from this listing")), "{made_up}");
        }
        assert_eq!(blocked.parse_query([("cursor", other.as_str())]).unwrap().0.as_deref(), Some("AAAA-kv's-own"));
        assert_eq!(keys.parse_query([("limit", ""), ("cursor", "")]).unwrap(), (None, 50), "empty is the default");
        assert!(keys.parse_query([("limit", "0")]).is_err());
        assert!(keys.parse_query([("x", "0")]).is_err());
    }
}
