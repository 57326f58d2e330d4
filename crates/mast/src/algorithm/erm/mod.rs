//! The exact ERM optimum `x* = argmin f` ("solved to machine precision", the
//! paper's ERM baseline), by one of three solvers:
//!
//! - [`ErmSolver::Newton`]: Newton's method with a dense Hessian (faer Cholesky)
//!   and a backtracking line search, where d is small;
//! - [`ErmSolver::Tron`]: a trust-region Newton–CG on Hessian-vector products
//!   (the method of LIBLINEAR's `-s 0`, with a diagonal preconditioner), for
//!   linear models at any d;
//! - [`ErmSolver::Lbfgs`]: L-BFGS, for any objective with a gradient.
//!
//! For ℓ2-regularised linear models on sparse data, columns that no training row
//! uses have `x*_j = 0` exactly: [`solve_linear_erm`] solves on the used columns
//! only ([`UsedColumns`]) and expands at the end.

mod compact;
mod lbfgs;
mod newton;
mod tron;

use std::any::Any;

pub use compact::UsedColumns;

use crate::error::{MastError, Result};
use crate::linalg::norm;
use crate::objective::{
    LeastSquares, LinearModel, LogisticRegression, MarginLoss, Objective, Rows,
};

/// Which ERM solver to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErmSolver {
    /// Dense Newton where its Hessian is small enough to pay
    /// ([`newton_pays`]); otherwise the trust-region Newton–CG for linear models
    /// and L-BFGS for other objectives.
    #[default]
    Auto,
    /// Newton's method with a dense Hessian and Cholesky solves.
    Newton,
    /// Trust-region Newton–CG on Hessian-vector products (linear models only).
    Tron,
    /// L-BFGS (memory 10) with a backtracking line search.
    Lbfgs,
}

impl ErmSolver {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErmSolver::Auto => "auto",
            ErmSolver::Newton => "newton",
            ErmSolver::Tron => "tron",
            ErmSolver::Lbfgs => "lbfgs",
        }
    }
}

impl std::fmt::Display for ErmSolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ErmSolver {
    type Err = MastError;

    /// ```
    /// use mast::algorithm::erm::ErmSolver;
    /// assert_eq!("tron".parse::<ErmSolver>().unwrap(), ErmSolver::Tron);
    /// assert!("cg".parse::<ErmSolver>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(ErmSolver::Auto),
            "newton" => Ok(ErmSolver::Newton),
            "tron" => Ok(ErmSolver::Tron),
            "lbfgs" => Ok(ErmSolver::Lbfgs),
            other => Err(MastError::param(
                "solver",
                format!("unknown ERM solver `{other}`: use auto, newton, tron or lbfgs"),
            )),
        }
    }
}

/// Options of [`solve_erm`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErmOptions {
    /// Stop when `‖∇f(x)‖ ≤ tol`.
    pub tol: f64,
    /// Iteration cap (Newton or trust-region steps; L-BFGS steps ×100).
    pub max_iter: usize,
    /// The solver.
    pub solver: ErmSolver,
}

