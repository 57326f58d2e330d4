//! Seeded random streams.
//!
//! One master seed gives independent streams for each purpose (sketches, data
//! sampling, splits, ...), so that changing how one stream is used never shifts
//! another. Streams are Xoshiro256++ generators separated by `jump()` (2^128
//! draws apart), which guarantees non-overlap.

use rand::{Rng, RngCore, SeedableRng};
pub use rand_xoshiro::Xoshiro256PlusPlus as MastRng;

/// The fixed default seed, used when none is given.
pub const DEFAULT_SEED: u64 = 42;

/// The purposes that get their own random stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Sketch draws (masks).
    Sketch = 0,
    /// Data sampling: minibatches, epoch shuffles.
    Data = 1,
    /// Train/validation splits.
    Split = 2,
    /// Synthetic data generation.
    Synthetic = 3,
    /// Initialisation and anything else.
    Init = 4,
    /// Pruning masks drawn after training.
    Prune = 5,
    /// Monte-Carlo estimates of f_D.
    Estimate = 6,
    /// Assignment of samples to the nodes of a distributed run.
    Shard = 7,
}

/// Number of [`Stream`] kinds (node streams start after them).
const STREAM_KINDS: u64 = 8;

/// Node `node`'s own generator for `stream` under `seed` (Algorithm 2: each node
/// samples its minibatches from its own stream, so a node's randomness does not
/// depend on how many nodes there are or which runs first).
///
/// ```
/// use mast::rng::{node_stream, stream, Stream};
/// use rand::Rng;
/// let a: u64 = node_stream(7, Stream::Data, 0).random();
/// let b: u64 = node_stream(7, Stream::Data, 1).random();
/// let c: u64 = stream(7, Stream::Data).random();
/// assert!(a != b && a != c);
/// ```
pub fn node_stream(seed: u64, which: Stream, node: usize) -> MastRng {
    substream(seed, STREAM_KINDS * (node as u64 + 1) + which as u64)
}

/// The generator for `stream` under the master `seed`.
///
/// ```
/// use mast::rng::{stream, Stream};
/// use rand::Rng;
/// let mut a = stream(7, Stream::Sketch);
/// let mut b = stream(7, Stream::Sketch);
/// assert_eq!(a.random::<u64>(), b.random::<u64>());
/// ```
pub fn stream(seed: u64, which: Stream) -> MastRng {
    substream(seed, which as u64)
}

/// The `index`-th independent stream under `seed` (`index` jumps apart).
pub fn substream(seed: u64, index: u64) -> MastRng {
    let mut rng = MastRng::seed_from_u64(seed);
    for _ in 0..index {
        rng.jump();
    }
    rng
}

/// Uniform small integers for samplers that need many of them (Rand-K's Floyd
/// loop): each 64-bit output of the generator gives two 32-bit words, so a
/// K-subset costs about K/2 generator steps instead of K.
///
/// Words left over when the sampler is done are dropped; the generator's state
/// afterwards depends only on how many words were used, so runs stay
/// reproducible and checkpoints (which save the generator) stay exact.
///
/// ```
/// use mast::rng::{stream, HalfWords, Stream};
/// let mut rng = stream(3, Stream::Sketch);
/// let mut words = HalfWords::new(&mut rng);
/// let t = words.uniform_inclusive(9);
/// assert!(t <= 9);
/// ```
pub struct HalfWords<'a> {
    rng: &'a mut MastRng,
    spare: u32,
    has_spare: bool,
}

