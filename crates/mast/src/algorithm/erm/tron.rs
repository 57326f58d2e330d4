//! Trust-region Newton–CG on Hessian-vector products, for linear models at any d:
//! the method of LIBLINEAR's `-s 0` (Lin, Weng & Keerthi 2008, "Trust region
//! Newton method for large-scale logistic regression"), with a diagonal (Jacobi)
//! preconditioner and the trust region measured in its norm (Hsia, Chiang & Lin
//! 2018).
//!
//! Each outer step solves the Newton system `H s = −g` approximately by
//! preconditioned conjugate gradients, stopped on the trust-region boundary
//! (Steihaug) or when `‖H s + g‖ ≤ η ‖g‖` with the forcing term
//! `η = min(0.1, √(‖g‖/‖g₀‖))` (superlinear convergence near the optimum, no
//! over-solving far from it). The step is accepted by the ratio of actual to
//! predicted decrease; once f no longer resolves the decrease (at machine
//! precision, near the optimum), by a decrease of `‖∇f‖`.

use super::{ErmOptions, ErmSolution};
use crate::error::Result;
use crate::linalg::{dot, norm};
use crate::objective::hessian::{loss_grad_hessian, LinearHessian};
use crate::objective::{LinearModel, MarginLoss, Objective};

/// Acceptance threshold on ρ = actual / predicted decrease.
const ETA0: f64 = 1e-4;
/// Below this ρ the region shrinks.
const ETA1: f64 = 0.25;
/// Above this ρ (on the boundary) the region grows.
const ETA2: f64 = 0.75;
/// Smallest shrink factor.
const SIGMA1: f64 = 0.25;
/// Largest shrink factor.
const SIGMA2: f64 = 0.5;
/// Growth factor.
const SIGMA3: f64 = 4.0;
/// A predicted decrease below this fraction of |f| is at the resolution of f
/// (rounding of a sum of n losses), where ρ means nothing.
const F_RESOLUTION: f64 = 1e-12;

/// The trust-region Newton–CG from `x`.
pub(super) fn solve<L: MarginLoss>(
    f: &LinearModel<L>,
    mut x: Vec<f64>,
    opts: &ErmOptions,
) -> Result<ErmSolution> {
    let d = f.dim();
    let mut g = vec![0.0; d];
    let (mut fx, mut h, mut precond) = loss_grad_hessian(f, &x, &mut g);
    let mut g_norm = norm(&g);
    let g0_norm = g_norm;
    let (mut x_new, mut g_new) = (vec![0.0; d], vec![0.0; d]);
    let mut cg = Cg::new(d);
    let mut radius: Option<f64> = None;
    let (mut it, mut products) = (0, 0);
    while g_norm > opts.tol && it < opts.max_iter {
        it += 1;
        let r0 = *radius.get_or_insert_with(|| {
            g.iter()
                .zip(&precond)
                .map(|(gj, mj)| gj * gj / mj)
                .sum::<f64>()
                .sqrt()
        });
        let forcing = (g_norm / g0_norm).sqrt().min(0.1);
        let cg_tol = (forcing * g_norm).max(0.1 * opts.tol);
        let step = cg.solve(&h, &precond, &g, r0, cg_tol);
        products += step.products;
        let s = &cg.s;
        for ((xn, xj), sj) in x_new.iter_mut().zip(&x).zip(s) {
            *xn = xj + sj;
        }
        let (f_new, h_new, precond_new) = loss_grad_hessian(f, &x_new, &mut g_new);
        let g_new_norm = norm(&g_new);
        let gs = dot(&g, s);
        let predicted = -0.5 * (gs - dot(s, &cg.r));
        let actual = fx - f_new;
        let s_norm = step.norm;
        let mut r = if it == 1 { r0.min(s_norm) } else { r0 };
        // The minimiser of the quadratic interpolating f along s, as a fraction of s.
        let curv = f_new - fx - gs;
        let alpha = if curv <= 0.0 {
            SIGMA3
        } else {
            (-0.5 * gs / curv).max(SIGMA1)
        };
        let resolved = predicted > F_RESOLUTION * fx.abs();
        let accept = if resolved {
            let rho = actual / predicted;
            if rho < ETA0 {
                r = (alpha * s_norm).min(SIGMA2 * r);
            } else if rho < ETA1 {
                r = (SIGMA1 * r).max((alpha * s_norm).min(SIGMA2 * r));
            } else if rho < ETA2 {
                r = (SIGMA1 * r).max((alpha * s_norm).min(SIGMA3 * r));
            } else if step.on_boundary {
                r = r.max((alpha * s_norm).min(SIGMA3 * r));
            }
            rho > ETA0
        } else {
            let better = g_new_norm < g_norm && f_new.is_finite();
            if !better {
                r *= SIGMA1;
            }
            better
        };
        radius = Some(r);
        if accept {
            std::mem::swap(&mut x, &mut x_new);
            std::mem::swap(&mut g, &mut g_new);
            (fx, h, precond) = (f_new, h_new, precond_new);
            g_norm = g_new_norm;
        } else if r <= f64::EPSILON * norm(&x).max(f64::MIN_POSITIVE) {
            break;
        }
    }
    Ok(ErmSolution {
        x,
        loss: fx,
        grad_norm: g_norm,
        iterations: it,
        hessian_products: products,
        method: "tron".into(),
        converged: g_norm <= opts.tol,
    })
}

