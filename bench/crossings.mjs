// `node bench/crossings.mjs`: how many calls a 10 KiB upload makes from the project's wasm
// into JS (the wasm-bindgen imports: the runtime's APIs, string and object conversions, the
// futures' closures), the Worker and its key's Durable Object together. Runs a copy of the
// build (BENCH_WORKER=<path>/index.js, or build/index.js) in Miniflare with every import
// wrapped in a counter, makes CROSSINGS_N uploads at concurrency 16 after a warm-up, and
// prints the calls per upload by import. The names are the build's own (`__wbg_put_…`):
// search the build's index.js for one to see the JS it runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { startOrigin } from '../tests/http/support/origin.mjs';
import { filler } from '../tests/http/support/fixtures.mjs';
import { projectScript, projectWorker, seedKey, uploadMany } from './project.mjs';

const N = Number(process.env.CROSSINGS_N ?? 400);
const DUMP = '/__crossings';

// The copy: each import counted, and the counts logged when a request for DUMP passes
// through any import (the entry point reads every request's URL).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-crossings-'));
fs.cpSync(path.dirname(projectScript()), dir, { recursive: true });
const glue = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
const instantiate = 'new WebAssembly.Instance(tt,_t())';
if (!glue.includes(instantiate)) throw new Error(`the build's glue has no ${instantiate}: update this script`);
const counter = `globalThis.__crossings = {};
function __counted(imports) {
  const module = imports['./index_bg.js'];
  for (const [name, f] of Object.entries(module)) {
    if (typeof f !== 'function') continue;
    module[name] = function (...args) {
      globalThis.__crossings[name] = (globalThis.__crossings[name] ?? 0) + 1;
      if (args.some((a) => typeof a?.url === 'string' && a.url.endsWith('${DUMP}'))) console.log('CROSSINGS' + JSON.stringify(globalThis.__crossings));
      return f.apply(this, args);
    };
  }
  return imports;
}
`;
fs.writeFileSync(path.join(dir, 'index.js'), counter + glue.replaceAll(instantiate, 'new WebAssembly.Instance(tt,__counted(_t()))'));

const origin = await startOrigin();
origin.file('/small', filler(10 * 1024, 5));
const dumps = [];
const mf = new Miniflare({
  host: '127.0.0.1',
  port: 0,
  workers: [projectWorker(origin, { scriptPath: path.join(dir, 'index.js') })],
  handleRuntimeStdio(stdout, stderr) {
    for (const stream of [stdout, stderr]) {
      stream.on('data', (chunk) => {
        for (const line of String(chunk).split('\n')) if (line.startsWith('CROSSINGS')) dumps.push(JSON.parse(line.slice(9)));
      });
    }
  },
});
await mf.ready;
await seedKey(mf);

/** The counts so far (the dump request's own crossings are counted in the next one). */
async function counts() {
  const before = dumps.length;
  await (await mf.dispatchFetch(`http://project.bench${DUMP}`)).arrayBuffer();
  for (let i = 0; i < 100 && dumps.length === before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  if (dumps.length === before) throw new Error('no counts came back from the Worker');
  return dumps.at(-1);
}

// Each pass (the warm-up, then the counted one) names its files apart: every upload is to a
// new name, whatever CROSSINGS_N is.
const load = (count, concurrency, pass) => uploadMany(mf, origin.url('/small'), {
  count,
  concurrency,
  name: (w, i) => `small-${pass}-${w}-${i}.bin`,
});

await load(50, 4, 'warm');
const before = await counts();
await load(N, 16, 'counted');
const after = await counts();
// The first dump request's own crossings are in `after`; one request's worth is noise
// against N uploads, but it is taken out with a second dump's difference.
const dumpOnly = await counts();
const perUpload = Object.entries(after)
  .map(([name, n]) => [name, (n - (before[name] ?? 0) - ((dumpOnly[name] ?? 0) - n)) / N])
  .filter(([, n]) => n > 0.005)
  .sort((a, b) => b[1] - a[1]);
console.log(`${N} uploads of 10 KiB at concurrency 16: ${perUpload.reduce((sum, [, n]) => sum + n, 0).toFixed(1)} calls from wasm into JS per upload`);
for (const [name, n] of perUpload) console.log(`${n.toFixed(2).padStart(8)} ${name}`);

await mf.dispose();
await origin.close();
fs.rmSync(dir, { recursive: true, force: true });
