//! L-BFGS (memory 10) with a backtracking line search.

use super::{finish, line_search, ErmOptions, ErmSolution};
use crate::error::Result;
use crate::linalg::{axpy, dot, norm};
use crate::objective::{Objective, Rows};

/// L-BFGS from `x`, at most `100 · opts.max_iter` steps.
pub(super) fn solve<O: Objective + ?Sized>(
    f: &O,
    mut x: Vec<f64>,
    opts: &ErmOptions,
) -> Result<ErmSolution> {
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
            axpy(-a, y, &mut q);
            alphas.push(a);
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / f.smoothness(),
        };
        q.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y), a) in s_hist.iter().zip(&y_hist).zip(alphas.iter().rev()) {
            let b = dot(y, &q) / dot(y, s);
            axpy(a - b, s, &mut q);
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
    Ok(finish(f, x, it, 0, "lbfgs", opts))
}
