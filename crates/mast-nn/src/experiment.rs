//! The `nn-prune` experiment: train every method × seed with the same budget,
//! record training curves, prune every trained model at every `q`, and write the
//! tables and a report into one run folder:
//!
//! ```text
//! runs/<name>/
//!   config.toml            the resolved configuration
//!   runs/<method>/seed-<s>/metrics.csv, timings.csv, summary.json, model.bin
//!                          (checkpoint.bin while a run is unfinished)
//!   shift/seed-<s>/model.bin   the pre-trained v (with a [shift] section)
//!   curves.csv             every epoch of every run
//!   curves_summary.csv     per method and epoch: mean, std over seeds
//!   prune.csv              q, method, seed, mask, test_accuracy, test_loss
//!   prune_summary.csv/.md  per q and method: median, quartiles, min, max, mean
//!   summary.json           final accuracies, pruning medians, timings
//!   report.md              the same for people
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mast::run::io::{read_json, write_atomic, write_json};

use crate::config::NnPruneConfig;
use crate::data::{load, TrainTest};
use crate::error::{NnError, Result};
use crate::mask::Method;
use crate::model::{HostParams, Model};
use crate::prune::{prune_model, PruneResult};
use crate::report::{
    curves_csv, curves_summary_csv, prune_csv, prune_stats, prune_summary_csv, prune_summary_md,
    CurveRow, PruneRow, PruneStat, Stats,
};
use crate::single::{finish, train_in_folder};
use crate::train::{EpochMetrics, TrainSettings, Trainer};

/// Per-method results.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MethodSummary {
    /// Method label.
    pub method: String,
    /// Final test accuracy of each seed, in seed order.
    pub final_test_accuracy: Vec<f64>,
    /// Statistics of the final test accuracies.
    pub accuracy: Stats,
    /// Mean seconds per training step.
    pub step_ms: f64,
    /// Seconds of training, summed over seeds.
    pub train_s: f64,
}

/// `summary.json` of the experiment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExperimentSummary {
    /// Experiment name.
    pub name: String,
    /// Data set.
    pub dataset: String,
    /// Training and test images.
    pub n_train: usize,
    /// Test images.
    pub n_test: usize,
    /// Pixel mean and std used for normalisation.
    pub normalisation: [f32; 2],
    /// Network parameters.
    pub num_params: usize,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Whether a shift `v` (pre-trained model) was used.
    pub shifted: bool,
    /// Per-method results.
    pub methods: Vec<MethodSummary>,
    /// Pruning statistics per q and method.
    pub prune: Vec<PruneStat>,
    /// Whether pruning rescaled kept weights by 1/q.
    pub prune_rescale: bool,
    /// Seconds for the whole experiment.
    pub wall_s: f64,
}

/// How to treat an existing run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse a folder that already holds an experiment.
    Refuse,
    /// Replace it.
    Replace,
    /// Continue the experiment in it: finished runs are read back (not redone),
    /// an interrupted run continues from its checkpoint. The folder's
    /// `config.toml` must equal the configuration given (else refused).
    Resume,
}

/// `runs/<method>/seed-<s>/summary.json`: written when a run is finished
/// (trained and pruned); what a resumed experiment reads back instead of
/// redoing the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// Method label.
    pub method: String,
    /// Seed.
    pub seed: u64,
    /// Training steps.
    pub steps: u64,
    /// The last epoch's row.
    pub last: EpochMetrics,
    /// Every epoch's row.
    pub rows: Vec<EpochMetrics>,
    /// Seconds spent pruning.
    pub prune_s: f64,
    /// Median pruned test accuracy per q.
    pub prune_medians: Vec<(f64, f64)>,
    /// Every pruned model's result.
    pub prune: Vec<PruneResult>,
}

/// One run of the experiment: what it trains, and where.
struct RunSpec<'a> {
    cfg: &'a NnPruneConfig,
    model: &'a Model,
    data: &'a TrainTest,
    method: Method,
    seed: u64,
    shift: Option<&'a HostParams>,
    dir: &'a Path,
}

/// Seconds between checkpoints of an experiment's runs.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);

