//! The quota around the upload flow over yielding in-memory seams: reservations settle to
//! the real size, every failure gives back what it held, and concurrent uploads (really
//! interleaved) admit exactly what fits.

mod common;

use common::{Fault, Reply, World};
use futures_executor::block_on;
use futures_util::future::join_all;
use urlstash::core::authority_wire::Op;
use urlstash::core::quota::Usage;
use urlstash::core::Error;

const BIG: usize = 70_000;
/// Sent without a length and longer than sniffing reads, so its size stays unknown until
/// it is stored.
const CHUNKED: usize = 6_000;

fn world(max_bytes: u64, max_files: u64, max_file_bytes: u64) -> World {
    let (b, f, m) = (max_bytes.to_string(), max_files.to_string(), max_file_bytes.to_string());
    World::new(&[("DEFAULT_MAX_BYTES", &b), ("DEFAULT_MAX_FILES", &f), ("MAX_FILE_BYTES", &m)])
        .with("https://o.test/a.bin", Reply::file(&[1u8; 100], None))
        .with("https://o.test/b.bin", Reply::file(&[2u8; 300], None))
        .with("https://o.test/big.bin", Reply::file(&[5u8; BIG], None))
        .with("https://o.test/chunked.bin", Reply::file(&[3u8; CHUNKED], None).without_length())
        .with("https://o.test/missing", Reply::status(404))
        .with("https://o.test/broken.bin", Reply::file(&[4u8; BIG], None).broken_after(20))
        .with("https://o.test/broken-chunked.bin", Reply::file(&[4u8; BIG], None).without_length().broken_after(20))
}

fn up(w: &World, path: &str, name: &str) -> Result<u64, Error> {
    w.run(&World::body(&format!("https://o.test{path}"), "d", name)).map(|d| d.file_size)
}

fn stored_bytes(w: &World) -> u64 {
    w.store.objects.borrow().values().map(|s| s.bytes.len() as u64).sum()
}

#[test]
fn settles_to_the_real_size() {
    let w = world(1_000_000, 100, 100_000);
    assert_eq!(up(&w, "/a.bin", "a.bin"), Ok(100));
    assert_eq!(up(&w, "/chunked.bin", "c.bin"), Ok(6000), "MAX_FILE_BYTES reserved, 6000 charged");
    assert_eq!(w.usage(), Usage { bytes: 6100, files: 2, reserved_bytes: 0, reserved_files: 0 });
    assert_eq!(stored_bytes(&w), 6100);
}

/// Every failing path gives back its reservation and leaves no bytes.
#[test]
fn failures_release_on_every_path() {
    let cases: [(&str, &str, u64, Error, &[&str]); 5] = [
        ("origin 404", "/missing", 100_000, Error::OriginStatus(404), &[]),
        ("413 without Content-Length", "/b.bin?", 200, Error::FileTooLarge { limit: 200 }, &["reserve", "release"]),
        ("broken mid-body, known length", "/broken.bin", 100_000, Error::OriginBroken, &["reserve", "release"]),
        ("broken mid-body, unknown length", "/broken-chunked.bin", 100_000, Error::OriginBroken, &["reserve", "release"]),
        ("declared 413", "/b.bin", 200, Error::FileTooLarge { limit: 200 }, &[]),
    ];
    for (what, path, max_file_bytes, want, calls) in cases {
        let w = world(1_000_000, 100, max_file_bytes).with("https://o.test/b.bin?", Reply::file(&[2u8; CHUNKED], None).without_length());
        assert_eq!(up(&w, path, "x.bin"), Err(want), "{what}");
        assert_eq!(w.authority.call_names(), calls, "{what}");
        w.assert_nothing_left(what);
    }
}

#[test]
fn a_commit_refused_for_quota_deletes_what_it_stored() {
    let w = world(250, 100, 100_000);
    assert_eq!(up(&w, "/a.bin", "1.bin"), Ok(100));
    let err = up(&w, "/b.bin", "2.bin").unwrap_err();
    assert_eq!(err.public_message(), "quota exhausted: this upload needs 300 bytes and 1 file; in use 100 of 250 bytes and 1 of 100 files (including 0 uploads in progress)");
    assert_eq!(w.authority.call_names(), ["commit", "commit"], "the small path: stored, then refused at commit");
    let refused = w.put_ids()[1].clone();
    assert_eq!(w.store.landed().len(), 2);
    assert!(w.store.deletes.borrow().contains(&format!("o/{refused}")), "the authority deleted the refused bytes");
    assert_eq!(w.object(&refused), None);
    assert_eq!(w.row(&refused), None);
    assert_eq!(w.usage(), Usage { bytes: 100, files: 1, reserved_bytes: 0, reserved_files: 0 });
}

