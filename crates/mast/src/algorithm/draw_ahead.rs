//! Sketch draws made ahead on a second thread.
//!
//! A sketch draw does not depend on the iterate, only on the sketch generator, so
//! a helper thread can make the next few hundred while the solver's thread runs
//! the steps. The draws come in chunks: chunk k is the next `per_chunk` draws of
//! the one generator, from its state G_k at the chunk's start, so it is the same
//! whoever draws it, and results do not change by a bit.
//!
//! The solver's thread waits for the helper, when the helper is drawing the chunk
//! it needs, at most as long as drawing a chunk of one draw itself took last
//! time: when the chunk it needs is not there by then (the
//! helper is slow to be scheduled on a busy machine, or has just started) it
//! draws the chunk itself from G_k, which it always knows, and tells the helper
//! to go on from the chunk after. (Only for chunks of one large draw, about as
//! costly as a step: smaller chunks are drawn here at once.) So drawing ahead
//! costs at most about twice drawing in place, and saves the draws' share of a
//! step when a core is free. The generator's state at any step (for a checkpoint) is
//! G_k replayed over the draws handed out from chunk k.
//!
//! Minibatch steps on small batches are where this pays: on a5a (d = 123,
//! Rand-K with K = 61, batch 32) a draw is about a fifth of a step.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::rng::MastRng;
use crate::sketch::{Sketch, SketchDraw};

/// Chunks the helper may have made ahead (sent, not yet taken).
const AHEAD: usize = 2;
/// At most this many draws per chunk.
const MAX_CHUNK: usize = 256;
/// At most about this many kept coordinates per chunk (memory: 16 bytes each).
const CHUNK_ENTRIES: usize = 1 << 18;

/// At most about this many kept coordinates per draw for drawing ahead (memory:
/// 16 bytes each, for the few draws in flight).
const MAX_KEPT: usize = 1 << 22;

/// Whether drawing ahead is worth a thread: at least two threads are allowed
/// (rayon's pool size, which `RAYON_NUM_THREADS` and `--threads` set) and the
/// few draws in flight are cheap to hold. Large draws (a chunk of one draw) are
/// where it pays most: at LIBSVM scale a draw costs about as much as the rest of
/// a step.
pub(crate) fn worthwhile(sketch: &dyn Sketch) -> bool {
    rayon::current_num_threads() >= 2 && sketch.expected_kept() <= MAX_KEPT as f64
}

/// Chunk `index`: the draws from generator state `start` on, which leave the
/// generator at `end` (the next chunk's start).
struct Chunk {
    index: u64,
    start: MastRng,
    end: MastRng,
    draws: Vec<SketchDraw>,
}

/// Where the helper should go on from: chunk `.0`, whose start state is `.1`.
type Restart = Arc<Mutex<Option<(u64, MastRng)>>>;

/// A stream of sketch draws from `rng`, made ahead by a helper thread where one
/// keeps up, else in place.
pub(crate) struct DrawAhead {
    sketch: Arc<dyn Sketch>,
    /// Whether the draws may be held by their bit set alone.
    unlisted_ok: bool,
    per_chunk: usize,
    /// Chunks from the helper, in order.
    ready: Receiver<Chunk>,
    /// Used draw buffers back to the helper.
    recycle: SyncSender<Vec<SketchDraw>>,
    restart: Restart,
    /// 1 + the index of the chunk the helper is drawing now (0: none yet).
    working: Arc<AtomicU64>,
    /// The chunk being handed out (`index` is meaningless before the first).
    current: Chunk,
    /// Index of the chunk after `current`.
    next_index: u64,
    /// Draws of `current` handed out.
    pos: usize,
    worker: Option<JoinHandle<()>>,
    /// Chunks taken from the helper, and drawn here.
    from_helper: u64,
    drawn_here: u64,
    /// How long the last chunk drawn here took.
    last_here: std::time::Duration,
}

impl std::fmt::Debug for DrawAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrawAhead")
            .field("chunk", &self.current.index)
            .field("pos", &self.pos)
            .field("from_helper", &self.from_helper)
            .field("drawn_here", &self.drawn_here)
            .finish()
    }
}

/// `n` empty draws, allowed to be unlisted where `unlisted_ok`.
fn blank(n: usize, unlisted_ok: bool) -> Vec<SketchDraw> {
    let mut d = SketchDraw::new();
    d.set_unlisted_ok(unlisted_ok);
    vec![d; n]
}

fn fill(sketch: &dyn Sketch, rng: &mut MastRng, draws: &mut [SketchDraw]) {
    for d in draws {
        sketch.draw(rng, d);
    }
}

