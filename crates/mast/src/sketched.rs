//! The MAST objective: `f_S(x) = f(v + S(x − v))`, `∇f_S(x) = Sᵀ∇f(v + S(x − v))`,
//! `f_D(x) = E_S f_S(x)` (a Monte-Carlo estimate for any objective, exact for
//! quadratics: MAST.md §2).

use crate::error::{MastError, Result};
use crate::linalg::{dot, SymMatrix};
use crate::objective::{Objective, Quadratic, Rows, Shift, Workspace};
use crate::rng::MastRng;
use crate::sketch::{Sketch, SketchDraw};

/// `f_S(x)` and `∇f_S(x)` (dense, length d) for one draw, over all samples.
///
/// ```
/// use mast::linalg::SymMatrix;
/// use mast::objective::{Quadratic, Shift};
/// use mast::sketch::SketchDraw;
/// let q = Quadratic::new(SymMatrix::from_fn(2, |i, j| (i == j) as u8 as f64), vec![0.0; 2], 0.0).unwrap();
/// let draw = SketchDraw::from_parts(vec![1], vec![2.0]);
/// let (f, g) = mast::sketched::sketched_value_grad(&q, &Shift::zero(2), &[1.0, 1.0], &draw);
/// assert_eq!((f, g), (2.0, vec![0.0, 4.0]));
/// ```
pub fn sketched_value_grad<O: Objective + ?Sized>(
    objective: &O,
    shift: &Shift,
    x: &[f64],
    draw: &SketchDraw,
) -> (f64, Vec<f64>) {
    let d = objective.dim();
    let mut ws = Workspace::new(d, objective.num_samples());
    let mut out = vec![0.0; draw.len()];
    let f = objective.sketched_loss_grad(shift, x, draw, Rows::All, &mut ws, &mut out);
    let mut g = vec![0.0; d];
    for (k, &j) in draw.indices.iter().enumerate() {
        g[j] = out[k];
    }
    (f, g)
}

/// Work vectors of the generic (operator) path: the sketched model `y` and the
/// gradient at it, each of length d.
#[derive(Debug, Default, Clone)]
pub struct OperatorWork {
    y: Vec<f64>,
    g: Vec<f64>,
}

impl OperatorWork {
    /// Work vectors for dimension `d`.
    pub fn new(d: usize) -> Self {
        OperatorWork {
            y: vec![0.0; d],
            g: vec![0.0; d],
        }
    }

    fn ensure(&mut self, d: usize) {
        for v in [&mut self.y, &mut self.g] {
            if v.len() != d {
                v.resize(d, 0.0);
            }
        }
    }
}

/// The generic path for any sketch, diagonal or not: `f_S(x)` over `rows`, and the
/// dense sketched gradient `∇f_S(x) = Sᵀ∇f(v + S(x − v))` into `out` (length d),
/// by the sketch's [`Sketch::apply`] and [`Sketch::apply_transpose`] and the
/// objective's plain [`Objective::loss_grad`]. It is the definition, and the
/// reference the fast diagonal paths are tested against; solvers take it for
/// sketches that are not diagonal.
///
/// ```
/// use mast::linalg::SymMatrix;
/// use mast::objective::{Quadratic, Rows, Shift};
/// use mast::sketch::{RandK, SketchDraw};
/// use mast::sketched::{operator_loss_grad, OperatorWork};
/// let q = Quadratic::new(SymMatrix::from_fn(2, |i, j| (i == j) as u8 as f64), vec![0.0; 2], 0.0).unwrap();
/// let draw = SketchDraw::from_parts(vec![1], vec![2.0]);
/// let mut g = vec![0.0; 2];
/// let f = operator_loss_grad(&q, &RandK::new(2, 1).unwrap(), &Shift::zero(2), &[1.0, 1.0], &draw,
///                            Rows::All, &mut OperatorWork::new(2), &mut g);
/// assert_eq!((f, g), (2.0, vec![0.0, 4.0]));
/// ```
#[allow(clippy::too_many_arguments)]
pub fn operator_loss_grad<O: Objective + ?Sized>(
    objective: &O,
    sketch: &dyn Sketch,
    shift: &Shift,
    x: &[f64],
    draw: &SketchDraw,
    rows: Rows<'_>,
    work: &mut OperatorWork,
    out: &mut [f64],
) -> f64 {
    let d = objective.dim();
    work.ensure(d);
    sketch.apply_shifted(draw, x, &shift.v, &mut work.y);
    let loss = objective.loss_grad(&work.y, rows, &mut work.g);
    sketch.apply_transpose(draw, &work.g, &mut out[..d]);
    loss
}

