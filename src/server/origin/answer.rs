//! What an origin answered: one response's headers read once ([`Head`]), a body still at
//! the origin with what sniffing read of it ([`OriginBody`]), and a file it serves in
//! ranges ([`Ranged`]).

use js_sys::Uint8Array;
use url::Url;
use web_sys::{ReadableStream, ReadableStreamDefaultReader};

use crate::core::coding::reaches_decoded;
use crate::core::ranges::{parse_content_range, Validator};

/// A file the origin serves in ranges: where, which version, and how big.
#[derive(Debug, Clone)]
pub(crate) struct Ranged {
    pub url: Url,
    pub validator: Validator,
    pub total: u64,
}

/// A response body still at the origin, and what was read of it to sniff its type.
pub(crate) struct OriginBody {
    /// The response: its body is read whole (small) or streamed from here.
    pub(super) response: web_sys::Response,
    /// The reader sniffing used, still holding the stream's lock (released only when the
    /// rest is wanted: releasing costs more than the read it follows).
    pub(super) reader: Option<ReadableStreamDefaultReader>,
    /// Chunks already read (they come first when the body is stored).
    pub prefix: Vec<Uint8Array>,
    /// The body ended while sniffing: `prefix` is all of it.
    pub ended: bool,
    /// A trustworthy length of this body: `Content-Length` of an unencoded body, or a 206's
    /// Content-Range (the bytes past it are never read).
    pub length: Option<u64>,
    /// Whether `length` frames the body ([`Head::framed`]).
    pub(super) framed: bool,
    /// Set when this body is the first part of a file the origin serves in ranges.
    pub ranged: Option<Ranged>,
    /// When it was asked for (ms since the epoch): how fast the origin sends, with the time
    /// its body is read by.
    pub asked_ms: i64,
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

    /// Stops reading this body (the origin may stop sending).
    pub fn cancel(&self) {
        if self.ended {
            return;
        }
        match (&self.reader, self.response.body()) {
            (Some(reader), _) => drop(reader.cancel()),
            (None, Some(stream)) => drop(stream.cancel()),
            (None, None) => {}
        }
    }
}

/// One response's headers, read once.
pub(crate) struct Head {
    pub status: u16,
    /// A content coding other than identity: the body is not the file's bytes as they are.
    pub encoded: bool,
    /// That coding, when the runtime does not decode it (the body read is still encoded).
    pub undecoded: Option<String>,
    pub length: Option<u64>,
    /// Whether `length` frames the body (`Content-Length`, not chunked): the runtime ends it
    /// there. Else a 206's length is only what its Content-Range claims, and reads stop
    /// there themselves.
    pub framed: bool,
    pub content_range: Option<(u64, u64, u64)>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When the response was sent (`Date`): whether its `Last-Modified` is a strong
    /// validator (`Validator::from_headers`).
    pub date: Option<String>,
}

impl Head {
    pub fn of(response: &web_sys::Response) -> Head {
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let coding = header("content-encoding");
        let encoded = coding.as_deref().is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
        // A chunked body's length is its chunks', whatever Content-Length says (RFC 9112
        // 6.3: a message with both is framed by Transfer-Encoding; the runtime reads it so).
        let chunked = header("transfer-encoding").is_some();
        let status = response.status();
        let content_range = header("content-range").and_then(|v| parse_content_range(&v));
        let declared = header("content-length").and_then(|v| v.trim().parse::<u64>().ok()).filter(|_| !chunked);
        // A 206 sent chunked (or without Content-Length) has the length its Content-Range
        // says (RFC 9110 14.4): a range's reader ends there, and checks it got all of it.
        let ranged = content_range.filter(|_| status == 206).map(|(first, last, _)| last - first + 1);
        Head {
            status,
            encoded,
            undecoded: coding.filter(|c| !reaches_decoded(c)),
            length: declared.or(ranged).filter(|_| !encoded),
            framed: declared.is_some() && !encoded,
            content_range,
            etag: header("etag"),
            last_modified: header("last-modified"),
            date: header("date"),
        }
    }

    /// Whether a 206 carries the whole file (`bytes 0-(n-1)/n`, `n` bytes).
    pub(super) fn whole(&self) -> bool {
        matches!(self.content_range, Some((0, last, total)) if last + 1 == total && self.length == Some(total))
    }

    /// Whether this response is of the version `validator` names.
    pub fn is_version(&self, validator: &Validator) -> bool {
        validator.matches(self.etag.as_deref(), self.last_modified.as_deref())
    }

    /// Whether this response names the very `validator` (see [`Validator::named_by`]).
    pub fn names_version(&self, validator: &Validator) -> bool {
        validator.named_by(self.etag.as_deref(), self.last_modified.as_deref())
    }
}
