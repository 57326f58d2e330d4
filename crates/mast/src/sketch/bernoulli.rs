use rand::{Rng, RngCore};

use super::{Sketch, SketchDraw, MAX_ENUMERATION};
use crate::error::{MastError, Result};
use crate::rng::MastRng;

/// Bernoulli ("dropout") sketch: coordinate j is kept with probability `p_j` and
/// then scaled by `1/p_j`, independently. `p` is the KEEP probability.
///
/// `E[SᵀS] = Diag(1/p_j)`, `L_D = 1/min p`, `μ_D = 1/max p`, `L_S^max = 1/min p²`.
///
/// Sampling a uniform p (d > 128): geometric skips for p ≤ 1/16 (O(|Ω|)); 64
/// coordinates a word when p has at most 32 binary digits (p = ½: one generator
/// output per 64 coordinates); else one 53-bit trial per coordinate. For d ≤ 128
/// the draws are those of earlier versions (skips up to p = ¼, then trials).
///
/// ```
/// use mast::sketch::{Bernoulli, Sketch};
/// let s = Bernoulli::new(10, 0.5).unwrap();
/// assert_eq!(s.l_d(), 2.0);
/// assert_eq!(s.l_s_max(), 4.0);
/// ```
#[derive(Debug, Clone)]
pub struct Bernoulli {
    keep: Keep,
    /// The spec text of a per-coordinate sketch, where it was made from one
    /// (importance sampling).
    label: Option<String>,
}

#[derive(Debug, Clone)]
enum Keep {
    Uniform { d: usize, p: f64 },
    PerCoordinate(Vec<f64>),
}

fn check_p(p: f64, what: &str) -> Result<()> {
    if !(p > 0.0 && p <= 1.0) {
        return Err(MastError::param(
            "keep_prob",
            format!(
                "{what} must be in (0, 1] (it is the probability of keeping a coordinate), got {p}"
            ),
        ));
    }
    // L_S^max = 1/p² must be a number (below about 1.5e-154 it overflows to ∞).
    if !(1.0 / (p * p)).is_finite() {
        return Err(MastError::param(
            "keep_prob",
            format!("{what} = {p} is too small: 1/p² (the sketch's L_S^max) overflows"),
        ));
    }
    Ok(())
}

impl Bernoulli {
    /// Every coordinate kept with probability `keep_prob` ∈ (0, 1]; probabilities
    /// so small that `1/p²` (L_S^max) overflows (below about 1.5e-154) are refused.
    pub fn new(d: usize, keep_prob: f64) -> Result<Self> {
        check_p(keep_prob, "keep_prob")?;
        Ok(Bernoulli {
            keep: Keep::Uniform { d, p: keep_prob },
            label: None,
        })
    }

    /// Coordinate j kept with probability `keep_probs[j]` ∈ (0, 1].
    pub fn per_coordinate(keep_probs: Vec<f64>) -> Result<Self> {
        for (j, &p) in keep_probs.iter().enumerate() {
            check_p(p, &format!("keep_prob[{j}]"))?;
        }
        Ok(Bernoulli {
            keep: Keep::PerCoordinate(keep_probs),
            label: None,
        })
    }