/// One step of Algorithm 1 on the generic path: `x ← x − γ Sᵀ∇f(v + S(x − v))`
/// over `rows`, all d coordinates, the update by [`Sketch::descend`]. Returns the
/// sketched loss before the step and whether it and the new iterate are finite.
/// `scratch` (length d) is work space.
#[allow(clippy::too_many_arguments)]
pub fn operator_step<O: Objective + ?Sized>(
    objective: &O,
    sketch: &dyn Sketch,
    shift: &Shift,
    x: &mut [f64],
    draw: &SketchDraw,
    rows: Rows<'_>,
    gamma: f64,
    work: &mut OperatorWork,
    scratch: &mut [f64],
) -> crate::objective::StepOutcome {
    let d = objective.dim();
    work.ensure(d);
    if shift.is_zero {
        sketch.apply(draw, &x[..d], &mut work.y);
    } else {
        sketch.apply_shifted(draw, x, &shift.v, &mut work.y);
    }
    let loss = objective.loss_grad(&work.y, rows, &mut work.g);
    let finite = sketch.descend(draw, &work.g, gamma, &mut x[..d], &mut scratch[..d]);
    crate::objective::StepOutcome {
        loss,
        finite: finite && loss.is_finite(),
    }
}

/// A Monte-Carlo estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// Sample mean.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub mean: f64,
    /// Standard error of the mean.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub std_err: f64,
    /// Number of samples.
    pub samples: usize,
    /// Wall time the estimate took, in seconds (0 where it was not computed).
    #[serde(default)]
    pub seconds: f64,
}

