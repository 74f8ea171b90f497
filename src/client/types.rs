//! The package's TypeScript types for what JS passes in (options) and the shapes serde
//! cannot say (the batch's union on `success`, `UploadError`); the answers' types
//! (`FileData`, `DeletedFile`, `FileList`, `Usage`, `Job`, `JobState`, `JobFailure`,
//! `SignedLinks`) are generated from the core's serde types by `tsify`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Options of `new UploadClient(...)`. */
export interface UploadClientOptions {
  /** The service's base URL, e.g. `https://files.example.com` (no path needed). */
  baseUrl: string;
  /** The API key, sent as `Authorization: Bearer <apiKey>`. Checked on each call. */
  apiKey: string;
}

/** Options of `uploadFromUrl(...)`. */
export interface UploadOptions {
  /** The remote file: an absolute http or https URL. */
  fileUrl: string;
  /** Folder to store under, e.g. `images/downloaded` (default: by file type). */
  uploadPath?: string | undefined;
  /** Stored name with extension; an existing file of that name is replaced. */
  fileName?: string | undefined;
  /** The SHA-256 the file must have (64 hex digits): other bytes are refused (422) and
   * nothing is stored. */
  expectedSha256?: string | undefined;
  /** The file's lifetime in seconds: at least 60, at most the key's maximum (default). */
  expiresIn?: number | undefined;
  /** Downloads allowed (1 to 1,000,000): each GET counts (the file is always served whole); the file is
   * deleted when they are used up. `1` is a one-time link. */
  maxDownloads?: number | undefined;
  /** Both links are signed (`?exp=...&sig=...`); without a valid signature `download_url` answers
   * 403 and `file_url` 404 (as a name that holds nothing). */
  private?: boolean | undefined;
  /** Headers for the origin (at most 8: `Authorization`, `Cookie`, `Referer`, `Accept`,
   * `Accept-Language`, `User-Agent`, `X-*`), sent only to the first URL's origin and never
   * stored. */
  originHeaders?: Record<string, string> | undefined;
  /** Sent as `Idempotency-Key` (1 to 255 printable ASCII characters, a UUID say): the same
   * upload sent again with it is answered with what the first one did (the file it stored,
   * or the job it started), and stores or starts nothing, so the client sends it again when
   * a send fails in passing (no answer, a gateway's 5xx page, the service's 500, or its 503
   * with `Retry-After`), up to 3 times, and waits out its 409 with `Retry-After` (an earlier
   * send with the key still running: up to 15 minutes); another upload with it is refused
   * (422). */
  idempotencyKey?: string | undefined;
  /** Aborts the call (see `CallOptions`). */
  signal?: AbortSignalLike | undefined;
}

/** What `signal` takes: an `AbortSignal` (`controller.signal`, `AbortSignal.timeout(ms)`),
 * declared by the part the client uses, so that the types check without the `dom` lib. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** Options of a call that takes no other: `getFile`, `deleteFile`, `getJob`, `cancelJob`,
 * `usage`. */
export interface CallOptions {
  /** Aborts the call: its request on its way, or its wait before sending again. The
   * promise rejects with an `UploadError` of status 0, `uncertain` when a request that is
   * not a `GET` was on its way (an upload, a start, a delete, a cancel, a link's minting):
   * the service may have done it. */
  signal?: AbortSignalLike | undefined;
}

/** The calls that take `CallOptions`, without them. */
export interface UploadClient {
  getFile(fileId: string): Promise<FileData>;
  deleteFile(fileId: string): Promise<DeletedFile>;
  getJob(jobId: string): Promise<Job>;
  cancelJob(jobId: string): Promise<Job>;
  usage(): Promise<Usage>;
}

/** One item of `uploadFromUrls(...)`: an upload's options but `idempotencyKey` and
 * `signal` (the batch's own options: one header and one signal for all its items). */
export type UploadItem = Omit<UploadOptions, "idempotencyKey" | "signal">;

/** Options of `uploadFromUrls(items, ...)`. */
export interface BatchOptions {
  /** Sent as `Idempotency-Key`: each item is named by it and its place in the request, so
   * the same batch sent again is answered with the file each item stored the first time
   * (an item that failed then is tried again), storing nothing twice; sent again by the
   * client as `uploadFromUrl`'s upload is. */
  idempotencyKey?: string | undefined;
  /** Aborts the call (see `CallOptions`). */
  signal?: AbortSignalLike | undefined;
}

/** `uploadFromUrls(items)` without options. */
export interface UploadClient {
  uploadFromUrls(items: UploadItem[]): Promise<BatchResult>;
}

/** Options of `mintLinks(...)`. */
export interface LinkOptions {
  /** Seconds the links stay valid, at most the file's remaining life (default). */
  expiresIn?: number | undefined;
  /** Aborts the call (see `CallOptions`). */
  signal?: AbortSignalLike | undefined;
}

/** `mintLinks()` without options (the same overload as `listFiles()`). */
export interface UploadClient {
  mintLinks(fileId: string): Promise<SignedLinks>;
}

