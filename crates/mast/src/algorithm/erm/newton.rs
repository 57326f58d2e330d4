//! Newton's method with a dense Hessian (faer Cholesky) and a backtracking line search.

use super::{finish, line_search, ErmOptions, ErmSolution};
use crate::error::{MastError, Result};
use crate::linalg::norm;
use crate::objective::{Objective, Rows};

/// Newton's method from `x`.
pub(super) fn solve<O: Objective + ?Sized>(
    f: &O,
    mut x: Vec<f64>,
    opts: &ErmOptions,
) -> Result<ErmSolution> {
    let d = f.dim();
    let mut g = vec![0.0; d];
    let mut fx = f.loss_grad(&x, Rows::All, &mut g);
    let (mut trial, mut g_trial) = (vec![0.0; d], vec![0.0; d]);
    let mut it = 0;
    while norm(&g) > opts.tol && it < opts.max_iter {
        it += 1;
        let h = f.hessian(&x).ok_or_else(|| {
            MastError::Numerical(format!(
                "Newton's method needs a dense Hessian, which this objective does not form at d = {d}: use the tron or lbfgs solver"
            ))
        })?;
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
    Ok(finish(f, x, it, 0, "newton", opts))
}
