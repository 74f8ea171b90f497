// The Worker in local workerd for the load test, started through wrangler's API with the
// DevTools inspector off. `wrangler dev` (the CLI the other tiers use) always attaches its
// inspector proxy, which enables the Network domain and forwards every inspector event
// (one per 4 KiB of every subrequest body) to wrangler over a new loopback connection that
// workerd never closes: about 250 sockets per MiB fetched, so a long transfer exhausts the
// file descriptor limit and the runtime stops answering. Nothing of this exists in production.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unstable_startWorker } from 'wrangler';
import { KEYS, hashKey, freePort } from '../http/support/worker.mjs';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const WRANGLER = path.join(ROOT, 'node_modules/.bin/wrangler');

export async function startQuietWorker({ vars = {}, allow = [] } = {}) {
  if (allow.length) vars = { PRIVATE_FETCH_ALLOWLIST: allow.join(','), ...vars };
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-load-'));
  const seed = path.join(stateDir, 'keys.json');
  fs.writeFileSync(seed, JSON.stringify(Object.values(KEYS).map(({ key, record }) => ({ key: hashKey(key), value: JSON.stringify(record) }))));
  execFileSync(WRANGLER, ['kv', 'bulk', 'put', '--local', '--persist-to', stateDir, '--binding', 'API_KEYS', seed], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });

  const port = await freePort();
  const cwd = process.cwd();
  process.chdir(ROOT);
  let worker;
  try {
    worker = await unstable_startWorker({
      config: path.join(ROOT, 'wrangler.toml'),
      bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { type: 'plain_text', value: v }])),
      dev: { server: { hostname: '127.0.0.1', port }, inspector: false, persist: stateDir, watch: false, logLevel: 'warn' },
    });
    await worker.ready;
  } finally {
    process.chdir(cwd);
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
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
