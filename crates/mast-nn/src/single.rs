//! One network training run in its own folder, resumable: the piece shared by
//! `mast train` on a network config and by every run of `nn-prune`.
//!
//! ```text
//! <run folder>/
//!   metrics.csv     one row per epoch (identical between identical runs)
//!   timings.csv     seconds of training and wall time per epoch
//!   checkpoint.bin  while the run is unfinished (see train::NnCheckpoint)
//!   model.bin       the trained parameters
//! ```
//!
//! [`train_in_folder`] starts the run, or continues it from `checkpoint.bin`
//! when there is one; the caller marks the run finished by writing its
//! `summary.json` (then [`finish`] removes the checkpoint).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mast::run::io::write_atomic;
use mast::MastError;

use crate::data::ImageSet;
use crate::error::{NnError, Result};
use crate::model::HostParams;
use crate::report::{metrics_csv, timings_csv};
use crate::train::{EpochMetrics, NnCheckpoint, RunControl, TrainEnd, Trainer};

/// The checkpoint file of a run folder.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("checkpoint.bin")
}

/// What [`train_in_folder`] produced.
#[derive(Debug, Clone)]
pub struct FolderRun {
    /// Every epoch's row, the initial one first.
    pub rows: Vec<EpochMetrics>,
    /// The trained parameters.
    pub params: HostParams,
    /// Steps done.
    pub steps: u64,
    /// The step the run was resumed from (None for a fresh start).
    pub resumed_from: Option<u64>,
}

/// Trains `trainer` in `dir` with checkpoints at most every `every` (and when
/// the global interrupt is raised: then it returns [`MastError::Interrupted`]),
/// continuing from the folder's checkpoint if it has one. Writes `metrics.csv`
/// and `timings.csv` after every epoch; `log` sees one line per epoch.
pub fn train_in_folder(
    trainer: &mut Trainer,
    train: &ImageSet,
    test: &ImageSet,
    dir: &Path,
    every: Duration,
    log: &mut dyn FnMut(&EpochMetrics),
) -> Result<FolderRun> {
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, "cannot create run folder", e))?;
    let ck_path = checkpoint_path(dir);
    let resume = if ck_path.exists() {
        Some(NnCheckpoint::read(&ck_path)?)
    } else {
        None
    };
    let resumed_from = resume.as_ref().map(NnCheckpoint::step);
    let mut rows: Vec<EpochMetrics> = resume.as_ref().map_or(Vec::new(), |c| c.rows().to_vec());
    let control = RunControl::checkpoints(&ck_path, every);
    let end = trainer.train_with(train, test, &control, resume, |row| {
        rows.push(row.clone());
        log(row);
        write_atomic(&dir.join("metrics.csv"), metrics_csv(&rows).as_bytes())?;
        write_atomic(&dir.join("timings.csv"), timings_csv(&rows).as_bytes())?;
        Ok(())
    })?;
    match end {
        TrainEnd::Interrupted { step, .. } => Err(NnError::Mast(MastError::Interrupted {
            step,
            dir: dir.to_path_buf(),
        })),
        TrainEnd::Completed(rows) => Ok(FolderRun {
            rows,
            params: trainer.params(),
            steps: trainer.steps(),
            resumed_from,
        }),
    }
}

/// Marks a run finished once its `summary.json` is written: removes the checkpoint.
pub fn finish(dir: &Path) -> Result<()> {
    let ck = checkpoint_path(dir);
    match std::fs::remove_file(&ck) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(NnError::io(&ck, "cannot remove", e))
        }
        _ => Ok(()),
    }
}

/// `summary.json` of a single network run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// Run name.
    pub name: String,
    /// Method label.
    pub method: String,
    /// Seed.
    pub seed: u64,
    /// Training and test images.
    pub n_train: usize,
    /// Test images.
    pub n_test: usize,
    /// Network parameters.
    pub num_params: usize,
    /// Steps done.
    pub steps: u64,
    /// The last epoch's row.
    pub last: EpochMetrics,
    /// The step the last part of the run was resumed from, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<u64>,
}

