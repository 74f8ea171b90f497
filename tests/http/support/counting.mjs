// A Worker entry module for tests only (`startWorker({ counting: true })`): the built Worker
// (build/index.js) with every call that reaches a storage binding counted. Nothing here
// changes what the Worker does: each binding is wrapped in a Proxy that counts a method call
// and forwards it to the real binding, with the real binding as `this`; every property read
// (`constructor` too, whose `name` the Rust side checks) is the real binding's.
//
// Counted: R2 (`R2Bucket`: put, get, head, delete, list, createMultipartUpload and the
// multipart upload's own uploadPart, complete, abort), KV (`KvNamespace`: get, put, delete,
// list, ...; and by the entry a call names, as `kvNames`), and each call on a Durable Object
// stub (fetch, or any RPC method), by who made it: `worker` (the fetch handler's env),
// `authority` (the key's Durable Object's own env) or `job` (a background job's object's
// env, which support/worker.mjs's sums leave out: `raw.job`, `kvNames.job`).
// Bindings are recognised by their type, so their names do not matter here.
//
// Also, for the Worker's side only (`worker`): a gauge of its outbound calls waiting for
// their answer (`waiting`): each call of `globalThis.fetch` (patched here) from the call until
// its promise settles (the response's headers arrived, or it failed), and each R2, KV and
// Durable Object stub call that answers a promise, until it settles (a put or uploadPart
// of a streamed body stays waiting until the body is stored). `peak` is the most at once.
// The isolate is shared with the Durable Object, whose own calls are not on the gauge; its
// `fetch`es would be (it makes none). Each such fetch is counted too, as `worker.fetch.fetch`.
// And the size of each multipart `uploadPart` value
// (`parts`: one list per multipart upload, in the order the uploads were created, sizes by
// part number; a size is null when the value is a stream, whose length JS cannot see: the
// stored parts' sizes are in `worker.r2()`'s objects).
//
//   GET  /__counts        {"worker":{"r2":{"put":1},"kv":{"get":1},"authority":{"fetch":1},"fetch":{"fetch":1}},"authority":{"r2":{...}},
//                          "waiting":{"peak":2,"now":0},"parts":[[5242880,5242880,1]]}
//   POST /__counts/reset  sets every count back to zero, the gauge's peak to what is waiting
//                         now, and forgets the parts (answers what it cleared)
//
// Both are answered before the real Worker sees the request. Counts live in the isolate
// (local workerd runs the Worker and its Durable Objects in one).
//
// And a hold on the key's authority's alarm (tests of expiry at read time: with the alarm
// held, an expired file's row and object are still there, so a read that answers 404 did so
// by its own check). While held, `KeyAuthority.alarm()` waits before it runs (polling every
// 50 ms, at most ALARM_HOLD_MS), then runs as it would have; released, a waiting alarm runs.
//
//   GET  /__alarms          {"held":true,"waiting":1,"ran":3}  (waiting: alarms held now;
//                           ran: alarms that ran, since the isolate started)
//   POST /__alarms/hold     holds every KeyAuthority alarm from now on (answers the above)
//   POST /__alarms/release  lets the held ones and later ones run (answers the above)
//
// And KV write faults (the admin API's retry of a write KV refuses for its rate): each of
// the next KV `put`s made by the Worker rejects with the next message queued (an `Error`,
// as the binding throws), instead of reaching KV; it is counted all the same. A `null` in
// the queue lets that put through; `"hold"` holds it until the test releases it, then lets
// it through (a race the test sets, not one a retry's fixed wait must win).
//
//   POST /__faults/kv-put   body {"errors": ["KV PUT failed: 429 Too Many Requests", null, "hold", ...]}
//                           queues them (answers {"queued": n, "held": m}: the puts still to
//                           meet one, and those held now)
//   POST /__faults/kv-put/release  lets every held put through (answers the same)
//
// And KV read faults: while set, a KV `get` of a name, or a `list` under a prefix, that
// starts with one of the prefixes rejects (by any caller: the Worker, an object), as the
// binding throws when KV is down.
//
//   POST /__faults/kv-read  body {"prefixes": ["blocklist:", "blocked:"]}; {"prefixes": []} stops it
//
// Or, with {"prefixes": [...], "hold": true}, such reads are made at once and their answers
// held back (rather than failed) until the prefixes are set again without them; GET
// /__faults/kv-read answers {"held": n}, the answers held now.
//
// And R2 delete faults, likewise: each of the next R2 `delete`s made by a key's authority
// (its drain of doomed objects) rejects with the next message queued, the object kept.
//
//   POST /__faults/r2-delete  body {"errors": ["delete: We encountered an internal error"]}
//
// And SQL write faults (a key's storage that is full): while on, each statement a key's
// authority runs that is not a SELECT throws as SQLite does when its storage is full, and
// nothing is written; reads run as ever.
//
//   POST /__faults/sql-writes  body {"failing": true}; {"failing": false} stops it
//
// And alarm faults of one key's authority: each of the next `count` calls its object (the
// one named `key_id`) makes of `storage.setAlarm` rejects, no alarm set.
//
//   POST /__faults/authority-alarm  body {"key_id": "k_...", "count": 1} (answers {"queued": n})
//
// And a background job's storage writes likewise: while on, each call a job's object makes
// of the storage methods named (`put`: its record, its stored parts; `setAlarm`,
// `deleteAlarm`) rejects as a failed storage write does, and nothing is written; other
// calls run as ever.
//
//   POST /__faults/job-storage  body {"failing": ["put"]}; {"failing": []} stops it
//
// And faults of calls to a key's authority (an answer lost on the way, a call that fails):
// each of the next calls by `caller` ('worker' or 'job') of the op named (`commit`, `get`,
// ...: the key of the op's JSON) meets the first fault queued for that op: `lose` makes the
// call, then rejects as if its answer were lost; `fail` rejects without making it; `newer`
// makes it with the op renamed `{op}_v2`, as a later version's Worker might send an op the
// object's version does not know.
//
//   POST /__faults/authority  body {"faults": [{"caller": "job", "op": "commit", "how": "lose"}]}
//                             queues them (answers {"queued": n}, the calls still to meet one);
//                             with "clear": true, the faults still queued are dropped first
//
// And long timers made short (a job's limits, which are minutes long): from then on, each
// `setTimeout` of the isolate (the Worker's and its Durable Objects') asked to wait at
// least `at_least_ms` waits that divided by `divide_by`. Shorter timers are untouched.
//
//   POST /__faults/timers   body {"at_least_ms": 600000, "divide_by": 400}; {} stops it
import * as built from '../../../build/index.js';

