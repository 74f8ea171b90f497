//! The browser client (feature `client`): `UploadClient`, exported to JS with wasm-bindgen.

mod api;
mod browser_url;
mod error;
mod jobs;
mod options;
mod retry;
mod types;

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortSignal;

use api::{Call, Method};
use error::ClientError;
use options::Settings;

use crate::core::batch::BatchData;
use crate::core::envelope::{Envelope, FileData, FileDeleted, SignedLinks};
use crate::core::quota::UsageReport;
use crate::core::listing::FileList;

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

    /// Asks the service to fetch `fileUrl` and store it; resolves with its `FileData`. With
    /// `idempotencyKey`, one whose send failed in passing is sent again
    /// ([`retry::send_once_or_again`]): the service answers with the file the first stored.
    #[wasm_bindgen(js_name = uploadFromUrl, unchecked_return_type = "Promise<FileData>")]
    pub fn upload_from_url(&self, #[wasm_bindgen(unchecked_param_type = "UploadOptions")] options: JsValue) -> js_sys::Promise {
        self.run(|| {
            let signal = options::signal(&options)?;
            Ok((Some(Call::upload(options::upload_body(options)?)), Reply::File, signal))
        })
    }

    /// Up to 20 uploads in one request; resolves with every item's envelope in order and
    /// the tallies. An item the server's own parser refuses is answered in place without
    /// being sent (with `idempotencyKey`, the server answers it: the batch goes whole, each
    /// item in its place); an empty or oversized list rejects (400). With
    /// `idempotencyKey`, a batch whose send failed in passing is sent again, as
    /// `uploadFromUrl`'s upload is.
    #[wasm_bindgen(js_name = uploadFromUrls, unchecked_return_type = "Promise<BatchResult>")]
    pub fn upload_from_urls(
        &self,
        #[wasm_bindgen(unchecked_param_type = "UploadItem[]")] items: JsValue,
        #[wasm_bindgen(unchecked_param_type = "BatchOptions | undefined")] options: JsValue,
    ) -> js_sys::Promise {
        self.run(|| {
            let signal = options::signal(&options)?;
            let key = options::batch_key(options)?;
            let plan = options::batch_plan(items, key.is_some())?;
            Ok((plan.body.map(|body| Call::batch((body, key))), Reply::Batch(plan.refused), signal))
        })
    }

    /// One of the caller's files by id; rejects with status 404 when it is unknown,
    /// expired, deleted or another key's.
    #[wasm_bindgen(js_name = getFile, unchecked_return_type = "Promise<FileData>")]
    pub fn get_file(
        &self,
        #[wasm_bindgen(js_name = fileId, unchecked_param_type = "string")] file_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CallOptions | undefined")] options: JsValue,
    ) -> js_sys::Promise {
        self.run_at(options::file_id_arg(&file_id), |id| Ok((Some(Call::file(Method::Get, &id)), Reply::File, options::call_signal(&options)?)))
    }

    /// Deletes one of the caller's files at once (both links answer 404 afterwards).
    #[wasm_bindgen(js_name = deleteFile, unchecked_return_type = "Promise<DeletedFile>")]
    pub fn delete_file(
        &self,
        #[wasm_bindgen(js_name = fileId, unchecked_param_type = "string")] file_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CallOptions | undefined")] options: JsValue,
    ) -> js_sys::Promise {
        self.run_at(options::file_id_arg(&file_id), |id| Ok((Some(Call::file(Method::Delete, &id)), Reply::Deleted, options::call_signal(&options)?)))
    }

    /// Fresh signed links of one of the caller's private files, valid for `expiresIn`
    /// seconds (at most the file's own life; default: until the file expires). A public
    /// file's links are answered as they are.
    #[wasm_bindgen(js_name = mintLinks, unchecked_return_type = "Promise<SignedLinks>")]
    pub fn mint_links(
        &self,
        #[wasm_bindgen(js_name = fileId, unchecked_param_type = "string")] file_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "LinkOptions | undefined")] options: JsValue,
    ) -> js_sys::Promise {
        self.run_at(options::file_id_arg(&file_id), |id| {
            let signal = options::signal(&options)?;
            Ok((Some(Call::link(&id, options::link_body(options)?)), Reply::Links, signal))
        })
    }

    /// A page of the caller's live files, optionally under `uploadPath`; pass the
    /// answer's `cursor` for the next page (`null` on the last one). The options may be
    /// left out.
    #[wasm_bindgen(js_name = listFiles, unchecked_return_type = "Promise<FileList>")]
    pub fn list_files(&self, #[wasm_bindgen(unchecked_param_type = "ListOptions | undefined")] options: JsValue) -> js_sys::Promise {
        self.run(|| {
            let signal = options::signal(&options)?;
            Ok((Some(Call::list(&options::list_query(options)?)), Reply::List, signal))
        })
    }

    /// Starts a background job fetching `fileUrl` (any size up to the service's job limit);
    /// resolves at once with the job (`state` `queued`). With `idempotencyKey`, a start
    /// sent again resolves with the job the first one started: one whose send failed in
    /// passing is sent again ([`retry::send_once_or_again`]).
    #[wasm_bindgen(js_name = startUpload, unchecked_return_type = "Promise<Job>")]
    pub fn start_upload(&self, #[wasm_bindgen(unchecked_param_type = "StartUploadOptions")] options: JsValue) -> js_sys::Promise {
        self.run(|| {
            let signal = options::signal(&options)?;
            Ok((Some(Call::upload(options::start_body(options)?)), Reply::Job, signal))
        })
    }

    /// One of the caller's jobs: its state and progress; rejects with status 404 for an
    /// unknown id or another key's job.
    #[wasm_bindgen(js_name = getJob, unchecked_return_type = "Promise<Job>")]
    pub fn get_job(
        &self,
        #[wasm_bindgen(js_name = jobId, unchecked_param_type = "string")] job_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CallOptions | undefined")] options: JsValue,
    ) -> js_sys::Promise {
        self.run_at(options::job_id_arg(&job_id), |id| Ok((Some(Call::job(Method::Get, &id)), Reply::Job, options::call_signal(&options)?)))
    }

    /// Cancels a job: nothing of it stays stored or charged. Rejects with 409 when it
    /// already succeeded or failed.
    #[wasm_bindgen(js_name = cancelJob, unchecked_return_type = "Promise<Job>")]
    pub fn cancel_job(
        &self,
        #[wasm_bindgen(js_name = jobId, unchecked_param_type = "string")] job_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CallOptions | undefined")] options: JsValue,
    ) -> js_sys::Promise {
        self.run_at(options::job_id_arg(&job_id), |id| Ok((Some(Call::job(Method::Delete, &id)), Reply::Job, options::call_signal(&options)?)))
    }

    /// Polls a job every `intervalMs` (default 1000) until it ends, calling `onProgress(job)`
    /// after each poll; resolves with the succeeded job, rejects with an `UploadError`
    /// carrying the job's error (status and message) when it failed, or status 409 when it
    /// was canceled. An abort of `signal` ends the wait (the job goes on).
    #[wasm_bindgen(js_name = waitForJob, unchecked_return_type = "Promise<Job>")]
    pub fn wait_for_job(
        &self,
        #[wasm_bindgen(js_name = jobId, unchecked_param_type = "string")] job_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "WaitOptions | undefined")] options: JsValue,
    ) -> js_sys::Promise {
        let settings = Rc::clone(&self.settings);
        // the id first, as the server's routing checks it
        let prepared = options::job_id_arg(&job_id)
            .and_then(|id| options::authorization(&self.settings.api_key).map(|auth| (auth, id)))
            .and_then(|(auth, id)| jobs::wait_options(options).map(|wait| (auth, id, wait)));
        future_to_promise(async move {
            let (authorization, job_id, wait) = prepared?;
            jobs::wait(&settings, &authorization, &job_id, &wait).await.map_err(JsValue::from)
        })
    }

    /// The caller's key, what it holds (settled and reserved) and its limits.
    #[wasm_bindgen(unchecked_return_type = "Promise<Usage>")]
    pub fn usage(&self, #[wasm_bindgen(unchecked_param_type = "CallOptions | undefined")] options: JsValue) -> js_sys::Promise {
        self.run(|| Ok((Some(Call::usage()), Reply::Usage, options::call_signal(&options)?)))
    }

    /// Resolves `true` when the service answers its health check, `false` otherwise
    /// (unreachable included); never rejects.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn health(&self) -> js_sys::Promise {
        let settings = Rc::clone(&self.settings);
        future_to_promise(async move { Ok(JsValue::from_bool(api::health(&settings).await)) })
    }
}

