//! The quota ledger as a Durable Object (one per key, named by the key id) and the Worker's
//! client for it, which is the upload flow's `Ledger`.
//!
//! The object keeps the ledger in memory and applies each op synchronously, so concurrent
//! requests cannot interleave inside a check-and-reserve; every change is persisted before
//! the answer leaves (output gate).

use std::cell::RefCell;

use futures_util::future::join;
use js_sys::Object;
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response, State, Storage};

use super::js::{describe, now_ms, wait};
use crate::core::flow::Ledger as LedgerSeam;
use crate::core::ledger::{KeyConfig, Ledger, LedgerOp, LedgerReply, Limits, Usage, Write};
use crate::core::Error;

#[durable_object(fetch)]
pub struct QuotaLedger {
    state: State,
    ledger: RefCell<Option<Ledger>>,
}

impl DurableObject for QuotaLedger {
    fn new(state: State, _env: Env) -> Self {
        QuotaLedger { state, ledger: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let op: LedgerOp = req.json().await?;
        if self.ledger.borrow().is_none() {
            let loaded = load(&self.state.storage()).await?;
            self.ledger.borrow_mut().get_or_insert(loaded);
        }
        // No await between reading the state and changing it.
        let (reply, writes) = self.ledger.borrow_mut().as_mut().expect("loaded above").apply(op);
        if let Err(e) = persist(&self.state.storage(), writes).await {
            // Memory may now be ahead of storage: reload on the next request.
            *self.ledger.borrow_mut() = None;
            return Err(e);
        }
        Response::from_json(&reply)
    }
}

async fn load(storage: &Storage) -> worker::Result<Ledger> {
    let map = storage.list().await?;
    let mut entries = Vec::new();
    map.for_each(&mut |value, key| {
        if let (Some(k), Some(v)) = (key.as_string(), value.as_string()) {
            entries.push((k, v));
        }
    });
    Ok(Ledger::load(entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

/// Writes `writes` as one batch: both calls are issued in the same turn, so the storage
/// commits them together (one transaction), and the answer waits for that commit.
async fn persist(storage: &Storage, writes: Vec<Write>) -> worker::Result<()> {
    let (mut deletes, puts) = (Vec::new(), Object::new());
    for w in writes {
        match w {
            Write::Put(k, v) => {
                js_sys::Reflect::set(&puts, &JsValue::from_str(&k), &JsValue::from_str(&v))?;
            }
            Write::Delete(k) => deletes.push(k),
        }
    }
    let delete = async move {
        if deletes.is_empty() {
            return Ok(0);
        }
        storage.delete_multiple(deletes).await
    };
    let put = async move {
        if Object::keys(&puts).length() == 0 {
            return Ok(());
        }
        storage.put_multiple_raw(puts).await
    };
    let (deleted, put) = join(delete, put).await;
    deleted.and(put)
}

/// The Worker's handle on one key's ledger.
pub(crate) struct KeyLedger {
    namespace: ObjectNamespace,
    key_id: String,
    defaults: Limits,
    now_ms: i64,
}

impl KeyLedger {
    pub fn new(namespace: &ObjectNamespace, key_id: &str, defaults: Limits) -> Self {
        KeyLedger { namespace: namespace.clone(), key_id: key_id.to_owned(), defaults, now_ms: now_ms() }
    }

    async fn send(&self, op: LedgerOp) -> Result<(Usage, Limits), Error> {
        let internal = |what: &str, e: String| Error::internal(format!("ledger {} {what}: {e}", self.key_id));
        let stub = self
            .namespace
            .id_from_name(&self.key_id)
            .and_then(|id| id.get_stub())
            .map_err(|e| internal("stub", e.to_string()))?;
        let body = serde_json::to_string(&op).map_err(|e| internal("encode", e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
        let req = Request::new_with_init("https://ledger.internal/", &init).map_err(|e| internal("request", e.to_string()))?;
        let res = stub.fetch_with_request(req).await.map_err(|e| internal("fetch", e.to_string()))?;
        // The reply is small: read it with one native call, not as a stream.
        let res = web_sys::Response::from(res);
        let text = match res.text() {
            Ok(read) => wait(read).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
            Err(e) => return Err(internal("reply", describe(&e))),
        };
        if res.status() != 200 {
            return Err(internal("status", format!("{} {text}", res.status())));
        }
        let reply: LedgerReply = serde_json::from_str(&text).map_err(|e| internal("reply", e.to_string()))?;
        reply.into_result()
    }

    /// The key's usage and the limits in force.
    pub async fn usage(&self) -> Result<(Usage, Limits), Error> {
        self.send(LedgerOp::Usage { defaults: self.defaults, now_ms: self.now_ms }).await
    }

    /// Sets the key's quota overrides and status (authoritative for uploads at once).
    pub async fn configure(&self, config: KeyConfig) -> Result<(Usage, Limits), Error> {
        self.send(LedgerOp::Configure { config, defaults: self.defaults }).await
    }

    /// Gives `file_id`'s quota back; failures are logged (the caller cannot undo a delete).
    pub async fn release_logged(&self, file_id: &str) {
        self.release_many(vec![file_id.to_owned()]).await;
    }

    /// Gives the quota of several files back in one call; failures are logged.
    pub async fn release_many(&self, file_ids: Vec<String>) {
        let count = file_ids.len();
        if let Err(e) = self.send(LedgerOp::Release { file_ids, defaults: self.defaults }).await {
            worker::console_error!("release of {count} files of {}: {e:?}", self.key_id);
        }
    }
}

impl LedgerSeam for KeyLedger {
    async fn reserve(&self, file_id: &str, object_key: &str, bytes: u64) -> Result<(), Error> {
        let op = LedgerOp::Reserve {
            file_id: file_id.into(),
            object_key: object_key.into(),
            bytes,
            defaults: self.defaults,
            now_ms: self.now_ms,
        };
        self.send(op).await.map(drop)
    }

    async fn settle(&self, file_id: &str, object_key: &str, bytes: u64) -> Result<(), Error> {
        self.send(LedgerOp::Settle { file_id: file_id.into(), object_key: object_key.into(), bytes, defaults: self.defaults })
            .await
            .map(drop)
    }

    async fn release(&self, file_id: &str) -> Result<(), Error> {
        self.send(LedgerOp::Release { file_ids: vec![file_id.into()], defaults: self.defaults }).await.map(drop)
    }
}
