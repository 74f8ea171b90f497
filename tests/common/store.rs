//! The in-memory [`ObjectStore`] (R2): all-or-nothing puts that yield between chunks, and
//! a record of every put and delete it was asked for, whatever became of it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use urlstash::core::seams::{ObjectMeta, ObjectStore, StoredObject};
use urlstash::core::Error;

use super::origin::MemBody;
use super::yielding::yield_now;

/// One put the store was asked for: `outcome` is `None` while its body still streams.
#[derive(Debug, Clone, PartialEq)]
pub struct PutRecord {
    pub key: String,
    pub meta: ObjectMeta,
    pub outcome: Option<Result<u64, Error>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub bytes: Vec<u8>,
    pub meta: ObjectMeta,
}

#[derive(Default)]
pub struct MemStore {
    /// What R2 holds now.
    pub objects: RefCell<BTreeMap<String, Stored>>,
    /// Every put asked for, in the order asked.
    pub puts: RefCell<Vec<PutRecord>>,
    /// Every key a delete was asked for, in order (deleting nothing included).
    pub deletes: RefCell<Vec<String>>,
    /// Puts whose body is streaming now, and the most there ever were at once.
    pub in_flight: Cell<usize>,
    pub max_in_flight: Cell<usize>,
    /// R2 refuses writes (after reading the body): nothing lands.
    pub fail_puts: Cell<bool>,
    /// R2 refuses deletes: the objects stay.
    pub fail_deletes: Cell<bool>,
}

impl MemStore {
    pub fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.borrow().get(key).map(|s| s.bytes.clone())
    }

    pub fn keys(&self) -> Vec<String> {
        self.objects.borrow().keys().cloned().collect()
    }

    /// Keys of the puts that landed, in order.
    pub fn landed(&self) -> Vec<String> {
        self.puts.borrow().iter().filter(|p| matches!(p.outcome, Some(Ok(_)))).map(|p| p.key.clone()).collect()
    }

    /// Keys written more than once (an object overwritten in place).
    pub fn overwritten(&self) -> Vec<String> {
        let landed = self.landed();
        let mut twice: Vec<String> = landed.iter().filter(|k| landed.iter().filter(|o| o == k).count() > 1).cloned().collect();
        twice.sort();
        twice.dedup();
        twice
    }

    /// Deletes `key` (R2 `delete`: deleting nothing is fine).
    pub fn delete_object(&self, key: &str) -> Result<(), Error> {
        self.deletes.borrow_mut().push(key.to_owned());
        if self.fail_deletes.get() {
            return Err(Error::internal("r2 delete failed"));
        }
        self.objects.borrow_mut().remove(key);
        Ok(())
    }

    /// Reads the whole body, yielding first and before each chunk; refuses more than
    /// `limit` bytes.
    async fn receive(body: MemBody, limit: u64) -> Result<Vec<u8>, Error> {
        yield_now().await;
        let mut bytes = body.prefix;
        for chunk in body.rest {
            if bytes.len() as u64 > limit {
                break;
            }
            yield_now().await;
            bytes.extend(chunk?);
        }
        if bytes.len() as u64 > limit {
            return Err(Error::FileTooLarge { limit });
        }
        Ok(bytes)
    }
}

impl ObjectStore for MemStore {
    type Body = MemBody;

    async fn put_object(
        &self,
        key: &str,
        body: MemBody,
        meta: &ObjectMeta,
        limit: u64,
        expected_sha256: Option<&str>,
    ) -> Result<StoredObject, Error> {
        let record = PutRecord { key: key.to_owned(), meta: meta.clone(), outcome: None };
        let index = {
            let mut puts = self.puts.borrow_mut();
            puts.push(record);
            puts.len() - 1
        };
        self.in_flight.set(self.in_flight.get() + 1);
        self.max_in_flight.set(self.max_in_flight.get().max(self.in_flight.get()));
        let received = Self::receive(body, limit).await;
        self.in_flight.set(self.in_flight.get() - 1);
        let outcome = received.and_then(|bytes| match self.fail_puts.get() {
            true => Err(Error::internal("r2 put failed")),
            false => Ok(bytes),
        });
        // R2 checks a digest it is given and refuses the put when the bytes differ.
        let outcome = outcome.and_then(|bytes| {
            let actual = hex(&Sha256::digest(&bytes));
            match expected_sha256 {
                Some(expected) if expected != actual => Err(Error::ChecksumMismatch { expected: expected.to_owned(), actual }),
                _ => Ok((bytes, actual)),
            }
        });
        self.puts.borrow_mut()[index].outcome = Some(outcome.as_ref().map(|(b, _)| b.len() as u64).map_err(Clone::clone));
        let (bytes, sha256) = outcome?;
        let size = bytes.len() as u64;
        self.objects.borrow_mut().insert(key.to_owned(), Stored { bytes, meta: meta.clone() });
        Ok(StoredObject { size, sha256 })
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