/// How a method reads the answer's `data`.
enum Reply {
    File,
    Deleted,
    List,
    Usage,
    Links,
    Job,
    /// The batch's items refused before sending, to put back in their places.
    Batch(Vec<Option<Envelope<FileData>>>),
}

/// A method's inputs, checked: the call (none when nothing needs sending), how to read its
/// answer, and the caller's signal, which aborts it.
type Checked = (Option<Call>, Reply, Option<AbortSignal>);

/// A checked request: the key's header and the method's [`Checked`] inputs.
type Prepared = (String, Checked);

impl UploadClient {
    /// Every authenticated method: the key is checked first, then the method's inputs
    /// (`prepare`), both before any request; a failure rejects the promise. One future
    /// type for all methods keeps the wasm small.
    fn run(&self, prepare: impl FnOnce() -> Result<Checked, ClientError>) -> js_sys::Promise {
        self.run_at(Ok(()), |()| prepare())
    }

    /// As [`run`](Self::run) for a route naming a file or a job: its id is checked before
    /// the key, as the server's routing does (a malformed id is 404 whatever the key).
    fn run_at<T>(&self, id: Result<T, ClientError>, prepare: impl FnOnce(T) -> Result<Checked, ClientError>) -> js_sys::Promise {
        let prepared = id.and_then(|id| {
            let auth = options::authorization(&self.settings.api_key)?;
            prepare(id).map(|checked| (auth, checked))
        });
        future_to_promise(perform(Rc::clone(&self.settings), prepared))
    }
}

