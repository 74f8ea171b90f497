// Runs schemathesis against the Worker in local workerd, from the Worker's own
// /openapi.json, with a valid API key and a loopback origin for uploads to fetch.
// Usage: node tests/api/run.mjs path/to/schemathesis
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startOrigin } from '../http/support/origin.mjs';
import { startWorker, upload, KEYS } from '../http/support/worker.mjs';
import { TYPES } from '../http/support/fixtures.mjs';

const schemathesis = path.resolve(process.argv[2]);
const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '100';

const origin = await startOrigin();
const worker = await startWorker({ allow: [origin.host], vars: { FETCH_TIMEOUT_MS: '10000' } });
let code = 1;
let scratch;
try {
  const sample = origin.file('/sample.png', TYPES.png.bytes, { contentType: 'image/png' });
  // One stored file, so the serving operations are exercised (ranges, conditionals, HEAD)
  // and not only their 404s.
  const stored = await upload(worker, { file_url: sample, upload_path: 'st', file_name: 'sample.png' });
  if (stored.status !== 200) throw new Error(`seed upload failed: ${JSON.stringify(stored.json)}`);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-st-'));
  const config = path.join(scratch, 'schemathesis.toml');
  fs.writeFileSync(config, [
    '[parameters]',
    `"path.file_id" = "${stored.json.data.file_id}"`,
    `"path.key_id" = "${KEYS.a.record.id}"`,
    '"path.upload_path" = "st"',
    '"path.file_name" = "sample.png"',
    '',
  ].join('\n'));
  const args = [
    '--config-file', config,
    'run', `${worker.url}/openapi.json`, '--url', worker.url,
    '--header', `Authorization: Bearer ${KEYS.a.key}`,
    '--checks', 'all',
    // Positive data for the upload is not always accepted: names and paths have rules (no
    // `..`, no control characters, ...) that JSON Schema does not express. Stateful checks
    // need links the API does not have.
    '--exclude-checks', 'positive_data_acceptance,use_after_free,ensure_resource_availability,object_level_authorization',
    '--phases', 'examples,coverage,fuzzing',
    '--max-examples', MAX_EXAMPLES, '--seed', '20261123', '--workers', '1',
    '--request-timeout', '30', '--no-color',
  ];
  // run in the scratch directory: schemathesis keeps a cache (.schemathesis/) in its cwd
  const child = spawn(schemathesis, args, {
    cwd: scratch,
    stdio: 'inherit',
    env: { ...process.env, SAMPLE_URL: sample, SCHEMATHESIS_HOOKS: 'hooks', PYTHONPATH: path.join(ROOT, 'tests/api') },
  });
  code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
} finally {
  await worker.stop();
  await origin.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
}
process.exit(code);
