// A real origin server on loopback for the HTTP tests: serves registered files and
// misbehaves on request (stalls, drops the connection, lies, redirects). A file can also
// serve byte ranges with a validator (ETag, Last-Modified, If-Range), throttle each
// connection, reset or stall a response at a given byte of the file, change between
// requests, and counts what it sent (`sent`) and what it was asked (`requests`). A file
// can also be served only at signed URLs that expire, which a `signer` redirects to.
import http from 'node:http';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The one range of a `Range` header value for a file of `total` bytes: `{start, end}`
 * (end inclusive), `'unsatisfiable'`, or null when it is absent, malformed or multi-range
 * (then the whole file is served, as RFC 9110 allows). */
export function parseRange(header, total) {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || total === 0) return 'unsatisfiable';
    return { start: Math.max(0, total - suffix), end: total - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignored
  if (start >= total) return 'unsatisfiable';
  return { start, end: m[2] === '' ? total - 1 : Math.min(Number(m[2]), total - 1) };
}

export async function startOrigin() {
  const routes = new Map();
  const hits = new Map();
  const seen = new Map(); // path -> [{range, ifRange, status}]
  const headersSeen = new Map(); // path -> [request headers]
  const sentBytes = new Map(); // path -> body bytes handed to sockets
  const files = new Map(); // path -> the mutable state of a file()
  const active = new Map(); // path -> requests being answered now
  const peaks = new Map(); // path -> the most requests answered at once
  const buckets = new WeakMap(); // socket -> {at}: when the next throttled chunk may go
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    // sentBefore: body bytes of this path already sent when this request came; at, closedAt:
    // when it came and when its response closed (ms, Date.now()); finished: whether its
    // response was sent to its end (not cut by either side)
    const entry = { range: req.headers.range ?? null, ifRange: req.headers['if-range'] ?? null, status: null, sentBefore: sentBytes.get(path) ?? 0, at: Date.now(), closedAt: null, finished: null };
    if (!headersSeen.has(path)) headersSeen.set(path, []);
    headersSeen.get(path).push({ ...req.headers });
    if (!seen.has(path)) seen.set(path, []);
    seen.get(path).push(entry);
    const open = (active.get(path) ?? 0) + 1;
    active.set(path, open);
    peaks.set(path, Math.max(peaks.get(path) ?? 0, open));
    res.on('close', () => {
      entry.closedAt = Date.now();
      entry.finished = res.writableFinished;
      entry.status ??= res.headersSent ? res.statusCode : null;
      active.set(path, active.get(path) - 1);
    });
    const route = routes.get(path);
    if (!route) {
      entry.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
      return;
    }
    route(req, res, entry);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const countSent = (path, n) => sentBytes.set(path, (sentBytes.get(path) ?? 0) + n);

  /** Writes `body[from..to)` to `res` chunk by chunk with backpressure, counting each chunk
   * as it is handed to the socket; throttled per socket, cut at a reset or stall point. */
  function pump(path, state, res, from, to, { chunkSize }, scrambled = false) {
    const { throttle, resetEvery, throttleFrom = 0 } = state.opts;
    const slowChunk = throttle ? Math.max(KiB, Math.min(chunkSize, 64 * KiB, Math.floor(throttle / 50))) : chunkSize;
    const socket = res.socket;
    let pos = from;
    let unflushed = 0; // writes whose callback has not run yet
    let timer;
    res.on('close', () => clearTimeout(timer));
    const destroyWhenFlushed = () => {
      const kill = () => socket.destroy();
      if (unflushed === 0) kill();
      else res.once('flushed', kill);
    };
    const step = () => {
      timer = undefined;
      while (!res.destroyed && pos < to) {
        // the nearest point where this response must stop
        const reset = state.resets.find((n) => !state.fired.has(`r${n}`) && n >= pos && n < to);
        const every = resetEvery !== undefined ? from + resetEvery : Infinity;
        const stall = state.opts.stallAt !== undefined && !state.fired.has('stall') && state.opts.stallAt >= pos && state.opts.stallAt < to
          ? state.opts.stallAt : Infinity;
        if (pos === reset) {
          state.fired.add(`r${reset}`);
          return destroyWhenFlushed();
        }
        if (pos === every) return destroyWhenFlushed();
        if (pos === stall) {
          state.fired.add('stall');
          return undefined; // never continues; the socket stays open until the client leaves
        }
        const slow = throttle && pos >= throttleFrom;
        if (slow) {
          const bucket = buckets.get(socket) ?? { at: 0 };
          buckets.set(socket, bucket);
          const now = performance.now();
          if (bucket.at > now + 1) {
            timer = setTimeout(step, bucket.at - now);
            return undefined;
          }
        }
        const chunk = slow ? slowChunk : chunkSize;
        const limit = Math.min(to, pos + chunk, reset ?? Infinity, every, stall, throttle && pos < throttleFrom ? throttleFrom : Infinity);
        const piece = scrambled ? state.body.subarray(pos, limit).map((b) => b ^ 0xff) : state.body.subarray(pos, limit);
        pos = limit;
        countSent(path, piece.length);
        if (slow) {
          const bucket = buckets.get(socket);
          bucket.at = Math.max(performance.now(), bucket.at) + (piece.length * 1000) / throttle;
        }
        unflushed += 1;
        const more = res.write(piece, () => {
          unflushed -= 1;
          if (unflushed === 0) res.emit('flushed');
        });
        if (!more) {
          res.once('drain', step);
          return undefined;
        }
      }
      if (!res.destroyed) res.end();
      return undefined;
    };
    step();
  }

  /** Answers one request for a file(): 200, 206 or 416, by its options and Range/If-Range. */
  function serveFile(path, state, req, res, entry) {
    state.requests += 1;
    const { opts } = state;
    if (opts.changeAfterRequests !== undefined && state.requests === opts.changeAfterRequests + 1) {
      state.body = opts.changedBody ?? state.body;
      state.etag = opts.changedEtag ?? state.etag;
      state.lastModified = opts.changedLastModified ?? state.lastModified;
    }
    if (state.requests <= opts.closeUnanswered) {
      res.socket.destroy();
      return undefined;
    }
    if (opts.signed !== undefined) {
      // a signed URL: good for `signed` requests, then expired (as S3 answers one)
      const sig = new URL(req.url, 'http://x').searchParams.get('sig');
      const used = state.signatures.get(sig);
      if (used === undefined || used >= opts.signed) {
        if (opts.expiredRedirect) {
          // an expiry scheme that sends the client back to where it got the URL
          entry.status = 302;
          res.writeHead(302, { location: opts.expiredRedirect }).end();
          return undefined;
        }
        entry.status = 403;
        res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
        return undefined;
      }
      state.signatures.set(sig, used + 1);
      entry.sig = sig;
    }
    const refusal = opts.statuses?.[state.requests];
    if (refusal !== undefined) {
      entry.status = refusal;
      res.writeHead(refusal, { 'content-type': 'text/plain', 'retry-after': '1' }).end('not now');
      return undefined;
    }
    if (opts.maxConnections !== undefined && active.get(path) > opts.maxConnections) {
      // this request would be one too many at once: refused before anything is read
      entry.status = 503;
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('too many connections');
      return undefined;
    }
    const total = state.body.length;
    const headers = {};
    if (opts.contentType) headers['content-type'] = opts.contentType;
    if (opts.disposition) headers['content-disposition'] = opts.disposition;
    const advertises = opts.ranges || opts.ignoreRange || opts.rangeLies;
    if (advertises) headers['accept-ranges'] = 'bytes';
    // `bareAfterFirstSig`: a server that sends no validator (nor honours If-Range) at later signatures
    const bare = opts.bareAfterFirstSig && entry.sig !== undefined && entry.sig !== '1';
    if (state.etag && !bare) headers.etag = state.etag;
    // 'now': a file rewritten all the time, modified in the very second each answer is sent
    const modified = state.lastModified === 'now' ? new Date().toUTCString() : state.lastModified;
    if (modified && !bare) headers['last-modified'] = modified;
    if (state.lastModified === 'now') headers.date = modified;

    let range = advertises && !opts.ignoreRange ? parseRange(req.headers.range, total) : null;
    const ifRange = req.headers['if-range'];
    if (range && !opts.ignoreIfRange && !bare && ifRange !== undefined && ifRange !== (state.etag ?? modified)) range = null; // changed: whole file
    if (opts.stallHeaders && range?.start > 0 && !state.fired.has('headers')) {
      // no answer at all: the connection stays open until the client leaves
      state.fired.add('headers');
      return undefined;
    }

    const send = (status, from, to, length, scrambled = false) => {
      entry.status = status;
      if (length !== null) headers['content-length'] = length;
      res.writeHead(status, headers);
      if (req.method === 'HEAD') return res.end();
      return pump(path, state, res, from, to, opts, scrambled);
    };
    if (opts.rangeLies === 'always-206' && req.method === 'GET') {
      // its first MiB as a 206, asked for a range or not
      const length = Math.min(total, MiB);
      headers['content-range'] = `bytes 0-${length - 1}/${total}`;
      return send(206, 0, length, length);
    }
    if (range === 'unsatisfiable') {
      entry.status = 416;
      res.writeHead(416, { 'content-range': `bytes */${total}`, 'content-type': 'text/plain' }).end();
      return undefined;
    }
    if (range && opts.rangeLies === 'wrong-range') {
      // claims a range starting at 0, whatever was asked, with that many bytes from 0
      const length = range.end - range.start + 1;
      headers['content-range'] = `bytes 0-${length - 1}/${total}`;
      return send(206, 0, length, length);
    }
    if (range && opts.rangeLies === 'long-206' && range.start === 0 && total > 1) {
      // more than was asked: all of the file but its last byte
      headers['content-range'] = `bytes 0-${total - 2}/${total}`;
      return send(206, 0, total - 1, total - 1);
    }
    if (range && opts.rangeLies === 'encoded' && range.start > 0) {
      // the range in a content coding of its own: each byte inverted
      headers['content-range'] = `bytes ${range.start}-${range.end}/${total}`;
      headers['content-encoding'] = 'x-inverted';
      return send(206, range.start, range.end + 1, range.end - range.start + 1, true);
    }
    if (range?.start === 0 && /^overlong/.test(opts.rangeLies ?? '')) {
      // claims `claim` bytes, of the file or as the file, and sends all of it, chunked
      const claimed = opts.rangeLies === 'overlong-whole-206' ? opts.claim : total;
      headers['content-range'] = `bytes 0-${opts.claim - 1}/${claimed}`;
      return send(206, 0, total, null);
    }
    if (range?.start === 0 && opts.rangeLies === 'framed-then-overlong-206') {
      // the first range from 0: a 206 of `claim` bytes with Content-Length; a later one
      // claims the same range and sends the whole file after it, chunked
      const first = !state.fired.has('framed-probe');
      state.fired.add('framed-probe');
      headers['content-range'] = `bytes 0-${opts.claim - 1}/${total}`;
      return send(206, 0, first ? opts.claim : total, first ? opts.claim : null);
    }
    if (range?.start === 0 && opts.rangeLies === 'short-first-206' && !state.fired.has('short-probe')) {
      // the first range from 0, sent chunked, ends cleanly after `claim` bytes; later ones are whole
      state.fired.add('short-probe');
      headers['content-range'] = `bytes 0-${range.end}/${total}`;
      return send(206, 0, opts.claim, null);
    }
    if (range && (opts.rangeLies === 'whole-206' || (opts.rangeLies === 'whole-206-later' && range.start > 0))) {
      headers['content-range'] = `bytes 0-${total - 1}/${total}`;
      return send(206, 0, total, total);
    }
    if (range && opts.rangeCap !== undefined) range.end = Math.min(range.end, range.start + opts.rangeCap - 1);
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${total}`;
      return send(206, range.start, range.end + 1, opts.chunked206 ? null : range.end - range.start + 1);
    }
    return send(200, 0, total, opts.chunked ? null : total);
  }

  return {
    base,
    /** `127.0.0.1:PORT`, as PRIVATE_FETCH_ALLOWLIST names it. */
    host: `127.0.0.1:${server.address().port}`,
    url: (path) => `${base}${path}`,
    hits: (path) => hits.get(path) ?? 0,
    /** Every request seen for `path`, in order: `{range, ifRange, status, sentBefore, at,
     * closedAt, finished, sig}` (the Range and If-Range headers, null when absent; the status
     * answered, null if none was; the body bytes of `path` the origin had sent when the
     * request came; when it came and closed; whether its response went to its end; a signed
     * file's signature). */
    requests: (path) => (seen.get(path) ?? []).map((e) => ({ ...e })),
    /** How many 206 answers each signature of signed file `path` was served with. */
    rangesBySignature: (path) => {
      const served = {};
      for (const r of (seen.get(path) ?? []).filter((q) => q.status === 206)) served[r.sig] = (served[r.sig] ?? 0) + 1;
      return served;
    },
    /** The request headers of every request seen for `path`, in order (names lowercase). */
    headers: (path) => (headersSeen.get(path) ?? []).map((h) => ({ ...h })),
    /** The most requests for `path` being answered at once (from request to close). */
    concurrency: (path) => peaks.get(path) ?? 0,
    /** Body bytes handed to sockets for `path`, over every request so far. */
    sent: (path) => sentBytes.get(path) ?? 0,
    /** Serves `body`: with Content-Length unless `chunked`, with `contentType` unless null.
     * Options (all off by default):
     * - `ranges`: `Accept-Ranges: bytes`; one `Range` (`a-b`, `a-`, `-n`) is 206 with
     *   Content-Range and Content-Length, past the end is 416 `bytes *\/total`, several are
     *   ignored (200). `If-Range` not equal to the current ETag (or, without one, the
     *   Last-Modified string) serves the whole file (200); with `ignoreIfRange`, If-Range is
     *   ignored: the range of the current file is served whatever the client holds.
     * - `etag` (e.g. '"v1"'), `lastModified` (an HTTP date): sent on every 200 and 206;
     *   `lastModified: 'now'`: the second each answer is sent, which its `Date` says too.
     * - `throttle`: body bytes per second per connection (a token bucket per socket); with
     *   `throttleFrom`, only the file's bytes from that offset on (a trickle after a fast start).
     * - `resetAt: [n, ...]`: file offsets; the first response about to write byte n writes
     *   up to it, then destroys its connection (each once).
     * - `resetEvery: n`: every response is destroyed after n bytes of its body.
     * - `stallAt: n`: once, the response reaching byte n stops there and never goes on.
     * - `stallHeaders`: once, the first request for a range past byte 0 gets no answer at
     *   all (no headers), as a hung backend behind a live connection.
     * - `ignoreRange`: advertises ranges (and sends the validators) but answers every
     *   request 200 with the whole body. `rangeLies: 'wrong-range'`: a range request is 206
     *   `bytes 0-(len-1)/total` with the file's first len bytes; `'whole-206'`: 206 with
     *   the whole file (`'whole-206-later'`: to a range that does not start at 0 only, so
     *   the probe is answered as asked); `'long-206'`: a range from 0 is 206 with all but
     *   the last byte, however few were asked for; `'always-206'`: every GET, with a Range
     *   or without, is 206 with the file's first MiB; `'encoded'`: a range that does not
     *   start at 0 is 206 with `Content-Encoding: x-inverted`, each of its bytes inverted;
     *   `'overlong-206'`: a range from 0 is 206 `bytes 0-(claim-1)/total`,
     *   `'overlong-whole-206'` 206 `bytes 0-(claim-1)/claim` (the file is `claim` bytes),
     *   and either sends the whole file after it, chunked (a body longer than its
     *   Content-Range); `'framed-then-overlong-206'`: the first range from 0 is 206
     *   `bytes 0-(claim-1)/total` with Content-Length `claim`, a later one the same
     *   Content-Range, chunked, with the whole file after it; `'short-first-206'`: the
     *   first range from 0 is 206 as asked, sent chunked, and its body ends cleanly after
     *   `claim` bytes (later ones are whole).
     * - `maxConnections: n`: a request that comes while n requests for this file are being
     *   answered is refused with 503 (and `Retry-After: 1`), as a server that caps its
     *   connections per client does.
     * - `closeUnanswered: n`: the first n requests for this file have their connection
     *   closed before any answer, as a kept-alive connection the server closed as it was
     *   reused (their status is then null).
     * - `statuses: {k: status}`: the k-th request for this file (from 1) is answered that
     *   status (with `Retry-After: 1`) and no file, as a server busy for a moment.
     * - `rangeCap: n` with `ranges`: a range is answered with at most its first n bytes (206
     *   with the Content-Range of those), as a server that caps the ranges it serves.
     * - `changeAfterRequests: k` with `changedBody`, `changedEtag`, `changedLastModified`:
     *   from request k+1 on, the file is the changed one.
     * - `signed: n`: served only at a URL a `signer` gave (`?sig=`), each good for n
     *   requests; any other request is 403, as an expired signed URL. A request's `sig` is
     *   in its entry of `requests`. With `bareAfterFirstSig`, answers at any signature but
     *   the first carry no ETag or Last-Modified and ignore If-Range, as another server
     *   behind the redirect might. With `expiredRedirect: path`, an expired one answers
     *   302 to `path` (the signer) instead of 403.
     * - `chunked` with `ranges`: the 200 has no Content-Length, a 206 has one;
     *   `chunked206`: a 206 has none either (sent chunked, its Content-Range gives its size). */
    file(path, body, {
      contentType = 'application/octet-stream', chunked = false, chunked206 = false, disposition, chunkSize = 64 * KiB,
      ranges = false, etag, lastModified, throttle, throttleFrom, resetAt = [], resetEvery, stallAt, stallHeaders = false, ignoreRange = false, rangeLies,
      ignoreIfRange = false, maxConnections, closeUnanswered = 0, statuses, rangeCap, changeAfterRequests, changedBody, changedEtag, changedLastModified, signed,
      bareAfterFirstSig = false, expiredRedirect, claim,
    } = {}) {
      const state = {
        body,
        etag,
        lastModified,
        requests: 0,
        resets: [...resetAt].sort((a, b) => a - b),
        fired: new Set(),
        signatures: new Map(), // sig -> requests served at it
        opts: {
          contentType, chunked, chunked206, disposition, chunkSize, ranges, throttle, throttleFrom, resetEvery, stallAt, stallHeaders, ignoreRange, rangeLies, ignoreIfRange,
          maxConnections, closeUnanswered, statuses, rangeCap, changeAfterRequests, changedBody, changedEtag, changedLastModified, signed,
          bareAfterFirstSig, expiredRedirect, claim,
        },
      };
      files.set(path, state);
      routes.set(path, (req, res, entry) => serveFile(path, state, req, res, entry));
      return `${base}${path}`;
    },
    /** Changes a file()'s content and validators for the requests that come after. */
    replace(path, body, { etag, lastModified } = {}) {
      const state = files.get(path);
      if (!state) throw new Error(`no file at ${path}`);
      Object.assign(state, { body, etag, lastModified });
    },
    /** Answers with `status` and an optional Location. */
    status(path, status, location) {
      routes.set(path, (req, res) => {
        res.writeHead(status, location ? { location } : {}).end(`status ${status}`);
      });
      return `${base}${path}`;
    },
    /** A signed URL of the `signed` file at `filePath`, with signature `sig` (good for its
     * `signed` requests from the first use on). */
    mint(filePath, sig) {
      const state = files.get(filePath);
      if (!state) throw new Error(`no file at ${filePath}`);
      if (!state.signatures.has(String(sig))) state.signatures.set(String(sig), 0);
      return `${base}${filePath}?sig=${sig}`;
    },
    /** Redirects (302) every request to a new signed URL of the `signed` file at `filePath`
     * (`?sig=1`, `?sig=2`, ...), on this origin or on `on` (another origin); with `fixed`,
     * always to the first one. The k-th request (from 1) for each k in `busy` is answered
     * 503 instead, as a server busy for a moment. */
    signer(path, filePath, { fixed = false, busy = [], on = null } = {}) {
      const target = on ?? this;
      target.mint(filePath, 1);
      let signed = 0;
      let asked = 0;
      routes.set(path, (req, res, entry) => {
        asked += 1;
        if (busy.includes(asked)) {
          entry.status = 503;
          res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('not now');
          return;
        }
        if (!fixed || signed === 0) signed += 1;
        entry.status = 302;
        res.writeHead(302, { location: target.mint(filePath, signed) }).end();
      });
      return `${base}${path}`;
    },
    /** Sends headers and `prefix`, then never finishes. */
    stall(path, prefix, { contentLength } = {}) {
      routes.set(path, (req, res) => {
        const headers = { 'content-type': 'application/octet-stream' };
        if (contentLength) headers['content-length'] = contentLength;
        res.writeHead(200, headers);
        res.write(prefix);
      });
      return `${base}${path}`;
    },
    /** Takes the request and never answers it (no headers), as a hung backend. */
    silent(path) {
      routes.set(path, () => {});
      return `${base}${path}`;
    },
    /** Sends `sent` bytes of a declared (or chunked) body, then destroys the connection. */
    drop(path, sent, { contentLength } = {}) {
      routes.set(path, (req, res) => {
        const headers = { 'content-type': 'application/octet-stream' };
        if (contentLength) headers['content-length'] = contentLength;
        res.writeHead(200, headers);
        res.write(sent, () => setTimeout(() => res.socket.destroy(), 50));
      });
      return `${base}${path}`;
    },
    /** Writes `head` and `body` straight to the socket, bypassing node's framing (so it can
     * lie about Content-Length or break chunked encoding), then closes the connection. */
    raw(path, head, body) {
      routes.set(path, (req, res) => {
        const socket = res.socket;
        socket.write(head);
        socket.write(body, () => socket.end());
      });
      return `${base}${path}`;
    },
    /** A chunked body that never ends: `chunk` again and again until the client leaves. */
    endless(path, chunk) {
      routes.set(path, (req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
      });
      return `${base}${path}`;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
