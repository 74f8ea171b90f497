// What `wrangler deploy` would upload, checked without an account (`wrangler deploy
// --dry-run`, which builds and bundles but sends nothing): every binding the Worker reads is
// declared, the bundle fits the platform's size limit, each Durable Object class is exported
// and created by a SQLite migration (local workerd runs a class without one; a deploy does
// not), and the README's deployment commands name the bucket, namespace and object prefix
// wrangler.toml and the Worker use, with a lifecycle rule a day past the longest lifetime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { unstable_readConfig } from 'wrangler';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const WRANGLER = path.join(ROOT, 'node_modules/.bin/wrangler');
const config = unstable_readConfig({ config: path.join(ROOT, 'wrangler.toml') });
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
/** The Workers Paid plan's limit on a Worker's compressed size (the README requires Paid). */
const MAX_GZIP_KIB = 10 * 1024;

/** The names of the bundle's ES module exports. */
function exportsOf(bundle) {
  const lists = [...bundle.matchAll(/export\s*\{([^}]*)\}/g)].map((m) => m[1]);
  return lists.flatMap((list) => list.split(',').map((item) => item.trim().split(/\s+as\s+/).at(-1)));
}

test('wrangler deploy --dry-run bundles the Worker with every binding it reads, within the size limit, exporting each Durable Object class', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-deploy-'));
  try {
    const { stdout } = await promisify(execFile)(WRANGLER, ['deploy', '--dry-run', '--outdir', out], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      maxBuffer: 16 * 1024 * 1024,
    });
    assert.match(stdout, /--dry-run: exiting now\./);
    // the names src/server/bindings.rs and core/rate_limit.rs read, with their kinds
    const bindings = [
      ['AUTHORITY \\(KeyAuthority\\)', 'Durable Object'],
      ['JOBS \\(UploadJob\\)', 'Durable Object'],
      ['API_KEYS \\([0-9a-f]{32}\\)', 'KV Namespace'],
      ['FILES \\(urlstash-files\\)', 'R2 Bucket'],
      ['RATE_LIMIT_10 \\(10 requests/60s\\)', 'Rate Limit'],
      ['RATE_LIMIT_100 \\(100 requests/60s\\)', 'Rate Limit'],
      ['RATE_LIMIT_1000 \\(1000 requests/60s\\)', 'Rate Limit'],
    ];
    for (const [name, kind] of bindings) assert.match(stdout, new RegExp(`env\\.${name}\\s+${kind}`), `${name}: ${kind}`);
    const size = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(stdout);
    assert.ok(size, stdout);
    assert.ok(Number(size[2]) < MAX_GZIP_KIB, `${size[2]} KiB gzip, over the limit`);
    const bundle = fs.readFileSync(path.join(out, 'index.js'), 'utf8');
    const exported = exportsOf(bundle);
    assert.ok(exported.includes('default'), `a default export (the fetch handler): ${exported}`);
    for (const { class_name: name } of config.durable_objects.bindings) assert.ok(exported.includes(name), `${name} exported: ${exported}`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('each Durable Object class is created by one SQLite migration (the authority and the jobs use SQL), and none is deleted or renamed', () => {
  const migrations = config.migrations;
  const tags = migrations.map((m) => m.tag);
  assert.equal(new Set(tags).size, tags.length, `unique tags: ${tags}`);
  for (const m of migrations) {
    assert.deepEqual(Object.keys(m).filter((k) => !['tag', 'new_sqlite_classes'].includes(k)), [], `only SQLite classes are created: ${JSON.stringify(m)}`);
  }
  const created = migrations.flatMap((m) => m.new_sqlite_classes ?? []);
  const classes = config.durable_objects.bindings.map((b) => b.class_name).sort();
  assert.deepEqual([...created].sort(), classes, 'every bound class created once, and nothing else');
});

test("the README's deployment commands name wrangler.toml's bucket and namespace, and a lifecycle rule on the objects' prefix a day past the longest lifetime", () => {
  const bucket = config.r2_buckets.find((b) => b.binding === 'FILES').bucket_name;
  assert.match(readme, new RegExp(`npx wrangler r2 bucket create ${bucket}\\n`));
  assert.match(readme, /npx wrangler kv namespace create API_KEYS /);
  assert.ok(config.kv_namespaces.some((k) => k.binding === 'API_KEYS'));
  const rule = new RegExp(`npx wrangler r2 bucket lifecycle add ${bucket} (\\S+) (\\S+) --expire-days (\\d+)\\n`).exec(readme);
  assert.ok(rule, 'the lifecycle command');
  // core/layout.rs: each upload's bytes are at o/{file_id}
  assert.equal(rule[2], 'o/');
  assert.match(readme, new RegExp(`lifecycle remove ${bucket}\\s+--name ${rule[1]}`), 'its removal names the same rule');
  // a file lives at most FILE_TTL_SECONDS (a key's max_ttl_secs can only lower it)
  const longest = Number(config.vars.FILE_TTL_SECONDS);
  assert.ok(Number(rule[3]) * 86400 >= longest + 86400, `--expire-days ${rule[3]} for a lifetime of ${longest} s`);
});
