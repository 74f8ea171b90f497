//! In-memory `Origin` and `ObjectStore` for host tests of the upload flow.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use url::Url;
use urlstash::core::mime::SNIFF_BYTES;
use urlstash::core::store::{Fetched, IndexEntry, ObjectMeta, ObjectStore, Origin};
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
    pub fn file(bytes: &[u8], content_type: Option<&str>) -> Self {
        Reply {
            status: 200,
            content_type: content_type.map(str::to_owned),
            content_length: Some(bytes.len() as u64),
            chunks: bytes.chunks(1000).map(|c| Ok(c.to_vec())).collect(),
            ..Reply::default()
        }
    }

    pub fn redirect(status: u16, location: &str) -> Self {
        Reply { status, location: Some(location.to_owned()), ..Reply::default() }
    }

    pub fn without_length(mut self) -> Self {
        self.content_length = None;
        self
    }
}

pub struct MemBody {
    prefix: Vec<u8>,
    rest: VecDeque<Result<Vec<u8>, Error>>,
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

    fn discard(&self, _body: MemBody) {
        *self.discarded.borrow_mut() += 1;
    }
}

#[derive(Default)]
pub struct MemStore {
    pub objects: RefCell<HashMap<String, (Vec<u8>, ObjectMeta)>>,
    pub index: RefCell<HashMap<String, IndexEntry>>,
    pub fail_index: bool,
}

impl ObjectStore for MemStore {
    type Body = MemBody;

    async fn put_object(&self, key: &str, body: MemBody, meta: &ObjectMeta, limit: u64) -> Result<u64, Error> {
        let mut bytes = body.prefix;
        for chunk in body.rest {
            bytes.extend(chunk?);
            if bytes.len() as u64 > limit {
                return Err(Error::FileTooLarge { limit });
            }
        }
        if bytes.len() as u64 > limit {
            return Err(Error::FileTooLarge { limit });
        }
        let size = bytes.len() as u64;
        self.objects.borrow_mut().insert(key.to_owned(), (bytes, meta.clone()));
        Ok(size)
    }

    async fn put_index(&self, file_id: &str, entry: &IndexEntry) -> Result<(), Error> {
        if self.fail_index {
            return Err(Error::internal("index write failed"));
        }
        self.index.borrow_mut().insert(file_id.to_owned(), entry.clone());
        Ok(())
    }

    async fn delete_object(&self, key: &str) -> Result<(), Error> {
        self.objects.borrow_mut().remove(key);
        Ok(())
    }

    async fn delete_index(&self, file_id: &str) -> Result<(), Error> {
        self.index.borrow_mut().remove(file_id);
        Ok(())
    }
}
