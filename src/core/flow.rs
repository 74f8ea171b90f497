//! The upload flow: from a validated request to a stored file and its `FileData`, over the
//! [`Origin`], [`ObjectStore`], [`FileAuthority`] and [`Blocklist`] seams.

use std::pin::pin;

use futures_util::future::{select, Either};
use url::Url;

use super::authority_wire::{FileRow, Reservation};
use super::clock::expires_at_ms;
use super::config::Config;
use super::envelope::FileData;
use super::error::Error;
use super::idempotency::{Answered, UploadKey, TRY_LEASE_MS};
use super::links::{link_controls, LinkOptions, LinkSecret};
use super::request::UploadRequest;
use super::seams::{Blocklist, FileAuthority, Fetched, ObjectMeta, ObjectStore, Origin, StoredObject};
use super::redirects::Redirects;
use super::url_policy::UrlPolicy;
use super::{ids, layout, listing, mime, names};

/// Bodies of at most this many bytes, with a known length, are stored before the authority
/// is asked anything: one object write and one commit, no reservation.
pub const SMALL_BODY_BYTES: u64 = 64 * 1024;

/// Who is uploading, when, where links point, and what may not be stored.
#[derive(Clone)]
pub struct UploadContext<'a> {
    pub config: &'a Config,
    /// The digests taken down (checked before the commit).
    pub blocklist: &'a dyn Blocklist,
    /// The URL policy of this request: the configured one plus the request's own host.
    pub policy: &'a UrlPolicy,
    /// The uploading key's id, and the longest lifetime it may give a file (`None`: the
    /// configured TTL).
    pub owner_id: &'a str,
    pub max_ttl_secs: Option<u64>,
    /// The base of `file_url` and `download_url`.
    pub base_url: &'a Url,
    pub now_ms: i64,
    /// Signs a private file's links (`None`: private links are disabled).
    pub link_secret: Option<&'a LinkSecret>,
    /// The request's `Idempotency-Key` and the batch item's place (`None`: none was sent).
    pub idempotency: Option<(&'a str, Option<usize>)>,
    /// With an `Idempotency-Key`, the batch's later items that share its file name: once
    /// one of them stored the name this upload takes, it is refused ([`Error::Superseded`]).
    pub later: &'a [usize],
}

/// Runs one upload. Its bytes go under their own new key, so a failure never touches the
/// file the name holds; on any failure nothing stays stored and nothing stays reserved.
/// With an `Idempotency-Key` whose upload stored a file already, that file is answered (the
/// answer says it was replayed) and nothing is fetched; while another try of the key runs,
/// 409 and nothing is fetched. A try that fails lets the key's next try run at once.
pub async fn upload<O, S, A>(
    req: UploadRequest,
    ctx: &UploadContext<'_>,
    origin: &O,
    store: &S,
    authority: &A,
) -> Result<Answered<FileData>, Error>
where
    O: Origin,
    S: ObjectStore<Body = O::Body>,
    A: FileAuthority,
{
    let Some((key, item)) = ctx.idempotency else {
        return store_and_commit(req, ctx, origin, store, authority, None).await;
    };
    let retry_key = UploadKey::of(key, item, &req).before(key, ctx.later);
    let try_id = ids::try_id();
    let first = match authority.begin_try(&retry_key, &try_id, TRY_LEASE_MS).await {
        // The mark may have landed with its answer lost: this try ends it.
        Err(err @ Error::Internal(_)) => {
            let _ = authority.end_try(&retry_key.key, &try_id).await;
            return Err(err);
        }
        first => first?,
    };
    if let Some(first) = first {
        return Ok(Answered::replayed(listing::file_data(ctx.base_url, ctx.owner_id, &first, ctx.link_secret)));
    }
    // The mark is renewed while the upload runs, and lapses soon after if its Worker dies.
    let storing = pin!(store_and_commit(req, ctx, origin, store, authority, Some(&retry_key)));
    let answered = match select(storing, pin!(authority.keep_try(&retry_key, &try_id))).await {
        Either::Left((answered, _)) => answered,
        Either::Right((never, _)) => match never {},
    };
    if answered.is_err() {
        // If this fails too, the mark lapses with its lease.
        let _ = authority.end_try(&retry_key.key, &try_id).await;
    }
    answered
}

