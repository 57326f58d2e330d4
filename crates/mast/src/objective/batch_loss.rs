//! The logistic loss's derivatives over a minibatch's margins, in vector lanes.
//!
//! `f64::exp` is a call into libm per sample, which keeps a minibatch of 32
//! margins from overlapping in the pipeline. Here `e^x` is a fixed sequence of
//! additions, multiplications and bit operations ([`exp_nonpositive`]), so the
//! loop over the batch compiles to vector code; with AVX-512 (checked at run
//! time) eight samples at a time. Both compilations perform the same IEEE
//! operations on each sample, so they give the same bits.

use super::LossSum;

/// log2(e).
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// ln 2 in two parts (fdlibm's): `LN2_HI` has its low 32 bits zero, so `k·LN2_HI`
/// is exact for the |k| ≤ 1082 used here.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// 1.5·2⁵²: `(y + SHIFTER) − SHIFTER` rounds y to the nearest integer, ties to
/// even, for |y| < 2⁵¹ (the same in scalar and vector code, unlike `round`).
const SHIFTER: f64 = 6_755_399_441_055_744.0;
/// Below this e^x is 0 in f64 (e^−746 < 2^−1075); clamping here keeps the
/// exponent in range.
const FLOOR: f64 = -750.0;
/// 2^−64, to scale into the subnormal range with one rounding.
const TWO_M64: f64 = 1.0 / 18_446_744_073_709_551_616.0;

/// `e^x` for `x ≤ 0` (and NaN, which gives NaN), within 2 ulp of the exact
/// value; subnormal results are rounded once, and x < −745.2 gives 0.
///
/// x = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite), e^r by its Taylor series to
/// r¹³ (truncation error below 5·10⁻¹⁸) in fused multiply-adds, then scaled by
/// 2^k through the exponent bits. Fused multiply-adds round once, whether the
/// CPU or libm's `fma` computes them, so the result is the same bits on every
/// machine and in every lane width.
///
/// ```
/// use mast::objective::exp_nonpositive;
/// assert_eq!(exp_nonpositive(0.0), 1.0);
/// assert!((exp_nonpositive(-1.0) - (-1.0f64).exp()).abs() <= f64::EPSILON);
/// assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
/// ```
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    // A NaN compares false, stays NaN and so makes the result NaN.
    let x = if x < FLOOR { FLOOR } else { x };
    let kf = (x * LOG2_E + SHIFTER) - SHIFTER;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    let mut p: f64 = 1.0 / 6_227_020_800.0; // 1/13!
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p.mul_add(r, c);
    }
    // 2^(k + 64) is a normal number for −1082 ≤ k ≤ 0; the final ×2^−64 is
    // exact unless the result is subnormal, where it rounds once.
    let k = kf as i64;
    let scale = f64::from_bits(((k + 64 + 1023) as u64) << 52);
    (p * scale) * TWO_M64
}

/// The logistic loss at margin m and label b as `(∂ℓ/∂m, lin, fac)` with
/// `ℓ = lin + ln(fac)`, as [`super::Logistic`]'s `derivative_log_split` but with
/// [`exp_nonpositive`].
#[inline(always)]
fn logistic_parts(m: f64, b: f64) -> (f64, f64, f64) {
    let t = -b * m;
    let e = exp_nonpositive(-t.abs());
    let fac = 1.0 + e;
    let sig = if t >= 0.0 { 1.0 } else { e } / fac;
    (-b * sig, t.max(0.0), fac)
}

