//! Linear models `f(x) = (1/n) Σ ℓ(a_iᵀx, b_i) + (λ/2)‖x‖²` with a sketch-sparse oracle.

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use super::bit_batch::{self, BitBatch};
use super::sparse_batch::SparseBatch;
use super::sparse_step::SparseStep;
use super::{Objective, Rows, Shift, StepOutcome, Workspace, CHUNK};

/// Coordinates of one parallel task in the dense passes over the model.
const COLUMN_CHUNK: usize = 1 << 15;

/// `Σ x_j²` in eight partial sums (position mod 8, then added pairwise), so
/// that the additions do not wait on each other and the loop vectorises.
fn sum_of_squares(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v * v;
        }
    }
    for (a, &v) in acc.iter_mut().zip(rest) {
        *a += v * v;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}
use crate::data::{Dataset, Design};
use crate::error::{MastError, Result};
use crate::linalg::{axpy, dot, power_iteration, SymMatrix};
use crate::sketch::SketchDraw;

/// A loss of the margin `m = a_iᵀx` and the target `b`.
pub trait MarginLoss: Copy + Send + Sync + std::fmt::Debug + 'static {
    /// Name for reports.
    const NAME: &'static str;
    /// `sup ∂²ℓ/∂m²`: the loss's curvature bound.
    const CURVATURE: f64;
    /// Whether targets are ±1 classes (accuracy is then meaningful).
    const CLASSIFICATION: bool;
    /// `ℓ(m, b)`.
    fn value(m: f64, b: f64) -> f64;
    /// `∂ℓ/∂m`.
    fn derivative(m: f64, b: f64) -> f64;
    /// `∂²ℓ/∂m²`.
    fn second_derivative(m: f64, b: f64) -> f64;
    /// `(ℓ(m, b), ∂ℓ/∂m)` together, bit-for-bit equal to the two calls (losses
    /// whose value and derivative share work override it).
    #[inline]
    fn value_derivative(m: f64, b: f64) -> (f64, f64) {
        (Self::value(m, b), Self::derivative(m, b))
    }
    /// `(∂ℓ/∂m, lin, fac)` with `ℓ(m, b) = lin + ln(fac)` and `1 ≤ fac ≤ 2`, so
    /// that a sum of losses takes one logarithm of a product instead of one per
    /// sample (see [`LossSum`]). The derivative is bit-for-bit
    /// [`MarginLoss::derivative`]. The default: `(∂ℓ/∂m, ℓ, 1)`.
    #[inline]
    fn derivative_log_split(m: f64, b: f64) -> (f64, f64, f64) {
        (Self::derivative(m, b), Self::value(m, b), 1.0)
    }
    /// The derivatives of a minibatch: `r_i = ∂ℓ/∂m (m_i, b_i) · scale` for the
    /// margins `m` and labels `b`, and the sum of the losses; `m` and `fac` are
    /// scratch (overwritten). Losses may compute it in vector lanes, within a few
    /// ulp of [`MarginLoss::derivative`]; the default is
    /// [`MarginLoss::derivative_log_split`] sample by sample.
    fn batch_derivatives(
        b: &[f64],
        m: &mut [f64],
        scale: f64,
        r: &mut [f64],
        fac: &mut [f64],
    ) -> LossSum {
        let _ = fac;
        let mut sum = LossSum::default();
        for ((&mi, &bi), ri) in m.iter().zip(b).zip(r.iter_mut()) {
            let (deriv, lin, f) = Self::derivative_log_split(mi, bi);
            sum.add(lin, f);
            *ri = deriv * scale;
        }
        sum
    }
}

/// A sum of losses given as [`MarginLoss::derivative_log_split`] parts: the
/// linear parts add up and the factors multiply, with one logarithm per few
/// hundred samples.
#[derive(Debug, Clone, Copy)]
pub struct LossSum {
    lin: f64,
    prod: f64,
}

