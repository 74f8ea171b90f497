//! The upload flow on the host, over the in-memory seams: what it stores, what it answers,
//! which calls it makes, and that a refusal leaves nothing behind.

mod common;

use common::{Fault, MemOrigin, Reply, World, NOW};
use futures_executor::block_on;
use futures_util::future::join;
use std::cell::RefCell;
use std::convert::Infallible;

use urlstash::core::authority_wire::{FileRow, Op, Reservation};
use urlstash::core::idempotency::UploadKey;
use urlstash::core::seams::FileAuthority;
use sha2::Digest;
use urlstash::core::Error;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

fn png_file(size: usize) -> Vec<u8> {
    let mut bytes = PNG.to_vec();
    bytes.extend((0..size - PNG.len()).map(|i| (i * 7 % 251) as u8));
    bytes
}

fn url_only(url: &str) -> String {
    format!(r#"{{"file_url":"{url}"}}"#)
}

#[test]
fn stores_the_file_and_reports_it() {
    let bytes = png_file(5000);
    let w = World::new(&[]).with("https://o.test/pics/cat.png", Reply::file(&bytes, Some("image/png")));
    let data = w.run(&url_only("https://o.test/pics/cat.png")).unwrap();

    assert_eq!(data.mime_type, "image/png");
    assert_eq!(data.original_name, "cat.png");
    assert_eq!(data.upload_path, "images");
    assert_eq!(data.file_size, 5000);
    assert!(data.file_name.ends_with(".png") && data.file_name.len() == 28, "{}", data.file_name);
    assert_eq!(data.file_url, format!("https://files.test/f/k_test/images/{}", data.file_name));
    assert_eq!(data.download_url, format!("https://files.test/api/v1/files/download/{}", data.file_id));
    assert_eq!(data.upload_time, "2025-10-09T00:00:00+00:00");
    assert_eq!(data.expires_at, "2025-10-12T00:00:00+00:00");

    assert_eq!(w.store.keys(), vec![format!("o/{}", data.file_id)], "one object, under the upload's own key");
    assert!(w.object(&data.file_id) == Some(bytes), "every byte, sniffed prefix included");
    let meta = &w.store.objects.borrow()[&format!("o/{}", data.file_id)].meta;
    assert_eq!((meta.owner.as_str(), meta.original_name.as_str(), meta.mime_type.as_str()), ("k_test", "cat.png", "image/png"));
    assert_eq!((meta.upload_ms, meta.expires_ms), (NOW, NOW + 259_200_000));

    let row = w.authority.resolve("images", &data.file_name).unwrap();
    assert_eq!((row.file_id.as_str(), row.size, row.mime_type.as_str()), (data.file_id.as_str(), 5000, "image/png"));
    assert_eq!((row.original_name.as_str(), row.upload_ms, row.expires_ms), ("cat.png", NOW, NOW + 259_200_000));
}

/// 203 (a transforming proxy's 200) is the file too, as 200 is; only other 2xx are refused
/// (`refusals_leave_nothing_stored`).
#[test]
fn a_203_from_a_proxy_is_the_file() {
    let bytes = png_file(3000);
    let w = World::new(&[]).with("https://o.test/p.png", Reply { status: 203, ..Reply::file(&bytes, Some("image/png")) });
    let data = w.run(&url_only("https://o.test/p.png")).unwrap();
    assert_eq!(data.file_size, 3000);
    assert!(w.object(&data.file_id) == Some(bytes), "every byte");
}

#[test]
fn small_known_length_uploads_make_one_put_and_one_commit() {
    // a body without a length that sniffing read to its end is known too: no reservation
    // of the most an unknown body may grow to
    let replies = [Reply::file(&png_file(100), None), Reply::file(&png_file(64 * 1024), None), Reply::file(&png_file(3000), None).without_length()];
    for reply in replies {
        let size = reply.chunks.iter().map(|c| c.as_ref().map_or(0, Vec::len)).sum::<usize>();
        let w = World::new(&[]).with("https://o.test/a.png", reply);
        let data = w.run(&url_only("https://o.test/a.png")).unwrap();
        assert_eq!(w.store.puts.borrow().len(), 1, "{size}: one put");
        assert_eq!(w.authority.call_names(), ["commit"], "{size}: one commit, no reservation");
        assert_eq!(w.authority.tables().files.len(), 1, "{size}");
        assert_eq!(w.usage().bytes, data.file_size);
    }
}

#[test]
fn larger_or_unknown_length_uploads_reserve_then_put_then_commit() {
    let cases = [("just over 64 KiB", Reply::file(&png_file(64 * 1024 + 1), None), 64 * 1024 + 1), ("unknown length", Reply::file(&png_file(10_000), None).without_length(), 104_857_600)];
    for (what, reply, reserved) in cases {
        let w = World::new(&[]).with("https://o.test/a.png", reply);
        let data = w.run(&World::body("https://o.test/a.png", "p", "a.png")).unwrap();
        assert_eq!(w.authority.call_names(), ["reserve", "commit"], "{what}");
        let calls = w.authority.calls.borrow();
        let Op::Reserve { reservation } = &calls[0].op else { unreachable!() };
        let up_to = reserved == 104_857_600;
        let want = Reservation { file_id: data.file_id.clone(), upload_path: "p".into(), file_name: "a.png".into(), bytes: reserved, at_ms: NOW, up_to };
        assert_eq!(reservation, &want, "{what}: the declared length, or up to MAX_FILE_BYTES");
        assert_eq!(w.store.puts.borrow().len(), 1, "{what}");
        assert!(w.authority.tables().reservations.is_empty(), "{what}: the commit took the reservation");
        assert_eq!(w.usage().bytes, data.file_size, "{what}: charged the real size");
    }
}

#[test]
fn custom_path_and_name_and_unknown_length() {
    let bytes = b"%PDF-1.7 hello".to_vec();
    let w = World::new(&[]).with("https://o.test/r", Reply::file(&bytes, None).without_length());
    let body = r#"{"file_url":"https://o.test/r","upload_path":"/docs/q3/","file_name":"report.pdf"}"#;
    let data = w.run(body).unwrap();
    assert_eq!((data.upload_path.as_str(), data.file_name.as_str(), data.mime_type.as_str()), ("docs/q3", "report.pdf", "application/pdf"));
    let row = w.authority.resolve("docs/q3", "report.pdf").unwrap();
    assert_eq!(w.object(&row.file_id), Some(bytes));
}

#[test]
fn follows_redirects_checking_each_hop() {
    let w = World::new(&[])
        .with("https://o.test/a", Reply::redirect(302, "/b"))
        .with("https://o.test/b", Reply::redirect(301, "https://cdn.test/final.png"))
        .with("https://cdn.test/final.png", Reply::file(&png_file(100), None));
    let data = w.run(&url_only("https://o.test/a")).unwrap();
    assert_eq!(data.original_name, "final.png");
    assert_eq!(*w.origin.requested.borrow(), ["https://o.test/a", "https://o.test/b", "https://cdn.test/final.png"]);
    assert_eq!(*w.origin.discarded.borrow(), 2, "each hop's own body is given up");

    let blocked = World::new(&[]).with("https://o.test/a", Reply::redirect(302, "ftp://o.test/x"));
    let err = blocked.run(&url_only("https://o.test/a")).unwrap_err();
    assert!(matches!(err, Error::RedirectRejected(_)), "{err:?}");
    assert_eq!(err.status(), 400);
    assert!(blocked.store.puts.borrow().is_empty() && blocked.authority.calls.borrow().is_empty());
}

#[test]
fn too_many_redirects() {
    let mut w = World::new(&[]);
    for i in 0..10 {
        w = w.with(&format!("https://o.test/{i}"), Reply::redirect(307, &format!("/{}", i + 1)));
    }
    assert_eq!(w.run(&url_only("https://o.test/0")).unwrap_err(), Error::TooManyRedirects(5));
    assert_eq!(w.origin.requested.borrow().len(), 6, "the first request and five redirects");
}

/// What fails, with which vars: the error, the calls made, the puts asked for, and the
/// origin's bodies given up unread (a refusal before the body is stored cancels it: an
/// open body holds one of the Worker's few connections).
type Refusal<'a> = (&'a str, &'a [(&'a str, &'a str)], Reply, Error, &'a [&'a str], usize, usize);

/// A failed upload: its error, the calls it made, and nothing left behind.
#[test]
fn refusals_leave_nothing_stored() {
    let big = png_file(2000);
    let large = png_file(70_000);
    let limit = [("MAX_FILE_BYTES", "1999")];
    #[rustfmt::skip]
    let cases: Vec<Refusal> = vec![
        ("origin 404", &[], Reply::status(404), Error::OriginStatus(404), &[], 0, 1),
        ("304 is not a redirect", &[], Reply::redirect(304, "/y"), Error::OriginStatus(304), &[], 0, 1),
        // a 2xx other than 200, 203 and 206 is not the file (still processing, no content)
        ("202 is not the file", &[], Reply { status: 202, ..Reply::file(br#"{"state":"processing"}"#, Some("application/json")) }, Error::OriginStatus(202), &[], 0, 1),
        ("204 is not the file", &[], Reply::status(204), Error::OriginStatus(204), &[], 0, 1),
        ("205 is not the file", &[], Reply::status(205), Error::OriginStatus(205), &[], 0, 1),
        ("declared too large", &limit, Reply::file(&big, None), Error::FileTooLarge { limit: 1999 }, &[], 0, 1),
        ("read whole by sniffing, too large", &limit, Reply::file(&big, None).without_length(), Error::FileTooLarge { limit: 1999 }, &[], 0, 1),
        ("streamed too large", &limit, Reply::file(&png_file(6000), None).without_length(), Error::FileTooLarge { limit: 1999 }, &["reserve", "release"], 1, 0),
        ("type refused", &[("ALLOWED_MIME_TYPES", "image/*")], Reply::file(b"%PDF-1.4", None), Error::TypeNotAllowed("`application/pdf` is not allowed (allowed: image/*)".into()), &[], 0, 1),
        ("small body dropped", &[], Reply::file(&png_file(10_000), None).broken_after(5), Error::OriginBroken, &[], 1, 0),
        ("large body dropped", &[], Reply::file(&large, None).broken_after(30), Error::OriginBroken, &["reserve", "release"], 1, 0),
        ("dropped while sniffing", &[], Reply::file(&big, None).broken_after(0), Error::OriginBroken, &[], 0, 0),
    ];
    for (what, vars, reply, want, calls, puts, discarded) in cases {
        let w = World::new(vars).with("https://o.test/x", reply);
        assert_eq!(w.run(&url_only("https://o.test/x")).unwrap_err(), want, "{what}");
        assert_eq!(w.authority.call_names(), calls, "{what}");
        assert_eq!(w.store.puts.borrow().len(), puts, "{what}: puts asked for");
        assert_eq!(*w.origin.discarded.borrow(), discarded, "{what}: bodies given up");
        assert!(w.store.landed().is_empty(), "{what}: no put landed");
        w.assert_nothing_left(what);
    }
    let unreachable = World::new(&[]);
    assert_eq!(unreachable.run(&url_only("https://o.test/x")).unwrap_err(), Error::OriginUnreachable);
    unreachable.assert_nothing_left("unreachable");
}

#[test]
fn a_refused_r2_write_stores_nothing_and_releases() {
    // a small upload reserved nothing, but a refused write may be one whose answer was lost
    // (the object there all the same): its id is released, for the authority to delete it
    for (what, size, calls) in [("small", 300, &["release"][..]), ("large", 70_000, &["reserve", "release"][..])] {
        let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&png_file(size), None));
        w.store.fail_puts.set(true);
        let err = w.run(&url_only("https://o.test/x.png")).unwrap_err();
        assert_eq!((err.status(), err.public_message().as_str()), (500, "internal error"), "{what}");
        assert_eq!(w.authority.call_names(), calls, "{what}");
        w.assert_nothing_left(what);
    }
}

/// The key's authority of `inner`, but a commit's answer is lost on its way and the commit
/// itself lands late: after the flow asked whether it landed, just before its release.
struct LateCommit<'a> {
    inner: &'a common::MemAuthority,
    pending: RefCell<Option<FileRow>>,
}

impl FileAuthority for LateCommit<'_> {
    async fn reserve(&self, reservation: &Reservation) -> Result<u64, Error> {
        self.inner.reserve(reservation).await
    }

    async fn commit(&self, file: &FileRow, _: Option<&UploadKey>) -> Result<Option<FileRow>, Error> {
        *self.pending.borrow_mut() = Some(file.clone());
        Err(Error::internal("the commit's answer was lost"))
    }

    async fn begin_try(&self, key: &UploadKey, try_id: &str, lease_ms: i64) -> Result<Option<FileRow>, Error> {
        self.inner.begin_try(key, try_id, lease_ms).await
    }

    async fn end_try(&self, key: &str, try_id: &str) -> Result<(), Error> {
        self.inner.end_try(key, try_id).await
    }

    async fn keep_try(&self, key: &UploadKey, try_id: &str) -> Infallible {
        self.inner.keep_try(key, try_id).await
    }

    async fn release(&self, file_id: &str) -> Result<(), Error> {
        if let Some(file) = self.pending.take() {
            self.inner.commit(&file, None).await.expect("the late commit lands");
        }
        self.inner.release(file_id).await
    }

    async fn holds(&self, file_id: &str) -> Result<bool, Error> {
        self.inner.holds(file_id).await
    }
}

#[test]
fn a_commit_whose_lost_answer_landed_after_the_question_stands() {
    // Its release then leaves the file: stored, charged and holding its name, it is
    // answered as stored (a 500 would have the client store it again).
    let bytes = png_file(300);
    let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&bytes, None));
    let late = LateCommit { inner: &w.authority, pending: RefCell::new(None) };
    let data = block_on(w.upload_through(&World::body("https://o.test/x.png", "p", "x.png"), None, &late)).expect("stored").data;
    assert_eq!(w.authority.resolve("p", "x.png").unwrap().file_id, data.file_id, "the name holds it");
    assert_eq!(w.object(&data.file_id), Some(bytes), "its bytes are there");
    assert_eq!(w.usage().files, 1);
}