/// [`upload`] past its `Idempotency-Key`'s question (`retry_key`, which the commit carries).
async fn store_and_commit<O, S, A>(
    req: UploadRequest,
    ctx: &UploadContext<'_>,
    origin: &O,
    store: &S,
    authority: &A,
    retry_key: Option<&UploadKey>,
) -> Result<Answered<FileData>, Error>
where
    O: Origin,
    S: ObjectStore<Body = O::Body>,
    A: FileAuthority,
{
    let expected_sha256 = req.expected_sha256.clone();
    let limit = ctx.config.max_file_bytes;
    let (prepared, body) = prepare(req, ctx, origin, limit).await?;
    // Headers are known, nothing is stored yet. A small body is stored first and checked
    // at commit; a larger one reserves its declared size, or what the quota leaves an
    // unknown one (up to `limit`), so a key over its quota never streams it.
    let small = prepared
        .content_length
        .is_some_and(|len| len <= SMALL_BODY_BYTES);
    let mut cap = limit;
    if !small {
        match reserve(authority, &prepared.reservation(limit, ctx.now_ms)).await {
            Ok(held) if prepared.content_length.is_none() => cap = held.min(limit),
            Ok(_) => {}
            Err(err) => {
                origin.discard(body);
                return Err(err);
            }
        }
    }
    let key = layout::object_key(&prepared.file_id);
    let stored = store
        .put_object(
            &key,
            body,
            &prepared.meta,
            cap,
            expected_sha256.as_deref(),
        )
        .await;
    let stored = match stored {
        Ok(stored) => stored,
        Err(err) => {
            // A failed put leaves no object, and a large one's reservation is given back.
            // A small one reserved nothing, but an object may be there all the same when
            // the put's answer was lost (internal) or the delete of one whose digest was
            // not the one expected failed: its id is released then, which has the
            // authority delete whatever is there (and refuse a commit of it).
            if !small || matches!(err, Error::Internal(_) | Error::ChecksumMismatch { .. }) {
                let _ = authority.release(&prepared.file_id).await;
            }
            return Err(past_held(err, cap, limit));
        }
    };
    let row = prepared.row(stored);
    let committed = commit(authority, ctx.blocklist, &row, retry_key).await;
    // An object of the version before: its client sends the upload again in seconds.
    if committed == Err(Error::Updating) {
        let _ = authority.release(&row.file_id).await;
    }
    let answered = match committed? {
        // (A commit sent again is answered with its own row, kept by its first sending.)
        Some(first) if first.file_id != row.file_id => Answered::replayed(first),
        _ => Answered::new(row),
    };
    Ok(answered.map(|row| listing::file_data(ctx.base_url, ctx.owner_id, &row, ctx.link_secret)))
}

/// An upload whose origin answered and whose type, names and id are decided; nothing is
/// stored or reserved yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prepared {
    /// The file's size, when the origin declared it.
    pub content_length: Option<u64>,
    pub file_id: String,
    pub upload_path: String,
    pub file_name: String,
    pub original_name: String,
    pub mime_type: String,
    pub meta: ObjectMeta,
    /// The row's link options (`max_downloads`, `private`), as JSON.
    #[serde(default)]
    pub options: Option<String>,
}

impl Prepared {
    /// The reservation before storing: the declared size, or when unknown, what the quota
    /// leaves, up to `limit`.
    pub fn reservation(&self, limit: u64, now_ms: i64) -> Reservation {
        Reservation {
            file_id: self.file_id.clone(),
            upload_path: self.upload_path.clone(),
            file_name: self.file_name.clone(),
            bytes: self.content_length.unwrap_or(limit),
            at_ms: now_ms,
            up_to: self.content_length.is_none(),
        }
    }

    /// The file's row once its bytes are stored.
    pub fn row(&self, stored: StoredObject) -> FileRow {
        FileRow {
            file_id: self.file_id.clone(),
            upload_path: self.upload_path.clone(),
            file_name: self.file_name.clone(),
            size: stored.size,
            mime_type: self.mime_type.clone(),
            original_name: self.original_name.clone(),
            upload_ms: self.meta.upload_ms,
            expires_ms: self.meta.expires_ms,
            sha256: stored.sha256,
            options: self.options.clone(),
            named_ms: 0, // set by the commit
        }
    }
}

