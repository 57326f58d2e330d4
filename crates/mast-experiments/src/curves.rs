//! Training curves over seeds: every configured method runs once per seed, and
//! the mean with a band (min–max or ±1 std) of the loss, the f_D estimate, the
//! gradient norm and the accuracies is drawn against iterations and against
//! coordinates touched, the methods on the same axes.
//!
//! Output folder:
//!
//! ```text
//! config.toml          the experiment config (data paths resolved)
//! curves.csv           one row per (method, seed, evaluation), full precision
//! curves_summary.csv   per method and evaluation: mean, lower, upper of each quantity
//! curves_final.csv     the final-values table of the report
//! figures/*.png|svg    loss, suboptimality (f − f*), fd_estimate, grad_norm, val_accuracy,
//!                      test_accuracy (vs step),
//!                      loss_vs_coords, test_accuracy_vs_coords
//! index.html           figures, tables, the command that reproduces them
//! runs/<label>-seed<s>/ the ordinary run folder of each training
//! ```
//!
//! **Coordinates on the x axis.** A method's x value at its k-th evaluation is
//! the mean over seeds of the coordinates touched by then. Methods touch very
//! different numbers of coordinates per step, and a figure's curves share one
//! x axis, so the vs-coordinates figures use the x values of the method with
//! the smallest total budget, and every other method's per-seed curves are
//! linearly interpolated onto them: the curves are compared at equal budgets,
//! up to the smallest budget of all.
//!
//! A method any of whose seeds diverged is left out of the figures (the CSVs
//! and tables keep it); the summary covers the evaluations all its seeds reached.

use std::path::{Path, PathBuf};

use crate::common::{self, cell, DataSettings, ExpError, Progress, Result};
use mast::run::config::StepSetting;
use mast::run::{MetricsRow, RunStatus, Summary, TrainConfig};
use mast::sketch::SketchSpec;

mod figures;
mod files;

pub(crate) use files::{absolute_data, load_toml, slug, write_toml};

/// How the band around the mean is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BandKind {
    /// From the smallest to the largest seed (`"minmax"`).
    #[default]
    #[serde(rename = "minmax")]
    MinMax,
    /// Mean ± one sample standard deviation (`"std"`).
    #[serde(rename = "std")]
    Std,
}

/// One method of a curves experiment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurveMethod {
    /// Legend label (also names the run folders, made file-safe).
    pub label: String,
    /// `dsgd` (Algorithm 1), `gd`, `distributed` (Algorithm 2) or `lsvrdsg` (Algorithm 3).
    #[serde(default = "default_method")]
    pub method: String,
    /// The sketch, e.g. `"rand-k:0.5"` (default `identity`).
    #[serde(default = "default_sketch")]
    pub sketch: SketchSpec,
    /// `exact` (variant I) or `minibatch` (variant II).
    #[serde(default = "default_variant")]
    pub variant: String,
    /// Minibatch size of variant II.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// `"theory"` (default), `"decreasing"`, or a number.
    #[serde(default = "default_step")]
    pub step_size: StepSetting,
    /// Multiplier of the theory step.
    #[serde(default = "default_multiplier")]
    pub step_multiplier: f64,
    /// Nodes M of Algorithm 2 (default: M of a `perm-k:M` sketch, else 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<usize>,
}

fn default_method() -> String {
    "dsgd".into()
}
fn default_sketch() -> SketchSpec {
    SketchSpec::identity()
}
fn default_variant() -> String {
    "exact".into()
}
fn default_batch() -> usize {
    64
}
fn default_step() -> StepSetting {
    StepSetting::Rule("theory".into())
}
fn default_multiplier() -> f64 {
    1.0
}
fn default_seeds() -> Vec<u64> {
    vec![1, 2, 3, 4, 5]
}

