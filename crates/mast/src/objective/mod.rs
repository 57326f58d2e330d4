//! Objectives `f`: loss, gradient, minibatch gradient, smoothness; and the
//! sketched oracle `∇f_S(x) = Sᵀ∇f(v + S(x − v))` that MAST's algorithms call.
//!
//! [`Objective::sketched_loss_grad`] has a generic O(d) implementation; linear
//! models ([`LinearModel`]) override it with a path whose cost is proportional to
//! the kept coordinates (and the batch's nonzeros among them), not to d.

mod batch_loss;
mod bit_batch;
pub mod hessian;
mod linear;
mod quadratic;
mod sparse_batch;
mod sparse_step;

pub use batch_loss::exp_nonpositive;
pub use linear::{
    accuracy, LeastSquares, LinearModel, Logistic, LogisticRegression, LossSum, MarginLoss, Squared,
};
pub use quadratic::Quadratic;

use crate::sketch::SketchDraw;

/// Which samples an oracle call uses.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// All samples (the full-data gradient: Algorithm 1, variant I).
    All,
    /// A minibatch of sample indices (variant II), averaged.
    Batch(&'a [usize]),
}

/// The shift `v` of the MAST objective with what the objective precomputes from
/// it once (for linear models, the margins `A v`).
#[derive(Debug, Clone)]
pub struct Shift {
    /// The shift v (a pre-trained model, or 0).
    pub v: Vec<f64>,
    /// Objective-specific precomputation (`A v` for linear models; empty when v = 0).
    pub cache: Vec<f64>,
    /// `‖v‖²`.
    pub v_norm_sq: f64,
    /// Whether every entry of v is exactly 0 (set by the constructors; the dense
    /// paths then skip reading v).
    pub is_zero: bool,
}

impl Shift {
    /// The shift `v` for `objective` (computes the cache once).
    pub fn new<O: Objective + ?Sized>(objective: &O, v: Vec<f64>) -> Self {
        assert_eq!(v.len(), objective.dim(), "shift dimension");
        let is_zero = v.iter().all(|&t| t == 0.0);
        let cache = if is_zero {
            Vec::new()
        } else {
            objective.shift_cache(&v)
        };
        let v_norm_sq = crate::linalg::dot(&v, &v);
        Shift {
            v,
            cache,
            v_norm_sq,
            is_zero,
        }
    }

    /// The zero shift (v = 0) in dimension d.
    pub fn zero(d: usize) -> Self {
        Shift {
            v: vec![0.0; d],
            cache: Vec::new(),
            v_norm_sq: 0.0,
            is_zero: true,
        }
    }
}

/// What one step of Algorithm 1 ([`Objective::sketched_step`]) saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// The sketched loss `f_S(x)` before the step.
    pub loss: f64,
    /// Whether the loss and every updated coordinate are finite.
    pub finite: bool,
}

