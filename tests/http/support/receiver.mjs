// A loopback webhook receiver for the tests that start background jobs with a
// `callback_url`: it keeps every delivery and answers as a test scripts it.
import http from 'node:http';

/** A loopback webhook receiver: answers each POST with the next of `script` (then 200), or
 * on a path given to `redirect`, with that redirect every time, or on a path given to
 * `stall`, once, with a 200 (or `status`) that long late (kept with status null); and keeps
 * every delivery (headers and raw body). */
export async function startReceiver() {
  const deliveries = [];
  const redirects = new Map(); // path -> [status, location]
  const stalls = new Map(); // path -> [ms, status]
  let script = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const stall = stalls.get(req.url);
      if (stall) {
        stalls.delete(req.url);
        deliveries.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: null, at: Date.now() });
        const [ms, status] = stall;
        setTimeout(() => res.writeHead(status).end('late'), ms);
        return;
      }
      const [status, location] = redirects.get(req.url) ?? [script.shift() ?? 200];
      deliveries.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'text/plain', ...(location ? { location } : {}) }).end(String(status));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${server.address().port}`;
  return {
    host,
    url: (p) => `http://${host}${p}`,
    deliveries: (p) => deliveries.filter((d) => d.path === p),
    answer: (statuses) => { script = [...statuses]; },
    redirect: (p, status, location) => { redirects.set(p, [status, location]); },
    stall: (p, ms, status = 200) => { stalls.set(p, [ms, status]); },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
