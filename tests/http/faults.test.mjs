// Origins that misbehave, against the Worker in local workerd: each fault is a clear 4xx/5xx
// envelope, and afterwards nothing is left behind: no object under o/, no multipart upload
// in progress, and the key's usage as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, get, KEYS } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertNothingStored } from './support/assert.mjs';
import { usage } from './support/burst.mjs';

const MiB = 1024 * 1024;
const LIMIT = 10 * MiB; // above one multipart part (5 MiB), so the endless body starts one
const TIMEOUT_MS = 4000;
let origin;
let worker;
useStack({ vars: { MAX_FILE_BYTES: String(LIMIT), FETCH_TIMEOUT_MS: String(TIMEOUT_MS) } }, (s) => ({ origin, worker } = s));

/** Uploads `body`, then checks that nothing of it is left: local R2 as it was before, the
 * key's usage as it was. Answers the upload's answer, with the states of the multipart
 * uploads it started (`multipart`: 1 completed, 2 aborted). */
async function failing(body) {
  const [mark, before] = [worker.r2(), await usage(worker, KEYS.a.key)];
  const res = await upload(worker, body);
  assertNothingStored(worker, mark);
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
  const started = worker.r2().multipart.filter((m) => !mark.multipart.some((old) => old.upload_id === m.upload_id));
  return { ...res, multipart: started.map((m) => m.state) };
}

// Bodies of known length up to 64 KiB are read whole in one call, larger ones streamed:
// each fault is tried on both paths.
const KNOWN = [['streamed', 2 * MiB], ['read whole', 48 * 1024]];

for (const [how, length] of KNOWN) {
  test(`origin stalls after the headers (with Content-Length, ${how}): 504`, async () => {
    const path = `stall-cl-${length}`;
    const url = origin.stall(`/f/${path}`, Buffer.concat([TYPES.png.bytes, filler(4096, 1)]), { contentLength: length });
    const res = await failing({ file_url: url, upload_path: path, file_name: 's.png' });
    assertError(res, 504, new RegExp(`within ${TIMEOUT_MS} ms`));
  });
}

test('origin stalls mid-body after more than one part (chunked): 504, multipart aborted', async () => {
  // 9 MiB: the first 5 MiB part is already uploaded when the origin goes silent
  const url = origin.stall('/f/stall-chunked', filler(9 * MiB, 2));
  const res = await failing({ file_url: url, upload_path: 'stall-chunked', file_name: 's.bin' });
  assertError(res, 504, /within/);
  assert.deepEqual(res.multipart, [2], 'one multipart upload, aborted');
});

for (const [how, length] of KNOWN) {
  test(`origin resets the connection mid-body (with Content-Length, ${how}): 502`, async () => {
    const path = `reset-cl-${length}`;
    const url = origin.drop(`/f/${path}`, filler(Math.floor(length / 3), 3), { contentLength: length });
    const res = await failing({ file_url: url, upload_path: path, file_name: 'r.bin' });
    assertError(res, 502, /connection failed during the download/);
  });
}

test('origin resets the connection after one multipart part (chunked): 502, multipart aborted', async () => {
  const url = origin.drop('/f/reset-chunked', filler(9 * MiB, 4));
  const res = await failing({ file_url: url, upload_path: 'reset-chunked', file_name: 'r.bin' });
  assertError(res, 502, /connection failed during the download/);
  assert.deepEqual(res.multipart, [2], 'one multipart upload, aborted');
});

for (const [how, length] of KNOWN) {
  test(`Content-Length longer than what is sent, then a clean close (${how}): 502`, async () => {
    const path = `cl-long-${length}`;
    const body = filler(Math.floor(length / 2), 5);
    const url = origin.raw(`/f/${path}`, `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`, body);
    const res = await failing({ file_url: url, upload_path: path, file_name: 'l.bin' });
    assertError(res, 502, /connection failed during the download/);
  });
}

test('Content-Length shorter than what is sent: exactly the declared bytes are stored, never more', async () => {
  // HTTP framing ends the message at Content-Length; the extra bytes are not part of it.
  const declared = filler(50_000, 6);
  const url = origin.raw('/f/cl-short', `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared.length}\r\nConnection: close\r\n\r\n`,
    Buffer.concat([declared, filler(150_000, 7)]));
  const res = await upload(worker, { file_url: url, upload_path: 'cl-short', file_name: 's.bin' });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.data.file_size, declared.length);
  const served = await get(res.json.data.download_url);
  assert.equal(sha256(served.body), sha256(declared));
});

for (const [how, declared, sent] of [['read whole', 100, 50], ['streamed', 200_000, 150_000]]) {
  test(`Transfer-Encoding: chunked with a larger Content-Length (${how}): the chunked body is the message, stored exact`, async () => {
    // RFC 9112 6.3: Transfer-Encoding overrides Content-Length; the runtime frames it so
    const body = filler(sent, 9);
    const head = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
    const chunked = Buffer.concat([Buffer.from(`${sent.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    const url = origin.raw(`/f/te-cl-${declared}`, head, chunked);
    const res = await upload(worker, { file_url: url, upload_path: 'te-cl', file_name: `${how}.bin` });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.file_size, sent);
    assert.equal(res.json.data.sha256, sha256(body));
    assert.equal(sha256((await get(res.json.data.download_url)).body), sha256(body));
  });
}

test('malformed chunked framing: 502', async () => {
  const url = origin.raw('/f/bad-chunks', 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
    Buffer.from('10\r\n0123456789abcdef\r\nZZZZ\r\nnot a chunk\r\n'));
  const res = await failing({ file_url: url, upload_path: 'bad-chunks', file_name: 'c.bin' });
  assertError(res, 502, /connection failed during the download/);
});

test('an endless chunked body is 413 at the limit, multipart aborted', async () => {
  const url = origin.endless('/f/endless', filler(64 * 1024, 8));
  const res = await failing({ file_url: url, upload_path: 'endless', file_name: 'e.bin' });
  assertError(res, 413, new RegExp(`size limit of ${LIMIT} bytes`));
  assert.deepEqual(res.multipart, [2], 'one multipart upload, aborted');
});

test('a redirect loop is 502 after 5 hops', async () => {
  origin.status('/f/loop-a', 302, '/f/loop-b');
  const url = origin.status('/f/loop-b', 307, '/f/loop-a');
  const res = await failing({ file_url: url, upload_path: 'loop' });
  assertError(res, 502, /redirected more than 5 times/);
  assert.equal(origin.hits('/f/loop-a') + origin.hits('/f/loop-b'), 6, 'the first request and 5 redirects');
});

test('a redirect to a blocked address is 400 naming the rule', async () => {
  const url = origin.status('/f/to-metadata', 301, 'http://[::ffff:169.254.169.254]/latest/meta-data/iam/');
  const res = await failing({ file_url: url, upload_path: 'blocked' });
  assertError(res, 400, /^redirect rejected: private or reserved address \(IPv4-mapped IPv6\)$/);
});

test('a redirect with an unparsable Location is 400', async () => {
  const url = origin.status('/f/bad-location', 302, 'http://[::1');
  const res = await failing({ file_url: url, upload_path: 'bad-location' });
  assertError(res, 400, /^redirect rejected: not a valid URL$/);
});

