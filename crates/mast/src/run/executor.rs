//! The executor: runs a solver for a number of steps, evaluates every k steps,
//! tracks the best iterate by validation accuracy, detects divergence, calls
//! observers and writes checkpoints. It checks its [`Interrupt`] between steps:
//! an interrupted run writes its checkpoint (with the partial sums of the
//! evaluation interval under way) and ends with [`RunStatus::Interrupted`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::interrupt::Interrupt;
use super::metrics::MetricsRow;
use super::observer::{Observer, RunStart, RunStatus};
use crate::algorithm::{IterState, MastProblem, Solver};
use crate::data::Dataset;
use crate::error::{MastError, Result};
use crate::linalg::{dist, norm};
use crate::objective::{Objective, Rows};

/// How iterates are evaluated: the training objective plus held-out sets.
pub struct Evaluator<'a, O: Objective + ?Sized> {
    /// The training objective f.
    pub objective: &'a O,
    /// Validation data (selects the best iterate).
    pub validation: Option<&'a Dataset>,
    /// Test data.
    pub test: Option<&'a Dataset>,
    /// A reference point (e.g. `x_D*`) for the `dist_to_ref` column.
    pub reference: Option<&'a [f64]>,
}

impl<O: Objective + ?Sized> Evaluator<'_, O> {
    /// The metrics of `state` (wall time left at 0 for the caller to fill).
    pub fn evaluate(&self, state: &IterState, sketched_loss: Option<f64>) -> MetricsRow {
        let f = self.objective;
        let mut g = vec![0.0; f.dim()];
        let loss = f.loss_grad(&state.x, Rows::All, &mut g);
        MetricsRow {
            step: state.step,
            epoch: state.samples as f64 / f.num_samples() as f64,
            loss,
            sketched_loss,
            grad_norm: norm(&g),
            train_accuracy: f.accuracy(&state.x),
            val_accuracy: self
                .validation
                .map(|d| crate::objective::accuracy(d, &state.x)),
            test_accuracy: self.test.map(|d| crate::objective::accuracy(d, &state.x)),
            coords_touched: state.coords,
            gamma: state.gamma.is_finite().then_some(state.gamma),
            dist_to_ref: self.reference.map(|r| dist(&state.x, r)),
            wall_time_s: 0.0,
        }
    }
}

/// The best iterate seen (by validation accuracy, else by training loss).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Best {
    /// Its step.
    pub step: u64,
    /// The iterate.
    pub x: Vec<f64>,
    /// Its validation accuracy, if any.
    pub val_accuracy: Option<f64>,
    /// Its training loss.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub loss: f64,
}

impl Best {
    fn improves_on(row: &MetricsRow, best: &Option<Best>) -> bool {
        match (best, row.val_accuracy) {
            (None, _) => true,
            (Some(b), Some(acc)) => acc > b.val_accuracy.unwrap_or(f64::NEG_INFINITY),
            (Some(b), None) => row.loss < b.loss,
        }
    }
}

/// Everything needed to continue a run exactly where it stopped.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// The solver's iterate and counters.
    pub state: IterState,
    /// The solver's own state (random streams, sampler).
    pub solver: serde_json::Value,
    /// The best iterate so far.
    pub best: Option<Best>,
    /// The metrics rows so far.
    pub rows: Vec<MetricsRow>,
    /// Wall time used so far.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub elapsed_s: f64,
    /// The sum and count of the sketched losses of the steps since the last
    /// evaluation (non-zero when the run was interrupted between evaluations).
    #[serde(default)]
    pub pending_loss: (f64, u64),
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The final state.
    pub state: IterState,
    /// Every metrics row.
    pub rows: Vec<MetricsRow>,
    /// The best iterate.
    pub best: Option<Best>,
    /// How it ended.
    pub status: RunStatus,
    /// Total wall time (including a resumed run's earlier part).
    pub elapsed_s: f64,
}

/// A run's loss is declared diverged once `f(x) > f(x_0) + FACTOR·(|f(x_0)| + 1)`.
pub const DIVERGENCE_FACTOR: f64 = 1e4;

/// Runs a solver; see the module docs.
pub struct Executor<'a, O: Objective + ?Sized> {
    problem: &'a MastProblem<'a, O>,
    evaluator: Evaluator<'a, O>,
    max_steps: u64,
    eval_every: u64,
    observers: Vec<&'a mut dyn Observer>,
    checkpoint: Option<(PathBuf, Duration)>,
    resume: Option<Checkpoint>,
    name: String,
    interrupt: Interrupt,
}

impl<'a, O: Objective + ?Sized> Executor<'a, O> {
    /// An executor for `problem`, evaluated by `evaluator`.
    pub fn new(problem: &'a MastProblem<'a, O>, evaluator: Evaluator<'a, O>) -> Self {
        Executor {
            problem,
            evaluator,
            max_steps: 100,
            eval_every: 10,
            observers: Vec::new(),
            checkpoint: None,
            resume: None,
            name: "run".into(),
            interrupt: Interrupt::global(),
        }
    }

