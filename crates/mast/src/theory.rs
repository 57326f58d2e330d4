//! Theory: pure functions of problem and sketch constants (MAST.md §1, §3, §4).

use crate::objective::Objective;
use crate::sketch::Sketch;

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
