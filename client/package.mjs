// Finishes pkg/ after wasm-bindgen: package.json (version from Cargo.toml) and README.md,
// then copies the package to www/pkg/ for the web app. Usage: node client/package.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = path.join(ROOT, 'pkg');
const WWW_PKG = path.join(ROOT, 'www/pkg');

const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
const version = cargo.match(/^version\s*=\s*"([^"]+)"/m)[1];
const license = cargo.match(/^license\s*=\s*"([^"]+)"/m)[1];

const files = ['urlstash.js', 'urlstash.d.ts', 'urlstash_bg.wasm', 'urlstash_bg.wasm.d.ts'];
for (const f of files) {
  if (!fs.existsSync(path.join(PKG, f))) throw new Error(`pkg/${f} missing: run wasm-bindgen first`);
}

// UploadError (client/upload_error.js) reaches the glue as a wasm-bindgen snippet that the
// glue imports; export it from the package's entry point too, so `instanceof` works.
const glue = path.join(PKG, 'urlstash.js');
const js = fs.readFileSync(glue, 'utf8');
if (!/^import \{ UploadError \} from '\.\/snippets\/[^']+\/client\/upload_error\.js';$/m.test(js)) {
  throw new Error('pkg/urlstash.js does not import UploadError from its snippet (src/client/error.rs)');
}
if (!/^export \{ UploadError \};$/m.test(js)) fs.writeFileSync(glue, `${js.trimEnd()}\nexport { UploadError };\n`);

// wasm-bindgen types the init functions with the `dom` lib's names (RequestInfo, URL,
// Response, BufferSource, WebAssembly.*), so a Node project without `dom` in its `lib` could
// not type-check the package. They are written with ES names instead; everything the DOM
// types describe is assignable to them (an init input is a URL string or any object: a URL,
// a Request or Response, the wasm's bytes, a compiled module).
const dts = path.join(PKG, 'urlstash.d.ts');
const domFree = [
  ['export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;', 'export type InitInput = string | ArrayBuffer | ArrayBufferView | object;'],
  ['export type SyncInitInput = BufferSource | WebAssembly.Module;', 'export type SyncInitInput = ArrayBuffer | ArrayBufferView | object;'],
  ['readonly memory: WebAssembly.Memory;', 'readonly memory: { readonly buffer: ArrayBuffer };'],
  ['readonly __wbindgen_externrefs: WebAssembly.Table;', 'readonly __wbindgen_externrefs: object;'],
];
let types = fs.readFileSync(dts, 'utf8');
for (const [from, to] of domFree) {
  if (!types.includes(from) && !types.includes(to)) throw new Error(`pkg/urlstash.d.ts: wasm-bindgen no longer writes \`${from}\``);
  types = types.replace(from, to);
}
fs.writeFileSync(dts, types);
const wasmDts = path.join(PKG, 'urlstash_bg.wasm.d.ts');
fs.writeFileSync(wasmDts, fs.readFileSync(wasmDts, 'utf8')
  .replace('export const memory: WebAssembly.Memory;', 'export const memory: { readonly buffer: ArrayBuffer };')
  .replace('export const __wbindgen_externrefs: WebAssembly.Table;', 'export const __wbindgen_externrefs: object;'));

const manifest = {
  name: 'urlstash-client',
  version,
  description: 'Browser client for urlstash: have the service fetch a remote file into temporary storage (Rust compiled to WebAssembly)',
  license,
  type: 'module',
  main: 'urlstash.js',
  module: 'urlstash.js',
  types: 'urlstash.d.ts',
  exports: {
    '.': { types: './urlstash.d.ts', import: './urlstash.js', default: './urlstash.js' },
    './urlstash_bg.wasm': './urlstash_bg.wasm',
    './package.json': './package.json',
  },
  files: [...files, 'snippets/', 'README.md', 'LICENSE'],
  sideEffects: false,
  // Browsers, and Node from 18 (its first with `fetch`), as the README says.
  engines: { node: '>=18' },
  keywords: ['upload', 'url', 'wasm', 'cloudflare-workers', 'r2'],
};
fs.writeFileSync(path.join(PKG, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
fs.copyFileSync(path.join(ROOT, 'client/README.md'), path.join(PKG, 'README.md'));
fs.copyFileSync(path.join(ROOT, 'LICENSE'), path.join(PKG, 'LICENSE'));
fs.rmSync(path.join(PKG, '.gitignore'), { force: true });

fs.rmSync(WWW_PKG, { recursive: true, force: true });
fs.mkdirSync(WWW_PKG, { recursive: true });
for (const f of [...files, 'package.json']) fs.copyFileSync(path.join(PKG, f), path.join(WWW_PKG, f));
fs.cpSync(path.join(PKG, 'snippets'), path.join(WWW_PKG, 'snippets'), { recursive: true });
console.log(`pkg/ urlstash-client@${version} (and www/pkg/)`);
