// Starts the built Worker in local workerd through wrangler's dev engine (`wrangler dev`'s
// startWorker, local R2/KV/DO on disk) with its own state directory, seeded API keys and
// `[vars]` overrides, on a free loopback port; with a loopback origin beside it (startStack,
// useStack); optionally counting its storage calls (counting.mjs). And the requests the
// tests send it.
import { execFileSync } from 'node:child_process';
import { before, after, beforeEach } from 'node:test';
import { unstable_DevEnv } from 'wrangler';

// Miniflare would fetch the edge's `request.cf` sample from workers.cloudflare.com at each
// start (an error in the log with no network); the Worker reads no `cf`, so the built-in
// sample serves.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
// Nor does any wrangler command the tests run report usage to Cloudflare (make exports
// this too): no network but the package registries, and no opt-in saved in $HOME.
process.env.WRANGLER_SEND_METRICS ??= 'false';
import { startOrigin } from './origin.mjs';
import { CLOSED, CRASHED, STUCK, inMessageLoop } from './crash.mjs';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);
const WRANGLER = path.join(ROOT, 'node_modules/.bin/wrangler');

export const KEYS = {
  a: { key: 'test-key-alpha', record: { id: 'k_alpha', name: 'alpha', created: '2026-01-01T00:00:00+00:00', disabled: false } },
  b: { key: 'test-key-beta', record: { id: 'k_beta', name: 'beta', created: '2026-01-01T00:00:00+00:00', disabled: false } },
  off: { key: 'test-key-off', record: { id: 'k_off', name: 'off', created: '2026-01-01T00:00:00+00:00', disabled: true } },
};

