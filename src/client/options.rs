//! The option objects the JS API takes, read from JS values and checked before any request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

use super::browser_url::{base_url, check_file_url};
use super::error::ClientError;
use crate::core::batch::{item_envelope, parse_batch_with};
use crate::core::envelope::{Envelope, FileData};
use crate::core::idempotency;
use crate::core::ids::{is_file_id, is_job_id};
use crate::core::keys::api_key;
use crate::core::links::check_link_lifetime;
use crate::core::listing::parse_list_query;
use crate::core::request::parse_upload_with;
use crate::core::Error;

/// `new UploadClient({ baseUrl, apiKey })`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientOptions {
    base_url: String,
    #[serde(default)]
    api_key: String,
}

/// `uploadFromUrl({ fileUrl, uploadPath?, fileName?, expectedSha256?, expiresIn?,
/// maxDownloads?, private?, originHeaders? })`. Numbers are read as any number, so 60.5 gets
/// the server's own 400, not a type error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadOptions {
    file_url: String,
    upload_path: Option<String>,
    file_name: Option<String>,
    #[serde(default)]
    expected_sha256: Option<String>,
    #[serde(default)]
    expires_in: Option<f64>,
    #[serde(default)]
    max_downloads: Option<f64>,
    #[serde(default)]
    private: Option<bool>,
    #[serde(default)]
    origin_headers: Option<BTreeMap<String, String>>,
    /// `startUpload` only: where the job's final status is POSTed.
    #[serde(default)]
    callback_url: Option<String>,
    /// Sent as `Idempotency-Key`, so that the upload (or the job's start) may be retried.
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// `mintLinks(fileId, { expiresIn? })`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LinkOptions {
    expires_in: Option<f64>,
}

/// `{"expires_in": n}`, the link request's body.
#[derive(Serialize)]
struct LinkBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
}

/// `listFiles({ uploadPath?, limit?, cursor?, order? })`. `limit` is read as any number so
/// that 0, 1.5 or 500 get the server's own 400, not a type error.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListOptions {
    upload_path: Option<String>,
    limit: Option<f64>,
    cursor: Option<String>,
    order: Option<String>,
}

/// `{"items": [...]}`, the batch body.
#[derive(Serialize)]
struct BatchBody<'a> {
    items: &'a [&'a UploadBody<'a>],
}

/// The upload body as sent: the wire's snake_case names, absent options left out.
#[derive(Serialize)]
struct UploadBody<'a> {
    file_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_downloads: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin_headers: Option<&'a BTreeMap<String, String>>,
    #[serde(rename = "async", skip_serializing_if = "Option::is_none")]
    asynchronous: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
}

/// A JS number where the server wants a whole one: a whole number as an integer (`60`, not
/// `60.0`); any other as a value of the wrong type, which the server's parser refuses with the
/// same message as a fraction (never sent: the client checks the body with that parser first,
/// and formatting floats would cost the package kilobytes).
#[derive(Serialize)]
#[serde(untagged)]
enum Whole {
    Number(i64),
    NotWhole(bool),
}

fn whole(n: f64) -> Whole {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Whole::Number(n as i64)
    } else {
        Whole::NotWhole(false)
    }
}

/// A client's settings: the API's base URL (no trailing slash) and the key.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub base: String,
    pub api_key: String,
}

/// The options each method takes, by their JS names.
const CLIENT_KEYS: &[&str] = &["baseUrl", "apiKey"];
const UPLOAD_KEYS: &[&str] = &["fileUrl", "uploadPath", "fileName", "expectedSha256", "expiresIn", "maxDownloads", "private", "originHeaders", "idempotencyKey", "signal"];
/// A batch item's: an upload's but `idempotencyKey` and `signal` (one header and one
/// signal for the whole request: `uploadFromUrls`' own options).
const ITEM_KEYS: &[&str] = UPLOAD_KEYS.split_at(UPLOAD_KEYS.len() - 2).0;
const BATCH_KEYS: &[&str] = &["idempotencyKey", "signal"];
/// A job's: an upload's but `originHeaders`, which a job would have to store (the server
/// refuses them; refused here, nothing is sent).
const JOB_KEYS: &[&str] = &["fileUrl", "uploadPath", "fileName", "expectedSha256", "expiresIn", "maxDownloads", "private", "callbackUrl", "idempotencyKey", "signal"];
const LINK_KEYS: &[&str] = &["expiresIn", "signal"];
const LIST_KEYS: &[&str] = &["uploadPath", "limit", "cursor", "order", "signal"];
/// A call's that takes no other option (`getFile(fileId, { signal })`).
const CALL_KEYS: &[&str] = &["signal"];

