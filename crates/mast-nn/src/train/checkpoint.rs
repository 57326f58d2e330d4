//! Checkpoints of a network run: everything that determines its future (the
//! parameters, the momentum buffers, the state of every random stream, the batch
//! order, the position in the epoch, the partial sums and the rows so far), in one
//! file written atomically, so that a run stopped at any point (`kill -9`, Ctrl-C)
//! and resumed ends exactly as if it had never stopped.
//!
//! File layout: `MASTNNCK`, u64 length and JSON header, u64 length and the
//! parameters ([`HostParams::to_bytes`]), then the momentum buffers (same encoding,
//! only the tensors that have one).

use std::path::{Path, PathBuf};
use std::time::Duration;

use burn::tensor::Tensor;
use mast::rng::MastRng;
use mast::run::io::write_atomic;
use mast::run::Interrupt;

use super::{EpochMetrics, Trainer};
use crate::data::Batches;
use crate::error::{NnError, Result};
use crate::model::HostParams;

const MAGIC: &[u8; 8] = b"MASTNNCK";
const VERSION: u32 = 1;

/// Checkpoints and interruption of [`Trainer::train_with`].
#[derive(Debug, Clone)]
pub struct RunControl {
    /// Where to write checkpoints and at most how often (`None`: never).
    pub checkpoint: Option<(PathBuf, Duration)>,
    /// Stops the run between steps when raised (default: [`Interrupt::global`]).
    pub interrupt: Interrupt,
}

impl Default for RunControl {
    /// No checkpoints; stops on the global interrupt.
    fn default() -> Self {
        RunControl {
            checkpoint: None,
            interrupt: Interrupt::global(),
        }
    }
}

impl RunControl {
    /// Checkpoints to `path` at most every `every`, stopping on the global interrupt.
    pub fn checkpoints(path: impl Into<PathBuf>, every: Duration) -> Self {
        RunControl {
            checkpoint: Some((path.into(), every)),
            interrupt: Interrupt::global(),
        }
    }
}

/// How [`Trainer::train_with`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEnd {
    /// Every epoch done: all rows, the initial one first.
    Completed(Vec<EpochMetrics>),
    /// Stopped by the interrupt after writing a checkpoint.
    Interrupted {
        /// Steps done.
        step: u64,
        /// The rows of the finished epochs.
        rows: Vec<EpochMetrics>,
    },
}

/// Where a run is: the epoch under way, how far into it, and its partial sums.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Position {
    /// The epoch under way (1-based; `epochs + 1` once all are done).
    pub epoch: usize,
    /// Steps done in this epoch.
    pub position: usize,
    /// Whether this epoch's batch order is drawn yet.
    pub shuffled: bool,
    /// Sum of this epoch's minibatch losses so far.
    pub sum: f64,
    /// Their number.
    pub count: usize,
    /// Seconds of training steps so far.
    pub train_s: f64,
    /// Seconds since the run started, at the checkpoint.
    pub wall_s: f64,
    /// The rows of the finished epochs (and the initial one).
    pub rows: Vec<EpochMetrics>,
}

impl Position {
    pub(super) fn start(row: EpochMetrics) -> Self {
        Position {
            epoch: 1,
            position: 0,
            shuffled: false,
            sum: 0.0,
            count: 0,
            train_s: 0.0,
            wall_s: row.wall_s,
            rows: vec![row],
        }
    }