    /// Importance sampling (Hanzely & Richtárik 2018): coordinate j kept with
    /// probability `p_j = min(1, c·w_j)`, with `c` chosen so that `Σ_j p_j =
    /// fraction·d` (the expected kept fraction), for nonnegative weights `w`
    /// (e.g. `√L_j` from [`crate::objective::Objective::coordinate_smoothness`]).
    /// Weights below 10⁻³ of their mean are raised to it, so that every coordinate
    /// has a chance and `L_S^max = 1/min p²` stays finite.
    ///
    /// ```
    /// use mast::sketch::{Bernoulli, Sketch};
    /// let s = Bernoulli::importance(&[1.0, 1.0, 2.0, 8.0], 0.5).unwrap();
    /// // c = 1/4: p = (¼, ¼, ½, 1), which sums to 2 = 0.5·4.
    /// assert_eq!((0..4).map(|j| s.keep_prob(j)).collect::<Vec<_>>(), [0.25, 0.25, 0.5, 1.0]);
    /// ```
    pub fn importance(weights: &[f64], fraction: f64) -> Result<Self> {
        let d = weights.len();
        if d == 0 {
            return Err(MastError::param("sketch", "importance: no coordinates"));
        }
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(MastError::param(
                "keep_prob",
                format!("importance: the expected kept fraction must be in (0, 1], got {fraction}"),
            ));
        }
        if let Some((j, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(MastError::param(
                "sketch",
                format!("importance: weight {j} is {w}; weights must be finite and ≥ 0"),
            ));
        }
        let mean = weights.iter().sum::<f64>() / d as f64;
        if mean <= 0.0 {
            return Err(MastError::param(
                "sketch",
                "importance: every weight is 0 (no coordinate carries any curvature)",
            ));
        }
        let floor = 1e-3 * mean;
        let w: Vec<f64> = weights.iter().map(|&w| w.max(floor)).collect();
        // Water-filling: the t largest weights are capped at p = 1, the rest get
        // c·w_j with c = (target − t) / (sum of the rest).
        let target = fraction * d as f64;
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| w[b].total_cmp(&w[a]).then(a.cmp(&b)));
        let mut rest: f64 = w.iter().sum();
        let mut c = target / rest;
        let mut capped = 0;
        while capped < d && c * w[order[capped]] > 1.0 {
            rest -= w[order[capped]];
            capped += 1;
            c = if rest > 0.0 {
                (target - capped as f64) / rest
            } else {
                0.0
            };
        }
        let mut probs: Vec<f64> = w.iter().map(|&wj| (c * wj).min(1.0)).collect();
        for &j in &order[..capped] {
            probs[j] = 1.0;
        }
        Self::per_coordinate(probs)
    }

    /// The same sketch, described by `spec` (what [`Sketch::spec`] returns) rather
    /// than `bernoulli:per-coordinate`.
    pub fn with_spec(mut self, spec: impl Into<String>) -> Self {
        self.label = Some(spec.into());
        self
    }

    /// Keep probability of coordinate j.
    pub fn keep_prob(&self, j: usize) -> f64 {
        match &self.keep {
            Keep::Uniform { p, .. } => *p,
            Keep::PerCoordinate(v) => v[j],
        }
    }

    fn min_p(&self) -> f64 {
        match &self.keep {
            Keep::Uniform { p, .. } => *p,
            Keep::PerCoordinate(v) => v.iter().copied().fold(1.0, f64::min),
        }
    }
}

/// Uniform keep probabilities up to this one are drawn by geometric skips (for
/// d > 128); larger ones coordinate by coordinate, where a kept coordinate costs
/// a few generator outputs rather than a logarithm.
const GEOMETRIC_MAX_P: f64 = 1.0 / 16.0;

/// `p·2³²` when it is a whole number (p has at most 32 binary digits, as ½, ¼,
/// 3/8): then a word of 64 coordinates costs at most 32 generator outputs (one
/// for p = ½) instead of 64.
fn short_binary(p: f64) -> Option<u64> {
    let scaled = p * 4_294_967_296.0;
    (scaled.fract() == 0.0 && scaled > 0.0 && scaled < 4_294_967_296.0).then_some(scaled as u64)
}

/// Each of `0..d` kept with probability p, into `out` (cleared first) in
/// increasing order and into the bit set `bits` (Ω's membership test): coordinate j is kept when the generator's next 53-bit
/// uniform `U = (w >> 11)/2⁵³` is below p, the same trial as `rng.random::<f64>() <
/// p` (so the same draws), as an integer compare: `w >> 11 < ⌈p·2⁵³⌉`. Branch-free,
/// with the generator in registers.
fn keep_each(d: usize, p: f64, rng: &mut MastRng, out: &mut Vec<usize>, bits: &mut Vec<u64>) {
    // U < p ⟺ m·2⁻⁵³ < p ⟺ m < p·2⁵³ ⟺ m < ⌈p·2⁵³⌉ for the integer m = w >> 11
    // (p·2⁵³ is exact: a power-of-two scaling).
    let threshold = (p * (1u64 << 53) as f64).ceil() as u64;
    let mut local = rng.clone();
    out.clear();
    out.reserve(d);
    bits.clear();
    bits.reserve(d.div_ceil(64));
    // Written through the spare capacity (no d-sized clearing first).
    let picked = &mut out.spare_capacity_mut()[..d];
    let mut len = 0;
    let mut word = 0u64;
    for j in 0..d {
        let keep = (local.next_u64() >> 11) < threshold;
        word |= u64::from(keep) << (j & 63);
        if j & 63 == 63 {
            bits.push(word);
            word = 0;
        }
        picked[len].write(j); // kept only if `len` then moves past it
        len += usize::from(keep);
    }
    if d & 63 != 0 {
        bits.push(word);
    }
    // SAFETY: the first `len` entries were written (each position below `len`
    // was written when `len` moved past it), and len ≤ d ≤ capacity.
    unsafe { out.set_len(len) };
    *rng = local;
}

