//! Training: plain SGD (optionally with momentum and weight decay) on
//! `f(v + S(x − v))`, with the masks of the chosen [`Method`] drawn on the host.
//!
//! The parameters `x` are autodiff leaves; the forward pass sees
//! `v + m ⊙ (x − v)` per tensor (`m ⊙ x` when `v = 0`), so backpropagation gives
//! `∇_x = m ⊙ ∇f(v + m ⊙ (x − v)) = Sᵀ∇f(v + S(x − v))` — MAST's stochastic
//! gradient. Plain training uses `m = 1`; Dropout masks activations instead.

use std::time::Instant;

use burn::tensor::loss::cross_entropy_with_logits;
use burn::tensor::{DType, Device, IndexingUpdateOp, Int, Tensor, TensorData};
use mast::rng::{stream, MastRng, Stream};

use crate::data::{Batches, ImageSet};
use crate::device::DeviceChoice;
use crate::error::{NnError, Result};
use crate::mask::{ActHook, MaskSampler, Method, ParamMask, StepMasks};
use crate::model::{tensor_to_vec, HostParams, KeptParams, Mlp, Model};

/// Optimisation settings of one run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// Passes over the training set.
    pub epochs: usize,
    /// Minibatch size.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Learning rate γ (fixed).
    pub lr: f64,
    /// Heavy-ball momentum (0 for plain SGD).
    #[serde(default)]
    pub momentum: f64,
    /// ℓ2 weight decay added to the gradient.
    #[serde(default)]
    pub weight_decay: f64,
    /// Whether the per-weight sketches (DropConnect, Bernoulli, Rand-K) also mask biases.
    #[serde(default)]
    pub sketch_bias: bool,
    /// Whether neuron-level sketches take the fast forward (MLP with `v = 0` only).
    #[serde(default = "default_true")]
    pub neuron_fast: bool,
    /// Test images used for the per-epoch evaluation (all if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_limit: Option<usize>,
    /// Draw the weight masks of the next steps on a helper thread while the current
    /// step runs (the same masks, in the same order, as drawing them inline).
    #[serde(default = "default_true")]
    pub prefetch_masks: bool,
    /// Stop each epoch after this many steps (for tests and quick looks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps_per_epoch: Option<usize>,
    /// Where to train: `cpu` (default), or `cuda`, `cuda:N`, `wgpu` in builds
    /// with that cargo feature (see [`crate::device`]).
    #[serde(default, skip_serializing_if = "DeviceChoice::is_cpu")]
    pub device: DeviceChoice,
}

fn default_batch() -> usize {
    128
}
fn default_true() -> bool {
    true
}

impl TrainSettings {
    /// Checks the ranges.
    pub fn check(&self) -> Result<()> {
        let bad = |n: &str, m: String| Err(NnError::param(n, m));
        if self.batch == 0 {
            return bad("train.batch", "must be ≥ 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(
                "train.lr",
                format!("must be > 0 and finite, got {}", self.lr),
            );
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(
                "train.momentum",
                format!("must be in [0, 1), got {}", self.momentum),
            );
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(
                "train.weight_decay",
                format!("must be ≥ 0, got {}", self.weight_decay),
            );
        }
        Ok(())
    }
}

/// Metrics after one epoch (epoch 0 is the initial model).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// Epoch (0 = before training).
    pub epoch: usize,
    /// SGD steps so far.
    pub step: u64,
    /// Mean minibatch loss over the epoch, at the masked model the step saw
    /// (`f(v + S(x − v))` for MAST); NaN for epoch 0.
    pub train_loss: f64,
    /// Test loss of the trained model `x` (no masks).
    pub test_loss: f64,
    /// Test accuracy of `x`.
    pub test_accuracy: f64,
    /// Seconds spent in training steps so far.
    pub train_s: f64,
    /// Seconds since the run started (training and evaluation).
    pub wall_s: f64,
}

/// Loss and accuracy of a model on a set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eval {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// The CPU device (burn's flex backend), without autodiff.
pub fn cpu() -> Device {
    Device::flex()
}

/// Uploads a batch: inputs `[b, dim]` and one-hot targets `[b, classes]`.
pub fn batch_tensors(
    x: &[f32],
    y: &[u8],
    classes: usize,
    device: &Device,
) -> (Tensor<2>, Tensor<2>) {
    let b = y.len();
    let dim = x.len() / b.max(1);
    let mut onehot = vec![0.0f32; b * classes];
    for (i, &c) in y.iter().enumerate() {
        onehot[i * classes + c as usize] = 1.0;
    }
    (
        Tensor::from_data(TensorData::new(x.to_vec(), [b, dim]), device),
        Tensor::from_data(TensorData::new(onehot, [b, classes]), device),
    )
}

