//! The key authority's [`Tables`] on the Durable Object's SQLite storage, and the one
//! transaction each rule call runs in.

use serde::Deserialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{SqlStorage, SqlStorageValue, Storage};

use super::job_index;
use super::key_secret;
use super::js::describe;
use crate::core::authority::{Before, FirstTry, Held, IdState, KeyState, Tables, TryInFlight, GONE_KEPT_MS};
use crate::core::authority_wire::{FileRow, Order, PageQuery, Purged, Reservation, SortKey};
use crate::core::idempotency::UploadKey;
use crate::core::quota::{KeyConfig, KeySettings};
use crate::core::Error;

/// The schema, created on the object's first use (each statement is idempotent).
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS key_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        max_bytes INTEGER, max_files INTEGER,
        disabled INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL DEFAULT 0, settings TEXT)",
    "INSERT OR IGNORE INTO key_state (id) VALUES (1)",
    "CREATE TABLE IF NOT EXISTS files (
        file_id TEXT PRIMARY KEY, upload_path TEXT NOT NULL, file_name TEXT NOT NULL,
        size INTEGER NOT NULL, mime_type TEXT NOT NULL, original_name TEXT NOT NULL,
        upload_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, sha256 TEXT, options TEXT,
        named_ms INTEGER NOT NULL DEFAULT 0, UNIQUE (upload_path, file_name))",
    "CREATE INDEX IF NOT EXISTS files_by_expiry ON files (expires_ms)",
    "CREATE INDEX IF NOT EXISTS files_by_time ON files (upload_ms, file_id)",
    // A folder's files newest first: the folder's range, read from the index alone.
    "CREATE INDEX IF NOT EXISTS files_by_path_time ON files (upload_path, upload_ms, file_id, expires_ms)",
    "CREATE TABLE IF NOT EXISTS reservations (
        file_id TEXT PRIMARY KEY, upload_path TEXT NOT NULL, file_name TEXT NOT NULL,
        bytes INTEGER NOT NULL, at_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS doomed (file_id TEXT PRIMARY KEY, not_before_ms INTEGER NOT NULL DEFAULT 0)",
    // What is due to be deleted, without reading the objects kept for a download in progress.
    "CREATE INDEX IF NOT EXISTS doomed_by_time ON doomed (not_before_ms)",
    // Ids whose objects are deleted, kept GONE_KEPT_MS: a late commit of one stays refused.
    "CREATE TABLE IF NOT EXISTS gone (file_id TEXT PRIMARY KEY, gone_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS gone_by_time ON gone (gone_ms)",
    // Uploads stored now under an `Idempotency-Key`: what each asked and the file it stored
    // (its row as JSON), kept `idempotency::KEPT_MS`.
    "CREATE TABLE IF NOT EXISTS upload_keys (key TEXT PRIMARY KEY, request TEXT NOT NULL, file TEXT NOT NULL, at_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS upload_keys_by_time ON upload_keys (at_ms)",
    // The running try of each such upload, until its commit, its failure or `until_ms`.
    "CREATE TABLE IF NOT EXISTS upload_tries (key TEXT PRIMARY KEY, try_id TEXT NOT NULL, request TEXT NOT NULL, until_ms INTEGER NOT NULL)",
];

const FILE_COLUMNS: &str = "file_id, upload_path, file_name, size, mime_type, original_name, upload_ms, expires_ms, sha256, options, named_ms";
/// A file row as one JSON text, so a row crosses into wasm as one string (read with
/// serde_json) rather than one JS value per column.
const FILE_JSON: &str = "json_object('file_id', file_id, 'upload_path', upload_path, 'file_name', file_name, \
    'size', size, 'mime_type', mime_type, 'original_name', original_name, 'upload_ms', upload_ms, \
    'expires_ms', expires_ms, 'sha256', sha256, 'options', options, 'named_ms', named_ms)";
const KEY_JSON: &str = "json_object('max_bytes', max_bytes, 'max_files', max_files, 'disabled', disabled, 'revoked', revoked, \
    'bytes', bytes, 'files', files, 'settings', json(settings))";
