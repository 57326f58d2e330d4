//! The linear model's sketched gradient on one minibatch of a 0/1 design kept as
//! bit rows ([`BitRows`]), computed in the space of the kept coordinates.
//!
//! Ω = `idx` (increasing), K = |Ω|; position k stands for feature `idx[k]`. With
//! `u_k = c_k (x_j − v_j)`:
//! - the margin of row i sums `u_k` over the kept features of the row in eight
//!   lanes (lane `k % 8`, increasing k, from +0.0), adds the lanes as the tree
//!   `((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))`, then adds `a_iᵀv`;
//! - `g_k = Σ_i r_i` over the batch's rows that have feature `idx[k]`, in batch
//!   order, from +0.0; the gradient on Ω is `c_k (g_k + λ (v_j + u_k))`.
//!
//! With AVX-512 and BMI2 (checked at run time) each row's bits are first packed
//! onto Ω (`pext`), so a row is ⌈K/8⌉ masked 8-lane adds, branch-free, for the
//! margins and again for the column sums, whose K sums stay in registers. The
//! portable path (any other CPU, or an Ω that is not increasing) reads the rows'
//! CSR index lists instead: each feature adds its u_k (+0.0 off Ω, which changes
//! no sum) into lane k % 8, in increasing order. Both give the same bits; a test
//! compares them.

use super::linear::displacements;
use super::{LossSum, MarginLoss, Workspace};
use crate::data::{BitRows, CsrMatrix};
use crate::sketch::SketchDraw;

/// One minibatch of a bit-row design against one sketch draw.
pub(super) struct BitBatch<'a> {
    /// The design, as CSR (the portable path reads its index lists) and as bit
    /// rows (the vector path).
    pub csr: &'a CsrMatrix,
    pub bits: &'a BitRows,
    pub batch: &'a [usize],
    /// The labels of all samples.
    pub labels: &'a [f64],
    /// `A v` (empty when v = 0).
    pub av: &'a [f64],
    pub draw: &'a SketchDraw,
    /// The iterate x.
    pub x: &'a [f64],
    /// The shift v, and ‖v‖².
    pub v: &'a [f64],
    pub v_norm_sq: f64,
    /// The ℓ2 weight λ.
    pub lam: f64,
    /// Whether the vector path may run (where the CPU has it); tests compare
    /// the two paths.
    pub wide: bool,
}

