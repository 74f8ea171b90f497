//! The blocklist: SHA-256 digests of files the operator took down, which no upload may
//! store again. What an entry records, how the admin routes read their input, and how
//! long an isolate uses its copy of the list.

use std::collections::HashSet;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::admin::MAX_ADMIN_BODY_BYTES;
use super::error::Error;
use super::json::{present, read_object, JsonObject, STRING};

/// KV entries of the blocklist: `blocked:{sha256}`, with the [`BlockEntry`] as metadata.
pub const BLOCKED_PREFIX: &str = "blocked:";
/// The KV entry every change of the list rewrites, its value the change's time (ms since
/// the epoch): an isolate reads it to learn whether the list changed, and reads the list
/// itself only when it did.
pub const VERSION_KEY: &str = "blocklist:version";
/// How long an isolate checks uploads against its copy of the list before reading the
/// version again. A block reaches every isolate within this plus KV's own propagation (a
/// minute).
pub const BLOCKLIST_TTL_MS: i64 = 30_000;
/// A listing taken less than this long after a change (by the version's time) may not show
/// it yet (KV's list lags behind writes): the entries are listed again until a listing
/// taken at least this long after the change.
pub const LIST_LAG_MS: i64 = 90_000;
/// A copy listed this long ago is listed again whatever the version says (entries put
/// into KV by other means, a version write that failed).
pub const RELIST_MS: i64 = 600_000;
/// After a failed read of the list, an isolate keeps the copy it had this long before
/// trying again (an isolate that never read it reads again at the next check).
pub const BLOCKLIST_RETRY_MS: i64 = 5_000;
/// The most digests the list holds: an isolate reads it whole, a page of 1,000 per call.
pub const MAX_BLOCKED: usize = 10_000;
/// How long a change made in this isolate is laid over the list as read, which KV may
/// not show for up to a minute.
pub const LOCAL_CHANGE_MS: i64 = 90_000;
/// A read of the list that began this long ago and has not ended is taken for lost: the
/// next check reads again.
pub const READ_WINDOW_MS: i64 = 10_000;
/// The longest `reason` kept with an entry, in characters and in UTF-8 bytes (KV metadata
/// holds at most 1,024 bytes of JSON: the entry's other fields take up to about 250).
pub const MAX_REASON_CHARS: usize = 200;
pub const MAX_REASON_BYTES: usize = 400;

/// One blocked digest, as the admin routes answer it and KV keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEntry {
    pub sha256: String,
    /// Why, as the operator put it.
    pub reason: Option<String>,
    /// ISO 8601 (`None`: an entry written into KV by other means).
    pub blocked_at: Option<String>,
    /// The file whose take-down blocked it (`None`: added by digest).
    pub file_id: Option<String>,
    pub key_id: Option<String>,
}

impl BlockEntry {
    /// The entry KV keeps for `sha256`, from its metadata. An entry whose metadata is
    /// missing or not ours (imported with `wrangler kv`, say) is blocked all the same, so it
    /// is shown, and can be removed, with what is known: its digest.
    pub fn stored(sha256: &str, metadata: Option<serde_json::Value>) -> BlockEntry {
        let read = metadata.and_then(|m| serde_json::from_value::<BlockEntry>(m).ok());
        let bare = BlockEntry { sha256: sha256.to_owned(), reason: None, blocked_at: None, file_id: None, key_id: None };
        BlockEntry { sha256: sha256.to_owned(), ..read.unwrap_or(bare) }
    }

    /// The entry a block leaves: `self` (when, and by which file and key, it was blocked)
    /// if the digest is not yet blocked, else the `first` entry's record (with `self`'s time
    /// when it has none: imported by other means). The reason is the one `reason` sets
    /// (`Some(None)` clears it), or else the first entry's.
    pub fn over(self, first: Option<BlockEntry>, reason: Option<Option<String>>) -> BlockEntry {
        match first {
            None => BlockEntry { reason: reason.flatten(), ..self },
            Some(first) => BlockEntry {
                reason: reason.unwrap_or(first.reason),
                blocked_at: first.blocked_at.or(self.blocked_at),
                ..first
            },
        }
    }
}