/// Step masks on a device.
#[derive(Debug, Clone)]
pub struct DeviceMasks {
    params: Vec<Option<Tensor<1>>>,
    /// With a shift v: `v ⊙ (1 − m)` per masked tensor, formed on the host while
    /// the mask is drawn, so that the forward pass is `m ⊙ x + v ⊙ (1 − m)` (one
    /// multiply and one add) instead of `v + m ⊙ (x − v)` (three operations).
    offsets: Vec<Option<Tensor<1>>>,
    fast: Option<FastNeurons>,
}

/// The neuron-level fast path of one step: the kept units of every hidden layer on
/// the device and on the host, and the scale 1/p of kept units.
#[derive(Debug, Clone)]
struct FastNeurons {
    kept: Vec<Tensor<1, Int>>,
    host: Vec<Vec<usize>>,
    scale: f32,
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

/// Learning rate, momentum and weight decay of an SGD step.
#[derive(Debug, Clone, Copy)]
struct HyperParams {
    lr: f64,
    mom: f64,
    wd: f64,
}

/// The kept rows and columns of one parameter seen as `[rows, cols]` (`None`:
/// every row or column), as device index tensors and on the host.
#[derive(Debug, Clone, Copy)]
struct Axes<'a> {
    rows: Option<(&'a Tensor<1, Int>, &'a [usize])>,
    cols: Option<(&'a Tensor<1, Int>, &'a [usize])>,
    /// Gather and scatter f32 tensors on the host (CPU backend): burn flex's
    /// `select` along dimension 1 moves one bounds-checked element at a time.
    host: bool,
}

impl Axes<'_> {
    fn on_host(&self, t: &Tensor<2>) -> bool {
        self.host && t.dtype() == DType::F32
    }

    /// `w` `[rows, cols]` itself and its kept part. On the host, `w` is rebuilt from
    /// its data without a copy where it was the only handle on it.
    fn gather(&self, w: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        if self.on_host(&w) {
            return self.gather_host(w);
        }
        let mut part = w.clone();
        if let Some((r, _)) = self.rows {
            part = part.select(0, r.clone());
        }
        if let Some((c, _)) = self.cols {
            part = part.select(1, c.clone());
        }
        (w, part)
    }

    fn gather_host(&self, w: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [_, c] = w.dims();
        let device = w.device();
        let data = w.into_data();
        let src: &[f32] = data.as_slice().expect("an f32 tensor");
        let all_rows: Vec<usize>;
        let rows = match self.rows {
            Some((_, r)) => r,
            None => {
                all_rows = (0..src.len() / c.max(1)).collect();
                &all_rows
            }
        };
        let nc = self.cols.map_or(c, |(_, k)| k.len());
        let mut out = Vec::with_capacity(rows.len() * nc);
        for &i in rows {
            let row = &src[i * c..(i + 1) * c];
            match self.cols {
                Some((_, cols)) => out.extend(cols.iter().map(|&j| row[j])),
                None => out.extend_from_slice(row),
            }
        }
        let part = Tensor::from_data(TensorData::new(out, [rows.len(), nc]), &device);
        (Tensor::from_data(data, &device), part)
    }

    /// Adds `gk` (the gradient of the kept part) into the kept rows and columns of
    /// `base` in place, so the result is `base + g` for the full gradient `g` (zero
    /// off the kept entries), entry by entry exactly as a dense add.
    fn add(&self, base: Tensor<2>, gk: Tensor<2>) -> Tensor<2> {
        if self.on_host(&base) && self.on_host(&gk) {
            return self.add_host(base, gk);
        }
        match (self.rows, self.cols) {
            (None, None) => base + gk,
            (None, Some((c, _))) => base.select_assign(1, c.clone(), gk, IndexingUpdateOp::Add),
            (Some((r, _)), None) => base.select_assign(0, r.clone(), gk, IndexingUpdateOp::Add),
            (Some((r, _)), Some((c, _))) => {
                // The kept rows (contiguous copies), their kept columns updated, put back.
                let sub = base.clone().select(0, r.clone()).select_assign(
                    1,
                    c.clone(),
                    gk,
                    IndexingUpdateOp::Add,
                );
                base.select_assign(0, r.clone(), sub, IndexingUpdateOp::Assign)
            }
        }
    }

    fn add_host(&self, base: Tensor<2>, gk: Tensor<2>) -> Tensor<2> {
        let [_, c] = base.dims();
        let device = base.device();
        let mut data = base.into_data();
        let g = gk.into_data();
        let g: &[f32] = g.as_slice().expect("an f32 tensor");
        let dst: &mut [f32] = data.as_mut_slice().expect("an f32 tensor");
        let nc = self.cols.map_or(c, |(_, k)| k.len());
        for (n, grow) in g.chunks_exact(nc.max(1)).enumerate() {
            let i = self.rows.map_or(n, |(_, rows)| rows[n]);
            let row = &mut dst[i * c..(i + 1) * c];
            match self.cols {
                Some((_, cols)) => cols.iter().zip(grow).for_each(|(&j, &v)| row[j] += v),
                None => row.iter_mut().zip(grow).for_each(|(d, &v)| *d += v),
            }
        }
        Tensor::from_data(data, &device)
    }
}

