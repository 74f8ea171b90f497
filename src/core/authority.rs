//! The rules of a key's authority: status, quota, reservations and the one row per live
//! file, written once against [`Tables`] (SQLite in the Durable Object, memory in host
//! tests). Every method is synchronous: the object runs each in one transaction.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::authority_wire::{FileRow, Page, PageQuery, Purged, Reservation, SortKey, Standing, Target};
use super::clock::is_expired;
use super::error::Error;
use super::idempotency::{UploadKey, KEPT_MS};
use super::links::{unexpired, LinkOptions};
use super::quota::{exhausted_message, ConfigPatch, KeyConfig, Limits, Usage};

/// A reservation older than this is presumed abandoned (its Worker died mid-upload): it no
/// longer counts, and the alarm deletes whatever it stored. Far above the longest upload.
pub const RESERVATION_TTL_MS: i64 = 15 * 60 * 1000;
/// How long an id whose object was deleted stays refused (a commit or reserve of it): far
/// longer than any upload or job invocation that could still send one (a job's that resumed
/// it, a late commit after a cancel gave the upload back). Then the tombstone goes.
pub const GONE_KEPT_MS: i64 = 24 * 60 * 60 * 1000;
/// Rows an alarm retires per batch.
pub const EXPIRY_BATCH: usize = 500;
/// Batches of rows past their expiry that usage or a quota check retires before it answers
/// (an alarm late, or its last run failed): 10,000 files, as many as an alarm's run.
pub const EARLY_BATCHES: usize = 20;
/// How long, at most, the object of a file retired by its last allowed download is kept (its
/// expiry may come sooner), so that download can finish reading it.
pub const CLAIMED_KEEP_MS: i64 = 60 * 60 * 1000;
/// When work failed (an object R2 did not delete, an alarm's error), the next try after this.
pub const RETRY_MS: i64 = 60_000;

/// The key's one-row state: its settings and the live counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    pub config: KeyConfig,
    /// Sum of `size` over the live rows.
    pub bytes: u64,
    /// Number of live rows.
    pub files: u64,
}

/// Where an id stands before its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdState {
    /// Neither committed nor doomed.
    Free,
    Committed,
    /// Released, retired, or its reservation dropped as abandoned: its bytes are going.
    Doomed,
}

/// What a commit or a reservation reads before it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Before {
    /// Whether the id has a row, or is marked for deletion (not yet confirmed gone).
    pub id: IdState,
    pub key: KeyState,
    /// The row holding the name, expired or not.
    pub holder: Option<FileRow>,
    /// Every reservation (uploads in flight: few).
    pub reservations: Vec<Reservation>,
    /// The files held by the names reservations go to.
    pub held: Vec<Held>,
}

/// The size of the file a name holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Held {
    pub upload_path: String,
    pub file_name: String,
    pub size: u64,
}

/// What an upload stored now under an `Idempotency-Key` did: what it asked
/// ([`UploadKey::request`]) and the file it stored, as its commit recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FirstTry {
    pub request: String,
    pub row: FileRow,
}

/// A try of an upload with an `Idempotency-Key` that is running: which try, what it asked
/// ([`UploadKey::request`]), and until when it may run (then it is presumed dead).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TryInFlight {
    pub try_id: String,
    pub request: String,
    pub until_ms: i64,
}

/// What a commit came to: the file stored (and the id of the one its name held, retired),
/// or, for a retry of an upload its `Idempotency-Key` stored already, that upload's file
/// (this one's bytes dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    Stored { retired: Option<String> },
    Replayed(FileRow),
}

impl Committed {
    /// What the commit answers: the first try's file when this one was a retry.
    pub fn replayed(self) -> Option<FileRow> {
        match self {
            Committed::Replayed(first) => Some(first),
            Committed::Stored { .. } => None,
        }
    }
}

/// The first try of `key`'s upload if there was one (kept [`KEPT_MS`]), when `key` asks the
/// same; 422 when it asks something else.
fn replay(first: Option<FirstTry>, key: &UploadKey) -> Result<Option<FileRow>, Error> {
    match first {
        Some(first) if first.request == key.request => Ok(Some(first.row)),
        Some(_) => Err(Error::IdempotencyKeyReused),
        None => Ok(None),
    }
}