/// Reads `value` (an options object, or an array of them) as `T`, refusing any key not in
/// `known`: serde never looks at keys a struct does not name, so a misspelt or snake_case
/// option (`max_downloads`) would be dropped without a word and the call made without it,
/// where the server refuses an unknown field.
fn read<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str, known: &[&str]) -> Result<T, ClientError> {
    known_only(&value, what, known)?;
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        // serde_wasm_bindgen's message is a JS Error's text ("Error: invalid type: ..."),
        // writes an unexpected object or array in its Rust debug form, and names the Rust
        // types it expected (`struct ClientOptions`, `f64`): none of it is for users (an
        // integer option, `u64`, keeps its word).
        let detail = e.to_string();
        let detail = detail.strip_prefix("Error: ").unwrap_or(&detail);
        if detail.contains("JsValue(") || detail.contains("expected struct") {
            return ClientError::Options(what.to_owned());
        }
        ClientError::Options(format!("{what}: {}", detail.replace("expected f64", "expected a number")))
    })
}

/// Refuses the first option `value` names (an object's, or each object's of an array) that
/// is not one of `known`: a misspelt option is never dropped in silence.
pub(crate) fn known_only(value: &JsValue, what: &str, known: &[&str]) -> Result<(), ClientError> {
    let items = if js_sys::Array::is_array(value) { js_sys::Array::from(value).to_vec() } else { vec![value.clone()] };
    for item in items.iter().filter(|i| i.is_object()) {
        let keys = js_sys::Object::keys(item.unchecked_ref::<js_sys::Object>());
        if let Some(key) = keys.iter().filter_map(|k| k.as_string()).find(|k| !known.contains(&k.as_str())) {
            return Err(ClientError::Options(format!("{what}: unknown option `{key}`{}", hint(&key, known))));
        }
    }
    Ok(())
}

/// What an unknown option was probably meant to be: the camelCase spelling of a known one,
/// or, for `callbackUrl`, `originHeaders` and a batch item's `idempotencyKey`, the method
/// that takes it.
fn hint(key: &str, known: &[&str]) -> String {
    let mut camel = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        match c {
            '_' | '-' => upper = true,
            c if upper => {
                camel.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => camel.push(c),
        }
    }
    if camel != key && known.contains(&camel.as_str()) {
        format!(" (did you mean `{camel}`?)")
    } else if camel == "callbackUrl" {
        " (a callback is for a background job: startUpload)".to_owned()
    } else if (camel == "idempotencyKey" || camel == "signal") && known == ITEM_KEYS {
        " (the batch's own: uploadFromUrls(items, { idempotencyKey, signal }))".to_owned()
    } else if camel == "originHeaders" {
        " (a background job would have to store them, and they are never stored: uploadFromUrl)".to_owned()
    } else {
        String::new()
    }
}

/// Reads the constructor's options. The key is checked per call, so a client can exist
/// before its user has typed one.
pub(crate) fn settings(value: JsValue) -> Result<Settings, ClientError> {
    let opts: ClientOptions = read(value, "expected { baseUrl, apiKey }", CLIENT_KEYS)?;
    let base = base_url(opts.base_url.trim()).map_err(ClientError::Options)?;
    Ok(Settings { base: base.href.trim_end_matches('/').to_owned(), api_key: opts.api_key })
}