    /// Total steps.
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.max_steps = steps;
        self
    }

    /// Evaluate every `k` steps (and at the first and last).
    pub fn eval_every(mut self, k: u64) -> Self {
        self.eval_every = k.max(1);
        self
    }

    /// A name for observers.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds an observer.
    pub fn observe(mut self, obs: &'a mut dyn Observer) -> Self {
        self.observers.push(obs);
        self
    }

    /// Writes a checkpoint to `path` at evaluations at most every `interval`, and at the end.
    pub fn checkpoint(mut self, path: impl Into<PathBuf>, interval: Duration) -> Self {
        self.checkpoint = Some((path.into(), interval));
        self
    }

    /// Stops between steps once `interrupt` is raised (default: [`Interrupt::global`]).
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }

    /// Continues from a checkpoint instead of starting at x⁰.
    pub fn resume(mut self, ck: Checkpoint) -> Self {
        self.resume = Some(ck);
        self
    }

    /// Runs `solver` from `x0` (ignored when resuming).
    pub fn run(mut self, solver: &mut dyn Solver<O>, x0: Vec<f64>) -> Result<RunOutcome> {
        let started = Instant::now();
        let mut state = solver.init_at(self.problem, x0)?;
        let (mut rows, mut best, offset, pending) = match self.resume.take() {
            Some(ck) => {
                if ck.state.x.len() != state.x.len() {
                    return Err(MastError::Dimension(format!(
                        "checkpoint model has {} entries, the problem {}",
                        ck.state.x.len(),
                        state.x.len()
                    )));
                }
                solver.restore_state(&ck.solver)?;
                state = ck.state;
                (ck.rows, ck.best, ck.elapsed_s, ck.pending_loss)
            }
            None => (Vec::new(), None, 0.0, (0.0, 0)),
        };
        let elapsed = |started: &Instant| offset + started.elapsed().as_secs_f64();
        let start = RunStart {
            name: self.name.clone(),
            first_step: state.step,
            total_steps: self.max_steps,
        };
        for o in self.observers.iter_mut() {
            o.on_start(&start)?;
        }
        if rows.is_empty() {
            let mut row = self.evaluator.evaluate(&state, None);
            row.wall_time_s = elapsed(&started);
            self.record(&mut rows, &mut best, row, &state)?;
        }
        let f0 = rows[0].loss;
        let limit = f0 + DIVERGENCE_FACTOR * (f0.abs() + 1.0);
        let mut last_ck = Instant::now();
        let (mut acc, mut acc_n) = pending;
        let mut status = RunStatus::Completed;
        while state.step < self.max_steps {
            if self.interrupt.is_raised() {
                status = RunStatus::Interrupted { step: state.step };
                break;
            }
            match solver.next_iter(self.problem, &mut state) {
                Ok(()) => {}
                Err(MastError::Diverged { step, detail, .. }) => {
                    status = RunStatus::Diverged { step, detail };
                    break;
                }
                Err(e) => return Err(e),
            }
            acc += state.last_loss;
            acc_n += 1;
            if state.step % self.eval_every == 0 || state.step == self.max_steps {
                let mut row = self.evaluator.evaluate(&state, Some(acc / acc_n as f64));
                row.wall_time_s = elapsed(&started);
                (acc, acc_n) = (0.0, 0);
                let loss = row.loss;
                self.record(&mut rows, &mut best, row, &state)?;
                if !loss.is_finite() || loss > limit {
                    status = RunStatus::Diverged {
                        step: state.step,
                        detail: format!(
                            "training loss {loss:.4e} exceeds {limit:.4e} (initial {f0:.4e})"
                        ),
                    };
                    break;
                }
                if let Some((path, interval)) = &self.checkpoint {
                    if last_ck.elapsed() >= *interval {
                        let ck = (&state, &best, rows.as_slice(), (acc, acc_n));
                        write_checkpoint(path, ck, solver, elapsed(&started))?;
                        last_ck = Instant::now();
                    }
                }
            }
        }
        if let Some((path, _)) = &self.checkpoint {
            if matches!(status, RunStatus::Completed | RunStatus::Interrupted { .. }) {
                let ck = (&state, &best, rows.as_slice(), (acc, acc_n));
                write_checkpoint(path, ck, solver, elapsed(&started))?;
            }
        }
        for o in self.observers.iter_mut() {
            o.on_finish(&status, &rows)?;
        }
        Ok(RunOutcome {
            state,
            rows,
            best,
            status,
            elapsed_s: elapsed(&started),
        })
    }

    fn record(
        &mut self,
        rows: &mut Vec<MetricsRow>,
        best: &mut Option<Best>,
        row: MetricsRow,
        state: &IterState,
    ) -> Result<()> {
        if row.loss.is_finite() && Best::improves_on(&row, best) {
            *best = Some(Best {
                step: row.step,
                x: state.x.clone(),
                val_accuracy: row.val_accuracy,
                loss: row.loss,
            });
        }
        rows.push(row);
        let last = rows.last().expect("just pushed");
        for o in self.observers.iter_mut() {
            o.on_eval(last, rows)?;
        }
        Ok(())
    }
}

/// What a checkpoint records of the executor: state, best, rows, pending loss sums.
type Progressed<'s> = (
    &'s IterState,
    &'s Option<Best>,
    &'s [MetricsRow],
    (f64, u64),
);

fn write_checkpoint<O: Objective + ?Sized>(
    path: &std::path::Path,
    (state, best, rows, pending_loss): Progressed<'_>,
    solver: &dyn Solver<O>,
    elapsed_s: f64,
) -> Result<()> {
    let ck = Checkpoint {
        version: 1,
        state: state.clone(),
        solver: solver.save_state(),
        best: best.clone(),
        rows: rows.to_vec(),
        elapsed_s,
        pending_loss,
    };
    super::io::write_json(path, &ck)
}
