// The reference Worker: the few lines a user would write instead of urlstash, and a drain
// route that fetches and discards a body (the runtime's own ceiling for the fetch half).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const source = url.searchParams.get('url');
    if (url.pathname === '/upload') {
      await env.BUCKET.put(url.searchParams.get('key'), (await fetch(source)).body);
      return Response.json({ ok: true });
    }
    if (url.pathname === '/drain') {
      const reader = (await fetch(source)).body.getReader();
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
      }
      return Response.json({ bytes });
    }
    return new Response('not found', { status: 404 });
  },
};