/// The `Authorization` header for `key`, checked by the server's own API key parser (so a
/// key with a space in it, or a pasted `Bearer us_...`, gets the server's words). A key is
/// visible ASCII (every key the service issues is): any other character, such as a pasted
/// zero-width space, is answered as the server answers a key it does not know, before the
/// browser refuses the header.
pub(crate) fn authorization(key: &str) -> Result<String, ClientError> {
    let key = key.trim();
    if !key.chars().all(|c| c.is_ascii_graphic() || c == ' ' || c == '\t') {
        return Err(Error::Unauthorized("invalid API key").into());
    }
    let header = (!key.is_empty()).then(|| format!("Bearer {key}"));
    api_key(header.as_deref())?;
    Ok(header.unwrap_or_default())
}

/// Reads `uploadFromUrl`'s options into the JSON body and its `Idempotency-Key`, validated
/// by the server's own parsers before they are sent.
pub(crate) fn upload_body(value: JsValue) -> Result<(String, Option<String>), ClientError> {
    let opts: UploadOptions = read(value, "expected { fileUrl, uploadPath?, fileName?, expectedSha256?, expiresIn?, maxDownloads?, private?, originHeaders?, idempotencyKey?, signal? }", UPLOAD_KEYS)?;
    Ok((body_json(&opts)?, idempotency::parse(opts.idempotency_key.as_deref())?))
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, ClientError> {
    serde_json::to_string(value).map_err(|e| ClientError::Options(e.to_string()))
}

impl<'a> From<&'a UploadOptions> for UploadBody<'a> {
    fn from(opts: &'a UploadOptions) -> Self {
        UploadBody {
            file_url: &opts.file_url,
            upload_path: opts.upload_path.as_deref(),
            file_name: opts.file_name.as_deref().filter(|n| !n.is_empty()),
            expected_sha256: opts.expected_sha256.as_deref(),
            expires_in: opts.expires_in.map(whole),
            max_downloads: opts.max_downloads.map(whole),
            private: opts.private,
            origin_headers: opts.origin_headers.as_ref(),
            asynchronous: None,
            callback_url: None,
        }
    }
}

/// Reads `startUpload`'s options into the body of a background job and its
/// `Idempotency-Key`, validated by the server's own parsers before they are sent.
pub(crate) fn start_body(value: JsValue) -> Result<(String, Option<String>), ClientError> {
    let opts: UploadOptions = read(value, "expected { fileUrl, uploadPath?, fileName?, expectedSha256?, expiresIn?, maxDownloads?, private?, callbackUrl?, idempotencyKey?, signal? }", JOB_KEYS)?;
    let body = checked_json(&UploadBody { asynchronous: Some(true), callback_url: opts.callback_url.as_deref(), ..UploadBody::from(&opts) })?;
    Ok((body, idempotency::parse(opts.idempotency_key.as_deref())?))
}

/// The JSON body of `opts`.
fn body_json(opts: &UploadOptions) -> Result<String, ClientError> {
    checked_json(&UploadBody::from(opts))
}

/// `body` as JSON, refused with the server's own error when the server would refuse it.
fn checked_json(body: &UploadBody<'_>) -> Result<String, ClientError> {
    let json = json(body)?;
    parse_upload_with(json.as_bytes(), &check_file_url)?;
    Ok(json)
}

/// `uploadFromUrls(items)` checked before sending, item by item as the server checks them.
#[derive(Debug, PartialEq)]
pub(crate) struct BatchPlan {
    /// The body with the items that passed, in order; `None` when none did (nothing to send).
    pub body: Option<String>,
    /// Per item, in request order: `None` if sent, else the error envelope the server
    /// would have answered for it.
    pub refused: Vec<Option<Envelope<FileData>>>,
}

/// Reads `uploadFromUrls`' items. The batch as a whole (1 to `core::batch::MAX_ITEMS`
/// items, body size) is checked by the server's `parse_batch` and refused as a whole; an
/// item it refuses is answered here, in place, and left out of the request, unless the
/// batch is `keyed` (see [`plan`]).
pub(crate) fn batch_plan(value: JsValue, keyed: bool) -> Result<BatchPlan, ClientError> {
    let items = read::<Vec<UploadOptions>>(value, "expected an array of { fileUrl, uploadPath?, fileName?, expectedSha256?, expiresIn?, maxDownloads?, private?, originHeaders? }", ITEM_KEYS)?;
    plan(&items, keyed)
}

