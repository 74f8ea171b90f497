//! The Worker's handle on one key's authority: each op is one call to the key's Durable
//! Object. It is the upload flow's [`FileAuthority`].

use std::convert::Infallible;
use std::time::Duration;

use serde::de::DeserializeOwned;
use worker::{Delay, ObjectNamespace};

use super::stub;
use crate::core::gate::Gate;
use crate::core::idempotency::{UploadKey, TRY_LEASE_MS, TRY_RENEW_MS};
use crate::core::authority_wire::{FileRow, IndexedJob, Op, Page, PageQuery, Purged, Refusal, Reservation, Standing, Target};
use crate::core::jobs::JobStatus;
use crate::core::quota::ConfigPatch;
use crate::core::seams::FileAuthority;
use crate::core::Error;

pub(crate) struct AuthorityClient {
    namespace: ObjectNamespace,
    key_id: String,
    /// The request's outbound calls (an upload's calls share one gate with its fetches).
    gate: Gate,
}

impl AuthorityClient {
    pub fn new(namespace: &ObjectNamespace, key_id: &str) -> Self {
        AuthorityClient { namespace: namespace.clone(), key_id: key_id.to_owned(), gate: Gate::default() }
    }

    /// This client with its calls counted in `gate`.
    pub fn gated(self, gate: &Gate) -> Self {
        AuthorityClient { gate: gate.clone(), ..self }
    }

    /// Sends `op`; an internal error says which key's authority and which op, for the log.
    async fn call<T: DeserializeOwned>(&self, op: &Op) -> Result<T, Error> {
        let answer = async {
            let text = stub::post(&self.namespace, "authority", &self.key_id, op, &self.gate).await?;
            let reply: Result<T, Refusal> = serde_json::from_str(&text).map_err(|e| Error::internal(format!("reply: {e}")))?;
            reply.map_err(Error::from)
        };
        answer.await.map_err(|e| e.context(|| format!("key authority {} {}", self.key_id, op.name())))
    }

    /// A call whose failure the caller passes over (a clean-up after a failure): logged
    /// here, with what it leaves (`left`).
    async fn best_effort<T: DeserializeOwned>(&self, op: &Op, left: &str) -> Result<T, Error> {
        let answer = self.call(op).await;
        if let Err(e) = &answer {
            worker::console_warn!("{}: {left}", e.internal_detail().map_or_else(|| e.to_string(), str::to_owned));
        }
        answer
    }

    pub async fn usage(&self) -> Result<Standing, Error> {
        self.call(&Op::Usage).await
    }

    /// Whether a background job to `name` (`upload_path`, `file_name`; `None`: decided
    /// later) may start (429 when the key has no room even for a byte).
    pub async fn room(&self, name: Option<(&str, &str)>) -> Result<(), Error> {
        self.call(&Op::Room { name: name.map(|(path, file)| (path.to_owned(), file.to_owned())) }).await
    }

    /// Sets the key's quota overrides and status (in force for uploads at once). A revoked
    /// key is refused with [`Error::KeyNotFound`].
    pub async fn configure(&self, patch: ConfigPatch) -> Result<Standing, Error> {
        self.call(&Op::Configure { patch }).await
    }

    pub async fn get(&self, file_id: &str) -> Result<FileRow, Error> {
        self.call(&Op::Get { file_id: file_id.to_owned() }).await
    }

    /// Deletes the file: its row and quota, then its bytes, before answering.
    pub async fn delete(&self, file_id: &str) -> Result<FileRow, Error> {
        self.call(&Op::Delete { file_id: file_id.to_owned() }).await
    }

    /// The operator's removal of a live file, whatever the key's status: its row and quota,
    /// then its bytes, before answering.
    pub async fn take_down(&self, target: Target) -> Result<FileRow, Error> {
        self.call(&Op::TakeDown { target }).await
    }

    /// The operator's removal of every live file of the key (404 for a key that never
    /// stored anything).
    pub async fn purge(&self) -> Result<Purged, Error> {
        self.call(&Op::Purge).await
    }