const RESERVATION_JSON: &str =
    "json_object('file_id', file_id, 'upload_path', upload_path, 'file_name', file_name, 'bytes', bytes, 'at_ms', at_ms)";

#[wasm_bindgen]
extern "C" {
    /// The storage's `transactionSync`, which the `worker` crate does not wrap.
    #[wasm_bindgen(extends = js_sys::Object)]
    type SyncTransactions;
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(this: &SyncTransactions, body: &mut dyn FnMut() -> Result<(), JsValue>) -> Result<JsValue, JsValue>;
}

/// Runs `body` as one SQLite transaction: all of its writes land, or none (an `Err` rolls
/// back). It must not await: nothing else runs in the object meanwhile.
pub(crate) fn transaction<T>(storage: &Storage, body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let mut body = Some(body);
    let mut out = None;
    let mut run = || {
        let result = body.take().map(|f| f()).unwrap_or_else(|| Err(Error::internal("transaction ran twice")));
        let failed = result.is_err();
        out = Some(result);
        if failed {
            return Err(JsValue::from_str("rolled back"));
        }
        Ok(())
    };
    let raw: &SyncTransactions = storage.as_raw().unchecked_ref();
    let done = raw.transaction_sync(&mut run);
    match (out, done) {
        (Some(result), Ok(_)) => result,
        (Some(Err(err)), Err(_)) => Err(err),
        (_, Err(e)) => Err(Error::internal(format!("sql transaction: {}", describe(&e)))),
        (None, Ok(_)) => Err(Error::internal("sql transaction did not run")),
    }
}

/// The tables of one key's object.
pub(crate) struct SqlTables {
    sql: SqlStorage,
}

fn sql_error(what: &'static str) -> impl Fn(worker::Error) -> Error {
    move |e| Error::internal(format!("sql {what}: {e}"))
}

fn text(s: &str) -> SqlStorageValue {
    SqlStorageValue::String(s.to_owned())
}

fn int(n: impl TryInto<i64>) -> SqlStorageValue {
    SqlStorageValue::Integer(n.try_into().unwrap_or(i64::MAX))
}

#[derive(Deserialize)]
struct KeyRow {
    max_bytes: Option<u64>,
    max_files: Option<u64>,
    disabled: i64,
    revoked: i64,
    bytes: u64,
    files: u64,
    settings: Option<KeySettings>,
}

#[derive(Deserialize)]
struct Due {
    due: Option<i64>,
}

impl From<KeyRow> for KeyState {
    fn from(row: KeyRow) -> Self {
        KeyState {
            config: KeyConfig { max_bytes: row.max_bytes, max_files: row.max_files, disabled: row.disabled != 0, revoked: row.revoked != 0, settings: row.settings },
            bytes: row.bytes,
            files: row.files,
        }
    }
}

/// [`Before`] as one row: each part a JSON value (`json(...)` keeps a subquery's object an
/// object, not its text).
#[derive(Deserialize)]
struct BeforeRow {
    committed: i64,
    doomed: i64,
    key: Option<KeyRow>,
    holder: Option<FileRow>,
    reservations: Vec<Reservation>,
    held: Vec<Held>,
}

#[derive(Deserialize)]
struct Doomed {
    file_id: String,
}

impl SqlTables {
    /// The tables of the object owning `storage` (see [`SqlTables::create`]).
    pub fn new(storage: &Storage) -> Self {
        SqlTables { sql: storage.sql() }
    }

    /// Creates the tables (the job index's too) if they do not exist yet.
    pub fn create(storage: &Storage) -> Result<(), Error> {
        let sql = storage.sql();
        for statement in SCHEMA.iter().chain(job_index::SCHEMA).chain(key_secret::SCHEMA) {
            sql.exec(statement, None).map_err(sql_error("schema"))?;
        }
        Ok(())
    }

