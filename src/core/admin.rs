//! The admin API's rules: the `ADMIN_TOKEN` check, create/update bodies, the public view of
//! a key, and where KV keeps the id -> hash mapping.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::Error;
use super::keys::{bearer_token, KeyRecord};
use super::quota::Limits;
use super::listing::parse_limit;

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
/// (both sides are hashed first, so neither length nor content leaks through timing).
pub fn check_admin(header: Option<&str>, secret: Option<&str>) -> Result<(), Error> {
    let secret = secret.filter(|s| !s.is_empty()).ok_or(Error::AdminDisabled)?;
    let token = bearer_token(header).map_err(|_| Error::Unauthorized("missing or malformed admin token (Authorization: Bearer ADMIN_TOKEN)"))?;
    let (a, b) = (Sha256::digest(token.as_bytes()), Sha256::digest(secret.as_bytes()));
    let diff = a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    if diff != 0 {
        return Err(Error::Unauthorized("invalid admin token"));
    }
    Ok(())
}

/// `POST /api/v1/admin/keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKey {
    pub name: String,
    pub max_bytes: Option<u64>,
    pub max_files: Option<u64>,
}

/// `PATCH /api/v1/admin/keys/{key_id}`: each field `None` = unchanged; a quota of
/// `Some(None)` = back to the deployment default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateKey {
    pub name: Option<String>,
    pub max_bytes: Option<Option<u64>>,
    pub max_files: Option<Option<u64>>,
    pub disabled: Option<bool>,
}

fn object(body: &[u8]) -> Result<Map<String, Value>, Error> {
    if body.len() > 4096 {
        return Err(Error::BodyTooLarge { limit: 4096 });
    }
    match serde_json::from_slice(body).map_err(|e| Error::InvalidJson(e.to_string()))? {
        Value::Object(map) => Ok(map),
        _ => Err(Error::InvalidJson("expected a JSON object".into())),
    }
}

fn name(value: Value) -> Result<String, Error> {
    let Value::String(s) = value else { return Err(Error::invalid("name", "must be a string")) };
    let s = s.trim().to_owned();
    if s.is_empty() || s.chars().count() > MAX_NAME_CHARS || s.chars().any(char::is_control) {
        return Err(Error::invalid("name", format!("must be 1 to {MAX_NAME_CHARS} characters, no control characters")));
    }
    Ok(s)
}

/// A quota field: absent -> `None`; `null` -> `Some(None)`; a whole number -> `Some(Some(n))`.
fn quota(fields: &mut Map<String, Value>, key: &'static str) -> Result<Option<Option<u64>>, Error> {
    match fields.remove(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= MAX_QUOTA)
            .map(|n| Some(Some(n)))
            .ok_or_else(|| Error::invalid(key, format!("must be a whole number from 0 to {MAX_QUOTA}, or null"))),
    }
}

fn no_unknown(fields: &Map<String, Value>) -> Result<(), Error> {
    match fields.keys().next() {
        Some(k) => Err(Error::unknown_field(k)),
        None => Ok(()),
    }
}

pub fn parse_create(body: &[u8]) -> Result<CreateKey, Error> {
    let mut fields = object(body)?;
    let name = name(fields.remove("name").filter(|v| !v.is_null()).ok_or(Error::MissingField("name"))?)?;
    let max_bytes = quota(&mut fields, "max_bytes")?.flatten();
    let max_files = quota(&mut fields, "max_files")?.flatten();
    no_unknown(&fields)?;
    Ok(CreateKey { name, max_bytes, max_files })
}

pub fn parse_update(body: &[u8]) -> Result<UpdateKey, Error> {
    let mut fields = object(body)?;
    let update = UpdateKey {
        name: fields.remove("name").map(name).transpose()?,
        max_bytes: quota(&mut fields, "max_bytes")?,
        max_files: quota(&mut fields, "max_files")?,
        disabled: match fields.remove("disabled") {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => return Err(Error::invalid("disabled", "must be true or false")),
        },
    };
    no_unknown(&fields)?;
    if update == UpdateKey::default() {
        return Err(Error::InvalidJson("nothing to update (name, max_bytes, max_files, disabled)".into()));
    }
    Ok(update)
}