/// Scratch buffers for oracle calls, allocated once per run so that steps allocate nothing.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// Dense model-sized buffer: the sketched model y in the generic path; a
    /// support marker (zero off the current support) in the linear fast path.
    pub y: Vec<f64>,
    /// Dense model-sized buffer (a full gradient; kept zero between sparse calls).
    pub g: Vec<f64>,
    /// Dense model-sized buffer kept zero off the current support.
    pub w: Vec<f64>,
    /// Per-kept-coordinate buffer (displacements `c_j (x_j − v_j)`).
    pub u: Vec<f64>,
    /// Sample-sized buffer (margins).
    pub m: Vec<f64>,
    /// Sample-sized buffer (loss derivatives).
    pub r: Vec<f64>,
    /// Sample-sized buffer (a minibatch's labels).
    pub b: Vec<f64>,
    /// Sample-sized buffer (a minibatch's loss factors, see [`LossSum`]).
    pub fac: Vec<f64>,
    /// Per-chunk partial sums (deterministic reductions).
    pub sums: Vec<f64>,
    /// Buffers padded to whole 128-coordinate blocks, all-zero between calls (the
    /// bit-row minibatch kernels, which work on the positions k of Ω: the
    /// displacements u_k, the column sums g_k).
    pub padded_w: Vec<f64>,
    /// See [`Workspace::padded_w`].
    pub padded_g: Vec<f64>,
    /// See [`Workspace::padded_w`] (the shift on Ω, v_j at position k).
    pub padded_v: Vec<f64>,
    /// Ω as a bit set over the padded coordinates, all-zero between calls.
    pub omega: Vec<u64>,
    /// Feature → position in Ω (the bit-row kernels' portable path).
    pub rank: Vec<u32>,
    /// A minibatch's bit rows packed onto Ω (grown on first use).
    pub masks: Vec<u64>,
    /// The sparse step's Ω as a d-bit set, all-zero between calls.
    pub members: Vec<u64>,
    /// The sparse step's batch columns in Ω as a d-bit set, all-zero between calls.
    pub touched: Vec<u64>,
    /// The sparse step's column sums `Σ_i r_i a_ij` (d-sized), all-zero between calls.
    pub col_sums: Vec<f64>,
    /// A draw held by its bit set, listed for the oracles that read lists
    /// (see [`SketchDraw::listed`]).
    pub listed: SketchDraw,
}

impl Workspace {
    /// Buffers for dimension `d` and `n` samples: the sample-sized ones now, the
    /// model-sized ones on first use by the oracle that needs them (so a run whose
    /// oracle needs none does not hold O(d) scratch it never reads).
    pub fn new(d: usize, n: usize) -> Self {
        let _ = d;
        Workspace {
            m: vec![0.0; n],
            r: vec![0.0; n],
            b: vec![0.0; n],
            fac: vec![0.0; n],
            sums: vec![0.0; n.div_ceil(CHUNK).max(1)],
            ..Workspace::default()
        }
    }

    /// Grows `y`, `g`, `w` and `u` to length `d` (zero-filled) if they are shorter.
    pub(crate) fn ensure_dense(&mut self, d: usize) {
        for buf in [&mut self.y, &mut self.g, &mut self.w, &mut self.u] {
            if buf.len() < d {
                buf.resize(d, 0.0);
            }
        }
    }

    /// Grows the bit-row kernels' buffers (and `w`, `g`) for dimension `d`.
    pub(crate) fn ensure_bit_kernels(&mut self, d: usize) {
        self.ensure_dense(d);
        let padded = bit_batch::padded_len(d);
        for buf in [&mut self.padded_w, &mut self.padded_g, &mut self.padded_v] {
            if buf.len() < padded {
                buf.resize(padded, 0.0);
            }
        }
        if self.omega.len() < padded / 64 {
            self.omega.resize(padded / 64, 0);
        }
        if self.rank.len() < padded {
            self.rank.resize(padded, 0);
        }
    }

    /// Grows the sparse step's buffers (see [`Workspace::members`]) for dimension `d`.
    pub(crate) fn ensure_sparse_step(&mut self, d: usize) {
        let words = d.div_ceil(64);
        for bits in [&mut self.members, &mut self.touched] {
            if bits.len() < words {
                bits.resize(words, 0);
            }
        }
        if self.col_sums.len() < d {
            // Zeroed by the allocator (untouched pages), so that huge pages back
            // them from the first write.
            let mut sums = vec![0.0; d];
            crate::linalg::advise_huge_pages(&mut sums);
            self.col_sums = sums;
        }
    }
}

/// Row-chunk size of deterministic parallel reductions: fixed, so results do not
/// depend on the number of threads.
pub(crate) const CHUNK: usize = 1024;

/// A differentiable objective `f: R^d → R`, usually an average over samples.
pub trait Objective: Send + Sync {
    /// Dimension d of the parameter vector.
    fn dim(&self) -> usize;

    /// Number of samples n (1 for objectives that are not sums).
    fn num_samples(&self) -> usize;

