// The error every UploadClient promise rejects with: a real class, exported by the package,
// so `err instanceof UploadError` works. Constructed by the client's Rust code
// (src/client/error.rs imports this module; wasm-bindgen ships it under snippets/).
export class UploadError extends Error {
  constructor(message, status, code, field, retryAfter = null, uncertain = false) {
    super(message);
    this.name = 'UploadError';
    /** HTTP status; 0 when no response arrived or the options were unusable. */
    this.status = status;
    /** The envelope's `code` (equal to the HTTP status); 0 like `status`. */
    this.code = code;
    /** The option the error concerns (to show the message beside it), or null. */
    this.field = field;
    /** Seconds the server asked to wait before sending again (a 503 that passes, a 429, a
     * keyed upload's 409 whose earlier send still runs), or null. */
    this.retryAfter = retryAfter ?? null;
    /** Whether the call may have been done all the same: no answer came, a page that is not
     * the service's (a gateway's), the service's 500, or an abort while a request that is
     * not a GET was on its way. Send it again only with the same idempotencyKey. */
    this.uncertain = uncertain === true;
  }
}
