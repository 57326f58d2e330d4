//! Hessian-vector products of linear models, for Newton–CG solvers that never form
//! the Hessian: at a point x, `∇²f(x) v = Aᵀ D A v / n + λ v` with `D_ii = ℓ''(a_iᵀx, b_i)`.
//!
//! `A v` runs over fixed chunks of rows and `Aᵀ u` over columns (each column's sum in
//! row order, through the design's column-major copy), both in parallel with rayon;
//! no sum is split between threads, so a product is bit-for-bit the same whatever
//! the number of threads.

use rayon::prelude::*;

use super::{LinearModel, MarginLoss, Objective, CHUNK};
use crate::data::Design;
use crate::linalg::dot;

/// The Hessian of a [`LinearModel`] at a point, as an operator `v ↦ ∇²f(x) v`.
///
/// ```
/// use std::sync::Arc;
/// use mast::data::synthetic::{gaussian_planted, Task};
/// use mast::objective::{hessian::LinearHessian, LogisticRegression, Objective};
/// let data = Arc::new(gaussian_planted(40, 3, 0.1, Task::Classification, 1));
/// let f = LogisticRegression::new(data, 0.1).unwrap();
/// let x = [0.3, -0.2, 0.1];
/// let h = LinearHessian::at(&f, &x);
/// let mut hv = [0.0; 3];
/// h.apply(&[1.0, 0.0, 0.0], &mut hv);
/// let dense = f.hessian(&x).unwrap();
/// for j in 0..3 {
///     assert!((hv[j] - dense.get(j, 0)).abs() < 1e-12);
/// }
/// ```
#[derive(Debug)]
pub struct LinearHessian<'a, L: MarginLoss> {
    model: &'a LinearModel<L>,
    /// `ℓ''(a_iᵀx, b_i) / n` for each sample i.
    curvature: Vec<f64>,
}

impl<'a, L: MarginLoss> LinearHessian<'a, L> {
    /// The Hessian of `model` at `x` (one pass over the rows for the margins).
    pub fn at(model: &'a LinearModel<L>, x: &[f64]) -> Self {
        let n = model.num_samples();
        let mut curvature = vec![0.0; n];
        row_products(&model.data().features, x, &mut curvature);
        let labels = &model.data().labels;
        curvature
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, dc)| {
                for (t, di) in dc.iter_mut().enumerate() {
                    *di = L::second_derivative(*di, labels[c * CHUNK + t]) / n as f64;
                }
            });
        LinearHessian { model, curvature }
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.model.dim()
    }

    /// `out = ∇²f(x) v`. `out` must have length d; `v` too.
    pub fn apply(&self, v: &[f64], out: &mut [f64]) {
        let design = &self.model.data().features;
        let mut u = vec![0.0; self.curvature.len()];
        row_products(design, v, &mut u);
        u.iter_mut()
            .zip(&self.curvature)
            .for_each(|(ui, di)| *ui *= di);
        column_products(design, &u, out);
        let lambda = self.model.lambda();
        out.par_chunks_mut(CHUNK)
            .zip(v.par_chunks(CHUNK))
            .for_each(|(oc, vc)| {
                for (o, vj) in oc.iter_mut().zip(vc) {
                    *o += lambda * vj;
                }
            });
    }

    /// The diagonal of `∇²f(x)`: `Σ_i D_ii a_ij² / n + λ` (a preconditioner).
    pub fn diagonal(&self) -> Vec<f64> {
        let design = &self.model.data().features;
        let lambda = self.model.lambda();
        let d = self.dim();
        let mut diag = vec![0.0; d];
        let dcur = &self.curvature;
        match design {
            Design::Sparse(sp) => {
                let csc = sp.csc();
                diag.par_chunks_mut(CHUNK).enumerate().for_each(|(c, gc)| {
                    for (t, g) in gc.iter_mut().enumerate() {
                        let (ix, vx) = csc.col(c * CHUNK + t);
                        let s: f64 = ix
                            .iter()
                            .zip(vx)
                            .map(|(&i, &a)| dcur[i as usize] * a * a)
                            .sum();
                        *g = s + lambda;
                    }
                });
            }
            Design::Dense(dm) => {
                diag.par_chunks_mut(CHUNK).enumerate().for_each(|(c, gc)| {
                    for (t, g) in gc.iter_mut().enumerate() {
                        let col = dm.col(c * CHUNK + t);
                        let s: f64 = col.iter().zip(dcur).map(|(a, di)| di * a * a).sum();
                        *g = s + lambda;
                    }
                });
            }
        }
        diag
    }
}

