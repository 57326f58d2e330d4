//! Fast Bernoulli fills for host masks: eight interleaved Xoshiro256++ generators.
//!
//! A MAST step on a network draws one keep/drop decision per weight (269k for
//! the MLP 784-256-256-10). One Xoshiro256++ stream gives a u64 every ~1 ns, and
//! a `if u < t { value } else { 0 }` per entry mispredicts half the time at
//! p = 0.5; both make the draw cost a large fraction of a training step.
//!
//! [`fill_bernoulli`] instead
//!
//! - takes [`LANES`] u64 from the caller's seeded stream (mast's `Sketch`
//!   stream) and expands each into the state of an independent Xoshiro256++
//!   generator with SplitMix64 (what `SeedableRng::seed_from_u64` does; the
//!   generators of one fill never overlap in practice: 2²⁵⁶ − 1 period);
//! - advances the eight generators side by side (structure-of-arrays code that
//!   the compiler turns into vector instructions; AVX-512 and AVX2 copies are
//!   selected at run time on x86-64, and every path computes the same integers);
//! - splits each u64 into two 32-bit uniforms `u` and keeps an entry iff
//!   `u < t`, branch-free (`value` AND an all-ones or all-zeros bit mask).
//!
//! So a fill is a deterministic function of the caller's stream state and the
//! length: the same seed gives bit-identical masks on any machine, whatever the
//! thread count or instruction set. The caller's stream advances by exactly
//! [`LANES`] outputs per fill (none when `p' = 1`: nothing is drawn).
//!
//! **Keep probability.** `t = round(p · 2³²)` (clamped to `[1, 2³²]`), so an
//! entry is kept with probability exactly `p' = t / 2³²` ([`Keep::prob`]),
//! which differs from the requested `p` by at most 2⁻³³. MAST's Bernoulli
//! sketch scales kept entries by `1/p'` ([`Keep::inverse`]), not `1/p`, so
//! `E[S] = p' · (1/p') = I` holds exactly (up to the f32 rounding of `1/p'`,
//! which is exact whenever `p'` is a power of two, e.g. p = 0.5).

use std::mem::MaybeUninit;

use mast::rng::MastRng;
use rand::RngCore;

/// Generators advanced side by side by [`fill_bernoulli`].
pub const LANES: usize = 8;

/// A keep probability resolved to 2⁻³²: an entry is kept iff a 32-bit uniform
/// is below `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    threshold: u64,
}

impl Keep {
    /// `t = round(p · 2³²)`, clamped to `[1, 2³²]` (so `p ≥ 1` keeps everything and
    /// a tiny positive `p` keeps with probability 2⁻³²). NaN or `p ≤ 0` keeps nothing.
    pub fn new(p: f64) -> Self {
        let threshold = if p.is_nan() || p <= 0.0 {
            0
        } else if p >= 1.0 {
            1 << 32
        } else {
            ((p * 4_294_967_296.0).round() as u64).clamp(1, 1 << 32)
        };
        Keep { threshold }
    }

    /// The exact keep probability `p' = t / 2³²`.
    pub fn prob(&self) -> f64 {
        self.threshold as f64 / 4_294_967_296.0
    }

    /// `1/p'` as f32: the scale of kept entries that makes the mask unbiased.
    pub fn inverse(&self) -> f32 {
        (1.0 / self.prob()) as f32
    }

    /// The threshold `t` (`2³²` keeps everything).
    pub fn threshold(&self) -> u64 {
        self.threshold
    }
}

/// SplitMix64 (as in `rand_xoshiro`'s `seed_from_u64`).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// [`LANES`] Xoshiro256++ generators in structure-of-arrays form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lanes {
    s: [[u64; LANES]; 4],
}

impl Lanes {
    /// Seeds the lanes from `LANES` outputs of `rng` (one SplitMix64 expansion each).
    pub fn from_rng(rng: &mut MastRng) -> Self {
        let mut s = [[0u64; LANES]; 4];
        for j in 0..LANES {
            let mut sm = rng.next_u64();
            for word in s.iter_mut() {
                word[j] = splitmix64(&mut sm);
            }
            if (0..4).all(|w| s[w][j] == 0) {
                // The all-zero state is the one Xoshiro cannot leave (never met in practice).
                s[0][j] = 1;
            }
        }
        Lanes { s }
    }

    /// Lanes with the given states: `states[j]` is lane `j`'s `[s0, s1, s2, s3]`
    /// (the words of `Xoshiro256PlusPlus::from_seed`, little-endian).
    pub fn from_states(states: [[u64; 4]; LANES]) -> Self {
        let mut s = [[0u64; LANES]; 4];
        for (j, st) in states.iter().enumerate() {
            for w in 0..4 {
                s[w][j] = st[w];
            }
        }
        Lanes { s }
    }

    /// One output of every lane (Xoshiro256++'s `next_u64`, lane-wise).
    #[inline(always)]
    pub fn next_u64s(&mut self) -> [u64; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0u64; LANES];
        for j in 0..LANES {
            out[j] = s0[j]
                .wrapping_add(s3[j])
                .rotate_left(23)
                .wrapping_add(s0[j]);
            let t = s1[j] << 17;
            s2[j] ^= s0[j];
            s3[j] ^= s1[j];
            s1[j] ^= s2[j];
            s0[j] ^= s3[j];
            s2[j] ^= t;
            s3[j] = s3[j].rotate_left(45);
        }
        out
    }
}

