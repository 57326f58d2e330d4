//! One node of Algorithm 2: its data shard, the shift, and its sampler.

use crate::error::{MastError, Result};
use crate::objective::{Objective, Rows, Shift, Workspace};
use crate::rng::{node_stream, Stream};
use crate::sampling::{BatchSampler, Variant};
use crate::sketch::SketchDraw;

use super::{GradPiece, ModelPiece};

/// A node: holds `f_i` (its shard's objective) and v; answers model pieces with
/// gradients on their support. Engines own nodes (in this process or remote).
#[derive(Debug)]
pub struct Node<O: Objective> {
    index: usize,
    objective: O,
    shift: Shift,
    variant: Variant,
    sampler: Option<BatchSampler>,
    ws: Workspace,
    /// The node's model buffer: v off the current support.
    y: Vec<f64>,
    unit: SketchDraw,
}

impl<O: Objective> Node<O> {
    /// Node `index` with objective `objective` (its shard), shift `v`, the data
    /// `variant` of its gradients, and minibatches from its own stream of `seed`.
    pub fn new(index: usize, objective: O, v: &[f64], variant: Variant, seed: u64) -> Result<Self> {
        let (d, n) = (objective.dim(), objective.num_samples());
        if v.len() != d {
            return Err(MastError::Dimension(format!(
                "node {index}: shift has {} entries, the objective {d}",
                v.len()
            )));
        }
        if let Variant::Minibatch(b) = variant {
            if b == 0 || b > n {
                return Err(MastError::param(
                    "batch",
                    format!("node {index} has {n} samples; batch size {b} must be in 1..={n}"),
                ));
            }
        }
        let shift = Shift::new(&objective, v.to_vec());
        let mut node = Node {
            index,
            objective,
            y: v.to_vec(),
            shift,
            variant,
            sampler: None,
            ws: Workspace::new(d, n),
            unit: SketchDraw::new(),
        };
        node.reset_stream(seed);
        Ok(node)
    }

    /// The node's index i.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its objective f_i.
    pub fn objective(&self) -> &O {
        &self.objective
    }

    /// Restarts its minibatch stream for `seed`.
    pub fn reset_stream(&mut self, seed: u64) {
        self.sampler = match self.variant {
            Variant::Exact => None,
            Variant::Minibatch(_) => Some(BatchSampler::new(
                self.objective.num_samples(),
                node_stream(seed, Stream::Data, self.index),
            )),
        };
    }

    /// Its sampler (for checkpoints).
    pub fn sampler(&self) -> Option<&BatchSampler> {
        self.sampler.as_ref()
    }

    /// Replaces its sampler (checkpoint restore).
    pub fn set_sampler(&mut self, sampler: Option<BatchSampler>) {
        self.sampler = sampler;
    }

    /// Answers `piece` (model values on a support) with `∇f_i(y)` on that support,
    /// where y equals the piece on its support and v elsewhere.
    pub fn compute(&mut self, piece: &ModelPiece, reply: &mut GradPiece) -> Result<()> {
        let d = self.y.len();
        if piece.indices.len() != piece.values.len() {
            return Err(MastError::Dimension(format!(
                "node {}: piece has {} indices but {} values",
                self.index,
                piece.indices.len(),
                piece.values.len()
            )));
        }
        if piece.indices.last().is_some_and(|&j| j >= d)
            || piece.indices.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(MastError::Dimension(format!(
                "node {}: piece indices must be increasing and below {d}",
                self.index
            )));
        }
        for (&j, &yj) in piece.indices.iter().zip(&piece.values) {
            self.y[j] = yj;
        }
        // f(v + I_Ω(y − v)) = f(y): the sketched oracle with unit scales.
        self.unit.indices.clear();
        self.unit.indices.extend_from_slice(&piece.indices);
        self.unit.scales.clear();
        self.unit.scales.resize(piece.indices.len(), 1.0);
        reply.values.clear();
        reply.values.resize(piece.indices.len(), 0.0);
        let n = self.objective.num_samples();
        let (rows, samples) = match (&mut self.sampler, self.variant) {
            (Some(s), Variant::Minibatch(b)) => (Rows::Batch(s.next_batch(b)?), b),
            _ => (Rows::All, n),
        };
        reply.loss = self.objective.sketched_loss_grad(
            &self.shift,
            &self.y,
            &self.unit,
            rows,
            &mut self.ws,
            &mut reply.values,
        );
        reply.samples = samples;
        for &j in &piece.indices {
            self.y[j] = self.shift.v[j];
        }
        Ok(())
    }
}
