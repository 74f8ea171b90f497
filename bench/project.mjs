// The project Worker as the bench runs it (shared by run.mjs, profile.mjs and crossings.mjs):
// its Miniflare config, its API key, and one upload request.
import crypto from 'node:crypto';
import path from 'node:path';

const ROOT = path.resolve(new URL('..', import.meta.url).pathname);
const MiB = 1024 * 1024;
const API_KEY = 'bench-key';

/** The Worker's Miniflare config: BENCH_WORKER=<path>/index.js runs another build of it
 * (any absolute path, or one relative to the working directory). `origins` are the loopback
 * origins it may fetch (each has `host`); `name` and `scriptPath` run another build beside it
 * in the same workerd, with storage of its own, reached at http://{name}.bench/. */
export function projectWorker(origins, { name = 'project', scriptPath = projectScript() } = {}) {
  return {
    name,
    modules: true,
    scriptPath,
    // Module names are paths relative to this root, which must hold every module: a build
    // outside the working directory (BENCH_WORKER=/elsewhere/index.js) would otherwise be
    // refused ("can't use .. to break out of starting directory").
    modulesRoot: path.dirname(scriptPath),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2025-09-01',
    r2Buckets: { FILES: `${name}-files` },
    kvNamespaces: { API_KEYS: `${name}-keys` },
    durableObjects: { AUTHORITY: { className: 'KeyAuthority', useSQLite: true }, JOBS: { className: 'UploadJob', useSQLite: true } },
    bindings: {
      DEFAULT_MAX_BYTES: String(1024 * 1024 * MiB),
      DEFAULT_MAX_FILES: '1000000',
      FILE_TTL_SECONDS: '3600',
      MAX_FILE_BYTES: String(200 * MiB),
      FETCH_TIMEOUT_MS: '300000',
      ALLOWED_MIME_TYPES: '*',
      PUBLIC_BASE_URL: '',
      PRIVATE_FETCH_ALLOWLIST: [origins].flat().map((o) => o.host).join(','),
    },
    routes: [`${name}.bench/*`],
  };
}

/** The project Worker's entry script: BENCH_WORKER, or build/index.js. */
export function projectScript() {
  return path.resolve(process.env.BENCH_WORKER ?? path.join(ROOT, 'build/index.js'));
}

/** Stores the bench's API key record in the Worker's KV. */
export async function seedKey(mf, worker = 'project') {
  const hash = crypto.createHash('sha256').update(API_KEY).digest('hex');
  const record = { id: 'k_bench', name: 'bench', created: '2026-01-01T00:00:00+00:00', disabled: false };
  await (await mf.getKVNamespace('API_KEYS', worker)).put(hash, JSON.stringify(record));
}

/** One upload of `url` to `bench/{name}` through `worker` (a name given to projectWorker).
 * The body carries its Content-Length, as curl's, browsers' and most clients' do
 * (Miniflare's dispatchFetch would otherwise send it chunked). */
export function upload(mf, url, name, worker = 'project') {
  const body = JSON.stringify({ file_url: url, upload_path: 'bench', file_name: name });
  return mf.dispatchFetch(`http://${worker}.bench/api/v1/files/upload/url`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  });
}

/** `count` uploads of `url` through `mf`, `concurrency` at a time, the i-th from lane `lane`
 * to the name `name(lane, i)`; an answer other than 200 throws. */
export async function uploadMany(mf, url, { count, concurrency, name }) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async (_, lane) => {
    while (next < count) {
      const i = next++;
      const res = await upload(mf, url, name(lane, i));
      const body = await res.text();
      if (res.status !== 200) throw new Error(`upload: ${res.status} ${body}`);
    }
  }));
}
