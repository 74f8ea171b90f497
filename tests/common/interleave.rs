//! Uploads stepped in an order a test chooses, to a few names at once, with deletes,
//! expiry and clock moves between their steps; every invariant of docs/authority.md is
//! checked after each step.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::Poll;

use urlstash::core::authority::RESERVATION_TTL_MS;
use urlstash::core::authority_wire::{FileRow, Op, Target};
use urlstash::core::envelope::FileData;
use urlstash::core::layout::object_key;
use urlstash::core::seams::FileAuthority;
use urlstash::core::Error;

use super::authority::Fault;
use super::origin::Reply;
use super::world::World;
use super::yielding::step;

pub const NAMES: [(&str, &str); 4] = [("p", "a"), ("p", "b"), ("p/q", "a"), ("p", "c")];
const MAX_BYTES: u64 = 200_000;
const MAX_FILES: u64 = 3;
/// The Worker ends an upload older than this, long before its reservation could go stale.
const FLOW_TIMEOUT_MS: i64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Small,
    Large,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trouble {
    None,
    Broken,
    CommitLost,
    AnswerLost,
}

#[derive(Debug, Clone)]
pub enum Action {
    Start(usize, Kind, Trouble),
    /// Polls a running upload this many times.
    Step(usize, u8),
    /// The Worker running an upload dies.
    Abandon(usize),
    /// Deletes one of the ids ever committed.
    Delete(usize),
    /// Sends the commit of one of the ids ever committed again, late (a job's invocation
    /// that resumed it, a commit landing after a cancel gave the upload back).
    Late(usize),
    /// The operator takes down the file a name holds.
    TakeDown(usize),
    /// The operator removes every file of the key.
    Purge,
    Alarm,
    Advance(i64),
}

/// Upload `k`'s bytes: its number, then a pattern of its own.
pub fn bytes_of(k: usize, kind: Kind) -> Vec<u8> {
    let len = if kind == Kind::Large { 70_000 } else { 6_000 };
    let mut bytes = (k as u64).to_le_bytes().to_vec();
    bytes.extend((0..len - 8).map(|i| ((i * 31 + k * 7) % 251) as u8));
    bytes
}

/// The world for `actions`: a reply per upload, and the faults of its commit.
fn world(actions: &[Action]) -> World {
    let (bytes, files) = (MAX_BYTES.to_string(), MAX_FILES.to_string());
    let vars = [("FILE_TTL_SECONDS", "60"), ("MAX_FILE_BYTES", "100000"), ("DEFAULT_MAX_BYTES", &bytes), ("DEFAULT_MAX_FILES", &files)];
    let mut w = World::new(&vars);
    let mut faults = HashMap::new();
    let starts = actions.iter().filter_map(|a| match a { Action::Start(_, kind, trouble) => Some((*kind, *trouble)), _ => None });
    for (k, (kind, trouble)) in starts.enumerate() {
        let mut reply = Reply::chunked(&bytes_of(k, kind), None, 10_000);
        if kind == Kind::Unknown {
            reply = reply.without_length();
        }
        match trouble {
            Trouble::Broken => reply = reply.broken_after(1),
            Trouble::CommitLost => drop(faults.insert(format!("u{k}.bin"), Fault::Lost)),
            Trouble::AnswerLost => drop(faults.insert(format!("u{k}.bin"), Fault::LostAnswer)),
            Trouble::None => {}
        }
        w = w.with(&format!("https://o.test/u{k}.bin"), reply);
    }
    w.authority.set_faults(move |op| match op {
        Op::Commit { file, .. } => faults.get(&file.original_name).copied(),
        _ => None,
    });
    w
}

type Upload<'w> = Pin<Box<dyn Future<Output = Result<FileData, Error>> + 'w>>;

enum State<'w> {
    Running(Upload<'w>),
    Done(Result<(), Error>),
    Abandoned,
}

struct Flow<'w> {
    kind: Kind,
    trouble: Trouble,
    started: i64,
    id: Option<String>,
    reserved: bool,
    state: State<'w>,
}

