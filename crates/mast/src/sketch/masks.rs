//! Random subsets of `0..d` as bit sets, 64 coordinates a word: the fast
//! samplers of large draws (Rand-K at K ≥ d/4, a Bernoulli sketch whose keep
//! probability has a short binary expansion), and the listing of a bit set as Ω.

use rand::RngCore;

use crate::rng::{HalfWords, MastRng};

/// A word of 64 independent bits, each 1 with probability exactly `level/2^digits`
/// (`level < 2^digits`, `digits ≤ 64`): with the binary digits of the
/// probability from the last to the first, `m ← m | R` for a 1 and `m ← m & R`
/// for a 0, R a fresh random word (a bit ends up 1 with probability
/// ½(previous) + ½·digit). Digits below the lowest 1 leave m = 0 and are skipped,
/// so p = ½ costs one generator output per 64 coordinates.
#[inline]
fn bernoulli_word(level: u64, digits: u32, rng: &mut MastRng) -> u64 {
    if level == 0 {
        return 0;
    }
    let mut m = 0u64;
    for i in level.trailing_zeros()..digits {
        let r = rng.next_u64();
        m = if (level >> i) & 1 == 1 { m | r } else { m & r };
    }
    m
}

/// Fills `bits` (resized to ⌈d/64⌉ words, bits past d zero) with independent
/// Bernoulli(`level/2^digits`) coordinates; returns how many are set.
pub(super) fn bernoulli_bits(
    d: usize,
    level: u64,
    digits: u32,
    rng: &mut MastRng,
    bits: &mut Vec<u64>,
) -> usize {
    let words = d.div_ceil(64);
    bits.clear();
    bits.reserve(words);
    let mut local = rng.clone();
    let mut count = 0usize;
    for w in 0..words {
        let mut m = bernoulli_word(level, digits, &mut local);
        let valid = d - w * 64;
        if valid < 64 {
            m &= (1u64 << valid) - 1;
        }
        count += m.count_ones() as usize;
        bits.push(m);
    }
    *rng = local;
    count
}

/// A uniformly random K-subset of `0..d` as a bit set (`bits`, ⌈d/64⌉ words) for
/// K ≥ d/4: independent Bernoulli(p′) coordinates with p′ = K/d rounded to 8
/// binary digits (up when K/d > ½, down otherwise, so that the correction below
/// mostly removes from a set, or adds to a complement, of density ≥ ½), then
/// uniformly random coordinates of the kept set removed (or of the rest added),
/// by rejection, until exactly K are kept.
///
/// Exact: given its size c, the Bernoulli set is a uniform c-subset, and each
/// removal (addition) of a uniformly random member (non-member) maps a uniform
/// c-subset to a uniform (c ∓ 1)-subset, so the result is a uniform K-subset.
/// Cost: d/64 words of at most 8 generator outputs, and about |c − K| ≈ d/256 +
/// O(√d) corrections of a few bounded draws each.
pub(super) fn uniform_subset_bits(d: usize, k: usize, rng: &mut MastRng, bits: &mut Vec<u64>) {
    debug_assert!(4 * k >= d && k <= d);
    let q = k as f64 / d as f64;
    let scaled = q * 256.0;
    let level = if 2 * k > d {
        scaled.ceil()
    } else {
        scaled.floor()
    } as u64;
    let mut count = if level >= 256 {
        bits.clear();
        bits.resize(d.div_ceil(64), u64::MAX);
        if d & 63 != 0 {
            *bits.last_mut().expect("d > 0") = (1u64 << (d & 63)) - 1;
        }
        d
    } else {
        bernoulli_bits(d, level, 8, rng, bits)
    };
    let mut local = rng.clone();
    let mut draws = HalfWords::new(&mut local);
    while count > k {
        let j = draws.uniform_inclusive(d - 1);
        let (w, b) = (j >> 6, 1u64 << (j & 63));
        if bits[w] & b != 0 {
            bits[w] &= !b;
            count -= 1;
        }
    }
    while count < k {
        let j = draws.uniform_inclusive(d - 1);
        let (w, b) = (j >> 6, 1u64 << (j & 63));
        if bits[w] & b == 0 {
            bits[w] |= b;
            count += 1;
        }
    }
    *rng = local;
}

/// Lists the set bits of `bits` into `out` (cleared first), in increasing order;
/// `count` is their number.
pub(super) fn list_bits(bits: &[u64], count: usize, out: &mut Vec<usize>) {
    out.clear();
    out.reserve(count);
    let spare = &mut out.spare_capacity_mut()[..count];
    let mut len = 0;
    for (w, &word) in bits.iter().enumerate() {
        let mut b = word;
        while b != 0 {
            spare[len].write(w * 64 + b.trailing_zeros() as usize);
            len += 1;
            b &= b - 1;
        }
    }
    assert_eq!(len, count, "the bit count");
    // SAFETY: the first `len` = `count` entries were written above.
    unsafe { out.set_len(len) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    #[test]
    fn bernoulli_words_have_the_exact_probability() {
        // p = 3/8 (digits 0.011): each bit is 1 in 3 of the 8 equally likely
        // outcomes of three random bits; over 20,000 words the frequency is
        // within 6 standard errors.
        let mut rng = stream(1, Stream::Sketch);
        let mut ones = 0u64;
        let words = 20_000u64;
        for _ in 0..words {
            ones += u64::from(bernoulli_word(3, 3, &mut rng).count_ones());
        }
        let (n, p) = ((64 * words) as f64, 3.0 / 8.0);
        let z = (ones as f64 - n * p) / (n * p * (1.0 - p)).sqrt();
        assert!(z.abs() < 6.0, "z = {z}");
        assert_eq!(bernoulli_word(0, 8, &mut rng), 0);
    }

    #[test]
    fn uniform_subsets_keep_exactly_k_within_d() {
        let mut rng = stream(2, Stream::Sketch);
        let mut bits = Vec::new();
        let mut out = Vec::new();
        for (d, k) in [
            (129, 33),
            (1000, 250),
            (1000, 500),
            (1000, 999),
            (1000, 1000),
            (70, 70),
        ] {
            for _ in 0..20 {
                uniform_subset_bits(d, k, &mut rng, &mut bits);
                assert_eq!(bits.len(), d.div_ceil(64));
                list_bits(&bits, k, &mut out);
                assert_eq!(out.len(), k);
                assert!(out.windows(2).all(|w| w[0] < w[1]));
                assert!(out.last().is_none_or(|&j| j < d));
            }
        }
    }
}