#[test]
fn the_sha256_of_the_stored_bytes_is_kept_and_answered() {
    for (what, reply) in [("known length", Reply::file(&png_file(70_000), None)), ("unknown", Reply::file(&png_file(900), None).without_length())] {
        let w = World::new(&[]).with("https://o.test/x.png", reply);
        let data = w.run(&url_only("https://o.test/x.png")).unwrap();
        let want = common::hex(&sha2::Sha256::digest(w.object(&data.file_id).unwrap()));
        assert_eq!(data.sha256, want, "{what}");
        assert_eq!(w.authority.resolve(&data.upload_path, &data.file_name).unwrap().sha256, want, "{what}: in the row");
    }
}

#[test]
fn an_expected_sha256_that_differs_stores_and_charges_nothing() {
    let bytes = png_file(70_000);
    let right = common::hex(&sha2::Sha256::digest(&bytes));
    let wrong = "ab".repeat(32);
    for (what, size) in [("small", 300), ("large", 70_000)] {
        let bytes = png_file(size);
        let right = common::hex(&sha2::Sha256::digest(&bytes));
        let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&bytes, None));
        let body = format!(r#"{{"file_url":"https://o.test/x.png","expected_sha256":"{}"}}"#, wrong.to_uppercase());
        let err = w.run(&body).unwrap_err();
        assert_eq!(err, Error::ChecksumMismatch { expected: wrong.clone(), actual: right.clone() }, "{what}");
        assert_eq!((err.status(), err.field()), (422, Some("expected_sha256")));
        assert!(err.public_message().contains(&wrong) && err.public_message().contains(&right), "{what}: names both");
        w.assert_nothing_left(what);
    }
    let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&bytes, None));
    let data = w.run(&format!(r#"{{"file_url":"https://o.test/x.png","expected_sha256":"{right}"}}"#)).unwrap();
    assert_eq!(data.sha256, right);
}

#[test]
fn a_commit_that_never_landed_is_released_and_its_object_deleted() {
    for size in [300, 70_000] {
        let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&png_file(size), None));
        w.authority.set_faults(|op| matches!(op, Op::Commit { .. }).then_some(Fault::Lost));
        let err = w.run(&url_only("https://o.test/x.png")).unwrap_err();
        assert_eq!((err.status(), err.public_message().as_str()), (500, "internal error"));
        // released, then asked once more whether it landed (a commit on its way could have)
        assert!(w.authority.call_names().ends_with(&["get", "release", "get"]), "{size}: {:?}", w.authority.call_names());
        assert_eq!(w.store.landed().len(), 1, "{size}: the put landed, then went");
        w.assert_nothing_left(&format!("{size} bytes"));
    }
}

