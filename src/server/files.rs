//! Serving stored files: `GET`/`HEAD` on `download_url` (by id: its object, read from R2
//! directly) and on `file_url` (by name: the key's authority says which file holds it,
//! remembered per isolate for a few seconds). Expiry is checked on every read.

use std::cell::RefCell;

use worker::{Headers, Response};

use super::http::Incoming;
use super::bindings::Services;
use super::js::now_ms;
use super::r2::object_meta;
use crate::core::clock::is_expired;
use crate::core::keys::is_key_id;
use crate::core::layout::{object_key, FileName};
use crate::core::names::{chosen_name, saved_name};
use crate::core::serve::{answer, content_range, headers, name_modified_ms, parse_range, refuse_own_subresource, refused_link, Answer, ByteRange, Conditions, Mode, Served, NOT_MODIFIED_HEADERS};
use crate::core::ttl_cache::{TtlCache, NAME_CACHE_ENTRIES, NAME_CACHE_TTL_MS, SIZE_CACHE_ENTRIES, SIZE_CACHE_TTL_MS};
use crate::core::Error;

/// The file a name held when last resolved, and when it took the name.
#[derive(Clone)]
struct Holder {
    file_id: String,
    named_ms: i64,
}

/// How `file_url` serves a file: under the stored name it asked for (saved as
/// `chosen_name` saves it), dated from when the file took it ([`name_modified_ms`]).
struct ByName<'a> {
    file_name: &'a str,
    named_ms: i64,
}

thread_local! {
    /// `{owner}/{upload_path}/{file_name}` -> the file it held when last resolved.
    static NAMES: RefCell<TtlCache<Holder>> = RefCell::new(TtlCache::new(NAME_CACHE_TTL_MS, NAME_CACHE_ENTRIES));
    /// `file_id` -> the size of its object, as last served here.
    static SIZES: RefCell<TtlCache<u64>> = RefCell::new(TtlCache::new(SIZE_CACHE_TTL_MS, SIZE_CACHE_ENTRIES));
}

/// `download_url`: the object of `file_id`, as an attachment.
pub(crate) async fn download(req: &Incoming, services: &Services, file_id: &str) -> Result<Response, Error> {
    refuse_as_code(req)?;
    serve(req, services, file_id, None).await?.ok_or(Error::FileNotFound)
}

/// `file_url`: the file the name holds now, inline when safe.
pub(crate) async fn inline(req: &Incoming, services: &Services, name: &FileName) -> Result<Response, Error> {
    refuse_as_code(req)?;
    let cache_key = name_key(&name.owner, &name.upload_path, &name.file_name);
    if let Some(holder) = NAMES.with_borrow(|names| names.get(&cache_key, now_ms())) {
        // A replaced or deleted file's object is gone before the change was answered, so a
        // stale entry finds nothing here and the key's authority is asked again. What
        // `serve` answers from an object it found comes from the file that holds the name
        // now (a used-up counted file's object, kept a while, is checked with the authority
        // before it refuses anything): its refusals (412, 416, an unsigned private file)
        // stand like its responses, and a stream of them costs the authority nothing. A
        // failure is answered as it is, never tried again: it may have counted a download.
        let by_name = ByName { file_name: &name.file_name, named_ms: holder.named_ms };
        match serve(req, services, &holder.file_id, Some(by_name)).await? {
            Some(response) => return Ok(response),
            None => NAMES.with_borrow_mut(|names| names.remove(&cache_key)),
        }
    }
    if !is_key_id(&name.owner) {
        return Err(Error::FileNotFound);
    }
    // An overwrite may land between the answer and the read (the old object is deleted
    // before the overwrite is answered): the name is asked once more, and holds the new file.
    for _ in 0..2 {
        // A commit to the name here while the answer is on its way drops the answer.
        let mark = NAMES.with_borrow(|names| names.mark(&cache_key));
        let row = services.authority(&name.owner).resolve(&name.upload_path, &name.file_name).await?;
        let holder = Holder { file_id: row.file_id, named_ms: row.named_ms };
        NAMES.with_borrow_mut(|names| names.insert_since(mark, &cache_key, holder.clone(), now_ms()));
        let by_name = ByName { file_name: &name.file_name, named_ms: holder.named_ms };
        if let Some(response) = serve(req, services, &holder.file_id, Some(by_name)).await? {
            return Ok(response);
        }
    }
    NAMES.with_borrow_mut(|names| names.remove(&cache_key));
    Err(Error::FileNotFound)
}

/// Refuses, before any lookup, a load by the service's own pages as code or style
/// ([`refuse_own_subresource`]).
fn refuse_as_code(req: &Incoming) -> Result<(), Error> {
    refuse_own_subresource(req.header("Sec-Fetch-Site").as_deref(), req.header("Sec-Fetch-Dest").as_deref())
}

/// Forgets what this isolate cached for a name (a file was just committed to it here).
pub(crate) fn forget_name(owner: &str, upload_path: &str, file_name: &str) {
    NAMES.with_borrow_mut(|names| names.remove(&name_key(owner, upload_path, file_name)));
}

/// The name cache's key of a name.
fn name_key(owner: &str, upload_path: &str, file_name: &str) -> String {
    format!("{owner}/{upload_path}/{file_name}")
}

