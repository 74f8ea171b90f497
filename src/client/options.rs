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
    body_json(&read(value, "expected { fileUrl, uploadPath?, fileName? }")?)
}

/// The JSON body of `opts`, refused with the server's own error when the server would refuse it.
fn body_json(opts: &UploadOptions) -> Result<String, ClientError> {
    let body = UploadBody {
        file_url: &opts.file_url,
        upload_path: opts.upload_path.as_deref(),
        file_name: opts.file_name.as_deref().filter(|n| !n.is_empty()),
    };
    let json = serde_json::to_string(&body).map_err(|e| ClientError::Options(e.to_string()))?;
    parse_upload(json.as_bytes(), &UrlPolicy::syntax_only())?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(file_url: &str, upload_path: Option<&str>, file_name: Option<&str>) -> UploadOptions {
        UploadOptions { file_url: file_url.into(), upload_path: upload_path.map(Into::into), file_name: file_name.map(Into::into) }
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
            (opts("x.test/a.png", None, None), 400, "invalid `file_url`: not a valid URL"),
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
    }
}