impl UpdateKey {
    pub fn apply(self, record: &mut KeyRecord) {
        if let Some(name) = self.name {
            record.name = name;
        }
        if let Some(q) = self.max_bytes {
            record.max_bytes = q;
        }
        if let Some(q) = self.max_files {
            record.max_files = q;
        }
        if let Some(d) = self.disabled {
            record.disabled = d;
        }
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
}

impl KeyInfo {
    pub fn new(record: &KeyRecord, defaults: Limits) -> Self {
        KeyInfo {
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

/// `GET /api/v1/admin/keys?cursor=&limit=`: the KV cursor passes through as is; an empty
/// `limit`, like an absent one, is the default page (as for the file list).
pub fn parse_key_list_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(Option<String>, u32), Error> {
    let (mut cursor, mut limit) = (None, 50);
    for (k, v) in pairs {
        match k {
            "cursor" => cursor = Some(v.to_owned()).filter(|c| !c.is_empty()),
            "limit" if v.is_empty() => {}
            "limit" => limit = parse_limit(v, MAX_LIST_LIMIT)?,
            other => return Err(Error::unknown_field(other)),
        }
    }
    if cursor.as_ref().is_some_and(|c| c.len() > 2048) {
        return Err(Error::invalid("cursor", "too long"));
    }
    Ok((cursor, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_token() {
        let ok = check_admin(Some("Bearer s3cret"), Some("s3cret"));
        assert_eq!(ok, Ok(()));
        let cases = [
            (Some("Bearer s3cret"), None, 503, "admin API is disabled"),
            (Some("Bearer s3cret"), Some(""), 503, "admin API is disabled"),
            (None, Some("s3cret"), 401, "missing or malformed admin token"),
            (Some("Basic s3cret"), Some("s3cret"), 401, "missing or malformed"),
            (Some("Bearer s3cre"), Some("s3cret"), 401, "invalid admin token"),
            (Some("Bearer s3cret2"), Some("s3cret"), 401, "invalid admin token"),
        ];
        for (header, secret, status, msg) in cases {
            let err = check_admin(header, secret).unwrap_err();
            assert_eq!(err.status(), status, "{header:?} {secret:?}");
            assert!(err.public_message().contains(msg), "{err}");
        }
    }

    #[test]
    fn create_bodies() {
        assert_eq!(parse_create(br#"{"name":" alice "}"#).unwrap(), CreateKey { name: "alice".into(), max_bytes: None, max_files: None });
        assert_eq!(
            parse_create(br#"{"name":"b","max_bytes":10,"max_files":null}"#).unwrap(),
            CreateKey { name: "b".into(), max_bytes: Some(10), max_files: None }
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
            (b"[]", "expected a JSON object"),
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
        let mut rec = KeyRecord { id: "k_1".into(), name: "a".into(), created: "c".into(), disabled: false, max_bytes: Some(5), max_files: None };
        parse_update(br#"{"max_bytes":null,"max_files":3,"disabled":true}"#).unwrap().apply(&mut rec);
        assert_eq!((rec.max_bytes, rec.max_files, rec.disabled, rec.name.as_str()), (None, Some(3), true, "a"));
        parse_update(br#"{"name":"b"}"#).unwrap().apply(&mut rec);
        assert_eq!((rec.name.as_str(), rec.max_files), ("b", Some(3)));
        parse_update(br#"{"max_bytes":9007199254740991}"#).unwrap().apply(&mut rec);
        assert_eq!(rec.max_bytes, Some(MAX_QUOTA));
        for (body, msg) in [
            (&b"{}"[..], "nothing to update"),
            (br#"{"disabled":"yes"}"#, "invalid `disabled`"),
            (br#"{"id":"x"}"#, "unknown field `id`"),
            (br#"{"max_files":9007199254740992}"#, "invalid `max_files`"),
        ] {
            let err = parse_update(body).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(err.public_message().contains(msg), "{err}");
        }
    }

    #[test]
    fn views_show_no_secret_and_effective_quotas() {
        let rec = KeyRecord { id: "k_1".into(), name: "a".into(), created: "c".into(), disabled: false, max_bytes: Some(5), max_files: None };
        let info = KeyInfo::new(&rec, Limits { max_bytes: 100, max_files: 7 });
        let json = serde_json::to_value(CreatedKey { key: "us_x".into(), info }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"key":"us_x","key_id":"k_1","name":"a","created":"c","disabled":false,
                "max_bytes":5,"max_files":7,"max_bytes_default":false,"max_files_default":true})
        );
    }

    #[test]
    fn key_list_queries() {
        assert_eq!(parse_key_list_query([]).unwrap(), (None, 50));
        assert_eq!(parse_key_list_query([("cursor", "abc"), ("limit", "2")]).unwrap(), (Some("abc".into()), 2));
        assert_eq!(parse_key_list_query([("limit", ""), ("cursor", "")]).unwrap(), (None, 50), "empty is the default");
        assert!(parse_key_list_query([("limit", "0")]).is_err());
        assert!(parse_key_list_query([("x", "0")]).is_err());
    }
}
