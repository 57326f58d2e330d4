//! What every experiment shares: errors, progress, data settings, run helpers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mast::run::config::{DataConfig, Lambda, TrainConfig};
use mast::run::{train, FolderMode, TrainReport};

/// Errors of an experiment.
#[derive(Debug, thiserror::Error)]
pub enum ExpError {
    /// From the mast library (data, training, I/O of runs).
    #[error(transparent)]
    Mast(#[from] mast::MastError),
    /// From drawing figures or writing reports.
    #[error(transparent)]
    Report(#[from] mast_report::ReportError),
    /// A bad experiment setting.
    #[error("invalid experiment setting `{name}`: {message}")]
    Setting {
        /// The setting.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl ExpError {
    /// A bad setting.
    pub fn setting(name: &str, message: impl Into<String>) -> Self {
        ExpError::Setting {
            name: name.into(),
            message: message.into(),
        }
    }

    /// A file error.
    pub fn file(path: &Path, message: impl std::fmt::Display) -> Self {
        ExpError::File {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

/// Result of experiments.
pub type Result<T> = std::result::Result<T, ExpError>;

/// Progress of an experiment: configurations done out of a total. Implemented
/// by the command line (a bar on a terminal, plain lines otherwise).
pub trait Progress: Sync {
    /// A phase begins with `total` units of work.
    fn phase(&self, name: &str, total: u64);
    /// One unit is done (`what` names it).
    fn done(&self, what: &str);
}

/// Progress that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn phase(&self, _name: &str, _total: u64) {}
    fn done(&self, _what: &str) {}
}

/// The data of an experiment: LIBSVM files, validation hold-out, λ.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    /// Training file (LIBSVM, optionally gzipped).
    pub train: PathBuf,
    /// Test file.
    pub test: PathBuf,
    /// Fraction of the training file held out for validation (selects the best iterate).
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
    /// λ: a number or "1/n".
    #[serde(default = "default_lambda")]
    pub lambda: Lambda,
}

fn default_val_fraction() -> f64 {
    0.1
}
fn default_lambda() -> Lambda {
    Lambda::Rule("1/n".into())
}

impl DataSettings {
    /// Train and test files with the defaults (10% validation, λ = 1/n).
    pub fn new(train: PathBuf, test: PathBuf) -> Self {
        DataSettings {
            train,
            test,
            val_fraction: default_val_fraction(),
            lambda: default_lambda(),
        }
    }

    /// Makes relative paths relative to `base` (a config file's folder).
    pub fn rebase(&mut self, base: &Path) {
        for p in [&mut self.train, &mut self.test] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// A training configuration on this data (identity sketch, Algorithm 1,
    /// exact variant, theory step), writing to `dir`, single-threaded (the
    /// experiment parallelises over configurations instead).
    pub fn train_config(&self, dir: PathBuf, seed: u64, steps: u64) -> TrainConfig {
        let mut cfg = TrainConfig {
            name: dir.file_name().map(|s| s.to_string_lossy().to_string()),
            seed,
            threads: Some(1),
            sketch: mast::sketch::SketchSpec::identity(),
            data: DataConfig {
                train: self.train.clone(),
                test: Some(self.test.clone()),
                val_fraction: self.val_fraction,
                n_features: None,
            },
            objective: Default::default(),
            algorithm: Default::default(),
            distributed: Default::default(),
            output: Default::default(),
        };
        cfg.objective.lambda = self.lambda.clone();
        cfg.algorithm.steps = Some(steps);
        cfg.output.dir = dir;
        cfg.output.checkpoint_every_s = 60.0;
        cfg.output.fd_samples = 50;
        cfg
    }
}

/// Runs one configuration into its folder, picking up earlier work there: a
/// finished run whose `config.toml` equals this configuration (in its canonical
/// form, [`mast::run::CheckedTrain::to_config`]) is read back, not
/// redone; an unfinished one (a checkpoint, no summary) continues from its
/// checkpoint; a folder holding another configuration is replaced (its run is
/// redone). A diverged run is not an error here: its report says so.
pub fn run_config(cfg: &TrainConfig) -> Result<TrainReport> {
    let checked = cfg.clone().check()?;
    let dir = &checked.output.dir;
    let same_config = std::fs::read_to_string(dir.join("config.toml"))
        .is_ok_and(|old| checked.to_config().to_toml().is_ok_and(|new| old == new));
    if same_config && dir.join("summary.json").exists() {
        if let Ok(report) = read_back(dir) {
            return Ok(report);
        }
    }
    let mode = if same_config && dir.join("checkpoint.json").exists() {
        FolderMode::Resume
    } else {
        FolderMode::Overwrite
    };
    // A diverged run comes back as a report with its status.
    Ok(train(&checked, &mut [], mode)?)
}

/// The report of a finished run, read back from its folder (`summary.json`,
/// `metrics.csv`, `model_final.json`, `model_best.json`).
pub fn read_back(dir: &Path) -> Result<TrainReport> {
    use mast::run::io::read_json;
    use mast::run::{Best, SavedModel};
    let summary: mast::run::Summary = read_json(&dir.join("summary.json"))?;
    let rows = mast::run::read_csv(&dir.join("metrics.csv"))?;
    let mut state = mast::algorithm::IterState::start(Vec::new());
    if let Ok(m) = read_json::<SavedModel>(&dir.join("model_final.json")) {
        state.x = m.x;
        state.step = m.step;
    }
    let best = read_json::<SavedModel>(&dir.join("model_best.json"))
        .ok()
        .map(|m| Best {
            loss: rows
                .iter()
                .find(|r| r.step == m.step)
                .map_or(f64::NAN, |r| r.loss),
            step: m.step,
            x: m.x,
            val_accuracy: m.val_accuracy,
        });
    Ok(TrainReport {
        dir: dir.to_path_buf(),
        outcome: mast::run::RunOutcome {
            state,
            rows,
            best,
            status: summary.status.clone(),
            elapsed_s: summary.wall_time_s,
        },
        summary,
        theory_gamma: f64::NAN,
    })
}

/// Writes CSV text atomically.
pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| ExpError::file(path, e);
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(r).map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| ExpError::file(path, e))?;
    mast::run::io::write_atomic(path, &bytes)?;
    Ok(())
}

/// Runs `jobs` in parallel (rayon), in input order for the results, reporting
/// each finished job to `progress`. The first error stops the rest.
pub fn parallel<T: Send, J: Sync>(
    jobs: &[J],
    progress: &dyn Progress,
    name: impl Fn(&J) -> String + Sync,
    run: impl Fn(&J) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    use rayon::prelude::*;
    let failed = Mutex::new(false);
    jobs.par_iter()
        .map(|j| {
            if *failed.lock().expect("no poisoned lock") {
                return Err(ExpError::setting("run", "stopped after an earlier failure"));
            }
            let out = run(j);
            if out.is_err() {
                *failed.lock().expect("no poisoned lock") = true;
            }
            progress.done(&name(j));
            out
        })
        .collect()
}

/// Formats a number for CSV cells: full precision (round-trips), empty for None.
pub fn cell(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:?}"))
}

/// The command line that reproduces an experiment, for reports.
pub fn command_line(args: &[&str]) -> String {
    let mut s = String::from("cargo run --release -p mast-cli --");
    for a in args {
        s.push(' ');
        if a.contains(' ') {
            s.push_str(&format!("'{a}'"));
        } else {
            s.push_str(a);
        }
    }
    s
}