/// The response for `file_id`'s object, or `None` when it is gone or expired; `by_name` on
/// `file_url` (`None` on `download_url`). A plain GET
/// is one R2 read; ranges, conditionals and HEAD read the metadata first, except a GET of
/// one range of an object whose size this isolate knows: that range is read at once, and
/// read again only if the answer is not that range after all. A private file
/// needs a valid signature; a file with `max_downloads` is checked (and a download counted)
/// by the key's authority after its object is opened, so the download that uses up the
/// count is still served whole. A refusal (`Err`, not internal) comes only from a live file:
/// a counted file's is checked with the authority first (its object outlives its row).
async fn serve(req: &Incoming, services: &Services, file_id: &str, by_name: Option<ByName<'_>>) -> Result<Option<Response>, Error> {
    let mode = if by_name.is_some() { Mode::Inline } else { Mode::Attachment };
    let key = object_key(file_id);
    let bucket = &services.bucket;
    let header = |name: &str| req.header(name);
    let r2 = |e: worker::Error| Error::internal(format!("r2 read {key}: {e}"));
    let values = ["If-Match", "If-Unmodified-Since", "If-None-Match", "If-Modified-Since", "If-Range", "Range"].map(header);
    let [if_match, if_unmodified_since, if_none_match, if_modified_since, if_range, range] = values.each_ref().map(Option::as_deref);
    let conditions = Conditions { if_match, if_unmodified_since, if_none_match, if_modified_since, if_range, range };
    let head = req.is_head();
    let known = SIZES.with_borrow(|sizes| sizes.get(file_id, now_ms()));
    let asked = known.filter(|_| !head).and_then(|size| parse_range(range, size).ok().flatten());
    let head_first = asked.is_none() && (head || conditions.may_skip_body());
    let obj = match asked {
        Some(r) => bucket.get(&key).range(r2_range(r)).execute().await,
        None if head_first => bucket.head(&key).await,
        None => bucket.get(&key).execute().await,
    };
    let Some(obj) = obj.map_err(r2)? else { return Ok(None) };
    let Some(meta) = object_meta(&obj) else { return Ok(None) };
    let now = now_ms();
    if is_expired(meta.expires_ms, now) {
        return Ok(None);
    }
    // A counted file is checked (`count` false) or counted by its key's authority.
    let owner = meta.owner.as_str();
    let claim = |count: bool| async move { Error::found(services.authority(owner).claim(file_id, count).await) };
    if meta.private {
        let checked = match services.link_secret.as_ref() {
            Some(secret) => secret.check(req.url.path(), req.url.query(), now),
            None => Err(Error::Forbidden("this file is private and private links are disabled")),
        };
        if let Err(err) = checked {
            if meta.counted && !claim(false).await? {
                return Ok(None);
            }
            return Err(refused_link(err, mode));
        }
    }

    let etag = obj.http_etag();
    let size = obj.size();
    SIZES.with_borrow_mut(|sizes| sizes.insert(file_id, size, now));
    // Either link saves under a name that runs or renders as a page only when the stored
    // type vouches for it: `invoice.hta` chosen for HTML is served at that URL, and saved as
    // `invoice.hta.html`.
    let saved = match &by_name {
        Some(n) => chosen_name(n.file_name, &meta.mime_type),
        None => saved_name(&meta.original_name, &meta.mime_type),
    };
    let served = Served {
        size,
        etag: &etag,
        mime_type: &meta.mime_type,
        file_name: &saved,
        // The bytes behind an id never change: dated by their upload. A name's are dated
        // by when its file took it.
        modified_ms: match &by_name {
            None => Some(meta.upload_ms),
            Some(n) => name_modified_ms(n.named_ms, now),
        },
        expires_ms: meta.expires_ms,
        private: meta.private,
        counted: meta.counted,
    };
    // A counted file is never served in ranges (`range_applies`): HEAD and 304 only check it
    // is live, every GET that reaches its body is a download.
    let answer = match answer(&served, &conditions, head) {
        // A used-up file is kept a while for a download still being read: a precondition
        // must not tell that it is there.
        Err(Error::PreconditionFailed) if meta.counted && !claim(false).await? => return Ok(None),
        answer => answer?,
    };
    let out = Headers::new();
    for (name, value) in headers(&served, mode, now) {
        if answer != Answer::NotModified || NOT_MODIFIED_HEADERS.contains(&name) {
            let _ = out.set(name, &value);
        }
    }
    let (status, range, length) = match answer {
        Answer::NotModified => (304, None, 0),
        Answer::Whole => (200, None, size),
        Answer::Part(r) => {
            let _ = out.set("Content-Range", &content_range(r, size));
            (206, Some(r), r.end - r.start + 1)
        }
    };
    if status != 304 {
        let _ = out.set("Content-Length", &length.to_string());
    }
    if status == 304 || head {
        if meta.counted && !claim(false).await? {
            return Ok(None);
        }
        return Ok(Some(Response::empty().map_err(r2)?.with_status(status).with_headers(out)));
    }
    // What was read already serves, unless it was the metadata only, or a range the answer
    // is not (a failed If-Range, a counted file: the whole file).
    let reuse = !head_first && asked.is_none_or(|asked| range == Some(asked));
    let read = if reuse {
        Some(obj)
    } else {
        // The bytes behind an id never change: whatever this reads is the object above.
        let mut get = bucket.get(&key);
        if let Some(r) = range {
            get = get.range(r2_range(r));
        }
        get.execute().await.map_err(r2)?
    };
    let Some(body) = read.as_ref().and_then(|o| o.body()) else { return Ok(None) };
    // Opened before the claim: the authority may retire the file as it counts this download.
    if meta.counted && !claim(true).await? {
        return Ok(None);
    }
    let body = body.response_body().map_err(r2)?;
    Ok(Some(Response::from_body(body).map_err(r2)?.with_status(status).with_headers(out)))
}

/// `r` as R2 reads it.
fn r2_range(r: ByteRange) -> worker::Range {
    worker::Range::OffsetWithLength { offset: r.start, length: r.end - r.start + 1 }
}
