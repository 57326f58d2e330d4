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

/// `(L_f/2)(x − v)ᵀ(E[SᵀS] − I)(x − v)`: the gap of the sandwich bound
/// `f(x) ≤ f_D(x) ≤ f(x) + gap` (MAST.md §3, f convex and L_f-smooth).
///
/// ```
/// use mast::sketch::Bernoulli;
/// use mast::theory::sandwich_gap;
/// let s = Bernoulli::new(2, 0.5).unwrap(); // E[SᵀS] = 2I
/// assert_eq!(sandwich_gap(4.0, &s, &[1.0, 2.0], &[0.0, 0.0]), 10.0);
/// ```
pub fn sandwich_gap(l_f: f64, sketch: &dyn Sketch, x: &[f64], v: &[f64]) -> f64 {
    let diag = sketch.expected_sts_diag();
    let q: f64 = diag
        .iter()
        .zip(x.iter().zip(v))
        .map(|(e, (xj, vj))| (e - 1.0) * (xj - vj) * (xj - vj))
        .sum();
    0.5 * l_f * q
}

/// The constants of a problem and a sketch that the theory needs, and what it
/// predicts for Algorithm 1 (variant I): the step-size rules, the contraction
/// factor and the neighbourhood in the strongly convex case, and the bounds that
/// tie f_D to f (MAST.md §3–§4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TheoryReport {
    /// Whether the sketch is unbiased (`E[S] = I`); when false (the DropConnect
    /// baseline) none of the guarantees below apply.
    #[serde(default = "yes")]
    pub unbiased: bool,
    /// Smoothness of f.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub l_f: f64,
    /// Strong convexity of f (λ for ℓ2-regularised losses).
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub mu_f: f64,
    /// `λmax E[SᵀS]`.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub l_d: f64,
    /// `λmin E[SᵀS]`.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub mu_d: f64,
    /// `sup λmax(SᵀS)`.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub l_s_max: f64,
    /// Expected kept coordinates per draw.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub expected_kept: f64,
    /// `κ_D = L_f L_D / (μ_f μ_D)`: condition number of f_D's bounds.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub kappa_d: f64,
    /// `γ = 1/(L_f L_S^max)`: the largest step with the strongly convex guarantee.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub theory_gamma: f64,
    /// The run's horizon T (0 when unknown).
    #[serde(default)]
    pub horizon: u64,
    /// `1/(L_f √(L_D L_S^max T))`: the non-convex step for the horizon.
    #[serde(default = "nan", deserialize_with = "crate::serde_util::f64_or_nan")]
    pub nonconvex_gamma: f64,
    /// `1 − γ μ_f μ_D` at the step actually used (per-step contraction of E‖x − x_D*‖²).
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub predicted_contraction: f64,
    /// The step used.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub gamma: f64,
    /// `f_inf = f(x*)`, when the ERM optimum was computed.
    #[serde(default = "nan", deserialize_with = "crate::serde_util::f64_or_nan")]
    pub f_star: f64,
    /// `‖x* − v‖²`.
    #[serde(default = "nan", deserialize_with = "crate::serde_util::f64_or_nan")]
    pub x_star_dist_sq: f64,
    /// `L_f (L_D − 1)/2 ‖x* − v‖²`: bounds `f_D_inf − f_inf`.
    #[serde(default = "nan", deserialize_with = "crate::serde_util::f64_or_nan")]
    pub fd_gap_bound: f64,
    /// `(L_f/μ_f)(L_D − 1)‖x* − v‖²`: bounds `‖x_D* − x*‖²`.
    #[serde(default = "nan", deserialize_with = "crate::serde_util::f64_or_nan")]
    pub x_shift_bound: f64,
    /// `(2γ L_f L_S^max/(μ_f μ_D)) · fd_gap_bound`: bounds the neighbourhood
    /// `lim sup E‖x_t − x_D*‖²` of Algorithm 1 (I) at the step used.
    #[serde(default = "nan", deserialize_with = "crate::serde_util::f64_or_nan")]
    pub neighbourhood: f64,
}

fn nan() -> f64 {
    f64::NAN
}
fn yes() -> bool {
    true
}