#[test]
fn an_exhausted_quota_refuses_a_large_upload_before_it_is_stored() {
    let w = world(BIG as u64 + 50, 100, 100_000);
    assert_eq!(up(&w, "/a.bin", "1.bin"), Ok(100));
    let err = up(&w, "/big.bin", "2.bin").unwrap_err();
    assert_eq!(err.status(), 429);
    assert!(err.public_message().contains("needs 70000 bytes") && err.public_message().contains("100 of 70050 bytes"), "{err}");
    assert_eq!(w.store.puts.borrow().len(), 1, "the refused upload streamed nothing");
    assert_eq!(*w.origin.discarded.borrow(), 1, "its body given up unread");
    assert_eq!(w.usage(), Usage { bytes: 100, files: 1, reserved_bytes: 0, reserved_files: 0 });
}

/// A body without a length holds what the quota leaves it, up to MAX_FILE_BYTES: a key
/// whose quota is under MAX_FILE_BYTES stores such files, and one that grows past what it
/// holds is refused with 429, leaving nothing.
#[test]
fn an_unknown_length_holds_what_the_quota_leaves() {
    // 10000 bytes of quota, MAX_FILE_BYTES 100000
    let w = world(10_000, 100, 100_000).with("https://o.test/chunked-2.bin", Reply::file(&[6u8; CHUNKED], None).without_length());
    assert_eq!(up(&w, "/chunked.bin", "1.bin"), Ok(6000), "held 10000 of the 100000 asked, stored 6000");
    let held = |i: usize| match &w.authority.calls.borrow()[i].op {
        Op::Reserve { reservation } => (reservation.bytes, reservation.up_to),
        op => panic!("{op:?}"),
    };
    assert_eq!(held(0), (100_000, true), "asked up to MAX_FILE_BYTES");
    // 4000 left: the next one holds 4000 and runs past it
    let err = up(&w, "/chunked-2.bin", "2.bin").unwrap_err();
    assert_eq!(err.status(), 429);
    assert_eq!(err.public_message(), "quota exhausted: this file, sent without a length, grew past the 4000 bytes the key's quota had left when it began");
    assert_eq!(w.authority.call_names(), ["reserve", "commit", "reserve", "release"]);
    assert_eq!(w.usage(), Usage { bytes: 6000, files: 1, reserved_bytes: 0, reserved_files: 0 }, "nothing of it charged");
    assert_eq!(stored_bytes(&w), 6000, "nothing of it stored");
    // a full key: the name that holds 6000 may take a file of unknown length up to that;
    // a new name is refused before anything streams
    let full = world(6_000, 100, 100_000).with("https://o.test/chunked-2.bin", Reply::file(&[6u8; CHUNKED], None).without_length());
    assert_eq!(up(&full, "/chunked.bin", "1.bin"), Ok(6000));
    assert_eq!(up(&full, "/chunked-2.bin", "1.bin"), Ok(6000), "an overwrite holds what its name counts");
    assert_eq!(full.usage(), Usage { bytes: 6000, files: 1, reserved_bytes: 0, reserved_files: 0 });
    let puts = full.store.puts.borrow().len();
    let err = up(&full, "/chunked.bin", "2.bin").unwrap_err();
    assert_eq!(err.public_message(), "quota exhausted: in use 6000 of 6000 bytes and 1 of 100 files (including 0 uploads in progress)");
    assert_eq!(full.store.puts.borrow().len(), puts, "refused before it streamed");
}

#[test]
fn overwriting_a_name_does_not_double_count() {
    // MAX_FILE_BYTES 12000: the unknown-length overwrite reserves 12000 against the 100 it
    // replaces (12100 would not fit in 12050)
    let w = world(12_050, 1, 12_000);
    assert_eq!(up(&w, "/a.bin", "same.bin"), Ok(100));
    assert_eq!(up(&w, "/a.bin", "same.bin"), Ok(100));
    assert_eq!(up(&w, "/chunked.bin", "same.bin"), Ok(6000));
    assert_eq!(w.authority.call_names(), ["commit", "commit", "reserve", "commit"]);
    assert_eq!(w.usage(), Usage { bytes: 6000, files: 1, reserved_bytes: 0, reserved_files: 0 });
    assert_eq!(stored_bytes(&w), 6000);
    assert_eq!(up(&w, "/a.bin", "other.bin").unwrap_err().status(), 429, "one file at most");
}

/// `n` uploads of `path` to distinct names, all at once.
fn concurrently(w: &World, path: &str, n: usize) -> Vec<Result<u64, Error>> {
    let bodies: Vec<String> = (0..n).map(|i| World::body(&format!("https://o.test{path}"), "d", &format!("{i}.bin"))).collect();
    block_on(join_all(bodies.iter().map(|b| w.upload(b)))).into_iter().map(|r| r.map(|d| d.file_size)).collect()
}

