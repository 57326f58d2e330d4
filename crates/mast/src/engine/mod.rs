//! Engines for Algorithm 2: how the server's sparse model pieces reach the nodes
//! and their sparse gradients come back.
//!
//! The algorithm ([`crate::algorithm::DistributedDsgd`]) only builds, for each node
//! i, the piece `y_i = v + S_i(x − v)` restricted to the support Ω_i of `S_i`, and
//! applies the replies. An [`Engine`] moves the pieces: node i holds its own data
//! shard `f_i` and the shift v, receives `(Ω_i, y_i|Ω_i)`, and returns
//! `∇f_i(y_i)|Ω_i` (the server multiplies by the scales of `S_i`, so the reply
//! is `S_iᵀ∇f_i(y_i)` without sending the scales). Only |Ω_i| floats travel each
//! way per node; [`Traffic`] counts them.
//!
//! - [`InProcess`] (the default): the nodes live in this process and run in
//!   parallel on rayon threads; every node's computation is deterministic, so the
//!   results are bit-identical whatever the thread count.
//! - `MpiEngine` (module `engine::mpi`) (cargo feature `mpi`): the same trait across processes, one
//!   node per MPI rank; only the sketched pieces travel.

mod in_process;
#[cfg(feature = "mpi")]
pub mod mpi;
mod node;

#[cfg(feature = "mpi")]
pub use self::mpi::{MpiEngine, MpiWorld};
pub use in_process::InProcess;
pub use node::Node;

use crate::error::Result;

/// What the server sends node i in one round: its sketched model on its support.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelPiece {
    /// The support Ω_i (strictly increasing).
    pub indices: Vec<usize>,
    /// `y_j = v_j + c_j (x_j − v_j)` for j ∈ Ω_i.
    pub values: Vec<f64>,
}

/// What node i returns: `∇f_i(y_i)` on its support, its loss and sample count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GradPiece {
    /// `∂_j f_i(y_i)` for j ∈ Ω_i, in the order of the piece's indices.
    pub values: Vec<f64>,
    /// `f_i(y_i)` over the samples used.
    pub loss: f64,
    /// Samples used (the shard, or a minibatch of it).
    pub samples: usize,
}

/// Floats and indices moved between the server and the nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Traffic {
    /// Rounds done.
    pub rounds: u64,
    /// Model values sent to nodes (f64 each).
    pub floats_down: u64,
    /// Coordinate indices sent to nodes (u32 on the wire).
    pub indices_down: u64,
    /// Gradient values returned by nodes (f64 each).
    pub floats_up: u64,
    /// Scalars returned by nodes (loss and sample count, one pair per node per round).
    pub scalars_up: u64,
    /// Payload bytes that actually crossed between processes (the MPI engine
    /// only: node 0's piece stays in rank 0, headers are included, MPI's own
    /// envelopes are not). `None` for the in-process engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpi_bytes: Option<u64>,
}

impl Traffic {
    /// Books one round with these pieces.
    pub fn record(&mut self, pieces: &[ModelPiece]) {
        let kept: u64 = pieces.iter().map(|p| p.indices.len() as u64).sum();
        self.rounds += 1;
        self.floats_down += kept;
        self.indices_down += kept;
        self.floats_up += kept;
        self.scalars_up += 2 * pieces.len() as u64;
    }

    /// Total bytes on the wire (8 per float and scalar, 4 per index).
    pub fn bytes(&self) -> u64 {
        8 * (self.floats_down + self.floats_up + self.scalars_up) + 4 * self.indices_down
    }

    /// Model floats sent per round (server → nodes), averaged over rounds.
    pub fn floats_down_per_round(&self) -> f64 {
        self.floats_down as f64 / self.rounds.max(1) as f64
    }

    /// Bytes per round, averaged over rounds.
    pub fn bytes_per_round(&self) -> f64 {
        self.bytes() as f64 / self.rounds.max(1) as f64
    }
}

/// Moves model pieces to the M nodes and their gradients back (see the module docs).
pub trait Engine: Send {
    /// A short name for reports (`in-process`, `mpi`).
    fn name(&self) -> &str;

    /// The number of nodes M.
    fn nodes(&self) -> usize;

    /// The model dimension d.
    fn dim(&self) -> usize;

    /// Samples per node.
    fn shard_sizes(&self) -> Vec<usize>;

    /// `L_{f_i}` of each node's objective (for the theory step sizes).
    fn node_smoothness(&self) -> Vec<f64>;

    /// One round: node i receives `pieces[i]` and its reply is written to
    /// `replies[i]` (both of length M).
    fn round(&mut self, pieces: &[ModelPiece], replies: &mut [GradPiece]) -> Result<()>;

    /// Traffic so far.
    fn traffic(&self) -> Traffic;

    /// Resets the nodes' random streams (minibatch samplers) for `seed`.
    fn reset_streams(&mut self, seed: u64);

    /// The nodes' state (samplers, traffic) for checkpoints.
    fn save_state(&self) -> serde_json::Value;

    /// Restores what [`Engine::save_state`] saved.
    fn restore_state(&mut self, saved: &serde_json::Value) -> Result<()>;
}
