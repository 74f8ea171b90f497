// The npm package: `npm pack` in pkg/ yields a tarball a scratch project installs, imports,
// type-checks with tsc, and uploads with (from Node, against the local Worker: an upload, and
// a background job whose webhook a loopback receiver checks). And the two builds stay apart:
// no client export in the Worker's wasm, no Worker code in the client's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import fs from 'node:fs';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { startOrigin } from '../http/support/origin.mjs';
import { startReceiver } from '../http/support/receiver.mjs';
import { startWorker, get, api } from '../http/support/worker.mjs';
import { png, sha256 } from '../http/support/fixtures.mjs';
import { wasmExports } from './support/wasm.mjs';
import { run } from './support/run.mjs';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const PKG = path.join(ROOT, 'pkg');
const TSC = path.join(ROOT, 'node_modules/.bin/tsc');
const ADMIN = 'pkg-admin-token-16';
let scratch;
let origin;
let worker;
let hooks; // a webhook receiver: each POST's headers, body and arrival

before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-pkg-'));
  origin = await startOrigin();
  hooks = await startReceiver();
  worker = await startWorker({ allow: [origin.host, hooks.host], adminToken: ADMIN });
});
after(async () => {
  await worker?.stop();
  await origin?.close();
  await hooks?.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test('package.json names the entry points, types and shipped files', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));
  assert.equal(manifest.name, 'urlstash-client');
  assert.match(manifest.version, /^\d+\.\d+\.\d+/);
  assert.equal(manifest.types, 'urlstash.d.ts');
  assert.equal(manifest.module, 'urlstash.js');
  assert.equal(manifest.sideEffects, false);
  assert.deepEqual(manifest.engines, { node: '>=18' });
  for (const f of manifest.files) assert.ok(fs.existsSync(path.join(PKG, f)), f);
  assert.match(fs.readFileSync(path.join(PKG, 'README.md'), 'utf8'), /new UploadClient\(\{ baseUrl/);
});

test('npm pack -> install in a scratch project -> import, type-check and upload', { timeout: 300_000 }, async () => {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: PKG, encoding: 'utf8' }));
  const tarball = path.join(scratch, packed[0].filename);
  const shipped = packed[0].files.map((f) => f.path.replace(/^snippets\/urlstash-[0-9a-f]+\//, 'snippets/*/')).sort();
  assert.deepEqual(shipped, ['LICENSE', 'README.md', 'package.json', 'snippets/*/client/timer.js', 'snippets/*/client/upload_error.js', 'urlstash.d.ts',
    'urlstash.js', 'urlstash_bg.wasm', 'urlstash_bg.wasm.d.ts']);

  const app = path.join(scratch, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: app, stdio: 'pipe' });

  // Types: a correct use compiles under strict tsc without skipLibCheck, with and without
  // `esnext.disposable` in lib, without `dom` (a Node project), and with
  // `exactOptionalPropertyTypes`; a misuse (wrong option name, wrong field) does not.
  const tsc = (lib, ...more) => ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', lib, ...more];
  const tscArgs = tsc('es2022,dom');
  fs.writeFileSync(path.join(app, 'good.ts'), `
import init, { UploadClient, UploadError, type FileData, type UploadClientOptions, type BatchResult, type DeletedFile, type FileList, type Usage, type SignedLinks, type ListOptions, type LinkOptions, type Job, type StartUploadOptions, type UploadItem, type BatchOptions, type WaitOptions, type AbortSignalLike, type CallOptions } from 'urlstash-client';
export function dispose(c: UploadClient): void { c[Symbol.dispose](); c.free(); }
// every call takes a signal: in its options, or in \`CallOptions\` where it has none
export async function aborted(client: UploadClient, signal: AbortSignalLike): Promise<number> {
  const call: CallOptions = { signal };
  const file: FileData = await client.uploadFromUrl({ fileUrl: 'https://example.com/a.png', signal });
  const same: FileData = await client.getFile(file.file_id, call);
  const batch: BatchResult = await client.uploadFromUrls([{ fileUrl: 'https://example.com/b.png' }], { signal });
  const job: Job = await client.startUpload({ fileUrl: 'https://example.com/c.png', signal });
  const seen: Job = await client.getJob(job.job_id, { signal: undefined });
  const done: Job = await client.waitForJob(job.job_id, { signal });
  const stopped: Job = await client.cancelJob(job.job_id, call);
  const links: SignedLinks = await client.mintLinks(file.file_id, { expiresIn: 60, signal });
  const page: FileList = await client.listFiles({ signal });
  const usage: Usage = await client.usage(call);
  const gone: DeletedFile = await client.deleteFile(same.file_id, call);
  return batch.succeeded + seen.bytes_received + done.bytes_received + stopped.bytes_received + links.file_url.length + page.files.length + usage.files + Number(gone.deleted);
}
export async function main(): Promise<string> {
  await init();
  const options: UploadClientOptions = { baseUrl: 'https://files.example.com', apiKey: 'k' };
  const client = new UploadClient(options);
  const up: boolean = await client.health();
  try {
    const data: FileData = await client.uploadFromUrl({ fileUrl: 'https://example.com/a.png', uploadPath: 'a/b', idempotencyKey: 'k-0' });
    const size: number = data.file_size;
    const again: FileData = await client.getFile(data.file_id);
    const page: FileList = await client.listFiles({ uploadPath: 'a/b', limit: 10 });
    // options passed on as optional, and an option left undefined
    const list = (o?: ListOptions) => client.listFiles(o);
    const mint = (id: string, o?: LinkOptions) => client.mintLinks(id, o);
    const checked: FileData = await client.uploadFromUrl({ fileUrl: 'https://example.com/d.png', expectedSha256: undefined });
    const wrapped: number = (await list()).files.length + (await mint(checked.file_id)).file_url.length;
    const next: FileList = await client.listFiles({ cursor: page.cursor });
    const all: FileData[] = (await client.listFiles()).files;
    const usage: Usage = await client.usage();
    const once: FileData = await client.uploadFromUrl({ fileUrl: 'https://example.com/c.png', expiresIn: 60, maxDownloads: 1, private: true, originHeaders: { Authorization: 'Bearer t' } });
    const links: SignedLinks = await client.mintLinks(once.file_id, { expiresIn: 600 });
    const fresh: SignedLinks = await client.mintLinks(once.file_id);
    const counted: number = (once.max_downloads ?? 0) + (once.downloads ?? 0) + (once.private ? 1 : 0) + links.expires_at.length + fresh.file_url.length;
    const gone: DeletedFile = await client.deleteFile(again.file_id);
    const items: UploadItem[] = [{ fileUrl: 'https://example.com/b.png' }, { fileUrl: 'x', fileName: 'c.png' }];
    // @ts-expect-error: an item takes no key (the batch request's header is one for all)
    const keyedItem: UploadItem = { fileUrl: 'https://example.com/b.png', idempotencyKey: 'k-2' };
    const batch: BatchResult = await client.uploadFromUrls([...items, keyedItem]);
    const batchOptions: BatchOptions = { idempotencyKey: 'k-3' };
    const keyedBatch: BatchResult = await client.uploadFromUrls(items, batchOptions);
    const names = batch.results.map((r) => (r.success ? r.data.file_name : r.msg));
    const later: number = batch.retryAfter ?? 0;
    // background jobs
    const start: StartUploadOptions = { fileUrl: 'https://example.com/big.bin', callbackUrl: 'https://hooks.example.com/u', idempotencyKey: 'k-1' };
    const job: Job = await client.startUpload(start);
    const seen: Job = await client.getJob(job.job_id);
    const waitFor: WaitOptions = { intervalMs: 500, onProgress: (j: Job) => { void j.bytes_received; } };
    const done: Job = await client.waitForJob(seen.job_id, waitFor);
    const plain: Job = await client.waitForJob(job.job_id);
    const stopped: Job = await client.cancelJob(job.job_id);
    const stored: string = done.result?.file_url ?? done.error?.msg ?? stopped.state + plain.state;
    const base: string = client.baseUrl;
    const total: number = batch.succeeded + keyedBatch.failed + batch.failed + usage.max_bytes + usage.reserved_files + next.files.length + all.length + counted + wrapped + later;
    return data.file_url + data.expires_at + size + up + gone.deleted + gone.file_id + names.join() + total + stored + base;
  } catch (e) {
    if (!(e instanceof UploadError)) throw e;
    const field: 'apiKey' | 'fileUrl' | 'uploadPath' | 'fileName' | 'expectedSha256' | 'expiresIn' | 'maxDownloads' | 'private' | 'originHeaders' | 'callbackUrl' | null = e.field;
    const named: 'UploadError' = e.name;
    const wait: number | null = e.retryAfter;
    const unsure: boolean = e.uncertain;
    return \`\${e.status} \${e.code} \${e.message} \${field} \${named} \${wait} \${unsure}\`;
  }
}
`);
  fs.writeFileSync(path.join(app, 'bad.ts'), `
import { UploadClient } from 'urlstash-client';
const client = new UploadClient({ baseUrl: 'https://files.example.com', apiKey: 'k' });
export const a = client.uploadFromUrl({ fileURL: 'https://example.com/a.png' });
export const b = client.uploadFromUrl({ fileUrl: 'x' }).then((d) => d.fileSize);
export const c = client.listFiles({ upload_path: 'a' });
export const d = client.usage().then((u) => u.maxBytes);
export const e = client.uploadFromUrls([{ fileURL: 'x' }]);
export const f = client.uploadFromUrls([{ fileUrl: 'x' }]).then((r) => r.results[0].data.file_name);
export const g = client.deleteFile('file_1').then((r) => r.fileId);
export const h = client.uploadFromUrls([{ fileUrl: 'x', signal: { aborted: false, addEventListener() {}, removeEventListener() {} } }]);
`);
  // the DOM's AbortSignal is what `signal` takes (the package declares it by its shape)
  fs.writeFileSync(path.join(app, 'dom.ts'), `
import { UploadClient } from 'urlstash-client';
const client = new UploadClient({ baseUrl: 'https://files.example.com', apiKey: 'k' });
export const a = client.getFile('file_1', { signal: AbortSignal.timeout(1000) });
export const b = client.waitForJob('job_1', { intervalMs: 500, signal: new AbortController().signal });
`);
  const dom = await run(TSC, [...tscArgs, 'dom.ts'], { cwd: app });
  assert.equal(dom.code, 0, dom.out);
  for (const args of [tscArgs, tsc('es2022,esnext.disposable,dom'), tsc('es2022'), tsc('es2022,dom', '--exactOptionalPropertyTypes')]) {
    const good = await run(TSC, [...args, 'good.ts'], { cwd: app });
    assert.equal(good.code, 0, `${args.join(' ')}\n${good.out}`);
  }
  const bad = await run(TSC, [...tscArgs, 'bad.ts'], { cwd: app });
  assert.notEqual(bad.code, 0, 'tsc must reject misuse');
  assert.match(bad.out, /fileURL/);
  assert.match(bad.out, /fileSize/);
  for (const misuse of ['upload_path', 'maxBytes', 'fileURL', "is possibly 'null'", 'fileId']) assert.ok(bad.out.includes(misuse), `${misuse}:\n${bad.out}`);
  assert.ok(bad.out.includes("'signal' does not exist in type"), `an item takes no signal:\n${bad.out}`);
  assert.equal(bad.out.match(/error TS/g).length, 8, bad.out);

  // Runtime: Node (which has fetch) loads the installed package and uploads through the Worker.
  const bytes = png(20, 20);
  const fileUrl = origin.file('/pkg/dot.png', bytes, { contentType: 'image/png' });
  fs.writeFileSync(path.join(app, 'use.mjs'), `
import fs from 'node:fs';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { initSync, UploadClient, UploadError } from 'urlstash-client';
initSync({ module: fs.readFileSync(createRequire(import.meta.url).resolve('urlstash-client/urlstash_bg.wasm')) });
const [base, key, fileUrl, callbackUrl] = process.argv.slice(2);
const client = new UploadClient({ baseUrl: base, apiKey: key });
const health = await client.health();
const data = await client.uploadFromUrl({ fileUrl, uploadPath: 'pkg', fileName: 'dot.png' });
// an upload sent twice with one key (no name: without the key, two files): one file
const once = { fileUrl, idempotencyKey: 'pkg-once-' + Date.now() };
const keyed = [await client.uploadFromUrl(once), await client.uploadFromUrl(once)];
// a batch sent twice with the same key: the same answers, one file (the single upload's
// key names another file: a batch's item is named by its place too)
const batchKey = { idempotencyKey: once.idempotencyKey };
const keyedBatch = [await client.uploadFromUrls([{ fileUrl }], batchKey), await client.uploadFromUrls([{ fileUrl }], batchKey)];
// a keyed batch with an item the client refuses, sent again with that item fixed: the batch
// went whole, so every item kept its place (the others answer what they stored, only the
// fixed one is new; left out, the third would have taken the second's place)
const fixKey = { idempotencyKey: 'pkg-fix-' + Date.now() };
const fixed = [
  await client.uploadFromUrls([{ fileUrl }, { fileUrl: 'ftp://x.test/b.png' }, { fileUrl, fileName: 'third.png' }], fixKey),
  await client.uploadFromUrls([{ fileUrl }, { fileUrl, fileName: 'second.png' }, { fileUrl, fileName: 'third.png' }], fixKey),
];
// a background job with a webhook, waited for
const startOptions = { fileUrl, uploadPath: 'pkg/jobs', fileName: 'hooked.png', callbackUrl, idempotencyKey: 'pkg-' + Date.now() };
const started = await client.startUpload(startOptions);
// the same start again (a retry after a lost answer): the same job, nothing else started
const retried = await client.startUpload(startOptions);
const finished = await client.waitForJob(started.job_id, { intervalMs: 100 });
let error;
try { await new UploadClient({ baseUrl: base, apiKey: 'nope' }).uploadFromUrl({ fileUrl }); }
catch (e) { error = { name: e.name, status: e.status, code: e.code, message: e.message, field: e.field, retryAfter: e.retryAfter, uncertain: e.uncertain, isError: e instanceof Error, isUploadError: e instanceof UploadError }; }
// a service busy with other transfers: its 503 says when to send again, and so does a
// batch's 200 with an item refused so; and a job poll whose answer is cut after its headers
const http = await import('node:http');
const JOB = 'job_0123456789abcdef0123456789abcdef';
const job = (state, id = JOB) => ({ job_id: id, state, file_url: fileUrl, bytes_received: 0, total_bytes: null, created_at: 't', started_at: null, updated_at: 't', result: null, error: null });
let polls = 0;
// requests held unanswered (an abort ends them), by path and Idempotency-Key
const held = [];
const HELD_FILE = 'file_' + 'f'.repeat(32);
// more jobs whose polls follow a script (its last step repeated), each poll's time kept:
// a step is { state, error } or a { status, retryAfter } page
const scripts = new Map();
const scripted = (letter, steps) => { const id = 'job_' + letter.repeat(32); scripts.set(id, { steps, at: [] }); return id; };
const starts = [];
const busyServer = http.createServer((req, res) => {
  const id = req.url.split('/').pop();
  if (id === HELD_FILE || req.headers['idempotency-key'] === 'hold') { held.push(req.headers['idempotency-key'] ?? id); return; }
  const script = scripts.get(id);
  if (script) {
    const step = script.steps[Math.min(script.at.length, script.steps.length - 1)];
    script.at.push(Date.now());
    if (step.status) {
      res.writeHead(step.status, { 'content-type': 'application/json', ...(step.retryAfter ? { 'retry-after': String(step.retryAfter) } : {}) });
      res.end(JSON.stringify({ success: false, code: step.status, msg: 'busy', data: null }));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, code: 200, msg: 'Job found', data: { ...job(step.state, id), error: step.error ?? null } }));
    }
    return;
  }
  if (req.url.startsWith('/api/v1/jobs/')) {
    polls += 1;
    if (polls === 2) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"success":true,');
      setTimeout(() => res.destroy(), 50);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ success: true, code: 200, msg: 'Job found', data: job(polls < 3 ? 'downloading' : 'canceled') }));
    return;
  }
  if (req.url === '/api/v1/files/upload/url') {
    // every start's Idempotency-Key (null: none) and time; 'flaky' is not answered, then
    // answered 500, then started; 'down' is always 500; 'full' is the key's quota (429)
    const key = req.headers['idempotency-key'] ?? null;
    starts.push({ key, at: Date.now() });
    const n = starts.filter((s) => s.key === key).length;
    const send = (status, data, msg) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify({ success: status < 300, code: status, msg, data })); };
    if (key === 'flaky' && n === 1) { req.socket.destroy(); return; }
    // not answered, then the rate limit (a 429 says nothing of the send before it)
    if (key === 'lost-then-limited') {
      if (n === 1) { req.socket.destroy(); return; }
      res.setHeader('retry-after', '1');
      send(429, null, 'rate limit exceeded');
      return;
    }
    if (key === 'flaky' && n > 2) { send(202, job('queued'), 'Job accepted'); return; }
    if (key === 'flaky' || key === 'down' || key === 'down-upload') { send(500, null, 'internal error'); return; }
    if (key === 'down-abort') { res.setHeader('retry-after', '30'); send(500, null, 'internal error'); return; }
    if (key === 'origin-404') { send(502, null, 'origin responded with HTTP 404'); return; }
    if (key === 'no-secret') { send(503, null, 'private links are disabled'); return; }
    if (key === 'proxy-504') { res.writeHead(504, { 'content-type': 'text/html' }); res.end('<h1>Gateway Timeout</h1>'); return; }
    if (key === 'full') { send(429, null, 'quota exceeded'); return; }
    // an upload whose earlier send with the key still runs (409, Retry-After: 1) four
    // times, more than the 3 retries (a 409 does not count among them), then stored:
    // answered with its file; a 409 without a time does not pass
    // 'down-then-running': three 500s use up the retries, then a 409 with Retry-After is
    // still waited out, then the file
    if (key === 'down-then-running' && n <= 3) { send(500, null, 'internal error'); return; }
    const running = (key === 'running-upload' && n <= 4) || (key === 'down-then-running' && n === 4);
    if (running) { res.setHeader('retry-after', '1'); send(409, null, 'an upload with this Idempotency-Key is still running'); return; }
    if (key === 'running-upload' || key === 'down-then-running') {
      const file = { file_id: 'file_' + 'ab'.repeat(16), file_name: 'a.png', original_name: 'a.png', file_size: 3, mime_type: 'image/png', upload_path: 'p',
        file_url: 'http://x.test/f/k/p/a.png', download_url: 'http://x.test/d', upload_time: '2026-01-01T00:00:00+00:00', expires_at: '2026-01-04T00:00:00+00:00', sha256: 'cd'.repeat(32) };
      res.setHeader('idempotent-replayed', 'true');
      send(200, file, 'File uploaded successfully');
      return;
    }
    if (key === 'ended-409') { send(409, null, 'the job has already finished'); return; }
    // 'limited' meets the rate limit once (Retry-After: 1); 'later' is asked to wait an hour
    if (key === 'limited' && n === 1) { res.setHeader('retry-after', '1'); send(429, null, 'rate limit exceeded'); return; }
    if (key === 'later') { res.setHeader('retry-after', '3600'); send(503, null, 'busy'); return; }
  }
  const busyItem = { success: false, code: 503, msg: 'this instance is busy with other transfers: retry in a few seconds', data: null };
  if (req.url === '/api/v1/files/upload/urls' && req.headers['idempotency-key'] === 'down-batch') {
    starts.push({ key: 'down-batch', at: Date.now() });
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ success: false, code: 500, msg: 'internal error', data: null }));
    return;
  }
  if (req.url === '/api/v1/files/upload/urls' && req.headers['idempotency-key'] === 'running-batch') {
    // a keyed batch whose second item an earlier send with the key still runs: answered
    // 409 in place (the batch's Retry-After: 1) twice, then both items stored
    starts.push({ key: 'running-batch', at: Date.now() });
    const n = starts.filter((s) => s.key === 'running-batch').length;
    const stored = (name) => ({ success: true, code: 200, msg: 'File uploaded successfully', data: { file_id: 'file_' + 'cd'.repeat(16), file_name: name, original_name: name, file_size: 3, mime_type: 'image/png', upload_path: 'p',
      file_url: 'http://x.test/f/k/p/' + name, download_url: 'http://x.test/d', upload_time: '2026-01-01T00:00:00+00:00', expires_at: '2026-01-04T00:00:00+00:00', sha256: 'cd'.repeat(32) } });
    const stillRunning = { success: false, code: 409, msg: "an upload with this Idempotency-Key is still running: send it again later, and it is answered with that upload's file", data: null };
    const results = n <= 2 ? [stored('a.png'), stillRunning] : [stored('a.png'), stored('b.png')];
    res.writeHead(200, { 'content-type': 'application/json', ...(n <= 2 ? { 'retry-after': '1' } : {}) });
    res.end(JSON.stringify({ success: true, code: 200, msg: (n <= 2 ? 1 : 2) + ' of 2 uploaded', data: { succeeded: n <= 2 ? 1 : 2, failed: n <= 2 ? 1 : 0, results } }));
    return;
  }
  if (req.url === '/api/v1/files/upload/urls') {
    res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '5' });
    res.end(JSON.stringify({ success: true, code: 200, msg: '0 of 1 uploaded', data: { succeeded: 0, failed: 1, results: [busyItem] } }));
    return;
  }
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
  res.end(JSON.stringify(busyItem));
});
await new Promise((resolve) => busyServer.listen(0, '127.0.0.1', resolve));
let busy;
const busyClient = new UploadClient({ baseUrl: \`http://127.0.0.1:\${busyServer.address().port}\`, apiKey: key });
try { await busyClient.uploadFromUrl({ fileUrl }); }
catch (e) { busy = { status: e.status, message: e.message, field: e.field, retryAfter: e.retryAfter, uncertain: e.uncertain }; }
const busyBatch = await busyClient.uploadFromUrls([{ fileUrl }]);
// a start with an idempotency key that fails in passing is sent again (1 s, 2 s, 4 s later,
// or as long as Retry-After asks, up to a minute): without an answer, then a 500, it is
// started at the third send; always 500, it rejects after the fourth; a 429, with
// Retry-After (the rate limit: the caller's to wait out) or without (the quota), a 503
// asking for an hour, and a start without a key reject at the first
const startOutcomes = await Promise.all(['flaky', 'down', 'full', 'limited', 'later', undefined].map((idempotencyKey) =>
  busyClient.startUpload({ fileUrl, ...(idempotencyKey ? { idempotencyKey } : {}) }).then((j) => \`resolved \${j.job_id}\`, (e) => \`\${e.status} \${e.message}\`)));
// an upload stored now with a key: sent again after the service's 500 as a start is, and
// after a gateway's 504 page (it may have landed behind it); not after the service's 502
// (the origin's failure: sent again, it would fetch again) or a 503 without a time
const uploadKeys = ['down-upload', 'proxy-504', 'origin-404', 'no-secret', 'lost-then-limited', 'running-upload', 'ended-409', 'down-then-running'];
const uploadOutcomes = await Promise.all([...uploadKeys.map((idempotencyKey) =>
  busyClient.uploadFromUrl({ fileUrl, idempotencyKey }).then(() => 'resolved', (e) => \`\${e.status} \${e.uncertain}\`)),
  // a keyed batch is sent again as a keyed upload is, and waits out an item still run by
  // an earlier send with its key
  busyClient.uploadFromUrls([{ fileUrl }], { idempotencyKey: 'down-batch' }).then(() => 'resolved', (e) => \`\${e.status} \${e.uncertain}\`),
  busyClient.uploadFromUrls([{ fileUrl }, { fileUrl }], { idempotencyKey: 'running-batch' }).then((b) => \`resolved \${b.succeeded} \${b.failed} \${b.results.map((r) => r.code)}\`, (e) => \`\${e.status} \${e.uncertain}\`)]);
const sends = Object.fromEntries(['flaky', 'down', 'full', 'limited', 'later', null, ...uploadKeys, 'down-batch', 'running-batch'].map((k) => [k, starts.filter((x) => x.key === k).map((x) => x.at)]));
// the cut poll is tried again; the job ends canceled (409)
let waited;
try { await busyClient.waitForJob(JOB, { intervalMs: 100 }); waited = 'resolved'; }
catch (e) { waited = \`\${e.status} \${e.message} after \${polls} polls\`; }
// waitForJob's own rules, each job on its script at once: a failed job rejects with its
// error; 5 passing failures in a row are tried again, the 6th ends the wait, and a good
// poll starts the count over; Retry-After outlasts the doubling delay; a throwing
// onProgress does not stop the wait; intervalMs is at least 100
const DOWN = { status: 503 };
const ids = {
  failed: scripted('a', [{ state: 'downloading' }, { state: 'failed', error: { code: 502, msg: 'origin responded with HTTP 404' } }]),
  down: scripted('b', [DOWN]),
  blips: scripted('c', [DOWN, DOWN, DOWN, DOWN, { state: 'downloading' }, DOWN, DOWN, DOWN, DOWN, { state: 'succeeded' }]),
  asked: scripted('d', [{ status: 503, retryAfter: 1 }, { state: 'downloading' }, { state: 'succeeded' }]),
  fast: scripted('e', [{ state: 'downloading' }, { state: 'succeeded' }]),
};
let progressed = 0;
const outcome = (p) => p.then((j) => \`resolved \${j.state}\`, (e) => \`\${e.status} \${e.message} \${e.field}\`);
const settled = await Promise.all([
  outcome(busyClient.waitForJob(ids.failed, { intervalMs: 100 })),
  outcome(busyClient.waitForJob(ids.down, { intervalMs: 100 })),
  outcome(busyClient.waitForJob(ids.blips, { intervalMs: 100 })),
  outcome(busyClient.waitForJob(ids.asked, { intervalMs: 100, onProgress: () => { progressed += 1; throw new Error('a broken callback'); } })),
  outcome(busyClient.waitForJob(ids.fast, { intervalMs: 0 })),
]);
const gaps = (id) => scripts.get(id).at.slice(1).map((t, i) => t - scripts.get(id).at[i]);
const waits = { settled, progressed, polls: Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, scripts.get(id).at.length])),
  downGaps: gaps(ids.down), askedGap: gaps(ids.asked)[0], fastGap: gaps(ids.fast)[0] };
// aborts: a call whose signal aborted first sends nothing; an abort ends a request on its
// way (uncertain only when it changes something), a keyed upload's 30 s wait to be sent
// again, and waitForJob's hour between two polls (each well before the test's 20 s guard)
const until = async (done) => { for (let i = 0; i < 400 && !done(); i++) await new Promise((r) => setTimeout(r, 25)); };
const abortWhen = async (call, ready) => {
  const controller = new AbortController();
  const outcome = call(controller.signal).then(() => 'resolved', (e) => \`\${e.status} \${e.uncertain} \${e.message}\`);
  await until(ready);
  controller.abort();
  return Promise.race([outcome, new Promise((r) => setTimeout(() => r('not ended 20 s after the abort'), 20_000))]);
};
const sent = (key) => starts.filter((x) => x.key === key).length;
const endless = scripted('f', [{ state: 'downloading' }]);
const aborts = {
  outcomes: await Promise.all([
    busyClient.uploadFromUrl({ fileUrl, idempotencyKey: 'pre-aborted', signal: AbortSignal.abort() }).then(() => 'resolved', (e) => \`\${e.status} \${e.uncertain} \${e.message}\`),
    // a batch with nothing to send (every item refused by the client) rejects all the same
    busyClient.uploadFromUrls([{ fileUrl: 'ftp://x.test/a.png' }], { signal: AbortSignal.abort() }).then(() => 'resolved', (e) => \`\${e.status} \${e.uncertain} \${e.message}\`),
    abortWhen((signal) => busyClient.getFile(HELD_FILE, { signal }), () => held.includes(HELD_FILE)),
    abortWhen((signal) => busyClient.uploadFromUrl({ fileUrl, idempotencyKey: 'hold', signal }), () => held.includes('hold')),
    abortWhen((signal) => busyClient.uploadFromUrl({ fileUrl, idempotencyKey: 'down-abort', signal }), () => sent('down-abort') === 1),
    abortWhen((signal) => busyClient.waitForJob(endless, { intervalMs: 3_600_000, signal }), () => scripts.get(endless).at.length === 1),
  ]),
  sends: ['pre-aborted', 'down-abort'].map(sent),
  held: held.length,
  polls: scripts.get(endless).at.length,
};
busyServer.close();
busyServer.closeAllConnections();
const info = await client.getFile(data.file_id);
const listed = (await client.listFiles({ uploadPath: 'pkg' })).files.map((f) => f.file_id);
const served = Buffer.from(await (await fetch(data.download_url)).arrayBuffer()).toString('base64');
const deleted = await client.deleteFile(data.file_id);
// from JS an id can be anything: a rejected UploadError, never a throw or a wasm trap
const badIds = [];
for (const call of [() => client.getFile(5), () => client.getFile(undefined), () => client.cancelJob({}), () => client.waitForJob(7), () => client.startUpload({ fileUrl, idempotencyKey: '' }), () => client.uploadFromUrls([{ fileUrl }], { idempotencyKey: '' }),
  () => client.uploadFromUrls([{ fileUrl }], 'k'), () => client.uploadFromUrls([{ fileUrl }], ['k']),
  () => client.uploadFromUrls([{ fileUrl }], { idempotencyKey: 7 }), () => client.uploadFromUrls([{ fileUrl }], { idempotency_key: 'k' }),
  () => client.uploadFromUrls([{ fileUrl, idempotencyKey: 'k' }]),
  // a signal that is not one, options where none but a signal are taken, a signal in an item
  () => client.getFile(data.file_id, { signal: {} }), () => client.usage('now'), () => client.getJob(JOB, { signl: null }),
  () => client.deleteFile(data.file_id, { signal: { aborted: false, addEventListener() {} } }),
  () => client.uploadFromUrls([{ fileUrl, signal: AbortSignal.abort() }])]) {
  try { await call(); badIds.push('resolved'); } catch (e) { badIds.push(e instanceof UploadError ? \`\${e.status} \${e.message}\` : \`not an UploadError: \${e}\`); }
}
let notArray;
try { await client.uploadFromUrls({ fileUrl }); } catch (e) { notArray = e.message; }
console.log(JSON.stringify({ health, data, keyed, keyedBatch, fixed, uploadOutcomes, started, retried, finished, error, busy, busyBatch, startOutcomes, sends, waited, waits, aborts, info, listed, served, deleted, badIds, notArray }));
`);
  // a key with a webhook secret, made through the admin API
  const created = await api(worker, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: 'pkg' } });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const { key, key_id: keyId } = created.json.data;
  const issued = await api(worker, 'POST', `/api/v1/admin/keys/${keyId}/webhook-secret`, { token: ADMIN });
  assert.equal(issued.status, 200, JSON.stringify(issued.json));
  const secret = issued.json.data.webhook_secret;
  const callbackUrl = hooks.url('/pkg-hook');
  const used = await run('node', ['use.mjs', worker.url, key, fileUrl, callbackUrl], { cwd: app });
  assert.equal(used.code, 0, used.out);
  const { health, data, keyed, keyedBatch, fixed, uploadOutcomes, started, retried, finished, error, busy, busyBatch, startOutcomes, sends, waited, waits, aborts, info, listed, served, deleted, badIds, notArray } = JSON.parse(used.out.trim().split('\n').pop());
  // the job: started queued, waited for to its end, stored byte-exact, and its final status
  // delivered once to the callback, signed with the key's secret
  assert.match(started.job_id, /^job_[0-9a-f]{32}$/);
  assert.equal(started.state, 'queued');
  assert.equal(retried.job_id, started.job_id, 'a start retried with its idempotencyKey answers the same job');
  assert.equal(finished.state, 'succeeded', JSON.stringify(finished));
  assert.deepEqual([finished.result.upload_path, finished.result.file_name, finished.result.sha256], ['pkg/jobs', 'hooked.png', sha256(bytes)]);
  assert.equal(sha256((await get(finished.result.download_url)).body), sha256(bytes));
  for (let i = 0; i < 80 && hooks.deliveries('/pkg-hook').length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 250));
  // and no second one after it (a retry of a delivery answered 200, say)
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const deliveries = hooks.deliveries('/pkg-hook');
  assert.equal(deliveries.length, 1, 'one delivery');
  const [hook] = deliveries;
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(hook.headers['x-urlstash-signature'] ?? '');
  assert.ok(m, `signature header: ${hook.headers['x-urlstash-signature']}`);
  assert.equal(m[2], crypto.createHmac('sha256', secret).update(`${m[1]}.${hook.body}`).digest('hex'), 'HMAC-SHA256 over t.body with the key secret');
  assert.deepEqual(JSON.parse(hook.body), finished, 'the final status, as waitForJob answered it');
  assert.deepEqual(busy, { status: 503, message: 'this instance is busy with other transfers: retry in a few seconds', field: null, retryAfter: 5, uncertain: false });
  assert.deepEqual(startOutcomes, ['resolved job_0123456789abcdef0123456789abcdef', '500 internal error', '429 quota exceeded', '429 rate limit exceeded', '503 busy', `503 ${busy.message}`]);
  assert.deepEqual([sends.flaky, sends.down, sends.full, sends.limited, sends.later, sends.null].map((at) => at.length), [3, 4, 1, 1, 1, 2], 'sends per key (no key: the busy upload, then the start)');
  const gaps = (at) => at.slice(1).map((t, i) => t - at[i]);
  gaps(sends.down).forEach((gap, i) => assert.ok(gap >= 1000 * 2 ** i - 5, `down: gap ${i} ${gap} ms of ${gaps(sends.down)}`));
  gaps(sends.flaky).forEach((gap, i) => assert.ok(gap >= 1000 * 2 ** i - 5, `flaky: gap ${i} ${gap} ms of ${gaps(sends.flaky)}`));
  // after its last send, whether it may have been done all the same (uncertain): after the
  // service's 500 and a gateway's page, not after the origin's 502 or a setting's 503; and
  // after a 429 to a send whose first went unanswered
  assert.deepEqual(uploadOutcomes, ['500 true', '504 true', '502 false', '503 false', '429 true', 'resolved', '409 false', 'resolved', '500 true', 'resolved 2 0 200,200']);
  assert.equal(sends['running-batch'].length, 3, 'a keyed batch with an item still running is sent again whole until it is done');
  gaps(sends['running-batch']).forEach((gap, i) => assert.ok(gap >= 1000 - 5, `running-batch: gap ${i} ${gap} ms: sent again after its Retry-After`));
  assert.deepEqual(['down-upload', 'proxy-504', 'origin-404', 'no-secret', 'lost-then-limited', 'running-upload', 'ended-409', 'down-then-running', 'down-batch'].map((k) => sends[k].length), [4, 4, 1, 1, 2, 5, 1, 5, 4], 'a keyed upload or batch: sent again after a 500, a gateway\'s page or a 409 with Retry-After, not after the origin\'s 502, a 503 without a time or a 409 without one');
  gaps(sends['running-upload']).forEach((gap, i) => assert.ok(gap >= 1000 - 5, `running-upload: gap ${i} ${gap} ms: sent again after its Retry-After`));
  gaps(sends['down-upload']).forEach((gap, i) => assert.ok(gap >= 1000 * 2 ** i - 5, `down-upload: gap ${i} ${gap} ms`));
  assert.deepEqual(keyed[1], keyed[0], 'an upload sent again with its idempotencyKey answers the file the first stored');
  assert.equal(sha256((await get(keyed[0].download_url)).body), sha256(bytes));
  assert.equal(keyedBatch[0].succeeded, 1, JSON.stringify(keyedBatch[0]));
  assert.deepEqual(keyedBatch[1], keyedBatch[0], 'a batch sent again with its idempotencyKey answers what each item stored');
  assert.notEqual(keyedBatch[0].results[0].data.file_id, keyed[0].file_id, 'the same key names a batch item apart from a single upload');
  const [first, again] = fixed;
  assert.deepEqual([first.succeeded, first.failed, first.results[1].code], [2, 1, 400], JSON.stringify(first));
  assert.match(first.results[1].msg, /scheme `ftp` is not allowed/);
  assert.deepEqual([again.succeeded, again.failed], [3, 0], JSON.stringify(again));
  for (const i of [0, 2]) assert.equal(again.results[i].data.file_id, first.results[i].data.file_id, `item ${i} answers what it stored`);
  assert.equal(again.results[1].data.file_name, 'second.png');
  assert.equal(sha256((await get(again.results[1].data.download_url)).body), sha256(bytes));
  assert.deepEqual(busyBatch, { succeeded: 0, failed: 1, results: [{ success: false, code: 503, msg: busy.message, data: null }], retryAfter: 5 });
  assert.match(waited, /^409 .* after 3 polls$/, 'a poll cut after its headers is tried again');
  assert.deepEqual(waits.settled, [
    '502 origin responded with HTTP 404 fileUrl', // the job's error, placed as the server's is
    '503 busy null', // the 6th passing failure in a row
    'resolved succeeded', // 8 failures, never more than 4 in a row
    'resolved succeeded',
    'resolved succeeded',
  ]);
  assert.deepEqual(waits.polls, { failed: 2, down: 6, blips: 10, asked: 3, fast: 2 });
  // doubling from the interval: 200, 400, 800, 1600, 3200 ms (a timer fires no earlier)
  waits.downGaps.forEach((gap, i) => assert.ok(gap >= 100 * 2 ** (i + 1) - 5, `gap ${i}: ${gap} ms of ${waits.downGaps}`));
  assert.ok(waits.askedGap >= 995, `Retry-After: 1 waited ${waits.askedGap} ms, not the 200 of the doubling`);
  assert.equal(waits.progressed, 2, 'onProgress called for each answered poll, though it threw');
  assert.ok(waits.fastGap >= 95, `intervalMs 0 polled again after ${waits.fastGap} ms`);
  const abortedBy = "aborted by the call's signal";
  assert.deepEqual(aborts.outcomes, [
    `0 false ${abortedBy}`, // aborted before: nothing sent
    `0 false ${abortedBy}`, // a batch with nothing to send, aborted before
    `0 false ${abortedBy}`, // a GET on its way
    `0 true ${abortedBy}`, // an upload on its way: it may have been done
    `0 true ${abortedBy}`, // in the wait after a 500: the first send may have been done
    `0 false ${abortedBy}`, // between two polls of waitForJob
  ]);
  assert.deepEqual(aborts.sends, [0, 1], 'nothing sent after an abort');
  assert.equal(aborts.held, 2, 'the held GET and upload, once each');
  assert.equal(aborts.polls, 1, 'no poll after the abort');
  assert.deepEqual(badIds, [
    '0 invalid options: `fileId` must be a string', '0 invalid options: `fileId` must be a string',
    '0 invalid options: `jobId` must be a string', '0 invalid options: `jobId` must be a string',
    // refused before it is sent, with the server's own 400
    '400 invalid `Idempotency-Key`: must be 1 to 255 printable ASCII characters (a UUID, say)',
    '400 invalid `Idempotency-Key`: must be 1 to 255 printable ASCII characters (a UUID, say)',
    // a batch's options that are not { idempotencyKey?: string }, and a key in an item
    '0 invalid options: expected { idempotencyKey?, signal? }', '0 invalid options: expected { idempotencyKey?, signal? }',
    '0 invalid options: expected { idempotencyKey?, signal? }: `idempotencyKey` must be a string',
    '0 invalid options: expected { idempotencyKey?, signal? }: unknown option `idempotency_key` (did you mean `idempotencyKey`?)',
    "0 invalid options: expected an array of { fileUrl, uploadPath?, fileName?, expectedSha256?, expiresIn?, maxDownloads?, private?, originHeaders? }: unknown option `idempotencyKey` (the batch's own: uploadFromUrls(items, { idempotencyKey, signal }))",
    '0 invalid options: `signal` must be an AbortSignal', '0 invalid options: expected { signal? }',
    '0 invalid options: expected { signal? }: unknown option `signl`', '0 invalid options: `signal` must be an AbortSignal',
    "0 invalid options: expected an array of { fileUrl, uploadPath?, fileName?, expectedSha256?, expiresIn?, maxDownloads?, private?, originHeaders? }: unknown option `signal` (the batch's own: uploadFromUrls(items, { idempotencyKey, signal }))",
  ]);
  assert.match(notArray, /^invalid options: expected an array of \{ fileUrl, /);
  assert.doesNotMatch(notArray, /JsValue|Error: /, 'no Rust debug form, no JS error prefix');
  assert.equal(health, true);
  assert.equal(data.file_name, 'dot.png');
  assert.equal(data.mime_type, 'image/png');
  assert.equal(data.file_size, bytes.length);
  assert.equal(sha256(Buffer.from(served, 'base64')), sha256(bytes));
  assert.deepEqual(error, { name: 'UploadError', status: 401, code: 401, message: 'invalid API key', field: 'apiKey', retryAfter: null, uncertain: false, isError: true, isUploadError: true });
  assert.deepEqual(info, data);
  assert.ok(listed.includes(data.file_id), listed.join());
  assert.deepEqual(deleted, { file_id: data.file_id, deleted: true });
  assert.equal((await get(data.download_url)).status, 404, 'deleted through the package');
});