export * from '../../../build/index.js';

const KINDS = { R2Bucket: 'r2', KvNamespace: 'kv', DurableObjectNamespace: 'authority' };

let counts = {};
// KV calls by the entry they name: caller -> op -> name -> count
let kvNames = {};
// outbound calls of the Worker side waiting for an answer: now, and the most at once
const waiting = { now: 0, peak: 0 };
// the calls waiting now, by name (`fetch`, `r2.put`, ...), for a test to name what never settled
const pendingCalls = new Map();
// per multipart upload (in creation order): part number -> size of the value uploaded
let parts = [];

/** `result` counted on the waiting gauge until it settles, if it is a promise. */
function awaited(result, name) {
  if (!result || typeof result.then !== 'function') return result;
  waiting.now += 1;
  waiting.peak = Math.max(waiting.peak, waiting.now);
  pendingCalls.set(name, (pendingCalls.get(name) ?? 0) + 1);
  let done = false;
  const settle = () => {
    if (!done) {
      done = true;
      waiting.now -= 1;
      pendingCalls.set(name, pendingCalls.get(name) - 1);
    }
  };
  result.then(settle, settle);
  return result;
}

/** The byte size of an uploadPart value when JS can see it, else null (a stream). */
function sizeOf(value) {
  if (typeof value === 'string') return new TextEncoder().encode(value).byteLength;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value.byteLength;
  if (value && typeof value.size === 'number' && typeof value.arrayBuffer === 'function') return value.size; // Blob
  return null;
}

