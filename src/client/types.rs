//! The package's hand-written TypeScript types, emitted into the generated `.d.ts`.

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
  uploadPath?: string;
  /** Stored name with extension; an existing file of that name is replaced. */
  fileName?: string;
  /** The SHA-256 the file must have (64 hex digits): other bytes are refused (422) and
   * nothing is stored. */
  expectedSha256?: string;
  /** The file's lifetime in seconds: at least 60, at most the key's maximum (default). */
  expiresIn?: number;
  /** Downloads allowed (1 to 1,000,000): each GET from the first byte counts; the file is
   * deleted when they are used up. `1` is a one-time link. */
  maxDownloads?: number;
  /** Both links are signed (`?exp=...&sig=...`) and answer 403 without a valid signature. */
  private?: boolean;
  /** Headers for the origin (at most 8: `Authorization`, `Cookie`, `Referer`, `Accept`,
   * `Accept-Language`, `User-Agent`, `X-*`), sent only to the first URL's origin and never
   * stored. */
  originHeaders?: Record<string, string>;
}

/** Options of `mintLinks(...)`. */
export interface LinkOptions {
  /** Seconds the links stay valid, at most the file's remaining life (default). */
  expiresIn?: number;
}

/** `mintLinks()` without options (the same overload as `listFiles()`). */
export interface UploadClient {
  mintLinks(fileId: string): Promise<SignedLinks>;
}

/** `mintLinks(...)`'s answer: a fresh signed pair of a private file. */
export interface SignedLinks {
  file_id: string;
  file_url: string;
  download_url: string;
  /** When the signatures expire, ISO 8601. */
  expires_at: string;
}

/** The stored file, as the API's `data` (field names as on the wire, snake_case). */
export interface FileData {
  /** Unique id, `file_` + 32 hex digits. */
  file_id: string;
  /** Stored name. */
  file_name: string;
  /** Name the origin gave the file (or the URL's last segment). */
  original_name: string;
  /** Size in bytes. */
  file_size: number;
  /** Detected MIME type, e.g. `image/png`. */
  mime_type: string;
  /** Folder the file is stored under. */
  upload_path: string;
  /** Serves the file inline (when its type is safe to show). */
  file_url: string;
  /** Serves the file as an attachment. */
  download_url: string;
  /** Upload time, ISO 8601. */
  upload_time: string;
  /** Expiry time, ISO 8601; the links answer 404 afterwards. */
  expires_at: string;
  /** SHA-256 of the stored bytes, lowercase hex (null only for files stored before
   * checksums were kept). */
  sha256: string | null;
  /** Downloads allowed, when the upload set `maxDownloads`. */
  max_downloads?: number;
  /** Downloads counted so far, with `max_downloads`. */
  downloads?: number;
  /** `true` for a private file: both links carry a signature. */
  private?: boolean;
}

/** `deleteFile(...)`'s answer (wire names, snake_case, like `FileData`). */
export interface DeletedFile {
  /** The id that was deleted. */
  file_id: string;
  /** Always `true` (a file that cannot be deleted rejects instead). */
  deleted: boolean;
}

/** Options of `listFiles(...)`. */
export interface ListOptions {
  /** Only files in this folder and below, e.g. `images`. */
  uploadPath?: string;
  /** Files per page, 1 to 100 (default 50). */
  limit?: number;
  /** The previous page's `cursor`; only valid with the same `uploadPath` and `order`. */
  cursor?: string | null;
  /** `"name"` (default: by upload path, then file name) or `"upload_time"` (newest first). */
  order?: "name" | "upload_time";
}

/** `listFiles()` without options (wasm-bindgen cannot mark a typed parameter optional;
 * this overload merges into the generated class). */
export interface UploadClient {
  listFiles(): Promise<FileList>;
}

/** A page of `listFiles(...)`. */
export interface FileList {
  files: FileData[];
  /** Pass to `listFiles({ cursor })` for the next page; `null` on the last one. */
  cursor: string | null;
}

/** `usage()`'s answer: the key, what it holds and its limits (wire names, snake_case). */
export interface Usage {
  /** The key's id, e.g. `k_08a47fdbd1ac7598a42c8805`. */
  key_id: string;
  /** The key's name. */
  name: string;
  /** Bytes of the live files. */
  bytes: number;
  /** Number of live files. */
  files: number;
  /** Bytes reserved by uploads in progress. */
  reserved_bytes: number;
  /** Uploads in progress. */
  reserved_files: number;
  /** Most bytes the key may hold at once. */
  max_bytes: number;
  /** Most files the key may hold at once. */
  max_files: number;
}

/** Options of `startUpload(...)`: an upload's options, and where to POST the job's final
 * status (the key needs a webhook secret, issued by the admin API). */
export interface StartUploadOptions extends UploadOptions {
  callbackUrl?: string;
}

/** Options of `waitForJob(...)`. */
export interface WaitOptions {
  /** Between polls, in ms (default 1000, at least 100). */
  intervalMs?: number;
  /** Called with the job after every poll (its `bytes_received` and `total_bytes`). */
  onProgress?: (job: Job) => void;
}

/** A background job (wire names, snake_case, like `FileData`). */
export interface Job {
  /** `job_` + 32 hex digits. */
  job_id: string;
  state: "queued" | "downloading" | "storing" | "succeeded" | "failed" | "canceled";
  /** The URL the job fetches. */
  file_url: string;
  /** Bytes received so far (after a restart of the service, it goes on from the parts
   * already stored, so it may step back by those that were in flight). */
  bytes_received: number;
  /** The file's size, once the origin told it. */
  total_bytes: number | null;
  created_at: string;
  started_at: string | null;
  updated_at: string;
  /** The stored file, once `succeeded`. */
  result: FileData | null;
  /** Why it failed (the status and message the upload would have had), once `failed`. */
  error: { code: number; msg: string } | null;
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
}

/** The request field an error concerns. */
export type UploadErrorField =
  | "apiKey" | "fileUrl" | "uploadPath" | "fileName" | "expectedSha256"
  | "expiresIn" | "maxDownloads" | "private" | "originHeaders";

/** What every `UploadClient` promise rejects with (`name === "UploadError"`). */
export interface UploadError extends Error {
  name: "UploadError";
  /** HTTP status; 0 when no response arrived (network, CORS) or the options were unusable.
   * Errors caught before sending carry the status the server would have answered. */
  status: number;
  /** The envelope's `code` (equal to the HTTP status); 0 like `status`. */
  code: number;
  /** The field to show the message beside, or null. */
  field: UploadErrorField | null;
}
"#;
