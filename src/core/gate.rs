//! Small single-threaded async primitives the ingest engine is built on: a [`Gate`]
//! that lets at most N calls run at once (the platform's six outbound calls waiting for
//! headers per request), or holds at most N units; a [`FairGate`] of units taken in their
//! waiters' order of arrival (an isolate's MiB of transfer buffers); and [`Notify`], on
//! which concurrent lanes wait for a condition (room for one more part waiting to be
//! hashed). Runtime-free, so host tests drive them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Outbound calls one request may have waiting for headers at once (Cloudflare: six).
pub const SLOTS: usize = 6;

/// Wakers parked until something changes.
#[derive(Default)]
struct Parked(RefCell<Vec<Waker>>);

impl Parked {
    /// Parks `waker`, once: a task polled again while it waits (as `join`ed lanes are, on
    /// each of their siblings' wakes) is not parked twice.
    fn park(&self, waker: &Waker) {
        let mut parked = self.0.borrow_mut();
        if !parked.iter().any(|w| w.will_wake(waker)) {
            parked.push(waker.clone());
        }
    }

    fn wake_all(&self) {
        let wakers = std::mem::take(&mut *self.0.borrow_mut());
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// At most `limit` calls at once; clones share the slots. A handle from [`Gate::first`]
/// takes a freed slot before the others' waiters.
#[derive(Clone)]
pub struct Gate(Rc<GateState>, bool);

struct GateState {
    limit: usize,
    busy: Cell<usize>,
    /// Slots held by streaming calls ([`Gate::streaming_call`]).
    streaming: Cell<usize>,
    peak: Cell<usize>,
    /// Callers of a [`Gate::first`] handle waiting for a slot: while there are any, no
    /// other caller takes one.
    first_waiting: Cell<usize>,
    /// Held units with a lease ([`Gate::try_take_leased`]), by id, and the next id.
    leases: RefCell<Vec<Lease>>,
    next_lease: Cell<u64>,
    parked: Parked,
}

/// Units held until `until_ms` at the latest: past it, their holder is taken for gone (a
/// request the runtime cancelled without dropping its future, which a transfer past its
/// deadline is) and the units go back to the gate.
struct Lease {
    id: u64,
    units: usize,
    until_ms: i64,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new(SLOTS)
    }
}

impl Gate {
    pub fn new(limit: usize) -> Gate {
        let state = GateState {
            limit,
            busy: Cell::new(0),
            streaming: Cell::new(0),
            peak: Cell::new(0),
            first_waiting: Cell::new(0),
            leases: RefCell::default(),
            next_lease: Cell::new(0),
            parked: Parked::default(),
        };
        Gate(Rc::new(state), false)
    }

    /// A handle on the same slots whose callers take a freed slot before any other waiter:
    /// for a call that must not wait behind the request's own (a renewal whose lease runs
    /// out). Its calls must need nothing more to settle, as a [`Gate::call`]'s.
    pub fn first(&self) -> Gate {
        Gate(self.0.clone(), true)
    }

    /// Starts `call` once a slot is free and holds the slot until it settles (or is
    /// dropped). A call holding a slot must never need a second one to settle (unless it
    /// is a [`Gate::streaming_call`]): then no set of holders can wait on each other.
    pub async fn call<F: Future>(&self, call: impl FnOnce() -> F) -> F::Output {
        let _slot = self.slot().await;
        call().await
    }

    /// Like [`Gate::call`], for a call that runs as long as its body streams and, while it
    /// runs, may need one more slot at a time for a [`Gate::call`] (an upload fed from
    /// ranges that it opens and resumes). At most `limit - 1` slots are held by streaming
    /// calls, so one is always left for the calls they wait on, which need nothing more:
    /// no set of holders can wait on each other.
    pub async fn streaming_call<F: Future>(&self, call: impl FnOnce() -> F) -> F::Output {
        let _slot = self.once_free(|| self.try_streaming_slot()).await;
        call().await
    }

    /// A slot, held until the [`Slot`] is dropped: for a call started now and awaited later.
    pub async fn slot(&self) -> Slot {
        if !self.1 {
            return self.once_free(|| self.try_slot()).await;
        }
        if let Some(slot) = self.take(1, true) {
            return slot;
        }
        let _waiting = FirstWaiting::new(&self.0);
        self.once_free(|| self.take(1, true)).await
    }

