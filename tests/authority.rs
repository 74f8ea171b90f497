//! The rules of a key's authority as a state machine, over the in-memory tables: what each
//! call does to the rows, the counters, the reservations and the doomed objects.

mod common;

use common::MemTables;
use urlstash::core::authority::{Authority, Committed, Tables, CLAIMED_KEEP_MS, GONE_KEPT_MS, RESERVATION_TTL_MS, RETRY_MS};
use urlstash::core::authority_wire::{FileRow, Order, PageQuery, Purged, Reservation, Target};
use urlstash::core::idempotency::{UploadKey, KEPT_MS};
use urlstash::core::quota::{ConfigPatch, KeyConfig, Limits, Usage};
use urlstash::core::Error;

const T0: i64 = 1_000_000;
const TTL: i64 = 60_000;

fn authority(max_bytes: u64, max_files: u64) -> Authority<MemTables> {
    Authority::new(MemTables::default(), Limits { max_bytes, max_files })
}

fn row(id: &str, path: &str, name: &str, size: u64) -> FileRow {
    FileRow {
        file_id: id.into(),
        upload_path: path.into(),
        file_name: name.into(),
        size,
        mime_type: "application/octet-stream".into(),
        original_name: format!("{name}.orig"),
        upload_ms: T0,
        expires_ms: T0 + TTL,
        sha256: "0".repeat(64),
        options: None,
        named_ms: 0,
    }
}

fn reservation(id: &str, path: &str, name: &str, bytes: u64) -> Reservation {
    Reservation { file_id: id.into(), upload_path: path.into(), file_name: name.into(), bytes, at_ms: 0, up_to: false }
}

fn usage(a: &mut Authority<MemTables>, now: i64) -> Usage {
    a.usage(now).unwrap().usage
}

fn u(bytes: u64, files: u64, reserved_bytes: u64, reserved_files: u64) -> Usage {
    Usage { bytes, files, reserved_bytes, reserved_files }
}

fn doomed(a: &Authority<MemTables>) -> Vec<&str> {
    a.tables.doomed.iter().map(String::as_str).collect()
}

/// The deletes of the doomed objects due at `now_ms`, all confirmed (as the Durable Object's
/// drain does): their ids leave `doomed` for `gone`.
fn drain(a: &mut Authority<MemTables>, now_ms: i64) {
    for id in a.tables.due(now_ms) {
        a.tables.undoom(&id, now_ms);
    }
}

/// The counters are the sum and count of the rows.
fn assert_counters(a: &Authority<MemTables>) {
    let t = &a.tables;
    assert_eq!(t.key.bytes, t.files.values().map(|r| r.size).sum::<u64>(), "bytes counter");
    assert_eq!(t.key.files, t.files.len() as u64, "files counter");
}

#[test]
fn a_reservation_becomes_the_row_at_its_real_size() {
    let mut a = authority(1000, 3);
    a.reserve(reservation("f1", "p", "a", 600), T0).unwrap();
    assert_eq!(a.tables.reservations["f1"].at_ms, T0, "stamped with the object's clock");
    assert_eq!(usage(&mut a, T0), u(0, 0, 600, 1));
    assert_eq!(a.commit(row("f1", "p", "a", 450), T0), Ok(None));
    assert_eq!(usage(&mut a, T0), u(450, 1, 0, 0));
    assert_eq!(a.resolve("p", "a", T0).unwrap().file_id, "f1");
    assert_eq!(a.get("f1", T0).unwrap(), FileRow { named_ms: T0, ..row("f1", "p", "a", 450) });
    assert!(doomed(&a).is_empty());
    assert_counters(&a);
}

#[test]
fn a_file_is_dated_by_when_it_took_its_name_not_by_its_upload() {
    let mut a = authority(1000, 3);
    // A started first and is slow; B started later and commits first.
    let (first, second) = (FileRow { upload_ms: T0, ..row("A", "p", "n", 10) }, FileRow { upload_ms: T0 + 10, ..row("B", "p", "n", 20) });
    assert_eq!(a.commit(second, T0 + 20), Ok(None));
    assert_eq!(a.resolve("p", "n", T0 + 20).unwrap().named_ms, T0 + 20);
    assert_eq!(a.commit(first, T0 + 30), Ok(Some("B".into())));
    let holder = a.resolve("p", "n", T0 + 30).unwrap();
    assert_eq!((holder.file_id.as_str(), holder.upload_ms, holder.named_ms), ("A", T0, T0 + 30));
}

#[test]
fn a_retried_commit_changes_nothing() {
    let mut a = authority(1000, 3);
    a.commit(row("f1", "p", "a", 100), T0).unwrap();
    let before = a.tables.clone();
    assert_eq!(a.commit(row("f1", "p", "a", 100), T0 + 1), Ok(None));
    assert_eq!(a.tables, before);
}

#[test]
fn an_overwrite_retires_the_old_file_once() {
    let mut a = authority(1000, 2);
    a.commit(row("f1", "p", "a", 300), T0).unwrap();
    a.commit(row("f2", "p", "b", 100), T0).unwrap();
    assert_eq!(a.commit(row("f3", "p", "a", 500), T0), Ok(Some("f1".into())));
    assert_eq!(a.resolve("p", "a", T0).unwrap().file_id, "f3");
    assert_eq!(a.get("f1", T0), Err(Error::FileNotFound));
    assert_eq!(doomed(&a), ["f1"]);
    assert_eq!(usage(&mut a, T0), u(600, 2, 0, 0), "f1's 300 bytes and its file came back once");
    assert_counters(&a);
}

#[test]
fn delete_gives_the_quota_back_and_dooms_the_object() {
    let mut a = authority(1000, 3);
    a.commit(row("f1", "p", "a", 300), T0).unwrap();
    a.commit(row("f2", "p", "b", 100), T0).unwrap();
    assert_eq!(a.delete("f1", T0).unwrap().file_id, "f1");
    assert_eq!((a.resolve("p", "a", T0), doomed(&a)), (Err(Error::FileNotFound), vec!["f1"]));
    assert_eq!(usage(&mut a, T0), u(100, 1, 0, 0));
    assert_eq!(a.delete("f1", T0), Err(Error::FileNotFound), "deleted once");
    assert_eq!(a.delete("nope", T0), Err(Error::FileNotFound));
    assert_eq!(a.delete("f2", T0 + TTL), Err(Error::FileNotFound), "an expired file is gone for delete too");
    assert_eq!(usage(&mut a, T0), u(100, 1, 0, 0));
    assert_counters(&a);
}

