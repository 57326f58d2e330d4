//! Training: plain SGD (optionally with momentum and weight decay) on
//! `f(v + S(x − v))`, with the masks of the chosen [`Method`] drawn on the host.
//!
//! The parameters `x` are autodiff leaves; the forward pass sees
//! `v + m ⊙ (x − v)` per tensor (`m ⊙ x` when `v = 0`), so backpropagation gives
//! `∇_x = m ⊙ ∇f(v + m ⊙ (x − v)) = Sᵀ∇f(v + S(x − v))` — MAST's stochastic
//! gradient. Plain training uses `m = 1`; Dropout masks activations instead.

use std::time::Instant;

use burn::tensor::loss::cross_entropy_with_logits;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use mast::rng::{stream, MastRng, Stream};
use mast::MastError;

use crate::data::{Batches, ImageSet};
use crate::device::DeviceChoice;
use crate::error::{NnError, Result};
use crate::mask::{ActHook, MaskSampler, Method};
use crate::model::{tensor_to_vec, HostParams, KeptParams, Mlp, Model};

mod checkpoint;
mod masks;
mod update;

use checkpoint::Position;
pub use checkpoint::{NnCheckpoint, RunControl, TrainEnd};

pub use masks::{masked_loss, DeviceMasks};
use masks::{FastNeurons, MaskSource};
use update::{sgd_host, sgd_kept, wide, Axes, HyperParams};

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
    /// Threads for the kernels of a training step on the CPU (burn's flex backend
    /// spreads matrix products and reductions over a rayon pool). Absent: chosen
    /// per model by [`auto_threads`] (one thread for small MLPs, the caller's rayon
    /// pool otherwise). The results do not depend on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

/// Floating-point operations of one training step of an MLP (forward and
/// backward matrix products: `6 · batch · weights`) under which [`auto_threads`]
/// runs the step on one thread. A step this small spends more on waking the pool's
/// other threads (each matrix product and reduction of burn's flex backend wakes
/// them) than it gains: on 2 cores the MNIST MLP 784-256-256-10 at batch 128
/// (0.21 GFLOP a step) took 1.49 ms on one thread against 1.86 ms on two.
pub const SERIAL_STEP_FLOPS: f64 = 1e9;

