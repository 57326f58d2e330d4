//! Quadratics `f(x) = ½ xᵀAx − bᵀx + c`: the exact oracle of MAST.md §2.

use super::{LeastSquares, Objective, Rows};
use crate::data::Design;
use crate::error::{MastError, Result};
use crate::linalg::{dot, SymMatrix};

/// `f(x) = ½ xᵀAx − bᵀx + c` with A symmetric positive semi-definite.
///
/// ```
/// use mast::linalg::SymMatrix;
/// use mast::objective::{Objective, Quadratic};
/// let a = SymMatrix::from_fn(2, |i, j| if i == j { 2.0 } else { 0.5 });
/// let q = Quadratic::new(a, vec![1.0, -1.0], 0.0).unwrap();
/// let x_star = q.minimizer().unwrap();
/// let mut g = vec![0.0; 2];
/// q.loss_grad(&x_star, mast::objective::Rows::All, &mut g);
/// assert!(g.iter().all(|v| v.abs() < 1e-12));
/// ```
#[derive(Debug, Clone)]
pub struct Quadratic {
    a: SymMatrix,
    b: Vec<f64>,
    c: f64,
    l: f64,
    mu: f64,
}

impl Quadratic {
    /// The quadratic with matrix `a`, linear term `b` and constant `c`.
    pub fn new(a: SymMatrix, b: Vec<f64>, c: f64) -> Result<Self> {
        if b.len() != a.d {
            return Err(MastError::Dimension(format!(
                "quadratic: A is {0}×{0} but b has {1} entries",
                a.d,
                b.len()
            )));
        }
        for i in 0..a.d {
            for j in 0..i {
                if (a.get(i, j) - a.get(j, i)).abs() > 1e-12 * (1.0 + a.get(i, j).abs()) {
                    return Err(MastError::param(
                        "A",
                        format!("not symmetric at ({i}, {j})"),
                    ));
                }
            }
        }
        let eig = a.eigenvalues()?;
        let (mu, l) = (eig[0], *eig.last().unwrap());
        if mu < -1e-12 * l.abs().max(1.0) {
            return Err(MastError::param(
                "A",
                format!("not positive semi-definite (smallest eigenvalue {mu:.3e})"),
            ));
        }
        Ok(Quadratic {
            a,
            b,
            c,
            l,
            mu: mu.max(0.0),
        })
    }

    /// The quadratic equal to a least-squares objective: `A = XᵀX/n + λI`,
    /// `b = Xᵀy/n`, `c = ‖y‖²/(2n)`.
    pub fn from_least_squares(ls: &LeastSquares) -> Result<Self> {
        let data = ls.data();
        let (n, d) = (data.n_samples(), data.n_features());
        let mut a = SymMatrix::zeros(d);
        let mut b = vec![0.0; d];
        for i in 0..n {
            let row: Vec<f64> = match &data.features {
                Design::Dense(m) => m.row(i).to_vec(),
                Design::Sparse(s) => {
                    let mut r = vec![0.0; d];
                    let (ix, vx) = s.row(i);
                    for (&j, &v) in ix.iter().zip(vx) {
                        r[j as usize] = v;
                    }
                    r
                }
            };
            for j in 0..d {
                b[j] += row[j] * data.labels[i] / n as f64;
                for l in 0..d {
                    a.data[j * d + l] += row[j] * row[l] / n as f64;
                }
            }
        }
        for j in 0..d {
            a.data[j * d + j] += ls.lambda();
        }
        let c = dot(&data.labels, &data.labels) / (2.0 * n as f64);
        Quadratic::new(a, b, c)
    }

    /// The matrix A.
    pub fn a(&self) -> &SymMatrix {
        &self.a
    }

    /// The linear term b.
    pub fn b(&self) -> &[f64] {
        &self.b
    }

    /// The unique minimiser `x* = A⁻¹b` (A must be positive definite).
    pub fn minimizer(&self) -> Result<Vec<f64>> {
        self.a.solve_spd(&self.b)
    }
}

impl Objective for Quadratic {
    fn dim(&self) -> usize {
        self.a.d
    }
    fn num_samples(&self) -> usize {
        1
    }
    fn loss(&self, x: &[f64]) -> f64 {
        let mut ax = vec![0.0; self.a.d];
        self.a.matvec(x, &mut ax);
        0.5 * dot(x, &ax) - dot(&self.b, x) + self.c
    }
    fn loss_grad(&self, x: &[f64], _rows: Rows<'_>, grad: &mut [f64]) -> f64 {
        self.a.matvec(x, grad);
        let loss = 0.5 * dot(x, grad) - dot(&self.b, x) + self.c;
        for (g, b) in grad.iter_mut().zip(&self.b) {
            *g -= b;
        }
        loss
    }
    fn smoothness(&self) -> f64 {
        self.l
    }
    fn hessian(&self, _x: &[f64]) -> Option<SymMatrix> {
        Some(self.a.clone())
    }
    fn strong_convexity(&self) -> f64 {
        self.mu
    }
    fn coordinate_smoothness(&self) -> Option<Vec<f64>> {
        Some((0..self.a.d).map(|j| self.a.get(j, j)).collect())
    }
}