#[test]
fn expiry_retires_in_batches_and_gives_the_quota_back() {
    let mut a = authority(10_000, 10);
    for i in 0..5 {
        a.commit(FileRow { expires_ms: T0 + TTL + i, ..row(&format!("f{i}"), "p", &format!("n{i}"), 100) }, T0).unwrap();
    }
    a.commit(FileRow { expires_ms: T0 + 10 * TTL, ..row("late", "p", "late", 7) }, T0).unwrap();
    let now = T0 + TTL + 4;
    assert_eq!(a.resolve("p", "n0", now), Err(Error::FileNotFound), "expired before the alarm runs");
    assert_eq!(a.get("f4", now), Err(Error::FileNotFound));
    assert_eq!((a.tables.key.bytes, a.tables.key.files), (507, 6), "counted until retired");
    assert_eq!(a.expire(now, 2), Ok(2));
    assert_eq!(doomed(&a), ["f0", "f1"], "earliest first");
    assert_eq!((a.expire(now, 2), a.expire(now, 2)), (Ok(2), Ok(1)));
    assert_eq!(usage(&mut a, now), u(7, 1, 0, 0));
    assert_eq!(doomed(&a).len(), 5);
    assert_eq!(a.resolve("p", "late", now).unwrap().file_id, "late");
    assert_eq!(a.next_due(now), Ok(Some(now + RETRY_MS)), "their objects' deletes are due, a retry from now");
    drain(&mut a, now);
    assert_eq!(a.next_due(now), Ok(Some(T0 + 10 * TTL)));
    assert_counters(&a);
}

/// The alarm retires expired files at their time; until it has run (it is due, or its last
/// run failed), usage and every quota check retire them first: a file already gone never
/// shows in usage nor takes the room of an upload.
#[test]
fn files_past_their_expiry_never_count_though_the_alarm_has_not_run() {
    let now = T0 + TTL + 1;
    let expired = |id: &str, name: &str| FileRow { expires_ms: T0 + TTL, ..row(id, "p", name, 600) };
    // usage
    let mut a = authority(1000, 1);
    a.commit(expired("old", "a"), T0).unwrap();
    assert_eq!(usage(&mut a, T0 + TTL - 1), u(600, 1, 0, 0), "live until its time");
    assert_eq!(usage(&mut a, now), u(0, 0, 0, 0));
    assert_eq!((doomed(&a), a.retired_early), (vec!["old"], 1), "its object doomed, for the object to delete before it answers");
    // more than a batch of them (a key with a raised file count, its alarm late): all retired
    let mut a = authority(10_000_000, 2_000);
    for i in 0..1_201 {
        a.commit(expired(&format!("f{i}"), &format!("n{i}")), T0).unwrap();
    }
    assert_eq!(usage(&mut a, now), u(0, 0, 0, 0), "three batches, all before the answer");
    assert_eq!((doomed(&a).len(), a.retired_early), (1_201, 1_201));
    assert_counters(&a);
    // a commit of a small file (no reservation), a reservation, a job's room: each would be
    // refused for the file count (1) and the bytes (600 + 600 > 1000)
    for check in ["commit", "reserve", "room"] {
        let mut a = authority(1000, 1);
        a.commit(expired("old", "a"), T0).unwrap();
        let answer = match check {
            "commit" => a.commit(FileRow { expires_ms: now + TTL, ..row("new", "p", "b", 600) }, now).map(drop),
            "reserve" => a.reserve(reservation("new", "p", "b", 600), now).map(drop),
            _ => a.room(Some(("p", "b")), now),
        };
        assert_eq!(answer, Ok(()), "{check}");
        assert_eq!(doomed(&a), ["old"], "{check}");
        assert!(a.get("old", now).is_err() && !a.tables.files.contains_key("old"), "{check}: retired");
        assert_counters(&a);
    }
    // a refusal that stands: the expired file is retired all the same, the live one counts
    let mut a = authority(1500, 2);
    a.commit(expired("old", "a"), T0).unwrap();
    a.commit(FileRow { expires_ms: now + TTL, ..row("live", "p", "b", 600) }, T0).unwrap();
    let refused = a.reserve(reservation("new", "p", "c", 1000), now);
    assert!(matches!(refused, Err(Error::QuotaExceeded(_))), "{refused:?}");
    assert_eq!(usage(&mut a, now), u(600, 1, 0, 0));
    assert_counters(&a);
}

#[test]
fn release_drops_an_uncommitted_upload_and_leaves_a_committed_one() {
    let mut a = authority(1000, 3);
    a.reserve(reservation("f1", "p", "a", 500), T0).unwrap();
    a.release("f1").unwrap();
    assert_eq!((usage(&mut a, T0), doomed(&a)), (u(0, 0, 0, 0), vec!["f1"]));
    a.release("f1").unwrap();
    assert_eq!(doomed(&a), ["f1"], "idempotent");
    a.tables.doomed.clear();
    a.commit(row("f2", "p", "b", 100), T0).unwrap();
    a.release("f2").unwrap();
    assert_eq!(a.resolve("p", "b", T0).unwrap().file_id, "f2", "its commit landed: release leaves it");
    assert!(doomed(&a).is_empty());
    assert_eq!(usage(&mut a, T0), u(100, 1, 0, 0));
}

/// A background job may refresh its reservation, or be retried, after its commit landed
/// (its invocation ended before it heard): that holds nothing, leaves nothing behind that
/// could later doom the live file, and a released id cannot be reserved again.
#[test]
fn reservations_after_a_commit_or_a_release_change_nothing() {
    let mut a = authority(1000, 3);
    a.reserve(reservation("f1", "p", "a", 100), T0).unwrap();
    a.commit(FileRow { expires_ms: T0 + 2 * RESERVATION_TTL_MS, ..row("f1", "p", "a", 100) }, T0).unwrap();
    a.reserve(reservation("f1", "p", "a", 100), T0).unwrap();
    assert!(a.tables.reservations.is_empty(), "a committed id holds nothing");
    assert_eq!(usage(&mut a, T0), u(100, 1, 0, 0));
    // a reservation left from before the commit (as SQL kept it) is dropped by release and
    // by the alarm without touching the file
    a.tables.insert_reservation(&reservation("f1", "p", "a", 100)).unwrap();
    a.release("f1").unwrap();
    assert!(a.tables.reservations.is_empty() && doomed(&a).is_empty(), "release drops the hold, keeps the file");
    a.tables.insert_reservation(&reservation("f1", "p", "a", 100)).unwrap();
    assert_eq!(a.expire(T0 + RESERVATION_TTL_MS, 10), Ok(0));
    assert!(a.tables.reservations.is_empty() && doomed(&a).is_empty(), "a stale hold of a committed id dooms nothing");
    assert_eq!(a.resolve("p", "a", T0).unwrap().file_id, "f1");
    a.reserve(reservation("r2", "p", "b", 10), T0).unwrap();
    a.release("r2").unwrap();
    assert_eq!(a.reserve(reservation("r2", "p", "b", 10), T0), Err(Error::ReservationGone), "a released id is not reserved again");
    assert_counters(&a);
}