impl Default for LossSum {
    fn default() -> Self {
        LossSum {
            lin: 0.0,
            prod: 1.0,
        }
    }
}

impl LossSum {
    /// Adds `lin + ln(fac)`.
    #[inline]
    pub fn add(&mut self, lin: f64, fac: f64) {
        self.lin += lin;
        self.prod *= fac;
        // Factors are at most 2: fold the product long before it could overflow.
        if self.prod > 1e250 {
            self.lin += self.prod.ln();
            self.prod = 1.0;
        }
    }

    /// The sum.
    #[inline]
    pub fn total(&self) -> f64 {
        self.lin + self.prod.ln()
    }
}

/// Logistic loss `log(1 + exp(−b m))`, computed without overflow.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logistic;

/// Squared loss `(m − b)²/2`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Squared;

/// `log(1 + e^t)` without overflow or loss of precision.
#[inline]
pub fn softplus(t: f64) -> f64 {
    if t > 0.0 {
        t + (-t).exp().ln_1p()
    } else {
        t.exp().ln_1p()
    }
}

/// The logistic function `1/(1 + e^{−z})`, stable for all z.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl MarginLoss for Logistic {
    const NAME: &'static str = "logistic";
    const CURVATURE: f64 = 0.25;
    const CLASSIFICATION: bool = true;
    #[inline]
    fn value(m: f64, b: f64) -> f64 {
        softplus(-b * m)
    }
    #[inline]
    fn derivative(m: f64, b: f64) -> f64 {
        -b * sigmoid(-b * m)
    }
    #[inline]
    fn second_derivative(m: f64, b: f64) -> f64 {
        let s = sigmoid(-b * m);
        b * b * s * (1.0 - s)
    }
    #[inline]
    fn value_derivative(m: f64, b: f64) -> (f64, f64) {
        // One exp for both: with t = −b m and e = exp(−|t|), softplus(t) =
        // max(t, 0) + ln(1 + e) and sigmoid(t) = 1/(1 + e) or e/(1 + e), the same
        // operations (so the same bits) as `softplus` and `sigmoid`.
        let t = -b * m;
        let e = (-t.abs()).exp();
        let value = if t > 0.0 { t + e.ln_1p() } else { e.ln_1p() };
        let sig = if t >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        (value, -b * sig)
    }
    #[inline]
    fn derivative_log_split(m: f64, b: f64) -> (f64, f64, f64) {
        // log(1 + e^t) = max(t, 0) + ln(1 + e) with e = exp(−|t|) ≤ 1; the
        // derivative as in `value_derivative`.
        let t = -b * m;
        let e = (-t.abs()).exp();
        let fac = 1.0 + e;
        let sig = if t >= 0.0 { 1.0 / fac } else { e / fac };
        (-b * sig, t.max(0.0), fac)
    }
    fn batch_derivatives(
        b: &[f64],
        m: &mut [f64],
        scale: f64,
        r: &mut [f64],
        fac: &mut [f64],
    ) -> LossSum {
        super::batch_loss::logistic(b, m, scale, r, fac)
    }
}

impl MarginLoss for Squared {
    const NAME: &'static str = "least-squares";
    const CURVATURE: f64 = 1.0;
    const CLASSIFICATION: bool = false;
    #[inline]
    fn value(m: f64, b: f64) -> f64 {
        0.5 * (m - b) * (m - b)
    }
    #[inline]
    fn derivative(m: f64, b: f64) -> f64 {
        m - b
    }
    #[inline]
    fn second_derivative(_m: f64, _b: f64) -> f64 {
        1.0
    }
}

