//! The linear model's sketched gradient on one minibatch of a 0/1 design kept as
//! bit rows ([`BitRows`]): margins, then the sum of the loss derivatives on Ω.
//!
//! The arithmetic is fixed by eight lanes: feature j belongs to lane `j % 8`.
//! - Margin of row i: lane l sums `w_j` over the row's features j ≡ l (mod 8) in
//!   increasing j, from +0.0; the lanes are then added as a tree,
//!   `((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))`, and `a_iᵀv` is added
//!   last. Here `w` is u on Ω and +0.0 elsewhere; adding +0.0 to a sum that
//!   started at +0.0 changes nothing, so it does not matter whether a path adds
//!   the features off Ω or skips them.
//! - Gradient: `g_j = Σ_i r_i` over the batch's rows that have feature j, in
//!   batch order, from +0.0.
//!
//! With AVX-512 (checked at run time) a row is 16 masked 8-lane adds per 128
//! features, branch-free, with the feature block's sums held in registers; the
//! portable path walks the set bits of row ∩ Ω in the same order and lanes. Both
//! give the same bits.

use super::{LossSum, MarginLoss, Workspace};
use crate::data::BitRows;
use crate::sketch::SketchDraw;

/// One minibatch of a bit-row design against one sketch draw.
pub(super) struct BitBatch<'a> {
    pub bits: &'a BitRows,
    pub batch: &'a [usize],
    /// The labels of all samples.
    pub labels: &'a [f64],
    /// The iterate x and the shift v.
    pub x: &'a [f64],
    pub v: &'a [f64],
    /// `A v` (empty when v = 0).
    pub av: &'a [f64],
    pub draw: &'a SketchDraw,
    /// The ℓ2 weight λ.
    pub lam: f64,
}

/// Length of the padded dense buffers the kernels use for dimension `d`: whole
/// 128-feature blocks.
pub(super) fn padded_len(d: usize) -> usize {
    d.div_ceil(128).max(1) * 128
}

impl BitBatch<'_> {
    /// The sketched minibatch loss `(1/b) Σ_i ℓ(a_iᵀy, b_i) + (λ/2)‖y‖²` at
    /// `y = v + S(x − v)`, and the sketched gradient on Ω in `out[..|Ω|]`.
    ///
    /// The O(d) parts run densely over the padded buffers (`ws.padded_*`, all-zero
    /// between calls): d is small where bit rows are used, and a dense pass is a
    /// few vector operations where a pass over Ω is a load and a store per kept
    /// coordinate.
    pub fn loss_grad<L: MarginLoss>(&self, ws: &mut Workspace, out: &mut [f64]) -> f64 {
        let wide = wide();
        let d = self.x.len();
        let (s, w, g) = (&mut ws.padded_s, &mut ws.padded_w, &mut ws.padded_g);
        for (&j, &c) in self.draw.indices.iter().zip(&self.draw.scales) {
            s[j] = c;
        }
        // u = S(x − v) into w (zero off Ω), and ‖y‖² for y = v + u.
        let y_norm_sq = displace(wide, self.x, self.v, &s[..d], &mut w[..d]);
        let nb = self.batch.len();
        let m = &mut ws.m[..nb];
        self.margins(wide, w, &mut ws.omega, m);
        let (r, b, fac) = (&mut ws.r[..nb], &mut ws.b[..nb], &mut ws.fac[..nb]);
        for (bi, &i) in b.iter_mut().zip(self.batch) {
            *bi = self.labels[i];
        }
        // ×(1/b), exact division for the usual power-of-two batches.
        let loss_sum: LossSum = L::batch_derivatives(b, m, 1.0 / nb as f64, r, fac);
        self.column_sums(wide, r, g, &mut ws.omega);
        // ∇ on Ω: c_j (g_j + λ y_j).
        for ((o, &j), &c) in out
            .iter_mut()
            .zip(&self.draw.indices)
            .zip(&self.draw.scales)
        {
            *o = c * (g[j] + self.lam * (self.v[j] + w[j]));
        }
        s[..d].fill(0.0);
        w[..d].fill(0.0);
        g.fill(0.0);
        loss_sum.total() / nb as f64 + 0.5 * self.lam * y_norm_sq
    }

    /// `m_i = a_iᵀv + a_iᵀ u` for the batch's rows (u in `w`, zero off Ω).
    fn margins(&self, wide: bool, w: &[f64], omega: &mut [u64], m: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: `wide` says the CPU has AVX-512F and DQ; w holds 64·stride entries.
            unsafe { avx512::margins(self.bits, self.batch, w, m) };
            self.add_base(m);
            return;
        }
        let idx = &self.draw.indices;
        for &j in idx {
            omega[j / 64] |= 1 << (j % 64);
        }
        for (&i, mi) in self.batch.iter().zip(m.iter_mut()) {
            let mut s = [0.0f64; 8];
            for (t, (&word, &om)) in self.bits.row(i).iter().zip(omega.iter()).enumerate() {
                let mut b = word & om;
                while b != 0 {
                    let j = t * 64 + b.trailing_zeros() as usize;
                    s[j % 8] += w[j];
                    b &= b - 1;
                }
            }
            *mi = reduce8(s);
        }
        self.add_base(m);
        for &j in idx {
            omega[j / 64] = 0;
        }
    }

    /// Adds `a_iᵀv` (nothing when v = 0: a lane sum is never −0.0, so adding
    /// +0.0 would not change it).
    fn add_base(&self, m: &mut [f64]) {
        if !self.av.is_empty() {
            for (&i, mi) in self.batch.iter().zip(m.iter_mut()) {
                *mi += self.av[i];
            }
        }
    }

    /// `g_j = Σ_i r_i a_ij`, at least for j ∈ Ω (g padded, all-zero before).
    fn column_sums(&self, wide: bool, r: &[f64], g: &mut [f64], omega: &mut [u64]) {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: `wide` says the CPU has AVX-512F and DQ; g holds 64·stride entries.
            unsafe { avx512::column_sums(self.bits, self.batch, r, g) };
            return;
        }
        let idx = &self.draw.indices;
        for &j in idx {
            omega[j / 64] |= 1 << (j % 64);
        }
        for (&i, &ri) in self.batch.iter().zip(r) {
            for (t, (&word, &om)) in self.bits.row(i).iter().zip(omega.iter()).enumerate() {
                let mut b = word & om;
                while b != 0 {
                    g[t * 64 + b.trailing_zeros() as usize] += ri;
                    b &= b - 1;
                }
            }
        }
        for &j in idx {
            omega[j / 64] = 0;
        }
    }
}

