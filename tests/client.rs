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

const WORKER: Option<&str> = option_env!("URLSTASH_WORKER_URL");
const PNG_URL: Option<&str> = option_env!("URLSTASH_PNG_URL");
const PNG_SHA256: Option<&str> = option_env!("URLSTASH_PNG_SHA256");
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
    let err = UploadClient::new(js(r#"{"baseUrl":"files.example.com","apiKey":"k"}"#)).err().expect("throws");
    assert_eq!(string(&err, "name"), "UploadError");
    assert_eq!(number(&err, "status"), 0.0);
}