#[test]
fn a_commit_an_older_authority_does_not_know_is_503_and_released() {
    // a deployment on its way: the key's object still runs the version before, which reads
    // `release` but not this commit
    for size in [300, 70_000] {
        let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&png_file(size), None));
        w.authority.set_faults(|op| matches!(op, Op::Commit { .. }).then_some(Fault::Unknown));
        let err = w.run(&url_only("https://o.test/x.png")).unwrap_err();
        assert_eq!(err, Error::Updating);
        assert_eq!((err.status(), err.retry_after_secs()), (503, Some(5)));
        assert_eq!(err.public_message(), "the service is being updated: retry in a few seconds");
        assert_eq!(w.authority.call_names().last(), Some(&"release"), "{size}");
        assert_eq!(w.store.landed().len(), 1, "{size}: the put landed, then went");
        w.assert_nothing_left(&format!("{size} bytes"));
    }
}

#[test]
fn a_lost_commit_answer_keeps_the_committed_file() {
    let bytes = png_file(300);
    let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&bytes, None));
    w.authority.set_faults(|op| matches!(op, Op::Commit { .. }).then_some(Fault::LostAnswer));
    // the commit landed: the upload is answered as stored, not as a 500 a client would retry
    let data = w.run(&World::body("https://o.test/x.png", "p", "x.png")).expect("stored and answered");
    assert_eq!(w.authority.call_names(), ["commit", "get"], "asked whether it landed; nothing released");
    let row = w.authority.resolve("p", "x.png").expect("the commit landed");
    assert_eq!(row.file_id, data.file_id);
    assert_eq!(w.object(&row.file_id), Some(bytes));
    assert_eq!(w.usage().bytes, 300);
}