/// A commit or reserve that comes after its id's object was deleted (a job's invocation
/// that resumed a committed file the user then deleted; a commit landing after a cancel
/// gave the upload back) is refused while the id's tombstone lasts: it would record a file
/// without bytes and retire the file its name holds now.
#[test]
fn an_id_whose_object_was_deleted_stays_refused_for_a_day() {
    let mut a = authority(1000, 3);
    a.commit(row("f1", "p", "a", 100), T0).unwrap();
    a.delete("f1", T0).unwrap();
    a.tables.undoom("f1", T0);
    a.commit(row("f2", "p", "a", 50), T0).unwrap();
    assert_eq!(a.commit(row("f1", "p", "a", 100), T0 + 1), Err(Error::ReservationGone), "a late commit of the deleted id");
    assert_eq!(a.reserve(reservation("f1", "p", "a", 100), T0 + 1), Err(Error::ReservationGone), "a late reserve of it");
    a.reserve(reservation("r1", "p", "b", 10), T0).unwrap();
    a.release("r1").unwrap();
    a.tables.undoom("r1", T0);
    assert_eq!(a.commit(row("r1", "p", "b", 10), T0 + 1), Err(Error::ReservationGone), "a commit after the release went through");
    assert_eq!(a.resolve("p", "a", T0 + 1).unwrap().file_id, "f2", "the name keeps its file");
    assert_eq!(usage(&mut a, T0 + 1), u(50, 1, 0, 0));
    assert_counters(&a);
    // A day on, the next delete forgets the old tombstones (ids are random: never sent again).
    a.tables.undoom("x", T0 + GONE_KEPT_MS + 1);
    assert_eq!(a.tables.gone.keys().map(String::as_str).collect::<Vec<_>>(), ["x"]);
}

#[test]
fn quota_refusals_say_what_the_upload_needs_and_what_is_in_use() {
    let mut a = authority(1000, 3);
    a.commit(row("f1", "p", "a", 400), T0).unwrap();
    a.reserve(reservation("r1", "p", "b", 300), T0).unwrap();
    let msg = |bytes, in_use, files, pending| {
        Error::QuotaExceeded(format!("quota exhausted: this upload needs {bytes} bytes and 1 file; in use {in_use} of 1000 bytes and {files} of 3 files (including {pending} uploads in progress)"))
    };
    assert_eq!(a.reserve(reservation("r2", "p", "c", 301), T0), Err(msg(301, 700, 2, 1)));
    assert_eq!(a.commit(row("s1", "p", "c", 301), T0), Err(msg(301, 700, 2, 1)), "the small path is checked at commit");
    assert_eq!(doomed(&a), ["s1"], "a refused commit's bytes are doomed");
    a.reserve(reservation("r2", "p", "c", 300), T0).unwrap();
    assert_eq!(a.commit(row("s2", "p", "d", 0), T0), Err(msg(0, 1000, 3, 2)), "three files at most, reservations included");
    assert_eq!(usage(&mut a, T0), u(400, 1, 600, 2));
    assert_counters(&a);
}

#[test]
fn an_upload_of_unknown_length_holds_what_the_quota_leaves_it() {
    let up_to = |id: &str, name: &str, most: u64| Reservation { up_to: true, ..reservation(id, "p", name, most) };
    let mut a = authority(1000, 10);
    a.commit(row("f1", "p", "a", 400), T0).unwrap();
    a.reserve(reservation("r1", "p", "b", 100), T0).unwrap();
    assert_eq!(a.reserve(up_to("u1", "c", 10_000), T0), Ok(500), "1000 - 400 - 100");
    assert_eq!(a.reserve(up_to("u2", "d", 10_000), T0).map(drop), Err(Error::QuotaExceeded(
        "quota exhausted: in use 1000 of 1000 bytes and 3 of 10 files (including 2 uploads in progress)".into()
    )), "nothing left: refused, not a hold of 0");
    // a name counts what it holds already: its file, or a larger upload in flight to it
    assert_eq!(a.reserve(up_to("u3", "a", 10_000), T0), Ok(400), "f1's 400, nothing else left");
    assert_eq!(a.reserve(up_to("u4", "c", 10_000), T0), Ok(500), "u1's 500 to the same name");
    a.release("u1").unwrap();
    a.release("u4").unwrap();
    assert_eq!(a.reserve(up_to("u5", "e", 300), T0), Ok(300), "no more than asked");
    assert_eq!(a.tables.reservations["u5"].bytes, 300, "what it holds is what counts");
    assert!(!a.tables.reservations["u5"].up_to);
    assert_eq!(usage(&mut a, T0), u(400, 1, 800, 3), "r1 100, u3 400 (the name a, counted once with f1), u5 300");
    assert_counters(&a);
}

#[test]
fn an_upload_whose_lifetime_ran_out_while_it_was_fetched_is_refused_and_the_name_keeps_its_file() {
    let mut a = authority(1000, 10);
    let mut holder = row("f1", "p", "a", 100);
    holder.upload_ms = T0 + 20_000;
    holder.expires_ms = T0 + 20_000 + 3_600_000;
    a.commit(holder, T0 + 20_000).unwrap();
    a.reserve(reservation("r1", "p", "a", 500), T0).unwrap();
    // began at T0 with a 60 s lifetime, stored 75 s later
    let late = row("r1", "p", "a", 500);
    let lapsed = Error::Lapsed { ttl_secs: 60, elapsed_secs: 75 };
    assert_eq!(a.commit(late, T0 + 75_000), Err(lapsed.clone()));
    assert_eq!(lapsed.status(), 400);
    assert_eq!(lapsed.field(), Some("expires_in"));
    assert_eq!(a.tables.file("f1").unwrap().map(|r| r.size), Some(100), "the name keeps its file");
    assert_eq!(a.resolve("p", "a", T0 + 75_000).unwrap().file_id, "f1");
    assert_eq!(usage(&mut a, T0 + 75_000), u(100, 1, 0, 0), "nothing charged, the reservation gone");
    assert_eq!(doomed(&a), ["r1"], "its bytes are doomed");
    // at its last millisecond it is stored; at its expiry it is not
    let mut edge = row("s1", "p", "b", 10);
    edge.expires_ms = T0 + 60_000;
    assert_eq!(a.commit(edge, T0 + 59_999), Ok(None));
    let mut at = row("s2", "p", "c", 10);
    at.expires_ms = T0 + 60_000;
    assert!(matches!(a.commit(at, T0 + 60_000), Err(Error::Lapsed { ttl_secs: 60, elapsed_secs: 60 })));
    assert_counters(&a);
}

