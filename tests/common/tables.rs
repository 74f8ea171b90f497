//! [`Tables`] in memory, with the semantics of the Durable Object's SQL (`src/server/sql.rs`):
//! the same constraints, filters and orders.

use std::collections::{BTreeMap, BTreeSet};

use urlstash::core::authority::{Before, FirstTry, Held, IdState, KeyState, Tables, TryInFlight, GONE_KEPT_MS};
use urlstash::core::authority_wire::{FileRow, Order, PageQuery, Purged, Reservation, SortKey};
use urlstash::core::idempotency::UploadKey;
use urlstash::core::Error;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemTables {
    pub key: KeyState,
    /// `files`, by `file_id`.
    pub files: BTreeMap<String, FileRow>,
    pub reservations: BTreeMap<String, Reservation>,
    pub doomed: BTreeSet<String>,
    /// Doomed objects kept until a time (`doomed.not_before_ms` when not 0).
    pub kept: BTreeMap<String, i64>,
    /// Ids whose objects were deleted, and when (`gone`): still refused for a while.
    pub gone: BTreeMap<String, i64>,
    /// `upload_keys`: by key, what its upload asked, the file it stored, and when.
    pub first_tries: BTreeMap<String, (FirstTry, i64)>,
    /// Each `Idempotency-Key`'s running try.
    pub tries: BTreeMap<String, TryInFlight>,
}

impl MemTables {
    /// The doomed ids whose objects may go at `now_ms` (as `SqlTables::doomed`: one kept for
    /// a download still being read waits for its time).
    pub fn due(&self, now_ms: i64) -> Vec<String> {
        self.doomed.iter().filter(|id| self.kept.get(*id).is_none_or(|&at| at <= now_ms)).cloned().collect()
    }

    /// `file_id`'s object is deleted at `now_ms`, as `SqlTables::undoom` records it.
    pub fn undoom(&mut self, file_id: &str, now_ms: i64) {
        self.gone.entry(file_id.to_owned()).or_insert(now_ms);
        self.doomed.remove(file_id);
        self.kept.remove(file_id);
        self.gone.retain(|_, at| *at >= now_ms - GONE_KEPT_MS);
    }

    /// Whether `row` is in `folder` as the SQL filter says: the folder itself, or a path
    /// strictly between `folder/` and `folder0` (`'/' + 1` is `'0'`).
    fn in_folder(row: &FileRow, folder: &str) -> bool {
        let path = row.upload_path.as_str();
        path == folder || (path > format!("{folder}/").as_str() && path < format!("{folder}0").as_str())
    }

    /// Whether `row` comes after `key` in its order (row values compared as SQL does).
    fn after(row: &FileRow, key: &SortKey) -> bool {
        match key {
            SortKey::Name { upload_path, file_name } => (&row.upload_path, &row.file_name) > (upload_path, file_name),
            SortKey::UploadTime { upload_ms, file_id } => (row.upload_ms, &row.file_id) < (*upload_ms, file_id),
        }
    }
}

impl Tables for MemTables {
    fn key(&self) -> Result<KeyState, Error> {
        Ok(self.key.clone())
    }

    fn set_key(&mut self, key: &KeyState) -> Result<(), Error> {
        self.key = key.clone();
        Ok(())
    }

    fn file(&self, file_id: &str) -> Result<Option<FileRow>, Error> {
        Ok(self.files.get(file_id).cloned())
    }

    fn file_at(&self, upload_path: &str, file_name: &str) -> Result<Option<FileRow>, Error> {
        Ok(self.files.values().find(|r| r.upload_path == upload_path && r.file_name == file_name).cloned())
    }

    /// `file_id` is the primary key and `(upload_path, file_name)` unique: a second row for
    /// either is a constraint failure, as in SQLite.
    fn insert_file(&mut self, row: &FileRow) -> Result<(), Error> {
        if self.files.contains_key(&row.file_id) {
            return Err(Error::internal("UNIQUE constraint failed: files.file_id"));
        }
        if self.file_at(&row.upload_path, &row.file_name)?.is_some() {
            return Err(Error::internal("UNIQUE constraint failed: files.upload_path, files.file_name"));
        }
        self.files.insert(row.file_id.clone(), row.clone());
        Ok(())
    }

    fn delete_file(&mut self, file_id: &str) -> Result<(), Error> {
        self.files.remove(file_id);
        Ok(())
    }

    fn set_options(&mut self, file_id: &str, options: Option<&str>) -> Result<(), Error> {
        if let Some(row) = self.files.get_mut(file_id) {
            row.options = options.map(str::to_owned);
        }
        Ok(())
    }

    fn expired(&self, now_ms: i64, limit: usize) -> Result<Vec<FileRow>, Error> {
        let mut rows: Vec<FileRow> = self.files.values().filter(|r| r.expires_ms <= now_ms).cloned().collect();
        rows.sort_by_key(|r| r.expires_ms);
        rows.truncate(limit);
        Ok(rows)
    }

