// The floor Worker: only the storage calls the upload contract requires (docs/authority.md),
// in plain JS, with nothing else (no auth, no sniffing, no validation, no envelope). Where
// the reference shows what one fetch and one put cost, this shows what any implementation
// of the contract must pay on the same runtime:
// - a small body of known length (<= 64 KiB): one R2 put of `o/{file_id}` (its own key,
//   never overwritten) with its type and custom metadata, then ONE call to the key's
//   Durable Object, which checks the quota, records the row and moves the name to the new
//   file in one SQL transaction, and deletes the object of the file the name held before;
// - a larger body: a `reserve` call before storing, the same put, the same `commit`.
// The bench sends every file with Content-Length, so the floor has no multipart path, and
// failure paths (release) are not its business.

const SMALL = 64 * 1024;
const TTL_MS = 3600e3;
const BATCH = 500;
const STALE_RESERVATION_MS = 15 * 60e3;

/** The key's authority: its status and quota, and a row per live file, in SQLite. */
export class FloorAuthority {
  constructor(state, env) {
    this.storage = state.storage;
    this.sql = state.storage.sql;
    this.bucket = env.BUCKET;
    this.alarmAt = null;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS key_state (id INTEGER PRIMARY KEY CHECK (id = 1),
        max_bytes INTEGER, max_files INTEGER, disabled INTEGER NOT NULL DEFAULT 0,
        revoked INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
        files INTEGER NOT NULL DEFAULT 0);
      INSERT OR IGNORE INTO key_state (id) VALUES (1);
      CREATE TABLE IF NOT EXISTS files (file_id TEXT PRIMARY KEY, upload_path TEXT NOT NULL,
        file_name TEXT NOT NULL, size INTEGER NOT NULL, mime_type TEXT NOT NULL,
        original_name TEXT NOT NULL, upload_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
        sha256 TEXT, options TEXT, UNIQUE (upload_path, file_name));
      CREATE INDEX IF NOT EXISTS files_by_upload ON files (upload_ms);
      CREATE INDEX IF NOT EXISTS files_by_expiry ON files (expires_ms);
      CREATE TABLE IF NOT EXISTS reservations (file_id TEXT PRIMARY KEY, upload_path TEXT NOT NULL,
        file_name TEXT NOT NULL, bytes INTEGER NOT NULL, at_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS doomed (file_id TEXT PRIMARY KEY);`);
    state.blockConcurrencyWhile(async () => { this.alarmAt = await this.storage.getAlarm(); });
  }

  async fetch(request) {
    const body = await request.json();
    if (body.op === 'reserve') {
      const answer = this.reserve(body);
      if (answer.ok) this.arm(Date.now() + STALE_RESERVATION_MS);
      return Response.json(answer, { status: answer.ok ? 200 : answer.status });
    }
    const answer = this.commit(body);
    if (answer.retired) await this.forget([answer.retired]);
    if (!answer.ok) await this.bucket.delete(`o/${body.file_id}`);
    else this.arm(body.expires_ms);
    return Response.json(answer, { status: answer.ok ? 200 : answer.status });
  }

  /** Live and reserved usage against the key's limits; null when `bytes`/`files` fit. */
  refusal(bytes, files) {
    const k = this.sql.exec('SELECT * FROM key_state').one();
    if (k.revoked || k.disabled) return 401;
    const r = this.sql.exec('SELECT COALESCE(SUM(bytes), 0) AS bytes, COUNT(*) AS files FROM reservations').one();
    const fits = k.bytes + r.bytes + bytes <= (k.max_bytes ?? Number.MAX_SAFE_INTEGER)
      && k.files + r.files + files <= (k.max_files ?? Number.MAX_SAFE_INTEGER);
    return fits ? null : 429;
  }

  reserve({ file_id, upload_path, file_name, bytes }) {
    return this.storage.transactionSync(() => {
      const refused = this.refusal(bytes, 1);
      if (refused) return { ok: false, status: refused };
      this.sql.exec('INSERT INTO reservations VALUES (?, ?, ?, ?, ?)', file_id, upload_path, file_name, bytes, Date.now());
      return { ok: true };
    });
  }

  /** One transaction: the quota check, the row, the counters, and retiring the file the name
   * held (its row goes, its id is doomed until R2 confirms the delete). */
  commit(f) {
    return this.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM reservations WHERE file_id = ?', f.file_id);
      const old = this.sql.exec('SELECT file_id, size FROM files WHERE upload_path = ? AND file_name = ?', f.upload_path, f.file_name).toArray()[0];
      const refused = this.refusal(f.size - (old?.size ?? 0), old ? 0 : 1);
      if (refused) return { ok: false, status: refused };
      if (old) {
        this.sql.exec('DELETE FROM files WHERE file_id = ?', old.file_id);
        this.sql.exec('INSERT INTO doomed VALUES (?)', old.file_id);
      }
      this.sql.exec('INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)', f.file_id, f.upload_path,
        f.file_name, f.size, f.mime_type, f.original_name, f.upload_ms, f.expires_ms);
      this.sql.exec('UPDATE key_state SET bytes = bytes + ?, files = files + ?', f.size - (old?.size ?? 0), old ? 0 : 1);
      return { ok: true, retired: old?.file_id };
    });
  }

  /** Deletes doomed objects, then forgets them (a failed delete stays doomed for the alarm). */
  async forget(ids) {
    await this.bucket.delete(ids.map((id) => `o/${id}`));
    for (const id of ids) this.sql.exec('DELETE FROM doomed WHERE file_id = ?', id);
  }

  arm(at) {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.storage.setAlarm(at);
  }

  /** Expiry: retire due rows in batches (quota back in the same transaction), drop stale
   * reservations, retry doomed deletes, then re-arm at the next due time. */
  async alarm() {
    this.alarmAt = null;
    const now = Date.now();
    for (;;) {
      const ids = this.storage.transactionSync(() => {
        const due = this.sql.exec('SELECT file_id, size FROM files WHERE expires_ms <= ? ORDER BY expires_ms LIMIT ?', now, BATCH).toArray();
        for (const row of due) {
          this.sql.exec('DELETE FROM files WHERE file_id = ?', row.file_id);
          this.sql.exec('INSERT OR IGNORE INTO doomed VALUES (?)', row.file_id);
        }
        this.sql.exec('UPDATE key_state SET bytes = bytes - ?, files = files - ?', due.reduce((s, r) => s + r.size, 0), due.length);
        for (const r of this.sql.exec('SELECT file_id FROM reservations WHERE at_ms <= ?', now - STALE_RESERVATION_MS).toArray()) {
          this.sql.exec('DELETE FROM reservations WHERE file_id = ?', r.file_id);
          this.sql.exec('INSERT OR IGNORE INTO doomed VALUES (?)', r.file_id);
        }
        return this.sql.exec('SELECT file_id FROM doomed LIMIT ?', BATCH).toArray().map((r) => r.file_id);
      });
      if (ids.length === 0) break;
      await this.forget(ids);
      if (ids.length < BATCH) break;
    }
    const next = this.sql.exec(`SELECT MIN(at) AS at FROM (SELECT MIN(expires_ms) AS at FROM files
      UNION ALL SELECT MIN(at_ms) + ? FROM reservations)`, STALE_RESERVATION_MS).one().at;
    if (next !== null) this.arm(next);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const fileId = `file_${crypto.randomUUID().replaceAll('-', '')}`;
    const authority = env.AUTHORITY.get(env.AUTHORITY.idFromName('k_floor'));
    const call = (body) => authority.fetch('https://authority/', { method: 'POST', body: JSON.stringify(body) });
    const origin = await fetch(url.searchParams.get('url'));
    if (!origin.ok) return new Response(`origin answered ${origin.status}`, { status: 502 });
    const size = Number(origin.headers.get('content-length'));
    const now = Date.now();
    const file = {
      file_id: fileId, upload_path: 'bench', file_name: url.searchParams.get('key'), size,
      mime_type: origin.headers.get('content-type') ?? 'application/octet-stream',
      original_name: 'file.bin', upload_ms: now, expires_ms: now + TTL_MS,
    };
    if (size > SMALL) {
      const reserved = await call({ op: 'reserve', file_id: fileId, upload_path: file.upload_path, file_name: file.file_name, bytes: size });
      if (!(await reserved.json()).ok) return new Response('refused', { status: reserved.status });
    }
    const stored = await env.BUCKET.put(`o/${fileId}`, origin.body, {
      httpMetadata: { contentType: file.mime_type },
      customMetadata: { owner: 'k_floor', original_name: file.original_name, upload_ms: String(now), expires_ms: String(file.expires_ms) },
    });
    const committed = await call({ op: 'commit', ...file });
    const answer = await committed.json();
    return Response.json({ ok: answer.ok, file_id: fileId, size: stored.size }, { status: committed.status });
  },
};