/// The uploads and what the test knows independently of the authority: which file each
/// name holds (moved by every commit that landed, cleared by delete and expiry).
struct Run<'w> {
    w: &'w World,
    flows: Vec<Flow<'w>>,
    ids: HashMap<String, usize>,
    holders: BTreeMap<(String, String), (String, i64)>,
    /// Per committed id, the id its name held before (its bytes must go with the answer).
    replaced: HashMap<String, Option<String>>,
    committed: Vec<String>,
    /// Per committed id, the row its commit sent.
    rows: HashMap<String, FileRow>,
}

impl<'w> Run<'w> {
    fn running(&self) -> Vec<usize> {
        (0..self.flows.len()).filter(|k| matches!(self.flows[*k].state, State::Running(_))).collect()
    }

    fn start(&mut self, name: usize, kind: Kind, trouble: Trouble) {
        let w = self.w;
        let (path, file) = NAMES[name];
        let body = World::body(&format!("https://o.test/u{}.bin", self.flows.len()), path, file);
        let upload: Upload<'w> = Box::pin(async move { w.upload(&body).await });
        let started = w.authority.now.get();
        self.flows.push(Flow { kind, trouble, started, id: None, reserved: false, state: State::Running(upload) });
        self.poll(self.flows.len() - 1);
    }

    /// One step of upload `k`; what it asked of the store and the authority is its own.
    fn poll(&mut self, k: usize) {
        let (calls, puts) = (self.w.authority.calls.borrow().len(), self.w.store.puts.borrow().len());
        let State::Running(upload) = &mut self.flows[k].state else { return };
        if let Poll::Ready(result) = step(upload.as_mut()) {
            self.flows[k].state = State::Done(result.map(drop));
        }
        for put in &self.w.store.puts.borrow()[puts..] {
            self.own(k, put.key.strip_prefix("o/").unwrap());
        }
        for call in self.w.authority.calls.borrow()[calls..].iter() {
            match (&call.op, &call.outcome) {
                (Op::Reserve { reservation }, _) => {
                    self.own(k, &reservation.file_id);
                    self.flows[k].reserved = true;
                }
                (Op::Commit { file, .. }, outcome) => {
                    self.own(k, &file.file_id);
                    if outcome.is_ok() {
                        let name = (file.upload_path.clone(), file.file_name.clone());
                        let old = self.holders.insert(name, (file.file_id.clone(), file.expires_ms));
                        self.replaced.insert(file.file_id.clone(), old.map(|(id, _)| id));
                        self.committed.push(file.file_id.clone());
                        self.rows.insert(file.file_id.clone(), file.clone());
                    }
                }
                // After a commit whose answer was lost: whether it landed.
                (Op::Release { file_id } | Op::Get { file_id }, _) => self.own(k, file_id),
                (op, _) => panic!("an upload made {op:?}"),
            }
        }
    }

    fn own(&mut self, k: usize, id: &str) {
        assert_eq!(*self.ids.entry(id.to_owned()).or_insert(k), k, "{id} is one upload's");
        assert_eq!(self.flows[k].id.get_or_insert_with(|| id.to_owned()), id, "upload {k} has one id");
    }

    fn abandon(&mut self, k: usize) {
        self.flows[k].state = State::Abandoned;
        // The object finishes what it was doing on its own.
        self.w.authority.drain();
    }