/// The thread count a step of `model` at minibatch `batch` runs on when
/// [`TrainSettings::threads`] is absent: `Some(1)` for an MLP whose step takes
/// under [`SERIAL_STEP_FLOPS`], `None` (the caller's rayon pool, by default one
/// thread per core) for larger MLPs and for the convolutional networks, whose
/// products are large enough to gain from every core (the small ResNet on MNIST:
/// 61 ms a step on 2 threads against 75 ms on one).
pub fn auto_threads(model: &Model, batch: usize) -> Option<usize> {
    match model {
        Model::Mlp(mlp) => {
            let weights: usize = mlp.widths.windows(2).map(|w| w[0] * w[1]).sum();
            (6.0 * batch as f64 * weights as f64 <= SERIAL_STEP_FLOPS).then_some(1)
        }
        _ => None,
    }
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
        if self.threads == Some(0) {
            return bad("train.threads", "must be ≥ 1".into());
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
    #[serde(deserialize_with = "mast::run::io::f64_or_nan")]
    pub train_loss: f64,
    /// Test loss of the trained model `x` (no masks).
    #[serde(deserialize_with = "mast::run::io::f64_or_nan")]
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
    batch_tensors_owned(x.to_vec(), y, classes, device)
}

/// [`batch_tensors`] taking the pixels' buffer (no copy on the CPU).
fn batch_tensors_owned(
    x: Vec<f32>,
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
        Tensor::from_data(TensorData::new(x, [b, dim]), device),
        Tensor::from_data(TensorData::new(onehot, [b, classes]), device),
    )
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
    shift_host: Option<HostParams>,
    fast_ok: bool,
    masks: MaskSource,
    sketch_rng: MastRng,
    data_rng: MastRng,
    step: u64,
    /// The pool the steps run in (see [`TrainSettings::threads`]); `None`: the
    /// caller's.
    pool: Option<std::sync::Arc<rayon::ThreadPool>>,
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
        // A step in a pool of its own runs on one of the pool's threads, which
        // takes part in every parallel kernel; called from outside a pool, each
        // kernel would hand its work to the global pool's threads and wait for them.
        let in_pool_of =
            |n: usize| rayon::current_thread_index().is_some() && rayon::current_num_threads() == n;
        let threads = settings
            .threads
            .or_else(|| auto_threads(model, settings.batch));
        let pool = match threads {
            Some(n) if settings.device.is_cpu() && !in_pool_of(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("mast-nn-step-{i}"))
                    .build()
                    .map(std::sync::Arc::new)
                    .map_err(|e| NnError::param("train.threads", e.to_string()))?,
            ),
            _ => None,
        };
        Ok(Trainer {
            model,
            method,
            settings: settings.clone(),
            name: format!("{method} seed {seed}"),
            params: x0.to_tensors(&base),
            velocity: vec![None; specs.len()],
            shift: shift.map(|v| v.to_tensors(&base)),
            shift_host: shift.cloned(),
            fast_ok,
            masks: Self::mask_source(
                model,
                method,
                settings,
                stream(seed, Stream::Sketch),
                shift.cloned(),
                device.clone(),
                fast_ok,
            )?,
            sketch_rng: stream(seed, Stream::Sketch),
            data_rng: stream(seed, Stream::Data),
            step: 0,
            pool,
            device,
        })
    }

    /// Where the run's weight masks come from, drawing with `rng`.
    fn mask_source(
        model: &Model,
        method: Method,
        settings: &TrainSettings,
        rng: MastRng,
        shift: Option<HostParams>,
        device: Device,
        fast_ok: bool,
    ) -> Result<MaskSource> {
        Ok(MaskSource::new(
            MaskSampler::new(method, model.specs(), settings.sketch_bias, !fast_ok)?,
            method.masks_weights(),
            settings.prefetch_masks,
            rng,
            shift,
            device,
            fast_ok,
        ))
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
    /// minibatch loss at the masked model. Runs in the trainer's thread pool (see
    /// [`TrainSettings::threads`]).
    pub fn step(&mut self, x: &[f32], y: &[u8]) -> Result<f64> {
        self.step_owned(x.to_vec(), y)
    }

    /// [`Trainer::step`] taking the pixels' buffer, which becomes the input tensor's
    /// without a copy on the CPU.
    pub fn step_owned(&mut self, x: Vec<f32>, y: &[u8]) -> Result<f64> {
        match self.pool.clone() {
            Some(pool) => pool.install(|| self.step_here(x, y)),
            None => self.step_here(x, y),
        }
    }

    /// [`Trainer::step_owned`] in the current rayon pool.
    fn step_here(&mut self, x: Vec<f32>, y: &[u8]) -> Result<f64> {
        let masks = self.masks.next()?;
        let classes = *self.model.specs().last().map(|s| &s.units).unwrap_or(&2);
        let (inputs, targets) = batch_tensors_owned(x, y, classes, &self.device);
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
    /// [`NnError::Diverged`] after `on_epoch` has seen the rows so far. Stops with
    /// [`mast::MastError::Interrupted`] once [`mast::run::Interrupt::global`] is raised.
    pub fn train(
        &mut self,
        train: &ImageSet,
        test: &ImageSet,
        on_epoch: impl FnMut(&EpochMetrics) -> Result<()>,
    ) -> Result<Vec<EpochMetrics>> {
        match self.train_with(train, test, &RunControl::default(), None, on_epoch)? {
            TrainEnd::Completed(rows) => Ok(rows),
            TrainEnd::Interrupted { step, .. } => Err(NnError::Mast(MastError::Interrupted {
                step,
                dir: std::path::PathBuf::new(),
            })),
        }
    }

    /// [`Trainer::train`] with checkpoints and interruption: writes a checkpoint
    /// to `control.checkpoint` at most every interval (checked between steps), at
    /// the end, and when `control.interrupt` is raised (then it returns
    /// [`TrainEnd::Interrupted`]). With `resume` (a checkpoint of this same run,
    /// from [`NnCheckpoint::read`]) it continues where that checkpoint stopped, and
    /// ends with the same rows and parameters, bit for bit, as a run that never
    /// stopped (only the timing fields differ). `on_epoch` sees the rows made
    /// after the resumed point.
    pub fn train_with(
        &mut self,
        train: &ImageSet,
        test: &ImageSet,
        control: &RunControl,
        resume: Option<NnCheckpoint>,
        mut on_epoch: impl FnMut(&EpochMetrics) -> Result<()>,
    ) -> Result<TrainEnd> {
        let start = Instant::now();
        let limit = self.settings.eval_limit;
        let mut batches = Batches::new(train.n, self.settings.batch)?;
        let resumed = resume.is_some();
        let mut at = match resume {
            Some(ck) => self.restore(ck, &mut batches)?,
            None => {
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
                Position::start(row)
            }
        };
        let offset = if resumed { at.wall_s } else { 0.0 };
        let wall = |start: &Instant| offset + start.elapsed().as_secs_f64();
        let mut last_ck = Instant::now();
        let save = |t: &Trainer, at: &Position, batches: &Batches, wall_s: f64| -> Result<()> {
            match &control.checkpoint {
                Some((path, _)) => t.checkpoint(at, batches, wall_s).write(path),
                None => Ok(()),
            }
        };
        let due = |last: &Instant| {
            control
                .checkpoint
                .as_ref()
                .is_some_and(|(_, every)| last.elapsed() >= *every)
        };
        let mut yb = Vec::new();
        let per_epoch = batches
            .per_epoch()
            .min(self.settings.max_steps_per_epoch.unwrap_or(usize::MAX));
        while at.epoch <= self.settings.epochs {
            if !at.shuffled {
                let mut rng = self.data_rng.clone();
                batches.reshuffle(&mut rng);
                self.data_rng = rng;
                at.shuffled = true;
            }
            while at.position < per_epoch {
                if control.interrupt.is_raised() {
                    at.wall_s = wall(&start);
                    save(self, &at, &batches, at.wall_s)?;
                    return Ok(TrainEnd::Interrupted {
                        step: self.step,
                        rows: at.rows,
                    });
                }
                let t0 = Instant::now();
                // A fresh buffer each step: it becomes the input tensor's.
                let mut xb = Vec::with_capacity(self.settings.batch * train.dim());
                train.gather(batches.batch(at.position), &mut xb, &mut yb);
                match self.step_owned(xb, &yb) {
                    Ok(l) => {
                        at.sum += l;
                        at.count += 1;
                    }
                    Err(NnError::Diverged {
                        run, step, loss, ..
                    }) => {
                        return Err(NnError::Diverged {
                            run,
                            epoch: at.epoch,
                            step,
                            loss,
                        });
                    }
                    Err(e) => return Err(e),
                }
                at.position += 1;
                at.train_s += t0.elapsed().as_secs_f64();
                if due(&last_ck) {
                    save(self, &at, &batches, wall(&start))?;
                    last_ck = Instant::now();
                }
            }
            let e = evaluate(self.model, &self.param_tensors(), test, limit);
            let row = EpochMetrics {
                epoch: at.epoch,
                step: self.step,
                train_loss: at.sum / at.count.max(1) as f64,
                test_loss: e.loss,
                test_accuracy: e.accuracy,
                train_s: at.train_s,
                wall_s: wall(&start),
            };
            on_epoch(&row)?;
            at.next_epoch(row);
            if due(&last_ck) {
                save(self, &at, &batches, wall(&start))?;
                last_ck = Instant::now();
            }
        }
        save(self, &at, &batches, wall(&start))?;
        Ok(TrainEnd::Completed(at.rows))
    }
}
