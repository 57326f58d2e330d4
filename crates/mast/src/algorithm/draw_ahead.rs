//! Sketch draws made ahead on a second thread.
//!
//! A sketch draw does not depend on the iterate, only on the sketch generator, so
//! a helper thread can make the next few hundred while the solver's thread runs
//! the steps. The draws arrive in chunks, in exactly the order one thread would
//! make them from the same generator, so results do not change by a bit; the
//! generator's state at any step (for a checkpoint) is recovered by replaying the
//! current chunk's draws from the state recorded at its start.
//!
//! Minibatch steps on small batches are where this pays: on a5a (d = 123,
//! Rand-K with K = 61, batch 32) a draw is about a fifth of a step.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::rng::MastRng;
use crate::sketch::{Sketch, SketchDraw};

/// Chunks in circulation: one being consumed, up to this many minus one ready.
const CHUNKS: usize = 3;
/// At most this many draws per chunk.
const MAX_CHUNK: usize = 256;
/// At most about this many kept coordinates per chunk (memory: 16 bytes each).
const CHUNK_ENTRIES: usize = 1 << 18;

/// Whether drawing ahead is worth a thread: at least two threads are allowed
/// (rayon's pool size, which `RAYON_NUM_THREADS` and `--threads` set) and a
/// draw is small enough that a chunk of them is cheap to hold. Runs that share
/// the cores with others (experiments running configurations in parallel) draw
/// ahead too: the helper sleeps on its channel between chunks, so it adds no
/// work, only moves the draws off the step's critical path.
pub(crate) fn worthwhile(sketch: &dyn Sketch) -> bool {
    rayon::current_num_threads() >= 2 && sketch.expected_kept() <= (CHUNK_ENTRIES / 4) as f64
}

struct Chunk {
    /// The generator's state before the chunk's first draw.
    start: MastRng,
    draws: Vec<SketchDraw>,
}

/// A stream of sketch draws made ahead by a helper thread from `rng`.
pub(crate) struct DrawAhead {
    sketch: Arc<dyn Sketch>,
    ready: Receiver<Chunk>,
    recycle: SyncSender<Chunk>,
    current: Chunk,
    pos: usize,
    per_chunk: usize,
    worker: Option<JoinHandle<()>>,
    /// The live generator when drawing in place (no helper thread).
    in_place: Option<MastRng>,
}

impl std::fmt::Debug for DrawAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrawAhead")
            .field("chunk", &self.current.draws.len())
            .field("pos", &self.pos)
            .finish()
    }
}

impl DrawAhead {
    /// Starts the helper thread, drawing from `rng` onwards.
    pub(crate) fn start(sketch: Arc<dyn Sketch>, rng: MastRng) -> Self {
        let per_chunk =
            (CHUNK_ENTRIES / sketch.expected_kept().ceil().max(1.0) as usize).clamp(1, MAX_CHUNK);
        let (ready_tx, ready) = sync_channel::<Chunk>(CHUNKS);
        let (recycle, recycle_rx) = sync_channel::<Chunk>(CHUNKS);
        for _ in 0..CHUNKS - 1 {
            let empty = Chunk {
                start: rng.clone(),
                draws: (0..per_chunk).map(|_| SketchDraw::new()).collect(),
            };
            recycle.send(empty).expect("the receiver is alive");
        }
        let worker_sketch = Arc::clone(&sketch);
        let mut worker_rng = rng.clone();
        let worker = std::thread::Builder::new()
            .name("mast-draw-ahead".into())
            .spawn(move || {
                // Ends when the solver side hangs up (a send or receive fails).
                while let Ok(mut chunk) = recycle_rx.recv() {
                    chunk.start = worker_rng.clone();
                    for d in &mut chunk.draws {
                        worker_sketch.draw(&mut worker_rng, d);
                    }
                    if ready_tx.send(chunk).is_err() {
                        break;
                    }
                }
            })
            .ok();
        // Without a thread (none could be started) draws are made in place.
        let in_place = worker.is_none().then(|| rng.clone());
        DrawAhead {
            sketch,
            ready,
            recycle,
            // An empty chunk, consumed: the first `next` fetches a real one.
            current: Chunk {
                start: rng,
                draws: if in_place.is_some() {
                    vec![SketchDraw::new()]
                } else {
                    Vec::new()
                },
            },
            pos: 0,
            per_chunk,
            worker,
            in_place,
        }
    }

