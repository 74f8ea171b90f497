// The upload Worker over HTTP in local workerd, against a loopback origin: every status,
// every type, both storage paths, overwrite, tenancy, byte-exact serving with exact caching
// headers, and the storage calls one small upload makes.
import { test, before, after, describe } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { useStack, upload, get, api, request, freePort, rawPost, KEYS } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertNothingKept, assertNothingStored, marked, assertFileUrlCaching, assertDownloadCaching } from './support/assert.mjs';
import { usage, sleep, listAll } from './support/burst.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;
const LIMIT = 16 * MiB;
let deadPort; // allow-listed, nothing listens there
let garbled; // allow-listed: answers every request with a response no HTTP client can parse
let origin;
let worker;
useStack(async () => {
  deadPort = await freePort();
  garbled = net.createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nxyz')));
  await new Promise((resolve) => garbled.listen(0, '127.0.0.1', resolve));
  return { allow: [`127.0.0.1:${deadPort}`, `127.0.0.1:${garbled.address().port}`], vars: { MAX_FILE_BYTES: String(LIMIT), FETCH_TIMEOUT_MS: '20000', ONE_STREAM_MIB_S: '1' } };
}, (s) => ({ origin, worker } = s));
after(() => garbled?.close());

/** Every served copy equals the origin's bytes. */
async function assertServes(data, bytes) {
  for (const url of [data.file_url, data.download_url]) {
    const res = await get(url);
    assert.equal(res.status, 200, url);
    assert.equal(sha256(res.body), sha256(bytes), url);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('content-type'), data.mime_type);
  }
}

/** The keys of local R2's objects. */
const objectKeys = () => worker.r2().objects.map((o) => o.key);

/** `w.countCalls(() => fn(attempt))` on a warm isolate. The isolate's copies of the key's
 * record and of the blocklist's version last 30 s, and are read again from KV by whichever
 * upload comes after: if that was this one (only KV reads), `fn(2)` is counted, within 30 s
 * of those reads. */
async function countWarm(w, fn) {
  const counted = await w.countCalls(() => fn(1));
  const { kv } = counted.calls;
  const refreshed = Object.keys(kv).length > 0 && Object.keys(kv).every((op) => op === 'get');
  return refreshed ? w.countCalls(() => fn(2)) : counted;
}

describe('health and routing', () => {
  test('GET /api/v1/health answers {"ok":true} without auth', async () => {
    const res = await get(`${worker.url}/api/v1/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { ok: true });
  });

  test('unknown route is a 404 envelope', async () => {
    const res = await get(`${worker.url}/api/v1/nothing`);
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(res.body), { success: false, code: 404, msg: 'no such route', data: null });
  });

  test('wrong method is a 405 envelope with Allow', async () => {
    const res = await get(`${worker.url}/api/v1/files/upload/url`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.equal(JSON.parse(res.body).code, 405);
    const del = await get(`${worker.url}/api/v1/health`, {}, 'DELETE');
    assert.equal(del.status, 405);
    assert.equal(del.headers.get('allow'), 'GET, HEAD');
    // methods the worker crate does not know (it reads them as GET) are 405 too
    for (const method of ['QUERY', 'PROPFIND']) {
      const res = await get(`${worker.url}/api/v1/health`, {}, method);
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
    }
  });
});

describe('authentication', () => {
  const body = () => ({ file_url: origin.file('/auth.png', TYPES.png.bytes, { contentType: 'image/png' }) });
  for (const [name, key, fragment] of [
    ['missing', null, /missing API key/],
    ['unknown', 'not-a-key', /invalid API key/],
    ['disabled', KEYS.off.key, /disabled/],
  ]) {
    test(`${name} key is 401 with WWW-Authenticate`, async () => {
      const res = await upload(worker, body(), { key });
      assertError(res, 401, fragment);
      assert.match(res.headers.get('www-authenticate'), /^Bearer/);
    });
  }

  test('an Authorization header sent twice is 401 saying so, even when both name the key', async () => {
    // two header lines on the wire, which the runtime joins with ", "
    const twice = await rawPost(worker, '/api/v1/files/upload/url', body(), ['Authorization', `Bearer ${KEYS.a.key}`, 'Authorization', `Bearer ${KEYS.a.key}`]);
    assertError(twice, 401, /^Authorization header sent more than once \(send one: Bearer KEY\)$/);
    // and one line that names it twice
    const res = await upload(worker, body(), { key: null, headers: { authorization: `Bearer ${KEYS.a.key}, Bearer ${KEYS.a.key}` } });
    assertError(res, 401, /^Authorization header sent more than once \(send one: Bearer KEY\)$/);
  });

  test('a non-Bearer scheme is 401', async () => {
    const res = await upload(worker, body(), { key: null, headers: { authorization: `Basic ${KEYS.a.key}` } });
    assertError(res, 401, /malformed Authorization/);
  });
});

describe('bad input', () => {
  const png = () => origin.file('/bad.png', TYPES.png.bytes, { contentType: 'image/png' });
  const cases = [
    ['malformed JSON', '{"file_url":', 400, /not valid JSON/],
    ['an empty body', '', 400, /^request body is not valid JSON: the body is empty \(send one JSON object\)$/],
    ['no body at all, nor a Content-Type', undefined, 400, /^request body is not valid JSON: the body is empty \(send one JSON object\)$/],
    ['not an object', '["x"]', 400, /^must be a JSON object, not an array$/],
    ['missing file_url', {}, 400, /missing required field `file_url`/],
    ['file_url not a string', { file_url: 5 }, 400, /`file_url`: must be a string/],
    ['not a URL', { file_url: 'nope' }, 400, /not a valid URL/],
    ['ftp scheme', { file_url: 'ftp://127.0.0.1/a.png' }, 400, /scheme `ftp`/],
    ['file scheme', { file_url: 'file:///etc/passwd' }, 400, /scheme `file`/],
    ['file_name with a slash', () => ({ file_url: png(), file_name: 'a/b.png' }), 400, /`file_name`/],
    ['file_name with ..', () => ({ file_url: png(), file_name: 'a..png' }), 400, /`file_name`/],
    ['upload_path traversal', () => ({ file_url: png(), upload_path: 'a/../../b' }), 400, /`upload_path`/],
    ['upload_path bad characters', () => ({ file_url: png(), upload_path: 'a b' }), 400, /`upload_path`/],
    ['upload_path with a device name', () => ({ file_url: png(), upload_path: 'docs/CON' }), 400, /^invalid `upload_path`: segments must not be reserved device names/],
    ['upload_path ending with a dot', () => ({ file_url: png(), upload_path: 'docs./x' }), 400, /^invalid `upload_path`: segments must not end with a dot$/],
    ['a file_name over 255 bytes once composed', () => ({ file_url: png(), file_name: `${'\u0958'.repeat(83)}.txt` }), 400, /^invalid `file_name`: must be at most 255 bytes of UTF-8 as kept, in Unicode's composed form \(NFC\): this one is 502$/],
    ['unknown field', () => ({ file_url: png(), fileName: 'x' }), 400, /unknown field `fileName`/],
  ];
  for (const [name, body, status, fragment] of cases) {
    test(`${name} is ${status}`, async () => {
      const res = await upload(worker, typeof body === 'function' ? body() : body);
      assertError(res, status, fragment);
    });
  }

  test('an empty body typed as a form (curl -d \'\') is no body: 400, not 415', async () => {
    const res = await upload(worker, '', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assertError(res, 400, /^request body is not valid JSON: the body is empty \(send one JSON object\)$/);
  });

  test('a body that is not JSON is 415', async () => {
    const res = await upload(worker, `file_url=${png()}`, { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assertError(res, 415, /must be JSON/);
  });

  test('a JSON body declared in another charset than UTF-8 is 415 naming it, not read', async () => {
    const body = Buffer.from(`\ufeff{"file_url":"${png()}"}`, 'utf16le');
    const sent = await request(`${worker.url}/api/v1/files/upload/url`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.a.key}`, 'content-type': 'application/json; charset=utf-16' }, body });
    assertError({ status: sent.status, headers: sent.headers, json: await sent.json() }, 415, /^request body must be JSON in UTF-8, not `utf-16`$/);
    const plain = await upload(worker, JSON.stringify({ file_url: png() }), { headers: { 'content-type': 'application/json; charset="UTF-8"' } });
    assert.equal(plain.status, 200, JSON.stringify(plain.json));
  });

  test('a content-coded body is 415 naming the codings taken, stored nowhere', async () => {
    const mark = worker.r2();
    for (const coding of ['gzip', 'x-unknown']) {
      // the body is sent as it is: refused for what it claims, not read as gzip and failed
      const res = await upload(worker, { file_url: png() }, { headers: { 'content-encoding': coding } });
      assertError(res, 415, /^request body must not be content-coded \(send it without Content-Encoding\)$/);
      assert.equal(res.headers.get('accept-encoding'), 'identity');
    }
    assert.equal((await upload(worker, { file_url: png() }, { headers: { 'content-encoding': 'identity' } })).status, 200);
    assert.equal(worker.r2().objects.length, mark.objects.length + 1, 'only the identity upload stored');
  });

  test('a body that ends before its Content-Length is 400 in our words, not the runtime\'s', async () => {
    // 100 bytes declared, 20 sent, then the client's side of the connection is closed
    const { hostname, port } = new URL(worker.url);
    const raw = await new Promise((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port), allowHalfOpen: true }, () => {
        socket.write(`POST /api/v1/files/upload/url HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${KEYS.a.key}\r\n`
          + 'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"file_url":"http://x');
        socket.end();
      });
      let text = '';
      socket.setEncoding('utf8').on('data', (c) => { text += c; }).on('end', () => resolve(text)).on('error', reject);
      socket.setTimeout(30_000, () => reject(new Error('no answer within 30 s')));
    });
    const [head, body] = raw.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 /, raw);
    assert.deepEqual(JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)), {
      success: false, code: 400, msg: 'request body is not valid JSON: it could not be read in full (it ended early, or its chunked framing was broken)', data: null,
    });
  });

  test('a JSON body over 16 KiB is 413', async () => {
    const res = await upload(worker, { file_url: `${png()}?${'a'.repeat(17 * 1024)}` });
    assertError(res, 413, /exceeds 16384 bytes/);
  });
});

