//! The browser client in headless Chromium (wasm-bindgen-test), against a local Worker.
//! The harness (tests/browser/wasm.test.mjs) starts the Worker and a loopback origin and
//! passes them at compile time: URLSTASH_WORKER_URL, URLSTASH_PNG_URL, URLSTASH_PNG_SHA256.
#![cfg(all(target_arch = "wasm32", feature = "client"))]

use js_sys::{Reflect, JSON};
use sha2::{Digest, Sha256};
use urlstash::client::UploadClient;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/url_cases.rs"]
mod url_cases;

const WORKER: Option<&str> = option_env!("URLSTASH_WORKER_URL");
const PNG_URL: Option<&str> = option_env!("URLSTASH_PNG_URL");
const PNG_SHA256: Option<&str> = option_env!("URLSTASH_PNG_SHA256");
/// A URL on the same origin that answers 404 (the batch's failing item).
const MISSING_URL: Option<&str> = option_env!("URLSTASH_MISSING_URL");
/// A key the harness seeds (tests/http/support/worker.mjs KEYS.a).
const KEY: &str = "test-key-alpha";

fn env(value: Option<&'static str>, name: &str) -> &'static str {
    value.unwrap_or_else(|| panic!("{name} not set: run through tests/browser/wasm.test.mjs"))
}

fn js(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON")
}

fn client(base: &str, key: &str) -> UploadClient {
    let options = serde_json::json!({ "baseUrl": base, "apiKey": key }).to_string();
    UploadClient::new(js(&options)).expect("client options")
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).expect("property")
}

fn string(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_else(|| panic!("{key} is not a string: {value:?}"))
}

