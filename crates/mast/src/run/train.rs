//! The training job behind `mast train`: data → objective → sketch → solver →
//! executor → run folder (`config.toml`, `metrics.csv`, `summary.json`, models,
//! `checkpoint.json`).

use std::path::PathBuf;
use std::sync::Arc;

use super::build::{EngineChoice, Sets};
use super::config::{CheckedTrain, EngineKind, LossKind, Method, TrainConfig};
use super::executor::{Checkpoint, Evaluator, Executor, RunOutcome};
use super::io::{read_json, write_atomic, write_json};
use super::observer::{MetricsCsv, Observer, RunStatus};
use super::plan::{plan, Job};
use super::rate::{fit_rate, ObservedRate};
use crate::algorithm::{MastProblem, StepSize};
use crate::data::{load_libsvm_pair, split::holdout, Dataset};
use crate::engine::Traffic;
use crate::error::{MastError, Result};
use crate::linalg::dot;
use crate::objective::{LeastSquares, LogisticRegression, Objective, Quadratic, Shift};
use crate::rng::{stream, Stream};
use crate::sketched::{estimate_fd, Estimate};
use crate::theory::{sandwich_gap, DistributedTheory, TheoryReport};

/// What to do with an existing run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderMode {
    /// Refuse a folder that already holds a run.
    Fresh,
    /// Replace whatever the folder holds.
    Overwrite,
    /// Continue from the folder's `checkpoint.json`.
    Resume,
}

/// A saved model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedModel {
    /// The step it comes from.
    pub step: u64,
    /// Validation accuracy at that step, if measured.
    pub val_accuracy: Option<f64>,
    /// The parameters.
    pub x: Vec<f64>,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Run name.
    pub name: String,
    /// How it ended.
    pub status: RunStatus,
    /// Solver name.
    pub solver: String,
    /// The sketch distribution.
    pub sketch: String,
    /// Master seed.
    pub seed: u64,
    /// λ used.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub lambda: f64,
    /// Training, validation and test sizes.
    pub n_train: usize,
    /// Validation rows.
    pub n_val: usize,
    /// Test rows.
    pub n_test: usize,
    /// Dimension.
    pub dim: usize,
    /// Steps done.
    pub steps: u64,
    /// Epochs done.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub epochs: f64,
    /// The last metrics row.
    pub last: super::MetricsRow,
    /// Step of the best iterate (by validation accuracy).
    pub best_step: Option<u64>,
    /// Its validation accuracy.
    pub best_val_accuracy: Option<f64>,
    /// Its test accuracy.
    pub best_test_accuracy: Option<f64>,
    /// Monte-Carlo estimate of f_D at the final iterate.
    pub fd_final: Estimate,
    /// Theory constants and predictions.
    pub theory: TheoryReport,
    /// Algorithm 2: the nodes' constants and step rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<DistributedTheory>,
    /// Algorithm 2: floats and bytes moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    /// The sandwich `f(x_T) ≤ f_D(x_T) ≤ f(x_T) + gap` at the final iterate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandwich: Option<Sandwich>,
    /// The observed rate against a known reference point (None when no
    /// reference is known: e.g. logistic loss with a non-identity sketch).
    #[serde(default)]
    pub observed_rate: Option<ObservedRate>,
    /// Wall time in seconds.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub wall_time_s: f64,
    /// Mean wall time per step.
    #[serde(deserialize_with = "crate::serde_util::f64_or_nan")]
    pub seconds_per_step: f64,
    /// Threads used.
    pub threads: usize,
    /// mast version.
    pub mast_version: String,
}

/// The sandwich bound of MAST.md §3 evaluated at an iterate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sandwich {
    /// `f(x)`.
    pub f: f64,
    /// The Monte-Carlo estimate of `f_D(x)` (see `fd_final` for its error).
    pub fd_estimate: f64,
    /// `f(x) + (L_f/2)(x − v)ᵀ(E[SᵀS] − I)(x − v)`.
    pub upper: f64,
    /// Whether `f ≤ f_D ≤ upper` holds within 3 standard errors of the estimate.
    pub holds: bool,
}

/// What [`train`] returns: for a finished run and for a diverged one alike
/// (see [`TrainReport::status`]).
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The run folder.
    pub dir: PathBuf,
    /// The executor's outcome.
    pub outcome: RunOutcome,
    /// What was written to `summary.json`.
    pub summary: Summary,
    /// The step size the theory guarantees for this run's solver (NaN when
    /// unknown, e.g. for a report read back from a folder).
    pub theory_gamma: f64,
}

impl TrainReport {
    /// How the run ended: [`RunStatus::Diverged`] for a run that blew up (its
    /// files are written all the same).
    pub fn status(&self) -> &RunStatus {
        &self.outcome.status
    }