// fetch from the Worker (the wasm glue reads `globalThis.fetch` at each call)
const realFetch = globalThis.fetch;
globalThis.fetch = function countedFetch(...args) {
  count('worker', 'fetch', 'fetch');
  return awaited(realFetch.apply(this, args), 'fetch');
};

// long timers made short (`/__faults/timers`): null, or {at_least_ms, divide_by}
let timerScale = null;
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = function scaledSetTimeout(callback, ms, ...args) {
  const wait = timerScale && ms >= timerScale.at_least_ms ? Math.floor(ms / timerScale.divide_by) : ms;
  return realSetTimeout.call(this, callback, wait, ...args);
};

function count(caller, kind, op) {
  const byKind = (counts[caller] ??= {});
  const ops = (byKind[kind] ??= {});
  ops[op] = (ops[op] ?? 0) + 1;
}

/** A Proxy of `target` whose method calls are counted as `caller`/`kind`/`prefix+name`
 * (and, made by `worker`, on the waiting gauge while their promise is pending);
 * `onCall(name, args)` sees each call's arguments; `wrapResult(name, result)` may wrap what
 * a call answers (a multipart upload, a stub). */
function counted(target, caller, kind, { prefix = '', onCall = () => {}, wrapResult = (_, r) => r, instead = () => undefined } = {}) {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== 'function' || prop === 'constructor' || typeof prop === 'symbol') return value;
      return function countedCall(...args) {
        count(caller, kind, `${prefix}${prop}`);
        onCall(prop, args);
        const failed = instead(prop, args);
        const result = failed ?? value.apply(t, args);
        return wrapResult(prop, caller === 'worker' ? awaited(result, `${kind}.${prefix}${prop}`) : result);
      };
    },
  });
}

const later = (result, wrap) => (result && typeof result.then === 'function' ? result.then(wrap) : wrap(result));

function countedBucket(bucket, caller) {
  const multipart = (upload) => {
    if (!upload) return upload;
    const sizes = new Map(); // part number -> size
    parts.push(sizes);
    const onCall = (name, [partNumber, value]) => {
      if (name === 'uploadPart') sizes.set(partNumber, sizeOf(value));
    };
    return counted(upload, caller, 'r2', { prefix: 'multipart.', onCall });
  };
  const instead = (name) => (caller === 'authority' && name === 'delete' && r2DeleteErrors.length ? Promise.reject(new Error(r2DeleteErrors.shift())) : undefined);
  return counted(bucket, caller, 'r2', {
    instead,
    wrapResult: (name, result) => (name === 'createMultipartUpload' || name === 'resumeMultipartUpload' ? later(result, multipart) : result),
  });
}

// Faults queued for calls to a key's authority: [{caller, op, how}] (`/__faults/authority`).
let authorityFaults = [];

/** A stub's `fetch(request)` by `caller`, meeting the first fault queued for its op. */
async function faultyCall(stub, caller, request) {
  const body = JSON.parse(await request.clone().text());
  const op = typeof body === 'string' ? body : Object.keys(body)[0];
  const at = authorityFaults.findIndex((f) => f.caller === caller && f.op === op);
  if (at < 0) return stub.fetch(request);
  const [{ how }] = authorityFaults.splice(at, 1);
  if (how === 'newer') {
    // the op as a later version might name it, one this object does not know
    const renamed = typeof body === 'string' ? `${op}_v2` : { [`${op}_v2`]: body[op] };
    return stub.fetch(new Request(request.url, { method: request.method, headers: request.headers, body: JSON.stringify(renamed) }));
  }
  if (how === 'lose') await (await stub.fetch(request)).text();
  throw new Error(`authority ${op}: ${how === 'lose' ? 'answer lost' : 'failed'} (a test fault)`);
}

