// Abuse controls over HTTP: `origin_headers` (they reach the first origin, on every range of
// a ranged download too; kept across a same-origin redirect, dropped for good after a
// cross-origin one; refused names 400; never echoed) and per-key rate limits on the upload
// routes (the request past the limit is 429 with Retry-After and its own message; another
// key is unaffected; the admin API sets a key's limit).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, KEYS } from './support/worker.mjs';
import { startOrigin } from './support/origin.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import { assertError } from './support/assert.mjs';
import { newKey, earlyInAMinute } from './support/burst.mjs';

const ADMIN = 'abuse-admin-token';
const UA = 'urlstash/0.1 (+url-to-temporary-file)';
let origin;
let worker;
let other; // a second loopback origin: another port is another origin
useStack(
  async () => {
    other = await startOrigin();
    return { adminToken: ADMIN, allow: [other.host] };
  },
  (s) => ({ origin, worker } = s),
);
after(() => other?.close());

const SENT = { Authorization: 'Bearer origin-secret-7f3a', 'X-Api-Key': 'xk-1234', Cookie: 'session=abc' };

test('origin_headers reach the origin; without them the Worker sends its own User-Agent', async () => {
  const body = filler(3000, 1);
  const url = origin.file('/h/plain.bin', body);
  const res = await upload(worker, { file_url: url, origin_headers: { ...SENT, 'User-Agent': 'my-fetcher/2' } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.data.sha256, sha256(body));
  const [seen] = origin.headers('/h/plain.bin');
  assert.equal(seen.authorization, SENT.Authorization);
  assert.equal(seen['x-api-key'], SENT['X-Api-Key']);
  assert.equal(seen.cookie, SENT.Cookie);
  assert.equal(seen['user-agent'], 'my-fetcher/2', "the user's User-Agent replaces ours");
  assert.ok(!JSON.stringify(res.json).includes('origin-secret'), 'never echoed');

  const again = await upload(worker, { file_url: url });
  assert.equal(again.status, 200);
  const last = origin.headers('/h/plain.bin').at(-1);
  assert.equal(last.authorization, undefined, 'not stored: a later upload sends none');
  assert.equal(last['user-agent'], UA);
  const info = await api(worker, 'GET', `/api/v1/files/${res.json.data.file_id}`, { token: KEYS.a.key });
  assert.ok(!JSON.stringify(info.json).includes('origin-secret'));
});

test('every range of a ranged download carries them, a range asked again after a break included', async () => {
  // 20 MiB at 32 MiB/s a connection (slower than one stream takes: parallel ranges), broken
  // once at 12 MiB: that range is asked for again from where it broke
  const body = filler(20 * 1024 * 1024 + 17, 2);
  const url = origin.file('/h/ranged.bin', body, { ranges: true, etag: '"r1"', throttle: 32 * 1024 * 1024, resetAt: [12 * 1024 * 1024] });
  const res = await upload(worker, { file_url: url, origin_headers: SENT });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.data.sha256, sha256(body));
  const seen = origin.headers('/h/ranged.bin');
  const requests = origin.requests('/h/ranged.bin');
  const ranged = requests.filter((r) => r.range);
  assert.ok(ranged.length >= 3, `the probe and the rest in several ranges, one asked again: ${JSON.stringify(ranged.map((r) => r.range))}`);
  assert.equal(seen.length, requests.length, 'the headers of every request');
  for (const h of seen) assert.equal(h.authorization, SENT.Authorization);
});

test('kept after a same-origin redirect, absent after a cross-origin one (and after it, for good)', async () => {
  const body = filler(2000, 3);
  origin.file('/h/target.bin', body);
  const same = origin.status('/h/same', 302, '/h/target.bin');
  const res = await upload(worker, { file_url: same, origin_headers: SENT });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(origin.headers('/h/same')[0].authorization, SENT.Authorization);
  assert.equal(origin.headers('/h/target.bin').at(-1).authorization, SENT.Authorization, 'same origin: kept');

  other.file('/x/target.bin', body);
  other.status('/x/back', 302, origin.url('/h/target.bin'));
  const cross = origin.status('/h/cross', 302, other.url('/x/target.bin'));
  const crossed = await upload(worker, { file_url: cross, origin_headers: SENT });
  assert.equal(crossed.status, 200, JSON.stringify(crossed.json));
  assert.equal(crossed.json.data.sha256, sha256(body));
  const there = other.headers('/x/target.bin').at(-1);
  for (const name of ['authorization', 'x-api-key', 'cookie']) assert.equal(there[name], undefined, name);
  assert.equal(there['user-agent'], UA, 'the honest User-Agent instead');

  // out to another origin and back: still dropped
  const away = origin.status('/h/away', 302, other.url('/x/back'));
  const returned = await upload(worker, { file_url: away, origin_headers: SENT });
  assert.equal(returned.status, 200, JSON.stringify(returned.json));
  assert.equal(origin.headers('/h/target.bin').at(-1).authorization, undefined);
});