export const hashKey = (key) => crypto.createHash('sha256').update(key).digest('hex');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The config of one test Worker, written into `dir`, with a copy of the built Worker
 * (build/*.js, build/*.wasm) beside it, so a `make build` during a test run cannot restart
 * a Worker mid-test: wrangler.toml with `main` pointing at that copy (or, with `counting`,
 * at a copy of counting.mjs that imports it), the assets directory made absolute, and no
 * `[build]` (the tests run what `make build` built: `make test-http` builds first).
 * `without` names bindings whose tables are left out (a deployment that lacks them). */
function testConfig(dir, { counting, without = [] }) {
  const lines = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8').split('\n');
  // each table with the lines up to the next one
  const tables = [[]];
  for (const line of lines) {
    if (/^\[/.test(line)) tables.push([]);
    tables.at(-1).push(line);
  }
  const dropped = (table) => table[0]?.trim() === '[build]'
    || without.some((name) => table.some((line) => new RegExp(`^(name|binding) = "${name}"$`).test(line.trim())));
  const kept = tables.filter((table) => !dropped(table)).flat();
  const builtMain = /^main = "(.*)"$/m.exec(kept.join('\n'))[1];
  const built = path.dirname(path.join(ROOT, builtMain));
  const copy = path.join(dir, 'build');
  fs.mkdirSync(copy);
  for (const name of fs.readdirSync(built)) {
    if (/\.(m?js|wasm)$/.test(name)) fs.copyFileSync(path.join(built, name), path.join(copy, name));
  }
  let main = path.join(copy, path.basename(builtMain));
  if (counting) {
    // the same place relative to the copy as counting.mjs to build/ (its import is relative)
    main = path.join(dir, path.relative(ROOT, COUNTING_MAIN));
    fs.mkdirSync(path.dirname(main), { recursive: true });
    fs.copyFileSync(COUNTING_MAIN, main);
  }
  const text = kept
    .join('\n')
    .replace(/^main = "(.*)"$/m, `main = ${JSON.stringify(main)}`)
    .replace(/^directory = "(.*)"$/m, (_, assets) => `directory = ${JSON.stringify(path.join(ROOT, assets))}`);
  const file = path.join(dir, 'wrangler.toml');
  fs.writeFileSync(file, text);
  return file;
}

/** The test-only entry module that counts the Worker's storage calls and can hold the key
 * authority's alarm (see counting.mjs). */
const COUNTING_MAIN = path.join(ROOT, 'tests/http/support/counting.mjs');

/** Starts a Worker; `vars` override `wrangler.toml [vars]`; `allow` lists the loopback
 * origins (`host:port`) exempt from the private-address rule (PRIVATE_FETCH_ALLOWLIST).
 * `adminToken` is the ADMIN_TOKEN secret (given as a var, which the Worker reads alike);
 * empty by default, which disables the admin API.
 * `counting: true` runs the Worker behind tests/http/support/counting.mjs, which counts
 * every call that reaches R2, KV and the key's Durable Object: `worker.counts()` reads them,
 * `worker.resetCounts()` clears them, `worker.countCalls(fn)` returns what `fn` made;
 * `worker.holdAlarms()` / `releaseAlarms()` hold back the key authorities' alarms.
 * `healthy: false` starts a Worker whose health check is expected to fail (bad config).
 * `without` names bindings its wrangler.toml leaves out (`RATE_LIMIT_100`). */
export async function startWorker({ vars = {}, allow = [], adminToken = '', counting = false, healthy = true, without = [] } = {}) {
  if (allow.length) vars = { PRIVATE_FETCH_ALLOWLIST: allow.join(','), ...vars };
  vars = { ADMIN_TOKEN: adminToken, ...vars };
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-state-'));
  const seed = path.join(stateDir, 'keys.json');
  fs.writeFileSync(seed, JSON.stringify(Object.values(KEYS).map(({ key, record }) => ({ key: hashKey(key), value: JSON.stringify(record) }))));
  execFileSync(WRANGLER, ['kv', 'bulk', 'put', '--local', '--persist-to', stateDir, '--binding', 'API_KEYS', seed], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  // wrangler's own dev engine (what `wrangler dev` runs), in this process, without the
  // devtools inspector: with it attached, workerd's network instrumentation sometimes
  // brought the runtime down when a Worker cancelled a large subrequest body (a 413 on a
  // chunked origin), which no deployed Worker sees.
  const config = testConfig(stateDir, { counting, without });
  // the workerd processes of the running runtime (a crashed one is gone)
  let pids = [];
  let health;
  // starts the runtime and waits for the Worker's first answer (the runtime that runs the
  // Worker starts only after `ready`, the proxy in front of it)
  const boot = async () => {
    const before = workerds(['-P', process.pid]);
    const devEnv = new unstable_DevEnv();
    const direct = directUrl(devEnv);
    const started = await devEnv.startWorker({
      config,
      // as wrangler binds `[vars]`: a string as text, anything else (an unquoted number) as JSON
      bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? { type: 'plain_text', value: v } : { type: 'json', value: v }])),
      dev: {
        inspector: false,
        persist: stateDir,
        watch: false,
        logLevel: process.env.WRANGLER_LOG_LEVEL ?? 'warn',
        server: { hostname: '127.0.0.1', port: 0 },
      },
    });
    await started.ready;
    url = await direct;
    health = await request(`${url}/api/v1/health`);
    pids = workerds(['-P', process.pid]).filter((pid) => !before.includes(pid));
    running.set(url, pids);
    return started;
  };
  // a runtime that stopped answering may never finish stopping either
  const dispose = () => {
    running.delete(url);
    return Promise.race([worker.dispose(), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
  };
  let url;
  let worker = await boot();
  if (healthy && !health.ok) throw new Error(`the Worker is not healthy: ${health.status}`);

  const countsAt = async (method, p) => {
    if (!counting) throw new Error('storage calls are counted only in a Worker started with `counting: true`');
    const res = await request(`${url}${p}`, { method });
    if (res.status !== 200) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return normalCounts(await res.json());
  };

  const alarmsAt = async (method, p) => {
    if (!counting) throw new Error('alarms are held only in a Worker started with `counting: true`');
    const res = await request(`${url}${p}`, { method });
    if (res.status !== 200) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };

  const self = {
    url,
    stateDir,
    /** Local R2 contents: `{objects: [{key,size,custom}], multipart: [{upload_id,key,state}]}`
     * (a multipart upload's `state` is 0 while in progress). */
    r2() {
      const out = execFileSync('python3', [path.join(ROOT, 'tests/http/support/r2state.py'), stateDir]);
      return JSON.parse(out.toString());
    },
    /** Each background job's object's storage keys (`[["job", "part:000001", ...], ...]`). */
    jobStorage() {
      const out = execFileSync('python3', [path.join(ROOT, 'tests/http/support/jobstate.py'), stateDir]);
      return JSON.parse(out.toString());
    },
    /** The storage calls counted since the last reset (see normalCounts). */
    counts: () => countsAt('GET', '/__counts'),
    resetCounts: () => countsAt('POST', '/__counts/reset'),
    /** Holds back the key authorities' alarms (counting.mjs): an expired file keeps its row
     * and object until `releaseAlarms()`. `alarms()` answers `{held, waiting, ran}`. */
    holdAlarms: () => alarmsAt('POST', '/__alarms/hold'),
    releaseAlarms: () => alarmsAt('POST', '/__alarms/release'),
    alarms: () => alarmsAt('GET', '/__alarms'),
    /** The next KV puts the Worker makes reject with `errors`, one each (`null` lets one
     * through, `'hold'` holds one until `releaseKvPuts()`; counting.mjs). Answers how many
     * queued puts are still to come. */
    async failKvPuts(errors) {
      return (await self.kvPutFaults(errors)).queued;
    },
    /** As `failKvPuts`, answering `{queued, held}`: also how many puts are held now. */
    async kvPutFaults(errors = []) {
      if (!counting) throw new Error('KV faults exist only in a Worker started with `counting: true`');
      const res = await request(`${url}/__faults/kv-put`, { method: 'POST', body: JSON.stringify({ errors }) });
      if (res.status !== 200) throw new Error(`KV faults: ${res.status} ${await res.text()}`);
      return res.json();
    },
    /** While `prefixes` is not empty, KV reads of names (gets) and prefixes (lists) that
     * start with one of them fail (counting.mjs); `[]` ends it. */
    async failKvReads(prefixes) {
      if (!counting) throw new Error('KV faults exist only in a Worker started with `counting: true`');
      const res = await request(`${url}/__faults/kv-read`, { method: 'POST', body: JSON.stringify({ prefixes }) });
      if (res.status !== 200) throw new Error(`KV read faults: ${res.status} ${await res.text()}`);
    },
    /** While `prefixes` is not empty, KV reads as `failKvReads` names are made at once and
     * their answers held back instead of failing; `[]` lets them through. */
    async holdKvReads(prefixes) {
      if (!counting) throw new Error('KV faults exist only in a Worker started with `counting: true`');
      const res = await request(`${url}/__faults/kv-read`, { method: 'POST', body: JSON.stringify({ prefixes, hold: true }) });
      if (res.status !== 200) throw new Error(`KV read holds: ${res.status} ${await res.text()}`);
    },
    /** How many KV reads wait on `holdKvReads` now. */
    async heldKvReads() {
      const res = await request(`${url}/__faults/kv-read`);
      if (res.status !== 200) throw new Error(`KV read holds: ${res.status} ${await res.text()}`);
      return (await res.json()).held;
    },
    /** Lets every KV put held by a `'hold'` fault through. */
    async releaseKvPuts() {
      const res = await request(`${url}/__faults/kv-put/release`, { method: 'POST' });
      if (res.status !== 200) throw new Error(`KV release: ${res.status} ${await res.text()}`);
      return res.json();
    },
    /** Faults of the next calls to a key's authority (counting.mjs): `[{caller, op, how}]`,
     * `how` 'lose' (made, its answer lost), 'fail' (not made) or 'newer' (made with an op the
     * object does not know, `{op}_v2`: a later version's). Answers how many queued
     * faults are still to be met; `{clear: true}` drops those first. */
    async failAuthorityCalls(faults, { clear = false } = {}) {
      if (!counting) throw new Error('authority faults exist only in a Worker started with `counting: true`');
      const res = await request(`${url}/__faults/authority`, { method: 'POST', body: JSON.stringify({ faults, clear }) });
      if (res.status !== 200) throw new Error(`authority faults: ${res.status} ${await res.text()}`);
      return (await res.json()).queued;
    },
    /** The next R2 deletes a key's authority makes reject with `errors`, one each, the
     * objects kept (counting.mjs). */
    async failR2Deletes(errors) {
      if (!counting) throw new Error('R2 faults exist only in a Worker started with `counting: true`');
      const res = await request(`${url}/__faults/r2-delete`, { method: 'POST', body: JSON.stringify({ errors }) });
      if (res.status !== 200) throw new Error(`R2 faults: ${res.status} ${await res.text()}`);
    },
    /** The next `count` alarms the authority of key `keyId` sets fail to be set
     * (counting.mjs); `count` 0 stops it. Answers how many are still to come. */
    async failAuthorityAlarms(keyId, count) {
      if (!counting) throw new Error('alarm faults exist only in a Worker started with `counting: true`');
      const res = await request(`${url}/__faults/authority-alarm`, { method: 'POST', body: JSON.stringify({ key_id: keyId, count }) });
      if (res.status !== 200) throw new Error(`alarm faults: ${res.status} ${await res.text()}`);
      return (await res.json()).queued;
    },
    /** How many of the alarm faults `failAuthorityAlarms` queued are still to come. */
    async authorityAlarmFaults() {
      const res = await request(`${url}/__faults/authority-alarm`);
      if (res.status !== 200) throw new Error(`alarm faults: ${res.status} ${await res.text()}`);
      return (await res.json()).queued;
    },
    /** While `failing`, every SQL statement but a SELECT that a key's authority runs throws,
     * as SQLite does when the object's storage is full (counting.mjs). */
    async failSqlWrites(failing) {
      if (!counting) throw new Error('SQL faults exist only in a Worker started with `counting: true`');
      const res = await request(`${url}/__faults/sql-writes`, { method: 'POST', body: JSON.stringify({ failing }) });
      if (res.status !== 200) throw new Error(`SQL faults: ${res.status} ${await res.text()}`);
    },
    /** From now on, every call a background job's object makes of the storage methods
     * named in `failing` (`put`, `setAlarm`, `deleteAlarm`) rejects, nothing written (counting.mjs);
     * `failJobStorage([])` stops it. */
    async failJobStorage(failing) {
      if (!counting) throw new Error('job storage faults exist only in a Worker started with `counting: true`');
      const res = await request(`${url}/__faults/job-storage`, { method: 'POST', body: JSON.stringify({ failing }) });
      if (res.status !== 200) throw new Error(`job storage faults: ${res.status} ${await res.text()}`);
      const { failing: now } = await res.json();
      if (now.length !== failing.length) throw new Error(`job storage faults: ${JSON.stringify(failing)} asked, ${JSON.stringify(now)} known`);
    },
    /** From now on, every timer the isolate sets for at least `atLeastMs` waits that divided
     * by `divideBy` (counting.mjs); `scaleTimers(null)` stops it. */
    async scaleTimers(scale) {
      if (!counting) throw new Error('timer faults exist only in a Worker started with `counting: true`');
      const body = scale ? { at_least_ms: scale.atLeastMs, divide_by: scale.divideBy } : {};
      const res = await request(`${url}/__faults/timers`, { method: 'POST', body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`timer faults: ${res.status} ${await res.text()}`);
    },
    /** The storage calls made while `fn` ran (nothing else may run meanwhile), and its result. */
    async countCalls(fn) {
      await self.resetCounts();
      const result = await fn();
      return { calls: await self.counts(), result };
    },
    /** Stops the runtime and starts it again on the same state (R2, KV, Durable Objects and
     * their alarms on disk): every isolate and object starts fresh. `url` changes. `vars`
     * override the ones it was started with (a rotated secret, say). */
    async restart({ vars: changed = {} } = {}) {
      vars = { ...vars, ...changed };
      await dispose();
      worker = await boot();
      self.url = url;
    },
    /** Whether the runtime still answers; if not, says on stderr why: its workerd process
     * crashed (CRASHED), or spins in V8's message loop (STUCK, from gdb's backtraces),
     * which tests/run.mjs looks for, or something else (the backtraces are printed). With
     * `restart` it then starts the runtime again on the same state, so the tests after the
     * one it failed meet a live Worker. Answers whether it was answering. */
    async revive({ restart = true } = {}) {
      if (await answers(url, 10_000)) return true;
      await explainSilence(url, pids);
      if (restart) await self.restart();
      return false;
    },
    async stop() {
      await dispose();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return self;
}

/** The address of the runtime that runs the Worker itself, as `devEnv` reports it once the
 * Worker is loaded. The tests talk to it directly, not through the proxy `wrangler dev`
 * puts in front (`devEnv`'s own URL): when one of that proxy's calls to the runtime fails
 * (now and then, more often while the runtime is busy), it answers a POST with a 503 "Your
 * worker restarted mid-request" and holds a GET until its next request arrives, which a
 * test that polls never sends. Neither says anything about the Worker. */
function directUrl(devEnv) {
  return new Promise((resolve) => {
    const { proxy } = devEnv;
    const reloaded = proxy.onReloadComplete.bind(proxy);
    proxy.onReloadComplete = (event) => {
      const { protocol, hostname, port } = event.proxyData.userWorkerUrl;
      resolve(`${protocol}//${hostname}:${port}`);
      reloaded(event);
    };
  });
}

/** Longest a test waits for any answer from the Worker (its own deadlines are at most a
 * minute here): a runtime that stops answering fails the test that met it in two minutes,
 * with the request named, instead of at undici's five-minute headers timeout. */
export const REQUEST_TIMEOUT_MS = 120_000;

/** The runtimes this process started (their URL, as `request` sees it in an origin, to
 * their workerd pids), so that a request to one that goes unanswered says why
 * (`explainSilence`), whether or not the file revives its runtime between tests. */
const running = new Map();
/** The explanation under way or given, per runtime: one set of backtraces, however many of
 * a burst's requests time out together. */
const explained = new Map();

/** `fetch`, failing with the request named after REQUEST_TIMEOUT_MS without an answer (and,
 * for a runtime this process started, saying on stderr why it did not answer), on a
 * connection of its own (`Connection: close`). workerd closes a connection idle for 5 s, and
 * undici reuses one idle for up to 4 s by its own timer: a test that keeps its event loop
 * busy for seconds (generating or hashing tens of MiB) would otherwise send its next request
 * on a connection the runtime had already closed, and get "other side closed". Even on a
 * fresh connection, the local runtime now and then closes it without answering the request
 * that just came on it, while its one thread is busy for seconds (reading hundreds of MiB
 * back from local R2, say); a Worker cannot do that (an exception of its own is a 500). So
 * a GET or HEAD whose connection is closed before any answer is sent once more, as RFC 9110
 * (9.2.2) allows, and said on stderr; any other request so closed is reported for
 * tests/run.mjs (CLOSED) and fails. A body cut after the answer began is never retried. */
export async function request(url, init = {}) {
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers);
  headers.set('connection', 'close');
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...init, headers });
    } catch (err) {
      if (err.name === 'TimeoutError') {
        const runtime = new URL(url).origin;
        if (running.has(runtime)) {
          if (!explained.has(runtime)) explained.set(runtime, explainSilence(runtime, running.get(runtime)));
          await explained.get(runtime);
        }
        throw new Error(`no answer to ${method} ${url} within ${REQUEST_TIMEOUT_MS / 1000} s`);
      }
      if (err.cause?.code !== 'UND_ERR_SOCKET') throw err;
      if (attempt === 1 && (method === 'GET' || method === 'HEAD')) {
        console.error(`# ${method} ${url}: the runtime closed the connection before answering; asking once more`);
        continue;
      }
      console.error(`# ${CLOSED}: ${method} ${url} (${err.cause.message})`);
      throw err;
    }
  }
}

