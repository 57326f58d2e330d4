//! The biased baseline: Bernoulli masks WITHOUT the 1/p rescaling.

use super::{Bernoulli, Sketch, SketchDraw};
use crate::error::Result;
use crate::rng::MastRng;

/// Standard Dropout on the weights as practitioners often use it ("DropConnect"
/// without rescaling): coordinate j is kept with probability `keep_prob` and
/// left at scale 1, so `E[S] = keep_prob · I ≠ I`.
///
/// This is NOT a MAST sketch: it is biased, none of the theory applies, and it is
/// provided only as a comparison baseline (`dropconnect:P` in configs). Its draws
/// keep exactly the coordinates that [`Bernoulli`] with the same `keep_prob` and
/// the same random stream would keep.
///
/// ```
/// use mast::rng::{stream, Stream};
/// use mast::sketch::{DropConnect, Sketch, SketchDraw};
/// let s = DropConnect::new(8, 0.5).unwrap();
/// let mut draw = SketchDraw::new();
/// s.draw(&mut stream(1, Stream::Sketch), &mut draw);
/// assert!(draw.scales.iter().all(|&c| c == 1.0));
/// assert!(!s.is_unbiased());
/// assert_eq!(s.second_moment(0, 0), 0.5);
/// ```
#[derive(Debug, Clone)]
pub struct DropConnect {
    mask: Bernoulli,
    keep_prob: f64,
}

impl DropConnect {
    /// Keep each coordinate with probability `keep_prob` ∈ (0, 1], unscaled.
    pub fn new(d: usize, keep_prob: f64) -> Result<Self> {
        Ok(DropConnect {
            mask: Bernoulli::new(d, keep_prob)?,
            keep_prob,
        })
    }

    /// The keep probability.
    pub fn keep_prob(&self) -> f64 {
        self.keep_prob
    }
}

impl Sketch for DropConnect {
    fn dim(&self) -> usize {
        self.mask.dim()
    }

    fn spec(&self) -> String {
        format!("dropconnect:{}", self.keep_prob)
    }

    fn draw(&self, rng: &mut MastRng, out: &mut SketchDraw) {
        self.mask.draw(rng, out);
        out.scales.fill(1.0);
    }

    fn second_moment(&self, j: usize, l: usize) -> f64 {
        let p = self.keep_prob;
        if j == l {
            p
        } else {
            p * p
        }
    }

    fn l_s_max(&self) -> f64 {
        1.0
    }

    fn expected_kept(&self) -> f64 {
        self.mask.expected_kept()
    }

    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>> {
        let mut all = self.mask.enumerate()?;
        for (_, draw) in &mut all {
            draw.scales.fill(1.0);
        }
        Some(all)
    }

    fn is_unbiased(&self) -> bool {
        false
    }
}
