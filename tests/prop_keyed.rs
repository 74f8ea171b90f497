//! Tries of uploads that carry an `Idempotency-Key`, stepped in random orders against the
//! in-memory seams (a lost commit or a lost answer among them): each key stores one file,
//! every try that succeeds answers it (the one that stored it as its own, the others as
//! replayed), and nothing else is stored, reserved or charged.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use common::{step, Fault, Reply, World};
use proptest::prelude::*;
use urlstash::core::authority_wire::Op;
use urlstash::core::envelope::FileData;
use urlstash::core::idempotency::Answered;
use urlstash::core::layout::object_key;
use urlstash::core::Error;

type Try<'w> = Pin<Box<dyn Future<Output = Result<Answered<FileData>, Error>> + 'w>>;

/// The tries: three of one upload with key `a`, one of it with key `b`, one of it without a
/// key (a file of its own).
const KEYS: [Option<&str>; 5] = [Some("a"), Some("a"), Some("a"), Some("b"), None];

/// Runs the tries of [`KEYS`] of a `size`-byte file, stepping the try `order` names next
/// (then each to its end); the `fault`-th commit call is lost (`true`: its answer only).
/// Answers how many times the origin was asked and the store written.
fn run(size: usize, order: &[usize], fault: Option<(usize, bool)>) -> (usize, usize) {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 13 % 251) as u8).collect();
    let w = World::new(&[]).with("https://o.test/x.bin", Reply::chunked(&bytes, None, 20_000));
    let mut commits = 0;
    w.authority.set_faults(move |op| {
        let Op::Commit { .. } = op else { return None };
        commits += 1;
        fault.filter(|(n, _)| *n == commits).map(|(_, answer)| if answer { Fault::LostAnswer } else { Fault::Lost })
    });
    let body = r#"{"file_url":"https://o.test/x.bin"}"#;
    let mut tries: Vec<Option<Try<'_>>> = KEYS.iter().map(|key| Some(Box::pin(w.keyed_upload(body, key.map(|k| (k, None)))) as Try<'_>)).collect();
    let mut results: Vec<Option<Result<Answered<FileData>, Error>>> = KEYS.iter().map(|_| None).collect();
    let mut poll = |k: usize, tries: &mut Vec<Option<Try<'_>>>| {
        if let Some(fut) = tries[k].as_mut() {
            if let Poll::Ready(result) = step(fut.as_mut()) {
                results[k] = Some(result);
                tries[k] = None;
            }
        }
    };
    for &k in order {
        poll(k % KEYS.len(), &mut tries);
    }
    for _ in 0..10_000 {
        if tries.iter().all(Option::is_none) {
            break;
        }
        (0..KEYS.len()).for_each(|k| poll(k, &mut tries));
    }
    let results: Vec<Result<Answered<FileData>, Error>> = results.into_iter().map(|r| r.expect("every try ends")).collect();

    // Per key, every try that succeeded answers one file, and that file is stored; the try
    // that stored it says so, every other says it was replayed.
    let t = w.authority.tables();
    let mut files = BTreeSet::new();
    for key in ["a", "b"] {
        let answers: Vec<&Answered<FileData>> = KEYS.iter().zip(&results).filter(|(k, _)| **k == Some(key)).filter_map(|(_, r)| r.as_ref().ok()).collect();
        if let Some(first) = answers.first().map(|a| &a.data) {
            assert!(answers.iter().all(|a| a.data == *first), "key {key}: one answer, {answers:?}");
            assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1, "key {key}: one try stored, {answers:?}");
            assert!(t.files.contains_key(&first.file_id), "key {key}: its file is stored");
            assert!(files.insert(first.file_id.clone()), "key {key}: a file of its own");
        }
    }
    if let Ok(own) = &results[4] {
        assert!(!own.replayed, "the try without a key is its own");
        assert!(files.insert(own.data.file_id.clone()), "the try without a key: a file of its own");
    }
    // A try that failed met the fault: the one lost commit (or the answer of one that was
    // dropped as a retry's), and no other.
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert!(failed <= usize::from(fault.is_some()), "{results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(err.status(), 500, "{err:?}");
    }
    // Nothing else: one row per file, its bytes, its charge; no object, reservation or
    // deletion left over.
    assert_eq!(t.files.keys().cloned().collect::<BTreeSet<_>>(), files, "a row per file answered");
    for id in &files {
        assert!(w.store.bytes(&object_key(id)) == Some(bytes.clone()), "{id} holds the origin's bytes");
    }
    assert_eq!(w.store.keys().len(), files.len(), "no object left over: {:?}", w.store.keys());
    assert!(t.reservations.is_empty() && t.doomed.is_empty(), "nothing reserved or doomed");
    assert_eq!((t.key.files, t.key.bytes), (files.len() as u64, (files.len() * size) as u64), "charged once per file");
    let counts = (w.origin.requested.borrow().len(), w.store.puts.borrow().len());
    counts
}

proptest! {
    #[test]
    fn keyed_tries_in_any_order_store_one_file_per_key(
        size in prop_oneof![Just(300usize), Just(70_000usize)],
        order in prop::collection::vec(0..KEYS.len(), 0..120),
        fault in prop::option::of((1..6usize, any::<bool>())),
    ) {
        run(size, &order, fault);
    }
}

/// The three tries of key `a` step in turn: each asks before any commits, so all three
/// fetch and store, and the two later commits answer the first's file (`run` checks that
/// one file is left); the other two tries, stepped after, fetch too.
#[test]
fn three_tries_at_once_store_one_file() {
    let (fetched, stored) = run(70_000, &(0..300).map(|i| i % 3).collect::<Vec<_>>(), None);
    assert_eq!((fetched, stored), (5, 5), "each try fetched and stored, the three of key `a` too");
}
