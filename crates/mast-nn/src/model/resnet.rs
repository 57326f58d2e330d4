//! A small residual network (no normalisation layers): a 3×3 stride-2 stem, one
//! basic block per stage (`x + conv(relu(conv(x)))`, then ReLU; stages after the
//! first stride 2 and project the shortcut with a 1×1 conv), global average
//! pooling and the classifier. The second kernel of each residual branch starts
//! scaled by 0.1, so the network begins close to its shortcut path (a stand-in for
//! the zero-initialised last batch-norm of deeper ResNets).

use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, linear};
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

use super::ParamSpec;
use crate::error::{NnError, Result};
use crate::mask::ActHook;

/// The small ResNet.
#[derive(Debug, Clone)]
pub struct ResNet {
    input: [usize; 3],
    channels: Vec<usize>,
    classes: usize,
    /// The parameter list.
    pub specs: Vec<ParamSpec>,
    /// Indices (into `specs`) of the second kernel of each residual branch.
    branch_out: Vec<usize>,
}

impl ResNet {
    /// A ResNet for inputs `[c, h, w]` with `channels[s]` channels in stage `s`.
    pub fn new(input: [usize; 3], channels: &[usize], classes: usize) -> Result<Self> {
        if channels.is_empty() || channels.contains(&0) || input[0] == 0 {
            return Err(NnError::param(
                "model.channels",
                "need at least one stage of ≥ 1 channels",
            ));
        }
        let mut specs = ParamSpec::conv(0, "stem", input[0], channels[0], 3, true);
        let mut branch_out = Vec::new();
        let mut layer = 1;
        let mut c_prev = channels[0];
        for (s, &c) in channels.iter().enumerate() {
            specs.extend(ParamSpec::conv(
                layer,
                &format!("stage{s}.conv1"),
                c_prev,
                c,
                3,
                true,
            ));
            layer += 1;
            branch_out.push(specs.len());
            specs.extend(ParamSpec::conv(
                layer,
                &format!("stage{s}.conv2"),
                c,
                c,
                3,
                true,
            ));
            layer += 1;
            if s > 0 {
                specs.extend(ParamSpec::conv(
                    layer,
                    &format!("stage{s}.proj"),
                    c_prev,
                    c,
                    1,
                    false,
                ));
                layer += 1;
            }
            c_prev = c;
        }
        specs.extend(ParamSpec::linear(layer, "fc", c_prev, classes, false));
        Ok(ResNet {
            input,
            channels: channels.to_vec(),
            classes,
            specs,
            branch_out,
        })
    }

    /// Scales the initial residual-branch output kernels by 0.1.
    pub(crate) fn scale_init(&self, values: &mut [Vec<f32>]) {
        for &i in &self.branch_out {
            for v in &mut values[i] {
                *v *= 0.1;
            }
        }
    }

    /// Logits for `x` `[batch, c·h·w]`.
    pub fn forward(&self, p: &[Tensor<1>], x: Tensor<2>, hook: &mut ActHook) -> Tensor<2> {
        let [c, h, w] = self.input;
        let b = x.dims()[0];
        let conv = |x: Tensor<4>,
                    k: &Tensor<1>,
                    bias: Option<&Tensor<1>>,
                    shape: [usize; 4],
                    stride: usize| {
            let pad = shape[2] / 2;
            conv2d(
                x,
                k.clone().reshape(shape),
                bias.cloned(),
                ConvOptions::new([stride, stride], [pad, pad], [1, 1], 1),
            )
        };
        let mut i = 0;
        let mut y = x.reshape([b, c, h, w]);
        y = hook.apply(relu(conv(
            y,
            &p[0],
            Some(&p[1]),
            [self.channels[0], c, 3, 3],
            2,
        )));
        i += 2;
        let mut c_prev = self.channels[0];
        for (s, &ch) in self.channels.iter().enumerate() {
            let stride = if s > 0 { 2 } else { 1 };
            let z = hook.apply(relu(conv(
                y.clone(),
                &p[i],
                Some(&p[i + 1]),
                [ch, c_prev, 3, 3],
                stride,
            )));
            let z = conv(z, &p[i + 2], Some(&p[i + 3]), [ch, ch, 3, 3], 1);
            i += 4;
            let shortcut = if s > 0 {
                let sc = conv(y, &p[i], None, [ch, c_prev, 1, 1], 2);
                i += 1;
                sc
            } else {
                y
            };
            y = hook.apply(relu(z + shortcut));
            c_prev = ch;
        }
        let [_, ch, hh, ww] = y.dims();
        let pooled = y.reshape([b, ch, hh * ww]).mean_dim(2).reshape([b, ch]);
        let wf = p[i].clone().reshape([c_prev, self.classes]);
        linear(pooled, wf, Some(p[i + 1].clone()))
    }
}