/// The SGD update of one parameter `x` (as `[rows, cols]`) whose gradient `g` is
/// zero off the kept entries and `gk` on them: `d = g + wd·x`; with momentum
/// `v ← mom·v + d` (`v = d` on the first step) and `d = v`; `x ← x − lr·d`. Every
/// entry is computed with the same operations as the dense update in
/// [`Trainer::step`], without forming `g` where it can be avoided (see [`Axes::add`]).
fn sgd_kept(
    x: Tensor<2>,
    vel: &mut Option<Tensor<1>>,
    axes: Axes<'_>,
    gk: Tensor<2>,
    hp: HyperParams,
) -> Tensor<2> {
    let shape = x.dims();
    let g_plus_decay = (hp.wd > 0.0).then(|| axes.add(x.clone().mul_scalar(hp.wd), gk.clone()));
    if hp.mom > 0.0 {
        let v = match (vel.take(), g_plus_decay) {
            (Some(v), Some(d)) => v.reshape(shape).mul_scalar(hp.mom) + d,
            (Some(v), None) => axes.add(v.reshape(shape).mul_scalar(hp.mom), gk),
            (None, Some(d)) => d,
            (None, None) => axes.add(Tensor::zeros(shape, &x.device()), gk),
        };
        *vel = Some(v.clone().reshape([shape[0] * shape[1]]));
        x - v.mul_scalar(hp.lr)
    } else {
        match g_plus_decay {
            Some(d) => x - d.mul_scalar(hp.lr),
            // x + (−lr·g) is x − lr·g exactly, and x where g = 0.
            None => axes.add(x, gk.mul_scalar(-hp.lr)),
        }
    }
}

/// The SGD update of one parameter `x` on the host, in place in its buffer, with
/// gradient `g` (`m ⊙ g` with a mask `m`): `d = g + wd·x`; with momentum
/// `v ← mom·v + d` (`v = d` on the first step, in `g`'s buffer) and `d = v`;
/// `x ← x − lr·d`. Entry by entry the same f32 operations as the tensor update in
/// [`Trainer::step`] (the scalars rounded to f32 as burn's flex backend does).
fn sgd_host(
    x: Tensor<1>,
    vel: &mut Option<Tensor<1>>,
    g: Tensor<1>,
    m: Option<&[f32]>,
    hp: HyperParams,
) -> Tensor<1> {
    let device = x.device();
    let mut xd = x.into_data();
    let mut gd = g.into_data().convert::<f32>();
    let xs: &mut [f32] = xd.as_mut_slice().expect("an f32 tensor");
    let gs: &mut [f32] = gd.as_mut_slice().expect("an f32 gradient");
    let s = Scalars {
        lr: hp.lr as f32,
        mom: hp.mom as f32,
        wd: hp.wd as f32,
    };
    let momentum = hp.mom > 0.0;
    let mut vd = if momentum {
        vel.take().map(|v| v.into_data().convert::<f32>())
    } else {
        None
    };
    let vs: Option<&mut [f32]> = vd
        .as_mut()
        .map(|v| v.as_mut_slice().expect("an f32 velocity"));
    // One loop per case, so that each vectorises without branches.
    match (m, hp.wd > 0.0) {
        (Some(m), true) => sgd_wide::<true, true>(xs, gs, vs, m, momentum, s),
        (Some(m), false) => sgd_wide::<true, false>(xs, gs, vs, m, momentum, s),
        (None, true) => sgd_wide::<false, true>(xs, gs, vs, &[], momentum, s),
        (None, false) => sgd_wide::<false, false>(xs, gs, vs, &[], momentum, s),
    }
    if momentum {
        *vel = Some(Tensor::from_data(vd.unwrap_or(gd), &device));
    }
    Tensor::from_data(xd, &device)
}

