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

/// A Monte-Carlo estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// Sample mean.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub mean: f64,
    /// Standard error of the mean.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
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
                draw.apply_shifted(x, &shift.v, y);
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
    /// Diagonal of S̄ (None: the identity).
    s_bar: Option<Vec<f64>>,
}

impl<'a> QuadraticMast<'a> {
    /// For a sketch distribution (uses its exact pair moments `E[s_j s_l]`).
    pub fn new(q: &'a Quadratic, sketch: &dyn Sketch, v: Vec<f64>) -> Result<Self> {
        let m = crate::sketch::expected_sas(sketch, q.a());
        Self::with_m(q, m, None, v)
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
        Self::with_m(q, m, Some(s_bar), v)
    }

    fn with_m(
        q: &'a Quadratic,
        m: SymMatrix,
        s_bar: Option<Vec<f64>>,
        v: Vec<f64>,
    ) -> Result<Self> {
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

    /// `S̄ ∇f(v) = S̄(Av − b)`.
    fn sbar_grad_at_v(&self) -> Vec<f64> {
        let d = self.v.len();
        let mut av = vec![0.0; d];
        self.q.a().matvec(&self.v, &mut av);
        (0..d)
            .map(|j| {
                let g = av[j] - self.q.b()[j];
                self.s_bar.as_ref().map_or(g, |s| s[j] * g)
            })
            .collect()
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