/// Trains and prunes one run in its folder, or reads it back if it is finished.
fn run_one(spec: &RunSpec<'_>, log: &mut dyn FnMut(&str)) -> Result<RunRecord> {
    let (cfg, label, seed, dir) = (spec.cfg, spec.method.to_string(), spec.seed, spec.dir);
    let record_path = dir.join("summary.json");
    if record_path.exists() {
        if let Ok(r) = read_json::<RunRecord>(&record_path) {
            log(&format!(
                "{label} seed {seed}: finished earlier, skipped ({})",
                dir.display()
            ));
            return Ok(r);
        }
    }
    let mut trainer = Trainer::new(
        spec.model,
        spec.method,
        &cfg.train,
        seed,
        spec.shift,
        spec.shift,
    )?;
    let run = train_in_folder(
        &mut trainer,
        &spec.data.train,
        &spec.data.test,
        dir,
        CHECKPOINT_EVERY,
        &mut |row| {
            log(&format!(
                "{label} seed {seed}: epoch {:>3}/{}  train loss {:.4}  test loss {:.4}  test acc {:.4}  [{:.1}s]",
                row.epoch, cfg.train.epochs, row.train_loss, row.test_loss, row.test_accuracy, row.wall_s
            ))
        },
    )?;
    if let Some(step) = run.resumed_from {
        log(&format!(
            "{label} seed {seed}: resumed from the checkpoint at step {step}"
        ));
    }
    if cfg.output.save_models {
        write_atomic(&dir.join("model.bin"), &run.params.to_bytes())?;
    }
    let t0 = Instant::now();
    let results = prune_model(
        spec.model,
        &run.params,
        spec.shift,
        &spec.data.test,
        &cfg.prune,
        seed,
    )?;
    let prune_s = t0.elapsed().as_secs_f64();
    log(&format!(
        "{label} seed {seed}: pruned {} models in {prune_s:.1}s",
        cfg.prune.q.len() * cfg.prune.masks
    ));
    let medians = prune_stats(
        &results
            .iter()
            .map(|r| PruneRow {
                method: label.clone(),
                seed,
                result: *r,
            })
            .collect::<Vec<_>>(),
    )
    .iter()
    .map(|p| (p.q, p.accuracy.median))
    .collect();
    let record = RunRecord {
        method: label,
        seed,
        steps: run.steps,
        last: run.rows.last().cloned().expect("at least the initial row"),
        rows: run.rows,
        prune_s,
        prune_medians: medians,
        prune: results,
    };
    write_json(&record_path, &record)?;
    finish(dir)?;
    Ok(record)
}

fn label_dir(method: &Method) -> String {
    method.to_string().replace(':', "-")
}

/// Prepares the run folder.
fn prepare(dir: &Path, existing: Existing) -> Result<()> {
    let marker = dir.join("summary.json");
    let config = dir.join("config.toml");
    if existing == Existing::Refuse && (marker.exists() || config.exists()) {
        return Err(NnError::param(
            "output.dir",
            format!(
                "{} already holds an experiment: continue it with --resume, replace it with --force, or choose another --out",
                dir.display()
            ),
        ));
    }
    if existing == Existing::Resume {
        // Finished runs and checkpoints stay; the tables are rewritten at the end.
        return std::fs::create_dir_all(dir)
            .map_err(|e| NnError::io(dir, "cannot create folder", e));
    }
    for f in [
        "summary.json",
        "report.md",
        "curves.csv",
        "curves_summary.csv",
        "prune.csv",
        "prune_summary.csv",
        "prune_summary.md",
        "config.toml",
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    for sub in ["runs", "shift"] {
        let p = dir.join(sub);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).map_err(|e| NnError::io(&p, "cannot remove", e))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, "cannot create folder", e))
}

