//! The `Origin` adapter: one GET per hop with the Worker's `fetch`, under one deadline.

use js_sys::Uint8Array;
use url::Url;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, ReadableStream, ReadableStreamDefaultReader, RequestInit, RequestRedirect};

use super::js::{read_chunk, wait};
use crate::core::mime::{SNIFF_BYTES, WHOLE_BODY_BYTES};
use crate::core::seams::{Fetched, Origin};
use crate::core::Error;

/// Fetches with `redirect: manual`; every request and body read shares one timeout signal.
pub(crate) struct WorkerOrigin {
    signal: AbortSignal,
    timeout_ms: u64,
}

/// A response body still at the origin, and what was read of it to sniff its type.
pub(crate) struct OriginBody {
    /// The response: its body is read whole (small) or streamed from here.
    response: web_sys::Response,
    /// The reader sniffing used, still holding the stream's lock (released only when the
    /// rest is wanted: releasing costs more than the read it follows).
    reader: Option<ReadableStreamDefaultReader>,
    /// Chunks already read (they come first when the body is stored).
    pub prefix: Vec<Uint8Array>,
    /// The body ended while sniffing: `prefix` is all of it.
    pub ended: bool,
    /// A trustworthy length: `Content-Length` of an unencoded body.
    pub length: Option<u64>,
}

impl OriginBody {
    /// The unread rest of the body as a stream, or `None` when sniffing read all of it.
    pub fn rest(&self) -> Option<ReadableStream> {
        if self.ended {
            return None;
        }
        if let Some(reader) = &self.reader {
            reader.release_lock();
        }
        self.response.body()
    }
}

impl WorkerOrigin {
    pub fn new(timeout_ms: u64) -> Self {
        let ms = u32::try_from(timeout_ms).unwrap_or(u32::MAX);
        WorkerOrigin { signal: AbortSignal::timeout_with_u32(ms), timeout_ms }
    }

    pub fn signal(&self) -> &AbortSignal {
        &self.signal
    }

    /// `fallback`, unless the deadline passed: then the timeout is the real cause.
    pub fn failure(&self, fallback: Error) -> Error {
        if self.signal.aborted() {
            Error::OriginTimeout { ms: self.timeout_ms }
        } else {
            fallback
        }
    }

    /// Reads all of a body whose declared length is small; it is then all in `prefix`.
    async fn read_whole(&self, body: &mut OriginBody) -> Result<Vec<u8>, Error> {
        let read = body.response.array_buffer().map_err(|_| Error::OriginBroken)?;
        let buffer = wait(read).await.map_err(|_| self.failure(Error::OriginBroken))?;
        let bytes = Uint8Array::new(&buffer);
        let sniffed = bytes.subarray(0, bytes.length().min(SNIFF_BYTES as u32)).to_vec();
        if bytes.length() > 0 {
            body.prefix.push(bytes);
        }
        body.ended = true;
        Ok(sniffed)
    }

    /// Reads just far enough to sniff; the reader keeps the rest for storing.
    async fn read_prefix(&self, body: &mut OriginBody) -> Result<Vec<u8>, Error> {
        let Some(stream) = body.response.body() else { return Ok(Vec::new()) };
        let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
        let mut sniffed = Vec::new();
        while sniffed.len() < SNIFF_BYTES {
            match read_chunk(&reader).await {
                Ok(Some(chunk)) => {
                    let take = (chunk.length() as usize).min(SNIFF_BYTES - sniffed.len());
                    sniffed.extend(chunk.subarray(0, take as u32).to_vec());
                    body.prefix.push(chunk);
                }
                Ok(None) => {
                    body.ended = true;
                    break;
                }
                Err(_) => return Err(self.failure(Error::OriginBroken)),
            }
        }
        body.reader = Some(reader);
        Ok(sniffed)
    }
}

impl Origin for WorkerOrigin {
    type Body = OriginBody;

    async fn fetch(&self, url: &Url) -> Result<Fetched<OriginBody>, Error> {
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_redirect(RequestRedirect::Manual);
        init.set_signal(Some(&self.signal));
        let headers = web_sys::Headers::new().map_err(|_| Error::internal("Headers::new"))?;
        let _ = headers.set("Accept-Encoding", "identity");
        let _ = headers.set("User-Agent", "urlstash/0.1 (+url-to-temporary-file)");
        init.set_headers(&headers);
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let response = wait(global.fetch_with_str_and_init(url.as_str(), &init))
            .await
            .map_err(|_| self.failure(Error::OriginUnreachable))?;
        let response: web_sys::Response = response.unchecked_into();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let encoded = header("content-encoding").is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
        let length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok()).filter(|_| !encoded);
        Ok(Fetched {
            status: response.status(),
            location: header("location"),
            content_length: length,
            content_type: header("content-type"),
            content_disposition: header("content-disposition"),
            body: OriginBody {
                ended: response.body().is_none(),
                reader: None,
                prefix: Vec::new(),
                length,
                response,
            },
        })
    }

    async fn sniff(&self, body: &mut OriginBody) -> Result<Vec<u8>, Error> {
        if body.ended {
            return Ok(Vec::new());
        }
        match body.length {
            // Small bodies are read whole (see WHOLE_BODY_BYTES), in one native call.
            Some(length) if length <= WHOLE_BODY_BYTES => self.read_whole(body).await,
            _ => self.read_prefix(body).await,
        }
    }

    fn discard(&self, body: OriginBody) {
        if body.ended {
            return;
        }
        match (&body.reader, body.response.body()) {
            (Some(reader), _) => drop(reader.cancel()),
            (None, Some(stream)) => drop(stream.cancel()),
            (None, None) => {}
        }
    }
}