impl DrawAhead {
    /// Starts the helper thread, drawing from `rng` onwards; `unlisted_ok`: the
    /// draws may be held by their bit set alone (see
    /// [`SketchDraw::set_unlisted_ok`]).
    pub(crate) fn start(sketch: Arc<dyn Sketch>, rng: MastRng, unlisted_ok: bool) -> Self {
        Self::with_helper(sketch, rng, true, unlisted_ok)
    }

    /// As [`DrawAhead::start`]; without a helper when `helper` is false (every
    /// chunk then drawn in place: the path taken when the helper falls behind).
    fn with_helper(sketch: Arc<dyn Sketch>, rng: MastRng, helper: bool, unlisted_ok: bool) -> Self {
        let per_chunk =
            (CHUNK_ENTRIES / sketch.expected_kept().ceil().max(1.0) as usize).clamp(1, MAX_CHUNK);
        let (ready_tx, ready) = sync_channel::<Chunk>(AHEAD);
        let (recycle, recycle_rx) = sync_channel::<Vec<SketchDraw>>(AHEAD + 2);
        let restart: Restart = Arc::new(Mutex::new(None));
        let worker_sketch = Arc::clone(&sketch);
        let worker_restart = Arc::clone(&restart);
        let working = Arc::new(AtomicU64::new(0));
        let worker_working = Arc::clone(&working);
        let mut g = rng.clone();
        let worker = helper
            .then(|| std::thread::Builder::new().name("mast-draw-ahead".into()))
            .and_then(|builder| {
                builder
                    .spawn(move || {
                        let mut index = 0u64;
                        loop {
                            if let Some((k, state)) =
                                worker_restart.lock().ok().and_then(|mut r| r.take())
                            {
                                if k > index {
                                    (index, g) = (k, state);
                                }
                            }
                            let mut draws = match recycle_rx.try_recv() {
                                Ok(d) => d,
                                Err(TryRecvError::Empty) => blank(per_chunk, unlisted_ok),
                                Err(TryRecvError::Disconnected) => return,
                            };
                            let start = g.clone();
                            worker_working.store(index + 1, Ordering::Release);
                            fill(worker_sketch.as_ref(), &mut g, &mut draws);
                            let chunk = Chunk {
                                index,
                                start,
                                end: g.clone(),
                                draws,
                            };
                            // Blocks while AHEAD chunks wait; fails once the solver is gone.
                            if ready_tx.send(chunk).is_err() {
                                return;
                            }
                            index += 1;
                        }
                    })
                    .ok()
            });
        DrawAhead {
            sketch,
            unlisted_ok,
            per_chunk,
            ready,
            recycle,
            restart,
            working,
            current: Chunk {
                index: 0,
                start: rng.clone(),
                end: rng,
                draws: Vec::new(),
            },
            next_index: 0,
            pos: 0,
            worker,
            from_helper: 0,
            drawn_here: 0,
            last_here: std::time::Duration::ZERO,
        }
    }

    /// The next draw.
    pub(crate) fn next(&mut self) -> &SketchDraw {
        if self.pos == self.current.draws.len() {
            self.advance();
        }
        self.pos += 1;
        // The draw after this one was written by the helper thread, so it sits
        // in the other core's cache: start fetching it while this step runs.
        if let Some(d) = self.current.draws.get(self.pos) {
            match d.member_bits().filter(|_| !d.is_listed()) {
                Some(bits) => crate::linalg::prefetch(bits),
                None => {
                    crate::linalg::prefetch(&d.indices);
                    crate::linalg::prefetch(&d.scales);
                }
            }
        }
        &self.current.draws[self.pos - 1]
    }

