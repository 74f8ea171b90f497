//! The upload flow on the host, over in-memory origin and store.

mod common;

use common::{MemOrigin, MemStore, Reply};
use futures_executor::block_on;
use url::Url;
use urlstash::core::config::Config;
use urlstash::core::envelope::FileData;
use urlstash::core::flow::{upload, UploadContext};
use urlstash::core::keys::KeyRecord;
use urlstash::core::ledger::{Limits, MemoryLedger};
use urlstash::core::request::parse_upload;
use urlstash::core::Error;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
const NOW: i64 = 1_759_968_000_000;

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())).unwrap()
}

fn owner() -> KeyRecord {
    KeyRecord { id: "k_test".into(), name: "test".into(), created: "c".into(), disabled: false, max_bytes: None, max_files: None }
}

fn run(body: &str, origin: &MemOrigin, store: &MemStore, config: &Config) -> Result<FileData, Error> {
    let req = parse_upload(body.as_bytes(), &config.url_policy)?;
    let owner = owner();
    let base = Url::parse("https://files.test").unwrap();
    let ctx = UploadContext { config, policy: &config.url_policy, owner: &owner, base_url: &base, now_ms: NOW };
    let ledger = MemoryLedger::new(Limits { max_bytes: u64::MAX, max_files: u64::MAX });
    block_on(upload(req, &ctx, origin, store, &ledger))
}

fn png_file(size: usize) -> Vec<u8> {
    let mut bytes = PNG.to_vec();
    bytes.extend((0..size - PNG.len()).map(|i| (i * 7 % 251) as u8));
    bytes
}