    pub(super) fn next_epoch(&mut self, row: EpochMetrics) {
        self.train_s = row.train_s;
        self.wall_s = row.wall_s;
        self.rows.push(row);
        self.epoch += 1;
        self.position = 0;
        self.shuffled = false;
        self.sum = 0.0;
        self.count = 0;
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Header {
    version: u32,
    run: String,
    step: u64,
    sketch_rng: MastRng,
    mask_rng: MastRng,
    data_rng: MastRng,
    batch: usize,
    batch_order: Vec<usize>,
    has_velocity: Vec<bool>,
    at: Position,
}

/// A network run's saved state (see the module docs).
#[derive(Debug, Clone)]
pub struct NnCheckpoint {
    header: Header,
    params: HostParams,
    velocity: HostParams,
}

impl NnCheckpoint {
    /// Steps the run had done.
    pub fn step(&self) -> u64 {
        self.header.step
    }

    /// The rows of the epochs finished before the checkpoint.
    pub fn rows(&self) -> &[EpochMetrics] {
        &self.header.at.rows
    }

    /// Encodes the checkpoint as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.header)
            .map_err(|e| NnError::param("checkpoint", format!("cannot serialise: {e}")))?;
        let params = self.params.to_bytes();
        let mut out = MAGIC.to_vec();
        out.extend((header.len() as u64).to_le_bytes());
        out.extend(header);
        out.extend((params.len() as u64).to_le_bytes());
        out.extend(params);
        out.extend(self.velocity.to_bytes());
        Ok(out)
    }

    /// Decodes [`NnCheckpoint::to_bytes`]; `path` names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |m: String| NnError::data(path, format!("not a usable mast-nn checkpoint: {m}"));
        if bytes.get(..8) != Some(MAGIC.as_slice()) {
            return Err(bad("missing MASTNNCK header".into()));
        }
        let mut at = 8;
        let mut chunk = |what: &str| -> Result<&[u8]> {
            let len = bytes
                .get(at..at + 8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
                .ok_or_else(|| bad(format!("truncated before the {what}")))?;
            let end = (at + 8)
                .checked_add(len)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| bad(format!("truncated {what}")))?;
            let part = &bytes[at + 8..end];
            at = end;
            Ok(part)
        };
        let header: Header =
            serde_json::from_slice(chunk("header")?).map_err(|e| bad(format!("header: {e}")))?;
        let params = HostParams::from_bytes(chunk("parameters")?, path)?;
        let velocity = HostParams::from_bytes(&bytes[at..], path)?;
        if header.version != VERSION {
            return Err(bad(format!(
                "version {} (expected {VERSION})",
                header.version
            )));
        }
        let present = header.has_velocity.iter().filter(|&&v| v).count();
        if header.has_velocity.len() != params.values.len() || present != velocity.values.len() {
            return Err(bad("momentum buffers do not match the parameters".into()));
        }
        Ok(NnCheckpoint {
            header,
            params,
            velocity,
        })
    }

    /// Reads a checkpoint file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| NnError::io(path, "cannot read", e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Writes the checkpoint atomically (a reader sees the old file or the new one).
    pub fn write(&self, path: &Path) -> Result<()> {
        Ok(write_atomic(path, &self.to_bytes()?)?)
    }
}

impl Trainer<'_> {
    /// The run's state at `at`, with the batcher `batches`.
    pub(super) fn checkpoint(&self, at: &Position, batches: &Batches, wall_s: f64) -> NnCheckpoint {
        let velocity: Vec<Tensor<1>> = self.velocity.iter().flatten().cloned().collect();
        NnCheckpoint {
            header: Header {
                version: VERSION,
                run: self.name.clone(),
                step: self.step,
                sketch_rng: self.sketch_rng.clone(),
                mask_rng: self.masks.rng_state(),
                data_rng: self.data_rng.clone(),
                batch: self.settings.batch,
                batch_order: batches.order().to_vec(),
                has_velocity: self.velocity.iter().map(Option::is_some).collect(),
                at: Position {
                    wall_s,
                    ..at.clone()
                },
            },
            params: self.params(),
            velocity: HostParams::from_tensors(&velocity),
        }
    }

    /// Puts the run in the state of `ck` (a checkpoint of this same run) and
    /// returns where it was; `batches` continues from the saved order.
    pub(super) fn restore(&mut self, ck: NnCheckpoint, batches: &mut Batches) -> Result<Position> {
        let h = ck.header;
        let refuse = |m: String| Err(NnError::param("checkpoint", m));
        if h.run != self.name {
            return refuse(format!(
                "it belongs to run `{}`, not `{}`",
                h.run, self.name
            ));
        }
        if h.batch != self.settings.batch || h.batch_order.len() != batches.order().len() {
            return refuse(format!(
                "it was made with batch {} over {} images, this run has batch {} over {}",
                h.batch,
                h.batch_order.len(),
                self.settings.batch,
                batches.order().len()
            ));
        }
        ck.params.check(self.model.specs(), "checkpoint")?;
        let device = self
            .params
            .first()
            .map(|p| p.device())
            .unwrap_or_else(super::cpu);
        self.params = ck.params.to_tensors(&device);
        let mut saved = ck.velocity.to_tensors(&device).into_iter();
        self.velocity = h
            .has_velocity
            .iter()
            .map(|&has| if has { saved.next() } else { None })
            .collect();
        if self
            .velocity
            .iter()
            .zip(&self.params)
            .any(|(v, p)| v.as_ref().is_some_and(|v| v.dims() != p.dims()))
        {
            return refuse("momentum buffers do not fit the parameters".into());
        }
        self.step = h.step;
        self.sketch_rng = h.sketch_rng;
        self.data_rng = h.data_rng;
        self.masks = Self::mask_source(
            self.model,
            self.method,
            &self.settings,
            h.mask_rng,
            self.shift_host.clone(),
            self.device.clone(),
            self.fast_ok,
        )?;
        *batches = Batches::with_order(h.batch_order, h.batch)?;
        Ok(h.at)
    }
}
