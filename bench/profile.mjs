// `node bench/profile.mjs`: where the project isolate's time goes during 10 KiB uploads at
// concurrency 16. Runs the Worker in Miniflare with workerd's inspector on, takes a V8
// sampling profile over PROFILE_N uploads (after as many to warm up) and prints the
// functions with the most samples, self and inclusive. The shipped build strips wasm
// function names; profile a build that keeps them (worker-build's output before the
// Makefile's wasm-opt strip step, copied under the project) with BENCH_WORKER=<path>/index.js.
import { Miniflare } from 'miniflare';
import WebSocket from 'ws';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startOrigin } from '../tests/http/support/origin.mjs';
import { filler } from '../tests/http/support/fixtures.mjs';
import { projectWorker, seedKey, uploadMany } from './project.mjs';

const N = Number(process.env.PROFILE_N ?? 1600);
const TOP = Number(process.env.PROFILE_TOP ?? 40);

const freePort = () => new Promise((resolve) => {
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

const origin = await startOrigin();
origin.file('/small', filler(10 * 1024, 5));
const inspectorPort = await freePort();
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-profile-'));
const mf = new Miniflare({ host: '127.0.0.1', port: 0, inspectorPort, defaultPersistRoot: stateDir, workers: [projectWorker(origin)] });
await mf.ready;
await seedKey(mf);

// New names: each pass (the warm-up, then the profiled one) names its files apart, so the
// profiled pass overwrites nothing. PROFILE_OVERWRITE=1: 8 names per lane, overwritten.
const load = (count, pass) => uploadMany(mf, origin.url('/small'), {
  count,
  concurrency: 16,
  name: (w, i) => (process.env.PROFILE_OVERWRITE ? `small-${w}-${i % 8}.bin` : `small-${pass}-${w}-${i}.bin`),
});

/** A Chrome DevTools Protocol session on the project isolate. */
async function inspect() {
  const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/core:user:project`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const waiting = new Map();
  let id = 0;
  ws.on('message', (data) => {
    const msg = JSON.parse(data);
    waiting.get(msg.id)?.(msg.result);
    waiting.delete(msg.id);
  });
  const send = (method, params = {}) => new Promise((resolve) => {
    waiting.set(++id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
  return { send, close: () => ws.close() };
}

/** Prints the TOP entries of `counts` (name -> samples) as percentages of `total`. */
function table(title, counts, total) {
  console.log(`--- ${title}`);
  for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${(100 * n / total).toFixed(1).padStart(5)} ${name.slice(0, 160)}`);
  }
}

await load(N, 'warm');
const session = await inspect();
await session.send('Profiler.enable');
await session.send('Profiler.setSamplingInterval', { interval: 200 });
await session.send('Profiler.start');
const started = performance.now();
await load(N, 'profiled');
const seconds = (performance.now() - started) / 1000;
const { profile } = await session.send('Profiler.stop');
session.close();
console.log(`${N} uploads at concurrency 16: ${(N / seconds).toFixed(1)} uploads/s (profiler on)`);

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const name = (id) => nodes.get(id).callFrame.functionName || '(anonymous)';
const samples = new Map();
for (const id of profile.samples) samples.set(id, (samples.get(id) ?? 0) + 1);
const self = new Map();
const inclusive = new Map();
for (const [id, n] of samples) {
  self.set(name(id), (self.get(name(id)) ?? 0) + n);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) seen.add(name(at));
  for (const fn of seen) inclusive.set(fn, (inclusive.get(fn) ?? 0) + n);
}
// Self samples by kind: the project's own wasm, the wasm-bindgen glue (`__wbg_*`, `__wbindgen_*`),
// and the rest (the runtime's natives and JS, GC, idle).
const kinds = new Map();
for (const [fn, n] of self) {
  const kind = fn.startsWith('wasm-function') || fn.startsWith('js-to-wasm') ? 'wasm' : fn.startsWith('__wb') || fn === 'wasm-to-js' ? 'glue' : fn;
  kinds.set(kind, (kinds.get(kind) ?? 0) + n);
}
table('self, by kind', kinds, profile.samples.length);
table('self', self, profile.samples.length);
table('inclusive', inclusive, profile.samples.length);

await mf.dispose();
await origin.close();
fs.rmSync(stateDir, { recursive: true, force: true });