/// Estimates `f_D(x) = E_S f(v + S(x − v))` from `samples` draws.
///
/// The samples run in parallel: sample s draws its sketch from its own
/// generator, seeded by the s-th output of `rng` (taken in order first), and the
/// values are summed in sample order, so the estimate is the same whatever the
/// thread count. Each thread holds one d-sized model.
///
/// ```
/// use mast::linalg::SymMatrix;
/// use mast::objective::{Quadratic, Shift};
/// use mast::rng::{stream, Stream};
/// use mast::sketch::RandK;
/// let q = Quadratic::new(SymMatrix::from_fn(3, |i, j| (i == j) as u8 as f64), vec![0.0; 3], 0.0).unwrap();
/// let s = RandK::new(3, 1).unwrap();
/// let est = mast::sketched::estimate_fd(&q, &Shift::zero(3), &s, &[1.0; 3], 50, &mut stream(1, Stream::Estimate));
/// // f(S x) = ½‖S x‖² = ½·9 for every draw (one coordinate, scaled by 3).
/// assert_eq!((est.mean, est.samples), (4.5, 50));
/// ```
pub fn estimate_fd<O: Objective + ?Sized>(
    objective: &O,
    shift: &Shift,
    sketch: &dyn Sketch,
    x: &[f64],
    samples: usize,
    rng: &mut MastRng,
) -> Estimate {
    use rand::{RngCore, SeedableRng};
    use rayon::prelude::*;
    let start = std::time::Instant::now();
    let seeds: Vec<u64> = (0..samples).map(|_| rng.next_u64()).collect();
    let d = objective.dim();
    let values: Vec<f64> = seeds
        .par_iter()
        .map_init(
            || (SketchDraw::new(), vec![0.0; d]),
            |(draw, y), &seed| {
                sketch.draw(&mut MastRng::seed_from_u64(seed), draw);
                sketch.apply_shifted(draw, x, &shift.v, y);
                objective.loss(y)
            },
        )
        .collect();
    let (mut s, mut s2) = (0.0, 0.0);
    for f in values {
        s += f;
        s2 += f * f;
    }
    let n = samples as f64;
    let mean = s / n;
    let var = if samples > 1 {
        ((s2 - n * mean * mean) / (n - 1.0)).max(0.0)
    } else {
        f64::NAN
    };
    Estimate {
        mean,
        std_err: (var / n).sqrt(),
        samples,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Exact MAST quantities for a quadratic `f(x) = ½xᵀAx − bᵀx + c` (MAST.md §2):
/// with `M = E[SᵀAS]` and `S̄ = E[S]`,
///
/// - `f_D(x) = f(v) + (x−v)ᵀS̄∇f(v) + ½(x−v)ᵀM(x−v)`, which for `E[S] = I` is
///   `f(x) + ½(x−v)ᵀ(M − A)(x−v)`
/// - `∇f_D(x) = M(x−v) + S̄(Av − b)`
/// - `x_D* = v + M⁻¹S̄(b − Av)`
///
/// `S̄ = I` for every sketch distribution (Assumption 1); over a finite set of
/// draws ([`QuadraticMast::from_draws`]) it is their mean, which is not I.
#[derive(Debug, Clone)]
pub struct QuadraticMast<'a> {
    q: &'a Quadratic,
    v: Vec<f64>,
    m: SymMatrix,
    /// S̄ (the identity for a sketch distribution).
    s_bar: SBar,
}

/// `S̄ = E[S]` of a [`QuadraticMast`].
#[derive(Debug, Clone)]
enum SBar {
    Identity,
    /// A diagonal.
    Diagonal(Vec<f64>),
    /// A dense d×d matrix, row-major (mean of non-diagonal draws).
    Dense(Vec<f64>),
}

impl<'a> QuadraticMast<'a> {
    /// For a sketch distribution (uses its exact pair moments `E[s_j s_l]`).
    pub fn new(q: &'a Quadratic, sketch: &dyn Sketch, v: Vec<f64>) -> Result<Self> {
        let m = crate::sketch::expected_sas(sketch, q.a());
        Self::with_m(q, m, SBar::Identity, v)
    }

    /// For the uniform distribution over a finite set of draws (Algorithm 3's
    /// finite sum `f_D = (1/N) Σ_j f_{S_j}`).
    pub fn from_draws(q: &'a Quadratic, draws: &[SketchDraw], v: Vec<f64>) -> Result<Self> {
        let d = q.a().d;
        let mut pair = SymMatrix::zeros(d);
        let mut s_bar = vec![0.0; d];
        let w = 1.0 / draws.len() as f64;
        for draw in draws {
            for (j, cj) in draw.iter() {
                s_bar[j] += w * cj;
            }
            for (j, cj) in draw.iter() {
                for (l, cl) in draw.iter() {
                    pair.data[j * d + l] += w * cj * cl;
                }
            }
        }
        let m = SymMatrix::from_fn(d, |j, l| q.a().get(j, l) * pair.get(j, l));
        Self::with_m(q, m, SBar::Diagonal(s_bar), v)
    }

    /// [`QuadraticMast::from_draws`] for draws of any sketch, diagonal or not:
    /// each draw's matrix `S_i` is formed column by column with
    /// [`Sketch::apply`] (d applications a draw), then `M = (1/N) Σ S_iᵀ A S_i`
    /// and `S̄ = (1/N) Σ S_i`. O(N d (d² + cost of apply)): for tests and small d.
    pub fn from_sketch_draws(
        q: &'a Quadratic,
        sketch: &dyn Sketch,
        draws: &[SketchDraw],
        v: Vec<f64>,
    ) -> Result<Self> {
        if sketch.is_diagonal() {
            return Self::from_draws(q, draws, v);
        }
        let d = q.a().d;
        let w = 1.0 / draws.len() as f64;
        let mut m = SymMatrix::zeros(d);
        let mut s_bar = vec![0.0; d * d];
        let (mut e, mut col) = (vec![0.0; d], vec![0.0; d]);
        let mut s = vec![0.0; d * d]; // S_i, row-major
        let mut as_ = vec![0.0; d * d]; // A S_i, row-major
        for draw in draws {
            for l in 0..d {
                e.fill(0.0);
                e[l] = 1.0;
                sketch.apply(draw, &e, &mut col);
                for j in 0..d {
                    s[j * d + l] = col[j];
                }
            }
            for j in 0..d {
                for l in 0..d {
                    as_[j * d + l] = (0..d).map(|k| q.a().get(j, k) * s[k * d + l]).sum();
                }
            }
            for j in 0..d {
                for l in 0..d {
                    let sas: f64 = (0..d).map(|k| s[k * d + j] * as_[k * d + l]).sum();
                    m.data[j * d + l] += w * sas;
                    s_bar[j * d + l] += w * s[j * d + l];
                }
            }
        }
        // Symmetric up to rounding: use the symmetric part.
        let m = SymMatrix::from_fn(d, |j, l| 0.5 * (m.get(j, l) + m.get(l, j)));
        Self::with_m(q, m, SBar::Dense(s_bar), v)
    }

    fn with_m(q: &'a Quadratic, m: SymMatrix, s_bar: SBar, v: Vec<f64>) -> Result<Self> {
        if v.len() != q.a().d {
            return Err(MastError::Dimension(format!(
                "shift has {} entries, the quadratic {}",
                v.len(),
                q.a().d
            )));
        }
        Ok(QuadraticMast { q, v, m, s_bar })
    }

    /// `E[SᵀAS]`.
    pub fn expected_sas(&self) -> &SymMatrix {
        &self.m
    }

    /// `S̄ᵀ ∇f(v) = S̄ᵀ(Av − b)`.
    fn sbar_grad_at_v(&self) -> Vec<f64> {
        let d = self.v.len();
        let mut av = vec![0.0; d];
        self.q.a().matvec(&self.v, &mut av);
        let g: Vec<f64> = (0..d).map(|j| av[j] - self.q.b()[j]).collect();
        match &self.s_bar {
            SBar::Identity => g,
            SBar::Diagonal(s) => g.iter().zip(s).map(|(g, s)| g * s).collect(),
            SBar::Dense(s) => (0..d)
                .map(|l| (0..d).map(|j| s[j * d + l] * g[j]).sum())
                .collect(),
        }
    }

    /// Exact `f_D(x)`.
    pub fn value(&self, x: &[f64]) -> f64 {
        let d = self.v.len();
        let z: Vec<f64> = x.iter().zip(&self.v).map(|(a, b)| a - b).collect();
        let mut mz = vec![0.0; d];
        self.m.matvec(&z, &mut mz);
        self.q.loss(&self.v) + dot(&z, &self.sbar_grad_at_v()) + 0.5 * dot(&z, &mz)
    }

    /// Exact `∇f_D(x)`.
    pub fn gradient(&self, x: &[f64]) -> Vec<f64> {
        let d = self.v.len();
        let z: Vec<f64> = x.iter().zip(&self.v).map(|(a, b)| a - b).collect();
        let mut mz = vec![0.0; d];
        self.m.matvec(&z, &mut mz);
        mz.iter()
            .zip(self.sbar_grad_at_v())
            .map(|(a, b)| a + b)
            .collect()
    }

    /// The exact minimiser `x_D*`.
    pub fn minimizer(&self) -> Result<Vec<f64>> {
        let rhs: Vec<f64> = self.sbar_grad_at_v().iter().map(|g| -g).collect();
        let step = self.m.solve_spd(&rhs)?;
        Ok(self.v.iter().zip(&step).map(|(a, b)| a + b).collect())
    }
}
