//! The training methods and their host-side masks.
//!
//! All masks are drawn on the host from mast's seeded generators and uploaded
//! with `Tensor::from_data` (burn's random tensors are never used), so a seed
//! fixes every mask of a run.
//!
//! | method | spec | what is masked | mask entries |
//! |---|---|---|---|
//! | plain training (ERM) | `erm` | nothing | — |
//! | standard Dropout | `dropout:P` | hidden activations | 0 w.p. P, else 1/(1−P) (PyTorch: P is the DROP probability) |
//! | DropConnect | `dropconnect:p` | weights | 0 or 1, kept w.p. p (unscaled, biased) |
//! | MAST Bernoulli | `bernoulli:p` | weights | 0 or 1/p, kept w.p. p (E = 1) |
//! | MAST Rand-K | `rand-k:q` | weights, per tensor | exactly K = round(q·d) kept, scaled d/K |
//! | MAST neuron-level | `neuron:p` | output units of hidden layers | one keep/drop per unit, 0 or 1/p on the unit's weights and bias |
//!
//! Biases are masked by the per-weight sketches only when `sketch_bias` is set;
//! neuron-level masks always include the unit's bias (so a dropped unit outputs 0).
//!
//! Per-entry Bernoulli masks (Dropout, DropConnect, MAST Bernoulli) resolve the
//! keep probability to 2⁻³² ([`Keep`]): an entry is kept with probability exactly
//! `p' = round(p·2³²)/2³²` and the scaled methods use `1/p'`, so their masks have
//! mean exactly 1 (see [`crate::lanes`] for the generator).

use burn::tensor::{Tensor, TensorData};
use mast::rng::MastRng;
use mast::sketch::{Bernoulli, RandK, Sketch, SketchDraw};

use crate::error::{NnError, Result};
use crate::lanes::Keep;
use crate::model::{ParamKind, ParamSpec};

/// A training method: plain training, a baseline, or MAST with a sketch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Plain training of `f` (no masks).
    Erm,
    /// Standard (inverted) Dropout on hidden activations; `drop_prob` is PyTorch's `p`.
    Dropout {
        /// Probability of DROPPING an activation.
        drop_prob: f64,
    },
    /// DropConnect: weights kept with probability `keep_prob`, NOT rescaled.
    DropConnect {
        /// Probability of keeping a weight.
        keep_prob: f64,
    },
    /// MAST with the Bernoulli sketch: kept with probability `keep_prob`, scaled 1/p.
    Bernoulli {
        /// Probability of keeping a weight (MAST's p).
        keep_prob: f64,
    },
    /// MAST with Rand-K per tensor: a fraction `fraction` kept, scaled d/K.
    RandK {
        /// q = K/d.
        fraction: f64,
    },
    /// MAST with neuron-level (structured) masks: each hidden unit kept with
    /// probability `keep_prob`, its weights and bias scaled by 1/p.
    Neuron {
        /// Probability of keeping a unit.
        keep_prob: f64,
    },
}

impl Method {
    /// Whether the method trains MAST's objective (an unbiased sketch of the weights).
    pub fn is_mast(&self) -> bool {
        matches!(
            self,
            Method::Bernoulli { .. } | Method::RandK { .. } | Method::Neuron { .. }
        )
    }

    /// Whether the method masks weights (as opposed to nothing or activations).
    pub fn masks_weights(&self) -> bool {
        self.is_mast() || matches!(self, Method::DropConnect { .. })
    }

    fn check(self) -> Result<Self> {
        let (name, v, open_one) = match self {
            Method::Erm => return Ok(self),
            Method::Dropout { drop_prob } => ("dropout", drop_prob, false),
            Method::DropConnect { keep_prob } => ("dropconnect", keep_prob, true),
            Method::Bernoulli { keep_prob } => ("bernoulli", keep_prob, true),
            Method::RandK { fraction } => ("rand-k", fraction, true),
            Method::Neuron { keep_prob } => ("neuron", keep_prob, true),
        };
        let ok = if open_one {
            v > 0.0 && v <= 1.0
        } else {
            (0.0..1.0).contains(&v)
        };
        if !ok {
            let range = if open_one {
                "(0, 1] (a KEEP probability or fraction)"
            } else {
                "[0, 1) (the DROP probability, as in PyTorch)"
            };
            return Err(NnError::param(
                "methods",
                format!("{name}:{v}: the value must be in {range}"),
            ));
        }
        Ok(self)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Erm => write!(f, "erm"),
            Method::Dropout { drop_prob } => write!(f, "dropout:{drop_prob}"),
            Method::DropConnect { keep_prob } => write!(f, "dropconnect:{keep_prob}"),
            Method::Bernoulli { keep_prob } => write!(f, "bernoulli:{keep_prob}"),
            Method::RandK { fraction } => write!(f, "rand-k:{fraction}"),
            Method::Neuron { keep_prob } => write!(f, "neuron:{keep_prob}"),
        }
    }
}

