// The README's examples, run as a reader runs them: every shell block of its Quick start and
// API sections (but the one of `make dev` and `make test` themselves), in order, in one
// bash session's worth of variables, from a copy of the checkout, against `make dev` (on free
// ports, with a state of its own). A block's ids written as placeholders (`file_3f0c…`,
// `job_5d0c…`, `k_08a47f…`) stand for the ones the answers before it gave, and
// `127.0.0.1:8788` for make dev's sample origin; nothing else is changed. Every request a
// block makes must be answered as the README says (2xx; a job's cancel may find it finished)
// and its transfer end well, an answer a block shows (in a comment, or the JSON after it)
// must be one of its answers (code and message), every block must end with status 0 and say
// nothing on stderr (a command missing, a shell error), and the file it saves must be the
// sample's bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, freePort } from './support/worker.mjs';
import { sha256 } from './support/fixtures.mjs';
import { newKey, until } from './support/burst.mjs';
import { endGroup } from './support/group.mjs';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const SAMPLE = fs.readFileSync(path.join(ROOT, 'samples/sample.png'));

/** The shell blocks of the README's section `heading` (to the next `## `), with the line
 * each starts on, and the answer shown after each: its comments' (`# {...}`) and a ```json
 * block's right after it. */
function blocksOf(heading) {
  const lines = README.split('\n');
  const start = lines.indexOf(heading);
  assert.notEqual(start, -1, `README has ${heading}`);
  const blocks = [];
  let open = null;
  let closedAt = -1; // the line the last shell block closed on
  for (let i = start + 1; i < lines.length && !(open === null && lines[i].startsWith('## ')); i += 1) {
    if (open === null && /^```(sh|bash|shell|json)$/.test(lines[i])) open = { line: i + 2, json: lines[i] === '```json', text: [] };
    else if (open !== null && lines[i] === '```') {
      const text = open.text.join('\n');
      if (!open.json) {
        blocks.push({ line: open.line, text, shown: text.split('\n').filter((l) => /^#\s*\{/.test(l)).join('\n') });
        closedAt = i;
      } else if (closedAt >= 0 && lines.slice(closedAt + 1, open.line - 2).every((l) => l.trim() === '')) {
        blocks.at(-1).shown += `\n${text.replace(/\s*\n\s*/g, '')}`;
      }
      open = null;
    } else if (open !== null) open.text.push(lines[i]);
  }
  return blocks;
}

// Quick start's `make dev` and `make test` are what this test runs around the others.
const BLOCKS = [...blocksOf('## Quick start'), ...blocksOf('## API')].filter((b) => !/^make (dev|test)\b/m.test(b.text));

/** The placeholders the README writes ids as, and the file under the run's `ids` dir that
 * holds the id each stands for (written by `curl` below, or by the test for the file and key
 * the take-down block assumes). */
const PLACEHOLDERS = {
  'file_3f0c…': 'file', // the file uploaded as reports/2026/chart.png
  'file_9a41…': 'private', // a private file
  'job_5d0c…': 'job', // the last job started
  'k_08a47f…': 'key', // the last key created
};

/** What each block runs after: the variables the blocks before it set (a reader runs them
 * in one shell: `eval "$(make -s dev-env)"` once); its shell's `curl` records what it was
 * answered and the ids answers gave, and passes the README's placeholders as those ids; an
 * assignment of a placeholder (`KEY_ID=k_08a47f…`) reads the id too. Not `set -e`: a block
 * runs every command, as a reader's shell does, and what each was answered is checked. */
const PRELUDE = String.raw`__start=$(compgen -v | sort)
[[ -f "$IDS/session" ]] && source "$IDS/session"
set -uo pipefail
readme_id() { case "$1" in ${Object.entries(PLACEHOLDERS).map(([p, f]) => `'${p}') cat "$IDS/${f}" ;;`).join(' ')} *) echo "$1" ;; esac; }
curl() {
  local args=() a p out route=''
  for a in "$@"; do
    for p in ${Object.keys(PLACEHOLDERS).map((p) => `'${p}'`).join(' ')}; do
      [[ "$a" == *"$p"* ]] && a=${'${a//"$p"/$(readme_id "$p")}'}
    done
    [[ "$a" == http* ]] && route=${'${a#http*://*/}'}
    args+=("$a")
  done
  out=$(mktemp)
  command curl "${'${args[@]}'}" -w '%{stderr}README-HTTP %{http_code} %{exitcode} %{method} %{url_effective}\n' | tee "$out"
  local rc=${'${PIPESTATUS[0]}'}
  # the id an answer gave, kept for the placeholder that stands for it: $1 file, $2 pattern
  keep() { local id; id=$(grep -o "$2" "$out" | head -1 | grep -o '\(file\|job\|k\)_[0-9a-f]\+' | head -1); [[ -n "$id" ]] && printf '%s' "$id" > "$IDS/$1"; return 0; }
  case "$route" in
    api/v1/files/upload/url)
      keep file '"file_id":"file_[0-9a-f]\+","file_name":"chart.png"'
      grep -q '"private":true' "$out" && keep private '"file_id":"file_[0-9a-f]\+"'
      keep job '"job_id":"job_[0-9a-f]\+"' ;;
    api/v1/admin/keys) keep key '"key_id":"k_[0-9a-f]\+"' ;;
  esac
  rm -f "$out"
  return "$rc"
}
`;

/** What each block runs before it ends: the variables it set are kept for the next, and it
 * ends with its last command's status. */
const EPILOGUE = String.raw`__rc=$?
for __name in $(comm -13 <(printf '%s\n' "$__start") <(compgen -v | sort)); do
  [[ "$__name" == __* || "$__name" == IDS ]] || declare -p "$__name"
done >> "$IDS/session"
exit "$__rc"
`;

/** A placeholder assigned to a variable (`KEY_ID=k_08a47f…  # ...`) reads its id. */
const withIds = (text) => text.replace(/^(\w+)=(\S+…)/gm, (_, name, placeholder) => `${name}=$(readme_id '${placeholder}')`);

let dir;
let checkout;
let ids;
let base;
let samplePort;
let dev;
let devLog;
/** What the examples save in the directory they run in: never linked to the checkout's. */
const SAVED = ['chart.png', 'rest.bin'];
const env = () => ({
  ...process.env,
  // make's command-line variables, for every make the examples run (`make -s dev-env`,
  // `make key`): this run's state, secrets and ports, not the checkout's own make dev.
  MAKEFLAGS: ` -- STATE_DIR=${dir}/state DEV_VARS=${dir}/.dev.vars PORT=${new URL(base).port} SAMPLE_PORT=${samplePort}`,
  IDS: ids,
});

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-readme-'));
  ids = path.join(dir, 'ids');
  fs.mkdirSync(ids);
  // The checkout as a reader has it, in a directory of its own: what the examples save
  // (`-o chart.png`) lands there, not in the checkout.
  checkout = path.join(dir, 'checkout');
  fs.mkdirSync(checkout);
  // The Worker built by `make build` (make dev builds nothing here: its sources are linked).
  assert.ok(fs.existsSync(path.join(ROOT, 'build/index.js')), 'the Worker is built (make build)');
  for (const name of fs.readdirSync(ROOT).filter((n) => !SAVED.includes(n))) fs.symlinkSync(path.join(ROOT, name), path.join(checkout, name));
  base = `http://127.0.0.1:${await freePort()}`;
  samplePort = await freePort();
  // Its output to a file: the blocks run synchronously, and a pipe nobody reads would fill.
  devLog = path.join(dir, 'make-dev.log');
  const log = fs.openSync(devLog, 'w');
  dev = spawn('make', ['-s', 'dev'], { cwd: checkout, env: env(), detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const up = await until(async () => {
    const res = await fetch(`${base}/api/v1/health`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
    return res?.status === 200 || dev.exitCode !== null;
  }, 180_000, 500);
  assert.ok(up && dev.exitCode === null, `make dev serves ${base}: ${fs.readFileSync(devLog, 'utf8')}`);
});

after(async () => {
  if (dev) await endGroup(dev);
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

/** Runs one block (after the prelude, and `vars`: what the README leaves to the reader):
 * its status, what it printed, and the requests it made. */
function run(block, vars = '') {
  const script = `${PRELUDE}${vars}\n${withIds(block.text)}\n${EPILOGUE}`;
  // `timeout` ends the block's whole process group (bash, curl, make) after 110 s
  const ran = spawnSync('timeout', ['-k', '5', '110', 'bash', '-c', script], { cwd: checkout, env: env(), encoding: 'utf8' });
  const requests = ran.stderr.split('\n').filter((l) => l.startsWith('README-HTTP ')).map((l) => {
    const [, status, exit, method, url] = l.split(' ');
    return { status: Number(status), exit: Number(exit), method, url };
  });
  return { status: ran.status, stdout: ran.stdout, stderr: ran.stderr, requests };
}

/** Whether the README promises `request` this answer: a 2xx, or for a job's cancel a 409
 * (the sample's job ends in a moment, before its cancel comes). */
const asPromised = ({ status, method, url }) => (status >= 200 && status < 300) || (method === 'DELETE' && /\/api\/v1\/jobs\/job_/.test(url) && status === 409);

test("the README's examples run as written against make dev, each answered as it says", { timeout: 600_000 }, async (t) => {
  assert.ok(BLOCKS.length >= 12, `the README's example blocks (${BLOCKS.length})`);
  const used = new Set();
  let shownAnswers = 0;
  for (const block of BLOCKS) {
    for (const p of Object.keys(PLACEHOLDERS)) if (block.text.includes(p)) used.add(p);
    let vars = '';
    if (/\$KEY_ID\b/.test(block.text) && /\$SHA256\b/.test(block.text) && !/^KEY_ID=/m.test(block.text)) {
      // The take-down block's KEY_ID and SHA256 are the reader's: a key of its own with the
      // sample stored as images/cat.png, the file its example takes down, and the sample's digest.
      const admin = fs.readFileSync(`${dir}/.dev.vars`, 'utf8').match(/^ADMIN_TOKEN=(.*)$/m)[1];
      const made = await newKey({ url: base }, admin, 'reader');
      const stored = await api({ url: base }, 'POST', '/api/v1/files/upload/url', {
        token: made.key,
        body: { file_url: `http://127.0.0.1:${samplePort}/sample.png`, upload_path: 'images', file_name: 'cat.png' },
      });
      assert.equal(stored.status, 200, JSON.stringify(stored.json));
      fs.writeFileSync(path.join(ids, 'key'), made.key_id);
      vars = `KEY_ID=${made.key_id}; SHA256=${sha256(SAMPLE)}`;
    }
    const text = block.text.replaceAll('127.0.0.1:8788', `127.0.0.1:${samplePort}`);
    const ran = run({ ...block, text }, vars);
    const where = `README.md:${block.line}: ${ran.stdout}\n${ran.stderr}`;
    t.diagnostic(`README.md:${block.line}: ${ran.requests.map((r) => `${r.method} ${r.url.replace(/^https?:\/\/[^/]*/, '')} ${r.status}`).join(', ')}`);
    assert.equal(ran.status, 0, `the block ends with status 0: ${where}`);
    // Nothing said on the terminal but the answers (a command not found, a bash error)
    assert.deepEqual(ran.stderr.split('\n').filter((l) => l && !l.startsWith('README-HTTP ')), [], `the block says nothing on stderr: ${where}`);
    assert.equal(ran.requests.length, (block.text.match(/^\s*curl /gm) ?? []).length, `each curl of the block made its request: ${where}`);
    for (const r of ran.requests) {
      assert.ok(asPromised(r), `${r.method} ${r.url}: ${r.status}: ${where}`);
      assert.equal(r.exit, 0, `${r.method} ${r.url}: curl's transfer ended well (exit ${r.exit}): ${where}`);
    }
    // An answer the block shows (`# {"success":true,"code":200,"msg":...` in a comment, or
    // the ```json after it) is one of its answers, code and message alike (not an answer
    // told in prose: `# HTTP 451 ...`).
    for (const [shown] of block.shown.matchAll(/\{"success":(?:true|false),"code":\d+,"msg":"[^"]*"/g)) {
      assert.ok(ran.stdout.includes(shown), `the block answers ${shown}: ${where}`);
      shownAnswers += 1;
    }
  }
  assert.deepEqual([...used].sort(), Object.keys(PLACEHOLDERS).sort(), 'every placeholder the test knows is in the README');
  t.diagnostic(`answers shown in the README and met: ${shownAnswers}`);
  assert.ok(shownAnswers >= 5, `the README's shown answers were found (${shownAnswers})`);
  // What the serving example saved is the sample's bytes.
  assert.equal(sha256(fs.readFileSync(path.join(checkout, 'chart.png'))), sha256(SAMPLE), 'chart.png as stored');
});