/** Says on stderr why the runtime at `url`, run by the workerd processes `pids`, does not
 * answer: a process exited (CRASHED), or a main thread spins in V8's message loop (STUCK,
 * from gdb's backtraces), both of which tests/run.mjs looks for, or something else (every
 * backtrace taken is printed). */
export async function explainSilence(url, pids) {
  const gone = pids.filter((pid) => !alive(pid));
  if (gone.length) {
    console.error(`# ${CRASHED}: workerd process ${gone.join(', ')} of ${url} exited (its own output above says why)`);
    return;
  }
  const samples = await mainStacks(pids);
  const stuck = Object.values(samples).some(inMessageLoop);
  console.error(stuck
    ? `# ${STUCK}: the main thread of workerd at ${url} was pumping V8's message loop, with no request's code on it, in each of ${STACK_SAMPLES} backtraces ${STACK_SAMPLE_GAP_MS} ms apart`
    : `# the local runtime at ${url} stopped answering, its workerd processes still running`);
  // stuck: the last backtrace of each process; else all of them, to be read from CI's log
  const shown = Object.entries(samples).flatMap(([pid, stacks]) => (stuck ? [stacks.at(-1)] : stacks)
    .map((stack, i, all) => `workerd ${pid}${all.length > 1 ? ` (backtrace ${i + 1} of ${all.length})` : ''}:\n${stack}`));
  console.error(shown.join('\n').replace(/^/gm, '#   '));
}