    /// Whether the tables were created (a read of SQLite's catalogue; writes nothing).
    pub fn exist(storage: &Storage) -> bool {
        let query = "SELECT json_object('n', COUNT(*)) FROM sqlite_master WHERE type = 'table' AND name = 'key_state'";
        #[derive(Deserialize)]
        struct Count {
            n: u64,
        }
        let rows: Result<Vec<Count>, Error> = SqlTables::new(storage).rows("tables", query, vec![]);
        rows.is_ok_and(|r| r.first().is_some_and(|c| c.n > 0))
    }

    /// Whether any file (live or not yet retired) is in a path below `folder`.
    fn has_subfolders(&self, folder: &str) -> Result<bool, Error> {
        #[derive(Deserialize)]
        struct Any {
            any: i64,
        }
        let query = "SELECT json_object('any', EXISTS (SELECT 1 FROM files WHERE upload_path > ? AND upload_path < ?))";
        let rows: Vec<Any> = self.rows("subfolders", query, vec![text(&format!("{folder}/")), text(&format!("{folder}0"))])?;
        Ok(rows.first().is_some_and(|r| r.any == 1))
    }

    /// The rows of `query`, whose one column is each row as a JSON object.
    fn rows<T: for<'de> Deserialize<'de>>(&self, what: &'static str, query: &str, args: Vec<SqlStorageValue>) -> Result<Vec<T>, Error> {
        let cursor = self.sql.exec(query, args).map_err(sql_error(what))?;
        cursor
            .raw()
            .map(|row| match row.map_err(sql_error(what))?.into_iter().next() {
                Some(SqlStorageValue::String(json)) => {
                    serde_json::from_str(&json).map_err(|e| Error::internal(format!("sql {what}: {e}")))
                }
                other => Err(Error::internal(format!("sql {what}: not a JSON row: {other:?}"))),
            })
            .collect()
    }

    fn run(&self, what: &'static str, query: &str, args: Vec<SqlStorageValue>) -> Result<(), Error> {
        self.sql.exec(query, args).map(drop).map_err(sql_error(what))
    }

    fn one_file(&self, what: &'static str, filter: &str, args: Vec<SqlStorageValue>) -> Result<Option<FileRow>, Error> {
        let query = format!("SELECT {FILE_JSON} FROM files WHERE {filter} LIMIT 1");
        Ok(self.rows(what, &query, args)?.into_iter().next())
    }

    /// Doomed objects that may go at `now_ms`, at most `limit`.
    pub fn doomed(&self, now_ms: i64, limit: usize) -> Result<Vec<String>, Error> {
        let query = "SELECT json_object('file_id', file_id) FROM doomed WHERE not_before_ms <= ? LIMIT ?";
        let rows: Vec<Doomed> = self.rows("doomed", query, vec![int(now_ms), int(limit)])?;
        Ok(rows.into_iter().map(|d| d.file_id).collect())
    }

    /// The objects of `file_ids` are gone at `now_ms`: their ids leave `doomed` for `gone`
    /// (still refused, [`GONE_KEPT_MS`]), and the tombstones older than that go.
    pub fn undoom(&self, file_ids: &[String], now_ms: i64) -> Result<(), Error> {
        let ids = serde_json::to_string(file_ids).map_err(Error::internal)?;
        // In this order, whatever a failure leaves keeps the ids refused.
        let keep = "INSERT OR IGNORE INTO gone (file_id, gone_ms) SELECT value, ? FROM json_each(?)";
        self.run("gone", keep, vec![int(now_ms), text(&ids)])?;
        self.run("undoom", "DELETE FROM doomed WHERE file_id IN (SELECT value FROM json_each(?))", vec![text(&ids)])?;
        self.run("forget gone", "DELETE FROM gone WHERE gone_ms < ?", vec![int(now_ms - GONE_KEPT_MS)])
    }
}

impl Tables for SqlTables {
    fn key(&self) -> Result<KeyState, Error> {
        let rows: Vec<KeyRow> = self.rows("key", &format!("SELECT {KEY_JSON} FROM key_state WHERE id = 1"), vec![])?;
        rows.into_iter().next().map(KeyState::from).ok_or_else(|| Error::internal("key_state row missing"))
    }

