//! The MPI engine (cargo feature `mpi`): Algorithm 2 across processes.
//!
//! Rank r holds node r (its shard's objective, built from its own rows only);
//! rank 0 is also the server: it runs the solver, draws the sketches and
//! evaluates. The other ranks run [`serve`]: a loop that waits for the next
//! command from rank 0.
//!
//! A round, as MPI messages (root = rank 0):
//!
//! 1. `MPI_Scatter` of a two-word header `[ROUND, k_i]` (k_i = |Ω_i|);
//! 2. `MPI_Scatterv` of the support indices (u32) and of the model values
//!    `y_i|Ω_i` (f64), k_i of each for rank i;
//! 3. every rank computes `∇f_i(y_i)|Ω_i` ([`Node::compute`]; rank 0 its own node
//!    in place, nothing travels for it);
//! 4. `MPI_Gatherv` of the gradient values followed by the loss and the sample
//!    count (k_i + 2 f64 from rank i).
//!
//! With Perm-K the supports partition the coordinates, so a round moves d model
//! floats down and d gradient floats up in total, whatever M.
//! [`Traffic`] counts the pieces of all nodes (node 0's included) exactly as the
//! in-process engine does, so both engines report the same counts; its
//! `mpi_bytes` adds the payload bytes that actually crossed between processes
//! (node 0's piece stays in rank 0; MPI's own envelopes are not counted).
//!
//! Failures: MPI's default error handler aborts the job on a communication
//! error, and a rank that dies makes `mpirun` kill the others. A rank whose own
//! computation fails returns the error from [`serve`]; the caller prints it and
//! calls [`MpiWorld::abort`], which ends every rank.

use std::sync::atomic::{AtomicBool, Ordering};

use mpi::datatype::{Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::Root;
use mpi::Count;

use super::{Engine, GradPiece, ModelPiece, Node, Traffic};
use crate::error::{MastError, Result};
use crate::objective::Objective;
use crate::sampling::BatchSampler;

const ROOT: mpi::Rank = 0;
const CMD_ROUND: u64 = 1;
const CMD_STOP: u64 = 2;
const CMD_RESET: u64 = 3;
const CMD_SAVE: u64 = 4;
const CMD_RESTORE: u64 = 5;

/// Set once rank 0 has told the other ranks to stop (see [`workers_released`]).
static RELEASED: AtomicBool = AtomicBool::new(false);

/// Whether rank 0 has sent the other ranks the stop command: after that, an
/// error on rank 0 may simply be returned (the others have left cleanly);
/// before it, rank 0 must [`MpiWorld::abort`] or the others would wait forever.
pub fn workers_released() -> bool {
    RELEASED.load(Ordering::SeqCst)
}

fn world() -> SimpleCommunicator {
    SimpleCommunicator::world()
}

fn mpi_err(what: impl Into<String>) -> MastError {
    MastError::param("mpi", what)
}

/// MPI, initialised once per process (finalised when dropped).
pub struct MpiWorld {
    _universe: Universe,
    rank: usize,
    size: usize,
}

impl std::fmt::Debug for MpiWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiWorld")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish()
    }
}