test('the Worker wasm has no client export; the client wasm has no Worker entry point', () => {
  const workerExports = wasmExports(path.join(ROOT, 'build/index_bg.wasm'));
  const clientExports = wasmExports(path.join(PKG, 'urlstash_bg.wasm'));
  assert.ok(workerExports.includes('fetch') && workerExports.includes('keyauthority_alarm'), workerExports.join(' '));
  assert.ok(!workerExports.includes('scheduled'), 'no cron entry point: expiry is the key authority\'s alarm');
  assert.deepEqual(workerExports.filter((e) => /uploadclient/i.test(e)), []);
  assert.ok(clientExports.includes('uploadclient_uploadFromUrl'), clientExports.join(' '));
  assert.deepEqual(clientExports.filter((e) => /^(fetch|scheduled|start|init)$|intounderlying|r2range|containerstartup/.test(e)), []);
  assert.doesNotMatch(fs.readFileSync(path.join(ROOT, 'build/index.js'), 'utf8'), /UploadClient/);
  assert.doesNotMatch(fs.readFileSync(path.join(PKG, 'urlstash.js'), 'utf8'), /R2Bucket|scheduled/);
});

test('neither wasm names a directory of the machine that built it', () => {
  // the checkout, the home directory, and cargo's registry wherever CARGO_HOME puts it
  // (`/usr/local/cargo/registry/src/...` on the rust images)
  const dirs = [ROOT, os.homedir(), process.env.CARGO_HOME, '/registry/src/'].filter((d) => d && d.length > 4);
  for (const file of [path.join(PKG, 'urlstash_bg.wasm'), path.join(ROOT, 'build/index_bg.wasm')]) {
    const text = fs.readFileSync(file).toString('latin1');
    assert.ok(text.includes('serde_json-'), `${file}: panic locations still name their crates`);
    for (const dir of dirs) assert.ok(!text.includes(dir), `${file} names ${dir}`);
  }
});

