// Starts the built Worker in local workerd through wrangler's dev engine (`wrangler dev`'s
// startWorker, local R2/KV/DO on disk) with its own state directory, seeded API keys and
// `[vars]` overrides, on a free loopback port.
import { execFileSync } from 'node:child_process';
import { unstable_startWorker } from 'wrangler';
import fs from 'node:fs';
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

/** wrangler.toml without its `[assets]` and `[build]` tables (paths made absolute), written
 * into `dir`. Local `wrangler dev` 4.86 cannot trigger `scheduled` on a Worker with static
 * assets (the assets router gets the event: cloudflare/workers-sdk#9882, fixed in a later
 * miniflare), so tests that trigger the cron run without the demo page. */
function configWithoutAssets(dir) {
  const lines = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8').split('\n');
  let skip = false;
  const kept = lines.filter((line) => {
    if (/^\[/.test(line)) skip = /^\[(assets|build)\]\s*$/.test(line);
    return !skip;
  });
  const text = kept.join('\n').replace(/^main = "(.*)"$/m, (_, main) => `main = ${JSON.stringify(path.join(ROOT, main))}`);
  const file = path.join(dir, 'wrangler.toml');
  fs.writeFileSync(file, text);
  return file;
}

/** Starts a Worker; `vars` override `wrangler.toml [vars]`; `allow` lists the loopback
 * origins (`host:port`) exempt from the private-address rule (PRIVATE_FETCH_ALLOWLIST).
 * `adminToken` is the ADMIN_TOKEN secret (given as a var, which the Worker reads alike);
 * empty by default, which disables the admin API and overrides any local `.dev.vars`.
 * `assets: false` leaves out the demo page (needed to trigger `scheduled` locally).
 * `healthy: false` starts a Worker whose health check is expected to fail (bad config). */
export async function startWorker({ vars = {}, allow = [], adminToken = '', assets = true, healthy = true } = {}) {
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
  const worker = await unstable_startWorker({
    config: assets ? path.join(ROOT, 'wrangler.toml') : configWithoutAssets(stateDir),
    bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { type: 'plain_text', value: String(v) }])),
    dev: {
      inspector: false,
      persist: stateDir,
      watch: false,
      logLevel: process.env.WRANGLER_LOG_LEVEL ?? 'warn',
      server: { hostname: '127.0.0.1', port: 0 },
    },
  });
  await worker.ready;
  const url = (await worker.url).origin;
  const health = await fetch(`${url}/api/v1/health`);
  if (healthy && !health.ok) throw new Error(`the Worker is not healthy: ${health.status}`);

  return {
    url,
    stateDir,
    /** Runs the Worker's `scheduled` handler (the cron sweep) and waits for it. Needs a
     * Worker started with `assets: false` (see configWithoutAssets). */
    async cron() {
      const res = await fetch(`${url}/cdn-cgi/handler/scheduled?cron=*/30+*+*+*+*`);
      if (res.status !== 200) throw new Error(`scheduled handler: ${res.status} ${await res.text()}`);
    },
    /** Local R2 contents: `{objects: [{key,size,custom}], multipart: [{key,state}]}`. */
    r2() {
      const out = execFileSync('python3', [path.join(ROOT, 'tests/http/support/r2state.py'), stateDir]);
      return JSON.parse(out.toString());
    },
    async stop() {
      await worker.dispose();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** POSTs an upload as key `who` (a name in KEYS, or a raw header value with `raw`). */
export async function upload(worker, body, { key = KEYS.a.key, headers = {} } = {}) {
  const res = await fetch(`${worker.url}/api/v1/files/upload/url`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { throw new Error(`non-JSON ${res.status}: ${text}`); }
  return { status: res.status, headers: res.headers, json };
}

/** GETs `url` and returns status, headers and the body bytes. */
export async function get(url, headers = {}, method = 'GET') {
  const res = await fetch(url, { method, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Sends `method path` with an optional JSON body and bearer `token`; returns status,
 * headers and the parsed envelope. */
export async function api(worker, method, path, { token, body, headers = {} } = {}) {
  const res = await fetch(`${worker.url}${path}`, {
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