impl MpiWorld {
    /// Initialises MPI (`MPI_Init_thread`, serialised calls: the solver may run on
    /// a worker thread, never two MPI calls at once). Fails if MPI was already
    /// initialised in this process.
    pub fn init() -> Result<Self> {
        let (universe, _level) = mpi::initialize_with_threading(mpi::Threading::Serialized)
            .ok_or_else(|| {
                mpi_err("MPI is already initialised in this process (initialise it once)")
            })?;
        let w = universe.world();
        Ok(MpiWorld {
            rank: w.rank() as usize,
            size: w.size() as usize,
            _universe: universe,
        })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of processes (= nodes M).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Ends every rank of the job (`MPI_Abort`) with exit code `code`.
    pub fn abort(&self, code: i32) -> ! {
        world().abort(code)
    }

    /// Broadcasts `buf` from rank 0: every rank must call it with a buffer of
    /// the same length, and all end up with rank 0's contents.
    pub fn broadcast_f64(&self, buf: &mut [f64]) {
        world().process_at_rank(ROOT).broadcast_into(buf);
    }
}

/// Counts and displacements of a variable-count collective.
fn layout(counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .scan(0, |acc, &c| {
            let at = *acc;
            *acc += c;
            Some(at)
        })
        .collect()
}

fn count(n: usize) -> Result<Count> {
    Count::try_from(n).map_err(|_| mpi_err(format!("a message of {n} items is too large for MPI")))
}

/// The engine on rank 0: node 0 in this process, nodes 1..M on the other ranks
/// (each running [`serve`]). See the module docs for the messages of a round.
#[derive(Debug)]
pub struct MpiEngine<O: Objective> {
    node: Node<O>,
    m: usize,
    d: usize,
    shard_sizes: Vec<usize>,
    smoothness: Vec<f64>,
    traffic: Traffic,
    wire: u64,
    stopped: bool,
    idx: Vec<u32>,
    vals: Vec<f64>,
    up: Vec<f64>,
    counts: Vec<Count>,
    up_counts: Vec<Count>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    samplers: Vec<Option<BatchSampler>>,
    traffic: Traffic,
}

/// What each rank reports at the start: shard size, `L_{f_i}`, dimension.
fn hello<O: Objective>(node: &Node<O>) -> [f64; 3] {
    let o = node.objective();
    [o.num_samples() as f64, o.smoothness(), o.dim() as f64]
}

impl<O: Objective> MpiEngine<O> {
    /// The engine on rank 0 with its own node (`node.index()` must be 0). Every
    /// other rank must be in [`serve`]; they report their shard sizes, `L_{f_i}`
    /// and dimensions once, here.
    /// MPI must be initialised ([`MpiWorld::init`]).
    pub fn root(node: Node<O>) -> Result<Self> {
        if !mpi::environment::is_initialized() {
            return Err(mpi_err("MPI is not initialised: call MpiWorld::init first"));
        }
        let w = world();
        if w.rank() != ROOT || node.index() != 0 {
            return Err(mpi_err(format!(
                "the MPI engine's server is rank 0 with node 0 (this is rank {}, node {})",
                w.rank(),
                node.index()
            )));
        }
        let m = w.size() as usize;
        let mut all = vec![0.0; 3 * m];
        w.process_at_rank(ROOT)
            .gather_into_root(&hello(&node)[..], &mut all[..]);
        let d = node.objective().dim();
        let mut shard_sizes = Vec::with_capacity(m);
        let mut smoothness = Vec::with_capacity(m);
        let mut bad = None;
        for (i, h) in all.chunks_exact(3).enumerate() {
            shard_sizes.push(h[0] as usize);
            smoothness.push(h[1]);
            if h[2] as usize != d && bad.is_none() {
                bad = Some(format!(
                    "rank {i}'s node has dimension {}, rank 0's {d}: do all ranks read the same data?",
                    h[2]
                ));
            }
        }
        let mut engine = MpiEngine {
            node,
            m,
            d,
            shard_sizes,
            smoothness,
            traffic: Traffic::default(),
            wire: 0,
            stopped: false,
            idx: Vec::new(),
            vals: Vec::new(),
            up: Vec::new(),
            counts: vec![0; m],
            up_counts: vec![0; m],
        };
        engine.traffic.mpi_bytes = Some(0);
        if let Some(msg) = bad {
            engine.stop();
            return Err(MastError::Dimension(msg));
        }
        Ok(engine)
    }

    /// Rank 0's node.
    pub fn node(&self) -> &Node<O> {
        &self.node
    }

    /// Sends `cmd` with per-rank arguments `args` (rank 0's is ignored).
    fn command(&self, cmd: u64, args: &[u64]) -> u64 {
        let header: Vec<u64> = args.iter().flat_map(|&a| [cmd, a]).collect();
        let mut mine = [0u64; 2];
        world()
            .process_at_rank(ROOT)
            .scatter_into_root(&header[..], &mut mine[..]);
        16 * (self.m as u64 - 1)
    }

    /// Tells the other ranks to leave [`serve`]. Done once; also on drop.
    pub fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            self.command(CMD_STOP, &vec![0; self.m]);
            RELEASED.store(true, Ordering::SeqCst);
        }
    }

    /// Payload bytes that crossed between processes so far.
    pub fn wire_bytes(&self) -> u64 {
        self.wire
    }
}

impl<O: Objective> Drop for MpiEngine<O> {
    fn drop(&mut self) {
        self.stop();
    }
}

impl<O: Objective> Engine for MpiEngine<O> {
    fn name(&self) -> &str {
        "mpi"
    }

    fn nodes(&self) -> usize {
        self.m
    }

    fn dim(&self) -> usize {
        self.d
    }

    fn shard_sizes(&self) -> Vec<usize> {
        self.shard_sizes.clone()
    }

    fn node_smoothness(&self) -> Vec<f64> {
        self.smoothness.clone()
    }

