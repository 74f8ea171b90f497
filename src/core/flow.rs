//! The upload flow: from a validated request to a stored file and its `FileData`, over the
//! [`Origin`], [`ObjectStore`] and [`Ledger`] seams.

use futures_util::future::join;
use url::Url;

use super::clock::{expires_at_ms, iso8601};
use super::config::Config;
use super::envelope::FileData;
use super::error::Error;
use super::keys::KeyRecord;
use super::request::UploadRequest;
use super::store::{Fetched, IndexEntry, ObjectMeta, ObjectStore, Origin};
use super::url_policy::{self, UrlPolicy, MAX_REDIRECTS};
use super::{ids, layout, mime, names};

/// Who is uploading, when, and where links point.
#[derive(Debug, Clone)]
pub struct UploadContext<'a> {
    pub config: &'a Config,
    /// The URL policy of this request: the configured one plus the request's own host.
    pub policy: &'a UrlPolicy,
    pub owner: &'a KeyRecord,
    /// The base of `file_url` and `download_url`.
    pub base_url: &'a Url,
    pub now_ms: i64,
}

/// The caller's quota: space is reserved before a body is stored, settled to the real size
/// when it landed, released when it did not.
#[allow(async_fn_in_trait)]
pub trait Ledger {
    /// Reserves `bytes` and one file for `file_id` at `object_key`, or refuses with
    /// [`Error::QuotaExceeded`] (or 401 for a key revoked or disabled meanwhile).
    async fn reserve(&self, file_id: &str, object_key: &str, bytes: u64) -> Result<(), Error>;
    /// The upload of `file_id` is stored with `bytes`; it replaces any file at `object_key`.
    async fn settle(&self, file_id: &str, object_key: &str, bytes: u64) -> Result<(), Error>;
    /// `file_id` holds nothing any more (failed, deleted or expired). Idempotent.
    async fn release(&self, file_id: &str) -> Result<(), Error>;
}

/// Runs one upload. On any failure nothing is left stored (no object, no index entry) and
/// nothing stays reserved.
pub async fn upload<O, S, L>(
    req: UploadRequest,
    ctx: &UploadContext<'_>,
    origin: &O,
    store: &S,
    ledger: &L,
) -> Result<FileData, Error>
where
    O: Origin,
    S: ObjectStore<Body = O::Body>,
    L: Ledger,
{
    let config = ctx.config;
    let (url, fetched) = fetch_following_redirects(req.file_url, ctx.policy, origin).await?;
    let Fetched { content_length, content_type, content_disposition, mut body, .. } = fetched;
    if content_length.is_some_and(|len| len > config.max_file_bytes) {
        origin.discard(body);
        return Err(Error::FileTooLarge { limit: config.max_file_bytes });
    }

    let prefix = origin.sniff(&mut body).await?;
    let original_name = names::original_name(content_disposition.as_deref(), &url);
    let mime_type = mime::detect(&prefix, content_type.as_deref(), &original_name);
    if !config.allowed_types.allows(&mime_type) {
        origin.discard(body);
        return Err(Error::TypeNotAllowed(mime_type));
    }
    let upload_path = req.upload_path.unwrap_or_else(|| mime::category(&mime_type).to_owned());
    let file_name = req.file_name.unwrap_or_else(|| ids::generated_name(mime::extension(&mime_type)));
    let file_id = ids::file_id();
    let object_key = layout::object_key(&ctx.owner.id, &upload_path, &file_name);
    let expires_ms = expires_at_ms(ctx.now_ms, config.ttl_secs);
    let meta = ObjectMeta {
        file_id: file_id.clone(),
        owner: ctx.owner.id.clone(),
        original_name: original_name.clone(),
        mime_type: mime_type.clone(),
        upload_ms: ctx.now_ms,
        expires_ms,
    };
    let entry = IndexEntry { object_key: object_key.clone(), owner: ctx.owner.id.clone(), expires_ms };

    // Headers are known, nothing is stored yet: reserve the declared size, or the most an
    // unknown one may grow to.
    let reserve = content_length.unwrap_or(config.max_file_bytes);
    if let Err(err) = ledger.reserve(&file_id, &object_key, reserve).await {
        origin.discard(body);
        return Err(err);
    }
    let file_size = match store_both(store, &object_key, body, &meta, &file_id, &entry, config.max_file_bytes).await {
        Ok(size) => size,
        Err(err) => {
            let _ = ledger.release(&file_id).await;
            return Err(err);
        }
    };
    if let Err(err) = ledger.settle(&file_id, &object_key, file_size).await {
        // Unaccounted files must not stay: undo, and give the reservation back.
        let _ = store.delete_index(&file_id).await;
        let _ = store.delete_object(&object_key).await;
        let _ = ledger.release(&file_id).await;
        return Err(err);
    }

    Ok(FileData {
        file_url: layout::file_url(ctx.base_url, &object_key),
        download_url: layout::download_url(ctx.base_url, &file_id),
        file_id,
        file_name,
        original_name,
        file_size,
        mime_type,
        upload_path,
        upload_time: iso8601(expires_ms - config.ttl_secs as i64 * 1000),
        expires_at: iso8601(expires_ms),
    })
}

/// Stores the object and its index entry at once; undoes whichever landed if the other
/// failed. Returns the stored size.
async fn store_both<S: ObjectStore>(
    store: &S,
    object_key: &str,
    body: S::Body,
    meta: &ObjectMeta,
    file_id: &str,
    entry: &IndexEntry,
    limit: u64,
) -> Result<u64, Error> {
    let (stored, indexed) = join(store.put_object(object_key, body, meta, limit), store.put_index(file_id, entry)).await;
    match (stored, indexed) {
        (Ok(size), Ok(())) => Ok(size),
        (stored, indexed) => {
            if indexed.is_ok() {
                let _ = store.delete_index(file_id).await;
            }
            if stored.is_ok() {
                let _ = store.delete_object(object_key).await;
            }
            Err(stored.err().or(indexed.err()).unwrap_or_else(|| Error::internal("unreachable")))
        }
    }
}

/// GETs `url`, following at most [`MAX_REDIRECTS`] redirects; the URL policy is checked
/// before every request (a refused hop is [`Error::RedirectRejected`]). Returns the final
/// URL and its 2xx response.
async fn fetch_following_redirects<O: Origin>(
    mut url: Url,
    policy: &UrlPolicy,
    origin: &O,
) -> Result<(Url, Fetched<O::Body>), Error> {
    let mut hops = 0;
    loop {
        url_policy::check(&url, policy).map_err(|err| match err {
            Error::UrlRejected(rule) if hops > 0 => Error::RedirectRejected(rule),
            other => other,
        })?;
        let fetched = origin.fetch(&url).await?;
        let status = fetched.status;
        if (200..300).contains(&status) {
            return Ok((url, fetched));
        }
        let location = fetched.location.clone();
        origin.discard(fetched.body);
        let Some(location) = location.filter(|_| matches!(status, 301 | 302 | 303 | 307 | 308)) else {
            return Err(Error::OriginStatus(status));
        };
        if hops == MAX_REDIRECTS {
            return Err(Error::TooManyRedirects(MAX_REDIRECTS));
        }
        hops += 1;
        url = url
            .join(&location)
            .map_err(|_| Error::RedirectRejected("not a valid URL".into()))?;
    }
}
