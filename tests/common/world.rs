//! One key's world for flow tests: config, origin, store and authority, and the checks
//! that every flow test makes of what was left behind.

use std::rc::Rc;

use futures_executor::block_on;
use url::Url;
use urlstash::core::authority_wire::FileRow;
use urlstash::core::config::Config;
use urlstash::core::envelope::FileData;
use urlstash::core::flow::{upload, UploadContext};
use urlstash::core::idempotency::Answered;
use urlstash::core::keys::KeyRecord;
use urlstash::core::layout::object_key;
use urlstash::core::links::LinkSecret;
use urlstash::core::quota::Usage;
use urlstash::core::request::parse_upload;
use urlstash::core::seams::FileAuthority;
use urlstash::core::Error;

use super::authority::MemAuthority;
use super::blocklist::MemBlocklist;
use super::origin::{MemOrigin, Reply};
use super::store::MemStore;

pub const NOW: i64 = 1_759_968_000_000;

pub struct World {
    pub config: Config,
    pub owner: KeyRecord,
    pub base: Url,
    pub origin: MemOrigin,
    pub store: Rc<MemStore>,
    pub authority: MemAuthority,
    pub blocklist: MemBlocklist,
    /// Signs private files' links (`None`: private links disabled).
    pub link_secret: Option<LinkSecret>,
}

impl World {
    /// A key with the limits of `vars` (`DEFAULT_MAX_BYTES`, ...), at [`NOW`].
    pub fn new(vars: &[(&str, &str)]) -> Self {
        let config = Config::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())).unwrap();
        let store = Rc::new(MemStore::default());
        let authority = MemAuthority::new(store.clone(), config.default_limits, NOW);
        World {
            config,
            owner: KeyRecord { id: "k_test".into(), name: "test".into(), created: "c".into(), disabled: false, max_bytes: None, max_files: None, max_ttl_secs: None, rate_limit: None },
            base: Url::parse("https://files.test").unwrap(),
            origin: MemOrigin::default(),
            store,
            authority,
            blocklist: MemBlocklist::default(),
            link_secret: LinkSecret::new("test-link-secret"),
        }
    }

    pub fn with(mut self, url: &str, reply: Reply) -> Self {
        self.origin = std::mem::take(&mut self.origin).with(url, reply);
        self
    }

    /// One upload with the JSON `body`, at the authority's clock.
    pub async fn upload(&self, body: &str) -> Result<FileData, Error> {
        self.keyed_upload(body, None).await.map(|a| a.data)
    }

    /// One upload with the JSON `body` and an `Idempotency-Key` (`idempotency`: the key and
    /// a batch item's place), at the authority's clock.
    pub async fn keyed_upload(&self, body: &str, idempotency: Option<(&str, Option<usize>)>) -> Result<Answered<FileData>, Error> {
        self.upload_through(body, idempotency, &self.authority).await
    }

    /// [`keyed_upload`](Self::keyed_upload) with `authority` standing for the key's (one
    /// that wraps this world's, to misbehave on its way).
    pub async fn upload_through(&self, body: &str, idempotency: Option<(&str, Option<usize>)>, authority: &impl FileAuthority) -> Result<Answered<FileData>, Error> {
        let req = parse_upload(body.as_bytes(), &self.config.url_policy)?;
        let ctx = UploadContext {
            config: &self.config,
            blocklist: &self.blocklist,
            policy: &self.config.url_policy,
            owner_id: &self.owner.id,
            max_ttl_secs: self.owner.max_ttl_secs,
            base_url: &self.base,
            now_ms: self.authority.now.get(),
            link_secret: self.link_secret.as_ref(),
            idempotency,
            later: &[],
        };
        upload(req, &ctx, &self.origin, &*self.store, authority).await
    }

    pub fn run(&self, body: &str) -> Result<FileData, Error> {
        block_on(self.upload(body))
    }

    /// [`run`](Self::run) with an `Idempotency-Key` (and a batch item's place).
    pub fn run_keyed(&self, body: &str, key: &str, item: Option<usize>) -> Result<Answered<FileData>, Error> {
        block_on(self.keyed_upload(body, Some((key, item))))
    }

    /// `{"file_url": url, "upload_path": path, "file_name": name}`.
    pub fn body(url: &str, path: &str, name: &str) -> String {
        format!(r#"{{"file_url":"{url}","upload_path":"{path}","file_name":"{name}"}}"#)
    }

    pub fn usage(&self) -> Usage {
        self.authority.authority.borrow_mut().usage(self.authority.now.get()).unwrap().usage
    }

    pub fn row(&self, file_id: &str) -> Option<FileRow> {
        self.authority.tables().files.get(file_id).cloned()
    }

    /// The bytes R2 holds for `file_id`.
    pub fn object(&self, file_id: &str) -> Option<Vec<u8>> {
        self.store.bytes(&object_key(file_id))
    }

    /// The `file_id`s of every put the store was asked for.
    pub fn put_ids(&self) -> Vec<String> {
        self.store.puts.borrow().iter().map(|p| p.key.strip_prefix("o/").expect("an o/ key").to_owned()).collect()
    }

    /// After a failed upload: no object stored, no row and no reservation for any id it
    /// wrote, every put that landed deleted again, and nothing charged.
    pub fn assert_nothing_left(&self, what: &str) {
        for id in self.put_ids() {
            assert_eq!(self.row(&id), None, "{what}: no row for {id}");
            assert!(!self.authority.tables().reservations.contains_key(&id), "{what}: no reservation for {id}");
        }
        for key in self.store.landed() {
            assert!(self.store.deletes.borrow().contains(&key), "{what}: {key} landed and was deleted");
        }
        assert!(self.store.keys().is_empty(), "{what}: nothing stored: {:?}", self.store.keys());
        assert!(self.authority.tables().doomed.is_empty(), "{what}: nothing left doomed");
        assert_eq!(self.usage(), Usage::default(), "{what}: nothing charged or reserved");
    }
}