#[inline(always)]
fn lanes(b: &[f64], m: &mut [f64], scale: f64, r: &mut [f64], fac: &mut [f64]) {
    let n = m.len();
    let (b, r, fac) = (&b[..n], &mut r[..n], &mut fac[..n]);
    for i in 0..n {
        let (deriv, lin, f) = logistic_parts(m[i], b[i]);
        r[i] = deriv * scale;
        m[i] = lin;
        fac[i] = f;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,fma")]
fn lanes_avx512(b: &[f64], m: &mut [f64], scale: f64, r: &mut [f64], fac: &mut [f64]) {
    lanes(b, m, scale, r, fac)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn lanes_avx2(b: &[f64], m: &mut [f64], scale: f64, r: &mut [f64], fac: &mut [f64]) {
    lanes(b, m, scale, r, fac)
}

/// Logistic derivatives of the margins `m` of a minibatch with labels `b`:
/// `r_i = ∂ℓ/∂m (m_i, b_i) · scale`, and the sum of the losses. `m` and `fac` are
/// overwritten (scratch).
pub(super) fn logistic(
    b: &[f64],
    m: &mut [f64],
    scale: f64,
    r: &mut [f64],
    fac: &mut [f64],
) -> LossSum {
    logistic_with(Width::widest(), b, m, scale, r, fac)
}

/// The compilations of the per-sample loop.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Width {
    Plain,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Width {
    /// Those the CPU runs, widest last.
    fn available() -> Vec<Width> {
        let mut out = vec![Width::Plain];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                out.push(Width::Avx2);
            }
            if has!("avx512f") && has!("avx512dq") && has!("fma") {
                out.push(Width::Avx512);
            }
        }
        out
    }

    fn widest() -> Width {
        static WIDEST: std::sync::OnceLock<Width> = std::sync::OnceLock::new();
        *WIDEST.get_or_init(|| *Width::available().last().expect("plain"))
    }
}

/// [`logistic`] in the compilation `width` (one the CPU runs).
fn logistic_with(
    width: Width,
    b: &[f64],
    m: &mut [f64],
    scale: f64,
    r: &mut [f64],
    fac: &mut [f64],
) -> LossSum {
    match width {
        Width::Plain => lanes(b, m, scale, r, fac),
        // SAFETY: `width` is one of `Width::available()`, so the CPU has its features.
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => unsafe { lanes_avx2(b, m, scale, r, fac) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => unsafe { lanes_avx512(b, m, scale, r, fac) },
    }
    let mut sum = LossSum::default();
    for (&lin, &f) in m.iter().zip(fac.iter()) {
        sum.add(lin, f);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::{Logistic, MarginLoss};

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_is_within_two_ulp_of_std() {
        let mut worst = 0;
        let mut x = 0.0f64;
        while x > -745.0 {
            for dx in [0.0, -1e-9, -0.123_456_789, -0.346_573_590_279_972_6] {
                let y = x + dx;
                worst = worst.max(ulps(exp_nonpositive(y), y.exp()));
            }
            x -= 0.0137;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        // Subnormal results: within one unit of the smallest subnormal.
        for y in [-709.0, -720.5, -740.0, -744.4] {
            assert!((exp_nonpositive(y) - y.exp()).abs() <= 2.0 * f64::from_bits(1));
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        assert_eq!(exp_nonpositive(-746.0), 0.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f64::NAN).is_nan());
    }

    #[test]
    fn lanes_match_the_scalar_loss_and_each_other_bit_for_bit() {
        // Margins over a wide range (both signs of t, huge |t|, NaN), 37 samples
        // (a vector tail).
        let m: Vec<f64> = (0..37)
            .map(|i| match i {
                35 => f64::NAN,
                36 => 800.0,
                _ => (i as f64 - 18.0) * 1.7 + 0.01 * i as f64,
            })
            .collect();
        let b: Vec<f64> = (0..37)
            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
            .collect();
        let mut runs = Vec::new();
        for width in Width::available() {
            let (mut mm, mut r, mut fac) = (m.clone(), vec![0.0; 37], vec![0.0; 37]);
            let sum = logistic_with(width, &b, &mut mm, 0.25, &mut r, &mut fac);
            runs.push((r, mm, fac, sum.total()));
        }
        let bits = |v: &[f64]| v.iter().map(|t| t.to_bits()).collect::<Vec<_>>();
        for run in &runs[1..] {
            assert_eq!(bits(&runs[0].0), bits(&run.0));
            assert_eq!(bits(&runs[0].1), bits(&run.1));
            assert_eq!(bits(&runs[0].2), bits(&run.2));
            assert!(run.3.is_nan());
        }
        assert!(runs[0].3.is_nan());
        // Against the libm-based loss: derivatives within a few ulp.
        let (r, lin, fac, _) = &runs[0];
        for i in 0..35 {
            let (d, l, f) = Logistic::derivative_log_split(m[i], b[i]);
            assert!(
                ulps(r[i], d * 0.25) <= 3,
                "sample {i}: {} vs {}",
                r[i],
                d * 0.25
            );
            assert_eq!(lin[i], l);
            assert!(ulps(fac[i], f) <= 1);
        }
        assert!(r[35].is_nan());
        assert_eq!(r[36], 0.0); // t = −800: e underflows to 0
    }
}
