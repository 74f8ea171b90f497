// Assertions the HTTP tests share.
import assert from 'node:assert/strict';
import { api, KEYS } from './worker.mjs';

/** An error answer: status, the envelope exactly (`code` = status, `data` null), and a
 * message matching `fragment`. */
export function assertError(res, status, fragment) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.deepEqual(res.json, { success: false, code: status, msg: res.json.msg, data: null });
  assert.match(res.json.msg, fragment);
}

/** Local R2 is exactly as it was at `mark` (a `worker.r2()` taken before): no object added
 * or removed, and no multipart upload left in progress. */
export function assertNothingStored(worker, mark, label) {
  const now = worker.r2();
  const had = new Set(mark.objects.map((o) => o.key));
  const has = new Set(now.objects.map((o) => o.key));
  assert.deepEqual(
    {
      added: [...has].filter((k) => !had.has(k)),
      removed: [...had].filter((k) => !has.has(k)),
      inProgress: now.multipart.filter((m) => m.state === 0).map((m) => m.key),
    },
    { added: [], removed: [], inProgress: [] },
    label,
  );
}

/** What `assertNothingKept` compares with: local R2 (as `worker.r2()`) and key `key`'s usage. */
export async function marked(worker, key = KEYS.a.key) {
  return { ...worker.r2(), key, usage: await usageOf(worker, key) };
}

/** As `assertNothingStored`, and the key's usage (bytes, files, what is reserved) as it was
 * at `mark` (from `marked`): no quota charged or held by what failed. */
export async function assertNothingKept(worker, mark, label) {
  assertNothingStored(worker, mark, label);
  assert.deepEqual(await usageOf(worker, mark.key), mark.usage, `${label ?? 'nothing kept'}: usage as before`);
}

async function usageOf(worker, key) {
  const res = await api(worker, 'GET', '/api/v1/usage', { token: key });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.data;
}

/** `file_url`'s Cache-Control: a name can be overwritten, so it is checked on every use. */
export function assertFileUrlCaching(res) {
  assert.equal(res.headers.get('cache-control'), 'public, max-age=0, must-revalidate, no-transform');
}

/** Longest max-age a download_url gets (a day), whatever its remaining lifetime. */
export const MAX_AGE_CAP_SECS = 86_400;

/** Longest s-maxage a download_url gets (5 minutes: what a shared cache may keep). */
export const SHARED_MAX_AGE_SECS = 300;

/** `download_url`'s Cache-Control, exactly: `public, max-age=N, s-maxage=S, immutable`
 * where N is the whole seconds left before `expiresAt` when the Worker answered, at most a
 * day, and S is N up to 5 minutes. When the
 * answer has a Date header, the Worker's clock is taken from the second it names, give or
 * take one second; local workerd sends none, and then the Worker's
 * clock read between when the request left and when its answer came back (`sentAt`,
 * `receivedAt` of support's get()). */
export function assertDownloadCaching(res, expiresAt) {
  const cache = res.headers.get('cache-control');
  const m = /^public, max-age=(\d+), s-maxage=(\d+), immutable, no-transform$/.exec(cache ?? '');
  assert.ok(m, `Cache-Control: ${cache}`);
  const maxAge = Number(m[1]);
  assert.equal(Number(m[2]), Math.min(maxAge, SHARED_MAX_AGE_SECS), `Cache-Control: ${cache}`);
  const expires = Date.parse(expiresAt);
  const left = (now) => Math.min(MAX_AGE_CAP_SECS, Math.max(0, Math.floor((expires - now) / 1000)));
  const date = res.headers.get('date');
  // the Worker's clock read between `from` and `to`
  const [from, to] = date ? [Date.parse(date) - 1000, Date.parse(date) + 2000] : [res.sentAt, res.receivedAt];
  const [lo, hi] = [left(to), left(from)];
  assert.ok(lo <= maxAge && maxAge <= hi, `Cache-Control: ${cache}; expected max-age in [${lo}, ${hi}] for expires_at ${expiresAt}`);
  return maxAge;
}

/** A stored file's lifetime wherever it is kept: `expires_at - upload_time` is `ttlSecs`;
 * its R2 object's custom metadata `expires_ms` (what reads and the alarm go by) is
 * `expires_at`; and info (as `key`) answers the same `expires_at`. */
export async function assertLifetime(worker, data, ttlSecs, key = KEYS.a.key) {
  assert.equal(Date.parse(data.expires_at) - Date.parse(data.upload_time), ttlSecs * 1000, 'expires_at - upload_time');
  const object = worker.r2().objects.find((o) => o.key === `o/${data.file_id}`);
  assert.ok(object, `R2 holds o/${data.file_id}`);
  assert.equal(Number(object.custom.expires_ms), Date.parse(data.expires_at), "the object's expires_ms");
  const info = await api(worker, 'GET', `/api/v1/files/${data.file_id}`, { token: key });
  assert.equal(info.status, 200, JSON.stringify(info.json));
  assert.equal(info.json.data.expires_at, data.expires_at, "info's expires_at");
}
