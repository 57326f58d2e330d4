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

/// Chunk of the element-wise passes run as one parallel task (a multiple of 64,
/// so that a chunk starts at a sign word).
const PASS_CHUNK: usize = 1 << 15;

/// `x` with its sign flipped where bit `t` of `w` is set.
#[inline(always)]
fn flip(x: f64, w: u64, t: usize) -> f64 {
    f64::from_bits(x.to_bits() ^ (((w >> t) & 1) << 63))
}

impl Hadamard {
    /// `out = v + Pᵀ(D H B H D P (x − v))/m` (`v = None`: zero), in three
    /// element-wise passes around the two transforms.
    fn apply_into(&self, draw: &SketchDraw, x: &[f64], v: Option<&[f64]>, out: &mut [f64]) {
        use rayon::prelude::*;
        let (d, m) = (self.d, self.m);
        let signs = &draw.aux;
        let mut u = WORK.with_borrow_mut(std::mem::take);
        u.resize(m, 0.0);
        // u = D P (x − v)
        u[..d]
            .par_chunks_mut(PASS_CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                let j0 = c * PASS_CHUNK;
                let end = j0 + chunk.len();
                let v = v.map(|v| &v[j0..end]);
                load_signed(chunk, &x[j0..end], v, &signs[j0 / 64..]);
            });
        u[d..].fill(0.0);
        fwht(&mut u);
        // u = B u / m: the kept rotated coordinates, scaled; the rest zero.
        let inv_m = 1.0 / m as f64;
        match (draw.member_bits(), draw.common_scale()) {
            (Some(bits), Some(c)) => {
                let c = c * inv_m;
                u.par_chunks_mut(PASS_CHUNK)
                    .enumerate()
                    .for_each(|(k, chunk)| keep_scaled(chunk, &bits[k * PASS_CHUNK / 64..], c));
            }
            _ => {
                let mut next = 0;
                for (j, c) in draw.iter() {
                    u[next..j].fill(0.0);
                    u[j] *= c * inv_m;
                    next = j + 1;
                }
                u[next..].fill(0.0);
            }
        }
        fwht(&mut u);
        // out = v + Pᵀ D u
        out[..d]
            .par_chunks_mut(PASS_CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                let j0 = c * PASS_CHUNK;
                let end = j0 + chunk.len();
                let v = v.map(|v| &v[j0..end]);
                store_signed(chunk, &u[j0..end], v, &signs[j0 / 64..]);
            });
        WORK.with_borrow_mut(|w| {
            if w.capacity() < u.capacity() {
                *w = u;
            }
        });
    }
}