fn number(value: &JsValue, key: &str) -> f64 {
    get(value, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number: {value:?}"))
}

async fn upload_err(client: &UploadClient, options: &str) -> JsValue {
    match JsFuture::from(client.upload_from_url(js(options))).await {
        Ok(data) => panic!("expected a rejection, got {data:?}"),
        Err(err) => {
            assert!(err.is_instance_of::<js_sys::Error>(), "rejects with an Error: {err:?}");
            assert_eq!(string(&err, "name"), "UploadError");
            err
        }
    }
}

async fn rejection(promise: js_sys::Promise) -> JsValue {
    match JsFuture::from(promise).await {
        Ok(data) => panic!("expected a rejection, got {data:?}"),
        Err(err) => {
            assert_eq!(string(&err, "name"), "UploadError");
            err
        }
    }
}

/// Compares two JS values as JSON (same keys in the same order).
fn json_of(value: &JsValue) -> String {
    JSON::stringify(value).expect("stringify").as_string().expect("string")
}

async fn sha256_of(url: &str) -> (u16, String) {
    let res = gloo_net::http::Request::get(url).send().await.expect("fetch served file");
    let bytes = res.binary().await.expect("body");
    (res.status(), Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

#[wasm_bindgen_test]
async fn health_is_true_for_the_worker_and_false_for_nothing() {
    let up = JsFuture::from(client(env(WORKER, "URLSTASH_WORKER_URL"), KEY).health()).await.unwrap();
    assert_eq!(up.as_bool(), Some(true));
    let down = JsFuture::from(client("http://127.0.0.1:1", KEY).health()).await.unwrap();
    assert_eq!(down.as_bool(), Some(false));
}

#[wasm_bindgen_test]
async fn upload_succeeds_and_the_links_serve_the_origin_bytes() {
    let client = client(env(WORKER, "URLSTASH_WORKER_URL"), KEY);
    let options = serde_json::json!({
        "fileUrl": env(PNG_URL, "URLSTASH_PNG_URL"),
        "uploadPath": "wasm/tests",
        "fileName": "gradient.png",
    });
    let data = JsFuture::from(client.upload_from_url(js(&options.to_string()))).await.expect("upload resolves");
    assert_eq!(string(&data, "file_name"), "gradient.png");
    assert_eq!(string(&data, "upload_path"), "wasm/tests");
    assert_eq!(string(&data, "mime_type"), "image/png");
    assert!(string(&data, "file_id").starts_with("file_"));
    assert!(number(&data, "file_size") > 0.0);
    for key in ["original_name", "upload_time", "expires_at"] {
        assert!(!string(&data, key).is_empty(), "{key}");
    }
    for key in ["file_url", "download_url"] {
        let (status, sha) = sha256_of(&string(&data, key)).await;
        assert_eq!(status, 200, "{key}");
        assert_eq!(sha, env(PNG_SHA256, "URLSTASH_PNG_SHA256"), "{key} serves the origin's bytes");
    }
}

#[wasm_bindgen_test]
async fn a_wrong_key_rejects_with_the_servers_401() {
    let client = client(env(WORKER, "URLSTASH_WORKER_URL"), "not-a-key");
    let err = upload_err(&client, &format!(r#"{{"fileUrl":"{}"}}"#, env(PNG_URL, "URLSTASH_PNG_URL"))).await;
    assert_eq!(number(&err, "status"), 401.0);
    assert_eq!(number(&err, "code"), 401.0);
    assert_eq!(string(&err, "message"), "invalid API key");
    assert_eq!(string(&err, "field"), "apiKey");
}

#[wasm_bindgen_test]
async fn bad_inputs_are_refused_before_sending() {
    // An unreachable base: a request would fail with status 0, so 400/401 prove none was sent.
    let client_ = client("http://127.0.0.1:1", KEY);
    let err = upload_err(&client_, r#"{"fileUrl":"ftp://example.com/a.png"}"#).await;
    assert_eq!(number(&err, "status"), 400.0);
    assert_eq!(number(&err, "code"), 400.0);
    assert!(string(&err, "message").contains("scheme `ftp` is not allowed"), "{err:?}");
    assert_eq!(string(&err, "field"), "fileUrl");

    let err = upload_err(&client_, r#"{"fileUrl":"https://example.com/a.png","uploadPath":"../up"}"#).await;
    assert_eq!(number(&err, "status"), 400.0);
    assert_eq!(string(&err, "field"), "uploadPath");

    let err = upload_err(&client("http://127.0.0.1:1", "  "), r#"{"fileUrl":"https://example.com/a.png"}"#).await;
    assert_eq!(number(&err, "status"), 401.0);
    assert!(string(&err, "message").starts_with("missing API key"), "{err:?}");
    assert_eq!(string(&err, "field"), "apiKey");

    let err = upload_err(&client_, r#"{"file_url":"https://example.com/a.png"}"#).await;
    assert_eq!(number(&err, "status"), 0.0);
    assert!(string(&err, "message").starts_with("invalid options"), "{err:?}");

    // An option the method does not take is refused, never dropped: a snake_case
    // max_downloads left out would make a file anyone may download without limit.
    for (options, named) in [
        (r#"{"fileUrl":"https://example.com/a.png","max_downloads":1}"#, "unknown option `max_downloads` (did you mean `maxDownloads`?)"),
        (r#"{"fileUrl":"https://example.com/a.png","callbackUrl":"https://example.com/hook"}"#, "unknown option `callbackUrl` (a callback is for a background job: startUpload)"),
    ] {
        let err = upload_err(&client_, options).await;
        assert_eq!((number(&err, "status"), get(&err, "field")), (0.0, JsValue::NULL), "{options}");
        assert!(string(&err, "message").contains(named), "{err:?}");
    }
}

#[wasm_bindgen_test]
async fn an_unreachable_server_rejects_with_status_0() {
    let client = client("http://127.0.0.1:1", KEY);
    let err = upload_err(&client, r#"{"fileUrl":"https://example.com/a.png"}"#).await;
    assert_eq!(number(&err, "status"), 0.0);
    assert_eq!(number(&err, "code"), 0.0);
    assert!(string(&err, "message").starts_with("network error"), "{err:?}");
    assert!(get(&err, "field").is_null());
}

#[wasm_bindgen_test]
fn a_bad_base_url_throws() {
    let cases = [
        ("files.example.com", "invalid options: baseUrl is not an absolute URL"),
        ("https://files.example.com:99999", "invalid options: baseUrl is not an absolute URL"),
        ("ftp://files.example.com", "invalid options: baseUrl must be an http or https URL"),
    ];
    for (base, msg) in cases {
        let options = serde_json::json!({ "baseUrl": base, "apiKey": "k" }).to_string();
        let err = UploadClient::new(js(&options)).err().expect("throws");
        assert_eq!(string(&err, "name"), "UploadError");
        assert_eq!(number(&err, "status"), 0.0);
        assert_eq!(string(&err, "message"), msg);
    }
    assert_eq!(client(" HTTPS://Files.Example.com/api/ ", KEY).base_url(), "https://files.example.com/api");
}

#[wasm_bindgen_test]
async fn options_of_the_wrong_type_are_said_in_javascripts_words() {
    // no options at all: what the constructor takes, not the Rust struct it reads them into
    let err = UploadClient::new(JsValue::UNDEFINED).err().expect("throws");
    assert_eq!(string(&err, "message"), "invalid options: expected { baseUrl, apiKey }");
    let err = upload_err(&client("http://127.0.0.1:1", KEY), r#"{"fileUrl":"https://example.com/a.png","expiresIn":"60"}"#).await;
    let message = string(&err, "message");
    assert!(message.ends_with(r#": invalid type: string "60", expected a number"#), "{message}");
    assert_eq!(number(&err, "status"), 0.0);
}

/// What the client did with a `file_url`: refused it before sending (status, message), or
/// sent it (`None`; the base is unreachable, so sending ends in a network error).
async fn client_verdict(client: &UploadClient, raw: &str) -> Option<(f64, String, Option<String>)> {
    let err = upload_err(client, &serde_json::json!({ "fileUrl": raw }).to_string()).await;
    let got = (number(&err, "status"), string(&err, "message"), get(&err, "field").as_string());
    (!(got.0 == 0.0 && got.1.starts_with("network error"))).then_some(got)
}

/// The browser's `URL` against the server's `url` crate on the shared table (checked against
/// `core` on the host): what the syntax rules refuse on a URL is refused before sending with
/// the server's message and field; what the server accepts is sent; a string the server's
/// parser refuses is sent for it to answer, or refused by a rule on what Chromium read of
/// it (`file://a b/`: Chromium reads a `file:` URL, the `url` crate no URL).
#[wasm_bindgen_test]
async fn file_urls_get_the_servers_syntax_verdict() {
    let client = client("http://127.0.0.1:1", KEY);
    let long = format!("https://x.test/{}", "a".repeat(2048));
    let too_long = Some("invalid `file_url`: must be at most 2048 characters");
    let cases = url_cases::FILE_URL_CASES.iter().map(|(raw, want)| (raw.to_string(), *want)).chain([(long, too_long)]);
    let (mut wrong, mut left_to_server, mut other_words) = (Vec::new(), 0, 0);
    for (raw, want) in cases {
        let got = client_verdict(&client, &raw).await;
        let parse_error = want.is_some_and(|m| m.starts_with("invalid `file_url`: not a valid URL"));
        match (&got, want) {
            (None, None) => {}
            (None, Some(_)) if parse_error => left_to_server += 1,
            (Some(got), Some(msg)) if *got == (400.0, msg.to_owned(), Some("fileUrl".to_owned())) => {}
            (Some((status, _, Some(field))), Some(_)) if parse_error && *status == 400.0 && field == "fileUrl" => other_words += 1,
            _ => wrong.push(format!("{raw:?}: got {got:?}, want {want:?}")),
        }
    }
    for raw in url_cases::IDNA_DATA_CASES {
        if let Some(got) = client_verdict(&client, raw).await {
            wrong.push(format!("{raw:?}: refused before sending ({got:?}); the server's IDNA decides"));
        }
    }
    console_log!("{left_to_server} table file_urls left to the server's parser, {other_words} refused by a rule on what Chromium read");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `file_url`s made of the shared pieces of URL syntax: the client never refuses one the
/// server (`core` with the `url` crate, compiled into this test) accepts, and refuses with
/// the server's message unless the server's parser refuses a string the browser reads.
#[wasm_bindgen_test]
async fn generated_file_urls_are_never_refused_where_the_server_accepts_them() {
    use urlstash::core::url_policy::parse_file_url_syntax;
    const CASES: usize = 10_000;
    let client = client("http://127.0.0.1:1", KEY);
    let prefixes = ["http://", "https://", "HTTP:", "http:\\\\", "file://", "foo://", ""];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let (mut wrong, mut refused, mut other_words) = (Vec::new(), 0, 0);
    for _ in 0..CASES {
        let mut raw = prefixes[next(prefixes.len())].to_owned();
        for _ in 0..1 + next(7) {
            raw.push_str(url_cases::URL_PIECES[next(url_cases::URL_PIECES.len())]);
        }
        let want = parse_file_url_syntax(&raw).err().map(|e| e.public_message());
        let Some(got) = client_verdict(&client, &raw).await else { continue };
        refused += 1;
        match &want {
            Some(msg) if got.0 == 400.0 && got.1 == *msg => {}
            Some(msg) if got.0 == 400.0 && msg.starts_with("invalid `file_url`: not a valid URL") => other_words += 1,
            _ => wrong.push(format!("{raw:?}: got {got:?}, want {want:?}")),
        }
    }
    console_log!("{refused} of {CASES} generated file_urls refused before sending, {other_words} in other words than the server's parser");
    assert!(refused > CASES / 10, "the client refuses something ({refused})");
    assert!(wrong.is_empty(), "{} of {CASES}:\n{}", wrong.len(), wrong.join("\n"));
}

/// Every method of the client against the Worker, in one flow on a fresh folder:
/// upload, getFile, listFiles, usage, deleteFile (then getFile is a 404), and a batch.
#[wasm_bindgen_test]
async fn file_management_methods_round_trip_through_the_worker() {
    let client = client(env(WORKER, "URLSTASH_WORKER_URL"), KEY);
    let before = JsFuture::from(client.usage(JsValue::UNDEFINED)).await.expect("usage resolves");
    assert!(string(&before, "key_id").starts_with("k_"), "{before:?}");
    for key in ["bytes", "files", "reserved_bytes", "reserved_files", "max_bytes", "max_files"] {
        assert!(number(&before, key) >= 0.0, "{key}");
    }

    let options = serde_json::json!({ "fileUrl": env(PNG_URL, "URLSTASH_PNG_URL"), "uploadPath": "wasm/manage", "fileName": "m.png" });
    let uploaded = JsFuture::from(client.upload_from_url(js(&options.to_string()))).await.expect("upload resolves");
    let file_id = string(&uploaded, "file_id");

    let info = JsFuture::from(client.get_file(file_id.clone().into(), JsValue::UNDEFINED)).await.expect("getFile resolves");
    assert_eq!(json_of(&info), json_of(&uploaded), "getFile answers the upload's FileData");

    let page = JsFuture::from(client.list_files(js(r#"{"uploadPath":"wasm/manage","limit":10}"#))).await.expect("listFiles resolves");
    let files: js_sys::Array = get(&page, "files").dyn_into().expect("files is an array");
    let listed: Vec<String> = files.iter().map(|f| string(&f, "file_id")).collect();
    assert!(listed.contains(&file_id), "{listed:?}");
    assert!(get(&page, "cursor").is_null());
    let all = JsFuture::from(client.list_files(JsValue::UNDEFINED)).await.expect("listFiles() resolves");
    assert!(js_sys::Array::is_array(&get(&all, "files")));

    let after = JsFuture::from(client.usage(JsValue::UNDEFINED)).await.expect("usage resolves");
    assert_eq!(number(&after, "files"), number(&before, "files") + 1.0);
    assert_eq!(number(&after, "bytes"), number(&before, "bytes") + number(&uploaded, "file_size"));

    // a public file's links, minted: its plain links as they are, until it expires
    let links = JsFuture::from(client.mint_links(file_id.clone().into(), JsValue::UNDEFINED)).await.expect("mintLinks resolves");
    for key in ["file_id", "file_url", "download_url", "expires_at"] {
        assert_eq!(string(&links, key), string(&uploaded, key), "{key}");
    }

    // a later file under the same path: newest first in upload_time order, by name otherwise
    let later = serde_json::json!({ "fileUrl": env(PNG_URL, "URLSTASH_PNG_URL"), "uploadPath": "wasm/manage", "fileName": "z.png" });
    let later = JsFuture::from(client.upload_from_url(js(&later.to_string()))).await.expect("upload resolves");
    let ids = |page: &JsValue| -> Vec<String> {
        let files: js_sys::Array = get(page, "files").dyn_into().expect("files is an array");
        files.iter().map(|f| string(&f, "file_id")).collect()
    };
    let newest = JsFuture::from(client.list_files(js(r#"{"uploadPath":"wasm/manage","order":"upload_time"}"#))).await.expect("listFiles resolves");
    assert_eq!(ids(&newest), [string(&later, "file_id"), file_id.clone()], "newest first");
    let by_name = JsFuture::from(client.list_files(js(r#"{"uploadPath":"wasm/manage"}"#))).await.expect("listFiles resolves");
    assert_eq!(ids(&by_name), [file_id.clone(), string(&later, "file_id")], "m.png before z.png");
    let later_deleted = JsFuture::from(client.delete_file(string(&later, "file_id").into(), JsValue::UNDEFINED)).await.expect("deleteFile resolves");
    assert_eq!(get(&later_deleted, "deleted").as_bool(), Some(true));

    let deleted = JsFuture::from(client.delete_file(file_id.clone().into(), JsValue::UNDEFINED)).await.expect("deleteFile resolves");
    assert_eq!(string(&deleted, "file_id"), file_id);
    assert_eq!(get(&deleted, "deleted").as_bool(), Some(true));
    let gone = rejection(client.get_file(file_id.clone().into(), JsValue::UNDEFINED)).await;
    assert_eq!(number(&gone, "status"), 404.0);
    assert_eq!(number(&gone, "code"), 404.0);
    assert!(get(&gone, "field").is_null());
    let (status, _) = sha256_of(&string(&uploaded, "download_url")).await;
    assert_eq!(status, 404, "the link is gone too");
    let usage = JsFuture::from(client.usage(JsValue::UNDEFINED)).await.expect("usage resolves");
    assert_eq!((number(&usage, "files"), number(&usage, "bytes")), (number(&before, "files"), number(&before, "bytes")), "the quota given back");
}

/// A private file's links, minted again for a shorter life: signed, and serving its bytes.
#[wasm_bindgen_test]
async fn links_are_minted_for_a_private_file_and_serve_its_bytes() {
    let client = client(env(WORKER, "URLSTASH_WORKER_URL"), KEY);
    let options = serde_json::json!({ "fileUrl": env(PNG_URL, "URLSTASH_PNG_URL"), "uploadPath": "wasm/private", "fileName": "p.png", "private": true });
    let uploaded = JsFuture::from(client.upload_from_url(js(&options.to_string()))).await.expect("upload resolves");
    let file_id = string(&uploaded, "file_id");
    let before = js_sys::Date::now();
    let links = JsFuture::from(client.mint_links(file_id.clone().into(), js(r#"{"expiresIn":600}"#))).await.expect("mintLinks resolves");
    let after = js_sys::Date::now();
    assert_eq!(string(&links, "file_id"), file_id);
    // 600 s from when the Worker minted them, in whole seconds
    let expires = js_sys::Date::parse(&string(&links, "expires_at"));
    assert!((before + 599_000.0..=after + 601_000.0).contains(&expires), "expires 600 s after it was minted: {expires} ms, minted in [{before}, {after}]");
    for key in ["file_url", "download_url"] {
        let url = string(&links, key);
        assert!(url.contains("exp=") && url.contains("&sig="), "{key} is signed: {url}");
        let (status, sha) = sha256_of(&url).await;
        assert_eq!((status, sha.as_str()), (200, env(PNG_SHA256, "URLSTASH_PNG_SHA256")), "{key}");
        let unsigned = url.split('?').next().unwrap().to_owned();
        assert_ne!(sha256_of(&unsigned).await.0, 200, "{key} without its signature");
    }
}

#[wasm_bindgen_test]
async fn a_batch_answers_every_item_in_order() {
    let client = client(env(WORKER, "URLSTASH_WORKER_URL"), KEY);
    let items = serde_json::json!([
        { "fileUrl": env(PNG_URL, "URLSTASH_PNG_URL"), "uploadPath": "wasm/batch", "fileName": "b.png" },
        { "fileUrl": env(MISSING_URL, "URLSTASH_MISSING_URL") },
        { "fileUrl": "ftp://example.com/c.png" },
    ]);
    let batch = JsFuture::from(client.upload_from_urls(js(&items.to_string()), JsValue::UNDEFINED)).await.expect("batch resolves");
    assert_eq!((number(&batch, "succeeded"), number(&batch, "failed")), (1.0, 2.0));
    assert!(get(&batch, "retryAfter").is_null(), "no item was refused for a reason that passes");
    let results: js_sys::Array = get(&batch, "results").dyn_into().expect("results is an array");
    assert_eq!(results.length(), 3);
    let first = results.get(0);
    assert_eq!(get(&first, "success").as_bool(), Some(true));
    assert_eq!(string(&get(&first, "data"), "file_name"), "b.png");
    let (status, sha) = sha256_of(&string(&get(&first, "data"), "download_url")).await;
    assert_eq!((status, sha.as_str()), (200, env(PNG_SHA256, "URLSTASH_PNG_SHA256")));
    let second = results.get(1);
    assert_eq!((get(&second, "success").as_bool(), number(&second, "code")), (Some(false), 502.0));
    assert_eq!(string(&second, "msg"), "origin responded with HTTP 404");
    assert!(get(&second, "data").is_null());
    // Refused before sending, answered in place with the server's own message.
    let third = results.get(2);
    assert_eq!((get(&third, "success").as_bool(), number(&third, "code")), (Some(false), 400.0));
    assert!(string(&third, "msg").contains("scheme `ftp` is not allowed"), "{third:?}");
}

#[wasm_bindgen_test]
async fn new_methods_refuse_bad_inputs_before_sending() {
    // An unreachable base: a request would fail with status 0, so 400/404 prove none was sent.
    let client = client("http://127.0.0.1:1", KEY);
    let err = rejection(client.get_file("file_../../x".into(), JsValue::UNDEFINED)).await;
    assert_eq!((number(&err, "status"), string(&err, "message")), (404.0, "file not found, deleted, expired or past its download limit".into()));
    let err = rejection(client.delete_file("nope".into(), JsValue::UNDEFINED)).await;
    assert_eq!(number(&err, "status"), 404.0);
    // The id before the key, as the server's routing: a malformed id is 404 whatever the key;
    // a key with a space in it gets the server's words.
    let keyless = self::client("http://127.0.0.1:1", "");
    assert_eq!(number(&rejection(keyless.get_file("nope".into(), JsValue::UNDEFINED)).await, "status"), 404.0);
    assert_eq!(number(&rejection(keyless.cancel_job("job_nope".into(), JsValue::UNDEFINED)).await, "status"), 404.0);
    assert_eq!(number(&rejection(keyless.get_file("file_0123456789abcdef0123456789abcdef".into(), JsValue::UNDEFINED)).await, "status"), 401.0);
    let spaced = rejection(self::client("http://127.0.0.1:1", "Bearer us_abc").usage(JsValue::UNDEFINED)).await;
    assert_eq!(
        (number(&spaced, "status"), string(&spaced, "message")),
        (401.0, "malformed Authorization header (expected: Bearer KEY, a key without spaces)".to_owned())
    );
    let err = rejection(client.list_files(js(r#"{"limit":0}"#))).await;
    assert_eq!(number(&err, "status"), 400.0);
    assert!(string(&err, "message").contains("invalid `limit`"), "{err:?}");
    let err = rejection(client.list_files(js(r#"{"uploadPath":"../x"}"#))).await;
    assert_eq!(string(&err, "field"), "uploadPath");
    let err = rejection(client.upload_from_urls(js("[]"), JsValue::UNDEFINED)).await;
    assert_eq!(number(&err, "status"), 400.0);
    assert!(string(&err, "message").contains("must hold 1 to 20 uploads"), "{err:?}");
    let err = rejection(client.upload_from_urls(js(r#"{"fileUrl":"https://example.com/a"}"#), JsValue::UNDEFINED)).await;
    assert_eq!(number(&err, "status"), 0.0);
    // options the methods do not take: refused by name, nothing sent
    let unknown = [
        (rejection(client.list_files(js(r#"{"upload_path":"pics"}"#))).await, "`upload_path` (did you mean `uploadPath`?)"),
        (rejection(client.mint_links("file_0123456789abcdef0123456789abcdef".into(), js(r#"{"expires_in":600}"#))).await, "`expires_in` (did you mean `expiresIn`?)"),
        (rejection(client.upload_from_urls(js(r#"[{"fileUrl":"https://example.com/a"},{"fileUrl":"https://example.com/b","expires_in":60}]"#), JsValue::UNDEFINED)).await, "`expires_in` (did you mean `expiresIn`?)"),
        (rejection(client.start_upload(js(r#"{"fileUrl":"https://example.com/a","originHeaders":{"Authorization":"Bearer t"}}"#))).await, "`originHeaders` (a background job would have to store them"),
        (rejection(client.wait_for_job("job_0123456789abcdef0123456789abcdef".into(), js(r#"{"interval_ms":100}"#))).await, "`interval_ms` (did you mean `intervalMs`?)"),
        (rejection(client.wait_for_job("job_0123456789abcdef0123456789abcdef".into(), js(r#"{"onprogress":null}"#))).await, "`onprogress`"),
    ];
    for (err, named) in unknown {
        assert_eq!(number(&err, "status"), 0.0, "{err:?}");
        assert!(string(&err, "message").contains(&format!("unknown option {named}")), "{err:?}");
    }
    let err = rejection(client.usage(JsValue::UNDEFINED)).await;
    assert_eq!(number(&err, "status"), 0.0, "usage has nothing to check: it reaches the network");
    // Every item refused: nothing to send, so the unreachable base does not matter.
    let batch = JsFuture::from(client.upload_from_urls(js(r#"[{"fileUrl":"ftp://x.test/a"}]"#), JsValue::UNDEFINED)).await.expect("resolves");
    assert_eq!((number(&batch, "succeeded"), number(&batch, "failed")), (0.0, 1.0));
}

#[wasm_bindgen_test]
async fn a_background_job_is_started_watched_and_answered() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;

    let client = client(env(WORKER, "URLSTASH_WORKER_URL"), KEY);
    let options = serde_json::json!({ "fileUrl": env(PNG_URL, "URLSTASH_PNG_URL"), "uploadPath": "wasm/jobs", "fileName": "job.png" });
    let job = JsFuture::from(client.start_upload(js(&options.to_string()))).await.expect("startUpload resolves");
    let job_id = string(&job, "job_id");
    assert!(job_id.starts_with("job_") && job_id.len() == 36, "{job_id}");
    assert_eq!(string(&job, "state"), "queued");

    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let record = Rc::clone(&seen);
    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |job: JsValue| record.borrow_mut().push(string(&job, "state")));
    let wait = js_sys::Object::new();
    Reflect::set(&wait, &"intervalMs".into(), &JsValue::from_f64(100.0)).unwrap();
    Reflect::set(&wait, &"onProgress".into(), on_progress.as_ref()).unwrap();
    let done = JsFuture::from(client.wait_for_job(job_id.clone().into(), wait.into())).await.expect("waitForJob resolves");
    assert_eq!(string(&done, "state"), "succeeded");
    assert_eq!(seen.borrow().last().map(String::as_str), Some("succeeded"), "onProgress saw the end: {:?}", seen.borrow());
    let result = get(&done, "result");
    assert_eq!(string(&result, "file_name"), "job.png");
    assert_eq!(string(&result, "sha256"), env(PNG_SHA256, "URLSTASH_PNG_SHA256"));
    let (status, sha) = sha256_of(&string(&result, "download_url")).await;
    assert_eq!((status, sha.as_str()), (200, env(PNG_SHA256, "URLSTASH_PNG_SHA256")));

    let again = JsFuture::from(client.get_job(job_id.clone().into(), JsValue::UNDEFINED)).await.expect("getJob resolves");
    assert_eq!(json_of(&again), json_of(&done));
    let finished = rejection(client.cancel_job(job_id.into(), JsValue::UNDEFINED)).await;
    assert_eq!(number(&finished, "status"), 409.0);
    // a malformed id is refused before sending, as the server would (404)
    let unknown = rejection(client.get_job("job_nope".into(), JsValue::UNDEFINED)).await;
    assert_eq!(number(&unknown, "status"), 404.0);
    let bad = rejection(client.wait_for_job(format!("job_{}", "0".repeat(32)).into(), js(r#"{"intervalMs":"soon"}"#))).await;
    assert_eq!(number(&bad, "status"), 0.0);
}

#[wasm_bindgen_test]
async fn an_expected_sha256_that_differs_rejects_with_422_beside_its_field() {
    let client = client(env(WORKER, "URLSTASH_WORKER_URL"), KEY);
    let wrong = "0".repeat(64);
    let options = serde_json::json!({ "fileUrl": env(PNG_URL, "URLSTASH_PNG_URL"), "fileName": "never.png", "expectedSha256": wrong });
    let err = upload_err(&client, &options.to_string()).await;
    assert_eq!(number(&err, "status"), 422.0);
    assert_eq!(string(&err, "field"), "expectedSha256");
    assert!(string(&err, "message").contains(env(PNG_SHA256, "URLSTASH_PNG_SHA256")), "names the actual digest");
    let malformed = upload_err(&client, &serde_json::json!({ "fileUrl": env(PNG_URL, "URLSTASH_PNG_URL"), "expectedSha256": "abc" }).to_string()).await;
    assert_eq!((number(&malformed, "status"), string(&malformed, "field")), (400.0, "expectedSha256".to_owned()));
}
