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
    /// The m-long work vector of [`Hadamard::apply`] (one a thread).
    static WORK: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Multiplies `u` by the signs in `words` (bit j set: `u_j = −u_j`).
fn flip_signs(u: &mut [f64], words: &[u64]) {
    for (chunk, &w) in u.chunks_mut(64).zip(words) {
        for (t, x) in chunk.iter_mut().enumerate() {
            // Sign-bit flip: exact, branch-free.
            *x = f64::from_bits(x.to_bits() ^ (((w >> t) & 1) << 63));
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
        self.inner.draw(rng, out);
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
        let (d, m) = (self.d, self.m);
        WORK.with_borrow_mut(|u| {
            u.clear();
            u.extend_from_slice(&z[..d]);
            u.resize(m, 0.0);
            // u = H D P z (the 1/√m of both R's is applied once, as 1/m, at the end).
            flip_signs(u, &draw.aux);
            fwht(u);
            // u = B u: the kept rotated coordinates, scaled; the rest zero.
            let mut next = 0;
            for (j, c) in draw.iter() {
                u[next..j].fill(0.0);
                u[j] *= c;
                next = j + 1;
            }
            u[next..].fill(0.0);
            fwht(u);
            let scale = 1.0 / m as f64;
            flip_signs(&mut u[..d], &draw.aux);
            for (o, &t) in out[..d].iter_mut().zip(&u[..d]) {
                *o = t * scale;
            }
        });
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

/// Levels handled inside one cache-resident block (2¹² doubles = 32 KiB).
const BLOCK: usize = 1 << 12;

/// The fast Walsh–Hadamard transform in place: `u ← H u` for the unnormalised
/// Sylvester–Hadamard matrix (`H_jl = (−1)^popcount(j & l)`), O(m log m) for
/// `u.len() = m` a power of two. The levels below [`BLOCK`] run block by block in
/// cache; the levels above, two at a time (radix 4), so each pass over memory
/// does two levels. The order of operations is fixed: results are the same
/// whatever the machine's threads.
///
/// ```
/// let mut u = vec![1.0, 0.0, 0.0, 0.0];
/// mast::sketch::fwht(&mut u);
/// assert_eq!(u, [1.0, 1.0, 1.0, 1.0]);
/// mast::sketch::fwht(&mut u);
/// assert_eq!(u, [4.0, 0.0, 0.0, 0.0]); // H H = m I
/// ```
pub fn fwht(u: &mut [f64]) {
    let m = u.len();
    assert!(
        m.is_power_of_two(),
        "fwht: length {m} is not a power of two"
    );
    let block = BLOCK.min(m);
    for chunk in u.chunks_exact_mut(block) {
        levels(chunk, 1, block);
    }
    levels(u, block, m);
}

/// The levels `h = from, 2·from, … < to` of the transform over `u`.
fn levels(u: &mut [f64], from: usize, to: usize) {
    let mut h = from;
    while h < to {
        if 4 * h <= to && h >= 4 {
            // Two levels at once: h and 2h.
            for quad in u.chunks_exact_mut(4 * h) {
                let (lo, hi) = quad.split_at_mut(2 * h);
                let (x0, x1) = lo.split_at_mut(h);
                let (x2, x3) = hi.split_at_mut(h);
                for (((a, b), c), e) in x0.iter_mut().zip(x1).zip(x2).zip(x3) {
                    let (s0, d0) = (*a + *b, *a - *b);
                    let (s1, d1) = (*c + *e, *c - *e);
                    *a = s0 + s1;
                    *c = s0 - s1;
                    *b = d0 + d1;
                    *e = d0 - d1;
                }
            }
            h *= 4;
        } else {
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
}
