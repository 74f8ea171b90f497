// The Worker's [vars] as a user sees them: a var that does not parse is a 500 on every
// request with nothing internal in it (quoted or not: wrangler binds an unquoted one as JSON); PUBLIC_BASE_URL is the base of every link the API
// answers; ALLOWED_PORTS decides which ports an upload may fetch from; DEFAULT_RATE_LIMIT
// limits the keys without a rate limit of their own; a name the Worker does not read (a
// misspelt var) is logged with the one it resembles, and changes nothing.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, get, KEYS } from './support/worker.mjs';
import { assertError, assertNothingStored } from './support/assert.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import { startOrigin } from './support/origin.mjs';
import { newKey, earlyInAMinute } from './support/burst.mjs';
import { printedLines } from './support/printed.mjs';

describe('a malformed var', () => {
  const stack = useStack({ vars: { MAX_FILE_BYTES: 'lots' }, healthy: false });

  test('is a 500 on every request, with no internals in the answer', async () => {
    const { origin, worker } = stack;
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
});

describe('a malformed number written without quotes', () => {
  const stack = useStack({ vars: { FILE_TTL_SECONDS: 0 }, healthy: false });

  test('is a 500 like a quoted one, not the default', async () => {
    const { origin, worker } = stack;
    assertError(await api(worker, 'GET', '/api/v1/health'), 500, /^internal error$/);
    const res = await upload(worker, { file_url: origin.file('/unquoted.bin', filler(100, 4)), upload_path: 'config' });
    assertError(res, 500, /^internal error$/);
    assert.equal(origin.hits('/unquoted.bin'), 0, 'the origin was never asked');
  });
});

describe('PUBLIC_BASE_URL', () => {
  const BASE = 'https://files.example.test';
  // counting: the Worker's outbound fetches are counted (support/counting.mjs)
  const stack = useStack({ vars: { PUBLIC_BASE_URL: BASE }, counting: true });

  test('every link the API answers starts with it, and the Worker serves their paths', async () => {
    const { origin, worker } = stack;
    const bytes = filler(3000, 40);
    const res = await upload(worker, { file_url: origin.file('/based.bin', bytes), upload_path: 'based', file_name: 'b.bin' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const d = res.json.data;
    assert.equal(d.file_url, `${BASE}/f/${KEYS.a.record.id}/based/b.bin`);
    assert.equal(d.download_url, `${BASE}/api/v1/files/download/${d.file_id}`);
    // the same links from the file routes
    assert.deepEqual((await api(worker, 'GET', `/api/v1/files/${d.file_id}`, { token: KEYS.a.key })).json.data, d);
    const listed = await api(worker, 'GET', '/api/v1/files?upload_path=based', { token: KEYS.a.key });
    assert.deepEqual(listed.json.data.files, [d]);
    const batch = await api(worker, 'POST', '/api/v1/files/upload/urls', {
      token: KEYS.a.key,
      body: { items: [{ file_url: origin.file('/based2.bin', bytes), upload_path: 'based', file_name: 'c.bin' }] },
    });
    assert.equal(batch.json.data.results[0].data.file_url, `${BASE}/f/${KEYS.a.record.id}/based/c.bin`);
    // where the deployment's routes send that host: here, the Worker itself
    for (const link of [d.file_url, d.download_url]) {
      const served = await get(`${worker.url}${new URL(link).pathname}`);
      assert.equal(served.status, 200, link);
      assert.equal(sha256(served.body), sha256(bytes), link);
    }
  });

  test('its host is the service\'s own: never fetched', async () => {
    const { worker } = stack;
    const mark = worker.r2();
    const { calls, result } = await worker.countCalls(() => upload(worker, { file_url: `${BASE}/f/${KEYS.a.record.id}/based/b.bin` }));
    assertError(result, 400, /file_url rejected: the service's own host/);
    assert.equal(calls.raw.worker?.fetch, undefined, `no outbound fetch: ${JSON.stringify(calls.raw)}`);
    assertNothingStored(worker, mark);
  });
});

describe('ALLOWED_PORTS', () => {
  // loopback allowed by host only: its ports pass ALLOWED_PORTS like any other host's
  let other; // a second origin, on a port outside the list
  const stack = useStack(async (origin) => {
    other = await startOrigin();
    return { exemptOrigin: false, allow: ['127.0.0.1'], vars: { ALLOWED_PORTS: `443,${origin.host.split(':')[1]}` } };
  });
  after(() => other?.close());

  test('a port in the list is fetched', async () => {
    const { origin, worker } = stack;
    const bytes = filler(2000, 41);
    const res = await upload(worker, { file_url: origin.file('/listed-port.bin', bytes), upload_path: 'ports' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(origin.hits('/listed-port.bin'), 1);
    assert.equal(sha256((await get(res.json.data.download_url)).body), sha256(bytes));
  });

  test('a port outside the list is 400 naming the rule and the allowed ports, and nothing is fetched', async () => {
    const { origin, worker } = stack;
    const url = other.file('/other-port.bin', filler(2000, 42));
    const mark = worker.r2();
    const res = await upload(worker, { file_url: url, upload_path: 'ports' });
    assertError(res, 400, new RegExp(`^file_url rejected: port not allowed \\(allowed: 443, ${origin.host.split(':')[1]}\\)$`));
    assert.equal(other.hits('/other-port.bin'), 0, 'never fetched');
    // a default port is not allowed either once the list is set
    assertError(await upload(worker, { file_url: 'http://example.com:8080/x.png' }), 400, /port not allowed/);
    assertNothingStored(worker, mark);
  });
});

describe('rate limit tiers whose binding the deployment lacks', () => {
  const ADMIN = 'config-admin-token-0123456789';
  const stack = useStack({ adminToken: ADMIN, without: ['RATE_LIMIT_100'] });

  test('a key cannot be given one: 400 naming the binding, and nothing changes', async () => {
    const { worker } = stack;
    const admin = (method, p, body) => api(worker, method, p, { token: ADMIN, body });
    const missing = /^invalid `rate_limit`: this deployment has no binding RATE_LIMIT_100 \(wrangler\.toml, \[\[ratelimits\]\]\) to count 100 requests per minute$/;
    assertError(await admin('POST', '/api/v1/admin/keys', { name: 'fast', rate_limit: 100 }), 400, missing);
    const created = await admin('POST', '/api/v1/admin/keys', { name: 'slow', rate_limit: 10 });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const id = created.json.data.key_id;
    assertError(await admin('PATCH', `/api/v1/admin/keys/${id}`, { rate_limit: 100 }), 400, missing);
    assert.equal((await admin('GET', `/api/v1/admin/keys/${id}`)).json.data.rate_limit, 10, 'unchanged');
    const res = await upload(worker, { file_url: stack.origin.file('/tiered.bin', filler(1000, 43)) }, { key: created.json.data.key });
    assert.equal(res.status, 200, 'the tier it has works');
  });
});

describe('DEFAULT_RATE_LIMIT on a tier whose binding is missing', () => {
  const stack = useStack({ vars: { DEFAULT_RATE_LIMIT: '100' }, without: ['RATE_LIMIT_100'], healthy: false });

  test('is a configuration error: 500 on every request, health included, nothing fetched', async () => {
    const { origin, worker } = stack;
    assertError(await api(worker, 'GET', '/api/v1/health'), 500, /^internal error$/);
    const url = origin.file('/never-limited.bin', filler(1000, 44));
    assertError(await upload(worker, { file_url: url }), 500, /^internal error$/);
    assert.equal(origin.hits('/never-limited.bin'), 0);
  });
});

describe('DEFAULT_RATE_LIMIT, written without quotes (wrangler binds it as a JSON number)', () => {
  const ADMIN = 'config-admin-token-0123456789';
  const stack = useStack({ adminToken: ADMIN, vars: { DEFAULT_RATE_LIMIT: 10 } });

  test('limits a key without its own rate_limit, made before the setting or after; a key whose own is 0 is not limited', async () => {
    const { origin, worker } = stack;
    const url = origin.file('/defaulted.bin', filler(1000, 47));
    // a key made after the setting, and one whose record was written before it (seeded,
    // with no rate_limit at all): the default is read at each upload, not kept in a record
    const plain = await newKey(worker, ADMIN, 'plain');
    const unlimited = await newKey(worker, ADMIN, 'unlimited', { rate_limit: 0 });
    assert.equal('rate_limit' in KEYS.b.record, false);
    for (const [i, key] of [plain.key, KEYS.b.key].entries()) {
      await earlyInAMinute(); // each key's eleven requests inside one clock minute
      for (let n = 0; n < 10; n++) {
        const res = await upload(worker, { file_url: url }, { key });
        assert.equal(res.status, 200, `key ${i + 1}, request ${n + 1}: ${JSON.stringify(res.json)}`);
      }
      const refused = await upload(worker, { file_url: url }, { key });
      assertError(refused, 429, /^rate limit exceeded: this key may make at most 10 upload requests per minute/);
      assert.equal(refused.headers.get('retry-after'), '60');
      assert.equal(origin.hits('/defaulted.bin'), 10 * (i + 1), 'the refused upload fetched nothing');
    }
    await earlyInAMinute(); // twelve inside one clock minute: more than the default's ten
    for (let i = 0; i < 12; i++) {
      const res = await upload(worker, { file_url: url }, { key: unlimited.key });
      assert.equal(res.status, 200, `unlimited, request ${i + 1}: ${JSON.stringify(res.json)}`);
    }
  });
});

describe('secrets too short or blank', () => {
  const SHORT = 'fifteen-bytes!!';
  const stack = useStack({ adminToken: SHORT, vars: { LINK_SECRET: '   ' } });

  test('count as unset: private uploads and the admin API are 503 saying why', async () => {
    const { origin, worker } = stack;
    const mark = worker.r2();
    const res = await upload(worker, { file_url: origin.file('/weak.bin', filler(1000, 45)), private: true });
    assertError(res, 503, /^private links are disabled: the LINK_SECRET secret is not set \(or is shorter than 16 bytes\)$/);
    assertNothingStored(worker, mark);
    const admin = await api(worker, 'GET', '/api/v1/admin/keys', { token: SHORT });
    assertError(admin, 503, /^the admin API is disabled: the ADMIN_TOKEN secret is not set \(or is shorter than 16 bytes\)$/);
    assert.equal((await upload(worker, { file_url: origin.file('/public.bin', filler(1000, 46)) })).status, 200, 'public uploads work');
  });
});

describe('settings that work against each other', () => {
  const stack = useStack({ vars: { ASYNC_MAX_FILE_BYTES: '100000', FILE_TTL_SECONDS: '600' } });

  test('are logged, each with what it does, and the Worker serves as configured', async () => {
    const { origin, worker } = stack;
    const bytes = filler(150_000, 48);
    const res = await upload(worker, { file_url: origin.file('/tension.bin', bytes), upload_path: 'tension' });
    assert.equal(res.status, 200, 'stored now: the stored-now limit applies');
    assert.equal(sha256((await get(res.json.data.download_url)).body), sha256(bytes));
    const logged = printedLines().filter((line) => /is below/.test(line)).map((line) => line.replace(/^.*?config: /, 'config: ').trim());
    assert.ok(logged.length >= 1, 'logged when the Worker read its configuration');
    for (const line of logged) {
      assert.equal(
        line,
        'config: ASYNC_MAX_FILE_BYTES=100000 is below MAX_FILE_BYTES=104857600: a file a background job is refused (413) stores when sent to be stored now; ' +
          "FILE_TTL_SECONDS=600 is below ASYNC_TIMEOUT_SECONDS=3600: a background job still running when its file's lifetime ends is refused at its commit (400), its transfer wasted",
      );
    }
  });
});

// Last in the file: every Worker before it had only names it reads, and printed no warning.
describe('names the Worker does not read', () => {
  const stack = useStack({ vars: { MAX_FILE_SIZE: '1000', file_ttl_seconds: '60', SENTRY_DSN: 'x', FETCH_TIMEOUT_MS: '20000' } });

  test('are logged once, each with the name it resembles, and leave the defaults', async () => {
    const { origin, worker } = stack;
    const bytes = filler(5000, 47);
    const res = await upload(worker, { file_url: origin.file('/unread.bin', bytes), upload_path: 'unread' });
    assert.equal(res.status, 200, `not MAX_FILE_SIZE's 1000 bytes: ${JSON.stringify(res.json)}`);
    const d = res.json.data;
    assert.equal(Date.parse(d.expires_at) - Date.parse(d.upload_time), 259_200_000, "not file_ttl_seconds' minute");
    assert.equal(sha256((await get(d.download_url)).body), sha256(bytes));
    assert.equal((await api(worker, 'GET', '/api/v1/health')).status, 200);
    const warned = printedLines().filter((line) => /not read by this Worker/.test(line));
    assert.deepEqual(
      warned.map((line) => line.replace(/^.*?config: /, 'config: ').trim()),
      ['config: not read by this Worker, so ignored: MAX_FILE_SIZE (did you mean MAX_FILE_BYTES?), ' +
        'file_ttl_seconds (did you mean FILE_TTL_SECONDS?), SENTRY_DSN'],
      'one warning, from this Worker alone (set WRANGLER_LOG_LEVEL to warn or lower to see it)',
    );
  });
});
