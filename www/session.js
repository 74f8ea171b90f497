// The tab's credentials (session storage only, never the URL), the client package and the
// admin API's requests.
import { $ } from './ui.js';

const STORED = { apiKey: 'urlstash.apiKey', adminToken: 'urlstash.adminToken' };
export const inputs = { apiKey: $('api-key'), adminToken: $('admin-token') };

for (const [name, input] of Object.entries(inputs)) {
  input.value = sessionStorage.getItem(STORED[name]) ?? '';
  input.addEventListener('input', () => sessionStorage.setItem(STORED[name], input.value.trim()));
}

export const apiKey = () => inputs.apiKey.value.trim();
export const adminToken = () => inputs.adminToken.value.trim();

/** Sets the API key (e.g. a key just created in Keys), as typing it would: every view
 * that holds the old key's state hears of the change. */
export function useKey(key) {
  inputs.apiKey.value = key;
  inputs.apiKey.dispatchEvent(new Event('input'));
}

/** The client package, loaded here rather than imported: a page served without `www/pkg/`
 * (before `make pkg`) still runs, and says what is missing. */
let UploadClient;

/** Resolves true once the wasm client is loaded, false when it cannot be. */
export const ready = import('./pkg/urlstash.js')
  .then(async (pkg) => {
    await pkg.default();
    UploadClient = pkg.UploadClient;
    return true;
  })
  .catch((err) => {
    console.error(err);
    return false;
  });

/** A client of this origin with the current key (after `ready`); `free()` it after use (or
 * let it be collected: it holds two strings). */
export const client = () => new UploadClient({ baseUrl: location.origin, apiKey: apiKey() });

/** The admin API's error: the envelope's words, the status, and the field it names. */
class AdminError extends Error {
  constructor(status, msg) {
    super(msg);
    this.name = 'AdminError';
    this.status = status;
    this.field = status === 401 ? 'adminToken'
      : ['name', 'max_bytes', 'max_files', 'disabled', 'url', 'file_id', 'reason'].find((f) => msg.includes(`\`${f}\``)) ?? null;
  }
}

/** `method /api/v1/admin{path}` with the admin token; resolves the envelope's `data`,
 * rejects with an AdminError carrying the envelope's `msg`. */
export async function admin(method, path, body) {
  return (await adminEnvelope(method, path, body)).data;
}

/** As `admin`, resolving the whole envelope (its `msg` too). */
export async function adminEnvelope(method, path, body) {
  // A token is printable ASCII, spaces and tabs included (an operator's passphrase, which the
  // server takes): anything else, such as a pasted zero-width space, is answered as the
  // server would, before the browser refuses the header (which would read as the service
  // being unreachable).
  if (!/^[\x20-\x7e\t]*$/.test(adminToken())) throw new AdminError(401, 'invalid admin token');
  let res;
  try {
    res = await fetch(`/api/v1/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new AdminError(0, `network error: could not reach the server (${err.message})`);
  }
  let envelope;
  try {
    envelope = await res.json();
  } catch {
    throw new AdminError(res.status, `unexpected response from the server (HTTP ${res.status})`);
  }
  if (!envelope.success) throw new AdminError(res.status, envelope.msg);
  return envelope;
}

/** One page of an admin listing (`/keys`, `/blocklist`): its `field` as `items`, 50 a page,
 * after `cursor` (null: the first page). */
export async function adminPage(path, field, cursor) {
  const page = await admin('GET', `${path}?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  return { items: page[field], cursor: page.cursor };
}