    /// Moves to the next chunk: the helper's if it is there, else drawn here.
    fn advance(&mut self) {
        let k = self.next_index;
        let mut found = None;
        loop {
            match self.ready.try_recv() {
                Ok(c) if c.index == k => {
                    found = Some(c);
                    break;
                }
                // A chunk this thread already drew itself.
                Ok(stale) => {
                    let _ = self.recycle.try_send(stale.draws);
                }
                Err(_) => break,
            }
        }
        // Not there yet, but the helper is partway through it: for a chunk of
        // one large draw, wait for it at most as long as drawing it here took last
        // time (so it costs this thread at most about twice a draw, and a draw
        // about as slow as a step is rarely made twice).
        let waits = self.per_chunk == 1
            && self.worker.is_some()
            && !self.last_here.is_zero()
            && self.working.load(Ordering::Acquire) == k + 1;
        if found.is_none() && waits {
            let deadline = std::time::Instant::now() + self.last_here;
            while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
                match self.ready.recv_timeout(left) {
                    Ok(c) if c.index == k => {
                        found = Some(c);
                        break;
                    }
                    Ok(stale) => {
                        let _ = self.recycle.try_send(stale.draws);
                    }
                    Err(_) => break,
                }
            }
        }
        match found {
            Some(c) => {
                self.from_helper += 1;
                let done = std::mem::replace(&mut self.current, c);
                if !done.draws.is_empty() {
                    let _ = self.recycle.try_send(done.draws);
                }
            }
            None => {
                self.drawn_here += 1;
                // Not there yet: draw chunk k here, from its start state, into the
                // buffer just used up, and send the helper on to chunk k + 1.
                let c = &mut self.current;
                c.index = k;
                c.start = c.end.clone();
                if c.draws.is_empty() {
                    c.draws = blank(self.per_chunk, self.unlisted_ok);
                }
                let mut g = c.start.clone();
                let started = std::time::Instant::now();
                fill(self.sketch.as_ref(), &mut g, &mut c.draws);
                self.last_here = started.elapsed();
                c.end = g;
                if self.worker.is_some() {
                    if let Ok(mut r) = self.restart.lock() {
                        *r = Some((k + 1, c.end.clone()));
                    }
                }
            }
        }
        self.next_index = k + 1;
        self.pos = 0;
    }

    /// The generator's state after the draws handed out so far (what one thread
    /// drawing in place would hold now).
    pub(crate) fn rng_state(&self) -> MastRng {
        if self.pos == self.current.draws.len() {
            return self.current.end.clone();
        }
        let mut rng = self.current.start.clone();
        let mut scratch = SketchDraw::new();
        for _ in 0..self.pos {
            self.sketch.draw(&mut rng, &mut scratch);
        }
        rng
    }
}

impl Drop for DrawAhead {
    fn drop(&mut self) {
        // Hang up both channels so the helper's next send or receive fails.
        let (tx, _) = sync_channel::<Vec<SketchDraw>>(0);
        let (_, rx) = sync_channel::<Chunk>(0);
        drop(std::mem::replace(&mut self.recycle, tx));
        drop(std::mem::replace(&mut self.ready, rx));
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};
    use crate::sketch::{Bernoulli, RandK};

    fn sketches() -> Vec<Arc<dyn Sketch>> {
        vec![
            Arc::new(RandK::new(123, 61).unwrap()),
            Arc::new(Bernoulli::new(300, 0.3).unwrap()),
            // Large draws: chunks of a few draws each.
            Arc::new(RandK::new(200_000, 60_000).unwrap()),
            // Chunks of one draw (the solver's thread may wait for the helper).
            Arc::new(Bernoulli::new(150_000, 0.875).unwrap()),
        ]
    }

    #[test]
    fn draws_and_generator_state_match_drawing_in_place() {
        // With the helper (its chunks used where it keeps up: the pauses give it
        // time; drawn here where it does not) and without it.
        for (helper, unlisted) in [(true, false), (false, false), (true, true)] {
            for sketch in sketches() {
                let mut ahead = DrawAhead::with_helper(
                    Arc::clone(&sketch),
                    stream(9, Stream::Sketch),
                    helper,
                    unlisted,
                );
                let mut rng = stream(9, Stream::Sketch);
                let mut draw = SketchDraw::new();
                assert_eq!(ahead.rng_state(), rng, "{sketch:?}: nothing drawn yet");
                for t in 0..700 {
                    if t % 150 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    sketch.draw(&mut rng, &mut draw);
                    let got = ahead.next();
                    assert_eq!(got, &draw, "{sketch:?}: draw {t}");
                    assert_eq!(got.len(), draw.len());
                    assert_eq!(got.common_scale(), draw.common_scale());
                    if t % 97 == 0 || t == 255 || t == 256 {
                        assert_eq!(ahead.rng_state(), rng, "{sketch:?}: state after {t}");
                    }
                }
                eprintln!("{sketch:?} helper {helper}: {ahead:?}");
                if helper {
                    assert!(ahead.from_helper > 0, "the helper's chunks were used");
                } else {
                    assert_eq!(ahead.from_helper, 0);
                }
            }
        }
    }

    #[test]
    fn restarting_from_a_saved_state_continues_the_same_draws() {
        let sketch: Arc<dyn Sketch> = Arc::new(RandK::new(50, 7).unwrap());
        let mut a = DrawAhead::start(Arc::clone(&sketch), stream(4, Stream::Sketch), false);
        for _ in 0..300 {
            a.next();
        }
        let mut b = DrawAhead::start(Arc::clone(&sketch), a.rng_state(), false);
        for _ in 0..600 {
            assert_eq!(a.next().indices, b.next().indices);
        }
        drop(a); // the helper thread stops and is joined
        assert_eq!(b.next().len(), 7);
    }
}
