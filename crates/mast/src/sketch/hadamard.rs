use std::cell::RefCell;

use rand::RngCore;

use super::{Sketch, SketchDraw, MAX_ENUMERATION};
use crate::error::{MastError, Result};
use crate::linalg::SymMatrix;
use crate::rng::MastRng;

/// Randomized Hadamard sketch: `S = Pᵀ Rᵀ B R P` with `R = H D/√m`, where `m` is
/// d rounded up to a power of two, `P` pads with zeros to length m, `H` is the
/// m×m Walsh–Hadamard matrix (`HHᵀ = mI`), `D` a diagonal of random signs drawn
/// afresh with each draw, and `B` a draw of a diagonal sketch in dimension m (the
/// "inner" sketch: `hadamard:bernoulli:0.5` keeps each rotated coordinate with
/// probability ½). `R` is orthogonal, so `E[S] = Pᵀ Rᵀ E[B] R P = I`.
///
/// The inner sketch must be exchangeable: `E[b_j²] = c` and `E[b_j b_l] = a`
/// (j ≠ l) the same for every pair (a uniform Bernoulli, Rand-K, a Gaussian, the
/// identity). Then, averaging over the signs,
///
/// `E[SᵀAS] = a·A + (c − a)·((tr A/m)·I + (2/m)·(A − Diag A))`,
///
/// so `E[SᵀS] = (a + (c − a)·d/m)·I`: the rotation spreads the inner sketch's
/// variance over all m coordinates, of which only d carry the model.
/// `L_S^max` is bounded by the inner sketch's (attained where the inner sketch
/// can keep everything, as Bernoulli).
///
/// A draw holds `B` in its `indices`/`scales` (over `0..m`) and the signs `D` in
/// its `aux` words (bit j set: `D_jj = −1`). `S z` costs two fast Walsh–Hadamard
/// transforms, O(m log m): the sketch is not diagonal
/// ([`Sketch::is_diagonal`] is false), and the solvers take the generic path.
///
/// ```
/// use mast::rng::{stream, Stream};
/// use mast::sketch::{Bernoulli, Hadamard, Sketch, SketchDraw};
/// let s = Hadamard::new(6, Box::new(Bernoulli::new(8, 0.5).unwrap())).unwrap();
/// // a = 1, c = 2, d/m = 6/8: E[SᵀS] = (1 + 1·6/8) I.
/// assert_eq!(s.l_d(), 1.75);
/// let mut draw = SketchDraw::new();
/// s.draw(&mut stream(3, Stream::Sketch), &mut draw);
/// let mut y = vec![0.0; 6];
/// s.apply(&draw, &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], &mut y);
/// assert!(y.iter().any(|&t| t != 0.0));
/// ```
#[derive(Debug)]
pub struct Hadamard {
    d: usize,
    m: usize,
    inner: Box<dyn Sketch>,
    /// `E[b_j²]` and `E[b_j b_l]` (j ≠ l) of the inner sketch.
    c: f64,
    a: f64,
}

impl Hadamard {
    /// The randomized Hadamard sketch in dimension `d` around `inner`, a diagonal,
    /// exchangeable sketch in dimension `d.next_power_of_two()`.
    pub fn new(d: usize, inner: Box<dyn Sketch>) -> Result<Self> {
        let bad = |msg: String| MastError::param("sketch", format!("hadamard: {msg}"));
        if d == 0 {
            return Err(bad("dimension 0".into()));
        }
        let m = d.next_power_of_two();
        if inner.dim() != m {
            return Err(bad(format!(
                "the inner sketch has dimension {}, but d = {d} pads to m = {m}",
                inner.dim()
            )));
        }
        if !inner.is_diagonal() {
            return Err(bad(format!(
                "the inner sketch `{}` must be diagonal",
                inner.spec()
            )));
        }
        if !inner.is_unbiased() {
            return Err(bad(format!(
                "the inner sketch `{}` is biased (E[B] ≠ I)",
                inner.spec()
            )));
        }
        let c = inner.second_moment(0, 0);
        let a = if m > 1 {
            inner.second_moment(0, 1)
        } else {
            1.0
        };
        // Exchangeability, checked on a spread of coordinates (all of them when m
        // is small).
        let step = (m / 64).max(1);
        for j in (0..m).step_by(step) {
            let l = (j + 1 + step / 2) % m;
            let (cj, ajl) = (inner.second_moment(j, j), inner.second_moment(j, l));
            if cj != c || (l != j && ajl != a) {
                return Err(bad(format!(
                    "the inner sketch `{}` is not exchangeable (E[b_j²] or E[b_j b_l] differ \
                     between coordinates); use a uniform one: bernoulli:P, rand-k, gaussian, identity",
                    inner.spec()
                )));
            }
        }
        Ok(Hadamard { d, m, inner, c, a })
    }

