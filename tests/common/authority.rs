//! The key's authority in memory: [`Authority`] over [`MemTables`], run as the Durable
//! Object runs it (each call one transaction that an internal error rolls back, then the
//! doomed objects deleted from the store before the answer), yielding between receiving a
//! call, running it, deleting and answering, so concurrent flows interleave.

use std::cell::{Cell, Ref, RefCell};
use std::convert::Infallible;
use std::rc::Rc;

use urlstash::core::authority::{Authority, Committed, EXPIRY_BATCH};
use urlstash::core::authority_wire::{FileRow, Op, Page, PageQuery, Purged, Reservation, Standing, Target};
use urlstash::core::idempotency::UploadKey;
use urlstash::core::layout::object_key;
use urlstash::core::quota::{ConfigPatch, KeyConfig, Limits};
use urlstash::core::seams::FileAuthority;
use urlstash::core::Error;

use super::store::MemStore;
use super::tables::MemTables;
use super::yielding::yield_now;

/// A failure on the way to or from the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call never runs (or its transaction rolls back): an internal error.
    Lost,
    /// The call runs and drains, then its answer is lost: an internal error.
    LostAnswer,
    /// The object runs an older version, which does not know the op: it runs nothing and
    /// answers [`Error::Updating`].
    Unknown,
}

/// One call the authority was made, and what its rules answered (before a [`Fault`] on the
/// way back; a [`Fault::Lost`] or [`Fault::Unknown`] call is logged with its error).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub op: Op,
    pub outcome: Result<(), Error>,
}

type FaultPlan = Box<dyn FnMut(&Op) -> Option<Fault>>;

pub struct MemAuthority {
    pub authority: RefCell<Authority<MemTables>>,
    pub store: Rc<MemStore>,
    /// The object's clock.
    pub now: Cell<i64>,
    pub calls: RefCell<Vec<Call>>,
    /// Flow calls received and not yet answered, and the most there ever were at once.
    pub in_flight: Cell<usize>,
    pub max_in_flight: Cell<usize>,
    faults: RefCell<Option<FaultPlan>>,
}

impl MemAuthority {
    pub fn new(store: Rc<MemStore>, defaults: Limits, now_ms: i64) -> Self {
        MemAuthority {
            authority: RefCell::new(Authority::new(MemTables::default(), defaults)),
            store,
            now: Cell::new(now_ms),
            calls: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
            max_in_flight: Cell::new(0),
            faults: RefCell::new(None),
        }
    }