/// The storage the rules run on. Reads and writes are synchronous; the caller makes one
/// rule call one transaction.
pub trait Tables {
    fn key(&self) -> Result<KeyState, Error>;
    fn set_key(&mut self, key: &KeyState) -> Result<(), Error>;
    fn file(&self, file_id: &str) -> Result<Option<FileRow>, Error>;
    /// The row holding a name, expired or not.
    fn file_at(&self, upload_path: &str, file_name: &str) -> Result<Option<FileRow>, Error>;
    fn insert_file(&mut self, row: &FileRow) -> Result<(), Error>;
    fn delete_file(&mut self, file_id: &str) -> Result<(), Error>;
    /// Sets a row's `options` (its link options, as JSON).
    fn set_options(&mut self, file_id: &str, options: Option<&str>) -> Result<(), Error>;
    /// Rows with `expires_ms <= now_ms`, earliest first, at most `limit`.
    fn expired(&self, now_ms: i64, limit: usize) -> Result<Vec<FileRow>, Error>;
    fn next_expiry(&self) -> Result<Option<i64>, Error>;
    /// Ends the lifetime of every live row (`expires_ms > now_ms`) at `now_ms`, so the
    /// expiry that follows retires them. Returns how many rows, and their bytes.
    fn lapse_live(&mut self, now_ms: i64) -> Result<Purged, Error>;
    /// How many objects are due to be deleted at `now_ms` and still there: expired rows not
    /// retired yet, and doomed objects not yet confirmed gone (those kept for a download in
    /// progress not counted).
    fn backlog(&self, now_ms: i64) -> Result<u64, Error>;
    /// Live rows (`expires_ms > now_ms`) of `query`, at most `query.limit` of them.
    fn page(&self, query: &PageQuery, now_ms: i64) -> Result<Vec<FileRow>, Error>;
    /// Every reservation (uploads in flight: few).
    fn reservations(&self) -> Result<Vec<Reservation>, Error>;
    fn insert_reservation(&mut self, reservation: &Reservation) -> Result<(), Error>;
    fn delete_reservation(&mut self, file_id: &str) -> Result<(), Error>;
    /// What a commit or a reservation of `file_id` to a name decides on, read at once (in
    /// SQLite one statement: a small upload's commit is one read and its writes).
    fn before(&self, file_id: &str, upload_path: &str, file_name: &str) -> Result<Before, Error>;
    /// Marks `file_id`'s object for deletion (done after the transaction, retried by the
    /// alarm until it is confirmed), not before `not_before_ms` (0: at once). An object
    /// doomed already keeps its time.
    fn doom_after(&mut self, file_id: &str, not_before_ms: i64) -> Result<(), Error>;
    /// The earliest time a doomed object may go (0: at once), passed or not.
    fn next_doomed(&self) -> Result<Option<i64>, Error>;
    /// What the upload `key` (an [`UploadKey::key`]) stored, if it was at `since_ms` or later.
    fn first_try(&self, key: &str, since_ms: i64) -> Result<Option<FirstTry>, Error>;
    /// Keeps `row` as what `key`'s upload stored at `at_ms`, and forgets the keys kept
    /// before `forget_before_ms`.
    fn keep_first_try(&mut self, key: &UploadKey, row: &FileRow, at_ms: i64, forget_before_ms: i64) -> Result<(), Error>;
    /// The try of the upload `key` (an [`UploadKey::key`]) marked running, lapsed or not.
    fn try_in_flight(&self, key: &str) -> Result<Option<TryInFlight>, Error>;
    /// Marks `running` as `key`'s running try, and forgets the tries that lapsed before
    /// `now_ms`.
    fn set_try_in_flight(&mut self, key: &str, running: &TryInFlight, now_ms: i64) -> Result<(), Error>;
    /// Forgets `key`'s running try: `try_id`'s only, or (`None`) whichever it is.
    fn end_try(&mut self, key: &str, try_id: Option<&str>) -> Result<(), Error>;

    /// Marks `file_id`'s object for deletion at once.
    fn doom(&mut self, file_id: &str) -> Result<(), Error> {
        self.doom_after(file_id, 0)
    }
}

/// One key's authority over `T`.
#[derive(Debug)]
pub struct Authority<T> {
    pub tables: T,
    /// The deployment's default limits (`[vars]`).
    pub defaults: Limits,
    /// Files past their expiry that ops other than the alarm's retired (usage, a quota
    /// check), in all: their objects are doomed, and the caller deletes them as an
    /// overwrite's, before its answer.
    pub retired_early: usize,
}