/// ℓ2-regularised linear model over a dataset.
///
/// ```
/// use std::sync::Arc;
/// use mast::data::synthetic::{gaussian_planted, Task};
/// use mast::objective::{LogisticRegression, Objective, Rows};
/// let data = Arc::new(gaussian_planted(50, 4, 0.1, Task::Classification, 1));
/// let f = LogisticRegression::new(data, 0.02).unwrap();
/// let x = vec![0.0; 4];
/// assert!((f.loss(&x) - std::f64::consts::LN_2).abs() < 1e-12);
/// ```
#[derive(Debug)]
pub struct LinearModel<L: MarginLoss> {
    data: Arc<Dataset>,
    lambda: f64,
    smoothness: OnceLock<f64>,
    _loss: std::marker::PhantomData<L>,
}

/// ℓ2-regularised logistic regression.
pub type LogisticRegression = LinearModel<Logistic>;
/// ℓ2-regularised least squares `(1/2n)‖Ax − b‖² + (λ/2)‖x‖²`.
pub type LeastSquares = LinearModel<Squared>;

impl<L: MarginLoss> LinearModel<L> {
    /// The model over `data` with regularisation `lambda ≥ 0`.
    pub fn new(data: Arc<Dataset>, lambda: f64) -> Result<Self> {
        if !(lambda >= 0.0 && lambda.is_finite()) {
            return Err(MastError::param(
                "lambda",
                format!("must be finite and ≥ 0, got {lambda}"),
            ));
        }
        if data.n_samples() == 0 {
            return Err(MastError::param("data", "the training set is empty"));
        }
        Ok(LinearModel {
            data,
            lambda,
            smoothness: OnceLock::new(),
            _loss: std::marker::PhantomData,
        })
    }

    /// The regularisation λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The training data.
    pub fn data(&self) -> &Arc<Dataset> {
        &self.data
    }

    /// The loss's name.
    pub fn loss_name(&self) -> &'static str {
        L::NAME
    }

    /// Margins `A x` into `m` (parallel over fixed row chunks).
    fn margins(&self, x: &[f64], m: &mut [f64]) {
        let design = &self.data.features;
        m.par_chunks_mut(CHUNK).enumerate().for_each(|(c, mc)| {
            for (t, mi) in mc.iter_mut().enumerate() {
                *mi = design.row_dot(c * CHUNK + t, x);
            }
        });
    }

    /// Per-sample loss derivatives divided by `count`, and the loss sum, chunked.
    fn residuals(&self, m: &[f64], r: &mut [f64], sums: &mut [f64], count: f64) -> f64 {
        let labels = &self.data.labels;
        let work = |c: usize, mc: &[f64], rc: &mut [f64]| -> f64 {
            let mut s = 0.0;
            for (t, (mi, ri)) in mc.iter().zip(rc.iter_mut()).enumerate() {
                let (value, deriv) = L::value_derivative(*mi, labels[c * CHUNK + t]);
                s += value;
                *ri = deriv / count;
            }
            s
        };
        let nchunks = m.len().div_ceil(CHUNK);
        let sums = &mut sums[..nchunks];
        if m.len() >= 4 * CHUNK {
            m.par_chunks(CHUNK)
                .zip(r.par_chunks_mut(CHUNK))
                .zip(sums.par_iter_mut())
                .enumerate()
                .for_each(|(c, ((mc, rc), s))| *s = work(c, mc, rc));
        } else {
            for (c, ((mc, rc), s)) in m
                .chunks(CHUNK)
                .zip(r.chunks_mut(CHUNK))
                .zip(sums.iter_mut())
                .enumerate()
            {
                *s = work(c, mc, rc);
            }
        }
        sums.iter().sum()
    }

    /// `Σ_i a_ij r_i` for column j.
    #[inline]
    fn col_dot(design: &Design, j: usize, r: &[f64]) -> f64 {
        match design {
            Design::Dense(d) => dot(d.col(j), r),
            Design::Sparse(s) => {
                let (ix, vx) = s.csc().col(j);
                ix.iter().zip(vx).map(|(&i, &a)| a * r[i as usize]).sum()
            }
        }
    }
}