/** Options of `listFiles(...)`. */
export interface ListOptions {
  /** Only files in this folder and below, e.g. `images`. */
  uploadPath?: string | undefined;
  /** Files per page, 1 to 100 (default 50). */
  limit?: number | undefined;
  /** The previous page's `cursor`; only valid with the same `uploadPath` and `order`. */
  cursor?: string | null | undefined;
  /** `"name"` (default: by upload path, then file name) or `"upload_time"` (newest first). */
  order?: "name" | "upload_time" | undefined;
  /** Aborts the call (see `CallOptions`). */
  signal?: AbortSignalLike | undefined;
}

/** `listFiles()` without options (wasm-bindgen cannot mark a typed parameter optional;
 * this overload merges into the generated class). */
export interface UploadClient {
  listFiles(): Promise<FileList>;
}

/** Options of `startUpload(...)`: an upload's options but `originHeaders` (a job would have
 * to store them, so the service refuses them: 400), and where to POST the job's final
 * status. */
export interface StartUploadOptions extends Omit<UploadOptions, "originHeaders"> {
  /** Where the job's final status is POSTed, signed (the key needs a webhook secret,
   * issued by the admin API; without one, 400). */
  callbackUrl?: string | undefined;
}

/** Options of `waitForJob(...)`. */
export interface WaitOptions {
  /** Between polls, in ms (default 1000, at least 100). */
  intervalMs?: number | undefined;
  /** Called with the job after every poll (its `bytes_received` and `total_bytes`). An
   * exception it throws is ignored: a faulty callback never ends the wait. */
  onProgress?: ((job: Job) => void) | undefined;
  /** Ends the wait, a poll on its way or the time between two (status 0, not
   * `uncertain`); the job goes on: `cancelJob` stops it. */
  signal?: AbortSignalLike | undefined;
}

/** `waitForJob(jobId)` without options. */
export interface UploadClient {
  waitForJob(jobId: string): Promise<Job>;
}

/** One item's answer in a batch: the API's envelope, as the single upload would answer. */
export type BatchItemResult =
  | { success: true; code: 200; msg: string; data: FileData }
  | { success: false; code: number; msg: string; data: null };

/** `uploadFromUrls(...)`'s answer. */
export interface BatchResult {
  /** Items stored. */
  succeeded: number;
  /** Items refused (before sending or by the server). */
  failed: number;
  /** One envelope per item, in the order of the request. */
  results: BatchItemResult[];
  /** Seconds to wait before sending the refused items again, when one was refused for a
   * reason that passes (503: the instance was busy with other transfers; the answer's
   * `Retry-After`), else `null`. (A keyed batch's item answered 409 with it, still run by
   * an earlier send with the key, is waited out by the client when it is the batch's only
   * kind of failure; otherwise, or past 15 minutes of that, send the whole batch again
   * with its key, never the item alone.) */
  retryAfter: number | null;
}

/** The answers' types under the names the package has always used (generated from the
 * core's `FileDeleted`, `UsageReport` and `JobStatus`). */
export type DeletedFile = FileDeleted;
export type Usage = UsageReport;
export type Job = JobStatus;

/** The request field an error concerns. */
export type UploadErrorField =
  | "apiKey" | "fileUrl" | "uploadPath" | "fileName" | "expectedSha256"
  | "expiresIn" | "maxDownloads" | "private" | "originHeaders" | "callbackUrl";

/** What every `UploadClient` promise rejects with: a class the package exports, so
 * `err instanceof UploadError` works (`err.name === "UploadError"` too). */
export class UploadError extends Error {
  constructor(message: string, status: number, code: number, field: UploadErrorField | null, retryAfter?: number | null, uncertain?: boolean);
  name: "UploadError";
  /** HTTP status; 0 when no response arrived (network, CORS) or the options were unusable.
   * Errors caught before sending carry the status the server would have answered. */
  status: number;
  /** The envelope's `code` (equal to the HTTP status); 0 like `status`. */
  code: number;
  /** The field to show the message beside, or null. */
  field: UploadErrorField | null;
  /** Seconds the server asked to wait before sending the same request again (`Retry-After`
   * of a 503: a busy instance, the blocklist not read yet, an update under way; of a 429;
   * or of a keyed upload's 409, whose earlier send with the key still runs and may store
   * the file: then `uncertain`), or null. */
  retryAfter: number | null;
  /** Whether the call may have been done all the same: no answer came, a page that is not
   * the service's (a gateway's), the service's 500, or an abort while a request that
   * changes something was on its way, to this send or an earlier one of a call sent again
   * (a 429 after a send that went unanswered is uncertain). Send it again only with the
   * same `idempotencyKey`. */
  uncertain: boolean;
}

/* `UploadClient` implements `Symbol.dispose` (`using client = new UploadClient(...)`). So
 * that the types check under any `lib` (without `esnext.disposable` too), the symbol is
 * declared here the way TypeScript's own lib declares it; the two declarations merge. */
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}
"#;