/// What the quota counts: the live files, and every upload in flight at its reserved size
/// and one file, except that each name counts once, at the largest of the file it holds and
/// the uploads in flight to it (whichever of them lands last, the name keeps one file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counted {
    bytes: u64,
    files: u64,
}

type Name<'a> = (&'a str, &'a str);

/// The names an upload deciding (to `name`) and the uploads in flight go to.
struct Around<'a> {
    key: &'a KeyState,
    name: Option<Name<'a>>,
    /// Per name: the size of the file it holds, and the uploads in flight to it (other
    /// than the one deciding).
    names: BTreeMap<Name<'a>, (Option<u64>, Vec<u64>)>,
}

impl<'a> Around<'a> {
    /// `name`: the deciding upload's (`None`: not known yet, so a name of its own) and
    /// the size of the file it holds; `others`: the uploads in flight; `held`: the files
    /// their names hold.
    fn new(key: &'a KeyState, name: Option<(Name<'a>, Option<u64>)>, others: &'a [Reservation], held: &'a [Held]) -> Self {
        let mut names: BTreeMap<Name<'a>, (Option<u64>, Vec<u64>)> = BTreeMap::new();
        if let Some((name, holder)) = name {
            names.entry(name).or_default().0 = holder;
        }
        for h in held {
            names.entry((&h.upload_path, &h.file_name)).or_default().0 = Some(h.size);
        }
        for r in others {
            names.entry((&r.upload_path, &r.file_name)).or_default().1.push(r.bytes);
        }
        Around { key, name: name.map(|(name, _)| name), names }
    }

    /// What is counted when the deciding upload's name's own claim is `claim` (its file
    /// before the step; the upload's size after; `None`: none) besides the uploads in
    /// flight to it.
    fn counted(&self, claim: Option<u64>) -> Counted {
        let mut count = Counted { bytes: self.key.bytes, files: self.key.files };
        let mut add = |holder: Option<u64>, claims: &mut dyn Iterator<Item = u64>| {
            let (held_bytes, held_files) = holder.map_or((0, 0), |size| (size, 1));
            let largest = claims.max();
            count.bytes = count.bytes.saturating_sub(held_bytes) + largest.unwrap_or(0);
            count.files = count.files.saturating_sub(held_files) + u64::from(largest.is_some());
        };
        for (name, (holder, pending)) in &self.names {
            let own = if Some(*name) == self.name { claim } else { *holder };
            add(*holder, &mut own.into_iter().chain(pending.iter().copied()));
        }
        if self.name.is_none() {
            add(None, &mut claim.into_iter());
        }
        count
    }

    /// The most bytes the deciding upload may hold, up to `most`, within the key's byte
    /// quota: what its name counts already (the file it holds, or a larger upload in flight
    /// to it), and whatever else the quota leaves.
    fn room(&self, most: u64, limits: Limits) -> u64 {
        let counted = self.name.and_then(|name| self.names.get(&name)).map_or(0, |(holder, pending)| {
            pending.iter().copied().chain(*holder).max().unwrap_or(0)
        });
        let spare = limits.max_bytes.saturating_sub(self.counted(Some(counted)).bytes);
        most.min(counted.saturating_add(spare))
    }

    /// The count now, without the upload deciding.
    fn before(&self) -> Counted {
        let holder = self.name.and_then(|name| self.names.get(&name)).and_then(|(holder, _)| *holder);
        self.counted(holder)
    }

    /// Refuses with 429 a step whose count `after` exceeds `limits`, in bytes or in files,
    /// and grows (a step that does not grow the count is taken even over limits lowered
    /// below usage: an overwrite with a smaller file). The message says what the upload
    /// needs (`bytes`, and a file unless it replaces one; `None`: not known yet).
    fn check(&self, after: Counted, bytes: Option<u64>, limits: Limits) -> Result<(), Error> {
        let before = self.before();
        let over_bytes = after.bytes > limits.max_bytes && after.bytes > before.bytes;
        let over_files = after.files > limits.max_files && after.files > before.files;
        if !over_bytes && !over_files {
            return Ok(());
        }
        let pending = self.names.values().flat_map(|(_, pending)| pending);
        let usage = Usage {
            bytes: self.key.bytes,
            files: self.key.files,
            reserved_bytes: pending.clone().sum(),
            reserved_files: pending.count() as u64,
        };
        Err(Error::QuotaExceeded(exhausted_message(bytes, after.files > before.files, usage, limits)))
    }
}

