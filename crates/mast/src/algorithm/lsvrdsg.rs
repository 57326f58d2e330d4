//! Algorithm 3: L-SVRDSG, loopless SVRG over a fixed set of N sketches.

use rand::Rng;

use super::{IterState, MastProblem, Solver, StepSchedule, StepSize};
use crate::error::{MastError, Result};
use crate::objective::{Objective, Rows, Workspace};
use crate::rng::{stream, MastRng, Stream};
use crate::sketch::{Sketch, SketchDraw};
use crate::sketched::{operator_loss_grad, OperatorWork};

/// L-SVRDSG (MAST, App. G): minimises the finite sum `f_D = (1/N) Σ_j f_{S_j}`
/// over N sketches drawn once from `sketch`, by loopless SVRG:
///
/// ```text
/// g_t = ∇f_{S_j}(x_t) − ∇f_{S_j}(w_t) + h_t,   j uniform in [N]
/// x_{t+1} = x_t − γ g_t
/// with probability ρ: w_{t+1} = x_t and h_{t+1} = (1/b) Σ_{j∈B} ∇f_{S_j}(w_{t+1}),
///                     B a fresh b-subset of [N] (without replacement)
/// ```
///
/// With `b = N` the reference gradient is exact and the iterates converge
/// linearly to the minimiser of the finite sum itself
/// ([`crate::sketched::QuadraticMast::from_draws`] gives it for quadratics). With
/// `b < N`, `h` is a noisy reference: the iterates reach a neighbourhood whose size
/// grows with the variance of a b-sample mean of sketched gradients, i.e. like
/// `(N − b)/(b (N − 1))`. The theory step is `1/(6 L_f L_S^max)`; ρ ≈ 1/N.
#[derive(Debug)]
pub struct Lsvrdsg {
    sketch: Box<dyn Sketch>,
    n_sketches: usize,
    ref_batch: usize,
    rho: f64,
    step_size: StepSize,
    seed: u64,
    schedule: Option<StepSchedule>,
    theory_gamma: f64,
    draws: Vec<SketchDraw>,
    rng: MastRng,
    w: Vec<f64>,
    h: Vec<f64>,
    ws: Workspace,
    g_x: Vec<f64>,
    g_w: Vec<f64>,
    pick: Vec<usize>,
    /// Work vectors of the generic path, for sketches that are not diagonal
    /// (gradients are then dense, of length d).
    operator: Option<OperatorWork>,
}

/// `f_S(x)` and `∇f_S(x)` for one draw: on Ω (`out[..|Ω|]`) by the objective's
/// oracle for a diagonal sketch, dense (`out[..d]`) on the generic path.
#[allow(clippy::too_many_arguments)]
fn sketched_grad<O: Objective + ?Sized>(
    problem: &MastProblem<'_, O>,
    sketch: &dyn Sketch,
    operator: &mut Option<OperatorWork>,
    x: &[f64],
    draw: &SketchDraw,
    ws: &mut Workspace,
    out: &mut [f64],
) -> f64 {
    match operator {
        Some(work) => operator_loss_grad(
            problem.objective,
            sketch,
            &problem.shift,
            x,
            draw,
            Rows::All,
            work,
            out,
        ),
        None => problem
            .objective
            .sketched_loss_grad(&problem.shift, x, draw, Rows::All, ws, out),
    }
}

/// `dst += scale·g` for a gradient from [`sketched_grad`] (on Ω, or dense).
fn add_scaled(dense: bool, draw: &SketchDraw, g: &[f64], scale: f64, dst: &mut [f64]) {
    if dense {
        for (t, gi) in dst.iter_mut().zip(g) {
            *t += scale * gi;
        }
    } else {
        for (k, &j) in draw.indices.iter().enumerate() {
            dst[j] += scale * g[k];
        }
    }
}

impl Lsvrdsg {
    /// L-SVRDSG over `n_sketches` draws of `sketch`, reference minibatch `ref_batch`
    /// (1..=N) and refresh probability `rho` ∈ (0, 1].
    pub fn new(
        sketch: Box<dyn Sketch>,
        n_sketches: usize,
        ref_batch: usize,
        rho: f64,
        step_size: StepSize,
        seed: u64,
    ) -> Result<Self> {
        if n_sketches == 0 {
            return Err(MastError::param("n_sketches", "must be at least 1"));
        }
        if ref_batch == 0 || ref_batch > n_sketches {
            return Err(MastError::param(
                "ref_batch",
                format!("must be in 1..={n_sketches} (the number of sketches), got {ref_batch}"),
            ));
        }
        if !(rho > 0.0 && rho <= 1.0) {
            return Err(MastError::param(
                "rho",
                format!("must be in (0, 1], got {rho}"),
            ));
        }
        Ok(Lsvrdsg {
            sketch,
            n_sketches,
            ref_batch,
            rho,
            step_size,
            seed,
            schedule: None,
            theory_gamma: f64::NAN,
            draws: Vec::new(),
            rng: stream(seed, Stream::Sketch),
            w: Vec::new(),
            h: Vec::new(),
            ws: Workspace::default(),
            g_x: Vec::new(),
            g_w: Vec::new(),
            pick: Vec::new(),
            operator: None,
        })
    }

    /// The sketch distribution the set is drawn from.
    pub fn sketch(&self) -> &dyn Sketch {
        self.sketch.as_ref()
    }

    /// The fixed set of sketches (after `init`).
    pub fn draws(&self) -> &[SketchDraw] {
        &self.draws
    }

