// `make bench`: this project's Worker and the reference Worker in ONE local workerd
// (Miniflare), run in turns against a loopback origin, with the floor Worker (bench/floor.js)
// in the same turns for files with Content-Length. Writes BENCHMARKS.md and
// bench/results.json; exits non-zero only if an upload failed (slow figures are measured,
// never failed). BENCH_WORKER=<path under the project>/index.js measures another build of
// the project Worker (e.g. to compare a change against a saved build).
import { Miniflare } from 'miniflare';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { startOrigin } from '../tests/http/support/origin.mjs';
import { filler } from '../tests/http/support/fixtures.mjs';
import { projectWorker, seedKey, upload } from './project.mjs';

const ROOT = path.resolve(new URL('..', import.meta.url).pathname);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const SMALL_N = Number(process.env.BENCH_SMALL_N ?? 160);
const KiB = 1024;
const MiB = 1024 * KiB;

const origin = await startOrigin();
const sizes = { '1mib': MiB, '10mib': 10 * MiB, '100mib': 100 * MiB };
// Uploads per turn: one upload of a small file is too short to time against this machine's
// noise, so a turn times several back to back and counts their mean.
const PER_TURN = { '1mib': 8, '10mib': 3, '100mib': 1 };
for (const [name, size] of Object.entries(sizes)) {
  const bytes = filler(size, size);
  origin.file(`/cl/${name}`, bytes);
  origin.file(`/nocl/${name}`, bytes, { chunked: true });
}
origin.file('/cl/10kib', filler(10 * KiB, 5));

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-bench-'));
const mf = new Miniflare({
  host: '127.0.0.1',
  port: 0,
  defaultPersistRoot: stateDir,
  workers: [
    projectWorker(origin),
    {
      name: 'reference',
      modules: true,
      scriptPath: path.join(ROOT, 'bench/reference.js'),
      compatibilityDate: '2025-09-01',
      r2Buckets: ['BUCKET'],
      routes: ['reference.bench/*'],
    },
    {
      name: 'floor',
      modules: true,
      scriptPath: path.join(ROOT, 'bench/floor.js'),
      compatibilityDate: '2025-09-01',
      r2Buckets: { BUCKET: 'floor' },
      durableObjects: { AUTHORITY: { className: 'FloorAuthority', useSQLite: true } },
      routes: ['floor.bench/*'],
    },
  ],
});
await mf.ready;
await seedKey(mf);

const failures = [];
const targets = {
  project: (url, key) => upload(mf, url, key),
  reference: (url, key) => mf.dispatchFetch(`http://reference.bench/upload?url=${encodeURIComponent(url)}&key=${key}`, { method: 'POST' }),
  floor: (url, key) => mf.dispatchFetch(`http://floor.bench/?url=${encodeURIComponent(url)}&key=${key}`, { method: 'POST' }),
  drain: (url) => mf.dispatchFetch(`http://reference.bench/drain?url=${encodeURIComponent(url)}`),
};

async function once(target, url, key) {
  const started = performance.now();
  const res = await targets[target](url, key);
  const body = await res.text();
  const seconds = (performance.now() - started) / 1000;
  if (res.status !== 200) failures.push(`${target} ${url}: ${res.status} ${body.slice(0, 200)}`);
  return seconds;
}

// --- RSS of the workerd process -----------------------------------------------------------
/** workerd processes started by this bench (descendants of this process) only. */
function workerdPids() {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,comm=']).toString().trim().split('\n').map((l) => l.trim().split(/\s+/));
  const parent = new Map(rows.map(([pid, ppid]) => [Number(pid), Number(ppid)]));
  const ours = (pid) => { for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === process.pid) return true; return false; };
  return rows.filter(([pid, , comm]) => comm === 'workerd' && ours(Number(pid))).map(([pid]) => Number(pid));
}
const rssMiB = () => workerdPids().reduce((sum, pid) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return sum + (m ? Number(m[1]) / 1024 : 0);
  } catch { return sum; }
}, 0);
async function withPeakRss(fn) {
  let peak = rssMiB();
  const timer = setInterval(() => { peak = Math.max(peak, rssMiB()); }, 20);
  try { await fn(); } finally { clearInterval(timer); }
  return Math.max(peak, rssMiB());
}