/// `key`, or 401 when it was revoked.
fn unrevoked(key: KeyState) -> Result<KeyState, Error> {
    if key.config.revoked {
        return Err(Error::KeyRevoked);
    }
    Ok(key)
}

/// `key` when it may store: not revoked, not disabled.
fn uploading(key: KeyState) -> Result<KeyState, Error> {
    let key = unrevoked(key)?;
    if key.config.disabled {
        return Err(Error::KeyDisabled);
    }
    Ok(key)
}

/// When a reservation stops counting (and is dropped), unless refreshed before.
fn lapses_at(r: &Reservation) -> i64 {
    r.at_ms + RESERVATION_TTL_MS
}

/// Reservations that still count at `now_ms`, other than `except`'s.
fn live_reservations(all: Vec<Reservation>, now_ms: i64, except: &str) -> Vec<Reservation> {
    all.into_iter().filter(|r| r.file_id != except && !is_expired(lapses_at(r), now_ms)).collect()
}

impl<T: Tables> Authority<T> {
    pub fn new(tables: T, defaults: Limits) -> Self {
        Authority { tables, defaults, retired_early: 0 }
    }

    /// The key's state, or 401 when it was revoked.
    fn key(&self) -> Result<KeyState, Error> {
        unrevoked(self.tables.key()?)
    }

    fn standing(&self, key: &KeyState, now_ms: i64) -> Result<Standing, Error> {
        let reserved = live_reservations(self.tables.reservations()?, now_ms, "");
        let usage = Usage {
            bytes: key.bytes,
            files: key.files,
            reserved_bytes: reserved.iter().map(|r| r.bytes).sum(),
            reserved_files: reserved.len() as u64,
        };
        Ok(Standing { usage, limits: key.config.limits(self.defaults), config: key.config.clone() })
    }

    /// What the key holds and may hold: its live files (any past their expiry that the
    /// alarm has not retired yet are retired first).
    pub fn usage(&mut self, now_ms: i64) -> Result<Standing, Error> {
        let mut key = self.key()?;
        if self.tables.next_expiry()?.is_some_and(|at| is_expired(at, now_ms)) && self.retire_early(now_ms)? {
            // the counters as the retirement left them
            key = self.key()?;
        }
        self.standing(&key, now_ms)
    }

    /// Retires up to `batch` files past their expiry (their objects doomed) and answers how
    /// many. The alarm's work; also asked before a quota refusal and by `usage` (with the
    /// alarm due and not run yet, or its last run failed), so that no upload is refused,
    /// and no usage shown, for a file already gone.
    fn retire_expired(&mut self, now_ms: i64, batch: usize) -> Result<usize, Error> {
        let expired = self.tables.expired(now_ms, batch)?;
        if !expired.is_empty() {
            self.retire(&expired, 0)?;
        }
        Ok(expired.len())
    }

    /// [`retire_expired`](Self::retire_expired) outside the alarm, counted in
    /// [`retired_early`](Self::retired_early), up to [`EARLY_BATCHES`] batches: the counters
    /// then leave out every file gone but those of a purge past that many (docs/keys.md),
    /// which the alarm takes.
    fn retire_early(&mut self, now_ms: i64) -> Result<bool, Error> {
        let mut any = false;
        for _ in 0..EARLY_BATCHES {
            let retired = self.retire_expired(now_ms, EXPIRY_BATCH)?;
            self.retired_early += retired;
            any |= retired > 0;
            if retired < EXPIRY_BATCH {
                break;
            }
        }
        Ok(any)
    }

    /// Changes the key's settings (only those `patch` gives). A revoked key stays revoked:
    /// configuring it is 404.
    pub fn configure(&mut self, patch: &ConfigPatch, now_ms: i64) -> Result<Standing, Error> {
        let mut key = self.tables.key()?;
        if key.config.revoked {
            return Err(Error::KeyNotFound);
        }
        patch.apply(&mut key.config);
        self.tables.set_key(&key)?;
        if key.config.revoked {
            let limits = key.config.limits(self.defaults);
            return Ok(Standing { usage: Usage::default(), limits, config: key.config });
        }
        self.standing(&key, now_ms)
    }