    /// Whether the run diverged.
    pub fn diverged(&self) -> bool {
        matches!(self.outcome.status, RunStatus::Diverged { .. })
    }

    /// The report, or for a diverged run [`MastError::Diverged`] (naming the
    /// step size and the theory's, and where the files are): for callers that
    /// treat divergence as a failure, as `mast train` does.
    pub fn into_result(self) -> Result<Self> {
        match &self.outcome.status {
            RunStatus::Diverged { step, detail } => Err(MastError::Diverged {
                step: *step,
                detail: format!(
                    "{detail}; what was written so far is in {}",
                    self.dir.display()
                ),
                gamma: self
                    .outcome
                    .rows
                    .last()
                    .and_then(|r| r.gamma)
                    .unwrap_or(f64::NAN),
                theory_gamma: self.theory_gamma,
            }),
            _ => Ok(self),
        }
    }
}

/// Runs a checked configuration into its run folder. A diverged run writes
/// everything it has and is returned like a finished one, with
/// [`RunStatus::Diverged`] as its status ([`TrainReport::into_result`] turns
/// that into [`MastError::Diverged`]).
pub fn train(
    checked: &CheckedTrain,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
) -> Result<TrainReport> {
    if checked.engine == EngineKind::Mpi {
        return Err(MastError::param(
            "distributed.engine",
            "the mpi engine runs under `mpirun -np M mast train --engine mpi ...` (mast::run::mpi_train)",
        ));
    }
    if mode == FolderMode::Resume {
        refuse_changed(checked)?;
    }
    let job = || {
        train_inner(
            checked,
            Loaded::load(checked)?,
            observers,
            mode,
            EngineChoice::InProcess,
        )
    };
    with_threads(checked.threads, job)
}

/// [`train`] on data already in memory (the Python package's route): `train`
/// and `test` take the place of the configured files (`config.data.train` and
/// `config.data.test` are not read), and everything after loading — the
/// validation hold-out, λ, the solver, the run folder — is `train`'s own, so
/// the same data and seed give the same run, bit for bit.
pub fn train_on(
    checked: &CheckedTrain,
    train: Dataset,
    test: Option<Dataset>,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
) -> Result<TrainReport> {
    if checked.engine == EngineKind::Mpi {
        return Err(MastError::param(
            "distributed.engine",
            "the mpi engine runs under `mpirun -np M mast train --engine mpi ...` (mast::run::mpi_train)",
        ));
    }
    if let Some(t) = &test {
        if t.n_features() != train.n_features() {
            return Err(MastError::Dimension(format!(
                "the test data has {} features, the training data {}",
                t.n_features(),
                train.n_features()
            )));
        }
    }
    let job = || {
        let (train_set, val) = holdout(&train, checked.data.val_fraction, checked.seed)?;
        let lambda = checked.lambda.resolve(train_set.n_samples());
        let loaded = Loaded {
            train: Arc::new(train_set),
            val,
            test,
            lambda,
        };
        train_inner(checked, loaded, observers, mode, EngineChoice::InProcess)
    };
    with_threads(checked.threads, job)
}

/// Runs `job` on a rayon pool of `threads` threads (the global pool when `None`).
pub(crate) fn with_threads<T>(
    threads: Option<usize>,
    job: impl FnOnce() -> Result<T> + Send,
) -> Result<T>
where
    T: Send,
{
    match threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| MastError::param("threads", e.to_string()))?
            .install(job),
        None => job(),
    }
}

/// Refuses to resume the run in `cfg.output.dir` with settings other than those
/// in its `config.toml` ([`MastError::ResumeChanged`], naming each one); only
/// [`TrainConfig::RESUMABLE_KEYS`] may differ. A folder without `config.toml`
/// passes (there is then no checkpoint to resume from either).
pub fn check_resume(cfg: &TrainConfig) -> Result<()> {
    compare_with_saved(cfg, |saved| saved)
}

/// [`check_resume`] for a checked run: its canonical config
/// ([`CheckedTrain::to_config`]) against the canonical form of the folder's
/// `config.toml` (the saved config as written, if it no longer checks).
fn refuse_changed(checked: &CheckedTrain) -> Result<()> {
    compare_with_saved(&checked.to_config(), |saved| match saved.clone().check() {
        Ok(c) => c.to_config(),
        Err(_) => saved,
    })
}

/// `given` against `form` of the saved `config.toml` in `given.output.dir`.
fn compare_with_saved(
    given: &TrainConfig,
    form: impl FnOnce(TrainConfig) -> TrainConfig,
) -> Result<()> {
    let dir = &given.output.dir;
    let path = dir.join("config.toml");
    if !path.exists() {
        return Ok(());
    }
    let changes = given.resume_changes(&form(TrainConfig::load(&path)?))?;
    if changes.is_empty() {
        Ok(())
    } else {
        Err(MastError::ResumeChanged {
            dir: dir.clone(),
            changes,
        })
    }
}

