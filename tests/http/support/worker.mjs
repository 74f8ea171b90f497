// Starts the built Worker in local workerd (`wrangler dev`) with its own state directory,
// seeded API keys and `[vars]` overrides, on a free loopback port.
import { spawn, execFileSync } from 'node:child_process';
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
 * origins (`host:port`) exempt from the private-address rule (PRIVATE_FETCH_ALLOWLIST);
 * `assets: false` leaves out the demo page (needed to trigger `scheduled` locally). */
export async function startWorker({ vars = {}, allow = [], assets = true } = {}) {
  if (allow.length) vars = { PRIVATE_FETCH_ALLOWLIST: allow.join(','), ...vars };
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-state-'));
  const seed = path.join(stateDir, 'keys.json');
  fs.writeFileSync(seed, JSON.stringify(Object.values(KEYS).map(({ key, record }) => ({ key: hashKey(key), value: JSON.stringify(record) }))));
  execFileSync(WRANGLER, ['kv', 'bulk', 'put', '--local', '--persist-to', stateDir, '--binding', 'API_KEYS', seed], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  const port = await freePort();
  const inspector = await freePort();
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
    '--persist-to', stateDir, '--show-interactive-dev-session=false', '--log-level', 'info'];
  if (!assets) args.push('--config', configWithoutAssets(stateDir));
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const child = spawn(WRANGLER, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false' } });
  let log = '';
  const collect = (d) => { log += d.toString(); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${log}`);
    if (Date.now() > deadline) {
      process.kill(-child.pid, 'SIGKILL');
      throw new Error(`wrangler dev not ready in 120 s:\n${log}`);
    }
    if (log.includes('Ready on')) {
      try {
        const r = await fetch(`${url}/api/v1/health`);
        if (r.ok) break;
      } catch { /* not yet */ }
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    url,
    stateDir,
    log: () => log,
    /** Local R2 contents: `{objects: [{key,size,custom}], multipart: [{key,state}]}`. */
    r2() {
      const out = execFileSync('python3', [path.join(ROOT, 'tests/http/support/r2state.py'), stateDir]);
      return JSON.parse(out.toString());
    },
    async stop() {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      await new Promise((r) => { child.once('exit', r); setTimeout(r, 5000); });
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
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
