//! Random interleavings of uploads to a few names (the reserve, put and commit steps of
//! several at once), deletes, the operator's take-downs and purges, expiry and clock moves, against the in-memory seams; every
//! invariant of docs/authority.md is checked after each step (`common::interleave`).

mod common;

use common::interleave::{run, Action, Kind, Trouble, NAMES};
use proptest::prelude::*;
use urlstash::core::authority::RESERVATION_TTL_MS;

fn action() -> impl Strategy<Value = Action> {
    let kind = prop_oneof![Just(Kind::Small), Just(Kind::Large), Just(Kind::Unknown)];
    let trouble = prop_oneof![6 => Just(Trouble::None), 1 => Just(Trouble::Broken), 1 => Just(Trouble::CommitLost), 1 => Just(Trouble::AnswerLost)];
    let ms = prop_oneof![Just(1_000), Just(20_000), Just(61_000), Just(RESERVATION_TTL_MS + 1)];
    prop_oneof![
        3 => (0..NAMES.len(), kind, trouble).prop_map(|(n, k, t)| Action::Start(n, k, t)),
        10 => (any::<usize>(), 1..6u8).prop_map(|(f, t)| Action::Step(f, t)),
        1 => any::<usize>().prop_map(Action::Abandon),
        1 => any::<usize>().prop_map(Action::Delete),
        1 => any::<usize>().prop_map(Action::Late),
        1 => any::<usize>().prop_map(Action::TakeDown),
        1 => Just(Action::Purge),
        1 => Just(Action::Alarm),
        1 => ms.prop_map(Action::Advance),
    ]
}

proptest! {
    #[test]
    fn interleavings_keep_every_invariant(actions in prop::collection::vec(action(), 1..80)) {
        run(&actions);
    }
}

use Action::{Abandon, Delete, Late, Purge, Start, Step, TakeDown};
use Kind::{Large, Small, Unknown};
use Trouble::{AnswerLost, Broken, CommitLost};

/// Three uploads to one name, their reserve, put and commit steps interleaved.
#[test]
fn uploads_to_one_name_interleave_their_steps() {
    let none = Trouble::None;
    let script = [Start(0, Large, none), Start(0, Small, none), Start(0, Unknown, none), Step(1, 2), Step(0, 3), Step(2, 3), Step(1, 2), Step(0, 20), Step(0, 20)];
    assert_eq!(run(&script), (vec!["ok", "ok", "ok"], 0));
}

/// Delete the name's file while an overwrite is between its reserve and its commit.
#[test]
fn a_delete_racing_an_overwrite() {
    let none = Trouble::None;
    let both = (vec!["ok", "ok"], 0);
    assert_eq!(run(&[Start(0, Small, none), Step(0, 10), Start(0, Large, none), Step(0, 4), Delete(0), Step(0, 30)]), both);
    // a small overwrite stores, then commits: the delete of the name's file comes after one,
    // two and three of its steps, so before, between and after them
    for steps in 1..=3 {
        assert_eq!(run(&[Start(0, Small, none), Step(0, 10), Start(0, Small, none), Step(0, steps), Delete(0), Step(0, 10)]), both, "{steps}");
    }
}

/// A commit sent again late, after its file was replaced and deleted: refused, and the
/// name keeps the file that replaced it.
#[test]
fn late_commits_of_files_no_longer_held_are_refused() {
    let none = Trouble::None;
    let script = [Start(0, Small, none), Step(0, 10), Start(0, Small, none), Step(0, 10), Late(0), Delete(1), Late(1), Late(0)];
    assert_eq!(run(&script), (vec!["ok", "ok"], 0));
}

/// Overwrites that fail leave the name's file as it was; a commit whose answer was lost
/// landed, and the upload, asking, answers it as stored.
#[test]
fn failed_overwrites_keep_the_old_file() {
    let none = Trouble::None;
    let script = [Start(0, Small, none), Step(0, 10), Start(0, Large, Broken), Start(0, Small, CommitLost), Start(0, Unknown, AnswerLost)];
    assert_eq!(run(&script), (vec!["ok", "err", "err", "ok"], 0));
}

/// A take-down and a purge racing overwrites between their reserve and their commit: the
/// overwrites land on the emptied names.
#[test]
fn take_downs_and_purges_racing_overwrites() {
    let none = Trouble::None;
    let script = [Start(0, Small, none), Step(0, 10), Start(0, Large, none), Step(0, 4), TakeDown(0), Step(0, 30)];
    assert_eq!(run(&script), (vec!["ok", "ok"], 0));
    let script = [Start(0, Small, none), Start(1, Small, none), Step(0, 10), Step(0, 10), Start(1, Large, none), Step(0, 4), Purge, Step(0, 30)];
    assert_eq!(run(&script), (vec!["ok", "ok", "ok"], 0));
}

/// Dead Workers: a small upload's stored bytes outlive it (the lifecycle backstop); a
/// reserved one's go with its stale reservation.
#[test]
fn abandoned_uploads() {
    let none = Trouble::None;
    let script = [Start(0, Small, none), Step(0, 1), Abandon(0), Start(1, Large, none), Step(0, 6), Abandon(0)];
    assert_eq!(run(&script), (vec!["dead", "dead"], 1), "the small upload's bytes");
}
