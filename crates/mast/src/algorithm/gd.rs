//! Plain gradient descent / SGD on f: the ERM baseline.

use super::sampler::step_rows;
use super::{BatchSampler, IterState, MastProblem, Solver, StepSchedule, StepSize, Variant};
use crate::error::{MastError, Result};
use crate::objective::Objective;
use crate::rng::{stream, Stream};

/// `x_{t+1} = x_t − γ_t ∇f(x_t)` (full data) or with a minibatch gradient. It
/// ignores the shift and sketches: it minimises f itself. Its theory step is 1/L_f.
#[derive(Debug)]
pub struct GradientDescent {
    variant: Variant,
    step_size: StepSize,
    seed: u64,
    schedule: Option<StepSchedule>,
    theory_gamma: f64,
    sampler: Option<BatchSampler>,
    grad: Vec<f64>,
}

impl GradientDescent {
    /// GD (`Variant::Exact`) or SGD (`Variant::Minibatch`); minibatches use the
    /// seed's data stream, exactly as [`super::DoubleSketchedSgd`] does.
    pub fn new(variant: Variant, step_size: StepSize, seed: u64) -> Self {
        GradientDescent {
            variant,
            step_size,
            seed,
            schedule: None,
            theory_gamma: f64::NAN,
            sampler: None,
            grad: Vec::new(),
        }
    }
}

impl<O: Objective + ?Sized> Solver<O> for GradientDescent {
    fn name(&self) -> String {
        match self.variant {
            Variant::Exact => "gd".into(),
            Variant::Minibatch(b) => format!("sgd(batch {b})"),
        }
    }

    fn init_at(&mut self, problem: &MastProblem<'_, O>, x0: Vec<f64>) -> Result<IterState> {
        let f = problem.objective;
        let (theory_gamma, schedule) = self
            .step_size
            .resolve_with(|| Solver::<O>::theory_gamma_for(self, problem))?;
        self.theory_gamma = theory_gamma;
        self.schedule = Some(schedule);
        self.sampler = match self.variant {
            Variant::Exact => None,
            Variant::Minibatch(b) => {
                if b == 0 || b > f.num_samples() {
                    return Err(MastError::param(
                        "batch",
                        format!("must be in 1..={}", f.num_samples()),
                    ));
                }
                Some(BatchSampler::new(
                    f.num_samples(),
                    stream(self.seed, Stream::Data),
                ))
            }
        };
        self.grad = vec![0.0; f.dim()];
        Ok(IterState::start(x0))
    }

    fn next_iter(&mut self, problem: &MastProblem<'_, O>, state: &mut IterState) -> Result<()> {
        let gamma = self
            .schedule
            .expect("init before next_iter")
            .gamma(state.step);
        let (rows, used, _) = step_rows(
            &mut self.sampler,
            None,
            self.variant,
            problem.objective.num_samples(),
        )?;
        let loss = problem.objective.loss_grad(&state.x, rows, &mut self.grad);
        for (x, g) in state.x.iter_mut().zip(&self.grad) {
            *x -= gamma * g;
        }
        if !loss.is_finite() || state.x.iter().any(|v| !v.is_finite()) {
            return Err(MastError::Diverged {
                step: state.step + 1,
                detail: format!("loss or iterate not finite (loss {loss})"),
                gamma,
                theory_gamma: Solver::<O>::theory_gamma_for(self, problem),
            });
        }
        state.record_step(used, state.x.len(), loss, gamma);
        Ok(())
    }

    fn theory_gamma(&self) -> f64 {
        self.theory_gamma
    }

    fn theory_gamma_for(&self, problem: &MastProblem<'_, O>) -> f64 {
        crate::theory::theory_step(
            self.step_size.theory_kind(),
            problem.objective.smoothness(),
            1.0,
            1.0,
        )
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::to_value(&self.sampler).expect("sampler serialises")
    }

    fn restore_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        self.sampler = crate::serde_util::from_state(saved, "solver")?;
        Ok(())
    }
}
