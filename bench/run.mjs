// `make bench`: this project's Worker and the reference Worker in ONE local workerd
// (Miniflare), run in turns against loopback origins, with the floor Worker (bench/floor.js)
// in the same turns for files with Content-Length. Files with Content-Length come from
// bench/origin.mjs, which serves ranges with a strong ETag as real origins do (so the project
// may fetch them in parallel ranges); files without come chunked from the tests' origin.
// Two throttled cases (bench/origin.mjs: 64 MiB at 4 MiB/s per connection; 100 MiB at 32 MiB/s,
// where the parallel path's memory peaks) run the project against the reference in turns of
// their own. When build-nodigest/index.js exists (`make bench`
// builds it with the crate's `no-digest` feature), that build runs in the 100 MiB turns too,
// to price the SHA-256 digest. Every answer is checked (status, the stored size, and the
// project's SHA-256 against the origin's bytes); writes BENCHMARKS.md and bench/results.json
// only when every upload succeeded, else writes neither and exits non-zero (slow figures are
// measured, never failed).
// Knobs: BENCH_ROUNDS (15), BENCH_SMALL_N (160), BENCH_THROTTLED_ROUNDS (3);
// BENCH_ONLY=small, BENCH_ONLY=throttled or BENCH_ONLY=large (10 and 100 MiB) runs only that
// case (and writes no report);
// BENCH_WORKER=<path>/index.js measures another build of the project Worker (e.g. to compare
// a change against a saved build), BENCH_WORKER_NODIGEST=<path>/index.js another no-digest
// build (a path that does not exist skips that Worker; BENCH_WORKER without it skips the
// digest's turn, which would otherwise compare two unrelated builds). BENCH_SMALL_AB=1 with BENCH_ONLY=small
// runs the BENCH_WORKER_NODIGEST build in the small turns too, as build B against build A
// (BENCH_WORKER), and prints B/A per workload: an A/B test of a change to the small path.
import { Miniflare } from 'miniflare';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { startOrigin } from '../tests/http/support/origin.mjs';
import { filler } from '../tests/http/support/fixtures.mjs';
import { startRangedOrigin } from './origin.mjs';
import { projectScript, projectWorker, seedKey, upload } from './project.mjs';

const ROOT = path.resolve(new URL('..', import.meta.url).pathname);
// What the machine was doing as the run began (a bench on a busy machine reads slower on
// every side, and its ratios spread wider): in the report beside the machine.
const LOADAVG_AT_START = os.loadavg()[0];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const SMALL_N = Number(process.env.BENCH_SMALL_N ?? 160);
// The reference takes about 16 s per throttled upload (one connection at 4 MiB/s).
const THROTTLED_ROUNDS = Number(process.env.BENCH_THROTTLED_ROUNDS ?? 3);
const KiB = 1024;
const MiB = 1024 * KiB;
const THROTTLE = 4 * MiB; // bytes/s per connection
// The parallel path's memory case: slower per connection than ONE_STREAM_MIB_S (64 MiB/s),
// five connections together faster than local R2 takes bytes.
const PARALLEL_THROTTLE = 32 * MiB;
const THROTTLED_SIZE = 64 * MiB;

// BENCH_ONLY=small skips the large cases while profiling, BENCH_ONLY=throttled runs only the
// throttled case (the report is then partial and not written).
const ONLY = process.env.BENCH_ONLY;
if (ONLY && !['small', 'throttled', 'large'].includes(ONLY)) throw new Error(`BENCH_ONLY=${ONLY}: small, throttled or large`);
const runLarge = !ONLY || ONLY === 'large';
const runThrottled = !ONLY || ONLY === 'throttled';
const runSmall = !ONLY || ONLY === 'small';

