//! Sketches: random diagonal matrices `S` with `E[S] = I` (Assumption 1 of MAST).
//!
//! A draw is a sparse diagonal: the kept coordinates Ω (sorted) and their scales.
//! Every sketch knows its exact constants: the diagonal of `E[SᵀS]`, hence
//! `L_D = λmax E[SᵀS]` and `μ_D = λmin E[SᵀS]`, the worst case `L_S^max =
//! sup λmax(SᵀS)`, and the pair moments `E[s_j s_l]` that give `E[SᵀAS] = A ∘ E[ssᵀ]`.
//!
//! `keep_prob` is MAST's `p`: the probability of KEEPING a coordinate (PyTorch's
//! `Dropout(p)` takes the probability of dropping).

mod bernoulli;
mod dropconnect;
mod gaussian;
mod hadamard;
mod identity;
mod importance;
mod masks;
mod perm_k;
mod rand_k;
pub mod registry;
mod spec;

pub use bernoulli::Bernoulli;
pub use dropconnect::DropConnect;
pub use gaussian::Gaussian;
pub use hadamard::{fwht, Hadamard};
pub use identity::Identity;
pub use perm_k::PermK;
pub use rand_k::RandK;
pub use registry::{SketchContext, SketchRecipe};
pub use spec::SketchSpec;

use crate::rng::MastRng;

/// One draw of a diagonal sketch: `S = Σ_k scales[k] e_{i_k} e_{i_k}ᵀ` with
/// `indices` strictly increasing.
#[derive(Clone, Default)]
pub struct SketchDraw {
    /// Kept coordinates Ω, strictly increasing.
    pub indices: Vec<usize>,
    /// The diagonal entries on Ω.
    pub scales: Vec<f64>,
    /// Ω as a bit set over `0..d` (word j/64, bit j mod 64), where the sampler
    /// made one on the way (see [`SketchDraw::member_bits`]); else sampler scratch.
    pub(crate) bits: Vec<u64>,
    /// Whether `bits` holds Ω, for a draw of this many coordinates.
    bits_hold: Option<usize>,
    /// Extra random words of a draw that is not diagonal (the signs of a
    /// [`Hadamard`] draw), read by its sketch's [`Sketch::apply`]; empty for
    /// diagonal sketches.
    pub aux: Vec<u64>,
    /// Scratch hash table for samplers of few coordinates (not part of the draw).
    pub(crate) table: Vec<usize>,
    /// The scale every kept coordinate has, with the draw's length, where the
    /// sketch that made the draw says so (see [`SketchDraw::common_scale`]).
    common: Option<(f64, usize)>,
    /// Asked for by the consumer: where the sampler makes Ω's bit set and every
    /// kept coordinate has one scale, leave `indices` and `scales` empty (see
    /// [`SketchDraw::set_unlisted_ok`]).
    unlisted_ok: bool,
    /// `Some(|Ω|)` when this draw is held by its bit set and common scale alone
    /// (`indices` and `scales` empty).
    unlisted: Option<usize>,
}

impl PartialEq for SketchDraw {
    /// Two draws are equal when they keep the same coordinates with the same scales
    /// (sampler scratch space is not part of a draw; a draw held by its bit set
    /// equals the same draw held by lists).
    fn eq(&self, other: &Self) -> bool {
        if self.aux != other.aux {
            return false;
        }
        if self.is_listed() && other.is_listed() {
            return self.indices == other.indices && self.scales == other.scales;
        }
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((i, c), (j, e))| i == j && c.to_bits() == e.to_bits())
    }
}

impl std::fmt::Debug for SketchDraw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (indices, scales): (Vec<usize>, Vec<f64>) = self.iter().unzip();
        f.debug_struct("SketchDraw")
            .field("indices", &indices)
            .field("scales", &scales)
            .finish()
    }
}