impl Default for ErmOptions {
    fn default() -> Self {
        ErmOptions {
            tol: 1e-10,
            max_iter: 100,
            solver: ErmSolver::Auto,
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
    /// Iterations used (Newton, trust-region or L-BFGS steps).
    pub iterations: usize,
    /// Hessian-vector products used (the trust-region solver's CG steps; 0 for the others).
    pub hessian_products: usize,
    /// "newton", "tron" or "lbfgs".
    pub method: String,
    /// Whether `grad_norm ≤ tol` was reached.
    pub converged: bool,
}

/// The largest dimension at which [`ErmSolver::Auto`] picks dense Newton for a
/// linear model (see [`newton_pays`]).
pub const NEWTON_MAX_DIM: usize = 200;

/// The largest `n · (nonzeros per row)²` (the cost of forming one dense Hessian)
/// at which [`ErmSolver::Auto`] picks dense Newton for a linear model.
pub const NEWTON_MAX_HESSIAN_WORK: f64 = 5e6;

/// Whether dense Newton pays for a linear model: its dimension (after
/// compaction) is at most [`NEWTON_MAX_DIM`] and forming a Hessian costs at most
/// [`NEWTON_MAX_HESSIAN_WORK`]. Above that the trust-region Newton–CG is faster:
/// measured (2-core machine, logistic, λ = 1/n, to ‖∇f‖ ≤ 1e-10), Newton's solve
/// takes 0.18 / 0.32 / 0.72 / 1.7 / 12 s against TRON's 0.06 / 0.13 / 0.12 / 0.15 /
/// 0.12 s at d = 250 / 500 / 1000 / 2000 / 4000 (n = 20,000, 30 nonzeros a row),
/// while on a5a (d = 123, n = 6,414, 14 a row) Newton takes 36 ms and TRON 57 ms.
pub fn newton_pays<L: MarginLoss>(f: &LinearModel<L>) -> bool {
    let design = &f.data().features;
    let n = f.num_samples() as f64;
    let per_row = design.nnz() as f64 / n;
    f.dim() <= NEWTON_MAX_DIM && n * per_row * per_row <= NEWTON_MAX_HESSIAN_WORK
}

/// Minimises `f` from x = 0 to `‖∇f‖ ≤ opts.tol`.
///
/// Logistic regression and least squares go through [`solve_linear_erm`]
/// (compaction to the used columns, and the trust-region solver where dense
/// Newton does not pay); other objectives use Newton where they give a dense
/// Hessian, else L-BFGS.
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
pub fn solve_erm<O: Objective + 'static>(f: &O, opts: &ErmOptions) -> Result<ErmSolution> {
    let any: &dyn Any = f;
    if let Some(model) = any.downcast_ref::<LogisticRegression>() {
        return solve_linear_erm(model, opts);
    }
    if let Some(model) = any.downcast_ref::<LeastSquares>() {
        return solve_linear_erm(model, opts);
    }
    solve_any(f, opts)
}

/// [`solve_erm`] for objectives that are not linear models: Newton where a dense
/// Hessian is available (or asked for), else L-BFGS.
fn solve_any<O: Objective + ?Sized>(f: &O, opts: &ErmOptions) -> Result<ErmSolution> {
    let x0 = vec![0.0; f.dim()];
    match opts.solver {
        ErmSolver::Tron => Err(MastError::param(
            "solver",
            "the trust-region solver needs Hessian-vector products: only linear models give them",
        )),
        ErmSolver::Lbfgs => lbfgs::solve(f, x0, opts),
        ErmSolver::Newton => newton::solve(f, x0, opts),
        ErmSolver::Auto if f.hessian(&x0).is_some() => newton::solve(f, x0, opts),
        ErmSolver::Auto => lbfgs::solve(f, x0, opts),
    }
}

/// The ERM optimum of a linear model, in all d coordinates: [`solve_linear_erm_compact`]
/// expanded (zero on the unused columns).
pub fn solve_linear_erm<L: MarginLoss>(
    f: &LinearModel<L>,
    opts: &ErmOptions,
) -> Result<ErmSolution> {
    let CompactErmSolution { solution, columns } = solve_linear_erm_compact(f, opts)?;
    Ok(ErmSolution {
        x: columns.expand(&solution.x),
        ..solution
    })
}

/// A solution over the used columns only.
#[derive(Debug, Clone)]
pub struct CompactErmSolution {
    /// The solution; its `x` has one coordinate per used column, in column order.
    pub solution: ErmSolution,
    /// The used columns (x* is zero on the others).
    pub columns: UsedColumns,
}

/// The ERM optimum of a linear model over the columns that its training rows use:
/// `x*_j = 0` on the others (their gradient coordinate is `λ x_j`), so the problem
/// on the used columns has the same loss, gradient norm and solution. Nothing of
/// size d is allocated when few columns are used.
///
/// ```
/// use std::sync::Arc;
/// use mast::algorithm::erm::{solve_linear_erm_compact, ErmOptions};
/// use mast::data::{CsrMatrix, Dataset, Design};
/// use mast::objective::LogisticRegression;
/// // Two rows over 10⁷ columns, of which three are used.
/// let a = CsrMatrix::new(2, 10_000_000, vec![0, 2, 3], vec![4, 9_999_999, 70], vec![0.5, 1.0, 2.0]);
/// let data = Arc::new(Dataset::new("tiny", Design::Sparse(a), vec![1.0, -1.0]));
/// let f = LogisticRegression::new(data, 0.5).unwrap();
/// let sol = solve_linear_erm_compact(&f, &ErmOptions::default()).unwrap();
/// assert_eq!(sol.columns.len(), 3);
/// assert!(sol.solution.converged && sol.solution.x.len() == 3);
/// ```
pub fn solve_linear_erm_compact<L: MarginLoss>(
    f: &LinearModel<L>,
    opts: &ErmOptions,
) -> Result<CompactErmSolution> {
    let columns = UsedColumns::of(&f.data().features);
    if columns.is_all() {
        let solution = solve_linear_model(f, opts)?;
        return Ok(CompactErmSolution { solution, columns });
    }
    let compact =
        LinearModel::<L>::new(std::sync::Arc::new(columns.compact(f.data())), f.lambda())?;
    let solution = solve_linear_model(&compact, opts)?;
    Ok(CompactErmSolution { solution, columns })
}

fn solve_linear_model<L: MarginLoss>(f: &LinearModel<L>, opts: &ErmOptions) -> Result<ErmSolution> {
    let x0 = vec![0.0; f.dim()];
    match opts.solver {
        ErmSolver::Newton => newton::solve(f, x0, opts),
        ErmSolver::Lbfgs => lbfgs::solve(f, x0, opts),
        ErmSolver::Tron => tron::solve(f, x0, opts),
        ErmSolver::Auto if newton_pays(f) => newton::solve(f, x0, opts),
        ErmSolver::Auto => tron::solve(f, x0, opts),
    }
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
    let slope = crate::linalg::dot(g, p);
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

/// The solution at `x`, with its loss and gradient norm evaluated once more.
fn finish<O: Objective + ?Sized>(
    f: &O,
    x: Vec<f64>,
    iterations: usize,
    hessian_products: usize,
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
        hessian_products,
        method: method.into(),
        converged: grad_norm <= opts.tol,
    }
}