/// Sends the prepared call (if any) and reads its answer as the method's `Reply`.
async fn perform(settings: Rc<Settings>, prepared: Result<Prepared, ClientError>) -> Result<JsValue, JsValue> {
    let (authorization, (call, reply, signal)) = prepared?;
    let (data, retry_after) = match call {
        Some(call) => retry::send_once_or_again(&settings, &authorization, call, signal.as_ref()).await.map(|(data, retry_after)| (Some(data), retry_after))?,
        // nothing to send (a batch whose every item the client refused): an aborted signal
        // still rejects the call, as it would have rejected its send
        None if signal.as_ref().is_some_and(AbortSignal::aborted) => return Err(ClientError::Aborted { sent: false }.into()),
        None => (None, None),
    };
    match reply {
        Reply::File => to_js(&api::data_as::<FileData>(sent(data)?)?),
        Reply::Deleted => to_js(&api::data_as::<FileDeleted>(sent(data)?)?),
        Reply::List => to_js(&api::data_as::<FileList>(sent(data)?)?),
        Reply::Usage => to_js(&api::data_as::<UsageReport>(sent(data)?)?),
        Reply::Links => to_js(&api::data_as::<SignedLinks>(sent(data)?)?),
        // Passed through as the server sent it (no second copy of the job's types here).
        Reply::Job => to_js(&sent(data)?),
        Reply::Batch(refused) => {
            let answered = data.map(api::data_as::<BatchData>).transpose()?;
            to_js(&BatchAnswer { data: api::merge_batch(refused, answered)?, retry_after })
        }
    }
}

/// A batch's answer as `uploadFromUrls` resolves it: the tallies and items, and the
/// seconds the server asked to wait before sending the refused items again.
#[derive(serde::Serialize)]
struct BatchAnswer {
    #[serde(flatten)]
    data: BatchData,
    #[serde(rename = "retryAfter")]
    retry_after: Option<u32>,
}

/// The answer's `data`; only a batch whose every item was refused sends nothing.
fn sent(data: Option<serde_json::Value>) -> Result<serde_json::Value, ClientError> {
    data.ok_or_else(|| ClientError::unexpected(0, "no request was sent".into()))
}

/// A Rust value as a plain JS object (numbers as numbers, objects not `Map`s).
pub(crate) fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| ClientError::unexpected(200, e.to_string()).into())
}