/// `f(x)`, `∇f(x)` (into `grad`), the Hessian at x and its diagonal, from one pass
/// over the rows and one over the columns. The loss and gradient are bit-for-bit
/// those of [`Objective::loss_grad`] over all rows.
///
/// ```
/// use std::sync::Arc;
/// use mast::data::synthetic::{gaussian_planted, Task};
/// use mast::objective::{hessian, LogisticRegression, Objective, Rows};
/// let data = Arc::new(gaussian_planted(30, 4, 0.1, Task::Classification, 2));
/// let f = LogisticRegression::new(data, 0.1).unwrap();
/// let x = [0.1, 0.2, -0.3, 0.0];
/// let (mut g1, mut g2) = ([0.0; 4], [0.0; 4]);
/// let (loss, h, diag) = hessian::loss_grad_hessian(&f, &x, &mut g1);
/// assert_eq!(loss, f.loss_grad(&x, Rows::All, &mut g2));
/// assert_eq!(g1, g2);
/// assert_eq!(diag, h.diagonal());
/// ```
pub fn loss_grad_hessian<'a, L: MarginLoss>(
    model: &'a LinearModel<L>,
    x: &[f64],
    grad: &mut [f64],
) -> (f64, LinearHessian<'a, L>, Vec<f64>) {
    let n = model.num_samples();
    let design = &model.data().features;
    let labels = &model.data().labels;
    let lambda = model.lambda();
    // Margins, then per sample the loss, ℓ'/n and ℓ''/n; loss sums per chunk.
    let mut deriv = vec![0.0; n];
    row_products(design, x, &mut deriv);
    let mut curvature = deriv.clone();
    let mut sums = vec![0.0; n.div_ceil(CHUNK)];
    deriv
        .par_chunks_mut(CHUNK)
        .zip(curvature.par_chunks_mut(CHUNK))
        .zip(sums.par_iter_mut())
        .enumerate()
        .for_each(|(c, ((rc, dc), s))| {
            let mut sum = 0.0;
            for (t, (ri, di)) in rc.iter_mut().zip(dc.iter_mut()).enumerate() {
                let (m, b) = (*ri, labels[c * CHUNK + t]);
                let (value, d1) = L::value_derivative(m, b);
                sum += value;
                *ri = d1 / n as f64;
                *di = L::second_derivative(m, b) / n as f64;
            }
            *s = sum;
        });
    let loss_sum: f64 = sums.iter().sum();
    let d = model.dim();
    let mut diag = vec![0.0; d];
    let (r, dcur) = (&deriv, &curvature);
    match design {
        Design::Sparse(sp) => {
            let csc = sp.csc();
            grad.par_chunks_mut(CHUNK)
                .zip(diag.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(c, (gc, hc))| {
                    for (t, (g, h)) in gc.iter_mut().zip(hc.iter_mut()).enumerate() {
                        let j = c * CHUNK + t;
                        let (ix, vx) = csc.col(j);
                        let (mut sg, mut sh) = (0.0, 0.0);
                        for (&i, &a) in ix.iter().zip(vx) {
                            sg += a * r[i as usize];
                            sh += dcur[i as usize] * a * a;
                        }
                        *g = sg + lambda * x[j];
                        *h = sh + lambda;
                    }
                });
        }
        Design::Dense(dm) => {
            grad.par_chunks_mut(CHUNK)
                .zip(diag.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(c, (gc, hc))| {
                    for (t, (g, h)) in gc.iter_mut().zip(hc.iter_mut()).enumerate() {
                        let j = c * CHUNK + t;
                        let col = dm.col(j);
                        *g = dot(col, r) + lambda * x[j];
                        *h = col.iter().zip(dcur).map(|(a, di)| di * a * a).sum::<f64>() + lambda;
                    }
                });
        }
    }
    let loss = loss_sum / n as f64 + 0.5 * lambda * dot(x, x);
    (loss, LinearHessian { model, curvature }, diag)
}

/// `out = A x` over fixed chunks of rows, in parallel (each row's sum on one thread).
pub fn row_products(design: &Design, x: &[f64], out: &mut [f64]) {
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, oc)| {
        for (t, o) in oc.iter_mut().enumerate() {
            *o = design.row_dot(c * CHUNK + t, x);
        }
    });
}

/// `out = Aᵀ u`, column by column (each column's sum in row order, on one thread),
/// over fixed chunks of columns in parallel. Sparse designs use their column-major
/// copy (built on first use).
pub fn column_products(design: &Design, u: &[f64], out: &mut [f64]) {
    match design {
        Design::Sparse(sp) => {
            let csc = sp.csc();
            out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, oc)| {
                for (t, o) in oc.iter_mut().enumerate() {
                    let (ix, vx) = csc.col(c * CHUNK + t);
                    *o = ix.iter().zip(vx).map(|(&i, &a)| a * u[i as usize]).sum();
                }
            });
        }
        Design::Dense(dm) => {
            out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, oc)| {
                for (t, o) in oc.iter_mut().enumerate() {
                    *o = crate::linalg::dot(dm.col(c * CHUNK + t), u);
                }
            });
        }
    }
}