/// Fetches the origin (following redirects under the URL policy), refuses a declared size
/// over `limit`, sniffs the type and decides the names; answers them with the body, still
/// streaming. A refusal discards the body.
pub async fn prepare<O: Origin>(
    req: UploadRequest,
    ctx: &UploadContext<'_>,
    origin: &O,
    limit: u64,
) -> Result<(Prepared, O::Body), Error> {
    let config = ctx.config;
    let ttl = link_controls(&req, config.ttl_secs, ctx.max_ttl_secs, ctx.link_secret.is_some())?;
    let options = LinkOptions { max_downloads: req.max_downloads, downloads: 0, private: req.private };
    let (url, fetched) = fetch_following_redirects(req.file_url, ctx.policy, origin).await?;
    let Fetched {
        content_length,
        content_type,
        content_disposition,
        mut body,
        ..
    } = fetched;
    if content_length.is_some_and(|len| len > limit) {
        origin.discard(body);
        return Err(Error::FileTooLarge { limit });
    }
    let prefix = origin.sniff(&mut body).await?;
    // A body without a length that sniffing read whole has one now: it reserves its own
    // size, not the most an unknown body may grow to (which a small quota refuses).
    let content_length = content_length.or_else(|| origin.length_read(&body));
    if content_length.is_some_and(|len| len > limit) {
        origin.discard(body);
        return Err(Error::FileTooLarge { limit });
    }
    let original_name = names::original_name(content_disposition.as_deref(), &url);
    let mime_type = mime::detect(&prefix, content_type.as_deref(), &original_name);
    if !config.allowed_types.allows(&mime_type) {
        origin.discard(body);
        return Err(config.allowed_types.refusal(&mime_type));
    }
    let upload_path = req
        .upload_path
        .unwrap_or_else(|| mime::category(&mime_type).to_owned());
    let file_name = req
        .file_name
        .unwrap_or_else(|| ids::generated_name(mime::extension(&mime_type)));
    let meta = ObjectMeta {
        owner: ctx.owner_id.to_owned(),
        original_name: original_name.clone(),
        mime_type: mime::served_type(&mime_type, content_type.as_deref()),
        upload_ms: ctx.now_ms,
        expires_ms: expires_at_ms(ctx.now_ms, ttl),
        counted: options.max_downloads.is_some(),
        private: options.private,
    };
    let prepared = Prepared {
        content_length,
        file_id: ids::file_id(),
        upload_path,
        file_name,
        original_name,
        mime_type,
        meta,
        options: options.to_json(),
    };
    Ok((prepared, body))
}

/// A body of unknown length that ran past the `held` bytes its reservation got, short of
/// the size limit: 429, the quota's refusal, not the limit's 413.
pub fn past_held(err: Error, held: u64, limit: u64) -> Error {
    match err {
        Error::FileTooLarge { .. } if held < limit => Error::QuotaExceeded(format!(
            "quota exhausted: this file, sent without a length, grew past the {held} bytes the key's quota had left when it began"
        )),
        err => err,
    }
}

/// Reserves, answering the bytes held; a lost answer may hide a reservation that landed,
/// which is given back.
pub async fn reserve<A: FileAuthority>(
    authority: &A,
    reservation: &Reservation,
) -> Result<u64, Error> {
    let result = authority.reserve(reservation).await;
    if matches!(result, Err(Error::Internal(_))) {
        let _ = authority.release(&reservation.file_id).await;
    }
    result
}

/// Commits the stored file (with its `Idempotency-Key`, `key`), unless its digest is
/// blocked, or the blocklist cannot say: then it is released (its object goes) and refused
/// with 451 (or 503). `Some`: the file
/// the key stored already, answered instead (this one dropped). A refusal cleaned up
/// already; an internal failure may have lost the answer of a commit that landed: asked,
/// the authority says whether it holds the file (then the commit stands), else the upload
/// is released. An authority that did not know the op ([`Error::Updating`]: a deployment
/// on its way) read nothing of it: the caller keeps the upload for a later try or releases
/// it.
pub async fn commit<A: FileAuthority>(authority: &A, blocklist: &dyn Blocklist, row: &FileRow, key: Option<&UploadKey>) -> Result<Option<FileRow>, Error> {
    let blocked = blocklist.blocks(&row.sha256).await;
    if blocked != Ok(false) {
        let _ = authority.release(&row.file_id).await;
        return Err(blocked.err().unwrap_or(Error::Blocked));
    }
    let result = authority.commit(row, key).await;
    if let Err(Error::Internal(_)) = result {
        // The answer may be what was lost, after the commit landed: then the file is
        // stored and charged, and is answered as such (a 500 would have the client store
        // it again). A commit still on its way may land after that question and before the
        // release, which then leaves it: asked again after the release. When the release
        // went through, that answer is final (it doomed the id, so a commit landing later
        // is refused); when it did not, a commit may still land after it, answered 500.
        if authority.holds(&row.file_id).await == Ok(true) {
            return Ok(None);
        }
        let _ = authority.release(&row.file_id).await;
        if authority.holds(&row.file_id).await == Ok(true) {
            return Ok(None);
        }
    }
    result
}

/// GETs `url`, following its redirects as [`Redirects`] allows; the URL policy is checked
/// before every request (a refused hop is [`Error::RedirectRejected`]). Returns the final
/// URL and its 2xx response.
async fn fetch_following_redirects<O: Origin>(
    url: Url,
    policy: &UrlPolicy,
    origin: &O,
) -> Result<(Url, Fetched<O::Body>), Error> {
    let mut chain = Redirects::from(url, policy);
    loop {
        let fetched = origin.fetch(chain.next()?).await?;
        let status = fetched.status;
        // The file: a 200 (or a proxy's 203), or the 206 the adapter took for one. Another
        // 2xx is not the file (202: still being made; 204, 205: no content).
        if matches!(status, 200 | 203 | 206) {
            return Ok((chain.into_url(), fetched));
        }
        let location = fetched.location.clone();
        origin.discard(fetched.body);
        if !chain.follow(status, location.as_deref())? {
            return Err(Error::OriginStatus(status));
        }
    }
}
