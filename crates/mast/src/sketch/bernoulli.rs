use rand::Rng;

use super::{Sketch, SketchDraw, MAX_ENUMERATION};
use crate::error::{MastError, Result};
use crate::rng::MastRng;

/// Bernoulli ("dropout") sketch: coordinate j is kept with probability `p_j` and
/// then scaled by `1/p_j`, independently. `p` is the KEEP probability.
///
/// `E[SᵀS] = Diag(1/p_j)`, `L_D = 1/min p`, `μ_D = 1/max p`, `L_S^max = 1/min p²`.
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
        })
    }

    /// Coordinate j kept with probability `keep_probs[j]` ∈ (0, 1].
    pub fn per_coordinate(keep_probs: Vec<f64>) -> Result<Self> {
        for (j, &p) in keep_probs.iter().enumerate() {
            check_p(p, &format!("keep_prob[{j}]"))?;
        }
        Ok(Bernoulli {
            keep: Keep::PerCoordinate(keep_probs),
        })
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
            Keep::PerCoordinate(_) => "bernoulli:per-coordinate".into(),
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
                } else if p <= 0.25 {
                    // Geometric skipping: O(|Ω|) expected instead of O(d).
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
                        out.scales.push(scale);
                        j += 1;
                        if j >= d {
                            break;
                        }
                    }
                } else {
                    for j in 0..d {
                        if rng.random::<f64>() < p {
                            out.indices.push(j);
                            out.scales.push(scale);
                        }
                    }
                }
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