#[test]
fn overwriting_a_name_replaces_the_bytes_and_deletes_the_old_object() {
    let body = World::body("https://o.test/x.png", "p", "same.png");
    let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&png_file(300), None));
    let first = w.run(&body).unwrap();
    let w = w.with("https://o.test/x.png", Reply::file(&png_file(400), None));
    let second = w.run(&body).unwrap();
    assert_eq!(first.file_url, second.file_url);
    assert_ne!(first.file_id, second.file_id);
    assert_eq!(w.authority.resolve("p", "same.png").unwrap().file_id, second.file_id);
    assert_eq!(w.store.keys(), [format!("o/{}", second.file_id)]);
    assert!(w.store.deletes.borrow().contains(&format!("o/{}", first.file_id)));
    assert_eq!(w.object(&second.file_id), Some(png_file(400)));
    assert!(w.store.overwritten().is_empty(), "no object written twice");
    assert_eq!((w.usage().bytes, w.usage().files), (400, 1));
}

/// A failed overwrite, however it fails, leaves the name's file as it was.
#[test]
fn a_failed_overwrite_never_touches_the_file_it_would_replace() {
    let body = World::body("https://o.test/x.png", "p", "same.png");
    let old = png_file(300);
    // [label, the origin's reply, a fault on the commit, the key's quota (bytes), the error
    // the upload must answer]. With 80 000 bytes of quota a streamed upload is refused at its
    // reservation (of MAX_FILE_BYTES), before anything is read: "streamed too large" needs room.
    const ROOMY: &str = "1000000";
    type Case = (&'static str, Reply, Option<Fault>, &'static str, fn(&Error) -> bool);
    let failures: Vec<Case> = vec![
        ("small body dropped", Reply::file(&png_file(10_000), None).broken_after(5), None, ROOMY, |e| *e == Error::OriginBroken),
        ("large body dropped", Reply::file(&png_file(70_000), None).broken_after(10), None, ROOMY, |e| *e == Error::OriginBroken),
        ("small commit lost", Reply::file(&png_file(400), None), Some(Fault::Lost), ROOMY, |e| matches!(e, Error::Internal(_))),
        ("large commit lost", Reply::file(&png_file(70_000), None), Some(Fault::Lost), ROOMY, |e| matches!(e, Error::Internal(_))),
        ("streamed too large", Reply::file(&png_file(150_000), None).without_length(), None, ROOMY, |e| *e == Error::FileTooLarge { limit: 100_000 }),
        ("streamed, no room to reserve", Reply::file(&png_file(150_000), None).without_length(), None, "80000", |e| matches!(e, Error::QuotaExceeded(_))),
        ("quota", Reply::file(&png_file(90_000), None), None, "80000", |e| matches!(e, Error::QuotaExceeded(_))),
    ];
    for (what, reply, fault, quota, expected) in failures {
        let vars = [("MAX_FILE_BYTES", "100000"), ("DEFAULT_MAX_BYTES", quota)];
        let w = World::new(&vars).with("https://o.test/x.png", Reply::file(&old, None));
        let first = w.run(&body).unwrap();
        let w = w.with("https://o.test/x.png", reply);
        if let Some(fault) = fault {
            w.authority.set_faults(move |op| matches!(op, Op::Commit { .. }).then_some(fault));
        }
        let err = w.run(&body).unwrap_err();
        assert!(expected(&err), "{what}: {err:?}");
        let row = w.authority.resolve("p", "same.png").unwrap();
        assert_eq!(row.file_id, first.file_id, "{what}: the name holds the old file");
        assert_eq!(w.object(&first.file_id), Some(old.clone()), "{what}: its bytes intact");
        assert_eq!(w.store.keys(), [format!("o/{}", first.file_id)], "{what}: nothing else stored");
        assert_eq!((w.usage().bytes, w.usage().reserved_files), (300, 0), "{what}");
    }
}