fn prepare_folder(checked: &CheckedTrain, mode: FolderMode) -> Result<Option<Checkpoint>> {
    let dir = &checked.output.dir;
    let ck_path = dir.join("checkpoint.json");
    match mode {
        FolderMode::Resume => {
            refuse_changed(checked)?;
            if !ck_path.exists() {
                return Err(MastError::Checkpoint {
                    path: ck_path,
                    message: "no checkpoint in this folder".into(),
                });
            }
            Ok(Some(read_json(&ck_path)?))
        }
        FolderMode::Fresh if dir.join("summary.json").exists() || ck_path.exists() => {
            Err(MastError::param(
                "output.dir",
                format!(
                    "{} already holds a run: continue it with --resume, replace it with --force, or choose another --out",
                    dir.display()
                ),
            ))
        }
        _ => {
            for f in ["summary.json", "checkpoint.json", "metrics.csv", "model_final.json", "model_best.json"] {
                let _ = std::fs::remove_file(dir.join(f));
            }
            Ok(None)
        }
    }
}

/// The data of a configured run: training set, validation and test sets, λ.
pub(crate) struct Loaded {
    pub train: Arc<Dataset>,
    pub val: Option<Dataset>,
    pub test: Option<Dataset>,
    pub lambda: f64,
}

impl Loaded {
    pub(crate) fn load(checked: &CheckedTrain) -> Result<Self> {
        let data = &checked.data;
        let pair = load_libsvm_pair(&data.train, data.test.as_ref(), data.n_features)?;
        let (train_set, val) = holdout(&pair.train, data.val_fraction, checked.seed)?;
        let lambda = checked.lambda.resolve(train_set.n_samples());
        Ok(Loaded {
            train: Arc::new(train_set),
            val,
            test: pair.test,
            lambda,
        })
    }

    pub(crate) fn sets(&self) -> Sets<'_> {
        Sets {
            train: &self.train,
            val: self.val.as_ref(),
            test: self.test.as_ref(),
            lambda: self.lambda,
        }
    }
}

pub(crate) fn train_inner(
    checked: &CheckedTrain,
    loaded: Loaded,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
    engine: EngineChoice,
) -> Result<TrainReport> {
    let (sets, lambda) = (loaded.sets(), loaded.lambda);
    match checked.loss {
        LossKind::Logistic => run_job(
            checked,
            &LogisticRegression::new(loaded.train.clone(), lambda)?,
            |d| LogisticRegression::new(d, lambda),
            |_| Ok(None),
            sets,
            observers,
            mode,
            engine,
        ),
        LossKind::LeastSquares => run_job(
            checked,
            &LeastSquares::new(loaded.train.clone(), lambda)?,
            |d| LeastSquares::new(d, lambda),
            |d| Quadratic::from_least_squares(&LeastSquares::new(d, lambda)?).map(Some),
            sets,
            observers,
            mode,
            engine,
        ),
    }
}

