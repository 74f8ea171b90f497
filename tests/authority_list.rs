//! Listing a key's files through its authority: keyset pages in both orders, folders and
//! what lies below them (`bulk` holds `bulk/a`, not `bulkx`), expired files left out.

mod common;

use common::MemTables;
use urlstash::core::authority::Authority;
use urlstash::core::authority_wire::{FileRow, Order, PageQuery, SortKey};
use urlstash::core::quota::Limits;

const NOW: i64 = 1_000_000;

fn row(id: &str, path: &str, name: &str, upload_ms: i64) -> FileRow {
    FileRow {
        file_id: id.into(),
        upload_path: path.into(),
        file_name: name.into(),
        size: 1,
        mime_type: "text/plain".into(),
        original_name: name.into(),
        upload_ms,
        expires_ms: NOW + 1000,
        sha256: "0".repeat(64),
        options: None,
        named_ms: 0,
    }
}

/// A key holding files in neighbouring folders, one of them expired.
fn key() -> Authority<MemTables> {
    let mut a = Authority::new(MemTables::default(), Limits { max_bytes: 1000, max_files: 100 });
    let rows = [
        row("f1", "bulk", "b", 5),
        row("f2", "bulk", "a", 9),
        row("f3", "bulk/a", "c", 5),
        row("f4", "bulk/a/b", "d", 3),
        row("f5", "bulkx", "e", 7),
        row("f6", "bulk.x", "f", 5),
        row("f7", "bul", "g", 1),
        row("f8", "bulk-1", "h", 2),
        FileRow { expires_ms: NOW, ..row("f9", "bulk", "old", 8) },
    ];
    for r in rows {
        a.commit(r, NOW - 10).unwrap();
    }
    a
}

/// Every page of `folder` in `order`, `limit` at a time: the ids of each page.
fn pages(a: &Authority<MemTables>, folder: Option<&str>, order: Order, limit: u32) -> Vec<Vec<String>> {
    let mut query = PageQuery { upload_path: folder.map(str::to_owned), order, after: None, limit };
    let mut pages = Vec::new();
    loop {
        let page = a.list(&query, NOW).unwrap();
        assert!(page.files.len() <= limit as usize);
        pages.push(page.files.iter().map(|r| r.file_id.clone()).collect());
        match page.next {
            Some(next) => {
                assert_eq!(Some(&next), page.files.last().map(|r| SortKey::of(r, order)).as_ref(), "the cursor is the last row");
                query.after = Some(next);
            }
            None => return pages,
        }
    }
}

#[test]
fn by_name_pages_through_every_live_file_once() {
    let a = key();
    let want = [vec!["f7", "f2", "f1"], vec!["f8", "f6", "f3"], vec!["f4", "f5"]];
    assert_eq!(pages(&a, None, Order::Name, 3), want, "bul, bulk, bulk-1, bulk.x, bulk/a, bulk/a/b, bulkx");
    assert_eq!(pages(&a, None, Order::Name, 8), [["f7", "f2", "f1", "f8", "f6", "f3", "f4", "f5"]], "a full page has no cursor");
}

#[test]
fn a_folder_holds_itself_and_what_lies_below_it() {
    let a = key();
    assert_eq!(pages(&a, Some("bulk"), Order::Name, 2), [vec!["f2", "f1"], vec!["f3", "f4"]]);
    assert_eq!(pages(&a, Some("bulk/a"), Order::Name, 10), [["f3", "f4"]]);
    assert_eq!(pages(&a, Some("bulkx"), Order::Name, 10), [["f5"]]);
    assert_eq!(pages(&a, Some("bul"), Order::Name, 10), [["f7"]]);
    assert_eq!(pages(&a, Some("bulk/a/b/c"), Order::Name, 10), [Vec::<String>::new()]);
}

#[test]
fn by_upload_time_is_newest_first_ties_by_id_descending() {
    let a = key();
    let want = [vec!["f2", "f5"], vec!["f6", "f3"], vec!["f1", "f4"], vec!["f8", "f7"]];
    assert_eq!(pages(&a, None, Order::UploadTime, 2), want);
    assert_eq!(pages(&a, Some("bulk"), Order::UploadTime, 3), [vec!["f2", "f3", "f1"], vec!["f4"]]);
}

#[test]
fn a_cursor_survives_changes_between_pages() {
    let mut a = key();
    let first = a.list(&PageQuery { upload_path: None, order: Order::Name, after: None, limit: 3 }, NOW).unwrap();
    a.delete("f1", NOW).unwrap();
    a.commit(row("g1", "bulk", "aa", 4), NOW).unwrap();
    a.commit(row("g2", "bulk-0", "z", 4), NOW).unwrap();
    let query = PageQuery { upload_path: None, order: Order::Name, after: first.next, limit: 3 };
    let second: Vec<String> = a.list(&query, NOW).unwrap().files.into_iter().map(|r| r.file_id).collect();
    assert_eq!(second, ["g2", "f8", "f6"], "no row seen twice; one added after the cursor is listed");
}

#[test]
fn expired_files_are_never_listed() {
    let a = key();
    let all: Vec<String> = pages(&a, None, Order::Name, 100).concat();
    assert!(!all.contains(&"f9".to_owned()));
    let later = a.list(&PageQuery { upload_path: None, order: Order::Name, after: None, limit: 100 }, NOW + 1000).unwrap();
    assert!(later.files.is_empty() && later.next.is_none(), "all expired at NOW + 1000");
}
