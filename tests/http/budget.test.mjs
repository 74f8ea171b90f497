// The isolate's buffer budget (src/server/buffers.rs: 80 MiB of transfer buffers at once)
// over HTTP: with the budget held by other uploads for longer than half an upload's
// deadline, that upload is answered 503 with Retry-After, in the JSON envelope (a batch's
// item too, its batch answered with the Retry-After), with nothing stored and nothing charged, and the uploads that held the budget are all stored
// byte-exact. (ingest-parallel.test shows lanes giving way to the budget.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, KEYS } from './support/worker.mjs';
import { filler } from './support/fixtures.mjs';
import { assertError } from './support/assert.mjs';
import { assertStored } from './support/ingest.mjs';
import { usage, sleep } from './support/burst.mjs';

const KiB = 1024;
const TIMEOUT_MS = 16000;
let origin;
let worker;
useStack({ vars: { FETCH_TIMEOUT_MS: String(TIMEOUT_MS) } }, (s) => ({ origin, worker } = s));

test('an upload that waits half its deadline for the buffer budget is 503 with Retry-After; nothing stored or charged', async () => {
  // eight uploads without a length hold 10 MiB each, all 80, while their origins drip for
  // about 12 s (inside their 16 s deadline): the first to start may start 4 s before the
  // last on a loaded machine and still hold its buffers through the 8 s wait below
  const holders = Array.from({ length: 8 }, (_, i) => {
    const bytes = filler(480 * KiB, 400 + i);
    const url = origin.file(`/budget/holder-${i}.bin`, bytes, { chunked: true, throttle: 40 * KiB });
    return { bytes, done: upload(worker, { file_url: url, upload_path: 'budget', file_name: `holder-${i}.bin` }) };
  });
  // each takes its buffers once its origin's headers come: wait (bounded) until every origin
  // is sending, and a little more
  for (let i = 0; i < 100 && holders.some((_, n) => origin.sent(`/budget/holder-${n}.bin`) === 0); i++) await sleep(50);
  assert.ok(holders.every((_, n) => origin.sent(`/budget/holder-${n}.bin`) > 0), 'every holder is being sent its file');
  await sleep(300);
  const [mark, before] = [worker.r2(), await usage(worker, KEYS.b.key)];
  const started = Date.now();
  // a body of known length needs 5 MiB of buffers: none are free for the next 8 s; the
  // same as a batch's item, at the same time
  const batchItem = { file_url: origin.file('/budget/waits-in-batch.bin', filler(512 * KiB, 411)), upload_path: 'budget' };
  const [res, batch] = await Promise.all([
    upload(worker, { file_url: origin.file('/budget/waits.bin', filler(512 * KiB, 410)), upload_path: 'budget' }, { key: KEYS.b.key }),
    api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.b.key, body: { items: [batchItem] } }),
  ]);
  assertError(res, 503, /^this instance is busy with other transfers: retry in a few seconds$/);
  assert.equal(res.headers.get('retry-after'), '5');
  assert.ok(Date.now() - started >= TIMEOUT_MS / 2, 'it waited half its deadline first');
  // the batch is answered, its item refused the same way, and the answer says when to retry
  assert.equal(batch.status, 200, JSON.stringify(batch.json));
  assert.deepEqual(batch.json.data.results, [{ success: false, code: 503, msg: 'this instance is busy with other transfers: retry in a few seconds', data: null }]);
  assert.equal(batch.headers.get('retry-after'), '5');
  assert.deepEqual(await usage(worker, KEYS.b.key), before, 'nothing charged');
  const stored = [];
  for (const h of holders) stored.push((await assertStored(await h.done, h.bytes)).file_id);
  // R2 holds what it held, and the holders' files: nothing of the refused upload
  const had = new Set(mark.objects.map((o) => o.key));
  const now = worker.r2();
  assert.deepEqual(now.objects.map((o) => o.key).filter((k) => !had.has(k)).sort(), stored.map((id) => `o/${id}`).sort());
  assert.deepEqual(now.multipart.filter((m) => m.state === 0), [], 'no multipart upload in progress');
});
