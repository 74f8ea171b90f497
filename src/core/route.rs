//! The routing table: which handler a method and path reach, or which 404/405 they get.

use super::error::Error;
use super::ids::{is_file_id, is_job_id};
use super::request::validate_sha256;
use super::keys::is_key_id;
use super::layout::{name_from_path, FileName, DOWNLOAD_ROUTE};

/// Prefix of the file management routes (`/api/v1/files/{file_id}`).
const FILES_ROUTE: &str = "/api/v1/files/";
/// Prefix of one key's admin routes (`/api/v1/admin/keys/{key_id}`).
const ADMIN_KEY_ROUTE: &str = "/api/v1/admin/keys/";
const LINK_SUFFIX: &str = "/link";
/// Suffix of the admin route issuing a key's webhook secret.
const WEBHOOK_SECRET: &str = "/webhook-secret";
/// Suffix of the admin route removing every file of a key.
const KEY_FILES: &str = "/files";
/// The blocklist's admin route, and one entry's (`{BLOCKLIST_ROUTE}/{sha256}`).
const BLOCKLIST_ROUTE: &str = "/api/v1/admin/blocklist";
/// Prefix of one job's routes (`/api/v1/jobs/{job_id}`).
const JOBS_ROUTE: &str = "/api/v1/jobs/";

/// A request's destination. Every `file_id` and `job_id` in it has its id's shape (the
/// table answers 404 for any other), so handlers look them up without checking again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    /// The API description, `/openapi.json`.
    OpenApi,
    Upload,
    /// `download_url`: served as an attachment.
    Download { file_id: String },
    /// `file_url`: served inline when the type is safe.
    File { name: FileName },
    /// `POST /api/v1/files/upload/urls`: up to 20 uploads at once.
    UploadBatch,
    /// `GET /api/v1/usage`: the caller's usage and limits.
    Usage,
    /// `GET /api/v1/files`: the caller's live files, paginated.
    ListFiles,
    /// `GET /api/v1/files/{file_id}`.
    FileInfo { file_id: String },
    /// `DELETE /api/v1/files/{file_id}`.
    DeleteFile { file_id: String },
    /// Fresh signed links of a private file.
    Link { file_id: String },
    /// `GET|POST /api/v1/admin/keys`.
    ListKeys,
    CreateKey,
    /// `GET|PATCH|DELETE /api/v1/admin/keys/{key_id}`.
    GetKey { key_id: String },
    UpdateKey { key_id: String },
    RevokeKey { key_id: String },
    /// `POST /api/v1/admin/keys/{key_id}/webhook-secret`.
    RotateWebhookSecret { key_id: String },
    /// `DELETE /api/v1/admin/keys/{key_id}/files`: every live file of the key goes.
    PurgeKeyFiles { key_id: String },
    /// `POST /api/v1/admin/takedown`: one file, named by a link or its id, goes.
    TakeDown,
    /// `GET /api/v1/admin/blocklist`: the blocked digests, paginated.
    ListBlocked,
    /// `GET|PUT|DELETE /api/v1/admin/blocklist/{sha256}` (lowercase here).
    ShowBlocked { sha256: String },
    Block { sha256: String },
    Unblock { sha256: String },
    /// `GET /api/v1/jobs`: the caller's recent background jobs.
    ListJobs,
    /// `GET|DELETE /api/v1/jobs/{job_id}`.
    JobStatus { job_id: String },
    CancelJob { job_id: String },
}

impl Route {
    /// Whether the route reads a request body: the uploads, a link's options, a key's
    /// creation and change, a take-down, a block. Any other route but a `GET` refuses a
    /// body (400: a delete, a revoke, a purge, a cancel, a new webhook secret).
    pub fn takes_body(&self) -> bool {
        matches!(
            self,
            Route::Upload | Route::UploadBatch | Route::Link { .. } | Route::CreateKey | Route::UpdateKey { .. } | Route::TakeDown | Route::Block { .. }
        )
    }

    /// Whether the route reads a query: the listings (their own parameters, checked by their
    /// parsers), the file links (a private file's `exp` and `sig`, and whatever a page adds to
    /// a link it embeds), health and the API description (public, read by monitors and tools
    /// that add their own). Any other route refuses a query parameter (400).
    pub fn takes_query(&self) -> bool {
        matches!(
            self,
            Route::ListFiles | Route::ListKeys | Route::ListBlocked | Route::Download { .. } | Route::File { .. } | Route::Health | Route::OpenApi
        )
    }
}

