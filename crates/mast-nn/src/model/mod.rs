//! Networks as plain functions of a list of flat parameter tensors.
//!
//! Every network lists its parameters as [`ParamSpec`]s (name, shape, kind, and
//! how its entries map to output units) and computes logits from one flat
//! `Tensor<1>` per parameter. Keeping the parameters outside the network is what
//! lets the trainer feed the forward pass `v + S(x − v)` instead of `x`, with
//! autodiff giving `∇_x = Sᵀ ∇f(v + S(x − v))`.

mod cnn;
mod mlp;
mod resnet;

pub use cnn::Cnn;
pub use mlp::{KeptParams, Mlp};
pub use resnet::ResNet;

use burn::tensor::{Tensor, TensorData};
use rand::Rng;

use crate::error::{NnError, Result};
use crate::mask::ActHook;

/// Whether a parameter is a weight (matrix, kernel) or a bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamKind {
    /// A weight matrix or convolution kernel.
    Weight,
    /// A bias vector.
    Bias,
}

/// One parameter tensor of a network.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParamSpec {
    /// Name, e.g. `fc1.weight`.
    pub name: String,
    /// Shape (linear weights are `[in, out]`, conv kernels `[out, in, kh, kw]`).
    pub shape: Vec<usize>,
    /// Weight or bias.
    pub kind: ParamKind,
    /// Fan-in, for initialisation (`U(−1/√fan_in, 1/√fan_in)`, PyTorch's default).
    pub fan_in: usize,
    /// The layer this parameter belongs to (weight and bias of a layer share it).
    pub layer: usize,
    /// Number of output units (neurons or channels) of the layer.
    pub units: usize,
    /// Flat entry `i` belongs to unit `(i / unit_stride) % units`.
    pub unit_stride: usize,
    /// Whether neuron-level sketches may drop this layer's units (not the output layer's).
    pub droppable: bool,
}

impl ParamSpec {
    /// Number of entries.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The output unit that flat entry `i` feeds.
    pub fn unit_of(&self, i: usize) -> usize {
        (i / self.unit_stride) % self.units
    }

    fn linear(
        layer: usize,
        name: &str,
        d_in: usize,
        d_out: usize,
        droppable: bool,
    ) -> [ParamSpec; 2] {
        [
            ParamSpec {
                name: format!("{name}.weight"),
                shape: vec![d_in, d_out],
                kind: ParamKind::Weight,
                fan_in: d_in,
                layer,
                units: d_out,
                unit_stride: 1,
                droppable,
            },
            ParamSpec {
                name: format!("{name}.bias"),
                shape: vec![d_out],
                kind: ParamKind::Bias,
                fan_in: d_in,
                layer,
                units: d_out,
                unit_stride: 1,
                droppable,
            },
        ]
    }

    fn conv(
        layer: usize,
        name: &str,
        c_in: usize,
        c_out: usize,
        k: usize,
        bias: bool,
    ) -> Vec<ParamSpec> {
        let mut v = vec![ParamSpec {
            name: format!("{name}.weight"),
            shape: vec![c_out, c_in, k, k],
            kind: ParamKind::Weight,
            fan_in: c_in * k * k,
            layer,
            units: c_out,
            unit_stride: c_in * k * k,
            droppable: true,
        }];
        if bias {
            v.push(ParamSpec {
                name: format!("{name}.bias"),
                shape: vec![c_out],
                kind: ParamKind::Bias,
                fan_in: c_in * k * k,
                layer,
                units: c_out,
                unit_stride: 1,
                droppable: true,
            });
        }
        v
    }
}

/// Which network to build.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ArchConfig {
    /// A multilayer perceptron with ReLU hidden layers.
    Mlp {
        /// Hidden layer widths, e.g. `[256, 256]`.
        #[serde(default = "default_hidden")]
        hidden: Vec<usize>,
    },
    /// Two 3×3 conv layers (each ReLU + 2×2 max-pool), one hidden FC layer, the classifier.
    Cnn {
        /// Channels of the two conv layers.
        #[serde(default = "default_cnn_channels")]
        channels: [usize; 2],
        /// Width of the hidden FC layer.
        #[serde(default = "default_cnn_fc")]
        fc: usize,
    },
    /// A small residual network without normalisation: a stride-2 stem, one residual
    /// block per stage (the later stages stride 2 with a 1×1 projection), global
    /// average pooling and the classifier.
    #[serde(rename = "resnet")]
    ResNet {
        /// Channels per stage, e.g. `[16, 32]`.
        #[serde(default = "default_resnet_channels")]
        channels: Vec<usize>,
    },
}

fn default_hidden() -> Vec<usize> {
    vec![256, 256]
}
fn default_cnn_channels() -> [usize; 2] {
    [16, 32]
}
fn default_cnn_fc() -> usize {
    128
}
fn default_resnet_channels() -> Vec<usize> {
    vec![16, 32]
}

impl Default for ArchConfig {
    fn default() -> Self {
        ArchConfig::Mlp {
            hidden: default_hidden(),
        }
    }
}

/// A network: an MLP, a small CNN or a small ResNet.
#[derive(Debug, Clone)]
pub enum Model {
    /// Multilayer perceptron.
    Mlp(Mlp),
    /// Small convolutional network.
    Cnn(Cnn),
    /// Small residual network.
    ResNet(ResNet),
}