#[inline(never)]
/// `r_i = ℓ'(m_i, b_i) / |B|` for a minibatch's margins `m` (overwritten), and the
/// sum of its losses; `b` and `fac` are batch-sized scratch.
pub(super) fn derivatives<L: MarginLoss>(
    batch: &[usize],
    labels: &[f64],
    m: &mut [f64],
    r: &mut [f64],
    b: &mut [f64],
    fac: &mut [f64],
) -> LossSum {
    for (bi, &i) in b.iter_mut().zip(batch) {
        *bi = labels[i];
    }
    // ×(1/b), exact division for the usual power-of-two batches.
    L::batch_derivatives(b, m, 1.0 / batch.len() as f64, r, fac)
}

/// [`Dataset::accuracy`] in parallel over fixed chunks of rows (a count, so the
/// same whatever the thread count): the fraction of samples with `sign(a_iᵀx) ==
/// b_i`, a margin of exactly 0 counting as +1.
///
/// ```
/// use mast::data::synthetic::{gaussian_planted, Task};
/// let data = gaussian_planted(3000, 5, 0.1, Task::Classification, 1);
/// let x = vec![0.3, -0.2, 0.1, 0.0, 0.5];
/// assert_eq!(mast::objective::accuracy(&data, &x), data.accuracy(&x));
/// ```
pub fn accuracy(data: &Dataset, x: &[f64]) -> f64 {
    let n = data.n_samples();
    if n == 0 {
        return f64::NAN;
    }
    let correct: usize = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            (c * CHUNK..((c + 1) * CHUNK).min(n))
                .filter(|&i| {
                    let m = data.features.row_dot(i, x);
                    let pred = if m >= 0.0 { 1.0 } else { -1.0 };
                    pred == data.labels[i]
                })
                .count()
        })
        .sum();
    correct as f64 / n as f64
}

/// Whether the full-data margins `A v + Σ_Ω u_j a_{:,j}` are cheaper row by
/// row (every nonzero of A, in parallel) than as a scatter of Ω's columns (the
/// nonzeros of Ω's columns, on one thread): with two or more threads, when Ω
/// holds at least 1/threads of the coordinates. Ω must be increasing (so that
/// both orders add the same terms in the same order).
fn by_rows_pays(sp: &crate::data::CsrMatrix, idx: &[usize]) -> bool {
    let threads = rayon::current_num_threads();
    threads >= 2 && idx.len() * threads >= sp.n_cols() && idx.windows(2).all(|w| w[0] < w[1])
}

/// `u_k = c_k (x_j − v_j)` over Ω; returns ‖y‖² for y = v + S(x − v), as ‖v‖²
/// plus four partial sums (k mod 4) of y_j² − v_j².
pub(super) fn displacements(
    draw: &SketchDraw,
    x: &[f64],
    v: &[f64],
    v_norm_sq: f64,
    u: &mut [f64],
) -> f64 {
    // ‖y‖² − ‖v‖² over Ω in four partial sums (position k mod 4), so that the
    // adds do not wait on each other.
    let one = |j: usize, c: f64, uk: &mut f64| {
        let d = c * (x[j] - v[j]);
        *uk = d;
        let yj = v[j] + d;
        yj * yj - v[j] * v[j]
    };
    let mut acc = [0.0f64; 4];
    let (idx, scales) = (draw.indices.chunks_exact(4), draw.scales.chunks_exact(4));
    let (rest_idx, rest_scales) = (idx.remainder(), scales.remainder());
    let mut u4 = u[..draw.len()].chunks_exact_mut(4);
    for ((i4, c4), q) in idx.zip(scales).zip(&mut u4) {
        for t in 0..4 {
            acc[t] += one(i4[t], c4[t], &mut q[t]);
        }
    }
    let rest = rest_idx.iter().zip(rest_scales).zip(u4.into_remainder());
    for (t, ((&j, &c), uk)) in rest.enumerate() {
        acc[t] += one(j, c, uk);
    }
    v_norm_sq + ((acc[0] + acc[1]) + (acc[2] + acc[3]))
}

