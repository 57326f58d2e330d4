//! Step sizes: constant, from theory, or decreasing.

use crate::error::{MastError, Result};

/// How the step size γ is chosen (before the problem is known).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepSize {
    /// A fixed γ.
    Constant {
        /// γ.
        gamma: f64,
    },
    /// `multiplier / (L_f · L_S^max)`, the strongly convex theory step (MAST.md §4).
    Theory {
        /// Factor applied to the theory step.
        multiplier: f64,
    },
    /// `multiplier / (L_f √(L_D L_S^max T))`, the non-convex theory step for a
    /// horizon of T steps (MAST.md §4); for Algorithm 2 `multiplier / √(D_max T)`.
    NonConvex {
        /// Factor applied to the theory step.
        multiplier: f64,
        /// The horizon T (total steps of the run).
        horizon: u64,
    },
    /// `γ_t = γ_0 / (1 + t / t0)` with `γ_0 = multiplier / (L_f · L_S^max)`:
    /// converges to `x_D*` itself rather than a neighbourhood.
    Decreasing {
        /// Factor applied to the theory step for γ_0.
        multiplier: f64,
        /// Steps until γ halves.
        t0: f64,
    },
}

impl StepSize {
    /// Resolves the rule into a schedule, given the theory step of the rule's kind
    /// (see [`StepSize::theory_kind`]).
    pub fn resolve(&self, theory_gamma: f64) -> Result<StepSchedule> {
        let check = |name: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(MastError::param(
                    name,
                    format!("must be positive and finite, got {v}"),
                ))
            }
        };
        Ok(match *self {
            StepSize::Constant { gamma } => {
                check("step_size", gamma)?;
                StepSchedule {
                    gamma0: gamma,
                    t0: f64::INFINITY,
                }
            }
            StepSize::Theory { .. } | StepSize::NonConvex { .. } | StepSize::Decreasing { .. }
                if !(theory_gamma > 0.0 && theory_gamma.is_finite()) =>
            {
                return Err(MastError::param(
                    "step_size",
                    format!(
                        "the theory step is {theory_gamma}: it needs finite, positive L_f and \
                         L_S^max = sup λmax(SᵀS) (an unbounded sketch such as `gaussian` has \
                         L_S^max = ∞); set a constant step_size instead"
                    ),
                ))
            }
            StepSize::Theory { multiplier } | StepSize::NonConvex { multiplier, .. } => {
                check("step_multiplier", multiplier)?;
                StepSchedule {
                    gamma0: multiplier * theory_gamma,
                    t0: f64::INFINITY,
                }
            }
            StepSize::Decreasing { multiplier, t0 } => {
                check("step_multiplier", multiplier)?;
                check("t0", t0)?;
                StepSchedule {
                    gamma0: multiplier * theory_gamma,
                    t0,
                }
            }
        })
    }
}

impl StepSize {
    /// Which theory step the rule scales.
    pub fn theory_kind(&self) -> TheoryStep {
        match *self {
            StepSize::NonConvex { horizon, .. } => TheoryStep::NonConvex { horizon },
            _ => TheoryStep::StronglyConvex,
        }
    }

    /// Resolves the rule, computing the theory step with `theory` only when the
    /// rule needs it (L_f can be costly: a power iteration). Returns the theory
    /// step (NaN when not computed) and the schedule.
    pub fn resolve_with(&self, theory: impl FnOnce() -> f64) -> Result<(f64, StepSchedule)> {
        let theory_gamma = if self.needs_theory() {
            theory()
        } else {
            f64::NAN
        };
        Ok((theory_gamma, self.resolve(theory_gamma)?))
    }

    /// Whether resolving needs the theory step (and so L_f).
    pub fn needs_theory(&self) -> bool {
        !matches!(self, StepSize::Constant { .. })
    }
}

/// The theory step a rule is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TheoryStep {
    /// `1/(L_f L_S^max)` (Algorithm 2: `1/max_i L_{f_i} L_{S_i}^max`).
    StronglyConvex,
    /// `1/(L_f √(L_D L_S^max T))` (Algorithm 2: `1/√(D_max T)`).
    NonConvex {
        /// The horizon T.
        horizon: u64,
    },
}

/// A resolved schedule `γ_t = γ_0 / (1 + t/t0)` (constant when t0 = ∞).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSchedule {
    /// γ_0.
    pub gamma0: f64,
    /// Decay time (∞ for constant).
    pub t0: f64,
}

impl StepSchedule {
    /// γ_t.
    #[inline]
    pub fn gamma(&self, t: u64) -> f64 {
        if self.t0.is_infinite() {
            self.gamma0
        } else {
            self.gamma0 / (1.0 + t as f64 / self.t0)
        }
    }
}