/// Reads `uploadFromUrls`' options: the batch's `Idempotency-Key`, checked by the server's
/// own parser before it is sent.
/// Read field by field: its one option does not need a deserializer of its own (each one
/// costs the client's wasm about 1.5 KiB gzip).
pub(crate) fn batch_key(value: JsValue) -> Result<Option<String>, ClientError> {
    const WHAT: &str = "expected { idempotencyKey?, signal? }";
    if !options_object(&value, WHAT, BATCH_KEYS)? {
        return Ok(None);
    }
    let key = js_sys::Reflect::get(&value, &"idempotencyKey".into()).unwrap_or(JsValue::UNDEFINED);
    let key = match key.as_string() {
        Some(key) => Some(key),
        None if key.is_undefined() || key.is_null() => None,
        None => return Err(ClientError::Options(format!("{WHAT}: `idempotencyKey` must be a string"))),
    };
    Ok(idempotency::parse(key.as_deref())?)
}

/// Under an `Idempotency-Key` (`keyed`) the server names each item by its place in the
/// body, so a batch with an item to send goes whole: the server refuses the same items in
/// place, and the same batch sent again with a refused item fixed keeps every item's place
/// (left out, a later item would take its place, and be refused as a reused key or stored
/// twice).
fn plan(items: &[UploadOptions], keyed: bool) -> Result<BatchPlan, ClientError> {
    let bodies: Vec<UploadBody> = items.iter().map(UploadBody::from).collect();
    let all: Vec<&UploadBody> = bodies.iter().collect();
    let whole = json(&BatchBody { items: &all })?;
    let checked = parse_batch_with(whole.as_bytes(), &check_file_url)?;
    if keyed && checked.iter().any(Result::is_ok) {
        return Ok(BatchPlan { body: Some(whole), refused: bodies.iter().map(|_| None).collect() });
    }
    let mut send = Vec::new();
    let mut refused = Vec::with_capacity(bodies.len());
    for (body, result) in bodies.iter().zip(checked) {
        match result {
            Ok(_) => {
                send.push(body);
                refused.push(None);
            }
            Err(err) => refused.push(Some(item_envelope(Err(err)))),
        }
    }
    let body = if send.is_empty() { None } else { Some(json(&BatchBody { items: &send })?) };
    Ok(BatchPlan { body, refused })
}

