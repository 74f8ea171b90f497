//! The option objects the JS API takes, read from JS values and checked before any request.

use serde::{Deserialize, Serialize};
use url::Url;
use wasm_bindgen::JsValue;

use super::error::ClientError;
use crate::core::keys::bearer_token;
use crate::core::request::parse_upload;
use crate::core::url_policy::UrlPolicy;

/// `new UploadClient({ baseUrl, apiKey })`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientOptions {
    base_url: String,
    #[serde(default)]
    api_key: String,
}

/// `uploadFromUrl({ fileUrl, uploadPath?, fileName? })`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadOptions {
    file_url: String,
    upload_path: Option<String>,
    file_name: Option<String>,
}

/// The upload body as sent: the wire's snake_case names, absent options left out.
#[derive(Serialize)]
struct UploadBody<'a> {
    file_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_name: Option<&'a str>,
}

/// A client's settings: the API's base URL (no trailing slash) and the key.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub base: String,
    pub api_key: String,
}

fn read<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T, ClientError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| ClientError::Options(format!("{what}: {e}")))
}

/// Reads the constructor's options. The key is checked per call, so a client can exist
/// before its user has typed one.
pub(crate) fn settings(value: JsValue) -> Result<Settings, ClientError> {
    let opts: ClientOptions = read(value, "expected { baseUrl, apiKey }")?;
    let base = Url::parse(opts.base_url.trim())
        .map_err(|e| ClientError::Options(format!("baseUrl is not an absolute URL ({e})")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(ClientError::Options("baseUrl must be an http or https URL".into()));
    }
    Ok(Settings { base: base.as_str().trim_end_matches('/').to_owned(), api_key: opts.api_key })
}

/// The `Authorization` header for `key`, checked by the server's own bearer parser.
pub(crate) fn authorization(key: &str) -> Result<String, ClientError> {
    let header = (!key.trim().is_empty()).then(|| format!("Bearer {}", key.trim()));
    bearer_token(header.as_deref())?;
    Ok(header.unwrap_or_default())
}

/// Reads `uploadFromUrl`'s options into the JSON body, validated by the server's own
/// request parser before it is sent.
pub(crate) fn upload_body(value: JsValue) -> Result<String, ClientError> {
    let opts: UploadOptions = read(value, "expected { fileUrl, uploadPath?, fileName? }")?;
    let body = UploadBody {
        file_url: &opts.file_url,
        upload_path: opts.upload_path.as_deref(),
        file_name: opts.file_name.as_deref().filter(|n| !n.is_empty()),
    };
    let json = serde_json::to_string(&body).map_err(|e| ClientError::Options(e.to_string()))?;
    parse_upload(json.as_bytes(), &UrlPolicy::default())?;
    Ok(json)
}
