//! The training job behind `mast train`: data → objective → sketch → solver →
//! executor → run folder (`config.toml`, `metrics.csv`, `summary.json`, models,
//! `checkpoint.json`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::config::{CheckedTrain, LossKind, Method};
use super::executor::{Checkpoint, Evaluator, Executor, RunOutcome};
use super::io::{read_json, write_atomic, write_json};
use super::observer::{MetricsCsv, Observer, RunStatus};
use crate::algorithm::{DoubleSketchedSgd, GradientDescent, MastProblem, Solver, Variant};
use crate::data::{load_libsvm_pair, split::holdout, Dataset};
use crate::error::{MastError, Result};
use crate::objective::{LeastSquares, LogisticRegression, Objective, Shift};
use crate::rng::{stream, Stream};
use crate::sketched::{estimate_fd, Estimate};
use crate::theory::TheoryReport;

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
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
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
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
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
    /// Wall time in seconds.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub wall_time_s: f64,
    /// Mean wall time per step.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub seconds_per_step: f64,
    /// Threads used.
    pub threads: usize,
    /// mast version.
    pub mast_version: String,
}

/// What [`train`] returns.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The run folder.
    pub dir: PathBuf,
    /// The executor's outcome.
    pub outcome: RunOutcome,
    /// What was written to `summary.json`.
    pub summary: Summary,
}

/// Runs a checked configuration into its run folder. A diverged run writes
/// everything it has, then returns [`MastError::Diverged`].
pub fn train(
    checked: &CheckedTrain,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
) -> Result<TrainReport> {
    match checked.config.threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| MastError::param("threads", e.to_string()))?
            .install(|| train_inner(checked, observers, mode)),
        None => train_inner(checked, observers, mode),
    }
}

fn prepare_folder(dir: &Path, mode: FolderMode) -> Result<Option<Checkpoint>> {
    let ck_path = dir.join("checkpoint.json");
    match mode {
        FolderMode::Resume => {
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

fn train_inner(
    checked: &CheckedTrain,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
) -> Result<TrainReport> {
    let cfg = &checked.config;
    let pair = load_libsvm_pair(&cfg.data.train, cfg.data.test.as_ref(), cfg.data.n_features)?;
    let (train_set, val_set) = holdout(&pair.train, cfg.data.val_fraction, cfg.seed)?;
    let lambda = cfg.objective.lambda.resolve(train_set.n_samples())?;
    let train_set = Arc::new(train_set);
    let sets = Sets {
        val: val_set.as_ref(),
        test: pair.test.as_ref(),
    };
    match checked.loss {
        LossKind::Logistic => run_job(
            checked,
            &LogisticRegression::new(train_set, lambda)?,
            lambda,
            sets,
            observers,
            mode,
        ),
        LossKind::LeastSquares => run_job(
            checked,
            &LeastSquares::new(train_set, lambda)?,
            lambda,
            sets,
            observers,
            mode,
        ),
    }
}

#[derive(Clone, Copy)]
struct Sets<'a> {
    val: Option<&'a Dataset>,
    test: Option<&'a Dataset>,
}

fn run_job<O: Objective>(
    checked: &CheckedTrain,
    f: &O,
    lambda: f64,
    sets: Sets<'_>,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
) -> Result<TrainReport> {
    let cfg = &checked.config;
    let d = f.dim();
    let n = f.num_samples();
    let sketch = cfg.sketch.build(d)?;
    let steps = match (cfg.algorithm.steps, cfg.algorithm.epochs, checked.variant) {
        (Some(s), _, _) => s,
        (None, Some(e), Variant::Exact) => e.ceil() as u64,
        (None, Some(e), Variant::Minibatch(b)) => (e * n as f64 / b as f64).ceil() as u64,
        (None, None, _) => unreachable!("checked"),
    };
    let mut solver: Box<dyn Solver<O>> = match checked.method {
        Method::Dsgd => Box::new(DoubleSketchedSgd::new(
            cfg.sketch.build(d)?,
            checked.variant,
            checked.step_size,
            cfg.seed,
        )?),
        Method::Gd => Box::new(GradientDescent::new(
            checked.variant,
            checked.step_size,
            cfg.seed,
        )),
    };
    let dir = cfg.output.dir.clone();
    let resume = prepare_folder(&dir, mode)?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| MastError::io(&dir, "cannot create run folder", e))?;
    write_atomic(&dir.join("config.toml"), cfg.to_toml()?.as_bytes())?;

    let name = cfg.name.clone().unwrap_or_else(|| {
        dir.file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "run".into())
    });
    let problem = MastProblem::new(f, Shift::zero(d));
    let evaluator = Evaluator {
        objective: f,
        validation: sets.val,
        test: sets.test,
        reference: None,
    };
    let interval = Duration::from_secs_f64(cfg.output.checkpoint_every_s.max(0.0));
    let mut csv = MetricsCsv::new(dir.join("metrics.csv"), interval);
    let mut exec = Executor::new(&problem, evaluator)
        .name(name.clone())
        .max_steps(steps)
        .eval_every(cfg.algorithm.eval_every)
        .checkpoint(dir.join("checkpoint.json"), interval)
        .observe(&mut csv);
    for o in observers.iter_mut() {
        exec = exec.observe(&mut **o);
    }
    if let Some(ck) = resume {
        exec = exec.resume(ck);
    }
    let outcome = exec.run(solver.as_mut(), vec![0.0; d])?;

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
    let fd_final = if outcome.state.x.iter().all(|v| v.is_finite()) {
        estimate_fd(
            f,
            &problem.shift,
            sketch.as_ref(),
            &outcome.state.x,
            cfg.output.fd_samples.max(2),
            &mut stream(cfg.seed, Stream::Estimate),
        )
    } else {
        Estimate {
            mean: f64::NAN,
            std_err: f64::NAN,
            samples: 0,
        }
    };
    let last = outcome
        .rows
        .last()
        .cloned()
        .expect("at least the initial row");
    let summary = Summary {
        name,
        status: outcome.status.clone(),
        solver: solver.name(),
        sketch: sketch.spec(),
        seed: cfg.seed,
        lambda,
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
        theory: TheoryReport::new(f, sketch.as_ref(), gamma),
        wall_time_s: outcome.elapsed_s,
        seconds_per_step: outcome.elapsed_s / (outcome.state.step.max(1)) as f64,
        threads: rayon::current_num_threads(),
        mast_version: env!("CARGO_PKG_VERSION").into(),
    };
    write_json(&dir.join("summary.json"), &summary)?;
    if let RunStatus::Diverged { step, detail } = &outcome.status {
        return Err(MastError::Diverged {
            step: *step,
            detail: format!("{detail}; what was written so far is in {}", dir.display()),
            gamma,
            theory_gamma: solver.theory_gamma_for(&problem),
        });
    }
    Ok(TrainReport {
        dir,
        outcome,
        summary,
    })
}
