//! Step masks on the device, where they come from (inline or a mask thread), and
//! the masked loss.

use burn::tensor::loss::cross_entropy_with_logits;
use burn::tensor::{Device, Int, Tensor, TensorData};
use mast::rng::MastRng;

use crate::error::{NnError, Result};
use crate::mask::{ActHook, MaskSampler, ParamMask, StepMasks};
use crate::model::{HostParams, Model};

/// Step masks on a device.
#[derive(Debug, Clone)]
pub struct DeviceMasks {
    pub(super) params: Vec<Option<Tensor<1>>>,
    /// With a shift v: `v ⊙ (1 − m)` per masked tensor, formed on the host while
    /// the mask is drawn, so that the forward pass is `m ⊙ x + v ⊙ (1 − m)` (one
    /// multiply and one add) instead of `v + m ⊙ (x − v)` (three operations).
    pub(super) offsets: Vec<Option<Tensor<1>>>,
    pub(super) fast: Option<FastNeurons>,
}

/// The neuron-level fast path of one step: the kept units of every hidden layer on
/// the device and on the host, and the scale 1/p of kept units.
#[derive(Debug, Clone)]
pub(super) struct FastNeurons {
    pub(super) kept: Vec<Tensor<1, Int>>,
    pub(super) host: Vec<Vec<usize>>,
    pub(super) scale: f32,
}

impl DeviceMasks {
    /// Uploads host masks. `fast_ok` allows the neuron-level fast path.
    pub fn upload(masks: StepMasks, device: &Device, fast_ok: bool) -> Self {
        Self::upload_shifted(masks, None, device, fast_ok)
    }