#[test]
fn a_name_counts_once_at_the_largest_of_its_file_and_the_uploads_to_it() {
    let mut a = authority(250, 2);
    a.commit(row("f1", "p", "a", 100), T0).unwrap();
    a.reserve(reservation("r1", "p", "a", 100), T0).expect("replaces f1: the name counts 100");
    a.reserve(reservation("r2", "p", "a", 100), T0).expect("whichever lands last, the name keeps one file of 100");
    a.reserve(reservation("r3", "p", "a", 150), T0).expect("the name counts 150 now");
    assert_eq!(a.reserve(reservation("r4", "p", "a", 251), T0).unwrap_err().status(), 429, "larger than the quota");
    a.reserve(reservation("r5", "p", "other", 100), T0).expect("150 + 100 fits, a second file");
    let refused = a.reserve(reservation("r6", "p", "third", 0), T0).unwrap_err();
    assert_eq!(refused.status(), 429, "a third file: {refused}");
    a.release("r5").unwrap();
    assert_eq!(a.commit(row("r2", "p", "a", 90), T0), Ok(Some("f1".into())));
    assert_eq!(a.commit(row("r3", "p", "a", 140), T0), Ok(Some("r2".into())), "r1 still counts its 100 for the name");
    let refused = a.commit(row("s1", "p", "other", 111), T0).unwrap_err();
    assert_eq!(refused.status(), 429, "140 + 111 > 250: {refused}");
    assert_eq!(a.commit(row("s2", "p", "other", 110), T0), Ok(None));
    assert_eq!(usage(&mut a, T0), u(250, 2, 100, 1));
    assert_eq!(a.commit(row("r1", "p", "a", 100), T0), Ok(Some("r3".into())));
    assert_eq!(usage(&mut a, T0), u(210, 2, 0, 0));
    assert_counters(&a);
}

#[test]
fn over_limits_lowered_below_usage_only_steps_that_grow_the_count_are_refused() {
    let mut a = authority(1000, 3);
    for (id, name) in [("f1", "a"), ("f2", "b"), ("f3", "c")] {
        a.commit(row(id, "p", name, 300), T0).unwrap();
    }
    let patch = ConfigPatch { max_bytes: Some(Some(500)), max_files: Some(Some(1)), ..ConfigPatch::default() };
    a.configure(&patch, T0).unwrap();
    assert_eq!(a.commit(row("s1", "p", "a", 200), T0), Ok(Some("f1".into())), "smaller, same name: usage goes down");
    a.reserve(reservation("r1", "p", "b", 300), T0).expect("the same size: nothing grows");
    let msg = "quota exhausted: this upload needs 301 bytes and no new file (it replaces one); in use 1100 of 500 bytes and 4 of 1 files (including 1 uploads in progress)";
    assert_eq!(a.reserve(reservation("r2", "p", "c", 301), T0), Err(Error::QuotaExceeded(msg.into())), "larger: grows past the quota");
    let msg = "quota exhausted: this upload needs 0 bytes and 1 file; in use 1100 of 500 bytes and 4 of 1 files (including 1 uploads in progress)";
    assert_eq!(a.commit(row("s2", "p", "new", 0), T0), Err(Error::QuotaExceeded(msg.into())), "a new file grows the files");
    a.release("r1").unwrap();
    assert_eq!(usage(&mut a, T0), u(800, 3, 0, 0));
    assert_counters(&a);
}

#[test]
fn a_job_may_start_with_room_for_a_byte_and_a_file_unless_it_replaces_one() {
    let mut a = authority(300, 2);
    a.commit(row("f1", "p", "a", 100), T0).unwrap();
    a.commit(row("f2", "p", "b", 200), T0).unwrap();
    let full = "quota exhausted: in use 300 of 300 bytes and 2 of 2 files (including 0 uploads in progress)";
    assert_eq!(a.room(None, T0), Err(Error::QuotaExceeded(full.into())), "a name of its own: no file left");
    assert_eq!(a.room(Some(("p", "c")), T0), Err(Error::QuotaExceeded(full.into())), "a new name");
    assert_eq!(a.room(Some(("p", "a")), T0), Ok(()), "replaces f1: at its limit, the key may still overwrite");
    a.delete("f2", T0).unwrap();
    assert_eq!(a.room(None, T0), Ok(()));
    a.reserve(reservation("r1", "p", "c", 200), T0).unwrap();
    let msg = "quota exhausted: in use 300 of 300 bytes and 2 of 2 files (including 1 uploads in progress)";
    assert_eq!(a.room(Some(("q", "x")), T0), Err(Error::QuotaExceeded(msg.into())), "uploads in flight count");
    assert_eq!(a.room(Some(("p", "c")), T0), Ok(()), "to the name r1 goes to: it counts once");
    a.configure(&ConfigPatch { disabled: Some(true), ..ConfigPatch::default() }, T0).unwrap();
    assert_eq!(a.room(Some(("p", "a")), T0), Err(Error::KeyDisabled));
}

#[test]
fn stale_reservations_stop_counting_and_are_dropped_with_their_bytes() {
    let mut a = authority(1000, 3);
    a.reserve(reservation("r1", "p", "a", 900), T0).unwrap();
    let deadline = T0 + RESERVATION_TTL_MS;
    assert_eq!(a.next_due(T0), Ok(Some(deadline)));
    assert_eq!(a.reserve(reservation("r2", "p", "b", 200), deadline - 1).unwrap_err().status(), 429);
    assert_eq!(usage(&mut a, deadline - 1), u(0, 0, 900, 1));
    assert_eq!(usage(&mut a, deadline), u(0, 0, 0, 0), "abandoned: it no longer counts");
    a.reserve(reservation("r2", "p", "b", 200), deadline).unwrap();
    assert_eq!(a.expire(deadline, 500), Ok(0));
    assert_eq!(doomed(&a), ["r1"], "whatever it stored goes");
    assert_eq!(a.tables.reservations.keys().collect::<Vec<_>>(), ["r2"]);
    drain(&mut a, deadline);
    assert_eq!(a.next_due(deadline), Ok(Some(deadline + RESERVATION_TTL_MS)));
}

#[test]
fn next_due_is_the_earliest_expiry_or_reservation_deadline() {
    let mut a = authority(1000, 10);
    assert_eq!(a.next_due(T0), Ok(None));
    a.commit(FileRow { expires_ms: T0 + RESERVATION_TTL_MS + 5, ..row("f1", "p", "a", 1) }, T0).unwrap();
    assert_eq!(a.next_due(T0), Ok(Some(T0 + RESERVATION_TTL_MS + 5)));
    a.reserve(reservation("r1", "p", "b", 1), T0).unwrap();
    assert_eq!(a.next_due(T0), Ok(Some(T0 + RESERVATION_TTL_MS)));
    a.commit(FileRow { expires_ms: T0 + 3, ..row("f2", "p", "c", 1) }, T0).unwrap();
    assert_eq!(a.next_due(T0), Ok(Some(T0 + 3)), "an expired row stays due until retired");
}