/// A curves experiment (TOML; see `examples/curves-a5a.toml`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurvesConfig {
    /// Experiment name (report title).
    pub name: String,
    /// The data.
    pub data: DataSettings,
    /// One run per seed and method.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Steps of every run.
    pub steps: u64,
    /// Evaluate every this many steps (default: steps/100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    /// The band: `"minmax"` (default) or `"std"`.
    #[serde(default)]
    pub band: BandKind,
    /// The methods, drawn on the same axes.
    pub methods: Vec<CurveMethod>,
}

impl CurvesConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let mut cfg: CurvesConfig = load_toml(path)?;
        cfg.data.rebase(path.parent().unwrap_or(Path::new("")));
        cfg.check()?;
        Ok(cfg)
    }

    /// The evaluation interval.
    pub fn eval_every(&self) -> u64 {
        self.eval_every.unwrap_or((self.steps / 100).max(1))
    }

    /// Checks every setting (without loading data); errors name the setting.
    pub fn check(&self) -> Result<()> {
        if self.methods.is_empty() {
            return Err(ExpError::setting("methods", "give at least one method"));
        }
        if self.seeds.is_empty() {
            return Err(ExpError::setting("seeds", "give at least one seed"));
        }
        let mut seeds = self.seeds.clone();
        seeds.sort_unstable();
        if seeds.windows(2).any(|w| w[0] == w[1]) {
            return Err(ExpError::setting("seeds", "seeds must differ"));
        }
        if self.steps == 0 {
            return Err(ExpError::setting("steps", "must be at least 1"));
        }
        if self.eval_every == Some(0) {
            return Err(ExpError::setting("eval_every", "must be at least 1"));
        }
        let mut slugs = Vec::new();
        for (i, m) in self.methods.iter().enumerate() {
            let name = |f: &str| format!("methods[{i}].{f}");
            if m.label.trim().is_empty() {
                return Err(ExpError::setting(&name("label"), "must not be empty"));
            }
            let s = slug(&m.label);
            if slugs.contains(&s) {
                return Err(ExpError::setting(
                    &name("label"),
                    format!(
                        "`{}` names the same run folders as an earlier label",
                        m.label
                    ),
                ));
            }
            slugs.push(s);
            if !["dsgd", "gd", "distributed", "lsvrdsg"].contains(&m.method.as_str()) {
                return Err(ExpError::setting(
                    &name("method"),
                    format!(
                        "unknown method `{}`: use dsgd, gd, distributed or lsvrdsg",
                        m.method
                    ),
                ));
            }
            if !["exact", "minibatch"].contains(&m.variant.as_str()) {
                return Err(ExpError::setting(
                    &name("variant"),
                    format!("unknown variant `{}`: use exact or minibatch", m.variant),
                ));
            }
            if let Some(v) = m.sketch.keep_fraction() {
                if !(v > 0.0 && v <= 1.0) {
                    return Err(ExpError::setting(
                        &name("sketch"),
                        format!("`{}`: the fraction must be in (0, 1]", m.sketch),
                    ));
                }
            }
            let tc = self.train_config(i, self.seeds[0], Path::new("."));
            tc.check().map_err(|e| {
                ExpError::setting(&format!("methods[{i}] ({})", m.label), e.to_string())
            })?;
        }
        Ok(())
    }

    /// The training configuration of method `m` with `seed`, in `out/runs/<label>-seed<seed>`.
    pub fn train_config(&self, m: usize, seed: u64, out: &Path) -> TrainConfig {
        let method = &self.methods[m];
        let dir = out
            .join("runs")
            .join(format!("{}-seed{seed}", slug(&method.label)));
        let mut tc = self.data.train_config(dir, seed, self.steps);
        tc.sketch = method.sketch.clone();
        let a = &mut tc.algorithm;
        a.method = method.method.clone();
        a.variant = method.variant.clone();
        a.batch = method.batch;
        a.step_size = method.step_size.clone();
        a.step_multiplier = method.step_multiplier;
        a.eval_every = self.eval_every();
        tc.distributed.nodes = method.nodes.or(method.sketch.nodes()).unwrap_or(4);
        tc
    }
}