impl SketchDraw {
    /// An empty draw.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of kept coordinates |Ω|.
    pub fn len(&self) -> usize {
        self.unlisted.unwrap_or(self.indices.len())
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Clears the draw (keeps capacity, and the [`SketchDraw::set_unlisted_ok`]
    /// request).
    pub fn clear(&mut self) {
        self.aux.clear();
        self.indices.clear();
        self.scales.clear();
        self.common = None;
        self.bits_hold = None;
        self.unlisted = None;
    }

    /// Allows the samplers to leave `indices` and `scales` empty where they make
    /// Ω's bit set on the way and every kept coordinate has one scale (Rand-K with
    /// K ≥ d/512 and d > 128, a uniform Bernoulli with p > 1/16 and d > 128):
    /// the draw is then held by [`SketchDraw::member_bits`] and
    /// [`SketchDraw::common_scale`] alone, which saves writing 16 bytes a kept
    /// coordinate when K is large. The generator is advanced exactly as for a
    /// listed draw, so the draws are the same. [`SketchDraw::len`],
    /// [`SketchDraw::iter`], [`SketchDraw::apply_shifted`] and equality work on
    /// both forms; code that reads the `indices` and `scales` fields directly
    /// must check [`SketchDraw::is_listed`] or use [`SketchDraw::listed`].
    ///
    /// ```
    /// use mast::rng::{stream, Stream};
    /// use mast::sketch::{RandK, Sketch, SketchDraw};
    /// let s = RandK::with_fraction(1000, 0.5).unwrap();
    /// let (mut lean, mut full) = (SketchDraw::new(), SketchDraw::new());
    /// lean.set_unlisted_ok(true);
    /// s.draw(&mut stream(7, Stream::Sketch), &mut lean);
    /// s.draw(&mut stream(7, Stream::Sketch), &mut full);
    /// assert!(!lean.is_listed() && lean.indices.is_empty());
    /// assert_eq!(lean.len(), 500);
    /// assert_eq!(lean, full);
    /// let mut scratch = SketchDraw::new();
    /// assert_eq!(lean.listed(&mut scratch).indices, full.indices);
    /// ```
    pub fn set_unlisted_ok(&mut self, ok: bool) {
        self.unlisted_ok = ok;
    }

    /// Whether `indices` and `scales` hold the draw (else its bit set and common
    /// scale do; see [`SketchDraw::set_unlisted_ok`]).
    pub fn is_listed(&self) -> bool {
        self.unlisted.is_none()
    }

    /// This draw with `indices` and `scales` filled in: itself where it is
    /// listed, else `scratch`, made from the bit set.
    pub fn listed<'a>(&'a self, scratch: &'a mut SketchDraw) -> &'a SketchDraw {
        let Some(k) = self.unlisted else { return self };
        let c = self.common.map_or(1.0, |(c, _)| c);
        scratch.clear();
        masks::list_bits(&self.bits, k, &mut scratch.indices);
        scratch.scales.resize(k, c);
        scratch.common = Some((c, k));
        scratch
    }

    /// Samplers that made Ω's bit set (`count` bits) and give every kept
    /// coordinate scale `c`: lists Ω and the scales unless the consumer allowed
    /// an unlisted draw; records the bit set and the common scale.
    pub(crate) fn finish_from_bits(&mut self, count: usize, c: f64) {
        if self.unlisted_ok {
            self.indices.clear();
            self.scales.clear();
            self.unlisted = Some(count);
        } else {
            masks::list_bits(&self.bits, count, &mut self.indices);
            self.scales.resize(count, c);
        }
        self.bits_hold = Some(count);
        self.common = Some((c, count));
    }

    /// Ω as a bit set over `0..d` (bit j mod 64 of word j/64; every word past d
    /// zero), when the sampler that made the draw made one on the way (Rand-K for
    /// K ≥ d/512, a uniform Bernoulli for p > 1/16): oracles then test
    /// membership in Ω without building a set of their own. `None` otherwise.
    /// Implies Ω increasing.
    ///
    /// Like [`SketchDraw::common_scale`] it describes the draw as its sketch made
    /// it, checked in O(1) against the draw as it is now (its length, and its
    /// first and last coordinates in the set); [`SketchDraw::clear`] resets it.
    pub fn member_bits(&self) -> Option<&[u64]> {
        if let Some(k) = self.unlisted {
            return (self.bits_hold == Some(k)).then_some(&self.bits[..]);
        }
        let has = |j: &usize| {
            self.bits
                .get(j >> 6)
                .is_some_and(|w| (w >> (j & 63)) & 1 == 1)
        };
        (self.bits_hold == Some(self.indices.len())
            && self.indices.first().is_none_or(has)
            && self.indices.last().is_none_or(has))
        .then_some(&self.bits[..])
    }

    /// Records that `bits` holds Ω (samplers call this after a draw).
    pub(crate) fn set_member_bits(&mut self) {
        debug_assert_eq!(
            self.bits
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>(),
            self.indices.len()
        );
        self.bits_hold = Some(self.indices.len());
    }

    /// The scale shared by every kept coordinate, when the draw is known to have
    /// one (Rand-K, a uniform Bernoulli, the identity; any draw built with
    /// [`SketchDraw::from_parts`]); `None` when unknown. Oracles use it to find a
    /// coordinate's scale without looking up its position in Ω.
    ///
    /// ```
    /// use mast::sketch::SketchDraw;
    /// assert_eq!(SketchDraw::from_parts(vec![1, 4], vec![2.0, 2.0]).common_scale(), Some(2.0));
    /// assert_eq!(SketchDraw::from_parts(vec![1, 4], vec![2.0, 3.0]).common_scale(), None);
    /// ```
    pub fn common_scale(&self) -> Option<f64> {
        // Checked against the draw as it is now (O(1)): the fields are public, so
        // a draw may have been changed since its sketch made it.
        let (c, len) = self.common?;
        if let Some(k) = self.unlisted {
            return (len == k).then_some(c);
        }
        let same = |s: Option<&f64>| s.is_none_or(|&t| t.to_bits() == c.to_bits());
        (len == self.indices.len()
            && len == self.scales.len()
            && same(self.scales.first())
            && same(self.scales.last()))
        .then_some(c)
    }

    /// Records that every kept coordinate has scale `c` (sketches call this after
    /// a draw).
    pub(crate) fn set_common_scale(&mut self, c: f64) {
        debug_assert!(self.scales.iter().all(|&t| t.to_bits() == c.to_bits()));
        self.common = Some((c, self.indices.len()));
    }

    /// `(index, scale)` pairs, in increasing index order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        let listed = self
            .indices
            .iter()
            .copied()
            .zip(self.scales.iter().copied());
        let c = self.common.map_or(1.0, |(c, _)| c);
        let from_bits = self
            .unlisted
            .map(|_| {
                self.bits.iter().enumerate().flat_map(move |(w, &word)| {
                    let mut b = word;
                    std::iter::from_fn(move || {
                        (b != 0).then(|| {
                            let t = b.trailing_zeros() as usize;
                            b &= b - 1;
                            (w * 64 + t, c)
                        })
                    })
                })
            })
            .into_iter()
            .flatten();
        listed.chain(from_bits)
    }

    /// The diagonal of `S` as a dense vector of length `d`.
    pub fn to_dense(&self, d: usize) -> Vec<f64> {
        let mut s = vec![0.0; d];
        for (j, c) in self.iter() {
            s[j] = c;
        }
        s
    }

    /// `y = v + S(x − v)` as a dense vector.
    pub fn apply_shifted(&self, x: &[f64], v: &[f64], y: &mut [f64]) {
        y.copy_from_slice(v);
        for (j, c) in self.iter() {
            y[j] = v[j] + c * (x[j] - v[j]);
        }
    }

    /// A draw from explicit parts (indices must be strictly increasing).
    pub fn from_parts(indices: Vec<usize>, scales: Vec<f64>) -> Self {
        assert_eq!(indices.len(), scales.len());
        assert!(
            indices.windows(2).all(|w| w[0] < w[1]),
            "indices not increasing"
        );
        let common = match scales.first() {
            Some(&c) if scales.iter().all(|&t| t.to_bits() == c.to_bits()) => {
                Some((c, indices.len()))
            }
            _ => None,
        };
        SketchDraw {
            indices,
            scales,
            common,
            ..SketchDraw::default()
        }
    }
}

/// A distribution over random diagonal sketches with `E[S] = I`.
pub trait Sketch: Send + Sync + std::fmt::Debug {
    /// Dimension d.
    fn dim(&self) -> usize;