/// A file whose digest the operator blocked is refused (451) on every path, after the
/// digest is known and before the commit, and so is any file while the list cannot be read
/// by an instance that never read it (503): nothing stays stored or charged, and the name
/// keeps its file.
#[test]
fn a_blocked_file_is_refused_and_never_touches_the_file_it_would_replace() {
    let body = World::body("https://o.test/x.png", "p", "same.png");
    let old = png_file(300);
    let paths = [("small", png_file(400), true), ("large", png_file(70_000), true), ("small, no length", png_file(900), false), ("streamed, no length", png_file(150_000), false)];
    for (unread, (what, bytes, known_length)) in [false, true].into_iter().flat_map(|unread| paths.clone().map(|path| (unread, path))) {
        let sha256 = common::hex(&sha2::Sha256::digest(&bytes));
        let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&old, None));
        let first = w.run(&body).unwrap();
        if unread {
            w.blocklist.unread.set(true);
        } else {
            w.blocklist.block(&sha256);
        }
        let reply = Reply::file(&bytes, None);
        let w = w.with("https://o.test/x.png", if known_length { reply } else { reply.without_length() });
        let calls_before = w.authority.call_names().len();
        let err = w.run(&body).unwrap_err();
        let want = if unread { (Error::BlocklistUnread, 503, None, Some(5)) } else { (Error::Blocked, 451, Some("file_url"), None) };
        assert_eq!((err.clone(), err.status(), err.field(), err.retry_after_secs()), want, "{what}");
        assert_eq!(w.blocklist.asked.borrow().last(), Some(&sha256), "{what}: the stored bytes' digest was looked up");
        assert!(!w.authority.call_names()[calls_before..].contains(&"commit"), "{what}: never committed");
        assert_eq!(w.authority.resolve("p", "same.png").unwrap().file_id, first.file_id, "{what}: the name holds the old file");
        assert_eq!(w.object(&first.file_id), Some(old.clone()), "{what}: its bytes intact");
        assert_eq!(w.store.keys(), [format!("o/{}", first.file_id)], "{what}: nothing else stored");
        assert_eq!((w.usage().bytes, w.usage().files, w.usage().reserved_files), (300, 1, 0), "{what}");
        // another file goes through (the list read again)
        w.blocklist.unread.set(false);
        let w = w.with("https://o.test/x.png", Reply::file(&png_file(500), None));
        assert_eq!(w.run(&body).unwrap().file_size, 500, "{what}");
    }
}