/// Mean and band of one quantity at one evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Mean over seeds.
    pub mean: f64,
    /// Lower end of the band.
    pub lower: f64,
    /// Upper end of the band.
    pub upper: f64,
}

impl Stat {
    /// The mean (summed in the given order) and band of `values`.
    pub fn of(values: &[f64], band: BandKind) -> Stat {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        match band {
            BandKind::MinMax => Stat {
                mean,
                lower: values.iter().copied().fold(f64::INFINITY, f64::min),
                upper: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            },
            BandKind::Std => {
                let sd = std_dev(values, mean);
                Stat {
                    mean,
                    lower: mean - sd,
                    upper: mean + sd,
                }
            }
        }
    }
}

fn std_dev(values: &[f64], mean: f64) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

/// Mean and sample standard deviation over seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one seed).
    pub std: f64,
}

impl MeanStd {
    fn of(values: &[f64]) -> Option<MeanStd> {
        if values.is_empty() {
            return None;
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(MeanStd {
            mean,
            std: std_dev(values, mean),
        })
    }
}

/// One method's row of the final-values table.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalRow {
    /// The method's label.
    pub label: String,
    /// Seeds run.
    pub runs: usize,
    /// Seeds that diverged.
    pub diverged: usize,
    /// Step size used (mean over seeds: the theory step depends on the split).
    pub gamma: f64,
    /// Final training loss f(x_T).
    pub final_loss: MeanStd,
    /// Final test accuracy.
    pub final_test_accuracy: Option<MeanStd>,
    /// Best validation accuracy along the run.
    pub best_val_accuracy: Option<MeanStd>,
    /// Test accuracy of the best-by-validation iterate.
    pub best_test_accuracy: Option<MeanStd>,
    /// Coordinates touched by the end (mean over seeds).
    pub coords_touched: f64,
}

impl FinalRow {
    /// Column names of [`FinalRow::cells`].
    pub const HEADER: [&'static str; 8] = [
        "method",
        "seeds (diverged)",
        "γ",
        "final loss",
        "final test acc.",
        "best val. acc.",
        "test acc. at best val.",
        "coords touched",
    ];

    /// The row as text cells (mean ± std).
    pub fn cells(&self) -> Vec<String> {
        let ms = |v: &Option<MeanStd>| {
            v.map_or("–".into(), |v| format!("{:.4} ± {:.4}", v.mean, v.std))
        };
        vec![
            self.label.clone(),
            format!("{} ({})", self.runs, self.diverged),
            mast_report::format_sci(self.gamma),
            format!("{:.6} ± {:.1e}", self.final_loss.mean, self.final_loss.std),
            ms(&self.final_test_accuracy),
            ms(&self.best_val_accuracy),
            ms(&self.best_test_accuracy),
            mast_report::format_sci(self.coords_touched),
        ]
    }
}

/// What [`run_curves`] wrote.
#[derive(Debug, Clone)]
pub struct CurvesOutcome {
    /// The output folder.
    pub dir: PathBuf,
    /// `config.toml`.
    pub config: PathBuf,
    /// `curves.csv`.
    pub curves_csv: PathBuf,
    /// `curves_summary.csv`.
    pub summary_csv: PathBuf,
    /// `curves_final.csv`.
    pub final_csv: PathBuf,
    /// The PNG figures (each with an SVG of the same stem beside it).
    pub figures: Vec<PathBuf>,
    /// `index.html`.
    pub index: PathBuf,
    /// The final-values table, one row per method.
    pub table: Vec<FinalRow>,
}

/// The quantities of a metrics row that are summarised and drawn.
/// Reads one quantity from a metrics row.
type Getter = fn(&MetricsRow) -> Option<f64>;