function countedNamespace(namespace, caller) {
  const instead = (s) => (name, [request]) => (name === 'fetch' && authorityFaults.some((f) => f.caller === caller) ? faultyCall(s, caller, request) : undefined);
  const stub = (s) => (s && typeof s === 'object' ? counted(s, caller, 'authority', { instead: instead(s) }) : s);
  return new Proxy(namespace, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== 'function' || prop === 'constructor' || typeof prop === 'symbol') return value;
      // get(id) / getByName(name) hand out stubs: the stub's calls are the ones counted
      if (prop === 'get' || prop === 'getByName') return (...args) => stub(value.apply(t, args));
      return (...args) => value.apply(t, args);
    },
  });
}

// Messages the next KV puts (made by the Worker) reject with, in order (`null`: let it through;
// `'hold'`: hold it until released). Holds are numbered; a release lets through all so far.
let kvPutErrors = [];
let kvHolds = 0;
let kvReleased = 0;
const kvPutReport = () => ({ queued: kvPutErrors.length, held: kvHolds - kvReleased });
// Messages the next R2 deletes (made by a key's authority) reject with, in order.
let r2DeleteErrors = [];
// Name prefixes whose KV reads fail while set, by any caller: a `get` of such a name, a
// `list` under such a prefix (`/__faults/kv-read`).
let kvReadFailing = [];
// Whether those reads wait instead, and how many wait now.
let kvReadHolding = false;
let kvReadsHeld = 0;

/** A `get` or `list` (`name`, `args`) of a name or prefix under one of `kvReadFailing`. */
const failingRead = (name, [arg]) => {
  const read = name === 'get' ? arg : name === 'list' ? arg?.prefix : undefined;
  return typeof read === 'string' && kvReadFailing.some((p) => read.startsWith(p));
};

function countedKv(kv, caller) {
  const instead = (name, args) => {
    if (failingRead(name, args) && kvReadHolding) {
      // read at once, its answer held back (a read on its way while things change); polled
      // on a timer of its own request, as a held put is
      return (async () => {
        const answer = await kv[name](...args);
        kvReadsHeld += 1;
        while (failingRead(name, args) && kvReadHolding) await new Promise((resolve) => setTimeout(resolve, 20));
        kvReadsHeld -= 1;
        return answer;
      })();
    }
    if (failingRead(name, args)) return Promise.reject(new Error(`KV ${name.toUpperCase()} failed: a test fault`));
    if (caller !== 'worker' || name !== 'put' || !kvPutErrors.length) return undefined;
    const error = kvPutErrors.shift();
    if (error === 'hold') {
      const ticket = ++kvHolds;
      // polled on a timer of its own request (a promise resolved by another request's
      // context would not wake it)
      return (async () => {
        while (kvReleased < ticket) await new Promise((resolve) => setTimeout(resolve, 20));
        return kv.put(...args);
      })();
    }
    return error === null ? undefined : Promise.reject(new Error(error));
  };
  // by entry too: `kvNames.worker.get["blocklist:version"]`
  const onCall = (name, [key]) => {
    if (typeof key !== 'string') return;
    const byName = (((kvNames[caller] ??= {})[name]) ??= {});
    byName[key] = (byName[key] ?? 0) + 1;
  };
  return counted(kv, caller, 'kv', { instead, onCall });
}

const wrappedEnvs = { worker: new WeakMap(), authority: new WeakMap(), job: new WeakMap() };
const wrappedBindings = { worker: new WeakMap(), authority: new WeakMap(), job: new WeakMap() };

function countedBinding(value, caller) {
  if (!value || typeof value !== 'object') return value;
  const kind = KINDS[value.constructor?.name];
  if (!kind) return value;
  const cache = wrappedBindings[caller];
  if (!cache.has(value)) {
    const wrap = { r2: countedBucket, kv: countedKv, authority: countedNamespace }[kind];
    cache.set(value, wrap(value, caller));
  }
  return cache.get(value);
}

/** `env` with its R2, KV and Durable Object bindings counted as `caller`; vars as they are. */
function countedEnv(env, caller) {
  const cache = wrappedEnvs[caller];
  if (!cache.has(env)) {
    cache.set(env, new Proxy(env, { get: (t, prop) => countedBinding(Reflect.get(t, prop, t), caller) }));
  }
  return cache.get(env);
}