impl std::str::FromStr for Method {
    type Err = NnError;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s, None),
        };
        let value = |what: &str| -> Result<f64> {
            let a = arg
                .ok_or_else(|| NnError::param("methods", format!("`{s}`: write {name}:{what}")))?;
            a.parse::<f64>()
                .map_err(|_| NnError::param("methods", format!("`{s}`: `{a}` is not a number")))
        };
        let m = match name {
            "erm" | "plain" if arg.is_none() => Method::Erm,
            "dropout" => Method::Dropout {
                drop_prob: value("DROP_PROB")?,
            },
            "dropconnect" => Method::DropConnect {
                keep_prob: value("KEEP_PROB")?,
            },
            "bernoulli" => Method::Bernoulli {
                keep_prob: value("KEEP_PROB")?,
            },
            "rand-k" => Method::RandK {
                fraction: value("FRACTION")?,
            },
            "neuron" => Method::Neuron {
                keep_prob: value("KEEP_PROB")?,
            },
            _ => {
                return Err(NnError::param(
                    "methods",
                    format!(
                        "unknown method `{s}`: use erm, dropout:DROP_PROB, dropconnect:KEEP_PROB, \
                         bernoulli:KEEP_PROB, rand-k:FRACTION or neuron:KEEP_PROB"
                    ),
                ))
            }
        };
        m.check()
    }
}

impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Fills `out` with independent Bernoulli draws: `value` with probability
/// `keep` (resolved to 2⁻³²: [`Keep`]), else 0. Eight interleaved Xoshiro256++
/// generators seeded from `rng`, branch-free and vectorised
/// ([`crate::lanes::fill_bernoulli`]); `rng` advances by [`crate::lanes::LANES`] outputs.
pub fn fill_bernoulli(rng: &mut MastRng, keep: f64, value: f32, out: &mut [f32]) {
    crate::lanes::fill_bernoulli(rng, Keep::new(keep), value, out)
}

/// Applies standard Dropout to hidden activations, or nothing.
#[derive(Debug)]
pub struct ActHook<'a> {
    dropout: Option<(f64, &'a mut MastRng)>,
}

impl<'a> ActHook<'a> {
    /// No activation masks (evaluation, and every method but Dropout).
    pub fn none() -> Self {
        ActHook { dropout: None }
    }

    /// Inverted Dropout with drop probability `drop_prob` (PyTorch semantics):
    /// each activation is zeroed with probability `drop_prob`, the others are
    /// scaled by `1/(1 − drop_prob)`.
    pub fn dropout(drop_prob: f64, rng: &'a mut MastRng) -> Self {
        ActHook {
            dropout: Some((drop_prob, rng)),
        }
    }

    /// Applies the hook to a hidden activation.
    pub fn apply<const D: usize>(&mut self, h: Tensor<D>) -> Tensor<D> {
        let Some((drop, rng)) = self.dropout.as_mut() else {
            return h;
        };
        if *drop <= 0.0 {
            return h;
        }
        let dims = h.dims();
        let n: usize = dims.iter().product();
        // Kept with probability exactly p' = 1 − P resolved to 2⁻³², scaled 1/p'.
        let keep = Keep::new(1.0 - *drop);
        let buf = crate::lanes::bernoulli_vec(rng, keep, keep.inverse(), n);
        let mask = Tensor::<D>::from_data(TensorData::new(buf, dims), &h.device());
        h * mask
    }
}

/// The mask of one parameter tensor for one step.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamMask {
    /// The tensor is used as it is.
    Identity,
    /// Multiply entry-wise by these values.
    Dense(Vec<f32>),
}

/// One step's weight masks: per tensor, and (for neuron-level sketches) the kept
/// units of each droppable layer.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMasks {
    /// One mask per parameter tensor.
    pub params: Vec<ParamMask>,
    /// For neuron-level sketches: the kept units of each layer (`None` for layers
    /// that are never dropped), and the scale 1/p of kept units.
    pub neurons: Option<(Vec<Option<Vec<usize>>>, f32)>,
}

/// Draws the per-step weight masks of a method.
#[derive(Debug)]
pub struct MaskSampler {
    method: Method,
    specs: Vec<ParamSpec>,
    sketch_bias: bool,
    rand_k: Vec<Option<RandK>>,
    neuron_dense: bool,
    draw: SketchDraw,
}

impl MaskSampler {
    /// A sampler for `method` over the parameters `specs`. With `neuron_dense`
    /// false, neuron-level draws leave the per-tensor masks as identities (the
    /// caller uses the kept units directly, as in [`crate::model::Mlp::forward_neuron`]).
    pub fn new(
        method: Method,
        specs: &[ParamSpec],
        sketch_bias: bool,
        neuron_dense: bool,
    ) -> Result<Self> {
        let rand_k = specs
            .iter()
            .map(|s| match method {
                Method::RandK { fraction } if s.kind == ParamKind::Weight || sketch_bias => {
                    RandK::with_fraction(s.numel(), fraction).map(Some)
                }
                _ => Ok(None),
            })
            .collect::<mast::Result<Vec<_>>>()?;
        Ok(MaskSampler {
            method,
            specs: specs.to_vec(),
            sketch_bias,
            rand_k,
            neuron_dense,
            draw: SketchDraw::new(),
        })
    }