const QUANTITIES: [(&str, Getter); 7] = [
    ("coords_touched", |r| Some(r.coords_touched as f64)),
    ("loss", |r| Some(r.loss)),
    ("sketched_loss", |r| r.sketched_loss),
    ("grad_norm", |r| Some(r.grad_norm)),
    ("train_accuracy", |r| r.train_accuracy),
    ("val_accuracy", |r| r.val_accuracy),
    ("test_accuracy", |r| r.test_accuracy),
];
const COORDS: usize = 0;

/// One method's runs, summarised.
struct MethodRuns {
    label: String,
    summaries: Vec<Summary>,
    /// Evaluations every seed reached.
    steps: Vec<u64>,
    /// `values[q][k][s]`: quantity q at evaluation k of seed s.
    values: Vec<Vec<Vec<Option<f64>>>>,
    /// Every seed completed.
    complete: bool,
}

impl MethodRuns {
    fn new(label: String, runs: Vec<(Summary, Vec<MetricsRow>)>) -> MethodRuns {
        let n = runs.iter().map(|r| r.1.len()).min().unwrap_or(0);
        let steps = runs
            .first()
            .map_or(Vec::new(), |r| r.1[..n].iter().map(|r| r.step).collect());
        let values = QUANTITIES
            .iter()
            .map(|(_, get)| {
                (0..n)
                    .map(|k| runs.iter().map(|r| get(&r.1[k])).collect())
                    .collect()
            })
            .collect();
        let complete = runs.iter().all(|r| r.0.status == RunStatus::Completed);
        MethodRuns {
            label,
            summaries: runs.into_iter().map(|r| r.0).collect(),
            steps,
            values,
            complete,
        }
    }

    /// Quantity q at evaluation k over seeds (None unless every seed has it).
    fn stat(&self, q: usize, k: usize, band: BandKind) -> Option<Stat> {
        let v: Option<Vec<f64>> = self.values[q][k].iter().copied().collect();
        v.map(|v| Stat::of(&v, band))
    }

    /// Mean coordinates touched at each evaluation.
    fn coords(&self) -> Vec<f64> {
        (0..self.steps.len())
            .map(|k| {
                self.stat(COORDS, k, BandKind::MinMax)
                    .map_or(f64::NAN, |s| s.mean)
            })
            .collect()
    }

    fn final_row(&self) -> FinalRow {
        let s = &self.summaries;
        let pick = |f: &dyn Fn(&Summary) -> Option<f64>| {
            MeanStd::of(&s.iter().filter_map(f).collect::<Vec<_>>())
        };
        let nan = MeanStd {
            mean: f64::NAN,
            std: f64::NAN,
        };
        FinalRow {
            label: self.label.clone(),
            runs: s.len(),
            diverged: s
                .iter()
                .filter(|s| s.status != RunStatus::Completed)
                .count(),
            gamma: pick(&|s| Some(s.theory.gamma)).map_or(f64::NAN, |m| m.mean),
            final_loss: pick(&|s| Some(s.last.loss)).unwrap_or(nan),
            final_test_accuracy: pick(&|s| s.last.test_accuracy),
            best_val_accuracy: pick(&|s| s.best_val_accuracy),
            best_test_accuracy: pick(&|s| s.best_test_accuracy),
            coords_touched: pick(&|s| Some(s.last.coords_touched as f64))
                .map_or(f64::NAN, |m| m.mean),
        }
    }
}