impl Model {
    /// Builds the network for inputs of shape `[c, h, w]` and `classes` outputs.
    pub fn new(arch: &ArchConfig, input: [usize; 3], classes: usize) -> Result<Self> {
        if classes < 2 {
            return Err(NnError::param(
                "classes",
                format!("need at least 2 classes, got {classes}"),
            ));
        }
        Ok(match arch {
            ArchConfig::Mlp { hidden } => {
                Model::Mlp(Mlp::new(input.iter().product(), hidden, classes)?)
            }
            ArchConfig::Cnn { channels, fc } => {
                Model::Cnn(Cnn::new(input, *channels, *fc, classes)?)
            }
            ArchConfig::ResNet { channels } => {
                Model::ResNet(ResNet::new(input, channels, classes)?)
            }
        })
    }

    /// The parameter tensors, in the order `forward` takes them.
    pub fn specs(&self) -> &[ParamSpec] {
        match self {
            Model::Mlp(m) => &m.specs,
            Model::Cnn(m) => &m.specs,
            Model::ResNet(m) => &m.specs,
        }
    }

    /// Total number of parameters.
    pub fn num_params(&self) -> usize {
        self.specs().iter().map(ParamSpec::numel).sum()
    }

    /// Logits `[batch, classes]` for inputs `[batch, c·h·w]`, with parameters `p`
    /// (one flat tensor per spec); `hook` is applied to every hidden activation.
    pub fn forward(&self, p: &[Tensor<1>], x: Tensor<2>, hook: &mut ActHook) -> Tensor<2> {
        match self {
            Model::Mlp(m) => m.forward(p, x, hook),
            Model::Cnn(m) => m.forward(p, x, hook),
            Model::ResNet(m) => m.forward(p, x, hook),
        }
    }

    /// Seeded initialisation: every entry `U(−1/√fan_in, 1/√fan_in)` (PyTorch's
    /// default for linear and conv layers), residual-branch output kernels scaled
    /// down (see [`ResNet`]).
    pub fn init<R: Rng + ?Sized>(&self, rng: &mut R) -> HostParams {
        let mut values: Vec<Vec<f32>> = self
            .specs()
            .iter()
            .map(|s| {
                let bound = 1.0 / (s.fan_in as f64).sqrt();
                (0..s.numel())
                    .map(|_| rng.random_range(-bound..bound) as f32)
                    .collect()
            })
            .collect();
        if let Model::ResNet(r) = self {
            r.scale_init(&mut values);
        }
        HostParams { values }
    }
}

/// Parameter values on the host: one flat vector per [`ParamSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct HostParams {
    /// `values[i]` has `specs[i].numel()` entries.
    pub values: Vec<Vec<f32>>,
}

impl HostParams {
    /// All-zero parameters for `specs`.
    pub fn zeros(specs: &[ParamSpec]) -> Self {
        HostParams {
            values: specs.iter().map(|s| vec![0.0; s.numel()]).collect(),
        }
    }

    /// Reads tensors back to the host.
    pub fn from_tensors(p: &[Tensor<1>]) -> Self {
        HostParams {
            values: p.iter().map(|t| tensor_to_vec(t.clone())).collect(),
        }
    }

    /// Uploads to `device`, one flat tensor per parameter.
    pub fn to_tensors(&self, device: &burn::tensor::Device) -> Vec<Tensor<1>> {
        self.values
            .iter()
            .map(|v| Tensor::from_data(TensorData::new(v.clone(), [v.len()]), device))
            .collect()
    }

    /// Checks that the values fit `specs`.
    pub fn check(&self, specs: &[ParamSpec], what: &str) -> Result<()> {
        let ok = self.values.len() == specs.len()
            && self
                .values
                .iter()
                .zip(specs)
                .all(|(v, s)| v.len() == s.numel());
        if ok {
            Ok(())
        } else {
            Err(NnError::param(
                what,
                format!(
                    "parameters do not fit the network ({} tensors given, {} expected)",
                    self.values.len(),
                    specs.len()
                ),
            ))
        }
    }

    /// Encodes as bytes: `MASTNN01`, u32 tensor count, then per tensor u32 length
    /// and little-endian f32 values.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = b"MASTNN01".to_vec();
        out.extend((self.values.len() as u32).to_le_bytes());
        for v in &self.values {
            out.extend((v.len() as u32).to_le_bytes());
            for x in v {
                out.extend(x.to_le_bytes());
            }
        }
        out
    }

    /// Decodes [`HostParams::to_bytes`]; `path` names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &std::path::Path) -> Result<Self> {
        let bad = |m: &str| NnError::data(path, format!("not a mast-nn model file: {m}"));
        if bytes.len() < 12 || &bytes[..8] != b"MASTNN01" {
            return Err(bad("missing MASTNN01 header"));
        }
        let u32_at = |at: usize| -> Result<usize> {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or_else(|| bad("truncated"))
        };
        let count = u32_at(8)?;
        let mut at = 12;
        let mut values = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let len = u32_at(at)?;
            at += 4;
            let end = len
                .checked_mul(4)
                .and_then(|b| b.checked_add(at))
                .ok_or_else(|| bad("bad length"))?;
            let chunk = bytes.get(at..end).ok_or_else(|| bad("truncated"))?;
            values.push(
                chunk
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            );
            at = end;
        }
        if at != bytes.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(HostParams { values })
    }
}

/// Copies a float tensor to a host `Vec<f32>`.
pub fn tensor_to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("a float tensor converts to f32")
}