#[test]
fn stores_the_file_and_reports_it() {
    let bytes = png_file(5000);
    let origin = MemOrigin::default().with("https://o.test/pics/cat.png", Reply::file(&bytes, Some("image/png")));
    let store = MemStore::default();
    let data = run(r#"{"file_url":"https://o.test/pics/cat.png"}"#, &origin, &store, &config(&[])).unwrap();

    assert_eq!(data.mime_type, "image/png");
    assert_eq!(data.original_name, "cat.png");
    assert_eq!(data.upload_path, "images");
    assert_eq!(data.file_size, 5000);
    assert!(data.file_name.ends_with(".png") && data.file_name.len() == 28, "{}", data.file_name);
    assert_eq!(data.file_url, format!("https://files.test/f/k_test/images/{}", data.file_name));
    assert_eq!(data.download_url, format!("https://files.test/api/v1/files/download/{}", data.file_id));
    assert_eq!(data.upload_time, "2025-10-09T00:00:00+00:00");
    assert_eq!(data.expires_at, "2025-10-12T00:00:00+00:00");

    let key = format!("f/k_test/images/{}", data.file_name);
    let objects = store.objects.borrow();
    let (stored, meta) = &objects[&key];
    assert_eq!(stored, &bytes, "every byte, sniffed prefix included");
    assert_eq!(meta.file_id, data.file_id);
    assert_eq!(meta.expires_ms, NOW + 259_200_000);
    assert_eq!(store.index.borrow()[&data.file_id].object_key, key);
}

#[test]
fn custom_path_and_name_and_unknown_length() {
    let bytes = b"%PDF-1.7 hello".to_vec();
    let origin = MemOrigin::default().with("https://o.test/r", Reply::file(&bytes, None).without_length());
    let store = MemStore::default();
    let body = r#"{"file_url":"https://o.test/r","upload_path":"/docs/q3/","file_name":"report.pdf"}"#;
    let data = run(body, &origin, &store, &config(&[])).unwrap();
    assert_eq!((data.upload_path.as_str(), data.file_name.as_str(), data.mime_type.as_str()), ("docs/q3", "report.pdf", "application/pdf"));
    assert_eq!(store.objects.borrow()["f/k_test/docs/q3/report.pdf"].0, bytes);
}

#[test]
fn follows_redirects_checking_each_hop() {
    let bytes = png_file(100);
    let origin = MemOrigin::default()
        .with("https://o.test/a", Reply::redirect(302, "/b"))
        .with("https://o.test/b", Reply::redirect(301, "https://cdn.test/final.png"))
        .with("https://cdn.test/final.png", Reply::file(&bytes, None));
    let store = MemStore::default();
    let data = run(r#"{"file_url":"https://o.test/a"}"#, &origin, &store, &config(&[])).unwrap();
    assert_eq!(data.original_name, "final.png");
    assert_eq!(origin.requested.borrow().len(), 3);

    let blocked = MemOrigin::default().with("https://o.test/a", Reply::redirect(302, "ftp://o.test/x"));
    let err = run(r#"{"file_url":"https://o.test/a"}"#, &blocked, &store, &config(&[])).unwrap_err();
    assert!(matches!(err, Error::RedirectRejected(_)), "{err:?}");
    assert_eq!(err.status(), 400);
}

#[test]
fn refusals_leave_nothing_stored() {
    let big = png_file(2000);
    let cases: Vec<(&str, MemOrigin, Config, Error)> = vec![
        ("origin 404", MemOrigin::default().with("https://o.test/x", Reply { status: 404, ..Reply::default() }), config(&[]), Error::OriginStatus(404)),
        ("304 is not a redirect", MemOrigin::default().with("https://o.test/x", Reply::redirect(304, "/y")), config(&[]), Error::OriginStatus(304)),
        ("unreachable", MemOrigin::default(), config(&[]), Error::OriginUnreachable),
        ("declared too large", MemOrigin::default().with("https://o.test/x", Reply::file(&big, None)), config(&[("MAX_FILE_BYTES", "1999")]), Error::FileTooLarge { limit: 1999 }),
        ("streamed too large", MemOrigin::default().with("https://o.test/x", Reply::file(&big, None).without_length()), config(&[("MAX_FILE_BYTES", "1999")]), Error::FileTooLarge { limit: 1999 }),
        ("type refused", MemOrigin::default().with("https://o.test/x", Reply::file(b"%PDF-1.4", None)), config(&[("ALLOWED_MIME_TYPES", "image/*")]), Error::TypeNotAllowed("application/pdf".into())),
        (
            "dropped mid-body",
            MemOrigin::default().with("https://o.test/x", Reply { chunks: vec![Ok(big[..1000].to_vec()), Err(Error::OriginBroken)], ..Reply::file(&big, None) }),
            config(&[]),
            Error::OriginBroken,
        ),
    ];
    for (name, origin, config, want) in cases {
        let store = MemStore::default();
        let err = run(r#"{"file_url":"https://o.test/x"}"#, &origin, &store, &config).unwrap_err();
        assert_eq!(err, want, "{name}");
        assert!(store.objects.borrow().is_empty(), "{name}: no object");
        assert!(store.index.borrow().is_empty(), "{name}: no index entry");
    }
}

#[test]
fn too_many_redirects() {
    let mut origin = MemOrigin::default();
    for i in 0..10 {
        origin = origin.with(&format!("https://o.test/{i}"), Reply::redirect(307, &format!("/{}", i + 1)));
    }
    let err = run(r#"{"file_url":"https://o.test/0"}"#, &origin, &MemStore::default(), &config(&[])).unwrap_err();
    assert_eq!(err, Error::TooManyRedirects(5));
    assert_eq!(origin.requested.borrow().len(), 6, "the first request and five redirects");
}

#[test]
fn a_failed_index_write_removes_the_object() {
    let origin = MemOrigin::default().with("https://o.test/x.png", Reply::file(&png_file(300), None));
    let store = MemStore { fail_index: true, ..MemStore::default() };
    let err = run(r#"{"file_url":"https://o.test/x.png"}"#, &origin, &store, &config(&[])).unwrap_err();
    assert_eq!(err.status(), 500);
    assert_eq!(err.public_message(), "internal error");
    assert!(store.objects.borrow().is_empty());
}

#[test]
fn overwriting_a_name_replaces_the_bytes() {
    let store = MemStore::default();
    let body = r#"{"file_url":"https://o.test/x.png","upload_path":"p","file_name":"same.png"}"#;
    let first = run(body, &MemOrigin::default().with("https://o.test/x.png", Reply::file(&png_file(300), None)), &store, &config(&[])).unwrap();
    let second = run(body, &MemOrigin::default().with("https://o.test/x.png", Reply::file(&png_file(400), None)), &store, &config(&[])).unwrap();
    assert_eq!(first.file_url, second.file_url);
    assert_ne!(first.file_id, second.file_id);
    let objects = store.objects.borrow();
    let (bytes, meta) = &objects["f/k_test/p/same.png"];
    assert_eq!(bytes.len(), 400);
    assert_eq!(meta.file_id, second.file_id, "the object names only the newest upload");
}