/// Runs every (method, seed) pair and writes the CSVs, figures and report
/// into `out` (see the module docs).
pub fn run_curves(
    cfg: &CurvesConfig,
    out: &Path,
    progress: &dyn Progress,
) -> Result<CurvesOutcome> {
    cfg.check()?;
    std::fs::create_dir_all(out).map_err(|e| ExpError::file(out, e))?;
    let config = out.join("config.toml");
    let cfg = &CurvesConfig {
        data: absolute_data(&cfg.data),
        ..cfg.clone()
    };
    write_toml(&config, cfg)?;
    let jobs: Vec<(usize, u64)> = (0..cfg.methods.len())
        .flat_map(|m| cfg.seeds.iter().map(move |&s| (m, s)))
        .collect();
    progress.phase("curves", jobs.len() as u64);
    let reports = common::parallel(
        &jobs,
        progress,
        |&(m, s)| format!("{}-seed{s}", slug(&cfg.methods[m].label)),
        |&(m, s)| common::run_config(&cfg.train_config(m, s, out)),
    )?;
    let mut reports = reports.into_iter();
    let methods: Vec<MethodRuns> = cfg
        .methods
        .iter()
        .map(|m| {
            let runs = reports
                .by_ref()
                .take(cfg.seeds.len())
                .map(|r| (r.summary, r.outcome.rows))
                .collect();
            MethodRuns::new(m.label.clone(), runs)
        })
        .collect();

    // curves.csv: every row of every run.
    let mut rows = Vec::new();
    for m in &methods {
        for (s, seed) in cfg.seeds.iter().enumerate() {
            for (k, step) in m.steps.iter().enumerate() {
                let mut row = vec![m.label.clone(), seed.to_string(), step.to_string()];
                row.push((m.values[COORDS][k][s].unwrap_or(f64::NAN) as u64).to_string());
                row.extend((1..QUANTITIES.len()).map(|q| cell(m.values[q][k][s])));
                rows.push(row);
            }
        }
    }
    let mut header = vec!["label", "seed", "step"];
    header.extend(QUANTITIES.iter().map(|q| q.0));
    let curves_csv = out.join("curves.csv");
    common::write_csv(&curves_csv, &header, &rows)?;

    // curves_summary.csv: mean and band per method and evaluation.
    let names: Vec<String> = QUANTITIES
        .iter()
        .flat_map(|(q, _)| ["mean", "lower", "upper"].map(|p| format!("{q}_{p}")))
        .collect();
    let mut header = vec!["label", "step", "seeds"];
    header.extend(names.iter().map(String::as_str));
    let mut rows = Vec::new();
    for m in &methods {
        for (k, step) in m.steps.iter().enumerate() {
            let mut row = vec![
                m.label.clone(),
                step.to_string(),
                cfg.seeds.len().to_string(),
            ];
            for q in 0..QUANTITIES.len() {
                let s = m.stat(q, k, cfg.band);
                row.extend([s.map(|s| s.mean), s.map(|s| s.lower), s.map(|s| s.upper)].map(cell));
            }
            rows.push(row);
        }
    }
    let summary_csv = out.join("curves_summary.csv");
    common::write_csv(&summary_csv, &header, &rows)?;

    let table: Vec<FinalRow> = methods.iter().map(MethodRuns::final_row).collect();
    let final_csv = out.join("curves_final.csv");
    let rows: Vec<Vec<String>> = table
        .iter()
        .map(|r| {
            let ms = |v: Option<MeanStd>| [cell(v.map(|v| v.mean)), cell(v.map(|v| v.std))];
            let mut row = vec![
                r.label.clone(),
                r.runs.to_string(),
                r.diverged.to_string(),
                cell(Some(r.gamma)),
            ];
            for v in [
                Some(r.final_loss),
                r.final_test_accuracy,
                r.best_val_accuracy,
                r.best_test_accuracy,
            ] {
                row.extend(ms(v));
            }
            row.push(cell(Some(r.coords_touched)));
            row
        })
        .collect();
    common::write_csv(
        &final_csv,
        &[
            "label",
            "seeds",
            "diverged",
            "gamma",
            "final_loss_mean",
            "final_loss_std",
            "final_test_accuracy_mean",
            "final_test_accuracy_std",
            "best_val_accuracy_mean",
            "best_val_accuracy_std",
            "best_test_accuracy_mean",
            "best_test_accuracy_std",
            "coords_touched_mean",
        ],
        &rows,
    )?;

    let (figures, index) = figures::write_report(cfg, &methods, &table, out, &config)?;
    Ok(CurvesOutcome {
        dir: out.to_path_buf(),
        config,
        curves_csv,
        summary_csv,
        final_csv,
        figures,
        index,
        table,
    })
}
