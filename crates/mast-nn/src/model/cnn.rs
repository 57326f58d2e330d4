//! A small CNN: two 3×3 conv layers (padding 1, ReLU, 2×2 max-pool each), a hidden
//! fully connected layer and the classifier.

use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, linear, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::Tensor;

use super::ParamSpec;
use crate::error::{NnError, Result};
use crate::mask::ActHook;

/// The small CNN; parameters `conv1.*`, `conv2.*`, `fc1.*`, `fc2.*`.
#[derive(Debug, Clone)]
pub struct Cnn {
    input: [usize; 3],
    channels: [usize; 2],
    fc: usize,
    flat: usize,
    classes: usize,
    /// The parameter list.
    pub specs: Vec<ParamSpec>,
}

impl Cnn {
    /// A CNN for inputs `[c, h, w]` (h, w ≥ 4).
    pub fn new(input: [usize; 3], channels: [usize; 2], fc: usize, classes: usize) -> Result<Self> {
        let [c, h, w] = input;
        if h < 4 || w < 4 || c == 0 || channels.contains(&0) || fc == 0 {
            return Err(NnError::param(
                "model",
                format!(
                    "the CNN needs images of at least 4×4 and non-zero widths (got {c}×{h}×{w})"
                ),
            ));
        }
        let flat = channels[1] * (h / 4) * (w / 4);
        let mut specs = ParamSpec::conv(0, "conv1", c, channels[0], 3, true);
        specs.extend(ParamSpec::conv(
            1,
            "conv2",
            channels[0],
            channels[1],
            3,
            true,
        ));
        specs.extend(ParamSpec::linear(2, "fc1", flat, fc, true));
        specs.extend(ParamSpec::linear(3, "fc2", fc, classes, false));
        Ok(Cnn {
            input,
            channels,
            fc,
            flat,
            classes,
            specs,
        })
    }

    /// Logits for `x` `[batch, c·h·w]`.
    pub fn forward(&self, p: &[Tensor<1>], x: Tensor<2>, hook: &mut ActHook) -> Tensor<2> {
        let [c, h, w] = self.input;
        let b = x.dims()[0];
        let [c1, c2] = self.channels;
        let opts = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let pool = || MaxPoolOptions::new([2, 2]);
        let x = x.reshape([b, c, h, w]);
        let k1 = p[0].clone().reshape([c1, c, 3, 3]);
        let y = hook.apply(relu(conv2d(x, k1, Some(p[1].clone()), opts())));
        let y = max_pool2d(y, pool());
        let k2 = p[2].clone().reshape([c2, c1, 3, 3]);
        let y = hook.apply(relu(conv2d(y, k2, Some(p[3].clone()), opts())));
        let y = max_pool2d(y, pool()).reshape([b, self.flat]);
        let w1 = p[4].clone().reshape([self.flat, self.fc]);
        let y = hook.apply(relu(linear(y, w1, Some(p[5].clone()))));
        let w2 = p[6].clone().reshape([self.fc, self.classes]);
        linear(y, w2, Some(p[7].clone()))
    }
}
