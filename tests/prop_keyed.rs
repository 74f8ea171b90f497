//! Tries of uploads that carry an `Idempotency-Key`, stepped in random orders against the
//! in-memory seams (a lost commit or a lost answer among them): each key stores one file,
//! every try that succeeds answers it (the one that stored it as its own, the others as
//! replayed), a try while another of its key runs is 409 and fetches nothing, and nothing
//! else is stored, reserved, charged or left marked running.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use common::{step, Fault, Reply, World};
use proptest::prelude::*;
use urlstash::core::authority_wire::Op;
use urlstash::core::envelope::FileData;
use urlstash::core::idempotency::{Answered, TRY_LEASE_MS};
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
    // A step past the tries' number moves the clock past a mark's lease (a running try's
    // renewals are not modelled: its mark lapses), so two tries of a key may both run.
    let mut lapsed = false;
    for &k in order {
        if k == KEYS.len() {
            w.authority.advance(TRY_LEASE_MS + 1);
            lapsed = true;
        } else {
            poll(k, &mut tries);
        }
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
    // A try that failed met the fault (the one lost commit, or its lost answer), or came
    // while another try of its key ran (409, a key's try only).
    let status = |k: usize| results[k].as_ref().err().map(Error::status);
    let lost = (0..KEYS.len()).filter(|&k| status(k) == Some(500)).count();
    assert!(lost <= usize::from(fault.is_some()), "{results:?}");
    for (k, result) in results.iter().enumerate() {
        match result {
            Err(Error::IdempotencyKeyInFlight { retry_after_secs: 1..=10 }) => assert!(KEYS[k].is_some(), "{result:?}"),
            Err(err) => assert_eq!(err.status(), 500, "{err:?}"),
            Ok(_) => {}
        }
    }
    // Only the tries that stored, and the one whose commit was lost, fetched: a replayed
    // try was answered before fetching, a refused one fetched nothing. (With a lease run
    // out, a try may also have fetched and been answered at its commit with another's file.)
    let stored_here = results.iter().filter(|r| r.as_ref().is_ok_and(|a| !a.replayed)).count();
    let fetched = w.origin.requested.borrow().len();
    if lapsed {
        assert!(fetched >= stored_here + lost, "{results:?}");
    } else {
        assert_eq!(fetched, stored_here + lost, "{results:?}");
    }
    assert!(t.tries.is_empty(), "every try ended its mark: {:?}", t.tries);
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
        order in prop::collection::vec(0..=KEYS.len(), 0..120),
        fault in prop::option::of((1..6usize, any::<bool>())),
    ) {
        run(size, &order, fault);
    }
}

/// The three tries of key `a` step in turn: the first marks the key running before the
/// others ask, so they are 409 and fetch nothing; the tries of key `b` and without a key,
/// stepped after, fetch: three fetches, three puts.
#[test]
fn three_tries_at_once_fetch_once() {
    let (fetched, stored) = run(70_000, &(0..300).map(|i| i % 3).collect::<Vec<_>>(), None);
    assert_eq!((fetched, stored), (3, 3), "key `a` fetched and stored once");
}