test('refused names, values and counts are 400 naming origin_headers; nothing is fetched', async () => {
  const url = origin.file('/h/never.bin', filler(100, 4));
  const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`X-H${i}`, 'v']));
  const cases = [
    [{ Host: 'evil.test' }, /`Host` may not be sent/],
    [{ 'Content-Length': '1' }, /may not be sent/],
    [{ 'Proxy-Authorization': 'x' }, /may not be sent/],
    [{ 'X-A': 'a\r\nInjected: 1' }, /printable ASCII/],
    [{ 'X-A': 7 }, /object of header names/],
    [nine, /at most 8/],
    [['Authorization'], /object of header names/],
  ];
  for (const [origin_headers, msg] of cases) {
    const res = await upload(worker, { file_url: url, origin_headers });
    assertError(res, 400, /invalid `origin_headers`/);
    assert.match(res.json.msg, msg);
  }
  const dup = await upload(worker, `{"file_url":"${url}","origin_headers":{"X-A":"1","x-a":"2"}}`);
  assertError(dup, 400, /given twice/);
  assert.equal(origin.hits('/h/never.bin'), 0);
});

test('rate limit: the request past the key limit is 429 with Retry-After, fetching nothing; another key is unaffected', async () => {
  const path = '/h/rate.bin';
  const url = origin.file(path, filler(500, 5));
  const limited = await newKey(worker, ADMIN, 'limited', { rate_limit: 10 });
  const neighbour = await newKey(worker, ADMIN, 'neighbour', { rate_limit: 10 });
  assert.equal(limited.rate_limit, 10);
  await earlyInAMinute();
  for (let i = 0; i < 10; i++) {
    const res = await upload(worker, { file_url: url }, { key: limited.key });
    assert.equal(res.status, 200, `request ${i + 1}: ${JSON.stringify(res.json)}`);
  }
  const hits = origin.hits(path);
  assert.equal(hits, 10, 'each stored upload fetched the file once');
  const refused = await upload(worker, { file_url: url }, { key: limited.key });
  assertError(refused, 429, /^rate limit exceeded: this key may make at most 10 upload requests per minute/);
  assert.equal(refused.headers.get('retry-after'), '60');
  assert.doesNotMatch(refused.json.msg, /quota/);
  const batch = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: limited.key, body: { items: [{ file_url: url }] } });
  assertError(batch, 429, /rate limit exceeded/);
  assert.equal(origin.hits(path), hits, 'the refused upload and batch fetched nothing');

  for (const key of [neighbour.key, KEYS.a.key]) {
    const res = await upload(worker, { file_url: url }, { key });
    assert.equal(res.status, 200, 'another key is unaffected');
  }
  // the admin API lifts the limit: eleven more inside one clock minute, the 429's minute
  // or the next (a limit left in place would refuse the eleventh at the latest)
  const lifted = await api(worker, 'PATCH', `/api/v1/admin/keys/${limited.key_id}`, { token: ADMIN, body: { rate_limit: 0 } });
  assert.equal(lifted.json.data.rate_limit, 0);
  await earlyInAMinute();
  for (let i = 0; i < 11; i++) {
    const res = await upload(worker, { file_url: url }, { key: limited.key });
    assert.equal(res.status, 200, `lifted, request ${i + 1}: ${JSON.stringify(res.json)}`);
  }
  assertError(await api(worker, 'PATCH', `/api/v1/admin/keys/${limited.key_id}`, { token: ADMIN, body: { rate_limit: 50 } }), 400, /rate_limit/);
});