/// Every method and path the table accepts, paths written as in `openapi.yaml` (`{name}` is
/// one segment; `{upload_path}` may span several). `OPTIONS`, the CORS preflight, is answered
/// for every path before routing (src/server/mod.rs) and is not a route. A test below keeps
/// this list equal to what [`route`] accepts.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/health"),
    ("HEAD", "/api/v1/health"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    ("POST", "/api/v1/files/upload/url"),
    ("POST", "/api/v1/files/upload/urls"),
    ("GET", "/api/v1/files/download/{file_id}"),
    ("HEAD", "/api/v1/files/download/{file_id}"),
    ("GET", "/f/{key_id}/{upload_path}/{file_name}"),
    ("HEAD", "/f/{key_id}/{upload_path}/{file_name}"),
    ("GET", "/api/v1/usage"),
    ("HEAD", "/api/v1/usage"),
    ("GET", "/api/v1/files"),
    ("HEAD", "/api/v1/files"),
    ("GET", "/api/v1/files/{file_id}"),
    ("HEAD", "/api/v1/files/{file_id}"),
    ("DELETE", "/api/v1/files/{file_id}"),
    ("POST", "/api/v1/files/{file_id}/link"),
    ("GET", "/api/v1/admin/keys"),
    ("HEAD", "/api/v1/admin/keys"),
    ("POST", "/api/v1/admin/keys"),
    ("GET", "/api/v1/admin/keys/{key_id}"),
    ("HEAD", "/api/v1/admin/keys/{key_id}"),
    ("PATCH", "/api/v1/admin/keys/{key_id}"),
    ("DELETE", "/api/v1/admin/keys/{key_id}"),
    ("POST", "/api/v1/admin/keys/{key_id}/webhook-secret"),
    ("DELETE", "/api/v1/admin/keys/{key_id}/files"),
    ("POST", "/api/v1/admin/takedown"),
    ("GET", "/api/v1/admin/blocklist"),
    ("HEAD", "/api/v1/admin/blocklist"),
    ("GET", "/api/v1/admin/blocklist/{sha256}"),
    ("HEAD", "/api/v1/admin/blocklist/{sha256}"),
    ("PUT", "/api/v1/admin/blocklist/{sha256}"),
    ("DELETE", "/api/v1/admin/blocklist/{sha256}"),
    ("GET", "/api/v1/jobs"),
    ("HEAD", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{job_id}"),
    ("HEAD", "/api/v1/jobs/{job_id}"),
    ("DELETE", "/api/v1/jobs/{job_id}"),
];

/// Matches `method` and the raw (still percent-encoded) `path`.
pub fn route(method: &str, path: &str) -> Result<Route, Error> {
    let read = |route: Route| readable(method).map(|()| route);
    match path {
        "/api/v1/health" => read(Route::Health),
        "/openapi.json" => read(Route::OpenApi),
        "/api/v1/files/upload/url" => match method {
            "POST" => Ok(Route::Upload),
            _ => Err(Error::MethodNotAllowed { allow: "POST" }),
        },
        "/api/v1/files/upload/urls" => match method {
            "POST" => Ok(Route::UploadBatch),
            _ => Err(Error::MethodNotAllowed { allow: "POST" }),
        },
        "/api/v1/usage" => read(Route::Usage),
        "/api/v1/files" => read(Route::ListFiles),
        "/api/v1/jobs" => read(Route::ListJobs),
        "/api/v1/admin/keys" => match method {
            "GET" | "HEAD" => Ok(Route::ListKeys),
            "POST" => Ok(Route::CreateKey),
            _ => Err(Error::MethodNotAllowed { allow: "GET, HEAD, POST" }),
        },
        "/api/v1/admin/takedown" => match method {
            "POST" => Ok(Route::TakeDown),
            _ => Err(Error::MethodNotAllowed { allow: "POST" }),
        },
        BLOCKLIST_ROUTE => read(Route::ListBlocked),
        _ => {
            // The method is checked first (405 is about the route), then the shape, before
            // any storage lookup: a malformed id or key is simply not found.
            if let Some(id) = path.strip_prefix(ADMIN_KEY_ROUTE).and_then(|rest| rest.strip_suffix(WEBHOOK_SECRET)).and_then(one_segment) {
                if method != "POST" {
                    return Err(Error::MethodNotAllowed { allow: "POST" });
                }
                return if is_key_id(id) {
                    Ok(Route::RotateWebhookSecret {
                        key_id: id.to_owned(),
                    })
                } else {
                    Err(Error::KeyNotFound)
                };
            }
            if let Some(id) = path.strip_prefix(ADMIN_KEY_ROUTE).and_then(|rest| rest.strip_suffix(KEY_FILES)).and_then(one_segment) {
                if method != "DELETE" {
                    return Err(Error::MethodNotAllowed { allow: "DELETE" });
                }
                return if is_key_id(id) { Ok(Route::PurgeKeyFiles { key_id: id.to_owned() }) } else { Err(Error::KeyNotFound) };
            }
            if let Some(digest) = path.strip_prefix(BLOCKLIST_ROUTE).and_then(|rest| rest.strip_prefix('/')).and_then(one_segment) {
                if !matches!(method, "GET" | "HEAD" | "PUT" | "DELETE") {
                    return Err(Error::MethodNotAllowed { allow: "GET, HEAD, PUT, DELETE" });
                }
                let sha256 = validate_sha256(digest, "sha256")?;
                return Ok(match method {
                    "PUT" => Route::Block { sha256 },
                    "DELETE" => Route::Unblock { sha256 },
                    _ => Route::ShowBlocked { sha256 },
                });
            }
            if let Some(id) = path.strip_prefix(JOBS_ROUTE).and_then(one_segment) {
                if !matches!(method, "GET" | "HEAD" | "DELETE") {
                    return Err(Error::MethodNotAllowed {
                        allow: "GET, HEAD, DELETE",
                    });
                }
                if !is_job_id(id) {
                    return Err(Error::JobNotFound);
                }
                let job_id = id.to_owned();
                return Ok(if method != "DELETE" {
                    Route::JobStatus { job_id }
                } else {
                    Route::CancelJob { job_id }
                });
            }
            if let Some(id) = path.strip_prefix(ADMIN_KEY_ROUTE).and_then(one_segment) {
                if !matches!(method, "GET" | "HEAD" | "PATCH" | "DELETE") {
                    return Err(Error::MethodNotAllowed { allow: "GET, HEAD, PATCH, DELETE" });
                }
                if !is_key_id(id) {
                    return Err(Error::KeyNotFound);
                }
                let key_id = id.to_owned();
                return Ok(match method {
                    "PATCH" => Route::UpdateKey { key_id },
                    "DELETE" => Route::RevokeKey { key_id },
                    _ => Route::GetKey { key_id },
                });
            }
            if let Some(id) = path.strip_prefix(DOWNLOAD_ROUTE).and_then(one_segment) {
                readable(method)?;
                return if is_file_id(id) { Ok(Route::Download { file_id: id.to_owned() }) } else { Err(Error::FileNotFound) };
            }
            if let Some(id) = path.strip_prefix(FILES_ROUTE).and_then(|rest| rest.strip_suffix(LINK_SUFFIX)).and_then(one_segment) {
                if method != "POST" {
                    return Err(Error::MethodNotAllowed { allow: "POST" });
                }
                return if is_file_id(id) { Ok(Route::Link { file_id: id.to_owned() }) } else { Err(Error::FileNotFound) };
            }
            // `upload`, `download` and nothing at all begin other routes: a path that stops
            // there is a mistyped route, not a file id (its 405 would name methods that 404).
            let segment = path.strip_prefix(FILES_ROUTE).and_then(one_segment).filter(|id| !matches!(*id, "upload" | "download"));
            if let Some(id) = segment {
                if !matches!(method, "GET" | "HEAD" | "DELETE") {
                    return Err(Error::MethodNotAllowed { allow: "GET, HEAD, DELETE" });
                }
                if !is_file_id(id) {
                    return Err(Error::FileNotFound);
                }
                let file_id = id.to_owned();
                return Ok(if method == "DELETE" { Route::DeleteFile { file_id } } else { Route::FileInfo { file_id } });
            }
            if path.starts_with("/f/") {
                readable(method)?;
                return name_from_path(path).map(|name| Route::File { name }).ok_or(Error::FileNotFound);
            }
            Err(Error::RouteNotFound)
        }
    }
}

/// `rest` when it is one path segment (not empty, no `/`): where a route names an id,
/// anything else is no route at all (its 405 would name methods that 404), not an id that
/// is not found.
fn one_segment(rest: &str) -> Option<&str> {
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

/// `GET` and `HEAD` only, else 405.
fn readable(method: &str) -> Result<(), Error> {
    match method {
        "GET" | "HEAD" => Ok(()),
        _ => Err(Error::MethodNotAllowed { allow: "GET, HEAD" }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const ID: &str = "file_0123456789abcdef0123456789abcdef";
    const JOB: &str = "job_0123456789abcdef0123456789abcdef";

    /// `template` with every `{name}` replaced by a value the table accepts.
    pub(crate) fn sample(template: &str) -> String {
        template
            .replace("{file_id}", ID)
            .replace("{job_id}", JOB)
            .replace("{key_id}", "k_dev")
            .replace("{upload_path}", "images/2026")
            .replace("{file_name}", "a.png")
            .replace("{sha256}", &"aB".repeat(32))
    }

    #[test]
    fn routes_lists_exactly_what_the_table_accepts() {
        let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY", "PROPFIND"];
        for (_, template) in ROUTES {
            let path = sample(template);
            for method in methods {
                let listed = ROUTES.contains(&(method, *template));
                assert_eq!(route(method, &path).is_ok(), listed, "{method} {path}");
            }
        }
        // and no other path the routing table accepts is missing from the list
        for path in ["/", "/api/v1", "/api/v1/files/upload", "/api/v1/admin", "/f", "/index.html"] {
            for method in methods {
                assert!(route(method, path).is_err(), "{method} {path}");
            }
        }
    }

    #[test]
    fn routes() {
        let download = format!("/api/v1/files/download/{ID}");
        let file = format!("/api/v1/files/{ID}");
        let link = format!("{file}/link");
        let job = format!("/api/v1/jobs/{JOB}");
        let deeper_digest = format!("/api/v1/admin/blocklist/{}/x", "a".repeat(64));
        let cases: Vec<(&str, &str, Result<Route, Error>)> = vec![
            ("GET", "/api/v1/health", Ok(Route::Health)),
            ("HEAD", "/api/v1/health", Ok(Route::Health)),
            ("POST", "/api/v1/health", Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("GET", "/openapi.json", Ok(Route::OpenApi)),
            ("PUT", "/openapi.json", Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("POST", "/api/v1/files/upload/url", Ok(Route::Upload)),
            ("GET", "/api/v1/files/upload/url", Err(Error::MethodNotAllowed { allow: "POST" })),
            ("PUT", "/api/v1/files/upload/url", Err(Error::MethodNotAllowed { allow: "POST" })),
            ("GET", &download, Ok(Route::Download { file_id: ID.into() })),
            ("DELETE", &download, Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("GET", "/api/v1/files/download/file_nope", Err(Error::FileNotFound)),
            ("PATCH", "/api/v1/files/download/file_nope", Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("PUT", "/f/x", Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("GET", "/f/k_dev/images/a%20b.png", Ok(Route::File { name: FileName { owner: "k_dev".into(), upload_path: "images".into(), file_name: "a b.png".into() } })),
            ("POST", "/f/k_dev/images/a.png", Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("GET", "/f/k_dev/a.png", Err(Error::FileNotFound)),
            ("GET", "/api/v1/nope", Err(Error::RouteNotFound)),
            ("GET", "/api/v1/files/upload/url/extra", Err(Error::RouteNotFound)),
            ("POST", "/api/v1/files/upload/urls", Ok(Route::UploadBatch)),
            ("GET", "/api/v1/files/upload/urls", Err(Error::MethodNotAllowed { allow: "POST" })),
            ("GET", "/api/v1/usage", Ok(Route::Usage)),
            ("POST", "/api/v1/usage", Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("HEAD", "/api/v1/usage", Ok(Route::Usage)),
            ("GET", "/api/v1/files", Ok(Route::ListFiles)),
            ("DELETE", "/api/v1/files", Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("GET", &file, Ok(Route::FileInfo { file_id: ID.into() })),
            ("DELETE", &file, Ok(Route::DeleteFile { file_id: ID.into() })),
            ("PUT", &file, Err(Error::MethodNotAllowed { allow: "GET, HEAD, DELETE" })),
            ("HEAD", &file, Ok(Route::FileInfo { file_id: ID.into() })),
            ("POST", &link, Ok(Route::Link { file_id: ID.into() })),
            ("GET", &link, Err(Error::MethodNotAllowed { allow: "POST" })),
            ("POST", "/api/v1/files/file_nope/link", Err(Error::FileNotFound)),
            ("GET", "/api/v1/files/file_nope", Err(Error::FileNotFound)),
            ("DELETE", "/api/v1/files/upload", Err(Error::RouteNotFound)),
            ("POST", "/api/v1/files/upload", Err(Error::RouteNotFound)),
            ("POST", "/api/v1/files/download", Err(Error::RouteNotFound)),
            ("GET", "/api/v1/files/", Err(Error::RouteNotFound)),
            ("POST", "/api/v1/files/", Err(Error::RouteNotFound)),
            ("GET", "/api/v1/files/a/b", Err(Error::RouteNotFound)),
            ("GET", "/api/v1/admin/keys", Ok(Route::ListKeys)),
            ("POST", "/api/v1/admin/keys", Ok(Route::CreateKey)),
            ("DELETE", "/api/v1/admin/keys", Err(Error::MethodNotAllowed { allow: "GET, HEAD, POST" })),
            ("HEAD", "/api/v1/admin/keys/k_1", Ok(Route::GetKey { key_id: "k_1".into() })),
            ("GET", "/api/v1/admin/keys/k_1", Ok(Route::GetKey { key_id: "k_1".into() })),
            ("PATCH", "/api/v1/admin/keys/k_1", Ok(Route::UpdateKey { key_id: "k_1".into() })),
            ("DELETE", "/api/v1/admin/keys/k_1", Ok(Route::RevokeKey { key_id: "k_1".into() })),
            ("POST", "/api/v1/admin/keys/k_1", Err(Error::MethodNotAllowed { allow: "GET, HEAD, PATCH, DELETE" })),
            ("GET", "/api/v1/admin/keys/a.b", Err(Error::KeyNotFound)),
            ("GET", "/api/v1/admin/keys/", Err(Error::RouteNotFound)),
            // a path with an id's place empty, or more segments than the route has, is no
            // route: never a 405 naming methods that would 404
            ("PUT", "/api/v1/admin/keys/k_1/extra", Err(Error::RouteNotFound)),
            ("GET", "/api/v1/admin/keys/k_1/extra", Err(Error::RouteNotFound)),
            ("POST", "/api/v1/admin/keys//webhook-secret", Err(Error::RouteNotFound)),
            ("DELETE", "/api/v1/admin/keys/a/b/files", Err(Error::RouteNotFound)),
            ("POST", "/api/v1/jobs/", Err(Error::RouteNotFound)),
            ("PUT", "/api/v1/jobs/a/b", Err(Error::RouteNotFound)),
            ("POST", "/api/v1/files/download/x/", Err(Error::RouteNotFound)),
            ("GET", "/api/v1/files/download/", Err(Error::RouteNotFound)),
            ("GET", "/api/v1/admin/blocklist/", Err(Error::RouteNotFound)),
            ("GET", &deeper_digest, Err(Error::RouteNotFound)),
            ("POST", "/api/v1/files//link", Err(Error::RouteNotFound)),
            (
                "POST",
                "/api/v1/admin/keys/k_1/webhook-secret",
                Ok(Route::RotateWebhookSecret {
                    key_id: "k_1".into(),
                }),
            ),
            (
                "GET",
                "/api/v1/admin/keys/k_1/webhook-secret",
                Err(Error::MethodNotAllowed { allow: "POST" }),
            ),
            (
                "POST",
                "/api/v1/admin/keys/a.b/webhook-secret",
                Err(Error::KeyNotFound),
            ),
            ("DELETE", "/api/v1/admin/keys/k_1/files", Ok(Route::PurgeKeyFiles { key_id: "k_1".into() })),
            ("GET", "/api/v1/admin/keys/k_1/files", Err(Error::MethodNotAllowed { allow: "DELETE" })),
            ("DELETE", "/api/v1/admin/keys/a.b/files", Err(Error::KeyNotFound)),
            ("DELETE", "/api/v1/admin/keys/files", Ok(Route::RevokeKey { key_id: "files".into() })),
            ("POST", "/api/v1/admin/takedown", Ok(Route::TakeDown)),
            ("DELETE", "/api/v1/admin/takedown", Err(Error::MethodNotAllowed { allow: "POST" })),
            ("GET", "/api/v1/jobs", Ok(Route::ListJobs)),
            (
                "POST",
                "/api/v1/jobs",
                Err(Error::MethodNotAllowed { allow: "GET, HEAD" }),
            ),
            ("GET", &job, Ok(Route::JobStatus { job_id: JOB.into() })),
            ("DELETE", &job, Ok(Route::CancelJob { job_id: JOB.into() })),
            (
                "PUT",
                &job,
                Err(Error::MethodNotAllowed {
                    allow: "GET, HEAD, DELETE",
                }),
            ),
            ("GET", "/api/v1/jobs/job_nope", Err(Error::JobNotFound)),
        ];
        for (method, path, want) in cases {
            assert_eq!(route(method, path), want, "{method} {path}");
        }
    }
}
