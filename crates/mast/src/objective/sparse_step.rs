//! One whole step of Algorithm 1 (II) for a linear model on a sparse design at
//! any d: `x_Ω ← x_Ω − γ c (Σ_i r_i a_iΩ + λ y_Ω)`, at a cost proportional to the
//! batch's nonzeros plus K, with no O(d) work per step.
//!
//! Ω is held as a d-bit set (the draw's own where its sampler made one, else
//! set and cleared here in O(K) per step), so a batch nonzero's membership in Ω
//! is a bit test, and a kept coordinate's displacement
//! `c (x_j − v_j)` is computed where it is read (the draw's scale c is common to
//! all of Ω). The loss derivatives of the batch are scattered into d-sized column
//! sums on Ω only for the batch's columns (marked in a second bit set); then one
//! sequential pass over Ω applies the gradient, the regulariser's shrink and the
//! step together. Every floating-point operation is the one the two-pass path
//! ([`super::sparse_batch`], then the update) performs, in the same order, so the
//! iterates are the same to the bit.

use super::linear::{derivatives, MarginLoss};
use super::{StepOutcome, Workspace};
use crate::data::CsrMatrix;

/// One minibatch step on a sparse design with a draw whose kept coordinates all
/// have scale `c`.
pub(super) struct SparseStep<'a> {
    pub sp: &'a CsrMatrix,
    pub batch: &'a [usize],
    pub labels: &'a [f64],
    /// `A v`; empty exactly when v = 0 (as [`super::Shift`] makes it), and then
    /// v is not read.
    pub av: &'a [f64],
    /// Ω (distinct coordinates; increasing makes the pass over x sequential).
    pub idx: &'a [usize],
    /// Ω as a bit set, where the draw brings one (then Ω is increasing, and the
    /// step neither builds a set nor reads `idx`).
    pub member_bits: Option<&'a [u64]>,
    /// |Ω|.
    pub k: usize,
    /// The common scale of Ω.
    pub c: f64,
    pub v: &'a [f64],
    pub v_norm_sq: f64,
    pub lam: f64,
    pub gamma: f64,
}

/// Whether bit `j` of `bits` is set.
#[inline(always)]
fn bit(bits: &[u64], j: usize) -> bool {
    (bits[j >> 6] >> (j & 63)) & 1 != 0
}

/// Sets the bits `idx` in `bits`, a word at a time where consecutive indices
/// share one (each word written once per run, not read back per index).
fn set_bits(bits: &mut [u64], idx: &[usize]) {
    let Some(&first) = idx.first() else { return };
    let (mut word, mut acc) = (first >> 6, 0u64);
    for &j in idx {
        if j >> 6 != word {
            bits[word] |= acc;
            (word, acc) = (j >> 6, 0);
        }
        acc |= 1 << (j & 63);
    }
    bits[word] |= acc;
}

/// Clears the words of `bits` that hold the bits `idx`.
fn clear_bits(bits: &mut [u64], idx: &[usize]) {
    for &j in idx {
        bits[j >> 6] = 0;
    }
}

