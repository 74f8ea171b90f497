#!/usr/bin/env node
// `make key NAME=alice [MAX_BYTES=..] [MAX_FILES=..] [REMOTE=1] [BASE_URL=..]`: creates an
// API key through the admin API of a running Worker and prints it (shown only this once).
// Reads its settings from the environment the Makefile passes.
import fs from 'node:fs';

const env = process.env;
const fail = (msg) => {
  console.error(`make key: ${msg}`);
  process.exit(1);
};

const name = (env.NAME ?? '').trim();
if (!name) fail('NAME is required, e.g. make key NAME=alice');
const remote = env.REMOTE === '1' || env.BASE_URL_GIVEN === '1';
let base = env.BASE_URL_GIVEN === '1' ? env.BASE_URL : `http://127.0.0.1:${env.PORT}`;
if (env.REMOTE === '1' && env.BASE_URL_GIVEN !== '1') {
  // the deployed Worker's public base, when wrangler.toml names one
  const m = /^PUBLIC_BASE_URL\s*=\s*"([^"]*)"/m.exec(fs.readFileSync('wrangler.toml', 'utf8'));
  base = m?.[1] || fail('REMOTE=1 needs BASE_URL=https://<your worker> (PUBLIC_BASE_URL is empty)');
}
if (remote && env.ADMIN_TOKEN_IS_DEFAULT === '1') {
  fail('pass ADMIN_TOKEN=... (the secret set with `wrangler secret put ADMIN_TOKEN`), not the dev default');
}

const body = { name };
for (const [field, value] of [['max_bytes', env.MAX_BYTES], ['max_files', env.MAX_FILES]]) {
  if (value) {
    if (!/^\d+$/.test(value)) fail(`${field.toUpperCase()} must be a whole number`);
    body[field] = Number(value);
  }
}

let res;
try {
  res = await fetch(`${base.replace(/\/$/, '')}/api/v1/admin/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
} catch (e) {
  fail(`cannot reach ${base} (${e.cause?.code ?? e.message}); is the Worker running (make dev)?`);
}
const json = await res.json().catch(() => null);
if (!res.ok || !json?.success) fail(`${res.status}: ${json?.msg ?? 'unexpected answer'}`);
const d = json.data;
console.log(`API key for "${d.name}" (key_id ${d.key_id}), shown only this once:\n\n  ${d.key}\n`);
console.log(`quota: ${d.max_bytes} bytes, ${d.max_files} files${d.max_bytes_default && d.max_files_default ? ' (defaults)' : ''}`);