/// Runs a network config into its folder (`mast train` on a network config):
/// `mode` as for linear runs ([`mast::run::FolderMode`]). Writes `config.toml`,
/// `metrics.csv`, `timings.csv`, `model.bin`, `summary.json` (and
/// `checkpoint.bin` until the run is finished); `log` sees one line per epoch.
pub fn run_single(
    cfg: &crate::config::NnTrainConfig,
    mode: mast::run::FolderMode,
    log: &mut dyn FnMut(&str),
) -> Result<RunSummary> {
    use mast::run::FolderMode;
    cfg.check()?;
    let dir = &cfg.output.dir;
    let ck = checkpoint_path(dir);
    match mode {
        FolderMode::Resume if !ck.exists() => {
            return Err(NnError::param(
                "--resume",
                format!(
                    "{} has no checkpoint.bin{}",
                    dir.display(),
                    if dir.join("summary.json").exists() { ": the run is finished" } else { "" }
                ),
            ))
        }
        FolderMode::Resume => {}
        FolderMode::Fresh
            if dir.join("summary.json").exists() || ck.exists() || dir.join("config.toml").exists() =>
        {
            return Err(NnError::param(
                "output.dir",
                format!(
                    "{} already holds a run: continue it with --resume, replace it with --force, or choose another --out",
                    dir.display()
                ),
            ))
        }
        _ => {
            for f in ["summary.json", "checkpoint.bin", "metrics.csv", "timings.csv", "model.bin"] {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, "cannot create run folder", e))?;
    if mode != FolderMode::Resume {
        write_atomic(&dir.join("config.toml"), cfg.to_toml()?.as_bytes())?;
    }
    let root = cfg
        .data
        .root
        .clone()
        .unwrap_or_else(|| crate::data::default_data_root(Path::new(".")));
    let mut data = crate::data::load(cfg.data.dataset, &root, cfg.seed)?;
    if let Some(n) = cfg.data.train_limit {
        data.train = data.train.head(n);
    }
    let model = crate::model::Model::new(&cfg.model, data.train.shape, data.train.classes)?;
    let name = cfg.name.clone().unwrap_or_else(|| {
        dir.file_name()
            .map_or("run".into(), |s| s.to_string_lossy().to_string())
    });
    log(&format!(
        "{name}: {} on {} ({} train / {} test images), {} parameters, {} epochs",
        cfg.method,
        cfg.data.dataset.as_str(),
        data.train.n,
        data.test.n,
        model.num_params(),
        cfg.train.epochs
    ));
    let mut trainer = Trainer::new(&model, cfg.method, &cfg.train, cfg.seed, None, None)?;
    let epochs = cfg.train.epochs;
    let every = Duration::from_secs_f64(cfg.output.checkpoint_every_s);
    let run = train_in_folder(
        &mut trainer,
        &data.train,
        &data.test,
        dir,
        every,
        &mut |r| {
            log(&format!(
            "epoch {:>3}/{epochs}  step {:>7}  train loss {:.4}  test loss {:.4}  test acc {:.4}  [{:.1}s]",
            r.epoch, r.step, r.train_loss, r.test_loss, r.test_accuracy, r.wall_s
        ))
        },
    )?;
    write_atomic(&dir.join("model.bin"), &run.params.to_bytes())?;
    let summary = RunSummary {
        name,
        method: cfg.method.to_string(),
        seed: cfg.seed,
        n_train: data.train.n,
        n_test: data.test.n,
        num_params: model.num_params(),
        steps: run.steps,
        last: run.rows.last().cloned().expect("at least the initial row"),
        resumed_from: run.resumed_from,
    };
    mast::run::io::write_json(&dir.join("summary.json"), &summary)?;
    finish(dir)?;
    Ok(summary)
}