// The tests' origin serves the chunked files (no Content-Length) and the 10 KiB one; the
// ranged origin the large files with Content-Length, ranges and an ETag, as most real
// origins serve them (the reference and the floor fetch them whole all the same).
const origin = await startOrigin();
const ranged = await startRangedOrigin();
const fileUrl = (route, name) => (route === 'cl' ? ranged : origin).url(`/${route}/${name}`);
/** Each file's size and SHA-256 by its URL: what every answer is checked against. */
const expected = new Map();
const serve = (server, route, bytes, options) => {
  const url = server.file(route, bytes, options);
  expected.set(url, { size: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') });
};
const sizes = { '1mib': MiB, '10mib': 10 * MiB, '100mib': 100 * MiB };
// Uploads per turn: one upload of a small file is too short to time against this machine's
// noise, so a turn times several back to back and counts their mean.
const PER_TURN = { '1mib': 8, '10mib': 3, '100mib': 1 };
if (runLarge) {
  for (const [name, size] of Object.entries(sizes)) {
    const bytes = filler(size, size);
    serve(ranged, `/cl/${name}`, bytes);
    serve(origin, `/nocl/${name}`, bytes, { chunked: true });
  }
}
if (runThrottled) {
  serve(ranged, '/throttled/64mib', filler(THROTTLED_SIZE, 64), { throttle: THROTTLE });
  serve(ranged, '/throttled/100mib', filler(100 * MiB, 100), { throttle: PARALLEL_THROTTLE });
}
serve(origin, '/cl/10kib', filler(10 * KiB, 5));

// The project built without its SHA-256 digest (`no-digest`), beside the shipped build.
const NODIGEST_SCRIPT = path.resolve(process.env.BENCH_WORKER_NODIGEST ?? path.join(ROOT, 'build-nodigest/index.js'));
const smallAB = ONLY === 'small' && Boolean(process.env.BENCH_SMALL_AB);
// Another project build (BENCH_WORKER) prices its digest only against a no-digest build
// named with it, never against this checkout's.
const pairedNodigest = !process.env.BENCH_WORKER || Boolean(process.env.BENCH_WORKER_NODIGEST);
const runNodigest = (runLarge || smallAB) && pairedNodigest && fs.existsSync(NODIGEST_SCRIPT);
if (runLarge && !runNodigest) {
  console.log(pairedNodigest ? `${NODIGEST_SCRIPT} not found: the digest's cost is not measured (make bench builds it)` : 'BENCH_WORKER without BENCH_WORKER_NODIGEST: the digest\'s cost is not measured');
}

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-bench-'));
// Gone however the run ends (an upload past its deadline throws; the 100 MiB objects in
// local R2 would otherwise stay in /tmp). Miniflare's own exit hook stops workerd.
process.on('exit', () => fs.rmSync(stateDir, { recursive: true, force: true }));
const mf = new Miniflare({
  host: '127.0.0.1',
  port: 0,
  defaultPersistRoot: stateDir,
  workers: [
    projectWorker([origin, ranged]),
    ...(runNodigest ? [projectWorker([origin, ranged], { name: 'project-nodigest', scriptPath: NODIGEST_SCRIPT })] : []),
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
if (runNodigest) await seedKey(mf, 'project-nodigest');

const failures = [];
const targets = {
  project: (url, key) => upload(mf, url, key),
  project_nodigest: (url, key) => upload(mf, url, key, 'project-nodigest'),
  reference: (url, key) => mf.dispatchFetch(`http://reference.bench/upload?url=${encodeURIComponent(url)}&key=${key}`, { method: 'POST' }),
  floor: (url, key) => mf.dispatchFetch(`http://floor.bench/?url=${encodeURIComponent(url)}&key=${key}`, { method: 'POST' }),
  drain: (url) => mf.dispatchFetch(`http://reference.bench/drain?url=${encodeURIComponent(url)}`),
};

/** Longest an upload may take (the project's own fetch deadline is 5 minutes): past it the
 * bench ends, failed, rather than wait for ever. */
const UPLOAD_DEADLINE_MS = 10 * 60 * 1000;
const ZERO_DIGEST = '0'.repeat(64);

/** Why `target`'s answer (`status`, `body`) to an upload or drain of `url` is not what it
 * should be, or null: a 200 whose stored (or drained) size is the file's, and for the
 * project its SHA-256 of the origin's bytes (a no-digest build's is zeros, unless it is
 * BENCH_SMALL_AB's build B, which may be any build). */
function wrongAnswer(target, url, status, body) {
  if (status !== 200) return `${status} ${body.slice(0, 200)}`;
  const want = expected.get(url);
  let json;
  try { json = JSON.parse(body); } catch { return `not JSON: ${body.slice(0, 200)}`; }
  if (target.startsWith('project')) {
    const { file_size: size, sha256 } = json.data ?? {};
    const digestOk = target === 'project' ? sha256 === want.sha256 : sha256 === ZERO_DIGEST || (smallAB && sha256 === want.sha256);
    if (size !== want.size || !digestOk) return `stored ${size} bytes, SHA-256 ${sha256}; the origin's ${want.size}, ${want.sha256}`;
    return null;
  }
  const size = target === 'drain' ? json.bytes : json.size;
  return size === want.size ? null : `stored ${size} bytes of ${want.size}`;
}

async function once(target, url, key) {
  const started = performance.now();
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${target} ${url}: no answer in ${UPLOAD_DEADLINE_MS / 1000} s`)), UPLOAD_DEADLINE_MS); });
  const res = await Promise.race([targets[target](url, key), late]).finally(() => clearTimeout(timer));
  const body = await res.text();
  const seconds = (performance.now() - started) / 1000;
  const wrong = wrongAnswer(target, url, res.status, body);
  if (wrong) failures.push(`${target} ${url}: ${wrong}`);
  return seconds;
}
// Warm-up, not counted: each Worker's first request starts its isolate (and compiles its wasm).
for (const target of ['project', ...(runNodigest ? ['project_nodigest'] : []), 'reference', 'floor']) await once(target, origin.url('/cl/10kib'), 'warm-up.bin');

// --- RSS of the workerd process -----------------------------------------------------------
/** The workerd process started by this bench (a descendant of this process): exactly one,
 * else every memory and CPU figure would read another process, or nothing (0). */
function workerdPids() {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,comm=']).toString().trim().split('\n').map((l) => l.trim().split(/\s+/));
  const parent = new Map(rows.map(([pid, ppid]) => [Number(pid), Number(ppid)]));
  const ours = (pid) => { for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === process.pid) return true; return false; };
  const pids = rows.filter(([pid, , comm]) => comm === 'workerd' && ours(Number(pid))).map(([pid]) => Number(pid));
  if (pids.length !== 1) throw new Error(`expected one workerd started by the bench, found ${pids.length}: ${pids.join(', ')}`);
  return pids;
}
/** The sum of `read(pid)` over `pids` (a process that has gone counts 0). */
const sumOver = (pids, read) => pids.reduce((sum, pid) => {
  try { return sum + read(pid); } catch { return sum; }
}, 0);
/** A `/proc/{pid}/status` figure of `pids` (`VmRSS`, or `VmHWM`: the peak RSS), in MiB.
 * Listing them spawns `ps` synchronously, which stalls this process's event loop (and so
 * the origins it serves) for milliseconds: measuring loops list them once. */
const statusMiB = (field, pids = workerdPids()) => sumOver(pids, (pid) => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
});
const rssMiB = (pids) => statusMiB('VmRSS', pids);
/** CPU time `pids` used so far, in ms (utime + stime of every thread, 10 ms ticks). */
const cpuMs = (pids) => sumOver(pids, (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
});
/** How the peaks below were read, for the report: the kernel's, unless a reset was refused. */
let rssMethod = 'the kernel\'s high-water mark, `VmHWM`, reset just before the upload, so no short peak is missed';
/** The peak RSS of `pids` while `fn` runs: the kernel's high-water mark, reset to the RSS
 * just before (`clear_refs` 5), so no peak between two samples is missed; where the reset
 * is refused, the highest of samples every 20 ms (and the report says so). */
async function withPeakRss(fn, pids = workerdPids()) {
  const exact = pids.every((pid) => {
    try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); return true; } catch { return false; }
  });
  if (!exact) rssMethod = 'sampled every 20 ms: this machine refused the reset of the kernel\'s high-water mark';
  let peak = rssMiB(pids);
  const timer = exact ? null : setInterval(() => { peak = Math.max(peak, rssMiB(pids)); }, 20);
  try { await fn(); } finally { clearInterval(timer); }
  return exact ? statusMiB('VmHWM', pids) : Math.max(peak, rssMiB(pids));
}

/** `turns` in round `round`'s order: as listed, and reversed every other round, so that no
 * side always follows the same neighbour (what a turn leaves behind, R2's writes of a large
 * file above all, weighs on the next turn in both directions). */
const inOrder = (turns, round) => (round % 2 ? [...turns].reverse() : turns);

// --- statistics ------------------------------------------------------------------------------
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const spread = (xs) => [Math.min(...xs), Math.max(...xs)];
/** The median of the per-round ratios a[i] / b[i]: both ran back to back in round i, so a
 * slow moment of the (shared) machine weighs on both sides of each ratio. */
const paired = (a, b) => { const rs = a.map((x, i) => x / b[i]); return { median: median(rs), spread: spread(rs) }; };
const spreadText = (p) => `${r3(p.spread[0])}–${r3(p.spread[1])}`;
const r2 = (x) => Math.round(x * 100) / 100;
const r3 = (x) => Math.round(x * 1000) / 1000;
const pct = (x) => (x == null ? '-' : `${r2(x * 100)} %`);

const results = {};
const rows = [];
const rssRows = [];
const idleRss = rssMiB();

for (const name of runLarge ? (ONLY === 'large' ? ['10mib', '100mib'] : ['1mib', '10mib', '100mib']) : []) {
  const size = sizes[name];
  // The no-digest build runs in the 100 MiB turns only, next to the shipped build (after it,
  // or before it in the rounds whose order is reversed).
  const nodigest = runNodigest && name === '100mib';
  const t = { project_cl: [], ...(nodigest ? { project_nodigest_cl: [] } : {}), project_nocl: [], reference: [], floor: [], drain: [], drain_nocl: [] };
  const peaks = { project_cl: 0, project_nocl: 0, reference: 0 };
  const sentRatio = []; // what the origin sent for the project's upload with Content-Length, over the file's size
  const rangeCounts = []; // and how many ranged requests it answered for it
  const turns = [['project_cl', 'project', 'cl'], ...(nodigest ? [['project_nodigest_cl', 'project_nodigest', 'cl']] : []), ['reference', 'reference', 'cl'], ['project_nocl', 'project', 'nocl'], ['floor', 'floor', 'cl'], ['drain', 'drain', 'cl'], ['drain_nocl', 'drain', 'nocl']];
  // Warm-up, not counted: every turn's Worker and route once at this size, so that no side's
  // first upload of it (its isolate growing to it) is counted.
  for (const [label, target, route] of turns) await once(target, fileUrl(route, name), `warm-${label}-${name}.bin`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, target, route] of inOrder(turns, round)) {
      ranged.resetSent(`/cl/${name}`);
      const before = rssMiB();
      let seconds = 0;
      const peak = await withPeakRss(async () => {
        for (let i = 0; i < PER_TURN[name]; i++) seconds += await once(target, fileUrl(route, name), `${label}-${name}.bin`);
      });
      t[label].push(seconds / PER_TURN[name]);
      if (label in peaks) peaks[label] = Math.max(peaks[label], peak - before);
      if (label === 'project_cl') {
        sentRatio.push(ranged.sent(`/cl/${name}`) / (size * PER_TURN[name]));
        rangeCounts.push(ranged.ranges(`/cl/${name}`) / PER_TURN[name]);
      }
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
  results[`origin_bytes_per_size_project_cl_${name}`] = r3(median(sentRatio));
  results[`origin_range_requests_project_cl_${name}`] = r2(median(rangeCounts));
  for (const [label, secs] of Object.entries(t)) {
    results[`seconds_${label}_${name}`] = r3(median(secs));
    const [lo, hi] = spread(secs);
    rows.push(`| ${name} | ${label.replaceAll('_', ' ')} | ${r3(median(secs))} | ${r3(lo)}–${r3(hi)} | ${r2(mbps(secs))} |`);
  }
  rows.push(`| ${name} | **project/reference** | | | **${r3(ratio.cl)}** (${spreadText(pairs.cl)}) with CL, **${r3(ratio.nocl)}** (${spreadText(pairs.nocl)}) without CL vs reference with CL |`);
  rows.push(`| ${name} | project/drain | | | ${r3(ratio.drain)} (${spreadText(pairs.drain)}) |`);
  rows.push(`| ${name} | floor/reference, project/floor | | | ${r3(pairs.floor.median)} (${spreadText(pairs.floor)}), ${r3(pairs.ofFloor.median)} (${spreadText(pairs.ofFloor)}) |`);
  rssRows.push(`| ${name} | ${r2(peaks.project_cl)} | ${r2(peaks.project_nocl)} | ${r2(peaks.reference)} |`);
  if (nodigest) {
    // The digest's cost: the shipped build's throughput over the no-digest build's, per round.
    const withDigest = paired(t.project_nodigest_cl, t.project_cl);
    const nd = paired(t.reference, t.project_nodigest_cl);
    results.ratio_cl_100mib_nodigest = r3(nd.median);
    results.digest_cost_100mib = r3(1 - withDigest.median);
    rows.push(`| ${name} | project/reference without the digest (no-digest build) | | | ${r3(nd.median)} (${spreadText(nd)}); the digest costs ${pct(1 - withDigest.median)} (${pct(1 - withDigest.spread[1])} to ${pct(1 - withDigest.spread[0])}) of the no-digest build's throughput (median of the per-round ratios of the two builds, not the quotient of the two medians beside) |`);
  }
  if (name === '100mib') {
    // In this workerd, after every turn before: what the turns left behind (freed memory not
    // returned, a heap grown by earlier uploads) hides some of the growth. The targets read
    // the fresh-workerd figures below ("Memory").
    results.rss_growth_mib_100mib_in_run = r2(Math.max(peaks.project_cl, peaks.project_nocl));
  }
}

// --- throttled origins ------------------------------------------------------------------------
// Two cases from the ranged origin, each connection held to a rate. 64 MiB at 4 MiB/s: one
// stream (the reference) takes 16 s; several ranged connections at once take a fraction of
// that. 100 MiB at 32 MiB/s: slower than ONE_STREAM_MIB_S, so the project takes its parallel
// path, and 5 connections bring more than local R2 takes: the parallel path's memory at its
// fullest (`rss_growth_mib_parallel_100mib`).
const THROTTLED_CASES = [
  { name: '64mib', file: '/throttled/64mib', size: THROTTLED_SIZE, throttle: THROTTLE },
  { name: '100mib_32', file: '/throttled/100mib', size: 100 * MiB, throttle: PARALLEL_THROTTLE },
];
const throttledRows = [];
if (runThrottled) {
  // warm-up, not counted (BENCH_ONLY=throttled starts here with a fresh workerd)
  for (const target of ['project', 'reference']) await once(target, origin.url('/cl/10kib'), 'warm-throttled.bin');
}
for (const c of runThrottled ? THROTTLED_CASES : []) {
  const t = { project: [], reference: [] };
  const sentRatio = [];
  const rangeCounts = [];
  const peaks = { project: 0, reference: 0 };
  for (let round = 0; round < THROTTLED_ROUNDS; round++) {
    for (const target of inOrder(['project', 'reference'], round)) {
      ranged.resetSent(c.file);
      const before = rssMiB();
      let seconds = 0;
      const top = await withPeakRss(async () => { seconds = await once(target, ranged.url(c.file), `throttled-${c.name}-${round}.bin`); });
      peaks[target] = Math.max(peaks[target], top - before);
      t[target].push(seconds);
      if (target === 'project') {
        sentRatio.push(ranged.sent(c.file) / c.size);
        rangeCounts.push(ranged.ranges(c.file));
      }
    }
    process.stdout.write(`throttled ${c.name} round ${round + 1}/${THROTTLED_ROUNDS}: project ${r2(t.project.at(-1))} s, reference ${r2(t.reference.at(-1))} s\n`);
  }
  const pair = paired(t.reference, t.project);
  results[`ratio_throttled_${c.name}`] = r3(pair.median);
  const what = `${c.size / MiB} MiB at ${c.throttle / MiB} MiB/s`;
  for (const [label, secs] of Object.entries(t)) {
    results[`seconds_${label}_throttled_${c.name}`] = r3(median(secs));
    results[`mib_per_s_${label}_throttled_${c.name}`] = r2(c.size / MiB / median(secs));
    const [lo, hi] = spread(secs);
    const sent = label === 'project' ? `${r3(median(sentRatio))} (${spread(sentRatio).map(r3).join('–')})` : '1 (one stream)';
    const requests = label === 'project' ? r2(median(rangeCounts)) : 0;
    throttledRows.push(`| ${what} | ${label} | ${r3(median(secs))} | ${r3(lo)}–${r3(hi)} | ${r2(c.size / MiB / median(secs))} | ${sent} | ${requests} | ${r2(peaks[label])} |`);
  }
  throttledRows.push(`| ${what} | **project/reference** | | | **${r3(pair.median)}** (${spreadText(pair)}) | | | |`);
  results[`origin_bytes_per_size_project_throttled_${c.name}`] = r3(median(sentRatio));
  results[`origin_range_requests_project_throttled_${c.name}`] = r2(median(rangeCounts));
  results[`rss_growth_mib_throttled_${c.name}`] = r2(peaks.project);
  results[`rss_growth_mib_reference_throttled_${c.name}`] = r2(peaks.reference);
}

// --- small files -----------------------------------------------------------------------------
// Two workloads: every upload to a name of its own (what an upload without `file_name`
// does: the headline figures), and overwrites (each worker cycles through 8 names, so
// almost every upload replaces a file: the old file's object is deleted before the answer).
const smallRows = [];
const floorRows = [];
const cpuRows = [];
const workloads = [
  // (the concurrency in the name: a name of the concurrency-1 pass is not overwritten at 16)
  { label: 'new names', suffix: '', concurrency: [1, 16], key: (w, i, round, concurrency) => `small-c${concurrency}-${round}-${w}-${i}.bin` },
  { label: 'overwrites', suffix: '_overwrite', concurrency: [16], names: 8, key: (w, i) => `small-${w}-${i % 8}.bin` },
];
for (const workload of runSmall ? workloads : []) {
  for (const concurrency of workload.concurrency) {
    const rates = { project: [], project_nodigest: [], reference: [], floor: [] };
    const cpu = { project: 0, project_nodigest: 0, reference: 0, floor: 0 };
    const pids = workerdPids();
    const targetsHere = ['project', ...(smallAB && runNodigest ? ['project_nodigest'] : []), 'reference', 'floor'];
    /** `SMALL_N` uploads by `target`, `concurrency` at a time: their rate, and workerd's CPU. */
    const turn = async (target, round) => {
      let next = 0;
      const cpuBefore = cpuMs(pids);
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
        while (next < SMALL_N) {
          const i = next++;
          await once(target, origin.url('/cl/10kib'), workload.key(w, i, round, concurrency));
        }
      }));
      return { rate: SMALL_N / ((performance.now() - started) / 1000), cpu: cpuMs(pids) - cpuBefore };
    };
    // Overwrites: every name a counted round may use (each lane's 8) written first,
    // uncounted, so that every counted upload replaces a file.
    if (workload.names) {
      for (const target of targetsHere) {
        await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
          for (let i = 0; i < workload.names; i++) await once(target, origin.url('/cl/10kib'), workload.key(w, i));
        }));
      }
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of inOrder(targetsHere, round)) {
        const done = await turn(target, round);
        rates[target].push(done.rate);
        cpu[target] += done.cpu;
      }
    }
    const rate = (target) => `${r2(median(rates[target]))} (${spread(rates[target]).map(r2).join('–')})`;
    const pair = paired(rates.project, rates.reference);
    const floor = paired(rates.floor, rates.reference);
    const ofFloor = paired(rates.project, rates.floor);
    const id = `${workload.suffix}_c${concurrency}`;
    const perUpload = (target) => r3(cpu[target] / (ROUNDS * SMALL_N));
    results[`cpu_ms_per_upload_project${id}`] = perUpload('project');
    results[`cpu_ms_per_upload_reference${id}`] = perUpload('reference');
    results[`cpu_ms_per_upload_floor${id}`] = perUpload('floor');
    if (rates.project_nodigest.length) {
      const ab = paired(rates.project_nodigest, rates.project);
      console.log(`A/B ${workload.label} c${concurrency}: B/A ${r3(ab.median)} (${spreadText(ab)}); A/floor ${r3(ofFloor.median)}, B/floor ${r3(paired(rates.project_nodigest, rates.floor).median)}; `
        + `workerd CPU ms per upload: A ${perUpload('project')}, B ${perUpload('project_nodigest')}, floor ${perUpload('floor')}, reference ${perUpload('reference')}`);
    }
    results[`ratio_small${id}`] = r3(pair.median);
    results[`ratio_floor_small${id}`] = r3(floor.median);
    results[`ratio_project_floor_small${id}`] = r3(ofFloor.median);
    results[`uploads_per_s_project${id}`] = r2(median(rates.project));
    results[`uploads_per_s_reference${id}`] = r2(median(rates.reference));
    results[`uploads_per_s_floor${id}`] = r2(median(rates.floor));
    smallRows.push(`| ${workload.label} | ${concurrency} | ${rate('project')} | ${rate('reference')} | **${r3(pair.median)}** (${spreadText(pair)}) |`);
    floorRows.push(`| ${workload.label} | ${concurrency} | ${rate('floor')} | **${r3(floor.median)}** (${spreadText(floor)}) | ${r3(ofFloor.median)} (${spreadText(ofFloor)}) |`);
    cpuRows.push(`| ${workload.label} | ${concurrency} | ${perUpload('project')} | ${perUpload('floor')} | ${perUpload('reference')} | ${r3(cpu.floor / cpu.project)} |`);
  }
}