/// Runs `f` compiled for AVX-512 or AVX2 where the CPU has them (selected at run
/// time), so that its element-wise loops use wide vectors. The same f32 results on
/// every path: separate IEEE multiplies and adds (Rust never fuses them).
#[inline(always)]
fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// The SGD scalars rounded to f32, as burn's flex backend rounds `mul_scalar`'s.
#[derive(Debug, Clone, Copy)]
struct Scalars {
    lr: f32,
    mom: f32,
    wd: f32,
}

/// [`sgd_loop`] compiled for AVX-512 or AVX2 where the CPU has them (selected at
/// run time), with the same f32 results on every path.
fn sgd_wide<const MASK: bool, const DECAY: bool>(
    xs: &mut [f32],
    gs: &mut [f32],
    vs: Option<&mut [f32]>,
    m: &[f32],
    momentum: bool,
    s: Scalars,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<const MASK: bool, const DECAY: bool>(
            xs: &mut [f32],
            gs: &mut [f32],
            vs: Option<&mut [f32]>,
            m: &[f32],
            momentum: bool,
            s: Scalars,
        ) {
            sgd_loop::<MASK, DECAY>(xs, gs, vs, m, momentum, s)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<const MASK: bool, const DECAY: bool>(
            xs: &mut [f32],
            gs: &mut [f32],
            vs: Option<&mut [f32]>,
            m: &[f32],
            momentum: bool,
            s: Scalars,
        ) {
            sgd_loop::<MASK, DECAY>(xs, gs, vs, m, momentum, s)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { avx512::<MASK, DECAY>(xs, gs, vs, m, momentum, s) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2::<MASK, DECAY>(xs, gs, vs, m, momentum, s) };
        }
    }
    sgd_loop::<MASK, DECAY>(xs, gs, vs, m, momentum, s)
}

/// The entries of [`sgd_host`]: `g ← m ⊙ g` (`MASK`), `g ← g + x·wd` (`DECAY`);
/// with momentum `v ← v·mom + g` into `vs`, or into `gs` on the first step (`vs`
/// absent); `x ← x − d·lr`. Separate multiplies and adds, no fused multiply-add.
#[inline(always)]
fn sgd_loop<const MASK: bool, const DECAY: bool>(
    xs: &mut [f32],
    gs: &mut [f32],
    vs: Option<&mut [f32]>,
    m: &[f32],
    momentum: bool,
    s: Scalars,
) {
    let n = xs.len();
    assert!(gs.len() == n && (!MASK || m.len() == n));
    let grad = |j: usize, g: f32, x: f32| {
        let g = if MASK { g * m[j] } else { g };
        if DECAY {
            g + x * s.wd
        } else {
            g
        }
    };
    match (momentum, vs) {
        (true, Some(vs)) => {
            assert!(vs.len() == n);
            for j in 0..n {
                let v = vs[j] * s.mom + grad(j, gs[j], xs[j]);
                vs[j] = v;
                xs[j] -= v * s.lr;
            }
        }
        (true, None) => {
            for j in 0..n {
                let v = grad(j, gs[j], xs[j]);
                gs[j] = v;
                xs[j] -= v * s.lr;
            }
        }
        (false, _) => {
            for j in 0..n {
                let d = grad(j, gs[j], xs[j]);
                xs[j] -= d * s.lr;
            }
        }
    }
}

/// Loss and accuracy of the model with parameters `p` on the first `limit` images
/// of `set` (all if `None`), in chunks of 1000, without masks.
pub fn evaluate(model: &Model, p: &[Tensor<1>], set: &ImageSet, limit: Option<usize>) -> Eval {
    let n = limit.unwrap_or(set.n).min(set.n);
    let d = set.dim();
    let device = p.first().map(|t| t.device()).unwrap_or_else(cpu);
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let mut start = 0;
    while start < n {
        let end = (start + 1000).min(n);
        let b = end - start;
        let x = Tensor::<2>::from_data(
            TensorData::new(set.pixels[start * d..end * d].to_vec(), [b, d]),
            &device,
        );
        let logp =
            burn::tensor::activation::log_softmax(model.forward(p, x, &mut ActHook::none()), 1);
        let k = logp.dims()[1];
        let lp = tensor_to_vec(logp);
        for (i, row) in lp.chunks_exact(k).enumerate() {
            let y = set.labels[start + i] as usize;
            loss -= row[y] as f64;
            let arg = row
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (j, &v)| {
                    if v > best.1 {
                        (j, v)
                    } else {
                        best
                    }
                })
                .0;
            correct += usize::from(arg == y);
        }
        start = end;
    }
    Eval {
        loss: loss / n.max(1) as f64,
        accuracy: correct as f64 / n.max(1) as f64,
    }
}