// --- statistics ------------------------------------------------------------------------------
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const spread = (xs) => [Math.min(...xs), Math.max(...xs)];
/** The median of the per-round ratios a[i] / b[i]: both ran back to back in round i, so a
 * slow moment of the (shared) machine weighs on both sides of each ratio. */
const paired = (a, b) => { const rs = a.map((x, i) => x / b[i]); return { median: median(rs), spread: spread(rs) }; };
const spreadText = (p) => `${r3(p.spread[0])}–${r3(p.spread[1])}`;
const r2 = (x) => Math.round(x * 100) / 100;
const r3 = (x) => Math.round(x * 1000) / 1000;

const results = {};
const rows = [];
const rssRows = [];
const idleRss = rssMiB();

// BENCH_ONLY=small skips the large cases while profiling (the report is then partial).
const ONLY = process.env.BENCH_ONLY;
for (const name of ONLY === 'small' ? [] : ['1mib', '10mib', '100mib']) {
  const size = sizes[name];
  const t = { project_cl: [], project_nocl: [], reference: [], floor: [], drain: [], drain_nocl: [] };
  const peaks = { project_cl: 0, project_nocl: 0, reference: 0 };
  await once('project', origin.url(`/cl/${name}`), `warm-${name}`); // warm-up, not counted
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, target, route] of [['project_cl', 'project', 'cl'], ['reference', 'reference', 'cl'], ['project_nocl', 'project', 'nocl'], ['floor', 'floor', 'cl'], ['drain', 'drain', 'cl'], ['drain_nocl', 'drain', 'nocl']]) {
      const before = rssMiB();
      let seconds = 0;
      const peak = await withPeakRss(async () => {
        for (let i = 0; i < PER_TURN[name]; i++) seconds += await once(target, origin.url(`/${route}/${name}`), `${label}-${name}.bin`);
      });
      t[label].push(seconds / PER_TURN[name]);
      if (label in peaks) peaks[label] = Math.max(peaks[label], peak - before);
    }
    process.stdout.write(`${name} round ${round + 1}/${ROUNDS}\n`);
  }
  const mbps = (secs) => size / MiB / median(secs);
  // MB/s project over MB/s reference = reference's seconds over the project's, per round.
  const pairs = {
    cl: paired(t.reference, t.project_cl),
    nocl: paired(t.reference, t.project_nocl),
    drain: paired(t.drain, t.project_cl),
    floor: paired(t.reference, t.floor),
    ofFloor: paired(t.floor, t.project_cl),
  };
  const ratio = { cl: pairs.cl.median, nocl: pairs.nocl.median, drain: pairs.drain.median };
  results[`ratio_cl_${name}`] = r3(ratio.cl);
  results[`ratio_nocl_${name}`] = r3(ratio.nocl);
  results[`ratio_drain_${name}`] = r3(ratio.drain);
  results[`ratio_floor_cl_${name}`] = r3(pairs.floor.median);
  results[`ratio_project_floor_cl_${name}`] = r3(pairs.ofFloor.median);
  for (const [label, secs] of Object.entries(t)) {
    results[`seconds_${label}_${name}`] = r3(median(secs));
    const [lo, hi] = spread(secs);
    rows.push(`| ${name} | ${label.replace('_', ' ')} | ${r3(median(secs))} | ${r3(lo)}–${r3(hi)} | ${r2(mbps(secs))} |`);
  }
  rows.push(`| ${name} | **project/reference** | | | **${r3(ratio.cl)}** (${spreadText(pairs.cl)}) with CL, **${r3(ratio.nocl)}** (${spreadText(pairs.nocl)}) without CL vs reference with CL |`);
  rows.push(`| ${name} | project/drain | | | ${r3(ratio.drain)} (${spreadText(pairs.drain)}) |`);
  rows.push(`| ${name} | floor/reference, project/floor | | | ${r3(pairs.floor.median)} (${spreadText(pairs.floor)}), ${r3(pairs.ofFloor.median)} (${spreadText(pairs.ofFloor)}) |`);
  rssRows.push(`| ${name} | ${r2(peaks.project_cl)} | ${r2(peaks.project_nocl)} | ${r2(peaks.reference)} |`);
  if (name === '100mib') results.rss_growth_mib_100mib = r2(Math.max(peaks.project_cl, peaks.project_nocl));
}