// --- sizes -------------------------------------------------------------------------------------
function wasmSize(file) {
  if (!file || !fs.existsSync(file)) return null;
  const raw = fs.readFileSync(file);
  return { raw: r2(raw.length / KiB), gzip: r2(zlib.gzipSync(raw, { level: 9 }).length / KiB) };
}
const workerWasm = wasmSize(path.join(path.dirname(projectScript()), 'index_bg.wasm'));
const clientFile = fs.existsSync(path.join(ROOT, 'pkg')) ? fs.readdirSync(path.join(ROOT, 'pkg')).find((f) => f.endsWith('_bg.wasm')) : null;
const clientWasm = wasmSize(clientFile && path.join(ROOT, 'pkg', clientFile));
results.worker_wasm_raw_kib = workerWasm?.raw ?? null;
results.worker_wasm_gzip_kib = workerWasm?.gzip ?? null;
results.client_wasm_raw_kib = clientWasm?.raw ?? null;
results.client_wasm_gzip_kib = clientWasm?.gzip ?? null;

await mf.dispose();
fs.rmSync(stateDir, { recursive: true, force: true });

// --- memory, each upload in a fresh workerd ------------------------------------------------
// The peak RSS growth of an upload, measured where nothing decides it but the upload: a
// workerd of its own for each repetition (the project and the reference Workers, a 10 KiB
// warm-up upload each), where the reference first uploads the same file, uncounted, so that
// what the runtime itself grows to on its first large upload (local R2's buffers, sockets)
// is not counted against the project. Then the project's first upload of it (the figure the
// targets read), the project's second (what an isolate that did it once grows again), and
// the reference's second. In the shared workerd above, what earlier turns left behind hides
// growth, so a later case may read less than it needs.
const MEMORY_REPS = Number(process.env.BENCH_MEMORY_REPS ?? 3);
const memoryCases = [
  ...(runLarge ? [
    { id: '100mib_cl', what: '100 MiB with Content-Length, loopback (one stream)', url: () => ranged.url('/cl/100mib') },
    // the reference takes a body of known length only: its uploads are of the same file with one
    { id: '100mib_nocl', what: '100 MiB without Content-Length (multipart)', url: () => origin.url('/nocl/100mib'), referenceUrl: () => ranged.url('/cl/100mib') },
  ] : []),
  ...(runThrottled ? [
    // (`ranged`: the project's upload must take its parallel path, else the figure is another path's)
    { id: 'parallel_64mib', what: '64 MiB at 4 MiB/s per connection (parallel ranges)', url: () => ranged.url('/throttled/64mib'), ranged: '/throttled/64mib' },
    { id: 'parallel_100mib', what: '100 MiB at 32 MiB/s per connection (parallel ranges)', url: () => ranged.url('/throttled/100mib'), ranged: '/throttled/100mib' },
  ] : []),
];
const memoryRows = [];
for (const c of memoryCases) {
  const growth = { first: [], again: [], reference: [] };
  for (let rep = 0; rep < MEMORY_REPS; rep++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-bench-mem-'));
    const fresh = new Miniflare({
      host: '127.0.0.1', port: 0, defaultPersistRoot: dir,
      workers: [projectWorker([origin, ranged]), { name: 'reference', modules: true, scriptPath: path.join(ROOT, 'bench/reference.js'), compatibilityDate: '2025-09-01', r2Buckets: ['BUCKET'], routes: ['reference.bench/*'] }],
    });
    const run = async (who, url, key) => {
      const res = who === 'project' ? await upload(fresh, url, key) : await fresh.dispatchFetch(`http://reference.bench/upload?url=${encodeURIComponent(url)}&key=${key}`, { method: 'POST' });
      const body = await res.text();
      const wrong = wrongAnswer(who, url, res.status, body);
      if (wrong) failures.push(`${who} (fresh workerd) ${url}: ${wrong}`);
    };
    try {
      await fresh.ready;
      await seedKey(fresh);
      await run('project', origin.url('/cl/10kib'), 'warm-up.bin');
      await run('reference', origin.url('/cl/10kib'), 'warm-up.bin');
      const referenceUrl = (c.referenceUrl ?? c.url)();
      await run('reference', referenceUrl, `memory-warm-${c.id}.bin`);
      const pids = workerdPids();
      const measured = async (who, key) => {
        if (c.ranged) ranged.resetSent(c.ranged);
        const before = rssMiB(pids);
        const growth = (await withPeakRss(() => run(who, who === 'project' ? c.url() : referenceUrl, key), pids)) - before;
        if (c.ranged && who === 'project' && ranged.ranges(c.ranged) < 2) {
          failures.push(`project (fresh workerd) ${c.url()}: ${ranged.ranges(c.ranged)} ranged requests, not the parallel path`);
        }
        return growth;
      };
      growth.first.push(await measured('project', `memory-${c.id}-1.bin`));
      growth.again.push(await measured('project', `memory-${c.id}-2.bin`));
      growth.reference.push(await measured('reference', `memory-${c.id}-2.bin`));
    } finally {
      await fresh.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const top = (xs) => r2(Math.max(...xs));
  results[`rss_growth_mib_${c.id}`] = top(growth.first);
  results[`rss_growth_mib_${c.id}_again`] = top(growth.again);
  results[`rss_growth_mib_reference_${c.id}`] = top(growth.reference);
  memoryRows.push(`| ${c.what} | **${top(growth.first)}** (${growth.first.map(r2).join(', ')}) | ${top(growth.again)} (${growth.again.map(r2).join(', ')}) | ${top(growth.reference)} (${growth.reference.map(r2).join(', ')}) |`);
  process.stdout.write(`memory ${c.id}: project ${growth.first.map(r2).join(', ')}; again ${growth.again.map(r2).join(', ')}; reference ${growth.reference.map(r2).join(', ')} MiB\n`);
}
if (results.rss_growth_mib_100mib_cl != null) results.rss_growth_mib_100mib = r2(Math.max(results.rss_growth_mib_100mib_cl, results.rss_growth_mib_100mib_nocl));

await origin.close();
await ranged.close();

// --- report ------------------------------------------------------------------------------------
const cpu = (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) ?? [])[1] ?? os.arch();
const version = (pkg) => JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'))).version;
const machine = `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}, workerd ${version('workerd')} via miniflare ${version('miniflare')}`;
results.date = new Date().toISOString();
results.machine = machine;
results.rounds = ROUNDS;
results.throttled_rounds = THROTTLED_ROUNDS;
results.loadavg_at_start = r2(LOADAVG_AT_START);
results.rss_method = rssMethod;
// A run with a failed upload (or a wrong answer) has figures that mean nothing: no report.
const publish = !ONLY && failures.length === 0;
if (publish) fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);