    /// A short spec string (e.g. `rand-k:k=12`); [`SketchSpec`] parses it back for
    /// every sketch that a spec can describe (a per-coordinate Bernoulli cannot be).
    fn spec(&self) -> String;

    /// Draws `S` into `out` (overwriting it), using only `rng`.
    fn draw(&self, rng: &mut MastRng, out: &mut SketchDraw);

    /// `E[s_j s_l]` for the diagonal `s` of `S` (so `E[SᵀAS] = A ∘ E[ssᵀ]`); for a
    /// sketch that is not diagonal, the entry `(j, l)` of `E[SᵀS]`.
    fn second_moment(&self, j: usize, l: usize) -> f64;

    /// `sup λmax(SᵀS)` over all draws: the largest squared scale.
    fn l_s_max(&self) -> f64;

    /// Expected number of kept coordinates `E|Ω|`.
    fn expected_kept(&self) -> f64;

    /// All possible draws with their probabilities, when there are few enough to
    /// list (used as an exact oracle in tests); `None` otherwise.
    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>>;

    /// Diagonal of `E[SᵀS]`.
    fn expected_sts_diag(&self) -> Vec<f64> {
        (0..self.dim()).map(|j| self.second_moment(j, j)).collect()
    }

    /// `L_D = λmax E[SᵀS]`.
    fn l_d(&self) -> f64 {
        self.expected_sts_diag().into_iter().fold(0.0, f64::max)
    }

    /// `μ_D = λmin E[SᵀS]`.
    fn mu_d(&self) -> f64 {
        self.expected_sts_diag()
            .into_iter()
            .fold(f64::INFINITY, f64::min)
    }