/// The shift `v` for `seed`: a checkpoint, or plain training on the shift data set.
fn make_shift(
    cfg: &NnPruneConfig,
    model: &Model,
    data: &TrainTest,
    seed: u64,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Option<HostParams>> {
    let Some(shift) = &cfg.shift else {
        return Ok(None);
    };
    let saved = dir
        .join("shift")
        .join(format!("seed-{seed}"))
        .join("model.bin");
    if shift.checkpoint.is_none() && saved.exists() {
        // Written by this experiment (same configuration) before it was interrupted.
        let bytes = std::fs::read(&saved).map_err(|e| NnError::io(&saved, "cannot read", e))?;
        let v = HostParams::from_bytes(&bytes, &saved)?;
        v.check(model.specs(), "shift")?;
        log(&format!(
            "shift v (seed {seed}): read back from {}",
            saved.display()
        ));
        return Ok(Some(v));
    }
    if let Some(path) = &shift.checkpoint {
        let bytes = std::fs::read(path).map_err(|e| NnError::io(path, "cannot read", e))?;
        let v = HostParams::from_bytes(&bytes, path)?;
        v.check(model.specs(), "shift.checkpoint")?;
        return Ok(Some(v));
    }
    let other;
    let pre = match shift.dataset {
        Some(name) if name != cfg.data.dataset => {
            other = load(name, &cfg.data_root(), seed)?;
            if other.train.shape != data.train.shape || other.train.classes != data.train.classes {
                return Err(NnError::param(
                    "shift.dataset",
                    format!(
                        "{} images do not fit the network of {}",
                        name.as_str(),
                        cfg.data.dataset.as_str()
                    ),
                ));
            }
            &other
        }
        _ => data,
    };
    let settings = TrainSettings {
        epochs: shift.epochs,
        lr: shift.lr.unwrap_or(cfg.train.lr),
        ..cfg.train.clone()
    };
    let mut t = Trainer::new(model, Method::Erm, &settings, seed, None, None)?;
    let rows = t.train(&pre.train, &data.test, |_| Ok(()))?;
    let v = t.params();
    if let Some(last) = rows.last() {
        log(&format!(
            "shift v (seed {seed}): {} epoch(s) of plain training on {}; test accuracy on {} {:.4}",
            shift.epochs,
            shift.dataset.unwrap_or(cfg.data.dataset).as_str(),
            cfg.data.dataset.as_str(),
            last.test_accuracy
        ));
    }
    let d = dir.join("shift").join(format!("seed-{seed}"));
    write_atomic(&d.join("model.bin"), &v.to_bytes())?;
    Ok(Some(v))
}

/// Runs the experiment into `dir` (created if needed); `log` receives progress lines.
pub fn run_nn_prune(
    cfg: &NnPruneConfig,
    dir: &Path,
    existing: Existing,
    log: &mut dyn FnMut(&str),
) -> Result<ExperimentSummary> {
    cfg.check()?;
    let start = Instant::now();
    let config_text = toml::to_string_pretty(cfg)
        .map_err(|e| NnError::param("config", format!("cannot serialise: {e}")))?;
    let config_path = dir.join("config.toml");
    if existing == Existing::Resume && config_path.exists() {
        let old = std::fs::read_to_string(&config_path)
            .map_err(|e| NnError::io(&config_path, "cannot read", e))?;
        if old != config_text {
            return Err(NnError::param(
                "--resume",
                format!(
                    "{} holds an experiment with another configuration: its runs cannot be reused (replace it with --force, or choose another --out)",
                    dir.display()
                ),
            ));
        }
    }
    prepare(dir, existing)?;
    write_atomic(&config_path, config_text.as_bytes())?;

    let root = cfg.data_root();
    let mut data = load(cfg.data.dataset, &root, cfg.seeds[0])?;
    if let Some(n) = cfg.data.train_limit {
        data.train = data.train.head(n);
    }
    let model = Model::new(&cfg.model, data.train.shape, data.train.classes)?;
    log(&format!(
        "{}: {} train / {} test images of {}, {} parameters, {} methods × {} seeds",
        cfg.name,
        data.train.n,
        data.test.n,
        cfg.data.dataset.as_str(),
        model.num_params(),
        cfg.methods.len(),
        cfg.seeds.len()
    ));

    let mut curves: Vec<CurveRow> = Vec::new();
    let mut pruned: Vec<PruneRow> = Vec::new();
    let mut methods = Vec::new();
    let shifts: Vec<Option<HostParams>> = cfg
        .seeds
        .iter()
        .map(|&s| make_shift(cfg, &model, &data, s, dir, log))
        .collect::<Result<_>>()?;
    for method in &cfg.methods {
        let label = method.to_string();
        let (mut finals, mut train_s, mut steps) = (Vec::new(), 0.0, 0u64);
        for (&seed, shift) in cfg.seeds.iter().zip(&shifts) {
            let run_dir = dir
                .join("runs")
                .join(label_dir(method))
                .join(format!("seed-{seed}"));
            let run = run_one(
                &RunSpec {
                    cfg,
                    model: &model,
                    data: &data,
                    method: *method,
                    seed,
                    shift: shift.as_ref(),
                    dir: &run_dir,
                },
                log,
            )?;
            finals.push(run.last.test_accuracy);
            train_s += run.last.train_s;
            let results = run.prune;
            steps += run.steps;
            curves.extend(run.rows.into_iter().map(|metrics| CurveRow {
                method: label.clone(),
                seed,
                metrics,
            }));
            pruned.extend(results.into_iter().map(|result| PruneRow {
                method: label.clone(),
                seed,
                result,
            }));
            write_atomic(&dir.join("curves.csv"), curves_csv(&curves).as_bytes())?;
            write_atomic(&dir.join("prune.csv"), prune_csv(&pruned).as_bytes())?;
        }
        methods.push(MethodSummary {
            method: label,
            accuracy: Stats::of(&finals),
            final_test_accuracy: finals,
            step_ms: 1000.0 * train_s / steps.max(1) as f64,
            train_s,
        });
    }
    let stats = prune_stats(&pruned);
    write_atomic(
        &dir.join("curves_summary.csv"),
        curves_summary_csv(&curves).as_bytes(),
    )?;
    write_atomic(
        &dir.join("prune_summary.csv"),
        prune_summary_csv(&stats).as_bytes(),
    )?;
    write_atomic(
        &dir.join("prune_summary.md"),
        prune_summary_md(&stats).as_bytes(),
    )?;
    let summary = ExperimentSummary {
        name: cfg.name.clone(),
        dataset: cfg.data.dataset.as_str().into(),
        n_train: data.train.n,
        n_test: data.test.n,
        normalisation: [data.mean, data.std],
        num_params: model.num_params(),
        seeds: cfg.seeds.clone(),
        shifted: cfg.shift.is_some(),
        methods,
        prune: stats,
        prune_rescale: cfg.prune.rescale,
        wall_s: start.elapsed().as_secs_f64(),
    };
    write_json(&dir.join("summary.json"), &summary)?;
    let md = report_md(cfg, &summary);
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    crate::figures::write_index(dir, cfg, &summary, &curves, &pruned)?;
    Ok(summary)
}

/// The default run folder: `output.dir`, else `runs/<name>`.
pub fn default_dir(cfg: &NnPruneConfig) -> PathBuf {
    cfg.output
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&cfg.name))
}