    /// Holds `reservation.bytes` and one file for an upload about to be stored, and answers
    /// the bytes held. An upload of unknown length (`up_to`) holds what the quota leaves
    /// it, up to `bytes`: at least one byte, else 429. The file its name holds now will be
    /// replaced, so it does not count, unless another upload in flight to the same name
    /// already claimed that. A committed id holds nothing (a job refreshing its reservation
    /// after its commit landed); a released or abandoned one is refused (`ReservationGone`).
    pub fn reserve(&mut self, reservation: Reservation, now_ms: i64) -> Result<u64, Error> {
        match self.reserve_once(reservation.clone(), now_ms) {
            Err(Error::QuotaExceeded(_)) if self.retire_early(now_ms)? => self.reserve_once(reservation, now_ms),
            other => other,
        }
    }

    fn reserve_once(&mut self, mut reservation: Reservation, now_ms: i64) -> Result<u64, Error> {
        let before = self.tables.before(&reservation.file_id, &reservation.upload_path, &reservation.file_name)?;
        match before.id {
            IdState::Free => {}
            // Stored already (a job's invocation that ended before it heard so): nothing to hold.
            IdState::Committed => return Ok(reservation.bytes),
            IdState::Doomed => return Err(Error::ReservationGone),
        }
        let key = uploading(before.key)?;
        let limits = key.config.limits(self.defaults);
        let others = live_reservations(before.reservations, now_ms, &reservation.file_id);
        let name = (reservation.upload_path.as_str(), reservation.file_name.as_str());
        let holder = before.holder.as_ref().map(|h| h.size);
        let around = Around::new(&key, Some((name, holder)), &others, &before.held);
        let needs = if reservation.up_to {
            reservation.bytes = around.room(reservation.bytes, limits).max(1);
            reservation.up_to = false; // from here on, what it holds
            None
        } else {
            Some(reservation.bytes)
        };
        // Until it lands, the name's file still counts too: the larger of the two.
        let after = around.counted(Some(holder.unwrap_or(0).max(reservation.bytes)));
        around.check(after, needs, limits)?;
        reservation.at_ms = now_ms;
        self.tables.insert_reservation(&reservation)?;
        Ok(reservation.bytes)
    }

    /// Whether the key has room for an upload of unknown size to `name` (a background job,
    /// admitted before its size is known): one more byte and, unless it replaces the file
    /// the name holds, one more file; else 429. `None`: the name comes from the origin.
    pub fn room(&mut self, name: Option<(&str, &str)>, now_ms: i64) -> Result<(), Error> {
        match self.room_once(name, now_ms) {
            Err(Error::QuotaExceeded(_)) if self.retire_early(now_ms)? => self.room_once(name, now_ms),
            other => other,
        }
    }

    fn room_once(&self, name: Option<(&str, &str)>, now_ms: i64) -> Result<(), Error> {
        let (upload_path, file_name) = name.unwrap_or_default();
        let before = self.tables.before("", upload_path, file_name)?;
        let key = uploading(before.key)?;
        let others = live_reservations(before.reservations, now_ms, "");
        let name = name.map(|name| (name, before.holder.as_ref().map(|h| h.size)));
        let around = Around::new(&key, name, &others, &before.held);
        // As if a one-byte file had replaced the name's.
        around.check(around.counted(Some(1)), None, key.config.limits(self.defaults))
    }

    /// Records a stored upload and moves its name to it; the file the name held is retired
    /// here (its quota given back once, its object doomed). Refused (429, or 401 for a key
    /// revoked or disabled meanwhile) when it does not fit, and (400) when its lifetime ran
    /// out while it was fetched: then its reservation goes, its object is doomed, and the
    /// file the name held stays. Returns the retired `file_id`.
    pub fn commit(&mut self, row: FileRow, now_ms: i64) -> Result<Option<String>, Error> {
        let before = self.tables.before(&row.file_id, &row.upload_path, &row.file_name)?;
        match before.id {
            IdState::Free => {}
            IdState::Committed => return Ok(None), // a repeated call changes nothing
            IdState::Doomed => return Err(Error::ReservationGone),
        }
        let tried = match self.try_commit(&row, before, now_ms) {
            Err(Error::QuotaExceeded(_)) if self.retire_early(now_ms)? => {
                let before = self.tables.before(&row.file_id, &row.upload_path, &row.file_name)?;
                self.try_commit(&row, before, now_ms)
            }
            other => other,
        };
        match tried {
            Err(err @ (Error::QuotaExceeded(_) | Error::KeyDisabled | Error::KeyRevoked | Error::Lapsed { .. })) => {
                self.tables.delete_reservation(&row.file_id)?;
                self.tables.doom(&row.file_id)?;
                Err(err)
            }
            other => other,
        }
    }

