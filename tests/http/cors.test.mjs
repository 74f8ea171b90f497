// Cross-origin access for the browser client on other origins: preflights name the route's
// methods and the headers the client sends; every answer (success, error, served file) is
// readable cross-origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, get, request } from './support/worker.mjs';
import { TYPES, sha256 } from './support/fixtures.mjs';

let origin;
let worker;
useStack({}, (s) => ({ origin, worker } = s));

const PAGE = { origin: 'https://app.example' };
/** What a page may send (the client's conditionals included) and read (`Retry-After` for its
 * waits, `ETag` for its conditionals, `Location` for a job), as docs/client.md lists them;
 * sorted, as `list` answers. */
const ALLOWED = ['authorization', 'content-type', 'content-encoding', 'range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'prefer', 'idempotency-key'].sort();
const EXPOSED = ['content-disposition', 'content-range', 'accept-ranges', 'etag', 'www-authenticate', 'retry-after', 'location', 'preference-applied', 'idempotent-replayed', 'link', 'allow', 'accept-encoding'].sort();
/** A header's comma-separated names, lowercase and sorted. */
const list = (value) => value.split(',').map((h) => h.trim().toLowerCase()).sort();

async function preflight(path, method, headers) {
  return request(`${worker.url}${path}`, {
    method: 'OPTIONS',
    headers: { ...PAGE, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });
}

test('a preflight for the upload allows POST with Authorization, Content-Type, Prefer and Idempotency-Key (a background job)', async () => {
  const res = await preflight('/api/v1/files/upload/url', 'POST', 'authorization,content-type,prefer,idempotency-key');
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.equal(res.headers.get('access-control-allow-methods'), 'POST');
  const allowed = list(res.headers.get('access-control-allow-headers'));
  for (const header of ['authorization', 'content-type', 'prefer', 'idempotency-key']) assert.ok(allowed.includes(header), header);
  assert.ok(Number(res.headers.get('access-control-max-age')) > 0);
});

test('preflights of read routes allow GET and HEAD; an unknown route is a 404 envelope', async () => {
  const health = await preflight('/api/v1/health', 'GET', '');
  assert.equal(health.status, 204);
  assert.equal(health.headers.get('access-control-allow-methods'), 'GET, HEAD');
  const nope = await preflight('/api/v1/nope', 'GET', '');
  assert.equal(nope.status, 404);
  assert.deepEqual(await nope.json(), { success: false, code: 404, msg: 'no such route', data: null });
  assert.equal(nope.headers.get('access-control-allow-origin'), '*');
});

test('preflights of the management and admin routes name their own methods (DELETE, PATCH, POST)', async () => {
  const cases = [
    ['/api/v1/files/file_0123456789abcdef0123456789abcdef', 'DELETE', 'GET, HEAD, DELETE'],
    ['/api/v1/files', 'GET', 'GET, HEAD'],
    ['/api/v1/usage', 'GET', 'GET, HEAD'],
    ['/api/v1/files/upload/urls', 'POST', 'POST'],
    ['/api/v1/admin/keys', 'POST', 'GET, HEAD, POST'],
    ['/api/v1/admin/keys/k_1', 'PATCH', 'GET, HEAD, PATCH, DELETE'],
  ];
  for (const [path, method, allowed] of cases) {
    const res = await preflight(path, method, 'authorization,content-type');
    assert.equal(res.status, 204, path);
    assert.equal(res.headers.get('access-control-allow-methods'), allowed, path);
    assert.equal(res.headers.get('allow'), allowed, path);
  }
});

test('preflights of the file routes allow GET and HEAD with Range and If-None-Match, for stored and unknown files alike', async () => {
  const ok = await upload(worker, { file_url: origin.file('/cors/pre.png', TYPES.png.bytes, { contentType: 'image/png' }), upload_path: 'cors', file_name: 'pre.png' });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  const { file_url: fileUrl, download_url: downloadUrl } = ok.json.data;
  const paths = [
    new URL(fileUrl).pathname,
    new URL(downloadUrl).pathname,
    '/f/k_alpha/nowhere/none.png',
    `/api/v1/files/download/file_${'0'.repeat(32)}`,
  ];
  for (const path of paths) {
    const res = await preflight(path, 'GET', 'range,if-none-match,if-range');
    assert.equal(res.status, 204, path);
    assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET, HEAD', path);
    const allowed = list(res.headers.get('access-control-allow-headers'));
    for (const header of ['range', 'if-none-match', 'if-range']) assert.ok(allowed.includes(header), `${path}: ${header}`);
    assert.ok(Number(res.headers.get('access-control-max-age')) > 0, path);
  }
  // a cross-origin conditional DELETE (If-Match) and every conditional GET may be sent
  const del = await preflight(`/api/v1/files/${ok.json.data.file_id}`, 'DELETE', 'authorization,if-match');
  assert.equal(del.status, 204);
  assert.deepEqual(list(del.headers.get('access-control-allow-headers')), ALLOWED);
  const conditional = await preflight(paths[0], 'GET', 'if-match,if-modified-since,if-unmodified-since');
  assert.deepEqual(list(conditional.headers.get('access-control-allow-headers')), ALLOWED);
  // the preflight changes nothing: the file is still served, byte for byte
  for (const url of [fileUrl, downloadUrl]) {
    const served = await get(url, { ...PAGE, range: 'bytes=0-99' });
    assert.equal(served.status, 206, url);
    assert.equal(sha256(served.body), sha256(TYPES.png.bytes.subarray(0, 100)), url);
    assert.equal(served.headers.get('access-control-allow-origin'), '*', url);
    assert.match(served.headers.get('access-control-expose-headers'), /Content-Range/);
  }
});

test('answers, errors and served files are readable from any origin', async () => {
  const ok = await upload(worker, { file_url: origin.file('/cors/a.png', TYPES.png.bytes, { contentType: 'image/png' }), upload_path: 'cors' },
    { headers: PAGE });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), '*');
  const denied = await upload(worker, { file_url: 'https://example.com/a.png' }, { key: 'wrong', headers: PAGE });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get('access-control-allow-origin'), '*');
  assert.deepEqual(list(denied.headers.get('access-control-expose-headers')), EXPOSED);
  for (const url of [ok.json.data.file_url, ok.json.data.download_url]) {
    const served = await get(url, PAGE);
    assert.equal(served.status, 200, url);
    assert.equal(served.headers.get('access-control-allow-origin'), '*', url);
    assert.deepEqual(list(served.headers.get('access-control-expose-headers')), EXPOSED, url);
  }
});

test('a cross-origin upload sent content-coded passes its preflight and gets the 415, its Accept-Encoding readable', async () => {
  const pre = await preflight('/api/v1/files/upload/url', 'POST', 'authorization,content-type,content-encoding');
  assert.equal(pre.status, 204);
  assert.ok(list(pre.headers.get('access-control-allow-headers')).includes('content-encoding'));
  const coded = await upload(worker, { file_url: 'https://example.com/a.png' }, { headers: { ...PAGE, 'content-encoding': 'gzip' } });
  assert.equal(coded.status, 415);
  assert.equal(coded.json.msg, 'request body must not be content-coded (send it without Content-Encoding)');
  assert.equal(coded.headers.get('accept-encoding'), 'identity');
  assert.equal(coded.headers.get('access-control-allow-origin'), '*');
  assert.ok(list(coded.headers.get('access-control-expose-headers')).includes('accept-encoding'));
});