/// Where a run's weight masks come from: drawn inline, or by a helper thread
/// that keeps the next step's masks ready (bounded channel, same sequence).
#[derive(Debug)]
enum MaskSource {
    Inline {
        sampler: Box<MaskSampler>,
        rng: MastRng,
        shift: Option<HostParams>,
        device: Device,
        fast_ok: bool,
    },
    Prefetch {
        rx: Option<std::sync::mpsc::Receiver<Result<DeviceMasks>>>,
        worker: Option<std::thread::JoinHandle<()>>,
    },
}

impl MaskSource {
    fn new(
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
        let worker = std::thread::spawn(move || {
            let (mut sampler, mut rng) = (sampler, rng);
            loop {
                let m = sampler
                    .sample(&mut rng)
                    .map(|m| DeviceMasks::upload_shifted(m, shift.as_ref(), &device, fast_ok));
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        MaskSource::Prefetch {
            rx: Some(rx),
            worker: Some(worker),
        }
    }

    fn next(&mut self) -> Result<DeviceMasks> {
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
            MaskSource::Prefetch { rx, .. } => rx
                .as_ref()
                .and_then(|rx| rx.recv().ok())
                .unwrap_or_else(|| Err(NnError::param("masks", "the mask thread stopped"))),
        }
    }
}

impl Drop for MaskSource {
    fn drop(&mut self) {
        if let MaskSource::Prefetch { rx, worker } = self {
            drop(rx.take());
            if let Some(w) = worker.take() {
                let _ = w.join();
            }
        }
    }
}

/// One training run of one method and seed.
#[derive(Debug)]
pub struct Trainer<'m> {
    model: &'m Model,
    method: Method,
    settings: TrainSettings,
    name: String,
    device: Device,
    /// The parameters `x`, without autodiff (each step makes its own leaves).
    params: Vec<Tensor<1>>,
    velocity: Vec<Option<Tensor<1>>>,
    shift: Option<Vec<Tensor<1>>>,
    masks: MaskSource,
    sketch_rng: MastRng,
    data_rng: MastRng,
    step: u64,
}

impl<'m> Trainer<'m> {
    /// A run of `method` on `model` with seed `seed`: `x⁰ = init` (or the seeded
    /// default initialisation, stream `Init`), shift `v = shift` (or 0).
    pub fn new(
        model: &'m Model,
        method: Method,
        settings: &TrainSettings,
        seed: u64,
        init: Option<&HostParams>,
        shift: Option<&HostParams>,
    ) -> Result<Self> {
        settings.check()?;
        let specs = model.specs();
        let base = settings.device.device()?;
        let device = base.clone().autodiff();
        let x0 = match init {
            Some(p) => {
                p.check(specs, "init")?;
                p.clone()
            }
            None => model.init(&mut stream(seed, Stream::Init)),
        };
        if let Some(v) = shift {
            v.check(specs, "shift")?;
        }
        let fast_ok = settings.neuron_fast && shift.is_none() && matches!(model, Model::Mlp(_));
        Ok(Trainer {
            model,
            method,
            settings: settings.clone(),
            name: format!("{method} seed {seed}"),
            params: x0.to_tensors(&base),
            velocity: vec![None; specs.len()],
            shift: shift.map(|v| v.to_tensors(&base)),
            masks: MaskSource::new(
                MaskSampler::new(method, specs, settings.sketch_bias, !fast_ok)?,
                method.masks_weights(),
                settings.prefetch_masks,
                stream(seed, Stream::Sketch),
                shift.cloned(),
                device.clone(),
                fast_ok,
            ),
            sketch_rng: stream(seed, Stream::Sketch),
            data_rng: stream(seed, Stream::Data),
            step: 0,
            device,
        })
    }

    /// The current parameters `x` (without autodiff).
    pub fn param_tensors(&self) -> Vec<Tensor<1>> {
        self.params.clone()
    }

