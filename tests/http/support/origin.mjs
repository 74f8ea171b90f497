// A real origin server on loopback for the HTTP tests: serves registered files and
// misbehaves on request (stalls, drops the connection, lies, redirects).
import http from 'node:http';

export async function startOrigin() {
  const routes = new Map();
  const hits = new Map();
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
      return;
    }
    route(req, res);
  });
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
    hits: (path) => hits.get(path) ?? 0,
    /** Serves `body`: with Content-Length unless `chunked`, with `contentType` unless null. */
    file(path, body, { contentType = 'application/octet-stream', chunked = false, disposition, chunkSize = 64 * 1024 } = {}) {
      routes.set(path, (req, res) => {
        const headers = {};
        if (contentType) headers['content-type'] = contentType;
        if (disposition) headers['content-disposition'] = disposition;
        if (!chunked) headers['content-length'] = body.length;
        res.writeHead(200, headers);
        if (chunked) {
          let offset = 0;
          const pump = () => {
            while (offset < body.length) {
              const piece = body.subarray(offset, offset + chunkSize);
              offset += piece.length;
              if (!res.write(piece)) return res.once('drain', pump);
            }
            res.end();
          };
          pump();
        } else {
          res.end(body);
        }
      });
      return `${base}${path}`;
    },
    /** Answers with `status` and an optional Location. */
    status(path, status, location) {
      routes.set(path, (req, res) => {
        res.writeHead(status, location ? { location } : {}).end(`status ${status}`);
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