    /// h = (1/b) Σ_{j∈B} ∇f_{S_j}(w) for a fresh b-subset B of \[N\].
    fn refresh_reference<O: Objective + ?Sized>(&mut self, problem: &MastProblem<'_, O>) {
        let n = self.n_sketches;
        // Partial Fisher–Yates on a persistent permutation: a uniform b-subset.
        if self.pick.len() != n {
            self.pick = (0..n).collect();
        }
        for i in 0..self.ref_batch {
            let j = self.rng.random_range(i..n);
            self.pick.swap(i, j);
        }
        self.h.iter_mut().for_each(|v| *v = 0.0);
        let scale = 1.0 / self.ref_batch as f64;
        let dense = self.operator.is_some();
        for i in 0..self.ref_batch {
            let draw = &self.draws[self.pick[i]];
            sketched_grad(
                problem,
                self.sketch.as_ref(),
                &mut self.operator,
                &self.w,
                draw,
                &mut self.ws,
                &mut self.g_w,
            );
            add_scaled(dense, draw, &self.g_w, scale, &mut self.h);
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    rng: MastRng,
    w: Vec<f64>,
    h: Vec<f64>,
    pick: Vec<usize>,
}

impl<O: Objective + ?Sized> Solver<O> for Lsvrdsg {
    fn name(&self) -> String {
        format!(
            "l-svrdsg(N {}, b {}, rho {}) {}",
            self.n_sketches,
            self.ref_batch,
            self.rho,
            self.sketch.spec()
        )
    }

    fn init_at(&mut self, problem: &MastProblem<'_, O>, x0: Vec<f64>) -> Result<IterState> {
        let f = problem.objective;
        let d = f.dim();
        if self.sketch.dim() != d || x0.len() != d {
            return Err(MastError::Dimension(format!(
                "sketch dimension {}, x0 length {}, objective dimension {d}",
                self.sketch.dim(),
                x0.len()
            )));
        }
        let (theory_gamma, schedule) = self
            .step_size
            .resolve_with(|| Solver::<O>::theory_gamma_for(self, problem))?;
        self.theory_gamma = theory_gamma;
        self.schedule = Some(schedule);
        self.rng = stream(self.seed, Stream::Sketch);
        self.draws = (0..self.n_sketches)
            .map(|_| {
                let mut draw = SketchDraw::new();
                self.sketch.draw(&mut self.rng, &mut draw);
                draw
            })
            .collect();
        self.ws = Workspace::new(d, f.num_samples());
        self.g_x = vec![0.0; d];
        self.g_w = vec![0.0; d];
        self.h = vec![0.0; d];
        self.w = x0.clone();
        self.operator = (!self.sketch.is_diagonal()).then(|| OperatorWork::new(d));
        self.pick.clear();
        self.refresh_reference(problem);
        Ok(IterState::start(x0))
    }

    fn next_iter(&mut self, problem: &MastProblem<'_, O>, state: &mut IterState) -> Result<()> {
        let gamma = self
            .schedule
            .expect("init before next_iter")
            .gamma(state.step);
        let j = self.rng.random_range(0..self.n_sketches);
        let draw = &self.draws[j];
        let f = problem.objective;
        let sketch = self.sketch.as_ref();
        let loss = sketched_grad(
            problem,
            sketch,
            &mut self.operator,
            &state.x,
            draw,
            &mut self.ws,
            &mut self.g_x,
        );
        sketched_grad(
            problem,
            sketch,
            &mut self.operator,
            &self.w,
            draw,
            &mut self.ws,
            &mut self.g_w,
        );
        let refresh = self.rng.random::<f64>() < self.rho;
        if refresh {
            self.w.copy_from_slice(&state.x); // w_{t+1} = x_t
        }
        // x_{t+1} = x_t − γ (h + ∇f_{S_j}(x_t) − ∇f_{S_j}(w_t)): the correction lives
        // on Ω_j for a diagonal sketch.
        for (xi, hi) in state.x.iter_mut().zip(&self.h) {
            *xi -= gamma * hi;
        }
        if self.operator.is_some() {
            for ((xi, gx), gw) in state.x.iter_mut().zip(&self.g_x).zip(&self.g_w) {
                *xi -= gamma * (gx - gw);
            }
        } else {
            for (k, &i) in draw.indices.iter().enumerate() {
                state.x[i] -= gamma * (self.g_x[k] - self.g_w[k]);
            }
        }
        if !loss.is_finite() || state.x.iter().any(|v| !v.is_finite()) {
            return Err(MastError::Diverged {
                step: state.step + 1,
                detail: format!("loss or iterate not finite (loss {loss})"),
                gamma,
                theory_gamma: Solver::<O>::theory_gamma_for(self, problem),
            });
        }
        if refresh {
            self.refresh_reference(problem);
        }
        let evals = 2 + if refresh { self.ref_batch } else { 0 };
        state.record_step(evals * f.num_samples(), state.x.len(), loss, gamma);
        Ok(())
    }

    fn theory_gamma(&self) -> f64 {
        self.theory_gamma
    }

    fn theory_gamma_for(&self, problem: &MastProblem<'_, O>) -> f64 {
        let s = &self.sketch;
        let kind = self.step_size.theory_kind();
        crate::theory::theory_step(kind, problem.objective.smoothness(), s.l_d(), s.l_s_max()) / 6.0
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::to_value(Saved {
            rng: self.rng.clone(),
            w: self.w.clone(),
            h: self.h.clone(),
            pick: self.pick.clone(),
        })
        .expect("solver state serialises")
    }

    fn restore_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        let s: Saved = crate::serde_util::from_state(saved, "solver")?;
        (self.rng, self.w, self.h, self.pick) = (s.rng, s.w, s.h, s.pick);
        Ok(())
    }
}