    fn sketched(&self, s: &ParamSpec) -> bool {
        s.kind == ParamKind::Weight || self.sketch_bias
    }

    /// Draws the masks of one step from `rng` (mast's `Sketch` stream).
    pub fn sample(&mut self, rng: &mut MastRng) -> Result<StepMasks> {
        let specs = &self.specs;
        let mut params = Vec::with_capacity(specs.len());
        let mut neurons = None;
        match self.method {
            Method::Erm | Method::Dropout { .. } => params.resize(specs.len(), ParamMask::Identity),
            Method::DropConnect { keep_prob } | Method::Bernoulli { keep_prob } => {
                // Kept with probability exactly p' = round(p·2³²)/2³²; MAST scales by
                // 1/p' so that E[S] = I exactly (DropConnect is unscaled).
                let keep = Keep::new(keep_prob);
                let value = match self.method {
                    Method::Bernoulli { .. } => keep.inverse(),
                    _ => 1.0,
                };
                for s in specs {
                    if self.sketched(s) {
                        let m = crate::lanes::bernoulli_vec(rng, keep, value, s.numel());
                        params.push(ParamMask::Dense(m));
                    } else {
                        params.push(ParamMask::Identity);
                    }
                }
            }
            Method::RandK { .. } => {
                for (s, rk) in specs.iter().zip(&self.rand_k) {
                    match rk {
                        Some(rk) => {
                            rk.draw(rng, &mut self.draw);
                            let mut m = vec![0.0; s.numel()];
                            for (j, c) in self.draw.iter() {
                                m[j] = c as f32;
                            }
                            params.push(ParamMask::Dense(m));
                        }
                        None => params.push(ParamMask::Identity),
                    }
                }
            }
            Method::Neuron { keep_prob } => {
                let layers = specs.iter().map(|s| s.layer + 1).max().unwrap_or(0);
                let mut kept: Vec<Option<Vec<usize>>> = vec![None; layers];
                for s in specs {
                    if s.droppable && kept[s.layer].is_none() {
                        Bernoulli::new(s.units, keep_prob)?.draw(rng, &mut self.draw);
                        kept[s.layer] = Some(self.draw.indices.clone());
                    }
                }
                let scale = (1.0 / keep_prob) as f32;
                // A layer with no kept unit cannot take the fast path: use dense masks.
                let need_dense = self.neuron_dense || kept.iter().flatten().any(Vec::is_empty);
                params = if need_dense {
                    neuron_dense_masks(specs, &kept, scale)
                } else {
                    vec![ParamMask::Identity; specs.len()]
                };
                neurons = Some((kept, scale));
            }
        }
        Ok(StepMasks { params, neurons })
    }
}

/// Expands neuron-level kept units to dense per-entry masks: entry `i` of a
/// droppable layer's tensor gets `scale` if its unit is kept, else 0.
pub fn neuron_dense_masks(
    specs: &[ParamSpec],
    kept: &[Option<Vec<usize>>],
    scale: f32,
) -> Vec<ParamMask> {
    specs
        .iter()
        .map(|s| match kept.get(s.layer).and_then(|k| k.as_ref()) {
            Some(units) if s.droppable => {
                let mut unit_value = vec![0.0f32; s.units];
                for &u in units {
                    unit_value[u] = scale;
                }
                // Entry i gets unit_value[(i / stride) % units]: one period of
                // `units · stride` entries, repeated.
                let stride = s.unit_stride.max(1);
                let period: Vec<f32> = unit_value
                    .iter()
                    .flat_map(|&v| std::iter::repeat_n(v, stride))
                    .collect();
                let n = s.numel();
                let mut m = Vec::with_capacity(n);
                while m.len() + period.len() <= n {
                    m.extend_from_slice(&period);
                }
                m.extend_from_slice(&period[..n - m.len()]);
                ParamMask::Dense(m)
            }
            _ => ParamMask::Identity,
        })
        .collect()
}

impl StepMasks {
    /// Masks that change nothing.
    pub fn identity(n: usize) -> Self {
        StepMasks {
            params: vec![ParamMask::Identity; n],
            neurons: None,
        }
    }

    /// The kept units and scale when the step is to take the neuron-level fast
    /// path (a neuron draw whose per-tensor masks were left as identities).
    pub fn fast_neurons(&self) -> Option<(&[Option<Vec<usize>>], f32)> {
        let (kept, scale) = self.neurons.as_ref()?;
        self.params
            .iter()
            .all(|m| *m == ParamMask::Identity)
            .then_some((kept.as_slice(), *scale))
    }
}
