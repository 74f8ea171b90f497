//! The transfer buffers this isolate holds at once, in MiB, within a budget well inside the
//! platform's 128 MB per isolate (which local workerd does not enforce): every transfer
//! that buffers takes its share before it starts (a streamed put its few chunks, a body
//! without a length its two part buffers, parallel lanes their parts), so that many uploads
//! at once in one isolate wait their turn instead of the isolate being ended for its memory,
//! with every request in it. What a transfer takes is leased: a request the runtime
//! cancelled without dropping its future (a client that went away mid-upload) never gives
//! its buffers back itself, so they go back at its deadline and a minute.

use std::time::Duration;

use worker::Delay;

use super::js::now_ms;
use super::origin::WorkerOrigin;
use crate::core::gate::{FairGate, Slot};
use crate::core::Error;

/// MiB of transfer buffers an isolate may hold at once: the rest of its 128 MB is the
/// wasm and JS heaps, and the runtime's own buffers.
pub(crate) const BUDGET_MIB: usize = 80;

/// `bytes` in the budget's unit, MiB, rounded up.
pub(crate) const fn mib(bytes: u64) -> usize {
    bytes.div_ceil(1024 * 1024) as usize
}

/// How often a waiting request looks again. It looks rather than being woken: a request's
/// task must not be woken from another request's.
const STEP_MS: u64 = 25;

thread_local! {
    static BUFFERS: FairGate = FairGate::new(BUDGET_MIB);
}

/// How long after its deadline a transfer may still be finishing (its last part going up,
/// its commit): its buffers' lease ends then.
const AFTER_DEADLINE_MS: i64 = 60_000;

/// The end of the lease on what a transfer under `origin` takes: its deadline and a minute.
pub(crate) fn lease_end(origin: &WorkerOrigin) -> i64 {
    origin.started_ms() + i64::try_from(origin.timeout_ms()).unwrap_or(i64::MAX / 2) + AFTER_DEADLINE_MS
}

/// The end of the lease on what a job's invocation takes now: the platform ends an alarm's
/// invocation after 15 minutes (a job's own stops taking parts after 12, its stream after 13).
pub(crate) fn invocation_lease_end() -> i64 {
    now_ms() + 15 * 60_000 + AFTER_DEADLINE_MS
}

/// `mib` MiB of the budget now, leased until `until_ms`, or `None` when they are not free
/// beside what waiting uploads need (a job then tries again later; parallel lanes keep to
/// one stream).
pub(crate) fn try_take(mib: usize, until_ms: i64) -> Option<Slot> {
    BUFFERS.with(|budget| budget.try_take(mib, until_ms, now_ms()))
}

/// `mib` MiB of the budget, waited for in the order the uploads came until half the
/// upload's time is gone: then 503 ([`Error::Busy`]); a cancel ends the wait sooner (the
/// error it means).
pub(crate) async fn take(mib: usize, origin: &WorkerOrigin) -> Result<Slot, Error> {
    let until = origin.started_ms() + i64::try_from(origin.timeout_ms() / 2).unwrap_or(i64::MAX);
    let lease = lease_end(origin);
    let mut place = BUFFERS.with(|budget| budget.enqueue(mib, now_ms()));
    loop {
        place = match BUFFERS.with(|budget| budget.take_in_turn(place, lease, now_ms())) {
            Ok(slot) => return Ok(slot),
            Err(place) => place,
        };
        if origin.signal().aborted() {
            return Err(origin.failure(Error::OriginBroken));
        }
        if now_ms() >= until {
            return Err(Error::Busy);
        }
        Delay::from(Duration::from_millis(STEP_MS)).await;
    }
}
