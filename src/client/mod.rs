//! The browser client (feature `client`): `UploadClient`, exported to JS with wasm-bindgen.

mod api;
mod error;
mod options;
mod types;

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use error::ClientError;
use options::Settings;

/// A client of one urlstash service. Cheap to create; holds only its settings.
#[wasm_bindgen(js_name = UploadClient)]
pub struct UploadClient {
    settings: Rc<Settings>,
}

#[wasm_bindgen(js_class = UploadClient)]
impl UploadClient {
    /// `new UploadClient({ baseUrl, apiKey })`. Throws an `UploadError` (status 0) when
    /// `baseUrl` is not an absolute http(s) URL.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "UploadClientOptions")] options: JsValue) -> Result<UploadClient, JsValue> {
        Ok(UploadClient { settings: Rc::new(options::settings(options)?) })
    }

    /// The API base URL, normalized (no trailing slash).
    #[wasm_bindgen(getter, js_name = baseUrl)]
    pub fn base_url(&self) -> String {
        self.settings.base.clone()
    }

    /// Asks the service to fetch `fileUrl` and store it; resolves with its `FileData`.
    #[wasm_bindgen(js_name = uploadFromUrl, unchecked_return_type = "Promise<FileData>")]
    pub fn upload_from_url(&self, #[wasm_bindgen(unchecked_param_type = "UploadOptions")] options: JsValue) -> js_sys::Promise {
        let settings = Rc::clone(&self.settings);
        future_to_promise(async move {
            let authorization = options::authorization(&settings.api_key)?;
            let body = options::upload_body(options)?;
            let data = api::upload(&settings, &authorization, body).await?;
            to_js(&data)
        })
    }

    /// Resolves `true` when the service answers its health check, `false` otherwise
    /// (unreachable included); never rejects.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn health(&self) -> js_sys::Promise {
        let settings = Rc::clone(&self.settings);
        future_to_promise(async move { Ok(JsValue::from_bool(api::health(&settings).await)) })
    }
}

/// A Rust value as a plain JS object (numbers as numbers, objects not `Map`s).
fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| ClientError::Unexpected { status: 200, detail: e.to_string() }.into())
}