    /// Counts one download of a file with `max_downloads` (`count` false: only checks it is
    /// live); 404 once it is used up.
    pub async fn claim(&self, file_id: &str, count: bool) -> Result<(), Error> {
        self.call(&Op::Claim { file_id: file_id.to_owned(), count }).await
    }

    /// The live file a name holds.
    pub async fn resolve(&self, upload_path: &str, file_name: &str) -> Result<FileRow, Error> {
        self.call(&Op::Resolve { upload_path: upload_path.to_owned(), file_name: file_name.to_owned() }).await
    }

    pub async fn list(&self, query: PageQuery) -> Result<Page, Error> {
        self.call(&Op::List { query }).await
    }

    /// Adds a job to the key's job index.
    pub async fn job_started(&self, job_id: &str, at_ms: i64) -> Result<(), Error> {
        self.call(&Op::JobStarted {
            job_id: job_id.to_owned(),
            at_ms,
        })
        .await
    }

    /// Keeps a job's final status in the key's job index.
    pub async fn job_ended(&self, status: &JobStatus) -> Result<(), Error> {
        self.call(&Op::JobEnded { status: Box::new(status.clone()) }).await
    }

    /// The key's most recent jobs, newest first.
    pub async fn jobs(&self, limit: u32) -> Result<Vec<IndexedJob>, Error> {
        self.call(&Op::Jobs { limit }).await
    }

    /// Makes `secret` the key's webhook secret (refused for a revoked key).
    pub async fn set_webhook_secret(&self, secret: &str) -> Result<(), Error> {
        self.call(&Op::SetWebhookSecret { secret: secret.to_owned() }).await
    }

    /// The key's webhook secret, if one was issued (refused for a revoked key).
    pub async fn webhook_secret(&self) -> Result<Option<String>, Error> {
        self.call(&Op::WebhookSecret).await
    }
}

impl FileAuthority for AuthorityClient {
    async fn reserve(&self, reservation: &Reservation) -> Result<u64, Error> {
        self.call(&Op::Reserve { reservation: reservation.clone() }).await
    }

    async fn commit(&self, file: &FileRow, key: Option<&UploadKey>) -> Result<Option<FileRow>, Error> {
        self.call(&Op::Commit { file: file.clone(), key: key.cloned() }).await
    }

    async fn begin_try(&self, key: &UploadKey, try_id: &str, lease_ms: i64) -> Result<Option<FileRow>, Error> {
        self.call(&Op::BeginTry { key: key.clone(), try_id: try_id.to_owned(), lease_ms }).await
    }

    async fn end_try(&self, key: &str, try_id: &str) -> Result<(), Error> {
        let op = Op::EndTry { key: key.to_owned(), try_id: try_id.to_owned() };
        self.best_effort(&op, &format!("failed: {try_id} keeps its Idempotency-Key's retries at 409 until its lease ends")).await
    }

    async fn keep_try(&self, key: &UploadKey, try_id: &str) -> Infallible {
        let op = Op::RenewTry { key: key.key.clone(), try_id: try_id.to_owned(), lease_ms: TRY_LEASE_MS };
        let left = format!("failed: {try_id}'s mark lapses unless a later renewal lands");
        // A freed outbound slot is the renewal's before the upload's own calls (lanes
        // resuming against a slow origin could otherwise hold them past the lease, and a
        // retry of the key would then fetch the file a second time).
        let renewing = AuthorityClient { namespace: self.namespace.clone(), key_id: self.key_id.clone(), gate: self.gate.first() };
        loop {
            Delay::from(Duration::from_millis(TRY_RENEW_MS)).await;
            let renewed = renewing.best_effort(&op, &left).await;
            // Its mark is gone (it lapsed and a later try took the key): nothing to keep.
            if renewed == Ok(false) {
                return std::future::pending().await;
            }
        }
    }

    async fn release(&self, file_id: &str) -> Result<(), Error> {
        let left = format!("failed: {file_id}'s reservation counts until it lapses, and its bytes wait for the alarm");
        self.best_effort(&Op::Release { file_id: file_id.to_owned() }, &left).await
    }

    async fn holds(&self, file_id: &str) -> Result<bool, Error> {
        Error::found(self.get(file_id).await)
    }
}