#[test]
fn concurrent_uploads_admit_exactly_the_quota() {
    for (what, path, size, max_bytes, max_files, fit) in [
        ("small, by files", "/a.bin", 100, 1_000_000, 10, 10),
        ("large, by files", "/big.bin", BIG as u64, 100_000_000, 10, 10),
        ("large, by bytes", "/big.bin", BIG as u64, 5 * BIG as u64 + 10, 100, 5),
        ("small, by bytes", "/a.bin", 100, 1_050, 100, 10),
    ] {
        let w = world(max_bytes, max_files, 100_000);
        let results = concurrently(&w, path, 32);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let refused = results.iter().filter(|r| r.as_ref().is_err_and(|e| e.status() == 429)).count();
        assert_eq!((ok, refused), (fit, 32 - fit), "{what}");
        assert_eq!(w.usage(), Usage { bytes: size * fit as u64, files: fit as u64, reserved_bytes: 0, reserved_files: 0 }, "{what}");
        assert_eq!(stored_bytes(&w), size * fit as u64, "{what}: the refused bytes are gone");
        if size == BIG as u64 {
            assert_eq!(w.store.puts.borrow().len(), fit, "{what}: a refused reservation streams nothing");
        }
        assert_eq!(w.authority.max_in_flight.get(), 32, "{what}: every upload's call was in before any was answered");
        assert!(w.store.max_in_flight.get() > 1, "{what}: puts overlapped");
    }
}

/// Uploads of different sizes to one name, all at once, every fourth one's commit lost:
/// the name ends with the last commit that landed, and only its bytes are stored or charged.
#[test]
fn concurrent_overwrites_of_one_name_leave_exactly_one_file() {
    let mut w = world(10_000_000, 100, 100_000);
    let size = |i: usize| if i % 2 == 0 { 1_000 + i } else { BIG + i };
    for i in 0..12 {
        w = w.with(&format!("https://o.test/u{i}.bin"), Reply::file(&vec![i as u8; size(i)], None));
    }
    w.authority.set_faults(|op| match op {
        Op::Commit { file, .. } if ["u3.bin", "u7.bin", "u11.bin"].contains(&file.original_name.as_str()) => Some(Fault::Lost),
        _ => None,
    });
    let bodies: Vec<String> = (0..12).map(|i| World::body(&format!("https://o.test/u{i}.bin"), "d", "same.bin")).collect();
    let results = block_on(join_all(bodies.iter().map(|b| w.upload(b))));
    let failed: Vec<usize> = (0..12).filter(|i| results[*i].is_err()).collect();
    assert_eq!(failed, [3, 7, 11]);

    let last_landed = w.authority.calls.borrow().iter().rev().find_map(|c| match (&c.op, &c.outcome) {
        (Op::Commit { file, .. }, Ok(())) => Some(file.file_id.clone()),
        _ => None,
    });
    let holder = w.authority.resolve("d", "same.bin").unwrap();
    assert_eq!(Some(holder.file_id.clone()), last_landed);
    let winner = results.iter().flatten().find(|d| d.file_id == holder.file_id).expect("a successful upload holds the name");
    let i: usize = winner.original_name.trim_start_matches('u').trim_end_matches(".bin").parse().unwrap();
    assert_eq!(w.object(&holder.file_id), Some(vec![i as u8; size(i)]));
    assert_eq!(w.store.keys(), [format!("o/{}", holder.file_id)], "every other upload's bytes are gone");
    assert_eq!(w.usage(), Usage { bytes: size(i) as u64, files: 1, reserved_bytes: 0, reserved_files: 0 });
    assert!(w.authority.max_in_flight.get() > 1);
}

/// A reserve whose answer is lost on the way back (it landed) fails the upload; its hold
/// should go with it, not 15 minutes later.
#[test]
fn a_lost_reserve_answer_gives_its_hold_back() {
    let w = world(1_000_000, 100, 100_000);
    w.authority.set_faults(|op| matches!(op, Op::Reserve { .. }).then_some(Fault::LostAnswer));
    assert_eq!(up(&w, "/big.bin", "x.bin").unwrap_err().status(), 500);
    assert_eq!(w.usage(), Usage::default(), "held until the reservation goes stale");
}

/// An upload slower than RESERVATION_TTL_MS (the config caps the transfer well below it):
/// the alarm drops its reservation and dooms its id (the delete fails and is retried). Its
/// commit is then refused, so no row ever names bytes that are going: the upload fails and
/// leaves nothing.
#[test]
fn a_commit_after_its_reservation_went_stale_is_refused() {
    use common::step;
    use urlstash::core::authority::RESERVATION_TTL_MS;
    let w = world(1_000_000, 100, 100_000);
    let body = World::body("https://o.test/big.bin", "d", "slow.bin");
    let mut upload = Box::pin(w.upload(&body));
    while w.store.puts.borrow().is_empty() {
        assert!(step(upload.as_mut()).is_pending());
    }
    w.store.fail_deletes.set(true);
    w.authority.advance(RESERVATION_TTL_MS);
    w.authority.alarm();
    w.store.fail_deletes.set(false);
    let result = loop {
        if let std::task::Poll::Ready(result) = step(upload.as_mut()) {
            break result;
        }
    };
    assert_eq!(result.unwrap_err().status(), 500);
    w.authority.alarm();
    assert_eq!(w.authority.resolve("d", "slow.bin").unwrap_err().status(), 404);
    assert!(w.store.keys().is_empty(), "its bytes are gone: {:?}", w.store.keys());
    assert_eq!(w.usage(), Usage::default());
}