    /// The current parameters on the host.
    pub fn params(&self) -> HostParams {
        HostParams::from_tensors(&self.param_tensors())
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One SGD step on the minibatch `(x, y)` (`x`: `b · dim` pixels); returns the
    /// minibatch loss at the masked model.
    pub fn step(&mut self, x: &[f32], y: &[u8]) -> Result<f64> {
        let masks = self.masks.next()?;
        let classes = *self.model.specs().last().map(|s| &s.units).unwrap_or(&2);
        let (inputs, targets) = batch_tensors(x, y, classes, &self.device);
        if let (Some(fast), Model::Mlp(mlp), None) = (&masks.fast, self.model, &self.shift) {
            return self.step_kept(mlp, fast, inputs, targets);
        }
        if self.settings.device.is_cpu()
            && self.shift.is_none()
            && self.params.iter().all(|p| p.dtype() == DType::F32)
        {
            return self.step_host(masks, inputs, targets);
        }
        let mut hook = match self.method {
            Method::Dropout { drop_prob } => ActHook::dropout(drop_prob, &mut self.sketch_rng),
            _ => ActHook::none(),
        };
        let leaves: Vec<Tensor<1>> = self
            .params
            .iter()
            .map(|p| p.clone().autodiff().require_grad())
            .collect();
        let loss = masked_loss(
            self.model,
            &leaves,
            self.shift.as_deref(),
            &masks,
            &mut hook,
            inputs,
            targets,
        );
        let grads = loss.backward();
        let value = self.finite_loss(&loss)?;
        let (lr, mom, wd) = (
            self.settings.lr,
            self.settings.momentum,
            self.settings.weight_decay,
        );
        for ((p, leaf), vel) in self.params.iter_mut().zip(&leaves).zip(&mut self.velocity) {
            let Some(mut g) = leaf.grad(&grads) else {
                continue;
            };
            let x = p.clone();
            if wd > 0.0 {
                g = g + x.clone().mul_scalar(wd);
            }
            let d = if mom > 0.0 {
                let v = match vel.take() {
                    Some(v) => v.mul_scalar(mom) + g,
                    None => g,
                };
                *vel = Some(v.clone());
                v
            } else {
                g
            };
            *p = x - d.mul_scalar(lr);
        }
        Ok(value)
    }

    /// The dense step on the CPU without a shift, with the parameters, masks and
    /// gradients read and written in their buffers on the host. A masked tensor's
    /// autodiff leaf is `m ⊙ x`, formed on the host, so autodiff sees no mask
    /// multiply; the gradient `∇_x = m ⊙ ∇` is formed in the update, which runs in
    /// one host pass per tensor ([`sgd_host`]). Every entry is computed with the same
    /// f32 operations, in the same order, as the dense step through [`masked_loss`]
    /// and the tensor update in [`Trainer::step`].
    fn step_host(
        &mut self,
        masks: DeviceMasks,
        inputs: Tensor<2>,
        targets: Tensor<2>,
    ) -> Result<f64> {
        let model = self.model;
        let mut hook = match self.method {
            Method::Dropout { drop_prob } => ActHook::dropout(drop_prob, &mut self.sketch_rng),
            _ => ActHook::none(),
        };
        let host_masks: Vec<Option<TensorData>> = masks
            .params
            .into_iter()
            .map(|m| m.map(|t| t.inner().into_data().convert::<f32>()))
            .collect();
        let device = &self.device;
        let (params, leaves): (Vec<Tensor<1>>, Vec<Tensor<1>>) = std::mem::take(&mut self.params)
            .into_iter()
            .zip(&host_masks)
            .map(|(p, m)| match m {
                None => {
                    let leaf = p.clone().autodiff().require_grad();
                    (p, leaf)
                }
                Some(m) => {
                    let base = p.device();
                    let data = p.into_data();
                    let x: &[f32] = data.as_slice().expect("an f32 tensor");
                    let m: &[f32] = m.as_slice().expect("an f32 mask");
                    let eff: Vec<f32> = wide(|| x.iter().zip(m).map(|(&x, &m)| x * m).collect());
                    let n = eff.len();
                    let leaf = Tensor::from_data(TensorData::new(eff, [n]), device).require_grad();
                    (Tensor::from_data(data, &base), leaf)
                }
            })
            .unzip();
        self.params = params;
        let loss = cross_entropy_with_logits(model.forward(&leaves, inputs, &mut hook), targets);
        let mut grads = loss.backward();
        let value = self.finite_loss(&loss)?;
        let grads: Vec<Option<Tensor<1>>> =
            leaves.iter().map(|l| l.grad_remove(&mut grads)).collect();
        // The parameters and gradients become the only handles on their buffers.
        drop((loss, leaves));
        let hp = HyperParams {
            lr: self.settings.lr,
            mom: self.settings.momentum,
            wd: self.settings.weight_decay,
        };
        self.params = std::mem::take(&mut self.params)
            .into_iter()
            .zip(grads)
            .zip(&host_masks)
            .zip(&mut self.velocity)
            .map(|(((x, g), m), vel)| match g {
                None => x,
                Some(g) => {
                    let m = m
                        .as_ref()
                        .map(|m| m.as_slice::<f32>().expect("an f32 mask"));
                    sgd_host(x, vel, g, m, hp)
                }
            })
            .collect();
        Ok(value)
    }

    /// Counts the step and reads the loss back; [`NnError::Diverged`] if it is not finite.
    fn finite_loss(&mut self, loss: &Tensor<1>) -> Result<f64> {
        let value = loss.clone().inner().into_scalar::<f64>();
        self.step += 1;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(NnError::Diverged {
                run: self.name.clone(),
                epoch: 0,
                step: self.step,
                loss: value,
            })
        }
    }