/// An exact Bernoulli(num/den) trial: whether a uniform U ∈ [0, 1), read 32 bits
/// at a time (`first`, then `more()`), is below `num/den` (0 ≤ num ≤ den,
/// 1 ≤ den). The first 32 bits decide unless they leave U within 2⁻³² of the
/// boundary, which happens with probability below den/2³²; then more bits are
/// read, as many as it takes.
///
/// ```
/// use mast::rng::below_ratio;
/// assert!(below_ratio(1, 2, 0, || unreachable!()));
/// assert!(!below_ratio(1, 2, 1 << 31, || unreachable!()));
/// // 0xAAAA_AAAA / 2³² is within 2⁻³² of 2/3: the next bits decide.
/// assert!(below_ratio(2, 3, 0xAAAA_AAAA, || 0));
/// assert!(!below_ratio(2, 3, 0xAAAA_AAAA, || u32::MAX));
/// ```
#[inline]
pub fn below_ratio(num: u32, den: u32, first: u32, more: impl FnMut() -> u32) -> bool {
    let den = u64::from(den);
    // U = (u + U')/2³² with U' ∈ [0, 1): U < num/den ⟺ u·den + U'·den < num·2³².
    let (a, target) = (u64::from(first) * den, u64::from(num) << 32);
    // Undecided when 0 < target − a < den: one compare and one branch, almost
    // never taken. The outcome itself is a compare, not a branch (a branch on
    // it would be mispredicted half the time).
    if target.wrapping_sub(a).wrapping_sub(1) < den - 1 {
        return below_ratio_undecided(target - a, den, more);
    }
    a < target
}

/// [`below_ratio`] after bits that left it undecided: whether U' < rem/den.
/// Inlined, so that the caller's generator need not leave registers for it.
#[inline(always)]
fn below_ratio_undecided(mut rem: u64, den: u64, mut more: impl FnMut() -> u32) -> bool {
    loop {
        let (a, target) = (u64::from(more()) * den, rem << 32);
        if a + den <= target {
            return true;
        }
        if a >= target {
            return false;
        }
        rem = target - a;
    }
}

impl<'a> HalfWords<'a> {
    /// Words from `rng`.
    pub fn new(rng: &'a mut MastRng) -> Self {
        HalfWords {
            rng,
            spare: 0,
            has_spare: false,
        }
    }

    /// The next 32 uniformly random bits: the low half of a fresh 64-bit output,
    /// then its high half.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.has_spare {
            self.has_spare = false;
            self.spare
        } else {
            let w = self.rng.next_u64();
            self.spare = (w >> 32) as u32;
            self.has_spare = true;
            w as u32
        }
    }

    /// A uniform integer in `0..=high`: Canon's method on 32 bits with one
    /// correction step (as rand 0.9's `random_range`), falling back to the
    /// generator's own 64-bit range sampling for `high ≥ 2³²−1`.
    #[inline]
    pub fn uniform_inclusive(&mut self, high: usize) -> usize {
        if high >= u32::MAX as usize {
            return self.rng.random_range(0..=high);
        }
        let range = high as u32 + 1;
        let m = u64::from(self.next_u32()) * u64::from(range);
        let (mut result, lo) = ((m >> 32) as u32, m as u32);
        if lo > range.wrapping_neg() {
            let hi2 = ((u64::from(self.next_u32()) * u64::from(range)) >> 32) as u32;
            result += u32::from(lo.checked_add(hi2).is_none());
        }
        result as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_words_split_each_output_low_then_high() {
        let (mut a, mut b) = (stream(5, Stream::Sketch), stream(5, Stream::Sketch));
        let mut words = HalfWords::new(&mut a);
        for _ in 0..100 {
            let w = b.next_u64();
            assert_eq!(words.next_u32(), w as u32);
            assert_eq!(words.next_u32(), (w >> 32) as u32);
        }
    }

    #[test]
    fn half_words_uniform_inclusive_is_uniform_and_in_range() {
        // χ² over 0..=12 with 130,000 draws: 12 degrees of freedom, so the statistic
        // exceeds 40 with probability below 1e-4 for a uniform sampler.
        let mut rng = stream(11, Stream::Sketch);
        let mut words = HalfWords::new(&mut rng);
        let mut counts = [0u64; 13];
        for _ in 0..130_000 {
            counts[words.uniform_inclusive(12)] += 1;
        }
        let expected = 10_000.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 40.0, "chi2 = {chi2}, counts {counts:?}");
        for high in [
            0usize,
            1,
            2,
            1 << 20,
            (1 << 31) + 12345,
            u32::MAX as usize - 2,
        ] {
            for _ in 0..200 {
                assert!(words.uniform_inclusive(high) <= high);
            }
        }
        assert!(words.uniform_inclusive(u32::MAX as usize + 7) <= u32::MAX as usize + 7);
    }
}
