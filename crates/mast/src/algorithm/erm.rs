//! The exact ERM optimum `x* = argmin f`: Newton's method with a dense Hessian
//! (faer Cholesky) where d is moderate, L-BFGS otherwise. This is the paper's ERM
//! baseline ("solved to machine precision").

use crate::error::{MastError, Result};
use crate::linalg::{dot, norm};
use crate::objective::{Objective, Rows};

/// Options of [`solve_erm`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErmOptions {
    /// Stop when `‖∇f(x)‖ ≤ tol`.
    pub tol: f64,
    /// Iteration cap (Newton steps, or L-BFGS steps ×100).
    pub max_iter: usize,
    /// Force L-BFGS even when a Hessian is available.
    pub force_lbfgs: bool,
}

impl Default for ErmOptions {
    fn default() -> Self {
        ErmOptions {
            tol: 1e-10,
            max_iter: 100,
            force_lbfgs: false,
        }
    }
}

/// The result of [`solve_erm`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErmSolution {
    /// The minimiser found.
    pub x: Vec<f64>,
    /// `f(x)`.
    pub loss: f64,
    /// `‖∇f(x)‖`.
    pub grad_norm: f64,
    /// Iterations used.
    pub iterations: usize,
    /// "newton" or "lbfgs".
    pub method: String,
    /// Whether `grad_norm ≤ tol` was reached.
    pub converged: bool,
}

/// Minimises `f` from x = 0 to `‖∇f‖ ≤ opts.tol`.
///
/// ```
/// use std::sync::Arc;
/// use mast::algorithm::erm::{solve_erm, ErmOptions};
/// use mast::objective::LogisticRegression;
/// let data = Arc::new(mast::data::synthetic::gaussian_planted(200, 5, 0.5, mast::data::synthetic::Task::Classification, 3));
/// let f = LogisticRegression::new(data, 0.01).unwrap();
/// let sol = solve_erm(&f, &ErmOptions::default()).unwrap();
/// assert!(sol.converged && sol.grad_norm <= 1e-10);
/// ```
pub fn solve_erm<O: Objective + ?Sized>(f: &O, opts: &ErmOptions) -> Result<ErmSolution> {
    let x0 = vec![0.0; f.dim()];
    if !opts.force_lbfgs {
        if let Some(h0) = f.hessian(&x0) {
            drop(h0);
            return newton(f, x0, opts);
        }
    }
    lbfgs(f, x0, opts)
}

fn newton<O: Objective + ?Sized>(f: &O, mut x: Vec<f64>, opts: &ErmOptions) -> Result<ErmSolution> {
    let d = f.dim();
    let mut g = vec![0.0; d];
    let mut fx = f.loss_grad(&x, Rows::All, &mut g);
    let (mut trial, mut g_trial) = (vec![0.0; d], vec![0.0; d]);
    let mut it = 0;
    while norm(&g) > opts.tol && it < opts.max_iter {
        it += 1;
        let h = f
            .hessian(&x)
            .ok_or_else(|| MastError::Numerical("Hessian unavailable".into()))?;
        let neg_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let p = h.solve_spd(&neg_g)?;
        match line_search(f, &x, &p, fx, &g, &mut trial, &mut g_trial) {
            Some(ft) => {
                x.copy_from_slice(&trial);
                g.copy_from_slice(&g_trial);
                fx = ft;
            }
            None => break,
        }
    }
    Ok(finish(f, x, it, "newton", opts))
}

/// Backtracking from t = 1 along `p`: accepts on Armijo's condition or — at machine
/// precision, where f no longer resolves a decrease — on a smaller gradient norm.
/// On success `trial` and `g_trial` hold the accepted point and its gradient, and
/// the loss there is returned; `None` when the step underflows.
fn line_search<O: Objective + ?Sized>(
    f: &O,
    x: &[f64],
    p: &[f64],
    fx: f64,
    g: &[f64],
    trial: &mut [f64],
    g_trial: &mut [f64],
) -> Option<f64> {
    let slope = dot(g, p);
    let g_norm = norm(g);
    let mut t = 1.0;
    while t >= 1e-12 {
        for ((tj, xj), pj) in trial.iter_mut().zip(x).zip(p) {
            *tj = xj + t * pj;
        }
        let ft = f.loss_grad(trial, Rows::All, g_trial);
        if ft <= fx + 1e-4 * t * slope || (ft <= fx + 1e-15 * fx.abs() && norm(g_trial) < g_norm) {
            return Some(ft);
        }
        t *= 0.5;
    }
    None
}

fn finish<O: Objective + ?Sized>(
    f: &O,
    x: Vec<f64>,
    iterations: usize,
    method: &str,
    opts: &ErmOptions,
) -> ErmSolution {
    let mut g = vec![0.0; f.dim()];
    let loss = f.loss_grad(&x, Rows::All, &mut g);
    let grad_norm = norm(&g);
    ErmSolution {
        x,
        loss,
        grad_norm,
        iterations,
        method: method.into(),
        converged: grad_norm <= opts.tol,
    }
}

fn lbfgs<O: Objective + ?Sized>(f: &O, mut x: Vec<f64>, opts: &ErmOptions) -> Result<ErmSolution> {
    const MEM: usize = 10;
    let d = f.dim();
    let mut g = vec![0.0; d];
    let mut fx = f.loss_grad(&x, Rows::All, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut it = 0;
    let max_it = opts.max_iter * 100;
    let (mut trial, mut g_trial) = (vec![0.0; d], vec![0.0; d]);
    while norm(&g) > opts.tol && it < max_it {
        it += 1;
        // Two-loop recursion: p = −H g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(s_hist.len());
        for (s, y) in s_hist.iter().zip(&y_hist).rev() {
            let a = dot(s, &q) / dot(y, s);
            crate::linalg::axpy(-a, y, &mut q);
            alphas.push(a);
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / f.smoothness(),
        };
        q.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y), a) in s_hist.iter().zip(&y_hist).zip(alphas.iter().rev()) {
            let b = dot(y, &q) / dot(y, s);
            crate::linalg::axpy(a - b, s, &mut q);
        }
        let p: Vec<f64> = q.iter().map(|v| -v).collect();
        if dot(&g, &p) >= 0.0 {
            // Not a descent direction: restart from the gradient.
            s_hist.clear();
            y_hist.clear();
            continue;
        }
        let Some(ft) = line_search(f, &x, &p, fx, &g, &mut trial, &mut g_trial) else {
            break;
        };
        let s: Vec<f64> = (0..d).map(|j| trial[j] - x[j]).collect();
        let y: Vec<f64> = (0..d).map(|j| g_trial[j] - g[j]).collect();
        x.copy_from_slice(&trial);
        g.copy_from_slice(&g_trial);
        fx = ft;
        if dot(&s, &y) > 1e-16 * norm(&s) * norm(&y) {
            if s_hist.len() == MEM {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
    }
    Ok(finish(f, x, it, "lbfgs", opts))
}
