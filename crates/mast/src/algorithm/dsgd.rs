//! Algorithm 1: Double Sketched (S)GD.

use std::sync::Arc;

use super::draw_ahead::{self, DrawAhead};
use super::sampler::step_rows;
use super::shuffle_ahead::ShuffleAhead;
use super::{BatchSampler, IterState, MastProblem, Solver, StepSchedule, StepSize, Variant};
use crate::error::{MastError, Result};
use crate::objective::{Objective, Workspace};
use crate::rng::{stream, MastRng, Stream};
use crate::sketch::{Sketch, SketchDraw};
use crate::sketched::{operator_step, OperatorWork};
use crate::theory::theory_step;

/// Algorithm 1 of MAST: `x_{t+1} = x_t − γ_t S_tᵀ∇f(v + S_t(x_t − v))` with a fresh
/// sketch `S_t ~ D` each step, on all data (variant I) or a minibatch (variant II).
///
/// A step touches only the kept coordinates: its cost is proportional to |Ω_t|
/// (times the rows) for linear models, and it allocates nothing.
///
/// With [`crate::sketch::Identity`] it is plain (S)GD.
#[derive(Debug)]
pub struct DoubleSketchedSgd {
    sketch: Arc<dyn Sketch>,
    variant: Variant,
    step_size: StepSize,
    seed: u64,
    schedule: Option<StepSchedule>,
    theory_gamma: f64,
    sketch_rng: MastRng,
    /// Minibatch runs with two or more threads: the draws, made ahead from
    /// `sketch_rng` on a helper thread (see [`draw_ahead`]).
    ahead: Option<DrawAhead>,
    sampler: Option<BatchSampler>,
    /// Minibatch runs with two or more threads: the sampler's reshuffles, made
    /// ahead on a helper thread (see [`super::shuffle_ahead`]).
    shuffles: Option<ShuffleAhead>,
    draw: SketchDraw,
    /// Whether the objective's step takes draws held by their bit set alone.
    unlisted_ok: bool,
    ws: Workspace,
    grad: Vec<f64>,
    /// Work vectors of the generic path, for sketches that are not diagonal.
    operator: Option<OperatorWork>,
}

impl DoubleSketchedSgd {
    /// Algorithm 1 with sketch distribution `sketch`, `variant`, step rule and seed
    /// (sketches and minibatches use separate streams of the seed).
    pub fn new(
        sketch: Box<dyn Sketch>,
        variant: Variant,
        step_size: StepSize,
        seed: u64,
    ) -> Result<Self> {
        if let Variant::Minibatch(0) = variant {
            return Err(MastError::param("batch", "must be at least 1"));
        }
        Ok(DoubleSketchedSgd {
            sketch: Arc::from(sketch),
            variant,
            step_size,
            seed,
            schedule: None,
            theory_gamma: f64::NAN,
            sketch_rng: stream(seed, Stream::Sketch),
            ahead: None,
            sampler: None,
            shuffles: None,
            draw: SketchDraw::new(),
            unlisted_ok: false,
            ws: Workspace::default(),
            grad: Vec::new(),
            operator: None,
        })
    }

    /// The sketch distribution.
    pub fn sketch(&self) -> &dyn Sketch {
        self.sketch.as_ref()
    }

    /// Draws ahead on a helper thread from `sketch_rng` where that pays (minibatch
    /// steps, two or more threads), else in place; the draws are the same.
    /// Also reshuffles ahead, on a second helper, where two or more threads are
    /// allowed.
    fn start_drawing(&mut self) {
        // Stops previous helpers first.
        (self.ahead, self.shuffles) = (None, None);
        if matches!(self.variant, Variant::Minibatch(_))
            && draw_ahead::worthwhile(self.sketch.as_ref())
        {
            self.ahead = Some(DrawAhead::start(
                Arc::clone(&self.sketch),
                self.sketch_rng.clone(),
                self.unlisted_ok,
            ));
        }
        if rayon::current_num_threads() >= 2 {
            self.shuffles = self.sampler.as_ref().map(BatchSampler::shuffle_ahead);
        }
    }

    /// The step size at iteration t (after `init`).
    pub fn gamma(&self, t: u64) -> f64 {
        self.schedule.map_or(f64::NAN, |s| s.gamma(t))
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    sketch_rng: MastRng,
    sampler: Option<BatchSampler>,
}

impl<O: Objective + ?Sized> Solver<O> for DoubleSketchedSgd {
    fn name(&self) -> String {
        match self.variant {
            Variant::Exact => format!("dsgd(I) {}", self.sketch.spec()),
            Variant::Minibatch(b) => format!("dsgd(II, batch {b}) {}", self.sketch.spec()),
        }
    }