    /// Uploads host masks and, with a shift `v`, the offsets `v ⊙ (1 − m)` of the
    /// masked tensors (see [`masked_loss`]). `fast_ok` allows the neuron-level
    /// fast path.
    pub fn upload_shifted(
        masks: StepMasks,
        shift: Option<&HostParams>,
        device: &Device,
        fast_ok: bool,
    ) -> Self {
        let fast = if fast_ok {
            masks.fast_neurons().map(|(kept, scale)| {
                let idx = kept
                    .iter()
                    .flatten()
                    .map(|k| {
                        let v: Vec<i64> = k.iter().map(|&u| u as i64).collect();
                        let n = v.len();
                        Tensor::<1, Int>::from_data(TensorData::new(v, [n]), device)
                    })
                    .collect();
                FastNeurons {
                    kept: idx,
                    host: kept.iter().flatten().cloned().collect(),
                    scale,
                }
            })
        } else {
            None
        };
        let upload = |v: Vec<f32>| {
            let n = v.len();
            Tensor::from_data(TensorData::new(v, [n]), device)
        };
        let offsets = masks
            .params
            .iter()
            .enumerate()
            .map(|(i, m)| match (m, shift) {
                (ParamMask::Dense(m), Some(v)) => Some(upload(
                    v.values[i]
                        .iter()
                        .zip(m)
                        .map(|(&v, &m)| v - v * m)
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        let params = masks
            .params
            .into_iter()
            .map(|m| match m {
                ParamMask::Identity => None,
                ParamMask::Dense(v) => Some(upload(v)),
            })
            .collect();
        DeviceMasks {
            params,
            offsets,
            fast,
        }
    }

    /// The per-tensor dense masks (`None` where the tensor is not masked).
    pub fn dense_tensors(&self) -> Vec<Option<Tensor<1>>> {
        self.params.clone()
    }
}

/// The training loss at the masked model: cross-entropy of the network with
/// parameters `v + m ⊙ (x − v)` (`m ⊙ x` without a shift), or the neuron-level
/// fast forward when the masks call for it. With a shift and masks from
/// [`DeviceMasks::upload_shifted`], a masked tensor is formed as
/// `m ⊙ x + v ⊙ (1 − m)` with the host-made offset (the same value up to f32
/// rounding, and the same gradient `m ⊙ ∇f`).
pub fn masked_loss(
    model: &Model,
    x: &[Tensor<1>],
    shift: Option<&[Tensor<1>]>,
    masks: &DeviceMasks,
    hook: &mut ActHook,
    inputs: Tensor<2>,
    targets: Tensor<2>,
) -> Tensor<1> {
    let logits = match (&masks.fast, model, shift) {
        (Some(f), Model::Mlp(mlp), None) => mlp.forward_neuron(x, inputs, &f.kept, f.scale),
        _ => {
            let eff: Vec<Tensor<1>> = x
                .iter()
                .zip(&masks.params)
                .enumerate()
                .map(|(i, (p, m))| match (m, shift, masks.offsets.get(i)) {
                    (None, _, _) => p.clone(),
                    (Some(m), None, _) => p.clone() * m.clone(),
                    (Some(m), Some(_), Some(Some(c))) => p.clone() * m.clone() + c.clone(),
                    (Some(m), Some(v), _) => v[i].clone() + (p.clone() - v[i].clone()) * m.clone(),
                })
                .collect();
            model.forward(&eff, inputs, hook)
        }
    };
    cross_entropy_with_logits(logits, targets)
}

/// Where a run's weight masks come from: drawn inline, or by a helper thread
/// that keeps the next step's masks ready (bounded channel, same sequence).
#[derive(Debug)]
pub(super) enum MaskSource {
    Inline {
        sampler: Box<MaskSampler>,
        rng: MastRng,
        shift: Option<HostParams>,
        device: Device,
        fast_ok: bool,
    },
    Prefetch {
        /// Each step's masks with the generator's state after drawing them.
        rx: Option<std::sync::mpsc::Receiver<(Result<DeviceMasks>, MastRng)>>,
        worker: Option<std::thread::JoinHandle<()>>,
        /// The generator's state after the last mask handed out.
        consumed: MastRng,
    },
}

impl MaskSource {
    pub(super) fn new(
        sampler: MaskSampler,
        weights: bool,
        prefetch: bool,
        rng: MastRng,
        shift: Option<HostParams>,
        device: Device,
        fast_ok: bool,
    ) -> Self {
        if !(weights && prefetch) {
            return MaskSource::Inline {
                sampler: Box::new(sampler),
                rng,
                shift,
                device,
                fast_ok,
            };
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let consumed = rng.clone();
        let worker = std::thread::spawn(move || {
            let (mut sampler, mut rng) = (sampler, rng);
            loop {
                let m = sampler
                    .sample(&mut rng)
                    .map(|m| DeviceMasks::upload_shifted(m, shift.as_ref(), &device, fast_ok));
                if tx.send((m, rng.clone())).is_err() {
                    break;
                }
            }
        });
        MaskSource::Prefetch {
            rx: Some(rx),
            worker: Some(worker),
            consumed,
        }
    }

    /// The mask generator's state after the last mask handed out: a source made
    /// with it continues the same sequence of masks (whatever was prefetched).
    pub(super) fn rng_state(&self) -> MastRng {
        match self {
            MaskSource::Inline { rng, .. } => rng.clone(),
            MaskSource::Prefetch { consumed, .. } => consumed.clone(),
        }
    }

    pub(super) fn next(&mut self) -> Result<DeviceMasks> {
        match self {
            MaskSource::Inline {
                sampler,
                rng,
                shift,
                device,
                fast_ok,
            } => Ok(DeviceMasks::upload_shifted(
                sampler.sample(rng)?,
                shift.as_ref(),
                device,
                *fast_ok,
            )),
            MaskSource::Prefetch { rx, consumed, .. } => {
                match rx.as_ref().and_then(|rx| rx.recv().ok()) {
                    Some((masks, after)) => {
                        *consumed = after;
                        masks
                    }
                    None => Err(NnError::param("masks", "the mask thread stopped")),
                }
            }
        }
    }
}

impl Drop for MaskSource {
    fn drop(&mut self) {
        if let MaskSource::Prefetch { rx, worker, .. } = self {
            drop(rx.take());
            if let Some(w) = worker.take() {
                let _ = w.join();
            }
        }
    }
}
