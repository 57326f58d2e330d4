use super::{binomial, for_each_subset, masks, Sketch, SketchDraw, MAX_ENUMERATION};
use crate::error::{MastError, Result};
use crate::rng::{below_ratio, HalfWords, MastRng};

/// Rand-K: a uniformly random K-subset Ω of the d coordinates, each scaled by d/K.
///
/// `E[SᵀS] = (d/K) I`, `L_D = μ_D = d/K`, `L_S^max = d²/K²`; off-diagonal pair
/// moments `E[s_j s_l] = d(K−1)/(K(d−1))`. Sampling costs O(K) whatever d (up
/// to a log K factor for K/d < 1/512): a random bit mask corrected to exactly K
/// for K ≥ d/4, else Floyd's algorithm (see `draw_subset`).
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
    ///
    /// The sampler is chosen by d and K/d; each is exact (every K-subset equally
    /// likely, exactly K kept) and gives Ω in increasing order:
    ///
    /// | regime | sampler | cost |
    /// |---|---|---|
    /// | d > 128, K = d | the full bit set | O(d/64) |
    /// | d > 128, K/d ≥ 1/4 | a Bernoulli(≈ K/d) bit mask, 64 coordinates a word, corrected to exactly K (`masks::uniform_subset_bits`) | O(d/64 + K) |
    /// | d ≤ 128, K/d ≥ 1/4 | selection sampling (Knuth's Algorithm S) | O(d) = O(K) |
    /// | d ≤ 128, K/d < 1/4 | Floyd, the set in one 128-bit register | O(K) |
    /// | 1/512 ≤ K/d < 1/4 | Floyd, the set a bit set read back in order | O(K + d/64) = O(K) |
    /// | K/d < 1/512 | Floyd, the set a hash table, then a sort | O(K log K), memory O(K) |
    ///
    /// The draw is a function of the generator state alone (so a draw-ahead
    /// thread makes the same draws), and the three Floyd variants make the same
    /// draw from the same state.
    pub(crate) fn draw_subset(
        d: usize,
        k: usize,
        scale: f64,
        rng: &mut MastRng,
        out: &mut SketchDraw,
    ) {
        out.clear();
        if k == d && d > 128 {
            // Everything kept: the full bit set, in O(d/64).
            out.bits.clear();
            out.bits.resize(d.div_ceil(64), !0);
            if !d.is_multiple_of(64) {
                out.bits[d / 64] = (1 << (d % 64)) - 1;
            }
            out.finish_from_bits(k, scale);
            return;
        } else if k == d {
            out.indices.extend(0..d);
        } else if 4 * k >= d && d > 128 {
            masks::uniform_subset_bits(d, k, rng, &mut out.bits);
            out.finish_from_bits(k, scale);
            return;
        } else if 4 * k >= d {
            select_sequentially(d, k, rng, &mut out.indices, &mut out.bits);
            out.set_member_bits();
        } else if floyd(d, k, rng, out) {
            out.finish_from_bits(k, scale);
            return;
        }
        out.scales.resize(k, scale);
        out.set_common_scale(scale);
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

/// Selection sampling (Knuth's Algorithm S) of a K-subset of `0..d` into `out`
/// (cleared first), in increasing order. Each coordinate in turn is kept with
/// probability (still needed) / (still to visit), an exact Bernoulli trial on 32
/// random bits (rarely more), which makes every K-subset equally likely. Each
/// step is a bounded draw and an add, branch-free: the only chain from one step
/// to the next is the count still needed. The generator's state is a local, so
/// that it can live in registers through the loop (written back at the end).
fn select_sequentially(
    d: usize,
    k: usize,
    rng: &mut MastRng,
    out: &mut Vec<usize>,
    bits: &mut Vec<u64>,
) {
    let mut local = rng.clone();
    let mut draws = HalfWords::new(&mut local);
    out.clear();
    out.reserve(d);
    bits.clear();
    bits.reserve(d.div_ceil(64));
    // Written through the spare capacity: a kept coordinate is written at `len`
    // and kept when `len` then moves past it (no d-sized clearing first).
    let picked = &mut out.spare_capacity_mut()[..d];
    let (mut len, mut need) = (0usize, k);
    let mut word = 0u64;
    if d <= u32::MAX as usize {
        for j in 0..d {
            let first = draws.next_u32();
            let keep = below_ratio(need as u32, (d - j) as u32, first, || draws.next_u32());
            word |= u64::from(keep) << (j & 63);
            if j & 63 == 63 {
                bits.push(word);
                word = 0;
            }
            let keep = usize::from(keep);
            picked[len].write(j);
            len += keep;
            need -= keep;
        }
    } else {
        for j in 0..d {
            let keep = draws.uniform_inclusive(d - j - 1) < need;
            word |= u64::from(keep) << (j & 63);
            if j & 63 == 63 {
                bits.push(word);
                word = 0;
            }
            let keep = usize::from(keep);
            picked[len].write(j);
            len += keep;
            need -= keep;
        }
    }
    if d & 63 != 0 {
        bits.push(word);
    }
    debug_assert_eq!((len, need), (k, 0));
    // SAFETY: the first `len` = K entries were written (each position below
    // `len` was written when `len` moved past it), and K ≤ d ≤ capacity.
    unsafe { out.set_len(k.min(len)) };
    *rng = local;
}

/// Floyd's sampling of a K-subset of `0..d` (K < d) into `out`, in increasing
/// order: for j in d−K..d pick t ∈ [0, j]; take t, or j if t is taken. The set of
/// picks lives where it is cheapest to test (a register for d ≤ 128, a bit set
/// when K/d ≥ 1/512, where reading the d/64 words back costs less than sorting
/// the K picks, else a hash table); all make the same picks. Returns whether
/// `out.bits` holds Ω (the bit-set case).
fn floyd(d: usize, k: usize, rng: &mut MastRng, out: &mut SketchDraw) -> bool {
    // The generator's state is a local, so that it can live in registers through
    // the loops (written back below).
    let mut local = rng.clone();
    let mut draws = HalfWords::new(&mut local);
    if d <= 128 {
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
    } else if k * 512 >= d {
        // Dense enough: marks in a bit set, read back in increasing order with
        // trailing_zeros — no sort, and O(d/64 + K) to clear and list. The set
        // stays with the draw (Ω's membership test for the step).
        let words = d.div_ceil(64);
        out.bits.clear();
        out.bits.resize(words, 0);
        let bits = &mut out.bits[..words];
        for j in d - k..d {
            let t = draws.uniform_inclusive(j);
            let taken = (bits[t >> 6] >> (t & 63)) & 1 != 0;
            let pick = if taken { j } else { t };
            bits[pick >> 6] |= 1 << (pick & 63);
        }
        // The caller lists Ω from the set (where the consumer wants lists).
        *rng = local;
        return true;
    } else {
        // Few picks: an open-addressing hash table of at least 2K slots (memory
        // O(K), not O(d)), then a sort. j itself is never in the table when it is
        // picked (every earlier pick is below j), so it is inserted unchecked.
        let slots = (2 * k).next_power_of_two().max(16);
        let shift = 64 - slots.trailing_zeros();
        out.table.clear();
        out.table.resize(slots, EMPTY);
        let table = &mut out.table[..slots];
        let home = |t: usize| ((t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
        for j in d - k..d {
            let t = draws.uniform_inclusive(j);
            let mut s = home(t);
            let mut taken = false;
            while table[s] != EMPTY {
                if table[s] == t {
                    taken = true;
                    break;
                }
                s = (s + 1) & (slots - 1);
            }
            let pick = if taken { j } else { t };
            if taken {
                let mut s = home(j);
                while table[s] != EMPTY {
                    s = (s + 1) & (slots - 1);
                }
                table[s] = j;
            } else {
                table[s] = t;
            }
            out.indices.push(pick);
        }
        out.indices.sort_unstable();
    }
    *rng = local;
    false
}

/// An empty slot of [`floyd`]'s hash table (no coordinate is `usize::MAX`: d ≤
/// `usize::MAX`).
const EMPTY: usize = usize::MAX;