impl<L: MarginLoss> Objective for LinearModel<L> {
    fn dim(&self) -> usize {
        self.data.n_features()
    }

    fn num_samples(&self) -> usize {
        self.data.n_samples()
    }

    fn loss(&self, x: &[f64]) -> f64 {
        let n = self.num_samples();
        let mut m = vec![0.0; n];
        self.margins(x, &mut m);
        let labels = &self.data.labels;
        let s: f64 = m
            .chunks(CHUNK)
            .enumerate()
            .map(|(c, mc)| {
                mc.iter()
                    .enumerate()
                    .map(|(t, &mi)| L::value(mi, labels[c * CHUNK + t]))
                    .sum::<f64>()
            })
            .sum();
        s / n as f64 + 0.5 * self.lambda * dot(x, x)
    }

    fn loss_grad(&self, x: &[f64], rows: Rows<'_>, grad: &mut [f64]) -> f64 {
        let design = &self.data.features;
        let labels = &self.data.labels;
        match rows {
            Rows::All => {
                let n = self.num_samples();
                let mut m = vec![0.0; n];
                let mut r = vec![0.0; n];
                let mut sums = vec![0.0; n.div_ceil(CHUNK)];
                self.margins(x, &mut m);
                let s = self.residuals(&m, &mut r, &mut sums, n as f64);
                grad.par_iter_mut().enumerate().for_each(|(j, g)| {
                    *g = Self::col_dot(design, j, &r) + self.lambda * x[j];
                });
                s / n as f64 + 0.5 * self.lambda * dot(x, x)
            }
            Rows::Batch(batch) => {
                let nb = batch.len() as f64;
                // g = λx and ‖x‖² in one parallel pass; the partial sums are added
                // in chunk order, whatever the thread count.
                let partial: Vec<f64> = grad
                    .par_chunks_mut(COLUMN_CHUNK)
                    .zip(x.par_chunks(COLUMN_CHUNK))
                    .map(|(g, x)| {
                        for (g, xj) in g.iter_mut().zip(x) {
                            *g = self.lambda * xj;
                        }
                        sum_of_squares(x)
                    })
                    .collect();
                let xx: f64 = partial.iter().sum();
                let mut s = 0.0;
                for &i in batch {
                    let m = design.row_dot(i, x);
                    let (value, deriv) = L::value_derivative(m, labels[i]);
                    s += value;
                    let ri = deriv / nb;
                    match design {
                        Design::Dense(d) => axpy(ri, d.row(i), grad),
                        Design::Sparse(sp) => {
                            let (ix, vx) = sp.row(i);
                            for (&j, &a) in ix.iter().zip(vx) {
                                grad[j as usize] += ri * a;
                            }
                        }
                    }
                }
                s / nb + 0.5 * self.lambda * xx
            }
        }
    }

    fn smoothness(&self) -> f64 {
        *self.smoothness.get_or_init(|| {
            let n = self.num_samples();
            let design = &self.data.features;
            let mut tmp = vec![0.0; n];
            // λmax(AᵀA) by power iteration; matvecs are parallel over fixed chunks
            // (rows for A x, columns for Aᵀ r), so the result is thread-count independent.
            let top = power_iteration(
                self.dim(),
                |x, y| {
                    self.margins(x, &mut tmp);
                    y.par_iter_mut()
                        .enumerate()
                        .for_each(|(j, yj)| *yj = Self::col_dot(design, j, &tmp));
                },
                1e-9,
                500,
            );
            L::CURVATURE * top / n as f64 + self.lambda
        })
    }

    fn strong_convexity(&self) -> f64 {
        self.lambda
    }