    /// `f(x)` over all samples.
    fn loss(&self, x: &[f64]) -> f64;

    /// The loss over `rows` at `x`; writes its gradient into `grad`.
    fn loss_grad(&self, x: &[f64], rows: Rows<'_>, grad: &mut [f64]) -> f64;

    /// A smoothness constant `L_f` (∇f is L_f-Lipschitz).
    fn smoothness(&self) -> f64;

    /// A strong-convexity constant `μ_f` (0 if none is known).
    fn strong_convexity(&self) -> f64;

    /// Coordinate-wise smoothness constants `L_j` (`|∂²f/∂x_j²| ≤ L_j`), where the
    /// objective knows them: `CURVATURE·(1/n)Σ_i a_ij² + λ` for linear models, the
    /// diagonal of `A` for quadratics. Importance sketches derive their keep
    /// probabilities from them ([`crate::sketch::Bernoulli::importance`]). `None`
    /// by default.
    fn coordinate_smoothness(&self) -> Option<Vec<f64>> {
        None
    }

    /// Fraction of training samples classified correctly, for classifiers.
    fn accuracy(&self, _x: &[f64]) -> Option<f64> {
        None
    }

    /// The Hessian `∇²f(x)` as a dense matrix, where that is affordable.
    fn hessian(&self, _x: &[f64]) -> Option<crate::linalg::SymMatrix> {
        None
    }

    /// A hint that the next oracle call will use `rows`: objectives over stored data
    /// may start bringing them into cache (the default does nothing).
    fn prefetch_rows(&self, _rows: &[usize]) {}

    /// Whether [`Objective::sketched_step`] takes draws held by their bit set
    /// alone (see [`SketchDraw::set_unlisted_ok`]); solvers then let samplers
    /// skip listing Ω. The default is no: the default oracles read the lists.
    fn takes_unlisted_draws(&self) -> bool {
        false
    }

    /// Precomputation from the shift v (see [`Shift`]).
    fn shift_cache(&self, _v: &[f64]) -> Vec<f64> {
        Vec::new()
    }

    /// The sketched loss `f_S(x) = f(v + S(x − v))` over `rows`, and the sketched
    /// gradient `∇f_S(x) = Sᵀ∇f(v + S(x − v))` on the draw's support, written to
    /// `out[..draw.len()]` (it is zero off the support).
    ///
    /// The default evaluates the dense model, O(d) plus the cost of `loss_grad`.
    fn sketched_loss_grad(
        &self,
        shift: &Shift,
        x: &[f64],
        draw: &SketchDraw,
        rows: Rows<'_>,
        ws: &mut Workspace,
        out: &mut [f64],
    ) -> f64 {
        let d = self.dim();
        ws.ensure_dense(d);
        draw.apply_shifted(x, &shift.v, &mut ws.y[..d]);
        let loss = self.loss_grad(&ws.y[..d], rows, &mut ws.g[..d]);
        for (k, (j, c)) in draw.iter().enumerate() {
            out[k] = c * ws.g[j];
        }
        loss
    }

    /// One step of Algorithm 1: `x ← x − γ Sᵀ∇f(v + S(x − v))` over `rows`, on the
    /// draw's support Ω only. Returns the sketched loss before the step and
    /// whether it and every updated coordinate are finite (x is updated either way).
    ///
    /// The default calls [`Objective::sketched_loss_grad`] into `grad` (at least
    /// `draw.len()` long), then updates x on Ω; objectives may fuse the two.
    #[allow(clippy::too_many_arguments)]
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
        let loss = self.sketched_loss_grad(shift, x, draw, rows, ws, grad);
        let mut finite = loss.is_finite();
        for (k, &j) in draw.indices.iter().enumerate() {
            let xj = x[j] - gamma * grad[k];
            finite &= xj.is_finite();
            x[j] = xj;
        }
        StepOutcome { loss, finite }
    }
}