/** A loopback port neither `o`'s nor the allow-listed dead one. */
function notAllowedPort(o = origin) {
  const port = Number(o.host.split(':')[1]);
  return [port + 1, port + 2, port - 1, port - 2].find((p) => p !== deadPort && p > 0 && p < 65536);
}

/** Refused `file_url`s for the Worker `w` beside origin `o`, with the rule each names. */
function refused(o = origin, w = worker) {
  const port = Number(o.host.split(':')[1]);
  const other = notAllowedPort(o);
  return [
    [`http://127.0.0.1:${other}/x.png`, /file_url rejected: private or reserved address \(loopback\)/],
    [`http://127.0.0.1/x.png`, /file_url rejected: private or reserved address \(loopback\)/],
    ['http://[::1]/x.png', /file_url rejected: private or reserved address \(loopback\)/],
    ['http://169.254.169.254/latest/meta-data/', /file_url rejected: private or reserved address \(link-local\)/],
    ['http://2130706433/x.png', /file_url rejected: private or reserved address \(loopback\)/],
    ['http://0x7f.1/x.png', /file_url rejected: private or reserved address \(loopback\)/],
    ['http://[::ffff:127.0.0.1]/x.png', /file_url rejected: private or reserved address \(IPv4-mapped IPv6\)/],
    ['http://10.0.0.1/x.png', /^file_url rejected: private or reserved address \(RFC 1918 private\)$/],
    [`http://localhost:${port}/x.png`, /file_url rejected: internal host name \(localhost\)/],
    ['http://metadata.google.internal/computeMetadata/v1/', /file_url rejected: internal host name \(\*\.internal\)/],
    ['http://example.com:22/x.png', /file_url rejected: port not allowed/],
    [`http://u:p@${o.host}/x.png`, /file_url rejected: credentials/],
    [`${w.url}/api/v1/health`, /file_url rejected: the service's own host/],
  ];
}

describe('URL policy: private, reserved and internal targets are refused', () => {
  test('each refused URL is 400 naming the rule, nothing is fetched and nothing stored', async () => {
    // the ones that name the origin's own port would reach it: it counts what it is asked
    origin.file('/x.png', TYPES.png.bytes, { contentType: 'image/png' });
    const mark = await marked(worker);
    for (const [url, fragment] of refused()) {
      const res = await upload(worker, { file_url: url, upload_path: 'refused' });
      assertError(res, 400, fragment);
    }
    assert.equal(origin.hits('/x.png'), 0, 'the origin was never asked');
    await assertNothingKept(worker, mark);
  });

  test('the allow-listed origin on another port is not exempt', async () => {
    origin.file('/on-origin.png', TYPES.png.bytes, { contentType: 'image/png' });
    const res = await upload(worker, { file_url: `http://127.0.0.1:${notAllowedPort()}/on-origin.png` });
    assertError(res, 400, /loopback/);
  });

  for (const [label, target, fragment] of [
    ['the metadata address', 'http://169.254.169.254/latest/meta-data/', /^redirect rejected: private or reserved address \(link-local\)$/],
    ['a loopback port not allow-listed', () => `http://127.0.0.1:${notAllowedPort()}/`, /^redirect rejected: private or reserved address \(loopback\)$/],
    ['decimal loopback', 'http://2130706433/', /^redirect rejected: private or reserved address \(loopback\)$/],
    ['the Worker itself', () => `${worker.url}/api/v1/health`, /^redirect rejected: the service's own host$/],
    ['a gopher URL', 'gopher://127.0.0.1:70/_stats', /^redirect rejected: scheme `gopher` is not allowed/],
  ]) {
    test(`a redirect to ${label} is 400 naming the rule, not the address`, async () => {
      const to = typeof target === 'function' ? target() : target;
      const slug = label.replace(/\W+/g, '-');
      const start = origin.status(`/redir/${slug}`, 302, to);
      const mark = await marked(worker);
      const res = await upload(worker, { file_url: start, upload_path: `redir-${slug}` });
      assertError(res, 400, fragment);
      assert.doesNotMatch(res.json.msg, /169\.254|2130706433|127\.0\.0\.1/);
      await assertNothingKept(worker, mark);
    });
  }
});

describe('types: magic bytes, then Content-Type, then extension', () => {
  for (const [name, t] of Object.entries(TYPES)) {
    const variants = [
      ['correct', t.mime],
      // (bytes with no signature claimed as an image are no image)
      ['wrong', name === 'unknown' ? 'image/png' : 'text/html'],
      ['no', null],
    ];
    for (const [label, contentType] of variants) {
      test(`${name} with ${label} Content-Type is stored as ${t.mime} and served byte for byte`, async () => {
        const fileUrl = origin.file(`/types/${name}-${label}`, t.bytes, { contentType });
        const res = await upload(worker, { file_url: fileUrl });
        assert.equal(res.status, 200, JSON.stringify(res.json));
        const d = res.json.data;
        assert.equal(res.json.success, true);
        assert.equal(res.json.code, 200);
        assert.equal(d.mime_type, t.mime);
        assert.equal(d.file_size, t.bytes.length);
        assert.equal(d.original_name, `${name}-${label}`);
        assert.match(d.file_name, new RegExp(`^[0-9a-f]{24}\\.${t.ext}$`));
        await assertServes(d, t.bytes);
      });
    }
  }

  test('an SVG that starts with an XML declaration is stored as SVG, in images/; an MP3 is named .mp3: the usual type and extension', async () => {
    const svg = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<!-- Created with Inkscape -->\n<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n');
    const mp3 = Buffer.concat([Buffer.from('ID3\x03\x00\x00\x00\x00\x00\x00', 'latin1'), filler(3000, 9)]);
    for (const [bytes, contentType, folder, ext] of [[svg, 'image/svg+xml', 'images', 'svg'], [mp3, 'audio/mpeg', 'audio', 'mp3']]) {
      const res = await upload(worker, { file_url: origin.file(`/usual/${ext}`, bytes, { contentType }) });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      const d = res.json.data;
      assert.deepEqual([d.mime_type, d.upload_path], [contentType, folder]);
      assert.match(d.file_name, new RegExp(`^[0-9a-f]{24}\\.${ext}$`));
      await assertServes(d, bytes);
    }
  });

  test('markup its origin calls text/plain is stored and shown as plain text: nosniff and sandboxed, never as a page', async () => {
    const res = await upload(worker, { file_url: origin.file('/script/claims-text', Buffer.from('<html><script>alert(1)</script></html>'), { contentType: 'text/plain' }) });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.mime_type, 'text/plain');
    const served = await get(res.json.data.file_url);
    assert.equal(served.headers.get('content-type'), 'text/plain');
    assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(served.headers.get('content-security-policy'), 'sandbox');
  });

  for (const [name, bytes, contentType, mime] of [
    ['page.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'image/svg+xml', 'image/svg+xml'],
    ['feed.xml', '<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>', 'application/xml', 'application/xml'],
    ['page.xhtml', '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>', 'application/xhtml+xml', 'application/xhtml+xml'],
    ['app.js', 'alert(document.cookie)', 'text/javascript', 'text/javascript'],
    ['mystery', '<script>alert(1)</script>', null, 'text/html'],
    // markup whose start the detector does not know, under an XML type of `video/`
    ['clip', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 'video/x+xml', 'video/x+xml'],
  ]) {
    test(`scriptable ${name} is an attachment, sandboxed and nosniff on both URLs`, async () => {
      const res = await upload(worker, { file_url: origin.file(`/script/${name}`, Buffer.from(bytes), { contentType }), upload_path: 'scriptable' });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.data.mime_type, mime);
      for (const url of [res.json.data.file_url, res.json.data.download_url]) {
        for (const method of ['GET', 'HEAD']) {
          const served = await get(url, {}, method);
          assert.equal(served.status, 200);
          assert.match(served.headers.get('content-disposition'), /^attachment;/, `${name} ${method} ${url}`);
          assert.equal(served.headers.get('content-security-policy'), 'sandbox');
          assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
        }
      }
    });
  }

  test('a page of the service\'s own origin never loads a stored file as a script, style or worker', async () => {
    const bytes = Buffer.from('window.ran = true');
    const res = await upload(worker, { file_url: origin.file('/script/loaded.js', bytes, { contentType: 'text/javascript' }), upload_path: 'scriptable' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const metadata = (site, dest) => ({ 'sec-fetch-site': site, 'sec-fetch-dest': dest, 'sec-fetch-mode': 'no-cors' });
    for (const url of [res.json.data.file_url, res.json.data.download_url]) {
      for (const dest of ['script', 'style', 'worker', 'serviceworker']) {
        for (const method of ['GET', 'HEAD']) {
          const refused = await get(url, metadata('same-origin', dest), method);
          assert.equal(refused.status, 403, `${dest} ${method} ${url}`);
          assert.equal(refused.headers.get('cache-control'), 'no-store');
          if (method === 'GET') {
            assert.deepEqual(JSON.parse(refused.body), { success: false, code: 403, msg: "a stored file is never a script, style sheet or worker of this service's own pages", data: null });
          }
        }
      }
      // another site's page, a same-origin document or image load, and no Fetch Metadata at all: served
      for (const headers of [metadata('cross-site', 'script'), metadata('same-site', 'script'), metadata('same-origin', 'document'), metadata('same-origin', 'image'), {}]) {
        const served = await get(url, headers);
        assert.equal(served.status, 200, `${JSON.stringify(headers)} ${url}`);
        assert.equal(sha256(served.body), sha256(bytes));
        assert.equal(served.headers.get('vary'), 'Sec-Fetch-Dest, Sec-Fetch-Site', 'a copy kept from one kind of load is not reused for another');
      }
      const etag = (await get(url)).headers.get('etag');
      const revalidated = await get(url, { 'if-none-match': etag });
      assert.deepEqual([revalidated.status, revalidated.headers.get('vary')], [304, 'Sec-Fetch-Dest, Sec-Fetch-Site']);
    }
  });

  test('a hostile origin file name is made safe in Content-Disposition', async () => {
    const disposition = `attachment; filename*=UTF-8''..%2F..%2F%E2%80%AEcod.exe%0D%0ASet-Cookie%3A%20x%3D1; filename="x"`;
    const res = await upload(worker, { file_url: origin.file('/hostile-name', TYPES.png.bytes, { disposition }), upload_path: 'hostile' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.original_name, 'cod.exeSet-Cookie_ x=1');
    const served = await get(res.json.data.download_url);
    assert.equal(served.headers.get('set-cookie'), null);
    // its extension is `exeSet-Cookie_ x=1`, nothing a desktop runs: saved as it is
    assert.equal(served.headers.get('content-disposition'), `attachment; filename="cod.exeSet-Cookie_ x=1"; filename*=UTF-8''cod.exeSet-Cookie_%20x%3D1`);
  });

  test('names: one name in either Unicode form is one file; joiners where scripts need them; hidden characters refused', async () => {
    // é composed (as most systems type it) and decomposed (as macOS writes it)
    const composed = await upload(worker, { file_url: origin.file('/nfc.png', TYPES.png.bytes), upload_path: 'intl', file_name: 'r\u00e9sum\u00e9.png' });
    assert.equal(composed.status, 200, JSON.stringify(composed.json));
    const newer = Buffer.concat([TYPES.png.bytes, Buffer.from('decomposed')]);
    const decomposed = await upload(worker, { file_url: origin.file('/nfd.png', newer), upload_path: 'intl', file_name: 're\u0301sume\u0301.png' });
    assert.equal(decomposed.status, 200, JSON.stringify(decomposed.json));
    assert.equal(decomposed.json.data.file_name, 'r\u00e9sum\u00e9.png');
    assert.equal(decomposed.json.data.file_url, composed.json.data.file_url, 'one name, one file_url');
    assert.equal((await get(composed.json.data.download_url)).status, 404, 'the second upload replaced the first');
    await assertServes(decomposed.json.data, newer);
    // the name typed decomposed in the URL reaches it too
    const typed = await get(decomposed.json.data.file_url.replace('r%C3%A9sum%C3%A9', 're%CC%81sume%CC%81'));
    assert.equal(typed.status, 200);
    assert.equal(sha256(typed.body), sha256(newer));
    // a Persian word with its zero-width non-joiner, an emoji sequence: stored as given
    for (const name of ['\u0646\u0627\u0645\u0647\u200c\u0647\u0627.png', '\u{1F468}\u200d\u{1F4BB}.png']) {
      const res = await upload(worker, { file_url: origin.file(`/shaped-${sha256(Buffer.from(name)).slice(0, 8)}.png`, TYPES.png.bytes), upload_path: 'intl', file_name: name });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.data.file_name, name);
      await assertServes(res.json.data, TYPES.png.bytes);
    }
    // a blank Hangul filler, a tag character, a joiner between ASCII letters: refused
    const before = await usage(worker, KEYS.a.key);
    for (const [name, which] of [['\u3164.png', 'U\\+3164, character 1'], ['a\u{E0041}.png', 'U\\+E0041, character 2'], ['pay\u200dpal.png', 'U\\+200D, character 4']]) {
      const res = await upload(worker, { file_url: origin.file('/hidden.png', TYPES.png.bytes), upload_path: 'intl', file_name: name });
      assertError(res, 400, new RegExp(`^invalid \`file_name\`: must not contain control, invisible or bidirectional characters \\(${which}\\)$`));
    }
    assert.deepEqual(await usage(worker, KEYS.a.key), before, 'nothing stored');
  });

  test('original_name from the origin: composed, its extension kept when cut, a device name made safe after the cut; saved with its type\'s extension', async () => {
    // [the origin's Content-Disposition (none: the URL's last segment), original_name, the
    // name download_url saves under: original_name, with `.png` when it has no extension or
    // one that runs or renders as a page]
    const cases = [
      [`attachment; filename*=UTF-8''cafe%CC%81.png`, 'caf\u00e9.png', 'caf\u00e9.png'],
      [`attachment; filename*=UTF-8''${'%F0%9F%98%80'.repeat(70)}.png`, `${'\u{1F600}'.repeat(62)}.png`, `${'\u{1F600}'.repeat(62)}.png`],
      [`attachment; filename*=UTF-8''CON${'%20'.repeat(260)}x`, '_CON', '_CON.png'],
      ['attachment; x; filename=good.png', 'good.png', 'good.png'],
      ['attachment; filename=SHOUT.PNG', 'SHOUT.PNG', 'SHOUT.PNG'],
      ['attachment; filename=run.exe', 'run.exe', 'run.exe.png'],
      ['attachment; filename=notes.md', 'notes.md', 'notes.md'],
      [null, 'img.php', 'img.php.png'],
    ];
    for (const [disposition, want, saved] of cases) {
      const path = disposition ? `/cd-${sha256(Buffer.from(disposition)).slice(0, 8)}` : '/cd/img.php';
      const res = await upload(worker, { file_url: origin.file(path, TYPES.png.bytes, disposition ? { disposition } : {}), upload_path: 'cd' });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.data.original_name, want, disposition);
      const served = await get(res.json.data.download_url);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-disposition'), `attachment; filename="${saved.replace(/[^ -~]/gu, '_')}"; filename*=UTF-8''${encodeURIComponent(saved)}`);
    }
  });

  test('HTML is served as an attachment even from file_url; a name the uploader chose that would run is saved with the type\'s extension from both links', async () => {
    const html = Buffer.from('<html><script>alert(1)</script></html>');
    const res = await upload(worker, { file_url: origin.file('/page.html', html, { contentType: 'text/html' }) });
    assert.equal(res.json.data.mime_type, 'text/html');
    const served = await get(res.json.data.file_url);
    assert.match(served.headers.get('content-disposition'), /^attachment;/);
    assert.equal(served.headers.get('content-security-policy'), 'sandbox');
    // [bytes, type, the chosen name, how file_url serves it and saves it, how download_url
    // saves it (the origin's name: `chosen-` and the chosen one)]
    const text = Buffer.from('plain notes\n');
    for (const [bytes, type, name, disposition, byNameSaved, byIdSaved] of [
      [html, 'text/html', 'invoice.hta', 'attachment', 'invoice.hta.html', 'chosen-invoice.hta.html'],
      [TYPES.png.bytes, 'image/png', 'pic.hta', 'inline', 'pic.hta.png', 'chosen-pic.hta.png'],
      // a name without an extension is kept as chosen; the origin's gets the type's
      [text, 'text/plain', 'notes', 'inline', 'notes', 'chosen-notes.txt'],
    ]) {
      const named = await upload(worker, { file_url: origin.file(`/chosen-${name}`, bytes, { contentType: type }), upload_path: 'chosen', file_name: name });
      assert.equal(named.status, 200, JSON.stringify(named.json));
      assert.equal(named.json.data.file_name, name, 'stored as chosen');
      assert.match(named.json.data.file_url, new RegExp(`/chosen/${name.replace('.', '\\.')}$`), 'served at the chosen name');
      const byName = await get(named.json.data.file_url);
      assert.equal(byName.status, 200);
      assert.equal(sha256(byName.body), sha256(bytes));
      assert.equal(byName.headers.get('content-disposition'), `${disposition}; filename="${byNameSaved}"; filename*=UTF-8''${byNameSaved}`);
      const byId = await get(named.json.data.download_url);
      assert.equal(byId.headers.get('content-disposition'), `attachment; filename="${byIdSaved}"; filename*=UTF-8''${byIdSaved}`);
    }
  });

  test('text is served with the charset its origin declared, on both URLs; FileData keeps the MIME type', async () => {
    const latin1 = Buffer.from('café crème, 12 €', 'latin1');
    for (const [path, contentType, served] of [
      ['/charset/latin1.txt', 'text/plain; charset=ISO-8859-1', 'text/plain; charset=iso-8859-1'],
      ['/charset/none.txt', 'text/plain', 'text/plain'],
    ]) {
      const res = await upload(worker, { file_url: origin.file(path, latin1, { contentType }), upload_path: 'charset' });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.data.mime_type, 'text/plain');
      for (const url of [res.json.data.file_url, res.json.data.download_url]) {
        for (const method of ['GET', 'HEAD']) {
          const got = await get(url, {}, method);
          assert.equal(got.headers.get('content-type'), served, `${contentType} ${method} ${url}`);
          if (method === 'GET') assert.equal(sha256(got.body), sha256(latin1));
        }
      }
      assert.match((await get(res.json.data.file_url)).headers.get('content-disposition'), /^inline;/);
    }
  });
});

describe('FileData', () => {
  test('has the ten fields and sha256, the namespace in file_url, upload_time now and expiry = upload + TTL', async () => {
    const url = origin.file('/docs/report.pdf', TYPES.pdf.bytes, { contentType: 'application/pdf' });
    const sent = Date.now();
    const res = await upload(worker, { file_url: url, upload_path: '/reports/2026/', file_name: 'q3 report.pdf' });
    const answered = Date.now();
    assert.equal(res.status, 200);
    assert.equal(res.json.msg, 'File uploaded successfully');
    // as every API answer, success or error: JSON no cache keeps
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const d = res.json.data;
    assert.deepEqual(Object.keys(d).sort(), ['download_url', 'expires_at', 'file_id', 'file_name', 'file_size', 'file_url', 'mime_type', 'original_name', 'sha256', 'upload_path', 'upload_time']);
    assert.equal(d.sha256, sha256(TYPES.pdf.bytes), 'the SHA-256 of the bytes the origin sent');
    assert.match(d.file_id, /^file_[0-9a-f]{32}$/);
    assert.equal(d.file_name, 'q3 report.pdf');
    assert.equal(d.original_name, 'report.pdf');
    assert.equal(d.upload_path, 'reports/2026');
    assert.equal(d.file_url, `${worker.url}/f/${KEYS.a.record.id}/reports/2026/q3%20report.pdf`);
    assert.equal(d.download_url, `${worker.url}/api/v1/files/download/${d.file_id}`);
    assert.match(d.upload_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    // the second the upload was made in (stamps are whole seconds), 72 hours before expiry
    const uploaded = Date.parse(d.upload_time);
    assert.ok(uploaded >= sent - (sent % 1000) && uploaded <= answered, `${d.upload_time} within the request`);
    assert.equal(Date.parse(d.expires_at) - uploaded, 259_200_000);
    const dl = await get(d.download_url);
    assert.equal(dl.headers.get('content-disposition'), `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
    // file_url saves under the name it names, the one the user chose
    const named = await get(d.file_url);
    assert.equal(named.headers.get('content-disposition'), `inline; filename="q3 report.pdf"; filename*=UTF-8''q3%20report.pdf`);
  });

  test('original_name comes from Content-Disposition first', async () => {
    const url = origin.file('/cd/x', TYPES.png.bytes, { disposition: `attachment; filename="fallback.png"; filename*=UTF-8''%E5%9B%BE.png` });
    const res = await upload(worker, { file_url: url });
    assert.equal(res.json.data.original_name, '图.png');
    assert.equal(res.json.data.upload_path, 'images');
  });

  test('follows redirects to the file', async () => {
    const target = origin.file('/redirected/final.gif', TYPES.gif.bytes, { contentType: 'image/gif' });
    origin.status('/r/2', 307, target);
    const start = origin.status('/r/1', 302, '/r/2');
    const res = await upload(worker, { file_url: start });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.original_name, 'final.gif');
    await assertServes(res.json.data, TYPES.gif.bytes);
  });
});

describe('size and storage paths', () => {
  test('no Content-Length, over one part: multipart upload, bytes intact', async () => {
    const bytes = filler(10 * MiB + 12345, 7);
    const url = origin.file('/chunked/big.bin', bytes, { chunked: true, contentType: null });
    const res = await upload(worker, { file_url: url, upload_path: 'mp', file_name: 'big.bin' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.file_size, bytes.length);
    await assertServes(res.json.data, bytes);
    const uploads = worker.r2().multipart.filter((m) => m.key === `o/${res.json.data.file_id}`);
    assert.equal(uploads.length, 1, 'one multipart upload ran, into o/{file_id}');
    assert.notEqual(uploads[0].state, 0, 'and it is not left in progress');
  });

  // that it takes one plain put is checked by the counting Worker's twin below ('storage calls')
  test('no Content-Length, small (in 1000-byte chunks): byte-exact from both URLs', async () => {
    const bytes = filler(300 * 1024, 8);
    const url = origin.file('/chunked/small.bin', bytes, { chunked: true, contentType: null, chunkSize: 1000 });
    const res = await upload(worker, { file_url: url, upload_path: 'single' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    await assertServes(res.json.data, bytes);
  });

  test('Content-Length over the limit is 413 before the body is read', async () => {
    // the origin sends 10 bytes and stalls: reading the body would end in the 20 s timeout
    const url = origin.stall('/too-big-cl', Buffer.alloc(10), { contentLength: LIMIT + 1 });
    const mark = await marked(worker);
    const res = await upload(worker, { file_url: url, upload_path: 'toobig' });
    assertError(res, 413, new RegExp(`size limit of ${LIMIT} bytes`));
    await assertNothingKept(worker, mark);
  });

  test('no Content-Length, over the limit: 413, nothing stored, multipart aborted', async () => {
    const url = origin.file('/chunked/huge.bin', filler(LIMIT + MiB, 9), { chunked: true, contentType: null });
    const mark = await marked(worker);
    const res = await upload(worker, { file_url: url, upload_path: 'huge', file_name: 'huge.bin' });
    assertError(res, 413, /size limit/);
    await assertNothingKept(worker, mark);
    const started = worker.r2().multipart.filter((m) => !mark.multipart.some((old) => old.upload_id === m.upload_id));
    assert.equal(started.length, 1, 'a multipart upload was started (the body is over one part)');
    assert.equal(started[0].state, 2, 'and aborted');
  });
});

describe('origin failures', () => {
  test('origin 404 is 502 naming the status', async () => {
    const res = await upload(worker, { file_url: origin.url('/missing.png') });
    assertError(res, 502, /HTTP 404/);
  });

  test('origin 500 is 502 naming the status', async () => {
    const res = await upload(worker, { file_url: origin.status('/broken', 500) });
    assertError(res, 502, /HTTP 500/);
  });

  test('an unreachable (allow-listed) origin is 502', async () => {
    const res = await upload(worker, { file_url: `http://127.0.0.1:${deadPort}/x.png` });
    assertError(res, 502, /could not connect/);
  });

  test('an origin that connects but sends no valid HTTP response is 502 saying so', async () => {
    const res = await upload(worker, { file_url: `http://127.0.0.1:${garbled.address().port}/x.png` });
    assertError(res, 502, /could not connect to the origin, or it sent no valid HTTP response/);
  });

  test('too many redirects is 502', async () => {
    for (let i = 0; i < 7; i++) origin.status(`/loop/${i}`, 302, `/loop/${i + 1}`);
    const res = await upload(worker, { file_url: origin.url('/loop/0') });
    assertError(res, 502, /redirected more than 5 times/);
    assert.equal(origin.hits('/loop/6'), 0, 'the sixth redirect is not followed');
  });

  test('a connection closed before any answer is asked once more, and the file stored byte-exact', async () => {
    const bytes = filler(200 * KiB + 3, 12);
    const url = origin.file('/closed-once.bin', bytes, { closeUnanswered: 1 });
    const res = await upload(worker, { file_url: url, upload_path: 'closed', file_name: 'once.bin' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(origin.requests('/closed-once.bin').map((r) => r.status), [null, 200], 'closed unanswered, then answered');
    assert.equal(res.json.data.sha256, sha256(bytes));
    const served = await get(res.json.data.download_url);
    assert.equal(served.status, 200);
    assert.equal(sha256(served.body), sha256(bytes), 'the origin\'s bytes are served');
  });

  test('a ranged origin that slows to a trickle after a fast start (less than 64 KiB per idle timeout) is waited out at its pace, not failed: byte-exact', async () => {
    // 6 MiB (two parts) whose first MiB comes fast (ONE_STREAM_MIB_S is 1 here): one stream,
    // each read waiting for 64 KiB; its last 24 KiB at 4 KiB/s take 6 s, past the idle
    // timeout (a quarter of 20 s)
    const bytes = filler(6 * MiB, 13);
    const path = '/trickle-tail.bin';
    const url = origin.file(path, bytes, { ranges: true, etag: '"t1"', throttle: 4 * KiB, throttleFrom: bytes.length - 24 * KiB });
    const res = await upload(worker, { file_url: url, upload_path: 'trickle', file_name: 'tail.bin' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.sha256, sha256(bytes));
    const ranges = origin.requests(path).map((r) => r.range);
    assert.equal(ranges.length, 3, `the probe, the rest as one stream, and that stream resumed once where it stalled: ${JSON.stringify(ranges)}`);
    const served = await get(res.json.data.download_url);
    assert.equal(sha256(served.body), sha256(bytes), 'the origin\'s bytes are served');
  });

  // a connection closed before any answer every time: the counting Worker's suite below

  for (const [label, opts] of [['with', { contentLength: 4 * MiB }], ['without', {}]]) {
    test(`a connection dropped mid-body (${label} Content-Length) is 502 and stores nothing`, async () => {
      const url = origin.drop(`/drop-${label}`, filler(MiB + 7, 10), opts);
      const mark = await marked(worker);
      const res = await upload(worker, { file_url: url, upload_path: `dropped-${label}`, file_name: 'd.bin' });
      assertError(res, 502, /connection failed/);
      await assertNothingKept(worker, mark);
    });
  }
});

describe('overwrite and tenancy', () => {
  test('a name is dated by when its file took it: a copy of the file it replaced never revalidates as current', async () => {
    const slowBytes = filler(750 * KiB, 31);
    const name = { upload_path: 'dated', file_name: 'n.bin' };
    // the first upload starts first and commits last (10 s at its origin's pace: the fast
    // upload, the wait for the next second and the copy's read all fit well inside, on a
    // loaded machine too)
    const slow = upload(worker, { file_url: origin.file('/dated/slow.bin', slowBytes, { throttle: 75 * KiB }), ...name });
    for (let i = 0; i < 100 && origin.requests('/dated/slow.bin').length === 0; i++) await sleep(50);
    await sleep(50);
    const fastBytes = filler(20 * KiB, 32);
    const fast = await upload(worker, { file_url: origin.file('/dated/fast.bin', fastBytes), ...name });
    assert.equal(fast.status, 200, JSON.stringify(fast.json));
    // a client's copy of the fast file, dated (from the second after it took the name)
    await sleep((Math.floor(Date.now() / 1000) + 1) * 1000 - Date.now());
    const copy = await get(fast.json.data.file_url);
    assert.equal(sha256(copy.body), sha256(fastBytes));
    const copyDate = copy.headers.get('last-modified');
    assert.ok(copyDate, 'dated once its second has passed');
    const slowAnswer = await slow;
    assert.equal(slowAnswer.status, 200, JSON.stringify(slowAnswer.json));
    assert.ok(Date.parse(slowAnswer.json.data.upload_time) <= Date.parse(fast.json.data.upload_time), `the slow upload began first: ${slowAnswer.json.data.upload_time} ${fast.json.data.upload_time}`);
    // revalidated by date alone (curl -z, wget -N): the name's new file, whole
    const again = await get(fast.json.data.file_url, { 'if-modified-since': copyDate });
    assert.equal(again.status, 200, 'not a 304: the name changed hands after that copy');
    assert.equal(sha256(again.body), sha256(slowBytes));
    const newDate = again.headers.get('last-modified');
    if (newDate) assert.ok(Date.parse(newDate) > Date.parse(copyDate), `${newDate} after ${copyDate}`);
    // undated within the second the name changed hands; dated after the copy once it passed
    await sleep((Math.floor(Date.now() / 1000) + 1) * 1000 - Date.now());
    const later = await get(fast.json.data.file_url, { 'if-modified-since': copyDate });
    assert.equal(later.status, 200);
    assert.equal(sha256(later.body), sha256(slowBytes));
    const laterDate = later.headers.get('last-modified');
    assert.ok(laterDate && Date.parse(laterDate) > Date.parse(copyDate), `${laterDate} after ${copyDate}`);
    // by id, a file is dated by its upload: its bytes never change
    assert.equal((await get(slowAnswer.json.data.download_url, {}, 'HEAD')).headers.get('last-modified'), new Date(slowAnswer.json.data.upload_time).toUTCString());
  });

  test('same key, same path and name: new bytes at once, old file_id gone', async () => {
    const first = await upload(worker, { file_url: origin.file('/v1.png', TYPES.png.bytes), upload_path: 'ow', file_name: 'same.png' });
    assert.equal(first.status, 200);
    await assertServes(first.json.data, TYPES.png.bytes); // the name is read (and may be cached) before the overwrite
    const newer = Buffer.concat([TYPES.png.bytes, Buffer.from('version 2')]);
    const second = await upload(worker, { file_url: origin.file('/v2.png', newer), upload_path: 'ow', file_name: 'same.png' });
    assert.equal(second.status, 200);
    assert.equal(first.json.data.file_url, second.json.data.file_url);
    assert.notEqual(first.json.data.file_id, second.json.data.file_id);
    // the old bytes left R2 before the overwrite was answered
    const keys = objectKeys();
    assert.ok(!keys.includes(`o/${first.json.data.file_id}`), 'the old object is deleted');
    assert.ok(keys.includes(`o/${second.json.data.file_id}`), 'the new one is stored under its own id');
    await assertServes(second.json.data, newer);
    const old = await get(first.json.data.download_url);
    assert.equal(old.status, 404);
    assert.deepEqual(JSON.parse(old.body), { success: false, code: 404, msg: 'file not found, deleted, expired or past its download limit', data: null });
  });

  test('a failed upload to a name that holds a file leaves that file as it was (422, origin reset, 413)', async () => {
    const kept = filler(40 * KiB, 20);
    const first = await upload(worker, { file_url: origin.file('/kept/v1.bin', kept), upload_path: 'kept', file_name: 'kept.bin' });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const d = first.json.data;
    await assertServes(d, kept); // the name is read (and may be cached) before the failures
    const before = await usage(worker, KEYS.a.key);
    const newer = filler(40 * KiB, 21);
    const failures = [
      ['422 digest mismatch', 422, /^sha256 mismatch/, { file_url: origin.file('/kept/v2.bin', newer), expected_sha256: sha256(kept) }],
      ['origin reset', 502, /origin/, { file_url: origin.drop('/kept/reset.bin', filler(20 * KiB, 22), { contentLength: 40 * KiB }) }],
      ['413 Content-Length over the limit', 413, /size limit/, { file_url: origin.file('/kept/huge-cl.bin', filler(LIMIT + 1, 23)) }],
      ['413 no Content-Length, over the limit', 413, /size limit/, { file_url: origin.file('/kept/huge.bin', filler(LIMIT + MiB, 24), { chunked: true }) }],
    ];
    for (const [label, status, fragment, body] of failures) {
      const mark = await marked(worker);
      const res = await upload(worker, { ...body, upload_path: 'kept', file_name: 'kept.bin' });
      assertError(res, status, fragment);
      await assertNothingKept(worker, mark, label);
      for (const url of [d.file_url, d.download_url]) {
        const served = await get(url);
        assert.equal(served.status, 200, `${label}: ${url}`);
        assert.equal(sha256(served.body), sha256(kept), `${label}: ${url} serves the old bytes`);
      }
      const info = await api(worker, 'GET', `/api/v1/files/${d.file_id}`, { token: KEYS.a.key });
      assert.deepEqual(info.json.data, d, `${label}: info is the old FileData`);
      assert.deepEqual(await usage(worker, KEYS.a.key), before, `${label}: usage as before`);
    }
  });

  test('another key cannot touch it: same path and name land in its own namespace', async () => {
    const mine = await upload(worker, { file_url: origin.file('/mine.gif', TYPES.gif.bytes), upload_path: 'shared', file_name: 'x.gif' });
    const theirs = await upload(worker, { file_url: origin.file('/theirs.webp', TYPES.webp.bytes), upload_path: 'shared', file_name: 'x.gif' }, { key: KEYS.b.key });
    assert.equal(theirs.status, 200);
    assert.notEqual(mine.json.data.file_url, theirs.json.data.file_url);
    assert.match(theirs.json.data.file_url, new RegExp(`/f/${KEYS.b.record.id}/shared/x.gif$`));
    // each name read just after the other's (the isolate keeps a name's holder a while):
    // every key's own bytes
    await assertServes(mine.json.data, TYPES.gif.bytes);
    await assertServes(theirs.json.data, TYPES.webp.bytes);
    await assertServes(mine.json.data, TYPES.gif.bytes);
  });
});

describe('Idempotency-Key on an upload stored now', () => {
  const digestsListed = async (key, digest) => (await listAll(worker, key)).files.filter((f) => f.sha256 === digest).length;

  for (const [label, size] of [['small (one write, then its commit)', 10 * KiB], ['reserved first', 200 * KiB + 3]]) {
    test(`${label}: sent four times with one key (then twice at once, one quoted) stores one file: the same answer, byte-exact, charged once, listed once, one object; another request with the key is 422, fetching nothing; another API key's same key stores its own`, async () => {
      const bytes = filler(size, 400 + size % 7);
      const path = `/idem/${size}.bin`;
      // no name: without the key, each send would be a file of its own
      const body = { file_url: origin.file(path, bytes) };
      const idem = { 'Idempotency-Key': crypto.randomUUID() };
      const before = await usage(worker, KEYS.a.key);
      const objects = new Set(objectKeys());
      const first = await upload(worker, body, { headers: idem });
      assert.equal(first.status, 200, JSON.stringify(first.json));
      assert.equal(first.headers.get('idempotent-replayed'), null, 'the first try stored it');
      const quoted = { 'Idempotency-Key': `"${idem['Idempotency-Key']}"` };
      const retries = [await upload(worker, body, { headers: idem }), ...await Promise.all([upload(worker, body, { headers: idem }), upload(worker, body, { headers: quoted })])];
      for (const res of retries) {
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.deepEqual(res.json, first.json, 'the first answer');
        assert.equal(res.headers.get('idempotent-replayed'), 'true', 'said to be the first answer');
      }
      assert.equal(origin.hits(path), 1, 'the origin was asked once');
      await assertServes(first.json.data, bytes);
      const after = await usage(worker, KEYS.a.key);
      assert.deepEqual([after.bytes - before.bytes, after.files - before.files, after.reserved_bytes], [size, 1, 0], 'charged once, nothing left reserved');
      assert.equal(await digestsListed(KEYS.a.key, sha256(bytes)), 1, 'listed once');
      assert.deepEqual(objectKeys().filter((k) => !objects.has(k)), [`o/${first.json.data.file_id}`], 'one object stored');

      const otherPath = `/idem/${size}-other.bin`;
      const other = await upload(worker, { file_url: origin.file(otherPath, bytes) }, { headers: idem });
      assertError(other, 422, /^this Idempotency-Key was sent with another request: a new request needs a new key$/);
      assert.equal(origin.hits(otherPath), 0, 'nothing fetched for it');

      const theirs = await upload(worker, body, { key: KEYS.b.key, headers: idem });
      assert.equal(theirs.status, 200, JSON.stringify(theirs.json));
      assert.notEqual(theirs.json.data.file_id, first.json.data.file_id);
      assert.equal(theirs.headers.get('idempotent-replayed'), null);
      assert.equal(origin.hits(path), 2);
    });
  }

  test('a try while the first with its key runs is 409 with Retry-After and fetches nothing, past the first mark\'s 10 s lease too (the running try renews it); sent again once the first stored, it is answered with that file: one fetch, charged once, one object', async () => {
    // 15 s at the origin (200 KiB/s; the upload's deadline is 20 s): the second try comes
    // 11 s after the first reached the origin (its mark was set before that), when a mark
    // never renewed would have lapsed
    const bytes = filler(3000 * KiB, 410);
    const path = '/idem/race.bin';
    const body = { file_url: origin.file(path, bytes, { throttle: 200 * KiB }) };
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const before = await usage(worker, KEYS.a.key);
    const objects = new Set(objectKeys());
    const first = upload(worker, body, { headers });
    for (let i = 0; i < 3000 && origin.hits(path) === 0; i++) await sleep(10);
    const reached = origin.requests(path)[0]?.at;
    assert.ok(reached, 'the first try reached the origin');
    await sleep(reached + 11_000 - Date.now());
    assert.equal(origin.hits(path), 1, 'the first try is fetching');
    const second = await upload(worker, body, { headers });
    assert.ok(Date.now() - reached < 14_500, 'the second try came while the first ran');
    assertError(second, 409, /^an upload with this Idempotency-Key is still running: send it again later, and it is answered with that upload's file$/);
    const wait = Number(second.headers.get('retry-after'));
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 10, `Retry-After: ${second.headers.get('retry-after')}`);
    const stored = await first;
    assert.equal(stored.status, 200, JSON.stringify(stored.json));
    assert.equal(stored.headers.get('idempotent-replayed'), null);
    const again = await upload(worker, body, { headers });
    assert.equal(again.status, 200, JSON.stringify(again.json));
    assert.deepEqual(again.json, stored.json, 'the first try\'s file');
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(origin.hits(path), 1, 'fetched once');
    await assertServes(stored.json.data, bytes);
    const after = await usage(worker, KEYS.a.key);
    assert.deepEqual([after.bytes - before.bytes, after.files - before.files, after.reserved_bytes], [bytes.length, 1, 0], 'charged once');
    assert.deepEqual(objectKeys().filter((k) => !objects.has(k)), [`o/${stored.json.data.file_id}`], 'one object');
    assert.equal(await digestsListed(KEYS.a.key, sha256(bytes)), 1);
  });

  test('a try that failed leaves its key free at once (no 409): the retry stores the file', async () => {
    const bytes = filler(4 * KiB, 411);
    const path = '/idem/late.bin';
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const body = { file_url: origin.url(path), upload_path: 'idem', file_name: 'late.bin' };
    const mark = await marked(worker);
    assertError(await upload(worker, body, { headers }), 502, /404/);
    await assertNothingKept(worker, mark, 'the failed try');
    origin.file(path, bytes);
    const retry = await upload(worker, body, { headers });
    assert.equal(retry.status, 200, JSON.stringify(retry.json));
    assert.equal(retry.headers.get('idempotent-replayed'), null, 'stored by this try');
    await assertServes(retry.json.data, bytes);
  });

  test('a batch sent again while its first send runs: each item is 409, the answer carries Retry-After, nothing is fetched again; sent once the first ended, it answers the same files', async () => {
    const items = [0, 1].map((i) => {
      const bytes = filler(200 * KiB + i, 430 + i);
      const path = `/idem/batch-running-${i}.bin`;
      // 10 s at the origin: the second send comes while the first fetches, on a loaded
      // machine too
      return { bytes, path, item: { file_url: origin.file(path, bytes, { throttle: 20 * KiB }) } };
    });
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const send = () => api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items: items.map((x) => x.item) }, headers });
    const first = send();
    for (let i = 0; i < 200 && items.some((x) => origin.hits(x.path) === 0); i++) await sleep(10);
    const second = await send();
    assert.equal(second.status, 200, JSON.stringify(second.json));
    assert.deepEqual(second.json.data.results.map((r) => [r.code, r.data]), [[409, null], [409, null]], JSON.stringify(second.json));
    const wait = Number(second.headers.get('retry-after'));
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 10, `Retry-After: ${second.headers.get('retry-after')}`);
    const stored = await first;
    assert.deepEqual(stored.json.data.results.map((r) => r.code), [200, 200], JSON.stringify(stored.json));
    const again = await send();
    assert.deepEqual(again.json.data.results, stored.json.data.results, 'the same files');
    assert.equal(again.headers.get('retry-after'), null);
    for (const [i, x] of items.entries()) {
      assert.equal(origin.hits(x.path), 1, `item ${i} fetched once`);
      await assertServes(stored.json.data.results[i].data, x.bytes);
    }
  });

  test('a batch whose items name one file, sent again while its first send runs the first of them: the rest are 409 too, left to the first send, so the last item holds the name', async () => {
    const versions = [0, 1].map((i) => {
      const bytes = filler(200 * KiB + i, 440 + i);
      const path = `/idem/batch-one-name-${i}.bin`;
      // the first 10 s at the origin: the second send comes while the first fetches it
      return { bytes, path, item: { file_url: origin.file(path, bytes, i === 0 ? { throttle: 20 * KiB } : {}), upload_path: 'idem', file_name: 'one-name.bin' } };
    });
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const send = () => api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items: versions.map((x) => x.item) }, headers });
    const first = send();
    for (let i = 0; i < 200 && origin.hits(versions[0].path) === 0; i++) await sleep(10);
    const second = await send();
    assert.deepEqual(second.json.data.results.map((r) => r.code), [409, 409], JSON.stringify(second.json));
    assert.equal(origin.hits(versions[1].path), 0, 'the second item left to the first send');
    const stored = await first;
    assert.deepEqual(stored.json.data.results.map((r) => r.code), [200, 200], JSON.stringify(stored.json));
    const [older, last] = stored.json.data.results.map((r) => r.data);
    const byName = await get(last.file_url);
    assert.equal(sha256(byName.body), sha256(versions[1].bytes), 'the last item holds the name');
    assert.equal((await get(older.download_url)).status, 404, 'the first item overwritten, as sent one by one');
    await assertServes(last, versions[1].bytes);
    const again = await send();
    assert.deepEqual(again.json.data.results, stored.json.data.results, 'the same files');
    assert.deepEqual(versions.map((x) => origin.hits(x.path)), [1, 1], 'each fetched once');
  });

  test('a batch whose items name one file, the first failed and the last stored: sent again, the first is 409 with nothing kept, the last keeps the name, charged once', async () => {
    const before = await usage(worker, KEYS.a.key);
    const versions = [0, 1].map((i) => {
      const bytes = filler(20 * KiB + i, 450 + i);
      const path = `/idem/batch-failed-first-${i}.bin`;
      // the first item's origin answers 404 once, then the file
      return { bytes, path, item: { file_url: origin.file(path, bytes, i === 0 ? { statuses: { 1: 404 } } : {}), upload_path: 'idem', file_name: 'failed-first.bin' } };
    });
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const send = () => api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items: versions.map((x) => x.item) }, headers });
    const first = await send();
    assert.deepEqual(first.json.data.results.map((r) => r.code), [502, 200], JSON.stringify(first.json));
    const last = first.json.data.results[1];
    const mark = worker.r2();
    const again = await send();
    const [superseded, replayed] = again.json.data.results;
    assert.deepEqual(superseded, { success: false, code: 409, msg: 'a later item of this batch naming the same file stored it already: this item is not stored over it', data: null });
    assert.deepEqual(replayed, last, 'the last item answered with its file');
    assert.equal(again.headers.get('retry-after'), null, 'nothing to wait for');
    // the first item's name is decided at its commit, where it was refused: fetched again
    assert.deepEqual(versions.map((x) => origin.hits(x.path)), [2, 1], 'the last item not fetched again');
    assertNothingStored(worker, mark, 'the refused item kept nothing');
    assert.equal(sha256((await get(last.data.file_url)).body), sha256(versions[1].bytes), 'the last item holds the name');
    await assertServes(last.data, versions[1].bytes);
    const after = await usage(worker, KEYS.a.key);
    assert.deepEqual([after.bytes - before.bytes, after.files - before.files], [versions[1].bytes.length, 1], 'charged for the last item alone');
  });

  test('in a batch the key names each item by its place: the batch sent again answers the same files, an item changed since gets its own 422', async () => {
    const items = [0, 1].map((i) => {
      const bytes = filler(3 * KiB + i, 420 + i);
      return { bytes, item: { file_url: origin.file(`/idem/batch-${i}.bin`, bytes) } };
    });
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const send = (list) => api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items: list }, headers });
    const first = await send(items.map((x) => x.item));
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const files = first.json.data.results.map((r) => r.data);
    assert.deepEqual(first.json.data.results.map((r) => r.code), [200, 200]);
    assert.notEqual(files[0].file_id, files[1].file_id, 'a file per item');
    for (const [i, data] of files.entries()) await assertServes(data, items[i].bytes);
    const again = await send(items.map((x) => x.item));
    assert.deepEqual(again.json.data.results, first.json.data.results, 'the same answers');
    assert.equal(again.headers.get('idempotent-replayed'), null, 'a batch\'s answer does not say');
    const changed = await send([items[0].item, { file_url: origin.file('/idem/batch-changed.bin', items[1].bytes) }]);
    const [same, refused] = changed.json.data.results;
    assert.deepEqual(same, first.json.data.results[0]);
    assert.deepEqual([refused.code, refused.msg], [422, 'this Idempotency-Key was sent with another request: a new request needs a new key']);
    for (const i of [0, 1]) assert.equal(origin.hits(`/idem/batch-${i}.bin`), 1, `item ${i} fetched once`);
    assert.equal(origin.hits('/idem/batch-changed.bin'), 0);
  });
});