/// An isolate's copy of the list: when it was read and under which version, whether a read
/// is under way, and the changes made here since (laid over what a read brings until KV
/// shows them too).
#[derive(Debug, Default)]
pub struct BlocklistCopy {
    digests: Rc<HashSet<String>>,
    /// Until when the copy is used without reading (0: never read).
    fresh_until_ms: i64,
    /// When the read under way began.
    reading_since: Option<i64>,
    /// The version the entries were listed under (`None`: no change was ever made through
    /// the API), and when (`None`: never listed).
    listed: Option<(Option<String>, i64)>,
    /// Digests blocked (`true`) or unblocked here, and when.
    changes: Vec<(String, bool, i64)>,
}

/// What a check does with the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Checks against these digests.
    Use(Rc<HashSet<String>>),
    /// Reads first: after [`BlocklistCopy::check`], the version, for
    /// [`BlocklistCopy::version`]; after that, the entries, for [`BlocklistCopy::read`].
    Read,
}

impl BlocklistCopy {
    /// A fresh copy is used; a stale one too while another request reads (the reads of two
    /// requests are not shared); else this check reads the version.
    pub fn check(&mut self, now_ms: i64) -> Check {
        let reading = self.reading_since.is_some_and(|since| now_ms - since < READ_WINDOW_MS);
        let read_once = self.fresh_until_ms > 0;
        if now_ms < self.fresh_until_ms || (reading && read_once) {
            return Check::Use(Rc::clone(&self.digests));
        }
        self.reading_since = Some(now_ms);
        Check::Read
    }

    /// The version KV shows, read for a check that got [`Check::Read`]. The entries are
    /// listed again (`Read`: then [`read`](Self::read) with this version) when never
    /// listed, listed under another version, listed less than [`LIST_LAG_MS`] after the
    /// version's time, or listed [`RELIST_MS`] ago; else the copy is fresh again, and used.
    pub fn version(&mut self, version: &Option<String>, now_ms: i64) -> Check {
        let changed_at = version.as_deref().and_then(|v| v.parse::<i64>().ok());
        let list = match &self.listed {
            None => true,
            Some((under, at)) => under != version || changed_at.is_some_and(|t| *at < t + LIST_LAG_MS) || now_ms - at >= RELIST_MS,
        };
        if list {
            return Check::Read;
        }
        self.reading_since = None;
        self.fresh_until_ms = now_ms + BLOCKLIST_TTL_MS;
        Check::Use(Rc::clone(&self.digests))
    }

    /// The outcome of a read begun by [`check`](Self::check): the version read, and the
    /// digests listed after it (with this isolate's recent changes laid over them), or a
    /// failure (of the version's read or the list's), after which the copy as it was
    /// serves until a retry [`BLOCKLIST_RETRY_MS`] later. `None`: the read failed and the
    /// list was never read here, so there is no copy to check against (the check fails:
    /// an empty copy would let a taken-down file be stored again); the next check reads.
    pub fn read(&mut self, listed: Option<(Option<String>, HashSet<String>)>, now_ms: i64) -> Option<Rc<HashSet<String>>> {
        self.reading_since = None;
        self.changes.retain(|(_, _, at)| now_ms - at < LOCAL_CHANGE_MS);
        match listed {
            Some((version, mut digests)) => {
                self.listed = Some((version, now_ms));
                for (sha256, blocked, _) in &self.changes {
                    if *blocked {
                        digests.insert(sha256.clone());
                    } else {
                        digests.remove(sha256);
                    }
                }
                self.digests = Rc::new(digests);
                self.fresh_until_ms = now_ms + BLOCKLIST_TTL_MS;
            }
            None if self.listed.is_none() => return None,
            None => self.fresh_until_ms = now_ms + BLOCKLIST_RETRY_MS,
        }
        Some(Rc::clone(&self.digests))
    }

    /// `sha256` was blocked (`true`) or unblocked here: in force in this isolate at once.
    pub fn change(&mut self, sha256: &str, blocked: bool, now_ms: i64) {
        let digests = Rc::make_mut(&mut self.digests);
        if blocked {
            digests.insert(sha256.to_owned());
        } else {
            digests.remove(sha256);
        }
        self.changes.retain(|(d, _, _)| d != sha256);
        self.changes.push((sha256.to_owned(), blocked, now_ms));
    }