    fn round(&mut self, pieces: &[ModelPiece], replies: &mut [GradPiece]) -> Result<()> {
        let m = self.m;
        if pieces.len() != m || replies.len() != m {
            return Err(MastError::Dimension(format!(
                "a round needs {m} pieces and replies, got {} and {}",
                pieces.len(),
                replies.len()
            )));
        }
        if self.stopped {
            return Err(mpi_err("the MPI engine was stopped"));
        }
        if let Some(p) = pieces.iter().find(|p| p.indices.len() != p.values.len()) {
            return Err(MastError::Dimension(format!(
                "a piece has {} indices but {} values",
                p.indices.len(),
                p.values.len()
            )));
        }
        // Headers: the support size of each node (rank 0's piece stays here).
        let ks: Vec<u64> = pieces.iter().map(|p| p.indices.len() as u64).collect();
        let mut wire = self.command(CMD_ROUND, &ks);
        self.idx.clear();
        self.vals.clear();
        self.counts[0] = 0;
        self.up_counts[0] = 0;
        for (i, p) in pieces.iter().enumerate().skip(1) {
            self.counts[i] = count(p.indices.len())?;
            self.up_counts[i] = count(p.indices.len() + 2)?;
            for &j in &p.indices {
                self.idx.push(u32::try_from(j).map_err(|_| {
                    mpi_err(format!("coordinate {j} does not fit the u32 wire format"))
                })?);
            }
            self.vals.extend_from_slice(&p.values);
        }
        let displs = layout(&self.counts);
        let root = world();
        let root = root.process_at_rank(ROOT);
        let mut none_u32: [u32; 0] = [];
        let mut none_f64: [f64; 0] = [];
        root.scatter_varcount_into_root(
            &Partition::new(&self.idx[..], &self.counts[..], &displs[..]),
            &mut none_u32[..],
        );
        root.scatter_varcount_into_root(
            &Partition::new(&self.vals[..], &self.counts[..], &displs[..]),
            &mut none_f64[..],
        );
        wire += 12 * self.idx.len() as u64;
        // Node 0 computes here while the others compute on their ranks.
        let local = self.node.compute(&pieces[0], &mut replies[0]);
        let up_displs = layout(&self.up_counts);
        let total: usize = self.up_counts.iter().map(|&c| c as usize).sum();
        self.up.clear();
        self.up.resize(total, 0.0);
        root.gather_varcount_into_root(
            &none_f64[..],
            &mut PartitionMut::new(&mut self.up[..], &self.up_counts[..], &up_displs[..]),
        );
        wire += 8 * total as u64;
        local?;
        for (i, reply) in replies.iter_mut().enumerate().skip(1) {
            let at = up_displs[i] as usize;
            let k = pieces[i].indices.len();
            let got = &self.up[at..at + k + 2];
            reply.values.clear();
            reply.values.extend_from_slice(&got[..k]);
            reply.loss = got[k];
            reply.samples = got[k + 1] as usize;
        }
        self.traffic.record(pieces);
        self.wire += wire;
        self.traffic.mpi_bytes = Some(self.wire);
        Ok(())
    }

    fn traffic(&self) -> Traffic {
        self.traffic
    }

    fn reset_streams(&mut self, seed: u64) {
        if !self.stopped {
            self.wire += self.command(CMD_RESET, &vec![seed; self.m]);
        }
        self.node.reset_stream(seed);
        self.traffic = Traffic::default();
        self.wire = 0;
        self.traffic.mpi_bytes = Some(0);
    }

    fn save_state(&self) -> serde_json::Value {
        let m = self.m;
        let mut samplers = vec![self.node.sampler().cloned()];
        if !self.stopped {
            self.command(CMD_SAVE, &vec![0; m]);
            let w = world();
            let root = w.process_at_rank(ROOT);
            let mut lens = vec![0u64; m];
            root.gather_into_root(&[0u64][..], &mut lens[..]);
            let counts: Vec<Count> = lens.iter().map(|&l| l as Count).collect();
            let displs = layout(&counts);
            let mut bytes = vec![0u8; lens.iter().sum::<u64>() as usize];
            let none: [u8; 0] = [];
            root.gather_varcount_into_root(
                &none[..],
                &mut PartitionMut::new(&mut bytes[..], &counts[..], &displs[..]),
            );
            for i in 1..m {
                let at = displs[i] as usize;
                let text = &bytes[at..at + counts[i] as usize];
                samplers.push(serde_json::from_slice(text).unwrap_or(None));
            }
        }
        serde_json::to_value(Saved {
            samplers,
            traffic: self.traffic,
        })
        .expect("engine state serialises")
    }