/// `fn $name(args)` calling the `#[inline(always)]` `$body(args)` compiled for
/// AVX-512 or AVX2 where the CPU has them (chosen at run time), so that its
/// loops use wide vectors. Add and subtract are exact IEEE operations whatever
/// the vector width: the results are the same on every path.
macro_rules! widened {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) => $body:ident) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
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
    /// `u_j = c·u_j` where bit j of `bits` is set, else 0.
    fn keep_scaled(u: &mut [f64], bits: &[u64], c: f64) => keep_scaled_body
);
widened!(
    /// All levels of one block of at most [`L2_BLOCK`] values.
    fn in_l2(block: &mut [f64]) => in_l2_body
);
widened!(
    /// One tile of [`upper_levels`].
    fn tile(ptr: SendPtr, first: usize, l0: u32, span: usize, c0: usize) => tile_body
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
        self.apply_into(draw, z, None, out);
    }

    fn apply_shifted(&self, draw: &SketchDraw, x: &[f64], v: &[f64], y: &mut [f64]) {
        self.apply_into(draw, x, Some(v), y);
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
/// pass over memory, tile by tile of 16 rows × [`TILE_COLUMNS`], tiles in
/// parallel. Levels run in increasing order, as in [`levels`].
fn upper_levels(u: &mut [f64]) {
    use rayon::prelude::*;
    let rows = u.len() / L2_BLOCK;
    let row_levels = rows.trailing_zeros();
    let base_ptr = SendPtr(u.as_mut_ptr());
    let pieces = L2_BLOCK / TILE_COLUMNS;
    let mut l0 = 0;
    while l0 < row_levels {
        let g = (row_levels - l0).min(4);
        let span = 1usize << g;
        // The groups: rows whose bits l0..l0+g are zero, each with its span.
        let groups: Vec<usize> = (0..rows).filter(|r| (r >> l0) & (span - 1) == 0).collect();
        (0..groups.len() * pieces).into_par_iter().for_each(|t| {
            tile(
                base_ptr,
                groups[t / pieces],
                l0,
                span,
                (t % pieces) * TILE_COLUMNS,
            )
        });
        l0 += g;
    }
}

/// All levels of the transform of one block of at most [`L2_BLOCK`] values: the
/// lower ones [`L1_BLOCK`] values at a time.
#[inline(always)]
fn in_l2_body(block: &mut [f64]) {
    let n = block.len();
    let l1 = L1_BLOCK.min(n);
    for sub in block.chunks_exact_mut(l1) {
        levels(sub, 1, l1);
    }
    levels(block, l1, n);
}

/// Levels `l0 .. l0 + log2(span)` across the rows `first + (k << l0)`, k < span,
/// on columns `c0 .. c0 + TILE_COLUMNS` (see [`upper_levels`]).
#[inline(always)]
fn tile_body(ptr: SendPtr, first: usize, l0: u32, span: usize, c0: usize) {
    let mut h = 1;
    while h < span {
        for k in 0..span {
            if k & h != 0 {
                continue;
            }
            let (ra, rb) = (first + (k << l0), first + ((k + h) << l0));
            // SAFETY: rows ra ≠ rb lie inside the vector; the task running this
            // tile alone touches columns c0..c0 + TILE_COLUMNS of its group's rows.
            let (a, b) = unsafe {
                (
                    std::slice::from_raw_parts_mut(ptr.0.add(ra * L2_BLOCK + c0), TILE_COLUMNS),
                    std::slice::from_raw_parts_mut(ptr.0.add(rb * L2_BLOCK + c0), TILE_COLUMNS),
                )
            };
            radix2(a, b);
        }
        h *= 2;
    }
}

/// Levels h and 2h over four strided rows.
#[inline(always)]
fn radix4(x0: &mut [f64], x1: &mut [f64], x2: &mut [f64], x3: &mut [f64]) {
    for (((a, b), c), e) in x0.iter_mut().zip(x1).zip(x2).zip(x3) {
        let (s0, d0) = (*a + *b, *a - *b);
        let (s1, d1) = (*c + *e, *c - *e);
        *a = s0 + s1;
        *c = s0 - s1;
        *b = d0 + d1;
        *e = d0 - d1;
    }
}

/// One level over two strided rows.
#[inline(always)]
fn radix2(x0: &mut [f64], x1: &mut [f64]) {
    for (a, b) in x0.iter_mut().zip(x1) {
        let (s, t) = (*a + *b, *a - *b);
        *a = s;
        *b = t;
    }
}

/// The levels `h = from, 2·from, … < to` of the transform over `u`.
#[inline(always)]
fn levels(u: &mut [f64], from: usize, to: usize) {
    let mut h = from;
    if h == 1 && to >= 8 {
        // Levels 1, 2 and 4 on eight contiguous values at once.
        for o in u.chunks_exact_mut(8) {
            let (a0, a1) = (o[0] + o[1], o[0] - o[1]);
            let (a2, a3) = (o[2] + o[3], o[2] - o[3]);
            let (a4, a5) = (o[4] + o[5], o[4] - o[5]);
            let (a6, a7) = (o[6] + o[7], o[6] - o[7]);
            let (b0, b2) = (a0 + a2, a0 - a2);
            let (b1, b3) = (a1 + a3, a1 - a3);
            let (b4, b6) = (a4 + a6, a4 - a6);
            let (b5, b7) = (a5 + a7, a5 - a7);
            o[0] = b0 + b4;
            o[4] = b0 - b4;
            o[1] = b1 + b5;
            o[5] = b1 - b5;
            o[2] = b2 + b6;
            o[6] = b2 - b6;
            o[3] = b3 + b7;
            o[7] = b3 - b7;
        }
        h = 8;
    }
    while h < to {
        if 4 * h <= to {
            for quad in u.chunks_exact_mut(4 * h) {
                let (lo, hi) = quad.split_at_mut(2 * h);
                let (x0, x1) = lo.split_at_mut(h);
                let (x2, x3) = hi.split_at_mut(h);
                radix4(x0, x1, x2, x3);
            }
            h *= 4;
        } else {
            for pair in u.chunks_exact_mut(2 * h) {
                let (x0, x1) = pair.split_at_mut(h);
                radix2(x0, x1);
            }
            h *= 2;
        }
    }
}

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