    fn init_at(&mut self, problem: &MastProblem<'_, O>, x0: Vec<f64>) -> Result<IterState> {
        let f = problem.objective;
        let (d, n) = (f.dim(), f.num_samples());
        if self.sketch.dim() != d {
            return Err(MastError::Dimension(format!(
                "sketch has dimension {}, the objective {d}",
                self.sketch.dim()
            )));
        }
        if x0.len() != d {
            return Err(MastError::Dimension(format!(
                "x0 has {} entries, the objective {d}",
                x0.len()
            )));
        }
        let (theory_gamma, schedule) = self
            .step_size
            .resolve_with(|| Solver::<O>::theory_gamma_for(self, problem))?;
        self.theory_gamma = theory_gamma;
        self.unlisted_ok = f.takes_unlisted_draws();
        self.draw.set_unlisted_ok(self.unlisted_ok);
        self.schedule = Some(schedule);
        self.sketch_rng = stream(self.seed, Stream::Sketch);
        self.sampler = match self.variant {
            Variant::Exact => None,
            Variant::Minibatch(b) => {
                if b > n {
                    return Err(MastError::param(
                        "batch",
                        format!("batch size {b} exceeds the {n} training samples"),
                    ));
                }
                Some(BatchSampler::new(n, stream(self.seed, Stream::Data)))
            }
        };
        self.ws = Workspace::new(d, n);
        // Sized to the draws as they come (K, not d), or d on the generic path.
        self.grad = Vec::new();
        self.operator = None;
        if !self.sketch.is_diagonal() {
            self.operator = Some(OperatorWork::new(d));
            self.grad = vec![0.0; d];
        }
        self.start_drawing();
        let mut x0 = x0;
        crate::linalg::advise_huge_pages(&mut x0);
        Ok(IterState::start(x0))
    }

    fn next_iter(&mut self, problem: &MastProblem<'_, O>, state: &mut IterState) -> Result<()> {
        let schedule = self.schedule.expect("init before next_iter");
        let gamma = schedule.gamma(state.step);
        let draw = match &mut self.ahead {
            Some(ahead) => ahead.next(),
            None => {
                self.sketch.draw(&mut self.sketch_rng, &mut self.draw);
                &self.draw
            }
        };
        let (rows, used, next) = step_rows(
            &mut self.sampler,
            self.shuffles.as_mut(),
            self.variant,
            problem.objective.num_samples(),
        )?;
        // The next minibatch's rows start coming into cache while this step works.
        if let Some(next) = next {
            problem.objective.prefetch_rows(next);
        }
        let outcome = match &mut self.operator {
            Some(work) => operator_step(
                problem.objective,
                self.sketch.as_ref(),
                &problem.shift,
                &mut state.x,
                draw,
                rows,
                gamma,
                work,
                &mut self.grad,
            ),
            None => {
                if self.grad.len() < draw.len() {
                    self.grad.resize(draw.len(), 0.0);
                }
                problem.objective.sketched_step(
                    &problem.shift,
                    &mut state.x,
                    draw,
                    rows,
                    gamma,
                    &mut self.ws,
                    &mut self.grad,
                )
            }
        };
        let loss = outcome.loss;
        if !outcome.finite {
            return Err(MastError::Diverged {
                step: state.step + 1,
                detail: format!("the sketched loss or the iterate is not finite (loss {loss})"),
                gamma,
                theory_gamma: Solver::<O>::theory_gamma_for(self, problem),
            });
        }
        state.record_step(used, draw.len(), loss, gamma);
        Ok(())
    }

    fn theory_gamma(&self) -> f64 {
        self.theory_gamma
    }

    fn theory_gamma_for(&self, problem: &MastProblem<'_, O>) -> f64 {
        let s = &self.sketch;
        theory_step(
            self.step_size.theory_kind(),
            problem.objective.smoothness(),
            s.l_d(),
            s.l_s_max(),
        )
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::to_value(Saved {
            sketch_rng: self
                .ahead
                .as_ref()
                .map_or_else(|| self.sketch_rng.clone(), DrawAhead::rng_state),
            sampler: self.sampler.clone(),
        })
        .expect("solver state serialises")
    }

    fn restore_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        let s: Saved = crate::serde_util::from_state(saved, "solver")?;
        self.sketch_rng = s.sketch_rng;
        self.sampler = s.sampler;
        self.start_drawing();
        Ok(())
    }
}
