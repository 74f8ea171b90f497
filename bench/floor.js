// The floor Worker: only the storage calls the upload contract requires, in plain JS, with
// nothing else (no auth, no sniffing, no validation). Where the reference shows what one
// fetch and one put cost, this shows what any implementation of the contract must pay on
// the same runtime: the object put with its type and metadata, the `file_id` index entry in
// R2 (so `download_url` resolves at once), and a quota reservation before storing and its
// settlement after, in a per-key Durable Object.

/** Per-key quota ledger: reservations (`p:`) become settled files (`f:`). */
export class FloorLedger {
  constructor(state) {
    this.storage = state.storage;
    this.byObject = new Map();
    this.bytes = 0;
  }

  async fetch(request) {
    const { op, fileId, objectKey, bytes } = await request.json();
    if (op === 'reserve') {
      this.bytes += bytes;
      this.storage.put(`p:${fileId}`, JSON.stringify({ objectKey, bytes, at: Date.now() }));
    } else {
      this.storage.delete(`p:${fileId}`);
      const replaced = this.byObject.get(objectKey);
      if (replaced) this.storage.delete(`f:${replaced}`);
      this.byObject.set(objectKey, fileId);
      this.storage.put(`f:${fileId}`, JSON.stringify({ objectKey, bytes }));
    }
    return Response.json({ ok: true });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const objectKey = url.searchParams.get('key');
    const fileId = `file_${crypto.randomUUID().replaceAll('-', '')}`;
    const ledger = env.LEDGER.get(env.LEDGER.idFromName('k_floor'));
    const call = async (op, bytes) => {
      const res = await ledger.fetch('https://ledger/', { method: 'POST', body: JSON.stringify({ op, fileId, objectKey, bytes }) });
      return res.json();
    };
    const origin = await fetch(url.searchParams.get('url'));
    const bytes = Number(origin.headers.get('content-length'));
    await call('reserve', bytes);
    const now = Date.now();
    await Promise.all([
      env.BUCKET.put(objectKey, origin.body, {
        httpMetadata: { contentType: origin.headers.get('content-type') ?? 'application/octet-stream' },
        customMetadata: { file_id: fileId, owner: 'k_floor', original_name: 'file.bin', upload_ms: String(now), expires_ms: String(now + 3600e3) },
      }),
      env.BUCKET.put(`i/${fileId}`, '', { customMetadata: { object_key: objectKey, owner: 'k_floor', expires_ms: String(now + 3600e3) } }),
    ]);
    await call('settle', bytes);
    return Response.json({ ok: true, file_id: fileId });
  },
};