    /// How many digests the copy holds.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

/// The digest a listed KV name (after [`BLOCKED_PREFIX`]) blocks: 64 hex digits, read in
/// lowercase as uploads' digests are (an entry put by hand in upper case blocks its digest
/// all the same); `None` for a name that is no digest (never matched, never listed).
pub fn listed_digest(name: &str) -> Option<String> {
    (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())).then(|| name.to_ascii_lowercase())
}

/// The KV entry of `sha256`.
pub fn entry_key(sha256: &str) -> String {
    format!("{BLOCKED_PREFIX}{sha256}")
}

/// `PUT /api/v1/admin/blocklist/{sha256}`: an empty body, or `{"reason": ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlockBody {
    #[serde(default, deserialize_with = "present")]
    reason: Option<Option<String>>,
}

impl JsonObject<'_> for BlockBody {
    const FIELDS: &'static [(&'static str, &'static str)] = &[("reason", STRING)];
}

/// The reason a block request gives: `None` when it gives none (an empty body, or no
/// `reason`: a digest blocked already keeps its reason), `Some(None)` for `null` or an empty
/// string (it has none from now on).
pub fn parse_block(body: &[u8]) -> Result<Option<Option<String>>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let body: BlockBody = read_object(body, MAX_ADMIN_BODY_BYTES)?;
    body.reason.map(reason).transpose()
}

