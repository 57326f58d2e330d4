//! Epoch reshuffles made ahead on a second thread.
//!
//! A minibatch sampler reshuffles its sample order once per epoch, and the
//! reshuffle depends only on the previous order and the data generator, never on
//! the iterate. So a helper thread, given the sampler's order and generator once,
//! can make every later reshuffle on a copy of its own, while the solver's thread
//! runs the epoch's steps. At each epoch's end the solver takes the helper's
//! order and generator state if they are ready, which are exactly what
//! reshuffling in place would give; if not, it reshuffles in place and drops the
//! helper's result for that epoch when it comes. Results never change by a bit,
//! and the sampler's own state (what checkpoints save) is always complete.
//!
//! On a5a (n = 26,147, batch 32) a reshuffle is about a tenth of the epoch's
//! work on the solver's thread.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rand::seq::SliceRandom;

use crate::rng::MastRng;

/// Reshuffle number `index` (counted from the helper's start): the order and
/// the generator after it.
struct Shuffled {
    index: u64,
    order: Vec<usize>,
    rng: MastRng,
}

/// What the sampler and the helper share.
#[derive(Default)]
struct Shared {
    /// The reshuffle the sampler needs next.
    wanted: u64,
    /// The helper's result for `wanted`, once made.
    ready: Option<Shuffled>,
    /// Order buffers to reuse.
    spare: Vec<Vec<usize>>,
    closed: bool,
}

/// Reshuffles of a sampler's order, made ahead by a helper thread.
pub(crate) struct ShuffleAhead {
    shared: Arc<(Mutex<Shared>, Condvar)>,
    worker: Option<JoinHandle<()>>,
    /// Reshuffles taken from the helper (for tests).
    pub(crate) taken: u64,
}

impl std::fmt::Debug for ShuffleAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShuffleAhead")
            .field("taken", &self.taken)
            .finish()
    }
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic elsewhere cannot leave `Shared` half-written: take it as it is.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ShuffleAhead {
    /// A helper making the reshuffles of `order` with `rng` (the sampler's state
    /// now) from the next one on.
    pub(crate) fn start(order: &[usize], rng: &MastRng) -> Self {
        Self::with_helper(order, rng, true)
    }

    /// As [`ShuffleAhead::start`]; without a helper when `helper` is false (every
    /// reshuffle then made in place: the path taken when the helper falls behind).
    fn with_helper(order: &[usize], rng: &MastRng, helper: bool) -> Self {
        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let theirs = Arc::clone(&shared);
        let (mut shadow, mut g) = (order.to_vec(), rng.clone());
        let builder = helper.then(|| std::thread::Builder::new().name("mast-shuffle-ahead".into()));
        let worker = builder.and_then(|builder| {
            builder
                .spawn(move || {
                    let (m, cv) = &*theirs;
                    // The helper's copy has had `next` reshuffles: it makes
                    // reshuffle `next` when the sampler will need it, or one after
                    // (it then catches up one made in place).
                    for next in 0u64.. {
                        let mut spare = {
                            let mut s = lock(m);
                            while !s.closed && s.wanted < next {
                                s = cv.wait(s).unwrap_or_else(|e| e.into_inner());
                            }
                            if s.closed {
                                return;
                            }
                            s.spare.pop()
                        };
                        shadow.shuffle(&mut g);
                        let mut s = lock(m);
                        if s.wanted == next {
                            let mut copy = spare.take().unwrap_or_default();
                            copy.clear();
                            copy.extend_from_slice(&shadow);
                            let old = s.ready.replace(Shuffled {
                                index: next,
                                order: copy,
                                rng: g.clone(),
                            });
                            s.spare.extend(old.map(|o| o.order));
                        }
                        s.spare.extend(spare);
                    }
                })
                .ok()
        });
        ShuffleAhead {
            shared,
            worker,
            taken: 0,
        }
    }

    /// Reshuffles `order` with `rng`: takes the helper's result where it is
    /// ready, else shuffles in place. Either way the same order and generator.
    pub(crate) fn reshuffle(&mut self, order: &mut Vec<usize>, rng: &mut MastRng) {
        let (m, cv) = &*self.shared;
        let mut s = lock(m);
        let wanted = s.wanted;
        let done = match s.ready.take() {
            Some(r) if r.index == wanted => {
                let old = std::mem::replace(order, r.order);
                *rng = r.rng;
                s.spare.push(old);
                self.taken += 1;
                true
            }
            other => {
                s.spare.extend(other.map(|r| r.order));
                false
            }
        };
        s.wanted = wanted + 1;
        drop(s);
        cv.notify_one();
        if !done {
            order.shuffle(rng);
        }
    }
}

impl Drop for ShuffleAhead {
    fn drop(&mut self) {
        let (m, cv) = &*self.shared;
        lock(m).closed = true;
        cv.notify_one();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    /// Runs 40 reshuffles through `ahead` and in place side by side; `pause`
    /// gives the helper time before every fourth.
    fn side_by_side(helper: bool, pause: bool) -> u64 {
        let start: Vec<usize> = (0..1000).collect();
        let rng0 = stream(5, Stream::Data);
        let (mut order, mut rng) = (start.clone(), rng0.clone());
        let mut ahead = ShuffleAhead::with_helper(&start, &rng0, helper);
        let (mut plain_order, mut plain_rng) = (start, rng0);
        for epoch in 0..40 {
            if pause && epoch % 4 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            ahead.reshuffle(&mut order, &mut rng);
            plain_order.shuffle(&mut plain_rng);
            assert_eq!(order, plain_order, "epoch {epoch}");
            assert_eq!(rng, plain_rng, "epoch {epoch}");
        }
        ahead.taken
    }

    #[test]
    fn reshuffles_match_shuffling_in_place_taken_or_not() {
        assert_eq!(side_by_side(false, false), 0);
        let taken = side_by_side(true, true);
        assert!(
            taken >= 5,
            "the helper's reshuffles were taken {taken} times"
        );
        side_by_side(true, false);
    }
}