/// `report.md`: final accuracies and pruning medians.
pub fn report_md(cfg: &NnPruneConfig, s: &ExperimentSummary) -> String {
    let mut r = format!(
        "# {} — MAST on neural networks\n\n{} ({} train / {} test), {} parameters, seeds {:?}, {} epochs, batch {}, lr {}, momentum {}{}.\n\n",
        s.name,
        s.dataset,
        s.n_train,
        s.n_test,
        s.num_params,
        s.seeds,
        cfg.train.epochs,
        cfg.train.batch,
        cfg.train.lr,
        cfg.train.momentum,
        if s.shifted { ", fine-tuned from a pre-trained shift v" } else { "" }
    );
    r += "## Test accuracy after training\n\n| method | mean | std | per seed | ms/step |\n|---|---|---|---|---|\n";
    for m in &s.methods {
        let per: Vec<String> = m
            .final_test_accuracy
            .iter()
            .map(|a| format!("{:.2}", 100.0 * a))
            .collect();
        r += &format!(
            "| {} | {:.2} | {:.2} | {} | {:.2} |\n",
            m.method,
            100.0 * m.accuracy.mean,
            100.0 * m.accuracy.std,
            per.join(", "),
            m.step_ms
        );
    }
    r += &format!(
        "\n## Pruned test accuracy (%): median [q1, q3] over seeds × {} masks\n\nA random fraction q of {} is kept{}; {}. Pruned models are evaluated on {}.\n\n",
        cfg.prune.masks,
        if s.shifted {
            "the fine-tuning update x − v over all weights (dropped entries fall back to v)"
        } else {
            "all weights"
        },
        if cfg.prune.rescale { ", scaled by 1/q (the Rand-K sketch)" } else { " unscaled" },
        if cfg.prune.include_bias { "biases are pruned too" } else { "biases are kept" },
        match cfg.prune.test_limit {
            Some(n) if n < s.n_test => format!("the first {n} test images"),
            _ => "all test images".to_string(),
        }
    );
    r += &prune_summary_md(&s.prune);
    r
}
