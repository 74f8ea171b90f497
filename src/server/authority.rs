//! The key's authority as a Durable Object, one per key (named by the key id): each op runs
//! the core's rules in one SQL transaction; then the objects it doomed are deleted and the
//! alarm is kept at the next due time. The alarm retires expired files by itself.

use std::cell::Cell;

use serde::Serialize;
use wasm_bindgen::JsValue;
use worker::{durable_object, Bucket, DurableObject, Env, Request, Response, ScheduledTime, State};

use super::bindings::{var, BUCKET};
use super::job_index;
use super::key_secret;
use super::js::{now_ms, object_name};
use super::sql::{transaction, SqlTables};
use crate::core::authority::{Authority, Committed, CLAIMED_KEEP_MS, EARLY_BATCHES, EXPIRY_BATCH, RESERVATION_TTL_MS, RETRY_MS};
use crate::core::authority_wire::{Op, Purged, Refusal};
use crate::core::config::Config;
use crate::core::layout::object_key;
use crate::core::quota::Limits;
use crate::core::Error;

/// Objects deleted per R2 call (R2's own limit).
const DELETE_BATCH: usize = 1000;
/// Expiry batches one alarm runs before it hands over to the next (re-armed at once).
const ALARM_BATCHES: usize = EARLY_BATCHES;

#[durable_object]
pub struct KeyAuthority {
    state: State,
    /// The key's id (the object's name), for the log.
    key_id: String,
    bucket: Result<Bucket, String>,
    defaults: Result<Limits, Error>,
    schema_ready: Cell<bool>,
    /// The alarm this object set, as far as it knows (`None`: not known yet, or none).
    alarm_at: Cell<Option<i64>>,
    /// The op being answered, for the log (set as it starts; a reply made after a wait,
    /// when another op may have been answered meanwhile, sets it again).
    op: Cell<&'static str>,
    /// The op being answered retired files past their expiry (a quota check, usage): their
    /// objects go before its answer, as an overwrite's.
    retired_early: Cell<bool>,
}

