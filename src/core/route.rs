//! The routing table: which handler a method and path reach, or which 404/405 they get.

use super::error::Error;
use super::ids::is_file_id;
use super::layout::{object_key_from_path, DOWNLOAD_ROUTE};

/// A request's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    /// The API description, `/openapi.json`.
    OpenApi,
    Upload,
    /// `download_url`: served as an attachment.
    Download { file_id: String },
    /// `file_url`: served inline when the type is safe.
    File { object_key: String },
}

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
        _ => {
            // The method is checked first (405 is about the route), then the shape, before
            // any storage lookup: a malformed id or key is simply not found.
            if let Some(id) = path.strip_prefix(DOWNLOAD_ROUTE) {
                readable(method)?;
                return if is_file_id(id) { Ok(Route::Download { file_id: id.to_owned() }) } else { Err(Error::FileNotFound) };
            }
            if path.starts_with("/f/") {
                readable(method)?;
                return object_key_from_path(path).map(|object_key| Route::File { object_key }).ok_or(Error::FileNotFound);
            }
            Err(Error::RouteNotFound)
        }
    }
}

/// `GET` and `HEAD` only, else 405.
fn readable(method: &str) -> Result<(), Error> {
    match method {
        "GET" | "HEAD" => Ok(()),
        _ => Err(Error::MethodNotAllowed { allow: "GET, HEAD" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "file_0123456789abcdef0123456789abcdef";

    #[test]
    fn routes() {
        let download = format!("/api/v1/files/download/{ID}");
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
            ("GET", "/f/k_dev/images/a%20b.png", Ok(Route::File { object_key: "f/k_dev/images/a b.png".into() })),
            ("POST", "/f/k_dev/images/a.png", Err(Error::MethodNotAllowed { allow: "GET, HEAD" })),
            ("GET", "/f/k_dev/a.png", Err(Error::FileNotFound)),
            ("GET", "/api/v1/nope", Err(Error::RouteNotFound)),
            ("GET", "/api/v1/files/upload/url/extra", Err(Error::RouteNotFound)),
        ];
        for (method, path, want) in cases {
            assert_eq!(route(method, path), want, "{method} {path}");
        }
    }
}