#[test]
fn an_overwritten_objects_delete_is_due_though_no_op_tried_it() {
    // The overwrite's transaction landed, then the instance was reset before it deleted the
    // old object: the next op that arms the alarm finds that delete due, a retry from now,
    // not only the new file's expiry days ahead.
    let mut a = authority(1000, 10);
    let days = |id| FileRow { expires_ms: T0 + 3 * 86_400_000, ..row(id, "p", "a", 1) };
    a.commit(days("f1"), T0).unwrap();
    assert_eq!(a.next_due(T0), Ok(Some(T0 + 3 * 86_400_000)));
    a.commit(days("f2"), T0 + 1).unwrap();
    assert_eq!(doomed(&a), ["f1"]);
    assert_eq!(a.next_due(T0 + 5), Ok(Some(T0 + 5 + RETRY_MS)));
    a.tables.undoom("f1", T0 + 5);
    assert_eq!(a.next_due(T0 + 5), Ok(Some(T0 + 3 * 86_400_000)));
}

#[test]
fn configure_sets_the_limits_and_revoke_is_final() {
    let mut a = authority(1000, 3);
    a.commit(row("f1", "p", "a", 100), T0).unwrap();
    let standing = a.configure(&ConfigPatch { max_bytes: Some(Some(150)), ..ConfigPatch::default() }, T0).unwrap();
    assert_eq!((standing.limits, standing.usage), (Limits { max_bytes: 150, max_files: 3 }, u(100, 1, 0, 0)));
    assert_eq!(standing.config, KeyConfig { max_bytes: Some(150), ..KeyConfig::default() });
    assert_eq!(a.reserve(reservation("r1", "p", "b", 51), T0).unwrap_err().status(), 429);
    // Only the settings a patch gives change: a change made from a stale copy (this one
    // knows nothing of the quota above) does not undo it.
    let disabled = a.configure(&ConfigPatch { disabled: Some(true), ..ConfigPatch::default() }, T0).unwrap();
    assert_eq!(disabled.config, KeyConfig { max_bytes: Some(150), disabled: true, ..KeyConfig::default() });
    let lifted = a.configure(&ConfigPatch { max_bytes: Some(None), disabled: Some(false), ..ConfigPatch::default() }, T0).unwrap();
    assert_eq!((lifted.config, lifted.limits.max_bytes), (KeyConfig::default(), 1000), "null lifts an override");
    a.configure(&ConfigPatch { revoked: true, ..ConfigPatch::default() }, T0).unwrap();
    assert_eq!(a.configure(&ConfigPatch::default(), T0), Err(Error::KeyNotFound), "a stale PATCH cannot un-revoke");
    let revoked = Err(Error::KeyRevoked);
    assert_eq!(a.usage(T0).map(drop), revoked);
    assert_eq!(a.get("f1", T0).map(drop), revoked);
    assert_eq!(a.delete("f1", T0).map(drop), revoked);
    assert_eq!(a.list(&PageQuery { upload_path: None, order: Order::Name, after: None, limit: 10 }, T0).map(drop), revoked);
    assert_eq!(a.reserve(reservation("r1", "p", "b", 1), T0).map(drop), revoked);
    assert_eq!(a.commit(row("f2", "p", "b", 1), T0).map(drop), revoked);
    assert_eq!(a.resolve("p", "a", T0).unwrap().file_id, "f1", "file_url is public");
    assert!(a.tables.key.config.revoked);
}

#[test]
fn a_take_down_removes_one_live_file_by_id_or_name_whatever_the_key_status() {
    let mut a = authority(1000, 5);
    for (id, name) in [("f1", "a"), ("f2", "b"), ("f3", "c")] {
        a.commit(row(id, "p", name, 100), T0).unwrap();
    }
    a.configure(&ConfigPatch { revoked: true, ..ConfigPatch::default() }, T0).unwrap();
    let by_id = Target::Id { file_id: "f1".into() };
    let by_name = Target::Name { upload_path: "p".into(), file_name: "b".into() };
    assert_eq!(a.take_down(&by_id, T0), Ok(FileRow { named_ms: T0, ..row("f1", "p", "a", 100) }), "a revoked key's file too");
    assert_eq!(a.take_down(&by_name, T0).unwrap().file_id, "f2");
    assert_eq!(doomed(&a), ["f1", "f2"]);
    assert_eq!((a.resolve("p", "a", T0), a.resolve("p", "b", T0)), (Err(Error::FileNotFound), Err(Error::FileNotFound)));
    assert_eq!(a.take_down(&by_id, T0), Err(Error::FileNotFound), "taken down once");
    let expired = Target::Id { file_id: "f3".into() };
    assert_eq!(a.take_down(&expired, T0 + TTL), Err(Error::FileNotFound), "an expired file is the alarm's");
    assert_eq!((a.tables.key.bytes, a.tables.key.files), (100, 1));
    assert_counters(&a);
}

#[test]
fn a_purge_ends_every_live_file_at_once_and_expiry_retires_them() {
    let mut a = authority(10_000, 10);
    for i in 0..5 {
        a.commit(row(&format!("f{i}"), "p", &format!("n{i}"), 100 + i as u64), T0).unwrap();
    }
    a.commit(FileRow { expires_ms: T0 + 5, ..row("old", "p", "old", 1) }, T0).unwrap();
    a.reserve(reservation("r1", "p", "in-flight", 50), T0).unwrap();
    let now = T0 + 10;
    let purged = Purged { files: 5, bytes: 510, pending: 0 };
    assert_eq!(a.purge(now), Ok(purged), "the live files (the expired one is the alarm's already)");
    assert_eq!(a.backlog(now), Ok(6), "six objects to go");
    assert_eq!(a.resolve("p", "n0", now), Err(Error::FileNotFound), "no link resolves from now on");
    let all = PageQuery { upload_path: None, order: Order::Name, after: None, limit: 10 };
    assert!(a.list(&all, now).unwrap().files.is_empty());
    assert!(a.next_due(now).unwrap().is_some_and(|due| due <= now), "due at once");
    assert_eq!(a.expire(now, 4), Ok(4));
    assert_eq!(a.expire(now, 4), Ok(2));
    assert_eq!(usage(&mut a, now), u(0, 0, 50, 1), "every file's quota back; the upload in flight still holds its own");
    assert_eq!(doomed(&a).len(), 6);
    assert_eq!(a.backlog(now), Ok(6), "until their deletes are confirmed");
    a.tables.doomed.clear();
    assert_eq!(a.backlog(now), Ok(0));
    assert_eq!(a.commit(row("r1", "p", "in-flight", 50), now), Ok(None), "an upload in flight still lands");
    assert_eq!(a.purge(now + 1), Ok(Purged { files: 1, bytes: 50, pending: 0 }));
    assert_eq!(a.backlog(now + 1), Ok(1));
    assert_counters(&a);
}