impl Sketch for Bernoulli {
    fn dim(&self) -> usize {
        match &self.keep {
            Keep::Uniform { d, .. } => *d,
            Keep::PerCoordinate(v) => v.len(),
        }
    }

    fn spec(&self) -> String {
        match &self.keep {
            Keep::Uniform { p, .. } => format!("bernoulli:{p}"),
            Keep::PerCoordinate(_) => self
                .label
                .clone()
                .unwrap_or_else(|| "bernoulli:per-coordinate".into()),
        }
    }

    fn draw(&self, rng: &mut MastRng, out: &mut SketchDraw) {
        out.clear();
        match &self.keep {
            Keep::Uniform { d, p } => {
                let (d, p) = (*d, *p);
                let scale = 1.0 / p;
                if p >= 1.0 {
                    out.indices.extend(0..d);
                    out.scales.resize(d, 1.0);
                    out.set_common_scale(1.0);
                    return;
                } else if p <= GEOMETRIC_MAX_P || (d <= 128 && p <= 0.25) {
                    // Geometric skipping: O(|Ω|) expected instead of O(d), each
                    // kept coordinate a logarithm. (Up to p = 1/4 for d ≤ 128, as
                    // before large d had its own sampler: the same draws there.)
                    let log_q = (-p).ln_1p(); // ln(1 − p), exact for tiny p
                    let mut j: usize = 0;
                    loop {
                        let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                        let gap = (u.ln() / log_q).floor();
                        if gap >= (d - j) as f64 {
                            break;
                        }
                        j += gap as usize;
                        out.indices.push(j);
                        j += 1;
                        if j >= d {
                            break;
                        }
                    }
                } else if let Some(level) = short_binary(p).filter(|_| d > 128) {
                    // p = level/2³²: 64 coordinates a word, exactly p each.
                    let count = super::masks::bernoulli_bits(d, level, 32, rng, &mut out.bits);
                    out.finish_from_bits(count, scale);
                    return;
                } else {
                    keep_each(d, p, rng, &mut out.indices, &mut out.bits);
                    out.set_member_bits();
                }
                out.scales.resize(out.indices.len(), scale);
                out.set_common_scale(scale);
            }
            Keep::PerCoordinate(ps) => {
                for (j, &p) in ps.iter().enumerate() {
                    if rng.random::<f64>() < p {
                        out.indices.push(j);
                        out.scales.push(1.0 / p);
                    }
                }
            }
        }
    }

    fn second_moment(&self, j: usize, l: usize) -> f64 {
        if j == l {
            1.0 / self.keep_prob(j)
        } else {
            1.0
        }
    }

    fn l_s_max(&self) -> f64 {
        let p = self.min_p();
        1.0 / (p * p)
    }

    fn expected_kept(&self) -> f64 {
        (0..self.dim()).map(|j| self.keep_prob(j)).sum()
    }

    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>> {
        let d = self.dim();
        if d > 20 || 2f64.powi(d as i32) > MAX_ENUMERATION {
            return None;
        }
        let mut out = Vec::with_capacity(1 << d);
        for mask in 0u64..(1u64 << d) {
            let mut prob = 1.0;
            let (mut idx, mut sc) = (Vec::new(), Vec::new());
            for j in 0..d {
                let p = self.keep_prob(j);
                if mask >> j & 1 == 1 {
                    prob *= p;
                    idx.push(j);
                    sc.push(1.0 / p);
                } else {
                    prob *= 1.0 - p;
                }
            }
            if prob > 0.0 {
                out.push((prob, SketchDraw::from_parts(idx, sc)));
            }
        }
        Some(out)
    }
}