    fn coordinate_smoothness(&self) -> Option<Vec<f64>> {
        let design = &self.data.features;
        let n = self.num_samples().max(1) as f64;
        let mut sq = vec![0.0; self.dim()];
        match design {
            Design::Dense(m) => {
                for i in 0..m.n_rows() {
                    for (s, a) in sq.iter_mut().zip(m.row(i)) {
                        *s += a * a;
                    }
                }
            }
            Design::Sparse(m) => {
                for i in 0..m.n_rows() {
                    let (ix, vx) = m.row(i);
                    for (&j, &a) in ix.iter().zip(vx) {
                        sq[j as usize] += a * a;
                    }
                }
            }
        }
        Some(
            sq.into_iter()
                .map(|s| L::CURVATURE * s / n + self.lambda)
                .collect(),
        )
    }

    fn accuracy(&self, x: &[f64]) -> Option<f64> {
        L::CLASSIFICATION.then(|| accuracy(&self.data, x))
    }

    fn hessian(&self, x: &[f64]) -> Option<SymMatrix> {
        let (n, d) = (self.num_samples(), self.dim());
        let design = &self.data.features;
        // Cost n·(nnz per row)²: refuse where a dense Hessian does not pay.
        let per_row = design.nnz() as f64 / n as f64;
        if d > 4000 || n as f64 * per_row * per_row > 4e9 {
            return None;
        }
        let mut h = SymMatrix::zeros(d);
        for i in 0..n {
            let m = design.row_dot(i, x);
            let w = L::second_derivative(m, self.data.labels[i]) / n as f64;
            if w == 0.0 {
                continue;
            }
            match design {
                Design::Dense(dm) => {
                    let row = dm.row(i);
                    for j in 0..d {
                        let wj = w * row[j];
                        if wj != 0.0 {
                            axpy(wj, &row[..=j], &mut h.data[j * d..j * d + j + 1]);
                        }
                    }
                }
                Design::Sparse(sp) => {
                    let (ix, vx) = sp.row(i);
                    for (p, (&j, &a)) in ix.iter().zip(vx).enumerate() {
                        for (&l, &b) in ix[..=p].iter().zip(&vx[..=p]) {
                            h.data[j as usize * d + l as usize] += w * a * b;
                        }
                    }
                }
            }
        }
        // The lower triangle was filled; mirror it and add λI.
        for j in 0..d {
            h.data[j * d + j] += self.lambda;
            for l in 0..j {
                h.data[l * d + j] = h.data[j * d + l];
            }
        }
        Some(h)
    }

    fn takes_unlisted_draws(&self) -> bool {
        // The fused sparse step reads Ω's bit set; any other path lists it first.
        matches!(&self.data.features, Design::Sparse(sp) if sp.bit_rows().is_none())
    }

    fn prefetch_rows(&self, rows: &[usize]) {
        // The minibatch kernels read bit rows where they are built and the
        // vector path runs, else the CSR index lists.
        let design = &self.data.features;
        match design {
            Design::Sparse(sp) if bit_batch::vector_path() => match sp.bit_rows() {
                Some(bits) => rows.iter().for_each(|&i| bits.prefetch_row(i)),
                None => rows.iter().for_each(|&i| sp.prefetch_row(i)),
            },
            _ => rows.iter().for_each(|&i| design.prefetch_row(i)),
        }
    }

    fn shift_cache(&self, v: &[f64]) -> Vec<f64> {
        let mut av = vec![0.0; self.num_samples()];
        self.margins(v, &mut av);
        av
    }

