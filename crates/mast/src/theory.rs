//! Theory: pure functions of problem and sketch constants (MAST.md §1, §3, §4).

use crate::algorithm::TheoryStep;
use crate::objective::Objective;
use crate::sketch::Sketch;

/// The theory step of Algorithm 1 for a rule kind: `1/(L_f L_S^max)` (strongly
/// convex) or `1/(L_f √(L_D L_S^max T))` (non-convex, horizon T).
///
/// ```
/// use mast::algorithm::TheoryStep;
/// use mast::theory::theory_step;
/// assert_eq!(theory_step(TheoryStep::StronglyConvex, 2.0, 3.0, 4.0), 0.125);
/// assert_eq!(theory_step(TheoryStep::NonConvex { horizon: 3 }, 2.0, 3.0, 4.0), 1.0 / 12.0);
/// ```
pub fn theory_step(kind: TheoryStep, l_f: f64, l_d: f64, l_s_max: f64) -> f64 {
    match kind {
        TheoryStep::StronglyConvex => 1.0 / (l_f * l_s_max),
        TheoryStep::NonConvex { horizon } => 1.0 / (l_f * (l_d * l_s_max * horizon as f64).sqrt()),
    }
}

/// `D_max = max_i L_{f_i}² L_{D_i} L_{S_i}^max` of Algorithm 2 (MAST.md §4), from
/// each node's `(L_{f_i}, L_{D_i}, L_{S_i}^max)`.
pub fn d_max(nodes: &[(f64, f64, f64)]) -> f64 {
    nodes
        .iter()
        .map(|&(l_f, l_d, l_s)| l_f * l_f * l_d * l_s)
        .fold(0.0, f64::max)
}

/// The theory step of Algorithm 2 from each node's `(L_{f_i}, L_{D_i},
/// L_{S_i}^max)`: `1/max_i L_{f_i} L_{S_i}^max` (strongly convex; derived: the
/// average of the nodes' sketched gradient maps is co-coercive with the worst
/// node's constant) or `1/√(D_max T)` (non-convex, the paper's rate).
///
/// ```
/// use mast::algorithm::TheoryStep;
/// use mast::theory::distributed_theory_step;
/// let nodes = [(1.0, 2.0, 4.0), (2.0, 2.0, 4.0)];
/// assert_eq!(distributed_theory_step(TheoryStep::StronglyConvex, &nodes), 0.125);
/// assert_eq!(distributed_theory_step(TheoryStep::NonConvex { horizon: 2 }, &nodes), 1.0 / 8.0);
/// ```
pub fn distributed_theory_step(kind: TheoryStep, nodes: &[(f64, f64, f64)]) -> f64 {
    match kind {
        TheoryStep::StronglyConvex => {
            1.0 / nodes
                .iter()
                .map(|&(l_f, _, l_s)| l_f * l_s)
                .fold(0.0, f64::max)
        }
        TheoryStep::NonConvex { horizon } => 1.0 / (d_max(nodes) * horizon as f64).sqrt(),
    }
}

/// The constants of a problem and a sketch that the theory needs, and what it
/// predicts for Algorithm 1 (variant I) in the strongly convex case.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TheoryReport {
    /// Smoothness of f.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub l_f: f64,
    /// Strong convexity of f (λ for ℓ2-regularised losses).
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub mu_f: f64,
    /// `λmax E[SᵀS]`.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub l_d: f64,
    /// `λmin E[SᵀS]`.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub mu_d: f64,
    /// `sup λmax(SᵀS)`.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub l_s_max: f64,
    /// Expected kept coordinates per draw.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub expected_kept: f64,
    /// `κ_D = L_f L_D / (μ_f μ_D)`: condition number of f_D's bounds.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub kappa_d: f64,
    /// `γ = 1/(L_f L_S^max)`: the largest step with the strongly convex guarantee.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub theory_gamma: f64,
    /// `1 − γ μ_f μ_D` at the step actually used (per-step contraction of E‖x − x_D*‖²).
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub predicted_contraction: f64,
    /// The step used.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub gamma: f64,
}

impl TheoryReport {
    /// Constants of `objective` with `sketch`, predictions at step `gamma`.
    pub fn new<O: Objective + ?Sized>(objective: &O, sketch: &dyn Sketch, gamma: f64) -> Self {
        let l_f = objective.smoothness();
        let mu_f = objective.strong_convexity();
        let (l_d, mu_d, l_s_max) = (sketch.l_d(), sketch.mu_d(), sketch.l_s_max());
        TheoryReport {
            l_f,
            mu_f,
            l_d,
            mu_d,
            l_s_max,
            expected_kept: sketch.expected_kept(),
            kappa_d: l_f * l_d / (mu_f * mu_d),
            theory_gamma: 1.0 / (l_f * l_s_max),
            predicted_contraction: 1.0 - gamma * mu_f * mu_d,
            gamma,
        }
    }
}