    fn set_key(&mut self, key: &KeyState) -> Result<(), Error> {
        let c = &key.config;
        self.run(
            "set key",
            "UPDATE key_state SET max_bytes = ?, max_files = ?, disabled = ?, revoked = ?, bytes = ?, files = ?, settings = ? WHERE id = 1",
            vec![
                c.max_bytes.map(int).into(),
                c.max_files.map(int).into(),
                int(c.disabled),
                int(c.revoked),
                int(key.bytes),
                int(key.files),
                c.settings.as_ref().map(|s| serde_json::to_string(s).map(|json| text(&json))).transpose().map_err(Error::internal)?.into(),
            ],
        )
    }

    fn file(&self, file_id: &str) -> Result<Option<FileRow>, Error> {
        self.one_file("file", "file_id = ?", vec![text(file_id)])
    }

    fn file_at(&self, upload_path: &str, file_name: &str) -> Result<Option<FileRow>, Error> {
        self.one_file("file at", "upload_path = ? AND file_name = ?", vec![text(upload_path), text(file_name)])
    }

    fn insert_file(&mut self, row: &FileRow) -> Result<(), Error> {
        let query = format!("INSERT INTO files ({FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        let args = vec![
            text(&row.file_id),
            text(&row.upload_path),
            text(&row.file_name),
            int(row.size),
            text(&row.mime_type),
            text(&row.original_name),
            int(row.upload_ms),
            int(row.expires_ms),
            text(&row.sha256),
            row.options.as_deref().map(text).into(),
            int(row.named_ms),
        ];
        self.run("insert file", &query, args)
    }

    fn delete_file(&mut self, file_id: &str) -> Result<(), Error> {
        self.run("delete file", "DELETE FROM files WHERE file_id = ?", vec![text(file_id)])
    }

    fn set_options(&mut self, file_id: &str, options: Option<&str>) -> Result<(), Error> {
        self.run("set options", "UPDATE files SET options = ? WHERE file_id = ?", vec![options.map(text).into(), text(file_id)])
    }

    fn expired(&self, now_ms: i64, limit: usize) -> Result<Vec<FileRow>, Error> {
        let query = format!("SELECT {FILE_JSON} FROM files WHERE expires_ms <= ? ORDER BY expires_ms LIMIT ?");
        self.rows("expired", &query, vec![int(now_ms), int(limit)])
    }

    fn lapse_live(&mut self, now_ms: i64) -> Result<Purged, Error> {
        let query = "SELECT json_object('files', COUNT(*), 'bytes', COALESCE(SUM(size), 0)) FROM files WHERE expires_ms > ?";
        let purged = self.rows("lapse count", query, vec![int(now_ms)])?.into_iter().next().unwrap_or_default();
        self.run("lapse", "UPDATE files SET expires_ms = ? WHERE expires_ms > ?", vec![int(now_ms), int(now_ms)])?;
        Ok(purged)
    }

    fn backlog(&self, now_ms: i64) -> Result<u64, Error> {
        let query = "SELECT json_object('n', (SELECT COUNT(*) FROM files WHERE expires_ms <= ?1) \
            + (SELECT COUNT(*) FROM doomed WHERE not_before_ms <= ?1))";
        #[derive(Deserialize)]
        struct Count {
            n: u64,
        }
        let rows: Vec<Count> = self.rows("backlog", query, vec![int(now_ms)])?;
        Ok(rows.first().map_or(0, |c| c.n))
    }

    fn next_expiry(&self) -> Result<Option<i64>, Error> {
        let rows: Vec<Due> = self.rows("next expiry", "SELECT json_object('due', MIN(expires_ms)) FROM files", vec![])?;
        Ok(rows.into_iter().next().and_then(|d| d.due))
    }

