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
}

/** The request field an error concerns. */
export type UploadErrorField = "apiKey" | "fileUrl" | "uploadPath" | "fileName";

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
