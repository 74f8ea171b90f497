// Runs a tier's test files (`node --test <flags> <file>`), as `node --test <dir>` would, with
// one difference: a file under which the local runtime failed on its own (its workerd process
// exited, or spins in V8's message loop, or closed a connection before answering:
// support/crash.mjs) runs again, at most twice more, and the first run without such a fault
// decides (a third fault in a row fails the tier). Such a failure says nothing about the
// Worker; anything else that fails, fails the tier. A file is stopped as soon as it reports
// such a fault (its process group and every process below it killed, the runtime under it
// with them): its later tests would each wait out their request timeout against the broken
// runtime. After each file, one line says how it ended and how long it took; the tier ends
// with a summary.
//
// `--files-at-once=N` runs up to N files at the same time (each starts its own runtime and
// origin on ports of its own); a file's output is then printed whole when it ends, so files
// never interleave. Without it, one file at a time, its output as it comes. Files run in the
// order given, each once, so the longest can be named before their directory to start first.
//
//   node tests/run.mjs [--files-at-once=N] [node --test flags...] <dir or file>...
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RUNTIME_FAULTS } from './http/support/crash.mjs';

const AT_ONCE = '--files-at-once=';
const args = process.argv.slice(2);
const atOnce = Math.max(1, Number(args.find((a) => a.startsWith(AT_ONCE))?.slice(AT_ONCE.length) ?? 1));
const flags = args.filter((a) => a.startsWith('--') && !a.startsWith(AT_ONCE));
// in the order given, each once: a file named before its directory runs first
const files = [...new Set(args
  .filter((a) => !a.startsWith('--'))
  .flatMap((a) => (fs.statSync(a).isDirectory()
    ? fs.readdirSync(a).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join(a, f))
    : [path.normalize(a)])))];

const LONGEST_FAULT = Math.max(...RUNTIME_FAULTS.map((marker) => marker.length));

/** The process groups of the files running now (each file runs in a group of its own). */
const running = new Set();
const kill = (pid) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
};

/** Every process descended from `pid` now, `pid` included (Linux: /proc). */
function descendants(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found = [];
  for (const stack = [pid]; stack.length;) {
    const next = stack.pop();
    found.push(next);
    stack.push(...(children.get(next) ?? []));
  }
  return found;
}

/** Kills the file's process group and every process below it, found before any is killed:
 * a test may start a server in a group of its own (dev.test's `make dev`), which it would
 * stop in its own cleanup, which SIGKILL never lets run. */
function killFile(pid) {
  const tree = descendants(pid);
  kill(-pid);
  tree.forEach(kill);
}
/** Each running file's temporary directory (its runtime's state can be a GiB), by its pid. */
const temporary = new Map();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const pid of running) killFile(pid);
    for (const tmp of temporary.values()) fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    process.exit(1);
  });
}

/** Runs one file, its output passed through as it comes when files run one at a time (else
 * the caller prints it); answers whether it passed and what it printed. At the first fault
 * of the local runtime it reports, the file's process group is killed. The file's temporary
 * files (its runtime's state, a browser profile) go in a directory of its own (`TMPDIR`),
 * removed when it ends: a file killed before its `after` hooks ran leaves nothing behind. */
function run(file) {
  return new Promise((resolve) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-run-'));
    const env = { ...process.env, TMPDIR: tmp };
    const child = spawn(process.execPath, ['--test', ...flags, file], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
    running.add(child.pid);
    temporary.set(child.pid, tmp);
    let printed = '';
    let stopped = false;
    for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
      from.on('data', (chunk) => {
        // a marker may straddle two chunks: look at this chunk and what came just before
        const recent = printed.slice(-LONGEST_FAULT) + chunk;
        printed += chunk;
        if (atOnce === 1) to.write(chunk);
        if (!stopped && RUNTIME_FAULTS.some((marker) => recent.includes(marker))) {
          stopped = true;
          const line = `# ${file}: stopped at the local runtime's fault\n`;
          printed += `\n${line}`;
          if (atOnce === 1) process.stdout.write(line);
          killFile(child.pid);
        }
      });
    }
    child.on('close', (code) => {
      running.delete(child.pid);
      temporary.delete(child.pid);
      kill(-child.pid); // whatever the file left behind in its group
      fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
      if (atOnce > 1) process.stdout.write(printed);
      resolve({ passed: code === 0 && !stopped, printed });
    });
  });
}

/** Runs after the first when the runtime failed under the file (workerd 1.20260426
 * livelocked in V8's message loop under about half of the fresh-clone runs of
 * tests/http/dev.test.mjs; once, in the run after such a fault, a backtrace caught between
 * two calls of the loop went unrecognized and failed CI. Not seen yet on 1.20261123). */
const RERUNS = 2;

const failed = [];
const rerun = [];

/** Runs `file`, and again after a fault of the local runtime under it; records the result. */
async function runFile(file) {
  const started = performance.now();
  let { passed, printed } = await run(file);
  for (let again = 1; again <= RERUNS && !passed; again++) {
    const fault = RUNTIME_FAULTS.find((marker) => printed.includes(marker));
    if (!fault) break;
    console.log(`# ${file}: ${fault} under it; running the file again (${again} of at most ${RERUNS})`);
    if (again === 1) rerun.push(file);
    ({ passed, printed } = await run(file));
  }
  if (!passed) failed.push(file);
  console.log(`# ${file}: ${passed ? 'passed' : 'FAILED'} in ${Math.round((performance.now() - started) / 1000)} s`);
}

let next = 0;
await Promise.all(Array.from({ length: atOnce }, async () => {
  while (next < files.length) await runFile(files[next++]);
}));
console.log(`# files: ${files.length - failed.length} of ${files.length} passed`
  + (rerun.length ? `; run again after a fault of the local runtime: ${rerun.join(', ')}` : '')
  + (failed.length ? `; FAILED: ${failed.join(', ')}` : ''));
process.exit(failed.length ? 1 : 0);
