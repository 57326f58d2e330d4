//! Solvers, argmin-style: a solver is `next_iter(problem, state) -> state`; the
//! executor in [`crate::run`] drives it and adds evaluation, observers and
//! checkpoints.
//!
//! - [`DoubleSketchedSgd`]: Algorithm 1 (double sketched (S)GD), variants I and II.
//! - [`DistributedDsgd`]: Algorithm 2 (distributed, over an [`crate::engine::Engine`]).
//! - [`Lsvrdsg`]: Algorithm 3 (loopless SVRG over a fixed set of sketches).
//! - [`GradientDescent`]: plain GD / SGD on f (the ERM baseline).
//! - [`erm`]: the exact ERM optimum (Newton, L-BFGS fallback).

mod distributed;
mod draw_ahead;
mod dsgd;
pub mod erm;
mod gd;
mod lsvrdsg;
/// Old paths of what moved to [`crate::sampling`].
mod sampler {
    pub(crate) use crate::sampling::step_rows;
}
mod shuffle_ahead {
    pub(crate) use crate::sampling::shuffle_ahead::ShuffleAhead;
}
mod step;

pub use crate::sampling::{BatchSampler, Variant};
pub use distributed::{DistributedDsgd, NodeSketches};
pub use dsgd::DoubleSketchedSgd;
pub use gd::GradientDescent;
pub use lsvrdsg::Lsvrdsg;
pub use step::{StepSchedule, StepSize, TheoryStep};

use crate::error::Result;
use crate::objective::{Objective, Shift};

/// A MAST problem: the objective `f` and the shift `v` (with its precomputation).
#[derive(Debug)]
pub struct MastProblem<'a, O: Objective + ?Sized> {
    /// The objective f.
    pub objective: &'a O,
    /// The shift v.
    pub shift: Shift,
}

impl<'a, O: Objective + ?Sized> MastProblem<'a, O> {
    /// The problem `min_x E_S f(v + S(x − v))` for `objective` and `shift`.
    pub fn new(objective: &'a O, shift: Shift) -> Self {
        MastProblem { objective, shift }
    }
}

/// The state a solver carries from one iteration to the next.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IterState {
    /// The iterate x_t.
    pub x: Vec<f64>,
    /// Iterations done.
    pub step: u64,
    /// Data samples processed (gradient evaluations of single samples).
    pub samples: u64,
    /// Coordinates touched: the sum of |Ω_t| over steps.
    pub coords: u64,
    /// The (sketched) loss seen by the last step.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub last_loss: f64,
    /// The step size used by the last step.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub gamma: f64,
}

impl IterState {
    /// The state at `x0` before any step.
    pub fn start(x0: Vec<f64>) -> Self {
        IterState {
            x: x0,
            step: 0,
            samples: 0,
            coords: 0,
            last_loss: f64::NAN,
            gamma: f64::NAN,
        }
    }

    /// Books one finished step: `samples` data samples and `coords` coordinates
    /// used, the loss it saw and its step size.
    pub fn record_step(&mut self, samples: usize, coords: usize, loss: f64, gamma: f64) {
        self.step += 1;
        self.samples += samples as u64;
        self.coords += coords as u64;
        self.last_loss = loss;
        self.gamma = gamma;
    }
}

/// One optimisation method.
pub trait Solver<O: Objective + ?Sized> {
    /// A short name for reports.
    fn name(&self) -> String;

    /// Prepares for `problem` (resolves theory step sizes, sizes buffers) and
    /// returns the starting state at `x0`.
    fn init_at(&mut self, problem: &MastProblem<'_, O>, x0: Vec<f64>) -> Result<IterState>;

    /// The starting state at x⁰ = 0.
    fn init(&mut self, problem: &MastProblem<'_, O>) -> Result<IterState> {
        self.init_at(problem, vec![0.0; problem.objective.dim()])
    }

    /// One iteration: updates `state` in place (state in, state out, without
    /// copying the iterate).
    fn next_iter(&mut self, problem: &MastProblem<'_, O>, state: &mut IterState) -> Result<()>;

    /// The theory step size as resolved by `init` (NaN when the step rule did not
    /// need it; see [`Solver::theory_gamma_for`]).
    fn theory_gamma(&self) -> f64;

    /// The step size the theory guarantees for `problem` (computes L_f if needed).
    fn theory_gamma_for(&self, problem: &MastProblem<'_, O>) -> f64;

    /// The solver's internal state (random streams, sampler) for checkpoints.
    fn save_state(&self) -> serde_json::Value;

    /// Restores what [`Solver::save_state`] saved.
    fn restore_state(&mut self, saved: &serde_json::Value) -> Result<()>;

    /// Communication so far, for distributed solvers (None for the others).
    fn traffic(&self) -> Option<crate::engine::Traffic> {
        None
    }
}
