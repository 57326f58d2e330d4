use super::{Sketch, SketchDraw};
use crate::rng::MastRng;

/// `S = I`: no sparsification. Algorithm 1 with it is plain (S)GD.
#[derive(Debug, Clone)]
pub struct Identity {
    d: usize,
}

impl Identity {
    /// The identity sketch in dimension `d`.
    pub fn new(d: usize) -> Self {
        Identity { d }
    }
}

impl Sketch for Identity {
    fn dim(&self) -> usize {
        self.d
    }
    fn spec(&self) -> String {
        "identity".into()
    }
    fn draw(&self, _rng: &mut MastRng, out: &mut SketchDraw) {
        out.clear();
        out.indices.extend(0..self.d);
        out.scales.resize(self.d, 1.0);
        out.set_common_scale(1.0);
    }
    fn second_moment(&self, _j: usize, _l: usize) -> f64 {
        1.0
    }
    fn l_s_max(&self) -> f64 {
        1.0
    }
    fn expected_kept(&self) -> f64 {
        self.d as f64
    }
    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>> {
        Some(vec![(
            1.0,
            SketchDraw::from_parts((0..self.d).collect(), vec![1.0; self.d]),
        )])
    }
}