    fn sketched_step(
        &self,
        shift: &Shift,
        x: &mut [f64],
        draw: &SketchDraw,
        rows: Rows<'_>,
        gamma: f64,
        ws: &mut Workspace,
        grad: &mut [f64],
    ) -> StepOutcome {
        // The fused sparse step where the bit-row kernels do not run and d is
        // large against the batch's nonzeros (else the two-pass path's dense
        // scatter is cheaper); it makes the same iterates.
        if let (Rows::Batch(batch), Design::Sparse(sp), Some(c)) =
            (rows, &self.data.features, draw.common_scale())
        {
            if sp.bit_rows().is_none() && !SparseBatch::dense_scatter_pays(sp, batch, self.dim()) {
                let step = SparseStep {
                    sp,
                    batch,
                    labels: &self.data.labels,
                    av: &shift.cache,
                    idx: &draw.indices,
                    member_bits: draw.member_bits(),
                    k: draw.len(),
                    c,
                    v: &shift.v,
                    v_norm_sq: shift.v_norm_sq,
                    lam: self.lambda,
                    gamma,
                };
                return step.run::<L>(x, ws);
            }
        }
        let mut scratch = std::mem::take(&mut ws.listed);
        let draw = draw.listed(&mut scratch);
        let loss = self.sketched_loss_grad(shift, x, draw, rows, ws, grad);
        let mut finite = loss.is_finite();
        for (k, &j) in draw.indices.iter().enumerate() {
            let xj = x[j] - gamma * grad[k];
            finite &= xj.is_finite();
            x[j] = xj;
        }
        ws.listed = scratch;
        StepOutcome { loss, finite }
    }