// --- small files -----------------------------------------------------------------------------
// Two workloads: every upload to a name of its own (what an upload without `file_name`
// does: the headline figures), and overwrites (each worker cycles through 8 names, so
// almost every upload replaces a file: the old file's object is deleted before the answer).
const smallRows = [];
const floorRows = [];
const workloads = [
  { label: 'new names', suffix: '', concurrency: [1, 16], key: (w, i, round) => `small-${round}-${w}-${i}.bin` },
  { label: 'overwrites', suffix: '_overwrite', concurrency: [16], key: (w, i) => `small-${w}-${i % 8}.bin` },
];
for (const workload of workloads) {
  for (const concurrency of workload.concurrency) {
    const rates = { project: [], reference: [], floor: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of ['project', 'reference', 'floor']) {
        let next = 0;
        const started = performance.now();
        await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
          while (next < SMALL_N) {
            const i = next++;
            await once(target, origin.url('/cl/10kib'), workload.key(w, i, round));
          }
        }));
        rates[target].push(SMALL_N / ((performance.now() - started) / 1000));
      }
    }
    const rate = (target) => `${r2(median(rates[target]))} (${spread(rates[target]).map(r2).join('–')})`;
    const pair = paired(rates.project, rates.reference);
    const floor = paired(rates.floor, rates.reference);
    const ofFloor = paired(rates.project, rates.floor);
    const id = `${workload.suffix}_c${concurrency}`;
    results[`ratio_small${id}`] = r3(pair.median);
    results[`ratio_floor_small${id}`] = r3(floor.median);
    results[`ratio_project_floor_small${id}`] = r3(ofFloor.median);
    results[`uploads_per_s_project${id}`] = r2(median(rates.project));
    results[`uploads_per_s_reference${id}`] = r2(median(rates.reference));
    results[`uploads_per_s_floor${id}`] = r2(median(rates.floor));
    smallRows.push(`| ${workload.label} | ${concurrency} | ${rate('project')} | ${rate('reference')} | **${r3(pair.median)}** (${spreadText(pair)}) |`);
    floorRows.push(`| ${workload.label} | ${concurrency} | ${rate('floor')} | **${r3(floor.median)}** (${spreadText(floor)}) | ${r3(ofFloor.median)} (${spreadText(ofFloor)}) |`);
  }
}

// --- sizes -------------------------------------------------------------------------------------
function wasmSize(file) {
  if (!file || !fs.existsSync(file)) return null;
  const raw = fs.readFileSync(file);
  return { raw: r2(raw.length / KiB), gzip: r2(zlib.gzipSync(raw, { level: 9 }).length / KiB) };
}
const workerWasm = wasmSize(path.join(ROOT, 'build/index_bg.wasm'));
const clientFile = fs.existsSync(path.join(ROOT, 'pkg')) ? fs.readdirSync(path.join(ROOT, 'pkg')).find((f) => f.endsWith('_bg.wasm')) : null;
const clientWasm = wasmSize(clientFile && path.join(ROOT, 'pkg', clientFile));
results.worker_wasm_raw_kib = workerWasm?.raw ?? null;
results.worker_wasm_gzip_kib = workerWasm?.gzip ?? null;
results.client_wasm_raw_kib = clientWasm?.raw ?? null;
results.client_wasm_gzip_kib = clientWasm?.gzip ?? null;

await mf.dispose();
await origin.close();
fs.rmSync(stateDir, { recursive: true, force: true });

// --- report ------------------------------------------------------------------------------------
const cpu = (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) ?? [])[1] ?? os.arch();
const machine = `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}, workerd via miniflare ${JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/miniflare/package.json'))).version}`;
results.date = new Date().toISOString();
results.machine = machine;
results.rounds = ROUNDS;
results.failures = failures.length;
if (!ONLY) fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);

