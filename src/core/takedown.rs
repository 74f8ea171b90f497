//! An operator's takedown: which file a reported link (or a bare `file_id`) names, and
//! whether its digest is blocked from being stored again, read from the admin request body.

use serde::Deserialize;
use url::Url;

use super::admin::MAX_ADMIN_BODY_BYTES;
use super::blocklist::reason;
use super::error::Error;
use super::ids::is_file_id;
use super::json::{read_object, JsonObject, BOOLEAN, STRING};
use super::layout::FileName;
use super::route::{route, Route};

/// What `url` must be, told when it is not.
const URL_RULE: &str = "must be a download_url or file_url of this service (a private file's signed link too)";

/// The file a takedown names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reported {
    /// A `download_url` or a `file_id`: the key is the one its object records.
    Id(String),
    /// A `file_url`: its key and the name.
    Name(FileName),
}

/// A takedown request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takedown {
    pub reported: Reported,
    /// Whether the file's digest goes on the blocklist (the default).
    pub block: bool,
    /// Why, kept with the block and logged.
    pub reason: Option<String>,
}

/// `POST /api/v1/admin/takedown`: exactly one of `url` and `file_id`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TakedownBody {
    url: Option<String>,
    file_id: Option<String>,
    block: Option<bool>,
    reason: Option<String>,
}

impl JsonObject<'_> for TakedownBody {
    const FIELDS: &'static [(&'static str, &'static str)] = &[("url", STRING), ("file_id", STRING), ("block", BOOLEAN), ("reason", STRING)];
}

pub fn parse_takedown(body: &[u8]) -> Result<Takedown, Error> {
    let body: TakedownBody = read_object(body, MAX_ADMIN_BODY_BYTES)?;
    let reason = reason(body.reason)?;
    let reported = reported(body.url, body.file_id)?;
    Ok(Takedown { reported, block: body.block.unwrap_or(true), reason })
}

fn reported(url: Option<String>, file_id: Option<String>) -> Result<Reported, Error> {
    match (url, file_id) {
        (Some(_), Some(_)) => Err(Error::invalid("file_id", "give `url` or `file_id`, not both")),
        (None, None) => Err(Error::MissingEither("url", "file_id")),
        (None, Some(file_id)) if is_file_id(&file_id) => Ok(Reported::Id(file_id)),
        (None, Some(_)) => Err(Error::invalid("file_id", "must be a file id: file_ and 32 hex digits")),
        (Some(url), None) => reported_link(&url),
    }
}

