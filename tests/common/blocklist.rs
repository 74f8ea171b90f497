//! The in-memory blocklist: digests added by the test (or a list that cannot be read), and
//! every digest it was asked about.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use futures_util::future::LocalBoxFuture;
use urlstash::core::seams::Blocklist;
use urlstash::core::Error;

use super::yielding::yield_now;

#[derive(Default)]
pub struct MemBlocklist {
    pub blocked: RefCell<HashSet<String>>,
    /// Every digest looked up, in order.
    pub asked: RefCell<Vec<String>>,
    /// The list cannot be read (and never was): every check fails.
    pub unread: Cell<bool>,
}

impl MemBlocklist {
    pub fn block(&self, sha256: &str) {
        self.blocked.borrow_mut().insert(sha256.to_owned());
    }
}

impl Blocklist for MemBlocklist {
    fn blocks<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            yield_now().await;
            self.asked.borrow_mut().push(sha256.to_owned());
            if self.unread.get() {
                return Err(Error::BlocklistUnread);
            }
            Ok(self.blocked.borrow().contains(sha256))
        })
    }
}