    /// The neuron-level fast step of an MLP (shift `v = 0`): the kept rows and
    /// columns of the parameters are gathered outside autodiff and become the
    /// autodiff leaves of [`Mlp::forward_kept`], so backpropagation only sees the
    /// small matrices; their gradients are then added into the kept entries of the
    /// full update in place ([`Axes::add`]). The same step as autodiff through
    /// [`Mlp::forward_neuron`] (whose gradient is zero off the kept units) followed
    /// by the dense update, without building and scattering into zero gradients of
    /// the full size. On the CPU the gathers and scatters run on the host, in place
    /// in the tensors' buffers.
    fn step_kept(
        &mut self,
        mlp: &Mlp,
        fast: &FastNeurons,
        inputs: Tensor<2>,
        targets: Tensor<2>,
    ) -> Result<f64> {
        let (host, scale) = (&fast.host, fast.scale);
        let kept: Vec<Tensor<1, Int>> = fast.kept.iter().map(|k| k.clone().inner()).collect();
        let on_host = self.settings.device.is_cpu();
        let axes = |l: usize, bias: bool| {
            let (rows, cols) = Mlp::kept_axes(&kept, l);
            let (host_rows, host_cols) = Mlp::kept_axes(host, l);
            Axes {
                rows: rows.zip(host_rows.map(Vec::as_slice)).filter(|_| !bias),
                cols: cols.zip(host_cols.map(Vec::as_slice)),
                host: on_host,
            }
        };
        let layers = mlp.widths.len() - 1;
        let shapes: Vec<[usize; 2]> = (0..2 * layers)
            .map(|i| match i % 2 {
                0 => [mlp.widths[i / 2], mlp.widths[i / 2 + 1]],
                _ => [1, mlp.widths[i / 2 + 1]],
            })
            .collect();
        // The parameters, each the only handle on its data where possible, so that
        // the host gather reads it in place.
        let (x, leaves): (Vec<Tensor<2>>, Vec<Tensor<2>>) = std::mem::take(&mut self.params)
            .into_iter()
            .zip(&shapes)
            .enumerate()
            .map(|(i, (p, &s))| {
                let a = axes(i / 2, i % 2 == 1);
                let (p, part) = a.gather(p.reshape(s));
                (p, part.autodiff().require_grad())
            })
            .unzip();
        self.params = x
            .iter()
            .map(|p| p.clone().reshape([p.dims()[0] * p.dims()[1]]))
            .collect();
        let kp = KeptParams {
            weights: leaves.iter().step_by(2).cloned().collect(),
            biases: leaves
                .iter()
                .skip(1)
                .step_by(2)
                .map(|b| b.clone().reshape([b.dims()[1]]))
                .collect(),
        };
        let loss = cross_entropy_with_logits(mlp.forward_kept(&kp, inputs, scale), targets);
        let mut grads = loss.backward();
        let value = self.finite_loss(&loss)?;
        let hp = HyperParams {
            lr: self.settings.lr,
            mom: self.settings.momentum,
            wd: self.settings.weight_decay,
        };
        for (i, (leaf, xi)) in leaves.iter().zip(x).enumerate() {
            let shape = xi.dims();
            let gk = leaf
                .grad_remove(&mut grads)
                .expect("a leaf of the loss has a gradient");
            let p = sgd_kept(xi, &mut self.velocity[i], axes(i / 2, i % 2 == 1), gk, hp);
            self.params[i] = p.reshape([shape[0] * shape[1]]);
        }
        Ok(value)
    }