    /// What `take` answers, once it answers something: tried now, and again each time a
    /// slot is freed.
    async fn once_free<T>(&self, take: impl Fn() -> Option<T>) -> T {
        poll_fn(|cx| match take() {
            Some(taken) => Poll::Ready(taken),
            None => {
                self.0.parked.park(cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    /// A streaming call's slot now, unless all are taken or `limit - 1` streaming calls
    /// hold theirs.
    fn try_streaming_slot(&self) -> Option<Streaming> {
        let state = &self.0;
        let slot = (state.streaming.get() + 1 < state.limit).then(|| self.try_slot())??;
        state.streaming.set(state.streaming.get() + 1);
        Some(Streaming(slot))
    }

    /// A slot now, or `None` when all are taken (for a caller that does something else
    /// rather than wait).
    pub fn try_slot(&self) -> Option<Slot> {
        self.try_take(1)
    }

    /// `n` slots at once now, or `None` when they are not free (a gate counting units of
    /// something, such as MiB of buffers). More than the limit is taken only when nothing
    /// is held: one holder larger than the gate still runs, alone.
    pub fn try_take(&self, n: usize) -> Option<Slot> {
        self.take(n, self.1)
    }

    /// [`try_take`](Self::try_take), the units held until the slot is dropped or `until_ms`,
    /// whichever comes first: from then on they are free again, whatever became of their
    /// holder (whose slot, dropped later, frees nothing more). Leases past their end are
    /// ended first (`now_ms`).
    pub fn try_take_leased(&self, n: usize, until_ms: i64, now_ms: i64) -> Option<Slot> {
        self.end_leases(now_ms);
        self.take_leased(n, until_ms)
    }

    /// [`try_take_leased`](Self::try_take_leased), the leases past their end already ended.
    fn take_leased(&self, n: usize, until_ms: i64) -> Option<Slot> {
        let mut slot = self.take(n, self.1)?;
        let state = &self.0;
        let id = state.next_lease.get();
        state.next_lease.set(id + 1);
        state.leases.borrow_mut().push(Lease { id, units: n, until_ms });
        slot.2 = Some(id);
        Some(slot)
    }

    /// Frees the units of every lease that ended before `now_ms`.
    fn end_leases(&self, now_ms: i64) {
        let state = &self.0;
        let mut ended = 0;
        state.leases.borrow_mut().retain(|lease| {
            let alive = lease.until_ms >= now_ms;
            ended += if alive { 0 } else { lease.units };
            alive
        });
        if ended > 0 {
            state.busy.set(state.busy.get() - ended);
            state.parked.wake_all();
        }
    }

    /// [`try_take`](Self::try_take); `first`: for a [`Gate::first`] caller, which waiters of
    /// its kind do not hold back.
    fn take(&self, n: usize, first: bool) -> Option<Slot> {
        let state = &self.0;
        if !first && state.first_waiting.get() > 0 {
            return None;
        }
        let busy = state.busy.get();
        if busy + n > state.limit && busy > 0 {
            return None;
        }
        state.busy.set(busy + n);
        state.peak.set(state.peak.get().max(busy + n));
        Some(Slot(state.clone(), n, None))
    }

    /// The most calls that ever ran at once.
    pub fn peak(&self) -> usize {
        self.0.peak.get()
    }
}

/// A gate's slots (one, or `n` taken at once), and their lease if they have one; dropping
/// it frees them (unless their lease ended, which freed them already).
pub struct Slot(Rc<GateState>, usize, Option<u64>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(id) = self.2 {
            let mut leases = self.0.leases.borrow_mut();
            let Some(at) = leases.iter().position(|lease| lease.id == id) else { return };
            leases.swap_remove(at);
        }
        self.0.busy.set(self.0.busy.get() - self.1);
        self.0.parked.wake_all();
    }
}

/// A [`Gate::first`] caller waiting for a slot, counted while it waits; when it stops
/// (it took one, or gave up), the other waiters look again.
struct FirstWaiting(Rc<GateState>);

impl FirstWaiting {
    fn new(state: &Rc<GateState>) -> FirstWaiting {
        state.first_waiting.set(state.first_waiting.get() + 1);
        FirstWaiting(state.clone())
    }
}

impl Drop for FirstWaiting {
    fn drop(&mut self) {
        self.0.first_waiting.set(self.0.first_waiting.get() - 1);
        self.0.parked.wake_all();
    }
}

/// A streaming call's slot.
struct Streaming(Slot);

impl Drop for Streaming {
    fn drop(&mut self) {
        // counted out before the slot itself goes (and wakes the waiters)
        let state = &(self.0).0;
        state.streaming.set(state.streaming.get() - 1);
    }
}

/// A [`Gate`] of units whose waiters are served first come, first served: a waiter takes
/// its units only while the units of every waiter before it would still fit (the first
/// takes as [`Gate::try_take`] does), so a large one is not passed over for ever by smaller
/// ones that keep fitting, and a caller that does not wait takes only what the waiters
/// leave. Waiters look again rather than being woken (in workerd a request's task must not
/// be woken from another's), so the queue holds their places and when each last looked:
/// one that has not looked for [`GONE_MS`] is taken for gone (a request the runtime
/// cancelled without dropping its future) and loses its place.
pub struct FairGate {
    gate: Gate,
    queue: Rc<RefCell<VecDeque<Waiting>>>,
    next: Cell<u64>,
}

/// A waiter not seen for this long has lost its place in a [`FairGate`]'s queue.
pub const GONE_MS: i64 = 2_000;

/// A place in a [`FairGate`]'s queue: who, how many units, when it last looked.
struct Waiting {
    id: u64,
    units: usize,
    seen_ms: i64,
}

/// A waiter's place in a [`FairGate`]'s queue; dropping it leaves the queue (the waiter
/// took its units, or gave up).
pub struct Place {
    queue: Rc<RefCell<VecDeque<Waiting>>>,
    id: u64,
    units: usize,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.queue.borrow_mut().retain(|w| w.id != self.id);
    }
}

impl FairGate {
    pub fn new(limit: usize) -> FairGate {
        FairGate { gate: Gate::new(limit), queue: Rc::default(), next: Cell::new(0) }
    }

    /// A place at the end of the queue, for `units`.
    pub fn enqueue(&self, units: usize, now_ms: i64) -> Place {
        let id = self.next.get();
        self.next.set(id + 1);
        self.queue.borrow_mut().push_back(Waiting { id, units, seen_ms: now_ms });
        Place { queue: Rc::clone(&self.queue), id, units }
    }

    /// The units for the waiter at `place` now, if its turn allows and they are free,
    /// which ends its wait (its place is left), held until `until_ms` at the latest (see
    /// [`Gate::try_take_leased`]); otherwise the place, to look again with. A place lost
    /// for not looking goes to the end of the queue.
    pub fn take_in_turn(&self, place: Place, until_ms: i64, now_ms: i64) -> Result<Slot, Place> {
        let ahead = {
            let mut queue = self.queue.borrow_mut();
            queue.retain(|w| w.id == place.id || now_ms - w.seen_ms < GONE_MS);
            match queue.iter().position(|w| w.id == place.id) {
                Some(at) => {
                    queue[at].seen_ms = now_ms;
                    Some(queue.iter().take(at).map(|w| w.units).sum::<usize>())
                }
                None => {
                    queue.push_back(Waiting { id: place.id, units: place.units, seen_ms: now_ms });
                    None
                }
            }
        };
        let slot = ahead.and_then(|units| self.try_beside(units, place.units, until_ms, now_ms));
        slot.ok_or(place)
    }

    /// `units` now, if they are free beside what the waiters need, held until `until_ms`
    /// at the latest, for a caller that does something else rather than wait.
    pub fn try_take(&self, units: usize, until_ms: i64, now_ms: i64) -> Option<Slot> {
        let waiting = {
            let mut queue = self.queue.borrow_mut();
            queue.retain(|w| now_ms - w.seen_ms < GONE_MS);
            queue.iter().map(|w| w.units).sum::<usize>()
        };
        self.try_beside(waiting, units, until_ms, now_ms)
    }

    /// `units`, when they fit beside those held and `kept` more (with nothing kept, as
    /// [`Gate::try_take`] takes them), leased until `until_ms`.
    fn try_beside(&self, kept: usize, units: usize, until_ms: i64, now_ms: i64) -> Option<Slot> {
        self.gate.end_leases(now_ms);
        let state = &self.gate.0;
        let fits = kept == 0 || state.busy.get() + kept + units <= state.limit;
        fits.then(|| self.gate.take_leased(units, until_ms)).flatten()
    }

    /// How many wait.
    pub fn waiting(&self) -> usize {
        self.queue.borrow().len()
    }
}

/// Waiters for a condition that other tasks change: [`Notify::until`] the condition
/// holds; whoever changes it calls [`Notify::notify`].
#[derive(Clone, Default)]
pub struct Notify(Rc<Parked>);

impl Notify {
    /// Resolves once `holds()` is true (checked now, and after each notification).
    pub async fn until(&self, holds: impl Fn() -> bool) {
        poll_fn(|cx| {
            if holds() {
                Poll::Ready(())
            } else {
                self.0.park(cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    /// Something changed: every waiter checks its condition again.
    pub fn notify(&self) {
        self.0.wake_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::LocalPool;
    use futures_util::task::LocalSpawnExt;

    /// A lease that never ends.
    const FAR: i64 = i64::MAX;

    /// A future that stays pending for `polls` polls (a call in flight).
    async fn busy(polls: usize) {
        let mut left = polls;
        poll_fn(|cx| {
            if left == 0 {
                return Poll::Ready(());
            }
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    #[test]
    fn a_gate_never_runs_more_than_its_limit() {
        let mut pool = LocalPool::new();
        let gate = Gate::new(3);
        let running = Rc::new(Cell::new(0usize));
        let most = Rc::new(Cell::new(0usize));
        let finished = Rc::new(Cell::new(0usize));
        for i in 0..20 {
            let (gate, running, most, finished) = (gate.clone(), running.clone(), most.clone(), finished.clone());
            pool.spawner()
                .spawn_local(async move {
                    gate.call(|| async {
                        running.set(running.get() + 1);
                        most.set(most.get().max(running.get()));
                        busy(i % 4 + 1).await;
                        running.set(running.get() - 1);
                    })
                    .await;
                    finished.set(finished.get() + 1);
                })
                .unwrap();
        }
        pool.run();
        assert_eq!(finished.get(), 20);
        assert_eq!((most.get(), gate.peak()), (3, 3));
    }

    #[test]
    fn a_first_caller_takes_the_next_freed_slot_before_earlier_waiters() {
        // Two slots held, three plain callers waiting, then a renewal: the first slot freed
        // is the renewal's, though the others asked before it; then they go on.
        let mut pool = LocalPool::new();
        let gate = Gate::new(2);
        let order = Rc::new(RefCell::new(Vec::new()));
        let holders: Vec<Slot> = (0..2).map(|_| gate.try_slot().unwrap()).collect();
        for name in ["a", "b", "c"] {
            let (gate, order) = (gate.clone(), order.clone());
            pool.spawner().spawn_local(async move { gate.call(|| async { order.borrow_mut().push(name) }).await }).unwrap();
        }
        pool.run_until_stalled();
        let (first, seen) = (gate.first(), order.clone());
        pool.spawner().spawn_local(async move { first.call(|| async { seen.borrow_mut().push("renewal") }).await }).unwrap();
        pool.run_until_stalled();
        assert!(order.borrow().is_empty(), "every slot still held");
        let mut holders = holders.into_iter();
        drop(holders.next());
        pool.run_until_stalled();
        assert_eq!(order.borrow().first(), Some(&"renewal"), "{:?}", order.borrow());
        drop(holders);
        pool.run();
        assert_eq!(order.borrow().len(), 4, "the others went on: {:?}", order.borrow());
        // With a slot free, a first caller takes it at once, and holds no one back after.
        let (first, plain) = (gate.first(), gate.clone());
        assert!(first.try_slot().is_some() && plain.try_slot().is_some());
    }

    #[test]
    fn streaming_calls_always_leave_a_slot_for_the_calls_they_need() {
        // Every upload holds a slot while its stream runs, and twice needs one more call
        // meanwhile (a range to resume from): with plain calls, six uploads would hold all
        // six slots and wait for ever.
        let mut pool = LocalPool::new();
        let gate = Gate::new(SLOTS);
        let streaming = Rc::new(Cell::new(0usize));
        let most_streaming = Rc::new(Cell::new(0usize));
        let finished = Rc::new(Cell::new(0usize));
        for i in 0..12 {
            let (gate, streaming, most_streaming, finished) = (gate.clone(), streaming.clone(), most_streaming.clone(), finished.clone());
            pool.spawner()
                .spawn_local(async move {
                    gate.streaming_call(|| async {
                        streaming.set(streaming.get() + 1);
                        most_streaming.set(most_streaming.get().max(streaming.get()));
                        for _ in 0..2 {
                            busy(i % 3 + 1).await;
                            gate.call(|| busy(2)).await;
                        }
                        streaming.set(streaming.get() - 1);
                    })
                    .await;
                    finished.set(finished.get() + 1);
                })
                .unwrap();
        }
        pool.run_until_stalled();
        assert_eq!(finished.get(), 12, "every upload settled");
        assert_eq!(most_streaming.get(), SLOTS - 1, "one slot left to the calls they wait on");
        assert_eq!(gate.peak(), SLOTS);
        assert_eq!(gate.0.streaming.get(), 0);
        assert!(gate.try_take(SLOTS).is_some(), "every slot free again");
    }

    #[test]
    fn a_waiter_polled_again_is_parked_once() {
        let gate = Gate::new(1);
        let _held = gate.try_slot().unwrap();
        let mut waiting = Box::pin(gate.slot());
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        for _ in 0..5 {
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(gate.0.parked.0.borrow().len(), 1);
    }

    #[test]
    fn try_slot_takes_a_free_slot_or_none() {
        let gate = Gate::new(1);
        let held = gate.try_slot().expect("a free slot");
        assert!(gate.try_slot().is_none(), "the only slot is held");
        drop(held);
        assert!(gate.try_slot().is_some(), "free again once dropped");
        assert_eq!(gate.peak(), 1);
    }

    #[test]
    fn try_take_counts_units_and_lets_one_oversized_holder_run_alone() {
        let gate = Gate::new(10);
        let five = gate.try_take(5).expect("5 of 10 free");
        let four = gate.try_take(4).expect("4 more fit");
        assert!(gate.try_take(2).is_none(), "9 held: 2 more do not fit");
        assert!(gate.try_slot().is_some(), "1 does");
        drop(five);
        assert!(gate.try_take(12).is_none(), "more than the limit while anything is held");
        drop(four);
        let big = gate.try_take(12).expect("alone, a holder larger than the gate runs");
        assert!(gate.try_slot().is_none(), "and nothing beside it");
        drop(big);
        assert_eq!(gate.peak(), 12);
        assert!(gate.try_take(10).is_some(), "all of it free again");
    }

    #[test]
    fn a_fair_gate_serves_its_waiters_in_their_order_of_arrival() {
        let gate = FairGate::new(10);
        let held = gate.try_take(8, FAR, 0).expect("nobody waits: taken at once");
        // a large waiter first, then a small one that would fit now
        let large = gate.enqueue(6, 0);
        let small = gate.enqueue(2, 0);
        let small = gate.take_in_turn(small, FAR, 0).err().expect("the small one waits: the large one's 6 come first");
        let large = gate.take_in_turn(large, FAR, 0).err().expect("6 are not free yet");
        assert!(gate.try_take(1, FAR, 0).is_none(), "a caller that does not wait takes nothing the waiters need");
        drop(held);
        // the small one looks first: the 6 ahead of it and its 2 fit, so it need not wait
        let small = gate.take_in_turn(small, FAR, 10).ok().expect("room for both");
        let large = gate.take_in_turn(large, FAR, 10).ok().expect("and the first in line");
        assert_eq!(gate.waiting(), 0);
        assert!(gate.try_take(3, FAR, 10).is_none(), "8 of 10 held");
        assert!(gate.try_take(2, FAR, 10).is_some(), "2 free, nobody waits");
        drop((large, small));
    }

    #[test]
    fn beside_the_waiters_a_caller_takes_only_what_they_leave() {
        let gate = FairGate::new(20);
        let held = gate.try_take(15, FAR, 0).unwrap();
        let waiter = gate.enqueue(10, 0);
        let waiter = gate.take_in_turn(waiter, FAR, 0).err().expect("10 are not free");
        assert!(gate.try_take(1, FAR, 0).is_none(), "15 held and 10 owed: none left");
        drop(held);
        let beside = gate.try_take(10, FAR, 1).expect("10 owed and 10 more fit");
        assert!(gate.try_take(1, FAR, 1).is_none(), "and not one more");
        assert!(gate.take_in_turn(waiter, FAR, 1).is_ok());
        drop(beside);
    }

    #[test]
    fn a_waiter_that_gives_up_or_stops_looking_leaves_the_queue() {
        let gate = FairGate::new(4);
        let held = gate.try_take(4, FAR, 0).unwrap();
        let first = gate.enqueue(4, 0);
        let second = gate.enqueue(1, 0);
        drop(held);
        let second = gate.take_in_turn(second, FAR, 0).err().expect("the first's 4 come first");
        drop(first); // its request was cancelled, or its time ran out
        assert_eq!(gate.waiting(), 1);
        let one = gate.take_in_turn(second, FAR, 0).ok().expect("first in line now");
        assert_eq!(gate.waiting(), 0);

        // a waiter whose request the runtime dropped without dropping its future: it never
        // looks again, and once GONE_MS passed it holds nobody up
        let stuck = gate.enqueue(4, 100);
        let next = gate.enqueue(2, 100);
        let next = gate.take_in_turn(next, FAR, 100 + GONE_MS - 1).err().expect("behind the stuck one, which may still look");
        assert!(gate.try_take(1, FAR, 100 + GONE_MS - 1).is_none());
        drop(one);
        let two = gate.take_in_turn(next, FAR, 100 + GONE_MS + 1).ok().expect("the stuck one is gone");
        assert_eq!(gate.waiting(), 0, "the stuck one lost its place");
        // should it look again after all, it is at the end of the queue
        let stuck = gate.take_in_turn(stuck, FAR, 100 + GONE_MS + 2).err().expect("2 held, 4 not free beside them");
        assert_eq!(gate.waiting(), 1);
        drop(two);
        assert!(gate.take_in_turn(stuck, FAR, 100 + GONE_MS + 3).is_ok());
        assert_eq!(gate.waiting(), 0);
    }

    #[test]
    fn units_whose_lease_ended_are_free_again_and_freed_once() {
        // A transfer whose request the runtime cancelled without dropping its future holds
        // its buffers for ever: its lease gives them back at its end.
        let gate = FairGate::new(10);
        let dead = gate.try_take(6, 1_000, 0).expect("free");
        let live = gate.try_take(4, FAR, 0).expect("free");
        assert!(gate.try_take(1, FAR, 1_000).is_none(), "the lease runs to its end, inclusive");
        let after = gate.try_take(6, FAR, 1_001).expect("the ended lease's units are free again");
        assert!(gate.try_take(1, FAR, 1_001).is_none(), "10 of 10 held");
        // should the holder wake after all, dropping its slot frees nothing twice
        drop(dead);
        assert!(gate.try_take(1, FAR, 1_002).is_none(), "still 10 of 10 held");
        drop((live, after));
        assert!(gate.try_take(10, FAR, 1_003).is_some(), "all free");
        // a waiter in line is served once a lease ahead of it ends
        let stuck = gate.try_take(8, 2_000, 1_004).expect("free");
        let waiter = gate.enqueue(5, 1_500);
        let waiter = gate.take_in_turn(waiter, FAR, 1_999).err().expect("8 held: 5 not free");
        assert!(gate.take_in_turn(waiter, FAR, 2_001).is_ok(), "the lease ended");
        drop(stuck);
    }

    #[test]
    fn waiters_go_on_once_their_condition_holds() {
        let mut pool = LocalPool::new();
        let notify = Notify::default();
        let level = Rc::new(Cell::new(0u32));
        let woke = Rc::new(RefCell::new(Vec::new()));
        for want in [3u32, 1, 2] {
            let (notify, level, woke) = (notify.clone(), level.clone(), woke.clone());
            pool.spawner()
                .spawn_local(async move {
                    notify.until(|| level.get() >= want).await;
                    woke.borrow_mut().push((want, level.get()));
                })
                .unwrap();
        }
        let (notify2, level2) = (notify.clone(), level.clone());
        pool.spawner()
            .spawn_local(async move {
                for _ in 0..3 {
                    busy(2).await;
                    level2.set(level2.get() + 1);
                    notify2.notify();
                }
            })
            .unwrap();
        pool.run();
        assert_eq!(*woke.borrow(), vec![(1, 1), (2, 2), (3, 3)], "each woke when its level was reached");
    }
}
