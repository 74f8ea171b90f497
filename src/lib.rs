//! urlstash: a URL-to-temporary-file service. A client POSTs a remote file URL with its API
//! key; the Worker streams the file into R2 for a limited time and answers with its details
//! and two links that serve it until it expires. The same crate, built with `client`, is the
//! browser client.
//!
//! # Layout
//! - `core/`: the pure core, no platform imports, tested on the host.
//!   - `error.rs`: the one error enum and each error's status and message.
//!   - `envelope.rs`: the JSON envelope and `FileData`.
//!   - `config.rs`: `[vars]` parsed once into `Config`.
//!   - `json.rs`: the one reader of JSON request bodies (serde derive types; errors name
//!     their field). `query.rs`: query parameters (known names only, each once).
//!   - `request.rs`: the upload body, validated field by field.
//!   - `url_policy.rs`: which URLs may be fetched (one check, before every hop);
//!     `addr.rs`: which IP addresses are private or reserved, by name; `redirects.rs`:
//!     a chain of redirects, each hop checked.
//!   - `url_syntax.rs`: the `file_url` rules any WHATWG URL parser can check (the Worker on
//!     the `url` crate, the client on the browser's `URL`).
//!   - `names.rs` / `path.rs`: file names, `Content-Disposition`, `upload_path`;
//!     `pictographs.rs`: the emoji (Unicode's `Extended_Pictographic`) names may join.
//!   - `mime.rs`: type detection, allow-list, categories, inline safety.
//!   - `keys.rs`: bearer tokens, key hashes, key records, generated keys and ids.
//!     `ttl_cache.rs`: the short-lived per-isolate caches (key records, resolved names).
//!   - `admin.rs`: the admin token check, key create/update bodies, the public key view.
//!     `takedown.rs`: which file a take-down's reported link (or id) names, and whether
//!     to block it. `blocklist.rs`: the blocklist's entries, bodies, and an isolate's copy.
//!   - `seams.rs`: the `Origin`, `ObjectStore`, `FileAuthority` and `Blocklist` seams the
//!     upload flow is written against, and the metadata kept with every object.
//!   - `authority.rs`: the rules of a key's authority (status, quota, reservations, one
//!     row per live file, expiry), over a `Tables` trait; `authority_wire.rs`: its rows,
//!     ops and refusals; `quota.rs`: limits, usage and the key's settings.
//!   - `flow.rs`: the upload flow over the seams (and its steps, which a job runs apart).
//!   - `coding.rs`: which content codings of an origin body the runtime decodes.
//!   - `ranges.rs`: fetching in ranges: the probe, the part plan, validators, retries.
//!     `gate.rs`: the request's six slots for outbound calls, in-order turns, and the buffer
//!     budget's first-come-first-served queue.
//!   - `jobs.rs`: background jobs: status, spec, record, webhook signatures and retries.
//!     `idempotency.rs`: `Idempotency-Key`: the job id a key names, what a retry is, and
//!     the key an upload stored now is kept under in its key's authority.
//!   - `listing.rs`: the file listing query, the opaque cursor, `FileData` from a row.
//!   - `batch.rs`: the batch upload body, the order its items run in, and their answers.
//!   - `ids.rs`, `clock.rs`: identifiers and time arithmetic.
//!   - `layout.rs`: object keys and public URLs. `route.rs`: the routing table.
//!   - `serve.rs`: ranges, conditionals (`If-None-Match`, `If-Range`), what counts as a
//!     download, and headers of served files.
//!   - `links.rs`: link controls: `expires_in`, `max_downloads` (a row's link options),
//!     private links signed with HMAC-SHA256, minted links' lifetimes. `mac.rs`: the one
//!     HMAC-SHA256 that links, admin cursors and webhooks sign with.
//!   - `origin_headers.rs`: the `origin_headers` allow-list and the same-origin rule.
//!   - `rate_limit.rs`: the per-key upload rate tiers and their bindings.
//!   - `cors.rs`: cross-origin rules (preflight methods, allowed headers).
//!   - `fields.rs`: which request field an error or an error envelope concerns (for clients
//!     to place messages).
//!   - `openapi.rs`: the API description served at `/openapi.json` (`openapi.yaml`, turned
//!     into JSON by `build.rs`).
//! - `server/` (feature `server`): the Worker.
//!   - `mod.rs`: the `fetch` entry point and dispatch. `bindings.rs`: binding names and the
//!     services built from `Env` once per `env` object (the parsed config; the link secret;
//!     the rate limiter tiers). `respond.rs`: the
//!     one place errors become responses. `cors.rs`: CORS headers and preflights.
//!   - `auth.rs`: API key records in KV: authentication (uploads read through the isolate's
//!     key cache) and a record by its key id.
//!     `http.rs`: the incoming request (the runtime's own, its URL parsed once), request
//!     bodies, queries, link base, the request's URL policy.
//!   - `upload.rs`: the upload handler, and the one dispatch (job or stored now) of a single
//!     upload or a batch item. `origin.rs`: the `Origin` adapter (fetch under one
//!     deadline and a job's stall timeout, the refetch of a ranged file whose redirected URL
//!     stopped serving it); `origin/answer.rs`: a response's headers and a body still at
//!     the origin; `origin/probe.rs`: the 1 MiB probe, sniffing, the `Origin` seam. `timers.rs`: a transfer's
//!     deadline timer and the idle bound on one of its steps. `ingest.rs`: streaming a body into R2
//!     (a known length chunk by chunk, or multipart). `parallel.rs`: a ranged file's parts over up to
//!     5 connections; `streamed.rs`: one streamed put of known length, from a resumable range
//!     or a plain body; `cursor.rs`: one range, resumed where it breaks. `buffers.rs`: the
//!     isolate's budget of transfer buffers (its memory). `digest.rs`: the
//!     native SHA-256 of stored bytes. `r2.rs`: the `ObjectStore` adapter and the put
//!     target. `js.rs`: JS helpers.
//!   - `jobs.rs`: the job routes; `job_object.rs`: the `UploadJob` Durable Object (record,
//!     alarm, webhook turns), `job_object/invocation.rs`: one invocation and its end
//!     recorded, `job_object/cancel.rs`: a cancel and its waits for the running invocation;
//!     `job_run.rs`: one invocation's transfer, with its checkpoint; `job_store.rs`: a job's record and stored parts in its storage;
//!     `webhook.rs`: signed deliveries; `job_index.rs`: a key's job index.
//!   - `stub.rs`: one JSON call to a Durable Object (the authority's and a job's).
//!   - `authority.rs`: the `KeyAuthority` Durable Object (one per key: runs the rules in a
//!     transaction, deletes doomed objects, keeps the expiry alarm); `sql.rs`: its tables
//!     on SQLite; `key_secret.rs`: the key's webhook secret in its tables;
//!     `authority_client.rs`: the Worker's handle on it (the `FileAuthority`).
//!   - `files.rs`: serving `file_url` and `download_url` (signatures checked, downloads
//!     counted by the key's authority). `manage.rs`: file info, delete, list, usage, minted
//!     links. `admin.rs`: the keys API. `takedown.rs`: the operator's removal of a file
//!     or of every file of a key. `blocklist.rs`: the blocklist over KV (the upload flow's
//!     check, its admin routes). `batch.rs`: batch upload.
//! - `client/` (feature `client`): the browser client, exported with wasm-bindgen.
//!   - `mod.rs`: `UploadClient` and its JS methods. `types.rs`: the TypeScript types of the
//!     options and the batch union (the answers' types are generated from the core's serde
//!     types by `tsify`).
//!   - `options.rs`: JS options read and checked with the server's own validation.
//!   - `browser_url.rs`: URLs parsed by the browser's `URL` (no `url` crate in the client).
//!   - `api.rs`: the HTTP calls (gloo-net). `error.rs`: `ClientError` -> the package's
//!     `UploadError` class (`client/upload_error.js`).
//!   - `retry.rs`: the send of every call but `waitForJob`'s polls (an upload, a batch or
//!     a start with an idempotency key sent again after a failure in passing), and the
//!     backoff both use. `jobs.rs`: `waitForJob`'s polling.

pub mod core;

#[cfg(feature = "server")]
mod server;

#[cfg(feature = "client")]
pub mod client;