describe('serving', () => {
  let data;
  let answeredMs; // when the upload was answered: its file took its name before
  // an image (its type shown by its signature) of 100,000 bytes
  const bytes = Buffer.concat([TYPES.png.bytes, filler(100_000 - TYPES.png.bytes.length, 11)]);
  before(async () => {
    data = (await upload(worker, { file_url: origin.file('/serve.bin', bytes, { contentType: 'image/png' }), upload_path: 'serve' })).json.data;
    answeredMs = Date.now();
  });

  for (const which of ['file_url', 'download_url']) {
    test(`${which}: Range gives 206 with the exact bytes`, async () => {
      const res = await get(data[which], { range: 'bytes=1000-1999' });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), `bytes 1000-1999/${bytes.length}`);
      assert.equal(sha256(res.body), sha256(bytes.subarray(1000, 2000)));
      const tail = await get(data[which], { range: 'bytes=-10' });
      assert.equal(sha256(tail.body), sha256(bytes.subarray(bytes.length - 10)));
      // RFC 9110 5.6.1: empty list elements are ignored, so this is one range
      const first = await get(data[which], { range: 'bytes=0-0,' });
      assert.equal(first.status, 206);
      assert.equal(first.headers.get('content-range'), `bytes 0-0/${bytes.length}`);
      assert.deepEqual([...first.body], [bytes[0]]);
    });

    test(`${which}: If-None-Match with the ETag gives 304`, async () => {
      const first = await get(data[which]);
      const etag = first.headers.get('etag');
      assert.ok(etag);
      const again = await get(data[which], { 'if-none-match': etag });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
    });

    test(`${which}: HEAD has the headers and no body`, async () => {
      const res = await get(data[which], {}, 'HEAD');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(bytes.length));
      assert.equal(res.body.length, 0);
    });

    test(`${which}: Cache-Control is exact on 200, 206, 304 and HEAD`, async () => {
      const full = await get(data[which]);
      const answers = [full, await get(data[which], { range: 'bytes=0-9' }), await get(data[which], { 'if-none-match': full.headers.get('etag') }), await get(data[which], {}, 'HEAD')];
      assert.deepEqual(answers.map((r) => r.status), [200, 206, 304, 200]);
      for (const res of answers) {
        if (which === 'file_url') assertFileUrlCaching(res);
        // 72 hours left: capped at a day
        else assert.equal(assertDownloadCaching(res, data.expires_at), 86_400);
      }
    });
  }

  for (const which of ['file_url', 'download_url']) {
    test(`${which}: Last-Modified is the ${which === 'file_url' ? 'second after the file took its name' : 'upload time'}; If-Modified-Since from then on is 304, carrying only ETag, Last-Modified and Cache-Control`, async () => {
      // a name's file is dated from the second after its commit, which came before the answer
      await sleep(Math.max(0, (Math.floor(answeredMs / 1000) + 1) * 1000 - Date.now()));
      const full = await get(data[which]);
      const lastModified = full.headers.get('last-modified');
      if (which === 'download_url') assert.equal(lastModified, new Date(data.upload_time).toUTCString());
      else {
        const dated = Date.parse(lastModified);
        assert.ok(dated > Date.parse(data.upload_time) && dated <= Date.now(), `${lastModified}: after the upload began, not in the future`);
        assert.ok(dated <= (Math.floor(answeredMs / 1000) + 1) * 1000, `${lastModified}: at most the second after the answer`);
      }
      const since = await get(data[which], { 'if-modified-since': lastModified });
      assert.equal(since.status, 304);
      for (const name of ['etag', 'last-modified', 'cache-control']) assert.equal(since.headers.get(name), full.headers.get(name), name);
      for (const name of ['content-type', 'content-disposition', 'content-length', 'content-security-policy']) assert.equal(since.headers.get(name), null, name);
      const earlier = new Date(Date.parse(data.upload_time) - 1000).toUTCString();
      const changed = await get(data[which], { 'if-modified-since': earlier });
      assert.equal(changed.status, 200);
      assert.equal(sha256(changed.body), sha256(bytes));
      // If-None-Match decides over If-Modified-Since
      assert.equal((await get(data[which], { 'if-modified-since': lastModified, 'if-none-match': '"other"' })).status, 200);
    });

    test(`${which}: If-Match and If-Unmodified-Since: the current version gets its range, any other is 412 with nothing sent`, async () => {
      const etag = (await get(data[which], {}, 'HEAD')).headers.get('etag');
      const part = await get(data[which], { 'if-match': etag, range: 'bytes=10-19' });
      assert.equal(part.status, 206);
      assert.equal(sha256(part.body), sha256(bytes.subarray(10, 20)));
      const earlier = new Date(Date.parse(data.upload_time) - 1000).toUTCString();
      for (const headers of [{ 'if-match': '"not-this-one"', range: 'bytes=10-19' }, { 'if-match': `W/${etag}` }, { 'if-unmodified-since': earlier }]) {
        const res = await get(data[which], headers);
        assert.equal(res.status, 412, JSON.stringify(headers));
        assert.equal(JSON.parse(res.body).code, 412);
      }
      assert.equal((await get(data[which], { 'if-unmodified-since': new Date().toUTCString() })).status, 200);
    });

    test(`${which}: HEAD ignores Range; the unit's name is case-insensitive`, async () => {
      const head = await get(data[which], { range: 'bytes=0-9' }, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(bytes.length));
      assert.equal((await get(data[which], { range: `bytes=${bytes.length}-` }, 'HEAD')).status, 200);
      const part = await get(data[which], { range: 'Bytes=0-9' });
      assert.equal(part.status, 206);
      assert.equal(sha256(part.body), sha256(bytes.subarray(0, 10)));
    });
  }

  test('an empty file: a suffix Range gets the whole (empty) file, a range from byte 0 is 416', async () => {
    const empty = await upload(worker, { file_url: origin.file('/serve-empty.bin', Buffer.alloc(0), { contentType: 'application/octet-stream' }), upload_path: 'serve', file_name: 'empty.bin' });
    assert.equal(empty.status, 200, JSON.stringify(empty.json));
    const res = await get(empty.json.data.download_url, { range: 'bytes=-5' });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
    assert.equal((await get(empty.json.data.download_url, { range: 'bytes=0-' })).status, 416);
  });

  test('unsatisfiable Range is 416', async () => {
    const res = await get(data.file_url, { range: `bytes=${bytes.length}-` });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), `bytes */${bytes.length}`);
  });

  test('file_url inline, download_url attachment', async () => {
    // bytes are not a PNG, but the origin said image/png: the allow-listed, passive type decides
    assert.match((await get(data.file_url)).headers.get('content-disposition'), /^inline;/);
    assert.match((await get(data.download_url)).headers.get('content-disposition'), /^attachment;/);
  });

  test('unknown file_id and unknown file_url are 404 envelopes', async () => {
    for (const url of [`${worker.url}/api/v1/files/download/file_${'0'.repeat(32)}`, `${worker.url}/f/k_alpha/none/x.png`]) {
      const res = await get(url);
      assert.equal(res.status, 404);
      assert.deepEqual(JSON.parse(res.body), { success: false, code: 404, msg: 'file not found, deleted, expired or past its download limit', data: null });
    }
  });
});

