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

/// At most `limit` calls at once; clones share the slots.
#[derive(Clone)]
pub struct Gate(Rc<GateState>);

struct GateState {
    limit: usize,
    busy: Cell<usize>,
    peak: Cell<usize>,
    parked: Parked,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new(SLOTS)
    }
}

impl Gate {
    pub fn new(limit: usize) -> Gate {
        Gate(Rc::new(GateState { limit, busy: Cell::new(0), peak: Cell::new(0), parked: Parked::default() }))
    }

    /// Starts `call` once a slot is free and holds the slot until it settles (or is
    /// dropped). A call holding a slot must never need a second one to settle: then no
    /// set of holders can wait on each other.
    pub async fn call<F: Future>(&self, call: impl FnOnce() -> F) -> F::Output {
        let _slot = self.slot().await;
        call().await
    }

    /// A slot, held until the [`Slot`] is dropped: for a call started now and awaited later.
    pub async fn slot(&self) -> Slot {
        poll_fn(|cx| match self.try_slot() {
            Some(slot) => Poll::Ready(slot),
            None => {
                self.0.parked.park(cx.waker());
                Poll::Pending
            }
        })
        .await
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
        let state = &self.0;
        let busy = state.busy.get();
        if busy + n > state.limit && busy > 0 {
            return None;
        }
        state.busy.set(busy + n);
        state.peak.set(state.peak.get().max(busy + n));
        Some(Slot(state.clone(), n))
    }

    /// The most calls that ever ran at once.
    pub fn peak(&self) -> usize {
        self.0.peak.get()
    }
}

/// A gate's slots (one, or `n` taken at once); dropping it frees them.
pub struct Slot(Rc<GateState>, usize);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.busy.set(self.0.busy.get() - self.1);
        self.0.parked.wake_all();
    }
}

/// A [`Gate`] of units whose waiters take them first come, first served: a waiter takes
/// its units only once every waiter before it has taken theirs (or left), so a large one is
/// not passed over for ever by smaller ones that keep fitting, and callers that do not wait
/// take nothing while anyone waits. Waiters look again rather than being woken (in workerd
/// a request's task must not be woken from another's), so the queue is of places, not wakers.
pub struct FairGate {
    gate: Gate,
    queue: Rc<RefCell<VecDeque<u64>>>,
    next: Cell<u64>,
}

/// A waiter's place in a [`FairGate`]'s queue; dropping it leaves the queue (the waiter
/// took its units, or gave up).
pub struct Place {
    queue: Rc<RefCell<VecDeque<u64>>>,
    id: u64,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.queue.borrow_mut().retain(|id| *id != self.id);
    }
}

impl FairGate {
    pub fn new(limit: usize) -> FairGate {
        FairGate { gate: Gate::new(limit), queue: Rc::default(), next: Cell::new(0) }
    }

    /// A place at the end of the queue.
    pub fn enqueue(&self) -> Place {
        let id = self.next.get();
        self.next.set(id + 1);
        self.queue.borrow_mut().push_back(id);
        Place { queue: Rc::clone(&self.queue), id }
    }

    /// `n` units now for the waiter at `place` when it is first in the queue and they are
    /// free (as [`Gate::try_take`]), which ends its wait (its place is left); otherwise the
    /// place, to try again with.
    pub fn take_in_turn(&self, place: Place, n: usize) -> Result<Slot, Place> {
        let first = self.queue.borrow().front() == Some(&place.id);
        match first.then(|| self.gate.try_take(n)).flatten() {
            Some(slot) => Ok(slot),
            None => Err(place),
        }
    }

    /// `n` units now when nobody waits and they are free, for a caller that does something
    /// else rather than wait.
    pub fn try_take(&self, n: usize) -> Option<Slot> {
        if self.queue.borrow().is_empty() {
            self.gate.try_take(n)
        } else {
            None
        }
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
        let held = gate.try_take(8).expect("nobody waits: taken at once");
        // a large waiter first, then a small one that would fit now
        let large = gate.enqueue();
        let small = gate.enqueue();
        let small = gate.take_in_turn(small, 2).err().expect("the small one waits its turn, though 2 are free");
        let large = gate.take_in_turn(large, 6).err().expect("6 are not free yet");
        assert!(gate.try_take(1).is_none(), "a caller that does not wait takes nothing while others wait");
        drop(held);
        let large = gate.take_in_turn(large, 6).ok().expect("first in line, and free now");
        let small = gate.take_in_turn(small, 2).ok().expect("then the next");
        assert_eq!(gate.waiting(), 0);
        assert!(gate.try_take(3).is_none(), "8 of 10 held");
        drop((large, small));
        assert!(gate.try_take(10).is_some(), "nobody waits, all free");
    }

    #[test]
    fn a_waiter_that_gives_up_leaves_the_queue() {
        let gate = FairGate::new(4);
        let held = gate.try_take(4).unwrap();
        let first = gate.enqueue();
        let second = gate.enqueue();
        drop(held);
        let second = gate.take_in_turn(second, 1).err().expect("behind the first");
        drop(first); // its request was cancelled, or its time ran out
        assert_eq!(gate.waiting(), 1);
        assert!(gate.take_in_turn(second, 1).is_ok(), "first in line now");
        assert_eq!(gate.waiting(), 0);
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