/// What one CG solve returns besides the step and residual in [`Cg`].
struct CgStep {
    /// Hessian-vector products used.
    products: usize,
    /// `‖s‖_M`.
    norm: f64,
    /// Whether the step stopped on the trust-region boundary.
    on_boundary: bool,
}

/// Buffers of the preconditioned CG: the step `s`, the residual `r = −g − H s`,
/// the direction `p` and `H p`.
struct Cg {
    s: Vec<f64>,
    r: Vec<f64>,
    p: Vec<f64>,
    hp: Vec<f64>,
}

impl Cg {
    fn new(d: usize) -> Self {
        Cg {
            s: vec![0.0; d],
            r: vec![0.0; d],
            p: vec![0.0; d],
            hp: vec![0.0; d],
        }
    }

    /// Approximately minimises `gᵀs + ½ sᵀHs` subject to `‖s‖_M ≤ radius` (M the
    /// diagonal `precond`) by preconditioned CG from s = 0 (Steihaug–Toint), until
    /// `‖r‖ ≤ tol` or the boundary. `‖s‖_M` and `sᵀMp` follow by recurrences.
    fn solve<L: MarginLoss>(
        &mut self,
        h: &LinearHessian<'_, L>,
        precond: &[f64],
        g: &[f64],
        radius: f64,
        tol: f64,
    ) -> CgStep {
        let d = g.len();
        let max_products = (2 * d).clamp(50, 5000);
        let (s, r, p, hp) = (&mut self.s, &mut self.r, &mut self.p, &mut self.hp);
        let mut rz = 0.0;
        for j in 0..d {
            s[j] = 0.0;
            r[j] = -g[j];
            p[j] = r[j] / precond[j];
            rz += r[j] * p[j];
        }
        let radius_sq = radius * radius;
        // ‖s‖²_M, sᵀMp, ‖p‖²_M.
        let (mut ss, mut sp, mut pp) = (0.0, 0.0, rz);
        let mut r_norm = norm(r);
        let mut products = 0;
        while r_norm > tol && products < max_products {
            h.apply(p, hp);
            products += 1;
            let php = dot(p, hp);
            let alpha = rz / php;
            let ss_next = ss + 2.0 * alpha * sp + alpha * alpha * pp;
            if php <= 0.0 || !ss_next.is_finite() || ss_next >= radius_sq {
                // To the boundary: τ ≥ 0 with ‖s + τ p‖_M = radius.
                let disc = (sp * sp + pp * (radius_sq - ss)).max(0.0).sqrt();
                let tau = if sp >= 0.0 {
                    (radius_sq - ss) / (sp + disc)
                } else {
                    (disc - sp) / pp
                };
                for j in 0..d {
                    s[j] += tau * p[j];
                    r[j] -= tau * hp[j];
                }
                return CgStep {
                    products,
                    norm: radius,
                    on_boundary: true,
                };
            }
            let mut rz_next = 0.0;
            let mut rr = 0.0;
            for j in 0..d {
                s[j] += alpha * p[j];
                r[j] -= alpha * hp[j];
                rz_next += r[j] * r[j] / precond[j];
                rr += r[j] * r[j];
            }
            let beta = rz_next / rz;
            for j in 0..d {
                p[j] = r[j] / precond[j] + beta * p[j];
            }
            ss = ss_next;
            sp = beta * (sp + alpha * pp);
            pp = rz_next + beta * beta * pp;
            rz = rz_next;
            r_norm = rr.sqrt();
        }
        CgStep {
            products,
            norm: ss.sqrt(),
            on_boundary: false,
        }
    }
}