    fn apply(&mut self, action: &Action) {
        let running = self.running();
        let pick = |i: usize| (!running.is_empty()).then(|| running[i % running.len()]);
        let now = self.w.authority.now.get();
        match *action {
            Action::Start(name, kind, trouble) => self.start(name, kind, trouble),
            Action::Step(i, times) => {
                if let Some(k) = pick(i) {
                    for _ in 0..times {
                        self.poll(k);
                        self.check();
                    }
                }
            }
            Action::Abandon(i) => pick(i).into_iter().for_each(|k| self.abandon(k)),
            Action::Delete(i) if !self.committed.is_empty() => {
                let id = self.committed[i % self.committed.len()].clone();
                let live = self.holders.iter().find(|(_, (h, exp))| *h == id && *exp > now).map(|(name, _)| name.clone());
                let deleted = self.w.authority.delete(&id);
                assert_eq!(deleted.is_ok(), live.is_some(), "delete {id}: {deleted:?}");
                if let Some(name) = live {
                    self.holders.remove(&name);
                    assert!(self.w.store.bytes(&object_key(&id)).is_none(), "a delete is answered once the bytes are gone");
                }
            }
            Action::Delete(_) => {}
            Action::Late(i) if !self.committed.is_empty() => {
                let id = self.committed[i % self.committed.len()].clone();
                let held = self.w.authority.tables().files.contains_key(&id);
                let mut commit = pin!(self.w.authority.commit(&self.rows[&id], None));
                let outcome = loop {
                    if let Poll::Ready(outcome) = step(commit.as_mut()) {
                        break outcome;
                    }
                };
                // Held still: a repeated call that changes nothing. Else refused: the file
                // was deleted, replaced or expired, its bytes doomed or gone.
                assert!(held || outcome.is_err(), "a late commit of {id}, no longer held, landed");
            }
            Action::Late(_) => {}
            Action::TakeDown(i) => {
                let (path, file) = NAMES[i % NAMES.len()];
                let name = (path.to_owned(), file.to_owned());
                let live = self.holders.get(&name).filter(|(_, exp)| *exp > now).map(|(id, _)| id.clone());
                let target = Target::Name { upload_path: name.0.clone(), file_name: name.1.clone() };
                let taken = self.w.authority.take_down(target);
                assert_eq!(taken.as_ref().ok().map(|r| r.file_id.clone()), live, "take down {path}/{file}: {taken:?}");
                if let Some(id) = live {
                    self.holders.remove(&name);
                    assert!(self.w.store.bytes(&object_key(&id)).is_none(), "a take-down is answered once the bytes are gone");
                }
            }
            Action::Purge => {
                let live: Vec<String> = self.holders.values().filter(|(_, exp)| *exp > now).map(|(id, _)| id.clone()).collect();
                let purged = self.w.authority.purge().expect("purge");
                assert_eq!(purged.files, live.len() as u64, "every live file, and only those");
                assert_eq!(purged.pending, 0, "every object deleted before the answer");
                self.holders.clear();
                for id in live {
                    assert!(self.w.store.bytes(&object_key(&id)).is_none(), "a purge is answered once the bytes are gone");
                }
            }
            Action::Alarm => {
                self.w.authority.alarm();
                self.holders.retain(|_, (_, exp)| *exp > now);
            }
            Action::Advance(ms) => {
                self.w.authority.advance(ms);
                let late: Vec<usize> = running.into_iter().filter(|k| now + ms - self.flows[*k].started > FLOW_TIMEOUT_MS).collect();
                late.into_iter().for_each(|k| self.abandon(k));
            }
        }
        self.check();
    }