    /// [`commit`](Self::commit), for an upload that may carry an `Idempotency-Key` (`key`).
    /// The first commit of a key keeps its file with it, for [`KEPT_MS`]; a later one (a
    /// retry whose first try's answer was lost, or a try that began after a running one's
    /// lease ran out) is not stored: its reservation and bytes go, and it is answered with
    /// the first try's file, or 422 when it asks for something else; so is one whose name a
    /// later item of its batch stored already (409, [`superseded`](Self::superseded)).
    pub fn commit_keyed(&mut self, row: FileRow, key: Option<&UploadKey>, now_ms: i64) -> Result<Committed, Error> {
        let Some(key) = key else {
            return self.commit(row, now_ms).map(|retired| Committed::Stored { retired });
        };
        // A key revoked or disabled since its question is refused first, as a commit is.
        // Release leaves a committed id alone: a commit sent again keeps its own file.
        let first = uploading(self.tables.key()?).and_then(|_| replay(self.tables.first_try(&key.key, now_ms - KEPT_MS)?, key));
        let first = match first {
            Ok(None) => self.superseded(key, &row, now_ms).map(|()| None),
            first => first,
        };
        match first {
            Ok(None) => {}
            Ok(Some(first)) => {
                self.release(&row.file_id)?;
                self.tables.end_try(&key.key, None)?;
                return Ok(Committed::Replayed(first));
            }
            Err(err) => {
                self.release(&row.file_id)?;
                return Err(err);
            }
        }
        let file_id = row.file_id.clone();
        let retired = self.commit(row, now_ms)?;
        if let Some(row) = self.tables.file(&file_id)? {
            self.tables.keep_first_try(key, &row, now_ms, now_ms - KEPT_MS)?;
        }
        // From here on the key answers its file: no try of it need wait for a running one.
        // (A refused commit leaves the marks alone: its own try ends its own.)
        self.tables.end_try(&key.key, None)?;
        Ok(Committed::Stored { retired })
    }

    /// Refused (409) once one of the batch's later items sharing the file name (`key.later`)
    /// stored its file under the name `row` takes: stored now, this one would take the name
    /// from it. (Asked at the commit, where the name is decided: a later item whose
    /// `upload_path` was another, or decided from another type, is no rival.)
    fn superseded(&self, key: &UploadKey, row: &FileRow, now_ms: i64) -> Result<(), Error> {
        for later in &key.later {
            let first = self.tables.first_try(later, now_ms - KEPT_MS)?;
            if first.is_some_and(|f| f.row.upload_path == row.upload_path && f.row.file_name == row.file_name) {
                return Err(Error::Superseded);
            }
        }
        Ok(())
    }

    /// The file an upload with `key` stored already (its retry's answer), if any: 422 when
    /// `key` asked for something else. A revoked or disabled key is refused (401), as every
    /// upload of it is: before its file is fetched.
    pub fn replayed(&self, key: &UploadKey, now_ms: i64) -> Result<Option<FileRow>, Error> {
        uploading(self.tables.key()?)?;
        replay(self.tables.first_try(&key.key, now_ms - KEPT_MS)?, key)
    }

    /// An upload with `key` begins, as try `try_id` that may run `lease_ms`: the file the
    /// key's first try stored, if any ([`replayed`](Self::replayed)). Else, while another try
    /// of the key runs (until its commit, its [`end_try`](Self::end_try) or its lease's end),
    /// 409 with what its lease has left (422 if it asked for something else), so the origin
    /// is not fetched twice; with none, this try is marked running (the same try asking
    /// again is marked anew).
    pub fn begin_try(&mut self, key: &UploadKey, try_id: &str, lease_ms: i64, now_ms: i64) -> Result<Option<FileRow>, Error> {
        if let Some(first) = self.replayed(key, now_ms)? {
            return Ok(Some(first));
        }
        let running = self.tables.try_in_flight(&key.key)?;
        if let Some(running) = running.filter(|r| r.try_id != try_id && !is_expired(r.until_ms, now_ms)) {
            if running.request != key.request {
                return Err(Error::IdempotencyKeyReused);
            }
            let secs = (running.until_ms - now_ms + 999) / 1000;
            return Err(Error::IdempotencyKeyInFlight { retry_after_secs: u32::try_from(secs).unwrap_or(u32::MAX).max(1) });
        }
        let running = TryInFlight { try_id: try_id.to_owned(), request: key.request.clone(), until_ms: now_ms + lease_ms };
        self.tables.set_try_in_flight(&key.key, &running, now_ms)?;
        Ok(None)
    }