    /// Whether `E[S] = I` (true for every MAST sketch; false for the biased
    /// [`DropConnect`] baseline, to which the theory does not apply).
    fn is_unbiased(&self) -> bool {
        true
    }

    /// Whether every draw is a diagonal matrix held by the draw's `indices` and
    /// `scales` (the fast path of the oracles and solvers). A sketch that is not
    /// diagonal (a rotation, as [`Hadamard`]) overrides this to `false` and
    /// [`Sketch::apply`]; solvers then take the generic dense path
    /// ([`crate::sketched::operator_step`]), and [`Sketch::second_moment`] gives
    /// the entries of `E[SᵀS]`.
    fn is_diagonal(&self) -> bool {
        true
    }

    /// `out = S z` for the draw `draw` (dense, length d). The default is the
    /// diagonal draw's product.
    fn apply(&self, draw: &SketchDraw, z: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for (j, c) in draw.iter() {
            out[j] = c * z[j];
        }
    }

    /// `out = Sᵀ g` for the draw `draw`. The default is [`Sketch::apply`]: every
    /// sketch here is symmetric (a diagonal, or `Rᵀ B R`).
    fn apply_transpose(&self, draw: &SketchDraw, g: &[f64], out: &mut [f64]) {
        self.apply(draw, g, out);
    }

    /// The step `x ← x − γ Sᵀ g` for the draw `draw` (dense, length d); returns
    /// whether the new `x` is finite. `scratch` (length d) is work space. The
    /// default forms `Sᵀ g` in `scratch` by [`Sketch::apply_transpose`]; a sketch
    /// that can fuse the update into its last pass (as [`Hadamard`]) overrides
    /// it, with the same result bit for bit.
    ///
    /// ```
    /// use mast::sketch::{Identity, Sketch, SketchDraw};
    /// let s = Identity::new(2);
    /// let draw = SketchDraw::from_parts(vec![0, 1], vec![1.0, 1.0]);
    /// let mut x = vec![1.0, 2.0];
    /// assert!(s.descend(&draw, &[1.0, -1.0], 0.5, &mut x, &mut [0.0; 2]));
    /// assert_eq!(x, [0.5, 2.5]);
    /// ```
    fn descend(
        &self,
        draw: &SketchDraw,
        g: &[f64],
        gamma: f64,
        x: &mut [f64],
        scratch: &mut [f64],
    ) -> bool {
        self.apply_transpose(draw, g, scratch);
        let mut finite = true;
        for (xj, sj) in x.iter_mut().zip(scratch.iter()) {
            *xj -= gamma * sj;
            finite &= xj.is_finite();
        }
        finite
    }

    /// `y = v + S(x − v)` as a dense vector (the sketched model).
    fn apply_shifted(&self, draw: &SketchDraw, x: &[f64], v: &[f64], y: &mut [f64]) {
        if self.is_diagonal() {
            draw.apply_shifted(x, v, y);
        } else {
            let z: Vec<f64> = x.iter().zip(v).map(|(a, b)| a - b).collect();
            self.apply(draw, &z, y);
            for (y, v) in y.iter_mut().zip(v) {
                *y += v;
            }
        }
    }

    /// Exact `E[SᵀAS]` for a symmetric `a`. The default, for diagonal sketches, is
    /// the entrywise product `A ∘ E[ssᵀ]`; sketches that are not diagonal
    /// override it.
    fn expected_sas(&self, a: &crate::linalg::SymMatrix) -> crate::linalg::SymMatrix {
        crate::linalg::SymMatrix::from_fn(a.d, |j, l| a.get(j, l) * self.second_moment(j, l))
    }
}

/// Exact `E[SᵀAS]` for a symmetric `a` (see [`Sketch::expected_sas`]).
pub fn expected_sas(sketch: &dyn Sketch, a: &crate::linalg::SymMatrix) -> crate::linalg::SymMatrix {
    sketch.expected_sas(a)
}

/// Calls `f` on every k-subset of `0..d` in lexicographic order.
pub(crate) fn for_each_subset(d: usize, k: usize, mut f: impl FnMut(&[usize])) {
    if k > d {
        return;
    }
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        f(&idx);
        // The rightmost position that can still move right.
        let mut i = k;
        while i > 0 && idx[i - 1] == d - k + i - 1 {
            i -= 1;
        }
        if i == 0 {
            return;
        }
        idx[i - 1] += 1;
        for t in i..k {
            idx[t] = idx[t - 1] + 1;
        }
    }
}

/// Binomial coefficient as f64 (exact for the small sizes used in enumeration).
pub(crate) fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n.saturating_sub(k));
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Draws are enumerated only up to this many.
pub(crate) const MAX_ENUMERATION: f64 = 200_000.0;
