// `make dev`: the Worker in local workerd through wrangler's own dev engine (what `wrangler
// dev` runs: wrangler.toml, its [build], local R2, KV and Durable Objects persisted under
// --persist-to, a rebuild when src/ changes), with the secrets of --dev-vars (the Makefile's
// DEV_VARS, `.dev.vars` unless moved), without workerd's devtools
// inspector. `wrangler dev` always attaches it, and its proxy turns on workerd's network
// instrumentation with no DevTools client there: every chunk of every subrequest becomes an
// event, so a few uploads at once from a fast origin open sockets by the thousand until
// the open-file limit and the proxy's heap give out, and an origin body that claims gzip but
// is not ends the runtime (cloudflare/workers-sdk#14191; docs/security.md). The test tiers
// run the same way.
//
//   node scripts/dev.mjs --ip 127.0.0.1 --port 8787 --persist-to .wrangler/state \
//     --dev-vars .dev.vars [--var NAME:VALUE ...]
//
// Stops, with the runtime, on Ctrl-C or SIGTERM.
import path from 'node:path';
import { unstable_startWorker } from 'wrangler';

const USAGE = 'usage: node scripts/dev.mjs --ip ADDR --port N --persist-to DIR --dev-vars FILE [--var NAME:VALUE ...]';

/** The options given, in the flags `wrangler dev` takes for them. */
function parse(args) {
  const options = { vars: {} };
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    if (flag === '--ip') options.ip = value;
    else if (flag === '--port') options.port = Number(value);
    else if (flag === '--persist-to') options.persist = value;
    else if (flag === '--dev-vars') options.devVars = value;
    else if (flag === '--var') {
      const at = value.indexOf(':');
      if (at < 1) throw new Error(`--var takes NAME:VALUE, not ${value}\n${USAGE}`);
      options.vars[value.slice(0, at)] = value.slice(at + 1);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  if (!options.ip || !Number.isInteger(options.port) || !options.persist || !options.devVars) throw new Error(USAGE);
  return options;
}

// Miniflare would fetch the edge's `request.cf` sample from workers.cloudflare.com at each
// start (a warning without network); the Worker reads no `cf`, so the built-in sample serves.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
// No usage report to Cloudflare from the local dev engine (make exports this too).
process.env.WRANGLER_SEND_METRICS ??= 'false';
// The secrets are read from --dev-vars by wrangler's own reader, through `envFiles` below,
// which `CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV=false` in a developer's environment would
// turn off: the file named here is read whatever it says.
process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV = 'true';

let options;
try {
  options = parse(process.argv.slice(2));
} catch (err) {
  console.error(err.message);
  process.exit(2);
}

// vars given here go over wrangler.toml's, as `wrangler dev --var` does
const bindings = Object.fromEntries(Object.entries(options.vars).map(([name, value]) => [name, { type: 'plain_text', value }]));
const worker = await unstable_startWorker({
  config: 'wrangler.toml',
  // its lines are the Worker's secrets; wrangler reads no other file for them (not the
  // .dev.vars or .env beside wrangler.toml)
  envFiles: [path.resolve(options.devVars)],
  bindings,
  dev: {
    inspector: false,
    persist: options.persist,
    server: { hostname: options.ip, port: options.port },
    logLevel: 'log',
  },
});
await worker.ready;
console.log(`ready on ${await worker.url}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await worker.dispose();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