    /// The next draw.
    pub(crate) fn next(&mut self) -> &SketchDraw {
        if let Some(rng) = &mut self.in_place {
            self.sketch.draw(rng, &mut self.current.draws[0]);
            return &self.current.draws[0];
        }
        if self.pos == self.current.draws.len() {
            match self.ready.recv() {
                Ok(next) => {
                    let mut done = std::mem::replace(&mut self.current, next);
                    if done.draws.is_empty() {
                        // The initial placeholder joins the circulation.
                        done.draws = (0..self.per_chunk).map(|_| SketchDraw::new()).collect();
                    }
                    let _ = self.recycle.send(done);
                    self.pos = 0;
                }
                Err(_) => {
                    // The helper is gone (it can only have panicked inside a
                    // sketch's `draw`): go on in place from where it stopped.
                    self.in_place = Some(self.rng_state());
                    if self.current.draws.is_empty() {
                        self.current.draws.push(SketchDraw::new());
                    }
                    return self.next();
                }
            }
        }
        self.pos += 1;
        // The draw after this one was written by the helper thread, so it sits
        // in the other core's cache: start fetching it while this step runs.
        if let Some(d) = self.current.draws.get(self.pos) {
            crate::linalg::prefetch(&d.indices);
            crate::linalg::prefetch(&d.scales);
        }
        &self.current.draws[self.pos - 1]
    }

    /// The generator's state after the draws handed out so far (what one thread
    /// drawing in place would hold now).
    pub(crate) fn rng_state(&self) -> MastRng {
        if let Some(rng) = &self.in_place {
            return rng.clone();
        }
        let mut rng = self.current.start.clone();
        let mut scratch = SketchDraw::new();
        for _ in 0..self.pos.min(self.current.draws.len()) {
            self.sketch.draw(&mut rng, &mut scratch);
        }
        rng
    }
}

impl Drop for DrawAhead {
    fn drop(&mut self) {
        // Hang up both channels so the worker's next send or receive fails.
        let (tx, rx) = sync_channel::<Chunk>(0);
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
        ]
    }

    #[test]
    fn draws_and_generator_state_match_drawing_in_place() {
        for sketch in sketches() {
            let mut ahead = DrawAhead::start(Arc::clone(&sketch), stream(9, Stream::Sketch));
            let mut rng = stream(9, Stream::Sketch);
            let mut draw = SketchDraw::new();
            assert_eq!(ahead.rng_state(), rng, "{sketch:?}: nothing drawn yet");
            for t in 0..700 {
                sketch.draw(&mut rng, &mut draw);
                let got = ahead.next();
                assert_eq!(got.indices, draw.indices, "{sketch:?}: draw {t}");
                assert_eq!(got.scales, draw.scales, "{sketch:?}: draw {t}");
                if t % 97 == 0 || t == 255 || t == 256 {
                    assert_eq!(ahead.rng_state(), rng, "{sketch:?}: state after {t}");
                }
            }
        }
    }

    #[test]
    fn restarting_from_a_saved_state_continues_the_same_draws() {
        let sketch: Arc<dyn Sketch> = Arc::new(RandK::new(50, 7).unwrap());
        let mut a = DrawAhead::start(Arc::clone(&sketch), stream(4, Stream::Sketch));
        for _ in 0..300 {
            a.next();
        }
        let mut b = DrawAhead::start(Arc::clone(&sketch), a.rng_state());
        for _ in 0..600 {
            assert_eq!(a.next().indices, b.next().indices);
        }
        drop(a); // the helper thread stops and is joined
        assert_eq!(b.next().len(), 7);
    }
}