// Whether a key's authority's SQL writes fail now (`/__faults/sql-writes`).
let sqlWritesFail = false;
const SQL_FULL = 'SQLITE_FULL: database or disk is full';

/** `target` with its property `prop` seen through `wrap`, and its methods called on the
 * real `target` (native methods refuse a Proxy as `this`). */
function through(target, prop, wrap) {
  return new Proxy(target, {
    get(t, p) {
      const value = Reflect.get(t, p, t);
      if (p === prop) return wrap(value);
      return typeof value === 'function' && p !== 'constructor' ? value.bind(t) : value;
    },
  });
}

// The next `count` setAlarm calls of the authority of key `key_id` fail (`/__faults/authority-alarm`).
let authorityAlarmFaults = { key_id: null, count: 0 };

/** A Durable Object's `state` whose `storage.sql.exec` fails writes while asked, and whose
 * `storage.setAlarm` fails as queued for its key. */
function faultyState(state) {
  const exec = (real) =>
    function exec(query, ...args) {
      if (sqlWritesFail && !/^\s*SELECT\b/i.test(query)) throw new Error(SQL_FULL);
      return real(query, ...args);
    };
  const setAlarm = (real) =>
    function setAlarm(...args) {
      if (authorityAlarmFaults.count > 0 && authorityAlarmFaults.key_id === state.id.name) {
        authorityAlarmFaults.count -= 1;
        return Promise.reject(new Error('Durable Object storage setAlarm failed (test fault)'));
      }
      return real(...args);
    };
  const storage = (s) => through(through(s, 'sql', (sql) => through(sql, 'exec', (real) => exec(real.bind(sql)))), 'setAlarm', (real) => setAlarm(real.bind(s)));
  return through(state, 'storage', storage);
}

// The storage methods of a job's object that fail now (`/__faults/job-storage`).
let jobStorageFails = [];
const JOB_STORAGE_FAULTS = ['put', 'setAlarm', 'deleteAlarm'];

/** A job's object's `state` whose storage methods fail while asked. */
function faultyJobState(state) {
  const faulty = (storage) =>
    new Proxy(storage, {
      get(t, p) {
        const value = Reflect.get(t, p, t);
        if (typeof value !== 'function' || p === 'constructor') return value;
        if (!JOB_STORAGE_FAULTS.includes(p)) return value.bind(t);
        return (...args) =>
          jobStorageFails.includes(p) ? Promise.reject(new Error(`Durable Object storage ${p} failed (test fault)`)) : value.apply(t, args);
      },
    });
  return through(state, 'storage', faulty);
}

/** The Durable Object class `Base`, its env counted as `caller`. */
function countingDurableObject(Base, name, caller, { wrapState = (s) => s } = {}) {
  if (typeof Base !== 'function') throw new Error(`build/index.js exports no Durable Object class \`${name}\` (see tests/http/support/counting.mjs)`);
  return class extends Base {
    constructor(state, env) {
      super(wrapState(state), countedEnv(env, caller));
    }
  };
}

// Longest one alarm is held: a test that forgets to release fails on its own, not the next.
const ALARM_HOLD_MS = 120_000;
// `held`; `epoch` changes at each release, so an alarm held before it runs even if a new
// hold comes within its next poll; `waiting`: alarms held now; `ran`: alarms run.
const alarms = { held: false, epoch: 0, waiting: 0, ran: 0 };
const alarmReport = () => ({ held: alarms.held, waiting: alarms.waiting, ran: alarms.ran });

