//! Storing a file the origin serves in ranges: the parts of its [`Plan`] are fetched by up
//! to [`LANES`](crate::core::ranges::LANES) connections at once, each range read into its
//! own part buffer (JS memory, never wasm) and resumed where it breaks ([`Cursor`]), hashed
//! in file order ([`Turns`]) and stored as an R2 multipart part; a one-part file is one put.
//! Memory: each lane holds one part, so at most `lanes` parts (40 MiB) at once.

use std::cell::{Cell, RefCell};

use futures_util::future::try_join_all;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use worker::worker_sys::R2MultipartUpload;

use super::cursor::{Cursor, Source};
use super::digest::Sha256Sink;
use super::ingest::abort_multipart;
use super::js::{describe, wait};
use super::origin::{OriginBody, WorkerOrigin};
use super::r2::Target;
use crate::core::gate::Turns;
use crate::core::ranges::Plan;
use crate::core::seams::StoredObject;
use crate::core::Error;

/// Stores `body` (the probe's answer, with `ranged` set) and the rest of its file.
pub(crate) async fn put_ranged(target: &Target<'_>, origin: &WorkerOrigin, body: OriginBody) -> Result<StoredObject, Error> {
    let Some(ranged) = body.ranged.clone() else { return Err(Error::internal("put_ranged without ranges")) };
    let plan = Plan::new(ranged.total);
    let source = Source::new(origin, &ranged);
    let first = Cursor::from_probe(&source, body, plan.part(0).1)?;
    if plan.single() {
        return put_whole(target, first, plan.total).await;
    }
    let upload = target.create_multipart().await?;
    let lanes = Lanes {
        plan,
        target,
        source: &source,
        upload: &upload,
        first: RefCell::new(Some(first)),
        next: Cell::new(0),
        turns: Turns::default(),
        digest: RefCell::new(Some(Sha256Sink::new())),
        parts: RefCell::new(Vec::new()),
    };
    match lanes.run().await {
        Ok(stored) => Ok(stored),
        Err(err) => {
            abort_multipart(target, &upload).await;
            Err(origin.failure(err))
        }
    }
}

/// A file of one part: read it whole, hash it, one put (R2 checks an expected digest).
async fn put_whole(target: &Target<'_>, mut cursor: Cursor<'_>, total: u64) -> Result<StoredObject, Error> {
    let bytes = cursor.read_all().await?;
    let mut digest = Sha256Sink::new();
    digest.write(&bytes).await?;
    let sha256 = digest.finish(false).await?;
    let stored = target.put(bytes.into()).await;
    target.settle(stored, sha256, total).await
}

/// The state the lanes of one file share.
struct Lanes<'a> {
    plan: Plan,
    target: &'a Target<'a>,
    source: &'a Source<'a>,
    upload: &'a R2MultipartUpload,
    /// Part 0's reader, starting with the probe's body (taken by the lane that gets part 0).
    first: RefCell<Option<Cursor<'a>>>,
    /// The next part no lane has taken yet.
    next: Cell<u64>,
    /// Hashing order: part i is hashed in turn i.
    turns: Turns,
    /// Taken by the lane whose turn it is (only one at a time).
    digest: RefCell<Option<Sha256Sink>>,
    /// Each stored part: its number and R2's answer.
    parts: RefCell<Vec<(u64, JsValue)>>,
}

impl Lanes<'_> {
    /// Runs every lane until all parts are stored and hashed, then completes the upload
    /// once the digest is the one expected.
    async fn run(&self) -> Result<StoredObject, Error> {
        try_join_all((0..self.plan.lanes).map(|_| self.lane())).await?;
        let digest = self.digest.borrow_mut().take().ok_or_else(|| Error::internal("digest taken"))?;
        let sha256 = self.target.checked(digest.finish(false).await?)?;
        let mut parts = self.parts.take();
        parts.sort_by_key(|(number, _)| *number);
        let parts: Vec<JsValue> = parts.into_iter().map(|(_, part)| part).collect();
        self.target
            .gate
            .call(|| async { wait(self.upload.complete(parts)?).await })
            .await
            .map_err(|e| Error::internal(format!("r2 multipart complete: {}", describe(&e))))?;
        Ok(StoredObject { size: self.plan.total, sha256 })
    }

    /// One connection's work: take the next part, read it, store it, hash it in turn.
    async fn lane(&self) -> Result<(), Error> {
        loop {
            let index = self.next.get();
            if index == self.plan.parts {
                return Ok(());
            }
            self.next.set(index + 1);
            let (start, end) = self.plan.part(index);
            let mut cursor = match self.first.borrow_mut().take() {
                Some(first) if index == 0 => first,
                _ => Cursor::new(self.source, start, end),
            };
            let part = cursor.read_all().await?;
            drop(cursor);
            self.store(index, &part).await?;
            self.turns.wait(index).await;
            let mut digest = self.digest.borrow_mut().take().ok_or_else(|| Error::internal("digest taken"))?;
            let hashed = digest.write(&part).await;
            *self.digest.borrow_mut() = Some(digest);
            self.turns.done();
            hashed?;
        }
    }

    /// Uploads part `index` (R2 numbers parts from 1).
    async fn store(&self, index: u64, part: &Uint8Array) -> Result<(), Error> {
        let number = u16::try_from(index + 1).map_err(|_| Error::internal("too many parts"))?;
        let stored = self
            .target
            .gate
            .call(|| async { wait(self.upload.upload_part(number, part.clone().into())?).await })
            .await
            .map_err(|e| Error::internal(format!("r2 upload part: {}", describe(&e))))?;
        self.parts.borrow_mut().push((index, stored));
        Ok(())
    }
}
