// Cross-origin access for the browser client on other origins: preflights name the route's
// methods and the headers the client sends; every answer (success, error, served file) is
// readable cross-origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from './support/origin.mjs';
import { startWorker, upload, get } from './support/worker.mjs';
import { TYPES } from './support/fixtures.mjs';

let origin;
let worker;

before(async () => {
  origin = await startOrigin();
  worker = await startWorker({ allow: [origin.host] });
});
after(async () => {
  await worker?.stop();
  await origin?.close();
});

const PAGE = { origin: 'https://app.example' };

async function preflight(path, method, headers) {
  return fetch(`${worker.url}${path}`, {
    method: 'OPTIONS',
    headers: { ...PAGE, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });
}

test('a preflight for the upload allows POST with Authorization and Content-Type', async () => {
  const res = await preflight('/api/v1/files/upload/url', 'POST', 'authorization,content-type');
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.equal(res.headers.get('access-control-allow-methods'), 'POST');
  assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
  assert.match(res.headers.get('access-control-allow-headers'), /Content-Type/);
  assert.ok(Number(res.headers.get('access-control-max-age')) > 0);
});

test('preflights of read routes allow GET and HEAD; an unknown route is a 404 envelope', async () => {
  const health = await preflight('/api/v1/health', 'GET', '');
  assert.equal(health.status, 204);
  assert.equal(health.headers.get('access-control-allow-methods'), 'GET, HEAD');
  const nope = await preflight('/api/v1/nope', 'GET', '');
  assert.equal(nope.status, 404);
  assert.equal((await nope.json()).code, 404);
  assert.equal(nope.headers.get('access-control-allow-origin'), '*');
});

test('preflights of the management and admin routes name their own methods (DELETE, PATCH, POST)', async () => {
  const cases = [
    ['/api/v1/files/file_0123456789abcdef0123456789abcdef', 'DELETE', 'GET, DELETE'],
    ['/api/v1/files', 'GET', 'GET'],
    ['/api/v1/usage', 'GET', 'GET'],
    ['/api/v1/files/upload/urls', 'POST', 'POST'],
    ['/api/v1/admin/keys', 'POST', 'GET, POST'],
    ['/api/v1/admin/keys/k_1', 'PATCH', 'GET, PATCH, DELETE'],
  ];
  for (const [path, method, allowed] of cases) {
    const res = await preflight(path, method, 'authorization,content-type');
    assert.equal(res.status, 204, path);
    assert.equal(res.headers.get('access-control-allow-methods'), allowed, path);
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
  assert.match(denied.headers.get('access-control-expose-headers'), /WWW-Authenticate/);
  for (const url of [ok.json.data.file_url, ok.json.data.download_url]) {
    const served = await get(url, PAGE);
    assert.equal(served.status, 200, url);
    assert.equal(served.headers.get('access-control-allow-origin'), '*', url);
    assert.match(served.headers.get('access-control-expose-headers'), /Content-Disposition/);
  }
});