    /// One page, each read as an index range that starts where the page starts: in name
    /// order from the cursor (or the folder's first path) to the folder's end; newest first,
    /// a folder's range of `files_by_path_time` (the page's keys from the index alone, the
    /// rows for those only). A folder is itself and every path below it; its range, from
    /// `folder` to `folder0` ('/' + 1 is '0'), also holds siblings such as `folder-old`
    /// ('-' and '.' sort before '/'), which a filter leaves out. Newest first, that range is
    /// read whole and sorted, unless the folder has no path below it (a flat folder, the
    /// usual one): then its one path's entries are in order already, from the cursor on.
    fn page(&self, query: &PageQuery, now_ms: i64) -> Result<Vec<FileRow>, Error> {
        let mut filter = String::from("expires_ms > ?");
        let mut args = vec![int(now_ms)];
        let cursor_by_name = match &query.after {
            Some(SortKey::Name { upload_path, file_name }) if query.order == Order::Name => Some((upload_path, file_name)),
            _ => None,
        };
        if let Some((upload_path, file_name)) = cursor_by_name {
            filter.push_str(" AND (upload_path, file_name) > (?, ?)");
            args.extend([text(upload_path), text(file_name)]);
        }
        let flat = match (&query.upload_path, query.order) {
            (Some(folder), Order::UploadTime) => !self.has_subfolders(folder)?,
            _ => false,
        };
        if let Some(folder) = query.upload_path.as_ref().filter(|_| flat) {
            filter.push_str(" AND upload_path = ?");
            args.push(text(folder));
        } else if let Some(folder) = &query.upload_path {
            // Without a name cursor, the range starts at the folder (with one, at the cursor:
            // both bounds together would have the index start at the folder).
            if cursor_by_name.is_none() {
                filter.push_str(" AND upload_path >= ?");
                args.push(text(folder));
            }
            filter.push_str(" AND upload_path < ? AND (upload_path = ? OR upload_path > ?)");
            args.extend([text(&format!("{folder}0")), text(folder), text(&format!("{folder}/"))]);
        }
        if let (Order::UploadTime, Some(SortKey::UploadTime { upload_ms, file_id })) = (query.order, &query.after) {
            filter.push_str(" AND (upload_ms, file_id) < (?, ?)");
            args.extend([int(*upload_ms), text(file_id)]);
        }
        args.push(int(query.limit));
        let sql = match query.order {
            Order::Name => format!("SELECT {FILE_JSON} FROM files WHERE {filter} ORDER BY upload_path, file_name LIMIT ?"),
            Order::UploadTime => {
                let order = "ORDER BY upload_ms DESC, file_id DESC";
                format!("SELECT {FILE_JSON} FROM files WHERE rowid IN (SELECT rowid FROM files WHERE {filter} {order} LIMIT ?) {order}")
            }
        };
        self.rows("page", &sql, args)
    }

    fn reservations(&self) -> Result<Vec<Reservation>, Error> {
        self.rows("reservations", &format!("SELECT {RESERVATION_JSON} FROM reservations"), vec![])
    }

    fn insert_reservation(&mut self, r: &Reservation) -> Result<(), Error> {
        self.run(
            "reserve",
            "INSERT OR REPLACE INTO reservations (file_id, upload_path, file_name, bytes, at_ms) VALUES (?, ?, ?, ?, ?)",
            vec![text(&r.file_id), text(&r.upload_path), text(&r.file_name), int(r.bytes), int(r.at_ms)],
        )
    }

    fn delete_reservation(&mut self, file_id: &str) -> Result<(), Error> {
        self.run("unreserve", "DELETE FROM reservations WHERE file_id = ?", vec![text(file_id)])
    }