#[test]
fn a_disabled_key_keeps_its_files_but_stores_nothing() {
    let mut a = authority(1000, 3);
    a.commit(row("f1", "p", "a", 100), T0).unwrap();
    a.reserve(reservation("r1", "p", "b", 10), T0).unwrap();
    a.configure(&ConfigPatch { disabled: Some(true), ..ConfigPatch::default() }, T0).unwrap();
    let disabled = Err(Error::KeyDisabled);
    assert_eq!(a.reserve(reservation("r2", "p", "c", 1), T0).map(drop), disabled);
    assert_eq!(a.commit(row("r1", "p", "b", 10), T0).map(drop), disabled);
    assert!(a.tables.reservations.is_empty() && doomed(&a) == ["r1"], "the refused upload's hold and bytes go");
    assert_eq!(a.get("f1", T0).unwrap().file_id, "f1");
    assert_eq!(a.delete("f1", T0).unwrap().file_id, "f1");
    assert_eq!(usage(&mut a, T0), u(0, 0, 0, 0));
}

/// A commit repeated after its first call landed (no caller retries today) must change
/// nothing: not when the key was disabled in between (the key is checked before the row,
/// and the refusal dooms the live file's object), nor when the name has moved on (the
/// retired row comes back, without its bytes, and retires the newer file).
#[test]
fn a_repeated_commit_changes_nothing() {
    let mut a = authority(1000, 3);
    a.commit(row("f1", "p", "a", 100), T0).unwrap();
    a.commit(row("f2", "p", "a", 200), T0).unwrap();
    let before = a.tables.clone();
    let _ = a.commit(row("f1", "p", "a", 100), T0);
    assert_eq!(a.tables, before, "the name moved on to f2");
    a.configure(&ConfigPatch { disabled: Some(true), ..ConfigPatch::default() }, T0).unwrap();
    let before = a.tables.clone();
    let _ = a.commit(row("f2", "p", "a", 200), T0);
    assert_eq!(a.tables, before, "the key was disabled");
}

