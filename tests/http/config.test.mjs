// A Worker whose [vars] do not parse: every request, not just the first, answers a 500
// envelope that names nothing internal, and nothing is fetched or stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from './support/origin.mjs';
import { startWorker, upload, api } from './support/worker.mjs';
import { assertError } from './support/assert.mjs';
import { filler } from './support/fixtures.mjs';

let origin;
let worker;

before(async () => {
  origin = await startOrigin();
  worker = await startWorker({ allow: [origin.host], vars: { MAX_FILE_BYTES: 'lots' }, healthy: false });
});
after(async () => {
  await worker?.stop();
  await origin?.close();
});

test('a malformed var is a 500 on every request, with no internals in the answer', async () => {
  const fileUrl = origin.file('/never-fetched.bin', filler(1000, 3));
  for (let attempt = 1; attempt <= 3; attempt++) {
    const health = await api(worker, 'GET', '/api/v1/health');
    assertError(health, 500, /^internal error$/);
    const res = await upload(worker, { file_url: fileUrl, upload_path: 'config' });
    assertError(res, 500, /^internal error$/);
    assert.doesNotMatch(JSON.stringify(res.json), /MAX_FILE_BYTES|lots/, `attempt ${attempt}`);
  }
  assert.equal(origin.hits('/never-fetched.bin'), 0, 'the origin was never asked');
  assert.deepEqual(worker.r2().objects, []);
});
