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
    /// This is [`Mlp::gather_kept`] followed by [`Mlp::forward_kept`]; the trainer
    /// gathers outside autodiff instead and scatters the gradients of the kept
    /// parts itself (see [`crate::train::Trainer::step`]).
    ///
    /// `kept` has one index tensor per hidden layer, each non-empty.
    pub fn forward_neuron(
        &self,
        p: &[Tensor<1>],
        x: Tensor<2>,
        kept: &[Tensor<1, Int>],
        scale: f32,
    ) -> Tensor<2> {
        self.forward_kept(&self.gather_kept(p, kept), x, scale)
    }

    /// The kept rows and columns of every parameter: per layer `l`, the weight
    /// `[in, out]` restricted to the rows `kept[l − 1]` (if `l > 0`) and the columns
    /// `kept[l]` (if `l` is a hidden layer), and the bias restricted to `kept[l]`
    /// (hidden layers). See [`Mlp::kept_axes`].
    pub fn gather_kept(&self, p: &[Tensor<1>], kept: &[Tensor<1, Int>]) -> KeptParams {
        let layers = self.layers();
        let mut weights = Vec::with_capacity(layers);
        let mut biases = Vec::with_capacity(layers);
        for l in 0..layers {
            let mut w = p[2 * l]
                .clone()
                .reshape([self.widths[l], self.widths[l + 1]]);
            let mut b = p[2 * l + 1].clone();
            let (rows, cols) = Self::kept_axes(kept, l);
            if let Some(r) = rows {
                w = w.select(0, r.clone());
            }
            if let Some(c) = cols {
                w = w.select(1, c.clone());
                b = b.select(0, c.clone());
            }
            weights.push(w);
            biases.push(b);
        }
        KeptParams { weights, biases }
    }

    /// The kept rows (input units) and columns (output units) of layer `l`'s
    /// weight `[in, out]` for the index tensors `kept` (one per hidden layer):
    /// `None` where every unit is kept (the network's inputs and outputs).
    pub fn kept_axes<T>(kept: &[T], l: usize) -> (Option<&T>, Option<&T>) {
        let rows = l.checked_sub(1).and_then(|k| kept.get(k));
        (rows, kept.get(l))
    }

    /// The forward pass on the kept parts of the parameters (from
    /// [`Mlp::gather_kept`]): every hidden activation is `relu(scale · (h W + b))`.
    pub fn forward_kept(&self, kp: &KeptParams, x: Tensor<2>, scale: f32) -> Tensor<2> {
        let layers = self.layers();
        let mut h = x;
        for (l, (w, b)) in kp.weights.iter().zip(&kp.biases).enumerate() {
            h = linear(h, w.clone(), Some(b.clone()));
            if l + 1 < layers {
                h = relu(h.mul_scalar(scale));
            }
        }
        h
    }
}

/// The parameters of an [`Mlp`] restricted to the kept units of a neuron-level
/// draw ([`Mlp::gather_kept`]).
#[derive(Debug, Clone)]
pub struct KeptParams {
    /// Per layer, the weight `[kept in, kept out]`.
    pub weights: Vec<Tensor<2>>,
    /// Per layer, the bias `[kept out]`.
    pub biases: Vec<Tensor<1>>,
}