impl DurableObject for KeyAuthority {
    fn new(state: State, env: Env) -> Self {
        let defaults = Config::from_vars(|name| var(&env, name)).map(|c| c.default_limits);
        let bucket = env.bucket(BUCKET).map_err(|e| e.to_string());
        let key_id = object_name(&state);
        KeyAuthority { state, key_id, bucket, defaults, schema_ready: Cell::new(false), alarm_at: Cell::new(None), op: Cell::new(""), retired_early: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        // Read as text and parsed in wasm: one crossing, not one per field.
        let op = match req.text().await {
            Ok(text) => Op::read(&text).inspect_err(|e| {
                if *e == Error::Updating {
                    // the op's name only: its values may be a file's name or a secret
                    let op = text.trim_start_matches(['{', '"']).split('"').next().unwrap_or("");
                    worker::console_warn!("key authority {}: op {op:.64} is unknown to this version (a newer Worker's): 503 until the object runs the new code", self.key_id);
                }
            }),
            Err(e) => Err(Error::internal(format!("authority op: {e}"))),
        };
        let body = match op {
            Ok(op) => self.handle(op).await,
            Err(e) => self.reply::<()>(Err(e)),
        };
        Response::ok(body)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.alarm_at.set(None);
        let armed = match self.expire().await {
            Ok(armed) => armed,
            Err(e) => {
                // Not thrown: the platform gives a failing alarm up after a few retries, and
                // an idle key would then keep its expired files (and their quota) until its
                // next request. A broken configuration, say, or a full storage is fixed some
                // time later: the alarm asks again every RETRY_MS until then.
                worker::console_error!("key authority {}: alarm: {e:?} (again in {} s)", self.key_id, RETRY_MS / 1000);
                self.retry_later(None).await
            }
        };
        // Its next alarm not set, nothing would run this key's expiry again until one of
        // its ops that sets one: thrown, the handler is retried by the platform (with
        // backoff), which sets it then.
        if !armed {
            return Err(worker::Error::RustError(format!("key authority {}: its next alarm was not set", self.key_id)));
        }
        Response::ok("")
    }
}

impl KeyAuthority {
    /// The wire form of an answer: `{"Ok": ...}` or `{"Err": refusal}` (internal details are
    /// logged here and never leave).
    fn reply<T: Serialize>(&self, answer: Result<T, Error>) -> String {
        let wire = answer.map_err(|e| {
            let refusal = Refusal::from(&e);
            // Every error the wire has no form for reaches the caller as a 500 that points
            // here: an internal one, or one the rules should never return.
            if matches!(refusal, Refusal::Internal) {
                worker::console_error!("key authority {} {}: {e:?}", self.key_id, self.op.get());
            }
            refusal
        });
        serde_json::to_string(&wire).unwrap_or_else(|_| r#"{"Err":"internal"}"#.to_owned())
    }

    /// The rules over this object's tables (created on first use).
    fn authority(&self) -> Result<Authority<SqlTables>, Error> {
        let defaults = self.defaults.clone()?;
        self.create_tables()?;
        Ok(Authority::new(SqlTables::new(&self.state.storage()), defaults))
    }

    /// Creates this object's tables, once per instance.
    fn create_tables(&self) -> Result<(), Error> {
        if !self.schema_ready.get() {
            SqlTables::create(&self.state.storage())?;
            self.schema_ready.set(true);
        }
        Ok(())
    }

    /// Whether this object's tables exist (read only: creates nothing). It does not mark
    /// them ready: an object made before a table was added gets it at its next
    /// [`create_tables`](Self::create_tables).
    fn has_tables(&self) -> bool {
        self.schema_ready.get() || SqlTables::exist(&self.state.storage())
    }

    /// Runs `rule` in one transaction. Refusals keep their writes (a refused commit drops
    /// its reservation); an internal error rolls every write back.
    fn run<T>(&self, rule: impl FnOnce(&mut Authority<SqlTables>) -> Result<T, Error>) -> Result<T, Error> {
        let mut authority = self.authority()?;
        let outcome = transaction(&self.state.storage(), || match rule(&mut authority) {
            Err(err @ Error::Internal(_)) => Err(err),
            answer => Ok(answer),
        });
        if outcome.is_ok() && authority.retired_early > 0 {
            self.retired_early.set(true);
        }
        outcome?
    }

    async fn handle(&self, op: Op) -> String {
        let now = now_ms();
        let name = op.name();
        self.op.set(name);
        self.retired_early.set(false);
        // What the op may leave behind: objects doomed (deleted before the answer, so an
        // overwrite's or a delete's old bytes are gone once it is answered), and a time the
        // alarm must not sleep past.
        // A delete's answer says its bytes are gone (`download_url` reads R2 directly): one
        // whose object R2 kept answers 500; the bytes may serve until the alarm's retry.
        let mut deleted = None;
        let (answer, doomed, due) = match op {
            Op::Reserve { reservation } => {
                (self.reply(self.run(|a| a.reserve(reservation, now))), false, Some(now + RESERVATION_TTL_MS))
            }
            Op::Commit { file, key } => {
                let expires = file.expires_ms;
                let outcome = self.run(|a| a.commit_keyed(file, key.as_ref(), now));
                let doomed = !matches!(outcome, Ok(Committed::Stored { retired: None }));
                (self.reply(outcome.map(Committed::replayed)), doomed, Some(expires))
            }
            Op::Replayed { key } => return self.reply(self.run(|a| a.replayed(&key, now))),
            Op::BeginTry { key, try_id, lease_ms } => return self.reply(self.run(|a| a.begin_try(&key, &try_id, lease_ms, now))),
            Op::EndTry { key, try_id } => return self.reply(self.run(|a| a.end_try(&key, &try_id))),
            Op::RenewTry { key, try_id, lease_ms } => return self.reply(self.run(|a| a.renew_try(&key, &try_id, lease_ms, now))),
            Op::Release { file_id } => (self.reply(self.run(|a| a.release(&file_id))), true, None),
            Op::Delete { file_id } => {
                let outcome = self.run(|a| a.delete(&file_id, now));
                if outcome.is_ok() {
                    deleted = Some(file_id);
                }
                (self.reply(outcome), true, None)
            }
            // The operator's: a made-up key id is not given tables either.
            Op::TakeDown { .. } if !self.has_tables() => return self.reply::<()>(Err(Error::FileNotFound)),
            Op::Purge if !self.has_tables() => return self.reply::<()>(Err(Error::KeyNotFound)),
            Op::TakeDown { target } => (self.reply(self.run(|a| a.take_down(&target, now))), true, None),
            // The purged files go at once, a bounded run of expiry batches before the answer
            // (the alarm, re-armed at once, takes any left).
            // The answer says how many objects are still to go (`pending`).
            Op::Purge => {
                let purged = self.run(|a| a.purge(now));
                if let Err(e) = self.expire().await {
                    worker::console_error!("key authority {}: purge: {e:?}", self.key_id);
                    self.arm(Some(now_ms()), false).await;
                }
                let answer = purged.and_then(|p| Ok(Purged { pending: self.run(|a| a.backlog(now_ms()))?, ..p }));
                self.op.set(name); // another op may have been answered meanwhile
                return self.reply(answer);
            }
            Op::Get { file_id } => return self.reply(self.run(|a| a.get(&file_id, now))),
            // A download that retires its file leaves the object for a while (an hour, or
            // until its expiry): the Worker serving it opened it first and is still reading,
            // and no op of the key deletes it before then (drains take only due objects);
            // the alarm does.
            Op::Claim { file_id, count: false } => return self.reply(self.run(|a| a.claim(&file_id, false, now))),
            Op::Claim { file_id, count: true } => (self.reply(self.run(|a| a.claim(&file_id, true, now))), false, Some(now + CLAIMED_KEEP_MS)),
            Op::Resolve { upload_path, file_name } => {
                // Public (`file_url`): an object nobody has stored into is not given tables
                // by a stranger's request for a made-up key id.
                if !self.has_tables() {
                    return self.reply::<()>(Err(Error::FileNotFound));
                }
                return self.reply(self.run(|a| a.resolve(&upload_path, &file_name, now)));
            }
            Op::List { query } => return self.reply(self.run(|a| a.list(&query, now))),
            // Reads, unless they retired files past their expiry (`retired_early`).
            Op::Usage => (self.reply(self.run(|a| a.usage(now))), false, None),
            Op::Room { name } => {
                let name = name.as_ref().map(|(path, file)| (path.as_str(), file.as_str()));
                (self.reply(self.run(|a| a.room(name, now))), false, None)
            }
            // A revoked key's webhook secret goes with it, in the same transaction.
            Op::Configure { patch } => {
                let sql = self.state.storage().sql();
                return self.reply(self.run(|a| {
                    let standing = a.configure(&patch, now)?;
                    if standing.config.revoked {
                        key_secret::forget(&sql)?;
                    }
                    Ok(standing)
                }));
            }
            // A revoked key has no webhook secret, and gets none. (These ask the key's
            // standing, which may retire files past their expiry, as `Usage` does.)
            Op::SetWebhookSecret { secret } => {
                (self.reply(self.run(|a| a.usage(now)).and_then(|_| key_secret::set(&self.state.storage().sql(), &secret))), false, None)
            }
            Op::WebhookSecret => (self.reply(self.run(|a| a.usage(now)).and_then(|_| key_secret::get(&self.state.storage().sql()))), false, None),
            Op::JobStarted { job_id, at_ms } => {
                return self.reply(self.create_tables().and_then(|_| job_index::add(&self.state.storage().sql(), &job_id, at_ms)))
            }
            // A revoked key lists no jobs (the job index is the key's too).
            Op::Jobs { limit } => {
                let recent = self.run(|a| a.usage(now)).and_then(|_| job_index::recent(&self.state.storage().sql(), limit, now));
                (self.reply(recent), false, None)
            }
            Op::JobEnded { status } => {
                return self.reply(self.create_tables().and_then(|_| job_index::end(&self.state.storage().sql(), &status)))
            }
        };
        let doomed = doomed || self.retired_early.take();
        // A read that retired nothing: no object to delete, no time to wake at.
        if !doomed && due.is_none() {
            return answer;
        }
        // A delete R2 refused is tried once more at once: the answer waits for the bytes.
        let drained = !doomed || self.drain().await || self.drain().await;
        self.arm(due, drained).await;
        match deleted {
            Some(file_id) if !drained => {
                self.op.set(name);
                self.reply::<()>(Err(Error::internal(format!("delete of {file_id}: its object is still in R2 (the alarm retries)"))))
            }
            _ => answer,
        }
    }

    /// Deletes doomed objects, a batch per R2 call. Returns whether all went.
    async fn drain(&self) -> bool {
        let Ok(bucket) = &self.bucket else {
            worker::console_error!("key authority {}: no {BUCKET} binding", self.key_id);
            return false;
        };
        loop {
            let Ok(authority) = self.authority() else { return false };
            let doomed = match authority.tables.doomed(now_ms(), DELETE_BATCH) {
                Ok(ids) if ids.is_empty() => return true,
                Ok(ids) => ids,
                Err(e) => {
                    worker::console_error!("key authority {}: {e:?}", self.key_id);
                    return false;
                }
            };
            let keys = doomed.iter().map(|id| object_key(id)).collect();
            if let Err(e) = bucket.delete_multiple(keys).await {
                // The rows are gone already: these bytes are orphans until the retry.
                worker::console_warn!("key authority {}: deleting {} objects: {e}", self.key_id, doomed.len());
                return false;
            }
            if let Err(e) = authority.tables.undoom(&doomed, now_ms()) {
                // The objects are gone; their ids stay doomed and are deleted again (a no-op)
                // at the retry.
                worker::console_error!("key authority {}: forgetting {} deleted objects: {e:?}", self.key_id, doomed.len());
                return false;
            }
            if doomed.len() < DELETE_BATCH {
                return true;
            }
        }
    }

    /// Makes sure the alarm fires no later than `due`, nor later than a retry soon when
    /// doomed objects are left (`drained` false). An alarm that fires early finds nothing due
    /// and re-arms itself. Not known yet (this instance's first op that arms, or after an
    /// alarm ran), it is set by what the tables say is due too, whatever this op leaves: an
    /// alarm lost (a `set_alarm` that failed, an object reset between a transaction and its
    /// `set_alarm`) would otherwise wait for this op's own time, 72 hours ahead for a
    /// commit, and a delete the reset cut off (an overwritten file's old bytes, still served
    /// by its `download_url`) for the next expiry.
    ///
    /// Answers whether the alarm stands (set now, or set before for a time no later).
    async fn arm(&self, due: Option<i64>, drained: bool) -> bool {
        let retry = (!drained).then(|| now_ms() + RETRY_MS);
        let mut at = [due, retry].into_iter().flatten().min();
        if self.alarm_at.get().is_none() {
            self.alarm_at.set(self.state.storage().get_alarm().await.ok().flatten());
            if let Ok(Some(next)) = self.run(|a| a.next_due(now_ms())) {
                at = Some(at.map_or(next, |at| at.min(next)));
            }
        }
        let Some(at) = at else { return true };
        if self.alarm_at.get().is_some_and(|set| set <= at) {
            return true;
        }
        self.set_alarm(at).await
    }

    /// After an alarm whose work failed: the next try in RETRY_MS (or at `sooner`, a time
    /// still ahead at which something else is due). Not [`arm`](Self::arm),
    /// which would find the overdue rows in the tables and set the alarm at once, so the
    /// failing work would run again without pause for as long as the fault lasts. An alarm
    /// a request set meanwhile stays if it comes sooner, and is still ahead. Answers whether
    /// the alarm stands, as [`arm`](Self::arm) does.
    async fn retry_later(&self, sooner: Option<i64>) -> bool {
        let now = now_ms();
        let at = sooner.map_or(now + RETRY_MS, |sooner| sooner.min(now + RETRY_MS));
        if self.alarm_at.get().is_some_and(|set| set > now && set <= at) {
            return true;
        }
        self.set_alarm(at).await
    }

    /// Sets the alarm at `at`, or a millisecond from now if that has passed: set at or before
    /// the current time from inside `alarm()` (more batches due at once), local workerd
    /// drops it when the handler ends and production fires it late (workerd #6866).
    /// Answers whether it was set (a failure is logged).
    async fn set_alarm(&self, at: i64) -> bool {
        let at = at.max(now_ms() + 1);
        let when = ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(at as f64)));
        match self.state.storage().set_alarm(when).await {
            Ok(()) => {
                self.alarm_at.set(Some(at));
                true
            }
            Err(e) => {
                worker::console_error!("key authority {}: set alarm: {e}", self.key_id);
                false
            }
        }
    }

    /// The alarm's work: expired rows and abandoned reservations, in bounded batches; then
    /// the next alarm, answering whether it stands.
    async fn expire(&self) -> Result<bool, Error> {
        let now = now_ms();
        let mut drained = true;
        for _ in 0..ALARM_BATCHES {
            // Retired in SQL (their quota given back) even while R2 refuses deletes; their
            // objects wait for a run whose drain works, one refusal (and log line) a run.
            let retired = self.run(|a| a.expire(now, EXPIRY_BATCH))?;
            drained = drained && self.drain().await;
            if retired < EXPIRY_BATCH {
                break;
            }
        }
        let due = self.run(|a| a.next_due(now))?;
        let armed = if drained {
            self.arm(due, true).await
        } else {
            // Not at the overdue objects' time (at once, again and again): RETRY_MS on, or
            // sooner for a file due before then.
            self.retry_later(due.filter(|at| *at > now)).await
        };
        Ok(armed)
    }
}