/// Whether the vector path runs on this CPU (AVX-512F/DQ and BMI2): it reads the
/// bit rows, the portable path the CSR index lists.
pub(super) fn vector_path() -> bool {
    #[cfg(target_arch = "x86_64")]
    return avx512::available();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Length of the padded dense buffers the kernels use for dimension `d`: whole
/// 128-coordinate blocks.
pub(super) fn padded_len(d: usize) -> usize {
    d.div_ceil(128).max(1) * 128
}

impl BitBatch<'_> {
    /// The sketched minibatch loss `(1/b) Σ_i ℓ(a_iᵀy, b_i) + (λ/2)‖y‖²` at
    /// `y = v + S(x − v)`; writes the sketched gradient on Ω to `out[..K]`. The
    /// padded buffers and Ω's bit set in `ws` are all-zero before and after.
    pub fn loss_grad<L: MarginLoss>(&self, ws: &mut Workspace, out: &mut [f64]) -> f64 {
        ws.ensure_bit_kernels(self.x.len());
        let idx = &self.draw.indices;
        let k_len = idx.len();
        let nb = self.batch.len();
        let stride = self.bits.stride();
        let (u, vk) = (&mut ws.padded_w[..k_len], &mut ws.padded_v[..k_len]);
        let (y_norm_sq, increasing) = spread(
            self.draw,
            self.x,
            self.v,
            self.v_norm_sq,
            u,
            vk,
            &mut ws.omega[..stride],
        );
        let packed = match self.wide && increasing {
            true => pack(
                self.bits,
                self.batch,
                k_len,
                &ws.omega[..stride],
                &mut ws.masks,
            ),
            false => None,
        };
        if packed.is_none() {
            // Per feature: u_k on Ω (0 elsewhere) and its lane k % 8.
            for ((k, &j), &uk) in idx.iter().enumerate().zip(&ws.padded_w[..k_len]) {
                ws.rank[j] = k as u32;
                ws.w[j] = uk;
            }
        }
        let m = &mut ws.m[..nb];
        match packed {
            #[cfg(target_arch = "x86_64")]
            Some(words) => {
                // SAFETY: `pack` returns words only where the CPU has AVX-512F/DQ
                // and BMI2; the masks are nb rows of `words` words on Ω, and
                // padded_w holds ⌈K/128⌉·128 entries.
                unsafe { avx512::margins(&ws.masks, words, k_len, &ws.padded_w, m) }
            }
            _ => self.margins(&ws.rank, &ws.w, m),
        }
        self.add_base(m);
        let (r, b, fac) = (&mut ws.r[..nb], &mut ws.b[..nb], &mut ws.fac[..nb]);
        for (bi, &i) in b.iter_mut().zip(self.batch) {
            *bi = self.labels[i];
        }
        // ×(1/b), exact division for the usual power-of-two batches.
        let loss_sum: LossSum = L::batch_derivatives(b, m, 1.0 / nb as f64, r, fac);
        match packed {
            #[cfg(target_arch = "x86_64")]
            Some(words) => {
                // SAFETY: as above; padded_g holds ⌈K/128⌉·128 entries.
                unsafe { avx512::column_sums(&ws.masks, words, k_len, r, &mut ws.padded_g) }
            }
            _ => {
                self.column_sums(r, &mut ws.g);
                for (gk, &j) in ws.padded_g.iter_mut().zip(idx) {
                    *gk = ws.g[j];
                }
                for &j in idx {
                    ws.w[j] = 0.0;
                }
                ws.g.fill(0.0);
            }
        }
        ws.omega[..stride].fill(0);
        // ∇ on Ω: c_k (g_k + λ y_j), y_j = v_j + u_k.
        let (u, g) = (&mut ws.padded_w[..k_len], &mut ws.padded_g[..k_len]);
        let vk = &mut ws.padded_v[..k_len];
        gradient_on_omega(self.wide, &self.draw.scales, self.lam, u, vk, g, out);
        loss_sum.total() / nb as f64 + 0.5 * self.lam * y_norm_sq
    }

    /// Portable margins, over each row's index list (increasing, as bit rows
    /// require): lane `rank[j] % 8` gains `w_j`, which is u_k on Ω and +0.0 off it
    /// (adding +0.0 changes no lane sum, whatever lane it goes to).
    fn margins(&self, rank: &[u32], w: &[f64], m: &mut [f64]) {
        for (&i, mi) in self.batch.iter().zip(m.iter_mut()) {
            let mut s = [0.0f64; 8];
            for &j in self.csr.row(i).0 {
                let j = j as usize;
                s[rank[j] as usize % 8] += w[j];
            }
            *mi = reduce8(s);
        }
    }

    /// Portable column sums by feature, `g_j = Σ_i r_i a_ij` in batch order
    /// (g all-zero before; features off Ω are summed too, and dropped).
    fn column_sums(&self, r: &[f64], g: &mut [f64]) {
        for (&i, &ri) in self.batch.iter().zip(r) {
            for &j in self.csr.row(i).0 {
                g[j as usize] += ri;
            }
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
}

/// `u_k = c_k (x_j − v_j)` and `vk_k = v_j` over Ω, Ω's bit set into `omega`
/// (all-zero before), and whether Ω is increasing (as [`SketchDraw`] promises;
/// the packed path relies on it). Returns ‖y‖² for y = v + S(x − v), as the CSR
/// path computes it.
fn spread(
    draw: &SketchDraw,
    x: &[f64],
    v: &[f64],
    v_norm_sq: f64,
    u: &mut [f64],
    vk: &mut [f64],
    omega: &mut [u64],
) -> (f64, bool) {
    let increasing = omega_bits(&draw.indices, omega);
    let y_norm_sq = displacements(draw, x, v, v_norm_sq, u);
    for (t, &j) in vk.iter_mut().zip(&draw.indices) {
        *t = v[j];
    }
    (y_norm_sq, increasing)
}

/// Ω's bit set into `omega` (all-zero before); whether `idx` is increasing.
/// The words are built in registers (an `|=` into memory per index would chain
/// through it): for d ≤ 128 both words branch-free, else one word at a time,
/// stored when the index moves to the next.
fn omega_bits(idx: &[usize], omega: &mut [u64]) -> bool {
    let (mut increasing, mut next) = (true, 0usize);
    if let [o0, o1] = omega {
        let (mut w0, mut w1) = (0u64, 0u64);
        for &j in idx {
            increasing &= j >= next;
            next = j + 1;
            let (bit, high) = (1u64 << (j % 64), ((j / 64) as u64 & 1).wrapping_neg());
            w0 |= bit & !high;
            w1 |= bit & high;
        }
        // An index ≥ 128 would have gone to the wrong word: only a malformed
        // draw has one, and indexing x with it fails just after.
        (*o0, *o1) = (w0, w1);
        return increasing;
    }
    let (mut word, mut at) = (0u64, 0usize);
    for &j in idx {
        increasing &= j >= next;
        next = j + 1;
        if j / 64 != at {
            omega[at] |= word;
            (word, at) = (0, j / 64);
        }
        word |= 1 << (j % 64);
    }
    if let Some(w) = omega.get_mut(at) {
        *w |= word;
    }
    increasing
}

/// `out_k = c_k (g_k + λ (vk_k + u_k))`, then u, vk and g cleared; with `wide`,
/// compiled for AVX-512 (the same operations, so the same bits).
fn gradient_on_omega(
    wide: bool,
    scales: &[f64],
    lam: f64,
    u: &mut [f64],
    vk: &mut [f64],
    g: &mut [f64],
    out: &mut [f64],
) {
    #[inline(always)]
    fn body(
        scales: &[f64],
        lam: f64,
        u: &mut [f64],
        vk: &mut [f64],
        g: &mut [f64],
        out: &mut [f64],
    ) {
        let n = out.len();
        let (scales, u, vk, g) = (&scales[..n], &mut u[..n], &mut vk[..n], &mut g[..n]);
        for k in 0..n {
            out[k] = scales[k] * (g[k] + lam * (vk[k] + u[k]));
        }
        u.fill(0.0);
        vk.fill(0.0);
        g.fill(0.0);
    }
    #[cfg(target_arch = "x86_64")]
    if wide && avx512::available() {
        #[target_feature(enable = "avx512f,avx512dq")]
        fn body_avx512(
            scales: &[f64],
            lam: f64,
            u: &mut [f64],
            vk: &mut [f64],
            g: &mut [f64],
            out: &mut [f64],
        ) {
            body(scales, lam, u, vk, g, out)
        }
        // SAFETY: the CPU has the features (checked just above).
        return unsafe { body_avx512(scales, lam, u, vk, g, out) };
    }
    let _ = wide;
    body(scales, lam, u, vk, g, out)
}

/// Packs each batch row's bits onto Ω (bit k of a packed row: the row has feature
/// `idx[k]`) into `masks`, `words` per row, and returns `words`; `None` (nothing
/// packed) where the vector path does not run (no AVX-512F/DQ and BMI2).
fn pack(
    bits: &BitRows,
    batch: &[usize],
    k_len: usize,
    omega: &[u64],
    masks: &mut Vec<u64>,
) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // Whole 16-byte blocks per row, as the column sums read them.
        let words = k_len.div_ceil(128).max(1) * 2;
        if masks.len() < batch.len() * words {
            masks.resize(batch.len() * words, 0);
        }
        // SAFETY: the CPU has BMI2 (checked by `available`).
        unsafe { avx512::pack_rows(bits, batch, omega, words, masks) };
        return Some(words);
    }
    let _ = (bits, batch, k_len, omega, masks);
    None
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

    /// Whether the CPU has AVX-512F and DQ and BMI2 (cached by std).
    #[inline]
    pub(super) fn available() -> bool {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("bmi2")
    }

    /// Each batch row's bits packed onto Ω (`omega`, the rows' stride in words),
    /// `words` words per row.
    ///
    /// # Safety
    /// The CPU must have BMI2; `masks` must hold `batch.len() * words` words.
    #[target_feature(enable = "bmi2,popcnt")]
    pub(super) unsafe fn pack_rows(
        bits: &BitRows,
        batch: &[usize],
        omega: &[u64],
        words: usize,
        masks: &mut [u64],
    ) {
        if let [o0, o1] = *omega {
            // d ≤ 128: both packed halves in one 128-bit value.
            let n0 = o0.count_ones();
            for (&i, out) in batch.iter().zip(masks.chunks_exact_mut(words)) {
                let row = bits.row(i);
                let packed =
                    u128::from(_pext_u64(row[0], o0)) | u128::from(_pext_u64(row[1], o1)) << n0;
                out[0] = packed as u64;
                out[1] = (packed >> 64) as u64;
            }
            return;
        }
        for (&i, out) in batch.iter().zip(masks.chunks_exact_mut(words)) {
            let row = bits.row(i);
            // Packed bits so far, and how many, in a 128-bit window.
            let (mut window, mut filled, mut w) = (0u128, 0u32, 0usize);
            for (&word, &om) in row.iter().zip(omega) {
                window |= u128::from(_pext_u64(word, om)) << filled;
                filled += om.count_ones();
                if filled >= 64 {
                    out[w] = window as u64;
                    (window, filled, w) = (window >> 64, filled - 64, w + 1);
                }
            }
            if w < words {
                out[w] = window as u64;
                out[w + 1..].fill(0);
            }
        }
    }

    /// [`super::reduce8`] on a register.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn reduce8(v: __m512d) -> f64 {
        let t = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v));
        let u = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd::<1>(t));
        _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)))
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
        let (t01, t23) = (half(a[0], a[1]), half(a[2], a[3]));
        let (t45, t67) = (half(a[4], a[5]), half(a[6], a[7]));
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

    /// Margins without the base: lane sums of `u` over each packed row, eight
    /// rows at a time (eight independent chains of adds sharing each load of u).
    ///
    /// # Safety
    /// The CPU must have AVX-512F and DQ; `masks` must hold `m.len()` rows of
    /// `words ≥ ⌈K/64⌉` words, and `u` at least `⌈K/8⌉·8` entries.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn margins(masks: &[u64], words: usize, k: usize, u: &[f64], m: &mut [f64]) {
        let chunks = k.div_ceil(8);
        assert!(u.len() >= chunks * 8 && words * 8 >= chunks && masks.len() >= m.len() * words);
        let rows = masks.chunks_exact(words);
        let mut m8 = m.chunks_exact_mut(8);
        let mut rows8 = rows.clone();
        for out in &mut m8 {
            let p: [*const u8; 8] = std::array::from_fn(|_| {
                rows8.next().expect("a row per margin").as_ptr() as *const u8
            });
            let mut acc = [_mm512_setzero_pd(); 8];
            for c in 0..chunks {
                // SAFETY: 8c + 8 ≤ u.len(); c < 8·words bytes of each row.
                unsafe {
                    let uc = _mm512_loadu_pd(u.as_ptr().add(8 * c));
                    for (a, &row) in acc.iter_mut().zip(&p) {
                        *a = _mm512_mask_add_pd(*a, *row.add(c), *a, uc);
                    }
                }
            }
            // SAFETY: out holds 8 entries.
            unsafe { _mm512_storeu_pd(out.as_mut_ptr(), reduce8x8(acc)) };
        }
        for (row, mi) in rows8.zip(m8.into_remainder()) {
            let row = row.as_ptr() as *const u8;
            let mut acc = _mm512_setzero_pd();
            for c in 0..chunks {
                // SAFETY: as above.
                unsafe {
                    let uc = _mm512_loadu_pd(u.as_ptr().add(8 * c));
                    acc = _mm512_mask_add_pd(acc, *row.add(c), acc, uc);
                }
            }
            *mi = reduce8(acc);
        }
    }

    /// `g_k = Σ_i r_i [row i has feature idx[k]]` for k < ⌈K/8⌉·8 (g overwritten
    /// there), 128 positions at a time with their sums in registers.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and DQ; `masks` must hold `r.len()` rows of
    /// `words` words (an even number ≥ ⌈K/64⌉), and `g` at least
    /// `⌈K/128⌉·128` entries.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn column_sums(
        masks: &[u64],
        words: usize,
        k: usize,
        r: &[f64],
        g: &mut [f64],
    ) {
        let chunks = k.div_ceil(8);
        let blocks = chunks.div_ceil(16);
        assert!(words.is_multiple_of(2) && words >= blocks * 2 && g.len() >= blocks * 128);
        assert!(masks.len() >= r.len() * words);
        for block in 0..blocks {
            let width = (chunks - 16 * block).min(16);
            let g = &mut g[128 * block..128 * block + 8 * width];
            // SAFETY: the CPU has the features; each row has the block's two words.
            unsafe {
                match width {
                    1 => column_block::<1>(masks, words, block, r, g),
                    2 => column_block::<2>(masks, words, block, r, g),
                    3 => column_block::<3>(masks, words, block, r, g),
                    4 => column_block::<4>(masks, words, block, r, g),
                    5 => column_block::<5>(masks, words, block, r, g),
                    6 => column_block::<6>(masks, words, block, r, g),
                    7 => column_block::<7>(masks, words, block, r, g),
                    8 => column_block::<8>(masks, words, block, r, g),
                    9 => column_block::<9>(masks, words, block, r, g),
                    10 => column_block::<10>(masks, words, block, r, g),
                    11 => column_block::<11>(masks, words, block, r, g),
                    12 => column_block::<12>(masks, words, block, r, g),
                    13 => column_block::<13>(masks, words, block, r, g),
                    14 => column_block::<14>(masks, words, block, r, g),
                    15 => column_block::<15>(masks, words, block, r, g),
                    _ => column_block::<16>(masks, words, block, r, g),
                }
            }
        }
    }

    /// One block of [`column_sums`]: `W` registers of eight sums each (W a
    /// constant, so that they stay in registers).
    ///
    /// # Safety
    /// The CPU must have AVX-512F and DQ; every row of `masks` (rows of `words`
    /// words) must have words `2·block` and `2·block + 1`; `g` holds 8W entries.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn column_block<const W: usize>(
        masks: &[u64],
        words: usize,
        block: usize,
        r: &[f64],
        g: &mut [f64],
    ) {
        let mut acc = [_mm512_setzero_pd(); W];
        for (row, &ri) in masks.chunks_exact(words).zip(r) {
            let p = row[2 * block..2 * block + 2].as_ptr() as *const u8;
            let rb = _mm512_set1_pd(ri);
            for (c, a) in acc.iter_mut().enumerate() {
                // SAFETY: c < W ≤ 16 bytes of the block's two words.
                let bits: __mmask8 = unsafe { *p.add(c) };
                *a = _mm512_mask_add_pd(*a, bits, *a, rb);
            }
        }
        for (gc, a) in g.chunks_exact_mut(8).zip(&acc) {
            // SAFETY: gc holds 8 entries.
            unsafe { _mm512_storeu_pd(gc.as_mut_ptr(), *a) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::CsrMatrix;
    use crate::objective::Logistic;
    use crate::rng::{stream, Stream};
    use rand::Rng;

    /// Random 0/1 rows with density `p`, x, v, labels; both paths against each
    /// other (bit for bit) and against the definition.
    #[test]
    fn vector_and_portable_paths_agree_bitwise_and_match_the_definition() {
        let mut rng = stream(3, Stream::Data);
        for &(d, p) in &[
            (5, 0.5),
            (12, 0.3),
            (64, 0.2),
            (123, 0.11),
            (128, 0.3),
            (130, 0.2),
            (300, 0.1),
        ] {
            let n = 70;
            let (mut indptr, mut indices) = (vec![0usize], Vec::new());
            for _ in 0..n {
                for j in 0..d {
                    if rng.random::<f64>() < p {
                        indices.push(j as u32);
                    }
                }
                indptr.push(indices.len());
            }
            let nnz = indices.len();
            let csr = CsrMatrix::new(n, d, indptr, indices, vec![1.0; nnz]);
            let bits = BitRows::from_csr(&csr).unwrap();
            let labels: Vec<f64> = (0..n)
                .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                .collect();
            let x: Vec<f64> = (0..d).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
            for shifted in [false, true] {
                let v: Vec<f64> = (0..d)
                    .map(|_| {
                        if shifted {
                            rng.random::<f64>() - 0.5
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let av: Vec<f64> = if shifted {
                    (0..n)
                        .map(|i| csr.row(i).0.iter().map(|&j| v[j as usize]).sum())
                        .collect()
                } else {
                    Vec::new()
                };
                // K = 0 (an empty Bernoulli draw) to K = d; the last case keeps Ω in
                // drawing order, not increasing (the portable path on every CPU).
                for (k, sorted) in [
                    (0, true),
                    (1, true),
                    (d / 3 + 1, true),
                    (d - 1, true),
                    (d, true),
                    (d / 2, false),
                ] {
                    let mut idx: Vec<usize> = (0..d).collect();
                    for t in 0..k {
                        let s = rng.random_range(t..d);
                        idx.swap(t, s);
                    }
                    idx.truncate(k);
                    if sorted {
                        idx.sort_unstable();
                    }
                    let scales: Vec<f64> = (0..k).map(|_| 0.5 + rng.random::<f64>()).collect();
                    // `from_parts` insists on increasing indices; the fields are public.
                    let mut draw = SketchDraw::new();
                    (draw.indices, draw.scales) = (idx.clone(), scales.clone());
                    for nb in [1, 7, 8, 32, 33] {
                        let batch: Vec<usize> = (0..nb).map(|_| rng.random_range(0..n)).collect();
                        let mut results = Vec::new();
                        for wide in [true, false] {
                            let mut ws = Workspace::new(d, n);
                            let rows = BitBatch {
                                csr: &csr,
                                bits: &bits,
                                batch: &batch,
                                labels: &labels,
                                av: &av,
                                draw: &draw,
                                x: &x,
                                v: &v,
                                v_norm_sq: v.iter().map(|t| t * t).sum(),
                                lam: 0.1,
                                wide,
                            };
                            let mut out = vec![0.0; k];
                            let loss = rows.loss_grad::<Logistic>(&mut ws, &mut out);
                            let pads = ws.padded_w.iter().chain(&ws.padded_g).chain(&ws.padded_v);
                            assert!(pads.copied().all(|t| t == 0.0));
                            assert!(ws.omega.iter().all(|&t| t == 0));
                            results.push((loss, out));
                        }
                        let case = format!("d={d} K={k} b={nb} shifted={shifted} sorted={sorted}");
                        assert_eq!(
                            results[0].0.to_bits(),
                            results[1].0.to_bits(),
                            "{case}: loss"
                        );
                        for (a, b) in results[0].1.iter().zip(&results[1].1) {
                            assert_eq!(a.to_bits(), b.to_bits(), "{case}: gradient");
                        }
                        // The definition: y = v + S(x − v); ∇ on Ω = c (Aᵀr/b + λ y).
                        let mut y = v.clone();
                        for (&j, &c) in idx.iter().zip(&scales) {
                            y[j] = v[j] + c * (x[j] - v[j]);
                        }
                        let ridge = 0.05 * y.iter().map(|t| t * t).sum::<f64>();
                        let (mut want_loss, mut g) = (ridge, vec![0.0; d]);
                        for &i in &batch {
                            let mi: f64 = csr.row(i).0.iter().map(|&j| y[j as usize]).sum();
                            want_loss += Logistic::value(mi, labels[i]) / nb as f64;
                            let ri = Logistic::derivative(mi, labels[i]) / nb as f64;
                            for &j in csr.row(i).0 {
                                g[j as usize] += ri;
                            }
                        }
                        let (loss, out) = &results[0];
                        assert!(
                            (loss - want_loss).abs() < 1e-12,
                            "{case}: {loss} vs {want_loss}"
                        );
                        for (t, (&j, &c)) in idx.iter().zip(&scales).enumerate() {
                            let want = c * (g[j] + 0.1 * y[j]);
                            assert!((out[t] - want).abs() < 1e-12, "{case}: coordinate {j}");
                        }
                    }
                }
            }
        }
    }
}
