use super::{binomial, for_each_subset, Sketch, SketchDraw, MAX_ENUMERATION};
use crate::error::{MastError, Result};
use crate::rng::{below_ratio, HalfWords, MastRng};

/// Rand-K: a uniformly random K-subset Ω of the d coordinates, each scaled by d/K.
///
/// `E[SᵀS] = (d/K) I`, `L_D = μ_D = d/K`, `L_S^max = d²/K²`; off-diagonal pair
/// moments `E[s_j s_l] = d(K−1)/(K(d−1))`. Sampling is O(K): Floyd's algorithm
/// (then the K indices in order), or for d ≤ 128 and K ≥ d/4 selection sampling
/// over the d coordinates.
///
/// ```
/// use mast::sketch::{RandK, Sketch, SketchDraw};
/// let s = RandK::with_fraction(100, 0.1).unwrap();
/// let mut draw = SketchDraw::new();
/// s.draw(&mut mast::rng::stream(1, mast::rng::Stream::Sketch), &mut draw);
/// assert_eq!(draw.len(), 10);
/// assert!(draw.scales.iter().all(|&c| c == 10.0));
/// ```
#[derive(Debug, Clone)]
pub struct RandK {
    d: usize,
    k: usize,
}

impl RandK {
    /// Keeps exactly `k` of `d` coordinates, 1 ≤ k ≤ d.
    pub fn new(d: usize, k: usize) -> Result<Self> {
        if k == 0 || k > d {
            return Err(MastError::param(
                "k",
                format!("Rand-K needs 1 ≤ K ≤ d = {d}, got K = {k}"),
            ));
        }
        Ok(RandK { d, k })
    }

    /// Keeps a fraction `q = K/d` ∈ (0, 1]: K = round(q·d), at least 1.
    pub fn with_fraction(d: usize, q: f64) -> Result<Self> {
        if !(q > 0.0 && q <= 1.0) {
            return Err(MastError::param(
                "q",
                format!("Rand-K fraction q = K/d must be in (0, 1], got {q}"),
            ));
        }
        Self::new(d, ((q * d as f64).round() as usize).clamp(1, d.max(1)))
    }

    /// K.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Draws a K-subset with scale `scale` (shared with Perm-K's node marginals).
    pub(crate) fn draw_subset(
        d: usize,
        k: usize,
        scale: f64,
        rng: &mut MastRng,
        out: &mut SketchDraw,
    ) {
        out.clear();
        if k == d {
            out.indices.extend(0..d);
            out.scales.resize(d, scale);
            return;
        }
        // Floyd (all but the first branch): for j in d−k..d pick t ∈ [0, j];
        // take t, or j if t is taken. The generator's state is a local, so that
        // it can live in registers through the loops (written back below).
        let mut local = rng.clone();
        let mut draws = HalfWords::new(&mut local);
        if d <= 128 && 4 * k >= d {
            // Small d, K ≥ d/4: selection sampling (Knuth's Algorithm S). Each
            // coordinate in turn is kept with probability (still needed) /
            // (still to visit), an exact Bernoulli trial on 32 random bits
            // (rarely more), which makes every K-subset equally likely. O(d) =
            // O(K) steps here, each a bounded draw and an add: the only chain from
            // one step to the next is the count still needed, where Floyd's
            // picks wait on each other's bits.
            out.indices.resize(d, 0);
            let picked = &mut out.indices[..d];
            let (mut len, mut need) = (0, k);
            for j in 0..d {
                let first = draws.next_u32();
                let keep = below_ratio(need as u32, (d - j) as u32, first, || draws.next_u32());
                let keep = usize::from(keep);
                picked[len] = j; // kept only if `len` then moves past it
                len += keep;
                need -= keep;
            }
            debug_assert_eq!((len, need), (k, 0));
            out.indices.truncate(k);
        } else if d <= 128 {
            // Small d (most LIBSVM sets): the whole bit set in one register, so a
            // pick's test-and-set is two shifts, not a load that waits on the
            // previous pick's store.
            let mut bits = 0u128;
            for j in d - k..d {
                let t = draws.uniform_inclusive(j);
                // Branch-free select (a branch here is mispredicted often: late
                // in the loop about K/d of the t's are taken).
                let taken = ((bits >> t) & 1) as usize;
                let pick = t ^ ((t ^ j) & taken.wrapping_neg());
                bits |= 1 << pick;
            }
            while bits != 0 {
                out.indices.push(bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        } else if k * 8 >= d {
            // Dense enough: marks in a bit set, read back in increasing order with
            // trailing_zeros — no sort, and O(d/64 + K) to list and clear.
            let words = d.div_ceil(64);
            if out.bits.len() != words {
                out.bits = vec![0; words];
            }
            let bits = &mut out.bits[..words];
            for j in d - k..d {
                let t = draws.uniform_inclusive(j);
                let taken = (bits[t >> 6] >> (t & 63)) & 1 != 0;
                let pick = if taken { j } else { t };
                bits[pick >> 6] |= 1 << (pick & 63);
            }
            for (w, word) in bits.iter_mut().enumerate() {
                let mut b = *word;
                while b != 0 {
                    out.indices.push(w * 64 + b.trailing_zeros() as usize);
                    b &= b - 1;
                }
                *word = 0;
            }
        } else {
            if out.marks.len() != d {
                out.marks = vec![false; d];
            }
            for j in d - k..d {
                let t = draws.uniform_inclusive(j);
                let pick = if out.marks[t] { j } else { t };
                out.marks[pick] = true;
                out.indices.push(pick);
            }
            out.indices.sort_unstable();
            for &j in &out.indices {
                out.marks[j] = false;
            }
        }
        *rng = local;
        out.scales.resize(k, scale);
    }

    pub(crate) fn enumerate_subsets(
        d: usize,
        k: usize,
        scale: f64,
    ) -> Option<Vec<(f64, SketchDraw)>> {
        let count = binomial(d, k);
        if count > MAX_ENUMERATION {
            return None;
        }
        let mut out = Vec::with_capacity(count as usize);
        for_each_subset(d, k, |idx| {
            out.push((
                1.0 / count,
                SketchDraw::from_parts(idx.to_vec(), vec![scale; k]),
            ))
        });
        Some(out)
    }

    pub(crate) fn pair_moment(d: usize, k: usize, j: usize, l: usize) -> f64 {
        let (d, kf) = (d as f64, k as f64);
        if j == l {
            d / kf
        } else if d <= 1.0 {
            0.0
        } else {
            d * (kf - 1.0) / (kf * (d - 1.0))
        }
    }
}

impl Sketch for RandK {
    fn dim(&self) -> usize {
        self.d
    }
    fn spec(&self) -> String {
        format!("rand-k:k={}", self.k)
    }
    fn draw(&self, rng: &mut MastRng, out: &mut SketchDraw) {
        Self::draw_subset(self.d, self.k, self.d as f64 / self.k as f64, rng, out);
    }
    fn second_moment(&self, j: usize, l: usize) -> f64 {
        Self::pair_moment(self.d, self.k, j, l)
    }
    fn l_s_max(&self) -> f64 {
        let r = self.d as f64 / self.k as f64;
        r * r
    }
    fn expected_kept(&self) -> f64 {
        self.k as f64
    }
    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>> {
        Self::enumerate_subsets(self.d, self.k, self.d as f64 / self.k as f64)
    }
}
