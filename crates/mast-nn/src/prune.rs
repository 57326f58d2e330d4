//! Random pruning of trained models: keep a fraction `q` of ALL weights.
//!
//! For each `q` and each of `masks` seeded draws (stream `Prune` of the run's
//! seed, so the ERM and MAST models of one seed are pruned with identical masks),
//! a uniformly random subset of `K = round(q·d)` of the `d` weight entries of the
//! whole network (mast's [`RandK`] over their concatenation) is kept; the rest are
//! set to the shift `v` (0 when there is none). With `rescale = true` kept entries
//! are `v + (d/K)(x − v)` — exactly the sparsified model `v + S(x − v)` of a
//! Rand-K sketch — otherwise `x` itself. Biases are kept as they are unless
//! `include_bias` is set.

use mast::rng::{stream, Stream};
use mast::sketch::{RandK, Sketch, SketchDraw};

use crate::data::ImageSet;
use crate::error::{NnError, Result};
use crate::model::{HostParams, Model, ParamKind};
use crate::train::{cpu, evaluate};

/// What to prune and how often.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneSettings {
    /// Fractions of weights kept.
    #[serde(default = "default_q")]
    pub q: Vec<f64>,
    /// Random masks per `q` and model.
    #[serde(default = "default_masks")]
    pub masks: usize,
    /// Scale kept entries by `d/K` (the Rand-K sketch); otherwise keep them as they are.
    #[serde(default = "default_rescale")]
    pub rescale: bool,
    /// Prune biases too.
    #[serde(default)]
    pub include_bias: bool,
    /// Test images used per pruned model (all if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<usize>,
}

fn default_q() -> Vec<f64> {
    (1..=9).map(|k| k as f64 / 10.0).collect()
}
fn default_masks() -> usize {
    10
}
fn default_rescale() -> bool {
    true
}

impl Default for PruneSettings {
    fn default() -> Self {
        PruneSettings {
            q: default_q(),
            masks: default_masks(),
            rescale: default_rescale(),
            include_bias: false,
            test_limit: None,
        }
    }
}

impl PruneSettings {
    /// Checks the ranges.
    pub fn check(&self) -> Result<()> {
        if let Some(q) = self.q.iter().find(|q| !(**q > 0.0 && **q <= 1.0)) {
            return Err(NnError::param(
                "prune.q",
                format!("fractions must be in (0, 1], got {q}"),
            ));
        }
        Ok(())
    }
}

/// Test accuracy of one pruned model.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PruneResult {
    /// Fraction of weights kept.
    pub q: f64,
    /// Index of the mask (0-based) for this `q`.
    pub mask: usize,
    /// Test accuracy of the pruned model.
    pub test_accuracy: f64,
    /// Test loss of the pruned model.
    pub test_loss: f64,
}

/// The pruned parameters `v + c·m ⊙ (x − v)` for one global Rand-K draw over the
/// pruned tensors (`c = d/K` with `rescale`, else 1).
pub fn pruned_params(
    model: &Model,
    x: &HostParams,
    shift: Option<&HostParams>,
    draw: &SketchDraw,
    rescale: bool,
    include_bias: bool,
) -> HostParams {
    let specs = model.specs();
    let mut out = HostParams {
        values: Vec::with_capacity(specs.len()),
    };
    let mut kept = draw.iter().peekable();
    let mut offset = 0;
    for (i, s) in specs.iter().enumerate() {
        let xv = &x.values[i];
        let vv = shift.map(|v| &v.values[i]);
        if s.kind == ParamKind::Bias && !include_bias {
            out.values.push(xv.clone());
            continue;
        }
        let n = xv.len();
        let mut t: Vec<f32> = match vv {
            Some(v) => v.clone(),
            None => vec![0.0; n],
        };
        while let Some(&(j, c)) = kept.peek() {
            if j >= offset + n {
                break;
            }
            let k = j - offset;
            let c = if rescale { c as f32 } else { 1.0 };
            let base = vv.map_or(0.0, |v| v[k]);
            t[k] = base + c * (xv[k] - base);
            kept.next();
        }
        offset += n;
        out.values.push(t);
    }
    out
}

/// Prunes `x` at every `q` with `settings.masks` random masks each (seeded by
/// `seed`) and evaluates every pruned model on `test`.
pub fn prune_model(
    model: &Model,
    x: &HostParams,
    shift: Option<&HostParams>,
    test: &ImageSet,
    settings: &PruneSettings,
    seed: u64,
) -> Result<Vec<PruneResult>> {
    settings.check()?;
    let d: usize = model
        .specs()
        .iter()
        .filter(|s| s.kind == ParamKind::Weight || settings.include_bias)
        .map(|s| s.numel())
        .sum();
    let mut rng = stream(seed, Stream::Prune);
    let mut draw = SketchDraw::new();
    let device = cpu();
    let mut out = Vec::with_capacity(settings.q.len() * settings.masks);
    for &q in &settings.q {
        let sketch = RandK::with_fraction(d, q)?;
        for mask in 0..settings.masks {
            sketch.draw(&mut rng, &mut draw);
            let p = pruned_params(
                model,
                x,
                shift,
                &draw,
                settings.rescale,
                settings.include_bias,
            );
            let e = evaluate(model, &p.to_tensors(&device), test, settings.test_limit);
            out.push(PruneResult {
                q,
                mask,
                test_accuracy: e.accuracy,
                test_loss: e.loss,
            });
        }
    }
    Ok(out)
}
