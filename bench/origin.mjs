// The bench's origin: serves registered files as a real server or CDN does, on loopback.
// Every file has Content-Length, `Accept-Ranges: bytes` and a strong ETag; a single range
// (`bytes=a-b`, `bytes=a-`, `bytes=-n`) is answered 206 with Content-Range, an unsatisfiable
// one 416; `If-Range` with any validator other than the current ETag gets the whole file
// (200), as RFC 9110 says. Several ranges in one request are not served as multipart: the
// whole file comes back (200), which the RFC allows. A file may be `throttle`d to a rate
// per connection (bytes/s; a token bucket per socket, so N connections get N times the rate,
// as with a throttled CDN or S3's per-connection ceiling). Counts the body bytes it writes
// per path (`sent`) and the ranged requests it answered 206 (`ranges`), so the bench can
// tell how much of a file an upload fetched, and whether it fetched it in ranges.
// tests/http/support/origin.mjs is the tests' origin (faults, lies); this one only serves.
import crypto from 'node:crypto';
import http from 'node:http';

const PIECE = 64 * 1024;
// A bucket holds up to two pieces, so a timer that fires late does not cost the connection rate.
const BURST = 2 * PIECE;

export async function startRangedOrigin() {
  const files = new Map();
  const sent = new Map();
  const ranges = new Map();
  const buckets = new WeakMap(); // socket -> { tokens, at }: the connection's token bucket
  const sockets = new Set();

  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = files.get(path);
    if (!file) return res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
    if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405, { allow: 'GET, HEAD' }).end();
    const { body, etag } = file;
    const headers = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', etag };
    let [start, end] = [0, body.length]; // [start, end)
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && (range[1] || range[2]) && (ifRange === undefined || ifRange === etag)) {
      if (range[1]) {
        start = Number(range[1]);
        end = range[2] ? Math.min(Number(range[2]) + 1, body.length) : body.length;
      } else {
        start = Math.max(0, body.length - Number(range[2]));
      }
      if (start >= body.length || start >= end) {
        return res.writeHead(416, { ...headers, 'content-range': `bytes */${body.length}` }).end();
      }
      headers['content-range'] = `bytes ${start}-${end - 1}/${body.length}`;
    }
    headers['content-length'] = end - start;
    if (headers['content-range']) ranges.set(path, (ranges.get(path) ?? 0) + 1);
    res.writeHead(headers['content-range'] ? 206 : 200, headers);
    if (req.method === 'HEAD') return res.end();

    // Writes [start, end) in pieces, as the bucket allows and the socket drains.
    const socket = req.socket;
    if (file.throttle && !buckets.has(socket)) buckets.set(socket, { tokens: 0, at: performance.now() });
    let offset = start;
    let timer;
    res.on('close', () => clearTimeout(timer));
    const pump = () => {
      while (offset < end && !res.destroyed) {
        let n = Math.min(PIECE, end - offset);
        if (file.throttle) {
          const bucket = buckets.get(socket);
          const now = performance.now();
          bucket.tokens = Math.min(BURST, bucket.tokens + ((now - bucket.at) * file.throttle) / 1000);
          bucket.at = now;
          if (bucket.tokens < n) {
            timer = setTimeout(pump, Math.ceil(((n - bucket.tokens) * 1000) / file.throttle));
            return;
          }
          bucket.tokens -= n;
        }
        const piece = body.subarray(offset, offset + n);
        offset += n;
        sent.set(file.path, (sent.get(file.path) ?? 0) + n);
        if (!res.write(piece)) return res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;

  return {
    base,
    /** `127.0.0.1:PORT`, as PRIVATE_FETCH_ALLOWLIST names it. */
    host: `127.0.0.1:${server.address().port}`,
    url: (path) => `${base}${path}`,
    /** Serves `body` at `path`; `throttle`: bytes per second per connection. */
    file(path, body, { throttle } = {}) {
      const etag = `"${crypto.createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
      files.set(path, { path, body, etag, throttle });
      return `${base}${path}`;
    },
    /** Body bytes written for `path`, and ranged requests answered 206 for it, since the
     * start or the last `resetSent(path)`. */
    sent: (path) => sent.get(path) ?? 0,
    ranges: (path) => ranges.get(path) ?? 0,
    resetSent: (path) => { sent.delete(path); ranges.delete(path); },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