    fn sketched_loss_grad(
        &self,
        shift: &Shift,
        x: &[f64],
        draw: &SketchDraw,
        rows: Rows<'_>,
        ws: &mut Workspace,
        out: &mut [f64],
    ) -> f64 {
        let design = &self.data.features;
        let labels = &self.data.labels;
        let lam = self.lambda;
        let v = &shift.v;
        let av = &shift.cache;
        let k_len = draw.len();
        if let (Rows::Batch(batch), Design::Sparse(sp)) = (rows, design) {
            if let Some(bits) = sp.bit_rows() {
                let rows = BitBatch {
                    csr: sp,
                    bits,
                    batch,
                    labels,
                    av,
                    draw,
                    x,
                    v,
                    v_norm_sq: shift.v_norm_sq,
                    lam,
                    wide: true,
                };
                return rows.loss_grad::<L>(ws, &mut out[..k_len]);
            }
        }
        ws.ensure_dense(self.dim());
        let y_norm_sq = displacements(draw, x, v, shift.v_norm_sq, &mut ws.u[..k_len]);
        let u = &ws.u[..k_len];
        let idx = &draw.indices;
        let data_loss = match rows {
            Rows::All => {
                let n = self.num_samples();
                let m = &mut ws.m[..n];
                // Margins m = A v + Σ_k u_k a_{:, j_k}.
                match design {
                    Design::Dense(dm) => {
                        let cols = dm.col_major();
                        let fill = |c: usize, mc: &mut [f64]| {
                            let a = c * CHUNK;
                            if av.is_empty() {
                                mc.iter_mut().for_each(|t| *t = 0.0);
                            } else {
                                mc.copy_from_slice(&av[a..a + mc.len()]);
                            }
                            for (&j, &uk) in idx.iter().zip(u) {
                                axpy(uk, &cols[j * n + a..j * n + a + mc.len()], mc);
                            }
                        };
                        if n * k_len >= 1 << 16 {
                            m.par_chunks_mut(CHUNK)
                                .enumerate()
                                .for_each(|(c, mc)| fill(c, mc));
                        } else {
                            m.chunks_mut(CHUNK)
                                .enumerate()
                                .for_each(|(c, mc)| fill(c, mc));
                        }
                    }
                    Design::Sparse(sp) => {
                        if by_rows_pays(sp, idx) {
                            // Row by row, parallel over fixed chunks: the same
                            // additions in the same order as the column scatter
                            // below (a row's columns and Ω both increase), a
                            // coordinate off Ω adding −0 (which changes nothing).
                            let (members, w) = (&mut ws.members, &mut ws.w);
                            let words = self.dim().div_ceil(64);
                            if members.len() < words {
                                members.resize(words, 0);
                            }
                            for (&j, &uk) in idx.iter().zip(u) {
                                members[j >> 6] |= 1 << (j & 63);
                                w[j] = uk;
                            }
                            let (members, w) = (&*members, &*w);
                            m.par_chunks_mut(CHUNK).enumerate().for_each(|(c, mc)| {
                                for (t, mi) in mc.iter_mut().enumerate() {
                                    let i = c * CHUNK + t;
                                    let mut s = if av.is_empty() { 0.0 } else { av[i] };
                                    let (ix, vx) = sp.row(i);
                                    for (&j, &a) in ix.iter().zip(vx) {
                                        let j = j as usize;
                                        let kept = (members[j >> 6] >> (j & 63)) & 1 != 0;
                                        s += if kept { a * w[j] } else { -0.0 };
                                    }
                                    *mi = s;
                                }
                            });
                            for &j in idx {
                                ws.members[j >> 6] = 0;
                                ws.w[j] = 0.0;
                            }
                        } else {
                            if av.is_empty() {
                                m.iter_mut().for_each(|t| *t = 0.0);
                            } else {
                                m.copy_from_slice(av);
                            }
                            let csc = sp.csc();
                            for (&j, &uk) in idx.iter().zip(u) {
                                let (ix, vx) = csc.col(j);
                                for (&i, &a) in ix.iter().zip(vx) {
                                    m[i as usize] += a * uk;
                                }
                            }
                        }
                    }
                }
                let loss_sum = self.residuals(&ws.m[..n], &mut ws.r[..n], &mut ws.sums, n as f64);
                // ∇f_S on Ω: c_j (a_{:,j}ᵀ r + λ y_j).
                let r = &ws.r[..n];
                let grad_k = |k: usize| {
                    let j = idx[k];
                    let yj = v[j] + u[k];
                    draw.scales[k] * (Self::col_dot(design, j, r) + lam * yj)
                };
                let out = &mut out[..k_len];
                if n * k_len >= 1 << 16 {
                    out.par_chunks_mut(64).enumerate().for_each(|(c, oc)| {
                        for (t, o) in oc.iter_mut().enumerate() {
                            *o = grad_k(c * 64 + t);
                        }
                    });
                } else {
                    for (k, o) in out.iter_mut().enumerate() {
                        *o = grad_k(k);
                    }
                }
                loss_sum / n as f64
            }
            Rows::Batch(batch) => {
                let nb = batch.len() as f64;
                let out = &mut out[..k_len];
                out.iter_mut().for_each(|o| *o = 0.0);
                let mut loss_sum = LossSum::default();
                match design {
                    Design::Dense(dm) => {
                        for &i in batch {
                            let row = dm.row(i);
                            let mut mi = if av.is_empty() { 0.0 } else { av[i] };
                            for (&j, &uk) in idx.iter().zip(u) {
                                mi += row[j] * uk;
                            }
                            let (deriv, lin, fac) = L::derivative_log_split(mi, labels[i]);
                            loss_sum.add(lin, fac);
                            let ri = deriv / nb;
                            for (o, &j) in out.iter_mut().zip(idx) {
                                *o += ri * row[j];
                            }
                        }
                    }
                    Design::Sparse(sp) => {
                        let d = self.dim();
                        let (w, y, g) = (&mut ws.w[..d], &mut ws.y[..d], &mut ws.g[..d]);
                        let (m, r) = (&mut ws.m[..batch.len()], &mut ws.r[..batch.len()]);
                        let rows = SparseBatch {
                            sp,
                            batch,
                            av,
                            idx,
                            u,
                        };
                        rows.margins(w, m);
                        let nb = batch.len();
                        let (b, fac) = (&mut ws.b[..nb], &mut ws.fac[..nb]);
                        loss_sum = derivatives::<L>(batch, labels, m, r, b, fac);
                        rows.gradient(r, [w, y, g], out, !loss_sum.total().is_finite());
                    }
                }
                for (k, o) in out.iter_mut().enumerate() {
                    let j = idx[k];
                    *o = draw.scales[k] * (*o + lam * (v[j] + u[k]));
                }
                loss_sum.total() / nb
            }
        };
        data_loss + 0.5 * lam * y_norm_sq
    }
}
