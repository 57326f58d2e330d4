use rand::Rng;

use super::{RandK, Sketch, SketchDraw};
use crate::error::{MastError, Result};
use crate::rng::MastRng;

/// Perm-K for M nodes: one random permutation of the d coordinates cut into M
/// consecutive blocks; node i keeps block i. The node sketches partition the
/// coordinates (they are correlated), which is what makes Algorithm 2 with
/// Perm-K and v = 0 Independent Subnetwork Training.
///
/// **Block sizes and scales.** When M divides d every block has d/M coordinates
/// and scale M, so `(1/M) Σ_i S_i = I` exactly for every draw. When M does not
/// divide d, the first `d mod M` blocks get ⌈d/M⌉ coordinates and the rest ⌊d/M⌋;
/// block i is scaled by `d/|B_i|`, which keeps each node unbiased, `E[S_i] = I`
/// (Assumption 1), at the price of `(1/M) Σ_i S_i = I` holding only in
/// expectation.
///
/// As a single [`Sketch`] (for Algorithm 1) it is node 0's marginal: Rand-K with
/// K = |B_0|.
///
/// ```
/// use mast::sketch::{PermK, SketchDraw};
/// let s = PermK::new(10, 4).unwrap();
/// assert_eq!(s.block_sizes(), vec![3, 3, 2, 2]);
/// let mut nodes = vec![SketchDraw::new(); 4];
/// let mut scratch = Vec::new();
/// s.draw_joint(&mut mast::rng::stream(1, mast::rng::Stream::Sketch), &mut nodes, &mut scratch);
/// let total: usize = nodes.iter().map(|n| n.len()).sum();
/// assert_eq!(total, 10);
/// ```
#[derive(Debug, Clone)]
pub struct PermK {
    d: usize,
    m: usize,
}

impl PermK {
    /// Perm-K over `m` nodes in dimension `d` (1 ≤ m ≤ d).
    pub fn new(d: usize, m: usize) -> Result<Self> {
        if m == 0 || m > d {
            return Err(MastError::param(
                "nodes",
                format!("Perm-K needs 1 ≤ M ≤ d = {d} nodes, got M = {m}"),
            ));
        }
        Ok(PermK { d, m })
    }

    /// Number of nodes M.
    pub fn nodes(&self) -> usize {
        self.m
    }

    /// Size of each node's block.
    pub fn block_sizes(&self) -> Vec<usize> {
        let (base, extra) = (self.d / self.m, self.d % self.m);
        (0..self.m).map(|i| base + usize::from(i < extra)).collect()
    }

    /// Node i's marginal sketch: Rand-K with K = |B_i| (scale d/|B_i|).
    pub fn node_marginal(&self, i: usize) -> RandK {
        RandK::new(self.d, self.block_sizes()[i]).expect("block sizes are valid")
    }

    /// `max_i L_{S_i}^max = (d/⌊d/M⌋)²`: the worst node's bound (smallest block).
    pub fn max_node_l_s_max(&self) -> f64 {
        let r = self.d as f64 / (self.d / self.m) as f64;
        r * r
    }

    /// Draws all M node sketches jointly into `nodes` (resized to M); `perm` is
    /// scratch space reused across calls.
    pub fn draw_joint(
        &self,
        rng: &mut MastRng,
        nodes: &mut Vec<SketchDraw>,
        perm: &mut Vec<usize>,
    ) {
        if perm.len() != self.d {
            *perm = (0..self.d).collect();
        }
        // Fisher–Yates; the starting order does not matter for uniformity, so
        // the previous permutation is shuffled in place (no reset needed).
        for i in (1..self.d).rev() {
            let j = rng.random_range(0..=i);
            perm.swap(i, j);
        }
        nodes.resize_with(self.m, SketchDraw::new);
        let mut start = 0;
        for (node, size) in nodes.iter_mut().zip(self.block_sizes()) {
            node.clear();
            node.indices.extend_from_slice(&perm[start..start + size]);
            node.indices.sort_unstable();
            node.scales.resize(size, self.d as f64 / size as f64);
            node.set_common_scale(self.d as f64 / size as f64);
            start += size;
        }
    }
}

impl Sketch for PermK {
    fn dim(&self) -> usize {
        self.d
    }
    fn spec(&self) -> String {
        format!("perm-k:{}", self.m)
    }
    fn draw(&self, rng: &mut MastRng, out: &mut SketchDraw) {
        let k = self.block_sizes()[0];
        RandK::draw_subset(self.d, k, self.d as f64 / k as f64, rng, out);
    }
    fn second_moment(&self, j: usize, l: usize) -> f64 {
        RandK::pair_moment(self.d, self.block_sizes()[0], j, l)
    }
    fn l_s_max(&self) -> f64 {
        // Node 0's block is the largest (⌈d/M⌉), so its scale d/|B_0| is the smallest;
        // the worst node over all blocks is `max_node_l_s_max`.
        let r = self.d as f64 / self.block_sizes()[0] as f64;
        r * r
    }
    fn expected_kept(&self) -> f64 {
        self.block_sizes()[0] as f64
    }
    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>> {
        let k = self.block_sizes()[0];
        RandK::enumerate_subsets(self.d, k, self.d as f64 / k as f64)
    }
}
