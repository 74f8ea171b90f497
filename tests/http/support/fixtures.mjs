// Test files of each type: real headers (magic bytes) followed by deterministic filler.
import crypto from 'node:crypto';
import zlib from 'node:zlib';

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** Deterministic pseudo-random bytes (the same for the same seed): AES-128-CTR's key stream
 * under a key derived from the seed, which the runtime makes at memory speed (a test can
 * make tens of MiB without holding its event loop, and the loopback origin with it). */
export function filler(size, seed = 1) {
  const key = crypto.createHash('sha256').update(`filler:${seed}`).digest().subarray(0, 16);
  return crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A real, viewable PNG of `w`x`h` pixels in a gradient. */
export function png(w = 32, h = 32) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) row.set([(x * 255) / w, (y * 255) / h, 160], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const WEBP_1X1 = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');

/** Each type the tests upload: bytes, the type the server must detect, and an extension. */
export const TYPES = {
  png: { bytes: png(), mime: 'image/png', ext: 'png' },
  jpeg: {
    bytes: Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), filler(3000, 2), Buffer.from('ffd9', 'hex')]),
    mime: 'image/jpeg',
    ext: 'jpg',
  },
  gif: { bytes: GIF_1X1, mime: 'image/gif', ext: 'gif' },
  webp: { bytes: WEBP_1X1, mime: 'image/webp', ext: 'webp' },
  pdf: { bytes: Buffer.concat([Buffer.from('%PDF-1.4\n'), filler(2000, 3), Buffer.from('\n%%EOF\n')]), mime: 'application/pdf', ext: 'pdf' },
  unknown: { bytes: Buffer.concat([Buffer.from('ZZZZ'), filler(1500, 4)]), mime: 'application/octet-stream', ext: 'bin' },
};