    /// Extends the mark of the running try `try_id` of the upload `key` (an
    /// [`UploadKey::key`]) to `lease_ms` from now, if the mark is still its own (not ended by
    /// a commit or its failure, nor taken by a later try after it lapsed). Answers whether it
    /// was: a renewal never makes a mark.
    pub fn renew_try(&mut self, key: &str, try_id: &str, lease_ms: i64, now_ms: i64) -> Result<bool, Error> {
        match self.tables.try_in_flight(key)? {
            Some(running) if running.try_id == try_id => {
                self.tables.set_try_in_flight(key, &TryInFlight { until_ms: now_ms + lease_ms, ..running }, now_ms)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The try `try_id` of the upload `key` (an [`UploadKey::key`]) failed before its
    /// commit: the key's next try runs. A later try's mark stays. Idempotent.
    pub fn end_try(&mut self, key: &str, try_id: &str) -> Result<(), Error> {
        self.tables.end_try(key, Some(try_id))
    }

    fn try_commit(&mut self, row: &FileRow, before: Before, now_ms: i64) -> Result<Option<String>, Error> {
        let mut key = uploading(before.key)?;
        unexpired(row.upload_ms, row.expires_ms, now_ms)?;
        let limits = key.config.limits(self.defaults);
        let old = before.holder;
        let reserved = before.reservations.iter().any(|r| r.file_id == row.file_id);
        let others = live_reservations(before.reservations, now_ms, &row.file_id);
        let name = (row.upload_path.as_str(), row.file_name.as_str());
        let around = Around::new(&key, Some((name, old.as_ref().map(|o| o.size))), &others, &before.held);
        // The name's file is this one now: the file it held no longer counts.
        around.check(around.counted(Some(row.size)), Some(row.size), limits)?;
        let (old_bytes, old_files) = old.as_ref().map_or((0, 0), |o| (o.size, 1));
        let bytes = key.bytes.saturating_sub(old_bytes) + row.size;
        let files = key.files.saturating_sub(old_files) + 1;
        if let Some(old) = &old {
            self.tables.delete_file(&old.file_id)?;
            self.tables.doom(&old.file_id)?;
        }
        self.tables.insert_file(&FileRow { named_ms: now_ms, ..row.clone() })?;
        if reserved {
            self.tables.delete_reservation(&row.file_id)?;
        }
        key.bytes = bytes;
        key.files = files;
        self.tables.set_key(&key)?;
        Ok(old.map(|o| o.file_id))
    }

    /// An upload failed after it may have stored something: its reservation goes, and
    /// unless `file_id` was committed (its answer lost on the way) its object is doomed.
    /// Idempotent.
    pub fn release(&mut self, file_id: &str) -> Result<(), Error> {
        self.tables.delete_reservation(file_id)?;
        if self.tables.file(file_id)?.is_some() {
            return Ok(());
        }
        self.tables.doom(file_id)
    }

    /// The live row of `file_id`.
    pub fn get(&self, file_id: &str, now_ms: i64) -> Result<FileRow, Error> {
        self.key()?;
        self.live(self.tables.file(file_id)?, now_ms)
    }

    /// The live row a name holds (public: `file_url` works whatever the key's status).
    pub fn resolve(&self, upload_path: &str, file_name: &str, now_ms: i64) -> Result<FileRow, Error> {
        self.live(self.tables.file_at(upload_path, file_name)?, now_ms)
    }

    fn live(&self, row: Option<FileRow>, now_ms: i64) -> Result<FileRow, Error> {
        row.filter(|r| !is_expired(r.expires_ms, now_ms)).ok_or(Error::FileNotFound)
    }

    /// Deletes the live file `file_id`: its row and quota now, its object doomed.
    pub fn delete(&mut self, file_id: &str, now_ms: i64) -> Result<FileRow, Error> {
        self.key()?;
        self.take_down(&Target::Id { file_id: file_id.to_owned() }, now_ms)
    }

    /// The operator's removal of the live file `target` names, whatever the key's status
    /// (a revoked key's files included): its row and quota now, its object doomed.
    pub fn take_down(&mut self, target: &Target, now_ms: i64) -> Result<FileRow, Error> {
        let row = match target {
            Target::Id { file_id } => self.tables.file(file_id)?,
            Target::Name { upload_path, file_name } => self.tables.file_at(upload_path, file_name)?,
        };
        let row = self.live(row, now_ms)?;
        self.retire(std::slice::from_ref(&row), 0)?;
        Ok(row)
    }

    /// The operator's removal of every live file of the key, whatever its status: each one's
    /// lifetime ends now (none is resolved, listed or claimed from here on), and the expiry
    /// that follows retires them in batches. Uploads in flight still land unless the key is
    /// disabled or revoked first. `pending` is left 0: what is still to go is known only
    /// after that expiry ([`backlog`](Self::backlog)).
    pub fn purge(&mut self, now_ms: i64) -> Result<Purged, Error> {
        self.tables.lapse_live(now_ms)
    }

    /// How many objects are due to go and not gone yet (see [`Tables::backlog`]).
    pub fn backlog(&self, now_ms: i64) -> Result<u64, Error> {
        self.tables.backlog(now_ms)
    }

    /// Counts one download (`count`; otherwise only checks the file is live) of `file_id`
    /// against its `max_downloads`; the one that reaches it retires the file (row and quota
    /// now, its object doomed). `Ok`: this response may be served; `FileNotFound` once the
    /// file is gone. Public, like [`resolve`](Self::resolve): links serve whatever the key's
    /// status.
    pub fn claim(&mut self, file_id: &str, count: bool, now_ms: i64) -> Result<(), Error> {
        let row = self.live(self.tables.file(file_id)?, now_ms)?;
        let mut options = LinkOptions::of(row.options.as_deref());
        let Some(max) = options.max_downloads.filter(|_| count) else { return Ok(()) };
        options.downloads += 1;
        if options.downloads >= max {
            // Its object stays a while (no row names it, so nothing else reads it): the
            // download being served may take time.
            let keep_until = (now_ms + CLAIMED_KEEP_MS).min(row.expires_ms);
            return self.retire(std::slice::from_ref(&row), keep_until);
        }
        self.tables.set_options(file_id, options.to_json().as_deref())
    }

    /// Removes `rows`, gives their quota back (one update of the counters) and dooms their
    /// objects, not before `keep_until_ms` (0: at once).
    fn retire(&mut self, rows: &[FileRow], keep_until_ms: i64) -> Result<(), Error> {
        let mut key = self.tables.key()?;
        for row in rows {
            key.bytes = key.bytes.saturating_sub(row.size);
            key.files = key.files.saturating_sub(1);
            self.tables.delete_file(&row.file_id)?;
            self.tables.doom_after(&row.file_id, keep_until_ms)?;
        }
        self.tables.set_key(&key)
    }

    /// A page of the key's live files.
    pub fn list(&self, query: &PageQuery, now_ms: i64) -> Result<Page, Error> {
        self.key()?;
        let mut files = self.tables.page(&PageQuery { limit: query.limit + 1, ..query.clone() }, now_ms)?;
        let more = files.len() > query.limit as usize;
        files.truncate(query.limit as usize);
        let next = files.last().filter(|_| more).map(|row| SortKey::of(row, query.order));
        Ok(Page { files, next })
    }

    /// Retires up to `batch` expired rows and drops abandoned reservations (dooming what
    /// they stored). Returns how many rows went; `batch` of them means there may be more.
    pub fn expire(&mut self, now_ms: i64, batch: usize) -> Result<usize, Error> {
        let retired = self.retire_expired(now_ms, batch)?;
        for stale in self.tables.reservations()?.into_iter().filter(|r| is_expired(lapses_at(r), now_ms)) {
            self.tables.delete_reservation(&stale.file_id)?;
            // A committed file's bytes are its row's, whatever reservation was left behind.
            if self.tables.file(&stale.file_id)?.is_none() {
                self.tables.doom(&stale.file_id)?;
            }
        }
        Ok(retired)
    }

    /// When something next falls due after `now_ms`: the earliest expiry, reservation
    /// deadline, or doomed object's time. An object left past its time (its delete failed,
    /// or the instance was reset before it ran) is due [`RETRY_MS`] from now, never at
    /// once: an alarm whose delete fails would otherwise run again without pause.
    pub fn next_due(&self, now_ms: i64) -> Result<Option<i64>, Error> {
        let stale = self.tables.reservations()?.iter().map(lapses_at).min();
        let doomed = self.tables.next_doomed()?.map(|at| if at <= now_ms { now_ms + RETRY_MS } else { at });
        let times = [self.tables.next_expiry()?, stale, doomed];
        Ok(times.into_iter().flatten().min())
    }
}
