//! SHA-256 of the stored bytes, hashed natively (`crypto.DigestStream`) as they pass: bytes
//! are written or piped into the sink, never copied into wasm. Bytes already whole in memory
//! (a small body, a one-part file) take one `crypto.subtle.digest` call instead.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{ReadableStream, WritableStream, WritableStreamDefaultWriter};
use worker::crypto::{DigestStream, DigestStreamAlgorithm};

use super::js::{describe, wait};
use crate::core::Error;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = digest)]
    fn subtle_digest(algorithm: &str, data: &Uint8Array) -> Result<Promise, JsValue>;
}

/// SHA-256 of `bytes`, lowercase hex: one native call (a stream's four calls cost a small
/// upload more than the hashing).
pub(crate) async fn sha256_of(bytes: &Uint8Array) -> Result<String, Error> {
    if cfg!(feature = "no-digest") {
        return Ok("0".repeat(64));
    }
    let digest = wait(subtle_digest("SHA-256", bytes).map_err(failed)?).await.map_err(failed)?;
    Ok(hex::encode(Uint8Array::new(&digest).to_vec()))
}

/// SHA-256 of everything `body` (a stored object's) still brings, piped natively into a
/// digest.
pub(crate) async fn sha256_of_stream(body: &ReadableStream) -> Result<String, Error> {
    let mut digest = Sha256Sink::new();
    match digest.writable() {
        Some(sink) => {
            wait(body.pipe_to(&sink)).await.map_err(failed)?;
            digest.finish(true).await
        }
        None => digest.finish(false).await,
    }
}

/// The running digest of one upload's bytes, in order.
pub(crate) struct Sha256Sink {
    /// `None` in a `no-digest` build (the bench's measure of what hashing costs).
    stream: Option<DigestStream>,
    writer: Option<WritableStreamDefaultWriter>,
}

fn failed(e: wasm_bindgen::JsValue) -> Error {
    Error::internal(format!("digest: {}", describe(&e)))
}

impl Sha256Sink {
    pub fn new() -> Self {
        let stream = (!cfg!(feature = "no-digest")).then(|| DigestStream::new(DigestStreamAlgorithm::Sha256));
        Sha256Sink { stream, writer: None }
    }

    /// Hashes `chunk` next. The chunk is the caller's again once this returns.
    pub async fn write(&mut self, chunk: &Uint8Array) -> Result<(), Error> {
        let Some(stream) = &self.stream else { return Ok(()) };
        if self.writer.is_none() {
            let writable: &WritableStream = stream.raw().unchecked_ref();
            self.writer = Some(writable.get_writer().map_err(failed)?);
        }
        let writer = self.writer.as_ref().expect("set above");
        wait(writer.write_with_chunk(chunk)).await.map(drop).map_err(failed)
    }

    /// The sink as a stream to pipe the rest of the bytes into (the pipe closes it); `None`
    /// in a `no-digest` build.
    pub fn writable(&mut self) -> Option<WritableStream> {
        if let Some(writer) = self.writer.take() {
            writer.release_lock();
        }
        self.stream.as_ref().map(|s| s.raw().unchecked_ref::<WritableStream>().clone())
    }

    /// Ends the bytes (unless a pipe did) and answers their SHA-256, lowercase hex.
    pub async fn finish(mut self, piped: bool) -> Result<String, Error> {
        let Some(stream) = self.stream.take() else { return Ok("0".repeat(64)) };
        if !piped {
            match self.writer.take() {
                Some(writer) => wait(writer.close()).await.map(drop).map_err(failed)?,
                None => wait(stream.raw().unchecked_ref::<WritableStream>().close()).await.map(drop).map_err(failed)?,
            }
        }
        let digest = stream.digest().await.map_err(|e| Error::internal(format!("digest: {e}")))?;
        Ok(hex::encode(digest.to_vec()))
    }
}
