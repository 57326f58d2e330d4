//! Multilayer perceptron: `Linear → ReLU → … → Linear`, weights stored `[in, out]`.

use burn::tensor::activation::relu;
use burn::tensor::module::linear;
use burn::tensor::{Int, Tensor};

use super::ParamSpec;
use crate::error::{NnError, Result};
use crate::mask::ActHook;

/// A multilayer perceptron; parameters are `fc{k}.weight` `[in, out]` and `fc{k}.bias`.
#[derive(Debug, Clone)]
pub struct Mlp {
    /// Layer widths, input first, classes last.
    pub widths: Vec<usize>,
    /// The parameter list (weight, bias per layer).
    pub specs: Vec<ParamSpec>,
}

impl Mlp {
    /// An MLP `d_in → hidden… → classes`.
    pub fn new(d_in: usize, hidden: &[usize], classes: usize) -> Result<Self> {
        if d_in == 0 || hidden.contains(&0) {
            return Err(NnError::param("model.hidden", "layer widths must be ≥ 1"));
        }
        let mut widths = vec![d_in];
        widths.extend_from_slice(hidden);
        widths.push(classes);
        let layers = widths.len() - 1;
        let specs = (0..layers)
            .flat_map(|l| {
                ParamSpec::linear(
                    l,
                    &format!("fc{}", l + 1),
                    widths[l],
                    widths[l + 1],
                    l + 1 < layers,
                )
            })
            .collect();
        Ok(Mlp { widths, specs })
    }

    fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// Logits for `x` `[batch, d_in]`.
    pub fn forward(&self, p: &[Tensor<1>], x: Tensor<2>, hook: &mut ActHook) -> Tensor<2> {
        let mut h = x;
        for l in 0..self.layers() {
            let w = p[2 * l]
                .clone()
                .reshape([self.widths[l], self.widths[l + 1]]);
            h = linear(h, w, Some(p[2 * l + 1].clone()));
            if l + 1 < self.layers() {
                h = hook.apply(relu(h));
            }
        }
        h
    }

    /// The neuron-level fast forward with shift `v = 0`: hidden layer `l` keeps only
    /// the units `kept[l]`, each scaled by `scale`, and the matrix products run on
    /// the kept rows and columns only (smaller matmuls). Equals [`Mlp::forward`] with
    /// the dense neuron mask (column `j` of layer `l`'s weight and bias multiplied by
    /// `scale` if `j ∈ kept[l]`, else by 0); gradients flow back to the full `p`
    /// through `select` (zero for dropped units).
    ///
    /// `kept` has one index tensor per hidden layer, each non-empty.
    pub fn forward_neuron(
        &self,
        p: &[Tensor<1>],
        x: Tensor<2>,
        kept: &[Tensor<1, Int>],
        scale: f32,
    ) -> Tensor<2> {
        let layers = self.layers();
        let mut h = x;
        for l in 0..layers {
            let mut w = p[2 * l]
                .clone()
                .reshape([self.widths[l], self.widths[l + 1]]);
            let mut b = p[2 * l + 1].clone();
            if l > 0 {
                w = w.select(0, kept[l - 1].clone());
            }
            if l + 1 < layers {
                w = w.select(1, kept[l].clone());
                b = b.select(0, kept[l].clone());
                h = relu(linear(h, w, Some(b)).mul_scalar(scale));
            } else {
                h = linear(h, w, Some(b));
            }
        }
        h
    }
}