const target = (ok) => (ok ? 'met' : '**missed**');
/** A target's status, or why it was not measured in this run. */
const status = (figure, ok, why = 'not measured') => (figure == null ? why : target(ok));
const notes = fs.readFileSync(path.join(ROOT, 'bench/NOTES.md'), 'utf8');
const md = `# Benchmarks

Generated by \`make bench\` (bench/run.mjs) on ${results.date.slice(0, 10)}: ${machine}; load average ${results.loadavg_at_start} as it began.
Both Workers run in **one** local workerd (Miniflare), in turns (A B, then B A: the order
reversed every other round, so no side always follows the same one), ${ROUNDS} rounds per case
(a turn is ${Object.entries(PER_TURN).map(([n, k]) => `${k} upload${k > 1 ? 's' : ''} of ${n.replace('mib', ' MiB')}`).join(', ')}, timed as their mean),
against loopback origins; figures are medians with the min–max spread, and each ratio is the
median of the per-round ratios (both sides of a round run back to back, so a slow moment of
the shared machine weighs on both), with their spread. The local stack
(loopback origins, local R2 on disk) sets the ceiling, so only the ratios measured in the same
run mean anything. Files with Content-Length come from \`bench/origin.mjs\`, which answers
\`Range\` requests and sends a strong \`ETag\`, as most real origins do, so the project may
fetch them in parallel ranges; files without Content-Length come chunked, from one stream.
The reference Worker is \`bench/reference.js\`:
\`await env.BUCKET.put(key, (await fetch(url)).body)\` (answering 502 for an origin's error page);
its *drain* route fetches and discards. Every answer is checked: the size stored (or read),
and the project's SHA-256 against the origin's bytes; a run with a failed upload writes no report.
The *floor* Worker (\`bench/floor.js\`) makes only the storage calls the contract requires
(see [Small files](#small-files-10-kib-uploads-per-second-${SMALL_N}-per-round)): floor/reference is about as far as
any implementation of the contract can go on this runtime.
Raw figures: [bench/results.json](bench/results.json).

## Targets

| target | figure | status |
|---|---|---|
| throughput with Content-Length, 10 MiB, project/reference >= 0.95 | ${results.ratio_cl_10mib} (the contract's storage calls alone: ${results.ratio_floor_cl_10mib}) | ${target(results.ratio_cl_10mib >= 0.95)} |
| throughput with Content-Length, 100 MiB, project/reference >= 0.95 | ${results.ratio_cl_100mib} (the contract's storage calls alone: ${results.ratio_floor_cl_100mib}) | ${target(results.ratio_cl_100mib >= 0.95)} |
| without Content-Length (multipart), 100 MiB, project/reference-with-length >= 0.8 | ${results.ratio_nocl_100mib} | ${target(results.ratio_nocl_100mib >= 0.8)} |
| throttled origin (4 MiB/s per connection, ranges), 64 MiB, project/reference >= 3.5 | ${results.ratio_throttled_64mib ?? '-'} (see [Throttled origin](#throttled-origin-64-mib-at-4-mibs-per-connection)) | ${status(results.ratio_throttled_64mib, results.ratio_throttled_64mib >= 3.5)} |
| the SHA-256 digest's cost, 100 MiB with Content-Length, <= 5 % | ${pct(results.digest_cost_100mib)} of the no-digest build's throughput (median of the per-round ratios of the two builds; project/reference ${results.ratio_cl_100mib}, without the digest ${results.ratio_cl_100mib_nodigest ?? '-'}, are medians of other ratios) | ${status(results.digest_cost_100mib, results.digest_cost_100mib <= 0.05, 'not measured (no build-nodigest/)')} |
| 10 KiB at concurrency 16 (new names), uploads/s project/reference >= 0.7 | ${results.ratio_small_c16} (the contract's storage calls alone: ${results.ratio_floor_small_c16}; overwrites: ${results.ratio_small_overwrite_c16}; see [Small files](#small-files-10-kib-uploads-per-second-${SMALL_N}-per-round)) | ${target(results.ratio_small_c16 >= 0.7)} |
| 10 KiB at concurrency 16 (new names), uploads/s project/floor >= 0.9 | ${results.ratio_project_floor_small_c16} (overwrites: ${results.ratio_project_floor_small_overwrite_c16}) | ${target(results.ratio_project_floor_small_c16 >= 0.9)} |
| peak RSS growth of workerd during a 100 MiB upload <= 32 MiB (a fresh workerd each, the larger of with and without Content-Length; see [Memory](#memory-peak-rss-growth-of-workerd-during-one-upload-in-a-fresh-workerd-mib)) | ${results.rss_growth_mib_100mib ?? '-'} MiB | ${status(results.rss_growth_mib_100mib, results.rss_growth_mib_100mib <= 32)} |
| peak RSS growth of workerd during a parallel (ranged) 100 MiB upload <= 64 MiB (a fresh workerd each, 32 MiB/s per connection; 64 MiB at 4 MiB/s beside it, for information) | ${results.rss_growth_mib_parallel_100mib ?? '-'} MiB (64 MiB: ${results.rss_growth_mib_parallel_64mib ?? '-'} MiB) | ${status(results.rss_growth_mib_parallel_100mib, results.rss_growth_mib_parallel_100mib <= 64)} |
| Worker wasm <= 400 KiB gzip | ${results.worker_wasm_gzip_kib} KiB | ${target(results.worker_wasm_gzip_kib <= 400)} |
| client wasm <= 100 KiB gzip | ${results.client_wasm_gzip_kib ?? 'not built'} KiB | ${results.client_wasm_gzip_kib == null ? 'not built (make pkg)' : target(results.client_wasm_gzip_kib <= 100)} |

## Throughput (seconds per upload)

| size | run | median s | spread s | MiB/s |
|---|---|---|---|---|
${rows.join('\n')}

## Throttled origin: 64 MiB at 4 MiB/s per connection

\`bench/origin.mjs\` serves a 64 MiB file with Content-Length, \`Accept-Ranges: bytes\` and a
strong \`ETag\`, and holds each connection to 4 MiB/s (a token bucket per socket), as a
far-away server, a throttled CDN or S3's per-connection rate does. The reference fetches it as
one stream, so it takes about 16 s; the project may open several ranged connections at once.
A second case serves 100 MiB at 32 MiB/s per connection: slower than \`ONE_STREAM_MIB_S\`
(64), so the project takes its parallel path, and five connections bring more than local R2
takes, so the parts wait for R2: the parallel path's peak memory.
Project and reference run in turns, ${THROTTLED_ROUNDS} rounds (BENCH_THROTTLED_ROUNDS); the
ratio is the median of the per-round throughput ratios. *Origin bytes* is what the origin
sent for one upload over the file's size (1 means nothing was fetched twice); *ranges*, the
ranged requests it answered for one upload (0: one stream); *RSS*, the peak RSS growth of
workerd during the uploads (MiB), in the shared workerd after the cases before (see
[Memory](#memory-peak-rss-growth-of-workerd-during-one-upload-in-a-fresh-workerd-mib) for
each upload in a workerd of its own).

| case | run | median s | spread s | MiB/s | origin bytes / size | ranges | RSS |
|---|---|---|---|---|---|---|---|
${throttledRows.join('\n')}

## Memory: peak RSS growth of workerd during one upload, in a fresh workerd (MiB)

Each case in a workerd of its own, started for it, ${MEMORY_REPS} times (BENCH_MEMORY_REPS):
the project and the reference Workers, a 10 KiB warm-up upload each, then the reference's
upload of the same file, uncounted (what the runtime grows to on its first large upload:
local R2's buffers, sockets, is not the project's); then, each counted as the growth of
workerd's RSS from just before the upload to its peak (${rssMethod}): the project's
first upload of the file (the figure the targets read), its second, and the reference's
second (the reference fetches the file of the no-Content-Length case with its length: it
cannot store a body of unknown length). The largest of the repetitions, then each.

| upload | project, first | project, again | reference, again |
|---|---|---|---|
${memoryRows.join('\n')}

The same in the shared workerd of the throughput turns (over the start of each turn, after
every turn before: freed memory the allocator keeps and a heap already grown hide some of
the growth, so these are not what an upload needs). Idle workerd RSS at start: ${r2(idleRss)} MiB.

| size | project, Content-Length (ranged origin) | project, no Content-Length | reference |
|---|---|---|---|
${rssRows.join('\n')}

What the ranged origin sent for one project upload with Content-Length, over the file's size
(and in how many ranged requests):
${['1mib', '10mib', '100mib'].map((n) => `${n.replace('mib', ' MiB')} ${results[`origin_bytes_per_size_project_cl_${n}`]} (${results[`origin_range_requests_project_cl_${n}`]})`).join(', ')}.

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

CPU time of the workerd process (every thread: the Workers, local R2, KV and Durable Object
storage) per upload, summed over all rounds of each Worker's turns (\`/proc\`, 10 ms ticks).
It moves less from run to run than the rates, and at concurrency 16, where workerd's one
thread is the bottleneck, it is what the rates follow.

| workload | concurrency | project ms | floor ms | reference ms | floor/project |
|---|---|---|---|---|---|
${cpuRows.join('\n')}

## Size

| wasm | raw KiB | gzip KiB |
|---|---|---|
| Worker (build/index_bg.wasm) | ${workerWasm?.raw ?? '-'} | ${workerWasm?.gzip ?? '-'} |
| client (pkg/) | ${clientWasm?.raw ?? '-'} | ${clientWasm?.gzip ?? '-'} |

${notes}`;
if (publish) fs.writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), md);
console.log(JSON.stringify(results, null, 2));
if (failures.length) {
  console.error(`FAILED uploads (BENCHMARKS.md and bench/results.json not written):\n${failures.join('\n')}`);
  process.exit(1);
}