/// The file a link names, by its path alone: whatever host served it (the Worker's own, or
/// `PUBLIC_BASE_URL`), and whatever its query (a signature, `download=1`). A link as reports
/// often quote it, without its scheme (`files.example.com/f/...`) or as a path alone
/// (`/f/...`), is read as the https link it stands for.
fn reported_link(link: &str) -> Result<Reported, Error> {
    let link = link.trim();
    let url = if link.starts_with("//") {
        // protocol-relative
        Url::parse(&format!("https:{link}"))
    } else if link.starts_with('/') {
        Url::parse(&format!("https://reported.invalid{link}"))
    } else {
        match Url::parse(link) {
            Err(url::ParseError::RelativeUrlWithoutBase) => Url::parse(&format!("https://{link}")),
            // `host:port/...` reads as a URL of scheme `host`: without `://`, it is a host
            Ok(url) if !matches!(url.scheme(), "http" | "https") && !link.contains("://") => Url::parse(&format!("https://{link}")),
            parsed => parsed,
        }
    };
    let url = url.ok().filter(|u| matches!(u.scheme(), "http" | "https"));
    match url.map(|url| route("GET", url.path())) {
        Some(Ok(Route::Download { file_id })) => Ok(Reported::Id(file_id)),
        Some(Ok(Route::File { name })) => Ok(Reported::Name(name)),
        _ => Err(Error::invalid("url", URL_RULE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "file_0123456789abcdef0123456789abcdef";

    fn parse(body: &str) -> Result<Reported, Error> {
        parse_takedown(body.as_bytes()).map(|t| t.reported)
    }

    #[test]
    fn a_takedown_asks_for_the_block_unless_told_not_to_and_reads_its_reason() {
        let body = |extra: &str| format!(r#"{{"file_id":"{ID}"{extra}}}"#);
        let taken = parse_takedown(body("").as_bytes()).unwrap();
        assert_eq!((taken.block, taken.reason), (true, None));
        let taken = parse_takedown(body(r#","block":false,"reason":" mistake ""#).as_bytes()).unwrap();
        assert_eq!((taken.block, taken.reason.as_deref()), (false, Some("mistake")));
        for (extra, field) in [(r#","block":"no""#, "block"), (r#","reason":1"#, "reason")] {
            assert_eq!(parse_takedown(body(extra).as_bytes()).unwrap_err().field(), Some(field), "{extra}");
        }
    }


    #[test]
    fn a_download_url_or_an_id_names_the_file_by_id() {
        for body in [
            format!(r#"{{"url":"https://files.example.com/api/v1/files/download/{ID}"}}"#),
            format!(r#"{{"url":" http://127.0.0.1:8787/api/v1/files/download/{ID}?exp=1&sig=abc "}}"#),
            format!(r#"{{"file_id":"{ID}"}}"#),
            format!(r#"{{"url":"files.example.com/api/v1/files/download/{ID}"}}"#),
            format!(r#"{{"url":"/api/v1/files/download/{ID}"}}"#),
        ] {
            assert_eq!(parse(&body), Ok(Reported::Id(ID.into())), "{body}");
        }
    }

    #[test]
    fn links_quoted_without_their_scheme_are_read_as_https() {
        let name = || Reported::Name(FileName { owner: "k_1".into(), upload_path: "docs".into(), file_name: "a.pdf".into() });
        for link in ["files.example.com/f/k_1/docs/a.pdf", "localhost:8787/f/k_1/docs/a.pdf", "//files.example.com/f/k_1/docs/a.pdf", "/f/k_1/docs/a.pdf"] {
            assert_eq!(parse(&format!(r#"{{"url":"{link}"}}"#)), Ok(name()), "{link}");
        }
        assert!(parse(r#"{"url":"ftp://files.example.com/f/k_1/docs/a.pdf"}"#).is_err(), "another scheme stays refused");
    }

    #[test]
    fn a_file_url_names_the_key_and_the_name_as_served() {
        let reported = parse(r#"{"url":"https://x.example/f/k_1/docs/2026/r%C3%A9sum%C3%A9.pdf?exp=1&sig=a"}"#).unwrap();
        let name = FileName { owner: "k_1".into(), upload_path: "docs/2026".into(), file_name: "résumé.pdf".into() };
        assert_eq!(reported, Reported::Name(name));
    }

    #[test]
    fn anything_else_is_a_400_naming_its_field() {
        for (body, field) in [
            (r#"{"url":"https://x.example/api/v1/files"}"#, "url"),
            (r#"{"url":"https://x.example/api/v1/files/download/file_12"}"#, "url"),
            (r#"{"url":"ftp://x.example/f/k_1/a/b.txt"}"#, "url"),
            (r#"{"url":"//"}"#, "url"),
            (r#"{"url":"files.example.com"}"#, "url"),
            (r#"{"url":7}"#, "url"),
            (r#"{"file_id":"file_12"}"#, "file_id"),
            (r#"{"file_id":"file_0123456789abcdef0123456789abcdef","url":"https://x.example/f/k/a/b"}"#, "file_id"),
            ("{}", "url"),
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(err.field(), Some(field), "{body}: {err}");
            assert_eq!(err.status(), 400, "{body}");
        }
        assert_eq!(parse(r#"{"url":"https://x.example/f/k/a/b","why":"spam"}"#), Err(Error::UnknownField("why".into())));
        assert_eq!(parse("{}").unwrap_err().to_string(), "missing required field: give `url` or `file_id`");
    }
}
