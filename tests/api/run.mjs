// Runs schemathesis against the Worker in local workerd, from the Worker's own
// /openapi.json (every route), with a valid API key, the admin token for the admin
// operations only, real path parameters, and a loopback origin for uploads to fetch.
// Usage: node tests/api/run.mjs path/to/schemathesis
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, upload, api, KEYS } from '../http/support/worker.mjs';
import { TYPES } from '../http/support/fixtures.mjs';

const schemathesis = path.resolve(process.argv[2]);
const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '100';

// The admin operations authenticate with this token, every other one with KEYS.a.
const ADMIN_TOKEN = 'schemathesis-admin-token';

// With LINK_SECRET, as a deployment that offers private links (without it, `private: true`
// is the 503 of a feature switched off, like the admin API without ADMIN_TOKEN).
const stack = await startStack({ adminToken: ADMIN_TOKEN, vars: { FETCH_TIMEOUT_MS: '10000', LINK_SECRET: 'schemathesis-link-secret' } });
const { origin, worker } = stack;
let code = 1;
let scratch;
try {
  const sample = origin.file('/sample.png', TYPES.png.bytes, { contentType: 'image/png' });
  // Stored files, so the serving and management operations are exercised (ranges,
  // conditionals, HEAD, details) and not only their 404s: `kept` for everything that reads,
  // `doomed` for DELETE /api/v1/files/{file_id} alone, so deleting it breaks nothing else,
  // `secret` (private) for minting its signed links.
  const seed = async (file_name, options = {}, key = KEYS.a.key) => {
    const stored = await upload(worker, { file_url: sample, upload_path: 'st', file_name, ...options }, { key });
    if (stored.status !== 200) throw new Error(`seed upload failed: ${JSON.stringify(stored.json)}`);
    return stored.json.data.file_id;
  };
  const kept = await seed('sample.png');
  const doomed = await seed('doomed.png');
  const secret = await seed('secret.png', { private: true });
  // Background jobs of the run's key, so their answers are checked, not only 404s:
  // `watched` (done at once) for the job reads, `stopped` for the cancel, from an origin
  // slow enough (2 KiB/s, 256 KiB) that the first cancel finds it running (200) and the
  // later ones find it canceled (409).
  const slow = origin.file('/slow.png', Buffer.concat([TYPES.png.bytes, Buffer.alloc(256 * 1024)]), { contentType: 'image/png', throttle: 2048 });
  const startJob = async (file_url, file_name) => {
    const res = await upload(worker, { file_url, upload_path: 'st', file_name, async: true });
    if (res.status !== 202) throw new Error(`job start failed: ${JSON.stringify(res.json)}`);
    return res.json.data.job_id;
  };
  const watched = await startJob(sample, 'job-watched.png');
  const stopped = await startJob(slow, 'job-stopped.png');
  // Admin-created keys: `keeper` for the reads and updates of one key, `victim` for the
  // revocation and the purge of its files alone. The run's own API key (KEYS.a, seeded in KV
  // without the admin API's id entry) is an admin path parameter only for what is left.
  const createKey = async (name) => {
    const res = await api(worker, 'POST', '/api/v1/admin/keys', { token: ADMIN_TOKEN, body: { name } });
    if (res.status !== 200) throw new Error(`key creation failed: ${JSON.stringify(res.json)}`);
    return res.json.data;
  };
  const keeper = (await createKey('schemathesis-keeper')).key_id;
  const doomedKey = await createKey('schemathesis-victim');
  const victim = doomedKey.key_id;
  // a file of its own, for the purge to delete
  await seed('victim.png', {}, doomedKey.key);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-st-'));
  const config = path.join(scratch, 'schemathesis.toml');
  const q = JSON.stringify;
  fs.writeFileSync(config, [
    // Per security scheme: bearerAuth is an API key, adminAuth the ADMIN_TOKEN secret.
    '[auth.openapi.bearerAuth]',
    `bearer = ${q(KEYS.a.key)}`,
    '[auth.openapi.adminAuth]',
    `bearer = ${q(ADMIN_TOKEN)}`,
    '',
    // A schema-violating body may also be refused for its size (413): a rejection too.
    '[checks.negative_data_rejection]',
    'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]',
    '',
    '[parameters]',
    `"path.file_id" = ${q(kept)}`,
    `"path.key_id" = ${q(KEYS.a.record.id)}`,
    `"path.job_id" = ${q(watched)}`,
    '"path.upload_path" = "st"',
    '"path.file_name" = "sample.png"',
    '',
    // Data its schema allows must be accepted (positive_data_acceptance), but for rules JSON
    // Schema does not express: an upload's names, paths and URL (no `..`, no control
    // characters, a URL the policy takes; a file of the blocklist), and, with 400, a
    // listing's opaque cursor, a key's name, and text with a lone UTF-16 surrogate.
    // (Per operation, the expected statuses: `--checks all` would enable a check its
    // operation's entry disabled.)
    '[[operations]]',
    'include-operation-id-regex = "^uploadFileUrls?$"',
    'checks.positive_data_acceptance.expected-statuses = ["2XX", "4XX", "5XX"]',
    '',
    '[[operations]]',
    'include-operation-id-regex = "^(list(Files|Keys|Blocked)(Head)?|createKey|updateKey|takeDown|block)$"',
    'checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403", "404", "409", "5XX"]',
    '',
    '[[operations]]',
    'include-operation-id = "cancelJob"',
    `parameters = { "path.job_id" = ${q(stopped)} }`,
    '',
    '[[operations]]',
    'include-operation-id = "mintLinks"',
    `parameters = { "path.file_id" = ${q(secret)} }`,
    '',
    '[[operations]]',
    'include-operation-id = "deleteFile"',
    `parameters = { "path.file_id" = ${q(doomed)} }`,
    '',
    '[[operations]]',
    'include-operation-id-regex = "^(getKey|getKeyHead|updateKey|rotateWebhookSecret)$"',
    `parameters = { "path.key_id" = ${q(keeper)} }`,
    '',
    '[[operations]]',
    'include-operation-id-regex = "^(revokeKey|purgeKeyFiles)$"',
    `parameters = { "path.key_id" = ${q(victim)} }`,
    '',
  ].join('\n'));
  const args = [
    '--config-file', config,
    'run', `${worker.url}/openapi.json`, '--url', worker.url,
    '--checks', 'all',
    // Stateful checks need links the API does not have.
    '--exclude-checks', 'use_after_free,ensure_resource_availability,object_level_authorization',
    '--phases', 'examples,coverage,fuzzing',
    '--max-examples', MAX_EXAMPLES, '--seed', process.env.SCHEMATHESIS_SEED ?? '20261123', '--workers', '1',
    '--request-timeout', '30', '--no-color',
    // SCHEMATHESIS_REPORT_DIR=dir keeps every request and response there (HAR), to look at
    ...(process.env.SCHEMATHESIS_REPORT_DIR ? ['--report', 'har', '--report-dir', path.resolve(process.env.SCHEMATHESIS_REPORT_DIR)] : []),
  ];
  // run in the scratch directory: schemathesis keeps a cache (.schemathesis/) in its cwd
  const child = spawn(schemathesis, args, {
    cwd: scratch,
    stdio: 'inherit',
    env: { ...process.env, SAMPLE_URL: sample, SLOW_URL: slow, SCHEMATHESIS_HOOKS: 'hooks', PYTHONPATH: path.join(ROOT, 'tests/api') },
  });
  code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
} finally {
  await stack.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
}
process.exit(code);