    /// Trains for `settings.epochs` epochs on `train`, evaluating on `test` after
    /// each epoch (and before the first); `on_epoch` sees every row as it is made
    /// (to write it to disk). A non-finite loss stops the run with
    /// [`NnError::Diverged`] after `on_epoch` has seen the rows so far.
    pub fn train(
        &mut self,
        train: &ImageSet,
        test: &ImageSet,
        mut on_epoch: impl FnMut(&EpochMetrics) -> Result<()>,
    ) -> Result<Vec<EpochMetrics>> {
        let start = Instant::now();
        let mut rows = Vec::new();
        let limit = self.settings.eval_limit;
        let e0 = evaluate(self.model, &self.param_tensors(), test, limit);
        let row = EpochMetrics {
            epoch: 0,
            step: 0,
            train_loss: f64::NAN,
            test_loss: e0.loss,
            test_accuracy: e0.accuracy,
            train_s: 0.0,
            wall_s: start.elapsed().as_secs_f64(),
        };
        on_epoch(&row)?;
        rows.push(row);
        let mut batches = Batches::new(train.n, self.settings.batch)?;
        let (mut xb, mut yb) = (Vec::new(), Vec::new());
        let mut train_s = 0.0;
        for epoch in 1..=self.settings.epochs {
            let t0 = Instant::now();
            let (mut sum, mut count) = (0.0, 0usize);
            let mut rng = self.data_rng.clone();
            let order: Vec<Vec<usize>> = batches.epoch(&mut rng).map(<[usize]>::to_vec).collect();
            self.data_rng = rng;
            let max = self.settings.max_steps_per_epoch.unwrap_or(usize::MAX);
            for rows_idx in order.iter().take(max) {
                train.gather(rows_idx, &mut xb, &mut yb);
                match self.step(&xb, &yb) {
                    Ok(l) => {
                        sum += l;
                        count += 1;
                    }
                    Err(NnError::Diverged {
                        run, step, loss, ..
                    }) => {
                        return Err(NnError::Diverged {
                            run,
                            epoch,
                            step,
                            loss,
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
            train_s += t0.elapsed().as_secs_f64();
            let e = evaluate(self.model, &self.param_tensors(), test, limit);
            let row = EpochMetrics {
                epoch,
                step: self.step,
                train_loss: sum / count.max(1) as f64,
                test_loss: e.loss,
                test_accuracy: e.accuracy,
                train_s,
                wall_s: start.elapsed().as_secs_f64(),
            };
            on_epoch(&row)?;
            rows.push(row);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host gathers and scatters (CPU) equal the device ones (`select`,
    /// `select_assign`), for every combination of kept rows and columns.
    #[test]
    fn host_and_device_gather_and_add_agree() {
        let dev = cpu();
        let (r, c) = (7, 9);
        let host_rows = vec![1usize, 2, 5];
        let host_cols = vec![0usize, 3, 4, 8];
        let idx = |v: &[usize]| {
            let v: Vec<i64> = v.iter().map(|&u| u as i64).collect();
            let n = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [n]), &dev)
        };
        let (rows_t, cols_t) = (idx(&host_rows), idx(&host_cols));
        let mat = |n: usize, m: usize, seed: usize| {
            let v: Vec<f32> = (0..n * m)
                .map(|i| ((i * 37 + seed * 11) % 23) as f32 * 0.25 - 2.0)
                .collect();
            Tensor::<2>::from_data(TensorData::new(v, [n, m]), &dev)
        };
        for (use_rows, use_cols) in [(false, false), (true, false), (false, true), (true, true)] {
            let axes = |host| Axes {
                rows: use_rows.then_some((&rows_t, host_rows.as_slice())),
                cols: use_cols.then_some((&cols_t, host_cols.as_slice())),
                host,
            };
            let (nr, nc) = (
                if use_rows { host_rows.len() } else { r },
                if use_cols { host_cols.len() } else { c },
            );
            let w = mat(r, c, 1);
            let (w_back, on_host) = axes(true).gather(w.clone());
            let (_, on_device) = axes(false).gather(w.clone());
            assert_eq!(on_host.dims(), [nr, nc]);
            assert_eq!(tensor_to_vec(on_host), tensor_to_vec(on_device));
            assert_eq!(tensor_to_vec(w_back), tensor_to_vec(w.clone()));
            let g = mat(nr, nc, 2);
            let on_host = tensor_to_vec(axes(true).add(w.clone(), g.clone()));
            let on_device = tensor_to_vec(axes(false).add(w.clone(), g));
            assert_eq!(on_host, on_device);
            assert_ne!(on_host, tensor_to_vec(w));
        }
    }
}