#[test]
fn link_options_reach_the_row_the_object_and_the_answer() {
    let bytes = png_file(3000);
    let w = World::new(&[("FILE_TTL_SECONDS", "3600")]).with("https://o.test/a.png", Reply::file(&bytes, Some("image/png")));
    let body = r#"{"file_url":"https://o.test/a.png","expires_in":60,"max_downloads":3,"private":true}"#;
    let data = w.run(body).unwrap();
    assert_eq!((data.upload_time.as_str(), data.expires_at.as_str()), ("2025-10-09T00:00:00+00:00", "2025-10-09T00:01:00+00:00"));
    assert_eq!((data.max_downloads, data.downloads, data.private), (Some(3), Some(0), true));
    assert!(data.download_url.contains(&format!("/api/v1/files/download/{}?exp=", data.file_id)), "{}", data.download_url);
    let row = w.row(&data.file_id).unwrap();
    assert_eq!(row.expires_ms, NOW + 60_000);
    assert_eq!(row.options.as_deref(), Some(r#"{"max_downloads":3,"private":true}"#));
    let meta = w.store.objects.borrow()[&format!("o/{}", data.file_id)].meta.clone();
    assert_eq!((meta.expires_ms, meta.counted, meta.private), (NOW + 60_000, true, true));

    let plain = w.run(r#"{"file_url":"https://o.test/a.png"}"#).unwrap();
    let meta = w.store.objects.borrow()[&format!("o/{}", plain.file_id)].meta.clone();
    assert_eq!((meta.expires_ms, meta.counted, meta.private), (NOW + 3_600_000, false, false));
}

#[test]
fn refused_link_options_fetch_and_store_nothing() {
    let bytes = png_file(3000);
    let mut w = World::new(&[("FILE_TTL_SECONDS", "3600")]).with("https://o.test/a.png", Reply::file(&bytes, Some("image/png")));
    let err = w.run(r#"{"file_url":"https://o.test/a.png","expires_in":3601}"#).unwrap_err();
    assert_eq!((err.status(), err.field()), (400, Some("expires_in")));
    w.owner.max_ttl_secs = Some(120);
    let err = w.run(r#"{"file_url":"https://o.test/a.png","expires_in":121}"#).unwrap_err();
    assert!(err.public_message().contains("from 60 to 120"), "{err}");
    w.link_secret = None;
    assert_eq!(w.run(r#"{"file_url":"https://o.test/a.png","private":true}"#), Err(Error::LinksDisabled));
    assert_eq!(*w.origin.requested.borrow(), Vec::<String>::new(), "the origin was never asked");
    assert!(w.store.keys().is_empty());
    w.assert_nothing_left("refused link options");
}

/// With an `Idempotency-Key`, a retry is answered with the file the first try stored:
/// nothing fetched, stored or charged again (without a name, a retry without the key is a
/// second file); another upload with the key is 422 before its origin is asked; another key,
/// or the same key at another batch place, stores anew.
#[test]
fn a_keyed_upload_sent_again_answers_the_file_it_stored() {
    for size in [300, 70_000] {
        let w = World::new(&[])
            .with("https://o.test/x.png", Reply::file(&png_file(size), None))
            .with("https://o.test/y.png", Reply::file(&png_file(size), None));
        let body = url_only("https://o.test/x.png");
        let first = w.run_keyed(&body, "k-1", None).unwrap();
        assert!(!first.replayed, "{size}: the first try stored");
        let calls = w.authority.call_names().len();
        let retry = w.run_keyed(&body, "k-1", None).unwrap();
        assert_eq!(retry.data, first.data, "{size}");
        assert!(retry.replayed, "{size}: the retry says it was answered by the first");
        let first = first.data;
        assert_eq!(&w.authority.call_names()[calls..], ["begin_try"], "{size}: one question, nothing else");
        assert_eq!(w.origin.requested.borrow().len(), 1, "{size}: fetched once");
        assert_eq!(w.store.puts.borrow().len(), 1, "{size}: stored once");
        assert_eq!((w.usage().bytes, w.usage().files), (size as u64, 1), "{size}: charged once");

        let err = w.run_keyed(&url_only("https://o.test/y.png"), "k-1", None).unwrap_err();
        assert_eq!((err.status(), err.public_message().as_str()), (422, "this Idempotency-Key was sent with another request: a new request needs a new key"));
        assert_eq!(w.origin.requested.borrow().len(), 1, "{size}: a reused key fetches nothing");

        for (key, item) in [("k-2", None), ("k-1", Some(0))] {
            let other = w.run_keyed(&body, key, item).unwrap();
            assert!(!other.replayed, "{size}: {key} {item:?}");
            assert_ne!(other.data.file_id, first.file_id, "{size}: {key} {item:?}");
        }
        assert_eq!((w.usage().files, w.store.keys().len()), (3, 3), "{size}");
    }
}

/// Two tries with one key at once: the one that asks first runs, the other is 409 with
/// `Retry-After` (what its mark's lease has left, 10 s: the running try renews it) and
/// fetches nothing. Sent again once the first stored, it is answered with that file: one
/// fetch, one file, charged once, and no try left marked running.
#[test]
fn a_keyed_try_while_another_runs_is_409_and_fetches_nothing() {
    for size in [300, 70_000] {
        let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&png_file(size), None));
        let body = url_only("https://o.test/x.png");
        let (ran, refused) = match block_on(join(w.keyed_upload(&body, Some(("k-1", None))), w.keyed_upload(&body, Some(("k-1", None))))) {
            (Ok(ran), Err(refused)) | (Err(refused), Ok(ran)) => (ran, refused),
            other => panic!("{size}: one runs, one is refused: {other:?}"),
        };
        assert!(!ran.replayed, "{size}");
        assert_eq!((refused.status(), refused.retry_after_secs()), (409, Some(10)), "{size}: {refused:?}");
        assert_eq!(refused.public_message(), "an upload with this Idempotency-Key is still running: send it again later, and it is answered with that upload's file");
        assert_eq!(w.origin.requested.borrow().len(), 1, "{size}: fetched once");
        let retry = w.run_keyed(&body, "k-1", None).unwrap();
        assert!(retry.replayed, "{size}");
        assert_eq!(retry.data, ran.data, "{size}: the retry answers the file the first stored");
        assert_eq!(w.origin.requested.borrow().len(), 1, "{size}: still fetched once");
        assert_eq!(w.store.keys(), [format!("o/{}", ran.data.file_id)], "{size}");
        assert!(w.authority.tables().tries.is_empty(), "{size}: the commit ended the try");
        assert!(!w.authority.call_names().contains(&"end_try"), "{size}: no try failed");
        assert_eq!((w.usage().bytes, w.usage().files), (size as u64, 1), "{size}: charged once");
    }
}

/// Another request with a key whose try is running is 422 at once (not 409: sent again, it
/// would still be another request), and fetches nothing.
#[test]
fn another_request_with_a_running_key_is_422() {
    let w = World::new(&[])
        .with("https://o.test/x.png", Reply::file(&png_file(300), None))
        .with("https://o.test/y.png", Reply::file(&png_file(300), None));
    let (x, y) = (url_only("https://o.test/x.png"), url_only("https://o.test/y.png"));
    let (ran, refused) = block_on(join(w.keyed_upload(&x, Some(("k-1", None))), w.keyed_upload(&y, Some(("k-1", None)))));
    assert!(!ran.unwrap().replayed);
    assert_eq!(refused.unwrap_err().status(), 422);
    assert_eq!(*w.origin.requested.borrow(), ["https://o.test/x.png"]);
}

/// A keyed try that fails (the origin's 502) ends its mark: the key's next try runs at once
/// (fetches, and here fails the same way) rather than wait out the first one's lease.
#[test]
fn a_failed_keyed_try_lets_the_next_run_at_once() {
    let w = World::new(&[]).with("https://o.test/x.png", Reply::status(502));
    let body = url_only("https://o.test/x.png");
    for n in 1..=2 {
        let err = w.run_keyed(&body, "k-1", None).unwrap_err();
        assert_eq!(err.status(), 502, "try {n}: {err:?}");
        assert_eq!(w.origin.requested.borrow().len(), n, "try {n} fetched");
        assert_eq!(w.authority.call_names().iter().filter(|c| **c == "end_try").count(), n);
        assert!(w.authority.tables().tries.is_empty(), "try {n}");
    }
    w.assert_nothing_left("failed keyed tries");
}

/// A try whose mark landed but whose answer was lost (a 500) ends its mark: its retry runs
/// at once rather than meet its own mark.
#[test]
fn a_keyed_try_whose_question_went_unanswered_ends_its_mark() {
    let w = World::new(&[]).with("https://o.test/x.png", Reply::file(&png_file(300), None));
    let body = url_only("https://o.test/x.png");
    let mut first = true;
    w.authority.set_faults(move |op| (matches!(op, Op::BeginTry { .. }) && std::mem::take(&mut first)).then_some(Fault::LostAnswer));
    assert_eq!(w.run_keyed(&body, "k-1", None).unwrap_err().status(), 500);
    assert!(w.authority.tables().tries.is_empty(), "the try ended the mark it may have made");
    assert_eq!(w.origin.requested.borrow().len(), 0);
    let retry = w.run_keyed(&body, "k-1", None).unwrap();
    assert!(!retry.replayed);
    assert_eq!(w.object(&retry.data.file_id).map(|b| b.len()), Some(300));
}

/// A try whose Worker died (its failure never told the authority, its renewals stopped)
/// holds its key for its lease only: within it the next try is 409, its `Retry-After`
/// counting down; past it the next try runs and stores.
#[test]
fn a_dead_keyed_try_holds_its_key_for_its_lease_only() {
    let w = World::new(&[]).with("https://o.test/x.png", Reply::status(502));
    let body = url_only("https://o.test/x.png");
    w.authority.set_faults(|op| matches!(op, Op::EndTry { .. }).then_some(Fault::Lost));
    assert_eq!(w.run_keyed(&body, "k-1", None).unwrap_err().status(), 502);
    assert_eq!(w.authority.tables().tries.len(), 1, "the failed try's end was lost");
    w.authority.advance(9_000);
    let err = w.run_keyed(&body, "k-1", None).unwrap_err();
    assert_eq!((err.status(), err.retry_after_secs()), (409, Some(1)), "{err:?}");
    assert_eq!(w.origin.requested.borrow().len(), 1, "the refused try fetched nothing");
    w.authority.advance(1_000);
    let w = World { origin: MemOrigin::default().with("https://o.test/x.png", Reply::file(&png_file(300), None)), ..w };
    let stored = w.run_keyed(&body, "k-1", None).unwrap();
    assert!(!stored.replayed);
    assert_eq!(w.object(&stored.data.file_id).map(|b| b.len()), Some(300));
}
