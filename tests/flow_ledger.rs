//! The upload flow's reservation hook over in-memory seams: reserve before storing, settle
//! to the real size, release on every failure, and a quota that holds under concurrency.

mod common;

use common::{MemOrigin, MemStore, Reply};
use futures_executor::block_on;
use futures_util::future::join_all;
use url::Url;
use urlstash::core::config::Config;
use urlstash::core::flow::{upload, UploadContext};
use urlstash::core::keys::KeyRecord;
use urlstash::core::ledger::{Limits, MemoryLedger, Usage};
use urlstash::core::request::UploadRequest;
use urlstash::core::Error;

struct World {
    config: Config,
    owner: KeyRecord,
    base: Url,
    origin: MemOrigin,
    store: MemStore,
    ledger: MemoryLedger,
}

impl World {
    fn new(limits: Limits, max_file_bytes: u64) -> Self {
        let mut config = Config::from_vars(|_| None).unwrap();
        config.max_file_bytes = max_file_bytes;
        let origin = MemOrigin::default()
            .with("https://o.test/a.bin", Reply::file(&[1u8; 100], None))
            .with("https://o.test/b.bin", Reply::file(&[2u8; 300], None))
            .with("https://o.test/chunked.bin", Reply::file(&[3u8; 50], None).without_length())
            .with("https://o.test/missing", Reply { status: 404, ..Reply::default() })
            .with("https://o.test/broken.bin", Reply { chunks: vec![Ok(vec![4u8; 10]), Err(Error::OriginBroken)], ..Reply::file(&[4u8; 100], None) });
        World {
            config,
            owner: KeyRecord { id: "k_a".into(), name: "a".into(), created: "c".into(), disabled: false, max_bytes: None, max_files: None },
            base: Url::parse("https://h.test").unwrap(),
            origin,
            store: MemStore::default(),
            ledger: MemoryLedger::new(limits),
        }
    }

    async fn upload(&self, path: &str, name: &str) -> Result<u64, Error> {
        let ctx = UploadContext { config: &self.config, policy: &self.config.url_policy, owner: &self.owner, base_url: &self.base, now_ms: 1_000 };
        let req = UploadRequest {
            file_url: Url::parse(&format!("https://o.test{path}")).unwrap(),
            upload_path: Some("d".into()),
            file_name: Some(name.into()),
        };
        upload(req, &ctx, &self.origin, &self.store, &self.ledger).await.map(|d| d.file_size)
    }

    fn usage(&self) -> Usage {
        self.ledger.ledger.borrow().usage()
    }

    fn stored_bytes(&self) -> u64 {
        self.store.objects.borrow().values().map(|(bytes, _)| bytes.len() as u64).sum()
    }
}

const ROOMY: Limits = Limits { max_bytes: 1_000_000, max_files: 100 };

#[test]
fn settles_to_the_real_size() {
    let w = World::new(ROOMY, 1_000);
    assert_eq!(block_on(w.upload("/a.bin", "a.bin")), Ok(100));
    // unknown length: MAX_FILE_BYTES was reserved, 50 settled
    assert_eq!(block_on(w.upload("/chunked.bin", "c.bin")), Ok(50));
    assert_eq!(w.usage(), Usage { bytes: 150, files: 2, reserved_bytes: 0, reserved_files: 0 });
    assert_eq!(w.usage().bytes, w.stored_bytes());
}

#[test]
fn failures_release_and_store_nothing() {
    let w = World::new(ROOMY, 1_000);
    assert_eq!(block_on(w.upload("/missing", "x.bin")), Err(Error::OriginStatus(404)));
    assert_eq!(block_on(w.upload("/broken.bin", "x.bin")), Err(Error::OriginBroken));
    let small = World::new(ROOMY, 200);
    assert_eq!(block_on(small.upload("/b.bin", "b.bin")), Err(Error::FileTooLarge { limit: 200 }));
    for w in [&w, &small] {
        assert_eq!(w.usage(), Usage::default());
        assert!(w.store.objects.borrow().is_empty() && w.store.index.borrow().is_empty());
    }
}

#[test]
fn exhausted_quota_is_429_before_anything_is_stored() {
    let w = World::new(Limits { max_bytes: 250, max_files: 100 }, 1_000);
    assert_eq!(block_on(w.upload("/a.bin", "1.bin")), Ok(100));
    let err = block_on(w.upload("/b.bin", "2.bin")).unwrap_err();
    assert_eq!(err.status(), 429);
    assert!(err.public_message().contains("needs 300 bytes") && err.public_message().contains("100 of 250 bytes"), "{err}");
    assert_eq!(w.store.objects.borrow().len(), 1);
    // unknown length reserves MAX_FILE_BYTES (1000): refused although 50 would fit
    assert_eq!(block_on(w.upload("/chunked.bin", "3.bin")).unwrap_err().status(), 429);
}

#[test]
fn overwriting_a_name_does_not_double_count() {
    let w = World::new(Limits { max_bytes: 150, max_files: 1 }, 1_000);
    assert_eq!(block_on(w.upload("/a.bin", "same.bin")), Ok(100));
    assert_eq!(block_on(w.upload("/a.bin", "same.bin")), Ok(100));
    assert_eq!(w.usage(), Usage { bytes: 100, files: 1, reserved_bytes: 0, reserved_files: 0 });
    assert_eq!(w.usage().bytes, w.stored_bytes());
}

#[test]
fn concurrent_uploads_admit_exactly_the_quota() {
    let w = World::new(Limits { max_bytes: 1_000_000, max_files: 10 }, 1_000);
    let names: Vec<String> = (0..32).map(|i| format!("{i}.bin")).collect();
    let results = block_on(join_all(names.iter().map(|n| w.upload("/a.bin", n))));
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused = results.iter().filter(|r| r.as_ref().is_err_and(|e| e.status() == 429)).count();
    assert_eq!((ok, refused), (10, 22));
    assert_eq!(w.usage(), Usage { bytes: 1_000, files: 10, reserved_bytes: 0, reserved_files: 0 });
    assert_eq!(w.usage().bytes, w.stored_bytes());
}
