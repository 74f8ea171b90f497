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
  files: [...files, 'snippets/', 'README.md'],
  sideEffects: false,
  keywords: ['upload', 'url', 'wasm', 'cloudflare-workers', 'r2'],
};
fs.writeFileSync(path.join(PKG, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
fs.copyFileSync(path.join(ROOT, 'client/README.md'), path.join(PKG, 'README.md'));
fs.rmSync(path.join(PKG, '.gitignore'), { force: true });

fs.rmSync(WWW_PKG, { recursive: true, force: true });
fs.mkdirSync(WWW_PKG, { recursive: true });
for (const f of [...files, 'package.json']) fs.copyFileSync(path.join(PKG, f), path.join(WWW_PKG, f));
fs.cpSync(path.join(PKG, 'snippets'), path.join(WWW_PKG, 'snippets'), { recursive: true });
console.log(`pkg/ urlstash-client@${version} (and www/pkg/)`);