#[test]
fn downloads_are_counted_and_the_last_allowed_one_retires_the_file() {
    let mut a = authority(1000, 10);
    let limited = FileRow { options: Some(r#"{"max_downloads":2}"#.into()), expires_ms: T0 + 2 * CLAIMED_KEEP_MS, ..row("f1", "p", "a", 100) };
    a.commit(limited, T0).unwrap();
    a.commit(row("f2", "p", "b", 50), T0).unwrap();
    // checks that do not count (HEAD, 304, later ranges) leave the count alone
    a.claim("f1", false, T0).unwrap();
    assert_eq!(a.get("f1", T0).unwrap().options.as_deref(), Some(r#"{"max_downloads":2}"#));
    a.claim("f1", true, T0).unwrap();
    assert_eq!(a.get("f1", T0).unwrap().options.as_deref(), Some(r#"{"max_downloads":2,"downloads":1}"#));
    assert!(doomed(&a).is_empty());
    // the second, last allowed download is served; the file, its quota and its bytes go
    a.claim("f1", true, T0).unwrap();
    assert_eq!(a.get("f1", T0), Err(Error::FileNotFound));
    assert_eq!(doomed(&a), ["f1"]);
    // its bytes are kept for the download being served (an hour here), and the alarm is due
    // then (f2 expires first)
    assert_eq!(a.tables.kept.get("f1"), Some(&(T0 + CLAIMED_KEEP_MS)));
    assert_eq!(a.tables.next_doomed(), Ok(Some(T0 + CLAIMED_KEEP_MS)));
    // what the alarm is armed from: f2's expiry first, then the kept bytes' end
    assert_eq!(a.next_due(T0), Ok(Some(T0 + TTL)));
    assert_eq!(a.next_due(T0 + TTL), Ok(Some(T0 + TTL)), "f2 is due until the alarm retires it");
    assert_eq!(usage(&mut a, T0), u(50, 1, 0, 0));
    assert_counters(&a);
    // a third (a racing second of a one-time link) is refused, counted or not
    assert_eq!(a.claim("f1", true, T0), Err(Error::FileNotFound));
    assert_eq!(a.claim("f1", false, T0), Err(Error::FileNotFound));
    // a file without max_downloads is never counted; an expired one is gone
    a.claim("f2", true, T0).unwrap();
    assert_eq!(a.get("f2", T0).unwrap().options, None);
    assert_eq!(a.claim("f2", true, T0 + TTL), Err(Error::FileNotFound));
    // once f2 is retired, the kept bytes are what the alarm is next due for, and then nothing
    a.expire(T0 + TTL, 10).unwrap();
    drain(&mut a, T0 + TTL);
    assert_eq!(doomed(&a), ["f1"], "kept");
    assert_eq!(a.next_due(T0 + TTL), Ok(Some(T0 + CLAIMED_KEEP_MS)));
    // past its time and not deleted yet (the alarm's delete failed): retried, never at once
    assert_eq!(a.next_due(T0 + CLAIMED_KEEP_MS), Ok(Some(T0 + CLAIMED_KEEP_MS + RETRY_MS)));
    a.tables.undoom("f1", T0 + CLAIMED_KEEP_MS);
    assert_eq!(a.next_due(T0 + CLAIMED_KEEP_MS), Ok(None));
}

#[test]
fn a_one_time_link_is_claimed_once() {
    let mut a = authority(1000, 10);
    a.commit(FileRow { options: Some(r#"{"max_downloads":1,"private":true}"#.into()), ..row("f1", "p", "a", 10) }, T0).unwrap();
    let answers: Vec<_> = (0..5).map(|_| a.claim("f1", true, T0).is_ok()).collect();
    assert_eq!(answers, [true, false, false, false, false]);
    assert_eq!(a.tables.kept.get("f1"), Some(&(T0 + TTL)), "kept no longer than the file would have lived");
    assert_counters(&a);
}

/// The running try of an `Idempotency-Key`: the first to begin marks the key for its lease;
/// another try of the same request meanwhile is 409 with the seconds left (at least 1), of
/// another request 422, and the same try beginning again renews it. The mark ends with the
/// try's failure (its own `end_try` only), with a commit of the key that stores (not one
/// refused), or with its lease; a stored key answers its file whatever is marked.
#[test]
fn a_running_keyed_try_holds_its_key_until_it_ends() {
    let key = |request: &str| UploadKey { key: "k".repeat(32), request: request.into(), later: Vec::new() };
    let in_flight = |secs| Err(Error::IdempotencyKeyInFlight { retry_after_secs: secs });
    let mut a = authority(1000, 10);
    assert_eq!(a.begin_try(&key("r1"), "t1", 45_000, T0), Ok(None));
    assert_eq!(a.begin_try(&key("r1"), "t2", 45_000, T0), in_flight(45));
    assert_eq!(a.begin_try(&key("r1"), "t2", 45_000, T0 + 44_001), in_flight(1), "rounded up");
    assert_eq!(a.begin_try(&key("r2"), "t2", 45_000, T0 + 1), Err(Error::IdempotencyKeyReused));
    assert_eq!(a.begin_try(&key("r1"), "t1", 45_000, T0 + 2), Ok(None), "the same try again");

    // A renewal extends a mark that is still its own; another try's renewal neither
    // extends it nor makes one.
    let renewed = UploadKey { key: "m".repeat(32), request: "r".into(), later: Vec::new() };
    assert_eq!(a.begin_try(&renewed, "t1", 10_000, T0), Ok(None));
    assert_eq!(a.renew_try(&renewed.key, "t1", 10_000, T0 + 8_000), Ok(true));
    assert_eq!(a.begin_try(&renewed, "t2", 10_000, T0 + 12_000), in_flight(6), "renewed at T0 + 8 s");
    assert_eq!(a.renew_try(&renewed.key, "t2", 10_000, T0 + 12_000), Ok(false));
    assert_eq!(a.renew_try(&"q".repeat(32), "t1", 10_000, T0 + 12_000), Ok(false));
    assert_eq!(a.tables.tries.get(&renewed.key).map(|t| (t.try_id.as_str(), t.until_ms)), Some(("t1", T0 + 18_000)));
    a.end_try(&renewed.key, "t1").unwrap();
    assert_eq!(a.tables.tries.len(), 1);

    // Its failure ends it; another try's end leaves it.
    a.end_try(&key("r1").key, "t9").unwrap();
    assert_eq!(a.begin_try(&key("r1"), "t2", 45_000, T0 + 3), in_flight(45));
    a.end_try(&key("r1").key, "t1").unwrap();
    assert_eq!(a.begin_try(&key("r1"), "t2", 45_000, T0 + 4), Ok(None), "the next try runs");
    assert_eq!(a.renew_try(&key("r1").key, "t1", 45_000, T0 + 5), Ok(false), "an ended try's renewal makes no mark");
    assert_eq!(a.tables.tries.values().next().map(|t| t.try_id.as_str()), Some("t2"));

    // Its lease's end ends it: a try whose Worker died holds the key no longer.
    assert_eq!(a.begin_try(&key("r1"), "t3", 45_000, T0 + 4 + 44_999), in_flight(1));
    assert_eq!(a.begin_try(&key("r1"), "t3", 45_000, T0 + 4 + 45_000), Ok(None));
    assert_eq!(a.tables.tries.len(), 1, "one mark per key");

    // A refused commit of the key (a try whose lease ran out, say) leaves the running
    // try's mark: that try ends its own.
    let huge = UploadKey { key: "k".repeat(32), request: "r1".into(), later: Vec::new() };
    assert!(matches!(a.commit_keyed(row("f0", "p", "a", 5000), Some(&huge), T0 + 4 + 45_000), Err(Error::QuotaExceeded(_))));
    assert_eq!(a.begin_try(&key("r1"), "t4", 45_000, T0 + 4 + 45_001), in_flight(45), "t3 still runs");

    // A commit of the key ends it, and from then on the key answers its file.
    assert_eq!(a.commit_keyed(row("f1", "p", "a", 100), Some(&key("r1")), T0 + 50_000), Ok(Committed::Stored { retired: None }));
    assert!(a.tables.tries.is_empty());
    let first = a.get("f1", T0 + 50_000).unwrap();
    assert_eq!(a.begin_try(&key("r1"), "t4", 45_000, T0 + 50_001), Ok(Some(first)));
    assert!(a.tables.tries.is_empty(), "a replayed try marks nothing");
    assert_eq!(a.begin_try(&key("r2"), "t5", 45_000, T0 + 50_001), Err(Error::IdempotencyKeyReused));

    // Marks that lapsed go when the next one is made.
    let other = UploadKey { key: "o".repeat(32), request: "r".into(), later: Vec::new() };
    a.begin_try(&UploadKey { key: "z".repeat(32), request: "r".into(), later: Vec::new() }, "t7", 1_000, T0 + 60_000).unwrap();
    assert_eq!(a.begin_try(&other, "t8", 1_000, T0 + 61_001), Ok(None));
    assert_eq!(a.tables.tries.keys().collect::<Vec<_>>(), [&other.key], "the lapsed mark is gone");

    // A disabled key is refused before anything is marked, even a retry whose file was
    // stored (its upload is refused, as every other of the key's, before any fetch); once
    // enabled again, the retry is answered with that file.
    a.configure(&ConfigPatch { disabled: Some(true), ..ConfigPatch::default() }, T0 + 61_500).unwrap();
    assert_eq!(a.begin_try(&key("r1"), "t6", 45_000, T0 + 61_500), Err(Error::KeyDisabled));
    assert_eq!(a.begin_try(&UploadKey { key: "d".repeat(32), request: "r".into(), later: Vec::new() }, "t6", 1_000, T0 + 61_500), Err(Error::KeyDisabled));
    a.configure(&ConfigPatch { disabled: Some(false), ..ConfigPatch::default() }, T0 + 61_600).unwrap();
    assert_eq!(a.begin_try(&key("r1"), "t6", 45_000, T0 + 61_600).map(|f| f.map(|f| f.file_id)), Ok(Some("f1".to_owned())));

    // A revoked key is refused before anything is marked.
    a.configure(&ConfigPatch { revoked: true, ..ConfigPatch::default() }, T0 + 62_000).unwrap();
    assert_eq!(a.begin_try(&UploadKey { key: "n".repeat(32), request: "r".into(), later: Vec::new() }, "t9", 1_000, T0 + 62_000), Err(Error::KeyRevoked));
    assert_eq!(a.tables.tries.len(), 1);
    assert_counters(&a);
}

/// An upload stored now under an `Idempotency-Key`: the first commit of the key keeps its
/// row; a later commit of the same request (a retry, or a try at once) answers that row
/// and drops its own upload (its reservation, its object), charging nothing; another
/// request with the key is 422 and dropped the same way; after `KEPT_MS` the key is free.
#[test]
fn a_keyed_commit_stores_once_and_answers_its_retries_with_the_first_file() {
    let key = |request: &str| UploadKey { key: "k".repeat(32), request: request.into(), later: Vec::new() };
    let mut a = authority(1000, 10);
    assert_eq!(a.replayed(&key("r1"), T0), Ok(None), "nothing stored with it yet");
    assert_eq!(a.commit_keyed(row("f1", "p", "a", 100), Some(&key("r1")), T0), Ok(Committed::Stored { retired: None }));
    let first = a.get("f1", T0).unwrap();
    assert_eq!(first.named_ms, T0);
    assert_eq!(a.replayed(&key("r1"), T0 + 1), Ok(Some(first.clone())));

    a.reserve(reservation("f2", "q", "b", 200), T0 + 1).unwrap();
    assert_eq!(a.commit_keyed(row("f2", "q", "b", 200), Some(&key("r1")), T0 + 2), Ok(Committed::Replayed(first.clone())));
    assert_eq!(doomed(&a), ["f2"], "the retry's bytes go");
    assert!(a.tables.reservations.is_empty(), "and its reservation");
    assert_eq!(a.get("f2", T0 + 2), Err(Error::FileNotFound));
    assert_eq!(usage(&mut a, T0 + 2), u(100, 1, 0, 0), "charged once");

    assert_eq!(a.replayed(&key("r2"), T0 + 3), Err(Error::IdempotencyKeyReused));
    assert_eq!(a.commit_keyed(row("f3", "p", "a", 50), Some(&key("r2")), T0 + 3), Err(Error::IdempotencyKeyReused));
    assert_eq!(doomed(&a), ["f2", "f3"]);
    assert_eq!(a.resolve("p", "a", T0 + 3).unwrap().file_id, "f1", "the name keeps the first file");

    // A commit sent again after its answer was lost keeps its own file.
    assert_eq!(a.commit_keyed(row("f1", "p", "a", 100), Some(&key("r1")), T0 + 4), Ok(Committed::Replayed(first)));
    assert_eq!(doomed(&a), ["f2", "f3"], "f1 stays");
    assert_counters(&a);

    // Kept a week, then forgotten (the next keyed commit prunes it).
    let later = T0 + KEPT_MS + 1;
    assert_eq!(a.replayed(&key("r2"), later), Ok(None));
    let other = UploadKey { key: "o".repeat(32), request: "r9".into(), later: Vec::new() };
    let far = FileRow { upload_ms: later, expires_ms: later + TTL, ..row("f4", "p", "c", 10) };
    assert!(matches!(a.commit_keyed(far, Some(&other), later), Ok(Committed::Stored { .. })));
    assert_eq!(a.tables.first_tries.keys().collect::<Vec<_>>(), [&other.key], "the week-old key is gone");

    // A commit refused for the quota keeps no key: its retry stores.
    let big = UploadKey { key: "q".repeat(32), request: "r".into(), later: Vec::new() };
    let over = FileRow { upload_ms: later, expires_ms: later + TTL, ..row("f5", "p", "d", 2000) };
    assert!(matches!(a.commit_keyed(over, Some(&big), later), Err(Error::QuotaExceeded(_))));
    assert_eq!(a.replayed(&big, later), Ok(None), "the refused try kept nothing");
    let fits = FileRow { upload_ms: later, expires_ms: later + TTL, ..row("f6", "p", "d", 20) };
    assert!(matches!(a.commit_keyed(fits, Some(&big), later), Ok(Committed::Stored { .. })));

    // A key revoked since its question: its commit is refused (and released) as any commit
    // is, whatever the key holds; and it answers no replay.
    a.configure(&ConfigPatch { revoked: true, ..ConfigPatch::default() }, later).unwrap();
    assert_eq!(a.replayed(&other, later), Err(Error::KeyRevoked));
    let retry = FileRow { upload_ms: later, expires_ms: later + TTL, ..row("f7", "p", "c", 10) };
    assert_eq!(a.commit_keyed(retry, Some(&other), later), Err(Error::KeyRevoked));
    assert!(doomed(&a).contains(&"f7"));
    assert_counters(&a);
}

/// A batch's earlier item naming a file (sent again with the batch's `Idempotency-Key`)
/// after a later item of the batch stored that name: refused 409 at its commit (its bytes
/// go, nothing charged), so the name keeps the later item's file; not when the later item
/// stored under another name (another `upload_path`); one that stored its own file first
/// is answered with it, as any retry.
#[test]
fn an_earlier_batch_item_is_not_stored_over_a_later_one_that_stored() {
    let earlier = UploadKey { key: "e".repeat(32), request: "r".into(), later: vec!["l".repeat(32)] };
    let last = UploadKey { key: "l".repeat(32), request: "r".into(), later: Vec::new() };
    let mut a = authority(1000, 10);
    assert_eq!(a.begin_try(&earlier, "t1", 45_000, T0), Ok(None));
    a.end_try(&earlier.key, "t1").unwrap();
    assert_eq!(a.commit_keyed(row("f1", "p", "x", 100), Some(&last), T0 + 1), Ok(Committed::Stored { retired: None }));
    assert_eq!(a.begin_try(&earlier, "t2", 45_000, T0 + 2), Ok(None), "its name is decided at the commit");
    a.reserve(reservation("f2", "p", "x", 50), T0 + 2).unwrap();
    assert_eq!(a.commit_keyed(row("f2", "p", "x", 50), Some(&earlier), T0 + 3), Err(Error::Superseded));
    assert_eq!(doomed(&a), ["f2"], "its bytes go");
    assert_eq!(a.resolve("p", "x", T0 + 3).unwrap().file_id, "f1", "the name keeps the later item's file");
    assert_eq!(usage(&mut a, T0 + 3), u(100, 1, 0, 0), "nothing charged for it");
    assert_counters(&a);

    // An earlier item that stored before the later one replaced it: answered with its own
    // file, as any retry is.
    let stored_first = UploadKey { key: "s".repeat(32), request: "r".into(), later: vec!["m".repeat(32)] };
    let then = UploadKey { key: "m".repeat(32), request: "r".into(), later: Vec::new() };
    assert!(matches!(a.commit_keyed(row("f3", "q", "y", 10), Some(&stored_first), T0 + 4), Ok(Committed::Stored { .. })));
    assert!(matches!(a.commit_keyed(row("f4", "q", "y", 20), Some(&then), T0 + 5), Ok(Committed::Stored { .. })));
    let first = a.replayed(&stored_first, T0 + 6).unwrap().expect("kept with its key");
    assert_eq!(first.file_id, "f3");
    assert_eq!(a.begin_try(&stored_first, "t3", 45_000, T0 + 6), Ok(Some(first.clone())));
    // its commit sent again is answered with its own file too
    assert_eq!(a.commit_keyed(row("f5", "q", "y", 5), Some(&stored_first), T0 + 7), Ok(Committed::Replayed(first)));

    // A later item that stored under another path is no rival.
    let elsewhere = UploadKey { key: "w".repeat(32), request: "r".into(), later: vec!["v".repeat(32)] };
    let other_path = UploadKey { key: "v".repeat(32), request: "r".into(), later: Vec::new() };
    assert!(matches!(a.commit_keyed(row("f6", "images", "z", 10), Some(&other_path), T0 + 8), Ok(Committed::Stored { .. })));
    assert!(matches!(a.commit_keyed(row("f7", "documents", "z", 10), Some(&elsewhere), T0 + 9), Ok(Committed::Stored { .. })));
    assert_eq!(a.resolve("images", "z", T0 + 9).unwrap().file_id, "f6");
    assert_eq!(a.resolve("documents", "z", T0 + 9).unwrap().file_id, "f7");
    assert_counters(&a);
}