/** The pids of the running workerd processes that pgrep's `selector` picks (`['-P', ppid]`:
 * a process's children; `['-g', pgid]`: a process group's members). */
export function workerds(selector) {
  try {
    return execFileSync('pgrep', [...selector.map(String), '-x', 'workerd']).toString().trim().split('\n').map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** How many backtraces of each workerd's main thread `explainSilence` takes, and how far
 * apart: one could catch a busy thread in V8's loop by chance; a thread that stays in that
 * loop through all of them (crash.mjs's `inMessageLoop`) is stuck. */
const STACK_SAMPLES = 3;
const STACK_SAMPLE_GAP_MS = 1_000;
/** How many of a backtrace's innermost frames are taken. */
const STACK_FRAMES = 40;

/** `STACK_SAMPLES` backtraces of each of `pids`' main threads, by pid, innermost first. */
async function mainStacks(pids) {
  const samples = Object.fromEntries(pids.map((pid) => [pid, []]));
  for (let i = 0; i < STACK_SAMPLES; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, STACK_SAMPLE_GAP_MS));
    for (const pid of pids) samples[pid].push(mainStack(pid));
  }
  return samples;
}

/** gdb's backtrace of `pid`'s main thread (its innermost frames), or why there is none. */
function mainStack(pid) {
  try {
    // deep enough to reach V8's message loop under a finalizer's JavaScript and wasm frames
    const out = execFileSync('gdb', ['-p', String(pid), '-batch', '-ex', `bt ${STACK_FRAMES}`], { timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.toString().split('\n').filter((line) => line.startsWith('#')).map((line) => line.slice(0, 160)).join('\n');
  } catch (err) {
    return `(no backtrace: ${err.message.split('\n')[0]})`;
  }
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Whether the Worker at `url` answers its health check within `ms`. */
export async function answers(url, ms) {
  try {
    await (await request(`${url}/api/v1/health`, { signal: AbortSignal.timeout(ms) })).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

const R2_WRITES = ['put', 'delete', 'createMultipartUpload', 'multipart.uploadPart', 'multipart.complete', 'multipart.abort'];

/** The counts of counting.mjs (`{worker: {r2: {put: 1}, ...}, authority: {...}}`) with the
 * sums the tests ask about: `r2` (every R2 call, by op, whoever made it), `r2Writes` (puts,
 * deletes and multipart calls), `authorityCalls` (calls that reached a Durable Object stub),
 * `kv` (KV calls by op), `kvReads` (KV gets) and `kvNames` (KV gets, puts and deletes by the
 * entry they name: `kvNames.get['blocklist:version']`); and as counting.mjs reports them, `waiting`
 * (`{peak, now}`: the Worker's outbound calls waiting for an answer at once) and `parts`
 * (each multipart upload's part sizes by part number, null where the value was a stream). */
function normalCounts(raw) {
  const sum = (...maps) => {
    const out = {};
    for (const m of maps) for (const [op, n] of Object.entries(m ?? {})) out[op] = (out[op] ?? 0) + n;
    return out;
  };
  const total = (m, ops) => Object.entries(m).filter(([op]) => !ops || ops.includes(op)).reduce((n, [, c]) => n + c, 0);
  const r2 = sum(raw.worker?.r2, raw.authority?.r2);
  const kv = sum(raw.worker?.kv, raw.authority?.kv);
  const authority = sum(raw.worker?.authority, raw.authority?.authority);
  return {
    raw,
    waiting: raw.waiting,
    parts: raw.parts,
    r2,
    r2Writes: total(r2, R2_WRITES),
    authority,
    authorityCalls: total(authority),
    kv,
    kvReads: total(kv, ['get', 'getWithMetadata']),
    kvNames: Object.fromEntries(['get', 'getWithMetadata', 'put', 'delete'].map((op) => [op, sum(raw.kvNames?.worker?.[op], raw.kvNames?.authority?.[op])])),
  };
}

/** Starts a loopback origin (support/origin.mjs) and a Worker that may fetch from it.
 * `options` are startWorker's, or a function of the started origin that answers them (for
 * vars that name its port, or a server started first). The origin's `host:port` is added to
 * `allow`, unless `exemptOrigin` is false: then nothing is added (allow `127.0.0.1` yourself,
 * and the origin's port must pass ALLOWED_PORTS like any other). Returns `{origin, worker,
 * stop}`; `stop` stops both. */
export async function startStack(options = {}) {
  const origin = await startOrigin();
  let worker;
  try {
    const { exemptOrigin = true, ...opts } = typeof options === 'function' ? await options(origin) : options;
    worker = await startWorker({ ...opts, allow: [...(exemptOrigin ? [origin.host] : []), ...(opts.allow ?? [])] });
  } catch (err) {
    await origin.close();
    throw err;
  }
  return {
    origin,
    worker,
    async stop() {
      await worker.stop();
      await origin.close();
    },
  };
}

/** For a test file (or a `describe`): starts a stack (startStack, same options) in
 * node:test's `before` and stops it in `after`. Returns an object whose `origin` and
 * `worker` are set once `before` has run; `onStarted(stack)` is called then too, in the same
 * hook (node 20 runs a file's top-level `before` hooks concurrently, so another hook cannot
 * count on the stack being up). Before each test, a Worker that stopped answering fails
 * that test's hook and is started again (`revive`), so one hung runtime fails one test,
 * not the rest of the file:
 *
 *   let origin;
 *   let worker;
 *   useStack({ vars: { MAX_FILE_BYTES: '65536' } }, (s) => ({ origin, worker } = s));
 */
export function useStack(options = {}, onStarted = () => {}) {
  const stack = { origin: undefined, worker: undefined };
  let started;
  before(async () => {
    started = await startStack(options);
    stack.origin = started.origin;
    stack.worker = started.worker;
    await onStarted(stack);
  });
  // A runtime found silent fails the hook that found it (so the file fails, or is run again
  // for a fault of the runtime's own that `explainSilence` named): a Worker or an alarm that
  // spins after a test's last answer must not pass unseen.
  const silent = 'the runtime stopped answering after the previous test';
  beforeEach(async () => {
    if (started && !(await started.worker.revive())) throw new Error(`${silent} (started again for the next test)`);
  });
  after(async () => {
    const answering = await started?.worker.revive({ restart: false });
    await started?.stop();
    if (started && !answering) throw new Error(silent);
  });
  return stack;
}

/** POSTs an upload with API key `key` (none when null) and extra `headers`. */
export function upload(worker, body, { key = KEYS.a.key, headers = {} } = {}) {
  return api(worker, 'POST', '/api/v1/files/upload/url', { token: key, body, headers });
}

/** POSTs `body` as JSON to `worker` with `rawHeaders` ([name, value, ...], each pair its own
 * header line, as fetch cannot send a header twice): answers status, headers and the
 * parsed envelope. */
export function rawPost(worker, path, body, rawHeaders) {
  const payload = Buffer.from(JSON.stringify(body));
  const target = new URL(`${worker.url}${path}`);
  const headers = ['Host', target.host, 'Content-Type', 'application/json', 'Content-Length', String(payload.length), 'Connection', 'close', ...rawHeaders];
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: new Headers(res.headers), json: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to POST ${path} within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** GETs `url` and returns status, headers and the body bytes, with when the request left
 * and when its answer's headers came back (`sentAt`, `receivedAt`: ms since the epoch). */
export async function get(url, headers = {}, method = 'GET') {
  const sentAt = Date.now();
  const res = await request(url, { method, headers });
  const receivedAt = Date.now();
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()), sentAt, receivedAt };
}

/** Sends `method path` with an optional JSON body and bearer `token`; returns status,
 * headers and the parsed envelope. */
export async function api(worker, method, path, { token, body, headers = {} } = {}) {
  const res = await request(`${worker.url}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { throw new Error(`non-JSON ${res.status} from ${method} ${path}: ${text}`); }
  return { status: res.status, headers: res.headers, json };
}
