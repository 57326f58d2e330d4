//! The default engine: all nodes in this process, in parallel on rayon threads.

use rayon::prelude::*;

use super::{Engine, GradPiece, ModelPiece, Node, Traffic};
use crate::error::{MastError, Result};
use crate::objective::Objective;
use crate::sampling::BatchSampler;

/// Nodes in this process. A round runs the nodes in parallel on the current rayon
/// pool; each node's work is deterministic (fixed-chunk reductions), so a run is
/// bit-identical with 1 or many threads, and to running the nodes in sequence.
///
/// ```
/// use std::sync::Arc;
/// use mast::algorithm::Variant;
/// use mast::data::{synthetic, Sharding};
/// use mast::engine::{Engine, InProcess};
/// use mast::objective::LogisticRegression;
///
/// let data = synthetic::gaussian_planted(40, 5, 0.1, synthetic::Task::Classification, 1);
/// let shards = Sharding::Iid.split(&data, 2, 3).unwrap();
/// let engine = InProcess::from_shards(&data, &shards, |shard| {
///     LogisticRegression::new(Arc::new(shard), 0.01)
/// }, &[0.0; 5], Variant::Exact, 3).unwrap();
/// assert_eq!(engine.shard_sizes(), vec![20, 20]);
/// ```
#[derive(Debug)]
pub struct InProcess<O: Objective> {
    nodes: Vec<Node<O>>,
    traffic: Traffic,
}

impl<O: Objective> InProcess<O> {
    /// An engine over ready-made nodes.
    pub fn new(nodes: Vec<Node<O>>) -> Result<Self> {
        if nodes.is_empty() {
            return Err(MastError::param("nodes", "must be at least 1"));
        }
        let d = nodes[0].objective().dim();
        if let Some(bad) = nodes.iter().find(|n| n.objective().dim() != d) {
            return Err(MastError::Dimension(format!(
                "node {} has dimension {}, node 0 has {d}",
                bad.index(),
                bad.objective().dim()
            )));
        }
        Ok(InProcess {
            nodes,
            traffic: Traffic::default(),
        })
    }

    /// Nodes built from row shards of `data` (see [`crate::data::Sharding`]), each
    /// objective made by `make` from its shard.
    pub fn from_shards(
        data: &crate::data::Dataset,
        shards: &[Vec<usize>],
        mut make: impl FnMut(crate::data::Dataset) -> Result<O>,
        v: &[f64],
        variant: crate::sampling::Variant,
        seed: u64,
    ) -> Result<Self> {
        let nodes = shards
            .iter()
            .enumerate()
            .map(|(i, rows)| {
                let shard = data.select_rows(rows, format!("{} (node {i})", data.name));
                Node::new(i, make(shard)?, v, variant, seed)
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(nodes)
    }

    /// The nodes.
    pub fn node_list(&self) -> &[Node<O>] {
        &self.nodes
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    samplers: Vec<Option<BatchSampler>>,
    traffic: Traffic,
}

impl<O: Objective> Engine for InProcess<O> {
    fn name(&self) -> &str {
        "in-process"
    }

    fn nodes(&self) -> usize {
        self.nodes.len()
    }

    fn dim(&self) -> usize {
        self.nodes[0].objective().dim()
    }

    fn shard_sizes(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|n| n.objective().num_samples())
            .collect()
    }

    fn node_smoothness(&self) -> Vec<f64> {
        self.nodes
            .iter()
            .map(|n| n.objective().smoothness())
            .collect()
    }

    fn round(&mut self, pieces: &[ModelPiece], replies: &mut [GradPiece]) -> Result<()> {
        let m = self.nodes.len();
        if pieces.len() != m || replies.len() != m {
            return Err(MastError::Dimension(format!(
                "a round needs {m} pieces and replies, got {} and {}",
                pieces.len(),
                replies.len()
            )));
        }
        self.nodes
            .par_iter_mut()
            .zip(pieces)
            .zip(replies.par_iter_mut())
            .try_for_each(|((node, piece), reply)| node.compute(piece, reply))?;
        self.traffic.record(pieces);
        Ok(())
    }

    fn traffic(&self) -> Traffic {
        self.traffic
    }

    fn reset_streams(&mut self, seed: u64) {
        for node in &mut self.nodes {
            node.reset_stream(seed);
        }
        self.traffic = Traffic::default();
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::to_value(Saved {
            samplers: self.nodes.iter().map(|n| n.sampler().cloned()).collect(),
            traffic: self.traffic,
        })
        .expect("engine state serialises")
    }

    fn restore_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        let s: Saved = crate::serde_util::from_state(saved, "engine")?;
        if s.samplers.len() != self.nodes.len() {
            return Err(MastError::param(
                "checkpoint",
                format!(
                    "engine state has {} nodes, this run {}",
                    s.samplers.len(),
                    self.nodes.len()
                ),
            ));
        }
        for (node, sampler) in self.nodes.iter_mut().zip(s.samplers) {
            node.set_sampler(sampler);
        }
        self.traffic = s.traffic;
        Ok(())
    }
}