    pub fn tables(&self) -> Ref<'_, MemTables> {
        Ref::map(self.authority.borrow(), |a| &a.tables)
    }

    /// Decides, call by call, which flow calls fail on the way.
    pub fn set_faults(&self, plan: impl FnMut(&Op) -> Option<Fault> + 'static) {
        *self.faults.borrow_mut() = Some(Box::new(plan));
    }

    pub fn advance(&self, ms: i64) {
        self.now.set(self.now.get() + ms);
    }

    /// The ops the flows made, by name (`reserve`, `commit`, ...).
    pub fn call_names(&self) -> Vec<&'static str> {
        self.calls.borrow().iter().map(|c| c.op.name()).collect()
    }

    /// Runs `rule` as one transaction: its writes all land, unless it fails internally.
    fn transaction<T>(&self, op: Op, rule: impl FnOnce(&mut Authority<MemTables>, i64) -> Result<T, Error>) -> Result<T, Error> {
        let now = self.now.get();
        let outcome = {
            let mut authority = self.authority.borrow_mut();
            let before = authority.tables.clone();
            let outcome = rule(&mut authority, now);
            if matches!(outcome, Err(Error::Internal(_))) {
                authority.tables = before;
            }
            outcome
        };
        self.calls.borrow_mut().push(Call { op, outcome: outcome.as_ref().map(drop).map_err(Clone::clone) });
        outcome
    }

    /// Doomed objects that may go now: as the SQL table's `not_before_ms`, an object kept
    /// for a download still being read waits for its time.
    fn doomed(&self) -> Vec<String> {
        self.tables().due(self.now.get())
    }

    /// Deletes `ids`' objects; each confirmed delete leaves the doomed table.
    fn delete_objects(&self, ids: &[String]) -> bool {
        let mut all = true;
        for id in ids {
            match self.store.delete_object(&object_key(id)) {
                Ok(()) => self.authority.borrow_mut().tables.undoom(id, self.now.get()),
                Err(_) => all = false,
            }
        }
        all
    }

    /// Deletes every doomed object, as the object does after a call. Whether all went.
    pub fn drain(&self) -> bool {
        self.delete_objects(&self.doomed())
    }

    /// A call made by the test itself: one transaction and the drain, nothing in between.
    fn now_call<T>(&self, op: Op, rule: impl FnOnce(&mut Authority<MemTables>, i64) -> Result<T, Error>) -> Result<T, Error> {
        let outcome = self.transaction(op, rule);
        self.drain();
        outcome
    }

    pub fn delete(&self, file_id: &str) -> Result<FileRow, Error> {
        self.now_call(Op::Delete { file_id: file_id.into() }, |a, now| a.delete(file_id, now))
    }

    pub fn take_down(&self, target: Target) -> Result<FileRow, Error> {
        self.now_call(Op::TakeDown { target: target.clone() }, |a, now| a.take_down(&target, now))
    }

    /// A purge, then the expiry batches the object runs before it answers, and what is
    /// still to delete after them.
    pub fn purge(&self) -> Result<Purged, Error> {
        let purged = self.now_call(Op::Purge, |a, now| a.purge(now))?;
        self.alarm();
        let pending = self.authority.borrow().backlog(self.now.get())?;
        Ok(Purged { pending, ..purged })
    }

    pub fn get(&self, file_id: &str) -> Result<FileRow, Error> {
        self.now_call(Op::Get { file_id: file_id.into() }, |a, now| a.get(file_id, now))
    }

    pub fn resolve(&self, upload_path: &str, file_name: &str) -> Result<FileRow, Error> {
        let op = Op::Resolve { upload_path: upload_path.into(), file_name: file_name.into() };
        self.now_call(op, |a, now| a.resolve(upload_path, file_name, now))
    }

    pub fn list(&self, query: PageQuery) -> Result<Page, Error> {
        self.now_call(Op::List { query: query.clone() }, |a, now| a.list(&query, now))
    }

    pub fn usage(&self) -> Result<Standing, Error> {
        self.now_call(Op::Usage, |a, now| a.usage(now))
    }

    pub fn configure(&self, patch: ConfigPatch) -> Result<Standing, Error> {
        self.now_call(Op::Configure { patch: patch.clone() }, |a, now| a.configure(&patch, now))
    }

    /// The alarm: expiry batches, each drained, until one comes back short. Rows retired.
    pub fn alarm(&self) -> usize {
        let mut retired = 0;
        loop {
            let now = self.now.get();
            let batch = {
                let mut authority = self.authority.borrow_mut();
                authority.expire(now, EXPIRY_BATCH).expect("expire")
            };
            self.drain();
            retired += batch;
            if batch < EXPIRY_BATCH {
                return retired;
            }
        }
    }

    /// A flow's call: yields on arrival, runs, and when `drains` says the op may have doomed
    /// something (as the object decides: release, and commit unless it retired nothing),
    /// yields while the doomed objects are deleted; yields again before answering.
    async fn call<T>(
        &self,
        op: Op,
        rule: impl FnOnce(&mut Authority<MemTables>, i64) -> Result<T, Error>,
        drains: impl FnOnce(&Result<T, Error>) -> bool,
    ) -> Result<T, Error> {
        self.in_flight.set(self.in_flight.get() + 1);
        self.max_in_flight.set(self.max_in_flight.get().max(self.in_flight.get()));
        let answer = self.handle(op, rule, drains).await;
        self.in_flight.set(self.in_flight.get() - 1);
        answer
    }

    async fn handle<T>(
        &self,
        op: Op,
        rule: impl FnOnce(&mut Authority<MemTables>, i64) -> Result<T, Error>,
        drains: impl FnOnce(&Result<T, Error>) -> bool,
    ) -> Result<T, Error> {
        let fault = self.faults.borrow_mut().as_mut().and_then(|plan| plan(&op));
        yield_now().await;
        if let Some(fault @ (Fault::Lost | Fault::Unknown)) = fault {
            let err = if fault == Fault::Lost { Error::internal("authority call lost") } else { Error::Updating };
            self.calls.borrow_mut().push(Call { op, outcome: Err(err.clone()) });
            return Err(err);
        }
        let early = self.authority.borrow().retired_early;
        let outcome = self.transaction(op, rule);
        // files past their expiry retired by a quota check go as an overwrite's do
        if drains(&outcome) || self.authority.borrow().retired_early > early {
            let doomed = self.doomed();
            yield_now().await;
            self.delete_objects(&doomed);
        }
        yield_now().await;
        match fault {
            Some(Fault::LostAnswer) => Err(Error::internal("authority answer lost")),
            _ => outcome,
        }
    }
}

impl FileAuthority for MemAuthority {
    async fn reserve(&self, reservation: &Reservation) -> Result<u64, Error> {
        let op = Op::Reserve { reservation: reservation.clone() };
        self.call(op, |a, now| a.reserve(reservation.clone(), now), |_| false).await
    }

    async fn commit(&self, file: &FileRow, key: Option<&UploadKey>) -> Result<Option<FileRow>, Error> {
        let op = Op::Commit { file: file.clone(), key: key.cloned() };
        let outcome = self.call(op, |a, now| a.commit_keyed(file.clone(), key, now), |outcome| !matches!(outcome, Ok(Committed::Stored { retired: None })));
        outcome.await.map(Committed::replayed)
    }

    async fn begin_try(&self, key: &UploadKey, try_id: &str, lease_ms: i64) -> Result<Option<FileRow>, Error> {
        let op = Op::BeginTry { key: key.clone(), try_id: try_id.into(), lease_ms };
        self.call(op, |a, now| a.begin_try(key, try_id, lease_ms, now), |_| false).await
    }

    async fn end_try(&self, key: &str, try_id: &str) -> Result<(), Error> {
        self.call(Op::EndTry { key: key.into(), try_id: try_id.into() }, |a, _| a.end_try(key, try_id), |_| false).await
    }

    /// Time does not pass in a host test's flow: the mark needs no renewal (the rule,
    /// `renew_try`, is tested on its own).
    async fn keep_try(&self, _key: &UploadKey, _try_id: &str) -> Infallible {
        std::future::pending().await
    }

    async fn release(&self, file_id: &str) -> Result<(), Error> {
        self.call(Op::Release { file_id: file_id.into() }, |a, _| a.release(file_id), |_| true).await.map(drop)
    }

    async fn holds(&self, file_id: &str) -> Result<bool, Error> {
        Error::found(self.call(Op::Get { file_id: file_id.into() }, |a, now| a.get(file_id, now), |_| false).await.map(drop))
    }
}
