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

/// `rng.random_range(0..=high)`, the same value and the same generator state
/// afterwards as rand 0.9's (Canon's method on 32 bits with one correction step,
/// for `high < 2³²−1`), but inlined: samplers call it once per kept coordinate.
#[inline]
pub fn uniform_inclusive(rng: &mut MastRng, high: usize) -> usize {
    if high >= u32::MAX as usize {
        return rng.random_range(0..=high);
    }
    let range = high as u32 + 1;
    let m = u64::from(rng.next_u32()) * u64::from(range);
    let (mut result, lo) = ((m >> 32) as u32, m as u32);
    if lo > range.wrapping_neg() {
        let hi2 = ((u64::from(rng.next_u32()) * u64::from(range)) >> 32) as u32;
        result += u32::from(lo.checked_add(hi2).is_none());
    }
    result as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_inclusive_matches_rand() {
        for seed in 0..20 {
            let (mut a, mut b) = (stream(seed, Stream::Sketch), stream(seed, Stream::Sketch));
            for high in (0..300).chain([1 << 20, (1 << 31) + 12345, u32::MAX as usize - 2]) {
                for _ in 0..50 {
                    assert_eq!(uniform_inclusive(&mut a, high), b.random_range(0..=high));
                }
            }
            assert_eq!(a.next_u64(), b.next_u64(), "same generator state");
        }
    }
}