test('the client wasm stays small (raw, gzip and brotli measured)', () => {
  const wasm = fs.readFileSync(path.join(PKG, 'urlstash_bg.wasm'));
  const glue = fs.readFileSync(path.join(PKG, 'urlstash.js'));
  const gzip = zlib.gzipSync(wasm, { level: 9 }).length;
  const brotli = zlib.brotliCompressSync(wasm).length;
  console.log(`client wasm: ${wasm.length} B raw, ${gzip} B gzip -9, ${brotli} B brotli; JS glue ${glue.length} B raw, ${zlib.gzipSync(glue, { level: 9 }).length} B gzip`);
  // Budgets (docs/client.md): about 3 % above the size with background jobs, the link
  // controls and the Unicode name rules (raised by 2,000 B gzip for `idempotencyKey` and
  // the retries of a start that carries it; raw raised by 2,000 B for a keyed batch sent
  // whole, `uncertain` kept across sends and option errors in JavaScript's words; raw by
  // 8,000 and gzip by 3,000 for every call's `signal`; raw by 2,000 and gzip by 500 for a
  // keyed batch that waits out an item still running);
  // `make bench` reports the 100 KiB gzip target, missed since the job methods came.
  assert.ok(wasm.length < 362_000, `raw ${wasm.length}`);
  assert.ok(gzip <= 130_500, `gzip ${gzip}`);
});
