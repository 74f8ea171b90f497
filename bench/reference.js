// The reference Worker: the few lines a user would write instead of urlstash, and a drain
// route that fetches and discards a body (the runtime's own ceiling for the fetch half).
// Both answer 502 for an origin's error page (not a file: the bench counts a failed
// upload), and say how many bytes they stored or read, which the bench checks.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (!['/upload', '/drain'].includes(url.pathname)) return new Response('not found', { status: 404 });
    const origin = await fetch(url.searchParams.get('url'));
    if (!origin.ok) return new Response(`origin answered ${origin.status}`, { status: 502 });
    if (url.pathname === '/upload') {
      const stored = await env.BUCKET.put(url.searchParams.get('key'), origin.body);
      return Response.json({ ok: true, size: stored.size });
    }
    const reader = origin.body.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
    return Response.json({ bytes });
  },
};