    fn restore_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        let s: Saved = serde_json::from_value(saved.clone())
            .map_err(|e| MastError::param("checkpoint", format!("engine state: {e}")))?;
        if s.samplers.len() != self.m {
            return Err(MastError::param(
                "checkpoint",
                format!(
                    "engine state has {} nodes, this run {}",
                    s.samplers.len(),
                    self.m
                ),
            ));
        }
        if self.stopped {
            return Err(mpi_err("the MPI engine was stopped"));
        }
        let texts: Vec<Vec<u8>> = s
            .samplers
            .iter()
            .map(|x| serde_json::to_vec(x).expect("sampler serialises"))
            .collect();
        let lens: Vec<u64> = texts.iter().map(|t| t.len() as u64).collect();
        let mut counts: Vec<Count> = lens
            .iter()
            .map(|&l| count(l as usize))
            .collect::<Result<_>>()?;
        counts[0] = 0;
        self.wire += self.command(CMD_RESTORE, &lens);
        let displs = layout(&counts);
        let flat: Vec<u8> = texts[1..].concat();
        let mut none: [u8; 0] = [];
        world().process_at_rank(ROOT).scatter_varcount_into_root(
            &Partition::new(&flat[..], &counts[..], &displs[..]),
            &mut none[..],
        );
        let mut samplers = s.samplers;
        self.node.set_sampler(samplers.swap_remove(0));
        self.traffic = s.traffic;
        self.wire = s.traffic.mpi_bytes.unwrap_or(0);
        Ok(())
    }
}

/// Failure tests: `MAST_TEST_DIE_AT_ROUND=N` makes rank 1 exit (code 3, without
/// a word to the others) when round N arrives, as a crashed node would.
pub const DIE_VAR: &str = "MAST_TEST_DIE_AT_ROUND";

fn die_at_round(rank: mpi::Rank) -> Option<u64> {
    if rank != 1 {
        return None;
    }
    std::env::var(DIE_VAR).ok()?.trim().parse().ok()
}

/// The loop of ranks 1..M: takes part in the start-up report, then answers rank
/// 0's commands with `node` until it sends stop. An error (a bad piece, a bad
/// saved state) is returned: print it and [`MpiWorld::abort`].
pub fn serve<O: Objective>(mut node: Node<O>) -> Result<()> {
    if !mpi::environment::is_initialized() {
        return Err(mpi_err("MPI is not initialised: call MpiWorld::init first"));
    }
    let w = world();
    let root = w.process_at_rank(ROOT);
    root.gather_into(&hello(&node)[..]);
    let mut header = [0u64; 2];
    let mut piece = ModelPiece::default();
    let mut reply = GradPiece::default();
    let mut idx: Vec<u32> = Vec::new();
    let mut up: Vec<f64> = Vec::new();
    let die_at = die_at_round(w.rank());
    let mut rounds = 0u64;
    loop {
        root.scatter_into(&mut header[..]);
        match header[0] {
            CMD_ROUND => {
                rounds += 1;
                if die_at == Some(rounds) {
                    eprintln!(
                        "rank {}: exiting at round {rounds} ({DIE_VAR}, a failure test)",
                        w.rank()
                    );
                    std::process::exit(3);
                }
                let k = header[1] as usize;
                idx.resize(k, 0);
                piece.values.resize(k, 0.0);
                root.scatter_varcount_into(&mut idx[..]);
                root.scatter_varcount_into(&mut piece.values[..]);
                piece.indices.clear();
                piece.indices.extend(idx.iter().map(|&j| j as usize));
                node.compute(&piece, &mut reply)?;
                up.clear();
                up.extend_from_slice(&reply.values);
                up.push(reply.loss);
                up.push(reply.samples as f64);
                root.gather_varcount_into(&up[..]);
            }
            CMD_STOP => return Ok(()),
            CMD_RESET => node.reset_stream(header[1]),
            CMD_SAVE => {
                let text = serde_json::to_vec(&node.sampler().cloned())
                    .map_err(|e| mpi_err(format!("cannot save node state: {e}")))?;
                root.gather_into(&[text.len() as u64][..]);
                root.gather_varcount_into(&text[..]);
            }
            CMD_RESTORE => {
                let mut text = vec![0u8; header[1] as usize];
                root.scatter_varcount_into(&mut text[..]);
                let sampler: Option<BatchSampler> = serde_json::from_slice(&text).map_err(|e| {
                    MastError::param("checkpoint", format!("node {}: {e}", node.index()))
                })?;
                node.set_sampler(sampler);
            }
            other => {
                return Err(mpi_err(format!(
                    "rank {}: unknown command {other} from rank 0",
                    w.rank()
                )))
            }
        }
    }
}