impl SparseStep<'_> {
    /// Takes the step on `x` (d-sized); returns the sketched minibatch loss
    /// `(1/b) Σ_i ℓ(a_iᵀy, b_i) + (λ/2)‖y‖²` at `y = v + S(x − v)` (before the
    /// step) and whether it and every updated coordinate are finite. The bit sets
    /// and column sums in `ws` are all-zero before and after.
    pub fn run<L: MarginLoss>(&self, x: &mut [f64], ws: &mut Workspace) -> StepOutcome {
        let d = x.len();
        let nb = self.batch.len();
        ws.ensure_sparse_step(d);
        if self.member_bits.is_none() {
            set_bits(&mut ws.members, self.idx);
        }
        let members = self.member_bits.unwrap_or(&ws.members);
        let (touched, col_sums) = (&mut ws.touched[..], &mut ws.col_sums[..d]);
        let m = &mut ws.m[..nb];
        self.margins(x, members, m);
        let (r, b, fac) = (&mut ws.r[..nb], &mut ws.b[..nb], &mut ws.fac[..nb]);
        let loss_sum = derivatives::<L>(self.batch, self.labels, m, r, b, fac);
        // Few of the batch's nonzeros are in a sparse Ω (K < d/8): test first and
        // touch only Ω's columns; else branch-free (the test would mispredict).
        let sparse_omega = 8 * self.k < d;
        if sparse_omega {
            self.column_sums_on_omega(r, members, touched, col_sums);
        } else {
            self.column_sums(r, members, touched, col_sums);
        }
        // The passes over Ω read and clear the column sums of Ω's columns.
        let (y_norm_sq, finite) = match self.member_bits {
            Some(bits) => self.apply_by_words(x, bits, touched, col_sums, sparse_omega),
            None => self.apply(x, touched, col_sums),
        };
        // Leave the scratch all-zero: the branch-free sums wrote every batch
        // column (zeros, or NaN from a non-finite r_i); then Ω.
        if !sparse_omega {
            for &i in self.batch {
                for &j in self.sp.row(i).0 {
                    let j = j as usize;
                    col_sums[j] = 0.0;
                    touched[j >> 6] = 0;
                }
            }
        }
        if self.member_bits.is_none() {
            clear_bits(&mut ws.members, self.idx);
        }
        let loss = loss_sum.total() / nb as f64 + 0.5 * self.lam * y_norm_sq;
        StepOutcome {
            loss,
            finite: finite && loss.is_finite(),
        }
    }

    /// `u_j = c (x_j − v_j)` for a coordinate j of Ω.
    #[inline(always)]
    fn displacement(&self, x: &[f64], j: usize) -> f64 {
        if self.av.is_empty() {
            self.c * (x[j] - 0.0)
        } else {
            self.c * (x[j] - self.v[j])
        }
    }

    /// `m_i = a_iᵀv + Σ_{j ∈ Ω} a_ij u_j` for the batch's rows, in four partial
    /// sums (position mod 4) combined as (s0 + s1) + (s2 + s3), as the two-pass
    /// path's gather (a coordinate off Ω adds `a_ij · 0`).
    fn margins(&self, x: &[f64], members: &[u64], m: &mut [f64]) {
        let binary = self.sp.is_binary();
        for (&i, mi) in self.batch.iter().zip(m.iter_mut()) {
            let (ix, vx) = self.sp.row(i);
            let base = if self.av.is_empty() { 0.0 } else { self.av[i] };
            let w = |j: u32| {
                let j = j as usize;
                if bit(members, j) {
                    self.displacement(x, j)
                } else {
                    0.0
                }
            };
            let mut s = [0.0f64; 4];
            let mut ci = ix.chunks_exact(4);
            if binary {
                for c in &mut ci {
                    for t in 0..4 {
                        s[t] += w(c[t]);
                    }
                }
                for (t, &j) in ci.remainder().iter().enumerate() {
                    s[t] += w(j);
                }
            } else {
                let mut ca = vx[..ix.len()].chunks_exact(4);
                for (c, a) in (&mut ci).zip(&mut ca) {
                    for t in 0..4 {
                        s[t] += a[t] * w(c[t]);
                    }
                }
                for (t, (&j, &a)) in ci.remainder().iter().zip(ca.remainder()).enumerate() {
                    s[t] += a * w(j);
                }
            }
            *mi = base + ((s[0] + s[1]) + (s[2] + s[3]));
        }
    }

    /// `col_sums_j = Σ_i r_i a_ij` (batch order) for the batch's columns j in Ω,
    /// which are marked in `touched`. Branch-free: every batch nonzero adds
    /// `r_i a_ij · [j ∈ Ω]`, so columns off Ω gain only zeros (or a NaN from a
    /// non-finite r_i, which [`SparseStep::run`] clears with them).
    fn column_sums(&self, r: &[f64], members: &[u64], touched: &mut [u64], col_sums: &mut [f64]) {
        let binary = self.sp.is_binary();
        for (&i, &ri) in self.batch.iter().zip(r) {
            let (ix, vx) = self.sp.row(i);
            for (p, &j) in ix.iter().enumerate() {
                let j = j as usize;
                let member = (members[j >> 6] >> (j & 63)) & 1;
                let one = f64::from(member as u8);
                col_sums[j] += if binary { ri * one } else { ri * vx[p] * one };
                touched[j >> 6] |= member << (j & 63);
            }
        }
    }

    /// [`SparseStep::column_sums`] adding only the nonzeros in Ω's columns
    /// (the same sums, in the same order, on Ω; nothing written elsewhere).
    fn column_sums_on_omega(
        &self,
        r: &[f64],
        members: &[u64],
        touched: &mut [u64],
        col_sums: &mut [f64],
    ) {
        let binary = self.sp.is_binary();
        for (&i, &ri) in self.batch.iter().zip(r) {
            let (ix, vx) = self.sp.row(i);
            for (p, &j) in ix.iter().enumerate() {
                let j = j as usize;
                if bit(members, j) {
                    col_sums[j] += if binary { ri } else { ri * vx[p] };
                    touched[j >> 6] |= 1 << (j & 63);
                }
            }
        }
    }

    /// [`SparseStep::apply`] walking Ω's bit set (in increasing order, as Ω)
    /// instead of its index list: the same operations in the same order, with
    /// position k's term of ‖y‖² in partial sum k mod 4 (four accumulators that
    /// rotate, so that they stay in registers).
    /// Reads and clears `touched` and the column sums of Ω's columns. Where Ω
    /// is sparse (`prefetch`), x at the first coordinate of Ω a few words ahead
    /// is fetched early: such steps wait on memory, not on arithmetic.
    fn apply_by_words(
        &self,
        x: &mut [f64],
        members: &[u64],
        touched: &mut [u64],
        col_sums: &mut [f64],
        prefetch: bool,
    ) -> (f64, bool) {
        /// Words ahead whose first member of Ω is prefetched.
        const AHEAD: usize = 32;
        let (c, lam, gamma) = (self.c, self.lam, self.gamma);
        let shifted = !self.av.is_empty();
        let (mut a0, mut a1, mut a2, mut a3) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let mut finite = true;
        let mut k = 0usize;
        for (w, (&word, near_w)) in members.iter().zip(touched.iter_mut()).enumerate() {
            if prefetch {
                if let Some(&ahead) = members.get(w + AHEAD) {
                    let mut rest = ahead;
                    while rest != 0 {
                        let j = (w + AHEAD) * 64 + rest.trailing_zeros() as usize;
                        crate::linalg::prefetch(&x[j..j + 1]);
                        rest &= rest - 1;
                    }
                }
            }
            if word == 0 {
                continue;
            }
            let near = *near_w;
            if near != 0 {
                *near_w = 0;
            }
            let mut bits = word;
            while bits != 0 {
                let t = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let j = w * 64 + t;
                let vj = if shifted { self.v[j] } else { 0.0 };
                let uj = c * (x[j] - vj);
                let yj = vj + uj;
                // a0 is partial sum k mod 4; rotate so that a0 is next k's.
                let sum = a0 + (yj * yj - vj * vj);
                (a0, a1, a2, a3) = (a1, a2, a3, sum);
                let g = if (near >> t) & 1 != 0 {
                    std::mem::take(&mut col_sums[j])
                } else {
                    0.0
                };
                let xj = x[j] - gamma * (c * (g + lam * yj));
                finite &= xj.is_finite();
                x[j] = xj;
                k += 1;
            }
        }
        // After K terms a_i holds partial sum (K + i) mod 4.
        let mut acc = [0.0f64; 4];
        for (i, a) in [a0, a1, a2, a3].into_iter().enumerate() {
            acc[(k + i) % 4] = a;
        }
        (
            self.v_norm_sq + ((acc[0] + acc[1]) + (acc[2] + acc[3])),
            finite,
        )
    }

    /// The pass over Ω: `x_j ← x_j − γ c (G_j + λ y_j)` with `y_j = v_j + u_j` and
    /// `G_j` the column sum (0 off the batch's columns); returns `‖y‖² = ‖v‖² +
    /// Σ_Ω (y_j² − v_j²)` (four partial sums, position mod 4) and whether every
    /// new x_j is finite. Reads and clears `touched` and the column sums of Ω.
    fn apply(&self, x: &mut [f64], touched: &mut [u64], col_sums: &mut [f64]) -> (f64, bool) {
        let (c, lam, gamma) = (self.c, self.lam, self.gamma);
        let shifted = !self.av.is_empty();
        let mut acc = [0.0f64; 4];
        let mut finite = true;
        let mut one = |j: usize, t: usize| {
            let vj = if shifted { self.v[j] } else { 0.0 };
            let uj = c * (x[j] - vj);
            let yj = vj + uj;
            acc[t] += yj * yj - vj * vj;
            let g = if bit(touched, j) {
                std::mem::take(&mut col_sums[j])
            } else {
                0.0
            };
            let xj = x[j] - gamma * (c * (g + lam * yj));
            finite &= xj.is_finite();
            x[j] = xj;
        };
        // Position k's term in partial sum k mod 4.
        for (k, &j) in self.idx.iter().enumerate() {
            one(j, k & 3);
        }
        clear_bits(touched, self.idx);
        (
            self.v_norm_sq + ((acc[0] + acc[1]) + (acc[2] + acc[3])),
            finite,
        )
    }
}