impl TheoryReport {
    /// Constants of `objective` with `sketch`, predictions at step `gamma`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mast::prelude::*;
    /// use mast::theory::TheoryReport;
    /// let data = Arc::new(mast::data::synthetic::gaussian_planted(50, 4, 0.1, Task::Classification, 1));
    /// let f = LogisticRegression::new(data, 0.1).unwrap();
    /// let s = Bernoulli::new(4, 0.5).unwrap();
    /// let t = TheoryReport::new(&f, &s, 0.01).with_horizon(100);
    /// assert_eq!((t.l_d, t.mu_d, t.l_s_max, t.mu_f), (2.0, 2.0, 4.0, 0.1));
    /// assert!((t.theory_gamma - 1.0 / (4.0 * t.l_f)).abs() < 1e-15);
    /// assert!((t.nonconvex_gamma - 1.0 / (t.l_f * (2.0f64 * 4.0 * 100.0).sqrt())).abs() < 1e-15);
    /// ```
    pub fn new<O: Objective + ?Sized>(objective: &O, sketch: &dyn Sketch, gamma: f64) -> Self {
        let l_f = objective.smoothness();
        let mu_f = objective.strong_convexity();
        let (l_d, mu_d, l_s_max) = (sketch.l_d(), sketch.mu_d(), sketch.l_s_max());
        TheoryReport {
            unbiased: sketch.is_unbiased(),
            l_f,
            mu_f,
            l_d,
            mu_d,
            l_s_max,
            expected_kept: sketch.expected_kept(),
            kappa_d: l_f * l_d / (mu_f * mu_d),
            theory_gamma: theory_step(TheoryStep::StronglyConvex, l_f, l_d, l_s_max),
            horizon: 0,
            nonconvex_gamma: f64::NAN,
            predicted_contraction: 1.0 - gamma * mu_f * mu_d,
            gamma,
            f_star: f64::NAN,
            x_star_dist_sq: f64::NAN,
            fd_gap_bound: f64::NAN,
            x_shift_bound: f64::NAN,
            neighbourhood: f64::NAN,
        }
    }

    /// Adds the non-convex step for a horizon of `steps`.
    pub fn with_horizon(mut self, steps: u64) -> Self {
        self.horizon = steps;
        self.nonconvex_gamma = theory_step(
            TheoryStep::NonConvex { horizon: steps },
            self.l_f,
            self.l_d,
            self.l_s_max,
        );
        self
    }

    /// Adds the bounds that need the ERM optimum: `f_star = f(x*)` and
    /// `x_star_dist_sq = ‖x* − v‖²`.
    pub fn with_erm(mut self, f_star: f64, x_star_dist_sq: f64) -> Self {
        self.f_star = f_star;
        self.x_star_dist_sq = x_star_dist_sq;
        self.fd_gap_bound = 0.5 * self.l_f * (self.l_d - 1.0) * x_star_dist_sq;
        self.x_shift_bound = self.l_f / self.mu_f * (self.l_d - 1.0) * x_star_dist_sq;
        self.neighbourhood = 2.0 * self.gamma * self.l_f * self.l_s_max / (self.mu_f * self.mu_d)
            * self.fd_gap_bound;
        self
    }
}

/// The theory of an Algorithm 2 run: each node's constants, `D_max` and the step rules.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DistributedTheory {
    /// Number of nodes M.
    pub nodes: usize,
    /// Samples per node.
    pub shard_sizes: Vec<usize>,
    /// `L_{f_i}`.
    pub node_l_f: Vec<f64>,
    /// `L_{D_i}`.
    pub node_l_d: Vec<f64>,
    /// `L_{S_i}^max`.
    pub node_l_s_max: Vec<f64>,
    /// `D_max = max_i L_{f_i}² L_{D_i} L_{S_i}^max`.
    pub d_max: f64,
    /// `1/max_i L_{f_i} L_{S_i}^max` (strongly convex rule).
    pub gamma_strongly_convex: f64,
    /// `1/√(D_max T)` for the run's horizon T (non-convex rule).
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub gamma_nonconvex: f64,
    /// The horizon T.
    pub horizon: u64,
}

impl DistributedTheory {
    /// From each node's `(L_{f_i}, L_{D_i}, L_{S_i}^max)`, shard sizes and the horizon.
    pub fn new(constants: &[(f64, f64, f64)], shard_sizes: Vec<usize>, horizon: u64) -> Self {
        DistributedTheory {
            nodes: constants.len(),
            shard_sizes,
            node_l_f: constants.iter().map(|c| c.0).collect(),
            node_l_d: constants.iter().map(|c| c.1).collect(),
            node_l_s_max: constants.iter().map(|c| c.2).collect(),
            d_max: d_max(constants),
            gamma_strongly_convex: distributed_theory_step(TheoryStep::StronglyConvex, constants),
            gamma_nonconvex: distributed_theory_step(TheoryStep::NonConvex { horizon }, constants),
            horizon,
        }
    }
}