const target = (ok) => (ok ? 'met' : '**missed**');
const notes = fs.readFileSync(path.join(ROOT, 'bench/NOTES.md'), 'utf8');
const md = `# Benchmarks

Generated by \`make bench\` (bench/run.mjs) on ${results.date.slice(0, 10)}: ${machine}.
Both Workers run in **one** local workerd (Miniflare), in turns (A B A B ...), ${ROUNDS} rounds per case
(a turn is ${Object.entries(PER_TURN).map(([n, k]) => `${k} upload${k > 1 ? 's' : ''} of ${n.replace('mib', ' MiB')}`).join(', ')}, timed as their mean),
against a loopback origin; figures are medians with the min–max spread, and each ratio is the
median of the per-round ratios (both sides of a round run back to back, so a slow moment of
the shared machine weighs on both), with their spread. The local stack
(loopback origin, local R2 on disk) sets the ceiling, so only the ratios measured in the same
run mean anything. The reference Worker is \`bench/reference.js\`:
\`await env.BUCKET.put(key, (await fetch(url)).body)\`; its *drain* route fetches and discards.
The *floor* Worker (\`bench/floor.js\`) makes only the storage calls the contract requires
(see [Small files](#small-files-10-kib-uploads-per-second-${SMALL_N}-per-round)): floor/reference is about as far as
any implementation of the contract can go on this runtime.
Raw figures: [bench/results.json](bench/results.json).

## Targets

| target | figure | status |
|---|---|---|
| throughput with Content-Length, 10 MiB, project/reference >= 0.95 | ${results.ratio_cl_10mib} (the contract's storage calls alone: ${results.ratio_floor_cl_10mib}) | ${target(results.ratio_cl_10mib >= 0.95)} |
| throughput with Content-Length, 100 MiB, project/reference >= 0.95 | ${results.ratio_cl_100mib} | ${target(results.ratio_cl_100mib >= 0.95)} |
| without Content-Length (multipart), 100 MiB, project/reference-with-length >= 0.8 | ${results.ratio_nocl_100mib} | ${target(results.ratio_nocl_100mib >= 0.8)} |
| 10 KiB at concurrency 16 (new names), uploads/s project/reference >= 0.7 | ${results.ratio_small_c16} (overwrites: ${results.ratio_small_overwrite_c16}; see [Small files](#small-files-10-kib-uploads-per-second-${SMALL_N}-per-round)) | ${target(results.ratio_small_c16 >= 0.7)} |
| 10 KiB at concurrency 16 (new names), uploads/s project/floor >= 0.9 | ${results.ratio_project_floor_small_c16} (overwrites: ${results.ratio_project_floor_small_overwrite_c16}) | ${target(results.ratio_project_floor_small_c16 >= 0.9)} |
| peak RSS growth of workerd during a 100 MiB upload <= 32 MiB | ${results.rss_growth_mib_100mib} MiB | ${target(results.rss_growth_mib_100mib <= 32)} |
| Worker wasm <= 400 KiB gzip | ${results.worker_wasm_gzip_kib} KiB | ${target(results.worker_wasm_gzip_kib <= 400)} |
| client wasm <= 100 KiB gzip | ${results.client_wasm_gzip_kib ?? 'not built'} KiB | ${results.client_wasm_gzip_kib == null ? 'not built (make pkg)' : target(results.client_wasm_gzip_kib <= 100)} |

## Throughput (seconds per upload)

| size | run | median s | spread s | MiB/s |
|---|---|---|---|---|
${rows.join('\n')}

## Memory: peak RSS growth of workerd over the start of each upload (MiB)

Idle workerd RSS at start: ${r2(idleRss)} MiB.

| size | project, Content-Length | project, no Content-Length | reference |
|---|---|---|---|
${rssRows.join('\n')}

## Small files: 10 KiB uploads per second (${SMALL_N} per round)

| workload | concurrency | project | reference | project/reference |
|---|---|---|---|---|
${smallRows.join('\n')}

What the contract's storage calls alone cost here: the *floor* Worker (\`bench/floor.js\`,
plain JS, in the same workerd and the same turns) makes only the calls the contract of
docs/authority.md requires (for a 10 KiB file: one R2 put of \`o/{file_id}\` with its type
and metadata, then one call to the key's Durable Object, which records the row and the
quota in one SQL transaction and deletes the object of the file the name held before; a
larger file also reserves before storing) and nothing else: no auth, sniffing or
validation. No implementation of the contract can do much better than floor/reference
here; project/floor is what the project's own work costs on top.

| workload | concurrency | floor | floor/reference | project/floor |
|---|---|---|---|---|
${floorRows.join('\n')}

## Size

| wasm | raw KiB | gzip KiB |
|---|---|---|
| Worker (build/index_bg.wasm) | ${workerWasm?.raw ?? '-'} | ${workerWasm?.gzip ?? '-'} |
| client (pkg/) | ${clientWasm?.raw ?? '-'} | ${clientWasm?.gzip ?? '-'} |

${notes}`;
if (!ONLY) fs.writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), md);
console.log(JSON.stringify(results, null, 2));
if (failures.length) {
  console.error(`FAILED uploads:\n${failures.join('\n')}`);
  process.exit(1);
}