    fn before(&self, file_id: &str, upload_path: &str, file_name: &str) -> Result<Before, Error> {
        let query = format!(
            "SELECT json_object('committed', EXISTS (SELECT 1 FROM files WHERE file_id = ?1), \
             'doomed', EXISTS (SELECT 1 FROM doomed WHERE file_id = ?1) OR EXISTS (SELECT 1 FROM gone WHERE file_id = ?1), \
             'key', json((SELECT {KEY_JSON} FROM key_state WHERE id = 1)), \
             'holder', json((SELECT {FILE_JSON} FROM files WHERE upload_path = ?2 AND file_name = ?3)), \
             'reservations', json((SELECT json_group_array({RESERVATION_JSON}) FROM reservations)), \
             'held', json((SELECT json_group_array(json_object('upload_path', f.upload_path, 'file_name', f.file_name, 'size', f.size)) \
               FROM (SELECT DISTINCT upload_path, file_name FROM reservations) AS r \
               CROSS JOIN files AS f ON f.upload_path = r.upload_path AND f.file_name = r.file_name)))"
        );
        let rows: Vec<BeforeRow> = self.rows("before", &query, vec![text(file_id), text(upload_path), text(file_name)])?;
        let row = rows.into_iter().next().ok_or_else(|| Error::internal("sql before: no row"))?;
        let id = match (row.committed, row.doomed) {
            (1, _) => IdState::Committed,
            (_, 1) => IdState::Doomed,
            _ => IdState::Free,
        };
        let key = row.key.map(KeyState::from).ok_or_else(|| Error::internal("key_state row missing"))?;
        Ok(Before { id, key, holder: row.holder, reservations: row.reservations, held: row.held })
    }

    fn doom_after(&mut self, file_id: &str, not_before_ms: i64) -> Result<(), Error> {
        let query = "INSERT OR IGNORE INTO doomed (file_id, not_before_ms) VALUES (?, ?)";
        self.run("doom", query, vec![text(file_id), int(not_before_ms)])
    }

    fn next_doomed(&self) -> Result<Option<i64>, Error> {
        let query = "SELECT json_object('due', MIN(not_before_ms)) FROM doomed";
        let rows: Vec<Due> = self.rows("next doomed", query, vec![])?;
        Ok(rows.into_iter().next().and_then(|r| r.due))
    }

    fn first_try(&self, key: &str, since_ms: i64) -> Result<Option<FirstTry>, Error> {
        let query = "SELECT json_object('request', request, 'row', json(file)) FROM upload_keys WHERE key = ? AND at_ms >= ?";
        Ok(self.rows("first try", query, vec![text(key), int(since_ms)])?.into_iter().next())
    }

    fn keep_first_try(&mut self, key: &UploadKey, row: &FileRow, at_ms: i64, forget_before_ms: i64) -> Result<(), Error> {
        self.run("forget first tries", "DELETE FROM upload_keys WHERE at_ms < ?", vec![int(forget_before_ms)])?;
        let file = serde_json::to_string(row).map_err(Error::internal)?;
        let query = "INSERT OR REPLACE INTO upload_keys (key, request, file, at_ms) VALUES (?, ?, ?, ?)";
        self.run("keep first try", query, vec![text(&key.key), text(&key.request), text(&file), int(at_ms)])
    }

    fn try_in_flight(&self, key: &str) -> Result<Option<TryInFlight>, Error> {
        let query = "SELECT json_object('try_id', try_id, 'request', request, 'until_ms', until_ms) FROM upload_tries WHERE key = ?";
        Ok(self.rows("try in flight", query, vec![text(key)])?.into_iter().next())
    }

    fn set_try_in_flight(&mut self, key: &str, running: &TryInFlight, now_ms: i64) -> Result<(), Error> {
        self.run("forget lapsed tries", "DELETE FROM upload_tries WHERE until_ms < ?", vec![int(now_ms)])?;
        let query = "INSERT OR REPLACE INTO upload_tries (key, try_id, request, until_ms) VALUES (?, ?, ?, ?)";
        self.run("mark try", query, vec![text(key), text(&running.try_id), text(&running.request), int(running.until_ms)])
    }

    fn end_try(&mut self, key: &str, try_id: Option<&str>) -> Result<(), Error> {
        match try_id {
            Some(try_id) => self.run("end try", "DELETE FROM upload_tries WHERE key = ? AND try_id = ?", vec![text(key), text(try_id)]),
            None => self.run("end tries", "DELETE FROM upload_tries WHERE key = ?", vec![text(key)]),
        }
    }
}
