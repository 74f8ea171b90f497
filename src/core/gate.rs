//! Two small single-threaded async primitives the ingest engine is built on: a [`Gate`]
//! that lets at most N calls run at once (the platform's six outbound calls waiting for
//! headers per request), and [`Turns`] that lets concurrent lanes take turns in order
//! (hashing parts in file order). Runtime-free, so host tests drive them.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Outbound calls one request may have waiting for headers at once (Cloudflare: six).
pub const SLOTS: usize = 6;

/// Wakers parked until something changes.
#[derive(Default)]
struct Parked(RefCell<Vec<Waker>>);

impl Parked {
    fn park(&self, waker: &Waker) {
        self.0.borrow_mut().push(waker.clone());
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
        let state = &self.0;
        poll_fn(|cx| {
            if state.busy.get() < state.limit {
                state.busy.set(state.busy.get() + 1);
                state.peak.set(state.peak.get().max(state.busy.get()));
                Poll::Ready(())
            } else {
                state.parked.park(cx.waker());
                Poll::Pending
            }
        })
        .await;
        Slot(self.0.clone())
    }

    /// The most calls that ever ran at once.
    pub fn peak(&self) -> usize {
        self.0.peak.get()
    }
}

/// One of a gate's slots; dropping it frees the slot.
pub struct Slot(Rc<GateState>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.busy.set(self.0.busy.get() - 1);
        self.0.parked.wake_all();
    }
}

/// Turns taken in order 0, 1, 2, ...: [`Turns::wait`] for yours, then [`Turns::done`].
#[derive(Clone, Default)]
pub struct Turns(Rc<TurnState>);

#[derive(Default)]
struct TurnState {
    next: Cell<u64>,
    parked: Parked,
}

impl Turns {
    /// Resolves once every turn before `turn` is done.
    pub async fn wait(&self, turn: u64) {
        let state = &self.0;
        poll_fn(|cx| {
            if state.next.get() >= turn {
                Poll::Ready(())
            } else {
                state.parked.park(cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    /// Ends the current turn.
    pub fn done(&self) {
        self.0.next.set(self.0.next.get() + 1);
        self.0.parked.wake_all();
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
    fn turns_are_taken_in_order_whatever_order_lanes_arrive_in() {
        let mut pool = LocalPool::new();
        let turns = Turns::default();
        let order = Rc::new(RefCell::new(Vec::new()));
        for turn in [3u64, 0, 4, 2, 1] {
            let (turns, order) = (turns.clone(), order.clone());
            pool.spawner()
                .spawn_local(async move {
                    busy((5 - turn) as usize).await;
                    turns.wait(turn).await;
                    order.borrow_mut().push(turn);
                    busy(1).await;
                    turns.done();
                })
                .unwrap();
        }
        pool.run();
        assert_eq!(*order.borrow(), vec![0, 1, 2, 3, 4]);
    }
}