/// Whether the AVX-512 kernels run (the CPU has AVX-512F and DQ).
fn wide() -> bool {
    #[cfg(target_arch = "x86_64")]
    return avx512::available();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `w_j = s_j (x_j − v_j)` where `s_j ≠ 0` (j ∈ Ω), else 0; returns `‖v + w‖²`,
/// summed in eight lanes (lane `j % 8`) and added as [`reduce8`]. With `wide`,
/// compiled for AVX-512: the same operations, so the same bits.
fn displace(wide: bool, x: &[f64], v: &[f64], s: &[f64], w: &mut [f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if wide {
        #[target_feature(enable = "avx512f,avx512dq")]
        fn displace_avx512(x: &[f64], v: &[f64], s: &[f64], w: &mut [f64]) -> f64 {
            displace_lanes(x, v, s, w)
        }
        // SAFETY: `wide` says the CPU has AVX-512F and DQ.
        return unsafe { displace_avx512(x, v, s, w) };
    }
    let _ = wide;
    displace_lanes(x, v, s, w)
}

#[inline(always)]
fn displace_lanes(x: &[f64], v: &[f64], s: &[f64], w: &mut [f64]) -> f64 {
    let d = x.len();
    let (v, s, w) = (&v[..d], &s[..d], &mut w[..d]);
    #[inline(always)]
    fn one(x: f64, v: f64, s: f64, w: &mut f64, acc: &mut f64) {
        let u = if s != 0.0 { s * (x - v) } else { 0.0 };
        *w = u;
        let y = v + u;
        *acc += y * y;
    }
    let mut acc = [0.0f64; 8];
    let (mut xc, mut vc, mut sc) = (x.chunks_exact(8), v.chunks_exact(8), s.chunks_exact(8));
    let mut wc = w.chunks_exact_mut(8);
    for (((x8, v8), s8), w8) in (&mut xc).zip(&mut vc).zip(&mut sc).zip(&mut wc) {
        for l in 0..8 {
            one(x8[l], v8[l], s8[l], &mut w8[l], &mut acc[l]);
        }
    }
    let tail = xc
        .remainder()
        .iter()
        .zip(vc.remainder())
        .zip(sc.remainder());
    for (l, (((&x, &v), &s), w)) in tail.zip(wc.into_remainder()).enumerate() {
        one(x, v, s, w, &mut acc[l]);
    }
    reduce8(acc)
}

/// The eight lanes' sum as a tree: (l, l + 4), then (l, l + 2), then (0, 1) —
/// the order of the AVX-512 reduction.
#[inline]
fn reduce8(s: [f64; 8]) -> f64 {
    let t = [s[0] + s[4], s[1] + s[5], s[2] + s[6], s[3] + s[7]];
    let u = [t[0] + t[2], t[1] + t[3]];
    u[0] + u[1]
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use crate::data::BitRows;

    /// Whether the CPU has AVX-512F and DQ (cached by std after the first call).
    #[inline]
    pub(super) fn available() -> bool {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq")
    }

    /// [`super::reduce8`] on a register.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn reduce8(v: __m512d) -> f64 {
        let t = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v));
        let u = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd::<1>(t));
        _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)))
    }

    /// Margins without the base: lane sums of `w` over each row's features, eight
    /// rows at a time (eight independent chains of adds sharing each load of w).
    ///
    /// # Safety
    /// The CPU must have AVX-512F and DQ; `w` must hold `bits.stride() * 64` entries.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn margins(bits: &BitRows, batch: &[usize], w: &[f64], m: &mut [f64]) {
        let chunks = bits.stride() * 8;
        assert!(w.len() >= chunks * 8 && m.len() >= batch.len());
        let mut rows8 = batch.chunks_exact(8);
        let mut m8 = m.chunks_exact_mut(8);
        for (rows, out) in (&mut rows8).zip(&mut m8) {
            let p: [*const u8; 8] =
                std::array::from_fn(|t| bits.row(rows[t]).as_ptr() as *const u8);
            let mut acc = [_mm512_setzero_pd(); 8];
            for c in 0..chunks {
                // SAFETY: 8c + 8 ≤ 64·stride ≤ w.len(); c < 8·stride bytes of each row.
                unsafe {
                    let wc = _mm512_loadu_pd(w.as_ptr().add(8 * c));
                    for (a, &row) in acc.iter_mut().zip(&p) {
                        *a = _mm512_mask_add_pd(*a, *row.add(c), *a, wc);
                    }
                }
            }
            // SAFETY: out holds 8 entries.
            unsafe { _mm512_storeu_pd(out.as_mut_ptr(), reduce8x8(acc)) };
        }
        for (&i, mi) in rows8.remainder().iter().zip(m8.into_remainder()) {
            let row = bits.row(i).as_ptr() as *const u8;
            let mut acc = _mm512_setzero_pd();
            for c in 0..chunks {
                // SAFETY: as above.
                unsafe {
                    acc = _mm512_mask_add_pd(
                        acc,
                        *row.add(c),
                        acc,
                        _mm512_loadu_pd(w.as_ptr().add(8 * c)),
                    );
                }
            }
            *mi = reduce8(acc);
        }
    }

    /// [`reduce8`] of eight registers at once, the sums in order: the same adds,
    /// with the lanes of several rows side by side.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn reduce8x8(a: [__m512d; 8]) -> __m512d {
        // t_r[l] = a_r[l] + a_r[l + 4]: rows r, r + 1 in one register.
        let half = |x: __m512d, y: __m512d| {
            _mm512_add_pd(
                _mm512_shuffle_f64x2::<0x44>(x, y),
                _mm512_shuffle_f64x2::<0xEE>(x, y),
            )
        };
        let (t01, t23, t45, t67) = (
            half(a[0], a[1]),
            half(a[2], a[3]),
            half(a[4], a[5]),
            half(a[6], a[7]),
        );
        // u_r[l] = t_r[l] + t_r[l + 2]: rows r .. r + 3 in one register.
        let quarter = |x: __m512d, y: __m512d| {
            _mm512_add_pd(
                _mm512_shuffle_f64x2::<0x88>(x, y),
                _mm512_shuffle_f64x2::<0xDD>(x, y),
            )
        };
        let (u0, u4) = (quarter(t01, t23), quarter(t45, t67));
        // s_r = u_r[0] + u_r[1], as [s0, s4, s1, s5, s2, s6, s3, s7].
        let s = _mm512_add_pd(_mm512_unpacklo_pd(u0, u4), _mm512_unpackhi_pd(u0, u4));
        _mm512_permutexvar_pd(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), s)
    }

    /// `g_j = Σ_i r_i a_ij` for every j (g padded, overwritten), 128 features at a
    /// time with their sums in registers.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and DQ; `g` must hold `bits.stride() * 64` entries.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn column_sums(bits: &BitRows, batch: &[usize], r: &[f64], g: &mut [f64]) {
        let stride = bits.stride();
        assert!(g.len() >= stride * 64);
        for block in 0..stride / 2 {
            let mut acc = [_mm512_setzero_pd(); 16];
            for (&i, &ri) in batch.iter().zip(r) {
                // SAFETY: words 2·block, 2·block + 1 are inside the row (stride is even).
                let row = unsafe { (bits.row(i).as_ptr().add(2 * block)) as *const u8 };
                let rb = _mm512_set1_pd(ri);
                for (c, a) in acc.iter_mut().enumerate() {
                    // SAFETY: c < 16 bytes of the block's two words.
                    let k: __mmask8 = unsafe { *row.add(c) };
                    *a = _mm512_mask_add_pd(*a, k, *a, rb);
                }
            }
            for (c, a) in acc.iter().enumerate() {
                // SAFETY: 128·block + 8c + 8 ≤ 64·stride ≤ g.len().
                unsafe { _mm512_storeu_pd(g.as_mut_ptr().add(128 * block + 8 * c), *a) };
            }
        }
    }
}
