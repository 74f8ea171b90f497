// Helpers for the tests that drive many requests at one key (authority, expiry): bounded
// concurrency, whole listings page by page, usage, admin-made keys and local KV records.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { api } from './worker.mjs';

const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);
const WRANGLER = path.join(ROOT, 'node_modules/.bin/wrangler');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Asks `check` (sync or async) every `everyMs` until it answers truthy or `ms` have
 * passed, and answers its last answer: a bounded wait for what happens in the background. */
export async function until(check, ms, everyMs = 1000) {
  const deadline = Date.now() + ms;
  let answer = await check();
  while (!answer && Date.now() < deadline) {
    await sleep(everyMs);
    answer = await check();
  }
  return answer;
}

/** Miniflare's local rate limiter counts per wall-clock minute (floor(Date.now() / 60000)):
 * a burst that straddles two minutes is split between them. With fewer than 20 s of this
 * minute left, waits for the next one to begin (at most 20 s). */
export async function earlyInAMinute() {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 20_000) await sleep(left + 250);
}

/** Runs `fn(item, index)` over `items` with at most `limit` calls in flight; the results
 * keep the items' order. */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function lane() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** A new API key made through the admin API (`quota` may set max_bytes, max_files). */
export async function newKey(worker, admin, name, quota = {}) {
  const res = await api(worker, 'POST', '/api/v1/admin/keys', { token: admin, body: { name, ...quota } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.data;
}

/** GET /api/v1/usage as `key` (the secret): the `data` of a 200 answer. */
export async function usage(worker, key) {
  const res = await api(worker, 'GET', '/api/v1/usage', { token: key });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.success, true);
  return res.json.data;
}

/** Every page of the listing `GET route` (its items under `data[field]`) with `query` and
 * `limit`, following `data.cursor` until it is null, at most `maxPages` pages. Checks each
 * page's envelope and size; returns the items in order and the number on each page. */
export async function listPages(worker, token, route, field, query = {}, { limit = 100, maxPages = 1000 } = {}) {
  const items = [];
  const sizes = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) });
    const res = await api(worker, 'GET', `${route}?${q}`, { token });
    assert.equal(res.status, 200, `page ${page} of ${route}?${q}: ${JSON.stringify(res.json)}`);
    assert.equal(res.json.success, true);
    const { data } = res.json;
    assert.deepEqual(Object.keys(data).sort(), ['cursor', field].sort(), `a page holds ${field} and cursor`);
    assert.ok(data[field].length <= limit, `page ${page}: ${data[field].length} ${field} for limit ${limit}`);
    items.push(...data[field]);
    sizes.push(data[field].length);
    if (data.cursor === null) return { items, pages: sizes };
    assert.equal(typeof data.cursor, 'string');
    assert.notEqual(data.cursor, cursor, 'the cursor moves on');
    cursor = data.cursor;
  }
  return assert.fail(`the listing ${route} ${JSON.stringify(query)} did not end within ${maxPages} pages`);
}

/** Every page of `GET /api/v1/files` with `query` (e.g. {upload_path, order}): the files in
 * order and the number on each page ([`listPages`]). */
export async function listAll(worker, key, query = {}, opts = {}) {
  const { items, pages } = await listPages(worker, key, '/api/v1/files', 'files', query, opts);
  return { files: items, pages };
}

// Child processes run asynchronously: a synchronous one would stall this process's event
// loop, and with it the loopback origin it serves the Worker from.
const run = promisify(execFile);

/** Whether the wrangler CLI's run that failed with `err` met the Worker's runtime writing
 * the same local store (see `wrangler`): worth running again a moment later. */
export function localStoreBusy(err) {
  const said = String(err.stderr ?? err.message);
  return ['500 Internal Server Error', 'SQLITE_BUSY', 'database is locked'].some((sign) => said.includes(sign));
}

/** Runs the wrangler CLI on the Worker's local state. Its own local runtime opens the same
 * SQLite files the Worker's runtime has open, and now and then fails a read while the other
 * writes (`500 Internal Server Error`, or SQLite's `database is locked`): such a run is
 * made again, a moment later (at most four more times; every command here reads, or
 * writes the same value again). */
async function wrangler(args) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return (await run(WRANGLER, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (err) {
      if (attempt === 5 || !localStoreBusy(err)) throw err;
      console.error(`# wrangler ${args.slice(0, 3).join(' ')}: the local store failed a read; running it again`);
      await new Promise((resolve) => { setTimeout(resolve, 250 * attempt); });
    }
  }
}

const LOCAL_KV = (worker) => ['--local', '--persist-to', worker.stateDir, '--binding', 'API_KEYS'];

/** The value and metadata of `name` in the Worker's local API_KEYS namespace. */
export async function kvRecord(worker, name) {
  const printed = await wrangler(['kv', 'key', 'get', ...LOCAL_KV(worker), '--text', name]);
  assert.notEqual(printed.trim(), 'Value not found', `KV holds ${name}`);
  const value = printed.replace(/\n$/, ''); // wrangler ends what it prints with a newline
  const listed = JSON.parse(await wrangler(['kv', 'key', 'list', ...LOCAL_KV(worker), '--prefix', name])).find((k) => k.name === name);
  return { value, metadata: listed?.metadata ?? null };
}

/** The names in the Worker's local KV that start with `prefix`. */
export async function kvNames(worker, prefix) {
  return JSON.parse(await wrangler(['kv', 'key', 'list', ...LOCAL_KV(worker), '--prefix', prefix])).map((k) => k.name);
}

/** Writes `name` (value and metadata, as `kvRecord` read them) into the Worker's local
 * API_KEYS namespace behind its back. */
export async function kvPut(worker, name, { value, metadata }) {
  await wrangler(['kv', 'key', 'put', ...LOCAL_KV(worker), name, value, ...(metadata ? ['--metadata', JSON.stringify(metadata)] : [])]);
}

/** The objects in the Worker's local R2 (`{key, size, custom}`), read as worker.r2() does,
 * with room for many thousands of them. */
export async function r2Objects(worker) {
  const { stdout } = await run('python3', [path.join(ROOT, 'tests/http/support/r2state.py'), worker.stateDir], { maxBuffer: 512 * 1024 * 1024 });
  return JSON.parse(stdout).objects;
}