describe('storage calls (a Worker that counts them)', () => {
  const counted = useStack({ counting: true, vars: { LINK_SECRET: 'upload-test-link-secret' } });

  test('a small known-length upload makes one R2 put, one authority call and no KV read', async () => {
    const { origin: o, worker: w } = counted;
    const bytes = filler(10 * KiB, 90);
    const url = o.file('/counted/ten-k.bin', bytes); // with Content-Length
    // the same key once before: its record is in the isolate's key cache, and the
    // blocklist's copy in the isolate is fresh (read by that upload, or one before it)
    const warm = await upload(w, { file_url: url, upload_path: 'counted', file_name: 'warm.bin' });
    assert.equal(warm.status, 200, JSON.stringify(warm.json));

    const { calls, result } = await countWarm(w, (attempt) => upload(w, { file_url: url, upload_path: 'counted', file_name: `one-${attempt}.bin` }));
    assert.equal(result.status, 200, JSON.stringify(result.json));
    assert.equal(calls.r2Writes, 1, `one R2 write: ${JSON.stringify(calls.raw)}`);
    assert.deepEqual(calls.r2, { put: 1 }, `a put and no other R2 call: ${JSON.stringify(calls.raw)}`);
    assert.equal(calls.authorityCalls, 1, `one call to the key's authority: ${JSON.stringify(calls.raw)}`);
    assert.equal(calls.kvReads, 0, `no KV read: ${JSON.stringify(calls.raw)}`);
    assert.deepEqual(calls.kv, {}, 'no KV call at all');
    const d = result.json.data;
    assert.equal(d.file_size, bytes.length);
    assert.equal(sha256((await get(d.download_url)).body), sha256(bytes));
  });

  test('with an Idempotency-Key, a small upload asks its authority once more first, and its retry is that question alone: no fetch, no R2 call', async () => {
    const { origin: o, worker: w } = counted;
    const bytes = filler(10 * KiB, 95);
    const path = '/counted/keyed.bin';
    const body = { file_url: o.file(path, bytes), upload_path: 'counted', file_name: 'keyed.bin' };
    const headers = { 'Idempotency-Key': crypto.randomUUID() };
    const first = await w.countCalls(() => upload(w, body, { headers }));
    assert.equal(first.result.status, 200, JSON.stringify(first.result.json));
    assert.equal(first.calls.authorityCalls, 2, `the question, then the commit: ${JSON.stringify(first.calls.raw)}`);
    assert.deepEqual(first.calls.r2, { put: 1 }, JSON.stringify(first.calls.raw));
    const retry = await w.countCalls(() => upload(w, body, { headers }));
    assert.equal(retry.result.status, 200, JSON.stringify(retry.result.json));
    assert.deepEqual(retry.result.json, first.result.json);
    assert.equal(retry.calls.authorityCalls, 1, `the question alone: ${JSON.stringify(retry.calls.raw)}`);
    assert.deepEqual(retry.calls.r2, {}, JSON.stringify(retry.calls.raw));
    assert.equal(o.hits(path), 1, 'fetched once');
    assert.equal(sha256((await get(first.result.json.data.download_url)).body), sha256(bytes));
  });

  test('a key authority still on the version before (a deployment on its way) answers an op it does not know: 503 with Retry-After, nothing stored or charged; sent again, it stores', async () => {
    const { origin: o, worker: w } = counted;
    const bytes = filler(10 * KiB, 96);
    const path = '/counted/updating.bin';
    const body = { file_url: o.file(path, bytes), upload_path: 'counted', file_name: 'updating.bin' };
    const before = await usage(w, KEYS.a.key);
    const mark = w.r2();
    // the object reads the commit as a newer Worker's op; the release after it, it knows
    assert.equal(await w.failAuthorityCalls([{ caller: 'worker', op: 'commit', how: 'newer' }]), 1);
    const refused = await upload(w, body);
    assertError(refused, 503, /^the service is being updated: retry in a few seconds$/);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(await w.failAuthorityCalls([]), 0, 'the fault was met');
    assertNothingStored(w, mark, 'the put was released');
    assert.deepEqual(await usage(w, KEYS.a.key), before, 'nothing charged');
    // a read likewise
    await w.failAuthorityCalls([{ caller: 'worker', op: 'usage', how: 'newer' }]);
    assertError(await api(w, 'GET', '/api/v1/usage', { token: KEYS.a.key }), 503, /being updated/);
    // once the object runs the Worker's version
    const stored = await upload(w, body);
    assert.equal(stored.status, 200, JSON.stringify(stored.json));
    assert.equal(sha256((await get(stored.json.data.download_url)).body), sha256(bytes));
    assert.equal(o.hits(path), 2, 'fetched by each send');
  });

  test('no Content-Length, under one part: one plain put, no multipart upload', async () => {
    const { origin: o, worker: w } = counted;
    const bytes = filler(300 * KiB, 93);
    const url = o.file('/counted/chunked.bin', bytes, { chunked: true, contentType: null, chunkSize: 1000 });
    const { calls, result } = await w.countCalls(() => upload(w, { file_url: url, upload_path: 'counted', file_name: 'chunked.bin' }));
    assert.equal(result.status, 200, JSON.stringify(result.json));
    assert.deepEqual(calls.r2, { put: 1 }, `one put and nothing else: ${JSON.stringify(calls.raw)}`);
    assert.equal(calls.authorityCalls, 2, `reserve (unknown length) and commit: ${JSON.stringify(calls.raw)}`);
    assert.equal(sha256((await get(result.json.data.download_url)).body), sha256(bytes));
  });

  test('no Content-Length, read to its end while sniffing: one authority call (the commit), no reservation', async () => {
    const { origin: o, worker: w } = counted;
    const bytes = filler(1000, 94);
    const url = o.file('/counted/small-chunked.bin', bytes, { chunked: true });
    // a reservation of what the quota leaves would hold the key's whole room while it runs
    const { calls, result } = await countWarm(w, (attempt) => upload(w, { file_url: url, upload_path: 'counted', file_name: `small-chunked-${attempt}.bin` }));
    assert.equal(result.status, 200, JSON.stringify(result.json));
    assert.equal(calls.authorityCalls, 1, `the commit alone, as for a known length: ${JSON.stringify(calls.raw)}`);
    assert.deepEqual(calls.r2, { put: 1 }, JSON.stringify(calls.raw));
    assert.equal(sha256((await get(result.json.data.download_url)).body), sha256(bytes));
  });

  test('a connection closed before any answer every time is 502 "could not connect" after the Worker asked once more, nothing stored', async () => {
    const { origin: o, worker: w } = counted;
    const url = o.file('/counted/closed.bin', filler(200 * KiB, 13), { closeUnanswered: 100 });
    const mark = await marked(w);
    const { calls, result } = await w.countCalls(() => upload(w, { file_url: url, upload_path: 'closed', file_name: 'closed.bin' }));
    assertError(result, 502, /could not connect to the origin/);
    assert.deepEqual(calls.raw.worker?.fetch, { fetch: 2 }, `the Worker's fetch, once more, not again: ${JSON.stringify(calls.raw)}`);
    // the runtime itself sends a request again, once, when the connection it went on was a
    // kept-alive one (workerd 1.20261123 does; 1.20260426 did not)
    const asked = o.requests('/counted/closed.bin').length;
    assert.ok(asked >= 2 && asked <= 4, `the origin was asked ${asked} times`);
    await assertNothingKept(w, mark);
  });

  test('a refused file_url makes no outbound fetch at all, and no R2 call', async () => {
    const { origin: o, worker: w } = counted;
    for (const [url, fragment] of refused(o, w)) {
      const { calls, result } = await w.countCalls(() => upload(w, { file_url: url, upload_path: 'refused' }));
      assertError(result, 400, fragment);
      assert.equal(calls.raw.worker?.fetch, undefined, `${url}: no fetch: ${JSON.stringify(calls.raw)}`);
      assert.deepEqual(calls.r2, {}, `${url}: no R2 call: ${JSON.stringify(calls.raw)}`);
    }
  });

  test('file_url: a name read once answers its refusals (412, 416, an unsigned private file) from its file, with no further authority call', async () => {
    const { origin: o, worker: w } = counted;
    const store = async (body) => {
      const res = await upload(w, body);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      return res.json.data.file_url;
    };
    const open = await store({ file_url: o.file('/counted/named.bin', filler(10 * KiB, 94)), upload_path: 'counted', file_name: 'named.bin' });
    const signed = await store({ file_url: o.file('/counted/secret.bin', filler(10 * KiB, 95)), upload_path: 'counted', file_name: 'secret.bin', private: true });
    const unsigned = signed.split('?')[0];
    assert.notEqual(unsigned, signed, 'a private file_url is signed');
    // Each name read once: its holder is remembered in the isolate (10 s).
    for (const url of [open, signed]) assert.equal((await get(url)).status, 200);
    const cases = [
      [open, { 'If-Match': '"another"' }, 412, { head: 1 }],
      [open, { Range: 'bytes=999999999-' }, 416, { head: 1 }],
      // a private name is not told from a missing one without its signature
      [unsigned, {}, 404, { get: 1 }],
    ];
    for (const [url, headers, status, r2] of cases) {
      for (let i = 0; i < 3; i += 1) {
        const { calls, result } = await w.countCalls(() => get(url, headers));
        assert.equal(result.status, status, `${url} ${JSON.stringify(headers)}`);
        assert.equal(calls.authorityCalls, 0, `${status}: no authority call: ${JSON.stringify(calls.raw)}`);
        assert.deepEqual(calls.r2, r2, `${status}: one R2 read: ${JSON.stringify(calls.raw)}`);
      }
    }
    // and the names still serve their files
    assert.equal((await get(open)).status, 200);
    assert.equal((await get(signed)).status, 200);
  });

  test('a range of a file already served here is one R2 read of that range: exact bytes, on both links', async () => {
    const { origin: o, worker: w } = counted;
    const bytes = filler(100 * KiB + 7, 96);
    const res = await upload(w, { file_url: o.file('/counted/ranged.bin', bytes), upload_path: 'counted', file_name: 'ranged.bin' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const { download_url: byId, file_url: byName } = res.json.data;
    for (const url of [byId, byName]) {
      // the first read: a head, then the range (the size is not known yet)
      const first = await w.countCalls(() => get(url, { Range: 'bytes=0-99' }));
      assert.equal(first.result.status, 206);
      assert.deepEqual(first.result.body, bytes.subarray(0, 100));
      const cases = [
        ['bytes=1000-1999', 1000, 2000],
        ['bytes=-10', bytes.length - 10, bytes.length],
        [`bytes=${bytes.length - 5}-`, bytes.length - 5, bytes.length],
        [`bytes=100000-999999999`, 100000, bytes.length],
      ];
      for (const [range, from, to] of cases) {
        const { calls, result } = await w.countCalls(() => get(url, { Range: range }));
        assert.equal(result.status, 206, range);
        assert.equal(result.headers.get('content-range'), `bytes ${from}-${to - 1}/${bytes.length}`, range);
        assert.equal(sha256(result.body), sha256(bytes.subarray(from, to)), `${range}: the exact bytes`);
        assert.deepEqual(calls.r2, { get: 1 }, `${range}: one read: ${JSON.stringify(calls.raw)}`);
      }
      // the answer is not the range read (If-Range names another version): read again, whole
      const stale = await w.countCalls(() => get(url, { Range: 'bytes=0-9', 'If-Range': '"another"' }));
      assert.equal(stale.result.status, 200);
      assert.equal(sha256(stale.result.body), sha256(bytes));
      assert.deepEqual(stale.calls.r2, { get: 2 }, JSON.stringify(stale.calls.raw));
      // past the end: 416 from the size known, after the one read
      const past = await w.countCalls(() => get(url, { Range: `bytes=${bytes.length}-` }));
      assert.equal(past.result.status, 416);
    }
  });

  test('a small overwrite adds only the delete of the replaced object', async () => {
    const { origin: o, worker: w } = counted;
    const first = await upload(w, { file_url: o.file('/counted/v1.bin', filler(10 * KiB, 91)), upload_path: 'counted', file_name: 'ow.bin' });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const newer = filler(10 * KiB, 92);
    const { calls, result } = await countWarm(w, () => upload(w, { file_url: o.file('/counted/v2.bin', newer), upload_path: 'counted', file_name: 'ow.bin' }));
    assert.equal(result.status, 200, JSON.stringify(result.json));
    assert.deepEqual(calls.r2, { put: 1, delete: 1 }, JSON.stringify(calls.raw));
    assert.equal(calls.authorityCalls, 1, JSON.stringify(calls.raw));
    assert.equal(calls.kvReads, 0, JSON.stringify(calls.raw));
    assert.equal((await get(first.json.data.download_url)).status, 404);
    assert.equal(sha256((await get(result.json.data.file_url)).body), sha256(newer));
  });
});