/** The key's Durable Object class `Base`, its env counted, its alarm held while asked. */
function holdingAuthority(Base) {
  return class extends countingDurableObject(Base, 'KeyAuthority', 'authority', { wrapState: faultyState }) {
    async alarm(...args) {
      const epoch = alarms.epoch;
      if (alarms.held) {
        alarms.waiting += 1;
        try {
          for (let i = 0; i < ALARM_HOLD_MS / 50 && alarms.held && alarms.epoch === epoch; i++) {
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        } finally {
          alarms.waiting -= 1;
        }
      }
      alarms.ran += 1;
      return super.alarm(...args);
    }
  };
}

// The key's Durable Object, re-exported under its own name with a counting env: the one line
// to change if the class is renamed (the build before docs/authority.md: `QuotaLedger`).
export const KeyAuthority = holdingAuthority(built.KeyAuthority);
// A background job's object, likewise (`job`), its storage failing while asked.
export const UploadJob = countingDurableObject(built.UploadJob, 'UploadJob', 'job', { wrapState: faultyJobState });

export default class CountingWorker extends built.default {
  constructor(ctx, env) {
    super(ctx, countedEnv(env, 'worker'));
  }

  async fetch(request) {
    const { pathname } = new URL(request.url);
    const report = () => ({
      ...counts,
      kvNames,
      waiting: { ...waiting, pending: Object.fromEntries([...pendingCalls].filter(([, n]) => n > 0)) },
      parts: parts.map((sizes) => [...sizes.entries()].sort(([a], [b]) => a - b).map(([, size]) => size)),
    });
    if (pathname === '/__alarms' && request.method === 'GET') return Response.json(alarmReport());
    if (pathname === '/__alarms/hold' && request.method === 'POST') {
      alarms.held = true;
      return Response.json(alarmReport());
    }
    if (pathname === '/__alarms/release' && request.method === 'POST') {
      alarms.held = false;
      alarms.epoch += 1;
      return Response.json(alarmReport());
    }
    if (pathname === '/__faults/kv-put' && request.method === 'POST') {
      kvPutErrors = [...kvPutErrors, ...(await request.json()).errors];
      return Response.json(kvPutReport());
    }
    if (pathname === '/__faults/kv-put/release' && request.method === 'POST') {
      kvReleased = kvHolds;
      return Response.json(kvPutReport());
    }
    if (pathname === '/__faults/kv-read' && request.method === 'POST') {
      const asked = await request.json();
      kvReadFailing = asked.prefixes;
      kvReadHolding = asked.hold === true;
      return Response.json({ prefixes: kvReadFailing });
    }
    if (pathname === '/__faults/kv-read' && request.method === 'GET') {
      return Response.json({ held: kvReadsHeld });
    }
    if (pathname === '/__faults/r2-delete' && request.method === 'POST') {
      r2DeleteErrors = [...r2DeleteErrors, ...(await request.json()).errors];
      return Response.json({ queued: r2DeleteErrors.length });
    }
    if (pathname === '/__faults/authority' && request.method === 'POST') {
      const { faults, clear } = await request.json();
      authorityFaults = [...(clear ? [] : authorityFaults), ...faults];
      return Response.json({ queued: authorityFaults.length });
    }
    if (pathname === '/__faults/authority-alarm' && request.method === 'POST') {
      const { key_id: keyId, count } = await request.json();
      authorityAlarmFaults = { key_id: keyId, count };
      return Response.json({ queued: count });
    }
    if (pathname === '/__faults/authority-alarm' && request.method === 'GET') {
      return Response.json({ queued: authorityAlarmFaults.count });
    }
    if (pathname === '/__faults/sql-writes' && request.method === 'POST') {
      sqlWritesFail = (await request.json()).failing === true;
      return Response.json({ failing: sqlWritesFail });
    }
    if (pathname === '/__faults/job-storage' && request.method === 'POST') {
      jobStorageFails = (await request.json()).failing.filter((m) => JOB_STORAGE_FAULTS.includes(m));
      return Response.json({ failing: jobStorageFails });
    }
    if (pathname === '/__faults/timers' && request.method === 'POST') {
      const { at_least_ms: atLeast, divide_by: divideBy } = await request.json();
      timerScale = atLeast > 0 && divideBy > 0 ? { at_least_ms: atLeast, divide_by: divideBy } : null;
      return Response.json({ timers: timerScale });
    }
    if (pathname === '/__counts' && request.method === 'GET') return Response.json(report());
    if (pathname === '/__counts/reset' && request.method === 'POST') {
      const cleared = report();
      counts = {};
      kvNames = {};
      parts = [];
      waiting.peak = waiting.now;
      return Response.json(cleared);
    }
    return super.fetch(request);
  }
}