/// The `signal` of a method's options object (none when the options are not an object:
/// the method's own reader refuses them): anything with a boolean `aborted`, an
/// `addEventListener` and a `removeEventListener`, as an `AbortSignal` has.
pub(crate) fn signal(value: &JsValue) -> Result<Option<AbortSignal>, ClientError> {
    let get = |target: &JsValue, name: &str| js_sys::Reflect::get(target, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let signal = if value.is_object() { get(value, "signal") } else { JsValue::UNDEFINED };
    if signal.is_undefined() || signal.is_null() {
        Ok(None)
    } else if signal.is_object()
        && get(&signal, "aborted").as_bool().is_some()
        && ["addEventListener", "removeEventListener"].iter().all(|f| get(&signal, f).is_function())
    {
        Ok(Some(signal.unchecked_into()))
    } else {
        Err(ClientError::Options("`signal` must be an AbortSignal".into()))
    }
}

/// Reads the options of a call that takes no other (`{ signal? }`; absent, `undefined` or
/// `null` for none).
pub(crate) fn call_signal(value: &JsValue) -> Result<Option<AbortSignal>, ClientError> {
    if !options_object(value, "expected { signal? }", CALL_KEYS)? {
        return Ok(None);
    }
    signal(value)
}

/// Whether `value`, a method's options read field by field, was given: `false` when absent
/// (`undefined` or `null`); refused (`what`) when not a plain object, or when it names an
/// option not in `known`.
fn options_object(value: &JsValue, what: &str, known: &[&str]) -> Result<bool, ClientError> {
    if value.is_undefined() || value.is_null() {
        return Ok(false);
    }
    if !value.is_object() || js_sys::Array::is_array(value) {
        return Err(ClientError::Options(what.to_owned()));
    }
    known_only(value, what, known)?;
    Ok(true)
}

/// A `file_id` checked by the server's own shape test; a malformed one is the 404 the
/// server answers for it, without a request.
pub(crate) fn file_id(id: &str) -> Result<&str, ClientError> {
    if is_file_id(id) {
        Ok(id)
    } else {
        Err(Error::FileNotFound.into())
    }
}

/// An id argument (`name`) as a string: from JS it may be anything (`undefined` from a
/// missing property, a number from parsed JSON), which is refused like any unusable option.
fn an_id(id: &JsValue, name: &str) -> Result<String, ClientError> {
    id.as_string().ok_or_else(|| ClientError::Options(format!("`{name}` must be a string")))
}

/// A `fileId` argument: a string, of a file id's shape ([`file_id`]).
pub(crate) fn file_id_arg(id: &JsValue) -> Result<String, ClientError> {
    let id = an_id(id, "fileId")?;
    file_id(&id)?;
    Ok(id)
}

/// A `jobId` argument: a string, of a job id's shape ([`job_id`]).
pub(crate) fn job_id_arg(id: &JsValue) -> Result<String, ClientError> {
    let id = an_id(id, "jobId")?;
    job_id(&id)?;
    Ok(id)
}

/// Reads `mintLinks`' options (absent for none) into the JSON body, its lifetime checked by
/// the server's own rule.
pub(crate) fn link_body(value: JsValue) -> Result<String, ClientError> {
    let opts: Option<LinkOptions> = read(value, "expected { expiresIn?, signal? }", LINK_KEYS)?;
    let expires_in = opts.unwrap_or_default().expires_in.map(check_link_lifetime).transpose()?;
    json(&LinkBody { expires_in })
}

/// A job id, checked by its shape before any request (any other is "no such job").
pub(crate) fn job_id(id: &str) -> Result<&str, ClientError> {
    if is_job_id(id) {
        Ok(id)
    } else {
        Err(Error::JobNotFound.into())
    }
}

/// Reads `listFiles`' options (absent, `undefined` or `null` for none) into the query
/// string (`""` or `?...`), checked by the server's own query parser.
pub(crate) fn list_query(value: JsValue) -> Result<String, ClientError> {
    let opts: Option<ListOptions> = read(value, "expected { uploadPath?, limit?, cursor?, order?, signal? }", LIST_KEYS)?;
    query_string(&opts.unwrap_or_default())
}

fn query_string(opts: &ListOptions) -> Result<String, ClientError> {
    let limit = opts.limit.map(|n| n.to_string());
    let pairs: Vec<(&str, &str)> = [
        ("upload_path", opts.upload_path.as_deref()),
        ("limit", limit.as_deref()),
        ("cursor", opts.cursor.as_deref().filter(|c| !c.is_empty())),
        ("order", opts.order.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect();
    parse_list_query(pairs.iter().copied())?;
    if pairs.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn opts(file_url: &str, upload_path: Option<&str>, file_name: Option<&str>) -> UploadOptions {
        UploadOptions {
            file_url: file_url.into(),
            upload_path: upload_path.map(Into::into),
            file_name: file_name.map(Into::into),
            expected_sha256: None,
            expires_in: None,
            max_downloads: None,
            private: None,
            origin_headers: None,
            callback_url: None,
            idempotency_key: None,
        }
    }

    #[test]
    fn an_unknown_option_is_named_with_what_it_was_probably_meant_to_be() {
        assert_eq!(hint("max_downloads", UPLOAD_KEYS), " (did you mean `maxDownloads`?)");
        assert_eq!(hint("expires_in", LINK_KEYS), " (did you mean `expiresIn`?)");
        assert_eq!(hint("upload-path", LIST_KEYS), " (did you mean `uploadPath`?)");
        assert_eq!(hint("callbackUrl", UPLOAD_KEYS), " (a callback is for a background job: startUpload)");
        assert_eq!(hint("callback_url", UPLOAD_KEYS), " (a callback is for a background job: startUpload)");
        assert_eq!(hint("callback_url", JOB_KEYS), " (did you mean `callbackUrl`?)");
        assert_eq!(hint("idempotency_key", UPLOAD_KEYS), " (did you mean `idempotencyKey`?)");
        assert_eq!(hint("idempotency_key", JOB_KEYS), " (did you mean `idempotencyKey`?)");
        for own in ["idempotencyKey", "signal"] {
            assert_eq!(hint(own, ITEM_KEYS), " (the batch's own: uploadFromUrls(items, { idempotencyKey, signal }))");
        }
        assert_eq!(ITEM_KEYS, &UPLOAD_KEYS[..8]);
        assert_eq!(hint("idempotencyKey", LINK_KEYS), "");
        assert_eq!(hint("colour", UPLOAD_KEYS), "");
        assert!(hint("originHeaders", JOB_KEYS).contains("uploadFromUrl"));
        // every key an options struct reads is known: JOB_KEYS is UPLOAD_KEYS but the origin
        // headers, and the callback
        let mut job: Vec<&str> = UPLOAD_KEYS.iter().copied().filter(|k| *k != "originHeaders").collect();
        job.insert(job.len() - 2, "callbackUrl");
        assert_eq!(JOB_KEYS, job.as_slice());
    }

    #[test]
    fn bodies_use_wire_names_and_leave_out_absent_options() {
        let cases = [
            (opts("https://x.test/a.png", None, None), r#"{"file_url":"https://x.test/a.png"}"#),
            (opts("https://x.test/a.png", Some("a/b"), Some("c.png")), r#"{"file_url":"https://x.test/a.png","upload_path":"a/b","file_name":"c.png"}"#),
            (opts("https://x.test/a.png", None, Some("")), r#"{"file_url":"https://x.test/a.png"}"#),
        ];
        for (o, want) in cases {
            assert_eq!(body_json(&o).unwrap(), want);
        }
    }

    #[test]
    fn bad_options_get_the_servers_error() {
        let cases: [(UploadOptions, u16, &str); 5] = [
            (opts("", None, None), 400, "missing required field `file_url`"),
            (opts("ftp://x.test/a.png", None, None), 400, "scheme `ftp` is not allowed"),
            (opts("https://u:p@x.test/a.png", None, None), 400, "credentials in the URL are not allowed"),
            (opts("https://x.test/a.png", Some("../etc"), None), 400, "invalid `upload_path`"),
            (opts("https://x.test/a.png", None, Some("a/b.png")), 400, "invalid `file_name`"),
        ];
        for (o, status, msg) in cases {
            match body_json(&o) {
                Err(ClientError::Invalid(err)) => {
                    assert_eq!(err.status(), status, "{msg}");
                    assert!(err.public_message().contains(msg), "{}", err.public_message());
                }
                other => panic!("{msg}: {other:?}"),
            }
        }
        // Not a URL to the parser: sent, for the server's parser to answer.
        assert!(body_json(&opts("x.test/a.png", None, None)).is_ok());
    }

    #[test]
    fn keys_are_checked_by_the_bearer_parser() {
        assert_eq!(authorization(" k-1 ").unwrap(), "Bearer k-1");
        for blank in ["", "   "] {
            match authorization(blank) {
                Err(ClientError::Invalid(err)) => assert_eq!(err.status(), 401),
                other => panic!("{blank:?}: {other:?}"),
            }
        }
        // A header the browser would refuse (fetch would throw out of the client): the
        // server's answer to a key it does not know, at once.
        for odd in ["us_abc\u{200b}", "us_ключ", "us_a\nb", "us_a\u{0}"] {
            match authorization(odd) {
                Err(ClientError::Invalid(err)) => assert_eq!((err.status(), err.public_message().as_str()), (401, "invalid API key"), "{odd:?}"),
                other => panic!("{odd:?}: {other:?}"),
            }
        }
        // One the browser sends: the server's own words for a key with a space in it.
        for spaced in ["us_a b", "us_a\tb", "Bearer us_abc"] {
            match authorization(spaced) {
                Err(ClientError::Invalid(err)) => assert_eq!(
                    (err.status(), err.public_message().as_str()),
                    (401, "malformed Authorization header (expected: Bearer KEY, a key without spaces)"),
                    "{spaced:?}"
                ),
                other => panic!("{spaced:?}: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use crate::core::authority_wire::{Order, PageQuery, SortKey};
    use crate::core::listing::encode_cursor;
    use crate::core::batch::MAX_ITEMS;

    fn item(file_url: &str) -> UploadOptions {
        super::tests::opts(file_url, None, None)
    }

    #[test]
    fn link_and_origin_options_go_out_in_wire_names_and_are_checked_like_the_server() {
        let headers = BTreeMap::from([("X-Token".to_owned(), "t".to_owned())]);
        let opts = UploadOptions {
            expires_in: Some(60.0),
            max_downloads: Some(1.0),
            private: Some(true),
            origin_headers: Some(headers),
            ..item("https://x.test/a.png")
        };
        assert_eq!(
            body_json(&opts).unwrap(),
            r#"{"file_url":"https://x.test/a.png","expires_in":60,"max_downloads":1,"private":true,"origin_headers":{"X-Token":"t"}}"#
        );
        for (bad, field) in [
            (UploadOptions { expires_in: Some(60.5), ..item("https://x.test/a") }, "expires_in"),
            (UploadOptions { expires_in: Some(59.0), ..item("https://x.test/a") }, "expires_in"),
            (UploadOptions { max_downloads: Some(0.0), ..item("https://x.test/a") }, "max_downloads"),
            (UploadOptions { origin_headers: Some(BTreeMap::from([("Host".to_owned(), "h".to_owned())])), ..item("https://x.test/a") }, "origin_headers"),
        ] {
            match body_json(&bad) {
                Err(ClientError::Invalid(err)) => assert_eq!((err.status(), err.field()), (400, Some(field))),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn batches_send_the_valid_items_and_answer_the_others_in_place() {
        let p = plan(&[item("https://x.test/a.png"), item("ftp://x.test/b"), item("https://x.test/c.png")], false).unwrap();
        assert_eq!(p.body.as_deref(), Some(r#"{"items":[{"file_url":"https://x.test/a.png"},{"file_url":"https://x.test/c.png"}]}"#));
        assert!(p.refused[0].is_none() && p.refused[2].is_none());
        let refused = p.refused[1].as_ref().unwrap();
        assert_eq!((refused.success, refused.code), (false, 400));
        assert!(refused.msg.contains("scheme `ftp` is not allowed"), "{}", refused.msg);

        // an item over a single upload body's 16 KiB is refused alone, as the server would
        let headers: BTreeMap<String, String> = ["a", "b", "c", "d", "e"].iter().map(|h| (format!("X-{h}"), "v".repeat(4000))).collect();
        let big = UploadOptions { origin_headers: Some(headers), ..item("https://x.test/big.png") };
        let p = plan(&[big, item("https://x.test/a.png")], false).unwrap();
        assert_eq!(p.body.as_deref(), Some(r#"{"items":[{"file_url":"https://x.test/a.png"}]}"#));
        let refused = p.refused[0].as_ref().unwrap();
        assert_eq!((refused.code, refused.msg.as_str()), (413, "request body exceeds 16384 bytes"));

        let none = plan(&[item("")], false).unwrap();
        assert_eq!(none.body, None);
        assert_eq!(none.refused[0].as_ref().unwrap().msg, "missing required field `file_url`");

        let full: Vec<UploadOptions> = (0..MAX_ITEMS).map(|_| item("https://x.test/a")).collect();
        assert_eq!(plan(&full, false).unwrap().refused.len(), MAX_ITEMS);
        let over: Vec<UploadOptions> = (0..=MAX_ITEMS).map(|_| item("https://x.test/a")).collect();
        for (items, keyed) in [(&over[..], false), (&over[..], true), (&[][..], false)] {
            match plan(items, keyed) {
                Err(ClientError::Invalid(err)) => {
                    assert_eq!(err.status(), 400);
                    assert!(err.public_message().contains("must hold 1 to 20 uploads"), "{err}");
                }
                other => panic!("{}: {other:?}", items.len()),
            }
        }
    }

    #[test]
    fn a_keyed_batch_goes_whole_so_every_item_keeps_its_place() {
        let items = [item("https://x.test/a.png"), item("ftp://x.test/b"), item("https://x.test/c.png")];
        let p = plan(&items, true).unwrap();
        let sent = r#"{"items":[{"file_url":"https://x.test/a.png"},{"file_url":"ftp://x.test/b"},{"file_url":"https://x.test/c.png"}]}"#;
        assert_eq!(p.body.as_deref(), Some(sent));
        assert!(p.refused.iter().all(Option::is_none), "the server answers every item");
        // nothing to send: answered here, as without a key
        let none = plan(&[item(""), item("ftp://x.test/b")], true).unwrap();
        assert_eq!(none.body, None);
        assert!(none.refused.iter().all(Option::is_some));
    }

    #[test]
    fn file_ids_are_checked_by_the_servers_shape_test() {
        assert_eq!(file_id("file_0123456789abcdef0123456789abcdef").unwrap(), "file_0123456789abcdef0123456789abcdef");
        for bad in ["", "file_x", "../admin", "file_0123456789abcdef0123456789abcdef/x", "FILE_0123456789abcdef0123456789abcdef"] {
            match file_id(bad) {
                Err(ClientError::Invalid(err)) => assert_eq!((err.status(), err.public_message().as_str()), (404, "file not found, deleted, expired or past its download limit")),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn list_queries_use_wire_names_and_the_servers_checks() {
        let q = |upload_path: Option<&str>, limit: Option<f64>, cursor: Option<&str>| {
            query_string(&ListOptions { upload_path: upload_path.map(Into::into), limit, cursor: cursor.map(Into::into), order: None })
        };
        let ordered = |order: &str| {
            query_string(&ListOptions { upload_path: None, limit: None, cursor: None, order: Some(order.into()) })
        };
        assert_eq!(ordered("upload_time").unwrap(), "?order=upload_time");
        assert_eq!(q(None, None, None).unwrap(), "");
        assert_eq!(q(None, None, Some("")).unwrap(), "");
        assert_eq!(q(Some("a_b/c"), Some(20.0), None).unwrap(), "?upload_path=a_b%2Fc&limit=20");
        let last = SortKey::Name { upload_path: "img".into(), file_name: "a.png".into() };
        let cursor = encode_cursor(&last, &PageQuery { upload_path: Some("img".into()), order: Order::Name, after: None, limit: 1 });
        assert_eq!(q(Some("img"), None, Some(&cursor)).unwrap(), format!("?upload_path=img&cursor={cursor}"));
        let cases = [
            (q(None, Some(0.0), None), "invalid `limit`"),
            (q(None, Some(1.5), None), "invalid `limit`"),
            (q(None, Some(101.0), None), "invalid `limit`"),
            (q(Some("../x"), None, None), "invalid `upload_path`"),
            (q(None, None, Some("nope!")), "invalid `cursor`"),
            (q(Some("other"), None, Some(&cursor)), "invalid `cursor`"),
            (ordered("size"), "invalid `order`"),
        ];
        for (got, msg) in cases {
            match got {
                Err(ClientError::Invalid(err)) => {
                    assert_eq!(err.status(), 400, "{msg}");
                    assert!(err.public_message().contains(msg), "{}", err.public_message());
                }
                other => panic!("{msg}: {other:?}"),
            }
        }
    }
}