    fn lapse_live(&mut self, now_ms: i64) -> Result<Purged, Error> {
        let mut purged = Purged::default();
        for row in self.files.values_mut().filter(|r| r.expires_ms > now_ms) {
            row.expires_ms = now_ms;
            purged.files += 1;
            purged.bytes += row.size;
        }
        Ok(purged)
    }

    fn backlog(&self, now_ms: i64) -> Result<u64, Error> {
        let expired = self.files.values().filter(|r| r.expires_ms <= now_ms).count();
        Ok((expired + self.due(now_ms).len()) as u64)
    }

    fn next_expiry(&self) -> Result<Option<i64>, Error> {
        Ok(self.files.values().map(|r| r.expires_ms).min())
    }

    fn page(&self, query: &PageQuery, now_ms: i64) -> Result<Vec<FileRow>, Error> {
        let mut rows: Vec<FileRow> = self
            .files
            .values()
            .filter(|r| r.expires_ms > now_ms)
            .filter(|r| query.upload_path.as_deref().is_none_or(|f| Self::in_folder(r, f)))
            .filter(|r| match (query.order, &query.after) {
                (Order::Name, Some(k @ SortKey::Name { .. })) | (Order::UploadTime, Some(k @ SortKey::UploadTime { .. })) => Self::after(r, k),
                // No cursor, or one of the other order: the SQL ignores it too.
                _ => true,
            })
            .cloned()
            .collect();
        match query.order {
            Order::Name => rows.sort_by(|a, b| (&a.upload_path, &a.file_name).cmp(&(&b.upload_path, &b.file_name))),
            Order::UploadTime => rows.sort_by(|a, b| (b.upload_ms, &b.file_id).cmp(&(a.upload_ms, &a.file_id))),
        }
        rows.truncate(query.limit as usize);
        Ok(rows)
    }

    fn reservations(&self) -> Result<Vec<Reservation>, Error> {
        Ok(self.reservations.values().cloned().collect())
    }

    fn insert_reservation(&mut self, reservation: &Reservation) -> Result<(), Error> {
        self.reservations.insert(reservation.file_id.clone(), reservation.clone());
        Ok(())
    }

    fn delete_reservation(&mut self, file_id: &str) -> Result<(), Error> {
        self.reservations.remove(file_id);
        Ok(())
    }

    fn before(&self, file_id: &str, upload_path: &str, file_name: &str) -> Result<Before, Error> {
        let id = if self.files.contains_key(file_id) {
            IdState::Committed
        } else if self.doomed.contains(file_id) || self.gone.contains_key(file_id) {
            IdState::Doomed
        } else {
            IdState::Free
        };
        let reservations = self.reservations()?;
        let held = self
            .files
            .values()
            .filter(|f| reservations.iter().any(|r| r.upload_path == f.upload_path && r.file_name == f.file_name))
            .map(|f| Held { upload_path: f.upload_path.clone(), file_name: f.file_name.clone(), size: f.size })
            .collect();
        Ok(Before { id, key: self.key()?, holder: self.file_at(upload_path, file_name)?, reservations, held })
    }

    fn doom_after(&mut self, file_id: &str, not_before_ms: i64) -> Result<(), Error> {
        // INSERT OR IGNORE: an object doomed already keeps its time.
        if self.doomed.insert(file_id.to_owned()) && not_before_ms > 0 {
            self.kept.insert(file_id.to_owned(), not_before_ms);
        }
        Ok(())
    }

    fn next_doomed(&self) -> Result<Option<i64>, Error> {
        Ok(self.doomed.iter().map(|id| self.kept.get(id).copied().unwrap_or(0)).min())
    }

    fn first_try(&self, key: &str, since_ms: i64) -> Result<Option<FirstTry>, Error> {
        Ok(self.first_tries.get(key).filter(|(_, at)| *at >= since_ms).map(|(first, _)| first.clone()))
    }

    fn keep_first_try(&mut self, key: &UploadKey, row: &FileRow, at_ms: i64, forget_before_ms: i64) -> Result<(), Error> {
        self.first_tries.retain(|_, (_, at)| *at >= forget_before_ms);
        let first = FirstTry { request: key.request.clone(), row: row.clone() };
        self.first_tries.insert(key.key.clone(), (first, at_ms));
        Ok(())
    }

    fn try_in_flight(&self, key: &str) -> Result<Option<TryInFlight>, Error> {
        Ok(self.tries.get(key).cloned())
    }

    fn set_try_in_flight(&mut self, key: &str, running: &TryInFlight, now_ms: i64) -> Result<(), Error> {
        self.tries.retain(|_, t| t.until_ms >= now_ms);
        self.tries.insert(key.to_owned(), running.clone());
        Ok(())
    }

    fn end_try(&mut self, key: &str, try_id: Option<&str>) -> Result<(), Error> {
        if try_id.is_none_or(|id| self.tries.get(key).is_some_and(|t| t.try_id == id)) {
            self.tries.remove(key);
        }
        Ok(())
    }
}