    /// Every invariant, now.
    fn check(&self) {
        let (w, now) = (self.w, self.w.authority.now.get());
        let authority = w.authority.authority.borrow();
        let t = &authority.tables;
        // (c) the counters are the live rows; (e) they stay within the quota
        assert_eq!(t.key.bytes, t.files.values().map(|r| r.size).sum::<u64>(), "bytes counter");
        assert_eq!(t.key.files, t.files.len() as u64, "files counter");
        assert!(t.key.bytes <= MAX_BYTES && t.key.files <= MAX_FILES, "over quota: {:?}", t.key);
        // (a, d) a name holds the last upload that committed to it, with exactly its bytes;
        // a failed upload never moved or removed it
        for row in t.files.values() {
            let holder = self.holders.get(&(row.upload_path.clone(), row.file_name.clone()));
            assert_eq!(holder.map(|h| &h.0), Some(&row.file_id), "a row for every name that holds a file, and no other");
        }
        for (path, name) in NAMES {
            let want = self.holders.get(&(path.into(), name.into())).filter(|h| h.1 > now).map(|h| h.0.clone());
            let got = authority.resolve(path, name, now).ok();
            assert_eq!(got.as_ref().map(|r| r.file_id.clone()), want, "{path}/{name}");
            if let Some(row) = got {
                let flow = &self.flows[self.ids[&row.file_id]];
                let bytes = bytes_of(self.ids[&row.file_id], flow.kind);
                assert_eq!(row.size, bytes.len() as u64);
                assert!(w.store.bytes(&object_key(&row.file_id)) == Some(bytes), "{path}/{name} serves its file's bytes");
            }
        }
        // (b, f) an object holds its own upload's bytes, and only while something needs it
        for (key, stored) in w.store.objects.borrow().iter() {
            let id = key.strip_prefix("o/").unwrap();
            let k = self.ids[id];
            let flow = &self.flows[k];
            assert!(stored.bytes == bytes_of(k, flow.kind), "{key} holds upload {k}'s bytes");
            let needed = t.files.contains_key(id)
                || t.doomed.contains(id)
                || matches!(flow.state, State::Running(_))
                || matches!(flow.state, State::Abandoned) && (!flow.reserved || t.reservations.contains_key(id));
            assert!(needed, "{key} is orphaned");
        }
        assert!(w.store.overwritten().is_empty(), "no object is written twice");
        for r in t.reservations.values() {
            assert!(!matches!(self.flows[self.ids[&r.file_id]].state, State::Done(_)), "a finished upload holds no reservation");
        }
        for flow in &self.flows {
            let (State::Done(result), Some(id)) = (&flow.state, &flow.id) else { continue };
            // (g) an upload that met no fault is refused only for the quota: nothing the other
            // uploads, deletes, take-downs or expiry do to the name fails it otherwise
            if flow.trouble == Trouble::None {
                if let Err(err) = result {
                    assert!(matches!(err, Error::QuotaExceeded(_)), "{id} met no fault, yet: {err:?}");
                }
            }
            let lost_answer = flow.trouble == Trouble::AnswerLost && self.replaced.contains_key(id);
            if result.is_err() && !lost_answer {
                assert!(!t.files.contains_key(id) && w.store.bytes(&object_key(id)).is_none(), "{id} failed and left nothing");
            }
            if let Some(Some(old)) = self.replaced.get(id) {
                assert!(w.store.bytes(&object_key(old)).is_none(), "{id} answered: the bytes it replaced are gone");
            }
        }
    }

    /// Runs every upload to its end, then everything's expiry.
    fn finish(&mut self) {
        for _ in 0..10_000 {
            let running = self.running();
            if running.is_empty() {
                break;
            }
            for k in running {
                self.poll(k);
                self.check();
            }
        }
        assert!(self.running().is_empty(), "every upload ends");
        assert!(self.w.authority.tables().doomed.is_empty(), "every call deleted what it doomed");
        self.apply(&Action::Advance(61_000 + RESERVATION_TTL_MS));
        self.apply(&Action::Alarm);
        let t = self.w.authority.tables();
        assert!(t.files.is_empty() && t.reservations.is_empty() && t.key.bytes == 0, "all expired: {:?}", t.key);
        for key in self.w.store.keys() {
            let flow = &self.flows[self.ids[key.strip_prefix("o/").unwrap()]];
            assert!(matches!(flow.state, State::Abandoned) && !flow.reserved, "{key}: only a small upload's bytes outlive a dead Worker");
        }
    }
}

/// Runs `actions`, checking after each step. How each upload ended (`ok`, `err`, `dead`),
/// and the objects left once everything expired.
pub fn run(actions: &[Action]) -> (Vec<&'static str>, usize) {
    let w = world(actions);
    let mut run = Run { w: &w, flows: Vec::new(), ids: HashMap::new(), holders: BTreeMap::new(), replaced: HashMap::new(), committed: Vec::new(), rows: HashMap::new() };
    for action in actions {
        run.apply(action);
    }
    run.finish();
    let ended = |f: &Flow| match &f.state {
        State::Done(Ok(_)) => "ok",
        State::Done(Err(_)) => "err",
        _ => "dead",
    };
    (run.flows.iter().map(ended).collect(), w.store.keys().len())
}