#[allow(clippy::too_many_arguments)] // the job's parts, each used once
fn run_job<O: Objective + 'static>(
    checked: &CheckedTrain,
    f: &O,
    make: impl Fn(Arc<Dataset>) -> Result<O>,
    quadratic: impl Fn(Arc<Dataset>) -> Result<Option<Quadratic>>,
    sets: Sets<'_>,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
    engine: EngineChoice,
) -> Result<TrainReport> {
    let d = f.dim();
    let n = f.num_samples();
    let Job {
        steps,
        step_size,
        mut solver,
        sketch: run_sketch,
        erm,
        reference,
        distributed,
    } = plan(checked, f, &make, &quadratic, sets, engine)?;
    let sketch = run_sketch.theory();
    let dir = checked.output.dir.clone();
    let resume = prepare_folder(checked, mode)?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| MastError::io(&dir, "cannot create run folder", e))?;
    write_atomic(
        &dir.join("config.toml"),
        checked.to_config().to_toml()?.as_bytes(),
    )?;

    let name = checked.name.clone().unwrap_or_else(|| {
        dir.file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "run".into())
    });
    let problem = MastProblem::new(f, Shift::zero(d));
    let evaluator = Evaluator {
        objective: f,
        validation: sets.val,
        test: sets.test,
        reference: reference.as_ref().map(|r| r.0.as_slice()),
    };
    let interval = checked.checkpoint_interval();
    let mut csv = MetricsCsv::new(dir.join("metrics.csv"), interval);
    let mut exec = Executor::new(&problem, evaluator)
        .name(name.clone())
        .max_steps(steps)
        .eval_every(checked.eval_every)
        .checkpoint(dir.join("checkpoint.json"), interval)
        .observe(&mut csv);
    for o in observers.iter_mut() {
        exec = exec.observe(&mut **o);
    }
    if let Some(ck) = resume {
        exec = exec.resume(ck);
    }
    let outcome = exec.run(solver.as_mut(), vec![0.0; d])?;
    if let RunStatus::Interrupted { step } = outcome.status {
        // The checkpoint and metrics.csv are written; the summary waits for the end.
        return Err(MastError::Interrupted { step, dir });
    }

    // Models, summary.
    write_json(
        &dir.join("model_final.json"),
        &SavedModel {
            step: outcome.state.step,
            val_accuracy: outcome.rows.last().and_then(|r| r.val_accuracy),
            x: outcome.state.x.clone(),
        },
    )?;
    if let Some(best) = &outcome.best {
        write_json(
            &dir.join("model_best.json"),
            &SavedModel {
                step: best.step,
                val_accuracy: best.val_accuracy,
                x: best.x.clone(),
            },
        )?;
    }
    let gamma = outcome
        .rows
        .last()
        .and_then(|r| r.gamma)
        .unwrap_or(f64::NAN);
    let x_final = &outcome.state.x;
    let finite = x_final.iter().all(|v| v.is_finite());
    let fd_final = if finite {
        estimate_fd(
            f,
            &problem.shift,
            &*sketch,
            x_final,
            checked.output.fd_samples.max(2),
            &mut stream(checked.seed, Stream::Estimate),
        )
    } else {
        Estimate {
            mean: f64::NAN,
            std_err: f64::NAN,
            samples: 0,
            seconds: 0.0,
        }
    };
    let mut theory = TheoryReport::new(f, &*sketch, gamma).with_horizon(steps);
    if let Some(e) = &erm {
        theory = theory.with_erm(e.loss, dot(&e.x, &e.x));
    }
    let sandwich = (finite && sketch.is_unbiased()).then(|| {
        let fx = f.loss(x_final);
        let upper = fx + sandwich_gap(theory.l_f, &*sketch, x_final, &problem.shift.v);
        let tol = 3.0 * fd_final.std_err + 1e-12 * fx.abs().max(1.0);
        Sandwich {
            f: fx,
            fd_estimate: fd_final.mean,
            upper,
            holds: fx <= fd_final.mean + tol && fd_final.mean <= upper + tol,
        }
    });
    // The contraction the theory predicts applies to Algorithm 1 and GD at a constant step.
    let predicted = match (checked.method, step_size) {
        (Method::Dsgd | Method::Gd, StepSize::Constant { .. } | StepSize::Theory { .. }) => {
            if checked.method == Method::Gd {
                1.0 - gamma * theory.mu_f
            } else {
                theory.predicted_contraction
            }
        }
        _ => f64::NAN,
    };
    let observed_rate = reference.as_ref().and_then(|(_, label)| {
        // GD reaches x* and L-SVRDSG its x_D* exactly; the others stall in a
        // neighbourhood of theirs.
        let exact = matches!(checked.method, Method::Gd | Method::Lsvrdsg { .. });
        fit_rate(&outcome.rows, label, predicted, exact)
    });
    let last = outcome
        .rows
        .last()
        .cloned()
        .expect("at least the initial row");
    let summary = Summary {
        name,
        status: outcome.status.clone(),
        solver: solver.name(),
        sketch: run_sketch.spec(),
        seed: checked.seed,
        lambda: sets.lambda,
        n_train: n,
        n_val: sets.val.map_or(0, |v| v.n_samples()),
        n_test: sets.test.map_or(0, |v| v.n_samples()),
        dim: d,
        steps: outcome.state.step,
        epochs: last.epoch,
        best_step: outcome.best.as_ref().map(|b| b.step),
        best_val_accuracy: outcome.best.as_ref().and_then(|b| b.val_accuracy),
        best_test_accuracy: match (&outcome.best, sets.test) {
            (Some(b), Some(t)) => Some(t.accuracy(&b.x)),
            _ => None,
        },
        last,
        fd_final,
        theory,
        distributed,
        traffic: solver.traffic(),
        sandwich,
        observed_rate,
        wall_time_s: outcome.elapsed_s,
        seconds_per_step: outcome.elapsed_s / (outcome.state.step.max(1)) as f64,
        threads: rayon::current_num_threads(),
        mast_version: env!("CARGO_PKG_VERSION").into(),
    };
    write_json(&dir.join("summary.json"), &summary)?;
    let theory_gamma = match outcome.status {
        RunStatus::Diverged { .. } => solver.theory_gamma_for(&problem),
        _ => f64::NAN,
    };
    Ok(TrainReport {
        dir,
        outcome,
        summary,
        theory_gamma,
    })
}
