//! The in-memory [`Origin`]: canned replies per URL, bodies in chunks that may break.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use url::Url;
use urlstash::core::mime::SNIFF_BYTES;
use urlstash::core::seams::{Fetched, Origin};
use urlstash::core::Error;

/// What the fake origin answers for one URL.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    /// `Some` sends a Content-Length of that value.
    pub content_length: Option<u64>,
    /// The body in chunks; an `Err` chunk is a connection failure at that point.
    pub chunks: Vec<Result<Vec<u8>, Error>>,
}

impl Reply {
    /// A 200 with `bytes` in chunks of 1000 and their Content-Length.
    pub fn file(bytes: &[u8], content_type: Option<&str>) -> Self {
        Reply::chunked(bytes, content_type, 1000)
    }

    pub fn chunked(bytes: &[u8], content_type: Option<&str>, chunk: usize) -> Self {
        Reply {
            status: 200,
            content_type: content_type.map(str::to_owned),
            content_length: Some(bytes.len() as u64),
            chunks: bytes.chunks(chunk.max(1)).map(|c| Ok(c.to_vec())).collect(),
            ..Reply::default()
        }
    }

    pub fn redirect(status: u16, location: &str) -> Self {
        Reply { status, location: Some(location.to_owned()), ..Reply::default() }
    }

    pub fn status(status: u16) -> Self {
        Reply { status, ..Reply::default() }
    }

    pub fn without_length(mut self) -> Self {
        self.content_length = None;
        self
    }

    /// The connection drops after the first `keep` chunks.
    pub fn broken_after(mut self, keep: usize) -> Self {
        self.chunks.truncate(keep);
        self.chunks.push(Err(Error::OriginBroken));
        self
    }
}

/// A body still streaming: what sniffing read, and the chunks to come.
#[derive(Debug)]
pub struct MemBody {
    pub prefix: Vec<u8>,
    pub rest: VecDeque<Result<Vec<u8>, Error>>,
}

#[derive(Default)]
pub struct MemOrigin {
    pub replies: HashMap<String, Reply>,
    pub requested: RefCell<Vec<String>>,
    pub discarded: RefCell<usize>,
}

impl MemOrigin {
    pub fn with(mut self, url: &str, reply: Reply) -> Self {
        self.replies.insert(url.to_owned(), reply);
        self
    }
}

impl Origin for MemOrigin {
    type Body = MemBody;

    async fn fetch(&self, url: &Url) -> Result<Fetched<MemBody>, Error> {
        self.requested.borrow_mut().push(url.to_string());
        let reply = self.replies.get(url.as_str()).cloned().ok_or(Error::OriginUnreachable)?;
        Ok(Fetched {
            status: reply.status,
            location: reply.location,
            content_length: reply.content_length,
            content_type: reply.content_type,
            content_disposition: reply.content_disposition,
            body: MemBody { prefix: Vec::new(), rest: reply.chunks.into() },
        })
    }

    async fn sniff(&self, body: &mut MemBody) -> Result<Vec<u8>, Error> {
        while body.prefix.len() < SNIFF_BYTES {
            match body.rest.pop_front() {
                Some(Ok(chunk)) => body.prefix.extend(chunk),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(body.prefix[..body.prefix.len().min(SNIFF_BYTES)].to_vec())
    }

    fn length_read(&self, body: &MemBody) -> Option<u64> {
        body.rest.is_empty().then_some(body.prefix.len() as u64)
    }

    fn discard(&self, _body: MemBody) {
        *self.discarded.borrow_mut() += 1;
    }
}