    /// The padded dimension m (a power of two).
    pub fn padded_dim(&self) -> usize {
        self.m
    }

    /// The inner diagonal sketch B.
    pub fn inner(&self) -> &dyn Sketch {
        self.inner.as_ref()
    }

    /// `E[SᵀS] = (a + (c − a)·d/m)·I`, its one eigenvalue.
    fn sts(&self) -> f64 {
        self.a + (self.c - self.a) * self.d as f64 / self.m as f64
    }
}

thread_local! {
    /// The m-long work vector of [`Hadamard::apply`] (one a thread; taken out
    /// while in use, so that a nested call on the same thread, as rayon's work
    /// stealing can make, gets a vector of its own).
    static WORK: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// `x` with its sign flipped where bit `t` of `w` is set.
#[inline(always)]
fn flip(x: f64, w: u64, t: usize) -> f64 {
    f64::from_bits(x.to_bits() ^ (((w >> t) & 1) << 63))
}

/// The inner draw `B` with the `1/m` of the two transforms folded in: what the
/// middle of [`Hadamard::sandwich`] multiplies the rotated coordinates by.
#[derive(Clone, Copy)]
enum Mask<'a> {
    /// Kept where the bit is set, each scaled by the one factor; the rest zero.
    Bits(&'a [u64], f64),
    /// A factor for every rotated coordinate (zero where B drops it).
    Dense(&'a [f64]),
}

/// `u_j ← B_jj u_j / m` for `j = at, at + 1, …` (`at` a multiple of 64).
#[inline(always)]
fn mask_body(u: &mut [f64], at: usize, mask: Mask<'_>) {
    match mask {
        Mask::Bits(bits, c) => keep_scaled_body(u, &bits[at / 64..], c),
        Mask::Dense(factors) => {
            for (o, &f) in u.iter_mut().zip(&factors[at..]) {
                *o *= f;
            }
        }
    }
}

/// What the last pass of [`Hadamard::sandwich`] does with `w = D H u`
/// (`u` the masked rotated coordinates): `S z = Pᵀ w`.
enum Finish<'a> {
    /// `out = v + Pᵀ w` (`v = None`: zero).
    Shifted {
        out: &'a mut [f64],
        v: Option<&'a [f64]>,
    },
    /// `x ← x − γ Pᵀ w`.
    Descend { x: &'a mut [f64], gamma: f64 },
}

impl Hadamard {
    /// `S (z − v)` in three passes over memory, finished as `finish` says:
    ///
    /// 1. block by block (in L2, in parallel): `u = D P (z − v)`, then the lower
    ///    levels of the first transform;
    /// 2. tile by tile (in L1, in parallel): its upper levels, the mask `B/m`,
    ///    and the upper levels of the second transform (the levels of `H`
    ///    commute, so the second transform may start with them);
    /// 3. block by block: the lower levels of the second transform, then the
    ///    signs `D` and `finish`.
    ///
    /// Every value goes through the same operations in the same order whatever
    /// the thread count. Returns whether the values written are all finite.
    fn sandwich(
        &self,
        draw: &SketchDraw,
        z: &[f64],
        v: Option<&[f64]>,
        finish: Finish<'_>,
    ) -> bool {
        use rayon::prelude::*;
        let (d, m) = (self.d, self.m);
        let signs = &draw.aux;
        let block = L2_BLOCK.min(m);
        // Rows of u (blocks) start ROW_STRIDE apart, so that a tile's rows fall in
        // different cache sets.
        let stride = if m > L2_BLOCK { ROW_STRIDE } else { m };
        let mut u = WORK.with_borrow_mut(std::mem::take);
        u.resize(m / block * stride, 0.0);
        let mut factors = Vec::new();
        let inv_m = 1.0 / m as f64;
        let mask = match (draw.member_bits(), draw.common_scale()) {
            (Some(bits), Some(c)) => Mask::Bits(bits, c * inv_m),
            _ => {
                factors.resize(m, 0.0);
                for (j, c) in draw.iter() {
                    factors[j] = c * inv_m;
                }
                Mask::Dense(&factors)
            }
        };
        // 1. u = D P (z − v), lower levels.
        u.par_chunks_mut(stride).enumerate().for_each(|(b, chunk)| {
            let chunk = &mut chunk[..block];
            // The block's model coordinates: j0 .. j0 + valid (none past d).
            let j0 = (b * block).min(d);
            let valid = (d - j0).min(block);
            let v = v.map(|v| &v[j0..j0 + valid]);
            load_signed(
                &mut chunk[..valid],
                &z[j0..j0 + valid],
                v,
                &signs[b * block / 64..],
            );
            chunk[valid..].fill(0.0);
            in_l2(chunk);
        });
        // 2. upper levels, the mask, upper levels.
        if m <= L2_BLOCK {
            masked(&mut u, 0, mask);
        } else {
            sandwich_upper_levels(&mut u, stride, mask);
        }
        // 3. lower levels, D, finish.
        let finite = match finish {
            Finish::Shifted { out, v } => {
                u.par_chunks_mut(stride)
                    .zip(out.par_chunks_mut(block))
                    .enumerate()
                    .for_each(|(b, (chunk, out))| {
                        let (j0, chunk) = (b * block, &mut chunk[..block]);
                        in_l2(chunk);
                        let v = v.map(|v| &v[j0..j0 + out.len()]);
                        store_signed(out, &chunk[..out.len()], v, &signs[j0 / 64..]);
                    });
                true
            }
            Finish::Descend { x, gamma } => u
                .par_chunks_mut(stride)
                .zip(x.par_chunks_mut(block))
                .enumerate()
                .map(|(b, (chunk, x))| {
                    let chunk = &mut chunk[..block];
                    in_l2(chunk);
                    descend_signed(x, &chunk[..x.len()], gamma, &signs[b * block / 64..])
                })
                .reduce(|| true, |a, b| a & b),
        };
        WORK.with_borrow_mut(|w| {
            if w.capacity() < u.capacity() {
                *w = u;
            }
        });
        finite
    }
}

/// `fn $name(args)` calling the `#[inline(always)]` `$body(args)` compiled for
/// AVX-512 or AVX2 where the CPU has them (chosen at run time), so that its
/// loops use wide vectors. Add and subtract are exact IEEE operations whatever
/// the vector width: the results are the same on every path.
macro_rules! widened {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? => $body:ident) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

widened!(
    /// `out_j = ±(x_j − v_j)`, the sign from bit j of `signs`.
    fn load_signed(out: &mut [f64], x: &[f64], v: Option<&[f64]>, signs: &[u64]) => load_signed_body
);
widened!(
    /// `out_j = v_j ± u_j`, the sign from bit j of `signs`.
    fn store_signed(out: &mut [f64], u: &[f64], v: Option<&[f64]>, signs: &[u64]) => store_signed_body
);
widened!(
    /// `x_j ← x_j ∓ γ u_j`, the sign from bit j of `signs`; whether every new
    /// `x_j` is finite.
    fn descend_signed(x: &mut [f64], u: &[f64], gamma: f64, signs: &[u64]) -> bool => descend_signed_body
);
widened!(
    /// `u_j ← B_jj u_j / m` (see [`Mask`]) for `j = at, at + 1, …`.
    fn masked(u: &mut [f64], at: usize, mask: Mask<'_>) => mask_body
);
#[inline(always)]
fn load_signed_body(out: &mut [f64], x: &[f64], v: Option<&[f64]>, signs: &[u64]) {
    for (k, (block, &w)) in out.chunks_mut(64).zip(signs).enumerate() {
        let xs = &x[64 * k..64 * k + block.len()];
        match v {
            Some(v) => {
                let vs = &v[64 * k..64 * k + block.len()];
                for (t, ((o, &a), &b)) in block.iter_mut().zip(xs).zip(vs).enumerate() {
                    *o = flip(a - b, w, t);
                }
            }
            None => {
                for (t, (o, &a)) in block.iter_mut().zip(xs).enumerate() {
                    *o = flip(a, w, t);
                }
            }
        }
    }
}

#[inline(always)]
fn store_signed_body(out: &mut [f64], u: &[f64], v: Option<&[f64]>, signs: &[u64]) {
    for (k, (block, &w)) in out.chunks_mut(64).zip(signs).enumerate() {
        let us = &u[64 * k..64 * k + block.len()];
        match v {
            Some(v) => {
                let vs = &v[64 * k..64 * k + block.len()];
                for (t, ((o, &a), &b)) in block.iter_mut().zip(us).zip(vs).enumerate() {
                    *o = b + flip(a, w, t);
                }
            }
            None => {
                for (t, (o, &a)) in block.iter_mut().zip(us).enumerate() {
                    *o = flip(a, w, t);
                }
            }
        }
    }
}

#[inline(always)]
fn descend_signed_body(x: &mut [f64], u: &[f64], gamma: f64, signs: &[u64]) -> bool {
    // An integer OR of "exponent all ones" (an infinity or a NaN): no chain of
    // dependent additions, so the loop vectorises.
    let mut not_finite = 0u64;
    for (k, (block, &w)) in x.chunks_mut(64).zip(signs).enumerate() {
        let us = &u[64 * k..64 * k + block.len()];
        for (t, (o, &a)) in block.iter_mut().zip(us).enumerate() {
            *o -= gamma * flip(a, w, t);
            not_finite |= u64::from((o.to_bits() >> 52) & 0x7ff == 0x7ff);
        }
    }
    not_finite == 0
}

#[inline(always)]
fn keep_scaled_body(u: &mut [f64], bits: &[u64], c: f64) {
    for (block, &w) in u.chunks_mut(64).zip(bits) {
        for (t, o) in block.iter_mut().enumerate() {
            let keep = ((w >> t) & 1) as f64;
            *o = *o * c * keep;
        }
    }
}

impl Sketch for Hadamard {
    fn dim(&self) -> usize {
        self.d
    }

    fn spec(&self) -> String {
        format!("hadamard:{}", self.inner.spec())
    }

    fn draw(&self, rng: &mut MastRng, out: &mut SketchDraw) {
        // B is read only here (by `apply`), which takes it as a bit set with a common
        // scale where the inner sampler makes one: no need to list Ω.
        let asked = out.unlisted_ok;
        out.set_unlisted_ok(true);
        self.inner.draw(rng, out);
        out.set_unlisted_ok(asked);
        out.aux.clear();
        out.aux
            .extend((0..self.m.div_ceil(64)).map(|_| rng.next_u64()));
        if !self.m.is_multiple_of(64) {
            let last = out.aux.len() - 1;
            out.aux[last] &= (1u64 << (self.m % 64)) - 1;
        }
    }

    fn is_diagonal(&self) -> bool {
        false
    }

    fn apply(&self, draw: &SketchDraw, z: &[f64], out: &mut [f64]) {
        self.sandwich(draw, z, None, Finish::Shifted { out, v: None });
    }

    fn descend(
        &self,
        draw: &SketchDraw,
        g: &[f64],
        gamma: f64,
        x: &mut [f64],
        _scratch: &mut [f64],
    ) -> bool {
        self.sandwich(draw, g, None, Finish::Descend { x, gamma })
    }

    fn apply_shifted(&self, draw: &SketchDraw, x: &[f64], v: &[f64], y: &mut [f64]) {
        self.sandwich(draw, x, Some(v), Finish::Shifted { out: y, v: Some(v) });
    }

    fn second_moment(&self, j: usize, l: usize) -> f64 {
        if j == l {
            self.sts()
        } else {
            0.0
        }
    }

    fn l_s_max(&self) -> f64 {
        self.inner.l_s_max()
    }

    fn expected_kept(&self) -> f64 {
        self.inner.expected_kept()
    }

    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>> {
        let inner = self.inner.enumerate()?;
        let signs = 1u64.checked_shl(self.m as u32)?;
        if self.m > 16 || signs as f64 * inner.len() as f64 > MAX_ENUMERATION {
            return None;
        }
        let w = 1.0 / signs as f64;
        let mut all = Vec::with_capacity(signs as usize * inner.len());
        for (p, b) in &inner {
            for s in 0..signs {
                let mut draw = b.clone();
                draw.aux = vec![s];
                all.push((p * w, draw));
            }
        }
        Some(all)
    }

    fn expected_sas(&self, a: &SymMatrix) -> SymMatrix {
        let trace: f64 = (0..a.d).map(|j| a.get(j, j)).sum();
        let m = self.m as f64;
        let spread = self.c - self.a;
        SymMatrix::from_fn(a.d, |j, l| {
            let ajl = a.get(j, l);
            if j == l {
                self.a * ajl + spread * trace / m
            } else {
                self.a * ajl + spread * 2.0 * ajl / m
            }
        })
    }
}

/// Levels done inside one block that stays in the L1 cache (2¹¹ doubles, 16 KiB).
const L1_BLOCK: usize = 1 << 11;
/// Levels done inside one block that stays in the L2 cache (2¹⁶ doubles, 512 KiB);
/// blocks run in parallel.
const L2_BLOCK: usize = 1 << 16;
/// Where consecutive blocks of [`L2_BLOCK`] values start in the sketch's work
/// vector: one cache line more than a block, so that the rows of a tile (see
/// [`upper_group`]) do not all fall in the same cache set.
const ROW_STRIDE: usize = L2_BLOCK + 8;

/// The fast Walsh–Hadamard transform in place: `u ← H u` for the unnormalised
/// Sylvester–Hadamard matrix (`H_jl = (−1)^popcount(j & l)`), O(m log m) for
/// `u.len() = m` a power of two.
///
/// The levels below 2¹¹ run block by block in L1, those below 2¹⁶ block by block
/// in L2 (blocks in parallel), the rest up to four at a time in one pass over
/// memory (tiles in parallel); wide vectors (AVX2/AVX-512) where the CPU has them. Every butterfly is the
/// same pair of IEEE additions whatever the blocking, the vector width or the
/// thread count, so the result is too.
///
/// ```
/// let mut u = vec![1.0, 0.0, 0.0, 0.0];
/// mast::sketch::fwht(&mut u);
/// assert_eq!(u, [1.0, 1.0, 1.0, 1.0]);
/// mast::sketch::fwht(&mut u);
/// assert_eq!(u, [4.0, 0.0, 0.0, 0.0]); // H H = m I
/// ```
pub fn fwht(u: &mut [f64]) {
    use rayon::prelude::*;
    let m = u.len();
    assert!(
        m.is_power_of_two(),
        "fwht: length {m} is not a power of two"
    );
    if m <= L2_BLOCK {
        in_l2(u);
        return;
    }
    u.par_chunks_exact_mut(L2_BLOCK).for_each(in_l2);
    upper_levels(u);
}

/// Columns of one tile of [`upper_levels`]: 16 rows × 256 values = 32 KiB, in L1.
const TILE_COLUMNS: usize = 256;

/// A pointer that may cross to rayon's threads (each task touches its own
/// columns).
#[derive(Clone, Copy)]
struct SendPtr(*mut f64);
// SAFETY: tasks write disjoint parts of the one vector (see `upper_levels`).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// The levels at and above [`L2_BLOCK`]: `u` seen as `rows = m/L2_BLOCK` rows of
/// L2_BLOCK values; the transform across rows, up to four levels (16 rows) in one
/// pass over memory ([`upper_group`]). Levels run in increasing order, as in
/// [`levels`].
fn upper_levels(u: &mut [f64]) {
    for (l0, g) in row_level_groups(u.len() / L2_BLOCK) {
        upper_group(u, L2_BLOCK, l0, g, None);
    }
}

/// The upper levels of two transforms with the mask between them (the middle
/// pass of [`Hadamard::sandwich`]): the first transform's groups in increasing
/// order, its last group fused with the mask and the second transform's same
/// group, then the second transform's other groups in decreasing order. Row r
/// of `u` starts at `r·stride` (see [`ROW_STRIDE`]).
fn sandwich_upper_levels(u: &mut [f64], stride: usize, mask: Mask<'_>) {
    let groups = row_level_groups(u.len() / stride);
    let (&(l_last, g_last), rest) = groups.split_last().expect("m > L2_BLOCK");
    for &(l0, g) in rest {
        upper_group(u, stride, l0, g, None);
    }
    upper_group(u, stride, l_last, g_last, Some(mask));
    for &(l0, g) in rest.iter().rev() {
        upper_group(u, stride, l0, g, None);
    }
}

/// The groups of at most four row levels, `(first level, levels)`, for `rows`
/// rows of [`L2_BLOCK`] values (a power of two, at least 2).
fn row_level_groups(rows: usize) -> Vec<(u32, u32)> {
    let row_levels = rows.trailing_zeros();
    (0..row_levels)
        .step_by(4)
        .map(|l0| (l0, (row_levels - l0).min(4)))
        .collect()
}

/// Row levels `l0 .. l0 + g` in one pass over memory, tile by tile of `2^g` rows
/// × [`TILE_COLUMNS`], tiles in parallel; with `mask`, each tile runs its levels,
/// the mask, and its levels again. Row r of `u` starts at `r·stride`.
fn upper_group(u: &mut [f64], stride: usize, l0: u32, g: u32, mask: Option<Mask<'_>>) {
    use rayon::prelude::*;
    let rows = u.len() / stride;
    let base_ptr = SendPtr(u.as_mut_ptr());
    let pieces = L2_BLOCK / TILE_COLUMNS;
    let span = 1usize << g;
    // The groups: rows whose bits l0..l0+g are zero, each with its span.
    let groups: Vec<usize> = (0..rows).filter(|r| (r >> l0) & (span - 1) == 0).collect();
    (0..groups.len() * pieces).into_par_iter().for_each(|t| {
        let (first, c0) = (groups[t / pieces], (t % pieces) * TILE_COLUMNS);
        match mask {
            None => tile(base_ptr, stride, first, l0, span, c0, None),
            Some(mask) => tile(base_ptr, stride, first, l0, span, c0, Some(mask)),
        }
    });
}

/// All levels of the transform of one block of at most [`L2_BLOCK`] values: the
/// levels 1 … 64 on 128 contiguous values at a time, the rest of the levels
/// below [`L1_BLOCK`] block by block in L1, then those above.
#[inline(always)]
fn in_l2_lanes<V: Lanes>(block: &mut [f64]) {
    let n = block.len();
    if n < 128 {
        levels_scalar(block, 1, n);
        return;
    }
    let l1 = L1_BLOCK.min(n);
    for sub in block.chunks_exact_mut(l1) {
        for chunk in sub.chunks_exact_mut(128) {
            let p = chunk.as_mut_ptr();
            let mut r = [V::splat(0.0); 16];
            for (k, row) in r.iter_mut().enumerate() {
                // SAFETY: 8k + 8 ≤ 128 = chunk.len().
                *row = unsafe { V::load(p.add(8 * k)) }.lanes8();
            }
            butterflies(&mut r);
            for (k, row) in r.iter().enumerate() {
                // SAFETY: as above.
                unsafe { row.store(p.add(8 * k)) };
            }
        }
        levels::<V>(sub, 128, l1);
    }
    levels::<V>(block, l1, n);
}

/// Eight values in one vector register where the CPU has them: the operations
/// the transform's kernels need. Every implementation makes the same IEEE
/// operations on each value, so the results do not depend on which one runs.
trait Lanes: Copy {
    /// All eight equal to `x`.
    fn splat(x: f64) -> Self;
    /// The eight values at `p`.
    ///
    /// # Safety
    /// `p .. p + 8` must be readable.
    unsafe fn load(p: *const f64) -> Self;
    /// Writes the eight values at `p`.
    ///
    /// # Safety
    /// `p .. p + 8` must be writable.
    unsafe fn store(self, p: *mut f64);
    /// Lane by lane `a + b`.
    fn add(self, b: Self) -> Self;
    /// Lane by lane `a − b`.
    fn sub(self, b: Self) -> Self;
    /// Lane by lane `a·b`.
    fn mul(self, b: Self) -> Self;
    /// The levels 1, 2 and 4 inside the eight values: `(a, b) ← (a + b, a − b)`
    /// for the pairs `(o_i, o_{i+s})`, i & s = 0, s = 1, 2, 4 in turn.
    fn lanes8(self) -> Self;
    /// `(o_t·c)·keep_t` with `keep_t` bit t of `w` (0 or 1), as [`mask_body`].
    fn scale_keep(self, c: f64, w: u64) -> Self;
}

/// [`Lanes`] as a plain array (vectorised by the compiler where it can).
#[derive(Clone, Copy)]
struct Plain([f64; 8]);

impl Plain {
    #[inline(always)]
    fn lane_level<const S: usize>(self) -> Self {
        let o = self.0;
        let mut n = [0.0; 8];
        for (i, n) in n.iter_mut().enumerate() {
            let t = o[i ^ S];
            *n = if i & S == 0 { o[i] + t } else { t - o[i] };
        }
        Plain(n)
    }
}

impl Lanes for Plain {
    #[inline(always)]
    fn splat(x: f64) -> Self {
        Plain([x; 8])
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        // SAFETY: the caller's.
        Plain(unsafe { std::ptr::read_unaligned(p as *const [f64; 8]) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        // SAFETY: the caller's.
        unsafe { std::ptr::write_unaligned(p as *mut [f64; 8], self.0) }
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Plain(std::array::from_fn(|i| self.0[i] + b.0[i]))
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Plain(std::array::from_fn(|i| self.0[i] - b.0[i]))
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Plain(std::array::from_fn(|i| self.0[i] * b.0[i]))
    }
    #[inline(always)]
    fn lanes8(self) -> Self {
        self.lane_level::<1>().lane_level::<2>().lane_level::<4>()
    }
    #[inline(always)]
    fn scale_keep(self, c: f64, w: u64) -> Self {
        Plain(std::array::from_fn(|t| {
            self.0[t] * c * ((w >> t) & 1) as f64
        }))
    }
}

/// [`Lanes`] in one AVX-512 register (used only where the CPU has AVX-512F).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx512(std::arch::x86_64::__m512d);

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    #[inline(always)]
    fn splat(x: f64) -> Self {
        // SAFETY (here and below): these run only inside functions compiled with
        // AVX-512F, called after checking that the CPU has it.
        Avx512(unsafe { std::arch::x86_64::_mm512_set1_pd(x) })
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        Avx512(unsafe { std::arch::x86_64::_mm512_loadu_pd(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        unsafe { std::arch::x86_64::_mm512_storeu_pd(p, self.0) }
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Avx512(unsafe { std::arch::x86_64::_mm512_add_pd(self.0, b.0) })
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Avx512(unsafe { std::arch::x86_64::_mm512_sub_pd(self.0, b.0) })
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Avx512(unsafe { std::arch::x86_64::_mm512_mul_pd(self.0, b.0) })
    }
    #[inline(always)]
    fn lanes8(self) -> Self {
        use std::arch::x86_64::*;
        unsafe {
            let v = self.0;
            // Level 1: swap neighbours; the upper of each pair takes t − v.
            let t = _mm512_permute_pd::<0x55>(v);
            let v = _mm512_mask_sub_pd(_mm512_add_pd(v, t), 0xAA, t, v);
            // Level 2: swap pairs inside each half.
            let t = _mm512_permutex_pd::<0x4E>(v);
            let v = _mm512_mask_sub_pd(_mm512_add_pd(v, t), 0xCC, t, v);
            // Level 4: swap the halves.
            let t = _mm512_shuffle_f64x2::<0x4E>(v, v);
            Avx512(_mm512_mask_sub_pd(_mm512_add_pd(v, t), 0xF0, t, v))
        }
    }
    #[inline(always)]
    fn scale_keep(self, c: f64, w: u64) -> Self {
        use std::arch::x86_64::*;
        unsafe {
            let keep = _mm512_maskz_mov_pd(w as u8, _mm512_set1_pd(1.0));
            Avx512(_mm512_mul_pd(
                _mm512_mul_pd(self.0, _mm512_set1_pd(c)),
                keep,
            ))
        }
    }
}

/// The levels 1, 2, …, R/2 across the R rows of eight values held in `r` (in
/// registers), in increasing order.
#[inline(always)]
fn butterflies<V: Lanes, const R: usize>(r: &mut [V; R]) {
    let mut s = 1;
    while s < R {
        for k in 0..R {
            if k & s == 0 {
                let (a, b) = (r[k], r[k + s]);
                r[k] = a.add(b);
                r[k + s] = a.sub(b);
            }
        }
        s *= 2;
    }
}

/// Levels `h, 2h, …, (R/2)·h` over `u` (h a multiple of 8, `u.len()` a multiple
/// of R·h): R rows at stride h, eight columns at a time in registers.
#[inline(always)]
fn rows_kernel<V: Lanes, const R: usize>(u: &mut [f64], h: usize) {
    assert!(h.is_multiple_of(8) && u.len().is_multiple_of(R * h));
    for chunk in u.chunks_exact_mut(R * h) {
        let p = chunk.as_mut_ptr();
        for c in (0..h).step_by(8) {
            let mut r = [V::splat(0.0); R];
            for (k, row) in r.iter_mut().enumerate() {
                // SAFETY: k·h + c + 8 ≤ R·h = chunk.len().
                *row = unsafe { V::load(p.add(k * h + c)) };
            }
            butterflies(&mut r);
            for (k, row) in r.iter().enumerate() {
                // SAFETY: as above.
                unsafe { row.store(p.add(k * h + c)) };
            }
        }
    }
}

/// The levels `h = from, 2·from, … < to` of the transform over `u` (`from` ≥ 8),
/// up to four at a time.
#[inline(always)]
fn levels<V: Lanes>(u: &mut [f64], from: usize, to: usize) {
    let mut h = from;
    while h < to {
        // Rows 4 KiB apart or more share a set of the L1 cache (12 ways): at most
        // eight of them at a time.
        let most = if h >= 512 { 3 } else { 4 };
        let g = (to / h).trailing_zeros().min(most);
        match g {
            1 => rows_kernel::<V, 2>(u, h),
            2 => rows_kernel::<V, 4>(u, h),
            3 => rows_kernel::<V, 8>(u, h),
            _ => rows_kernel::<V, 16>(u, h),
        }
        h <<= g;
    }
}

/// The levels `h = from, 2·from, … < to` one by one (short vectors).
#[inline(always)]
fn levels_scalar(u: &mut [f64], from: usize, to: usize) {
    let mut h = from;
    while h < to {
        for pair in u.chunks_exact_mut(2 * h) {
            let (x0, x1) = pair.split_at_mut(h);
            for (a, b) in x0.iter_mut().zip(x1) {
                let (s, t) = (*a + *b, *a - *b);
                *a = s;
                *b = t;
            }
        }
        h *= 2;
    }
}

/// Levels `l0 .. l0 + log2(span)` across the rows `first + (k << l0)`, k < span,
/// on columns `c0 .. c0 + TILE_COLUMNS` (see [`upper_group`]), eight columns at a
/// time in registers; with `mask`, the levels, the mask and the levels again.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile_lanes<V: Lanes>(
    ptr: SendPtr,
    stride: usize,
    first: usize,
    l0: u32,
    span: usize,
    c0: usize,
    mask: Option<Mask<'_>>,
) {
    match span {
        2 => tile_rows::<V, 2>(ptr, stride, first, l0, c0, mask),
        4 => tile_rows::<V, 4>(ptr, stride, first, l0, c0, mask),
        8 => tile_rows::<V, 8>(ptr, stride, first, l0, c0, mask),
        16 => tile_rows::<V, 16>(ptr, stride, first, l0, c0, mask),
        _ => unreachable!("a group spans 2 to 16 rows"),
    }
}

#[inline(always)]
fn tile_rows<V: Lanes, const R: usize>(
    ptr: SendPtr,
    stride: usize,
    first: usize,
    l0: u32,
    c0: usize,
    mask: Option<Mask<'_>>,
) {
    // Where each row's columns lie in `u`, and their coordinates (for the mask).
    let (mut at, mut coord) = ([0; R], [0; R]);
    for k in 0..R {
        at[k] = (first + (k << l0)) * stride + c0;
        coord[k] = (first + (k << l0)) * L2_BLOCK + c0;
    }
    for c in (0..TILE_COLUMNS).step_by(8) {
        let mut r = [V::splat(0.0); R];
        for (row, &a) in r.iter_mut().zip(&at) {
            // SAFETY: the rows lie inside the vector; the task running this tile
            // alone touches columns c0..c0 + TILE_COLUMNS of its group's rows.
            *row = unsafe { V::load(ptr.0.add(a + c)) };
        }
        butterflies(&mut r);
        if let Some(mask) = mask {
            for (row, &jc) in r.iter_mut().zip(&coord) {
                let j = jc + c;
                *row = match mask {
                    Mask::Bits(bits, s) => row.scale_keep(s, bits[j / 64] >> (j % 64)),
                    Mask::Dense(factors) => {
                        let f = &factors[j..j + 8];
                        // SAFETY: f has eight values.
                        row.mul(unsafe { V::load(f.as_ptr()) })
                    }
                };
            }
            butterflies(&mut r);
        }
        for (row, &a) in r.iter().zip(&at) {
            // SAFETY: as above.
            unsafe { row.store(ptr.0.add(a + c)) };
        }
    }
}

/// Runs `$generic::<V>(args)` with `V` = [`Avx512`] where the CPU has AVX-512F,
/// else with [`Plain`] compiled for AVX2 where the CPU has that.
macro_rules! lanes_dispatch {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) => $generic:ident) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) {
                    $generic::<Avx512>($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    $generic::<Plain>($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic::<Plain>($($arg),*)
        }
    };
}

lanes_dispatch!(
    /// All levels of one block of at most [`L2_BLOCK`] values.
    fn in_l2(block: &mut [f64]) => in_l2_lanes
);
lanes_dispatch!(
    /// One tile of [`upper_group`]; with a mask, the levels, the mask and the
    /// levels again.
    fn tile(ptr: SendPtr, stride: usize, first: usize, l0: u32, span: usize, c0: usize, mask: Option<Mask<'_>>) => tile_lanes
);

/// The recipe of `hadamard:INNER`.
#[derive(Debug)]
pub(crate) struct HadamardRecipe {
    inner: super::SketchSpec,
}

impl super::registry::SketchRecipe for HadamardRecipe {
    fn spec(&self) -> String {
        format!("hadamard:{}", self.inner)
    }
    fn build(&self, ctx: &super::registry::SketchContext<'_>) -> Result<Box<dyn Sketch>> {
        let m = ctx.dim.max(1).next_power_of_two();
        let inner = self.inner.build_in(&super::registry::SketchContext {
            dim: m,
            objective: None,
        })?;
        Ok(Box::new(Hadamard::new(ctx.dim, inner)?))
    }
    fn keep_fraction(&self) -> Option<f64> {
        self.inner.keep_fraction()
    }
}

/// Parses `hadamard:INNER`, INNER a diagonal sketch spec (`bernoulli:0.5`).
pub(crate) fn parse(
    a: &super::registry::SketchArgs<'_>,
) -> Result<Box<dyn super::registry::SketchRecipe>> {
    let inner: super::SketchSpec = a.required()?.parse()?;
    if inner.kind() == "hadamard" || inner.nodes().is_some() {
        return Err(a.error(format!(
            "`{}`: the inner sketch must be diagonal and exchangeable (bernoulli:P, rand-k, \
             gaussian, identity)",
            a.text
        )));
    }
    Ok(Box::new(HadamardRecipe { inner }))
}
