// Runs schemathesis against the Worker in local workerd, from the Worker's own
// /openapi.json, with a valid API key and a loopback origin for uploads to fetch.
// Usage: node tests/api/run.mjs path/to/schemathesis
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startOrigin } from '../http/support/origin.mjs';
import { startWorker, KEYS } from '../http/support/worker.mjs';
import { TYPES } from '../http/support/fixtures.mjs';

const [schemathesis] = process.argv.slice(2);
const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '40';

const origin = await startOrigin();
const worker = await startWorker({ allow: [origin.host], vars: { FETCH_TIMEOUT_MS: '10000' } });
let code = 1;
try {
  const sample = origin.file('/sample.png', TYPES.png.bytes, { contentType: 'image/png' });
  const args = [
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
  const child = spawn(schemathesis, args, {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, SAMPLE_URL: sample, SCHEMATHESIS_HOOKS: 'hooks', PYTHONPATH: path.join(ROOT, 'tests/api') },
  });
  code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
} finally {
  await worker.stop();
  await origin.close();
}
process.exit(code);