/// `value` where `u < t`, else 0, branch-free: the high half of the 64-bit
/// `u − t` is all ones exactly when `u < t`. (Written as `-(u < t)` or as a
/// multiply by `(u < t) as f32`, LLVM turns it into a select, and x86's cmov
/// converter into a branch that mispredicts half the time at p = 0.5.)
#[inline(always)]
fn select(u: u32, t: u32, bits: u32) -> f32 {
    let below = (u64::from(u).wrapping_sub(u64::from(t)) >> 32) as u32;
    f32::from_bits(bits & below)
}

/// The fill kernel: entry `16k + j` of `out` comes from the low half of lane `j`'s
/// `k`-th output, entry `16k + 8 + j` from its high half. Writes every entry of
/// `out` (which may be uninitialised).
#[inline(always)]
fn fill_kernel(lanes: &mut Lanes, t: u32, bits: u32, out: &mut [MaybeUninit<f32>]) {
    let mut chunks = out.chunks_exact_mut(2 * LANES);
    for c in &mut chunks {
        let r = lanes.next_u64s();
        let (lo, hi) = c.split_at_mut(LANES);
        for j in 0..LANES {
            lo[j].write(select(r[j] as u32, t, bits));
            hi[j].write(select((r[j] >> 32) as u32, t, bits));
        }
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let r = lanes.next_u64s();
        for (i, o) in rest.iter_mut().enumerate() {
            let u = if i < LANES {
                r[i] as u32
            } else {
                (r[i - LANES] >> 32) as u32
            };
            o.write(select(u, t, bits));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
fn fill_avx512(lanes: &mut Lanes, t: u32, bits: u32, out: &mut [MaybeUninit<f32>]) {
    fill_kernel(lanes, t, bits, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_avx2(lanes: &mut Lanes, t: u32, bits: u32, out: &mut [MaybeUninit<f32>]) {
    fill_kernel(lanes, t, bits, out)
}

fn fill_generic(lanes: &mut Lanes, t: u32, bits: u32, out: &mut [MaybeUninit<f32>]) {
    fill_kernel(lanes, t, bits, out)
}

/// Which code path [`fill_with`] takes on this machine (`"avx512"`, `"avx2"` or
/// `"portable"`); all give the same masks.
pub fn fill_path() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return "avx2";
        }
    }
    "portable"
}

fn as_uninit(out: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: `MaybeUninit<f32>` has the layout of `f32`, and the kernels only
    // write initialised f32 values through the returned slice.
    unsafe { &mut *(out as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// Fills `out` with independent Bernoulli draws: `value` with probability
/// `keep.prob()`, else 0 (see the module documentation). Advances `rng` by
/// [`LANES`] outputs, whatever the length (none when everything is kept or dropped).
pub fn fill_bernoulli(rng: &mut MastRng, keep: Keep, value: f32, out: &mut [f32]) {
    if keep.threshold >= 1 << 32 {
        out.fill(value);
        return;
    }
    if keep.threshold == 0 {
        out.fill(0.0);
        return;
    }
    let mut lanes = Lanes::from_rng(rng);
    fill_with(&mut lanes, keep, value, out);
}

/// A new vector of `n` Bernoulli draws, as [`fill_bernoulli`] would fill it (the
/// same values for the same stream state), written once (no zeroing pass).
pub fn bernoulli_vec(rng: &mut MastRng, keep: Keep, value: f32, n: usize) -> Vec<f32> {
    if keep.threshold >= 1 << 32 || keep.threshold == 0 {
        let mut v = vec![0.0; n];
        fill_bernoulli(rng, keep, value, &mut v);
        return v;
    }
    let mut lanes = Lanes::from_rng(rng);
    let mut v = Vec::with_capacity(n);
    dispatch(&mut lanes, keep, value, &mut v.spare_capacity_mut()[..n]);
    // SAFETY: `dispatch` wrote all `n` entries.
    unsafe { v.set_len(n) };
    v
}

/// [`fill_bernoulli`] with given lanes (they advance by `⌈len / 16⌉` outputs each).
pub fn fill_with(lanes: &mut Lanes, keep: Keep, value: f32, out: &mut [f32]) {
    if keep.threshold >= 1 << 32 {
        out.fill(value);
        return;
    }
    dispatch(lanes, keep, value, as_uninit(out))
}

fn dispatch(lanes: &mut Lanes, keep: Keep, value: f32, out: &mut [MaybeUninit<f32>]) {
    debug_assert!(keep.threshold < 1 << 32);
    let (t, bits) = (keep.threshold as u32, value.to_bits());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU has AVX-512 F and VL (checked just above).
            unsafe { fill_avx512(lanes, t, bits, out) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { fill_avx2(lanes, t, bits, out) };
            return;
        }
    }
    fill_generic(lanes, t, bits, out)
}

/// [`fill_with`] on the portable code path (no run-time dispatch), for tests
/// that check every path gives the same masks.
pub fn fill_with_portable(lanes: &mut Lanes, keep: Keep, value: f32, out: &mut [f32]) {
    if keep.threshold >= 1 << 32 {
        out.fill(value);
        return;
    }
    fill_generic(
        lanes,
        keep.threshold as u32,
        value.to_bits(),
        as_uninit(out),
    )
}

/// [`fill_with`] on the AVX2 code path, if this CPU has AVX2 (`false` otherwise).
pub fn fill_with_avx2(lanes: &mut Lanes, keep: Keep, value: f32, out: &mut [f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if keep.threshold < 1 << 32 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe {
            fill_avx2(
                lanes,
                keep.threshold as u32,
                value.to_bits(),
                as_uninit(out),
            )
        };
        return true;
    }
    let _ = (lanes, keep, value, out);
    false
}