/// A reason trimmed, `None` when empty; 400 past [`MAX_REASON_CHARS`] or
/// [`MAX_REASON_BYTES`], or with a control character (JSON would spell each in six bytes).
pub fn reason(reason: Option<String>) -> Result<Option<String>, Error> {
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    match reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS || r.len() > MAX_REASON_BYTES || r.chars().any(char::is_control) => {
            Err(Error::invalid("reason", format!("at most {MAX_REASON_CHARS} characters ({MAX_REASON_BYTES} bytes in UTF-8), no control characters")))
        }
        reason => Ok(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(digests: &[&str]) -> HashSet<String> {
        digests.iter().map(|d| d.to_string()).collect()
    }

    fn used(check: Check) -> HashSet<String> {
        match check {
            Check::Use(digests) => (*digests).clone(),
            Check::Read => panic!("expected the copy to be used"),
        }
    }

    #[test]
    fn the_copy_is_read_first_then_used_until_its_ttl() {
        let mut copy = BlocklistCopy::default();
        assert_eq!(copy.check(1_000), Check::Read);
        copy.read(listing(&["a"]), 1_000);
        assert_eq!(used(copy.check(1_000 + BLOCKLIST_TTL_MS - 1)), set(&["a"]));
        assert_eq!(copy.check(1_000 + BLOCKLIST_TTL_MS), Check::Read, "stale at its TTL");
    }

    #[test]
    fn a_cold_isolate_reads_on_every_check_until_a_read_ends_but_a_stale_copy_serves_meanwhile() {
        let mut copy = BlocklistCopy::default();
        assert_eq!(copy.check(0), Check::Read);
        assert_eq!(copy.check(1), Check::Read, "nothing to use yet: this check reads too");
        copy.read(listing(&["a"]), 2);
        let later = 2 + BLOCKLIST_TTL_MS;
        assert_eq!(copy.check(later), Check::Read);
        assert_eq!(used(copy.check(later + 1)), set(&["a"]), "another request reads: the stale copy serves");
        assert_eq!(copy.check(later + READ_WINDOW_MS), Check::Read, "a read that never ended is given up");
    }

    #[test]
    fn listed_names_are_read_as_lowercase_digests() {
        let lower = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(listed_digest(lower).as_deref(), Some(lower));
        assert_eq!(listed_digest(&lower.to_ascii_uppercase()).as_deref(), Some(lower));
        for not_one in ["", "abc", &lower[1..], &format!("{lower}0"), &lower.replace('9', "g")] {
            assert_eq!(listed_digest(not_one), None, "{not_one:?}");
        }
    }

    /// What a listing brings: no version (no change made yet), and `digests`.
    fn listing(digests: &[&str]) -> Option<(Option<String>, HashSet<String>)> {
        Some((None, set(digests)))
    }

    /// A check of a stale copy that reads the version `v`: whether the entries were listed
    /// (the copy then takes `entries`) or the copy was used as it was.
    fn stale_check(copy: &mut BlocklistCopy, v: Option<&str>, entries: &[&str], now: i64) -> bool {
        assert_eq!(copy.check(now), Check::Read, "stale at {now}");
        let version = v.map(str::to_owned);
        match copy.version(&version, now) {
            Check::Read => {
                copy.read(Some((version, set(entries))), now);
                true
            }
            Check::Use(_) => false,
        }
    }

    #[test]
    fn the_entries_are_listed_again_only_when_the_version_says_they_may_have_changed() {
        let mut copy = BlocklistCopy::default();
        let t = 10 * RELIST_MS;
        assert!(stale_check(&mut copy, None, &["a"], t), "never listed: listed");
        assert!(!stale_check(&mut copy, None, &["a"], t + BLOCKLIST_TTL_MS), "no change: the version alone is read");
        assert_eq!(used(copy.check(t + BLOCKLIST_TTL_MS + 1)), set(&["a"]), "and the copy is fresh again");

        // a change made elsewhere, its version written at `changed`: listed at every check
        // until a listing taken LIST_LAG_MS after it (KV's list may not show it before)
        let changed = t + 40_000;
        let v = changed.to_string();
        let mut now = changed + BLOCKLIST_TTL_MS;
        assert!(stale_check(&mut copy, Some(&v), &["a"], now), "a new version: listed");
        assert_eq!(used(copy.check(now + 1)), set(&["a"]));
        now += BLOCKLIST_TTL_MS;
        assert!(stale_check(&mut copy, Some(&v), &["a", "b"], now), "the last listing came too soon after the change: listed again");
        assert_eq!(used(copy.check(now + 1)), set(&["a", "b"]));
        now += BLOCKLIST_TTL_MS;
        assert_eq!(now, changed + LIST_LAG_MS);
        assert!(stale_check(&mut copy, Some(&v), &["a", "b"], now), "still too soon (taken before LIST_LAG_MS)");
        now += BLOCKLIST_TTL_MS;
        assert!(!stale_check(&mut copy, Some(&v), &[], now), "listed LIST_LAG_MS after the change: the version alone");
        assert_eq!(used(copy.check(now + 1)), set(&["a", "b"]));

        // a version set by hand, not a time: listed once, when it changes
        now += BLOCKLIST_TTL_MS;
        assert!(stale_check(&mut copy, Some("by hand"), &["a", "b", "c"], now));
        let listed_at = now;
        assert!(!stale_check(&mut copy, Some("by hand"), &[], now + BLOCKLIST_TTL_MS));
        // entries put by other means with the version unchanged: listed once RELIST_MS old
        assert!(!stale_check(&mut copy, Some("by hand"), &[], listed_at + RELIST_MS - BLOCKLIST_TTL_MS));
        assert!(stale_check(&mut copy, Some("by hand"), &["a", "b", "c", "d"], listed_at + RELIST_MS));
        assert_eq!(copy.len(), 4);
    }

    #[test]
    fn a_change_listed_too_soon_is_listed_again_however_long_the_isolate_was_idle() {
        let mut copy = BlocklistCopy::default();
        assert!(stale_check(&mut copy, None, &[], 0));
        let changed = 1_000_000;
        let v = changed.to_string();
        // seen at once, listed before KV's list shows it
        assert!(stale_check(&mut copy, Some(&v), &[], changed + 2_000));
        // the next upload comes long after the lag (but before RELIST_MS): listed again
        let idle = changed + 5 * LIST_LAG_MS;
        assert!(idle - (changed + 2_000) < RELIST_MS);
        assert!(stale_check(&mut copy, Some(&v), &["late"], idle), "the only listing came too soon");
        assert_eq!(copy.len(), 1);
        assert!(!stale_check(&mut copy, Some(&v), &[], idle + BLOCKLIST_TTL_MS));
    }

    #[test]
    fn a_failed_read_of_the_version_or_the_list_keeps_the_copy_until_the_retry() {
        let mut copy = BlocklistCopy::default();
        assert!(stale_check(&mut copy, Some("1"), &["a"], 0));
        // the version's read fails: nothing listed, the copy serves until the retry
        assert_eq!(copy.check(BLOCKLIST_TTL_MS), Check::Read);
        assert_eq!(*copy.read(None, BLOCKLIST_TTL_MS).unwrap(), set(&["a"]));
        assert_eq!(used(copy.check(BLOCKLIST_TTL_MS + BLOCKLIST_RETRY_MS - 1)), set(&["a"]));
        // a new version whose list fails: listed at the retry
        let retry = BLOCKLIST_TTL_MS + BLOCKLIST_RETRY_MS + RELIST_MS;
        assert_eq!(copy.check(retry), Check::Read);
        assert_eq!(copy.version(&Some("2".into()), retry), Check::Read);
        copy.read(None, retry);
        assert!(stale_check(&mut copy, Some("2"), &["a", "b"], retry + BLOCKLIST_RETRY_MS), "never listed under 2");
        assert_eq!(copy.len(), 2);
    }

    #[test]
    fn an_isolate_that_never_read_the_list_has_no_copy_to_check_against_until_a_read_ends() {
        let mut copy = BlocklistCopy::default();
        assert_eq!(copy.check(0), Check::Read);
        assert_eq!(copy.read(None, 0), None, "no copy: the check fails, never an empty list");
        assert_eq!(copy.check(1), Check::Read, "the next check reads again, no retry wait");
        copy.change("here", true, 1);
        assert_eq!(copy.read(None, 2), None, "a change made here is no copy of the list");
        assert_eq!(copy.check(3), Check::Read);
        assert_eq!(*copy.read(listing(&["a"]), 3).unwrap(), set(&["a", "here"]));
        assert_eq!(*copy.read(None, 4).unwrap(), set(&["a", "here"]), "read once: the copy serves");
    }

    #[test]
    fn a_failed_read_keeps_the_copy_and_retries_soon() {
        let mut copy = BlocklistCopy::default();
        copy.check(0);
        copy.read(listing(&["a"]), 0);
        assert_eq!(copy.check(BLOCKLIST_TTL_MS), Check::Read);
        assert_eq!(*copy.read(None, BLOCKLIST_TTL_MS).unwrap(), set(&["a"]));
        assert_eq!(used(copy.check(BLOCKLIST_TTL_MS + BLOCKLIST_RETRY_MS - 1)), set(&["a"]));
        assert_eq!(copy.check(BLOCKLIST_TTL_MS + BLOCKLIST_RETRY_MS), Check::Read);
    }

    #[test]
    fn changes_made_here_hold_at_once_and_over_reads_that_do_not_show_them_yet() {
        let mut copy = BlocklistCopy::default();
        copy.check(0);
        copy.read(listing(&["old"]), 0);
        copy.change("new", true, 10);
        copy.change("old", false, 10);
        assert_eq!(used(copy.check(20)), set(&["new"]));
        // KV's list does not show either change yet
        assert_eq!(*copy.read(listing(&["old"]), 30).unwrap(), set(&["new"]));
        // once past LOCAL_CHANGE_MS, the list as read decides
        assert_eq!(*copy.read(listing(&["old"]), 10 + LOCAL_CHANGE_MS).unwrap(), set(&["old"]));
        // a later change of the same digest replaces the earlier one
        copy.change("x", true, 100_000);
        copy.change("x", false, 100_001);
        assert_eq!(*copy.read(listing(&["x"]), 100_002).unwrap(), set(&[]), "unblocked last");
    }

    #[test]
    fn a_block_request_may_give_a_reason_or_nothing() {
        assert_eq!(parse_block(b""), Ok(None));
        assert_eq!(parse_block(b" \n"), Ok(None));
        assert_eq!(parse_block(b"{}"), Ok(None));
        // given as nothing: a reason there is cleared
        assert_eq!(parse_block(br#"{"reason":null}"#), Ok(Some(None)));
        assert_eq!(parse_block(br#"{"reason":"  "}"#), Ok(Some(None)));
        assert_eq!(parse_block(br#"{"reason":" phishing kit "}"#), Ok(Some(Some("phishing kit".into()))));
    }

    #[test]
    fn a_block_keeps_the_first_record_and_sets_the_reason_only_when_given() {
        let at = |t: &str| Some(t.to_owned());
        let take_down = BlockEntry { sha256: "d".into(), reason: None, blocked_at: at("T2"), file_id: at("file_2"), key_id: at("k2") };
        let first = BlockEntry { sha256: "d".into(), reason: at("spam"), blocked_at: at("T1"), file_id: at("file_1"), key_id: at("k1") };
        // a new entry: this block's record, with the reason it gives
        assert_eq!(take_down.clone().over(None, Some(at("malware"))), BlockEntry { reason: at("malware"), ..take_down.clone() });
        assert_eq!(take_down.clone().over(None, None), take_down);
        // blocked before: the first record, its reason kept, replaced or cleared
        assert_eq!(take_down.clone().over(Some(first.clone()), None), first);
        assert_eq!(take_down.clone().over(Some(first.clone()), Some(at("malware"))), BlockEntry { reason: at("malware"), ..first.clone() });
        assert_eq!(take_down.clone().over(Some(first.clone()), Some(None)), BlockEntry { reason: None, ..first.clone() });
        // an entry imported without a record takes this block's time
        let imported = BlockEntry::stored("d", None);
        assert_eq!(take_down.clone().over(Some(imported), None).blocked_at, at("T2"));
    }

    #[test]
    fn a_bad_block_request_is_a_400_naming_its_field() {
        let long = format!(r#"{{"reason":"{}"}}"#, "é".repeat(MAX_REASON_CHARS + 1));
        for (body, field) in [(long.as_str(), Some("reason")), (r#"{"reason":7}"#, Some("reason")), (r#"{"why":"x"}"#, None), ("[]", None)] {
            let err = parse_block(body.as_bytes()).unwrap_err();
            assert_eq!(err.status(), 400, "{body}");
            assert_eq!(err.field(), field, "{body}: {err}");
        }
        assert!(parse_block(format!(r#"{{"reason":"{}"}}"#, "é".repeat(MAX_REASON_CHARS)).as_bytes()).is_ok());
        for bad in ["😀".repeat(101), "a\\u0001b".to_owned(), "tab\\there".to_owned()] {
            let err = parse_block(format!(r#"{{"reason":"{bad}"}}"#).as_bytes()).unwrap_err();
            assert_eq!(err.field(), Some("reason"), "{bad}");
        }
    }

    #[test]
    fn the_longest_entry_fits_kv_metadata() {
        let entry = BlockEntry {
            sha256: "f".repeat(64),
            reason: Some("😀".repeat(MAX_REASON_BYTES / 4)),
            blocked_at: Some("2026-12-01T06:20:00+00:00".into()),
            file_id: Some(format!("file_{}", "0".repeat(32))),
            key_id: Some("k".repeat(64)),
        };
        assert!(parse_block(format!(r#"{{"reason":"{}"}}"#, entry.reason.as_deref().unwrap()).as_bytes()).is_ok());
        assert!(serde_json::to_string(&entry).unwrap().len() <= 1024);
    }

    #[test]
    fn an_entry_without_our_metadata_is_its_digest_alone() {
        let digest = "a".repeat(64);
        let bare = BlockEntry { sha256: digest.clone(), reason: None, blocked_at: None, file_id: None, key_id: None };
        assert_eq!(BlockEntry::stored(&digest, None), bare);
        assert_eq!(BlockEntry::stored(&digest, Some(serde_json::json!("imported"))), bare);
        let ours = serde_json::json!({"sha256": "b".repeat(64), "reason": "r", "blocked_at": "t", "file_id": null, "key_id": null});
        let read = BlockEntry::stored(&digest, Some(ours));
        assert_eq!((read.sha256.as_str(), read.reason.as_deref()), (digest.as_str(), Some("r")), "the digest is the entry's name");
    }
}
